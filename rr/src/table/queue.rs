//! The decision queue: destinations changed since their last decision, each queued once, in
//! two first-in-first-out lanes. Changes that arrive in UPDATEs are urgent and decided right
//! after the input that made them; mass changes (a neighbor gone, import run again, a
//! CLUSTER_ID change) are bulk and decided in bounded batches behind the urgent lane, so a
//! withdrawal is never held behind a large pending set. A destination queued in bulk that an
//! UPDATE changes moves up to the urgent lane (its bulk entry is skipped later).
//!
//! Queuing snapshots what the last decision left ([`Decided`]): the update groups and the FIB
//! compare it with the next decision, so no per-group copy of what was advertised is kept
//! (the Adj-RIB-Out is implicit, as in BIRD: what a group sent for a prefix is its export of
//! the decided paths).

use std::collections::VecDeque;

use proto::PathId;
use smallvec::SmallVec;

use super::{destination_flags, Destination, PathState, PrefixId, Source};
use crate::attrs::Attrs;
use crate::rules::SourceRole;

/// The snapshot index of a queued destination that had nothing decided.
const NOTHING_DECIDED: u32 = u32::MAX;

/// Queue entries kept allocated once a lane is empty.
const KEPT_CAPACITY: usize = 1024;

/// Which lane a change goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Priority {
    Urgent,
    Bulk,
}

/// A path as the last decision saw it.
#[derive(Debug, Clone)]
pub(crate) struct DecidedPath {
    pub source: Source,
    /// The source's role when the path was decided (what export went by).
    pub role: SourceRole,
    pub sent_id: PathId,
    /// The attributes after import.
    pub attrs: Attrs,
    pub state: PathState,
}

/// What the last decision left of a destination.
#[derive(Debug, Clone, Default)]
pub(crate) struct Decided {
    /// The paths that were in the Loc-RIB, with their states.
    pub paths: SmallVec<[DecidedPath; 1]>,
    /// The decision epoch of the destination's last change.
    pub epoch: u32,
}

/// See the module documentation.
#[derive(Debug, Default)]
pub(crate) struct Decisions {
    urgent: VecDeque<PrefixId>,
    bulk: VecDeque<PrefixId>,
    snapshots: Vec<Option<Decided>>,
    free: Vec<u32>,
    /// Destinations queued (each once, whatever its entries).
    queued: usize,
    /// The snapshot of destinations queued with nothing decided.
    nothing: Decided,
}

impl Decisions {
    /// Destinations waiting for a decision.
    pub fn pending(&self) -> usize {
        self.queued
    }

    /// Queues a destination that is about to change; `role` tells the role of each path's
    /// source now (before the change).
    pub fn queue(
        &mut self,
        id: PrefixId,
        destination: &mut Destination,
        priority: Priority,
        role: impl Fn(Source) -> Option<SourceRole>,
    ) {
        let flag = match priority {
            Priority::Urgent => destination_flags::URGENT,
            Priority::Bulk => destination_flags::BULK,
        };
        if !destination.queued() {
            let snapshot = Decided {
                paths: destination
                    .paths
                    .iter()
                    .filter(|p| p.state != PathState::Pending)
                    .filter_map(|p| {
                        Some(DecidedPath {
                            source: p.source,
                            role: role(p.source)?,
                            sent_id: p.sent_id,
                            attrs: p.imported()?.clone(),
                            state: p.state,
                        })
                    })
                    .collect(),
                epoch: destination.aux,
            };
            // A destination with nothing decided (a new one, the bulk of a table arriving)
            // needs no stored snapshot.
            destination.aux = if snapshot.paths.is_empty() {
                NOTHING_DECIDED
            } else {
                self.store(snapshot)
            };
            self.queued += 1;
        } else if destination.flags & flag != 0
            || destination.flags & destination_flags::URGENT != 0
        {
            return;
        }
        destination.flags |= flag;
        match priority {
            Priority::Urgent => self.urgent.push_back(id),
            Priority::Bulk => self.bulk.push_back(id),
        }
    }

    /// The next queued id, urgent first. It may no longer be queued (moved up to the urgent
    /// lane and decided, or gone): check [`Destination::queued`].
    pub fn pop(&mut self) -> Option<PrefixId> {
        let id = match self.urgent.pop_front() {
            Some(id) => id,
            None => self.bulk.pop_front()?,
        };
        for lane in [&mut self.urgent, &mut self.bulk] {
            if lane.is_empty() {
                lane.shrink_to(KEPT_CAPACITY);
            }
        }
        Some(id)
    }

    /// Takes the snapshot of a queued destination about to be decided and marks it not queued.
    pub fn take(&mut self, destination: &mut Destination) -> Decided {
        destination.flags &= !(destination_flags::URGENT | destination_flags::BULK);
        self.queued -= 1;
        let index = destination.aux;
        let decided = if index == NOTHING_DECIDED {
            Decided::default()
        } else {
            self.free.push(index);
            self.snapshots
                .get_mut(index as usize)
                .and_then(Option::take)
                .unwrap_or_default()
        };
        if self.queued == 0 {
            self.snapshots.clear();
            self.snapshots.shrink_to(KEPT_CAPACITY);
            self.free.clear();
            self.free.shrink_to(KEPT_CAPACITY);
        }
        decided
    }

    /// The snapshot of a queued destination.
    pub fn snapshot(&self, destination: &Destination) -> Option<&Decided> {
        if !destination.queued() {
            return None;
        }
        if destination.aux == NOTHING_DECIDED {
            return Some(&self.nothing);
        }
        self.snapshots.get(destination.aux as usize)?.as_ref()
    }

    fn store(&mut self, decided: Decided) -> u32 {
        match self.free.pop() {
            Some(index) => {
                self.snapshots[index as usize] = Some(decided);
                index
            }
            None => {
                self.snapshots.push(Some(decided));
                (self.snapshots.len() - 1) as u32
            }
        }
    }
}
