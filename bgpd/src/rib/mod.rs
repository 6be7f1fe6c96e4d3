//! The RIB task: a thin driver of the pure `rr::node::Node`, which owns the RIB, the
//! neighbors' RIB settings, origination, convergence and graceful restart. Peer tasks and the
//! daemon feed it through one bounded channel of [`RibEvent`]s (a full channel stops the
//! sending peer task, which then stops reading its socket: TCP pushes back on the neighbor);
//! it runs the node's decisions in bounded batches between inputs, sleeps until the node's
//! next timer, answers the connections' writers when they pull the encoded messages of their
//! update group (shared `Bytes`, as many octets as the writer has room for; see
//! [`crate::transmit`]), publishes its figures ([`RibStatus`]) and answers `bgpctl show
//! routes` in chunks (`listing`). `translate` turns configuration into `rr`'s own types
//! ([`peer_config`], [`rib_config`], [`local_route`]).
//!
//! The writers pull from the RIB directly rather than through the peer task: one hop less
//! per message, and the peer task stays free for its timers. The session is not told of
//! those writes, so KEEPALIVEs go out on schedule even while UPDATEs flow (RFC 4271 §4.4
//! only requires that they are not sent more often than the keepalive interval).
//!
//! With `[kernel]`, forwarding changes go to the FIB task (`crate::fib`): the RIB task awaits
//! room in its queue (backpressure: a kernel that falls behind slows the RIB, which slows the
//! peers). When the node allows the sweep (initial convergence, RFC 4724 §4.1 for a
//! restarting speaker), the FIB is told once every change before it is in its queue.

mod listing;
mod translate;

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use proto::route_refresh::RouteRefresh;
use proto::session::{Negotiated, StopReason};
use proto::update::Update;
use proto::{ClusterId, RouterId};
use rr::node::{Node, NodeConfig, NodeInput, NodeOutput};
use rr::{FibChange, LocalAddresses, LocalRoute, PeerConfig, PeerId, RibConfig};
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use crate::control::failure;
use crate::control::protocol;
use crate::fib::{FibCommand, KernelRouteEvent};
use crate::peer::PeerCommand;
use crate::transmit::{Pulls, Transmitter};

pub use listing::RouteQuery;
use listing::Running;
pub(crate) use translate::split_communities;
pub use translate::{local_route, peer_config, rib_config};

/// Inputs waiting for the RIB task; a full queue stops the peer tasks that send to it (each
/// stops reading its socket), never drops an input. Small: what waits here is latency (an
/// UPDATE carries up to about a thousand routes), and TCP buffers the rest.
pub const RIB_QUEUE: usize = 64;
/// Destinations decided per batch: small enough that inputs and writers are served in between.
const DECISION_BUDGET: usize = 4096;
/// Inputs applied at most between two decision batches (fewer once the batch is full). Large
/// enough that a burst (thousands of neighbors sending a few routes each) is decided, encoded
/// and pulled in few batches rather than one per UPDATE.
const INPUT_BATCH: usize = 256;
/// How often listings waiting for their client are retried.
const RETRY_INTERVAL: Duration = Duration::from_millis(20);
/// Listings are served when no decision is pending, so that they show settled state, and
/// at least every this many decision batches, so that constant churn cannot starve them.
const LISTING_EVERY: u32 = 16;

