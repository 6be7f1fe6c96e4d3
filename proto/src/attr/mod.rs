//! Path attributes (RFC 4271 §4.3, §5) as typed values: ORIGIN, AS_PATH, NEXT_HOP,
//! MULTI_EXIT_DISC, LOCAL_PREF, ATOMIC_AGGREGATE, AGGREGATOR (RFC 4271), COMMUNITIES
//! (RFC 1997), ORIGINATOR_ID and CLUSTER_LIST (RFC 4456 §8), EXTENDED_COMMUNITIES (RFC 4360),
//! LARGE_COMMUNITY (RFC 8092), with AS4_PATH / AS4_AGGREGATOR (RFC 6793) folded into AS_PATH
//! and AGGREGATOR. MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760) are in [`mp`] and travel beside
//! the attribute set in `Update`, since they carry routes, not route properties.
//!
//! Unrecognized optional transitive attributes are kept byte for byte ([`RawAttribute`]) so
//! that a route reflector passes them on faithfully; unrecognized optional non-transitive ones
//! are quietly ignored (RFC 4271 §5). [`Attributes`] is `Clone + Eq + Hash` so the RIB can
//! intern it. The per-type rules (expected flags, decoder, encoder, RFC 7606 outcome) are one
//! table row each in `table`.

mod as_path;
mod community;
pub(crate) mod decode;
pub mod mp;
pub(crate) mod table;

use std::fmt;
use std::net::Ipv4Addr;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::EncodeError;
use crate::params::SessionParams;
use crate::types::{Asn, ClusterId, RouterId};

pub use as_path::{AsPath, Segment, SegmentType, MAX_SEGMENT_LEN};
pub use community::{Community, ExtendedCommunity, InvalidCommunity, LargeCommunity};
pub use mp::{Ipv6NextHop, MpReach, MpUnreach, NextHop};

/// The Attribute Flags octet (RFC 4271 §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AttrFlags(pub u8);

impl AttrFlags {
    pub const OPTIONAL: AttrFlags = AttrFlags(0x80);
    pub const TRANSITIVE: AttrFlags = AttrFlags(0x40);
    pub const PARTIAL: AttrFlags = AttrFlags(0x20);
    pub const EXTENDED_LENGTH: AttrFlags = AttrFlags(0x10);
    /// Well-known attributes are transitive and not optional (RFC 4271 §5).
    pub const WELL_KNOWN: AttrFlags = AttrFlags::TRANSITIVE;
    pub const OPTIONAL_TRANSITIVE: AttrFlags = AttrFlags(0xc0);
    pub const OPTIONAL_NON_TRANSITIVE: AttrFlags = AttrFlags::OPTIONAL;

    pub fn contains(self, other: AttrFlags) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn with(self, other: AttrFlags) -> AttrFlags {
        AttrFlags(self.0 | other.0)
    }

    pub fn without(self, other: AttrFlags) -> AttrFlags {
        AttrFlags(self.0 & !other.0)
    }
}

/// An attribute type code (IANA "BGP Path Attributes" registry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AttrType(pub u8);

impl AttrType {
    pub const ORIGIN: AttrType = AttrType(1);
    pub const AS_PATH: AttrType = AttrType(2);
    pub const NEXT_HOP: AttrType = AttrType(3);
    pub const MULTI_EXIT_DISC: AttrType = AttrType(4);
    pub const LOCAL_PREF: AttrType = AttrType(5);
    pub const ATOMIC_AGGREGATE: AttrType = AttrType(6);
    pub const AGGREGATOR: AttrType = AttrType(7);
    pub const COMMUNITIES: AttrType = AttrType(8);
    pub const ORIGINATOR_ID: AttrType = AttrType(9);
    pub const CLUSTER_LIST: AttrType = AttrType(10);
    pub const MP_REACH_NLRI: AttrType = AttrType(14);
    pub const MP_UNREACH_NLRI: AttrType = AttrType(15);
    pub const EXTENDED_COMMUNITIES: AttrType = AttrType(16);
    pub const AS4_PATH: AttrType = AttrType(17);
    pub const AS4_AGGREGATOR: AttrType = AttrType(18);
    pub const LARGE_COMMUNITY: AttrType = AttrType(32);

