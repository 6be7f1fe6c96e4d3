//! Golden captures: the byte streams BIRD 2, GoBGP and FRR sent on real sessions
//! (`data/captured/`, see its README), decoded message by message with the session parameters
//! `manifest.toml` gives for each file.
//!
//! For every file, [`check`] asserts that
//! - the stream splits into frames (`split_frame`, RFC 4271 §4.1) and every message decodes:
//!   the OPEN with plain parameters, the rest with the negotiated ones;
//! - the manifest agrees with the capture: size, message counts, the sender's capability codes
//!   in order, and the parameters themselves, recomputed from the OPENs of both directions
//!   (RFC 6793 §4.1, RFC 8654 §3, RFC 7911 §4, RFC 8950 §3);
//! - the messages come in the order the capture README describes, as a [`Golden::script`] of
//!   one token per message (End-of-RIB markers, withdrawals, ROUTE-REFRESH with its RFC 7313
//!   subtype, the closing Cease / Administrative Shutdown with its RFC 9003 communication);
//! - no UPDATE carries an RFC 7606 error: these daemons send well-formed attributes;
//! - every message re-encodes and decodes to an equal value (not to equal bytes: real peers
//!   put each capability in its own optional parameter, GoBGP puts MP_REACH_NLRI last);
//! - the [`Spot`] checks: values read by hand from the daemons' configurations in
//!   `data/captured/configs/`.

use std::net::IpAddr;

use bytes::{Bytes, BytesMut};
use ipnet::IpNet;
use proto::attr::{
    AsPath, Attributes, Community, ExtendedCommunity, Ipv6NextHop, LargeCommunity, LocalPref,
    MpReach, MpUnreach, MultiExitDisc, NextHop, Origin,
};
use proto::capability::{AddPathMode, CapabilityCode};
use proto::header::MessageType;
use proto::message::Message;
use proto::notification::{CeaseError, ErrorCode};
use proto::open::Open;
use proto::route_refresh::RouteRefreshSubtype;
use proto::update::Update;
use proto::{Afi, AfiSafi, AfiSafiSet, Asn, ClusterId, RouterId, SessionParams};

#[path = "support/captured.rs"]
mod captured;

use captured::{families, manifest, ManifestFile, MessageCounts, CAPTURED};

/// What the capture tool's shutdown sends (RFC 9003 shutdown communication).
const SHUTDOWN_COMMUNICATION: &str = "golden capture: administrative shutdown";

/// One capture file and what it must contain beyond what the manifest says.
struct Golden {
    file: &'static str,
    /// One token per message, space separated (see [`token`]): `open`, `ka`, `a4`/`a6`
    /// (IPv4 in the NLRI field / IPv6 announced), `a4mp` (IPv4 in MP_REACH_NLRI), `w4`, `w4mp`,
    /// `w6` (withdrawals likewise), `eor4`/`eor6` (End-of-RIB, RFC 4724 §2), `rr4`/`rr6`
    /// (ROUTE-REFRESH), `borr4`/`eorr4`/… (RFC 7313 demarcations), `shutdown` (Cease /
    /// Administrative Shutdown with [`SHUTDOWN_COMMUNICATION`]). A count follows `x` when an
    /// UPDATE carries more than one prefix.
    script: &'static str,
    spots: &'static [Spot],
}

/// A value checked by hand.
enum Spot {
    /// The OPEN's My Autonomous System field and 4-octet AS capability (RFC 6793 §4.1: AS_TRANS
    /// in the former when the AS needs 4 octets).
    Asn { my_as: u32, four_octet_as: u32 },
    /// The OPEN's FQDN capability (FRR: the configured `hostname`; GoBGP: the host's name).
    Hostname(&'static str),
    /// The first UPDATE announcing a prefix.
    Route(Route),
}

/// The first announcement of `prefix`: its next hop and every path attribute.
struct Route {
    prefix: &'static str,
    /// The NEXT_HOP attribute, or the MP_REACH_NLRI next hop (global, then link-local).
    next_hop: &'static [&'static str],
    /// Whether the prefix came in the NLRI field (IPv4 with NEXT_HOP) rather than in
    /// MP_REACH_NLRI.
    nlri_field: bool,
    origin: Origin,
    as_path: &'static [u32],
    med: Option<u32>,
    local_pref: Option<u32>,
    communities: &'static [&'static str],
    extended_communities: &'static [[u8; ExtendedCommunity::LEN]],
    large_communities: &'static [&'static str],
    originator_id: Option<&'static str>,
    cluster_list: &'static [&'static str],
}

