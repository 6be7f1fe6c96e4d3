//! The per-peer header (RFC 7854 §4.2) of Route Monitoring, Statistics Report, Peer Up and
//! Peer Down messages: which peer, and when. Two kinds of peer are spoken: a neighbor of the
//! global instance (peer type 0), and the speaker's own Loc-RIB (peer type 3, RFC 9069 §4.1).
//!
//! ```text
//!  Peer Type (1) | Peer Flags (1) | Peer Distinguisher (8) | Peer Address (16)
//!  Peer AS (4) | Peer BGP ID (4) | Timestamp seconds (4) | Timestamp microseconds (4)
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use proto::{Asn, RouterId};

use crate::error::DecodeError;
use crate::reader::Reader;

/// An address field: IPv6, or IPv4 in the last four octets.
pub(crate) const ADDRESS_LEN: usize = 16;

/// RFC 7854 §4.2 peer types.
const GLOBAL_INSTANCE: u8 = 0;
/// RFC 9069 §4.1.
const LOC_RIB_INSTANCE: u8 = 3;

/// RFC 7854 §4.2 flags of a neighbor: V (IPv6 address), L (post-policy), A (2-octet AS_PATH);
/// RFC 8671 §4: O (Adj-RIB-Out).
const FLAG_IPV6: u8 = 0x80;
const FLAG_POST_POLICY: u8 = 0x40;
const FLAG_LEGACY_AS_PATH: u8 = 0x20;
const FLAG_ADJ_RIB_OUT: u8 = 0x10;
/// RFC 9069 §4.2: F, the Loc-RIB is filtered (not every route of it is sent).
const FLAG_FILTERED: u8 = 0x80;

/// Which peer a message is about, and when it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerHeader {
    pub peer: PeerKind,
    /// The neighbor's AS; for the Loc-RIB, this speaker's (RFC 9069 §4.1).
    pub asn: Asn,
    /// The neighbor's BGP Identifier; for the Loc-RIB, this speaker's.
    pub bgp_id: RouterId,
    /// When the routes were received or the event happened (RFC 7854 §4.2: 0 if unknown).
    pub timestamp: Timestamp,
}

/// The peer a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerKind {
    /// A neighbor of the global instance (peer type 0, distinguisher zero).
    Global { address: IpAddr, flags: PeerFlags },
    /// This speaker's Loc-RIB (peer type 3, RFC 9069 §4.1): no address, the local AS and
    /// BGP Identifier; `filtered`: not every route of the Loc-RIB is sent (the F flag).
    LocRib { filtered: bool },
}

/// The flags of a neighbor's messages (RFC 7854 §4.2, RFC 8671 §4); the V flag follows the
/// address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PeerFlags {
    /// L: the routes are after import policy; clear for pre-policy Route Monitoring.
    pub post_policy: bool,
    /// A: the UPDATE's AS_PATH has 2-octet AS numbers (a session without the 4-octet AS
    /// capability); clear for 4-octet AS numbers.
    pub legacy_as_path: bool,
    /// O: the routes are what we send the neighbor (Adj-RIB-Out), not what it sent us.
    pub adj_rib_out: bool,
}

/// Seconds and microseconds since the Unix epoch (RFC 7854 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timestamp {
    pub seconds: u32,
    pub microseconds: u32,
}

impl Timestamp {
    /// The time `since_epoch` after the Unix epoch (seconds wrap in 2106, as the field does).
    pub fn since_epoch(since_epoch: Duration) -> Timestamp {
        Timestamp {
            // The field is 32 bits wide: the wrap is the format's.
            seconds: since_epoch.as_secs() as u32,
            microseconds: since_epoch.subsec_micros(),
        }
    }
}

impl PeerHeader {
    /// The peer's address as the header carries it (zero for the Loc-RIB).
    pub fn address(&self) -> Option<IpAddr> {
        match self.peer {
            PeerKind::Global { address, .. } => Some(address),
            PeerKind::LocRib { .. } => None,
        }
    }

