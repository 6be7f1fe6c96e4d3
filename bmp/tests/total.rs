//! Decoding is total: any bytes give a message or an error, never a panic, and a stream of
//! arbitrary bytes is cut without reading past what it holds.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

proptest! {
    #[test]
    fn any_bytes_decode_or_fail(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = bmp::Message::decode(&Bytes::from(data.clone()));
        let mut stream = BytesMut::from(&data[..]);
        while let Ok(Some(message)) = bmp::split_message(&mut stream) {
            let _ = bmp::Message::decode(&message);
        }
    }

    /// A valid common header (and, for the types that have one, a valid per-peer header of
    /// a neighbor or the Loc-RIB) in front of arbitrary bytes, so that the bodies are reached.
    #[test]
    fn any_body_decodes_or_fails(
        kind in 0u8..7,
        loc_rib in any::<bool>(),
        body in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let mut fields = Vec::new();
        if kind <= 3 {
            fields.push(if loc_rib { 3 } else { 0 }); // peer type
            fields.push(0); // flags
            fields.extend_from_slice(&[0; 8 + 16 + 4 + 4 + 8]); // distinguisher .. timestamp
        }
        fields.extend_from_slice(&body);
        let mut message = vec![3]; // version
        let length = u32::try_from(fields.len() + 6).expect("short");
        message.extend_from_slice(&length.to_be_bytes());
        message.push(kind);
        message.extend_from_slice(&fields);
        let _ = bmp::Message::decode(&Bytes::from(message));
    }
}
