//! The prefix table: one record per destination holding every path to it, which is at once
//! the Adj-RIBs-In (each neighbor's routes as received, before import policy), the Loc-RIB
//! (what import accepted, with the decision process's verdict on each path) and the input of
//! every update group's Adj-RIB-Out (RFC 4271 §3.2 describes three RIBs; here they are views
//! of one table, as in BIRD).
//!
//! Destinations live in a dense, segmented vector indexed by [`PrefixId`] and are found by
//! prefix through a hash index holding only ids, so a route costs one record of
//! [`Destination`] (56 octets with one path) plus a few octets of index, and the table grows
//! a segment at a time instead of by copying. Ids of destinations that are gone are reused.
//!
//! The table does not order prefixes: listings sort what they show (`query`), and walks go
//! in id order.

mod queue;

use std::hash::BuildHasher;

use hashbrown::HashTable;
use ipnet::IpNet;
use proto::PathId;

use crate::attrs::Attrs;
use crate::decision::Reason;
use crate::types::{PeerId, RouteSource};

pub(crate) use queue::{Decided, DecidedPath, Decisions, Priority};

/// A destination's place in the table. Stable while the destination exists; reused after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct PrefixId(pub u32);

impl PrefixId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// What the last decision made of a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PathState {
    /// Added or changed since the last decision.
    Pending,
    /// The best path.
    Best,
    /// Installed beside the best for ECMP; it lost to the best at `Reason` (a tie-break).
    Multipath(Reason),
    /// Not selected; eliminated at `Reason`.
    NotSelected(Reason),
}

/// Destinations per segment: the table grows by this many at a time.
const SEGMENT: usize = 4096;

/// A path's source in four octets: a neighbor's id, or [`LOCAL_SOURCE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Source(u32);

/// The id the local source takes. The daemon numbers neighbors from 0 upwards and never
/// reaches it.
const LOCAL_SOURCE: u32 = u32::MAX;

impl Source {
    pub const LOCAL: Source = Source(LOCAL_SOURCE);

    pub fn peer(id: PeerId) -> Source {
        Source(id.0)
    }

    pub fn route_source(self) -> RouteSource {
        if self.0 == LOCAL_SOURCE {
            RouteSource::Local
        } else {
            RouteSource::Peer(PeerId(self.0))
        }
    }
}

impl From<RouteSource> for Source {
    fn from(source: RouteSource) -> Source {
        match source {
            RouteSource::Local => Source::LOCAL,
            RouteSource::Peer(id) => Source::peer(id),
        }
    }
}

/// Flags of a [`Path`].
pub(crate) mod path_flags {
    /// Import rejected the route: it is in the Adj-RIB-In only.
    pub const REJECTED: u8 = 1;
    /// Kept from before the neighbor's graceful restart and not received again (RFC 4724 §4.2).
    pub const STALE: u8 = 1 << 1;
    /// In the long-lived phase: imported with LLGR_STALE attached (RFC 9494 §4.3).
    pub const LONG_LIVED: u8 = 1 << 2;
    /// Not announced again since the neighbor's Beginning of Route Refresh (RFC 7313 §4).
    pub const REFRESHING: u8 = 1 << 3;
}

/// One path to a destination: a neighbor's route (with its ADD-PATH identifier) or the local
/// route.
#[derive(Debug, Clone)]
pub(crate) struct Path {
    pub source: Source,
    /// The path identifier the neighbor gave it (RFC 7911), `PathId(0)` without ADD-PATH.
    pub received_id: PathId,
    /// The identifier we send it with to ADD-PATH neighbors; stable while the path lives.
    pub sent_id: PathId,
    pub state: PathState,
    pub flags: u8,
    /// The attributes as received (the Adj-RIB-In). For a local route, as originated.
    pub received: Attrs,
    /// The attributes after import policy when it changed them; `None` with
    /// [`path_flags::REJECTED`] clear means import kept them as received.
    pub modified: Option<Attrs>,
}

impl Path {
    pub fn new(source: Source, received_id: PathId, received: Attrs) -> Path {
        Path {
            source,
            received_id,
            sent_id: PathId(0),
            state: PathState::Pending,
            flags: 0,
            received,
            modified: None,
        }
    }

    /// The attributes in the Loc-RIB; `None` when import rejected the route.
    pub fn imported(&self) -> Option<&Attrs> {
        if self.has(path_flags::REJECTED) {
            None
        } else {
            Some(self.modified.as_ref().unwrap_or(&self.received))
        }
    }

    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    pub fn set(&mut self, flag: u8, on: bool) {
        if on {
            self.flags |= flag;
        } else {
            self.flags &= !flag;
        }
    }

