//! The UPDATE builder: packed messages are complete, within the negotiated size, decode to the
//! routes and attributes given, and are as few as the size allows.

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::Bytes;
use ipnet::{Ipv4Net, Ipv6Net};
use proptest::collection::vec;
use proptest::prelude::*;
use proto::attr::{
    AsPath, Attributes, Community, Ipv6NextHop, MpReach, MpUnreach, NextHop, Origin,
};
use proto::header::HEADER_LEN;
use proto::nlri::Nlri;
use proto::update::{Announce, Update, UpdateBuilder, Withdraw};
use proto::{AfiSafi, AfiSafiSet, Asn, EncodeError, PathId, SessionParams};

fn ebgp() -> SessionParams {
    SessionParams {
        four_octet_as: true,
        ..SessionParams::plain(true)
    }
}

fn attributes() -> Attributes {
    Attributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::from_sequence(&[Asn(65000)])),
        next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
        communities: vec![Community::new(65000, 100)],
        ..Attributes::default()
    }
}

/// What one batch of messages carried, decoded.
#[derive(Debug, Default, PartialEq)]
struct Carried {
    ipv4_announced: Vec<Nlri<Ipv4Net>>,
    ipv6_announced: Vec<Nlri<Ipv6Net>>,
    ipv4_withdrawn: Vec<Nlri<Ipv4Net>>,
    ipv6_withdrawn: Vec<Nlri<Ipv6Net>>,
}

/// Checks the framing of every message, decodes it as the peer would and collects the routes;
/// every message must carry `expected_attributes` (when given) and no errors.
fn decode_all(
    messages: &[Bytes],
    params: &SessionParams,
    expected_attributes: Option<&Attributes>,
) -> Carried {
    let mut carried = Carried::default();
    for message in messages {
        assert!(
            message.len() <= params.max_message_len(),
            "{} octets",
            message.len()
        );
        assert_eq!(&message[..16], &[0xff; 16], "marker");
        assert_eq!(
            usize::from(u16::from_be_bytes([message[16], message[17]])),
            message.len()
        );
        assert_eq!(message[18], 2, "UPDATE");
        let update =
            Update::decode(&message.slice(HEADER_LEN..), &params.mirrored()).expect("decodes");
        assert_eq!(update.errors, vec![]);
        if let Some(expected) = expected_attributes {
            assert_eq!(&update.attributes, expected);
        }
        carried.ipv4_announced.extend(update.announced);
        carried.ipv4_withdrawn.extend(update.withdrawn);
        match update.mp_reach {
            Some(MpReach::Ipv4Unicast { announced, .. }) => {
                carried.ipv4_announced.extend(announced)
            }
            Some(MpReach::Ipv6Unicast { announced, .. }) => {
                carried.ipv6_announced.extend(announced)
            }
            None => {}
        }
        match update.mp_unreach {
            Some(MpUnreach::Ipv4Unicast { withdrawn }) => carried.ipv4_withdrawn.extend(withdrawn),
            Some(MpUnreach::Ipv6Unicast { withdrawn }) => carried.ipv6_withdrawn.extend(withdrawn),
            None => {}
        }
    }
    carried
}

fn v4_prefixes(count: u32, length: u8) -> Vec<Nlri<Ipv4Net>> {
    (0..count)
        .map(|i| {
            let address = Ipv4Addr::from(0x0a00_0000 + (i << (32 - u32::from(length))));
            Nlri::new(Ipv4Net::new(address, length).expect("valid"), None)
        })
        .collect()
}

fn v6_prefixes(count: u32) -> Vec<Nlri<Ipv6Net>> {
    (0..count)
        .map(|i| {
            let address = Ipv6Addr::from(0x2001_0db8_u128 << 96 | u128::from(i) << 64);
            Nlri::new(Ipv6Net::new(address, 64).expect("valid"), None)
        })
        .collect()
}

#[test]
fn ipv4_announcements_fill_each_message() {
    // 20 + 7 octets of attributes leave 4096 - 19 - 4 - 27 = 4046 octets: 1011 /24 (4 octets).
    let prefixes = v4_prefixes(2500, 24);
    let messages = UpdateBuilder::new(&ebgp())
        .announce(&attributes(), Announce::Ipv4(&prefixes))
        .expect("builds");
    assert_eq!(messages.len(), 3);
    assert_eq!(messages[0].len(), 4096 - 2);
    let carried = decode_all(&messages, &ebgp(), Some(&attributes()));
    assert_eq!(carried.ipv4_announced, prefixes);
}

#[test]
fn extended_messages_carry_more() {
    let params = SessionParams {
        extended_message: true,
        ..ebgp()
    };
    let prefixes = v4_prefixes(2500, 24);
    let messages = UpdateBuilder::new(&params)
        .announce(&attributes(), Announce::Ipv4(&prefixes))
        .expect("builds");
    assert_eq!(messages.len(), 1);
    assert_eq!(
        decode_all(&messages, &params, None).ipv4_announced,
        prefixes
    );
}

#[test]
fn ipv4_withdrawals() {
    // 4096 - 23 = 4073 octets: 1018 /24 per message.
    let prefixes = v4_prefixes(2037, 24);
    let messages = UpdateBuilder::new(&ebgp())
        .withdraw(Withdraw::Ipv4(&prefixes))
        .expect("builds");
    assert_eq!(messages.len(), 3);
    let carried = decode_all(&messages, &ebgp(), Some(&Attributes::default()));
    assert_eq!(carried.ipv4_withdrawn, prefixes);
}

