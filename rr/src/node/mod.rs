//! [`Node`]: everything this speaker decides about routes, as one pure value beside the
//! per-neighbor `proto::session::Session`s (as quinn-proto's `Endpoint` beside its
//! `Connection`s). It owns the [`Rib`], the neighbors' RIB settings (configured and
//! deconfigured as inputs; a session coming up carries only what it negotiated), what it
//! originates and from which source (`origination`), initial convergence (`convergence`) and
//! graceful restart in both roles (RFC 4724, RFC 9494: the stale timers, the selection
//! deferral of a restarting speaker, when the FIB may sweep). Time is an argument:
//! [`Node::poll_timeout`] says when [`Node::handle_timeout`] is next due. Effects leave as
//! [`NodeOutput`]s; the daemon's RIB task only drives it.

mod convergence;
mod origination;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use proto::notification::Notification;
use proto::route_refresh::RouteRefresh;
use proto::session::Negotiated;
use proto::update::Update;
use proto::{AfiSafi, ClusterId, EncodeError};

pub use convergence::{Converged, CONVERGENCE_TIMEOUT};
pub use origination::LocalOrigin;

use self::convergence::Convergence;
use self::origination::{Effect, Origination};
use crate::peer::{PeerConfig, PeerUp};
use crate::rib::{FibChange, LocalRoute, Rib, RibConfig, RibInput, RibOutput};
use crate::types::{FastMap, GroupId, LocalAddresses, PeerId};

/// Settings of the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeConfig {
    pub rib: RibConfig,
    /// Graceful restart enabled: the node starts as a restarting speaker (RFC 4724 §4.1),
    /// deferring route selection at most this long.
    pub selection_deferral: Option<Duration>,
}

/// What the daemon tells the node.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // UPDATEs are the hot path; boxing would allocate each
pub enum NodeInput {
    /// A neighbor was configured, or its settings changed (applied without a session reset).
    Configure { peer: PeerId, config: PeerConfig },
    /// A neighbor was deconfigured: its routes and everything kept of it go.
    Deconfigure { peer: PeerId },
    /// Every configured neighbor has been told (with a datastore: after its first snapshot);
    /// initial convergence may be reached once they all sent End-of-RIB.
    NeighborsKnown,
    /// A session reached Established.
    PeerUp {
        peer: PeerId,
        session: Box<Negotiated>,
        /// Our addresses on the connection (next hop self).
        local: LocalAddresses,
    },
    /// The session left Established; `graceful`: without a NOTIFICATION (RFC 4724 §4.2).
    PeerDown { peer: PeerId, graceful: bool },
    /// A decoded UPDATE with its RFC 7606 errors.
    Update { peer: PeerId, update: Update },
    /// A ROUTE-REFRESH from the neighbor (RFC 2918, RFC 7313).
    RouteRefresh { peer: PeerId, refresh: RouteRefresh },
    /// A configured `[[route]]` appeared or changed.
    Originate { prefix: IpNet, route: LocalRoute },
    /// A configured `[[route]]` was removed.
    WithdrawOriginated { prefix: IpNet },
    /// A kernel route matching `[kernel.advertise]` appeared (`present`) or the last one
    /// went away.
    KernelRoute { prefix: IpNet, present: bool },
    /// The reflector role changed (RFC 4456 §7).
    SetClusterId(Option<ClusterId>),
}

/// What the node asks of the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeOutput {
    Fib(FibChange),
    /// The neighbor has messages: [`Node::take_messages`] when its writer has room.
    Transmit(PeerId),
    /// Stop the session with this NOTIFICATION (RFC 4486 §4, too many prefixes).
    StopPeer {
        peer: PeerId,
        notification: Notification,
    },
    /// RFC 7606 AFI/SAFI disable was applied to the neighbor's family.
    FamilyDisabled {
        peer: PeerId,
        family: AfiSafi,
    },
    /// Routes could not be encoded for a group and were withdrawn from it instead.
    ExportFailed {
        group: GroupId,
        routes: usize,
        error: EncodeError,
    },
    /// Initial convergence (End-of-RIB from every neighbor, or the timer).
    Converged(Converged),
    /// The restart is over (RFC 4724 §4.1): every deferred decision ran and End-of-RIB is
    /// queued for every neighbor; OPENs from now on no longer carry the Restart State bit.
    RestartDone,
    /// Every route this node wants is in the FIB's queue: what the FIB adopted from an
    /// earlier run and nobody claimed may be swept.
    SweepAllowed,
    /// A neighbor's stale routes were kept, or a stale timer ran out (for a log line).
    Stale {
        peer: PeerId,
        family: AfiSafi,
        kept_for: Option<Duration>,
    },
}

