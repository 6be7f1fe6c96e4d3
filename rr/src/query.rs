//! Read-only views for `bgpctl show routes` and `show neighbors`: the Loc-RIB with each path's
//! decision state, a neighbor's Adj-RIB-In (received, before import policy) and what its
//! update group advertises (the export of the decided paths, computed on demand: the
//! Adj-RIB-Out is implicit).
//!
//! The table does not keep prefixes in order, so a listing first takes the sorted prefixes of
//! what it shows ([`Rib::listing`]) and then reads each one ([`Rib::routes_at`],
//! [`Rib::received_at`], [`Rib::advertised_at`]); a daemon streaming a large table in chunks
//! keeps the prefixes and reads a chunk at a time.

use ipnet::IpNet;
use proto::PathId;

use crate::attrs::{Attrs, PathAttrs};
use crate::group::{decided_paths, Exporter};
use crate::rib::Rib;
use crate::table::{PathState, Source};
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
#[derive(Debug, Clone)]
pub struct AdjRibRoute {
    pub prefix: IpNet,
    pub path_id: PathId,
    /// As received (Adj-RIB-In) or as sent (Adj-RIB-Out).
    pub attrs: Attrs,
    /// Adj-RIB-In: import accepted it. Adj-RIB-Out: always true.
    pub accepted: bool,
}

/// Counters of one neighbor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerSummary {
    pub received: usize,
    pub accepted: usize,
    /// Routes its update group advertises.
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

/// Which part of a table a listing covers, in prefix order. `After` resumes a listing.
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

impl Listing {
    fn covers(&self, prefix: &IpNet) -> bool {
        match self {
            Listing::All => true,
            Listing::Prefix(wanted) => wanted.trunc() == *prefix,
            Listing::After(after) => *prefix > after.trunc(),
        }
    }
}

/// The table a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableView {
    /// The Loc-RIB, every path (`show routes`); with a neighbor, only its paths.
    LocRib(Option<PeerId>),
    /// What the neighbor sent (`--received`).
    Received(PeerId),
    /// What the neighbor's update group advertises (`--advertised`).
    Advertised(PeerId),
}

impl Rib {
    /// The prefixes `listing` covers that have something in `view`, in order.
    pub fn listing(&self, view: TableView, listing: Listing) -> Vec<IpNet> {
        let group = match view {
            TableView::Advertised(peer) => match self.peers.get(&peer) {
                Some(peer) => self.groups.get(&peer.group),
                None => return Vec::new(),
            },
            _ => None,
        };
        let mut prefixes: Vec<IpNet> = self
            .table
            .iter()
            .filter(|(_, d)| listing.covers(&d.prefix))
            .filter(|(id, d)| match view {
                TableView::LocRib(None) => d.paths.iter().any(|p| p.imported().is_some()),
                TableView::LocRib(Some(peer)) => d
                    .paths
                    .iter()
                    .any(|p| p.source == Source::peer(peer) && p.imported().is_some()),
                TableView::Received(peer) => d.paths.iter().any(|p| p.source == Source::peer(peer)),
                TableView::Advertised(_) => group.is_some_and(|g| g.advertised.get(*id)),
            })
            .map(|(_, d)| d.prefix)
            .collect();
        prefixes.sort_unstable();
        prefixes
    }

