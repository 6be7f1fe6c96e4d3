//! One descriptor row per recognized attribute type, in type code order (the encoding order of
//! RFC 4271 §5): the flags the type must carry, its decoder and encoder, and its RFC 7606
//! outcomes. Per-type decisions cite their section beside the row or in the decoder.

use std::net::Ipv4Addr;

use bytes::{BufMut, BytesMut};
use nom::number::complete::{be_u16, be_u32};
use nom::sequence::tuple;

use super::as_path::{AsPath, AsWidth};
use super::decode::AttrDecoder;
use super::mp::{MpFault, MpReach, MpUnreach};
use super::{
    put_header, Aggregator, AttrFlags, AttrType, Attributes, Community, ExtendedCommunity,
    LargeCommunity, LocalPref, MultiExitDisc, Origin,
};
use crate::error::EncodeError;
use crate::notification::UpdateError;
use crate::params::SessionParams;
use crate::types::{Asn, ClusterId, RouterId};
use crate::update::rfc7606::{Action, AttrError, Reason};

/// How decoding one attribute value went wrong.
pub(crate) enum Fault {
    /// The value is malformed; the row's `malformed` outcome applies.
    Malformed(Reason),
    /// An outcome decided by the decoder itself (cited there).
    Other(AttrError),
    /// RFC 4271 §6.3 / RFC 7606: close the session with this UPDATE Message Error subcode,
    /// the attribute as data.
    Reset(UpdateError, &'static str),
}

type Decoder = fn(&mut AttrDecoder<'_>, &[u8]) -> Result<(), Fault>;
type Encoder = fn(&Attributes, &SessionParams, &mut BytesMut) -> Result<(), EncodeError>;

pub(crate) struct Descriptor {
    pub code: AttrType,
    pub name: &'static str,
    /// The Optional and Transitive bits the type is defined with (RFC 4271 §5 and the type's
    /// RFC).
    pub flags: AttrFlags,
    /// RFC 7606 §3(c): conflicting Optional / Transitive bits.
    pub flags_error: Action,
    /// The outcome of [`Fault::Malformed`] (RFC 7606 §7 per type).
    pub malformed: Action,
    /// RFC 7606 §7.5, §7.9, §7.10: discarded when received from an external peer.
    pub internal_only: bool,
    /// Decode the value even after a flags conflict: MP_(UN)REACH_NLRI carry the routes that
    /// treat-as-withdraw must withdraw (RFC 7606 §5).
    pub decode_despite_flags_error: bool,
    pub decode: Decoder,
    /// `None` for MP_(UN)REACH_NLRI, which `Update` encodes first (RFC 7606 §5.1).
    pub encode: Option<Encoder>,
}

pub(crate) static TABLE: &[Descriptor] = &[
    Descriptor {
        code: AttrType::ORIGIN,
        name: "ORIGIN",
        flags: AttrFlags::WELL_KNOWN,
        flags_error: Action::TreatAsWithdraw,
        malformed: Action::TreatAsWithdraw, // RFC 7606 §7.1
        internal_only: false,
        decode_despite_flags_error: false,
        decode: decode_origin,
        encode: Some(encode_origin),
    },
    Descriptor {
        code: AttrType::AS_PATH,
        name: "AS_PATH",
        flags: AttrFlags::WELL_KNOWN,
        flags_error: Action::TreatAsWithdraw,
        malformed: Action::TreatAsWithdraw, // RFC 7606 §7.2
        internal_only: false,
        decode_despite_flags_error: false,
        decode: decode_as_path,
        encode: Some(encode_as_path),
    },
    Descriptor {
        code: AttrType::NEXT_HOP,
        name: "NEXT_HOP",
        flags: AttrFlags::WELL_KNOWN,
        flags_error: Action::TreatAsWithdraw,
        malformed: Action::TreatAsWithdraw, // RFC 7606 §7.3
        internal_only: false,
        decode_despite_flags_error: false,
        decode: decode_next_hop,
        encode: Some(encode_next_hop),
    },
    Descriptor {
        code: AttrType::MULTI_EXIT_DISC,
        name: "MULTI_EXIT_DISC",
        flags: AttrFlags::OPTIONAL_NON_TRANSITIVE,
        flags_error: Action::TreatAsWithdraw,
        malformed: Action::TreatAsWithdraw, // RFC 7606 §7.4
        internal_only: false,
        decode_despite_flags_error: false,
        decode: decode_multi_exit_disc,
        encode: Some(encode_multi_exit_disc),
    },
    Descriptor {
        code: AttrType::LOCAL_PREF,
        name: "LOCAL_PREF",
        flags: AttrFlags::WELL_KNOWN,
        flags_error: Action::TreatAsWithdraw,
        malformed: Action::TreatAsWithdraw, // RFC 7606 §7.5
        internal_only: true,
        decode_despite_flags_error: false,
        decode: decode_local_pref,
        encode: Some(encode_local_pref),
    },
    Descriptor {
        code: AttrType::ATOMIC_AGGREGATE,
        name: "ATOMIC_AGGREGATE",
        flags: AttrFlags::WELL_KNOWN,
        flags_error: Action::TreatAsWithdraw,
        malformed: Action::AttributeDiscard, // RFC 7606 §7.6
        internal_only: false,
        decode_despite_flags_error: false,
        decode: decode_atomic_aggregate,
        encode: Some(encode_atomic_aggregate),
    },
    Descriptor {
        code: AttrType::AGGREGATOR,
        name: "AGGREGATOR",
        flags: AttrFlags::OPTIONAL_TRANSITIVE,
        flags_error: Action::TreatAsWithdraw,
        malformed: Action::AttributeDiscard, // RFC 7606 §7.7
        internal_only: false,
        decode_despite_flags_error: false,
        decode: decode_aggregator,
        encode: Some(encode_aggregator),
    },
    Descriptor {
        code: AttrType::COMMUNITIES,
        name: "COMMUNITIES",
        flags: AttrFlags::OPTIONAL_TRANSITIVE,
        flags_error: Action::TreatAsWithdraw,
        malformed: Action::TreatAsWithdraw, // RFC 7606 §7.8
        internal_only: false,
        decode_despite_flags_error: false,
        decode: decode_communities,
        encode: Some(encode_communities),
    },
    Descriptor {
        code: AttrType::ORIGINATOR_ID,
        name: "ORIGINATOR_ID",
        flags: AttrFlags::OPTIONAL_NON_TRANSITIVE,
        flags_error: Action::TreatAsWithdraw,
        malformed: Action::TreatAsWithdraw, // RFC 7606 §7.9
        internal_only: true,
        decode_despite_flags_error: false,
        decode: decode_originator_id,
        encode: Some(encode_originator_id),
    },
    Descriptor {
        code: AttrType::CLUSTER_LIST,
        name: "CLUSTER_LIST",
        flags: AttrFlags::OPTIONAL_NON_TRANSITIVE,
        flags_error: Action::TreatAsWithdraw,
        malformed: Action::TreatAsWithdraw, // RFC 7606 §7.10
        internal_only: true,
        decode_despite_flags_error: false,
        decode: decode_cluster_list,
        encode: Some(encode_cluster_list),
    },
    Descriptor {
        code: AttrType::MP_REACH_NLRI,
        name: "MP_REACH_NLRI",
        flags: AttrFlags::OPTIONAL_NON_TRANSITIVE,
        flags_error: Action::TreatAsWithdraw,
        malformed: Action::AfiSafiDisable, // RFC 7606 §7.11, §5.3
        internal_only: false,
        decode_despite_flags_error: true,
        decode: decode_mp_reach,
        encode: None,
    },
    Descriptor {
        code: AttrType::MP_UNREACH_NLRI,
        name: "MP_UNREACH_NLRI",
        flags: AttrFlags::OPTIONAL_NON_TRANSITIVE,
        flags_error: Action::TreatAsWithdraw,
        malformed: Action::AfiSafiDisable, // RFC 7606 §5.3
        internal_only: false,
        decode_despite_flags_error: true,
        decode: decode_mp_unreach,
        encode: None,
    },
    Descriptor {
        code: AttrType::EXTENDED_COMMUNITIES,
        name: "EXTENDED_COMMUNITIES",
        flags: AttrFlags::OPTIONAL_TRANSITIVE,
        flags_error: Action::TreatAsWithdraw,
        malformed: Action::TreatAsWithdraw, // RFC 7606 §7.14
        internal_only: false,
        decode_despite_flags_error: false,
        decode: decode_extended_communities,
        encode: Some(encode_extended_communities),
    },
    Descriptor {
        code: AttrType::AS4_PATH,
        name: "AS4_PATH",
        flags: AttrFlags::OPTIONAL_TRANSITIVE,
        // RFC 6793 §6: AS4_PATH is handled by attribute discard, flags included.
        flags_error: Action::AttributeDiscard,
        malformed: Action::AttributeDiscard,
        internal_only: false,
        decode_despite_flags_error: false,
        decode: decode_as4_path,
        encode: Some(encode_as4_path),
    },
    Descriptor {
        code: AttrType::AS4_AGGREGATOR,
        name: "AS4_AGGREGATOR",
        flags: AttrFlags::OPTIONAL_TRANSITIVE,
        // RFC 6793 §6: AS4_AGGREGATOR is "just informational": attribute discard.
        flags_error: Action::AttributeDiscard,
        malformed: Action::AttributeDiscard,
        internal_only: false,
        decode_despite_flags_error: false,
        decode: decode_as4_aggregator,
        encode: Some(encode_as4_aggregator),
    },
    Descriptor {
        code: AttrType::LARGE_COMMUNITY,
        name: "LARGE_COMMUNITY",
        flags: AttrFlags::OPTIONAL_TRANSITIVE,
        flags_error: Action::TreatAsWithdraw,
        malformed: Action::TreatAsWithdraw, // RFC 8092 §6 (by RFC 7606)
        internal_only: false,
        decode_despite_flags_error: false,
        decode: decode_large_communities,
        encode: Some(encode_large_communities),
    },
];

/// The row of a recognized type.
pub(crate) fn descriptor(code: AttrType) -> Option<&'static Descriptor> {
    TABLE
        .binary_search_by_key(&code, |row| row.code)
        .ok()
        .map(|index| &TABLE[index])
}

/// The flags to send a recognized attribute with: its defined flags, plus Partial when it
/// arrived partial (RFC 4271 §5: never cleared once set).
fn flags_for(attributes: &Attributes, code: AttrType) -> AttrFlags {
    let defined = descriptor(code).map_or(AttrFlags::OPTIONAL, |row| row.flags);
    if defined.contains(AttrFlags::OPTIONAL_TRANSITIVE) && attributes.partial.contains(code) {
        defined.with(AttrFlags::PARTIAL)
    } else {
        defined
    }
}

fn put_attribute(
    attributes: &Attributes,
    code: AttrType,
    length: usize,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    put_header(out, flags_for(attributes, code), code, length)
}

const U32_LEN: usize = 4;
const IPV4_LEN: usize = 4;
/// AGGREGATOR with a 2-octet AS (RFC 4271 §5.1.7).
const AGGREGATOR_2_LEN: usize = 6;
/// AGGREGATOR on a 4-octet session, and AS4_AGGREGATOR (RFC 6793 §3, §4.1).
const AGGREGATOR_4_LEN: usize = 8;
/// RFC 6793 §6: an AS4_PATH shorter than one segment with one AS is malformed.
const AS4_PATH_MIN_LEN: usize = 6;

fn exact<const N: usize>(value: &[u8]) -> Result<[u8; N], Fault> {
    value
        .try_into()
        .map_err(|_| Fault::Malformed(Reason::BadLength))
}

fn u32_value(value: &[u8]) -> Result<u32, Fault> {
    exact::<U32_LEN>(value).map(u32::from_be_bytes)
}

/// Splits a list attribute into items of `N` octets; RFC 7606 §7.8, §7.10, §7.14 and RFC 8092
/// §6: the length must be a non-zero multiple of the item size.
fn items<const N: usize>(value: &[u8]) -> Result<impl Iterator<Item = [u8; N]> + '_, Fault> {
    if value.is_empty() || !value.len().is_multiple_of(N) {
        return Err(Fault::Malformed(Reason::BadLength));
    }
    Ok(value.chunks_exact(N).map(|chunk| {
        let mut item = [0u8; N];
        // `chunks_exact` yields exactly N octets.
        item.copy_from_slice(chunk);
        item
    }))
}

