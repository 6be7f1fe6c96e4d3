//! MP_REACH_NLRI and MP_UNREACH_NLRI (RFC 4760 §3, §4) for IPv4 and IPv6 unicast: IPv6 next
//! hops with an optional link-local address (RFC 2545 §3) and IPv6 next hops for IPv4 NLRI
//! when the session negotiated extended next hop (RFC 8950 §3). NLRI carry ADD-PATH path
//! identifiers when negotiated for the family (RFC 7911 §3).
//!
//! ```text
//! MP_REACH_NLRI:   AFI (2) | SAFI (1) | next hop length (1) | next hop | reserved (1) | NLRI
//! MP_UNREACH_NLRI: AFI (2) | SAFI (1) | withdrawn NLRI
//! ```

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::{BufMut, BytesMut};
use ipnet::{Ipv4Net, Ipv6Net};
use nom::number::complete::{be_u16, be_u8};
use nom::sequence::tuple;

use crate::error::EncodeError;
use crate::nlri::{self, Nlri};
use crate::params::SessionParams;
use crate::types::{Afi, AfiSafi, Safi};

/// AFI (2) + SAFI (1).
pub(crate) const FAMILY_LEN: usize = 3;
/// AFI + SAFI + next hop length + reserved octet: the fixed part of MP_REACH_NLRI.
pub(crate) const REACH_FIXED_LEN: usize = FAMILY_LEN + 2;
const IPV4_LEN: usize = 4;
const IPV6_LEN: usize = 16;
/// RFC 2545 §3: a global and a link-local IPv6 address.
const IPV6_PAIR_LEN: usize = 32;
/// RFC 4760 §3: the former SNPA count, now reserved; sent as zero, ignored on receipt.
const RESERVED: u8 = 0;

/// An IPv6 next hop (RFC 2545 §3): a global address and, when the peer shares a link with us,
/// its link-local address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6NextHop {
    pub global: Ipv6Addr,
    pub link_local: Option<Ipv6Addr>,
}

impl Ipv6NextHop {
    fn encoded_len(&self) -> usize {
        if self.link_local.is_some() {
            IPV6_PAIR_LEN
        } else {
            IPV6_LEN
        }
    }

    fn put(&self, out: &mut BytesMut) {
        out.put_slice(&self.global.octets());
        if let Some(link_local) = self.link_local {
            out.put_slice(&link_local.octets());
        }
    }

    fn decode(octets: &[u8]) -> Option<Ipv6NextHop> {
        match octets.len() {
            IPV6_LEN => Some(Ipv6NextHop {
                global: ipv6(octets)?,
                link_local: None,
            }),
            IPV6_PAIR_LEN => Some(Ipv6NextHop {
                global: ipv6(&octets[..IPV6_LEN])?,
                link_local: Some(ipv6(&octets[IPV6_LEN..])?),
            }),
            _ => None,
        }
    }
}

fn ipv6(octets: &[u8]) -> Option<Ipv6Addr> {
    let octets: [u8; IPV6_LEN] = octets.try_into().ok()?;
    Some(Ipv6Addr::from(octets))
}

/// The next hop of IPv4 unicast routes in MP_REACH_NLRI: IPv4 (RFC 4760) or, with extended
/// next hop negotiated, IPv6 (RFC 8950).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NextHop {
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6NextHop),
}

impl NextHop {
    fn encoded_len(&self) -> usize {
        match self {
            NextHop::Ipv4(_) => IPV4_LEN,
            NextHop::Ipv6(v6) => v6.encoded_len(),
        }
    }

    fn put(&self, out: &mut BytesMut) {
        match self {
            NextHop::Ipv4(v4) => out.put_slice(&v4.octets()),
            NextHop::Ipv6(v6) => v6.put(out),
        }
    }
}

/// Reachable routes of one family carried in MP_REACH_NLRI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MpReach {
    Ipv4Unicast {
        next_hop: NextHop,
        announced: Vec<Nlri<Ipv4Net>>,
    },
    Ipv6Unicast {
        next_hop: Ipv6NextHop,
        announced: Vec<Nlri<Ipv6Net>>,
    },
}

/// Withdrawn routes of one family carried in MP_UNREACH_NLRI. Empty, it is the End-of-RIB
/// marker of the family (RFC 4724 §2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MpUnreach {
    Ipv4Unicast { withdrawn: Vec<Nlri<Ipv4Net>> },
    Ipv6Unicast { withdrawn: Vec<Nlri<Ipv6Net>> },
}