    /// The Loc-RIB paths of one prefix.
    pub fn routes_at(&self, prefix: &IpNet) -> impl Iterator<Item = RouteView<'_>> {
        let prefix = *prefix;
        self.table
            .lookup(&prefix.trunc())
            .and_then(|id| self.table.get(id))
            .into_iter()
            .flat_map(move |destination| {
                destination.paths.iter().filter_map(move |path| {
                    Some(RouteView {
                        prefix: destination.prefix,
                        source: path.source.route_source(),
                        path_id: path.received_id,
                        attrs: path.imported()?,
                        state: path.state,
                    })
                })
            })
    }

    /// The Loc-RIB, in prefix order; one prefix only when `prefix` is given.
    pub fn routes(&self, prefix: Option<IpNet>) -> impl Iterator<Item = RouteView<'_>> {
        self.listing(TableView::LocRib(None), prefix.into())
            .into_iter()
            .flat_map(move |prefix| self.routes_at(&prefix).collect::<Vec<_>>())
    }

    /// What `peer` sent us for one prefix, before import policy.
    pub fn received_at(&self, peer: PeerId, prefix: &IpNet) -> Vec<AdjRibRoute> {
        let source = Source::peer(peer);
        self.table
            .lookup(&prefix.trunc())
            .and_then(|id| self.table.get(id))
            .into_iter()
            .flat_map(|destination| {
                destination
                    .paths
                    .iter()
                    .filter(|p| p.source == source)
                    .map(|path| AdjRibRoute {
                        prefix: destination.prefix,
                        path_id: path.received_id,
                        attrs: path.received.clone(),
                        accepted: path.imported().is_some(),
                    })
            })
            .collect()
    }

    /// What `peer` sent us, before import policy, in prefix order.
    pub fn received(
        &self,
        peer: PeerId,
        prefix: Option<IpNet>,
    ) -> impl Iterator<Item = AdjRibRoute> + '_ {
        self.listing(TableView::Received(peer), prefix.into())
            .into_iter()
            .flat_map(move |prefix| self.received_at(peer, &prefix))
    }

    /// What we advertise to `peer` for one prefix: its update group's export of the decided
    /// paths.
    pub fn advertised_at(&self, peer: PeerId, prefix: &IpNet) -> Vec<AdjRibRoute> {
        let Some(group) = self
            .peers
            .get(&peer)
            .and_then(|p| self.groups.get(&p.group))
        else {
            return Vec::new();
        };
        let Some((id, destination)) = self
            .table
            .lookup(&prefix.trunc())
            .and_then(|id| Some((id, self.table.get(id)?)))
        else {
            return Vec::new();
        };
        if !group.advertised.get(id) {
            return Vec::new();
        }
        let mut exporter = Exporter::new(&self.speaker, group.key());
        // A listing does not change the interner: what it computes is only shown.
        let mut interner = crate::attrs::Interner::default();
        let paths = decided_paths(&self.decisions, &self.peers, destination);
        exporter
            .view(&mut interner, &destination.prefix, paths.into_iter())
            .into_iter()
            .map(|(path_id, attrs)| AdjRibRoute {
                prefix: destination.prefix,
                path_id,
                attrs,
                accepted: true,
            })
            .collect()
    }

    /// What we advertise to `peer`, in prefix order.
    pub fn advertised(
        &self,
        peer: PeerId,
        prefix: Option<IpNet>,
    ) -> impl Iterator<Item = AdjRibRoute> + '_ {
        self.listing(TableView::Advertised(peer), prefix.into())
            .into_iter()
            .flat_map(move |prefix| self.advertised_at(peer, &prefix))
    }

    /// Counters of an established neighbor.
    pub fn peer_summary(&self, peer: PeerId) -> Option<PeerSummary> {
        let p = self.peers.get(&peer)?;
        Some(PeerSummary {
            received: p.received,
            accepted: p.accepted,
            advertised: self.groups.get(&p.group).map_or(0, |g| g.advertised.routes),
            group: p.group,
        })
    }

    /// Neighbors established or restarting.
    pub fn peers_up(&self) -> usize {
        self.peers.len()
    }

    /// The update groups.
    pub fn groups(&self) -> impl Iterator<Item = GroupSummary> + '_ {
        self.groups.values().map(|group| GroupSummary {
            id: group.id,
            members: group.members.len(),
            advertised: group.advertised.routes,
            log_messages: group.log.len(),
            log_bytes: group.log.bytes(),
        })
    }

    /// The update group of `peer`.
    pub fn group_of(&self, peer: PeerId) -> Option<GroupId> {
        self.peers.get(&peer).map(|p| p.group)
    }

    /// Destinations in the table and octets its structures hold (for memory figures).
    pub fn table_size(&self) -> (usize, usize) {
        (self.table.len(), self.table.heap_bytes())
    }
}
