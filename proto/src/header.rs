//! Message framing (RFC 4271 §4.1): the 16-octet marker, the 2-octet length and the type;
//! RFC 8654 raises the length limit to 65535 once extended messages are negotiated.
//!
//! Encoding: [`begin_message`] / [`finish_message`]. Decoding: [`Header::decode`] applies the
//! Message Header checks of RFC 4271 §6.1 (with the per-type minimum lengths of §4.2–§4.5,
//! RFC 2918 §3 for ROUTE-REFRESH and the RFC 8654 §4 exception for OPEN and KEEPALIVE), and
//! [`split_frame`] cuts one complete message off a stream buffer.

use bytes::{BufMut, Bytes, BytesMut};

use crate::notification::{ErrorCode, HeaderError};
use crate::params::MAX_MESSAGE_LEN;
use crate::{DecodeError, EncodeError};

/// RFC 4271 §4.1: marker (16) + length (2) + type (1).
pub const HEADER_LEN: usize = 19;
/// RFC 4271 §4.1: the marker is all ones.
pub const MARKER: [u8; 16] = [0xff; 16];

/// RFC 4271 §4.1: the offset of the Length field, right after the marker.
const LENGTH_OFFSET: usize = MARKER.len();
/// RFC 4271 §4.1: the offset of the Type field.
const TYPE_OFFSET: usize = LENGTH_OFFSET + 2;

/// RFC 4271 §4.2: header + version (1) + my AS (2) + hold time (2) + BGP identifier (4) +
/// optional parameters length (1).
pub const MIN_OPEN_LEN: usize = HEADER_LEN + 10;
/// RFC 4271 §4.3: header + withdrawn routes length (2) + total path attribute length (2).
pub const MIN_UPDATE_LEN: usize = HEADER_LEN + 4;
/// RFC 4271 §4.5: header + error code (1) + error subcode (1).
pub const MIN_NOTIFICATION_LEN: usize = HEADER_LEN + 2;
/// RFC 4271 §4.4: a KEEPALIVE is the header alone.
pub const KEEPALIVE_LEN: usize = HEADER_LEN;
/// RFC 2918 §3: header + AFI (2) + reserved/subtype (1) + SAFI (1).
pub const ROUTE_REFRESH_LEN: usize = HEADER_LEN + 4;

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

    /// The largest message of this type under a session limit of `max_len`: RFC 8654 §4
    /// exempts OPEN and KEEPALIVE from extended messages, so they stay within 4096 octets.
    pub fn max_len(self, max_len: usize) -> usize {
        match self {
            MessageType::Open | MessageType::Keepalive => max_len.min(MAX_MESSAGE_LEN),
            MessageType::Update | MessageType::Notification | MessageType::RouteRefresh => max_len,
        }
    }

    /// Whether `length` (header included) is acceptable for this type (RFC 4271 §6.1).
    fn length_is_valid(self, length: usize) -> bool {
        match self {
            MessageType::Open => length >= MIN_OPEN_LEN,
            MessageType::Update => length >= MIN_UPDATE_LEN,
            MessageType::Notification => length >= MIN_NOTIFICATION_LEN,
            MessageType::Keepalive => length == KEEPALIVE_LEN,
            // RFC 2918 §3 fixes the body at 4 octets; longer messages (RFC 5291 ORF entries,
            // RFC 7313 §5 subtypes) are judged by `route_refresh`, which knows the subtype.
            MessageType::RouteRefresh => length >= ROUTE_REFRESH_LEN,
        }
    }
}

/// A checked message header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The whole message length, header included; within the limits of its type.
    pub length: usize,
    pub message_type: MessageType,
}

impl Header {
    /// Checks a header as RFC 4271 §6.1 prescribes, in the order it lists: the marker, the length
    /// against 19..=`max_len` (the session limit, see [`crate::SessionParams::max_message_len`]),
    /// the type, and the length against the type.
    pub fn decode(header: &[u8; HEADER_LEN], max_len: usize) -> Result<Header, DecodeError> {
        check_marker(header)?;
        let length_field = [header[LENGTH_OFFSET], header[LENGTH_OFFSET + 1]];
        let length = usize::from(u16::from_be_bytes(length_field));
        if !(HEADER_LEN..=max_len).contains(&length) {
            return Err(bad_message_length(
                length_field,
                "length outside 19..=maximum",
            ));
        }
        let type_octet = header[TYPE_OFFSET];
        let Some(message_type) = MessageType::from_wire(type_octet) else {
            // RFC 4271 §6.1: the Data field is the bad Type field.
            return Err(DecodeError::with_data(
                ErrorCode::MessageHeader(HeaderError::BadMessageType),
                Bytes::copy_from_slice(&[type_octet]),
                "unknown message type",
            ));
        };
        if length > message_type.max_len(max_len) || !message_type.length_is_valid(length) {
            return Err(bad_message_length(
                length_field,
                "length not valid for the message type",
            ));
        }
        Ok(Header {
            length,
            message_type,
        })
    }

    /// The Length field as on the wire, for Bad Message Length data.
    pub(crate) fn length_field(&self) -> [u8; 2] {
        // `length` came from a 16-bit field, so it always fits.
        u16::try_from(self.length).unwrap_or(u16::MAX).to_be_bytes()
    }
}

/// Cuts the next complete message (header included) off the front of `buf`, a stream reader's
/// buffer. Returns `Ok(None)` while more octets are needed; once a header is complete it is
/// checked ([`Header::decode`]) before waiting for the body, so garbage is reported without
/// buffering it. A bad marker is reported as soon as its first wrong octet arrives.
pub fn split_frame(buf: &mut BytesMut, max_len: usize) -> Result<Option<Bytes>, DecodeError> {
    let Some(header) = buf.first_chunk::<HEADER_LEN>() else {
        check_marker(&buf[..])?;
        return Ok(None);
    };
    let header = Header::decode(header, max_len)?;
    if buf.len() < header.length {
        // Bounded by the checked length (at most 65535 octets).
        buf.reserve(header.length - buf.len());
        return Ok(None);
    }
    Ok(Some(buf.split_to(header.length).freeze()))
}

/// RFC 4271 §6.1: a marker that is not all ones is Connection Not Synchronized. Checks the
/// marker octets present in `octets` (possibly fewer than 16).
fn check_marker(octets: &[u8]) -> Result<(), DecodeError> {
    let present = octets.len().min(MARKER.len());
    if octets[..present] != MARKER[..present] {
        return Err(DecodeError::new(
            ErrorCode::MessageHeader(HeaderError::ConnectionNotSynchronized),
            "marker is not all ones",
        ));
    }
    Ok(())
}

/// RFC 4271 §6.1: Bad Message Length carries the erroneous Length field as its data.
pub(crate) fn bad_message_length(length_field: [u8; 2], detail: &'static str) -> DecodeError {
    DecodeError::with_data(
        ErrorCode::MessageHeader(HeaderError::BadMessageLength),
        Bytes::copy_from_slice(&length_field),
        detail,
    )
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