impl Route {
    /// A route with only the mandatory attributes; spots override what they check.
    const PLAIN: Route = Route {
        prefix: "",
        next_hop: &[],
        nlri_field: false,
        origin: Origin::Igp,
        as_path: &[],
        med: None,
        local_pref: None,
        communities: &[],
        extended_communities: &[],
        large_communities: &[],
        originator_id: None,
        cluster_list: &[],
    };
}

/// RFC 4360 §4: a Route Target, two-octet-AS-specific (type 0x00, sub-type 0x02): the AS, then
/// a 4-octet local administrator.
const fn route_target(asn: u16, local: u32) -> [u8; ExtendedCommunity::LEN] {
    let [asn_high, asn_low] = asn.to_be_bytes();
    let [l0, l1, l2, l3] = local.to_be_bytes();
    [0x00, 0x02, asn_high, asn_low, l0, l1, l2, l3]
}

/// Decodes every message of a capture with the parameters the manifest gives for it.
fn decode_stream(entry: &ManifestFile) -> Vec<Message> {
    let name = &entry.name;
    entry
        .frames()
        .iter()
        .enumerate()
        .map(|(index, frame)| {
            Message::decode(frame, &entry.params_for(index))
                .unwrap_or_else(|error| panic!("{name}: message {index} does not decode: {error}"))
        })
        .collect()
}

/// The OPEN a capture starts with.
fn first_open<'a>(name: &str, messages: &'a [Message]) -> &'a Open {
    match messages.first() {
        Some(Message::Open(open)) => open,
        other => panic!("{name}: starts with {other:?}, not an OPEN"),
    }
}

/// What a session between these two speakers negotiated for what `sender` sends.
fn negotiated(sender: &Open, receiver: &Open) -> SessionParams {
    let both = |code| sender.has_capability(code) && receiver.has_capability(code);
    let add_path = |open: &Open, family: AfiSafi, wanted: fn(AddPathMode) -> bool| {
        open.add_path()
            .any(|e| AfiSafi::from_wire(e.afi, e.safi) == Some(family) && wanted(e.mode))
    };
    let other_next_hop = |open: &Open, family: AfiSafi| {
        open.extended_next_hop().any(|t| {
            AfiSafi::from_wire(t.nlri_afi, t.nlri_safi) == Some(family)
                && t.next_hop_afi != family.afi()
        })
    };
    SessionParams {
        // RFC 6793 §4.1, RFC 8654 §3: both sides must advertise the capability.
        four_octet_as: both(CapabilityCode::FourOctetAs),
        extended_message: both(CapabilityCode::ExtendedMessage),
        // RFC 7911 §4: path identifiers flow where the sender can send and the receiver
        // can receive.
        add_path_rx: AfiSafi::ALL
            .into_iter()
            .filter(|&f| {
                add_path(sender, f, AddPathMode::sends)
                    && add_path(receiver, f, AddPathMode::receives)
            })
            .collect(),
        add_path_tx: AfiSafiSet::EMPTY,
        // RFC 8950 §3: both sides announced the NLRI / next hop family pair.
        extended_next_hop: AfiSafi::ALL
            .into_iter()
            .filter(|&f| other_next_hop(sender, f) && other_next_hop(receiver, f))
            .collect(),
        external: sender.peer_asn() != receiver.peer_asn(),
    }
}