fn decode_origin(d: &mut AttrDecoder<'_>, value: &[u8]) -> Result<(), Fault> {
    let [octet] = exact::<1>(value)?;
    let origin = Origin::from_wire(octet).ok_or(Fault::Malformed(Reason::InvalidValue))?;
    d.attributes.origin = Some(origin);
    Ok(())
}

fn encode_origin(a: &Attributes, _: &SessionParams, out: &mut BytesMut) -> Result<(), EncodeError> {
    if let Some(origin) = a.origin {
        put_attribute(a, AttrType::ORIGIN, 1, out)?;
        out.put_u8(origin.to_wire());
    }
    Ok(())
}

/// RFC 7607 §2: AS 0 in AS_PATH, AS4_PATH, AGGREGATOR or AS4_AGGREGATOR makes it malformed.
const AS_ZERO: Asn = Asn(0);

fn decode_as_path(d: &mut AttrDecoder<'_>, value: &[u8]) -> Result<(), Fault> {
    let width = AsWidth::of_session(d.params.four_octet_as);
    let path = AsPath::decode(value, width).map_err(Fault::Malformed)?;
    if path.contains(AS_ZERO) {
        return Err(Fault::Malformed(Reason::MalformedAsPath));
    }
    // RFC 7606 §7.2 (revising RFC 5065 §5): confederation segments from a peer outside the
    // confederation are treat-as-withdraw. Starling has no confederation, so every external
    // peer is outside it.
    if d.params.external && path.has_confed_segments() {
        return Err(Fault::Malformed(Reason::ConfedSegmentFromExternalPeer));
    }
    // RFC 4271 §5.1.2(b): an external peer prepends its own AS, so an empty path from one is
    // malformed (§6.3 Malformed AS_PATH, treat-as-withdraw by RFC 7606 §7.2). Whether the
    // first AS is the peer's (the §6.3 MAY) is not checked: route servers leave it out.
    if d.params.external && path.is_empty() {
        return Err(Fault::Malformed(Reason::MalformedAsPath));
    }
    d.attributes.as_path = Some(path);
    Ok(())
}

