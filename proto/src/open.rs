//! OPEN (RFC 4271 §4.2) with optional parameters, including the RFC 9072 extended form.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+
//! |    Version    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     My Autonomous System      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Hold Time           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         BGP Identifier                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Opt Parm Len  |  Optional Parameters: <Type (1), Length (1), Value>...
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!
//! RFC 9072 §2 extended form, from the Opt Parm Len on:
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Non-Ext OP Len.|Non-Ext OP Type| Extended Opt. Parm. Length    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Optional Parameters: <Type (1), Length (2), Value>...        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The only optional parameter is Capabilities (RFC 5492 §4); it may appear several times
//! and its capabilities are collected in order. Decoding checks the format only: the session
//! judges the values (hold time 1 or 2, identifier, peer AS, AS_TRANS misuse).

use bytes::{BufMut, Bytes, BytesMut};
use nom::combinator::all_consuming;
use nom::multi::{length_data, many0};
use nom::number::complete::{be_u16, be_u32, be_u8};
use nom::sequence::tuple;

use crate::capability::{
    self, AddPathFamily, Capability, CapabilityCode, ExtendedNextHop, Fqdn, GracefulRestart,
    LongLivedGracefulRestartFamily,
};
use crate::header::{bad_message_length, HEADER_LEN};
use crate::notification::{ErrorCode, OpenError};
use crate::types::{Afi, Asn, RouterId, Safi};
use crate::{DecodeError, EncodeError};

/// RFC 4271 §4.2: the protocol version this implementation speaks.
pub const BGP_VERSION: u8 = 4;

/// RFC 5492 §4: the Capabilities Optional Parameter.
const CAPABILITIES_PARAMETER: u8 = 2;
/// RFC 9072 §2: the Non-Ext OP Type that announces the extended form; also the Non-Ext OP
/// Len we send with it.
const EXTENDED_LENGTH: u8 = 255;
/// RFC 4271 §4.2: the Optional Parameters Length field is one octet.
const MAX_PARAMETERS_LEN: usize = u8::MAX as usize;
/// Type (1) + Length (1) of a parameter in the RFC 4271 form.
const PARAMETER_HEADER_LEN: usize = 2;
/// Type (1) + Length (2) of a parameter in the RFC 9072 form.
const EXTENDED_PARAMETER_HEADER_LEN: usize = 3;

/// The Hold Time of RFC 4271 §4.2, in seconds. 0 means no keepalives and no hold timer; 1 and
/// 2 are invalid, which the session checks (RFC 4271 §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HoldTime(pub u16);

/// An OPEN message (RFC 4271 §4.2); the version is always [`BGP_VERSION`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    /// The 2-octet My Autonomous System field: the speaker's AS, or AS_TRANS when that needs
    /// 4 octets (RFC 6793 §4.1). See [`Open::peer_asn`] for the AS the speaker means.
    pub my_as: Asn,
    pub hold_time: HoldTime,
    pub bgp_identifier: RouterId,
    /// The capabilities of all Capabilities Optional Parameters, in order.
    pub capabilities: Vec<Capability>,
}

impl Open {
    /// An OPEN for a speaker in `asn`: the My Autonomous System field is set to `asn`, or to
    /// AS_TRANS when it needs 4 octets (RFC 6793 §4.1; the caller adds the 4-octet AS
    /// capability).
    pub fn new(
        asn: Asn,
        hold_time: HoldTime,
        bgp_identifier: RouterId,
        capabilities: Vec<Capability>,
    ) -> Open {
        Open {
            my_as: Asn(u32::from(asn.to_two_octet())),
            hold_time,
            bgp_identifier,
            capabilities,
        }
    }

    /// The AS the speaker is in: the 4-octet AS capability if present (RFC 6793 §4.1),
    /// otherwise the My Autonomous System field.
    pub fn peer_asn(&self) -> Asn {
        self.four_octet_as().unwrap_or(self.my_as)
    }