fn counts(messages: &[Message]) -> MessageCounts {
    let mut counts = MessageCounts::default();
    for message in messages {
        let count = match message.message_type() {
            MessageType::Open => &mut counts.open,
            MessageType::Update => &mut counts.update,
            MessageType::Notification => &mut counts.notification,
            MessageType::Keepalive => &mut counts.keepalive,
            MessageType::RouteRefresh => &mut counts.route_refresh,
        };
        *count += 1;
    }
    counts
}

/// The family suffix of a token: `4` or `6`, or the wire pair for another family.
fn family_suffix(afi: Afi) -> String {
    match afi {
        Afi::IPV4 => "4".to_owned(),
        Afi::IPV6 => "6".to_owned(),
        Afi(other) => format!("(afi {other})"),
    }
}

/// `kind` with a count when it is not 1.
fn counted(kind: String, count: usize) -> String {
    if count == 1 {
        kind
    } else {
        format!("{kind}x{count}")
    }
}

/// One message as a script token (see [`Golden::script`]).
fn token(message: &Message) -> String {
    match message {
        Message::Open(_) => "open".to_owned(),
        Message::Keepalive => "ka".to_owned(),
        Message::Update(update) => update_token(update),
        Message::RouteRefresh(refresh) => {
            let kind = match refresh.subtype {
                RouteRefreshSubtype::Normal => "rr".to_owned(),
                RouteRefreshSubtype::BeginningOfRouteRefresh => "borr".to_owned(),
                RouteRefreshSubtype::EndOfRouteRefresh => "eorr".to_owned(),
                RouteRefreshSubtype::Unknown(subtype) => format!("rr(subtype {subtype})"),
            };
            format!("{kind}{}", family_suffix(refresh.afi))
        }
        Message::Notification(notification) => {
            let shutdown = notification.code
                == ErrorCode::Cease(CeaseError::AdministrativeShutdown)
                && notification.shutdown_communication() == Some(Ok(SHUTDOWN_COMMUNICATION));
            if shutdown {
                "shutdown".to_owned()
            } else {
                format!("notification({notification})")
            }
        }
    }
}

fn update_token(update: &Update) -> String {
    if let Some(family) = update.end_of_rib_family() {
        return format!("eor{}", family_suffix(family.afi()));
    }
    let mut parts = Vec::new();
    if !update.withdrawn.is_empty() {
        parts.push(counted("w4".to_owned(), update.withdrawn.len()));
    }
    match &update.mp_unreach {
        Some(unreach @ MpUnreach::Ipv4Unicast { .. }) => {
            parts.push(counted("w4mp".to_owned(), unreach.len()));
        }
        Some(unreach @ MpUnreach::Ipv6Unicast { .. }) => {
            parts.push(counted("w6".to_owned(), unreach.len()));
        }
        None => {}
    }
    if !update.announced.is_empty() {
        parts.push(counted("a4".to_owned(), update.announced.len()));
    }
    match &update.mp_reach {
        Some(reach @ MpReach::Ipv4Unicast { .. }) => {
            parts.push(counted("a4mp".to_owned(), reach.len()));
        }
        Some(reach @ MpReach::Ipv6Unicast { .. }) => {
            parts.push(counted("a6".to_owned(), reach.len()));
        }
        None => {}
    }
    if parts.is_empty() {
        return "update(no routes)".to_owned();
    }
    parts.join("+")
}

/// Encodes `message` as its sender would (path identifiers we receive are the ones it sends)
/// and decodes the result; the value must survive.
fn check_round_trip(name: &str, index: usize, message: &Message, params: &SessionParams) {
    let mut out = BytesMut::new();
    message
        .encode(&params.mirrored(), &mut out)
        .unwrap_or_else(|e| panic!("{name}: message {index} does not re-encode: {e}"));
    let again = Message::decode(&out.freeze(), params)
        .unwrap_or_else(|e| panic!("{name}: message {index} re-encoded does not decode: {e}"));
    assert_eq!(
        &again, message,
        "{name}: message {index} changed in a round trip"
    );
}

