//! Property tests: every well-formed UPDATE round-trips through encode and decode under
//! arbitrary session parameters (the decoder sees the session from the other end, so ADD-PATH
//! directions are mirrored), and decoding arbitrary or mutated bytes never panics.

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::{Bytes, BytesMut};
use ipnet::{Ipv4Net, Ipv6Net};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proto::attr::{
    Aggregator, AsPath, AttrFlags, AttrType, Attributes, Community, ExtendedCommunity, Ipv6NextHop,
    LargeCommunity, LocalPref, MpReach, MpUnreach, MultiExitDisc, NextHop, Origin, RawAttribute,
    Segment, SegmentType,
};
use proto::nlri::Nlri;
use proto::update::Update;
use proto::{AfiSafi, AfiSafiSet, Asn, ClusterId, PathId, RouterId, SessionParams};

fn families() -> impl Strategy<Value = AfiSafiSet> {
    (any::<bool>(), any::<bool>()).prop_map(|(v4, v6)| {
        let mut set = AfiSafiSet::EMPTY;
        if v4 {
            set.insert(AfiSafi::Ipv4Unicast);
        }
        if v6 {
            set.insert(AfiSafi::Ipv6Unicast);
        }
        set
    })
}

fn params() -> impl Strategy<Value = SessionParams> {
    (
        any::<bool>(),
        any::<bool>(),
        families(),
        families(),
        families(),
        any::<bool>(),
    )
        .prop_map(
            |(
                four_octet_as,
                extended_message,
                add_path_rx,
                add_path_tx,
                extended_next_hop,
                external,
            )| {
                SessionParams {
                    four_octet_as,
                    extended_message,
                    add_path_rx,
                    add_path_tx,
                    extended_next_hop,
                    external,
                }
            },
        )
}

/// `Some` with probability `probability` (0 and 1 included).
fn maybe<T: std::fmt::Debug + Clone + 'static>(
    probability: f64,
    strategy: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<Option<T>> {
    if probability >= 1.0 {
        strategy.prop_map(Some).boxed()
    } else if probability <= 0.0 {
        Just(None).boxed()
    } else {
        option::weighted(probability, strategy).boxed()
    }
}

fn path_id(present: bool) -> impl Strategy<Value = Option<PathId>> {
    any::<u32>().prop_map(move |id| present.then_some(PathId(id)))
}

fn ipv4_nlri(add_path: bool) -> impl Strategy<Value = Vec<Nlri<Ipv4Net>>> {
    vec(
        (any::<u32>(), 0u8..=32, path_id(add_path)).prop_map(|(address, length, id)| {
            let prefix = Ipv4Net::new(Ipv4Addr::from(address), length).expect("length <= 32");
            Nlri::new(prefix, id)
        }),
        0..6,
    )
}

fn ipv6_nlri(add_path: bool) -> impl Strategy<Value = Vec<Nlri<Ipv6Net>>> {
    vec(
        (any::<u128>(), 0u8..=128, path_id(add_path)).prop_map(|(address, length, id)| {
            let prefix = Ipv6Net::new(Ipv6Addr::from(address), length).expect("length <= 128");
            Nlri::new(prefix, id)
        }),
        0..6,
    )
}

/// An IPv4 host address: a usable next hop (RFC 4271 §6.3; `update::next_hop`).
fn ipv4_host() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>()
        .prop_map(Ipv4Addr::from)
        .prop_filter("a host address", |a| {
            let first = a.octets()[0];
            first != 0 && first != 127 && first < 224
        })
}

fn ipv6_next_hop() -> impl Strategy<Value = Ipv6NextHop> {
    (any::<u128>(), option::of(any::<u128>()))
        .prop_map(|(global, link_local)| Ipv6NextHop {
            global: Ipv6Addr::from(global),
            link_local: link_local.map(Ipv6Addr::from),
        })
        .prop_filter("a host address", |n| {
            !(n.global.is_unspecified() || n.global.is_loopback() || n.global.is_multicast())
        })
}

fn mp_reach(p: SessionParams) -> impl Strategy<Value = MpReach> {
    let v4_next_hop = if p.extended_next_hop.contains(AfiSafi::Ipv4Unicast) {
        prop_oneof![
            ipv4_host().prop_map(NextHop::Ipv4),
            ipv6_next_hop().prop_map(NextHop::Ipv6),
        ]
        .boxed()
    } else {
        ipv4_host().prop_map(NextHop::Ipv4).boxed()
    };
    prop_oneof![
        (
            v4_next_hop,
            ipv4_nlri(p.sends_path_id(AfiSafi::Ipv4Unicast))
        )
            .prop_map(|(next_hop, announced)| MpReach::Ipv4Unicast {
                next_hop,
                announced
            }),
        (
            ipv6_next_hop(),
            ipv6_nlri(p.sends_path_id(AfiSafi::Ipv6Unicast))
        )
            .prop_map(|(next_hop, announced)| MpReach::Ipv6Unicast {
                next_hop,
                announced
            }),
    ]
}