/// What peer tasks and the daemon tell the RIB task.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // UPDATEs are the hot path; boxing would allocate each
pub enum RibEvent {
    /// A session reached Established (`proto::session::Action::Up`).
    PeerUp(Box<PeerUp>),
    /// The session of connection `epoch` left Established; `graceful`: without a
    /// NOTIFICATION (RFC 4724 §4.2).
    PeerDown {
        peer: PeerId,
        graceful: bool,
        epoch: u64,
    },
    /// A decoded UPDATE with its RFC 7606 errors.
    Update { peer: PeerId, update: Update },
    /// A ROUTE-REFRESH from the neighbor (RFC 2918, RFC 7313).
    RouteRefresh { peer: PeerId, refresh: RouteRefresh },
    /// A neighbor was configured or its RIB settings changed (applied without a reset).
    Configure { peer: PeerId, config: PeerConfig },
    /// A neighbor was deconfigured: what the RIB kept about it goes.
    Deconfigure { peer: PeerId },
    /// The configured neighbors are all known (with a datastore: after its first snapshot).
    NeighborsKnown,
    /// `global.cluster_id` changed (SIGHUP, or this node's `rr_cluster_id` in the datastore).
    SetClusterId(Option<ClusterId>),
    /// A configured `[[route]]` appeared or changed.
    Originate { prefix: IpNet, route: LocalRoute },
    /// A configured `[[route]]` was removed.
    WithdrawLocal { prefix: IpNet },
    /// `bgpctl show routes`, answered in chunks on `lines`.
    ShowRoutes(RouteQuery),
    /// `bgpctl show neighbors`: the daemon's view, completed with the RIB's counters.
    ShowNeighbors {
        neighbors: Vec<(PeerId, protocol::Neighbor)>,
        lines: mpsc::Sender<Vec<String>>,
    },
}

/// An established neighbor, as its peer task announces it: what the session negotiated and
/// the links to it (its RIB settings come from the daemon, [`RibEvent::Configure`]).
#[derive(Debug)]
pub struct PeerUp {
    pub peer: PeerId,
    pub name: String,
    pub negotiated: Negotiated,
    /// The local address of the established connection (next-hop-self).
    pub local: IpAddr,
    /// The established connection's generation: its writer's pulls carry it
    /// ([`crate::transmit`]).
    pub epoch: u64,
    /// The peer task, to stop the session (weak: the RIB must not keep the task alive).
    pub commands: mpsc::WeakSender<PeerCommand>,
}

/// What the RIB task publishes for the daemon (`bgpctl show status`, the metrics, our OPENs'
/// Restart State bit): the latest value, written by this task only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RibStatus {
    /// We are a restarting speaker whose selection is still deferred (RFC 4724 §4.1).
    pub restarting: bool,
    /// Routes kept stale for restarting neighbors.
    pub stale_routes: usize,
    /// Kernel routes originated into BGP (`[kernel.advertise]`).
    pub kernel_routes: usize,
}

impl RibStatus {
    /// `bgpctl show status` `graceful_restart`: `restarting` or `none`.
    pub fn graceful_restart(&self) -> &'static str {
        if self.restarting {
            "restarting"
        } else {
            "none"
        }
    }
}

/// An established neighbor's links.
struct PeerLink {
    name: String,
    commands: mpsc::WeakSender<PeerCommand>,
}

/// The task's state.
pub struct RibTask {
    node: Node,
    events: mpsc::Receiver<RibEvent>,
    peers: HashMap<PeerId, PeerLink>,
    /// The writers' pulls.
    transmitter: Transmitter,
    listings: Vec<Running>,
    /// The FIB task's queue, with `[kernel]`; `None` also once the FIB task is gone.
    fib: Option<mpsc::Sender<FibCommand>>,
    /// Forwarding changes decided and not yet in the FIB task's queue, in order.
    fib_queue: VecDeque<FibChange>,
    /// Forwarding changes decided since start.
    fib_changes: u64,
    /// The node allowed the sweep: the FIB is told once `fib_queue` is empty.
    sweep: bool,
    /// The FIB task's kernel-route events, straight from it (with `[kernel]`).
    kernel_routes: Option<mpsc::Receiver<KernelRouteEvent>>,
    /// What the daemon reads of this task.
    status: watch::Sender<RibStatus>,
}

