//! NLRI prefixes with optional ADD-PATH identifiers: the `Length, Prefix` encoding of RFC 4271
//! §4.3 (Withdrawn Routes and NLRI fields), reused by RFC 4760 §5 inside MP_REACH_NLRI /
//! MP_UNREACH_NLRI, and the 4-octet Path Identifier that RFC 7911 §3 puts in front of each
//! prefix when ADD-PATH is negotiated for the family and direction.
//!
//! Host bits: RFC 4271 §4.3 says the trailing bits of the last prefix octet are irrelevant.
//! Starling canonicalizes: decoding masks them off and [`Nlri::new`] truncates, so that two
//! announcements of the same prefix compare equal and the RIB keys on one value.
//!
//! Syntax errors (a length above 32 / 128, a prefix overrunning its field) are reported as
//! [`NlriError`]; the caller decides the RFC 7606 §5.3 outcome (session reset for the UPDATE
//! fields, AFI/SAFI disable inside MP_(UN)REACH_NLRI).

use std::fmt::Debug;
use std::hash::Hash;
use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::BytesMut;
use ipnet::{Ipv4Net, Ipv6Net};

use crate::error::EncodeError;
use crate::types::{AfiSafi, PathId};

/// RFC 7911 §3: the Path Identifier field is 4 octets.
pub const PATH_ID_LEN: usize = 4;
/// The Length field in front of each prefix is one octet (RFC 4271 §4.3).
const LENGTH_LEN: usize = 1;

/// An address prefix type that can travel in an NLRI field. Implemented for [`Ipv4Net`] and
/// [`Ipv6Net`] only.
pub trait Prefix: Copy + Eq + Ord + Hash + Debug + private::Sealed {
    /// The family whose NLRI carry this prefix type.
    const FAMILY: AfiSafi;
    /// The largest valid prefix length (32 or 128).
    const MAX_LEN: u8;

    /// Octets of the address (4 or 16).
    const ADDRESS_LEN: usize;

    /// The prefix length in bits.
    fn prefix_len(&self) -> u8;
    /// The prefix with host bits cleared.
    fn canonical(&self) -> Self;
    /// Builds the prefix from its length and `available`, the field from the prefix's first
    /// octet on. Octets beyond `ceil(len / 8)` (the next entries) and host bits are masked
    /// off. `None` when the length exceeds [`Prefix::MAX_LEN`] or too few octets remain.
    fn from_wire(len: u8, available: &[u8]) -> Option<Self>;
    /// Writes the whole address ([`Prefix::ADDRESS_LEN`] octets) at the start of `buf`.
    fn write_address(&self, buf: &mut [u8]);
}

mod private {
    pub trait Sealed {}
    impl Sealed for ipnet::Ipv4Net {}
    impl Sealed for ipnet::Ipv6Net {}
}

/// Octets needed for a prefix of `len` bits (RFC 4271 §4.3: "the minimum number of octets").
fn octets_for(len: u8) -> usize {
    usize::from(len).div_ceil(8)
}

impl Prefix for Ipv4Net {
    const FAMILY: AfiSafi = AfiSafi::Ipv4Unicast;
    const MAX_LEN: u8 = 32;
    const ADDRESS_LEN: usize = 4;

    fn prefix_len(&self) -> u8 {
        Ipv4Net::prefix_len(self)
    }

    fn canonical(&self) -> Self {
        self.trunc()
    }

    fn from_wire(len: u8, available: &[u8]) -> Option<Self> {
        let (bits, mask) = leading_bits::<4>(len, Self::MAX_LEN, available)?;
        let address = u32::from_be_bytes(bits) & u32::MAX.checked_shl(mask).unwrap_or(0);
        Ipv4Net::new(Ipv4Addr::from(address), len).ok()
    }

    fn write_address(&self, buf: &mut [u8]) {
        buf[..Self::ADDRESS_LEN].copy_from_slice(&self.addr().octets());
    }
}