fn router_id(text: &str) -> RouterId {
    RouterId(text.parse().unwrap_or_else(|e| panic!("{text:?}: {e}")))
}

/// The first UPDATE announcing `prefix`, with its next hop as a list of addresses and whether
/// the prefix came in the NLRI field.
fn announcement(messages: &[Message], prefix: IpNet) -> Option<(&Update, Vec<IpAddr>, bool)> {
    messages.iter().find_map(|message| {
        let Message::Update(update) = message else {
            return None;
        };
        if let IpNet::V4(v4) = prefix {
            if update.announced.iter().any(|n| n.prefix() == v4) {
                let next_hop = update.attributes.next_hop.map(IpAddr::V4);
                return Some((update, next_hop.into_iter().collect(), true));
            }
        }
        let next_hop = match update.mp_reach.as_ref()? {
            MpReach::Ipv4Unicast {
                next_hop,
                announced,
            } => {
                announced.iter().find(|n| IpNet::V4(n.prefix()) == prefix)?;
                match next_hop {
                    NextHop::Ipv4(v4) => vec![IpAddr::V4(*v4)],
                    NextHop::Ipv6(v6) => ipv6_next_hop(v6),
                }
            }
            MpReach::Ipv6Unicast {
                next_hop,
                announced,
            } => {
                announced.iter().find(|n| IpNet::V6(n.prefix()) == prefix)?;
                ipv6_next_hop(next_hop)
            }
        };
        Some((update, next_hop, false))
    })
}

fn ipv6_next_hop(next_hop: &Ipv6NextHop) -> Vec<IpAddr> {
    std::iter::once(next_hop.global)
        .chain(next_hop.link_local)
        .map(IpAddr::V6)
        .collect()
}

fn check_spot(name: &str, messages: &[Message], spot: &Spot) {
    let open = first_open(name, messages);
    match spot {
        Spot::Asn {
            my_as,
            four_octet_as,
        } => {
            assert_eq!(open.my_as, Asn(*my_as), "{name}: My Autonomous System");
            assert_eq!(
                open.four_octet_as(),
                Some(Asn(*four_octet_as)),
                "{name}: 4-octet AS capability"
            );
        }
        Spot::Hostname(hostname) => {
            let fqdn = open
                .fqdn()
                .unwrap_or_else(|| panic!("{name}: no FQDN capability"));
            assert_eq!(fqdn.hostname_str(), Some(*hostname), "{name}: host name");
            assert_eq!(fqdn.domain_name, Bytes::new(), "{name}: domain name");
        }
        Spot::Route(route) => {
            let prefix: IpNet = route.prefix.parse().unwrap_or_else(|e| panic!("{e}"));
            let (update, next_hop, nlri_field) = announcement(messages, prefix)
                .unwrap_or_else(|| panic!("{name}: {prefix} is never announced"));
            let expected_next_hop: Vec<IpAddr> = route
                .next_hop
                .iter()
                .map(|a| a.parse().unwrap_or_else(|e| panic!("{a:?}: {e}")))
                .collect();
            assert_eq!(next_hop, expected_next_hop, "{name}: {prefix} next hop");
            assert_eq!(
                nlri_field, route.nlri_field,
                "{name}: {prefix} in the NLRI field"
            );
            let expected = Attributes {
                origin: Some(route.origin),
                as_path: Some(AsPath::from_sequence(
                    &route.as_path.iter().copied().map(Asn).collect::<Vec<_>>(),
                )),
                next_hop: update.attributes.next_hop.filter(|_| nlri_field),
                multi_exit_disc: route.med.map(MultiExitDisc),
                local_pref: route.local_pref.map(LocalPref),
                communities: route
                    .communities
                    .iter()
                    .map(|c| c.parse::<Community>().unwrap_or_else(|e| panic!("{e}")))
                    .collect(),
                originator_id: route.originator_id.map(router_id),
                cluster_list: route
                    .cluster_list
                    .iter()
                    .map(|c| ClusterId(router_id(c).0))
                    .collect(),
                extended_communities: route
                    .extended_communities
                    .iter()
                    .copied()
                    .map(ExtendedCommunity)
                    .collect(),
                large_communities: route
                    .large_communities
                    .iter()
                    .map(|c| {
                        c.parse::<LargeCommunity>()
                            .unwrap_or_else(|e| panic!("{e}"))
                    })
                    .collect(),
                ..Attributes::default()
            };
            assert_eq!(update.attributes, expected, "{name}: {prefix} attributes");
        }
    }
}

