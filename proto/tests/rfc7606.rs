//! One test per RFC 7606 rule (and the RFC 4271 / 4760 / 6793 / 7607 / 8092 rules it builds
//! on): each feeds a malformed UPDATE body and checks the outcome, through one `check` helper.

use std::net::{IpAddr, Ipv4Addr};

use bytes::Bytes;
use proto::attr::{AsPath, AttrType, MpReach, MpUnreach};
use proto::notification::{ErrorCode, UpdateError};
use proto::update::{Action, Reason, Update};
use proto::{AfiSafi, AfiSafiSet, Asn, SessionParams};

/// 4-octet-AS eBGP session.
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

/// A 2-octet-AS (OLD speaker) eBGP session.
fn old_ebgp() -> SessionParams {
    SessionParams::plain(true)
}

const ORIGIN: &[u8] = &[0x40, 0x01, 0x01, 0x00]; // ORIGIN IGP
const AS_PATH: &[u8] = &[
    0x40, 0x02, 0x06, // AS_PATH, length 6
    0x02, 0x01, 0x00, 0x00, 0xfd, 0xe8, // AS_SEQUENCE(65000), 4-octet
];
const AS_PATH_2: &[u8] = &[
    0x40, 0x02, 0x04, // AS_PATH, length 4
    0x02, 0x01, 0xfd, 0xe8, // AS_SEQUENCE(65000), 2-octet
];
const NEXT_HOP: &[u8] = &[0x40, 0x03, 0x04, 0xc0, 0x00, 0x02, 0x01]; // NEXT_HOP 192.0.2.1
const NLRI: &[u8] = &[0x18, 0xc6, 0x33, 0x64]; // 198.51.100.0/24
const NO_NLRI: &[u8] = &[];
const MP_REACH_V6: &[u8] = &[
    0x80, 0x0e, 0x1c, // MP_REACH_NLRI, length 28
    0x00, 0x02, 0x01, // IPv6 unicast
    0x10, // next hop length 16
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // 2001:db8::1
    0x00, // reserved
    0x30, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, // 2001:db8:1::/48
];

/// An UPDATE body with the given Withdrawn Routes, attributes (concatenated) and NLRI; the
/// two length fields are computed.
fn body(withdrawn: &[u8], attributes: &[&[u8]], nlri: &[u8]) -> Vec<u8> {
    let attributes = attributes.concat();
    let mut out = Vec::new();
    out.extend_from_slice(&u16::try_from(withdrawn.len()).expect("short").to_be_bytes());
    out.extend_from_slice(withdrawn);
    out.extend_from_slice(
        &u16::try_from(attributes.len())
            .expect("short")
            .to_be_bytes(),
    );
    out.extend_from_slice(&attributes);
    out.extend_from_slice(nlri);
    out
}

/// What decoding must give.
enum Expect {
    /// A session reset with this UPDATE Message Error subcode.
    Reset(UpdateError),
    /// Success with exactly these `(attribute, action, reason)` errors.
    Errors(Vec<(Option<AttrType>, Action, Reason)>),
}

/// Decodes `wire` and compares the outcome with `expected`; returns the UPDATE when decoding
/// succeeded.
fn check(params: SessionParams, wire: Vec<u8>, expected: Expect) -> Option<Update> {
    let decoded = Update::decode(&Bytes::from(wire), &params);
    match (decoded, expected) {
        (Err(error), Expect::Reset(subcode)) => {
            assert_eq!(error.code, ErrorCode::UpdateMessage(subcode), "{error}");
            None
        }
        (Ok(update), Expect::Errors(errors)) => {
            let found: Vec<_> = update
                .errors
                .iter()
                .map(|e| (e.attribute, e.action, e.reason))
                .collect();
            assert_eq!(found, errors);
            assert!(update
                .errors
                .iter()
                .all(|e| e.action != Action::SessionReset));
            Some(update)
        }
        (Ok(update), Expect::Reset(subcode)) => {
            panic!("expected a reset with {subcode:?}, decoded {update:?}")
        }
        (Err(error), Expect::Errors(_)) => panic!("unexpected reset: {error}"),
    }
}

fn one(attribute: AttrType, action: Action, reason: Reason) -> Expect {
    Expect::Errors(vec![(Some(attribute), action, reason)])
}

fn clean() -> Expect {
    Expect::Errors(vec![])
}

// §3(b): length fields.

#[test]
fn rfc7606_3b_withdrawn_length_overrunning_the_message_resets_session() {
    let wire = vec![
        0x00, 0x05, // withdrawn routes length 5
        0x18, 0x0a, 0x00, // only 3 octets follow
    ];
    check(
        ebgp(),
        wire,
        Expect::Reset(UpdateError::MalformedAttributeList),
    );
}

#[test]
fn rfc7606_3b_attribute_length_overrunning_the_message_resets_session() {
    let wire = vec![
        0x00, 0x00, // withdrawn routes length 0
        0x00, 0x10, // total path attribute length 16
        0x40, 0x01, 0x01, 0x00, // only 4 octets follow
    ];
    check(
        ebgp(),
        wire,
        Expect::Reset(UpdateError::MalformedAttributeList),
    );
}

// §3(c): attribute flags.

#[test]
fn rfc7606_3c_flags_conflict_is_treat_as_withdraw() {
    let origin_optional = &[0xc0, 0x01, 0x01, 0x00]; // ORIGIN marked optional transitive
    let update = check(
        ebgp(),
        body(&[], &[origin_optional, AS_PATH, NEXT_HOP], NLRI),
        one(
            AttrType::ORIGIN,
            Action::TreatAsWithdraw,
            Reason::FlagsConflict,
        ),
    );
    let update = update.expect("decoded");
    assert_eq!(update.attributes.origin, None);
    assert_eq!(update.strongest_action(), Some(Action::TreatAsWithdraw));
}