impl Prefix for Ipv6Net {
    const FAMILY: AfiSafi = AfiSafi::Ipv6Unicast;
    const MAX_LEN: u8 = 128;
    const ADDRESS_LEN: usize = 16;

    fn prefix_len(&self) -> u8 {
        Ipv6Net::prefix_len(self)
    }

    fn canonical(&self) -> Self {
        self.trunc()
    }

    fn from_wire(len: u8, available: &[u8]) -> Option<Self> {
        let (bits, mask) = leading_bits::<16>(len, Self::MAX_LEN, available)?;
        let address = u128::from_be_bytes(bits) & u128::MAX.checked_shl(mask).unwrap_or(0);
        Ipv6Net::new(Ipv6Addr::from(address), len).ok()
    }

    fn write_address(&self, buf: &mut [u8]) {
        buf[..Self::ADDRESS_LEN].copy_from_slice(&self.addr().octets());
    }
}

/// The first `N` octets of `available` (zero-padded when fewer remain) and the number of host
/// bits to clear, after checking `len` against `max_len` and the octets it needs.
fn leading_bits<const N: usize>(len: u8, max_len: u8, available: &[u8]) -> Option<([u8; N], u32)> {
    let host_bits = max_len.checked_sub(len)?;
    if available.len() < octets_for(len) {
        return None;
    }
    let bits = match available.first_chunk::<N>() {
        // The common case: read a whole address, mask later.
        Some(bits) => *bits,
        None => {
            let mut bits = [0u8; N];
            bits[..available.len()].copy_from_slice(available);
            bits
        }
    };
    Some((bits, u32::from(host_bits)))
}

/// One NLRI entry: a canonical prefix and, on ADD-PATH sessions, its path identifier.
///
/// Whether `path_id` is present is decided by the session (RFC 7911 §3: per family and
/// direction), so an encoder refuses an entry whose presence disagrees with the parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Nlri<P> {
    prefix: P,
    path_id: Option<PathId>,
}

impl<P: Prefix> Nlri<P> {
    /// An entry for `prefix` (host bits are cleared).
    pub fn new(prefix: P, path_id: Option<PathId>) -> Nlri<P> {
        Nlri {
            prefix: prefix.canonical(),
            path_id,
        }
    }

    pub fn prefix(&self) -> P {
        self.prefix
    }

    pub fn path_id(&self) -> Option<PathId> {
        self.path_id
    }

    /// Octets this entry takes on the wire.
    pub fn encoded_len(&self) -> usize {
        let path_id = if self.path_id.is_some() {
            PATH_ID_LEN
        } else {
            0
        };
        path_id + LENGTH_LEN + octets_for(self.prefix.prefix_len())
    }

    /// Writes the entry at the start of `buf` and returns its encoded length. The whole
    /// address is written, so `buf` needs [`MAX_ENTRY_WRITE`] octets; the octets past the
    /// encoded length are scratch. The caller has checked the path identifier against the
    /// session (see [`check_path_ids`]).
    fn write(&self, buf: &mut [u8]) -> usize {
        let mut position = 0;
        if let Some(PathId(id)) = self.path_id {
            buf[..PATH_ID_LEN].copy_from_slice(&id.to_be_bytes());
            position = PATH_ID_LEN;
        }
        let length = self.prefix.prefix_len();
        buf[position] = length;
        self.prefix.write_address(&mut buf[position + LENGTH_LEN..]);
        position + LENGTH_LEN + octets_for(length)
    }
}

/// The most octets [`Nlri::write`] touches: path identifier, length, a whole IPv6 address.
pub(crate) const MAX_ENTRY_WRITE: usize = PATH_ID_LEN + LENGTH_LEN + 16;

