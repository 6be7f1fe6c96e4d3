//! UPDATE bodies under arbitrary session parameters: decoding never panics, and the RFC 7606
//! outcome is consistent (a decoded UPDATE re-encodes and re-decodes without session reset).
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use proto::update::Update;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some((params, body)) = common::params(data) else { return };
    let Ok(update) = Update::decode(&Bytes::copy_from_slice(body), &params) else { return };
    let mut encoded = BytesMut::new();
    if update.encode_body(&params.mirrored(), &mut encoded).is_err() {
        return;
    }
    Update::decode(&encoded.freeze(), &params).expect("re-encoded UPDATE decodes");
});