    /// Sets the import result: `Ok(None)` accepted as received, `Ok(Some)` accepted modified,
    /// `Err` rejected. Returns whether what the Loc-RIB holds changed.
    pub fn set_import(&mut self, imported: Result<Option<Attrs>, ()>) -> bool {
        let before = self.imported().cloned();
        match imported {
            Ok(modified) => {
                self.set(path_flags::REJECTED, false);
                self.modified = modified;
            }
            Err(()) => {
                self.set(path_flags::REJECTED, true);
                self.modified = None;
            }
        }
        !same_attrs(before.as_ref(), self.imported())
    }
}

/// Interned attributes compare by identity.
pub(crate) fn same_attrs(a: Option<&Attrs>, b: Option<&Attrs>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => std::sync::Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

/// The paths of one destination: one inline (the common case), more on the heap.
#[derive(Debug, Clone)]
pub(crate) enum Paths {
    One(Path),
    Many(Vec<Path>),
}

impl Default for Paths {
    fn default() -> Self {
        Paths::Many(Vec::new())
    }
}

impl Paths {
    pub fn as_slice(&self) -> &[Path] {
        match self {
            Paths::One(path) => std::slice::from_ref(path),
            Paths::Many(paths) => paths,
        }
    }

    pub fn as_mut_slice(&mut self) -> &mut [Path] {
        match self {
            Paths::One(path) => std::slice::from_mut(path),
            Paths::Many(paths) => paths,
        }
    }

    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    pub fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Path> {
        self.as_slice().iter()
    }

    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, Path> {
        self.as_mut_slice().iter_mut()
    }

    pub fn push(&mut self, path: Path) {
        match std::mem::take(self) {
            Paths::Many(mut paths) if !paths.is_empty() => {
                paths.push(path);
                *self = Paths::Many(paths);
            }
            Paths::Many(_) => *self = Paths::One(path),
            Paths::One(first) => *self = Paths::Many(vec![first, path]),
        }
    }

    pub fn remove(&mut self, index: usize) -> Path {
        match std::mem::take(self) {
            Paths::One(path) => path,
            Paths::Many(mut paths) => {
                let removed = paths.remove(index);
                *self = match paths.len() {
                    1 => Paths::One(paths.remove(0)),
                    _ => Paths::Many(paths),
                };
                removed
            }
        }
    }

    /// Keeps the paths `keep` holds for, returning how many went.
    pub fn retain(&mut self, mut keep: impl FnMut(&Path) -> bool) -> usize {
        let before = self.len();
        match std::mem::take(self) {
            Paths::One(path) => {
                if keep(&path) {
                    *self = Paths::One(path);
                }
            }
            Paths::Many(mut paths) => {
                paths.retain(|path| keep(path));
                *self = match paths.len() {
                    1 => Paths::One(paths.remove(0)),
                    _ => Paths::Many(paths),
                };
            }
        }
        before - self.len()
    }

    pub fn position(&self, source: Source, received_id: PathId) -> Option<usize> {
        self.iter()
            .position(|p| p.source == source && p.received_id == received_id)
    }

    /// The smallest path identifier to send that no path uses. Identifiers start at 1 so that
    /// 0 never appears on the wire, which some receivers treat specially.
    pub fn free_sent_id(&self) -> PathId {
        let mut id = 1;
        while self.iter().any(|p| p.sent_id == PathId(id)) {
            id += 1;
        }
        PathId(id)
    }
}

/// Flags of a [`Destination`].
pub(crate) mod destination_flags {
    /// In the urgent decision queue.
    pub const URGENT: u8 = 1;
    /// In the bulk decision queue.
    pub const BULK: u8 = 1 << 1;
    /// Empty and waiting until no update group member may still need its withdrawal
    /// (`Rib::collect_graves`).
    pub const GRAVE: u8 = 1 << 2;
}

/// Every path to one prefix.
#[derive(Debug, Clone)]
pub(crate) struct Destination {
    pub prefix: IpNet,
    pub flags: u8,
    /// While queued for a decision: the index of its [`Decided`] snapshot in the queue.
    /// Otherwise: the decision epoch of its last change (members that fell behind are sent
    /// what changed since their epoch).
    pub aux: u32,
    pub paths: Paths,
}

impl Destination {
    fn new(prefix: IpNet, epoch: u32) -> Destination {
        Destination {
            prefix,
            flags: 0,
            aux: epoch,
            paths: Paths::default(),
        }
    }

    pub fn queued(&self) -> bool {
        self.flags & (destination_flags::URGENT | destination_flags::BULK) != 0
    }

    pub fn is_grave(&self) -> bool {
        self.flags & destination_flags::GRAVE != 0
    }
}

/// The table.
#[derive(Debug)]
pub(crate) struct Table {
    index: HashTable<PrefixId>,
    hasher: foldhash::fast::RandomState,
    segments: Vec<Vec<Option<Destination>>>,
    /// Ids of slots that are empty.
    free: Vec<PrefixId>,
    len: usize,
}

impl Default for Table {
    fn default() -> Self {
        Table {
            index: HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
            segments: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl Table {
    /// Destinations held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// One more than the highest id in use.
    pub fn id_bound(&self) -> usize {
        self.segments.iter().map(Vec::len).sum()
    }

    fn hash(&self, prefix: &IpNet) -> u64 {
        hash_prefix(&self.hasher, prefix)
    }

    fn slot(&self, id: PrefixId) -> Option<&Destination> {
        self.segments
            .get(id.index() / SEGMENT)?
            .get(id.index() % SEGMENT)?
            .as_ref()
    }

    fn slot_mut(&mut self, id: PrefixId) -> &mut Option<Destination> {
        &mut self.segments[id.index() / SEGMENT][id.index() % SEGMENT]
    }

    pub fn lookup(&self, prefix: &IpNet) -> Option<PrefixId> {
        let hash = self.hash(prefix);
        self.index
            .find(hash, |&id| {
                self.slot(id).is_some_and(|d| d.prefix == *prefix)
            })
            .copied()
    }

    pub fn get(&self, id: PrefixId) -> Option<&Destination> {
        self.slot(id)
    }

    pub fn get_mut(&mut self, id: PrefixId) -> Option<&mut Destination> {
        self.segments
            .get_mut(id.index() / SEGMENT)?
            .get_mut(id.index() % SEGMENT)?
            .as_mut()
    }

    /// The destination of `prefix` (truncated by the caller), created empty when absent.
    pub fn entry(&mut self, prefix: IpNet, epoch: u32) -> PrefixId {
        let hash = self.hash(&prefix);
        let found = self
            .index
            .find(hash, |&id| {
                self.slot(id).is_some_and(|d| d.prefix == prefix)
            })
            .copied();
        if let Some(id) = found {
            if let Some(destination) = self.get_mut(id) {
                // A destination waiting to be freed is alive again.
                destination.flags &= !destination_flags::GRAVE;
            }
            return id;
        }
        if self.index.len() == self.index.capacity() {
            self.grow_index();
        }
        let id = match self.free.pop() {
            Some(id) => {
                *self.slot_mut(id) = Some(Destination::new(prefix, epoch));
                id
            }
            None => {
                if self.segments.last().is_none_or(|s| s.len() == SEGMENT) {
                    self.segments.push(Vec::with_capacity(SEGMENT));
                }
                let number = self.segments.len() - 1;
                let segment = &mut self.segments[number];
                let id = PrefixId((number * SEGMENT + segment.len()) as u32);
                segment.push(Some(Destination::new(prefix, epoch)));
                id
            }
        };
        self.len += 1;
        let (segments, hasher) = (&self.segments, &self.hasher);
        // `grow_index` made room: the closure (rehashing on growth) is not called.
        self.index.insert_unique(hash, id, |&other| {
            let prefix = segments[other.index() / SEGMENT][other.index() % SEGMENT]
                .as_ref()
                .map(|d| d.prefix);
            hash_prefix(hasher, &prefix.unwrap_or_default())
        });
        id
    }

    /// Doubles the index by inserting every destination again in id order: the destinations
    /// are read in sequence, where a rehash in bucket order would read them at random.
    fn grow_index(&mut self) {
        let mut index = HashTable::with_capacity((self.index.capacity() * 2).max(64));
        for (id, destination) in self.iter() {
            let hash = self.hash(&destination.prefix);
            index.insert_unique(hash, id, |_| hash);
        }
        self.index = index;
    }

    /// Removes the destination; its id may be reused.
    pub fn remove(&mut self, id: PrefixId) {
        let Some(destination) = self.slot_mut(id).take() else {
            return;
        };
        let hash = self.hash(&destination.prefix);
        if let Ok(entry) = self.index.find_entry(hash, |&other| other == id) {
            entry.remove();
        }
        self.free.push(id);
        self.len -= 1;
        if self.len == 0 {
            // A burst gone (a neighbor's full table) would leave its segments behind.
            *self = Table {
                hasher: std::mem::take(&mut self.hasher),
                ..Table::default()
            };
        }
    }

    /// Every destination, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (PrefixId, &Destination)> {
        self.segments
            .iter()
            .enumerate()
            .flat_map(|(number, segment)| {
                segment
                    .iter()
                    .enumerate()
                    .filter_map(move |(offset, slot)| {
                        slot.as_ref()
                            .map(|d| (PrefixId((number * SEGMENT + offset) as u32), d))
                    })
            })
    }

    /// Every destination from `start` on, in id order.
    pub fn iter_from(&self, start: PrefixId) -> impl Iterator<Item = (PrefixId, &Destination)> {
        let (first, offset) = (start.index() / SEGMENT, start.index() % SEGMENT);
        self.segments
            .iter()
            .enumerate()
            .skip(first)
            .flat_map(move |(number, segment)| {
                let skip = if number == first { offset } else { 0 };
                segment
                    .iter()
                    .enumerate()
                    .skip(skip)
                    .filter_map(move |(offset, slot)| {
                        slot.as_ref()
                            .map(|d| (PrefixId((number * SEGMENT + offset) as u32), d))
                    })
            })
    }

    /// Octets the table's own structures occupy (for the memory bound tests).
    pub fn heap_bytes(&self) -> usize {
        let slots: usize = self.segments.iter().map(Vec::capacity).sum();
        let extra: usize = self
            .iter()
            .map(|(_, d)| match &d.paths {
                Paths::Many(paths) => paths.capacity() * std::mem::size_of::<Path>(),
                Paths::One(_) => 0,
            })
            .sum();
        slots * std::mem::size_of::<Option<Destination>>()
            + self.index.capacity() * (std::mem::size_of::<PrefixId>() + 1)
            + self.free.capacity() * std::mem::size_of::<PrefixId>()
            + extra
    }
}

/// A prefix hashed as one integer (the derived `Hash` feeds the hasher field by field).
fn hash_prefix(hasher: &foldhash::fast::RandomState, prefix: &IpNet) -> u64 {
    match prefix {
        IpNet::V4(net) => {
            hasher.hash_one(u64::from(u32::from(net.addr())) << 8 | u64::from(net.prefix_len()))
        }
        IpNet::V6(net) => hasher.hash_one((u128::from(net.addr()), net.prefix_len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> IpNet {
        text.parse().expect("test prefix")
    }

    #[test]
    fn a_destination_is_small() {
        assert!(std::mem::size_of::<Option<Destination>>() <= 56);
        assert!(std::mem::size_of::<Path>() <= 32);
    }

    #[test]
    fn ids_are_found_by_prefix_and_reused() {
        let mut table = Table::default();
        let a = table.entry(net("10.0.0.0/24"), 0);
        let b = table.entry(net("fd00::/48"), 0);
        assert_ne!(a, b);
        assert_eq!(table.entry(net("10.0.0.0/24"), 0), a);
        assert_eq!(table.lookup(&net("fd00::/48")), Some(b));
        assert_eq!(table.lookup(&net("10.0.1.0/24")), None);
        table.remove(a);
        assert_eq!(table.lookup(&net("10.0.0.0/24")), None);
        let c = table.entry(net("10.0.2.0/24"), 0);
        assert_eq!(c, a, "a freed id is reused");
        assert_eq!(table.len(), 2);
        assert_eq!(
            table.iter().map(|(_, d)| d.prefix).collect::<Vec<_>>(),
            vec![net("10.0.2.0/24"), net("fd00::/48")]
        );
    }

    #[test]
    fn the_table_grows_by_segments() {
        let mut table = Table::default();
        for i in 0..(SEGMENT as u32 * 2 + 5) {
            let prefix = IpNet::V4(
                ipnet::Ipv4Net::new(std::net::Ipv4Addr::from(i << 8), 24).expect("a /24"),
            );
            table.entry(prefix, 0);
        }
        assert_eq!(table.segments.len(), 3);
        assert!(table.segments.iter().all(|s| s.capacity() == SEGMENT));
        let start = PrefixId(SEGMENT as u32 - 1);
        assert_eq!(table.iter_from(start).count(), SEGMENT + 6);
    }
}
