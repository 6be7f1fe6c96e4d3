//! AS_PATH (RFC 4271 §4.3, §5.1.2) and its segment types, including the confederation
//! segments of RFC 5065 §3; the 2- and 4-octet encodings and the AS4_PATH handling of RFC 6793
//! (§4.2.2 generation towards a 2-octet speaker, §4.2.3 reconstruction, §6 validity).
//!
//! ```text
//! segment: +--------------+----------------+---------------------------+
//!          | type (1)     | count (1)      | count x AS (2 or 4 each)  |
//!          +--------------+----------------+---------------------------+
//! ```

use bytes::{BufMut, BytesMut};
use nom::multi::count;
use nom::number::complete::{be_u16, be_u32, be_u8};
use nom::sequence::tuple;

use crate::types::Asn;
use crate::update::rfc7606::Reason;

/// RFC 4271 §4.3 path segment types, with RFC 5065 §3 confederation segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SegmentType {
    AsSet,
    AsSequence,
    AsConfedSequence,
    AsConfedSet,
}

impl SegmentType {
    pub fn from_wire(value: u8) -> Option<SegmentType> {
        match value {
            1 => Some(SegmentType::AsSet),
            2 => Some(SegmentType::AsSequence),
            3 => Some(SegmentType::AsConfedSequence),
            4 => Some(SegmentType::AsConfedSet),
            _ => None,
        }
    }

    pub fn to_wire(self) -> u8 {
        match self {
            SegmentType::AsSet => 1,
            SegmentType::AsSequence => 2,
            SegmentType::AsConfedSequence => 3,
            SegmentType::AsConfedSet => 4,
        }
    }

    /// Whether this is one of the RFC 5065 confederation types.
    pub fn is_confed(self) -> bool {
        matches!(
            self,
            SegmentType::AsConfedSequence | SegmentType::AsConfedSet
        )
    }
}

/// The segment count field is one octet (RFC 4271 §4.3).
pub const MAX_SEGMENT_LEN: usize = 255;

/// The width of AS numbers in an AS_PATH: 2 octets towards an OLD speaker, 4 once both sides
/// have the 4-octet AS capability (RFC 6793 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AsWidth {
    Two,
    Four,
}

impl AsWidth {
    pub(crate) fn of_session(four_octet_as: bool) -> AsWidth {
        if four_octet_as {
            AsWidth::Four
        } else {
            AsWidth::Two
        }
    }

    pub(crate) fn octets(self) -> usize {
        match self {
            AsWidth::Two => 2,
            AsWidth::Four => 4,
        }
    }
}

/// One path segment: between 1 and 255 AS numbers of one type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Segment {
    kind: SegmentType,
    asns: Vec<Asn>,
}

impl Segment {
    /// A segment, or `None` when `asns` is empty or longer than 255 (neither can be encoded;
    /// RFC 7606 §7.2 makes a zero-length segment malformed).
    pub fn new(kind: SegmentType, asns: Vec<Asn>) -> Option<Segment> {
        if asns.is_empty() || asns.len() > MAX_SEGMENT_LEN {
            return None;
        }
        Some(Segment { kind, asns })
    }

    pub fn kind(&self) -> SegmentType {
        self.kind
    }

    pub fn asns(&self) -> &[Asn] {
        &self.asns
    }

    /// The segment's contribution to the path length: RFC 4271 §9.1.2.2(a) counts an AS_SET
    /// as 1, RFC 5065 §5.3 counts confederation segments as 0.
    pub fn path_len(&self) -> usize {
        match self.kind {
            SegmentType::AsSequence => self.asns.len(),
            SegmentType::AsSet => 1,
            SegmentType::AsConfedSequence | SegmentType::AsConfedSet => 0,
        }
    }

    fn encoded_len(&self, width: AsWidth) -> usize {
        2 + self.asns.len() * width.octets()
    }