fn encode_as_path(
    a: &Attributes,
    p: &SessionParams,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    if let Some(path) = &a.as_path {
        let width = AsWidth::of_session(p.four_octet_as);
        put_attribute(a, AttrType::AS_PATH, path.encoded_len(width), out)?;
        path.put(width, out);
    }
    Ok(())
}

fn decode_next_hop(d: &mut AttrDecoder<'_>, value: &[u8]) -> Result<(), Fault> {
    d.attributes.next_hop = Some(Ipv4Addr::from(exact::<IPV4_LEN>(value)?));
    Ok(())
}

fn encode_next_hop(
    a: &Attributes,
    _: &SessionParams,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    if let Some(next_hop) = a.next_hop {
        put_attribute(a, AttrType::NEXT_HOP, IPV4_LEN, out)?;
        out.put_slice(&next_hop.octets());
    }
    Ok(())
}

fn decode_multi_exit_disc(d: &mut AttrDecoder<'_>, value: &[u8]) -> Result<(), Fault> {
    d.attributes.multi_exit_disc = Some(MultiExitDisc(u32_value(value)?));
    Ok(())
}

fn encode_multi_exit_disc(
    a: &Attributes,
    _: &SessionParams,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    if let Some(MultiExitDisc(med)) = a.multi_exit_disc {
        put_attribute(a, AttrType::MULTI_EXIT_DISC, U32_LEN, out)?;
        out.put_u32(med);
    }
    Ok(())
}