#[test]
fn rfc7606_3c_mp_reach_with_conflicting_flags_still_yields_its_routes() {
    let mut reach = MP_REACH_V6.to_vec();
    reach[0] = 0xc0; // MP_REACH_NLRI marked transitive
    let update = check(
        ebgp(),
        body(&[], &[&reach, ORIGIN, AS_PATH], NO_NLRI),
        one(
            AttrType::MP_REACH_NLRI,
            Action::TreatAsWithdraw,
            Reason::FlagsConflict,
        ),
    );
    // The routes are known, so they can be withdrawn.
    assert_eq!(update.and_then(|u| u.mp_reach).map(|r| r.len()), Some(1));
}

#[test]
fn rfc7606_3c_partial_bit_alone_is_not_a_flags_error() {
    let origin_partial = &[0x60, 0x01, 0x01, 0x00]; // ORIGIN well-known + Partial
    check(
        ebgp(),
        body(&[], &[origin_partial, AS_PATH, NEXT_HOP], NLRI),
        clean(),
    );
}

// §3(d): missing well-known attributes.

#[test]
fn rfc7606_3d_missing_origin_is_treat_as_withdraw() {
    check(
        ebgp(),
        body(&[], &[AS_PATH, NEXT_HOP], NLRI),
        one(
            AttrType::ORIGIN,
            Action::TreatAsWithdraw,
            Reason::MissingWellKnown,
        ),
    );
}

#[test]
fn rfc7606_3d_missing_as_path_is_treat_as_withdraw() {
    check(
        ebgp(),
        body(&[], &[ORIGIN, NEXT_HOP], NLRI),
        one(
            AttrType::AS_PATH,
            Action::TreatAsWithdraw,
            Reason::MissingWellKnown,
        ),
    );
}

#[test]
fn rfc7606_3d_missing_next_hop_with_nlri_is_treat_as_withdraw() {
    check(
        ebgp(),
        body(&[], &[ORIGIN, AS_PATH], NLRI),
        one(
            AttrType::NEXT_HOP,
            Action::TreatAsWithdraw,
            Reason::MissingWellKnown,
        ),
    );
}

#[test]
fn rfc7606_3d_next_hop_is_not_required_with_mp_reach_only() {
    check(
        ebgp(),
        body(&[], &[MP_REACH_V6, ORIGIN, AS_PATH], NO_NLRI),
        clean(),
    );
}

#[test]
fn rfc7606_3d_missing_attributes_with_mp_reach_are_treat_as_withdraw() {
    check(
        ebgp(),
        body(&[], &[MP_REACH_V6, AS_PATH], NO_NLRI),
        one(
            AttrType::ORIGIN,
            Action::TreatAsWithdraw,
            Reason::MissingWellKnown,
        ),
    );
}

// §3(g): duplicates.

#[test]
fn rfc7606_3g_duplicate_attribute_is_discarded() {
    let second_origin = &[0x40, 0x01, 0x01, 0x02]; // ORIGIN INCOMPLETE
    let update = check(
        ebgp(),
        body(&[], &[ORIGIN, AS_PATH, second_origin, NEXT_HOP], NLRI),
        one(
            AttrType::ORIGIN,
            Action::AttributeDiscard,
            Reason::Duplicate,
        ),
    );
    // The first occurrence is the one kept.
    let update = update.expect("decoded");
    assert_eq!(update.attributes.origin, Some(proto::attr::Origin::Igp));
    assert_eq!(
        &update.errors[0].data[..],
        second_origin,
        "the error carries the attribute"
    );
}

#[test]
fn rfc7606_3g_duplicate_unrecognized_attribute_is_discarded() {
    let unknown = &[0xc0, 0x63, 0x01, 0x01]; // type 99, optional transitive
    check(
        ebgp(),
        body(&[], &[ORIGIN, AS_PATH, NEXT_HOP, unknown, unknown], NLRI),
        one(AttrType(99), Action::AttributeDiscard, Reason::Duplicate),
    );
}

#[test]
fn rfc7606_3g_duplicate_mp_reach_resets_session() {
    check(
        ebgp(),
        body(&[], &[MP_REACH_V6, MP_REACH_V6, ORIGIN, AS_PATH], NO_NLRI),
        Expect::Reset(UpdateError::MalformedAttributeList),
    );
}

#[test]
fn rfc7606_3g_duplicate_mp_unreach_resets_session() {
    let unreach = &[0x80, 0x0f, 0x03, 0x00, 0x02, 0x01]; // MP_UNREACH_NLRI IPv6, empty
    check(
        ebgp(),
        body(&[], &[unreach, unreach], NO_NLRI),
        Expect::Reset(UpdateError::MalformedAttributeList),
    );
}

// §4: attribute length fields.

#[test]
fn rfc7606_4_attribute_overrunning_the_field_is_treat_as_withdraw() {
    let overrunning = &[0xc0, 0x08, 0x08, 0xfd, 0xe8, 0x00, 0x64]; // COMMUNITIES claims 8, has 4
    let update = check(
        ebgp(),
        body(&[], &[ORIGIN, AS_PATH, NEXT_HOP, overrunning], NLRI),
        one(
            AttrType::COMMUNITIES,
            Action::TreatAsWithdraw,
            Reason::AttributeListOverrun,
        ),
    );
    // The NLRI is still located by the total path attribute length.
    assert_eq!(update.map(|u| u.announced.len()), Some(1));
}

#[test]
fn rfc7606_4_truncated_attribute_header_is_treat_as_withdraw() {
    let stub = &[0x40, 0x05]; // two octets: no room for a length
    check(
        ebgp(),
        body(&[], &[ORIGIN, AS_PATH, NEXT_HOP, stub], NLRI),
        Expect::Errors(vec![(
            None,
            Action::TreatAsWithdraw,
            Reason::AttributeListOverrun,
        )]),
    );
}