    fn put(&self, width: AsWidth, out: &mut BytesMut) {
        out.put_u8(self.kind.to_wire());
        // `Segment::new` bounds the count to 255.
        out.put_u8(self.asns.len() as u8);
        for asn in &self.asns {
            match width {
                // RFC 6793 §4.2.2: numbers above 65535 become AS_TRANS.
                AsWidth::Two => out.put_u16(asn.to_two_octet()),
                AsWidth::Four => out.put_u32(asn.0),
            }
        }
    }
}

/// An AS path: the ordered segments of an AS_PATH attribute. The empty path is valid (a route
/// originated inside the AS, RFC 4271 §5.1.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct AsPath {
    segments: Vec<Segment>,
}

impl AsPath {
    pub fn new(segments: Vec<Segment>) -> AsPath {
        AsPath { segments }
    }

    /// An AS_SEQUENCE path of `asns`, split into segments of at most 255.
    pub fn from_sequence(asns: &[Asn]) -> AsPath {
        AsPath {
            segments: asns
                .chunks(MAX_SEGMENT_LEN)
                .map(|chunk| Segment {
                    kind: SegmentType::AsSequence,
                    asns: chunk.to_vec(),
                })
                .collect(),
        }
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// The length used by the decision process (RFC 4271 §9.1.2.2(a), RFC 5065 §5.3).
    pub fn path_len(&self) -> usize {
        self.segments.iter().map(Segment::path_len).sum()
    }

    /// Whether `asn` appears anywhere in the path (RFC 4271 §9.1.2 loop detection).
    pub fn contains(&self, asn: Asn) -> bool {
        self.segments.iter().any(|s| s.asns.contains(&asn))
    }

    /// The neighbor AS: the first AS of a leading AS_SEQUENCE (RFC 4271 §6.3, §9.1.2.2).
    pub fn first_asn(&self) -> Option<Asn> {
        let first = self.segments.first()?;
        match first.kind {
            SegmentType::AsSequence => first.asns.first().copied(),
            _ => None,
        }
    }

    /// Whether the path has AS_CONFED_SEQUENCE or AS_CONFED_SET segments.
    pub fn has_confed_segments(&self) -> bool {
        self.segments.iter().any(|s| s.kind.is_confed())
    }

    /// The path as sent to an external peer after prepending `asn` (RFC 4271 §5.1.2(b)):
    /// added to a leading AS_SEQUENCE with room, otherwise as a new leading segment.
    pub fn prepended(&self, asn: Asn) -> AsPath {
        let mut segments = self.segments.clone();
        match segments.first_mut() {
            Some(first)
                if first.kind == SegmentType::AsSequence && first.asns.len() < MAX_SEGMENT_LEN =>
            {
                first.asns.insert(0, asn);
            }
            _ => segments.insert(
                0,
                Segment {
                    kind: SegmentType::AsSequence,
                    asns: vec![asn],
                },
            ),
        }
        AsPath { segments }
    }

    /// Decodes AS_PATH (or AS4_PATH, always 4-octet) segments. RFC 7606 §7.2: an unknown
    /// segment type, a zero count, a segment overrunning the attribute, or a single trailing
    /// octet make the path malformed.
    pub(crate) fn decode(data: &[u8], width: AsWidth) -> Result<AsPath, Reason> {
        let mut segments = Vec::new();
        let mut rest = data;
        while !rest.is_empty() {
            let (after, (kind, length)) =
                tuple((be_u8::<_, ()>, be_u8))(rest).map_err(|_| Reason::MalformedAsPath)?;
            let kind = SegmentType::from_wire(kind).ok_or(Reason::MalformedAsPath)?;
            let length = usize::from(length);
            if length == 0 || after.len() < length * width.octets() {
                return Err(Reason::MalformedAsPath);
            }
            let (after, asns) = match width {
                AsWidth::Two => count(
                    nom::combinator::map(be_u16::<_, ()>, |a| Asn(a.into())),
                    length,
                )(after),
                AsWidth::Four => count(nom::combinator::map(be_u32::<_, ()>, Asn), length)(after),
            }
            .map_err(|_| Reason::MalformedAsPath)?;
            segments.push(Segment { kind, asns });
            rest = after;
        }
        Ok(AsPath { segments })
    }

    pub(crate) fn encoded_len(&self, width: AsWidth) -> usize {
        self.segments.iter().map(|s| s.encoded_len(width)).sum()
    }

    pub(crate) fn put(&self, width: AsWidth, out: &mut BytesMut) {
        for segment in &self.segments {
            segment.put(width, out);
        }
    }

    /// RFC 6793 §4.2.2: towards an OLD speaker AS4_PATH is sent only when some AS number does
    /// not fit 2 octets.
    pub(crate) fn needs_as4_path(&self) -> bool {
        self.segments
            .iter()
            .any(|s| s.asns.iter().any(|a| !a.is_two_octet()))
    }

    /// The path without confederation segments: RFC 6793 §6 keeps them out of AS4_PATH.
    pub(crate) fn without_confed(&self) -> AsPath {
        AsPath {
            segments: self
                .segments
                .iter()
                .filter(|s| !s.kind.is_confed())
                .cloned()
                .collect(),
        }
    }

    /// RFC 6793 §4.2.3: the AS path of a route from an OLD speaker, from its AS_PATH (`self`)
    /// and AS4_PATH. `None` when AS_PATH counts fewer AS numbers than AS4_PATH, in which case
    /// AS4_PATH is ignored.
    pub(crate) fn merged_with_as4(&self, as4_path: &AsPath) -> Option<AsPath> {
        let mut remaining = self.path_len().checked_sub(as4_path.path_len())?;
        let mut segments = Vec::with_capacity(self.segments.len() + as4_path.segments.len());
        for segment in &self.segments {
            if remaining == 0 {
                // A confederation segment is kept when it leads the path or follows a kept
                // segment.
                if segment.kind.is_confed() {
                    segments.push(segment.clone());
                    continue;
                }
                break;
            }
            if segment.kind == SegmentType::AsSequence && segment.asns.len() > remaining {
                segments.push(Segment {
                    kind: segment.kind,
                    asns: segment.asns[..remaining].to_vec(),
                });
                remaining = 0;
            } else {
                remaining -= segment.path_len();
                segments.push(segment.clone());
            }
        }
        let mut as4_segments = as4_path.segments.iter().cloned();
        // A sequence cut from AS_PATH continues in AS4_PATH's leading sequence: one segment,
        // as a 4-octet speaker would have received it.
        if let (Some(last), Some(first)) = (segments.last_mut(), as4_path.segments.first()) {
            let both_sequences =
                last.kind == SegmentType::AsSequence && first.kind == SegmentType::AsSequence;
            if both_sequences && last.asns.len() + first.asns.len() <= MAX_SEGMENT_LEN {
                last.asns.extend_from_slice(&first.asns);
                as4_segments.next();
            }
        }
        segments.extend(as4_segments);
        Some(AsPath { segments })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(asns: &[u32]) -> Segment {
        Segment::new(
            SegmentType::AsSequence,
            asns.iter().map(|&a| Asn(a)).collect(),
        )
        .expect("1..=255 ASNs")
    }

    fn set(asns: &[u32]) -> Segment {
        Segment::new(SegmentType::AsSet, asns.iter().map(|&a| Asn(a)).collect())
            .expect("1..=255 ASNs")
    }

    fn confed(asns: &[u32]) -> Segment {
        Segment::new(
            SegmentType::AsConfedSequence,
            asns.iter().map(|&a| Asn(a)).collect(),
        )
        .expect("1..=255 ASNs")
    }

    #[test]
    fn decode_checks_segments() {
        let cases: &[(&[u8], AsWidth, Result<AsPath, Reason>)] = &[
            (&[], AsWidth::Four, Ok(AsPath::default())),
            (
                &[
                    0x02, 0x02, // AS_SEQUENCE of 2
                    0x00, 0x00, 0xfd, 0xe8, // 65000
                    0xfa, 0x56, 0xea, 0x00, // 4200000000
                ],
                AsWidth::Four,
                Ok(AsPath::new(vec![seq(&[65000, 4_200_000_000])])),
            ),
            (
                &[
                    0x01, 0x02, // AS_SET of 2
                    0xfd, 0xe8, 0xfd, 0xe9, // 65000 65001
                ],
                AsWidth::Two,
                Ok(AsPath::new(vec![set(&[65000, 65001])])),
            ),
            (
                &[0x05, 0x01, 0x00, 0x01],
                AsWidth::Two,
                Err(Reason::MalformedAsPath),
            ), // type 5
            (&[0x02, 0x00], AsWidth::Two, Err(Reason::MalformedAsPath)), // count 0
            (
                &[0x02, 0x02, 0x00, 0x01],
                AsWidth::Two,
                Err(Reason::MalformedAsPath),
            ), // overrun
            (
                &[0x02, 0x01, 0x00, 0x01, 0x02],
                AsWidth::Two,
                Err(Reason::MalformedAsPath),
            ), // 1 left
        ];
        for (wire, width, expected) in cases {
            assert_eq!(&AsPath::decode(wire, *width), expected, "{wire:02x?}");
        }
    }

    #[test]
    fn two_octet_encoding_uses_as_trans() {
        let path = AsPath::new(vec![seq(&[65000, 4_200_000_000])]);
        let mut out = BytesMut::new();
        path.put(AsWidth::Two, &mut out);
        assert_eq!(
            &out[..],
            &[
                0x02, 0x02, // AS_SEQUENCE of 2
                0xfd, 0xe8, // 65000
                0x5b, 0xa0, // AS_TRANS (23456)
            ]
        );
        assert!(path.needs_as4_path());
        assert_eq!(path.encoded_len(AsWidth::Two), out.len());
    }

    #[test]
    fn as4_merge_follows_rfc6793() {
        let trans = Asn::TRANS.0;
        // AS_PATH: confed(1) seq(100 TRANS TRANS); AS4_PATH: seq(70000 80000)
        let as_path = AsPath::new(vec![confed(&[1]), seq(&[100, trans, trans])]);
        let as4 = AsPath::new(vec![seq(&[70000, 80000])]);
        assert_eq!(
            as_path.merged_with_as4(&as4),
            Some(AsPath::new(vec![confed(&[1]), seq(&[100, 70000, 80000])]))
        );
        // Same length: only the leading confederation segment is kept from AS_PATH.
        let as_path = AsPath::new(vec![confed(&[1]), seq(&[trans, trans])]);
        assert_eq!(
            as_path.merged_with_as4(&as4),
            Some(AsPath::new(vec![confed(&[1]), seq(&[70000, 80000])]))
        );
        // AS4_PATH longer than AS_PATH: ignored.
        let as_path = AsPath::new(vec![seq(&[trans])]);
        assert_eq!(as_path.merged_with_as4(&as4), None);
        // An AS_SET counts as one.
        let as_path = AsPath::new(vec![set(&[1, 2, 3]), seq(&[trans, trans])]);
        assert_eq!(
            as_path.merged_with_as4(&as4),
            Some(AsPath::new(vec![set(&[1, 2, 3]), seq(&[70000, 80000])]))
        );
    }

    #[test]
    fn prepend_and_lengths() {
        let path = AsPath::from_sequence(&[Asn(2), Asn(3)]).prepended(Asn(1));
        assert_eq!(path, AsPath::new(vec![seq(&[1, 2, 3])]));
        assert_eq!(path.first_asn(), Some(Asn(1)));
        let long: Vec<Asn> = (0..300).map(Asn).collect();
        let path = AsPath::from_sequence(&long);
        assert_eq!(path.segments().len(), 2);
        assert_eq!(path.path_len(), 300);
        let with_set = AsPath::new(vec![set(&[5, 6])]).prepended(Asn(1));
        assert_eq!(with_set.path_len(), 2);
        assert_eq!(with_set.segments()[0], seq(&[1]));
        assert!(Segment::new(SegmentType::AsSet, vec![]).is_none());
    }
}
