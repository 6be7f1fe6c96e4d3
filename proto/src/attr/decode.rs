//! Decoding of the Path Attributes field (RFC 4271 §4.3) with the RFC 7606 rules that concern
//! the list as a whole: framing (§4), duplicates (§3(g)), flags (§3(c)), external-only
//! discards (§7.5, §7.9, §7.10), unrecognized attributes (RFC 4271 §5), missing well-known
//! attributes (§3(d)), errors without reachable NLRI (§5.2), and the AS4_PATH /
//! AS4_AGGREGATOR reconstruction of RFC 6793 §4.2.3. Per-type checks are in `table`.

use bytes::Bytes;
use nom::number::complete::{be_u16, be_u8};
use nom::sequence::tuple;

use super::as_path::AsPath;
use super::mp::{MpReach, MpUnreach};
use super::table::{self, Fault};
use super::{Aggregator, AttrFlags, AttrType, Attributes, RawAttribute};
use crate::error::DecodeError;
use crate::notification::{ErrorCode, UpdateError};
use crate::params::SessionParams;
use crate::types::Asn;
use crate::update::rfc7606::{Action, AttrError, Reason};

/// The attribute types seen so far, for RFC 7606 §3(g) and §3(d).
#[derive(Default)]
struct Seen([u64; 4]);

impl Seen {
    const BITS: usize = 64;

    /// Records `code`; `false` when it was already there.
    fn insert(&mut self, code: AttrType) -> bool {
        let (word, bit) = (
            usize::from(code.0) / Self::BITS,
            usize::from(code.0) % Self::BITS,
        );
        let new = self.0[word] & (1 << bit) == 0;
        self.0[word] |= 1 << bit;
        new
    }

    fn contains(&self, code: AttrType) -> bool {
        let (word, bit) = (
            usize::from(code.0) / Self::BITS,
            usize::from(code.0) % Self::BITS,
        );
        self.0[word] & (1 << bit) != 0
    }
}

/// What the attribute field decodes to.
pub(crate) struct Decoded {
    pub attributes: Attributes,
    pub mp_reach: Option<MpReach>,
    pub mp_unreach: Option<MpUnreach>,
    pub errors: Vec<AttrError>,
}

/// Decoding state shared by the per-type decoders of `table`.
pub(crate) struct AttrDecoder<'a> {
    pub(crate) params: &'a SessionParams,
    body: &'a Bytes,
    pub(crate) attributes: Attributes,
    pub(crate) mp_reach: Option<MpReach>,
    pub(crate) mp_unreach: Option<MpUnreach>,
    /// MP_REACH_NLRI was present, whether or not it could be decoded.
    pub(crate) reach_seen: bool,
    pub(crate) errors: Vec<AttrError>,
    pub(crate) as4_path: Option<AsPath>,
    pub(crate) as4_aggregator: Option<Aggregator>,
    seen: Seen,
    /// Some attribute other than MP_UNREACH_NLRI was present (RFC 7606 §5.2).
    other_than_unreach: bool,
}

/// Decodes the Path Attributes `field`, a slice of `body`. `classic_nlri` says whether the
/// UPDATE's NLRI field announces routes. A session reset comes back as `Err`.
pub(crate) fn decode_attributes(
    body: &Bytes,
    field: &[u8],
    params: &SessionParams,
    classic_nlri: bool,
) -> Result<Decoded, DecodeError> {
    let mut decoder = AttrDecoder {
        params,
        body,
        attributes: Attributes::default(),
        mp_reach: None,
        mp_unreach: None,
        reach_seen: false,
        errors: Vec::new(),
        as4_path: None,
        as4_aggregator: None,
        seen: Seen::default(),
        other_than_unreach: false,
    };
    let mut rest = field;
    while !rest.is_empty() {
        let Some((header_len, flags, code, value_len)) = header(rest) else {
            decoder.overrun(None);
            break;
        };
        let Some(whole) = rest.get(..header_len + value_len) else {
            decoder.overrun(Some(code));
            break;
        };
        decoder.attribute(flags, code, whole, &whole[header_len..])?;
        rest = &rest[whole.len()..];
    }
    decoder.finish(classic_nlri)
}