#[test]
fn rfc7606_4_truncated_extended_length_header_is_treat_as_withdraw() {
    let stub = &[0xd0, 0x08, 0x00]; // extended length needs 2 octets, 1 present
    check(
        ebgp(),
        body(&[], &[ORIGIN, AS_PATH, NEXT_HOP, stub], NLRI),
        Expect::Errors(vec![(
            None,
            Action::TreatAsWithdraw,
            Reason::AttributeListOverrun,
        )]),
    );
}

#[test]
fn rfc7606_4_zero_length_attribute_is_malformed() {
    let empty_med = &[0x80, 0x04, 0x00]; // MULTI_EXIT_DISC, length 0
    check(
        ebgp(),
        body(&[], &[ORIGIN, AS_PATH, NEXT_HOP, empty_med], NLRI),
        one(
            AttrType::MULTI_EXIT_DISC,
            Action::TreatAsWithdraw,
            Reason::BadLength,
        ),
    );
}

#[test]
fn rfc7606_4_zero_length_as_path_and_atomic_aggregate_are_valid() {
    let empty_path = &[0x40, 0x02, 0x00]; // AS_PATH, length 0 (iBGP-originated route)
    let atomic = &[0x40, 0x06, 0x00]; // ATOMIC_AGGREGATE, length 0
    let update = check(
        ibgp(),
        body(&[], &[ORIGIN, empty_path, NEXT_HOP, atomic], NLRI),
        clean(),
    )
    .expect("decoded");
    assert_eq!(update.attributes.as_path, Some(AsPath::default()));
    assert!(update.attributes.atomic_aggregate);
}

// §5.1: placement of MP_REACH_NLRI / MP_UNREACH_NLRI.

#[test]
fn rfc7606_5_1_mp_reach_is_accepted_in_any_position() {
    let update = check(
        ebgp(),
        body(&[], &[ORIGIN, AS_PATH, MP_REACH_V6], NO_NLRI),
        clean(),
    );
    assert!(matches!(
        update.and_then(|u| u.mp_reach),
        Some(MpReach::Ipv6Unicast { .. })
    ));
}

#[test]
fn rfc7606_5_1_encoder_puts_mp_reach_first() {
    let wire = body(&[], &[ORIGIN, AS_PATH, MP_REACH_V6], NO_NLRI);
    let update = Update::decode(&Bytes::from(wire), &ebgp()).expect("decodes");
    let mut out = bytes::BytesMut::new();
    update.encode_body(&ebgp(), &mut out).expect("encodes");
    assert_eq!(
        &out[..],
        &body(&[], &[MP_REACH_V6, ORIGIN, AS_PATH], NO_NLRI)[..]
    );
}

// §5.2: errors in an UPDATE without reachable NLRI.

#[test]
fn rfc7606_5_2_treat_as_withdraw_error_without_nlri_resets_session() {
    let bad_origin = &[0x40, 0x01, 0x01, 0x07]; // ORIGIN 7
    check(
        ebgp(),
        body(&[0x08, 0x0a], &[bad_origin, AS_PATH], NO_NLRI), // withdraws 10.0.0.0/8
        Expect::Reset(UpdateError::MalformedAttributeList),
    );
}

#[test]
fn rfc7606_5_2_attribute_discard_without_nlri_is_kept() {
    let bad_atomic = &[0x40, 0x06, 0x01, 0x00]; // ATOMIC_AGGREGATE with a value
    check(
        ebgp(),
        body(&[0x08, 0x0a], &[bad_atomic], NO_NLRI),
        one(
            AttrType::ATOMIC_AGGREGATE,
            Action::AttributeDiscard,
            Reason::BadLength,
        ),
    );
}

#[test]
fn rfc7606_5_2_mp_unreach_alone_is_not_reset() {
    let unreach = &[
        0x80, 0x0f, 0x05, // MP_UNREACH_NLRI, length 5
        0x00, 0x02, 0x01, // IPv6 unicast
        0x81, 0x00, // prefix length 129
    ];
    let update = check(
        ebgp(),
        body(&[], &[unreach], NO_NLRI),
        one(
            AttrType::MP_UNREACH_NLRI,
            Action::AfiSafiDisable,
            Reason::MpNlri,
        ),
    );
    assert_eq!(
        update.map(|u| u.families_to_disable()),
        Some(AfiSafiSet::EMPTY.with(AfiSafi::Ipv6Unicast))
    );
}

// §5.3: syntactic correctness of NLRI.

#[test]
fn rfc7606_5_3_nlri_prefix_longer_than_32_resets_session() {
    let nlri = &[0x21, 0xc6, 0x33, 0x64, 0x00, 0x00]; // length 33
    check(
        ebgp(),
        body(&[], &[ORIGIN, AS_PATH, NEXT_HOP], nlri),
        Expect::Reset(UpdateError::InvalidNetworkField),
    );
}

#[test]
fn rfc7606_5_3_withdrawn_prefix_overrunning_its_field_resets_session() {
    check(
        ebgp(),
        body(&[0x18, 0x0a, 0x00], &[], NO_NLRI), // /24 with two octets
        Expect::Reset(UpdateError::InvalidNetworkField),
    );
}

#[test]
fn rfc7606_5_3_mp_reach_nlri_error_disables_the_family() {
    let mut reach = MP_REACH_V6.to_vec();
    let last = reach.len() - 7;
    reach[last] = 0x90; // prefix length 144
    check(
        ebgp(),
        body(&[], &[&reach, ORIGIN, AS_PATH], NO_NLRI),
        one(
            AttrType::MP_REACH_NLRI,
            Action::AfiSafiDisable,
            Reason::MpNlri,
        ),
    );
}

// §7.1 ORIGIN.

