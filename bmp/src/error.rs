//! Why a BMP message cannot be encoded or decoded.

use std::net::IpAddr;

use proto::header::MessageType;

/// A message that cannot be put on the wire as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// RFC 7854 names the BGP message each BMP message carries (an UPDATE in Route
    /// Monitoring, OPENs in Peer Up, a NOTIFICATION in Peer Down).
    #[error("{message} carries a BGP {found:?} message where RFC 7854 wants {expected:?}")]
    UnexpectedPdu {
        message: &'static str,
        expected: MessageType,
        found: MessageType,
    },
    /// RFC 7854 §4.10: the local address has the family of the peer address (the V flag).
    #[error("local address {local} is not of the family of the peer address {peer}")]
    FamilyMismatch { local: IpAddr, peer: IpAddr },
    /// A Peer Up of a neighbor gives its TCP session; the Loc-RIB's has none (RFC 9069 §5.3).
    #[error("Peer Up: a neighbor has TCP session endpoints, the Loc-RIB instance none")]
    SessionEndpoints,
    /// RFC 9069 §5.3, §5.4: a Loc-RIB Peer Up names its table, a Loc-RIB Peer Down is reason 6.
    #[error("{0}")]
    LocRib(&'static str),
    #[error("{what} of {length} octets does not fit its {bits}-bit length field")]
    TooLong {
        what: &'static str,
        length: usize,
        bits: u8,
    },
}

/// Bytes that are not a BMP message this crate understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("{what} is truncated")]
    Truncated { what: &'static str },
    #[error("BMP version {0}, not 3")]
    Version(u8),
    #[error("message length field {field} does not match the {actual} octets given")]
    Length { field: u32, actual: usize },
    #[error("unknown BMP message type {0}")]
    MessageType(u8),
    /// Route Mirroring (type 6) and peers of other instances are not spoken here.
    #[error("unsupported {what} {value}")]
    Unsupported { what: &'static str, value: u32 },
    #[error("the peer header of a {0} is not for it")]
    PeerHeader(&'static str),
    #[error("{what}: {error}")]
    Pdu {
        what: &'static str,
        error: proto::DecodeError,
    },
    #[error("{what} carries a BGP {found:?} message")]
    UnexpectedPdu {
        what: &'static str,
        found: MessageType,
    },
    #[error("{what} is not valid UTF-8")]
    Utf8 { what: &'static str },
    #[error("{what} has {length} octets where {expected} are due")]
    FieldLength {
        what: &'static str,
        length: usize,
        expected: usize,
    },
    #[error("{0} octets follow the message's fields")]
    TrailingData(usize),
}
