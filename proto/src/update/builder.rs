//! Packing many prefixes that share one attribute set into as few UPDATE messages as the
//! session's maximum message size allows (4096 octets, RFC 4271 §4.1; 65535 with RFC 8654).
//! The attributes are encoded once, then prefixes are appended until a message is full. Each
//! message carries one kind of route field only (RFC 7606 §5.1), and MP_REACH_NLRI /
//! MP_UNREACH_NLRI come first among the attributes.
//!
//! The messages of one call share a single buffer; each is a complete message (header
//! included) as `Bytes`, ready for every peer of an update group.

use std::ops::Range;

use bytes::{BufMut, Bytes, BytesMut};
use ipnet::{Ipv4Net, Ipv6Net};

use crate::attr::mp::{
    check_ipv4_next_hop, put_reach_head, put_unreach_head, reach_head_len, FAMILY_LEN,
};
use crate::attr::{AttrFlags, AttrType, Attributes, Ipv6NextHop, NextHop};
use crate::error::EncodeError;
use crate::header::{begin_message, finish_message, MessageType, HEADER_LEN};
use crate::nlri::{self, Nlri, Prefix};
use crate::params::SessionParams;
use crate::types::AfiSafi;

/// Both UPDATE length fields (RFC 4271 §4.3).
const LENGTH_FIELDS_LEN: usize = 4;
/// An attribute header with the Extended Length flag: flags, type, 2-octet length. The
/// builder always uses it for MP_(UN)REACH_NLRI, whose length is only known once full.
const LONG_HEADER_LEN: usize = 4;

/// Routes to announce with one attribute set.
#[derive(Debug, Clone, Copy)]
pub enum Announce<'a> {
    /// IPv4 unicast in the NLRI field, next hop in `attributes.next_hop` (RFC 4271 §5.1.3).
    Ipv4(&'a [Nlri<Ipv4Net>]),
    /// IPv4 unicast in MP_REACH_NLRI (RFC 4760), e.g. with an IPv6 next hop (RFC 8950).
    Ipv4Mp {
        next_hop: NextHop,
        nlri: &'a [Nlri<Ipv4Net>],
    },
    /// IPv6 unicast in MP_REACH_NLRI (RFC 4760, RFC 2545).
    Ipv6 {
        next_hop: Ipv6NextHop,
        nlri: &'a [Nlri<Ipv6Net>],
    },
}