/// Where the FIB sweep stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sweep {
    /// Initial convergence (or the end of the deferral) not reached yet.
    NotYet,
    /// Reached: waits for the FIB's queue to hold everything and for restarting neighbors.
    Ready,
    Sent,
}

/// See the module documentation.
#[derive(Debug)]
pub struct Node {
    rib: Rib,
    /// The RIB settings of every configured neighbor.
    neighbors: FastMap<PeerId, PeerConfig>,
    /// Sessions that came up before their neighbor's settings arrived.
    early: FastMap<PeerId, (Box<Negotiated>, LocalAddresses)>,
    origination: Origination,
    convergence: Convergence,
    /// Stale timers (RFC 4724 §4.2, RFC 9494 §4.2), per neighbor and family.
    stale_timers: FastMap<(PeerId, AfiSafi), Instant>,
    /// Selection is deferred: we are a restarting speaker (RFC 4724 §4.1).
    restarting: bool,
    sweep: Sweep,
    outputs: VecDeque<NodeOutput>,
}

impl Node {
    pub fn new(config: NodeConfig, now: Instant) -> Node {
        let timeout = config.selection_deferral.unwrap_or(CONVERGENCE_TIMEOUT);
        let mut rib = Rib::new(config.rib);
        let restarting = config.selection_deferral.is_some();
        if restarting {
            // Before any neighbor is up (RFC 4724 §4.1): nobody was sent End-of-RIB yet.
            let _ = rib.apply(RibInput::DeferSelection);
        }
        Node {
            rib,
            neighbors: FastMap::default(),
            early: FastMap::default(),
            origination: Origination::default(),
            convergence: Convergence::new(now, timeout),
            stale_timers: FastMap::default(),
            restarting,
            sweep: Sweep::NotYet,
            outputs: VecDeque::new(),
        }
    }

    /// We are a restarting speaker (RFC 4724 §4.1): route selection, our End-of-RIB and the
    /// FIB sweep wait for End-of-RIB from the neighbors, at most `selection_deferral`. Only
    /// before any neighbor is up (nobody was sent End-of-RIB yet); the daemon decides at start,
    /// once it knows what the kernel kept.
    pub fn defer_selection(&mut self, now: Instant, selection_deferral: Duration) {
        if self.restarting || self.rib.peers_up() > 0 {
            return;
        }
        let _ = self.rib.apply(RibInput::DeferSelection);
        self.convergence.restart_timer(now, selection_deferral);
        self.restarting = true;
    }