fn decode_local_pref(d: &mut AttrDecoder<'_>, value: &[u8]) -> Result<(), Fault> {
    d.attributes.local_pref = Some(LocalPref(u32_value(value)?));
    Ok(())
}

fn encode_local_pref(
    a: &Attributes,
    _: &SessionParams,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    if let Some(LocalPref(local_pref)) = a.local_pref {
        put_attribute(a, AttrType::LOCAL_PREF, U32_LEN, out)?;
        out.put_u32(local_pref);
    }
    Ok(())
}

fn decode_atomic_aggregate(d: &mut AttrDecoder<'_>, value: &[u8]) -> Result<(), Fault> {
    exact::<0>(value)?;
    d.attributes.atomic_aggregate = true;
    Ok(())
}

fn encode_atomic_aggregate(
    a: &Attributes,
    _: &SessionParams,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    if a.atomic_aggregate {
        put_attribute(a, AttrType::ATOMIC_AGGREGATE, 0, out)?;
    }
    Ok(())
}

/// AGGREGATOR or AS4_AGGREGATOR: AS (2 or 4 octets) then IPv4 address.
fn aggregator_value(value: &[u8], width: AsWidth) -> Result<Aggregator, Fault> {
    let expected = match width {
        AsWidth::Two => AGGREGATOR_2_LEN,
        AsWidth::Four => AGGREGATOR_4_LEN,
    };
    if value.len() != expected {
        return Err(Fault::Malformed(Reason::BadLength));
    }
    let parsed = match width {
        AsWidth::Two => {
            tuple((be_u16::<_, ()>, be_u32))(value).map(|(_, (a, ip))| (u32::from(a), ip))
        }
        AsWidth::Four => tuple((be_u32::<_, ()>, be_u32))(value).map(|(_, pair)| pair),
    };
    let (asn, address) = parsed.map_err(|_| Fault::Malformed(Reason::BadLength))?;
    if Asn(asn) == AS_ZERO {
        return Err(Fault::Malformed(Reason::InvalidValue));
    }
    Ok(Aggregator {
        asn: Asn(asn),
        address: Ipv4Addr::from(address),
    })
}

