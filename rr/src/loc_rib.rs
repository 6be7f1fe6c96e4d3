//! The Loc-RIB (RFC 4271 §3.2): per prefix, every usable path (what import accepted from each
//! neighbor and ADD-PATH path identifier, and the local route), the state the decision process
//! gave each, and what is installed in the FIB. Changes only queue the prefix; decisions run in
//! batches ([`LocRib::pop_pending`]) so that a flapping neighbor costs one decision per prefix
//! per batch and cannot starve the others (the queue is first in, first out, and a queued
//! prefix is not queued twice).

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;

use ipnet::IpNet;
use proto::PathId;
use smallvec::SmallVec;

use crate::attrs::Attrs;
use crate::decision::Reason;
use crate::types::RouteSource;

/// Queue capacity kept once the queue is empty.
const QUEUE_KEPT_CAPACITY: usize = 1024;

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

/// One path to a prefix.
#[derive(Debug, Clone)]
pub(crate) struct Path {
    pub source: RouteSource,
    /// The path identifier the neighbor gave it (RFC 7911), `PathId(0)` without ADD-PATH.
    pub received_id: PathId,
    /// The path identifier we send it with to ADD-PATH neighbors; stable while the path lives.
    pub sent_id: PathId,
    /// The attributes after import policy.
    pub attrs: Attrs,
    pub state: PathState,
}

/// Next hops installed in the FIB for a prefix.
pub(crate) type NextHops = SmallVec<[IpAddr; 1]>;

/// All paths to one prefix.
#[derive(Debug, Clone, Default)]
pub(crate) struct Destination {
    pub paths: SmallVec<[Path; 1]>,
    /// In the decision queue.
    pub queued: bool,
    /// What the FIB holds for this prefix (only tracked when routes are installed). Boxed: a
    /// pure reflector installs nothing and should not pay for it in every destination.
    pub installed: Option<Box<NextHops>>,
}

impl Destination {
    pub fn best(&self) -> Option<&Path> {
        self.paths.iter().find(|p| p.state == PathState::Best)
    }

    /// The smallest path identifier to send that no path of this prefix uses. Identifiers start
    /// at 1 so that 0 never appears on the wire, which some receivers treat specially.
    fn free_sent_id(&self) -> PathId {
        let mut id = 1;
        while self.paths.iter().any(|p| p.sent_id == PathId(id)) {
            id += 1;
        }
        PathId(id)
    }
}

/// The Loc-RIB and its decision queue.
#[derive(Debug, Default)]
pub(crate) struct LocRib {
    pub table: BTreeMap<IpNet, Destination>,
    queue: VecDeque<IpNet>,
}

impl LocRib {
    /// Sets (`Some`) or removes (`None`) the path from `source` with `received_id`, and queues
    /// the prefix for a decision when that changed anything. Returns whether such a path
    /// existed before.
    pub fn set_path(
        &mut self,
        prefix: IpNet,
        source: RouteSource,
        received_id: PathId,
        attrs: Option<Attrs>,
    ) -> bool {
        let destination = self.table.entry(prefix).or_default();
        let position = destination
            .paths
            .iter()
            .position(|p| p.source == source && p.received_id == received_id);
        let changed = match (position, attrs) {
            (Some(index), Some(attrs)) => {
                let path = &mut destination.paths[index];
                if std::sync::Arc::ptr_eq(&path.attrs, &attrs) {
                    false
                } else {
                    path.attrs = attrs;
                    path.state = PathState::Pending;
                    true
                }
            }
            (Some(index), None) => {
                destination.paths.remove(index);
                true
            }
            (None, Some(attrs)) => {
                let sent_id = destination.free_sent_id();
                destination.paths.push(Path {
                    source,
                    received_id,
                    sent_id,
                    attrs,
                    state: PathState::Pending,
                });
                true
            }
            (None, None) => false,
        };
        if changed && !destination.queued {
            destination.queued = true;
            self.queue.push_back(prefix);
        }
        if !changed
            && destination.paths.is_empty()
            && !destination.queued
            && destination.installed.is_none()
        {
            self.table.remove(&prefix);
        }
        position.is_some()
    }

    /// The next prefix waiting for a decision.
    pub fn pop_pending(&mut self) -> Option<IpNet> {
        let prefix = self.queue.pop_front()?;
        if self.queue.is_empty() {
            // A burst (a full table arriving) would leave a large buffer behind.
            self.queue.shrink_to(QUEUE_KEPT_CAPACITY);
        }
        if let Some(destination) = self.table.get_mut(&prefix) {
            destination.queued = false;
        }
        Some(prefix)
    }

    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// Drops the destination when nothing refers to it any more.
    pub fn prune(&mut self, prefix: &IpNet) {
        let empty = self
            .table
            .get(prefix)
            .is_some_and(|d| d.paths.is_empty() && !d.queued && d.installed.is_none());
        if empty {
            self.table.remove(prefix);
        }
    }
}
