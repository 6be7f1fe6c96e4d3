//! Golden UPDATE bodies (the octets after the 19-octet header), one per attribute kind and per
//! interesting encoding case. Each decodes to the expected value and, where the bytes are the
//! canonical encoding, encodes back to the same bytes.

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::{Bytes, BytesMut};
use ipnet::{Ipv4Net, Ipv6Net};
use proto::attr::{
    Aggregator, AsPath, AttrFlags, AttrType, Attributes, Community, ExtendedCommunity, Ipv6NextHop,
    LargeCommunity, LocalPref, MpReach, MpUnreach, MultiExitDisc, NextHop, Origin, RawAttribute,
    Segment, SegmentType,
};
use proto::nlri::Nlri;
use proto::update::Update;
use proto::{AfiSafi, AfiSafiSet, Asn, ClusterId, PathId, RouterId, SessionParams};

/// A 4-octet-AS eBGP session without ADD-PATH or extended next hop.
fn ebgp() -> SessionParams {
    SessionParams {
        four_octet_as: true,
        ..SessionParams::plain(true)
    }
}

fn ibgp() -> SessionParams {
    SessionParams {
        external: false,
        ..ebgp()
    }
}

/// Decodes `body` with `params` and compares with `expected`; then encodes `expected` with the
/// same parameters and compares with `body`.
fn check(params: SessionParams, body: &[u8], expected: &Update) {
    check_decode(params, body, expected);
    let mut out = BytesMut::new();
    expected.encode_body(&params, &mut out).expect("encodes");
    assert_eq!(&out[..], body, "encoding differs");
}

/// Only the decoding direction, for bodies that are not the canonical encoding.
fn check_decode(params: SessionParams, body: &[u8], expected: &Update) {
    let decoded = Update::decode(&Bytes::copy_from_slice(body), &params).expect("decodes");
    assert_eq!(&decoded, expected);
}

fn v4(s: &str) -> Nlri<Ipv4Net> {
    Nlri::new(s.parse().expect("test prefix"), None)
}

fn v6(s: &str) -> Nlri<Ipv6Net> {
    Nlri::new(s.parse().expect("test prefix"), None)
}

fn seq(asns: &[u32]) -> Segment {
    segment(SegmentType::AsSequence, asns)
}

fn segment(kind: SegmentType, asns: &[u32]) -> Segment {
    Segment::new(kind, asns.iter().map(|&a| Asn(a)).collect()).expect("1..=255 ASNs")
}

/// ORIGIN IGP, AS_PATH 65000, NEXT_HOP 192.0.2.1: the attributes most cases share.
fn base() -> Attributes {
    Attributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::new(vec![seq(&[65000])])),
        next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
        ..Attributes::default()
    }
}

/// The wire form of [`base`] on a 4-octet session: 4 + 9 + 7 = 20 octets.
const BASE: [u8; 20] = [
    0x40, 0x01, 0x01, 0x00, // ORIGIN (well-known), length 1: IGP
    0x40, 0x02, 0x06, 0x02, 0x01, 0x00, 0x00, 0xfd, 0xe8, // AS_PATH, 6: AS_SEQUENCE(65000)
    0x40, 0x03, 0x04, 0xc0, 0x00, 0x02, 0x01, // NEXT_HOP, 4: 192.0.2.1
];

fn with_base(extra: &[u8], total_len: u8, nlri: &[u8]) -> Vec<u8> {
    let mut body = vec![
        0x00, 0x00, // withdrawn routes length 0
        0x00, total_len, // total path attribute length
    ];
    body.extend_from_slice(&BASE);
    body.extend_from_slice(extra);
    body.extend_from_slice(nlri);
    body
}

const NLRI_198_51_100: [u8; 4] = [0x18, 0xc6, 0x33, 0x64]; // 198.51.100.0/24