    /// Whether Starling decodes this type itself (it then never appears as a
    /// [`RawAttribute`]).
    pub fn is_recognized(self) -> bool {
        table::descriptor(self).is_some()
    }
}

impl fmt::Display for AttrType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match table::descriptor(*self) {
            Some(row) => f.write_str(row.name),
            None => write!(f, "attribute type {}", self.0),
        }
    }
}

/// ORIGIN (RFC 4271 §4.3, §5.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    Igp,
    Egp,
    Incomplete,
}

impl Origin {
    pub fn from_wire(value: u8) -> Option<Origin> {
        match value {
            0 => Some(Origin::Igp),
            1 => Some(Origin::Egp),
            2 => Some(Origin::Incomplete),
            _ => None,
        }
    }

    pub fn to_wire(self) -> u8 {
        match self {
            Origin::Igp => 0,
            Origin::Egp => 1,
            Origin::Incomplete => 2,
        }
    }
}

/// MULTI_EXIT_DISC (RFC 4271 §5.1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MultiExitDisc(pub u32);

/// LOCAL_PREF (RFC 4271 §5.1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalPref(pub u32);

/// AGGREGATOR (RFC 4271 §5.1.7): the AS and BGP Identifier of the speaker that aggregated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Aggregator {
    pub asn: Asn,
    pub address: Ipv4Addr,
}

/// The recognized optional transitive attributes that arrived with the Partial bit set. RFC
/// 4271 §5: once set by some speaker, the bit is never cleared along the path, so encoding sets
/// it again. Only meaningful for attributes that are present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PartialSet(u64);

impl PartialSet {
    /// Type codes above this cannot be represented; none of the recognized optional transitive
    /// attributes is above it.
    const MAX_CODE: u8 = 63;

    pub fn insert(&mut self, code: AttrType) {
        if code.0 <= Self::MAX_CODE {
            self.0 |= 1 << code.0;
        }
    }

    pub fn contains(self, code: AttrType) -> bool {
        code.0 <= Self::MAX_CODE && self.0 & (1 << code.0) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// An attribute Starling does not interpret, kept as received: flags (Partial and Extended
/// Length included, so re-encoding is byte-exact), type and value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawAttribute {
    flags: AttrFlags,
    type_code: AttrType,
    value: Bytes,
}

/// Why a [`RawAttribute`] cannot be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRawAttribute {
    #[error("{0} is decoded by Starling and cannot be carried raw")]
    Recognized(AttrType),
    #[error("only optional transitive attributes are carried raw (flags {0:#04x})")]
    NotOptionalTransitive(u8),
    #[error("attribute value of {0} octets exceeds 65535")]
    TooLong(usize),
}

impl RawAttribute {
    /// An unrecognized optional transitive attribute (the only kind RFC 4271 §5 passes on).
    /// The Extended Length flag is set when the value needs it and otherwise kept as given.
    pub fn new(
        flags: AttrFlags,
        type_code: AttrType,
        value: Bytes,
    ) -> Result<RawAttribute, InvalidRawAttribute> {
        if type_code.is_recognized() {
            return Err(InvalidRawAttribute::Recognized(type_code));
        }
        if !flags.contains(AttrFlags::OPTIONAL_TRANSITIVE) {
            return Err(InvalidRawAttribute::NotOptionalTransitive(flags.0));
        }
        if value.len() > usize::from(u16::MAX) {
            return Err(InvalidRawAttribute::TooLong(value.len()));
        }
        let flags = if value.len() > usize::from(u8::MAX) {
            flags.with(AttrFlags::EXTENDED_LENGTH)
        } else {
            flags
        };
        Ok(RawAttribute {
            flags,
            type_code,
            value,
        })
    }

    pub fn flags(&self) -> AttrFlags {
        self.flags
    }

    pub fn type_code(&self) -> AttrType {
        self.type_code
    }

    pub fn value(&self) -> &Bytes {
        &self.value
    }