/// Decodes `golden.file` and checks it against the manifest, its script and its spots.
fn check(golden: &Golden) {
    let manifest = manifest();
    let name = golden.file;
    let entry = manifest.entry(name);
    let params = entry.params();
    let messages = decode_stream(entry);

    // The manifest describes this capture.
    let size = std::fs::metadata(entry.path()).map(|m| m.len());
    assert_eq!(size.ok(), u64::try_from(entry.bytes).ok(), "{name}: size");
    assert_eq!(counts(&messages), entry.messages, "{name}: message counts");
    let open = first_open(name, &messages);
    let codes: Vec<u8> = open
        .capabilities
        .iter()
        .map(|c| c.code().to_wire())
        .collect();
    assert_eq!(codes, entry.sender_capabilities, "{name}: capability codes");
    assert_eq!(open.peer_asn(), Asn(entry.sender_asn), "{name}: sender AS");

    // The manifest's parameters are what the two OPENs negotiate.
    let reverse = entry.reverse(&manifest);
    let reverse_messages = decode_stream(reverse);
    let reverse_open = first_open(&reverse.name, &reverse_messages);
    assert_eq!(
        reverse_open.peer_asn(),
        Asn(entry.receiver_asn),
        "{name}: receiver AS"
    );
    assert_eq!(
        negotiated(open, reverse_open),
        params,
        "{name}: session parameters"
    );
    let multiprotocol = |open: &Open| -> AfiSafiSet {
        open.multiprotocol()
            .filter_map(|(afi, safi)| AfiSafi::from_wire(afi, safi))
            .collect()
    };
    assert_eq!(
        multiprotocol(open).intersection(multiprotocol(reverse_open)),
        families(&entry.families),
        "{name}: families"
    );

    // The messages come in the order the README describes.
    let script: Vec<String> = messages.iter().map(token).collect();
    let expected: Vec<&str> = golden.script.split_whitespace().collect();
    assert_eq!(script, expected, "{name}: message sequence");

    // RFC 7606: none of these daemons sends a malformed attribute.
    for (index, message) in messages.iter().enumerate() {
        if let Message::Update(update) = message {
            assert_eq!(
                update.errors,
                [],
                "{name}: message {index} has RFC 7606 errors"
            );
        }
    }

    // Every value survives encoding; the OPEN travels before any capability applies.
    for (index, message) in messages.iter().enumerate() {
        check_round_trip(name, index, message, &entry.params_for(index));
    }

    for spot in golden.spots {
        check_spot(name, &messages, spot);
    }
}

/// Defines the table of goldens and one test per file that checks it.
macro_rules! goldens {
    ($($test:ident => $golden:expr,)*) => {
        const GOLDENS: &[Golden] = &[$($golden,)*];
        $(
            #[test]
            fn $test() {
                const GOLDEN: Golden = $golden;
                check(&GOLDEN);
            }
        )*
    };
}

/// BIRD's route with every attribute (`configs/*/bird-*.conf`): MED set by its export filter,
/// communities sorted as BIRD keeps them.
const BIRD_FULL_V4: Route = Route {
    prefix: "10.10.0.0/24",
    next_hop: &["10.255.0.1"],
    as_path: &[65001, 65001, 65001],
    med: Some(100),
    communities: &["64512:7", "64512:100"],
    extended_communities: &[route_target(64512, 10)],
    large_communities: &["65001:1:0"],
    ..Route::PLAIN
};