    /// Applies one input. Decisions are not run here: call [`Node::run_decisions`] while
    /// [`Node::pending_decisions`] is not zero.
    pub fn handle(&mut self, now: Instant, input: NodeInput) {
        match input {
            NodeInput::Configure { peer, config } => self.configure(now, peer, config),
            NodeInput::Deconfigure { peer } => self.deconfigure(now, peer),
            NodeInput::NeighborsKnown => self.convergence.neighbors_known(),
            NodeInput::PeerUp {
                peer,
                session,
                local,
            } => {
                if self.neighbors.contains_key(&peer) {
                    self.peer_up(now, peer, *session, local);
                } else {
                    // Its settings are on their way from the daemon.
                    self.early.insert(peer, (session, local));
                }
            }
            NodeInput::PeerDown { peer, graceful } => {
                self.early.remove(&peer);
                self.convergence.down(peer);
                self.rib_input(now, RibInput::PeerDown { peer, graceful });
            }
            NodeInput::Update { peer, update } => {
                if let Some(family) = update.end_of_rib_family() {
                    self.convergence.end_of_rib(peer, family);
                }
                self.rib_input(now, RibInput::Update { peer, update });
            }
            NodeInput::RouteRefresh { peer, refresh } => {
                self.rib_input(now, RibInput::RouteRefresh { peer, refresh });
            }
            NodeInput::Originate { prefix, route } => {
                let effect = self.origination.configure(prefix.trunc(), route);
                self.originate(now, prefix.trunc(), effect);
            }
            NodeInput::WithdrawOriginated { prefix } => {
                let effect = self.origination.deconfigure(prefix.trunc());
                self.originate(now, prefix.trunc(), effect);
            }
            NodeInput::KernelRoute { prefix, present } => {
                let effect = self.origination.kernel(prefix.trunc(), present);
                self.originate(now, prefix.trunc(), effect);
            }
            NodeInput::SetClusterId(cluster_id) => {
                self.rib_input(now, RibInput::SetClusterId(cluster_id));
            }
        }
        self.progress(now);
    }