#[test]
fn origin_as_path_next_hop_and_nlri() {
    let body = [
        0x00, 0x00, // withdrawn routes length 0
        0x00, 0x18, // total path attribute length 24
        0x40, 0x01, 0x01, 0x02, // ORIGIN, length 1: INCOMPLETE
        0x40, 0x02, 0x0a, // AS_PATH, length 10
        0x02, 0x02, // AS_SEQUENCE of 2
        0x00, 0x00, 0xfd, 0xe8, // 65000
        0xfa, 0x56, 0xea, 0x00, // 4200000000
        0x40, 0x03, 0x04, 0xc0, 0x00, 0x02, 0x01, // NEXT_HOP, length 4: 192.0.2.1
        0x18, 0xc6, 0x33, 0x64, // NLRI 198.51.100.0/24
        0x20, 0xcb, 0x00, 0x71, 0x05, // NLRI 203.0.113.5/32
    ];
    let expected = Update {
        attributes: Attributes {
            origin: Some(Origin::Incomplete),
            as_path: Some(AsPath::new(vec![seq(&[65000, 4_200_000_000])])),
            ..base()
        },
        announced: vec![v4("198.51.100.0/24"), v4("203.0.113.5/32")],
        ..Update::default()
    };
    check(ebgp(), &body, &expected);
}

#[test]
fn withdrawn_routes() {
    let body = [
        0x00, 0x07, // withdrawn routes length 7
        0x18, 0xc6, 0x33, 0x64, // 198.51.100.0/24
        0x10, 0x0a, 0x01, // 10.1.0.0/16
        0x00, 0x00, // total path attribute length 0
    ];
    let expected = Update {
        withdrawn: vec![v4("198.51.100.0/24"), v4("10.1.0.0/16")],
        ..Update::default()
    };
    check(ebgp(), &body, &expected);
}

#[test]
fn multi_exit_disc_and_local_pref() {
    let extra = [
        0x80, 0x04, 0x04, 0x00, 0x00, 0x00, 0x64, // MULTI_EXIT_DISC (optional), 4: 100
        0x40, 0x05, 0x04, 0x00, 0x00, 0x01, 0x2c, // LOCAL_PREF (well-known), 4: 300
    ];
    let expected = Update {
        attributes: Attributes {
            multi_exit_disc: Some(MultiExitDisc(100)),
            local_pref: Some(LocalPref(300)),
            ..base()
        },
        announced: vec![v4("198.51.100.0/24")],
        ..Update::default()
    };
    check(ibgp(), &with_base(&extra, 34, &NLRI_198_51_100), &expected);
}

#[test]
fn atomic_aggregate_and_aggregator() {
    let extra = [
        0x40, 0x06, 0x00, // ATOMIC_AGGREGATE (well-known), length 0
        0xc0, 0x07, 0x08, // AGGREGATOR (optional transitive), length 8 (4-octet AS)
        0x00, 0x01, 0x11, 0x70, // AS 70000
        0xc6, 0x33, 0x64, 0x01, // 198.51.100.1
    ];
    let expected = Update {
        attributes: Attributes {
            atomic_aggregate: true,
            aggregator: Some(Aggregator {
                asn: Asn(70000),
                address: Ipv4Addr::new(198, 51, 100, 1),
            }),
            ..base()
        },
        announced: vec![v4("198.51.100.0/24")],
        ..Update::default()
    };
    check(ebgp(), &with_base(&extra, 34, &NLRI_198_51_100), &expected);
}

#[test]
fn communities() {
    let extra = [
        0xc0, 0x08, 0x08, // COMMUNITIES (optional transitive), length 8
        0xfd, 0xe8, 0x00, 0x64, // 65000:100
        0xff, 0xff, 0xff, 0x01, // NO_EXPORT
    ];
    let expected = Update {
        attributes: Attributes {
            communities: vec![Community::new(65000, 100), Community::NO_EXPORT],
            ..base()
        },
        announced: vec![v4("198.51.100.0/24")],
        ..Update::default()
    };
    check(ebgp(), &with_base(&extra, 31, &NLRI_198_51_100), &expected);
}

#[test]
fn partial_bit_of_a_recognized_attribute_is_kept() {
    let extra = [
        0xe0, 0x08, 0x04, // COMMUNITIES, optional transitive + Partial, length 4
        0xfd, 0xe8, 0x00, 0x64, // 65000:100
    ];
    let mut attributes = Attributes {
        communities: vec![Community::new(65000, 100)],
        ..base()
    };
    attributes.partial.insert(AttrType::COMMUNITIES);
    let expected = Update {
        attributes,
        announced: vec![v4("198.51.100.0/24")],
        ..Update::default()
    };
    check(ebgp(), &with_base(&extra, 27, &NLRI_198_51_100), &expected);
}