/// GoBGP's route with every attribute (`configs/*/gobgp-*.routes`), its AS prepended on export;
/// communities in the order given.
const GOBGP_FULL_V4: Route = Route {
    prefix: "10.11.0.0/24",
    next_hop: &["10.255.0.2"],
    nlri_field: true,
    as_path: &[4_200_000_001, 4_200_000_001, 4_200_000_001],
    med: Some(101),
    communities: &["64512:101", "64512:7"],
    extended_communities: &[route_target(64512, 11)],
    large_communities: &["4200000001:1:1"],
    ..Route::PLAIN
};

/// FRR's route with every attribute (`configs/frr-bird.*/frr-frr-bgpd.conf`, route-map
/// ORIGIN0); FRR sorts communities, as BIRD does.
const FRR_FULL_V4: Route = Route {
    prefix: "10.10.0.0/24",
    next_hop: &["10.255.0.1"],
    nlri_field: true,
    as_path: &[65003, 65003, 65003],
    med: Some(100),
    communities: &["64512:7", "64512:100"],
    extended_communities: &[route_target(64512, 10)],
    large_communities: &["65003:1:0"],
    ..Route::PLAIN
};

/// What a route-reflection client originates towards its reflector (README: `10.31.0.0/24`,
/// LOCAL_PREF 201, MED 51): iBGP, so an empty AS_PATH.
const CLIENT_ROUTE: Route = Route {
    prefix: "10.31.0.0/24",
    next_hop: &["10.255.0.3"],
    nlri_field: true,
    med: Some(51),
    local_pref: Some(201),
    communities: &["64512:301"],
    ..Route::PLAIN
};

/// The source client's routes as reflected to the other client (README: LOCAL_PREF 200,
/// MED 50, a community); each golden adds the ORIGINATOR_ID and CLUSTER_LIST (RFC 4456 §8).
const REFLECTED_V4: Route = Route {
    prefix: "10.30.0.0/24",
    next_hop: &["10.255.0.2"],
    nlri_field: true,
    med: Some(50),
    local_pref: Some(200),
    communities: &["64512:300"],
    ..Route::PLAIN
};

const REFLECTED_V6: Route = Route {
    prefix: "fd00:30::/64",
    next_hop: &["fd00:255::2"],
    nlri_field: false,
    ..REFLECTED_V4
};

