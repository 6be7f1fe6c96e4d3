//! UPDATE messages (RFC 4271 §4.3) with RFC 7606 error handling.
//!
//! Placeholder for the interface other modules build against; replaced by the codec.

use bytes::{Bytes, BytesMut};

use crate::{DecodeError, EncodeError, SessionParams};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Update {}

impl Update {
    /// Decodes an UPDATE body (the octets after the 19-octet header).
    pub fn decode(_body: &Bytes, _params: &SessionParams) -> Result<Update, DecodeError> {
        Ok(Update {})
    }

    /// Appends the UPDATE body (no header) to `out`.
    pub fn encode_body(
        &self,
        _params: &SessionParams,
        _out: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        Ok(())
    }
}