#[test]
fn rfc7606_7_1_origin_with_undefined_value_is_treat_as_withdraw() {
    let bad = &[0x40, 0x01, 0x01, 0x03]; // ORIGIN 3
    let update = check(
        ebgp(),
        body(&[], &[bad, AS_PATH, NEXT_HOP], NLRI),
        one(
            AttrType::ORIGIN,
            Action::TreatAsWithdraw,
            Reason::InvalidValue,
        ),
    );
    let error = &update.expect("decoded").errors[0];
    assert_eq!(
        error.notification().code,
        ErrorCode::UpdateMessage(UpdateError::InvalidOrigin)
    );
}

#[test]
fn rfc7606_7_1_origin_with_bad_length_is_treat_as_withdraw() {
    let bad = &[0x40, 0x01, 0x02, 0x00, 0x00]; // ORIGIN, length 2
    check(
        ebgp(),
        body(&[], &[bad, AS_PATH, NEXT_HOP], NLRI),
        one(AttrType::ORIGIN, Action::TreatAsWithdraw, Reason::BadLength),
    );
}

// §7.2 AS_PATH.

fn check_as_path(params: SessionParams, path: &[u8], expected: Expect) {
    check(params, body(&[], &[ORIGIN, path, NEXT_HOP], NLRI), expected);
}

fn malformed_as_path() -> Expect {
    one(
        AttrType::AS_PATH,
        Action::TreatAsWithdraw,
        Reason::MalformedAsPath,
    )
}

#[test]
fn rfc7606_7_2_as_path_with_unknown_segment_type_is_treat_as_withdraw() {
    let path = &[0x40, 0x02, 0x06, 0x05, 0x01, 0x00, 0x00, 0xfd, 0xe8]; // segment type 5
    check_as_path(ebgp(), path, malformed_as_path());
}

#[test]
fn rfc7606_7_2_as_path_with_zero_segment_length_is_treat_as_withdraw() {
    let path = &[0x40, 0x02, 0x02, 0x02, 0x00]; // AS_SEQUENCE of 0
    check_as_path(ebgp(), path, malformed_as_path());
}

#[test]
fn rfc7606_7_2_as_path_segment_overrun_is_treat_as_withdraw() {
    let path = &[0x40, 0x02, 0x06, 0x02, 0x02, 0x00, 0x00, 0xfd, 0xe8]; // 2 ASNs, room for 1
    check_as_path(ebgp(), path, malformed_as_path());
}

#[test]
fn rfc7606_7_2_as_path_single_trailing_octet_is_treat_as_withdraw() {
    let path = &[0x40, 0x02, 0x07, 0x02, 0x01, 0x00, 0x00, 0xfd, 0xe8, 0x02]; // 1 octet left
    check_as_path(ebgp(), path, malformed_as_path());
}

#[test]
fn rfc7606_7_2_two_octet_as_path_on_four_octet_session_is_malformed() {
    check_as_path(ebgp(), AS_PATH_2, malformed_as_path());
}

#[test]
fn rfc7606_7_2_confed_segment_from_external_peer_is_treat_as_withdraw() {
    let path = &[0x40, 0x02, 0x06, 0x03, 0x01, 0x00, 0x00, 0xfd, 0xe9]; // AS_CONFED_SEQUENCE
    check_as_path(
        ebgp(),
        path,
        one(
            AttrType::AS_PATH,
            Action::TreatAsWithdraw,
            Reason::ConfedSegmentFromExternalPeer,
        ),
    );
    check_as_path(ibgp(), path, clean());
}

#[test]
fn rfc4271_5_1_2_empty_as_path_from_external_peer_is_treat_as_withdraw() {
    let empty_path = &[0x40, 0x02, 0x00]; // AS_PATH, length 0
    check_as_path(ebgp(), empty_path, malformed_as_path());
    check_as_path(ibgp(), empty_path, clean());
}

#[test]
fn rfc4271_6_3_next_hop_that_is_our_own_address_is_ignored() {
    let ours: IpAddr = Ipv4Addr::new(192, 0, 2, 1).into(); // NEXT_HOP's address
    let ours_v6: IpAddr = "2001:db8::1".parse().expect("address"); // MP_REACH's next hop
    let other: IpAddr = Ipv4Addr::new(192, 0, 2, 9).into();
    let local_next_hop = |attribute| one(attribute, Action::TreatAsWithdraw, Reason::LocalNextHop);
    /// (local address, attributes, NLRI field, expected)
    type Case<'a> = (IpAddr, &'a [&'a [u8]], &'a [u8], Expect);
    let cases: [Case; 5] = [
        (
            ours,
            &[ORIGIN, AS_PATH, NEXT_HOP],
            NLRI,
            local_next_hop(AttrType::NEXT_HOP),
        ),
        (other, &[ORIGIN, AS_PATH, NEXT_HOP], NLRI, clean()),
        // A NEXT_HOP without NLRI in the NLRI field is not used.
        (
            ours,
            &[ORIGIN, AS_PATH, NEXT_HOP, MP_REACH_V6],
            NO_NLRI,
            clean(),
        ),
        (
            ours_v6,
            &[ORIGIN, AS_PATH, MP_REACH_V6],
            NO_NLRI,
            local_next_hop(AttrType::MP_REACH_NLRI),
        ),
        (other, &[ORIGIN, AS_PATH, MP_REACH_V6], NO_NLRI, clean()),
    ];
    for (local, attributes, nlri, expected) in cases {
        let mut update =
            Update::decode(&Bytes::from(body(&[], attributes, nlri)), &ebgp()).expect("decodes");
        update.check_next_hop_not_local(local);
        let found: Vec<_> = update
            .errors
            .iter()
            .map(|e| (e.attribute, e.action, e.reason))
            .collect();
        match expected {
            Expect::Errors(errors) => assert_eq!(found, errors, "local {local}"),
            Expect::Reset(_) => unreachable!("no reset case"),
        }
    }
}

/// NEXT_HOP with this IPv4 address.
fn next_hop_attribute(address: [u8; 4]) -> Vec<u8> {
    [&[0x40, 0x03, 0x04][..], &address].concat() // NEXT_HOP, length 4
}

