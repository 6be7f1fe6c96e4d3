//! Capabilities Advertisement (RFC 5492) and the capabilities Starling knows: multiprotocol
//! (RFC 4760 §8), route refresh (RFC 2918 §2), extended next hop (RFC 8950 §3), extended
//! message (RFC 8654 §3), graceful restart (RFC 4724 §3 with the RFC 8538 §2 N bit), 4-octet AS
//! (RFC 6793 §3), ADD-PATH (RFC 7911 §4), enhanced route refresh (RFC 7313 §3), long-lived
//! graceful restart (RFC 9494 §3) and FQDN (draft-walton-bgp-hostname-capability §3).
//! Any other capability is kept as its code and raw value.
//!
//! Decoding only checks the shape of each value. A known capability whose value is malformed
//! is an OPEN Message Error with subcode Unspecific (RFC 4271 §6.2: "recognized, but is
//! malformed"); whether a capability is acceptable is for the session to decide.

use bytes::{BufMut, Bytes, BytesMut};
use nom::combinator::{all_consuming, map};
use nom::multi::{length_data, many0};
use nom::number::complete::{be_u16, be_u24, be_u32, be_u8};
use nom::sequence::tuple;
use nom::IResult;

use crate::notification::{ErrorCode, OpenError};
use crate::types::{Afi, Asn, Safi};
use crate::{DecodeError, EncodeError};

/// The capability codes this implementation names (IANA "Capability Codes" registry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CapabilityCode {
    /// RFC 4760 §8.
    Multiprotocol,
    /// RFC 2918 §2.
    RouteRefresh,
    /// RFC 8950 §3.
    ExtendedNextHop,
    /// RFC 8654 §3.
    ExtendedMessage,
    /// RFC 4724 §3.
    GracefulRestart,
    /// RFC 6793 §3.
    FourOctetAs,
    /// RFC 7911 §4.
    AddPath,
    /// RFC 7313 §3.
    EnhancedRouteRefresh,
    /// RFC 9494 §3.
    LongLivedGracefulRestart,
    /// draft-walton-bgp-hostname-capability §3.
    Fqdn,
    /// A code this implementation does not name.
    Unknown(u8),
}

impl CapabilityCode {
    pub fn from_wire(value: u8) -> CapabilityCode {
        match value {
            1 => CapabilityCode::Multiprotocol,
            2 => CapabilityCode::RouteRefresh,
            5 => CapabilityCode::ExtendedNextHop,
            6 => CapabilityCode::ExtendedMessage,
            64 => CapabilityCode::GracefulRestart,
            65 => CapabilityCode::FourOctetAs,
            69 => CapabilityCode::AddPath,
            70 => CapabilityCode::EnhancedRouteRefresh,
            71 => CapabilityCode::LongLivedGracefulRestart,
            73 => CapabilityCode::Fqdn,
            other => CapabilityCode::Unknown(other),
        }
    }

    pub fn to_wire(self) -> u8 {
        match self {
            CapabilityCode::Multiprotocol => 1,
            CapabilityCode::RouteRefresh => 2,
            CapabilityCode::ExtendedNextHop => 5,
            CapabilityCode::ExtendedMessage => 6,
            CapabilityCode::GracefulRestart => 64,
            CapabilityCode::FourOctetAs => 65,
            CapabilityCode::AddPath => 69,
            CapabilityCode::EnhancedRouteRefresh => 70,
            CapabilityCode::LongLivedGracefulRestart => 71,
            CapabilityCode::Fqdn => 73,
            CapabilityCode::Unknown(other) => other,
        }
    }
}