impl RibTask {
    pub fn new(config: RibConfig, events: mpsc::Receiver<RibEvent>) -> RibTask {
        let node = Node::new(
            NodeConfig {
                rib: config,
                selection_deferral: None,
            },
            Instant::now(),
        );
        RibTask {
            node,
            events,
            peers: HashMap::new(),
            transmitter: Transmitter::default(),
            listings: Vec::new(),
            fib: None,
            fib_queue: VecDeque::new(),
            fib_changes: 0,
            sweep: false,
            kernel_routes: None,
            status: watch::Sender::new(RibStatus::default()),
        }
    }

    /// Where the peer tasks' writers pull their UPDATEs.
    pub fn pulls(&self) -> Pulls {
        self.transmitter.pulls()
    }

    /// The figures this task keeps up to date for the daemon.
    pub fn status(&self) -> watch::Receiver<RibStatus> {
        self.status.subscribe()
    }

    /// We are a restarting speaker (RFC 4724 §4.1): decisions, End-of-RIB to neighbors and the
    /// FIB sweep wait for End-of-RIB from the neighbors, at most `selection_deferral_time`.
    /// Call before the task runs.
    pub fn defer_selection(&mut self, selection_deferral_time: Duration) {
        self.node
            .defer_selection(Instant::now(), selection_deferral_time);
        self.publish();
    }

    /// Hands forwarding changes to the FIB task from now on, and takes its kernel-route events.
    pub fn set_fib(
        &mut self,
        fib: mpsc::Sender<FibCommand>,
        kernel_routes: mpsc::Receiver<KernelRouteEvent>,
    ) {
        self.fib = Some(fib);
        self.kernel_routes = Some(kernel_routes);
    }

    /// Runs until every sender of the channel is gone.
    pub async fn run(mut self) {
        let mut retry = tokio::time::interval(RETRY_INTERVAL);
        retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut batches: u32 = 0;
        loop {
            if self.node.pending_decisions() > 0 || self.transmitter.has_ready() {
                batches += 1;
                if batches.is_multiple_of(LISTING_EVERY) {
                    self.serve_listings();
                }
                // More inputs only while the batch is not full, so that what is queued stays
                // about one batch: a change arriving is decided within a batch or two of it.
                for _ in 0..INPUT_BATCH {
                    if self.node.pending_decisions() >= DECISION_BUDGET {
                        break;
                    }
                    match self.events.try_recv() {
                        Ok(event) => self.event(event),
                        Err(mpsc::error::TryRecvError::Empty) => break,
                        Err(mpsc::error::TryRecvError::Disconnected) => return,
                    }
                }
                for _ in 0..INPUT_BATCH {
                    if self.node.pending_decisions() >= DECISION_BUDGET {
                        break;
                    }
                    match self.kernel_routes.as_mut().map(mpsc::Receiver::try_recv) {
                        Some(Ok(event)) => self.kernel_route(event),
                        _ => break,
                    }
                }
                // At most one pull per connection waits: the drain is bounded.
                self.transmitter.drain(&mut self.node);
                if self.node.pending_decisions() > 0 {
                    self.node.run_decisions(Instant::now(), DECISION_BUDGET);
                    self.outputs();
                }
                self.transmitter.serve_ready(&mut self.node);
                self.forward_to_fib().await;
                // Other tasks (the writers above all) run between batches.
                tokio::task::yield_now().await;
                continue;
            }
            self.forward_to_fib().await;
            let waiting = !self.listings.is_empty();
            let timeout = self.node.poll_timeout().map(tokio::time::Instant::from_std);
            tokio::select! {
                event = self.events.recv() => match event {
                    Some(event) => self.event(event),
                    None => return,
                },
                Some(event) = next_kernel_route(&mut self.kernel_routes) => self.kernel_route(event),
                Some(pull) = self.transmitter.recv() => self.transmitter.pull(pull, &mut self.node),
                _ = retry.tick(), if waiting => self.serve_listings(),
                () = sleep_until_some(timeout), if timeout.is_some() => {
                    self.node.handle_timeout(Instant::now());
                    self.outputs();
                }
            }
        }
    }