    /// The attribute as passed on to another peer: RFC 4271 §5 sets the Partial bit on an
    /// unrecognized optional transitive attribute that is passed along.
    pub fn forwarded(&self) -> RawAttribute {
        RawAttribute {
            flags: self.flags.with(AttrFlags::PARTIAL),
            ..self.clone()
        }
    }

    fn put(&self, out: &mut BytesMut) {
        out.put_u8(self.flags.0);
        out.put_u8(self.type_code.0);
        // `new` guarantees the flag when the value exceeds 255 octets, and at most 65535.
        if self.flags.contains(AttrFlags::EXTENDED_LENGTH) {
            out.put_u16(self.value.len() as u16);
        } else {
            out.put_u8(self.value.len() as u8);
        }
        out.put_slice(&self.value);
    }
}

/// The unrecognized attributes of a route, one per type code, in type code order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct UnknownAttributes(Vec<RawAttribute>);

impl UnknownAttributes {
    /// Adds `attribute`, returning the one of the same type it replaces.
    pub fn insert(&mut self, attribute: RawAttribute) -> Option<RawAttribute> {
        match self
            .0
            .binary_search_by_key(&attribute.type_code, |a| a.type_code)
        {
            Ok(index) => Some(std::mem::replace(&mut self.0[index], attribute)),
            Err(index) => {
                self.0.insert(index, attribute);
                None
            }
        }
    }

    pub fn get(&self, type_code: AttrType) -> Option<&RawAttribute> {
        self.0
            .binary_search_by_key(&type_code, |a| a.type_code)
            .ok()
            .map(|index| &self.0[index])
    }

    pub fn iter(&self) -> impl Iterator<Item = &RawAttribute> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// All attributes with the Partial bit set, as passed on to another peer (RFC 4271 §5).
    pub fn forwarded(&self) -> UnknownAttributes {
        UnknownAttributes(self.0.iter().map(RawAttribute::forwarded).collect())
    }
}

/// The path attributes of a route (everything but MP_REACH_NLRI / MP_UNREACH_NLRI).
///
/// `None` / empty / `false` mean the attribute is absent. Empty lists are never encoded:
/// RFC 7606 §7.8, §7.10, §7.14 and RFC 8092 §6 make a zero-length COMMUNITIES, CLUSTER_LIST,
/// EXTENDED_COMMUNITIES or LARGE_COMMUNITY malformed.
///
/// On a session without 4-octet AS support, AS numbers above 65535 in `as_path` and
/// `aggregator` are sent as AS_TRANS with AS4_PATH / AS4_AGGREGATOR beside them, and rebuilt
/// from those on receipt (RFC 6793 §4.2). AS numbers of confederation segments cannot travel
/// that way (RFC 6793 §6) and come back as AS_TRANS.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Attributes {
    pub origin: Option<Origin>,
    pub as_path: Option<AsPath>,
    /// The NEXT_HOP attribute (IPv4 NLRI in the UPDATE's NLRI field).
    pub next_hop: Option<Ipv4Addr>,
    pub multi_exit_disc: Option<MultiExitDisc>,
    pub local_pref: Option<LocalPref>,
    pub atomic_aggregate: bool,
    pub aggregator: Option<Aggregator>,
    pub communities: Vec<Community>,
    pub originator_id: Option<RouterId>,
    pub cluster_list: Vec<ClusterId>,
    pub extended_communities: Vec<ExtendedCommunity>,
    pub large_communities: Vec<LargeCommunity>,
    pub partial: PartialSet,
    pub unknown: UnknownAttributes,
}

impl Attributes {
    /// Appends every present attribute in type code order (RFC 4271 §5 asks senders to order
    /// them), unrecognized ones interleaved by their code.
    pub fn encode(&self, params: &SessionParams, out: &mut BytesMut) -> Result<(), EncodeError> {
        self.encode_except(params, out, None)
    }

