//! The RIB task: the one owner of `rr::Rib`. Peer tasks feed it through one bounded channel of
//! [`RibEvent`]s (a full channel stops the sending peer task, which then stops reading its
//! socket: TCP pushes back on the neighbor); it runs decisions in bounded batches between
//! inputs, hands each neighbor's writer the encoded messages of its update group (shared
//! `Bytes`, only as many as the writer has room for) and answers `bgpctl show routes` in
//! chunks. It also translates configuration into `rr`'s own types ([`peer_config`],
//! [`rib_config`], [`local_route`]).
//!
//! The RIB writes into the connection's writer queue itself rather than through the peer task:
//! one hop less per message, and the peer task stays free for its timers. The session is not
//! told of those writes, so KEEPALIVEs go out on schedule even while UPDATEs flow (RFC 4271
//! §4.4 only requires that they are not sent more often than the keepalive interval).
//!
//! RFC 4724 §2: End-of-RIB after the initial table comes from the RIB (it is the last message
//! of the neighbor's initial walk). RFC 4486 §4: a neighbor over its `max_prefixes` is stopped
//! with Cease / Maximum Number of Prefixes Reached by its own task.
//!
//! With `[kernel]`, forwarding changes go to the FIB task (`crate::fib`): the RIB task awaits
//! room in its queue (backpressure: a kernel that falls behind slows the RIB, which slows the
//! peers). The End-of-RIBs received feed [`Convergence`]; once it is reached and every
//! decision is made, the FIB is told to sweep the routes of an earlier run nobody claimed.
//!
//! Graceful restart (RFC 4724, RFC 9494; the decisions are `rr::restart`'s): a session that
//! fails without a NOTIFICATION goes down `graceful`, and the RIB keeps the neighbor's routes
//! stale; this task runs the stale timers the RIB asks for. With graceful restart enabled the
//! RIB starts with its selection deferred (RFC 4724 §4.1): [`Convergence`] then waits only for
//! neighbors that negotiated graceful restart without the Restart State bit, bounded by
//! `selection_deferral_time`; at convergence the deferral ends, and the FIB sweep follows the
//! last deferred decision ([`RibOutput::SelectionDeferralDone`]). The sweep also waits (within
//! the same bound) for End-of-RIB from neighbors that are restarting themselves: selection did
//! not wait for them (it must not), but sweeping before their routes arrive would delete
//! kernel routes they are about to confirm.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ipnet::IpNet;
use proto::attr::{Community, LargeCommunity, Origin};
use proto::route_refresh::RouteRefresh;
use proto::session::{Negotiated, StopReason};
use proto::update::Update;
use proto::{AfiSafi, ClusterId, RouterId};
use rr::{
    AdjRibRoute, FibChange, Listing, LocalAddresses, LocalRoute, NextHopPolicy, PathAttrs,
    PeerConfig, PeerId, Rib, RibConfig, RibInput, RibOutput, RouteNextHop, RouteSource, RouteView,
};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::control::failure;
use crate::control::protocol::{self, RouteTable};
use crate::convergence::{Convergence, CONVERGENCE_TIMEOUT};
use crate::fib::{FibCommand, KernelRouteEvent};
use crate::peer::PeerCommand;
use crate::restart::RestartStatus;

/// Inputs waiting for the RIB task; a full queue stops the peer tasks that send to it (each
/// stops reading its socket), never drops an input.
pub const RIB_QUEUE: usize = 1024;
/// Prefixes decided per batch: small enough that inputs and writers are served in between.
const DECISION_BUDGET: usize = 1024;
/// Inputs applied between two decision batches, so that neither starves the other.
const INPUT_BATCH: usize = 64;
/// Writer slots left to the peer task's own messages (KEEPALIVE, NOTIFICATION,
/// ROUTE-REFRESH), so that the RIB never fills a writer and makes the session look blocked.
const SESSION_HEADROOM: usize = 16;
/// Hand-overs to one writer per transmit; the rest waits for the next retry.
const TRANSMIT_ROUNDS: usize = 4;
/// How often writers that were full, and listings waiting for their client, are retried.
const RETRY_INTERVAL: Duration = Duration::from_millis(20);
/// Routes looked at per chunk of a `show routes` listing.
const ROUTE_CHUNK: usize = 512;
/// Listings are served when no decision is pending, so that they show settled state, and
/// at least every this many decision batches, so that constant churn cannot starve them.
const LISTING_EVERY: u32 = 16;