/// MP_REACH_NLRI for IPv6 unicast, 2001:db8:1::/48, with this next hop (16 or 32 octets).
fn mp_reach_v6_via(next_hop: &[u8]) -> Vec<u8> {
    let mut value = vec![0x00, 0x02, 0x01]; // IPv6 unicast
    value.push(u8::try_from(next_hop.len()).expect("short")); // next hop length
    value.extend_from_slice(next_hop);
    value.push(0x00); // reserved
    value.extend_from_slice(&[0x30, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01]); // 2001:db8:1::/48
    [
        &[0x80, 0x0e, u8::try_from(value.len()).expect("short")][..], // MP_REACH_NLRI
        &value,
    ]
    .concat()
}

#[test]
fn rfc4271_6_3_next_hop_that_is_not_a_host_address_is_ignored() {
    let not_host = |attribute| one(attribute, Action::TreatAsWithdraw, Reason::NextHopNotHost);
    for (address, expected) in [
        ([0, 0, 0, 0], not_host(AttrType::NEXT_HOP)), // unspecified
        ([0, 1, 2, 3], not_host(AttrType::NEXT_HOP)), // 0/8, "this network"
        ([127, 0, 0, 1], not_host(AttrType::NEXT_HOP)), // loopback
        ([127, 9, 9, 9], not_host(AttrType::NEXT_HOP)), // loopback, all of 127/8
        ([224, 0, 0, 5], not_host(AttrType::NEXT_HOP)), // multicast
        ([239, 255, 0, 1], not_host(AttrType::NEXT_HOP)), // multicast
        ([240, 0, 0, 1], not_host(AttrType::NEXT_HOP)), // class E
        ([255, 255, 255, 255], not_host(AttrType::NEXT_HOP)), // limited broadcast
        ([1, 0, 0, 1], clean()),
        ([126, 255, 255, 254], clean()),
        ([128, 0, 0, 1], clean()),
        ([223, 255, 255, 254], clean()),
    ] {
        let next_hop = next_hop_attribute(address);
        let update = check(
            ebgp(),
            body(&[], &[ORIGIN, AS_PATH, &next_hop], NLRI),
            expected,
        );
        assert!(update.is_some(), "{address:?}: no NOTIFICATION");
    }
    // A NEXT_HOP that no route in the NLRI field uses is not judged.
    let unused = next_hop_attribute([127, 0, 0, 1]);
    check(
        ebgp(),
        body(&[], &[ORIGIN, AS_PATH, &unused, MP_REACH_V6], NO_NLRI),
        clean(),
    );

    let v6 = |text: &str| {
        text.parse::<std::net::Ipv6Addr>()
            .expect("address")
            .octets()
    };
    let pair = |global: &str, link_local: &str| [v6(global), v6(link_local)].concat();
    for (next_hop, expected) in [
        (v6("::").to_vec(), not_host(AttrType::MP_REACH_NLRI)),
        (v6("::1").to_vec(), not_host(AttrType::MP_REACH_NLRI)),
        (v6("ff02::5").to_vec(), not_host(AttrType::MP_REACH_NLRI)),
        (
            pair("ff05::1", "fe80::1"),
            not_host(AttrType::MP_REACH_NLRI),
        ),
        (pair("::", "::1"), not_host(AttrType::MP_REACH_NLRI)),
        (v6("2001:db8::1").to_vec(), clean()),
        (v6("fe80::1").to_vec(), clean()),
        (pair("2001:db8::1", "fe80::1"), clean()),
        // An unspecified global address stands for the link-local one beside it.
        (pair("::", "fe80::1"), clean()),
    ] {
        let reach = mp_reach_v6_via(&next_hop);
        let update = check(
            ebgp(),
            body(&[], &[ORIGIN, AS_PATH, &reach], NO_NLRI),
            expected,
        );
        assert!(update.is_some(), "{next_hop:02x?}: no NOTIFICATION");
    }
}

#[test]
fn rfc7607_as_zero_in_as_path_is_treat_as_withdraw() {
    let path = &[0x40, 0x02, 0x06, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00]; // AS_SEQUENCE(0)
    check_as_path(ebgp(), path, malformed_as_path());
}

// §7.3 NEXT_HOP, §7.4 MULTI_EXIT_DISC, §7.5 LOCAL_PREF.

#[test]
fn rfc7606_7_3_next_hop_with_bad_length_is_treat_as_withdraw() {
    let bad = &[0x40, 0x03, 0x05, 0xc0, 0x00, 0x02, 0x01, 0x00]; // NEXT_HOP, length 5
    check(
        ebgp(),
        body(&[], &[ORIGIN, AS_PATH, bad], NLRI),
        one(
            AttrType::NEXT_HOP,
            Action::TreatAsWithdraw,
            Reason::BadLength,
        ),
    );
}

#[test]
fn rfc7606_7_4_med_with_bad_length_is_treat_as_withdraw() {
    let bad = &[0x80, 0x04, 0x02, 0x00, 0x64]; // MULTI_EXIT_DISC, length 2
    check(
        ebgp(),
        body(&[], &[ORIGIN, AS_PATH, NEXT_HOP, bad], NLRI),
        one(
            AttrType::MULTI_EXIT_DISC,
            Action::TreatAsWithdraw,
            Reason::BadLength,
        ),
    );
}

#[test]
fn rfc7606_7_5_local_pref_from_external_peer_is_discarded() {
    let local_pref = &[0x40, 0x05, 0x04, 0x00, 0x00, 0x00, 0x64]; // LOCAL_PREF 100
    let update = check(
        ebgp(),
        body(&[], &[ORIGIN, AS_PATH, NEXT_HOP, local_pref], NLRI),
        one(
            AttrType::LOCAL_PREF,
            Action::AttributeDiscard,
            Reason::FromExternalPeer,
        ),
    );
    assert_eq!(update.and_then(|u| u.attributes.local_pref), None);
}