/// Appends `entries` (path identifiers already checked against the session). The buffer is
/// grown once and every entry written in place with its whole address, which is faster than
/// appending a variable number of octets per prefix.
pub(crate) fn put_all<P: Prefix>(entries: &[Nlri<P>], out: &mut BytesMut) {
    let total = encoded_len(entries);
    let start = out.len();
    out.resize(start + total + MAX_ENTRY_WRITE, 0);
    let mut position = start;
    for entry in entries {
        // `resize` left MAX_ENTRY_WRITE octets beyond the last entry.
        position += entry.write(&mut out[position..]);
    }
    out.truncate(start + total);
}

/// A Withdrawn Routes / NLRI field (or the NLRI part of MP_(UN)REACH_NLRI) that is not
/// syntactically correct in the sense of RFC 7606 §5.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NlriError {
    #[error("prefix length {length} exceeds the family maximum")]
    PrefixTooLong { length: u8 },
    #[error("the last prefix overruns the end of its field")]
    Truncated,
}

/// Decodes a whole NLRI field. `add_path` says whether each entry starts with a path
/// identifier (RFC 7911 §3). One pass validates and counts, the second fills a vector of
/// exactly that size: one allocation per field, bounded by the field length.
pub fn decode_nlri<P: Prefix>(data: &[u8], add_path: bool) -> Result<Vec<Nlri<P>>, NlriError> {
    let count = count_entries::<P>(data, add_path)?;
    let mut entries = Vec::with_capacity(count);
    let mut rest = data;
    while !rest.is_empty() {
        let (path_id, after) = if add_path {
            let (id, after) = rest
                .split_first_chunk::<PATH_ID_LEN>()
                .ok_or(NlriError::Truncated)?;
            (Some(PathId(u32::from_be_bytes(*id))), after)
        } else {
            (None, rest)
        };
        let (&length, after) = after.split_first().ok_or(NlriError::Truncated)?;
        let octets = after
            .get(..octets_for(length))
            .ok_or(NlriError::Truncated)?;
        let prefix = P::from_wire(length, octets).ok_or(NlriError::PrefixTooLong { length })?;
        entries.push(Nlri { prefix, path_id });
        rest = &after[octets.len()..];
    }
    Ok(entries)
}

/// First pass of [`decode_nlri`]: checks every length and returns the entry count.
fn count_entries<P: Prefix>(data: &[u8], add_path: bool) -> Result<usize, NlriError> {
    let skip = if add_path { PATH_ID_LEN } else { 0 };
    let mut position = 0;
    let mut count = 0;
    while position < data.len() {
        let &length = data.get(position + skip).ok_or(NlriError::Truncated)?;
        if length > P::MAX_LEN {
            return Err(NlriError::PrefixTooLong { length });
        }
        position += skip + LENGTH_LEN + octets_for(length);
        count += 1;
    }
    if position > data.len() {
        return Err(NlriError::Truncated);
    }
    Ok(count)
}

/// Fails unless every entry carries a path identifier exactly when the session sends them
/// for this family (RFC 7911 §3); an encoder never invents or drops one.
pub fn check_path_ids<P: Prefix>(entries: &[Nlri<P>], add_path: bool) -> Result<(), EncodeError> {
    if entries.iter().all(|e| e.path_id.is_some() == add_path) {
        Ok(())
    } else {
        Err(EncodeError::ParamsMismatch {
            what: if add_path {
                "NLRI without a path identifier on an ADD-PATH session"
            } else {
                "NLRI with a path identifier on a session without ADD-PATH"
            },
        })
    }
}

/// Appends a whole NLRI field after checking the path identifiers against `add_path`.
pub fn encode_nlri<P: Prefix>(
    entries: &[Nlri<P>],
    add_path: bool,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    check_path_ids(entries, add_path)?;
    put_all(entries, out);
    Ok(())
}

