//! Initial convergence after start: when the RIB may tell the FIB that it has claimed every
//! route it wants, so that routes adopted from an earlier run and not claimed are swept
//! (`crate::fib`, `FibCommand::InitialConvergenceDone`).
//!
//! RFC 4724 §4.1 (the restarting speaker defers route selection until it has received
//! End-of-RIB from its peers, bounded by a timer) is the model: convergence is reached when
//! every configured neighbor has become Established and has sent End-of-RIB (RFC 4724 §2) for
//! each family the session negotiated, or when [`CONVERGENCE_TIMEOUT`] has passed since start,
//! whichever comes first. A neighbor that never comes up is covered by the timer, not waited on
//! for ever. Neighbors derived from the datastore are only known after its first snapshot:
//! until the daemon says the configured set is known ([`Convergence::neighbors_known`]), an
//! empty set does not count as converged.
//!
//! Two milestones, both bounded by the same timer. **Selection** ([`Convergence::poll`]): the
//! end of the RFC 4724 §4.1 deferral. A neighbor without graceful restart, or restarting itself
//! (Restart State bit), is not waited on for it: it may be waiting for our End-of-RIB.
//! **Sweep** ([`Convergence::sweep_waits`]): after selection, the FIB sweep also waits for
//! End-of-RIB from those, so that two nodes restarting together do not sweep each other's
//! routes for a moment.
//!
//! Pure (time is an argument); the node feeds it.

use std::time::{Duration, Instant};

use crate::types::{FastMap, PeerId};
use proto::{AfiSafi, AfiSafiSet};

/// The bound on waiting for End-of-RIB: 120 s, the usual graceful-restart `restart_time`
/// (BIRD's and FRR's default), long enough for a full table from a slow neighbor and short
/// enough that stale routes of an earlier run do not linger.
pub const CONVERGENCE_TIMEOUT: Duration = Duration::from_secs(120);

/// Why convergence was declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Converged {
    /// Every configured neighbor sent End-of-RIB (or none is configured).
    EndOfRib,
    /// [`CONVERGENCE_TIMEOUT`] passed first.
    Timeout,
}

/// Where a configured neighbor stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Neighbor {
    /// Not Established yet.
    Down,
    /// Established; End-of-RIB still awaited for these families, by the selection too when
    /// `for_selection`, by the sweep only otherwise.
    Awaiting {
        families: AfiSafiSet,
        for_selection: bool,
    },
    /// End-of-RIB received for every negotiated family.
    Done,
}

/// See the module documentation.
#[derive(Debug)]
pub struct Convergence {
    deadline: Instant,
    known: bool,
    neighbors: FastMap<PeerId, Neighbor>,
    /// Set once convergence was reported.
    reached: Option<Converged>,
}

impl Convergence {
    pub fn new(started: Instant, timeout: Duration) -> Convergence {
        Convergence {
            deadline: started + timeout,
            known: false,
            neighbors: FastMap::default(),
            reached: None,
        }
    }

    /// Counts the bound from `now` instead (the restarting speaker's deferral).
    pub fn restart_timer(&mut self, now: Instant, timeout: Duration) {
        self.deadline = now + timeout;
    }

    /// The configured set is complete (the file's neighbors, and the datastore's after its
    /// first snapshot).
    pub fn neighbors_known(&mut self) {
        self.known = true;
    }

    pub fn neighbor_added(&mut self, peer: PeerId) {
        self.neighbors.entry(peer).or_insert(Neighbor::Down);
    }

    /// A deconfigured neighbor is no longer waited on.
    pub fn neighbor_removed(&mut self, peer: PeerId) {
        self.neighbors.remove(&peer);
    }

    /// The session negotiated `families`; `for_selection`: the selection waits for their
    /// End-of-RIB (see the module documentation).
    pub fn established(&mut self, peer: PeerId, families: AfiSafiSet, for_selection: bool) {
        if let Some(neighbor) = self.neighbors.get_mut(&peer) {
            if *neighbor != Neighbor::Done {
                *neighbor = if families.is_empty() {
                    Neighbor::Done
                } else {
                    Neighbor::Awaiting {
                        families,
                        for_selection,
                    }
                };
            }
        }
    }

    /// A session that went down before its End-of-RIB is waited on again by the selection
    /// when it returns; one the selection did not wait for is no longer waited on at all.
    pub fn down(&mut self, peer: PeerId) {
        if let Some(neighbor) = self.neighbors.get_mut(&peer) {
            if let Neighbor::Awaiting { for_selection, .. } = neighbor {
                *neighbor = if *for_selection {
                    Neighbor::Down
                } else {
                    Neighbor::Done
                };
            }
        }
    }

    pub fn end_of_rib(&mut self, peer: PeerId, family: AfiSafi) {
        if let Some(neighbor) = self.neighbors.get_mut(&peer) {
            if let Neighbor::Awaiting { families, .. } = neighbor {
                families.remove(family);
                if families.is_empty() {
                    *neighbor = Neighbor::Done;
                }
            }
        }
    }

    /// Whether the sweep should still wait: an Established neighbor's End-of-RIB is missing
    /// and the timer has not run out.
    pub fn sweep_waits(&self, now: Instant) -> bool {
        now < self.deadline
            && self
                .neighbors
                .values()
                .any(|n| matches!(n, Neighbor::Awaiting { .. }))
    }