/// What peer tasks and the daemon tell the RIB task.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // UPDATEs are the hot path; boxing would allocate each
pub enum RibEvent {
    /// A session reached Established (`proto::session::Action::Up`).
    PeerUp(Box<PeerUp>),
    /// The session left Established; `graceful`: without a NOTIFICATION (RFC 4724 §4.2).
    PeerDown { peer: PeerId, graceful: bool },
    /// A decoded UPDATE with its RFC 7606 errors.
    Update { peer: PeerId, update: Update },
    /// A ROUTE-REFRESH from the neighbor (RFC 2918, RFC 7313).
    RouteRefresh { peer: PeerId, refresh: RouteRefresh },
    /// New neighbor settings that need no session reset (SIGHUP).
    Reconfigure { peer: PeerId, config: PeerConfig },
    /// `global.cluster_id` changed (SIGHUP, or this node's `rr_cluster_id` in the datastore).
    SetClusterId(Option<ClusterId>),
    /// A configured `[[route]]` appeared or changed.
    Originate { prefix: IpNet, route: LocalRoute },
    /// A configured `[[route]]` was removed.
    WithdrawLocal { prefix: IpNet },
    /// A neighbor was configured (initial convergence waits for its End-of-RIB).
    NeighborAdded { peer: PeerId },
    /// A neighbor was deconfigured: what the RIB task kept about it goes.
    NeighborRemoved { peer: PeerId },
    /// The configured neighbors are all known (with a datastore: after its first snapshot).
    /// The set travels whole, so that the event cannot overtake a `NeighborAdded` that had to
    /// wait for room in the queue.
    NeighborsKnown { neighbors: Vec<PeerId> },
    /// `bgpctl show routes`, answered in chunks on `lines`.
    ShowRoutes(RouteQuery),
    /// `bgpctl show neighbors`: the daemon's view, completed with the RIB's counters.
    ShowNeighbors {
        neighbors: Vec<(PeerId, protocol::Neighbor)>,
        lines: mpsc::Sender<Vec<String>>,
    },
}

/// An established neighbor, as its peer task announces it.
#[derive(Debug)]
pub struct PeerUp {
    pub peer: PeerId,
    pub name: String,
    pub negotiated: Negotiated,
    /// The local address of the established connection (next-hop-self).
    pub local: IpAddr,
    pub config: PeerConfig,
    /// The connection's writer: the RIB hands it encoded messages.
    pub writer: mpsc::Sender<Bytes>,
    /// The peer task, to stop the session (weak: the RIB must not keep the task alive).
    pub commands: mpsc::WeakSender<PeerCommand>,
}

/// A `show routes` listing in progress.
#[derive(Debug)]
pub struct RouteQuery {
    pub table: RouteTable,
    pub prefix: Option<IpNet>,
    /// `--neighbor`: the Loc-RIB paths from it, or the table of `--received`/`--advertised`.
    pub neighbor: Option<PeerId>,
    pub lines: mpsc::Sender<Vec<String>>,
}

/// A running listing: the query and where the next chunk starts.
struct Running {
    query: RouteQuery,
    next: Listing,
}

/// An established neighbor's links.
struct PeerLink {
    name: String,
    writer: mpsc::Sender<Bytes>,
    commands: mpsc::WeakSender<PeerCommand>,
}

/// The task's state.
pub struct RibTask {
    rib: Rib,
    events: mpsc::Receiver<RibEvent>,
    peers: HashMap<PeerId, PeerLink>,
    /// Settings from the latest reload, newer than those a racing PeerUp may carry.
    reconfigured: HashMap<PeerId, PeerConfig>,
    /// Neighbors with messages whose writer was full: retried every [`RETRY_INTERVAL`].
    blocked: HashSet<PeerId>,
    /// Neighbors with messages whose writer had room: served again on the next turn.
    ready: HashSet<PeerId>,
    listings: Vec<Running>,
    /// The FIB task's queue, with `[kernel]`; `None` also once the FIB task is gone.
    fib: Option<mpsc::Sender<FibCommand>>,
    /// Forwarding changes decided and not yet in the FIB task's queue.
    fib_queue: Vec<FibChange>,
    /// Forwarding changes decided since start.
    fib_changes: u64,
    convergence: Convergence,
    /// Prefixes of configured `[[route]]`s, with their attributes.
    configured: HashMap<IpNet, LocalRoute>,
    /// Prefixes with a kernel route matching `[kernel.advertise]`: what this task originates
    /// of the kernel (the FIB task keeps the mirror of the kernel itself).
    kernel: HashSet<IpNet>,
    /// The FIB task's kernel-route events, straight from it (with `[kernel]`).
    kernel_routes: Option<mpsc::Receiver<KernelRouteEvent>>,
    /// `kernel.len()`, published for the metrics.
    kernel_advertised: Arc<AtomicUsize>,
    /// Stale timers the RIB asked for (RFC 4724 §4.2, RFC 9494 §4.2), per neighbor and family.
    stale_timers: HashMap<(PeerId, AfiSafi), tokio::time::Instant>,
    /// The deferred decisions have run: the FIB may sweep once their changes are queued.
    sweep_ready: bool,
    /// Graceful restart figures for `bgpctl show status` and the metrics.
    restart: Arc<RestartStatus>,
}

