//! Graceful restart in both roles.
//!
//! Helper (RFC 4724 §4.2): when the session of a neighbor that negotiated graceful restart
//! fails (the daemon says `graceful`), the neighbor stays known to the RIB, out of its update
//! group, and its routes of the families it listed stay in the Adj-RIB-In and the Loc-RIB,
//! marked stale: they keep being used and advertised. The daemon runs one timer per neighbor
//! and family ([`RibOutput::StaleTimer`], answered with [`RibInput::StaleTimeout`]). When the
//! neighbor returns, routes it sends again are no longer stale; the families its new OPEN does
//! not list with the Forwarding State bit lose their stale routes at once; at its End-of-RIB
//! (RFC 4724 §2) what is still stale of the family is removed. A neighbor that does not return
//! before its Restart Time loses its routes.
//!
//! Long-lived graceful restart (RFC 9494 §4.2): when the restart timer expires (or at once when
//! the Restart Time is zero) for a family the neighbor offered with a long-lived stale time,
//! its stale routes stay that long more, with the LLGR_STALE community attached (routes
//! carrying NO_LLGR are removed instead, §4.3). The decision process prefers any route without
//! LLGR_STALE (§4.3, `decision`), and such routes are not advertised to neighbors that did not
//! negotiate long-lived graceful restart (§4.5, `Rib::flush`).
//!
//! Restarting speaker (RFC 4724 §4.1): after [`RibInput::DeferSelection`], decisions wait
//! until [`RibInput::EndSelectionDeferral`]: the daemon decides when (End-of-RIB from every
//! neighbor it waits for, or its Selection_Deferral_Timer). Neighbors that come up meanwhile join their update group only once the deferred decisions
//! have all run, so that their End-of-RIB follows the initial table; then
//! [`RibOutput::SelectionDeferralDone`] tells the daemon it may sweep the kernel.

use std::time::Duration;

use bytes::Bytes;
use proto::attr::Community;
use proto::AfiSafi;

use crate::attrs::PathAttrs;
use crate::peer::{family_index, Stale};
use crate::rib::{Rib, RibOutput};
use crate::table::{path_flags, Priority};
use crate::types::{family_of, PeerId};

/// How long a returned neighbor's routes may stay stale while we wait for its End-of-RIB, when
/// the daemon does not say (RFC 4724 §4.2 leaves the bound local; FRR's stalepath-time).
pub const DEFAULT_STALE_PATH_TIME: Duration = Duration::from_secs(360);

/// Selection deferral of a restarting speaker (RFC 4724 §4.1).
#[derive(Debug, Default)]
pub(crate) enum Deferral {
    /// Decisions run as they come.
    #[default]
    Off,
    /// Decisions wait; `joins` came up meanwhile.
    Waiting { joins: Vec<(PeerId, Vec<Bytes>)> },
    /// The deferral is over; the queued decisions run, then `joins` join their groups.
    Draining { joins: Vec<(PeerId, Vec<Bytes>)> },
}

impl Deferral {
    /// Decisions may not run yet.
    pub fn waiting(&self) -> bool {
        matches!(self, Deferral::Waiting { .. })
    }

    /// Neighbors that came up during the deferral and are not in their groups yet.
    pub fn joins_mut(&mut self) -> Option<&mut Vec<(PeerId, Vec<Bytes>)>> {
        match self {
            Deferral::Off => None,
            Deferral::Waiting { joins } | Deferral::Draining { joins } => Some(joins),
        }
    }

    /// Whether `peer` waits to join its group.
    pub fn holds(&self, peer: PeerId) -> bool {
        match self {
            Deferral::Off => false,
            Deferral::Waiting { joins } | Deferral::Draining { joins } => {
                joins.iter().any(|(id, _)| *id == peer)
            }
        }
    }

    /// Ends the waiting.
    fn end(&mut self) {
        if let Deferral::Waiting { joins } = self {
            *self = Deferral::Draining {
                joins: std::mem::take(joins),
            };
        }
    }
}

/// Whether the attributes carry `community`.
fn has_community(attrs: &PathAttrs, community: Community) -> bool {
    attrs.attributes.communities.contains(&community)
}

/// RFC 9494 §4.3: the route is long-lived stale (marked by us or by whoever sent it).
pub(crate) fn is_long_lived_stale(attrs: &PathAttrs) -> bool {
    has_community(attrs, Community::LLGR_STALE)
}

