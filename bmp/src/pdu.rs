//! A BGP message as BMP carries it: whole, header included (RFC 7854 §4.6, §4.9, §4.10).

use bytes::{Bytes, BytesMut};
use proto::header::{Header, MessageType, HEADER_LEN};
use proto::message::Message;
use proto::notification::{ErrorCode, HeaderError};
use proto::params::MAX_EXTENDED_MESSAGE_LEN;
use proto::SessionParams;

/// A whole BGP message, byte for byte: an UPDATE as received (pre-policy Route Monitoring is
/// what the peer sent), an OPEN as sent or received. Its header has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BgpPdu {
    bytes: Bytes,
    message_type: MessageType,
}

impl BgpPdu {
    /// A message as framed off a session (`proto::header::split_frame`), or read from a BMP
    /// message: its header must be valid and its length that of `frame`.
    pub fn from_frame(frame: Bytes) -> Result<BgpPdu, proto::DecodeError> {
        let header = frame
            .first_chunk::<HEADER_LEN>()
            .ok_or_else(|| short_message(frame.len()))?;
        let header = Header::decode(header, MAX_EXTENDED_MESSAGE_LEN)?;
        if header.length != frame.len() {
            return Err(short_message(frame.len()));
        }
        Ok(BgpPdu {
            bytes: frame,
            message_type: header.message_type,
        })
    }

    /// `message` encoded for a session with `params` (the OPENs of a Peer Up, an UPDATE made
    /// for the Loc-RIB).
    pub fn encode(message: &Message, params: &SessionParams) -> Result<BgpPdu, proto::EncodeError> {
        let mut out = BytesMut::new();
        message.encode(params, &mut out)?;
        Ok(BgpPdu {
            bytes: out.freeze(),
            message_type: message.message_type(),
        })
    }

    pub fn message_type(&self) -> MessageType {
        self.message_type
    }

    /// The message, header included.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The message as `proto` reads it on a session with `params`.
    pub fn decode(&self, params: &SessionParams) -> Result<Message, proto::DecodeError> {
        Message::decode(&self.bytes, params)
    }

    /// The length of the BGP message at the start of `data` (its Length field), for a
    /// message followed by more fields.
    pub(crate) fn length_at(data: &[u8]) -> Option<usize> {
        let length = data.get(HEADER_LEN - 3..HEADER_LEN - 1)?;
        Some(usize::from(u16::from_be_bytes([length[0], length[1]])))
    }
}

/// A message shorter than its header, or than its Length field says: Bad Message Length, as
/// `Header::decode` reports a bad length (RFC 4271 §6.1).
fn short_message(length: usize) -> proto::DecodeError {
    let length = u16::try_from(length).unwrap_or(u16::MAX).to_be_bytes();
    proto::DecodeError::with_data(
        ErrorCode::MessageHeader(HeaderError::BadMessageLength),
        Bytes::copy_from_slice(&length),
        "BGP message length differs from its Length field",
    )
}
