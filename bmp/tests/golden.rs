//! Golden bytes for every BMP message Starling sends (RFC 7854, RFC 9069), grouped by field
//! with a comment each: `encode` gives exactly them and `decode` gives the message back. Then
//! what the encoder refuses and what the decoder rejects.

use std::net::{IpAddr, Ipv4Addr};

use bmp::{
    BgpPdu, DecodeError, EncodeError, InformationTlv, Message, PeerDown, PeerDownReason, PeerFlags,
    PeerHeader, PeerKind, PeerUp, SessionEndpoints, Stat, TerminationReason, TerminationTlv,
    Timestamp,
};
use bytes::{Bytes, BytesMut};
use proto::attr::{AsPath, Attributes, Origin};
use proto::header::MessageType;
use proto::message::Message as BgpMessage;
use proto::nlri::Nlri;
use proto::notification::{CeaseError, Notification};
use proto::open::{HoldTime, Open};
use proto::update::Update;
use proto::{AfiSafi, Asn, RouterId, SessionParams};

/// Octets from hex digits; spaces and line breaks between groups are ignored.
fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert_eq!(digits.len() % 2, 0, "odd number of hex digits");
    digits
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).expect("ASCII");
            u8::from_str_radix(pair, 16).unwrap_or_else(|_| panic!("not hex: {pair}"))
        })
        .collect()
}

/// `message` encodes to `expected` (grouped hex), which decodes to `message`.
fn check(what: &str, message: &Message, expected: &str) {
    let expected = hex(expected);
    let encoded = message.encode().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(
        encoded.to_vec(),
        expected,
        "{what}: encoded {:02x?}",
        &encoded[..]
    );
    let decoded = Message::decode(&Bytes::from(expected)).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(&decoded, message, "{what}: decoded");
}

const TIMESTAMP: Timestamp = Timestamp {
    seconds: 0x6750_0000,
    microseconds: 250_000,
};

fn neighbor(address: IpAddr, flags: PeerFlags) -> PeerHeader {
    PeerHeader {
        peer: PeerKind::Global { address, flags },
        asn: Asn(65001),
        bgp_id: RouterId(Ipv4Addr::new(10, 0, 0, 2)),
        timestamp: TIMESTAMP,
    }
}

fn loc_rib(filtered: bool) -> PeerHeader {
    PeerHeader {
        peer: PeerKind::LocRib { filtered },
        asn: Asn(64512),
        bgp_id: RouterId(Ipv4Addr::new(10, 0, 0, 1)),
        timestamp: TIMESTAMP,
    }
}

fn v4_neighbor() -> PeerHeader {
    neighbor(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), PeerFlags::default())
}

fn pdu(message: &BgpMessage, params: &SessionParams) -> BgpPdu {
    BgpPdu::encode(message, params).expect("encode BGP message")
}

/// An OPEN without capabilities: 29 octets.
fn open(asn: u32, router_id: [u8; 4]) -> BgpPdu {
    let open = Open::new(
        Asn(asn),
        HoldTime(90),
        RouterId(Ipv4Addr::from(router_id)),
        vec![],
    );
    pdu(&BgpMessage::Open(open), &SessionParams::default())
}

/// UPDATE: ORIGIN IGP, AS_PATH [65001], NEXT_HOP 10.0.0.2, NLRI 192.0.2.0/24.
fn update(params: &SessionParams) -> BgpPdu {
    let update = Update {
        attributes: Attributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::from_sequence(&[Asn(65001)])),
            next_hop: Some(Ipv4Addr::new(10, 0, 0, 2)),
            ..Attributes::default()
        },
        announced: vec![Nlri::new("192.0.2.0/24".parse().expect("prefix"), None)],
        ..Update::default()
    };
    pdu(&BgpMessage::Update(update), params)
}

fn four_octet() -> SessionParams {
    SessionParams {
        four_octet_as: true,
        ..SessionParams::plain(true)
    }
}