#[test]
fn originator_id_and_cluster_list() {
    let extra = [
        0x80, 0x09, 0x04, 0x0a, 0x00, 0x00, 0x01, // ORIGINATOR_ID (optional), 4: 10.0.0.1
        0x80, 0x0a, 0x08, // CLUSTER_LIST (optional), length 8
        0x0a, 0x00, 0x00, 0xfe, // 10.0.0.254
        0x0a, 0x00, 0x01, 0xfe, // 10.0.1.254
    ];
    let expected = Update {
        attributes: Attributes {
            originator_id: Some(RouterId(Ipv4Addr::new(10, 0, 0, 1))),
            cluster_list: vec![
                ClusterId(Ipv4Addr::new(10, 0, 0, 254)),
                ClusterId(Ipv4Addr::new(10, 0, 1, 254)),
            ],
            ..base()
        },
        announced: vec![v4("198.51.100.0/24")],
        ..Update::default()
    };
    check(ibgp(), &with_base(&extra, 38, &NLRI_198_51_100), &expected);
}

#[test]
fn extended_communities() {
    let extra = [
        0xc0, 0x10, 0x08, // EXTENDED_COMMUNITIES (optional transitive), length 8
        0x00, 0x02, 0xfd, 0xe8, 0x00, 0x00, 0x00, 0x64, // route target 65000:100
    ];
    let expected = Update {
        attributes: Attributes {
            extended_communities: vec![ExtendedCommunity([
                0x00, 0x02, 0xfd, 0xe8, 0x00, 0x00, 0x00, 0x64,
            ])],
            ..base()
        },
        announced: vec![v4("198.51.100.0/24")],
        ..Update::default()
    };
    check(ebgp(), &with_base(&extra, 31, &NLRI_198_51_100), &expected);
}

#[test]
fn large_communities() {
    let extra = [
        0xc0, 0x20, 0x0c, // LARGE_COMMUNITY (optional transitive), length 12
        0xfa, 0x56, 0xea, 0x00, // global administrator 4200000000
        0x00, 0x00, 0x00, 0x01, // local data 1
        0x00, 0x00, 0x00, 0x02, // local data 2
    ];
    let expected = Update {
        attributes: Attributes {
            large_communities: vec![LargeCommunity {
                global_admin: 4_200_000_000,
                local_data_1: 1,
                local_data_2: 2,
            }],
            ..base()
        },
        announced: vec![v4("198.51.100.0/24")],
        ..Update::default()
    };
    check(ebgp(), &with_base(&extra, 35, &NLRI_198_51_100), &expected);
}

#[test]
fn extended_length_for_a_long_attribute() {
    // 65 communities: 260 octets, more than the 1-octet length allows.
    let communities: Vec<Community> = (0..65).map(|i| Community::new(65000, i)).collect();
    let mut extra = vec![
        0xd0, 0x08, 0x01, 0x04, // COMMUNITIES, optional transitive + Extended Length, 260
    ];
    for c in &communities {
        extra.extend_from_slice(&c.0.to_be_bytes());
    }
    let mut body = vec![
        0x00, 0x00, // withdrawn routes length 0
        0x01, 0x1c, // total path attribute length 284
    ];
    body.extend_from_slice(&BASE);
    body.extend_from_slice(&extra);
    let expected = Update {
        attributes: Attributes {
            communities,
            ..base()
        },
        ..Update::default()
    };
    check(ebgp(), &body, &expected);
}