impl RibTask {
    pub fn new(config: RibConfig, events: mpsc::Receiver<RibEvent>) -> RibTask {
        RibTask {
            rib: Rib::new(config),
            events,
            peers: HashMap::new(),
            reconfigured: HashMap::new(),
            blocked: HashSet::new(),
            ready: HashSet::new(),
            listings: Vec::new(),
            fib: None,
            fib_queue: Vec::new(),
            fib_changes: 0,
            convergence: Convergence::new(std::time::Instant::now(), CONVERGENCE_TIMEOUT),
            configured: HashMap::new(),
            kernel: HashSet::new(),
            kernel_routes: None,
            kernel_advertised: Arc::new(AtomicUsize::new(0)),
            stale_timers: HashMap::new(),
            sweep_ready: false,
            restart: Arc::new(RestartStatus::default()),
        }
    }

    /// The figures this task keeps up to date for the daemon.
    pub fn restart_status(&self) -> Arc<RestartStatus> {
        Arc::clone(&self.restart)
    }

    /// We are a restarting speaker (RFC 4724 §4.1): decisions, End-of-RIB to neighbors and the
    /// FIB sweep wait for End-of-RIB from the neighbors, at most `selection_deferral_time`.
    /// Call before the task runs.
    pub fn defer_selection(&mut self, selection_deferral_time: Duration) {
        self.convergence = Convergence::new(std::time::Instant::now(), selection_deferral_time);
        self.apply(RibInput::DeferSelection);
        self.restart.restarting.store(true, Ordering::Relaxed);
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

    /// The number of kernel routes originated into BGP, kept up to date by this task.
    pub fn kernel_advertised(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.kernel_advertised)
    }

    /// Runs until every sender of the channel is gone.
    pub async fn run(mut self) {
        let mut retry = tokio::time::interval(RETRY_INTERVAL);
        retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut batches: u32 = 0;
        loop {
            self.expire_stale_timers();
            if self.rib.pending_decisions() > 0 || !self.ready.is_empty() {
                batches += 1;
                if batches.is_multiple_of(LISTING_EVERY) {
                    self.serve_listings();
                }
                for _ in 0..INPUT_BATCH {
                    match self.events.try_recv() {
                        Ok(event) => self.event(event),
                        Err(mpsc::error::TryRecvError::Empty) => break,
                        Err(mpsc::error::TryRecvError::Disconnected) => return,
                    }
                }
                for _ in 0..INPUT_BATCH {
                    match self.kernel_routes.as_mut().map(mpsc::Receiver::try_recv) {
                        Some(Ok(event)) => self.kernel_route(event),
                        _ => break,
                    }
                }
                if self.rib.pending_decisions() > 0 {
                    let outputs = self.rib.run_decisions(DECISION_BUDGET);
                    self.outputs(outputs);
                }
                let ready: Vec<PeerId> = self.ready.drain().collect();
                for peer in ready {
                    self.transmit(peer);
                }
                self.forward_to_fib().await;
                // Other tasks (the writers above all) run between batches.
                tokio::task::yield_now().await;
                continue;
            }
            self.forward_to_fib().await;
            if self.rib.pending_decisions() > 0 {
                // The end of a selection deferral queued the deferred decisions.
                continue;
            }
            let waiting = !self.blocked.is_empty() || !self.listings.is_empty();
            let convergence_at = tokio::time::Instant::from_std(self.convergence.deadline());
            let stale_at = self.stale_timers.values().min().copied();
            let sweep_at = (self.sweep_ready
                && self.convergence.sweep_waits(std::time::Instant::now()))
            .then_some(convergence_at);
            tokio::select! {
                event = self.events.recv() => match event {
                    Some(event) => self.event(event),
                    None => return,
                },
                Some(event) = next_kernel_route(&mut self.kernel_routes) => self.kernel_route(event),
                _ = retry.tick(), if waiting => {
                    let blocked: Vec<PeerId> = self.blocked.drain().collect();
                    for peer in blocked {
                        self.transmit(peer);
                    }
                    self.serve_listings();
                }
                () = tokio::time::sleep_until(convergence_at), if self.convergence.pending() => {}
                () = sleep_until_some(stale_at), if stale_at.is_some() => {}
                () = sleep_until_some(sweep_at), if sweep_at.is_some() => {}
            }
        }
    }

    /// Puts the decided forwarding changes into the FIB task's queue, waiting for room
    /// (backpressure), then reports initial convergence once it is reached with no decision
    /// pending, so that the FIB has every claim before it sweeps.
    async fn forward_to_fib(&mut self) {
        let changes = std::mem::take(&mut self.fib_queue);
        if let Some(fib) = &self.fib {
            for change in changes {
                if fib.send(FibCommand::Change(change)).await.is_err() {
                    warn!("the FIB task has stopped: forwarding changes are no longer installed");
                    self.fib = None;
                    break;
                }
            }
        }
        if self.convergence.pending() && self.rib.pending_decisions() == 0 {
            if let Some(reason) = self.convergence.poll(std::time::Instant::now()) {
                info!(reason = ?reason, fib_changes = self.fib_changes, "initial convergence");
                if self.rib.selection_deferred() {
                    // RFC 4724 §4.1: decide now; the sweep follows the last decision.
                    self.apply(RibInput::EndSelectionDeferral);
                } else {
                    self.sweep_ready = true;
                }
            }
        }
        if !self.sweep_ready || !self.fib_queue.is_empty() {
            return;
        }
        if self.convergence.sweep_waits(std::time::Instant::now()) {
            return;
        }
        self.sweep_ready = false;
        if let Some(fib) = &self.fib {
            // A FIB task that is gone has nothing to sweep.
            let _ = fib.send(FibCommand::InitialConvergenceDone).await;
        }
    }

