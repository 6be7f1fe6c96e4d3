//! Message framing (RFC 4271 §4.1): the 16-octet marker, the 2-octet length and the type;
//! RFC 8654 raises the length limit to 65535 once extended messages are negotiated.

use bytes::{BufMut, BytesMut};

use crate::EncodeError;

/// RFC 4271 §4.1: marker (16) + length (2) + type (1).
pub const HEADER_LEN: usize = 19;
/// RFC 4271 §4.1: the marker is all ones.
pub const MARKER: [u8; 16] = [0xff; 16];

/// The message types of RFC 4271 §4.1 and RFC 2918 §3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    Open,
    Update,
    Notification,
    Keepalive,
    RouteRefresh,
}

impl MessageType {
    pub fn from_wire(value: u8) -> Option<MessageType> {
        match value {
            1 => Some(MessageType::Open),
            2 => Some(MessageType::Update),
            3 => Some(MessageType::Notification),
            4 => Some(MessageType::Keepalive),
            5 => Some(MessageType::RouteRefresh),
            _ => None,
        }
    }

    pub fn to_wire(self) -> u8 {
        match self {
            MessageType::Open => 1,
            MessageType::Update => 2,
            MessageType::Notification => 3,
            MessageType::Keepalive => 4,
            MessageType::RouteRefresh => 5,
        }
    }
}

/// Writes a header with a placeholder length and returns the offset of the message start, to
/// be passed to [`finish_message`] once the body is written.
pub fn begin_message(out: &mut BytesMut, message_type: MessageType) -> usize {
    let start = out.len();
    out.put_slice(&MARKER);
    out.put_u16(0);
    out.put_u8(message_type.to_wire());
    start
}

/// Patches the length of the message begun at `start`. Fails, truncating `out` back to `start`,
/// when the message exceeds `max_len` (4096, or 65535 with extended messages).
pub fn finish_message(out: &mut BytesMut, start: usize, max_len: usize) -> Result<(), EncodeError> {
    let length = out.len() - start;
    if length > max_len {
        out.truncate(start);
        return Err(EncodeError::TooLarge {
            length,
            max: max_len,
        });
    }
    // `max_len` is at most 65535, so the length fits its 16-bit field.
    let field = (length as u16).to_be_bytes();
    out[start + MARKER.len()..start + MARKER.len() + 2].copy_from_slice(&field);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::MAX_MESSAGE_LEN;

    #[test]
    fn keepalive_frame() {
        let mut out = BytesMut::new();
        let start = begin_message(&mut out, MessageType::Keepalive);
        finish_message(&mut out, start, MAX_MESSAGE_LEN).expect("19 octets fit");
        let expected: &[u8] = &[
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // marker
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // marker
            0x00, 0x13, // length 19
            0x04, // KEEPALIVE
        ];
        assert_eq!(&out[..], expected);
    }

    #[test]
    fn oversize_message_is_refused_and_rolled_back() {
        let mut out = BytesMut::from(&b"prior"[..]);
        let start = begin_message(&mut out, MessageType::Update);
        out.put_bytes(0, MAX_MESSAGE_LEN);
        let result = finish_message(&mut out, start, MAX_MESSAGE_LEN);
        assert_eq!(
            result,
            Err(EncodeError::TooLarge {
                length: MAX_MESSAGE_LEN + 19,
                max: MAX_MESSAGE_LEN
            })
        );
        assert_eq!(&out[..], b"prior");
    }
}