/// Why an MP_(UN)REACH_NLRI value could not be used; `update` turns it into the RFC 7606
/// outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MpFault {
    /// Too short to name a family: nothing can be attributed to one family.
    Truncated,
    /// A family Starling does not speak.
    Unsupported,
    /// RFC 7606 §7.11: the next hop length is not one `family` allows on this session.
    NextHopLength(AfiSafi),
    /// RFC 7606 §5.3: the NLRI of `family` are not syntactically correct.
    Nlri(AfiSafi),
}

/// Reads AFI and SAFI; [`MpFault::Unsupported`] for a family Starling does not speak.
fn family(value: &[u8]) -> Result<(&[u8], AfiSafi), MpFault> {
    let (rest, (afi, safi)) =
        tuple((be_u16::<_, ()>, be_u8))(value).map_err(|_| MpFault::Truncated)?;
    let family = AfiSafi::from_wire(Afi(afi), Safi(safi)).ok_or(MpFault::Unsupported)?;
    Ok((rest, family))
}

fn put_family(family: AfiSafi, out: &mut BytesMut) {
    out.put_u16(family.afi().0);
    out.put_u8(family.safi().0);
}

impl MpReach {
    pub fn family(&self) -> AfiSafi {
        match self {
            MpReach::Ipv4Unicast { .. } => AfiSafi::Ipv4Unicast,
            MpReach::Ipv6Unicast { .. } => AfiSafi::Ipv6Unicast,
        }
    }

