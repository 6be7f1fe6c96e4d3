//! Read-only views for `bgpctl show routes` and `show neighbors`: the Loc-RIB with each path's
//! decision state, a neighbor's Adj-RIB-In (received, before import policy) and the
//! Adj-RIB-Out of its update group (advertised). The iterators borrow the tables; nothing is
//! copied.

use std::ops::Bound;

use ipnet::IpNet;
use proto::PathId;

use crate::attrs::PathAttrs;
use crate::loc_rib::PathState;
use crate::peer::KeyBounds;
use crate::rib::Rib;
use crate::types::{GroupId, PeerId, RouteSource};

/// One path of the Loc-RIB.
#[derive(Debug, Clone, Copy)]
pub struct RouteView<'a> {
    pub prefix: IpNet,
    pub source: RouteSource,
    /// The path identifier the neighbor gave it (RFC 7911), `PathId(0)` without ADD-PATH.
    pub path_id: PathId,
    /// The attributes after import policy; the next hop is `attrs.next_hop`.
    pub attrs: &'a PathAttrs,
    pub state: PathState,
}

impl RouteView<'_> {
    pub fn best(&self) -> bool {
        self.state == PathState::Best
    }
}

/// One route of an Adj-RIB-In or Adj-RIB-Out.
#[derive(Debug, Clone, Copy)]
pub struct AdjRibRoute<'a> {
    pub prefix: IpNet,
    pub path_id: PathId,
    /// As received (Adj-RIB-In) or as sent (Adj-RIB-Out).
    pub attrs: &'a PathAttrs,
    /// Adj-RIB-In: import accepted it. Adj-RIB-Out: always true.
    pub accepted: bool,
}

/// Counters of one neighbor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerSummary {
    pub received: usize,
    pub accepted: usize,
    /// Routes in the neighbor's update group's Adj-RIB-Out.
    pub advertised: usize,
    pub group: GroupId,
}

/// Counters of one update group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupSummary {
    pub id: GroupId,
    pub members: usize,
    pub advertised: usize,
    /// Encoded UPDATEs kept for members that are behind.
    pub log_messages: usize,
    pub log_bytes: usize,
}

/// Which part of a table a listing covers, in prefix order. `After` resumes a listing that
/// is served in chunks (a daemon streaming a large table to `bgpctl` without holding it whole).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    All,
    /// One prefix.
    Prefix(IpNet),
    /// Every prefix ordered after this one.
    After(IpNet),
}

impl From<Option<IpNet>> for Listing {
    fn from(prefix: Option<IpNet>) -> Listing {
        prefix.map_or(Listing::All, Listing::Prefix)
    }
}

fn key_bounds(listing: impl Into<Listing>) -> KeyBounds {
    match listing.into() {
        Listing::Prefix(prefix) => {
            let prefix = prefix.trunc();
            (
                Bound::Included((prefix, PathId(0))),
                Bound::Included((prefix, PathId(u32::MAX))),
            )
        }
        Listing::After(prefix) => (
            Bound::Excluded((prefix.trunc(), PathId(u32::MAX))),
            Bound::Unbounded,
        ),
        Listing::All => (Bound::Unbounded, Bound::Unbounded),
    }
}

fn prefix_bounds(listing: impl Into<Listing>) -> (Bound<IpNet>, Bound<IpNet>) {
    match listing.into() {
        Listing::Prefix(prefix) => (
            Bound::Included(prefix.trunc()),
            Bound::Included(prefix.trunc()),
        ),
        Listing::After(prefix) => (Bound::Excluded(prefix.trunc()), Bound::Unbounded),
        Listing::All => (Bound::Unbounded, Bound::Unbounded),
    }
}

impl Rib {
    /// The Loc-RIB, in prefix order; one prefix only when `prefix` is given.
    pub fn routes(&self, prefix: Option<IpNet>) -> impl Iterator<Item = RouteView<'_>> {
        self.routes_listing(prefix.into())
    }

    /// The part of the Loc-RIB that `listing` names.
    pub fn routes_listing(&self, listing: Listing) -> impl Iterator<Item = RouteView<'_>> {
        self.loc_rib
            .table
            .range(prefix_bounds(listing))
            .flat_map(|(prefix, destination)| {
                destination.paths.iter().map(move |path| RouteView {
                    prefix: *prefix,
                    source: path.source,
                    path_id: path.received_id,
                    attrs: &path.attrs,
                    state: path.state,
                })
            })
    }

    /// What `peer` sent us, before import policy.
    pub fn received(
        &self,
        peer: PeerId,
        prefix: Option<IpNet>,
    ) -> impl Iterator<Item = AdjRibRoute<'_>> {
        self.received_listing(peer, prefix.into())
    }

    /// The part of `peer`'s Adj-RIB-In that `listing` names.
    pub fn received_listing(
        &self,
        peer: PeerId,
        listing: Listing,
    ) -> impl Iterator<Item = AdjRibRoute<'_>> {
        let source = RouteSource::Peer(peer);
        self.peers
            .get(&peer)
            .into_iter()
            .flat_map(move |p| p.adj_rib_in.range(key_bounds(listing)))
            .map(move |(&(prefix, path_id), attrs)| AdjRibRoute {
                prefix,
                path_id,
                attrs,
                accepted: self.loc_rib.table.get(&prefix).is_some_and(|d| {
                    d.paths
                        .iter()
                        .any(|path| path.source == source && path.received_id == path_id)
                }),
            })
    }

    /// What we advertise to `peer`: its update group's Adj-RIB-Out.
    pub fn advertised(
        &self,
        peer: PeerId,
        prefix: Option<IpNet>,
    ) -> impl Iterator<Item = AdjRibRoute<'_>> {
        self.advertised_listing(peer, prefix.into())
    }

    /// The part of `peer`'s Adj-RIB-Out that `listing` names.
    pub fn advertised_listing(
        &self,
        peer: PeerId,
        listing: Listing,
    ) -> impl Iterator<Item = AdjRibRoute<'_>> {
        self.peers
            .get(&peer)
            .and_then(|p| self.groups.get(&p.group))
            .into_iter()
            .flat_map(move |group| group.table.routes.range(key_bounds(listing)))
            .filter_map(|(&(prefix, path_id), entry)| {
                entry.attrs.as_deref().map(|attrs| AdjRibRoute {
                    prefix,
                    path_id,
                    attrs,
                    accepted: true,
                })
            })
    }

    /// Counters of an established neighbor.
    pub fn peer_summary(&self, peer: PeerId) -> Option<PeerSummary> {
        let p = self.peers.get(&peer)?;
        Some(PeerSummary {
            received: p.adj_rib_in.len(),
            accepted: p.accepted,
            advertised: self.groups.get(&p.group).map_or(0, |g| g.table.announced),
            group: p.group,
        })
    }

    /// The update groups.
    pub fn groups(&self) -> impl Iterator<Item = GroupSummary> + '_ {
        self.groups.values().map(|group| GroupSummary {
            id: group.id,
            members: group.members.len(),
            advertised: group.table.announced,
            log_messages: group.table.log.len(),
            log_bytes: group.table.log.bytes(),
        })
    }

    /// The update group of `peer`.
    pub fn group_of(&self, peer: PeerId) -> Option<GroupId> {
        self.peers.get(&peer).map(|p| p.group)
    }
}