/// Reads an attribute header: `(header length, flags, type, value length)`, or `None` when
/// fewer octets remain than a header needs.
fn header(input: &[u8]) -> Option<(usize, AttrFlags, AttrType, usize)> {
    let (rest, (flags, code)) = tuple((be_u8::<_, ()>, be_u8))(input).ok()?;
    let (rest, length) = if AttrFlags(flags).contains(AttrFlags::EXTENDED_LENGTH) {
        be_u16::<_, ()>(rest)
            .map(|(r, l)| (r, usize::from(l)))
            .ok()?
    } else {
        be_u8::<_, ()>(rest)
            .map(|(r, l)| (r, usize::from(l)))
            .ok()?
    };
    Some((
        input.len() - rest.len(),
        AttrFlags(flags),
        AttrType(code),
        length,
    ))
}

impl AttrDecoder<'_> {
    /// RFC 7606 §4: a header or value overrunning the field. Treat-as-withdraw; the Total Path
    /// Attribute Length still locates the NLRI, the remaining attributes are lost.
    fn overrun(&mut self, code: Option<AttrType>) {
        self.other_than_unreach = true;
        self.errors.push(AttrError::new(
            code,
            Action::TreatAsWithdraw,
            Reason::AttributeListOverrun,
        ));
    }

    fn attribute(
        &mut self,
        flags: AttrFlags,
        code: AttrType,
        whole: &[u8],
        value: &[u8],
    ) -> Result<(), DecodeError> {
        let body = self.body;
        let data = || body.slice_ref(whole);
        if code != AttrType::MP_UNREACH_NLRI {
            self.other_than_unreach = true;
        }
        if !self.seen.insert(code) {
            // RFC 7606 §3(g): a repeated MP_REACH_NLRI / MP_UNREACH_NLRI resets the session;
            // any other repeated attribute is discarded, the first occurrence kept.
            if code == AttrType::MP_REACH_NLRI || code == AttrType::MP_UNREACH_NLRI {
                return Err(DecodeError::new(
                    ErrorCode::UpdateMessage(UpdateError::MalformedAttributeList),
                    "MP_REACH_NLRI or MP_UNREACH_NLRI appears twice",
                ));
            }
            let error = AttrError::new(Some(code), Action::AttributeDiscard, Reason::Duplicate);
            self.errors.push(error.with_data(data()));
            return Ok(());
        }
        let Some(row) = table::descriptor(code) else {
            self.unrecognized(flags, code, value, data());
            return Ok(());
        };
        if row.internal_only && self.params.external {
            // RFC 7606 §7.5, §7.9, §7.10: attribute discard.
            let error = AttrError::new(
                Some(code),
                Action::AttributeDiscard,
                Reason::FromExternalPeer,
            );
            self.errors.push(error.with_data(data()));
            return Ok(());
        }
        let expected = AttrFlags::OPTIONAL_TRANSITIVE;
        if (flags.0 ^ row.flags.0) & expected.0 != 0 {
            // RFC 7606 §3(c), with the per-type exceptions in the table.
            let error = AttrError::new(Some(code), row.flags_error, Reason::FlagsConflict);
            self.errors.push(error.with_data(data()));
            if !row.decode_despite_flags_error {
                return Ok(());
            }
        }
        match (row.decode)(self, value) {
            Ok(()) => {
                // RFC 4271 §5: Partial is only meaningful on optional transitive attributes.
                let transitive = row.flags.contains(AttrFlags::OPTIONAL_TRANSITIVE);
                if transitive && flags.contains(AttrFlags::PARTIAL) {
                    self.attributes.partial.insert(code);
                }
                Ok(())
            }
            Err(Fault::Malformed(reason)) => {
                let error = AttrError::new(Some(code), row.malformed, reason);
                self.errors.push(error.with_data(data()));
                Ok(())
            }
            Err(Fault::Other(error)) => {
                self.errors.push(error.with_data(data()));
                Ok(())
            }
            Err(Fault::Reset(subcode, detail)) => Err(DecodeError::with_data(
                ErrorCode::UpdateMessage(subcode),
                data(),
                detail,
            )),
        }
    }

    fn unrecognized(&mut self, flags: AttrFlags, code: AttrType, value: &[u8], data: Bytes) {
        if !flags.contains(AttrFlags::OPTIONAL) {
            // RFC 4271 §6.3 reset the session here (Unrecognized Well-known Attribute). RFC
            // 7606 §1 prefers the least disruptive outcome: a well-known type we do not know
            // is, as far as we can tell, a flags error, so §3(c) treat-as-withdraw applies
            // (BIRD decides the same).
            let error = AttrError::new(
                Some(code),
                Action::TreatAsWithdraw,
                Reason::UnrecognizedWellKnown,
            );
            self.errors.push(error.with_data(data));
        } else if flags.contains(AttrFlags::TRANSITIVE) {
            // RFC 4271 §5: passed along (with Partial set when forwarded).
            let raw = RawAttribute {
                flags,
                type_code: code,
                value: self.body.slice_ref(value),
            };
            self.attributes.unknown.insert(raw);
        }
        // RFC 4271 §5: an unrecognized optional non-transitive attribute is quietly ignored.
    }

    fn finish(mut self, classic_nlri: bool) -> Result<Decoded, DecodeError> {
        if !self.params.four_octet_as {
            self.rebuild_as4();
        }
        let mp_nlri = self
            .mp_reach
            .as_ref()
            .is_some_and(|reach| !reach.is_empty());
        if classic_nlri || mp_nlri {
            // RFC 7606 §3(d): a missing well-known mandatory attribute is treat-as-withdraw;
            // NEXT_HOP is only mandatory for the NLRI field (RFC 4760 §3 makes it discretionary
            // otherwise).
            let next_hop = classic_nlri.then_some(AttrType::NEXT_HOP);
            for code in [Some(AttrType::ORIGIN), Some(AttrType::AS_PATH), next_hop]
                .into_iter()
                .flatten()
            {
                if !self.seen.contains(code) {
                    self.errors.push(AttrError::new(
                        Some(code),
                        Action::TreatAsWithdraw,
                        Reason::MissingWellKnown,
                    ));
                }
            }
        }
        // RFC 7606 §5.2: an UPDATE with attributes (other than MP_UNREACH_NLRI) but no
        // reachable NLRI may have lost its NLRI to the very error found, so any error
        // stronger than attribute discard resets the session.
        let reachable = classic_nlri || self.reach_seen;
        let serious = self
            .errors
            .iter()
            .any(|e| e.action > Action::AttributeDiscard);
        if !reachable && self.other_than_unreach && serious {
            return Err(DecodeError::new(
                ErrorCode::UpdateMessage(UpdateError::MalformedAttributeList),
                "malformed attribute in an UPDATE without reachable NLRI",
            ));
        }
        Ok(Decoded {
            attributes: self.attributes,
            mp_reach: self.mp_reach,
            mp_unreach: self.mp_unreach,
            errors: self.errors,
        })
    }

    /// RFC 6793 §4.2.3: the AS path and aggregator of a route from a 2-octet-AS speaker.
    fn rebuild_as4(&mut self) {
        let mut as4_path = self.as4_path.take();
        if let Some(as4_aggregator) = self.as4_aggregator.take() {
            match &mut self.attributes.aggregator {
                // An AGGREGATOR other than AS_TRANS means an OLD speaker aggregated the route
                // after AS4_PATH was built: AS4_AGGREGATOR and AS4_PATH are ignored.
                Some(aggregator) if aggregator.asn != Asn::TRANS => as4_path = None,
                Some(aggregator) => *aggregator = as4_aggregator,
                None => {}
            }
        }
        if let (Some(as4_path), Some(path)) = (as4_path, self.attributes.as_path.as_mut()) {
            // AS4_PATH with more AS numbers than AS_PATH is ignored.
            if let Some(merged) = path.merged_with_as4(&as4_path) {
                *path = merged;
            }
        }
    }
}