/// Octets a whole NLRI field takes.
pub fn encoded_len<P: Prefix>(entries: &[Nlri<P>]) -> usize {
    entries.iter().map(Nlri::encoded_len).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> Ipv4Net {
        s.parse().expect("test prefix")
    }

    fn v6(s: &str) -> Ipv6Net {
        s.parse().expect("test prefix")
    }

    /// Decodes `wire` as IPv4 NLRI and compares with `expected`; on success also checks that
    /// encoding gives the wire bytes back.
    fn check_v4(wire: &[u8], add_path: bool, expected: Result<Vec<Nlri<Ipv4Net>>, NlriError>) {
        let decoded = decode_nlri::<Ipv4Net>(wire, add_path);
        assert_eq!(decoded, expected, "wire {wire:02x?}");
        if let Ok(entries) = decoded {
            let mut out = BytesMut::new();
            encode_nlri(&entries, add_path, &mut out).expect("consistent path ids");
            assert_eq!(&out[..], wire);
        }
    }

    #[test]
    fn ipv4_fields() {
        check_v4(&[], false, Ok(vec![]));
        check_v4(
            &[
                0x18, 0xc0, 0x00, 0x02, // 192.0.2.0/24
                0x00, // 0.0.0.0/0
                0x20, 0x0a, 0x00, 0x00, 0x01, // 10.0.0.1/32
                0x1a, 0x0a, 0x01, 0x02, 0x40, // 10.1.2.64/26
            ],
            false,
            Ok(vec![
                Nlri::new(v4("192.0.2.0/24"), None),
                Nlri::new(v4("0.0.0.0/0"), None),
                Nlri::new(v4("10.0.0.1/32"), None),
                Nlri::new(v4("10.1.2.64/26"), None),
            ]),
        );
        check_v4(
            &[
                0x00, 0x00, 0x00, 0x07, // path id 7
                0x10, 0xac, 0x10, // 172.16.0.0/16
            ],
            true,
            Ok(vec![Nlri::new(v4("172.16.0.0/16"), Some(PathId(7)))]),
        );
        check_v4(
            &[0x21, 0x0a, 0x00, 0x00, 0x00, 0x00], // length 33
            false,
            Err(NlriError::PrefixTooLong { length: 33 }),
        );
        check_v4(
            &[0x18, 0xc0, 0x00], // /24 with two octets
            false,
            Err(NlriError::Truncated),
        );
        check_v4(
            &[0x00, 0x00, 0x00], // path id cut short
            true,
            Err(NlriError::Truncated),
        );
    }

    #[test]
    fn host_bits_are_cleared() {
        let wire = [
            0x17, 0xc0, 0x00, 0x03, // 192.0.3.0/23: the last bit of 3 is a host bit
        ];
        let decoded = decode_nlri::<Ipv4Net>(&wire, false).expect("valid");
        assert_eq!(decoded, vec![Nlri::new(v4("192.0.2.0/23"), None)]);
        assert_eq!(
            Nlri::new(v4("192.0.3.7/23"), None).prefix(),
            v4("192.0.2.0/23")
        );
    }

    #[test]
    fn ipv6_field() {
        let wire = [
            0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x02, // 2001:db8:1:2::/64
            0x80, // ::1/128 follows
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
        ];
        let decoded = decode_nlri::<Ipv6Net>(&wire, false).expect("valid");
        assert_eq!(
            decoded,
            vec![
                Nlri::new(v6("2001:db8:1:2::/64"), None),
                Nlri::new(v6("::1/128"), None)
            ]
        );
        assert_eq!(
            decode_nlri::<Ipv6Net>(&[0x81], false),
            Err(NlriError::PrefixTooLong { length: 129 })
        );
    }

    #[test]
    fn path_ids_must_match_the_session() {
        let with_id = [Nlri::new(v4("10.0.0.0/8"), Some(PathId(1)))];
        let without = [Nlri::new(v4("10.0.0.0/8"), None)];
        let mut out = BytesMut::new();
        assert!(encode_nlri(&with_id, false, &mut out).is_err());
        assert!(encode_nlri(&without, true, &mut out).is_err());
        assert!(out.is_empty());
    }
}