/// One capability of a Capabilities Optional Parameter (RFC 5492 §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capability {
    /// RFC 4760 §8: the speaker can exchange routes of this family.
    Multiprotocol { afi: Afi, safi: Safi },
    /// RFC 2918 §2.
    RouteRefresh,
    /// RFC 8950 §3: NLRI of these families may carry a next hop of another address family.
    ExtendedNextHop(Vec<ExtendedNextHop>),
    /// RFC 8654 §3: messages up to 65535 octets.
    ExtendedMessage,
    /// RFC 4724 §3.
    GracefulRestart(GracefulRestart),
    /// RFC 6793 §3: the speaker's AS number in 4 octets.
    FourOctetAs(Asn),
    /// RFC 7911 §4: one entry per family.
    AddPath(Vec<AddPathFamily>),
    /// RFC 7313 §3.
    EnhancedRouteRefresh,
    /// RFC 9494 §3: one entry per family.
    LongLivedGracefulRestart(Vec<LongLivedGracefulRestartFamily>),
    /// draft-walton-bgp-hostname-capability §3.
    Fqdn(Fqdn),
    /// Any other capability, kept as received. `code` is never one of the codes named by
    /// [`CapabilityCode`] (such a value would be decoded as that capability).
    Unknown { code: u8, value: Bytes },
}

/// RFC 8950 §3: one <NLRI AFI, NLRI SAFI, Nexthop AFI> tuple.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExtendedNextHop {
    pub nlri_afi: Afi,
    pub nlri_safi: Safi,
    pub next_hop_afi: Afi,
}

/// RFC 4724 §3 (and RFC 8538 §2 for the N bit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GracefulRestart {
    /// The R bit: the speaker has restarted.
    pub restart_state: bool,
    /// The N bit (RFC 8538 §2): the speaker supports graceful restart on NOTIFICATION.
    pub notification: bool,
    /// Seconds the peer should retain routes while the speaker restarts; 12 bits on the wire.
    pub restart_time: u16,
    pub families: Vec<GracefulRestartFamily>,
}

/// RFC 4724 §3: a family for which the speaker preserves routes across a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GracefulRestartFamily {
    pub afi: Afi,
    pub safi: Safi,
    /// The F bit: forwarding state was preserved during the restart.
    pub forwarding_preserved: bool,
}

/// RFC 7911 §4: which directions of ADD-PATH the speaker offers for a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddPathFamily {
    pub afi: Afi,
    pub safi: Safi,
    pub mode: AddPathMode,
}

/// RFC 7911 §4 Send/Receive field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddPathMode {
    /// The speaker can receive path identifiers.
    Receive,
    /// The speaker can send path identifiers.
    Send,
    Both,
    /// Any other value: RFC 7911 §4 says to treat the capability as not understood; kept so
    /// that the session can do so. Never 1, 2 or 3.
    Unknown(u8),
}

impl AddPathMode {
    pub fn from_wire(value: u8) -> AddPathMode {
        match value {
            1 => AddPathMode::Receive,
            2 => AddPathMode::Send,
            3 => AddPathMode::Both,
            other => AddPathMode::Unknown(other),
        }
    }

    pub fn to_wire(self) -> u8 {
        match self {
            AddPathMode::Receive => 1,
            AddPathMode::Send => 2,
            AddPathMode::Both => 3,
            AddPathMode::Unknown(other) => other,
        }
    }

    /// Whether the speaker offers to receive path identifiers.
    pub fn receives(self) -> bool {
        matches!(self, AddPathMode::Receive | AddPathMode::Both)
    }

    /// Whether the speaker offers to send path identifiers.
    pub fn sends(self) -> bool {
        matches!(self, AddPathMode::Send | AddPathMode::Both)
    }
}

/// RFC 9494 §3: a family for which the speaker supports long-lived stale routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LongLivedGracefulRestartFamily {
    pub afi: Afi,
    pub safi: Safi,
    /// The F bit: forwarding state was preserved.
    pub forwarding_preserved: bool,
    /// Seconds stale routes are kept; 24 bits on the wire.
    pub stale_time: u32,
}

/// draft-walton-bgp-hostname-capability §3: the speaker's host and domain names, kept as the
/// octets received (the draft does not promise UTF-8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fqdn {
    pub hostname: Bytes,
    pub domain_name: Bytes,
}