fn mp_unreach(p: SessionParams) -> impl Strategy<Value = MpUnreach> {
    prop_oneof![
        ipv4_nlri(p.sends_path_id(AfiSafi::Ipv4Unicast))
            .prop_map(|withdrawn| MpUnreach::Ipv4Unicast { withdrawn }),
        ipv6_nlri(p.sends_path_id(AfiSafi::Ipv6Unicast))
            .prop_map(|withdrawn| MpUnreach::Ipv6Unicast { withdrawn }),
    ]
}

/// AS numbers other than 0 (RFC 7607), mostly 2-octet, some 4-octet.
fn asn() -> impl Strategy<Value = Asn> {
    prop_oneof![1u32..=65535, 1u32..=u32::MAX].prop_map(Asn)
}

fn segment(kind: SegmentType, asn: BoxedStrategy<Asn>) -> impl Strategy<Value = Segment> {
    vec(asn, 1..4).prop_map(move |asns| Segment::new(kind, asns).expect("1..=3 ASNs"))
}

/// Confederation segments only from internal peers, leading the path and with 2-octet AS
/// numbers (the only ones RFC 6793 can carry to an OLD speaker). An external peer's path is
/// never empty (it prepends its own AS, RFC 4271 §5.1.2).
fn as_path(p: SessionParams) -> impl Strategy<Value = AsPath> {
    let confed_count = if p.external { 0..1 } else { 0..3 };
    let confed_asn = (1u32..=65535).prop_map(Asn).boxed();
    let confed = vec(
        prop_oneof![
            segment(SegmentType::AsConfedSequence, confed_asn.clone()),
            segment(SegmentType::AsConfedSet, confed_asn),
        ],
        confed_count,
    );
    let rest = vec(
        prop_oneof![
            segment(SegmentType::AsSequence, asn().boxed()),
            segment(SegmentType::AsSet, asn().boxed()),
        ],
        if p.external { 1..4 } else { 0..4 },
    );
    (confed, rest).prop_map(|(mut segments, rest)| {
        segments.extend(rest);
        AsPath::new(segments)
    })
}

fn raw_attribute() -> impl Strategy<Value = RawAttribute> {
    // Type codes Starling does not interpret.
    let code = prop_oneof![11u8..=13, 19u8..=31, 33u8..=255];
    (code, any::<bool>(), any::<bool>(), vec(any::<u8>(), 0..300)).prop_map(
        |(code, partial, extended, value)| {
            let mut flags = AttrFlags::OPTIONAL_TRANSITIVE;
            if partial {
                flags = flags.with(AttrFlags::PARTIAL);
            }
            if extended {
                flags = flags.with(AttrFlags::EXTENDED_LENGTH);
            }
            RawAttribute::new(flags, AttrType(code), Bytes::from(value)).expect("valid")
        },
    )
}