    /// Applies the stale timeouts that are due.
    fn expire_stale_timers(&mut self) {
        if self.stale_timers.is_empty() {
            return;
        }
        let now = tokio::time::Instant::now();
        let due: Vec<(PeerId, AfiSafi)> = self
            .stale_timers
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(key, _)| *key)
            .collect();
        for (peer, family) in due {
            self.stale_timers.remove(&(peer, family));
            info!(%peer, afi_safi = %family, "stale timer expired");
            self.apply(RibInput::StaleTimeout { peer, family });
            self.count_stale();
        }
    }

    fn count_stale(&self) {
        self.restart
            .stale_routes
            .store(self.rib.stale_routes(), Ordering::Relaxed);
    }

    fn event(&mut self, event: RibEvent) {
        match event {
            RibEvent::PeerUp(up) => {
                let PeerUp {
                    peer,
                    name,
                    negotiated,
                    local,
                    config,
                    writer,
                    commands,
                } = *up;
                let config = self.reconfigured.get(&peer).cloned().unwrap_or(config);
                // RFC 4724 §4.1: a restarting speaker waits for End-of-RIB only from neighbors
                // that negotiated graceful restart and are not restarting themselves.
                let waited = !self.rib.selection_deferred()
                    || negotiated
                        .graceful_restart
                        .as_ref()
                        .is_some_and(|restart| !restart.peer_restarting);
                self.convergence
                    .established(peer, negotiated.families, waited);
                let up = rr::PeerUp {
                    peer,
                    config,
                    session: negotiated,
                    local: LocalAddresses::from_session(local),
                };
                self.peers.insert(
                    peer,
                    PeerLink {
                        name,
                        writer,
                        commands,
                    },
                );
                self.apply(RibInput::PeerUp(Box::new(up)));
                self.count_stale();
            }
            RibEvent::PeerDown { peer, graceful } => {
                self.blocked.remove(&peer);
                self.ready.remove(&peer);
                self.peers.remove(&peer);
                self.convergence.down(peer);
                self.apply(RibInput::PeerDown { peer, graceful });
                self.count_stale();
            }
            RibEvent::Update { peer, update } => {
                let end_of_rib = update.end_of_rib_family();
                if let Some(family) = end_of_rib {
                    self.convergence.end_of_rib(peer, family);
                }
                self.apply(RibInput::Update { peer, update });
                if end_of_rib.is_some() {
                    self.count_stale();
                }
            }
            RibEvent::RouteRefresh { peer, refresh } => {
                self.apply(RibInput::RouteRefresh { peer, refresh });
            }
            RibEvent::Reconfigure { peer, config } => {
                self.reconfigured.insert(peer, config.clone());
                if self.peers.contains_key(&peer) {
                    self.apply(RibInput::Reconfigure { peer, config });
                }
            }
            RibEvent::SetClusterId(cluster_id) => self.apply(RibInput::SetClusterId(cluster_id)),
            RibEvent::Originate { prefix, route } => self.originate_configured(prefix, route),
            RibEvent::WithdrawLocal { prefix } => {
                self.configured.remove(&prefix);
                if self.kernel.contains(&prefix) {
                    self.apply(RibInput::Originate {
                        prefix,
                        route: LocalRoute::default(),
                    });
                } else {
                    self.apply(RibInput::WithdrawLocal { prefix });
                }
            }
            RibEvent::NeighborAdded { peer } => self.convergence.neighbor_added(peer),
            RibEvent::NeighborRemoved { peer } => {
                // Ids are never reused: nothing kept for it is needed again (its PeerDown, if
                // it was up, may still follow and needs none of it).
                self.reconfigured.remove(&peer);
                self.convergence.neighbor_removed(peer);
                // A neighbor restarting when it is removed: its stale routes go now.
                if self.rib.is_restarting(peer) {
                    self.apply(RibInput::PeerDown {
                        peer,
                        graceful: false,
                    });
                    self.count_stale();
                }
                self.stale_timers.retain(|(id, _), _| *id != peer);
            }
            RibEvent::NeighborsKnown { neighbors } => {
                for peer in neighbors {
                    self.convergence.neighbor_added(peer);
                }
                self.convergence.neighbors_known();
            }
            RibEvent::ShowRoutes(query) => {
                let next = Listing::from(query.prefix);
                self.listings.push(Running { query, next });
                if self.rib.pending_decisions() == 0 {
                    self.serve_listings();
                }
            }
            RibEvent::ShowNeighbors { neighbors, lines } => {
                let lines_out = neighbors
                    .into_iter()
                    .map(|(peer, mut neighbor)| {
                        // Not established: no routes in either direction.
                        let summary = self.rib.peer_summary(peer);
                        neighbor.received = summary.map_or(0, |s| s.received as u64);
                        neighbor.accepted = summary.map_or(0, |s| s.accepted as u64);
                        neighbor.advertised = summary.map_or(0, |s| s.advertised as u64);
                        serde_json::to_string(&neighbor)
                            .unwrap_or_else(|error| failure(&error.to_string()))
                    })
                    .collect();
                // A client that went away needs no answer.
                let _ = lines.try_send(lines_out);
            }
        }
    }

    /// A kernel route matching `[kernel.advertise]` appeared or the last one went away: it is
    /// originated with next hop self towards every neighbor, unless a `[[route]]` of the same
    /// prefix is configured (its attributes win; each keeps the route alive).
    fn kernel_route(&mut self, event: KernelRouteEvent) {
        let (prefix, present) = match event {
            KernelRouteEvent::Add { prefix } => (prefix, true),
            KernelRouteEvent::Remove { prefix } => (prefix, false),
        };
        let changed = if present {
            self.kernel.insert(prefix)
        } else {
            self.kernel.remove(&prefix)
        };
        self.kernel_advertised
            .store(self.kernel.len(), Ordering::Relaxed);
        if changed && !self.configured.contains_key(&prefix) {
            self.apply(if present {
                RibInput::Originate {
                    prefix,
                    route: LocalRoute::default(),
                }
            } else {
                RibInput::WithdrawLocal { prefix }
            });
        }
    }

    fn originate_configured(&mut self, prefix: IpNet, route: LocalRoute) {
        self.configured.insert(prefix, route.clone());
        self.apply(RibInput::Originate { prefix, route });
    }

    fn apply(&mut self, input: RibInput) {
        match self.rib.apply(input) {
            Ok(outputs) => self.outputs(outputs),
            // A late input of a session that is already down: its routes are gone anyway.
            Err(error) => debug!(%error, "RIB input ignored"),
        }
    }

    fn outputs(&mut self, outputs: Vec<RibOutput>) {
        for output in outputs {
            match output {
                RibOutput::Fib(change) => {
                    self.fib_changes += 1;
                    if self.fib.is_some() {
                        self.fib_queue.push(change);
                    }
                }
                RibOutput::Transmit(peer) => self.transmit(peer),
                RibOutput::StopPeer { peer, notification } => {
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
                RibOutput::FamilyDisabled { peer, family } => {
                    let name = self.peers.get(&peer).map_or("?", |l| l.name.as_str());
                    warn!(peer = %name, afi_safi = %family, "family disabled for the session (RFC 7606)");
                }
                RibOutput::ExportFailed {
                    group,
                    routes,
                    error,
                } => {
                    warn!(%group, routes, %error, "routes could not be encoded and were withdrawn");
                }
                RibOutput::StaleTimer {
                    peer,
                    family,
                    after,
                } => {
                    info!(%peer, afi_safi = %family, seconds = after.as_secs(), "stale routes kept (graceful restart)");
                    self.stale_timers
                        .insert((peer, family), tokio::time::Instant::now() + after);
                }
                RibOutput::SelectionDeferralDone => {
                    info!(
                        fib_changes = self.fib_changes,
                        "selection deferral done: End-of-RIB sent, kernel sweep next"
                    );
                    self.restart.restarting.store(false, Ordering::Relaxed);
                    self.sweep_ready = true;
                }
            }
        }
    }

    /// Hands the neighbor's writer as many messages as it has room for, keeping
    /// [`SESSION_HEADROOM`] slots for the session's own messages. A neighbor left with
    /// messages is served again on the next turn, or after [`RETRY_INTERVAL`] when its writer
    /// is full.
    fn transmit(&mut self, peer: PeerId) {
        let Some(link) = self.peers.get(&peer) else {
            return;
        };
        self.blocked.remove(&peer);
        self.ready.remove(&peer);
        for _ in 0..TRANSMIT_ROUNDS {
            if !self.rib.has_messages(peer) {
                return;
            }
            let room = link.writer.capacity().saturating_sub(SESSION_HEADROOM);
            if room == 0 {
                self.blocked.insert(peer);
                return;
            }
            let permits = match link.writer.try_reserve_many(room) {
                Ok(permits) => permits,
                Err(mpsc::error::TrySendError::Full(())) => {
                    self.blocked.insert(peer);
                    return;
                }
                // The connection is closing; PeerDown follows.
                Err(mpsc::error::TrySendError::Closed(())) => return,
            };
            // A step of a long table walk may yield nothing (see `Rib::take_messages`).
            let messages = self.rib.take_messages(peer, room);
            for (permit, message) in permits.zip(messages) {
                permit.send(message);
            }
        }
        if self.rib.has_messages(peer) {
            self.ready.insert(peer);
        }
    }

    /// Sends every listing's next chunks, as many as its client has room for; finished
    /// listings close their stream.
    fn serve_listings(&mut self) {
        let listings = std::mem::take(&mut self.listings);
        for mut listing in listings {
            // Bounded by the stream's capacity: each round fills one slot or ends the listing.
            loop {
                if listing.query.lines.is_closed() {
                    break;
                }
                // This task is the stream's only sender: room now is room at the send below.
                if listing.query.lines.capacity() == 0 {
                    self.listings.push(listing);
                    break;
                }
                let (lines, next) = self.chunk(&listing.query, listing.next);
                if listing.query.lines.try_send(lines).is_err() {
                    break;
                }
                match next {
                    Some(next) => listing.next = Listing::After(next),
                    None => break,
                }
            }
        }
    }

    /// One chunk of a listing, and the last prefix it covered when more may follow. A prefix's
    /// paths are never split across chunks.
    fn chunk(&self, query: &RouteQuery, from: Listing) -> (Vec<String>, Option<IpNet>) {
        let mut lines = Vec::new();
        let mut seen = 0;
        let mut last = None;
        let mut push = |prefix: IpNet, route: Option<protocol::Route>| -> bool {
            if seen >= ROUTE_CHUNK && last != Some(prefix) {
                return false;
            }
            seen += 1;
            last = Some(prefix);
            if let Some(route) = route {
                lines.push(
                    serde_json::to_string(&route)
                        .unwrap_or_else(|error| failure(&error.to_string())),
                );
            }
            true
        };
        let mut complete = true;
        match (query.table, query.neighbor) {
            (RouteTable::LocRib, neighbor) => {
                for view in self.rib.routes_listing(from) {
                    let wanted = neighbor.is_none_or(|n| view.source == RouteSource::Peer(n));
                    let route = wanted.then(|| self.loc_rib_route(&view));
                    if !push(view.prefix, route) {
                        complete = false;
                        break;
                    }
                }
            }
            (table, Some(peer)) => {
                let name = self.peer_name(RouteSource::Peer(peer));
                let routes: Box<dyn Iterator<Item = AdjRibRoute<'_>>> = match table {
                    RouteTable::Advertised => Box::new(self.rib.advertised_listing(peer, from)),
                    _ => Box::new(self.rib.received_listing(peer, from)),
                };
                for route in routes {
                    let view = route_json(route.prefix, route.attrs, name.clone(), route.accepted);
                    if !push(route.prefix, Some(view)) {
                        complete = false;
                        break;
                    }
                }
            }
            (_, None) => {
                lines.push(failure("--received and --advertised need --neighbor NAME"));
            }
        }
        let next = if complete || matches!(from, Listing::Prefix(_)) {
            None
        } else {
            last
        };
        (lines, next)
    }

    fn loc_rib_route(&self, view: &RouteView<'_>) -> protocol::Route {
        let from = match view.source {
            RouteSource::Local
                if self.kernel.contains(&view.prefix)
                    && !self.configured.contains_key(&view.prefix) =>
            {
                KERNEL_SOURCE.to_owned()
            }
            source => self.peer_name(source),
        };
        route_json(view.prefix, view.attrs, from, view.best())
    }

    fn peer_name(&self, source: RouteSource) -> String {
        match source {
            RouteSource::Local => LOCAL_SOURCE.to_owned(),
            RouteSource::Peer(peer) => self
                .peers
                .get(&peer)
                .map_or_else(|| peer.to_string(), |l| l.name.clone()),
        }
    }
}