impl Fqdn {
    /// The host name, if it is UTF-8.
    pub fn hostname_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.hostname).ok()
    }

    /// The domain name, if it is UTF-8.
    pub fn domain_name_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.domain_name).ok()
    }
}

/// RFC 4724 §3: the R bit of the Restart Flags, in the 16-bit flags + time field.
const RESTART_STATE_BIT: u16 = 0x8000;
/// RFC 8538 §2: the N bit, next to R.
const NOTIFICATION_BIT: u16 = 0x4000;
/// RFC 4724 §3: the Restart Time is the low 12 bits.
const RESTART_TIME_MASK: u16 = 0x0fff;
/// RFC 4724 §3, RFC 9494 §3: the F bit of a per-family Flags octet.
const FORWARDING_BIT: u8 = 0x80;
/// RFC 9494 §3: the Long-lived Stale Time is 24 bits.
const MAX_STALE_TIME: u32 = 0x00ff_ffff;
/// RFC 5492 §4: the Capability Length field is one octet.
const MAX_CAPABILITY_VALUE_LEN: usize = u8::MAX as usize;

type ParseResult<'a, T> = IResult<&'a [u8], T>;

impl Capability {
    pub fn code(&self) -> CapabilityCode {
        match self {
            Capability::Multiprotocol { .. } => CapabilityCode::Multiprotocol,
            Capability::RouteRefresh => CapabilityCode::RouteRefresh,
            Capability::ExtendedNextHop(_) => CapabilityCode::ExtendedNextHop,
            Capability::ExtendedMessage => CapabilityCode::ExtendedMessage,
            Capability::GracefulRestart(_) => CapabilityCode::GracefulRestart,
            Capability::FourOctetAs(_) => CapabilityCode::FourOctetAs,
            Capability::AddPath(_) => CapabilityCode::AddPath,
            Capability::EnhancedRouteRefresh => CapabilityCode::EnhancedRouteRefresh,
            Capability::LongLivedGracefulRestart(_) => CapabilityCode::LongLivedGracefulRestart,
            Capability::Fqdn(_) => CapabilityCode::Fqdn,
            Capability::Unknown { code, .. } => CapabilityCode::Unknown(*code),
        }
    }