#[test]
fn rfc7606_7_5_local_pref_with_bad_length_from_internal_peer_is_treat_as_withdraw() {
    let bad = &[0x40, 0x05, 0x03, 0x00, 0x00, 0x64]; // LOCAL_PREF, length 3
    check(
        ibgp(),
        body(&[], &[ORIGIN, AS_PATH, NEXT_HOP, bad], NLRI),
        one(
            AttrType::LOCAL_PREF,
            Action::TreatAsWithdraw,
            Reason::BadLength,
        ),
    );
}

// §7.6 ATOMIC_AGGREGATE, §7.7 AGGREGATOR.

#[test]
fn rfc7606_7_6_atomic_aggregate_with_bad_length_is_discarded() {
    let bad = &[0x40, 0x06, 0x01, 0x00]; // ATOMIC_AGGREGATE, length 1
    check(
        ebgp(),
        body(&[], &[ORIGIN, AS_PATH, NEXT_HOP, bad], NLRI),
        one(
            AttrType::ATOMIC_AGGREGATE,
            Action::AttributeDiscard,
            Reason::BadLength,
        ),
    );
}

#[test]
fn rfc7606_7_7_aggregator_with_bad_length_is_discarded() {
    // A 2-octet AGGREGATOR (6 octets) on a 4-octet session.
    let bad = &[0xc0, 0x07, 0x06, 0xfd, 0xe8, 0xc6, 0x33, 0x64, 0x01];
    check(
        ebgp(),
        body(&[], &[ORIGIN, AS_PATH, NEXT_HOP, bad], NLRI),
        one(
            AttrType::AGGREGATOR,
            Action::AttributeDiscard,
            Reason::BadLength,
        ),
    );
}

#[test]
fn rfc7607_aggregator_with_as_zero_is_discarded() {
    let bad = &[0xc0, 0x07, 0x08, 0, 0, 0, 0, 0xc6, 0x33, 0x64, 0x01]; // AS 0
    check(
        ebgp(),
        body(&[], &[ORIGIN, AS_PATH, NEXT_HOP, bad], NLRI),
        one(
            AttrType::AGGREGATOR,
            Action::AttributeDiscard,
            Reason::InvalidValue,
        ),
    );
}

// §7.8 COMMUNITIES, §7.9 ORIGINATOR_ID, §7.10 CLUSTER_LIST.

#[test]
fn rfc7606_7_8_communities_not_a_multiple_of_4_is_treat_as_withdraw() {
    let bad = &[0xc0, 0x08, 0x03, 0xfd, 0xe8, 0x00]; // COMMUNITIES, length 3
    check(
        ebgp(),
        body(&[], &[ORIGIN, AS_PATH, NEXT_HOP, bad], NLRI),
        one(
            AttrType::COMMUNITIES,
            Action::TreatAsWithdraw,
            Reason::BadLength,
        ),
    );
}

#[test]
fn rfc7606_7_8_empty_communities_is_treat_as_withdraw() {
    let bad = &[0xc0, 0x08, 0x00]; // COMMUNITIES, length 0
    check(
        ebgp(),
        body(&[], &[ORIGIN, AS_PATH, NEXT_HOP, bad], NLRI),
        one(
            AttrType::COMMUNITIES,
            Action::TreatAsWithdraw,
            Reason::BadLength,
        ),
    );
}

#[test]
fn rfc7606_7_9_originator_id_from_external_peer_is_discarded() {
    let originator = &[0x80, 0x09, 0x04, 0x0a, 0x00, 0x00, 0x01]; // ORIGINATOR_ID 10.0.0.1
    check(
        ebgp(),
        body(&[], &[ORIGIN, AS_PATH, NEXT_HOP, originator], NLRI),
        one(
            AttrType::ORIGINATOR_ID,
            Action::AttributeDiscard,
            Reason::FromExternalPeer,
        ),
    );
}

#[test]
fn rfc7606_7_9_originator_id_with_bad_length_is_treat_as_withdraw() {
    let bad = &[0x80, 0x09, 0x02, 0x0a, 0x00]; // ORIGINATOR_ID, length 2
    check(
        ibgp(),
        body(&[], &[ORIGIN, AS_PATH, NEXT_HOP, bad], NLRI),
        one(
            AttrType::ORIGINATOR_ID,
            Action::TreatAsWithdraw,
            Reason::BadLength,
        ),
    );
}

#[test]
fn rfc7606_7_10_cluster_list_from_external_peer_is_discarded() {
    let cluster_list = &[0x80, 0x0a, 0x04, 0x0a, 0x00, 0x00, 0xfe]; // CLUSTER_LIST 10.0.0.254
    check(
        ebgp(),
        body(&[], &[ORIGIN, AS_PATH, NEXT_HOP, cluster_list], NLRI),
        one(
            AttrType::CLUSTER_LIST,
            Action::AttributeDiscard,
            Reason::FromExternalPeer,
        ),
    );
}

#[test]
fn rfc7606_7_10_cluster_list_not_a_multiple_of_4_is_treat_as_withdraw() {
    let bad = &[0x80, 0x0a, 0x05, 0x0a, 0x00, 0x00, 0xfe, 0x01]; // CLUSTER_LIST, length 5
    check(
        ibgp(),
        body(&[], &[ORIGIN, AS_PATH, NEXT_HOP, bad], NLRI),
        one(
            AttrType::CLUSTER_LIST,
            Action::TreatAsWithdraw,
            Reason::BadLength,
        ),
    );
}

// §7.11 MP_REACH_NLRI.