/// `from` of a route this speaker originates from its configuration.
const LOCAL_SOURCE: &str = "local";
/// `from` of a route this speaker originates from a kernel route (`[kernel.advertise]`).
const KERNEL_SOURCE: &str = "kernel";
/// `next_hop` of a route this speaker originates.
const SELF_NEXT_HOP: &str = "self";

fn route_json(prefix: IpNet, attrs: &PathAttrs, from: String, best: bool) -> protocol::Route {
    let a = &attrs.attributes;
    protocol::Route {
        prefix: prefix.to_string(),
        next_hop: match &attrs.next_hop {
            RouteNextHop::Local => SELF_NEXT_HOP.to_owned(),
            RouteNextHop::Address(next_hop) => rr::types::forwarding_address(next_hop).to_string(),
        },
        as_path: a.as_path.as_ref().map_or_else(Vec::new, |path| {
            path.segments()
                .iter()
                .flat_map(|segment| segment.asns().iter().map(|asn| asn.0))
                .collect()
        }),
        origin: a.origin.map(|origin| {
            match origin {
                Origin::Igp => "igp",
                Origin::Egp => "egp",
                Origin::Incomplete => "incomplete",
            }
            .to_owned()
        }),
        local_pref: a.local_pref.map(|l| l.0),
        med: a.multi_exit_disc.map(|m| m.0),
        communities: a.communities.iter().map(ToString::to_string).collect(),
        large_communities: a
            .large_communities
            .iter()
            .map(ToString::to_string)
            .collect(),
        originator_id: a.originator_id.map(|id| id.to_string()),
        cluster_list: a.cluster_list.iter().map(ToString::to_string).collect(),
        from,
        best,
    }
}