/// The common header and per-peer header of `v4_neighbor` (pre-policy, 4-octet AS), after
/// which a test writes the rest; `length` and `kind` are the common header's.
macro_rules! v4_neighbor_header {
    ($length:literal, $kind:literal) => {
        concat!(
            "03",                                  // version 3
            $length,                               // message length
            $kind,                                 // message type
            "00",                                  // peer type 0: global instance
            "00",                                  // flags: IPv4, pre-policy, 4-octet AS_PATH
            "0000000000000000",                    // peer distinguisher
            "00000000 00000000 00000000 0a000002", // peer address 10.0.0.2
            "0000fde9",                            // peer AS 65001
            "0a000002",                            // peer BGP ID 10.0.0.2
            "67500000",                            // timestamp seconds
            "0003d090",                            // timestamp microseconds: 250000
        )
    };
}

#[test]
fn initiation_and_termination() {
    check(
        "Initiation",
        &Message::Initiation(vec![
            InformationTlv::SysDescr("Starling 0.1.0".into()),
            InformationTlv::SysName("node-a".into()),
        ]),
        concat!(
            "03",                                     // version 3
            "00000022",                               // message length 34
            "04",                                     // Initiation
            "0001 000e 537461726c696e6720302e312e30", // sysDescr, 14 octets: "Starling 0.1.0"
            "0002 0006 6e6f64652d61",                 // sysName, 6 octets: "node-a"
        ),
    );
    check(
        "Termination",
        &Message::Termination(vec![
            TerminationTlv::Reason(TerminationReason::AdministrativelyClosed),
            TerminationTlv::String("bye".into()),
        ]),
        concat!(
            "03",               // version 3
            "00000013",         // message length 19
            "05",               // Termination
            "0001 0002 0000",   // reason, 2 octets: administratively closed
            "0000 0003 627965", // string, 3 octets: "bye"
        ),
    );
}

#[test]
fn peer_up_of_a_neighbor() {
    let message = Message::PeerUp(PeerUp {
        peer: v4_neighbor(),
        session: Some(SessionEndpoints {
            local_address: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            local_port: 179,
            remote_port: 40000,
        }),
        sent_open: open(64512, [10, 0, 0, 1]),
        received_open: open(65001, [10, 0, 0, 2]),
        information: vec![],
    });
    check(
        "Peer Up",
        &message,
        concat!(
            v4_neighbor_header!("0000007e", "03"), // length 126, Peer Up
            "00000000 00000000 00000000 0a000001", // local address 10.0.0.1
            "00b3",                                // local port 179
            "9c40",                                // remote port 40000
            // sent OPEN: marker, length 29, OPEN, version 4, AS 64512, hold 90, ID, no parameters
            "ffffffffffffffffffffffffffffffff 001d 01 04 fc00 005a 0a000001 00",
            // received OPEN: AS 65001, ID 10.0.0.2
            "ffffffffffffffffffffffffffffffff 001d 01 04 fde9 005a 0a000002 00",
        ),
    );
}

#[test]
fn peer_down_with_and_without_notification() {
    let cease = Notification::cease_with_reason(CeaseError::AdministrativeShutdown, "bye");
    let notification = pdu(&BgpMessage::Notification(cease), &SessionParams::default());
    check(
        "Peer Down, remote NOTIFICATION",
        &Message::PeerDown(PeerDown {
            peer: v4_neighbor(),
            reason: PeerDownReason::RemoteNotification(notification.clone()),
        }),
        concat!(
            v4_neighbor_header!("0000004a", "02"), // length 74, Peer Down
            "03",                                  // reason 3: the peer's NOTIFICATION
            // NOTIFICATION: marker, length 25, Cease / Administrative Shutdown, "bye"
            "ffffffffffffffffffffffffffffffff 0019 03 06 02 03 627965",
        ),
    );
    check(
        "Peer Down, local NOTIFICATION",
        &Message::PeerDown(PeerDown {
            peer: v4_neighbor(),
            reason: PeerDownReason::LocalNotification(notification),
        }),
        concat!(
            v4_neighbor_header!("0000004a", "02"),
            "01", // reason 1: our NOTIFICATION
            "ffffffffffffffffffffffffffffffff 0019 03 06 02 03 627965",
        ),
    );
    check(
        "Peer Down, local, no NOTIFICATION",
        &Message::PeerDown(PeerDown {
            peer: v4_neighbor(),
            reason: PeerDownReason::LocalNoNotification { fsm_event: 10 },
        }),
        concat!(
            v4_neighbor_header!("00000033", "02"), // length 51
            "02",                                  // reason 2: we closed, no NOTIFICATION
            "000a", // FSM event 10 (HoldTimer_Expires, RFC 4271 §8.1.3)
        ),
    );
    for (reason, code) in [
        (PeerDownReason::RemoteNoNotification, "04"), // the connection just closed
        (PeerDownReason::Deconfigured, "05"),         // the neighbor was removed
    ] {
        check(
            "Peer Down without data",
            &Message::PeerDown(PeerDown {
                peer: v4_neighbor(),
                reason,
            }),
            &[v4_neighbor_header!("00000031", "02"), code].concat(), // length 49
        );
    }
}

