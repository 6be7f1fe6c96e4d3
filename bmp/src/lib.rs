//! The BGP Monitoring Protocol (RFC 7854) as values: what a BGP speaker sends a monitoring
//! station, encoded to bytes, and decoded back (for tests and tools). Messages: Initiation and
//! Termination (§4.3, §4.5), Peer Up and Peer Down (§4.10, §4.9), Route Monitoring (§4.6, a
//! BGP UPDATE as received: pre-policy, or after policy with the L flag) and Statistics Report
//! (§4.8); peers of the global instance (§4.2) and the speaker's own Loc-RIB (RFC 9069).
//!
//! BGP messages inside BMP messages are [`BgpPdu`]s, whole messages byte for byte as sent or
//! received; `proto` encodes and decodes them. Like `proto`, this crate does no I/O and reads no
//! clock: timestamps are arguments.
//!
//! Entry points: [`Message::encode`], [`Message::decode`], [`split_message`] for a stream.

mod error;
mod message;
mod pdu;
mod peer;
mod reader;
mod stats;
mod tlv;

pub use error::{DecodeError, EncodeError};
pub use message::{split_message, Message, PeerDown, PeerDownReason, PeerUp, SessionEndpoints};
pub use pdu::BgpPdu;
pub use peer::{PeerFlags, PeerHeader, PeerKind, Timestamp};
pub use stats::Stat;
pub use tlv::{InformationTlv, TerminationReason, TerminationTlv};

/// RFC 7854 §4.1: the version this crate speaks.
pub const VERSION: u8 = 3;
/// RFC 7854 §4.1: version (1), message length (4), message type (1).
pub const COMMON_HEADER_LEN: usize = 6;
/// RFC 7854 §5: the well-known port is not assigned; 1790 is what collectors use by default.
pub const DEFAULT_PORT: u16 = 1790;