/// The RIB's settings from `[global]` and `[kernel]`.
pub fn rib_config(config: &config::Config, router_id: RouterId) -> RibConfig {
    let mut rib = RibConfig::new(config.global.asn, router_id);
    rib.cluster_id = config.global.cluster_id;
    match &config.kernel {
        Some(kernel) => {
            rib.install_routes = kernel.program;
            if let Some(paths) = NonZeroUsize::new(usize::from(kernel.ecmp_max_paths)) {
                rib.ecmp_max_paths = paths;
            }
        }
        // No kernel section: a pure reflector keeps no FIB state.
        None => rib.install_routes = false,
    }
    rib
}

/// A neighbor's settings as the RIB knows them; its policies (and `communities`) as
/// [`crate::policy`] translates them, with `local_asn` the AS that export policies prepend.
pub fn peer_config(neighbor: &config::Neighbor, local_asn: proto::Asn) -> PeerConfig {
    let mut peer = PeerConfig::new(neighbor.address.ip);
    peer.rr_client = neighbor.rr_client;
    peer.next_hop = match neighbor.next_hop {
        config::NextHopMode::Auto => NextHopPolicy::Auto,
        config::NextHopMode::SelfAddress => NextHopPolicy::SelfAddress,
        config::NextHopMode::Keep => NextHopPolicy::Keep,
    };
    peer.max_prefixes = neighbor.max_prefixes;
    peer.import = Arc::new(crate::policy::import(neighbor, local_asn));
    peer.export = Arc::new(crate::policy::export(neighbor, local_asn));
    peer
}