#[test]
fn ipv6_announcements_and_withdrawals() {
    let prefixes = v6_prefixes(1200);
    let next_hop = Ipv6NextHop {
        global: "2001:db8::1".parse().expect("address"),
        link_local: Some("fe80::1".parse().expect("address")),
    };
    let mut without_next_hop = attributes();
    without_next_hop.next_hop = None;
    let builder = UpdateBuilder::new(&ebgp());
    // NEXT_HOP is left out of messages whose routes are all in MP_REACH_NLRI (RFC 4760 §3).
    let messages = builder
        .announce(
            &attributes(),
            Announce::Ipv6 {
                next_hop,
                nlri: &prefixes,
            },
        )
        .expect("builds");
    // 9 octets per /64; 4096 - 23 - 4 - 37 - 20 = 4012 octets: 445 per message.
    assert_eq!(messages.len(), 3);
    let carried = decode_all(&messages, &ebgp(), Some(&without_next_hop));
    assert_eq!(carried.ipv6_announced, prefixes);

    let messages = builder.withdraw(Withdraw::Ipv6(&prefixes)).expect("builds");
    assert_eq!(messages.len(), 3);
    assert_eq!(
        decode_all(&messages, &ebgp(), None).ipv6_withdrawn,
        prefixes
    );
}

#[test]
fn ipv4_with_ipv6_next_hop_needs_extended_next_hop() {
    let prefixes = v4_prefixes(10, 32);
    let next_hop = NextHop::Ipv6(Ipv6NextHop {
        global: "2001:db8::1".parse().expect("address"),
        link_local: None,
    });
    let routes = Announce::Ipv4Mp {
        next_hop,
        nlri: &prefixes,
    };
    let refused = UpdateBuilder::new(&ebgp()).announce(&attributes(), routes);
    assert!(matches!(refused, Err(EncodeError::ParamsMismatch { .. })));
    let params = SessionParams {
        extended_next_hop: AfiSafiSet::EMPTY.with(AfiSafi::Ipv4Unicast),
        ..ebgp()
    };
    let messages = UpdateBuilder::new(&params)
        .announce(&attributes(), routes)
        .expect("builds");
    let mut without_next_hop = attributes();
    without_next_hop.next_hop = None;
    let carried = decode_all(&messages, &params, Some(&without_next_hop));
    assert_eq!(carried.ipv4_announced, prefixes);
}

#[test]
fn attributes_too_large_for_any_prefix_are_refused() {
    let huge = Attributes {
        communities: (0..1020).map(Community).collect(),
        ..attributes()
    };
    let prefixes = v4_prefixes(1, 24);
    let result = UpdateBuilder::new(&ebgp()).announce(&huge, Announce::Ipv4(&prefixes));
    assert!(
        matches!(result, Err(EncodeError::TooLarge { .. })),
        "{result:?}"
    );
}

#[test]
fn path_identifiers_must_match_add_path() {
    let with_ids: Vec<_> = v4_prefixes(3, 24)
        .into_iter()
        .map(|n| Nlri::new(n.prefix(), Some(PathId(1))))
        .collect();
    let builder = UpdateBuilder::new(&ebgp());
    assert!(builder.withdraw(Withdraw::Ipv4(&with_ids)).is_err());
    let params = SessionParams {
        add_path_tx: AfiSafiSet::EMPTY.with(AfiSafi::Ipv4Unicast),
        ..ebgp()
    };
    let messages = UpdateBuilder::new(&params)
        .withdraw(Withdraw::Ipv4(&with_ids))
        .expect("builds");
    assert_eq!(
        decode_all(&messages, &params, None).ipv4_withdrawn,
        with_ids
    );
}

#[test]
fn no_routes_no_messages() {
    let builder = UpdateBuilder::new(&ebgp());
    assert_eq!(
        builder.announce(&attributes(), Announce::Ipv4(&[])),
        Ok(vec![])
    );
    assert_eq!(builder.withdraw(Withdraw::Ipv6(&[])), Ok(vec![]));
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn packed_messages_carry_every_prefix_in_order(
        raw in vec((any::<u32>(), 0u8..=32), 0..3000),
        extended_message in any::<bool>(),
        add_path in any::<bool>(),
    ) {
        let mut params = SessionParams { extended_message, ..ebgp() };
        if add_path {
            params.add_path_tx.insert(AfiSafi::Ipv4Unicast);
        }
        let prefixes: Vec<_> = raw
            .iter()
            .enumerate()
            .map(|(i, &(address, length))| {
                let prefix = Ipv4Net::new(Ipv4Addr::from(address), length).expect("valid");
                Nlri::new(prefix, add_path.then_some(PathId(i as u32)))
            })
            .collect();
        let builder = UpdateBuilder::new(&params);
        let messages = builder.announce(&attributes(), Announce::Ipv4(&prefixes)).expect("builds");
        prop_assert_eq!(decode_all(&messages, &params, Some(&attributes())).ipv4_announced, prefixes.clone());
        // As few messages as the size allows: every message but the last is too full to take
        // the next prefix.
        let mut encoded = bytes::BytesMut::new();
        attributes().encode(&params, &mut encoded).expect("encodes");
        let room = params.max_message_len() - HEADER_LEN - 4 - encoded.len();
        let mut placed = 0;
        for message in &messages[..messages.len() - usize::from(!messages.is_empty())] {
            let update = Update::decode(&message.slice(HEADER_LEN..), &params.mirrored())
                .expect("decodes");
            let used: usize = update.announced.iter().map(|n| n.encoded_len()).sum();
            placed += update.announced.len();
            prop_assert!(used + prefixes[placed].encoded_len() > room);
        }
        let withdrawals = builder.withdraw(Withdraw::Ipv4(&prefixes)).expect("builds");
        prop_assert_eq!(decode_all(&withdrawals, &params, None).ipv4_withdrawn, prefixes);
    }
}