    /// Puts the decided forwarding changes into the FIB task's queue in order, waiting for
    /// room (backpressure), then tells it to sweep once the node allowed it, so that the FIB
    /// has every claim before it sweeps.
    async fn forward_to_fib(&mut self) {
        if let Some(fib) = &self.fib {
            while let Some(change) = self.fib_queue.pop_front() {
                if fib.send(FibCommand::Change(change)).await.is_err() {
                    warn!("the FIB task has stopped: forwarding changes are no longer installed");
                    self.fib = None;
                    break;
                }
            }
        } else {
            self.fib_queue.clear();
        }
        if self.sweep && self.fib_queue.is_empty() {
            self.sweep = false;
            if let Some(fib) = &self.fib {
                // A FIB task that is gone has nothing to sweep.
                let _ = fib.send(FibCommand::InitialConvergenceDone).await;
            }
        }
    }

    /// Publishes the node's figures, waking the daemon only when they changed.
    fn publish(&self) {
        let now = RibStatus {
            restarting: self.node.restarting(),
            stale_routes: self.node.stale_routes(),
            kernel_routes: self.node.kernel_routes(),
        };
        self.status.send_if_modified(|status| {
            let changed = *status != now;
            *status = now;
            changed
        });
    }

    fn event(&mut self, event: RibEvent) {
        let now = Instant::now();
        let input = match event {
            RibEvent::PeerUp(up) => {
                let PeerUp {
                    peer,
                    name,
                    negotiated,
                    local,
                    epoch,
                    commands,
                } = *up;
                self.peers.insert(peer, PeerLink { name, commands });
                // Before the node's PeerUp, whose Transmit answers a parked pull.
                self.transmitter.up(peer, epoch);
                NodeInput::PeerUp {
                    peer,
                    session: Box::new(negotiated),
                    local: LocalAddresses::from_session(local),
                }
            }
            RibEvent::PeerDown {
                peer,
                graceful,
                epoch,
            } => {
                self.transmitter.down(peer, epoch);
                self.peers.remove(&peer);
                NodeInput::PeerDown { peer, graceful }
            }
            RibEvent::Update { peer, update } => NodeInput::Update { peer, update },
            RibEvent::RouteRefresh { peer, refresh } => NodeInput::RouteRefresh { peer, refresh },
            RibEvent::Configure { peer, config } => NodeInput::Configure { peer, config },
            RibEvent::Deconfigure { peer } => {
                self.transmitter.forget(peer);
                NodeInput::Deconfigure { peer }
            }
            RibEvent::NeighborsKnown => NodeInput::NeighborsKnown,
            RibEvent::SetClusterId(cluster_id) => NodeInput::SetClusterId(cluster_id),
            RibEvent::Originate { prefix, route } => NodeInput::Originate { prefix, route },
            RibEvent::WithdrawLocal { prefix } => NodeInput::WithdrawOriginated { prefix },
            RibEvent::ShowRoutes(query) => {
                self.listings.push(Running {
                    query,
                    prefixes: None,
                    next: 0,
                });
                if self.node.pending_decisions() == 0 {
                    self.serve_listings();
                }
                return;
            }
            RibEvent::ShowNeighbors { neighbors, lines } => {
                let lines_out = neighbors
                    .into_iter()
                    .map(|(peer, mut neighbor)| {
                        // Not established: no routes in either direction.
                        let summary = self.node.rib().peer_summary(peer);
                        neighbor.received = summary.map_or(0, |s| s.received as u64);
                        neighbor.accepted = summary.map_or(0, |s| s.accepted as u64);
                        neighbor.advertised = summary.map_or(0, |s| s.advertised as u64);
                        serde_json::to_string(&neighbor)
                            .unwrap_or_else(|error| failure(&error.to_string()))
                    })
                    .collect();
                // A client that went away needs no answer.
                let _ = lines.try_send(lines_out);
                return;
            }
        };
        self.node.handle(now, input);
        self.outputs();
    }