#[test]
fn rfc7606_7_11_unexpected_next_hop_length_disables_the_family() {
    let reach = &[
        0x80, 0x0e, 0x0e, // MP_REACH_NLRI, length 14
        0x00, 0x02, 0x01, // IPv6 unicast
        0x04, 0xc0, 0x00, 0x02, 0x01, // next hop length 4 (IPv4) for IPv6 NLRI
        0x00, // reserved
        0x20, 0x20, 0x01, 0x0d, 0xb8, // 2001:db8::/32
    ];
    let update = check(
        ebgp(),
        body(&[], &[reach, ORIGIN, AS_PATH], NO_NLRI),
        one(
            AttrType::MP_REACH_NLRI,
            Action::AfiSafiDisable,
            Reason::MpNextHopLength,
        ),
    );
    let update = update.expect("decoded");
    assert_eq!(update.errors[0].family, Some(AfiSafi::Ipv6Unicast));
    assert_eq!(
        update.errors[0].notification().code,
        ErrorCode::UpdateMessage(UpdateError::OptionalAttributeError)
    );
    assert_eq!(&update.errors[0].notification().data[..], reach);
}

#[test]
fn rfc7606_7_11_ipv6_next_hop_for_ipv4_needs_extended_next_hop() {
    let reach = &[
        0x80, 0x0e, 0x19, // MP_REACH_NLRI, length 25
        0x00, 0x01, 0x01, // IPv4 unicast
        0x10, // next hop length 16
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // 2001:db8::1
        0x00, // reserved
        0x18, 0xc6, 0x33, 0x64, // 198.51.100.0/24
    ];
    let wire = body(&[], &[reach, ORIGIN, AS_PATH], NO_NLRI);
    check(
        ebgp(),
        wire.clone(),
        one(
            AttrType::MP_REACH_NLRI,
            Action::AfiSafiDisable,
            Reason::MpNextHopLength,
        ),
    );
    let extended = SessionParams {
        extended_next_hop: AfiSafiSet::EMPTY.with(AfiSafi::Ipv4Unicast),
        ..ebgp()
    };
    check(extended, wire, clean());
}

#[test]
fn rfc7606_7_11_next_hop_overrunning_the_attribute_disables_the_family() {
    let reach = &[
        0x80, 0x0e, 0x06, // MP_REACH_NLRI, length 6
        0x00, 0x02, 0x01, // IPv6 unicast
        0x10, 0x20, 0x01, // next hop length 16, 2 octets present
    ];
    check(
        ebgp(),
        body(&[], &[reach, ORIGIN, AS_PATH], NO_NLRI),
        one(
            AttrType::MP_REACH_NLRI,
            Action::AfiSafiDisable,
            Reason::MpNextHopLength,
        ),
    );
}

#[test]
fn rfc4760_7_mp_reach_too_short_for_a_family_resets_session() {
    let reach = &[0x80, 0x0e, 0x02, 0x00, 0x02]; // MP_REACH_NLRI, length 2
    check(
        ebgp(),
        body(&[], &[reach, ORIGIN, AS_PATH], NO_NLRI),
        Expect::Reset(UpdateError::OptionalAttributeError),
    );
}

#[test]
fn rfc4760_7_unsupported_family_is_discarded() {
    let unreach = &[0x80, 0x0f, 0x03, 0x00, 0x19, 0x46]; // MP_UNREACH_NLRI L2VPN EVPN, empty
    let update = check(
        ebgp(),
        body(&[], &[unreach], NO_NLRI),
        one(
            AttrType::MP_UNREACH_NLRI,
            Action::AttributeDiscard,
            Reason::UnsupportedFamily,
        ),
    );
    assert_eq!(update.and_then(|u| u.mp_unreach), None::<MpUnreach>);
}

// §7.14 EXTENDED_COMMUNITIES, RFC 8092 §6 LARGE_COMMUNITY.

#[test]
fn rfc7606_7_14_extended_communities_not_a_multiple_of_8_is_treat_as_withdraw() {
    let bad = &[0xc0, 0x10, 0x04, 0x00, 0x02, 0xfd, 0xe8]; // EXTENDED_COMMUNITIES, length 4
    check(
        ebgp(),
        body(&[], &[ORIGIN, AS_PATH, NEXT_HOP, bad], NLRI),
        one(
            AttrType::EXTENDED_COMMUNITIES,
            Action::TreatAsWithdraw,
            Reason::BadLength,
        ),
    );
}

#[test]
fn rfc8092_6_large_communities_not_a_multiple_of_12_is_treat_as_withdraw() {
    let bad = &[0xc0, 0x20, 0x08, 0, 0, 0, 1, 0, 0, 0, 2]; // LARGE_COMMUNITY, length 8
    check(
        ebgp(),
        body(&[], &[ORIGIN, AS_PATH, NEXT_HOP, bad], NLRI),
        one(
            AttrType::LARGE_COMMUNITY,
            Action::TreatAsWithdraw,
            Reason::BadLength,
        ),
    );
}

// RFC 6793: AS4_PATH and AS4_AGGREGATOR.

const AS4_PATH: &[u8] = &[
    0xc0, 0x11, 0x06, // AS4_PATH, length 6
    0x02, 0x01, 0x00, 0x01, 0x11, 0x70, // AS_SEQUENCE(70000)
];

#[test]
fn rfc6793_6_as4_path_from_a_new_speaker_is_discarded() {
    let update = check(
        ebgp(),
        body(&[], &[ORIGIN, AS_PATH, NEXT_HOP, AS4_PATH], NLRI),
        one(
            AttrType::AS4_PATH,
            Action::AttributeDiscard,
            Reason::As4FromNewSpeaker,
        ),
    );
    let path = update.and_then(|u| u.attributes.as_path);
    assert_eq!(path, Some(AsPath::from_sequence(&[Asn(65000)])));
}

#[test]
fn rfc6793_6_malformed_as4_path_is_discarded() {
    let bad = &[0xc0, 0x11, 0x04, 0x02, 0x01, 0x00, 0x01]; // AS4_PATH, length 4
    check(
        old_ebgp(),
        body(&[], &[ORIGIN, AS_PATH_2, NEXT_HOP, bad], NLRI),
        one(
            AttrType::AS4_PATH,
            Action::AttributeDiscard,
            Reason::BadLength,
        ),
    );
}