#[test]
fn mp_reach_ipv6_with_link_local_next_hop() {
    let body = [
        0x00, 0x00, // withdrawn routes length 0
        0x00, 0x43, // total path attribute length 67
        0x80, 0x0e, 0x2c, // MP_REACH_NLRI (optional), length 44
        0x00, 0x02, 0x01, // AFI IPv6, SAFI unicast
        0x20, // next hop length 32
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // 2001:db8::1
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // fe80::1
        0x00, // reserved
        0x30, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, // 2001:db8:1::/48
        0x40, 0x01, 0x01, 0x00, // ORIGIN IGP
        0x40, 0x02, 0x06, 0x02, 0x01, 0x00, 0x00, 0xfd, 0xe8, // AS_PATH (65000)
        0x40, 0x05, 0x04, 0x00, 0x00, 0x00, 0x64, // LOCAL_PREF 100
    ];
    let expected = Update {
        attributes: Attributes {
            local_pref: Some(LocalPref(100)),
            next_hop: None,
            ..base()
        },
        mp_reach: Some(MpReach::Ipv6Unicast {
            next_hop: Ipv6NextHop {
                global: "2001:db8::1".parse::<Ipv6Addr>().expect("address"),
                link_local: Some("fe80::1".parse().expect("address")),
            },
            announced: vec![v6("2001:db8:1::/48")],
        }),
        ..Update::default()
    };
    check(ibgp(), &body, &expected);
}

#[test]
fn mp_unreach_ipv6() {
    let body = [
        0x00, 0x00, // withdrawn routes length 0
        0x00, 0x0f, // total path attribute length 15
        0x80, 0x0f, 0x0c, // MP_UNREACH_NLRI (optional), length 12
        0x00, 0x02, 0x01, // AFI IPv6, SAFI unicast
        0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x02, // 2001:db8:1:2::/64
    ];
    let expected = Update {
        mp_unreach: Some(MpUnreach::Ipv6Unicast {
            withdrawn: vec![v6("2001:db8:1:2::/64")],
        }),
        ..Update::default()
    };
    check(ebgp(), &body, &expected);
}

#[test]
fn ipv4_nlri_with_ipv6_next_hop() {
    let params = SessionParams {
        extended_next_hop: AfiSafiSet::EMPTY.with(AfiSafi::Ipv4Unicast),
        ..ebgp()
    };
    let body = [
        0x00, 0x00, // withdrawn routes length 0
        0x00, 0x29, // total path attribute length 41
        0x80, 0x0e, 0x19, // MP_REACH_NLRI, length 25
        0x00, 0x01, 0x01, // AFI IPv4, SAFI unicast
        0x10, // next hop length 16 (RFC 8950)
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // 2001:db8::1
        0x00, // reserved
        0x18, 0xc6, 0x33, 0x64, // 198.51.100.0/24
        0x40, 0x01, 0x01, 0x00, // ORIGIN IGP
        0x40, 0x02, 0x06, 0x02, 0x01, 0x00, 0x00, 0xfd, 0xe8, // AS_PATH (65000)
    ];
    let expected = Update {
        attributes: Attributes {
            next_hop: None,
            ..base()
        },
        mp_reach: Some(MpReach::Ipv4Unicast {
            next_hop: NextHop::Ipv6(Ipv6NextHop {
                global: "2001:db8::1".parse().expect("address"),
                link_local: None,
            }),
            announced: vec![v4("198.51.100.0/24")],
        }),
        ..Update::default()
    };
    check(params, &body, &expected);
}

#[test]
fn add_path_identifiers() {
    let params = SessionParams {
        add_path_rx: AfiSafiSet::EMPTY.with(AfiSafi::Ipv4Unicast),
        add_path_tx: AfiSafiSet::EMPTY.with(AfiSafi::Ipv4Unicast),
        ..ebgp()
    };
    let body = [
        0x00, 0x07, // withdrawn routes length 7
        0x00, 0x00, 0x00, 0x02, 0x10, 0x0a, 0x01, // path id 2, 10.1.0.0/16
        0x00, 0x14, // total path attribute length 20
        0x40, 0x01, 0x01, 0x00, // ORIGIN IGP
        0x40, 0x02, 0x06, 0x02, 0x01, 0x00, 0x00, 0xfd, 0xe8, // AS_PATH (65000)
        0x40, 0x03, 0x04, 0xc0, 0x00, 0x02, 0x01, // NEXT_HOP 192.0.2.1
        0x00, 0x00, 0x00, 0x01, 0x18, 0xc6, 0x33, 0x64, // path id 1, 198.51.100.0/24
        0x00, 0x00, 0x00, 0x02, 0x18, 0xc6, 0x33, 0x64, // path id 2, 198.51.100.0/24
    ];
    let prefix: Ipv4Net = "198.51.100.0/24".parse().expect("prefix");
    let expected = Update {
        withdrawn: vec![Nlri::new(
            "10.1.0.0/16".parse().expect("prefix"),
            Some(PathId(2)),
        )],
        attributes: base(),
        announced: vec![
            Nlri::new(prefix, Some(PathId(1))),
            Nlri::new(prefix, Some(PathId(2))),
        ],
        ..Update::default()
    };
    check(params, &body, &expected);
}

