//! The five BGP message types (RFC 4271 §4, RFC 2918 §3) and their decode/encode dispatch.
//!
//! [`Message::decode`] takes one frame as cut by [`crate::header::split_frame`], re-checks
//! its header (RFC 4271 §6.1) and hands the body to the type's decoder. [`Message::encode`]
//! writes the whole message and refuses one larger than the session allows (RFC 4271 §4.1,
//! RFC 8654 §4).
//!
//! A decode error of a received NOTIFICATION is not to be answered with another NOTIFICATION
//! (RFC 4271 §6.4); the session closes the connection instead.

use bytes::{Bytes, BytesMut};

use crate::header::{
    bad_message_length, begin_message, finish_message, Header, MessageType, HEADER_LEN,
};
use crate::notification::Notification;
use crate::open::Open;
use crate::route_refresh::RouteRefresh;
use crate::update::Update;
use crate::{DecodeError, EncodeError, SessionParams};

/// A BGP message.
///
/// UPDATE is much larger than the other variants; it stays inline because a message lives only
/// while it is processed, and boxing would cost an allocation per UPDATE on the hot path.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum Message {
    Open(Open),
    Update(Update),
    Notification(Notification),
    Keepalive,
    RouteRefresh(RouteRefresh),
}

impl Message {
    pub fn message_type(&self) -> MessageType {
        match self {
            Message::Open(_) => MessageType::Open,
            Message::Update(_) => MessageType::Update,
            Message::Notification(_) => MessageType::Notification,
            Message::Keepalive => MessageType::Keepalive,
            Message::RouteRefresh(_) => MessageType::RouteRefresh,
        }
    }

    /// Decodes one whole message, header included. The header is checked against
    /// `params.max_message_len()` and must announce exactly `frame.len()` octets.
    pub fn decode(frame: &Bytes, params: &SessionParams) -> Result<Message, DecodeError> {
        let Some(header) = frame.first_chunk::<HEADER_LEN>() else {
            // No Length field to report: report the length we were given.
            let length = u16::try_from(frame.len()).unwrap_or(u16::MAX);
            return Err(bad_message_length(
                length.to_be_bytes(),
                "message shorter than its header",
            ));
        };
        let header = Header::decode(header, params.max_message_len())?;
        if header.length != frame.len() {
            return Err(bad_message_length(
                header.length_field(),
                "length field does not match the message",
            ));
        }
        let body = frame.slice(HEADER_LEN..);
        let message = match header.message_type {
            MessageType::Open => Message::Open(Open::decode(&body)?),
            MessageType::Update => Message::Update(Update::decode(&body, params)?),
            MessageType::Notification => {
                Message::Notification(Notification::decode(&body).ok_or_else(|| {
                    // The framing check guarantees code and subcode; this keeps decoding total.
                    bad_message_length(header.length_field(), "NOTIFICATION shorter than 21 octets")
                })?)
            }
            // The framing check guarantees a KEEPALIVE has no body (RFC 4271 §4.4).
            MessageType::Keepalive => Message::Keepalive,
            MessageType::RouteRefresh => Message::RouteRefresh(RouteRefresh::decode(frame)?),
        };
        Ok(message)
    }

    /// Appends the whole message, header included, to `out`. Fails, leaving `out` as it was,
    /// when a field overflows or the message exceeds what the session allows: 4096 octets for
    /// OPEN and KEEPALIVE always, `params.max_message_len()` for the others (RFC 8654 §4).
    pub fn encode(&self, params: &SessionParams, out: &mut BytesMut) -> Result<(), EncodeError> {
        let message_type = self.message_type();
        let start = begin_message(out, message_type);
        let body = match self {
            Message::Open(open) => open.encode_body(out),
            Message::Update(update) => update.encode_body(params, out),
            Message::Notification(notification) => {
                notification.encode_body(out);
                Ok(())
            }
            Message::Keepalive => Ok(()),
            Message::RouteRefresh(route_refresh) => {
                route_refresh.encode_body(out);
                Ok(())
            }
        };
        if let Err(error) = body {
            out.truncate(start);
            return Err(error);
        }
        finish_message(out, start, message_type.max_len(params.max_message_len()))
    }
}
