//! What the load generator puts on the wire and how little it reads back.
//!
//! Outgoing messages are encoded once, before a run, with `proto`'s encoder and UPDATE builder
//! (RFC 4271 §4): a [`Batch`] is one contiguous buffer of whole messages plus, for each
//! message, the range of prefix indexes it carries, so the engine can stamp when every prefix
//! left. Incoming UPDATEs are only walked far enough to find their prefixes (RFC 4271 §4.3
//! Withdrawn Routes and NLRI, RFC 4760 §3/§4 MP_REACH_NLRI / MP_UNREACH_NLRI): no attribute is
//! decoded, so the receiver stays far cheaper than the daemon under test.
//!
//! Prefixes live in a [`PrefixSpace`]: `count` prefixes of one length laid side by side from a
//! base address, so a prefix maps back to its index by arithmetic and a receiver's table is a
//! bitmap.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use bytes::{Bytes, BytesMut};
use ipnet::{Ipv4Net, Ipv6Net};
use proto::attr::{AsPath, Attributes, Ipv6NextHop, LocalPref, Origin};
use proto::capability::Capability;
use proto::header::{MessageType, HEADER_LEN};
use proto::message::Message;
use proto::nlri::Nlri;
use proto::open::{HoldTime, Open};
use proto::update::{Announce, Update, UpdateBuilder, Withdraw};
use proto::{AfiSafi, Asn, RouterId, SessionParams};

use crate::error::{LabError, Result};

/// Offset of the Length field in the header (RFC 4271 §4.1: 16-octet marker first).
const LENGTH_OFFSET: usize = 16;
/// Offset of the Type field in the header.
const TYPE_OFFSET: usize = 18;
/// Size of the UPDATE's two length fields (Withdrawn Routes Length, Total Path Attribute
/// Length), RFC 4271 §4.3.
const UPDATE_LENGTH_LEN: usize = 2;
/// Attribute flag: the length field is two octets (RFC 4271 §4.3).
const EXTENDED_LENGTH: u8 = 0x10;
/// Attribute type codes the receiver looks for (RFC 4760 §3, §4).
const MP_REACH_NLRI: u8 = 14;
const MP_UNREACH_NLRI: u8 = 15;
/// AFI (2) + SAFI (1) at the start of MP_(UN)REACH_NLRI.
const FAMILY_LEN: usize = 3;
/// The LOCAL_PREF every generated route carries (RFC 4271 §5.1.5; iBGP only).
const LOCAL_PREF: u32 = 100;

/// `count` prefixes of length `len` laid one after the other from `base`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixSpace {
    pub family: AfiSafi,
    /// The first prefix's address, as an integer (IPv4 in the low 32 bits).
    pub base: u128,
    pub len: u8,
    pub count: u32,
}

impl PrefixSpace {
    /// IPv4 prefixes of length `len` from `base`.
    pub fn ipv4(base: Ipv4Addr, len: u8, count: u32) -> PrefixSpace {
        PrefixSpace {
            family: AfiSafi::Ipv4Unicast,
            base: u128::from(u32::from(base)),
            len,
            count,
        }
    }

    /// IPv6 prefixes of length `len` from `base`.
    pub fn ipv6(base: Ipv6Addr, len: u8, count: u32) -> PrefixSpace {
        PrefixSpace {
            family: AfiSafi::Ipv6Unicast,
            base: u128::from(base),
            len,
            count,
        }
    }

    fn address_bits(&self) -> u32 {
        match self.family {
            AfiSafi::Ipv4Unicast => u32::BITS,
            AfiSafi::Ipv6Unicast => u128::BITS,
        }
    }

    /// Distance between two consecutive prefixes, as a shift.
    fn step_shift(&self) -> u32 {
        self.address_bits() - u32::from(self.len)
    }

    /// The address of prefix `index`.
    fn address(&self, index: u32) -> u128 {
        self.base + (u128::from(index) << self.step_shift())
    }

    pub fn ipv4_prefix(&self, index: u32) -> Result<Ipv4Net> {
        let address = u32::try_from(self.address(index))
            .map_err(|_| LabError::Invalid(format!("prefix {index} leaves IPv4")))?;
        Ipv4Net::new(Ipv4Addr::from(address), self.len)
            .map_err(|e| LabError::Invalid(format!("prefix length: {e}")))
    }

    pub fn ipv6_prefix(&self, index: u32) -> Result<Ipv6Net> {
        Ipv6Net::new(Ipv6Addr::from(self.address(index)), self.len)
            .map_err(|e| LabError::Invalid(format!("prefix length: {e}")))
    }