    /// Decodes the value of one capability. `value` must be a slice of the received message
    /// so that raw octets are kept without copying.
    pub fn decode(code: u8, value: &Bytes) -> Result<Capability, DecodeError> {
        let input: &[u8] = value;
        let capability = match CapabilityCode::from_wire(code) {
            CapabilityCode::Multiprotocol => {
                // RFC 4760 §8: AFI, a reserved octet the receiver ignores, SAFI.
                let (afi, _reserved, safi) = whole(input, tuple((be_u16, be_u8, be_u8)))?;
                Capability::Multiprotocol {
                    afi: Afi(afi),
                    safi: Safi(safi),
                }
            }
            CapabilityCode::RouteRefresh => {
                empty(input)?;
                Capability::RouteRefresh
            }
            CapabilityCode::ExtendedNextHop => {
                let tuples = whole(input, many0(tuple((be_u16, be_u16, be_u16))))?;
                Capability::ExtendedNextHop(
                    tuples
                        .into_iter()
                        // RFC 8950 §3 gives the NLRI SAFI 2 octets, but SAFIs are 1 octet
                        // (RFC 4760 §5); a larger value names no family and is skipped.
                        .filter_map(|(nlri_afi, nlri_safi, next_hop_afi)| {
                            Some(ExtendedNextHop {
                                nlri_afi: Afi(nlri_afi),
                                nlri_safi: Safi(u8::try_from(nlri_safi).ok()?),
                                next_hop_afi: Afi(next_hop_afi),
                            })
                        })
                        .collect(),
                )
            }
            CapabilityCode::ExtendedMessage => {
                empty(input)?;
                Capability::ExtendedMessage
            }
            CapabilityCode::GracefulRestart => {
                Capability::GracefulRestart(whole(input, graceful_restart)?)
            }
            CapabilityCode::FourOctetAs => Capability::FourOctetAs(Asn(whole(input, be_u32)?)),
            CapabilityCode::AddPath => {
                let entry = map(tuple((be_u16, be_u8, be_u8)), |(afi, safi, mode)| {
                    AddPathFamily {
                        afi: Afi(afi),
                        safi: Safi(safi),
                        mode: AddPathMode::from_wire(mode),
                    }
                });
                Capability::AddPath(whole(input, many0(entry))?)
            }
            CapabilityCode::EnhancedRouteRefresh => {
                empty(input)?;
                Capability::EnhancedRouteRefresh
            }
            CapabilityCode::LongLivedGracefulRestart => {
                let entry = map(
                    tuple((be_u16, be_u8, be_u8, be_u24)),
                    |(afi, safi, flags, stale_time)| LongLivedGracefulRestartFamily {
                        afi: Afi(afi),
                        safi: Safi(safi),
                        forwarding_preserved: flags & FORWARDING_BIT != 0,
                        stale_time,
                    },
                );
                Capability::LongLivedGracefulRestart(whole(input, many0(entry))?)
            }
            CapabilityCode::Fqdn => {
                let (_trailing, (hostname, domain_name)) =
                    tuple((length_data(be_u8), length_data(be_u8)))(input)
                        .map_err(|_: nom::Err<nom::error::Error<&[u8]>>| malformed())?;
                // Octets after the domain name are ignored, as FRR and GoBGP do: the
                // capability is informational and the draft defines nothing after it.
                Capability::Fqdn(Fqdn {
                    hostname: value.slice_ref(hostname),
                    domain_name: value.slice_ref(domain_name),
                })
            }
            CapabilityCode::Unknown(code) => Capability::Unknown {
                code,
                value: value.clone(),
            },
        };
        Ok(capability)
    }

    /// Appends the capability as code, length and value (RFC 5492 §4).
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        let start = out.len();
        out.put_u8(self.code().to_wire());
        out.put_u8(0); // length, patched below
        if let Err(error) = self.encode_value(out) {
            out.truncate(start);
            return Err(error);
        }
        let length = out.len() - start - 2;
        if length > MAX_CAPABILITY_VALUE_LEN {
            out.truncate(start);
            return Err(EncodeError::FieldOverflow {
                what: "capability value",
                bits: 8,
            });
        }
        // Checked just above: the length fits one octet.
        out[start + 1] = length as u8;
        Ok(())
    }

    fn encode_value(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        match self {
            Capability::Multiprotocol { afi, safi } => {
                out.put_u16(afi.0);
                out.put_u8(0); // RFC 4760 §8: reserved, set to 0
                out.put_u8(safi.0);
            }
            Capability::RouteRefresh
            | Capability::ExtendedMessage
            | Capability::EnhancedRouteRefresh => {}
            Capability::ExtendedNextHop(tuples) => {
                for tuple in tuples {
                    out.put_u16(tuple.nlri_afi.0);
                    out.put_u16(u16::from(tuple.nlri_safi.0));
                    out.put_u16(tuple.next_hop_afi.0);
                }
            }
            Capability::GracefulRestart(restart) => {
                if restart.restart_time > RESTART_TIME_MASK {
                    return Err(EncodeError::FieldOverflow {
                        what: "graceful restart time",
                        bits: 12,
                    });
                }
                let mut flags_and_time = restart.restart_time;
                if restart.restart_state {
                    flags_and_time |= RESTART_STATE_BIT;
                }
                if restart.notification {
                    flags_and_time |= NOTIFICATION_BIT;
                }
                out.put_u16(flags_and_time);
                for family in &restart.families {
                    out.put_u16(family.afi.0);
                    out.put_u8(family.safi.0);
                    out.put_u8(forwarding_flags(family.forwarding_preserved));
                }
            }
            Capability::FourOctetAs(asn) => out.put_u32(asn.0),
            Capability::AddPath(families) => {
                for family in families {
                    out.put_u16(family.afi.0);
                    out.put_u8(family.safi.0);
                    out.put_u8(family.mode.to_wire());
                }
            }
            Capability::LongLivedGracefulRestart(families) => {
                for family in families {
                    if family.stale_time > MAX_STALE_TIME {
                        return Err(EncodeError::FieldOverflow {
                            what: "long-lived stale time",
                            bits: 24,
                        });
                    }
                    out.put_u16(family.afi.0);
                    out.put_u8(family.safi.0);
                    out.put_u8(forwarding_flags(family.forwarding_preserved));
                    // Checked above: the value fits 24 bits.
                    out.put_uint(u64::from(family.stale_time), 3);
                }
            }
            Capability::Fqdn(fqdn) => {
                put_short_string(out, &fqdn.hostname, "FQDN hostname")?;
                put_short_string(out, &fqdn.domain_name, "FQDN domain name")?;
            }
            Capability::Unknown { value, .. } => out.put_slice(value),
        }
        Ok(())
    }
}