#[test]
fn route_monitoring_pre_policy_carries_the_update_as_received() {
    check(
        "Route Monitoring, IPv4 neighbor, pre-policy",
        &Message::RouteMonitoring {
            peer: v4_neighbor(),
            update: update(&four_octet()),
        },
        concat!(
            v4_neighbor_header!("0000005f", "00"), // length 95, Route Monitoring
            "ffffffffffffffffffffffffffffffff 002f 02", // UPDATE, length 47
            "0000",                                // no withdrawn routes
            "0014",                                // path attributes: 20 octets
            "40 01 01 00",                         // ORIGIN IGP
            "40 02 06 02 01 0000fde9",             // AS_PATH: AS_SEQUENCE [65001], 4-octet
            "40 03 04 0a000002",                   // NEXT_HOP 10.0.0.2
            "18 c00002",                           // NLRI 192.0.2.0/24
        ),
    );
    // An IPv6 neighbor on a 2-octet AS session, after import policy: V, L and A.
    let address: IpAddr = "2001:db8::2".parse().expect("address");
    let flags = PeerFlags {
        post_policy: true,
        legacy_as_path: true,
        adj_rib_out: false,
    };
    check(
        "Route Monitoring, IPv6 neighbor, post-policy, 2-octet AS_PATH",
        &Message::RouteMonitoring {
            peer: neighbor(address, flags),
            update: update(&SessionParams::plain(true)),
        },
        concat!(
            "03 0000005d 00",                      // version 3, length 93, Route Monitoring
            "00",                                  // peer type 0: global instance
            "e0",               // flags: V (IPv6), L (post-policy), A (2-octet AS_PATH)
            "0000000000000000", // peer distinguisher
            "20010db8 00000000 00000000 00000002", // peer address 2001:db8::2
            "0000fde9 0a000002 67500000 0003d090", // AS 65001, BGP ID, timestamp
            "ffffffffffffffffffffffffffffffff 002d 02 0000 0012", // UPDATE, length 45; 18 octets of attributes
            "40 01 01 00 40 02 04 02 01 fde9 40 03 04 0a000002", // ORIGIN, AS_PATH [65001] 2-octet, NEXT_HOP
            "18 c00002",                                         // NLRI 192.0.2.0/24
        ),
    );
}

#[test]
fn statistics_report() {
    check(
        "Statistics Report",
        &Message::StatisticsReport {
            peer: v4_neighbor(),
            stats: vec![
                Stat::RejectedPrefixes(3),
                Stat::AdjRibInRoutes(1000),
                Stat::AdjRibInRoutesOf(AfiSafi::Ipv6Unicast, 400),
                Stat::TreatAsWithdrawPrefixes(7),
            ],
        },
        concat!(
            v4_neighbor_header!("0000005f", "01"), // length 95, Statistics Report
            "00000004",                            // 4 statistics
            "0000 0004 00000003",                  // (0) prefixes rejected by policy: 3
            "0007 0008 00000000000003e8",          // (7) routes in the Adj-RIB-In: 1000
            "0009 000b 0002 01 0000000000000190",  // (9) of IPv6 unicast: 400
            "000c 0004 00000007",                  // (12) prefixes treat-as-withdraw: 7
        ),
    );
}