    /// Whether convergence is still to be reported (its timer is then [`Self::deadline`]).
    pub fn pending(&self) -> bool {
        self.reached.is_none()
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Reports the selection milestone, once.
    pub fn poll(&mut self, now: Instant) -> Option<Converged> {
        if self.reached.is_some() {
            return None;
        }
        let selected = |n: &Neighbor| {
            matches!(
                n,
                Neighbor::Done
                    | Neighbor::Awaiting {
                        for_selection: false,
                        ..
                    }
            )
        };
        let reached = if self.known && self.neighbors.values().all(selected) {
            Converged::EndOfRib
        } else if now >= self.deadline {
            Converged::Timeout
        } else {
            return None;
        };
        self.reached = Some(reached);
        Some(reached)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IPV4: AfiSafi = AfiSafi::Ipv4Unicast;
    const IPV6: AfiSafi = AfiSafi::Ipv6Unicast;

    /// An input, as the RIB task would feed it.
    #[derive(Debug, Clone, Copy)]
    enum Step {
        Known,
        Added(u32),
        Removed(u32),
        Up(u32, &'static [AfiSafi]),
        /// Up, restarting itself: waited on by the sweep only.
        UpRestarting(u32, &'static [AfiSafi]),
        Down(u32),
        EndOfRib(u32, AfiSafi),
        /// Seconds since start.
        At(u64),
    }

    /// Applies `steps` and checks the poll result after each.
    fn check(steps: &[(Step, Option<Converged>)]) {
        let start = Instant::now();
        let mut convergence = Convergence::new(start, CONVERGENCE_TIMEOUT);
        let mut now = start;
        for (i, (step, expected)) in steps.iter().enumerate() {
            match *step {
                Step::Known => convergence.neighbors_known(),
                Step::Added(p) => convergence.neighbor_added(PeerId(p)),
                Step::Removed(p) => convergence.neighbor_removed(PeerId(p)),
                Step::Up(p, families) => {
                    convergence.established(PeerId(p), families.iter().copied().collect(), true);
                }
                Step::UpRestarting(p, families) => {
                    convergence.established(PeerId(p), families.iter().copied().collect(), false);
                }
                Step::Down(p) => convergence.down(PeerId(p)),
                Step::EndOfRib(p, family) => convergence.end_of_rib(PeerId(p), family),
                Step::At(seconds) => now = start + Duration::from_secs(seconds),
            }
            assert_eq!(convergence.poll(now), *expected, "step {i}: {step:?}");
        }
    }

    #[test]
    fn end_of_rib_from_every_neighbor() {
        use Step::*;
        let converged = Some(Converged::EndOfRib);
        check(&[
            (Added(1), None),
            (Added(2), None),
            // The set is known, but nobody is up.
            (Known, None),
            (Up(1, &[IPV4, IPV6]), None),
            (EndOfRib(1, IPV4), None),
            (EndOfRib(1, IPV6), None),
            (Up(2, &[IPV4]), None),
            // Down before its End-of-RIB: waited on again.
            (Down(2), None),
            (Up(2, &[IPV4]), None),
            (EndOfRib(2, IPV4), converged),
            // Reported once.
            (At(200), None),
        ]);
    }

    #[test]
    fn no_neighbors_converges_once_known() {
        use Step::*;
        check(&[(At(1), None), (Known, Some(Converged::EndOfRib))]);
    }

    #[test]
    fn removed_neighbor_is_not_waited_on() {
        use Step::*;
        check(&[
            (Added(1), None),
            (Added(2), None),
            (Known, None),
            (Up(1, &[IPV4]), None),
            (EndOfRib(1, IPV4), None),
            (Removed(2), Some(Converged::EndOfRib)),
        ]);
    }

    #[test]
    fn timer_bounds_the_wait() {
        use Step::*;
        check(&[
            (Added(1), None),
            (Known, None),
            (At(CONVERGENCE_TIMEOUT.as_secs() - 1), None),
            (At(CONVERGENCE_TIMEOUT.as_secs()), Some(Converged::Timeout)),
            (EndOfRib(1, IPV4), None),
        ]);
    }

    #[test]
    fn unknown_set_waits_for_the_timer() {
        use Step::*;
        check(&[
            (At(CONVERGENCE_TIMEOUT.as_secs() - 1), None),
            (At(CONVERGENCE_TIMEOUT.as_secs()), Some(Converged::Timeout)),
        ]);
    }

    /// RFC 4724 §4.1: a neighbor restarting itself does not hold the selection back, but the
    /// sweep waits for its End-of-RIB, within the timer.
    #[test]
    fn a_restarting_neighbor_holds_only_the_sweep() {
        let start = Instant::now();
        let mut convergence = Convergence::new(start, CONVERGENCE_TIMEOUT);
        for p in [1, 2] {
            convergence.neighbor_added(PeerId(p));
        }
        convergence.neighbors_known();
        convergence.established(PeerId(1), [IPV4].into_iter().collect(), true);
        convergence.established(PeerId(2), [IPV4].into_iter().collect(), false);
        assert_eq!(convergence.poll(start), None);
        convergence.end_of_rib(PeerId(1), IPV4);
        assert_eq!(convergence.poll(start), Some(Converged::EndOfRib));
        assert!(convergence.sweep_waits(start));
        assert!(!convergence.sweep_waits(start + CONVERGENCE_TIMEOUT));
        convergence.end_of_rib(PeerId(2), IPV4);
        assert!(!convergence.sweep_waits(start));
    }

    /// One that goes down is no longer waited on by anybody.
    #[test]
    fn a_restarting_neighbor_that_goes_down_is_not_waited_on() {
        use Step::*;
        check(&[
            (Added(1), None),
            (Known, None),
            (UpRestarting(1, &[IPV4]), Some(Converged::EndOfRib)),
            (Down(1), None),
        ]);
    }
}