#[test]
fn two_octet_session_carries_as4_path_and_as4_aggregator() {
    let params = SessionParams::plain(true);
    let body = [
        0x00, 0x00, // withdrawn routes length 0
        0x00, 0x35, // total path attribute length 53
        0x40, 0x01, 0x01, 0x00, // ORIGIN IGP
        0x40, 0x02, 0x06, // AS_PATH, length 6
        0x02, 0x02, 0xfd, 0xe8, 0x5b, 0xa0, // AS_SEQUENCE(65000, AS_TRANS)
        0x40, 0x03, 0x04, 0xc0, 0x00, 0x02, 0x01, // NEXT_HOP 192.0.2.1
        0xc0, 0x07, 0x06, 0x5b, 0xa0, 0xc6, 0x33, 0x64,
        0x01, // AGGREGATOR AS_TRANS 198.51.100.1
        0xc0, 0x11, 0x0a, // AS4_PATH (optional transitive), length 10
        0x02, 0x02, 0x00, 0x00, 0xfd, 0xe8, 0x00, 0x01, 0x11,
        0x70, // AS_SEQUENCE(65000, 70000)
        0xc0, 0x12, 0x08, // AS4_AGGREGATOR (optional transitive), length 8
        0x00, 0x01, 0x11, 0x70, 0xc6, 0x33, 0x64, 0x01, // AS 70000, 198.51.100.1
        0x18, 0xc6, 0x33, 0x64, // 198.51.100.0/24
    ];
    let expected = Update {
        attributes: Attributes {
            as_path: Some(AsPath::new(vec![seq(&[65000, 70000])])),
            aggregator: Some(Aggregator {
                asn: Asn(70000),
                address: Ipv4Addr::new(198, 51, 100, 1),
            }),
            ..base()
        },
        announced: vec![v4("198.51.100.0/24")],
        ..Update::default()
    };
    check(params, &body, &expected);
}

#[test]
fn as_set_and_confederation_segments_from_an_internal_peer() {
    let body = [
        0x00, 0x00, // withdrawn routes length 0
        0x00, 0x2a, // total path attribute length 42
        0x40, 0x01, 0x01, 0x00, // ORIGIN IGP
        0x40, 0x02, 0x1c, // AS_PATH, length 28
        0x03, 0x01, 0x00, 0x00, 0xfd, 0xe9, // AS_CONFED_SEQUENCE(65001)
        0x04, 0x01, 0x00, 0x00, 0xfd, 0xea, // AS_CONFED_SET(65002)
        0x02, 0x01, 0x00, 0x00, 0xfd, 0xe8, // AS_SEQUENCE(65000)
        0x01, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, // AS_SET(1, 2)
        0x40, 0x03, 0x04, 0xc0, 0x00, 0x02, 0x01, // NEXT_HOP 192.0.2.1
        0x18, 0xc6, 0x33, 0x64, // 198.51.100.0/24
    ];
    let path = AsPath::new(vec![
        segment(SegmentType::AsConfedSequence, &[65001]),
        segment(SegmentType::AsConfedSet, &[65002]),
        seq(&[65000]),
        segment(SegmentType::AsSet, &[1, 2]),
    ]);
    assert_eq!(path.path_len(), 2);
    let expected = Update {
        attributes: Attributes {
            as_path: Some(path),
            ..base()
        },
        announced: vec![v4("198.51.100.0/24")],
        ..Update::default()
    };
    check(ibgp(), &body, &expected);
}