    /// The number of announced prefixes.
    pub fn len(&self) -> usize {
        match self {
            MpReach::Ipv4Unicast { announced, .. } => announced.len(),
            MpReach::Ipv6Unicast { announced, .. } => announced.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn decode(value: &[u8], params: &SessionParams) -> Result<MpReach, MpFault> {
        let (rest, family) = family(value)?;
        let malformed_next_hop = MpFault::NextHopLength(family);
        let (rest, next_hop_len) = be_u8::<_, ()>(rest).map_err(|_| malformed_next_hop)?;
        let next_hop_len = usize::from(next_hop_len);
        // The next hop and the reserved octet must fit before the NLRI can be located.
        let next_hop = rest.get(..next_hop_len).ok_or(malformed_next_hop)?;
        let nlri = rest.get(next_hop_len + 1..).ok_or(malformed_next_hop)?;
        let add_path = params.receives_path_id(family);
        let nlri_fault = |_| MpFault::Nlri(family);
        match family {
            AfiSafi::Ipv4Unicast => {
                let next_hop = match next_hop.len() {
                    IPV4_LEN => NextHop::Ipv4(Ipv4Addr::new(
                        next_hop[0],
                        next_hop[1],
                        next_hop[2],
                        next_hop[3],
                    )),
                    // RFC 8950 §3: IPv6 next hops only once the capability says so.
                    _ if params.extended_next_hop.contains(family) => {
                        NextHop::Ipv6(Ipv6NextHop::decode(next_hop).ok_or(malformed_next_hop)?)
                    }
                    _ => return Err(malformed_next_hop),
                };
                Ok(MpReach::Ipv4Unicast {
                    next_hop,
                    announced: nlri::decode_nlri(nlri, add_path).map_err(nlri_fault)?,
                })
            }
            AfiSafi::Ipv6Unicast => Ok(MpReach::Ipv6Unicast {
                next_hop: Ipv6NextHop::decode(next_hop).ok_or(malformed_next_hop)?,
                announced: nlri::decode_nlri(nlri, add_path).map_err(nlri_fault)?,
            }),
        }
    }

    /// Octets of the attribute value.
    pub(crate) fn value_len(&self) -> usize {
        REACH_FIXED_LEN
            + match self {
                MpReach::Ipv4Unicast {
                    next_hop,
                    announced,
                } => next_hop.encoded_len() + nlri::encoded_len(announced),
                MpReach::Ipv6Unicast {
                    next_hop,
                    announced,
                } => next_hop.encoded_len() + nlri::encoded_len(announced),
            }
    }

    /// Checks everything [`MpReach::put_value`] relies on: the next hop is allowed on the
    /// session and path identifiers match ADD-PATH.
    pub(crate) fn check(&self, params: &SessionParams) -> Result<(), EncodeError> {
        let family = self.family();
        match self {
            MpReach::Ipv4Unicast {
                next_hop,
                announced,
            } => {
                check_ipv4_next_hop(next_hop, params)?;
                nlri::check_path_ids(announced, params.sends_path_id(family))
            }
            MpReach::Ipv6Unicast { announced, .. } => {
                nlri::check_path_ids(announced, params.sends_path_id(family))
            }
        }
    }

    /// Appends the value after [`MpReach::check`].
    pub(crate) fn put_value(&self, out: &mut BytesMut) {
        match self {
            MpReach::Ipv4Unicast {
                next_hop,
                announced,
            } => {
                put_reach_head(AfiSafi::Ipv4Unicast, *next_hop, out);
                nlri::put_all(announced, out);
            }
            MpReach::Ipv6Unicast {
                next_hop,
                announced,
            } => {
                put_reach_head(AfiSafi::Ipv6Unicast, NextHop::Ipv6(*next_hop), out);
                nlri::put_all(announced, out);
            }
        }
    }
}

/// RFC 8950 §3: IPv4 NLRI take an IPv6 next hop only once extended next hop is negotiated.
pub(crate) fn check_ipv4_next_hop(
    next_hop: &NextHop,
    params: &SessionParams,
) -> Result<(), EncodeError> {
    if matches!(next_hop, NextHop::Ipv6(_))
        && !params.extended_next_hop.contains(AfiSafi::Ipv4Unicast)
    {
        return Err(EncodeError::ParamsMismatch {
            what: "IPv6 next hop for IPv4 NLRI without extended next hop (RFC 8950)",
        });
    }
    Ok(())
}

/// The fixed part of an MP_REACH_NLRI value: family, next hop, reserved octet.
pub(crate) fn put_reach_head(family: AfiSafi, next_hop: NextHop, out: &mut BytesMut) {
    put_family(family, out);
    // At most 32 octets.
    out.put_u8(next_hop.encoded_len() as u8);
    next_hop.put(out);
    out.put_u8(RESERVED);
}

/// Octets of [`put_reach_head`].
pub(crate) fn reach_head_len(next_hop: NextHop) -> usize {
    REACH_FIXED_LEN + next_hop.encoded_len()
}

impl MpUnreach {
    /// The End-of-RIB marker value of `family` (RFC 4724 §2): no withdrawn routes.
    pub fn end_of_rib(family: AfiSafi) -> MpUnreach {
        match family {
            AfiSafi::Ipv4Unicast => MpUnreach::Ipv4Unicast { withdrawn: vec![] },
            AfiSafi::Ipv6Unicast => MpUnreach::Ipv6Unicast { withdrawn: vec![] },
        }
    }

    pub fn family(&self) -> AfiSafi {
        match self {
            MpUnreach::Ipv4Unicast { .. } => AfiSafi::Ipv4Unicast,
            MpUnreach::Ipv6Unicast { .. } => AfiSafi::Ipv6Unicast,
        }
    }

    /// The number of withdrawn prefixes.
    pub fn len(&self) -> usize {
        match self {
            MpUnreach::Ipv4Unicast { withdrawn } => withdrawn.len(),
            MpUnreach::Ipv6Unicast { withdrawn } => withdrawn.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn decode(value: &[u8], params: &SessionParams) -> Result<MpUnreach, MpFault> {
        let (nlri, family) = family(value)?;
        let add_path = params.receives_path_id(family);
        let fault = |_| MpFault::Nlri(family);
        Ok(match family {
            AfiSafi::Ipv4Unicast => MpUnreach::Ipv4Unicast {
                withdrawn: nlri::decode_nlri(nlri, add_path).map_err(fault)?,
            },
            AfiSafi::Ipv6Unicast => MpUnreach::Ipv6Unicast {
                withdrawn: nlri::decode_nlri(nlri, add_path).map_err(fault)?,
            },
        })
    }

    pub(crate) fn value_len(&self) -> usize {
        FAMILY_LEN
            + match self {
                MpUnreach::Ipv4Unicast { withdrawn } => nlri::encoded_len(withdrawn),
                MpUnreach::Ipv6Unicast { withdrawn } => nlri::encoded_len(withdrawn),
            }
    }

    pub(crate) fn check(&self, params: &SessionParams) -> Result<(), EncodeError> {
        let add_path = params.sends_path_id(self.family());
        match self {
            MpUnreach::Ipv4Unicast { withdrawn } => nlri::check_path_ids(withdrawn, add_path),
            MpUnreach::Ipv6Unicast { withdrawn } => nlri::check_path_ids(withdrawn, add_path),
        }
    }

    pub(crate) fn put_value(&self, out: &mut BytesMut) {
        put_family(self.family(), out);
        match self {
            MpUnreach::Ipv4Unicast { withdrawn } => nlri::put_all(withdrawn, out),
            MpUnreach::Ipv6Unicast { withdrawn } => nlri::put_all(withdrawn, out),
        }
    }
}

/// Appends the AFI/SAFI of `family` (the MP_UNREACH_NLRI fixed part).
pub(crate) fn put_unreach_head(family: AfiSafi, out: &mut BytesMut) {
    put_family(family, out);
}