impl Rib {
    /// Routes held stale for neighbors that are restarting or have not finished sending their
    /// table again (for metrics).
    pub fn stale_routes(&self) -> usize {
        self.peers
            .values()
            .flat_map(|peer| peer.stale.iter().flatten())
            .map(|stale| stale.routes)
            .sum()
    }

    /// Whether route selection is deferred (RFC 4724 §4.1) or its deferred decisions are
    /// still running.
    pub fn selection_deferred(&self) -> bool {
        !matches!(self.deferral, Deferral::Off)
    }

    /// Whether `peer` is kept for its stale routes while its session is down.
    pub fn is_restarting(&self, peer: PeerId) -> bool {
        self.peers.get(&peer).is_some_and(|p| !p.established)
    }

    /// RFC 4724 §4.1: defer decisions (until [`Rib::end_selection_deferral`]). Only before
    /// any neighbor is up, so that nobody was sent End-of-RIB yet.
    pub(crate) fn defer_selection(&mut self) {
        if matches!(self.deferral, Deferral::Off) {
            self.deferral = Deferral::Waiting { joins: Vec::new() };
        }
    }

    pub(crate) fn end_selection_deferral(&mut self) -> Vec<RibOutput> {
        self.deferral.end();
        self.release_deferred()
    }

    /// End-of-RIB of `family` from `peer` (RFC 4724 §4.2): its routes of the family still
    /// stale go.
    pub(crate) fn end_of_rib(&mut self, peer: PeerId, family: AfiSafi) {
        self.remove_stale(peer, family);
    }

    /// Once the deferral is over and its decisions have run: the held neighbors join their
    /// groups (table walk, then End-of-RIB).
    pub(crate) fn release_deferred(&mut self) -> Vec<RibOutput> {
        if !matches!(self.deferral, Deferral::Draining { .. }) || self.decisions.pending() > 0 {
            return Vec::new();
        }
        let Deferral::Draining { joins } = std::mem::take(&mut self.deferral) else {
            return Vec::new();
        };
        let mut outputs = Vec::new();
        let epoch = self.epoch;
        for (id, end_of_rib) in joins {
            let Some(group) = self.peers.get(&id).map(|p| p.group) else {
                continue;
            };
            if let Some(group) = self.groups.get_mut(&group) {
                group.join(id, Vec::new(), end_of_rib, epoch);
                outputs.push(RibOutput::Transmit(id));
            }
        }
        outputs.push(RibOutput::SelectionDeferralDone);
        outputs
    }

    /// RFC 4724 §4.2: the session of a neighbor that negotiated graceful restart failed. Its
    /// routes of the families it listed (or offered long-lived, RFC 9494 §4.2) become stale;
    /// the others are removed. `None` when the neighbor did not negotiate graceful restart.
    pub(crate) fn graceful_down(&mut self, id: PeerId) -> Option<Vec<RibOutput>> {
        let peer = self.peers.get(&id)?;
        let restart = peer.restart.clone()?;
        let (group, families) = (peer.group, peer.families);
        let _ = self.leave_group(id, group);
        if let Some(joins) = self.deferral.joins_mut() {
            joins.retain(|(peer, _)| *peer != id);
        }
        let mut kept = Vec::new();
        for family in families.iter() {
            if !restart.families.contains(family) && restart.long_lived_stale_time(family).is_none()
            {
                self.remove_paths(id, Priority::Bulk, |prefix, _| family_of(prefix) == family);
                continue;
            }
            let marked = self.mark_paths(id, family, path_flags::STALE);
            let peer = self.peers.get_mut(&id)?;
            if marked == 0 {
                continue;
            }
            // A second failure before the End-of-RIB: what was stale stays stale.
            let stale = peer.stale[family_index(family)].get_or_insert_with(Stale::default);
            stale.routes = marked;
            kept.push(family);
        }
        self.peers.get_mut(&id)?.established = false;
        let mut outputs = Vec::new();
        for family in kept {
            // A family kept only long-lived, or a Restart Time of zero, starts the long-lived
            // phase at once (RFC 9494 §4.2).
            if restart.restart_time.is_zero() || !restart.families.contains(family) {
                outputs.extend(self.stale_timeout(id, family));
            } else {
                outputs.push(RibOutput::StaleTimer {
                    peer: id,
                    family,
                    after: restart.restart_time,
                });
            }
        }
        self.retire_if_done(id);
        Some(outputs)
    }

