//! ROUTE-REFRESH (RFC 2918 §3) and the enhanced route refresh subtypes (RFC 7313 §3), with
//! the RFC 7313 §5 length rule applied to every subtype.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |              AFI              |    Subtype    |     SAFI      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use bytes::{BufMut, Bytes, BytesMut};
use nom::number::complete::{be_u16, be_u8};
use nom::sequence::tuple;

use crate::header::{bad_message_length, HEADER_LEN};
use crate::notification::{ErrorCode, RouteRefreshError};
use crate::types::{Afi, Safi};
use crate::DecodeError;

/// A ROUTE-REFRESH message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RouteRefresh {
    pub afi: Afi,
    pub subtype: RouteRefreshSubtype,
    pub safi: Safi,
}

/// RFC 7313 §3: the Message Subtype (the Reserved octet of RFC 2918).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteRefreshSubtype {
    /// 0: a route refresh request (RFC 2918).
    Normal,
    /// 1: BoRR, the beginning of a route refresh (RFC 7313 §4).
    BeginningOfRouteRefresh,
    /// 2: EoRR, the end of a route refresh (RFC 7313 §4).
    EndOfRouteRefresh,
    /// Any other value: RFC 7313 §5 says to ignore the message (no NOTIFICATION). Never 0, 1
    /// or 2.
    Unknown(u8),
}

impl RouteRefreshSubtype {
    pub fn from_wire(value: u8) -> RouteRefreshSubtype {
        match value {
            0 => RouteRefreshSubtype::Normal,
            1 => RouteRefreshSubtype::BeginningOfRouteRefresh,
            2 => RouteRefreshSubtype::EndOfRouteRefresh,
            other => RouteRefreshSubtype::Unknown(other),
        }
    }

    pub fn to_wire(self) -> u8 {
        match self {
            RouteRefreshSubtype::Normal => 0,
            RouteRefreshSubtype::BeginningOfRouteRefresh => 1,
            RouteRefreshSubtype::EndOfRouteRefresh => 2,
            RouteRefreshSubtype::Unknown(other) => other,
        }
    }
}

impl RouteRefresh {
    /// Decodes a ROUTE-REFRESH from its whole message, header included: RFC 7313 §5 wants the
    /// complete message as the NOTIFICATION data of a length error.
    ///
    /// Length rule: the body is exactly 4 octets, whatever the subtype (RFC 7313 §5 for BoRR
    /// and EoRR: ROUTE-REFRESH Message Error / Invalid Message Length). A normal request may
    /// carry RFC 5291 ORF entries only when ORF was negotiated, and Starling never advertises
    /// it; a reserved subtype is ignored only once it is well formed. BIRD applies the same
    /// rule. Shorter bodies never get here: framing refuses them (RFC 4271 §6.1).
    pub fn decode(frame: &Bytes) -> Result<RouteRefresh, DecodeError> {
        let body = frame.get(HEADER_LEN..).unwrap_or_default();
        let (rest, (afi, subtype, safi)) = tuple((be_u16, be_u8, be_u8))(body).map_err(
            |_: nom::Err<nom::error::Error<&[u8]>>| {
                // The framing layer enforces the 23-octet minimum; this keeps decoding total.
                let length = u16::try_from(frame.len()).unwrap_or(u16::MAX);
                bad_message_length(length.to_be_bytes(), "ROUTE-REFRESH shorter than 23 octets")
            },
        )?;
        if !rest.is_empty() {
            return Err(DecodeError::with_data(
                ErrorCode::RouteRefreshMessage(RouteRefreshError::InvalidMessageLength),
                frame.clone(),
                "ROUTE-REFRESH body is not 4 octets",
            ));
        }
        Ok(RouteRefresh {
            afi: Afi(afi),
            subtype: RouteRefreshSubtype::from_wire(subtype),
            safi: Safi(safi),
        })
    }

    /// Appends the 4-octet body (no header) to `out`.
    pub fn encode_body(&self, out: &mut BytesMut) {
        out.put_u16(self.afi.0);
        out.put_u8(self.subtype.to_wire());
        out.put_u8(self.safi.0);
    }
}