    pub(crate) fn put(&self, out: &mut BytesMut) {
        let (peer_type, flags, address) = match self.peer {
            PeerKind::Global { address, flags } => {
                let mut octet = 0;
                for (set, bit) in [
                    (address.is_ipv6(), FLAG_IPV6),
                    (flags.post_policy, FLAG_POST_POLICY),
                    (flags.legacy_as_path, FLAG_LEGACY_AS_PATH),
                    (flags.adj_rib_out, FLAG_ADJ_RIB_OUT),
                ] {
                    if set {
                        octet |= bit;
                    }
                }
                (GLOBAL_INSTANCE, octet, Some(address))
            }
            PeerKind::LocRib { filtered } => (
                LOC_RIB_INSTANCE,
                if filtered { FLAG_FILTERED } else { 0 },
                None,
            ),
        };
        out.put_u8(peer_type);
        out.put_u8(flags);
        out.put_u64(0); // Peer Distinguisher: zero for the global instance and Loc-RIB
        put_address(out, address);
        out.put_u32(self.asn.0);
        out.put_slice(&self.bgp_id.0.octets());
        out.put_u32(self.timestamp.seconds);
        out.put_u32(self.timestamp.microseconds);
    }

    /// Reads the header off the front of `reader`.
    pub(crate) fn decode(reader: &mut Reader<'_>) -> Result<PeerHeader, DecodeError> {
        let peer_type = reader.u8("peer type")?;
        let flags = reader.u8("peer flags")?;
        let distinguisher = reader.u64("peer distinguisher")?;
        if distinguisher != 0 {
            return Err(DecodeError::Unsupported {
                what: "peer distinguisher (instances other than the global one)",
                value: u32::try_from(distinguisher).unwrap_or(u32::MAX),
            });
        }
        let address: [u8; ADDRESS_LEN] = reader.array("peer address")?;
        let peer = match peer_type {
            GLOBAL_INSTANCE => PeerKind::Global {
                address: address_field(
                    &address,
                    if flags & FLAG_IPV6 != 0 {
                        Family::V6
                    } else {
                        Family::V4
                    },
                ),
                flags: PeerFlags {
                    post_policy: flags & FLAG_POST_POLICY != 0,
                    legacy_as_path: flags & FLAG_LEGACY_AS_PATH != 0,
                    adj_rib_out: flags & FLAG_ADJ_RIB_OUT != 0,
                },
            },
            LOC_RIB_INSTANCE => PeerKind::LocRib {
                filtered: flags & FLAG_FILTERED != 0,
            },
            other => {
                return Err(DecodeError::Unsupported {
                    what: "peer type",
                    value: u32::from(other),
                })
            }
        };
        Ok(PeerHeader {
            peer,
            asn: Asn(reader.u32("peer AS")?),
            bgp_id: RouterId(Ipv4Addr::from(reader.array::<4>("peer BGP ID")?)),
            timestamp: Timestamp {
                seconds: reader.u32("timestamp")?,
                microseconds: reader.u32("timestamp")?,
            },
        })
    }
}

/// The family of a 16-octet address field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    V4,
    V6,
}

impl Family {
    pub(crate) fn of(address: IpAddr) -> Family {
        match address {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }
}

/// A 16-octet address field: IPv4 in the last four octets (RFC 7854 §4.2), zero when none.
pub(crate) fn put_address(out: &mut BytesMut, address: Option<IpAddr>) {
    match address {
        Some(IpAddr::V4(v4)) => {
            out.put_bytes(0, ADDRESS_LEN - 4);
            out.put_slice(&v4.octets());
        }
        Some(IpAddr::V6(v6)) => out.put_slice(&v6.octets()),
        None => out.put_bytes(0, ADDRESS_LEN),
    }
}

/// A 16-octet address field of `family`: IPv4 is its last four octets.
pub(crate) fn address_field(field: &[u8; ADDRESS_LEN], family: Family) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::new(field[12], field[13], field[14], field[15])),
        Family::V6 => IpAddr::V6(Ipv6Addr::from(*field)),
    }
}