/// A configured `[[route]]` as the RIB originates it.
pub fn local_route(route: &config::Route) -> LocalRoute {
    let (communities, large_communities) = split_communities(&route.communities);
    LocalRoute {
        communities,
        large_communities,
        ..LocalRoute::default()
    }
}

pub(crate) fn split_communities(
    configured: &[config::Community],
) -> (Vec<Community>, Vec<LargeCommunity>) {
    let mut communities = Vec::new();
    let mut large = Vec::new();
    for community in configured {
        match *community {
            config::Community::Standard(value) => communities.push(Community(value)),
            config::Community::Large {
                global_admin,
                local_data1,
                local_data2,
            } => large.push(LargeCommunity {
                global_admin,
                local_data_1: local_data1,
                local_data_2: local_data2,
            }),
        }
    }
    (communities, large)
}

/// The RIB task with the configured `[[route]]`s originated, and its queue; run it with
/// [`RibTask::run`].
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

pub fn new_task(config: &config::Config, router_id: RouterId) -> (mpsc::Sender<RibEvent>, RibTask) {
    let (sender, events) = mpsc::channel(RIB_QUEUE);
    let mut task = RibTask::new(rib_config(config, router_id), events);
    for route in &config.routes {
        task.originate_configured(route.prefix, local_route(route));
    }
    info!(routes = config.routes.len(), "RIB ready");
    (sender, task)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use rr::{Modification, Policy, Statement};

    use super::*;

    fn config(text: &str) -> config::Config {
        config::Config::from_toml(text, "test.toml", Path::new("/"))
            .unwrap_or_else(|errors| panic!("{errors:?}"))
    }

    const ROUTER_ID: RouterId = RouterId(std::net::Ipv4Addr::new(192, 0, 2, 1));

    const GLOBAL: &str = r#"
        [global]
        asn = 64512
        router_id = "192.0.2.1"
        cluster_id = "192.0.2.99"
    "#;

    /// The configuration `extra` (after [`GLOBAL`]) gives the first neighbor.
    fn check_peer(extra: &str, expected: impl FnOnce(&mut PeerConfig)) {
        let config = config(&format!("{GLOBAL}\n{extra}"));
        let neighbor = &config.neighbors[0];
        let mut wanted = PeerConfig::new(neighbor.address.ip);
        expected(&mut wanted);
        assert_eq!(peer_config(neighbor, config.global.asn), wanted, "{extra}");
    }

    #[test]
    fn neighbor_settings_become_peer_config() {
        check_peer("[[neighbor]]\naddress = \"10.0.0.1\"\nasn = 64512", |_| {});
        check_peer(
            "[[neighbor]]\naddress = \"10.0.0.1\"\nasn = 64512\nrr_client = true\nnext_hop = \"self\"\nmax_prefixes = 10",
            |p| {
                p.rr_client = true;
                p.next_hop = NextHopPolicy::SelfAddress;
                p.max_prefixes = std::num::NonZeroU32::new(10);
            },
        );
        check_peer(
            "[[neighbor]]\naddress = \"10.0.0.1\"\nasn = 65000\nnext_hop = \"keep\"\ncommunities = [\"64512:100\", \"64512:1:2\"]",
            |p| {
                p.next_hop = NextHopPolicy::Keep;
                p.export = Arc::new(Policy {
                    statements: vec![Statement {
                        conditions: Vec::new(),
                        modifications: vec![
                            // 64512:100 = 0xFC00_0064
                            Modification::AddCommunities(vec![Community(0xFC00_0064)]),
                            Modification::AddLargeCommunities(vec![LargeCommunity {
                                global_admin: 64512,
                                local_data_1: 1,
                                local_data_2: 2,
                            }]),
                        ],
                        verdict: None,
                    }],
                    ..Policy::accept_all()
                });
            },
        );
    }

    #[test]
    fn global_and_kernel_become_rib_config() {
        let reflector = rib_config(&config(GLOBAL), ROUTER_ID);
        assert_eq!(
            reflector.cluster_id.map(|c| c.to_string()),
            Some("192.0.2.99".into())
        );
        assert!(!reflector.install_routes, "no [kernel]: nothing installed");
        let node = rib_config(
            &config(&format!(
                "{GLOBAL}\n[kernel]\nprogram = true\necmp_max_paths = 4"
            )),
            ROUTER_ID,
        );
        assert!(node.install_routes);
        assert_eq!(node.ecmp_max_paths.get(), 4);
    }

    /// What originates the local route of one prefix, step by step.
    enum Local {
        Configured,
        Unconfigured,
        Kernel(bool),
    }

    /// Where a local route comes from, after each step: `None` when it is not in the Loc-RIB.
    fn check_local_source(steps: &[(Local, Option<&str>)]) {
        let (_events, mut task) = new_task(&config(GLOBAL), ROUTER_ID);
        let prefix: IpNet = "10.244.1.0/26".parse().expect("literal");
        for (i, (step, expected)) in steps.iter().enumerate() {
            match step {
                Local::Configured => task.event(RibEvent::Originate {
                    prefix,
                    route: LocalRoute::default(),
                }),
                Local::Unconfigured => task.event(RibEvent::WithdrawLocal { prefix }),
                Local::Kernel(true) => task.kernel_route(KernelRouteEvent::Add { prefix }),
                Local::Kernel(false) => task.kernel_route(KernelRouteEvent::Remove { prefix }),
            }
            task.rib.run_decisions(DECISION_BUDGET);
            let from: Vec<String> = task
                .rib
                .routes_listing(Listing::Prefix(prefix))
                .map(|view| task.loc_rib_route(&view).from)
                .collect();
            assert_eq!(from.first().map(String::as_str), *expected, "step {i}");
            let kernel = usize::from(task.kernel.contains(&prefix));
            assert_eq!(task.kernel_advertised().load(Ordering::Relaxed), kernel);
        }
    }

    #[test]
    fn kernel_and_configured_routes_of_one_prefix() {
        use Local::*;
        check_local_source(&[
            (Kernel(true), Some(KERNEL_SOURCE)),
            (Configured, Some(LOCAL_SOURCE)),
            // The configured route keeps it when the kernel route goes, and the other way.
            (Kernel(false), Some(LOCAL_SOURCE)),
            (Kernel(true), Some(LOCAL_SOURCE)),
            (Unconfigured, Some(KERNEL_SOURCE)),
            (Kernel(false), None),
            (Configured, Some(LOCAL_SOURCE)),
            (Unconfigured, None),
        ]);
    }

    /// A listing longer than a chunk arrives whole, in order, without repeats, and the stream
    /// ends.
    #[tokio::test]
    async fn show_routes_streams_in_chunks() {
        const ROUTES: usize = ROUTE_CHUNK * 2 + 7;
        let routes: String = (0..ROUTES)
            .map(|i| format!("[[route]]\nprefix = \"10.{}.{}.0/24\"\n", i / 256, i % 256))
            .collect();
        let config = config(&format!("{GLOBAL}\n{routes}"));
        let (events, task) = new_task(&config, ROUTER_ID);
        let rib = tokio::spawn(task.run());
        let (lines, mut stream) = mpsc::channel(crate::control::STREAM_CHUNKS);
        events
            .send(RibEvent::ShowRoutes(RouteQuery {
                table: RouteTable::LocRib,
                prefix: None,
                neighbor: None,
                lines,
            }))
            .await
            .expect("the RIB task runs");
        let mut prefixes = Vec::new();
        let mut chunks = 0;
        while let Some(chunk) = stream.recv().await {
            chunks += 1;
            for line in chunk {
                let route: protocol::Route = serde_json::from_str(&line).expect("a route line");
                assert_eq!(
                    (route.from.as_str(), route.next_hop.as_str(), route.best),
                    (LOCAL_SOURCE, SELF_NEXT_HOP, true)
                );
                prefixes.push(route.prefix.parse::<IpNet>().expect("a prefix"));
            }
        }
        assert_eq!(chunks, 3);
        let mut sorted = prefixes.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(prefixes, sorted);
        assert_eq!(prefixes.len(), ROUTES);
        drop(events);
        rib.await.expect("the RIB task ends");
    }
}