/// Routes to withdraw.
#[derive(Debug, Clone, Copy)]
pub enum Withdraw<'a> {
    /// IPv4 unicast in the Withdrawn Routes field.
    Ipv4(&'a [Nlri<Ipv4Net>]),
    /// IPv6 unicast in MP_UNREACH_NLRI.
    Ipv6(&'a [Nlri<Ipv6Net>]),
}

/// Builds UPDATE messages for one set of session parameters (one update group).
#[derive(Debug, Clone, Copy)]
pub struct UpdateBuilder {
    params: SessionParams,
}

impl UpdateBuilder {
    pub fn new(params: &SessionParams) -> UpdateBuilder {
        UpdateBuilder { params: *params }
    }

    /// Messages announcing `routes` with `attributes`. Their NEXT_HOP is sent with
    /// [`Announce::Ipv4`] only; the MP_REACH_NLRI forms carry their own next hop. No routes,
    /// no messages.
    pub fn announce(
        &self,
        attributes: &Attributes,
        routes: Announce<'_>,
    ) -> Result<Vec<Bytes>, EncodeError> {
        // RFC 4760 §3: an UPDATE whose only NLRI are in MP_REACH_NLRI should not carry
        // NEXT_HOP, so it is left out of those.
        let skip = match routes {
            Announce::Ipv4(_) => None,
            Announce::Ipv4Mp { .. } | Announce::Ipv6 { .. } => Some(AttrType::NEXT_HOP),
        };
        let mut encoded = BytesMut::new();
        attributes.encode_except(&self.params, &mut encoded, skip)?;
        match routes {
            Announce::Ipv4(nlri) => self.announce_classic(&encoded, nlri),
            Announce::Ipv4Mp { next_hop, nlri } => {
                check_ipv4_next_hop(&next_hop, &self.params)?;
                self.announce_mp(&encoded, AfiSafi::Ipv4Unicast, next_hop, nlri)
            }
            Announce::Ipv6 { next_hop, nlri } => {
                let next_hop = NextHop::Ipv6(next_hop);
                self.announce_mp(&encoded, AfiSafi::Ipv6Unicast, next_hop, nlri)
            }
        }
    }

    /// Messages withdrawing `routes`. No routes, no messages.
    pub fn withdraw(&self, routes: Withdraw<'_>) -> Result<Vec<Bytes>, EncodeError> {
        match routes {
            Withdraw::Ipv4(nlri) => self.withdraw_classic(nlri),
            Withdraw::Ipv6(nlri) => self.withdraw_mp(AfiSafi::Ipv6Unicast, nlri),
        }
    }

    fn add_path(&self, family: AfiSafi) -> bool {
        self.params.sends_path_id(family)
    }

    /// Octets left for prefixes once `fixed` octets of a message are spoken for.
    fn room(&self, fixed: usize) -> Result<usize, EncodeError> {
        let max = self.params.max_message_len();
        max.checked_sub(fixed)
            .filter(|&room| room > 0)
            .ok_or(EncodeError::TooLarge { length: fixed, max })
    }

    fn announce_classic(
        &self,
        attributes: &[u8],
        nlri: &[Nlri<Ipv4Net>],
    ) -> Result<Vec<Bytes>, EncodeError> {
        nlri::check_path_ids(nlri, self.add_path(AfiSafi::Ipv4Unicast))?;
        let room = self.room(HEADER_LEN + LENGTH_FIELDS_LEN + attributes.len())?;
        // `room` is positive, so the total path attribute length fits 16 bits.
        let attribute_len = attributes.len() as u16;
        self.pack(nlri, room, |out, fill| {
            out.put_u16(0); // no withdrawn routes
            out.put_u16(attribute_len);
            out.put_slice(attributes);
            fill(out);
        })
    }

    fn announce_mp<P: Prefix>(
        &self,
        attributes: &[u8],
        family: AfiSafi,
        next_hop: NextHop,
        nlri: &[Nlri<P>],
    ) -> Result<Vec<Bytes>, EncodeError> {
        nlri::check_path_ids(nlri, self.add_path(family))?;
        let head_len = reach_head_len(next_hop);
        let room = self
            .room(HEADER_LEN + LENGTH_FIELDS_LEN + LONG_HEADER_LEN + head_len + attributes.len())?;
        self.pack(nlri, room, |out, fill| {
            out.put_u16(0); // no withdrawn routes
            let attributes_at = out.len();
            out.put_u16(0);
            put_long_header(out, AttrType::MP_REACH_NLRI);
            let value_at = out.len();
            put_reach_head(family, next_hop, out);
            fill(out);
            patch_u16(out, value_at - 2, out.len() - value_at);
            out.put_slice(attributes);
            patch_u16(out, attributes_at, out.len() - attributes_at - 2);
        })
    }

    fn withdraw_classic(&self, nlri: &[Nlri<Ipv4Net>]) -> Result<Vec<Bytes>, EncodeError> {
        nlri::check_path_ids(nlri, self.add_path(AfiSafi::Ipv4Unicast))?;
        let room = self.room(HEADER_LEN + LENGTH_FIELDS_LEN)?;
        self.pack(nlri, room, |out, fill| {
            let withdrawn_at = out.len();
            out.put_u16(0);
            fill(out);
            patch_u16(out, withdrawn_at, out.len() - withdrawn_at - 2);
            out.put_u16(0); // no path attributes
        })
    }

    fn withdraw_mp<P: Prefix>(
        &self,
        family: AfiSafi,
        nlri: &[Nlri<P>],
    ) -> Result<Vec<Bytes>, EncodeError> {
        nlri::check_path_ids(nlri, self.add_path(family))?;
        let room = self.room(HEADER_LEN + LENGTH_FIELDS_LEN + LONG_HEADER_LEN + FAMILY_LEN)?;
        self.pack(nlri, room, |out, fill| {
            out.put_u16(0); // no withdrawn routes
            let attributes_at = out.len();
            out.put_u16(0);
            put_long_header(out, AttrType::MP_UNREACH_NLRI);
            let value_at = out.len();
            put_unreach_head(family, out);
            fill(out);
            patch_u16(out, value_at - 2, out.len() - value_at);
            patch_u16(out, attributes_at, out.len() - attributes_at - 2);
        })
    }

    /// Writes messages until every entry is placed. `body` writes one message body around
    /// the prefixes that `fill` appends (at most `room` octets of them).
    fn pack<P: Prefix>(
        &self,
        entries: &[Nlri<P>],
        room: usize,
        mut body: impl FnMut(&mut BytesMut, &mut dyn FnMut(&mut BytesMut)),
    ) -> Result<Vec<Bytes>, EncodeError> {
        let max = self.params.max_message_len();
        // Prefix octets, plus the fixed part of each message (`max - room`: the header and the
        // attributes), plus the scratch room `nlri::put_all` writes past the last entry. Exact
        // enough that a small UPDATE does not keep a message-sized buffer alive: every message
        // is a slice of this one allocation, held as long as any of them is (in a group's log,
        // a walk, a writer's queue).
        let total = nlri::encoded_len(entries);
        let messages = total / room + 1;
        let mut out =
            BytesMut::with_capacity(total + messages * (max - room) + nlri::MAX_ENTRY_WRITE);
        let mut ranges: Vec<Range<usize>> = Vec::new();
        let mut next = 0;
        while next < entries.len() {
            let start = begin_message(&mut out, MessageType::Update);
            let before = next;
            body(&mut out, &mut |out| next = fill(entries, before, room, out));
            if next == before {
                // Not even one prefix fits beside the attributes.
                let length = max - room + entries[before].encoded_len();
                return Err(EncodeError::TooLarge { length, max });
            }
            finish_message(&mut out, start, max)?;
            ranges.push(start..out.len());
        }
        let out = out.freeze();
        Ok(ranges.into_iter().map(|range| out.slice(range)).collect())
    }
}

/// Appends entries from `entries[next..]` while they fit in `room` octets; returns the index
/// of the first entry not written.
fn fill<P: Prefix>(entries: &[Nlri<P>], next: usize, room: usize, out: &mut BytesMut) -> usize {
    let mut left = room;
    let mut end = next;
    while let Some(entry) = entries.get(end) {
        let length = entry.encoded_len();
        if length > left {
            break;
        }
        left -= length;
        end += 1;
    }
    nlri::put_all(&entries[next..end], out);
    end
}

/// An optional non-transitive attribute header with a 2-octet length to be patched.
fn put_long_header(out: &mut BytesMut, code: AttrType) {
    out.put_u8(
        AttrFlags::OPTIONAL_NON_TRANSITIVE
            .with(AttrFlags::EXTENDED_LENGTH)
            .0,
    );
    out.put_u8(code.0);
    out.put_u16(0);
}

/// Writes `value` at `at`. Every length patched here is bounded by the message size, which is
/// at most 65535.
fn patch_u16(out: &mut BytesMut, at: usize, value: usize) {
    out[at..at + 2].copy_from_slice(&(value as u16).to_be_bytes());
}