    /// The next time [`Node::handle_timeout`] is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let stale = self.stale_timers.values().min().copied();
        let convergence = (self.convergence.pending() || self.sweep == Sweep::Ready)
            .then(|| self.convergence.deadline());
        [stale, convergence].into_iter().flatten().min()
    }

    /// Runs what is due at `now`: stale timers, the convergence timer.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<(PeerId, AfiSafi)> = self
            .stale_timers
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(key, _)| *key)
            .collect();
        for (peer, family) in due {
            self.stale_timers.remove(&(peer, family));
            self.outputs.push_back(NodeOutput::Stale {
                peer,
                family,
                kept_for: None,
            });
            self.rib_input(now, RibInput::StaleTimeout { peer, family });
        }
        self.progress(now);
    }

    /// Destinations waiting for a decision that may run now.
    pub fn pending_decisions(&self) -> usize {
        self.rib.pending_decisions()
    }

    /// Decides up to `budget` queued destinations (see [`Rib::run_decisions`]).
    pub fn run_decisions(&mut self, now: Instant, budget: usize) {
        let outputs = self.rib.run_decisions(budget);
        self.rib_outputs(now, outputs);
        self.progress(now);
    }

    /// The next output, in order.
    pub fn poll_output(&mut self) -> Option<NodeOutput> {
        self.outputs.pop_front()
    }

    /// Messages for `peer` up to about `max_bytes` octets (see [`Rib::take_messages`]).
    pub fn take_messages(&mut self, peer: PeerId, max_bytes: usize) -> Vec<bytes::Bytes> {
        self.rib.take_messages(peer, max_bytes)
    }

    pub fn has_messages(&self, peer: PeerId) -> bool {
        self.rib.has_messages(peer)
    }

    /// The RIB, for listings.
    pub fn rib(&self) -> &Rib {
        &self.rib
    }

    /// Where the local route of `prefix` comes from.
    pub fn local_origin(&self, prefix: &IpNet) -> Option<LocalOrigin> {
        self.origination.origin(prefix)
    }

    /// Kernel routes originated into BGP.
    pub fn kernel_routes(&self) -> usize {
        self.origination.kernel_routes()
    }

    /// Whether we are a restarting speaker whose selection is still deferred (RFC 4724 §4.1).
    pub fn restarting(&self) -> bool {
        self.restarting
    }

    /// Routes held stale for neighbors that are restarting.
    pub fn stale_routes(&self) -> usize {
        self.rib.stale_routes()
    }

    fn configure(&mut self, now: Instant, peer: PeerId, config: PeerConfig) {
        let changed = self.neighbors.get(&peer) != Some(&config);
        if !self.neighbors.contains_key(&peer) {
            self.convergence.neighbor_added(peer);
        }
        self.neighbors.insert(peer, config.clone());
        if let Some((session, local)) = self.early.remove(&peer) {
            self.peer_up(now, peer, *session, local);
        } else if changed && self.rib.peer_summary(peer).is_some() && !self.rib.is_restarting(peer)
        {
            self.rib_input(now, RibInput::Reconfigure { peer, config });
        }
    }

    fn deconfigure(&mut self, now: Instant, peer: PeerId) {
        self.neighbors.remove(&peer);
        self.early.remove(&peer);
        self.convergence.neighbor_removed(peer);
        self.stale_timers.retain(|(id, _), _| *id != peer);
        // Established or restarting: what is kept of it goes now (a late PeerDown finds
        // nothing).
        if self.rib.peer_summary(peer).is_some() {
            self.rib_input(
                now,
                RibInput::PeerDown {
                    peer,
                    graceful: false,
                },
            );
        }
    }

    fn peer_up(&mut self, now: Instant, peer: PeerId, session: Negotiated, local: LocalAddresses) {
        let Some(config) = self.neighbors.get(&peer).cloned() else {
            return;
        };
        // RFC 4724 §4.1: a restarting speaker waits for End-of-RIB only from neighbors that
        // negotiated graceful restart and are not restarting themselves.
        let waited = !self.rib.selection_deferred()
            || session
                .graceful_restart
                .as_ref()
                .is_some_and(|restart| !restart.peer_restarting);
        self.convergence.established(peer, session.families, waited);
        self.rib_input(
            now,
            RibInput::PeerUp(Box::new(PeerUp {
                peer,
                config,
                session,
                local,
            })),
        );
    }

    fn originate(&mut self, now: Instant, prefix: IpNet, effect: Effect) {
        match effect {
            Effect::Originate(route) => self.rib_input(now, RibInput::Originate { prefix, route }),
            Effect::Withdraw => self.rib_input(now, RibInput::WithdrawLocal { prefix }),
            Effect::Unchanged => {}
        }
    }

    fn rib_input(&mut self, now: Instant, input: RibInput) {
        // A late input of a session that is already down: its routes are gone anyway.
        if let Ok(outputs) = self.rib.apply(input) {
            self.rib_outputs(now, outputs);
        }
    }

    fn rib_outputs(&mut self, now: Instant, outputs: Vec<RibOutput>) {
        for output in outputs {
            let output = match output {
                RibOutput::Fib(change) => NodeOutput::Fib(change),
                RibOutput::Transmit(peer) => NodeOutput::Transmit(peer),
                RibOutput::StopPeer { peer, notification } => {
                    NodeOutput::StopPeer { peer, notification }
                }
                RibOutput::FamilyDisabled { peer, family } => {
                    NodeOutput::FamilyDisabled { peer, family }
                }
                RibOutput::ExportFailed {
                    group,
                    routes,
                    error,
                } => NodeOutput::ExportFailed {
                    group,
                    routes,
                    error,
                },
                RibOutput::StaleTimer {
                    peer,
                    family,
                    after,
                } => {
                    self.stale_timers.insert((peer, family), now + after);
                    NodeOutput::Stale {
                        peer,
                        family,
                        kept_for: Some(after),
                    }
                }
                RibOutput::SelectionDeferralDone => {
                    self.restarting = false;
                    self.sweep = Sweep::Ready;
                    NodeOutput::RestartDone
                }
            };
            self.outputs.push_back(output);
        }
    }

    /// Convergence and the sweep, once no decision is pending.
    fn progress(&mut self, now: Instant) {
        if self.rib.pending_decisions() > 0 {
            return;
        }
        if self.convergence.pending() {
            if let Some(reason) = self.convergence.poll(now) {
                self.outputs.push_back(NodeOutput::Converged(reason));
                if self.rib.selection_deferred() {
                    // RFC 4724 §4.1: decide now; the sweep follows the last decision.
                    self.rib_input(now, RibInput::EndSelectionDeferral);
                } else {
                    self.sweep = Sweep::Ready;
                }
            }
        }
        if self.sweep == Sweep::Ready
            && self.rib.pending_decisions() == 0
            && !self.convergence.sweep_waits(now)
        {
            self.sweep = Sweep::Sent;
            self.outputs.push_back(NodeOutput::SweepAllowed);
        }
    }
}
