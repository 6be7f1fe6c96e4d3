//! Real-world UPDATEs: the RIPE RIS MRT dumps in `data/mrt/` (see its README) decode with the
//! session parameters the record implies, with the RFC 7606 errors counted exactly, and every
//! decoded UPDATE survives encode and decode unchanged. The MRT reader is shared with the benchmark (`benches/support/mrt.rs`).

#[path = "../benches/support/mrt.rs"]
mod mrt;

use std::collections::BTreeMap;

use bytes::BytesMut;
use mrt::{gunzip, messages, BGP_UPDATE, RRC03, RRC15};
use proto::update::{Action, Reason, Update};

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

/// Decodes every UPDATE of `dump`, checks the round trip, and summarizes.
fn decode_dump(dump: &[u8]) -> Summary {
    let (records_by_subtype, captured) = messages(dump);
    let mut summary = Summary {
        records_by_subtype,
        ..Summary::default()
    };
    for capture in &captured {
        *summary
            .messages_by_type
            .entry(capture.message_type())
            .or_default() += 1;
    }
    for capture in captured.iter().filter(|c| c.message_type() == BGP_UPDATE) {
        let params = capture.params();
        let body = capture.body();
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