    /// The AS number of the 4-octet AS capability; of the last one if it is repeated.
    pub fn four_octet_as(&self) -> Option<Asn> {
        self.capabilities.iter().rev().find_map(|c| match c {
            Capability::FourOctetAs(asn) => Some(*asn),
            _ => None,
        })
    }

    /// Whether a capability with this code was advertised.
    pub fn has_capability(&self, code: CapabilityCode) -> bool {
        self.capabilities.iter().any(|c| c.code() == code)
    }

    /// The families of the multiprotocol capabilities (RFC 4760 §8), in order.
    pub fn multiprotocol(&self) -> impl Iterator<Item = (Afi, Safi)> + '_ {
        self.capabilities.iter().filter_map(|c| match c {
            Capability::Multiprotocol { afi, safi } => Some((*afi, *safi)),
            _ => None,
        })
    }

    /// The ADD-PATH entries of all ADD-PATH capabilities (RFC 7911 §4), in order.
    pub fn add_path(&self) -> impl Iterator<Item = &AddPathFamily> + '_ {
        self.capabilities.iter().flat_map(|c| match c {
            Capability::AddPath(families) => families.as_slice(),
            _ => &[],
        })
    }

    /// The tuples of all extended next hop capabilities (RFC 8950 §3), in order.
    pub fn extended_next_hop(&self) -> impl Iterator<Item = &ExtendedNextHop> + '_ {
        self.capabilities.iter().flat_map(|c| match c {
            Capability::ExtendedNextHop(tuples) => tuples.as_slice(),
            _ => &[],
        })
    }

    /// The graceful restart capability (RFC 4724 §3); the last one if it is repeated.
    pub fn graceful_restart(&self) -> Option<&GracefulRestart> {
        self.capabilities.iter().rev().find_map(|c| match c {
            Capability::GracefulRestart(restart) => Some(restart),
            _ => None,
        })
    }

    /// The families of the long-lived graceful restart capability (RFC 9494 §3); of the
    /// last one if it is repeated.
    pub fn long_lived_graceful_restart(&self) -> Option<&[LongLivedGracefulRestartFamily]> {
        self.capabilities.iter().rev().find_map(|c| match c {
            Capability::LongLivedGracefulRestart(families) => Some(families.as_slice()),
            _ => None,
        })
    }

    /// The FQDN capability; the last one if it is repeated.
    pub fn fqdn(&self) -> Option<&Fqdn> {
        self.capabilities.iter().rev().find_map(|c| match c {
            Capability::Fqdn(fqdn) => Some(fqdn),
            _ => None,
        })
    }

    /// Decodes an OPEN body (the octets after the 19-octet header).
    pub fn decode(body: &Bytes) -> Result<Open, DecodeError> {
        let mut fixed = tuple((be_u8, be_u16, be_u16, be_u32, be_u8));
        let (rest, (version, my_as, hold_time, bgp_identifier, parameters_len)) = fixed(&body[..])
            .map_err(|_: nom::Err<nom::error::Error<&[u8]>>| {
                // The framing layer enforces the 29-octet minimum; this keeps decoding total.
                bad_message_length(length_field(body.len()), "OPEN shorter than 29 octets")
            })?;
        if version != BGP_VERSION {
            // RFC 4271 §6.2: the Data field is the largest supported version below the bid,
            // or the smallest supported one; we support only version 4.
            return Err(DecodeError::with_data(
                ErrorCode::OpenMessage(OpenError::UnsupportedVersionNumber),
                Bytes::copy_from_slice(&u16::from(BGP_VERSION).to_be_bytes()),
                "unsupported BGP version",
            ));
        }
        let parameters = if parameters_len != 0 && rest.first() == Some(&EXTENDED_LENGTH) {
            // RFC 9072 §2: a non-zero length followed by type 255 announces the extended
            // form; the Non-Ext OP Len is then ignored. Each parameter has a 2-octet length.
            let extended = tuple((be_u8, length_data(be_u16)));
            let (_, (_, region)) = all_consuming(extended)(rest).map_err(parameters_error)?;
            all_consuming(many0(tuple((be_u8, length_data(be_u16)))))(region)
                .map_err(parameters_error)?
                .1
        } else {
            if rest.len() != usize::from(parameters_len) {
                return Err(malformed(
                    "optional parameters length does not match the message",
                ));
            }
            all_consuming(many0(tuple((be_u8, length_data(be_u8)))))(rest)
                .map_err(parameters_error)?
                .1
        };
        let mut capabilities = Vec::new();
        for (parameter_type, value) in parameters {
            if parameter_type != CAPABILITIES_PARAMETER {
                // RFC 4271 §6.2 (RFC 5492 deprecates Authentication, type 1): any other
                // parameter is Unsupported Optional Parameter.
                return Err(DecodeError::new(
                    ErrorCode::OpenMessage(OpenError::UnsupportedOptionalParameter),
                    "unsupported optional parameter",
                ));
            }
            capabilities.extend(capability::decode_list(&body.slice_ref(value))?);
        }
        Ok(Open {
            my_as: Asn(u32::from(my_as)),
            hold_time: HoldTime(hold_time),
            bgp_identifier: RouterId(bgp_identifier.into()),
            capabilities,
        })
    }

    /// Appends the OPEN body (no header) to `out`. The capabilities go into one Capabilities
    /// Optional Parameter; the RFC 9072 form is used only when they do not fit the RFC 4271
    /// one (RFC 9072 §2: "SHOULD be used without alteration" otherwise). On error `out` is
    /// left as it was.
    pub fn encode_body(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        let my_as = u16::try_from(self.my_as.0).map_err(|_| EncodeError::FieldOverflow {
            what: "My Autonomous System",
            bits: 16,
        })?;
        let mut capabilities = BytesMut::new();
        for capability in &self.capabilities {
            capability.encode(&mut capabilities)?;
        }
        let extended = capabilities.len() + PARAMETER_HEADER_LEN > MAX_PARAMETERS_LEN;
        if extended && capabilities.len() + EXTENDED_PARAMETER_HEADER_LEN > usize::from(u16::MAX) {
            return Err(EncodeError::FieldOverflow {
                what: "extended optional parameters",
                bits: 16,
            });
        }
        out.put_u8(BGP_VERSION);
        out.put_u16(my_as);
        out.put_u16(self.hold_time.0);
        out.put_u32(self.bgp_identifier.to_u32());
        // The `as` conversions below are within the field widths checked above.
        if capabilities.is_empty() {
            out.put_u8(0);
        } else if extended {
            out.put_u8(EXTENDED_LENGTH); // Non-Ext OP Len: SHOULD be 255, MUST NOT be 0
            out.put_u8(EXTENDED_LENGTH); // Non-Ext OP Type: MUST be 255
            out.put_u16((capabilities.len() + EXTENDED_PARAMETER_HEADER_LEN) as u16);
            out.put_u8(CAPABILITIES_PARAMETER);
            out.put_u16(capabilities.len() as u16);
        } else {
            out.put_u8((capabilities.len() + PARAMETER_HEADER_LEN) as u8);
            out.put_u8(CAPABILITIES_PARAMETER);
            out.put_u8(capabilities.len() as u8);
        }
        out.put_slice(&capabilities);
        Ok(())
    }
}

/// RFC 4271 §6.2: optional parameters whose lengths do not add up are malformed, and a
/// malformed optional parameter is reported with subcode Unspecific.
fn malformed(detail: &'static str) -> DecodeError {
    DecodeError::new(ErrorCode::OpenMessage(OpenError::Unspecific), detail)
}

fn parameters_error(_: nom::Err<nom::error::Error<&[u8]>>) -> DecodeError {
    malformed("optional parameter overruns the optional parameters")
}

/// The Length field of a message whose body is `body_len` octets. Bodies come from frames of
/// at most 65535 octets; larger values saturate.
fn length_field(body_len: usize) -> [u8; 2] {
    u16::try_from(body_len + HEADER_LEN)
        .unwrap_or(u16::MAX)
        .to_be_bytes()
}