#[test]
fn loc_rib_peer_up_route_monitoring_and_peer_down() {
    // RFC 9069 §5.3: zero session fields, one fabricated OPEN twice, the table's name.
    let fabricated = open(64512, [10, 0, 0, 1]);
    check(
        "Loc-RIB Peer Up",
        &Message::PeerUp(PeerUp {
            peer: loc_rib(false),
            session: None,
            sent_open: fabricated.clone(),
            received_open: fabricated,
            information: vec![InformationTlv::TableName("global".into())],
        }),
        concat!(
            "03 00000088 03",                      // version 3, length 136, Peer Up
            "03",                                  // peer type 3: Loc-RIB instance
            "00",                                  // flags: not filtered
            "0000000000000000",                    // peer distinguisher
            "00000000 00000000 00000000 00000000", // peer address: none
            "0000fc00",                            // AS 64512: this speaker's
            "0a000001",                            // BGP ID 10.0.0.1: this speaker's
            "67500000 0003d090",                   // timestamp
            "00000000 00000000 00000000 00000000", // local address: none
            "0000 0000",                           // local and remote port: none
            "ffffffffffffffffffffffffffffffff 001d 01 04 fc00 005a 0a000001 00", // sent OPEN
            "ffffffffffffffffffffffffffffffff 001d 01 04 fc00 005a 0a000001 00", // the same
            "0003 0006 676c6f62616c",              // VRF/Table Name, 6 octets: "global"
        ),
    );
    check(
        "Loc-RIB Route Monitoring, filtered",
        &Message::RouteMonitoring {
            peer: loc_rib(true),
            update: update(&four_octet()),
        },
        concat!(
            "03 0000005f 00",                      // version 3, length 95, Route Monitoring
            "03 80",                               // Loc-RIB instance, F: filtered
            "0000000000000000",                    // peer distinguisher
            "00000000 00000000 00000000 00000000", // peer address: none
            "0000fc00 0a000001 67500000 0003d090", // AS 64512, BGP ID 10.0.0.1, timestamp
            "ffffffffffffffffffffffffffffffff 002f 02 0000 0014", // UPDATE, length 47
            "40 01 01 00 40 02 06 02 01 0000fde9 40 03 04 0a000002 18 c00002",
        ),
    );
    check(
        "Loc-RIB Peer Down",
        &Message::PeerDown(PeerDown {
            peer: loc_rib(false),
            reason: PeerDownReason::LocalSystemClosed(vec![InformationTlv::TableName(
                "global".into(),
            )]),
        }),
        concat!(
            "03 0000003b 02",                      // version 3, length 59, Peer Down
            "03 00 0000000000000000",              // Loc-RIB instance, distinguisher
            "00000000 00000000 00000000 00000000", // peer address: none
            "0000fc00 0a000001 67500000 0003d090", // AS, BGP ID, timestamp
            "06",                                  // reason 6: local system closed, TLVs follow
            "0003 0006 676c6f62616c",              // VRF/Table Name "global"
        ),
    );
}

#[test]
fn the_encoder_refuses_what_rfc_7854_and_9069_forbid() {
    let notification = pdu(
        &BgpMessage::Notification(Notification::cease_with_reason(
            CeaseError::AdministrativeReset,
            "",
        )),
        &SessionParams::default(),
    );
    let up = |peer: PeerHeader, session: Option<SessionEndpoints>, information| {
        Message::PeerUp(PeerUp {
            peer,
            session,
            sent_open: open(64512, [10, 0, 0, 1]),
            received_open: open(65001, [10, 0, 0, 2]),
            information,
        })
    };
    let v6_local = SessionEndpoints {
        local_address: "2001:db8::1".parse().expect("address"),
        local_port: 179,
        remote_port: 1,
    };
    let cases: Vec<(&str, Message, EncodeError)> = vec![
        (
            "a NOTIFICATION as Route Monitoring's UPDATE",
            Message::RouteMonitoring {
                peer: v4_neighbor(),
                update: notification.clone(),
            },
            EncodeError::UnexpectedPdu {
                message: "Route Monitoring",
                expected: MessageType::Update,
                found: MessageType::Notification,
            },
        ),
        (
            "an IPv6 local address for an IPv4 neighbor",
            up(v4_neighbor(), Some(v6_local), vec![]),
            EncodeError::FamilyMismatch {
                local: v6_local.local_address,
                peer: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            },
        ),
        (
            "a neighbor's Peer Up without its session",
            up(v4_neighbor(), None, vec![]),
            EncodeError::SessionEndpoints,
        ),
        (
            "a Loc-RIB Peer Up without its table's name",
            up(loc_rib(false), None, vec![]),
            EncodeError::LocRib(
                "a Loc-RIB Peer Up names its table (VRF/Table Name TLV, RFC 9069 §5.3)",
            ),
        ),
        (
            "a neighbor's Peer Down with the Loc-RIB's reason",
            Message::PeerDown(PeerDown {
                peer: v4_neighbor(),
                reason: PeerDownReason::LocalSystemClosed(vec![]),
            }),
            EncodeError::LocRib(
                "reason 6 (local system closed) is the Loc-RIB's, and its only one (RFC 9069 §5.4)",
            ),
        ),
    ];
    for (what, message, expected) in cases {
        assert_eq!(message.encode(), Err(expected), "{what}");
    }
}

