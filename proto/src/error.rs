//! Errors of the wire format. A [`DecodeError`] is fatal to the session and maps to exactly one
//! NOTIFICATION (RFC 4271 §6); recoverable UPDATE problems are not errors here but data carried
//! beside the decoded UPDATE (RFC 7606, see `update`).

use bytes::Bytes;

use crate::notification::{ErrorCode, Notification};

/// A message that cannot be accepted; the session must send [`DecodeError::notification`] and
/// close (RFC 4271 §6).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct DecodeError {
    pub code: ErrorCode,
    /// The NOTIFICATION Data field the RFC prescribes for this error (often the offending
    /// attribute or field); empty where none is prescribed.
    pub data: Bytes,
    /// What was wrong, for logs.
    pub detail: &'static str,
}

impl DecodeError {
    pub fn new(code: ErrorCode, detail: &'static str) -> DecodeError {
        DecodeError {
            code,
            data: Bytes::new(),
            detail,
        }
    }

    pub fn with_data(code: ErrorCode, data: impl Into<Bytes>, detail: &'static str) -> DecodeError {
        DecodeError {
            code,
            data: data.into(),
            detail,
        }
    }

    /// The NOTIFICATION that reports this error to the peer.
    pub fn notification(&self) -> Notification {
        Notification::with_data(self.code, self.data.clone())
    }
}

/// A message that cannot be encoded under the given session parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("message of {length} octets exceeds the negotiated maximum of {max}")]
    TooLarge { length: usize, max: usize },
    #[error("{what} does not fit its {bits}-bit length field")]
    FieldOverflow { what: &'static str, bits: u8 },
    /// The value needs, or lacks, something the session did not negotiate (an ADD-PATH path
    /// identifier, an RFC 8950 IPv6 next hop for IPv4 NLRI).
    #[error("{what}: not what the session negotiated")]
    ParamsMismatch { what: &'static str },
}