#[test]
fn rfc6793_6_as4_path_with_conflicting_flags_is_discarded() {
    let mut bad = AS4_PATH.to_vec();
    bad[0] = 0x40; // marked well-known
    check(
        old_ebgp(),
        body(&[], &[ORIGIN, AS_PATH_2, NEXT_HOP, &bad], NLRI),
        one(
            AttrType::AS4_PATH,
            Action::AttributeDiscard,
            Reason::FlagsConflict,
        ),
    );
}

#[test]
fn rfc6793_6_as4_aggregator_with_bad_length_is_discarded() {
    let bad = &[0xc0, 0x12, 0x06, 0x5b, 0xa0, 0xc6, 0x33, 0x64, 0x01]; // length 6
    check(
        old_ebgp(),
        body(&[], &[ORIGIN, AS_PATH_2, NEXT_HOP, bad], NLRI),
        one(
            AttrType::AS4_AGGREGATOR,
            Action::AttributeDiscard,
            Reason::BadLength,
        ),
    );
}

#[test]
fn rfc6793_6_confed_segments_in_as4_path_are_dropped() {
    let as_path = &[0x40, 0x02, 0x04, 0x02, 0x01, 0x5b, 0xa0]; // AS_SEQUENCE(AS_TRANS)
    let as4_path = &[
        0xc0, 0x11, 0x0c, // AS4_PATH, length 12
        0x03, 0x01, 0x00, 0x00, 0xfd, 0xe9, // AS_CONFED_SEQUENCE(65001)
        0x02, 0x01, 0x00, 0x01, 0x11, 0x70, // AS_SEQUENCE(70000)
    ];
    let update = check(
        old_ebgp(),
        body(&[], &[ORIGIN, as_path, NEXT_HOP, as4_path], NLRI),
        one(
            AttrType::AS4_PATH,
            Action::AttributeDiscard,
            Reason::ConfedSegmentInAs4Path,
        ),
    );
    let path = update.and_then(|u| u.attributes.as_path);
    assert_eq!(path, Some(AsPath::from_sequence(&[Asn(70000)])));
}

#[test]
fn rfc6793_4_2_3_aggregator_other_than_as_trans_voids_as4_attributes() {
    let as_path = &[0x40, 0x02, 0x04, 0x02, 0x01, 0x5b, 0xa0]; // AS_SEQUENCE(AS_TRANS)
    let aggregator = &[0xc0, 0x07, 0x06, 0xfd, 0xe8, 0xc6, 0x33, 0x64, 0x01]; // AS 65000
    let as4_aggregator = &[
        0xc0, 0x12, 0x08, 0x00, 0x01, 0x11, 0x70, 0xc6, 0x33, 0x64, 0x01,
    ];
    let update = check(
        old_ebgp(),
        body(
            &[],
            &[
                ORIGIN,
                as_path,
                NEXT_HOP,
                aggregator,
                AS4_PATH,
                as4_aggregator,
            ],
            NLRI,
        ),
        clean(),
    )
    .expect("decoded");
    assert_eq!(
        update.attributes.as_path,
        Some(AsPath::from_sequence(&[Asn::TRANS]))
    );
    assert_eq!(
        update.attributes.aggregator.map(|a| a.asn),
        Some(Asn(65000))
    );
}

#[test]
fn rfc6793_4_2_3_as4_path_longer_than_as_path_is_ignored() {
    let as4_path = &[
        0xc0, 0x11, 0x0a, // AS4_PATH, length 10
        0x02, 0x02, 0x00, 0x01, 0x11, 0x70, 0x00, 0x01, 0x11, 0x71, // 70000 70001
    ];
    let update = check(
        old_ebgp(),
        body(&[], &[ORIGIN, AS_PATH_2, NEXT_HOP, as4_path], NLRI),
        clean(),
    );
    let path = update.and_then(|u| u.attributes.as_path);
    assert_eq!(path, Some(AsPath::from_sequence(&[Asn(65000)])));
}

// RFC 4271 §5: unrecognized attributes.

#[test]
fn rfc4271_5_unrecognized_optional_non_transitive_is_quietly_ignored() {
    let unknown = &[0x80, 0x63, 0x01, 0x00]; // type 99, optional non-transitive
    let update = check(
        ebgp(),
        body(&[], &[ORIGIN, AS_PATH, NEXT_HOP, unknown], NLRI),
        clean(),
    );
    assert!(update.is_some_and(|u| u.attributes.unknown.is_empty()));
}

#[test]
fn rfc4271_5_unrecognized_well_known_is_treat_as_withdraw() {
    let unknown = &[0x40, 0x63, 0x01, 0x00]; // type 99, well-known
    check(
        ebgp(),
        body(&[], &[ORIGIN, AS_PATH, NEXT_HOP, unknown], NLRI),
        one(
            AttrType(99),
            Action::TreatAsWithdraw,
            Reason::UnrecognizedWellKnown,
        ),
    );
}

#[test]
fn rfc7606_2_strongest_action_wins() {
    let bad_atomic = &[0x40, 0x06, 0x01, 0x00]; // attribute discard
    let bad_med = &[0x80, 0x04, 0x01, 0x00]; // treat-as-withdraw
    let update = check(
        ebgp(),
        body(&[], &[ORIGIN, AS_PATH, NEXT_HOP, bad_med, bad_atomic], NLRI),
        Expect::Errors(vec![
            (
                Some(AttrType::MULTI_EXIT_DISC),
                Action::TreatAsWithdraw,
                Reason::BadLength,
            ),
            (
                Some(AttrType::ATOMIC_AGGREGATE),
                Action::AttributeDiscard,
                Reason::BadLength,
            ),
        ]),
    );
    assert_eq!(
        update.and_then(|u| u.strongest_action()),
        Some(Action::TreatAsWithdraw)
    );
}
