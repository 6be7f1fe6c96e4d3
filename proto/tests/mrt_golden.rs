//! Real-world UPDATEs: the RIPE RIS MRT dumps in `data/mrt/` (see its README) decode with the
//! session parameters the record implies, with the RFC 7606 errors counted exactly, and every
//! decoded UPDATE survives encode and decode unchanged.
//!
//! MRT (RFC 6396 §4.4): a common header (timestamp 4, type 2, subtype 2, length 4), then for
//! BGP4MP_MESSAGE (subtype 1) / BGP4MP_MESSAGE_AS4 (subtype 4): peer AS and local AS (2 or 4
//! octets each), interface index (2), AFI (2), peer and local IP (4 or 16 octets each), and
//! the BGP message with its 19-octet header.

use std::collections::BTreeMap;
use std::io::Read;

use bytes::{Bytes, BytesMut};
use flate2::read::GzDecoder;
use proto::update::{Action, Reason, Update};
use proto::SessionParams;

const RRC15: &[u8] = include_bytes!("data/mrt/ripe-rrc15-updates.20100227.1600.gz");
const RRC03: &[u8] =
    include_bytes!("data/mrt/ripe-rrc03-updates.20100227.1600.first-796-records.gz");

/// RFC 6396 §4: the MRT common header.
const MRT_HEADER_LEN: usize = 12;
/// RFC 6396 §4.4: BGP4MP.
const BGP4MP: u16 = 16;
const BGP4MP_MESSAGE: u16 = 1;
const BGP4MP_MESSAGE_AS4: u16 = 4;
const AFI_IPV4: u16 = 1;
const AFI_IPV6: u16 = 2;
/// RFC 4271 §4.1: marker, length, type.
const BGP_HEADER_LEN: usize = 19;
const BGP_TYPE_AT: usize = 18;
const BGP_UPDATE: u8 = 2;

fn gunzip(compressed: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    GzDecoder::new(compressed)
        .read_to_end(&mut out)
        .expect("test data decompresses");
    out
}

fn u16_at(data: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([data[at], data[at + 1]])
}

fn u32_at(data: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
}

/// One BGP message captured by the collector.
struct Captured {
    four_octet_as: bool,
    peer_as: u32,
    local_as: u32,
    message: Bytes,
}

/// What a dump contains, by MRT subtype and BGP message type, and what decoding found.
#[derive(Debug, Default, PartialEq)]
struct Summary {
    records_by_subtype: BTreeMap<u16, usize>,
    messages_by_type: BTreeMap<u8, usize>,
    updates_with_errors: usize,
    errors: BTreeMap<(String, Action, Reason), usize>,
    prefixes: usize,
    /// UPDATEs whose re-encoding is byte for byte the captured body.
    byte_identical: usize,
}

fn walk(dump: &[u8]) -> (Summary, Vec<Captured>) {
    let mut summary = Summary::default();
    let mut captured = Vec::new();
    let mut rest = dump;
    while !rest.is_empty() {
        let (record_type, subtype) = (u16_at(rest, 4), u16_at(rest, 6));
        let length = usize::try_from(u32_at(rest, 8)).expect("fits usize");
        let body = &rest[MRT_HEADER_LEN..MRT_HEADER_LEN + length];
        rest = &rest[MRT_HEADER_LEN + length..];
        assert_eq!(record_type, BGP4MP);
        *summary.records_by_subtype.entry(subtype).or_default() += 1;
        let (as_len, four_octet_as) = match subtype {
            BGP4MP_MESSAGE => (2, false),
            BGP4MP_MESSAGE_AS4 => (4, true),
            _ => continue, // state changes
        };
        let (peer_as, local_as) = if four_octet_as {
            (u32_at(body, 0), u32_at(body, 4))
        } else {
            (u32::from(u16_at(body, 0)), u32::from(u16_at(body, 2)))
        };
        let afi = u16_at(body, 2 * as_len + 2);
        let address_len = match afi {
            AFI_IPV4 => 4,
            AFI_IPV6 => 16,
            other => panic!("unexpected AFI {other}"),
        };
        let message = &body[2 * as_len + 4 + 2 * address_len..];
        assert_eq!(usize::from(u16_at(message, 16)), message.len());
        *summary
            .messages_by_type
            .entry(message[BGP_TYPE_AT])
            .or_default() += 1;
        captured.push(Captured {
            four_octet_as,
            peer_as,
            local_as,
            message: Bytes::copy_from_slice(message),
        });
    }
    (summary, captured)
}

