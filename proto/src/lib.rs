//! `proto`: the BGP-4 wire format and the per-neighbor session state machine.
//!
//! Turns bytes into typed messages and back, given the [`SessionParams`] a session negotiated,
//! and (in `session`) holds the RFC 4271 §8 state machine as a pure value. It does no I/O: no
//! sockets, no tokio, no clock reads; time is always an argument.
//!
//! Decoding is total: any byte sequence yields a message, an UPDATE carrying its RFC 7606
//! errors, or a [`DecodeError`] that maps to exactly one NOTIFICATION.

pub mod attr;
pub mod capability;
pub mod error;
pub mod header;
pub mod message;
pub mod nlri;
pub mod notification;
pub mod open;
pub mod params;
pub mod route_refresh;
pub mod session;
pub mod types;
pub mod update;

pub use error::{DecodeError, EncodeError};
pub use params::SessionParams;
pub use types::{Afi, AfiSafi, AfiSafiSet, Asn, ClusterId, PathId, RouterId, Safi};