#[test]
fn unknown_optional_transitive_is_kept_byte_exact() {
    let extra = [
        0xf0, 0x63, 0x00, 0x02, // type 99, optional transitive + Partial + Extended Length, 2
        0xab, 0xcd, // value
    ];
    let raw = RawAttribute::new(
        AttrFlags(0xf0),
        AttrType(99),
        Bytes::from_static(&[0xab, 0xcd]),
    )
    .expect("valid raw attribute");
    let mut attributes = base();
    attributes.unknown.insert(raw);
    let expected = Update {
        attributes,
        announced: vec![v4("198.51.100.0/24")],
        ..Update::default()
    };
    let body = with_base(&extra, 26, &NLRI_198_51_100);
    check(ebgp(), &body, &expected);
    // Forwarded, it keeps everything and has Partial set.
    let forwarded = expected.attributes.unknown.forwarded();
    assert_eq!(
        forwarded.get(AttrType(99)).map(|a| a.flags()),
        Some(AttrFlags(0xf0))
    );
}

#[test]
fn unknown_attribute_sorts_among_recognized_ones() {
    // Type 22 (PMSI_TUNNEL, not interpreted) goes between EXTENDED_COMMUNITIES (16) and
    // LARGE_COMMUNITY (32) in the encoding.
    let extra = [
        0xc0, 0x10, 0x08, 0x00, 0x02, 0xfd, 0xe8, 0x00, 0x00, 0x00, 0x64, // EXT_COMM RT
        0xc0, 0x16, 0x01, 0x07, // type 22, optional transitive, length 1
        0xc0, 0x20, 0x0c, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, // LARGE_COMMUNITY 1:2:3
    ];
    let mut attributes = Attributes {
        extended_communities: vec![ExtendedCommunity([
            0x00, 0x02, 0xfd, 0xe8, 0x00, 0x00, 0x00, 0x64,
        ])],
        large_communities: vec![LargeCommunity {
            global_admin: 1,
            local_data_1: 2,
            local_data_2: 3,
        }],
        ..base()
    };
    attributes.unknown.insert(
        RawAttribute::new(AttrFlags(0xc0), AttrType(22), Bytes::from_static(&[7]))
            .expect("valid raw attribute"),
    );
    let expected = Update {
        attributes,
        ..Update::default()
    };
    check(ebgp(), &with_base(&extra, 50, &[]), &expected);
}

#[test]
fn unknown_optional_non_transitive_is_ignored() {
    let extra = [
        0x80, 0x63, 0x01, 0x00, // type 99, optional non-transitive, length 1
    ];
    let expected = Update {
        attributes: base(),
        announced: vec![v4("198.51.100.0/24")],
        ..Update::default()
    };
    check_decode(ebgp(), &with_base(&extra, 24, &NLRI_198_51_100), &expected);
}

#[test]
fn end_of_rib_markers() {
    let ipv4 = [
        0x00, 0x00, // withdrawn routes length 0
        0x00, 0x00, // total path attribute length 0
    ];
    check(ebgp(), &ipv4, &Update::end_of_rib(AfiSafi::Ipv4Unicast));
    let ipv6 = [
        0x00, 0x00, // withdrawn routes length 0
        0x00, 0x06, // total path attribute length 6
        0x80, 0x0f, 0x03, // MP_UNREACH_NLRI, length 3
        0x00, 0x02, 0x01, // AFI IPv6, SAFI unicast, no routes
    ];
    check(ebgp(), &ipv6, &Update::end_of_rib(AfiSafi::Ipv6Unicast));
    for family in AfiSafi::ALL {
        assert_eq!(Update::end_of_rib(family).end_of_rib_family(), Some(family));
    }
    let not_eor = Update {
        withdrawn: vec![v4("10.0.0.0/8")],
        ..Update::default()
    };
    assert_eq!(not_eor.end_of_rib_family(), None);
    // Some speakers send the IPv4 marker as an empty MP_UNREACH_NLRI.
    let ipv4_mp = Update {
        mp_unreach: Some(MpUnreach::end_of_rib(AfiSafi::Ipv4Unicast)),
        ..Update::default()
    };
    assert_eq!(ipv4_mp.end_of_rib_family(), Some(AfiSafi::Ipv4Unicast));
}

#[test]
fn full_message_has_the_header() {
    let message = Update::end_of_rib(AfiSafi::Ipv4Unicast)
        .encode(&ebgp())
        .expect("fits");
    let expected: &[u8] = &[
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // marker
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // marker
        0x00, 0x17, // length 23
        0x02, // UPDATE
        0x00, 0x00, 0x00, 0x00, // no withdrawn routes, no attributes
    ];
    assert_eq!(&message[..], expected);
}