    /// The index of a prefix given as it appears in NLRI (length, then the significant
    /// octets); `None` for a prefix outside the space.
    pub fn index_of(&self, len: u8, octets: &[u8]) -> Option<u32> {
        if len != self.len {
            return None;
        }
        let width = usize::try_from(self.address_bits() / u8::BITS).ok()?;
        let mut address: u128 = 0;
        for position in 0..width {
            address =
                (address << u8::BITS) | u128::from(octets.get(position).copied().unwrap_or(0));
        }
        let offset = address.checked_sub(self.base)?;
        let index = u32::try_from(offset >> self.step_shift()).ok()?;
        (index < self.count && self.address(index) == address).then_some(index)
    }
}

/// Whole messages in one buffer, and the prefix indexes each one carries.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub bytes: Bytes,
    /// For each message: the offset just past it in `bytes`, and its prefix indexes.
    pub marks: Vec<(usize, Range<u32>)>,
}

impl Batch {
    pub fn prefixes(&self) -> u64 {
        self.marks
            .iter()
            .map(|(_, r)| u64::from(r.end - r.start))
            .sum()
    }

    /// Concatenates several batches into one (one large write instead of many).
    pub fn concat(batches: &[Batch]) -> Batch {
        let mut bytes = BytesMut::new();
        let mut marks = Vec::new();
        for batch in batches {
            let start = bytes.len();
            bytes.extend_from_slice(&batch.bytes);
            marks.extend(batch.marks.iter().map(|(end, r)| (start + end, r.clone())));
        }
        Batch {
            bytes: bytes.freeze(),
            marks,
        }
    }
}

/// The parameters every generated session negotiates: 4-octet AS (all four daemons offer it),
/// no extended messages (the generator does not offer them), no ADD-PATH, iBGP.
pub fn session_params() -> SessionParams {
    let mut params = SessionParams::plain(false);
    params.four_octet_as = true;
    params
}

/// The OPEN the generator sends: multiprotocol for `family` (RFC 4760 §8), 4-octet AS
/// (RFC 6793 §3), route refresh (RFC 2918 §2).
pub fn open(asn: Asn, router_id: Ipv4Addr, hold_time: u16, family: AfiSafi) -> Result<Bytes> {
    let capabilities = vec![
        Capability::Multiprotocol {
            afi: family.afi(),
            safi: family.safi(),
        },
        Capability::RouteRefresh,
        Capability::FourOctetAs(asn),
    ];
    let message = Message::Open(Open::new(
        asn,
        HoldTime(hold_time),
        RouterId(router_id),
        capabilities,
    ));
    encode(&message, &SessionParams::plain(false))
}

/// An End-of-RIB (RFC 4724 §2) for `family`, as a batch without prefixes.
pub fn end_of_rib(family: AfiSafi) -> Result<Batch> {
    Ok(Batch {
        bytes: encode(
            &Message::Update(Update::end_of_rib(family)),
            &session_params(),
        )?,
        marks: Vec::new(),
    })
}

/// A KEEPALIVE (RFC 4271 §4.4).
pub fn keepalive() -> Result<Bytes> {
    encode(&Message::Keepalive, &SessionParams::plain(false))
}

fn encode(message: &Message, params: &SessionParams) -> Result<Bytes> {
    let mut out = BytesMut::new();
    message
        .encode(params, &mut out)
        .map_err(|e| LabError::Invalid(format!("encode {:?}: {e}", message.message_type())))?;
    Ok(out.freeze())
}

/// iBGP attributes of every generated route: ORIGIN IGP, empty AS_PATH (RFC 4271 §5.1.2: iBGP
/// does not prepend), NEXT_HOP the sender (IPv4 only; IPv6 carries it in MP_REACH_NLRI),
/// LOCAL_PREF 100.
fn attributes(next_hop: IpAddr) -> Attributes {
    Attributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::new(Vec::new())),
        next_hop: match next_hop {
            IpAddr::V4(address) => Some(address),
            IpAddr::V6(_) => None,
        },
        local_pref: Some(LocalPref(LOCAL_PREF)),
        ..Attributes::default()
    }
}