fn decode_aggregator(d: &mut AttrDecoder<'_>, value: &[u8]) -> Result<(), Fault> {
    let width = AsWidth::of_session(d.params.four_octet_as);
    d.attributes.aggregator = Some(aggregator_value(value, width)?);
    Ok(())
}

fn encode_aggregator(
    a: &Attributes,
    p: &SessionParams,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    if let Some(aggregator) = a.aggregator {
        if p.four_octet_as {
            put_attribute(a, AttrType::AGGREGATOR, AGGREGATOR_4_LEN, out)?;
            out.put_u32(aggregator.asn.0);
        } else {
            // RFC 6793 §4.2.2: AS_TRANS here, the real AS in AS4_AGGREGATOR.
            put_attribute(a, AttrType::AGGREGATOR, AGGREGATOR_2_LEN, out)?;
            out.put_u16(aggregator.asn.to_two_octet());
        }
        out.put_slice(&aggregator.address.octets());
    }
    Ok(())
}

fn decode_communities(d: &mut AttrDecoder<'_>, value: &[u8]) -> Result<(), Fault> {
    let communities = items::<{ Community::LEN }>(value)?;
    d.attributes.communities = communities
        .map(|c| Community(u32::from_be_bytes(c)))
        .collect();
    Ok(())
}

fn encode_communities(
    a: &Attributes,
    _: &SessionParams,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    if !a.communities.is_empty() {
        put_attribute(
            a,
            AttrType::COMMUNITIES,
            a.communities.len() * Community::LEN,
            out,
        )?;
        a.communities.iter().for_each(|c| out.put_u32(c.0));
    }
    Ok(())
}

fn decode_originator_id(d: &mut AttrDecoder<'_>, value: &[u8]) -> Result<(), Fault> {
    d.attributes.originator_id = Some(RouterId(Ipv4Addr::from(exact::<IPV4_LEN>(value)?)));
    Ok(())
}