goldens! {
    // BIRD (AS 65001, active) to GoBGP (AS 4200000001): extended next hop is negotiated, so
    // BIRD sends IPv4 routes in MP_REACH_NLRI, with an IPv4 next hop on an IPv4 session.
    bird_to_gobgp_ipv4 => Golden {
        file: "bird-to-gobgp.ipv4.bin",
        script: "open ka a4mp a4mp eor4 a6 a6 eor6 w4mp w6 ka rr4 rr6 shutdown",
        spots: &[
            Spot::Asn { my_as: 65001, four_octet_as: 65001 },
            Spot::Route(BIRD_FULL_V4),
            Spot::Route(Route {
                prefix: "10.10.1.0/24",
                next_hop: &["10.255.0.1"],
                as_path: &[65001],
                ..Route::PLAIN
            }),
        ],
    },
    bird_to_gobgp_ipv6 => Golden {
        file: "bird-to-gobgp.ipv6.bin",
        script: "open ka a4mp a4mp eor4 a6 a6 eor6 w4mp w6 ka rr4 rr6 ka shutdown",
        spots: &[Spot::Route(Route {
            prefix: "fd00:10::/64",
            next_hop: &["fd00:255::1"],
            ..BIRD_FULL_V4
        })],
    },
    gobgp_to_bird_ipv4 => Golden {
        file: "gobgp-to-bird.ipv4.bin",
        script: "open ka a6 a6 eor6 a4 a4 eor4 w4 w6 a4 eor4 a6 eor6 ka",
        spots: &[
            Spot::Asn { my_as: 23456, four_octet_as: 4_200_000_001 },
            Spot::Hostname("vm"),
            Spot::Route(GOBGP_FULL_V4),
        ],
    },
    gobgp_to_bird_ipv6 => Golden {
        file: "gobgp-to-bird.ipv6.bin",
        script: "open ka a4 a4 eor4 a6 a6 eor6 w4 w6 ka a4 eor4 a6 eor6",
        spots: &[],
    },
    gobgp_to_frr_ipv4 => Golden {
        file: "gobgp-to-frr.ipv4.bin",
        script: "open ka a4 a4 eor4 a6 a6 eor6 w4 w6 ka ka shutdown",
        spots: &[
            Spot::Asn { my_as: 65002, four_octet_as: 65002 },
            Spot::Route(Route {
                prefix: "fd00:10::/64",
                next_hop: &["fd00:255::1"],
                nlri_field: false,
                as_path: &[65002, 65002, 65002],
                med: Some(100),
                communities: &["64512:100", "64512:7"],
                extended_communities: &[route_target(64512, 10)],
                large_communities: &["65002:1:0"],
                ..Route::PLAIN
            }),
        ],
    },
    gobgp_to_frr_ipv6 => Golden {
        file: "gobgp-to-frr.ipv6.bin",
        script: "open ka a4 a4 eor4 a6 a6 eor6 w4 w6 ka ka shutdown",
        spots: &[],
    },
    frr_to_gobgp_ipv4 => Golden {
        file: "frr-to-gobgp.ipv4.bin",
        script: "open ka a4 a6 a4 a6 a4 a6 a4 a6 eor4 eor6 w4 w6 w4 w6 ka ka",
        spots: &[
            Spot::Asn { my_as: 23456, four_octet_as: 4_200_000_002 },
            Spot::Hostname("frr2"),
        ],
    },
    frr_to_gobgp_ipv6 => Golden {
        file: "frr-to-gobgp.ipv6.bin",
        script: "open ka a4mp a6 a4mp a6 a4mp a6 a4mp a6 eor4 eor6 w4mp w6 w4mp w6 ka ka",
        spots: &[],
    },
    frr_to_bird_ipv4 => Golden {
        file: "frr-to-bird.ipv4.bin",
        script: "open ka a4 a6 a4 a6 a4 a6 a4 a6 eor4 eor6 w4 w6 w4 w6 ka rr4 a4 a4 a4 ka shutdown",
        spots: &[Spot::Hostname("frr"), Spot::Route(FRR_FULL_V4)],
    },
    bird_to_frr_ipv4 => Golden {
        file: "bird-to-frr.ipv4.bin",
        script: "open ka a4 a4 eor4 a6 a6 eor6 w4 w6 ka borr4 a4 eorr4 ka",
        spots: &[
            Spot::Asn { my_as: 23456, four_octet_as: 4_200_000_003 },
            Spot::Route(Route {
                prefix: "10.11.0.0/24",
                next_hop: &["10.255.0.2"],
                nlri_field: true,
                as_path: &[4_200_000_003, 4_200_000_003, 4_200_000_003],
                med: Some(101),
                communities: &["64512:7", "64512:101"],
                extended_communities: &[route_target(64512, 11)],
                large_communities: &["4200000003:1:1"],
                ..Route::PLAIN
            }),
        ],
    },
    frr_to_bird_ipv6 => Golden {
        file: "frr-to-bird.ipv6.bin",
        script: "open ka a4mp a6 a4mp a6 a4mp a6 a4mp a6 eor4 eor6 w4mp w6 w4mp ka w6 rr6 ka a6 a6 a6 shutdown",
        // RFC 8950 + RFC 2545 §3: IPv4 routes with FRR's global and link-local IPv6 next hop.
        spots: &[Spot::Route(Route {
            next_hop: &["fd00:255::1", "fe80::8cb4:12ff:febc:2ec4"],
            nlri_field: false,
            ..FRR_FULL_V4
        })],
    },
    bird_to_frr_ipv6 => Golden {
        file: "bird-to-frr.ipv6.bin",
        script: "open ka a4mp a4mp eor4 a6 a6 eor6 ka w4mp w6 ka borr6 a6 eorr6 ka",
        spots: &[],
    },
    frr_to_bird_rr_ipv4 => Golden {
        file: "frr-to-bird.rr.ipv4.bin",
        script: "open ka a4 eor6 eor4 ka shutdown",
        spots: &[Spot::Hostname("client"), Spot::Route(CLIENT_ROUTE)],
    },
    bird_to_frr_rr_ipv4 => Golden {
        file: "bird-to-frr.rr.ipv4.bin",
        script: "open ka a4 eor4 a6 eor6 w4 ka",
        spots: &[
            Spot::Route(Route {
                originator_id: Some("10.255.0.2"),
                cluster_list: &["10.0.0.1"],
                ..REFLECTED_V4
            }),
            Spot::Route(Route {
                originator_id: Some("10.255.0.2"),
                cluster_list: &["10.0.0.1"],
                ..REFLECTED_V6
            }),
        ],
    },
    bird_to_gobgp_rr_ipv4 => Golden {
        file: "bird-to-gobgp.rr.ipv4.bin",
        script: "open ka a4 eor4 eor6 shutdown",
        spots: &[Spot::Route(CLIENT_ROUTE)],
    },
    gobgp_to_bird_rr_ipv4 => Golden {
        file: "gobgp-to-bird.rr.ipv4.bin",
        script: "open ka a4 eor4 a6 eor6 w4",
        spots: &[
            Spot::Route(Route {
                originator_id: Some("10.255.0.2"),
                cluster_list: &["10.0.0.2"],
                ..REFLECTED_V4
            }),
            Spot::Route(Route {
                originator_id: Some("10.255.0.2"),
                cluster_list: &["10.0.0.2"],
                ..REFLECTED_V6
            }),
        ],
    },
    gobgp_to_frr_rr_ipv4 => Golden {
        file: "gobgp-to-frr.rr.ipv4.bin",
        script: "open ka a4 eor4 eor6 ka shutdown",
        spots: &[Spot::Hostname("vm"), Spot::Route(CLIENT_ROUTE)],
    },
    frr_to_gobgp_rr_ipv4 => Golden {
        file: "frr-to-gobgp.rr.ipv4.bin",
        script: "open ka a4 a6 a4 eor6 eor4 w4 a6 ka",
        spots: &[
            Spot::Hostname("rr"),
            Spot::Route(Route {
                originator_id: Some("10.255.0.2"),
                cluster_list: &["10.0.0.3"],
                ..REFLECTED_V4
            }),
            Spot::Route(Route {
                originator_id: Some("10.255.0.2"),
                cluster_list: &["10.0.0.3"],
                ..REFLECTED_V6
            }),
        ],
    },
}

/// Every `.bin` in the directory is in the manifest, and every manifest file has a golden.
#[test]
fn every_capture_is_in_the_manifest_and_checked() {
    let mut on_disk: Vec<String> = std::fs::read_dir(CAPTURED)
        .unwrap_or_else(|e| panic!("{CAPTURED}: {e}"))
        .map(|entry| entry.unwrap_or_else(|e| panic!("{e}")).file_name())
        .filter_map(|name| name.into_string().ok())
        .filter(|name| name.ends_with(".bin"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = manifest().file.into_iter().map(|f| f.name).collect();
    listed.sort();
    let mut checked: Vec<String> = GOLDENS.iter().map(|g| g.file.to_owned()).collect();
    checked.sort();
    assert_eq!(listed, on_disk, "manifest.toml vs the .bin files");
    // File names are unique on disk, so equal lists also mean one golden per file.
    assert_eq!(checked, on_disk, "goldens vs the .bin files");
}