    /// A kernel route matching `[kernel.advertise]` appeared or the last one went away (the
    /// node decides what it originates).
    fn kernel_route(&mut self, event: KernelRouteEvent) {
        let (prefix, present) = match event {
            KernelRouteEvent::Add { prefix } => (prefix, true),
            KernelRouteEvent::Remove { prefix } => (prefix, false),
        };
        self.node
            .handle(Instant::now(), NodeInput::KernelRoute { prefix, present });
        self.outputs();
    }

    /// Acts on the node's outputs, in order.
    fn outputs(&mut self) {
        while let Some(output) = self.node.poll_output() {
            match output {
                NodeOutput::Fib(change) => {
                    self.fib_changes += 1;
                    if self.fib.is_some() {
                        self.fib_queue.push_back(change);
                    }
                }
                NodeOutput::Transmit(peer) => self.transmitter.transmit(peer, &mut self.node),
                NodeOutput::StopPeer { peer, notification } => {
                    let Some(link) = self.peers.get(&peer) else {
                        continue;
                    };
                    warn!(peer = %link.name, %notification, "too many prefixes: stopping the session");
                    let reason = StopReason::MaxPrefixes {
                        notification_data: notification.data,
                    };
                    if let Some(commands) = link.commands.upgrade() {
                        if commands.try_send(PeerCommand::Stop(reason)).is_err() {
                            warn!(peer = %link.name, "peer task busy: the stop is not delivered");
                        }
                    }
                }
                NodeOutput::FamilyDisabled { peer, family } => {
                    let name = self.peers.get(&peer).map_or("?", |l| l.name.as_str());
                    warn!(peer = %name, afi_safi = %family, "family disabled for the session (RFC 7606)");
                }
                NodeOutput::ExportFailed {
                    group,
                    routes,
                    error,
                } => {
                    warn!(%group, routes, %error, "routes could not be encoded and were withdrawn");
                }
                NodeOutput::Stale {
                    peer,
                    family,
                    kept_for,
                } => match kept_for {
                    Some(after) => {
                        info!(%peer, afi_safi = %family, seconds = after.as_secs(), "stale routes kept (graceful restart)");
                    }
                    None => info!(%peer, afi_safi = %family, "stale timer expired"),
                },
                NodeOutput::Converged(reason) => {
                    info!(reason = ?reason, fib_changes = self.fib_changes, "initial convergence");
                }
                NodeOutput::RestartDone => {
                    info!(
                        fib_changes = self.fib_changes,
                        "selection deferral done: End-of-RIB sent, kernel sweep next"
                    );
                }
                NodeOutput::SweepAllowed => self.sweep = true,
            }
        }
        self.publish();
    }
}

/// Sleeps until `at`; `None` never comes (the caller guards the branch).
async fn sleep_until_some(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The FIB task's next kernel-route event; never without `[kernel]` or once the FIB is gone.
async fn next_kernel_route(
    events: &mut Option<mpsc::Receiver<KernelRouteEvent>>,
) -> Option<KernelRouteEvent> {
    let Some(receiver) = events else {
        return std::future::pending().await;
    };
    let event = receiver.recv().await;
    if event.is_none() {
        *events = None;
    }
    event
}

/// The RIB task with the configured `[[route]]`s originated, and its queue; run it with
/// [`RibTask::run`].
pub fn new_task(config: &config::Config, router_id: RouterId) -> (mpsc::Sender<RibEvent>, RibTask) {
    let (sender, events) = mpsc::channel(RIB_QUEUE);
    let mut task = RibTask::new(rib_config(config, router_id), events);
    for route in &config.routes {
        task.node.handle(
            Instant::now(),
            NodeInput::Originate {
                prefix: route.prefix,
                route: local_route(route),
            },
        );
    }
    info!(routes = config.routes.len(), "RIB ready");
    (sender, task)
}

#[cfg(test)]
mod tests;