fn encode_originator_id(
    a: &Attributes,
    _: &SessionParams,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    if let Some(RouterId(id)) = a.originator_id {
        put_attribute(a, AttrType::ORIGINATOR_ID, IPV4_LEN, out)?;
        out.put_slice(&id.octets());
    }
    Ok(())
}

fn decode_cluster_list(d: &mut AttrDecoder<'_>, value: &[u8]) -> Result<(), Fault> {
    let ids = items::<IPV4_LEN>(value)?;
    d.attributes.cluster_list = ids.map(|id| ClusterId(Ipv4Addr::from(id))).collect();
    Ok(())
}

fn encode_cluster_list(
    a: &Attributes,
    _: &SessionParams,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    if !a.cluster_list.is_empty() {
        put_attribute(
            a,
            AttrType::CLUSTER_LIST,
            a.cluster_list.len() * IPV4_LEN,
            out,
        )?;
        a.cluster_list
            .iter()
            .for_each(|id| out.put_slice(&id.0.octets()));
    }
    Ok(())
}

/// The RFC 7606 outcome of a faulty MP_(UN)REACH_NLRI value.
fn mp_fault(code: AttrType, fault: MpFault) -> Fault {
    match fault {
        // Not even AFI/SAFI: no family can be disabled and the NLRI cannot be located
        // (RFC 7606 §5.3, §7.11), so RFC 4760 §7's session reset with Optional Attribute
        // Error is all that is left.
        MpFault::Truncated => Fault::Reset(
            UpdateError::OptionalAttributeError,
            "MP attribute too short",
        ),
        // RFC 4760 §7 lets a speaker ignore a family it did not negotiate; Starling speaks
        // only IPv4 and IPv6 unicast and never advertises others.
        MpFault::Unsupported => Fault::Other(AttrError::new(
            Some(code),
            Action::AttributeDiscard,
            Reason::UnsupportedFamily,
        )),
        MpFault::NextHopLength(family) => Fault::Other(
            AttrError::new(Some(code), Action::AfiSafiDisable, Reason::MpNextHopLength)
                .in_family(family),
        ),
        MpFault::Nlri(family) => Fault::Other(
            AttrError::new(Some(code), Action::AfiSafiDisable, Reason::MpNlri).in_family(family),
        ),
    }
}

fn decode_mp_reach(d: &mut AttrDecoder<'_>, value: &[u8]) -> Result<(), Fault> {
    d.reach_seen = true;
    let reach =
        MpReach::decode(value, d.params).map_err(|f| mp_fault(AttrType::MP_REACH_NLRI, f))?;
    d.mp_reach = Some(reach);
    Ok(())
}

fn decode_mp_unreach(d: &mut AttrDecoder<'_>, value: &[u8]) -> Result<(), Fault> {
    let unreach =
        MpUnreach::decode(value, d.params).map_err(|f| mp_fault(AttrType::MP_UNREACH_NLRI, f))?;
    d.mp_unreach = Some(unreach);
    Ok(())
}

fn decode_extended_communities(d: &mut AttrDecoder<'_>, value: &[u8]) -> Result<(), Fault> {
    let communities = items::<{ ExtendedCommunity::LEN }>(value)?;
    d.attributes.extended_communities = communities.map(ExtendedCommunity).collect();
    Ok(())
}

fn encode_extended_communities(
    a: &Attributes,
    _: &SessionParams,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    let communities = &a.extended_communities;
    if !communities.is_empty() {
        let length = communities.len() * ExtendedCommunity::LEN;
        put_attribute(a, AttrType::EXTENDED_COMMUNITIES, length, out)?;
        communities.iter().for_each(|c| out.put_slice(&c.0));
    }
    Ok(())
}

/// RFC 6793 §6: a 4-octet speaker discards AS4_PATH / AS4_AGGREGATOR from another 4-octet
/// speaker (and should log it, hence the error entry).
fn from_new_speaker(code: AttrType) -> Fault {
    Fault::Other(AttrError::new(
        Some(code),
        Action::AttributeDiscard,
        Reason::As4FromNewSpeaker,
    ))
}