    /// The restart timer or the stale timer of `family` ran out (RFC 4724 §4.2, RFC 9494
    /// §4.2). While the neighbor is down, the restart timer moves the family to its long-lived
    /// phase if it has one; otherwise the family's stale routes are removed.
    pub(crate) fn stale_timeout(&mut self, id: PeerId, family: AfiSafi) -> Vec<RibOutput> {
        let Some(peer) = self.peers.get(&id) else {
            return Vec::new();
        };
        let Some(stale) = &peer.stale[family_index(family)] else {
            return Vec::new();
        };
        let long_lived = peer
            .restart
            .as_ref()
            .and_then(|restart| restart.long_lived_stale_time(family));
        match long_lived {
            Some(after) if !peer.established && !stale.long_lived => {
                self.enter_long_lived(id, family);
                vec![RibOutput::StaleTimer {
                    peer: id,
                    family,
                    after,
                }]
            }
            _ => {
                self.remove_stale(id, family);
                Vec::new()
            }
        }
    }

    /// RFC 9494 §4.2–4.3: the stale routes of `family` get LLGR_STALE; those with NO_LLGR go.
    fn enter_long_lived(&mut self, id: PeerId, family: AfiSafi) {
        let Some(stale) = self
            .peers
            .get_mut(&id)
            .and_then(|peer| peer.stale[family_index(family)].as_mut())
        else {
            return;
        };
        stale.long_lived = true;
        let stale_in_family = move |prefix: &ipnet::IpNet, path: &crate::table::Path| -> bool {
            family_of(prefix) == family && path.has(path_flags::STALE)
        };
        let no_llgr = |path: &crate::table::Path| has_community(&path.received, Community::NO_LLGR);
        self.mark_paths_where(id, family, path_flags::LONG_LIVED, |path| {
            path.has(path_flags::STALE) && !no_llgr(path)
        });
        // Import policy may look at the community it now carries.
        self.reimport_paths(id, |prefix, path| {
            stale_in_family(prefix, path) && path.has(path_flags::LONG_LIVED)
        });
        self.remove_paths(id, Priority::Bulk, |prefix, path| {
            stale_in_family(prefix, path) && no_llgr(path)
        });
    }

    /// Removes what is still stale of `family`; a neighbor that is down and has nothing left is
    /// forgotten.
    pub(crate) fn remove_stale(&mut self, id: PeerId, family: AfiSafi) {
        let Some(_) = self
            .peers
            .get_mut(&id)
            .and_then(|peer| peer.stale[family_index(family)].take())
        else {
            return;
        };
        self.remove_paths(id, Priority::Bulk, |prefix, path| {
            family_of(prefix) == family && path.has(path_flags::STALE)
        });
        self.retire_if_done(id);
    }

    /// A returning neighbor (RFC 4724 §4.2): stale families its new session does not keep
    /// (not listed with the Forwarding State bit, or graceful restart not negotiated) lose their
    /// routes now; the others wait for its End-of-RIB, at most `stale_path_time`.
    pub(crate) fn graceful_return(&mut self, id: PeerId) -> Vec<RibOutput> {
        let Some(peer) = self.peers.get(&id) else {
            return Vec::new();
        };
        let keeps = |family: AfiSafi| {
            peer.families.contains(family)
                && peer.restart.as_ref().is_some_and(|restart| {
                    restart.forwarding_preserved.contains(family)
                        || restart.long_lived_stale_time(family).is_some()
                })
        };
        let (kept, dropped): (Vec<AfiSafi>, Vec<AfiSafi>) = AfiSafi::ALL
            .into_iter()
            .filter(|family| peer.stale[family_index(*family)].is_some())
            .partition(|family| keeps(*family));
        for family in dropped {
            self.remove_stale(id, family);
        }
        kept.into_iter()
            .map(|family| RibOutput::StaleTimer {
                peer: id,
                family,
                after: self.config.stale_path_time,
            })
            .collect()
    }

    /// Forgets a neighbor that is down once nothing of it is left.
    fn retire_if_done(&mut self, id: PeerId) {
        let done = self
            .peers
            .get(&id)
            .is_some_and(|peer| !peer.established && peer.stale.iter().all(Option::is_none));
        if done {
            let _ = self.peer_down(id);
        }
    }
}

/// The attributes with LLGR_STALE added (RFC 9494 §4.3).
pub(crate) fn long_lived_stale(attrs: &PathAttrs) -> PathAttrs {
    let mut marked = attrs.clone();
    if !marked
        .attributes
        .communities
        .contains(&Community::LLGR_STALE)
    {
        marked.attributes.communities.push(Community::LLGR_STALE);
    }
    marked
}