/// UPDATEs announcing prefixes `range` of `space` with next hop `next_hop`.
pub fn announce(space: &PrefixSpace, range: Range<u32>, next_hop: IpAddr) -> Result<Batch> {
    let builder = UpdateBuilder::new(&session_params());
    let attributes = attributes(next_hop);
    let messages = match (space.family, next_hop) {
        (AfiSafi::Ipv4Unicast, IpAddr::V4(_)) => {
            let nlri = range
                .clone()
                .map(|i| space.ipv4_prefix(i).map(|p| Nlri::new(p, None)))
                .collect::<Result<Vec<_>>>()?;
            builder.announce(&attributes, Announce::Ipv4(&nlri))
        }
        (AfiSafi::Ipv6Unicast, IpAddr::V6(global)) => {
            let nlri = range
                .clone()
                .map(|i| space.ipv6_prefix(i).map(|p| Nlri::new(p, None)))
                .collect::<Result<Vec<_>>>()?;
            let next_hop = Ipv6NextHop {
                global,
                link_local: None,
            };
            builder.announce(
                &attributes,
                Announce::Ipv6 {
                    next_hop,
                    nlri: &nlri,
                },
            )
        }
        _ => {
            return Err(LabError::Invalid(format!(
                "next hop {next_hop} does not match {}",
                space.family.name()
            )))
        }
    }
    .map_err(|e| LabError::Invalid(format!("build announcements: {e}")))?;
    batch(space, range.start, &messages)
}

/// UPDATEs withdrawing prefixes `range` of `space`.
pub fn withdraw(space: &PrefixSpace, range: Range<u32>) -> Result<Batch> {
    let builder = UpdateBuilder::new(&session_params());
    let messages = match space.family {
        AfiSafi::Ipv4Unicast => {
            let nlri = range
                .clone()
                .map(|i| space.ipv4_prefix(i).map(|p| Nlri::new(p, None)))
                .collect::<Result<Vec<_>>>()?;
            builder.withdraw(Withdraw::Ipv4(&nlri))
        }
        AfiSafi::Ipv6Unicast => {
            let nlri = range
                .clone()
                .map(|i| space.ipv6_prefix(i).map(|p| Nlri::new(p, None)))
                .collect::<Result<Vec<_>>>()?;
            builder.withdraw(Withdraw::Ipv6(&nlri))
        }
    }
    .map_err(|e| LabError::Invalid(format!("build withdrawals: {e}")))?;
    batch(space, range.start, &messages)
}

/// Joins `messages` (which carry consecutive prefixes from `first`, in order: the builder
/// packs them so) into a batch, counting each message's prefixes with the receiver's walk.
fn batch(space: &PrefixSpace, first: u32, messages: &[Bytes]) -> Result<Batch> {
    let mut bytes = BytesMut::new();
    let mut marks = Vec::with_capacity(messages.len());
    let mut next = first;
    for message in messages {
        let mut carried: u32 = 0;
        walk_update(message, space.family, |_, _, _| carried += 1)
            .ok_or_else(|| LabError::Invalid("the builder made an unreadable UPDATE".into()))?;
        bytes.extend_from_slice(message);
        marks.push((bytes.len(), next..next + carried));
        next += carried;
    }
    Ok(Batch {
        bytes: bytes.freeze(),
        marks,
    })
}

/// One framed message: its type code and the whole frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub message_type: Option<MessageType>,
    pub bytes: &'a [u8],
}

/// Cuts the next whole message off the front of `data`; `Ok(None)` when more bytes are needed,
/// an error when the header's length is impossible (RFC 4271 §6.1).
pub fn next_frame(data: &[u8]) -> Result<Option<Frame<'_>>> {
    let Some(header) = data.get(..HEADER_LEN) else {
        return Ok(None);
    };
    let length = usize::from(u16::from_be_bytes([
        header[LENGTH_OFFSET],
        header[LENGTH_OFFSET + 1],
    ]));
    if length < HEADER_LEN {
        return Err(LabError::parse("BGP header length", length));
    }
    Ok(data.get(..length).map(|bytes| Frame {
        message_type: MessageType::from_wire(header[TYPE_OFFSET]),
        bytes,
    }))
}

/// Calls `visit(announced, len, octets)` for every prefix of `family` an UPDATE frame announces
/// (`true`) or withdraws (`false`). `None` when the UPDATE is malformed.
pub fn walk_update(
    frame: &[u8],
    family: AfiSafi,
    mut visit: impl FnMut(bool, u8, &[u8]),
) -> Option<()> {
    let body = frame.get(HEADER_LEN..)?;
    let withdrawn_len = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
    let withdrawn = body.get(UPDATE_LENGTH_LEN..UPDATE_LENGTH_LEN + withdrawn_len)?;
    let rest = body.get(UPDATE_LENGTH_LEN + withdrawn_len..)?;
    let attributes_len = usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
    let attributes = rest.get(UPDATE_LENGTH_LEN..UPDATE_LENGTH_LEN + attributes_len)?;
    let nlri = rest.get(UPDATE_LENGTH_LEN + attributes_len..)?;
    match family {
        AfiSafi::Ipv4Unicast => {
            walk_prefixes(withdrawn, |len, octets| visit(false, len, octets))?;
            walk_prefixes(nlri, |len, octets| visit(true, len, octets))?;
        }
        AfiSafi::Ipv6Unicast => walk_mp(attributes, &mut visit)?,
    }
    Some(())
}