fn decode_as4_path(d: &mut AttrDecoder<'_>, value: &[u8]) -> Result<(), Fault> {
    if d.params.four_octet_as {
        return Err(from_new_speaker(AttrType::AS4_PATH));
    }
    // RFC 6793 §6: too short for one AS, or bad segments: malformed.
    if value.len() < AS4_PATH_MIN_LEN {
        return Err(Fault::Malformed(Reason::BadLength));
    }
    let path = AsPath::decode(value, AsWidth::Four).map_err(Fault::Malformed)?;
    if path.contains(AS_ZERO) {
        return Err(Fault::Malformed(Reason::MalformedAsPath));
    }
    // RFC 6793 §6: confederation segments are dropped, the rest used, and the case logged.
    if path.has_confed_segments() {
        d.errors.push(AttrError::new(
            Some(AttrType::AS4_PATH),
            Action::AttributeDiscard,
            Reason::ConfedSegmentInAs4Path,
        ));
        d.as4_path = Some(path.without_confed());
    } else {
        d.as4_path = Some(path);
    }
    Ok(())
}

fn encode_as4_path(
    a: &Attributes,
    p: &SessionParams,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    // RFC 6793 §4.2.2: only towards an OLD speaker, only when some AS needs 4 octets, and
    // without confederation segments (§6).
    let Some(path) = a
        .as_path
        .as_ref()
        .filter(|path| !p.four_octet_as && path.needs_as4_path())
    else {
        return Ok(());
    };
    let path = path.without_confed();
    if !path.is_empty() {
        put_attribute(a, AttrType::AS4_PATH, path.encoded_len(AsWidth::Four), out)?;
        path.put(AsWidth::Four, out);
    }
    Ok(())
}

fn decode_as4_aggregator(d: &mut AttrDecoder<'_>, value: &[u8]) -> Result<(), Fault> {
    if d.params.four_octet_as {
        return Err(from_new_speaker(AttrType::AS4_AGGREGATOR));
    }
    d.as4_aggregator = Some(aggregator_value(value, AsWidth::Four)?);
    Ok(())
}

fn encode_as4_aggregator(
    a: &Attributes,
    p: &SessionParams,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    // RFC 6793 §4.2.2: only towards an OLD speaker and only for a 4-octet aggregator AS.
    if let Some(aggregator) = a
        .aggregator
        .filter(|g| !p.four_octet_as && !g.asn.is_two_octet())
    {
        put_attribute(a, AttrType::AS4_AGGREGATOR, AGGREGATOR_4_LEN, out)?;
        out.put_u32(aggregator.asn.0);
        out.put_slice(&aggregator.address.octets());
    }
    Ok(())
}

fn decode_large_communities(d: &mut AttrDecoder<'_>, value: &[u8]) -> Result<(), Fault> {
    let communities = items::<{ LargeCommunity::LEN }>(value)?;
    d.attributes.large_communities = communities
        .map(|c| {
            let word = |i: usize| u32::from_be_bytes([c[i], c[i + 1], c[i + 2], c[i + 3]]);
            LargeCommunity {
                global_admin: word(0),
                local_data_1: word(4),
                local_data_2: word(8),
            }
        })
        .collect();
    Ok(())
}

fn encode_large_communities(
    a: &Attributes,
    _: &SessionParams,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    let communities = &a.large_communities;
    if !communities.is_empty() {
        let length = communities.len() * LargeCommunity::LEN;
        put_attribute(a, AttrType::LARGE_COMMUNITY, length, out)?;
        for c in communities {
            out.put_u32(c.global_admin);
            out.put_u32(c.local_data_1);
            out.put_u32(c.local_data_2);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_by_type_code() {
        assert!(TABLE.windows(2).all(|pair| pair[0].code < pair[1].code));
        assert_eq!(
            descriptor(AttrType::LARGE_COMMUNITY).map(|row| row.name),
            Some("LARGE_COMMUNITY")
        );
        assert!(descriptor(AttrType(99)).is_none());
    }
}