#[test]
fn the_decoder_rejects_what_is_not_a_bmp_message() {
    let good = Message::Initiation(vec![InformationTlv::SysName("a".into())])
        .encode()
        .expect("encode")
        .to_vec();
    let with = |edit: fn(&mut Vec<u8>)| {
        let mut message = good.clone();
        edit(&mut message);
        Message::decode(&Bytes::from(message))
    };
    assert_eq!(with(|m| m[0] = 1), Err(DecodeError::Version(1)));
    assert_eq!(
        with(|m| m[4] += 1),
        Err(DecodeError::Length {
            field: 12,
            actual: 11
        })
    );
    assert_eq!(with(|m| m[5] = 6), Err(DecodeError::MessageType(6)));
    assert_eq!(
        with(|m| m[7] = 9),
        Err(DecodeError::Unsupported {
            what: "Information TLV type",
            value: 9
        })
    );
    assert_eq!(
        with(|m| m[10] = 0xff),
        Err(DecodeError::Utf8 {
            what: "Information TLV"
        })
    );
    // Route Monitoring whose BGP message is an OPEN.
    let mut wrong = Message::RouteMonitoring {
        peer: v4_neighbor(),
        update: update(&four_octet()),
    }
    .encode()
    .expect("encode")
    .to_vec();
    let open = open(65001, [10, 0, 0, 2]);
    wrong.truncate(48);
    wrong.extend_from_slice(open.bytes());
    let length = u32::try_from(wrong.len()).expect("short").to_be_bytes();
    wrong[1..5].copy_from_slice(&length);
    assert_eq!(
        Message::decode(&Bytes::from(wrong)),
        Err(DecodeError::UnexpectedPdu {
            what: "Route Monitoring",
            found: MessageType::Open
        })
    );
    // Every prefix of a message fails, never panics; only the one that ends before the
    // optional TLVs is a message (the same one without them).
    let peer_up = Message::PeerUp(PeerUp {
        peer: v4_neighbor(),
        session: Some(SessionEndpoints {
            local_address: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            local_port: 179,
            remote_port: 1,
        }),
        sent_open: open.clone(),
        received_open: open,
        information: vec![InformationTlv::String("x".into())],
    })
    .encode()
    .expect("encode");
    let without_tlvs = peer_up.len() - 5; // the String TLV: type, length, "x"
    for cut in 0..peer_up.len() {
        let mut prefix = peer_up[..cut].to_vec();
        if prefix.len() >= 5 {
            let length = u32::try_from(cut).expect("short").to_be_bytes();
            prefix[1..5].copy_from_slice(&length);
        }
        let decoded = Message::decode(&Bytes::from(prefix));
        assert_eq!(
            decoded.is_ok(),
            cut == without_tlvs,
            "cut at {cut}: {decoded:?}"
        );
    }
}

#[test]
fn split_message_cuts_a_stream_into_messages() {
    let first = Message::Initiation(vec![InformationTlv::SysName("a".into())])
        .encode()
        .expect("encode");
    let second = Message::Termination(vec![TerminationTlv::Reason(TerminationReason::Unspecified)])
        .encode()
        .expect("encode");
    let mut stream = BytesMut::new();
    stream.extend_from_slice(&first);
    stream.extend_from_slice(&second[..3]);
    assert_eq!(bmp::split_message(&mut stream), Ok(Some(first)));
    assert_eq!(bmp::split_message(&mut stream), Ok(None));
    stream.extend_from_slice(&second[3..]);
    assert_eq!(bmp::split_message(&mut stream), Ok(Some(second)));
    assert!(stream.is_empty());
    let mut garbage = BytesMut::from(&[0x04, 0, 0, 0, 6, 4][..]);
    assert_eq!(
        bmp::split_message(&mut garbage),
        Err(DecodeError::Version(4))
    );
}
