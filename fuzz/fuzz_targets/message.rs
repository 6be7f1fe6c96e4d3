//! Whole messages: framing + decode never panic; what decodes re-encodes to bytes that decode
//! to a message that encodes to the same bytes (re-encoding is stable).
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use proto::message::Message;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some((params, frame)) = common::params(data) else { return };
    let Ok(first) = Message::decode(&Bytes::copy_from_slice(frame), &params) else { return };
    // Encode for the peer's view (path ids we received are the ones it sends).
    let mut once = BytesMut::new();
    if first.encode(&params.mirrored(), &mut once).is_err() {
        return;
    }
    let once = once.freeze();
    let second = Message::decode(&once, &params).expect("re-encoded message decodes");
    let mut twice = BytesMut::new();
    second.encode(&params.mirrored(), &mut twice).expect("re-decoded message encodes");
    assert_eq!(once, twice.freeze(), "re-encoding is not stable");
});