/// Attributes valid for `p`; `reachable` asks for the mandatory ones, `classic` for NEXT_HOP.
fn attributes(
    p: SessionParams,
    reachable: bool,
    classic: bool,
) -> impl Strategy<Value = Attributes> {
    let internal = !p.external;
    let origin = prop_oneof![
        Just(Origin::Igp),
        Just(Origin::Egp),
        Just(Origin::Incomplete)
    ];
    let well_known = (
        maybe(if reachable { 1.0 } else { 0.5 }, origin),
        maybe(if reachable { 1.0 } else { 0.5 }, as_path(p)),
        maybe(if classic { 1.0 } else { 0.5 }, ipv4_host()),
        option::of(any::<u32>()),
        maybe(if internal { 0.5 } else { 0.0 }, any::<u32>()),
        any::<bool>(),
        option::of((asn(), any::<u32>())),
    );
    let lists = (
        vec(any::<u32>(), 0..70),
        maybe(if internal { 0.5 } else { 0.0 }, any::<u32>()),
        vec(any::<u32>(), if internal { 0..4 } else { 0..1 }),
        vec(any::<[u8; 8]>(), 0..4),
        vec(any::<(u32, u32, u32)>(), 0..4),
        any::<[bool; 4]>(),
        vec(raw_attribute(), 0..3),
    );
    (well_known, lists).prop_map(
        |(
            (origin, as_path, next_hop, med, local_pref, atomic_aggregate, aggregator),
            (communities, originator, clusters, extended, large, partial, unknown),
        )| {
            let mut attributes = Attributes {
                origin,
                as_path,
                next_hop,
                multi_exit_disc: med.map(MultiExitDisc),
                local_pref: local_pref.map(LocalPref),
                atomic_aggregate,
                aggregator: aggregator.map(|(asn, address)| Aggregator {
                    asn,
                    address: Ipv4Addr::from(address),
                }),
                communities: communities.into_iter().map(Community).collect(),
                originator_id: originator.map(|id| RouterId(Ipv4Addr::from(id))),
                cluster_list: clusters
                    .into_iter()
                    .map(|id| ClusterId(Ipv4Addr::from(id)))
                    .collect(),
                extended_communities: extended.into_iter().map(ExtendedCommunity).collect(),
                large_communities: large
                    .into_iter()
                    .map(
                        |(global_admin, local_data_1, local_data_2)| LargeCommunity {
                            global_admin,
                            local_data_1,
                            local_data_2,
                        },
                    )
                    .collect(),
                ..Attributes::default()
            };
            // The Partial bit only on present optional transitive attributes.
            let present = [
                (AttrType::AGGREGATOR, attributes.aggregator.is_some()),
                (AttrType::COMMUNITIES, !attributes.communities.is_empty()),
                (
                    AttrType::EXTENDED_COMMUNITIES,
                    !attributes.extended_communities.is_empty(),
                ),
                (
                    AttrType::LARGE_COMMUNITY,
                    !attributes.large_communities.is_empty(),
                ),
            ];
            for ((code, present), partial) in present.into_iter().zip(partial) {
                if present && partial {
                    attributes.partial.insert(code);
                }
            }
            for raw in unknown {
                attributes.unknown.insert(raw);
            }
            attributes
        },
    )
}

/// A well-formed UPDATE for a session with parameters `p` (as the sender sees them).
fn update(p: SessionParams) -> impl Strategy<Value = Update> {
    let add_path = p.sends_path_id(AfiSafi::Ipv4Unicast);
    (
        ipv4_nlri(add_path),
        ipv4_nlri(add_path),
        option::of(mp_reach(p)),
        option::of(mp_unreach(p)),
    )
        .prop_flat_map(move |(withdrawn, announced, mp_reach, mp_unreach)| {
            let classic = !announced.is_empty();
            let reachable = classic || mp_reach.as_ref().is_some_and(|r| !r.is_empty());
            attributes(p, reachable, classic).prop_map(move |attributes| Update {
                withdrawn: withdrawn.clone(),
                attributes,
                announced: announced.clone(),
                mp_reach: mp_reach.clone(),
                mp_unreach: mp_unreach.clone(),
                errors: vec![],
            })
        })
}

fn params_and_update() -> impl Strategy<Value = (SessionParams, Update)> {
    params().prop_flat_map(|p| (Just(p), update(p)))
}

fn encode(update: &Update, params: &SessionParams) -> Bytes {
    let mut out = BytesMut::new();
    update
        .encode_body(params, &mut out)
        .expect("well-formed update encodes");
    out.freeze()
}

/// Decoding `body` must not panic; an UPDATE that decodes without errors on a 4-octet-AS
/// session must survive another round trip unchanged. (On 2-octet sessions a received AS path
/// may hold confederation segments RFC 6793 cannot carry, so only success is checked.)
fn decode_is_total(body: &[u8], params: &SessionParams) {
    let Ok(update) = Update::decode(&Bytes::copy_from_slice(body), params) else {
        return;
    };
    if !update.errors.is_empty() {
        return;
    }
    let mut out = BytesMut::new();
    if update.encode_body(&params.mirrored(), &mut out).is_err() {
        return;
    }
    let again = Update::decode(&out.freeze(), params).expect("re-encoded UPDATE decodes");
    if params.four_octet_as {
        assert_eq!(again, update);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        // PROPTEST_CASES overrides, for longer runs.
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_well_formed_update_round_trips((p, update) in params_and_update()) {
        let body = encode(&update, &p);
        let decoded = Update::decode(&body, &p.mirrored());
        prop_assert_eq!(decoded, Ok(update));
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in vec(any::<u8>(), 0..512), p in params()) {
        decode_is_total(&body, &p);
    }

    #[test]
    fn mutated_updates_never_panic(
        (p, update) in params_and_update(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in option::of(any::<prop::sample::Index>()),
    ) {
        let mut body = encode(&update, &p).to_vec();
        if body.is_empty() {
            return Ok(());
        }
        for (index, value) in edits {
            let at = index.index(body.len());
            body[at] = value;
        }
        if let Some(cut) = cut {
            body.truncate(cut.index(body.len() + 1));
        }
        decode_is_total(&body, &p.mirrored());
    }
}