/// Decodes every UPDATE of `dump`, checks the round trip, and summarizes.
fn decode_dump(dump: &[u8]) -> Summary {
    let (mut summary, captured) = walk(dump);
    for capture in captured
        .iter()
        .filter(|c| c.message[BGP_TYPE_AT] == BGP_UPDATE)
    {
        let params = SessionParams {
            four_octet_as: capture.four_octet_as,
            ..SessionParams::plain(capture.peer_as != capture.local_as)
        };
        let body = capture.message.slice(BGP_HEADER_LEN..);
        let update = Update::decode(&body, &params).expect("real-world UPDATE decodes");
        summary.prefixes += update.announced.len()
            + update.withdrawn.len()
            + update.mp_reach.as_ref().map_or(0, |r| r.len())
            + update.mp_unreach.as_ref().map_or(0, |u| u.len());
        if !update.errors.is_empty() {
            summary.updates_with_errors += 1;
        }
        for error in &update.errors {
            let attribute = error.attribute.map_or("-".to_owned(), |a| a.to_string());
            *summary
                .errors
                .entry((attribute, error.action, error.reason))
                .or_default() += 1;
        }
        // What was kept re-encodes and decodes to the same value (without the errors, which
        // described what the sender got wrong).
        let mut out = BytesMut::new();
        update
            .encode_body(&params.mirrored(), &mut out)
            .expect("decoded UPDATE encodes");
        let out = out.freeze();
        if out == body {
            summary.byte_identical += 1;
        } else {
            // The only differences: MP_(UN)REACH_NLRI moved to the front (RFC 7606 §5.1), the
            // Extended Length flag dropped where the value is short, and on 2-octet sessions
            // attributes put in type code order and AS4_PATH rebuilt from the merged path.
            let mp = update.mp_reach.is_some() || update.mp_unreach.is_some();
            assert!(mp || !params.four_octet_as);
        }
        let again = Update::decode(&out, &params).expect("re-encoded UPDATE decodes");
        let expected = Update {
            errors: vec![],
            ..update
        };
        assert_eq!(again, expected);
    }
    summary
}

fn expected(
    records_by_subtype: &[(u16, usize)],
    messages_by_type: &[(u8, usize)],
    updates_with_errors: usize,
    errors: &[(&str, Action, Reason, usize)],
    prefixes: usize,
    byte_identical: usize,
) -> Summary {
    Summary {
        records_by_subtype: records_by_subtype.iter().copied().collect(),
        messages_by_type: messages_by_type.iter().copied().collect(),
        updates_with_errors,
        errors: errors
            .iter()
            .map(|&(attribute, action, reason, count)| {
                ((attribute.to_owned(), action, reason), count)
            })
            .collect(),
        prefixes,
        byte_identical,
    }
}

/// MRT subtypes: 1 BGP4MP_MESSAGE, 4 BGP4MP_MESSAGE_AS4, 5 BGP4MP_STATE_CHANGE_AS4.
/// BGP types: 1 OPEN, 2 UPDATE, 3 NOTIFICATION, 4 KEEPALIVE.
/// No UPDATE of either dump has an RFC 7606 error: the 2010 routers sent well-formed
/// attributes (the three AS4_PATH of rrc15 come from 2-octet sessions and merge cleanly).
#[test]
fn rrc15_updates_decode() {
    let summary = decode_dump(&gunzip(RRC15));
    let expected = expected(
        &[(1, 542), (4, 6053), (5, 20)],
        &[(1, 1), (2, 6546), (3, 1), (4, 47)],
        0,
        &[],
        53786,
        6543,
    );
    assert_eq!(summary, expected);
}

#[test]
fn rrc03_updates_decode() {
    let summary = decode_dump(&gunzip(RRC03));
    let expected = expected(
        &[(1, 277), (4, 515), (5, 4)],
        &[(2, 768), (3, 1), (4, 23)],
        0,
        &[],
        1359,
        726,
    );
    assert_eq!(summary, expected);
}