    /// [`Attributes::encode`] leaving out the attribute `skip`.
    pub(crate) fn encode_except(
        &self,
        params: &SessionParams,
        out: &mut BytesMut,
        skip: Option<AttrType>,
    ) -> Result<(), EncodeError> {
        let mut unknown = self.unknown.iter().peekable();
        for row in table::TABLE {
            while let Some(raw) = unknown.next_if(|raw| raw.type_code < row.code) {
                raw.put(out);
            }
            if let Some(encode) = row.encode.filter(|_| skip != Some(row.code)) {
                encode(self, params, out)?;
            }
        }
        unknown.for_each(|raw| raw.put(out));
        Ok(())
    }

    /// Whether no attribute is present.
    pub fn is_empty(&self) -> bool {
        *self == Attributes::default()
    }
}

/// Appends an attribute header for a value of `length` octets, using the Extended Length flag
/// exactly when the value exceeds 255 octets.
pub(crate) fn put_header(
    out: &mut BytesMut,
    flags: AttrFlags,
    code: AttrType,
    length: usize,
) -> Result<(), EncodeError> {
    if let Ok(short) = u8::try_from(length) {
        out.put_u8(flags.without(AttrFlags::EXTENDED_LENGTH).0);
        out.put_u8(code.0);
        out.put_u8(short);
        return Ok(());
    }
    let long = u16::try_from(length).map_err(|_| EncodeError::FieldOverflow {
        what: "attribute value",
        bits: 16,
    })?;
    out.put_u8(flags.with(AttrFlags::EXTENDED_LENGTH).0);
    out.put_u8(code.0);
    out.put_u16(long);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_attributes_are_optional_transitive_and_unrecognized() {
        let value = Bytes::from_static(&[1, 2, 3]);
        assert_eq!(
            RawAttribute::new(
                AttrFlags::OPTIONAL_TRANSITIVE,
                AttrType::COMMUNITIES,
                value.clone()
            ),
            Err(InvalidRawAttribute::Recognized(AttrType::COMMUNITIES))
        );
        assert_eq!(
            RawAttribute::new(AttrFlags::OPTIONAL, AttrType(99), value.clone()),
            Err(InvalidRawAttribute::NotOptionalTransitive(0x80))
        );
        let raw =
            RawAttribute::new(AttrFlags::OPTIONAL_TRANSITIVE, AttrType(99), value).expect("valid");
        assert_eq!(raw.forwarded().flags(), AttrFlags(0xe0));
        let long = RawAttribute::new(
            AttrFlags::OPTIONAL_TRANSITIVE,
            AttrType(99),
            Bytes::from(vec![0; 300]),
        )
        .expect("valid");
        assert_eq!(long.flags(), AttrFlags(0xd0));
    }

    #[test]
    fn unknown_attributes_stay_sorted_and_unique() {
        let raw = |code: u8, value: &'static [u8]| {
            RawAttribute::new(
                AttrFlags::OPTIONAL_TRANSITIVE,
                AttrType(code),
                Bytes::from_static(value),
            )
            .expect("valid")
        };
        let mut unknown = UnknownAttributes::default();
        assert_eq!(unknown.insert(raw(40, b"a")), None);
        assert_eq!(unknown.insert(raw(22, b"b")), None);
        assert_eq!(unknown.insert(raw(40, b"c")), Some(raw(40, b"a")));
        let codes: Vec<u8> = unknown.iter().map(|a| a.type_code().0).collect();
        assert_eq!(codes, [22, 40]);
        assert_eq!(unknown.get(AttrType(40)), Some(&raw(40, b"c")));
    }

    #[test]
    fn header_switches_to_extended_length_above_255() {
        let mut out = BytesMut::new();
        put_header(
            &mut out,
            AttrFlags::OPTIONAL_TRANSITIVE,
            AttrType::COMMUNITIES,
            255,
        )
        .expect("fits");
        put_header(
            &mut out,
            AttrFlags::OPTIONAL_TRANSITIVE,
            AttrType::COMMUNITIES,
            256,
        )
        .expect("fits");
        assert_eq!(
            &out[..],
            &[
                0xc0, 0x08, 0xff, // optional transitive, COMMUNITIES, length 255
                0xd0, 0x08, 0x01, 0x00, // + extended length, COMMUNITIES, length 256
            ]
        );
        assert!(put_header(&mut out, AttrFlags::OPTIONAL, AttrType(99), 65536).is_err());
    }
}