/// Finds MP_REACH_NLRI / MP_UNREACH_NLRI among the path attributes and walks their NLRI.
fn walk_mp(mut attributes: &[u8], visit: &mut impl FnMut(bool, u8, &[u8])) -> Option<()> {
    while !attributes.is_empty() {
        let flags = *attributes.first()?;
        let type_code = *attributes.get(1)?;
        let (len, header) = if flags & EXTENDED_LENGTH != 0 {
            (
                usize::from(u16::from_be_bytes([
                    *attributes.get(2)?,
                    *attributes.get(3)?,
                ])),
                4,
            )
        } else {
            (usize::from(*attributes.get(2)?), 3)
        };
        let value = attributes.get(header..header + len)?;
        match type_code {
            MP_REACH_NLRI => {
                // AFI, SAFI, next hop length, next hop, one reserved octet, then NLRI.
                let next_hop_len = usize::from(*value.get(FAMILY_LEN)?);
                let nlri = value.get(FAMILY_LEN + 1 + next_hop_len + 1..)?;
                walk_prefixes(nlri, |len, octets| visit(true, len, octets))?;
            }
            MP_UNREACH_NLRI => {
                let nlri = value.get(FAMILY_LEN..)?;
                walk_prefixes(nlri, |len, octets| visit(false, len, octets))?;
            }
            _ => {}
        }
        attributes = attributes.get(header + len..)?;
    }
    Some(())
}

/// Walks `<length, prefix>` entries (RFC 4271 §4.3), no path identifiers.
fn walk_prefixes(mut data: &[u8], mut visit: impl FnMut(u8, &[u8])) -> Option<()> {
    while let Some((&len, rest)) = data.split_first() {
        let octets = usize::from(len).div_ceil(8);
        visit(len, rest.get(..octets)?);
        data = rest.get(octets..)?;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_round_trip(space: PrefixSpace, next_hop: IpAddr) {
        let batch = announce(&space, 0..space.count, next_hop).expect("announce");
        let mut seen = vec![false; space.count as usize];
        let mut rest: &[u8] = &batch.bytes;
        while let Some(frame) = next_frame(rest).expect("frame") {
            walk_update(frame.bytes, space.family, |announced, len, octets| {
                assert!(announced);
                let index = space.index_of(len, octets).expect("in space");
                seen[index as usize] = true;
            })
            .expect("walk");
            rest = &rest[frame.bytes.len()..];
        }
        assert!(rest.is_empty());
        assert!(seen.iter().all(|s| *s));
        assert_eq!(batch.prefixes(), u64::from(space.count));
        assert_eq!(batch.marks.last().map(|m| m.0), Some(batch.bytes.len()));
    }

    #[test]
    fn announcements_walk_back_to_their_indexes() {
        check_round_trip(
            PrefixSpace::ipv4(Ipv4Addr::new(16, 0, 0, 0), 24, 5000),
            IpAddr::V4(Ipv4Addr::new(10, 255, 0, 2)),
        );
        check_round_trip(
            PrefixSpace::ipv6("fd20::".parse().expect("literal"), 48, 3000),
            IpAddr::V6("fd00:255::2".parse().expect("literal")),
        );
    }

    #[test]
    fn withdrawals_walk_as_withdrawn() {
        let space = PrefixSpace::ipv4(Ipv4Addr::new(10, 0, 0, 0), 26, 100);
        let batch = withdraw(&space, 10..20).expect("withdraw");
        let mut indexes = Vec::new();
        let frame = next_frame(&batch.bytes).expect("frame").expect("whole");
        walk_update(frame.bytes, space.family, |announced, len, octets| {
            assert!(!announced);
            indexes.extend(space.index_of(len, octets));
        });
        assert_eq!(indexes, (10..20).collect::<Vec<_>>());
    }

    #[test]
    fn index_of_rejects_foreign_prefixes() {
        let space = PrefixSpace::ipv4(Ipv4Addr::new(10, 0, 0, 0), 26, 4);
        let check = |len: u8, octets: &[u8], expected: Option<u32>| {
            assert_eq!(space.index_of(len, octets), expected, "{len} {octets:?}");
        };
        check(26, &[10, 0, 0, 0], Some(0));
        check(26, &[10, 0, 0, 192], Some(3));
        check(26, &[10, 0, 1, 0], None); // index 4: past the end
        check(24, &[10, 0, 0], None); // other length
        check(26, &[9, 255, 255, 192], None); // below the base
    }
}