/// Decodes the value of a Capabilities Optional Parameter: a sequence of <code, length,
/// value> triples (RFC 5492 §4). A triple that overruns the parameter is malformed.
pub fn decode_list(parameter: &Bytes) -> Result<Vec<Capability>, DecodeError> {
    let triples = whole(parameter, many0(tuple((be_u8, length_data(be_u8)))))?;
    triples
        .into_iter()
        .map(|(code, value)| Capability::decode(code, &parameter.slice_ref(value)))
        .collect()
}

/// RFC 4271 §6.2: a recognized optional parameter that is malformed.
fn malformed() -> DecodeError {
    DecodeError::new(
        ErrorCode::OpenMessage(OpenError::Unspecific),
        "malformed capability",
    )
}

/// Runs `parser` over the whole of `input`; leftovers or a short input are malformed.
fn whole<'a, T>(
    input: &'a [u8],
    parser: impl FnMut(&'a [u8]) -> ParseResult<'a, T>,
) -> Result<T, DecodeError> {
    all_consuming(parser)(input)
        .map(|(_, value)| value)
        .map_err(|_| malformed())
}

/// Capabilities that are mere flags carry no value (RFC 2918 §2, RFC 8654 §3, RFC 7313 §3).
fn empty(input: &[u8]) -> Result<(), DecodeError> {
    if input.is_empty() {
        Ok(())
    } else {
        Err(malformed())
    }
}

/// RFC 4724 §3: Restart Flags and Time, then <AFI, SAFI, Flags> per family. Reserved flag
/// bits are ignored on receipt.
fn graceful_restart(input: &[u8]) -> ParseResult<'_, GracefulRestart> {
    let family = map(tuple((be_u16, be_u8, be_u8)), |(afi, safi, flags)| {
        GracefulRestartFamily {
            afi: Afi(afi),
            safi: Safi(safi),
            forwarding_preserved: flags & FORWARDING_BIT != 0,
        }
    });
    map(
        tuple((be_u16, many0(family))),
        |(flags_and_time, families)| GracefulRestart {
            restart_state: flags_and_time & RESTART_STATE_BIT != 0,
            notification: flags_and_time & NOTIFICATION_BIT != 0,
            restart_time: flags_and_time & RESTART_TIME_MASK,
            families,
        },
    )(input)
}

fn forwarding_flags(forwarding_preserved: bool) -> u8 {
    if forwarding_preserved {
        FORWARDING_BIT
    } else {
        0
    }
}

/// A one-octet length followed by the octets.
fn put_short_string(
    out: &mut BytesMut,
    text: &[u8],
    what: &'static str,
) -> Result<(), EncodeError> {
    let length =
        u8::try_from(text.len()).map_err(|_| EncodeError::FieldOverflow { what, bits: 8 })?;
    out.put_u8(length);
    out.put_slice(text);
    Ok(())
}
