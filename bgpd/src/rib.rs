//! The RIB task: a thin driver of the pure `rr::node::Node`, which owns the RIB, the
//! neighbors' RIB settings, origination, convergence and graceful restart. Peer tasks and the
//! daemon feed it through one bounded channel of [`RibEvent`]s (a full channel stops the
//! sending peer task, which then stops reading its socket: TCP pushes back on the neighbor);
//! it runs the node's decisions in bounded batches between inputs, sleeps until the node's
//! next timer, answers the connections' writers when they pull the encoded messages of their
//! update group (shared `Bytes`, as many octets as the writer has room for; see
//! [`crate::transmit`]) and answers `bgpctl show routes` in chunks. It also translates
//! configuration into `rr`'s own types ([`peer_config`], [`rib_config`], [`local_route`]).
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

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use proto::attr::{Community, LargeCommunity, Origin};
use proto::route_refresh::RouteRefresh;
use proto::session::{Negotiated, StopReason};
use proto::update::Update;
use proto::{ClusterId, RouterId};
use rr::node::{LocalOrigin, Node, NodeConfig, NodeInput, NodeOutput};
use rr::{
    FibChange, LocalAddresses, LocalRoute, NextHopPolicy, PathAttrs, PeerConfig, PeerId, RibConfig,
    RouteNextHop, RouteSource, RouteView, TableView,
};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::control::failure;
use crate::control::protocol::{self, RouteTable};
use crate::fib::{FibCommand, KernelRouteEvent};
use crate::peer::PeerCommand;
use crate::restart::RestartStatus;
use crate::transmit::{Pulls, Transmitter};

/// Inputs waiting for the RIB task; a full queue stops the peer tasks that send to it (each
/// stops reading its socket), never drops an input. Small: what waits here is latency (an
/// UPDATE carries up to about a thousand routes), and TCP buffers the rest.
pub const RIB_QUEUE: usize = 64;
/// Destinations decided per batch: small enough that inputs and writers are served in between.
const DECISION_BUDGET: usize = 4096;
/// Inputs applied between two decision batches, so that neither starves the other.
const INPUT_BATCH: usize = 16;
/// How often listings waiting for their client are retried.
const RETRY_INTERVAL: Duration = Duration::from_millis(20);
/// Prefixes per chunk of a `show routes` listing.
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

/// A `show routes` listing in progress.
#[derive(Debug)]
pub struct RouteQuery {
    pub table: RouteTable,
    pub prefix: Option<IpNet>,
    /// `--neighbor`: the Loc-RIB paths from it, or the table of `--received`/`--advertised`.
    pub neighbor: Option<PeerId>,
    pub lines: mpsc::Sender<Vec<String>>,
}

/// A running listing: the query, its prefixes in order once taken, and where the next chunk
/// starts.
struct Running {
    query: RouteQuery,
    prefixes: Option<Vec<IpNet>>,
    next: usize,
}

impl RouteQuery {
    /// The RIB's table the query lists.
    fn view(&self) -> TableView {
        match (self.table, self.neighbor) {
            (RouteTable::Advertised, Some(peer)) => TableView::Advertised(peer),
            (RouteTable::Received, Some(peer)) => TableView::Received(peer),
            (RouteTable::LocRib, neighbor) => TableView::LocRib(neighbor),
            // Answered with an error line by `chunk`, once.
            (_, None) => TableView::LocRib(None),
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
    /// The kernel routes the node originates, published for the metrics.
    kernel_advertised: Arc<AtomicUsize>,
    /// Graceful restart figures for `bgpctl show status` and the metrics.
    restart: Arc<RestartStatus>,
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
            kernel_advertised: Arc::new(AtomicUsize::new(0)),
            restart: Arc::new(RestartStatus::default()),
        }
    }

    /// Where the peer tasks' writers pull their UPDATEs.
    pub fn pulls(&self) -> Pulls {
        self.transmitter.pulls()
    }

    /// The figures this task keeps up to date for the daemon.
    pub fn restart_status(&self) -> Arc<RestartStatus> {
        Arc::clone(&self.restart)
    }

    /// We are a restarting speaker (RFC 4724 §4.1): decisions, End-of-RIB to neighbors and the
    /// FIB sweep wait for End-of-RIB from the neighbors, at most `selection_deferral_time`.
    /// Call before the task runs.
    pub fn defer_selection(&mut self, selection_deferral_time: Duration) {
        self.node
            .defer_selection(Instant::now(), selection_deferral_time);
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

    fn count_stale(&self) {
        self.restart
            .stale_routes
            .store(self.node.stale_routes(), Ordering::Relaxed);
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
        self.kernel_advertised
            .store(self.node.kernel_routes(), Ordering::Relaxed);
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
                } => {
                    match kept_for {
                        Some(after) => {
                            info!(%peer, afi_safi = %family, seconds = after.as_secs(), "stale routes kept (graceful restart)");
                        }
                        None => info!(%peer, afi_safi = %family, "stale timer expired"),
                    }
                    self.count_stale();
                }
                NodeOutput::Converged(reason) => {
                    info!(reason = ?reason, fib_changes = self.fib_changes, "initial convergence");
                }
                NodeOutput::RestartDone => {
                    info!(
                        fib_changes = self.fib_changes,
                        "selection deferral done: End-of-RIB sent, kernel sweep next"
                    );
                    self.restart.restarting.store(false, Ordering::Relaxed);
                }
                NodeOutput::SweepAllowed => self.sweep = true,
            }
        }
        self.count_stale();
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
                let prefixes = listing.prefixes.get_or_insert_with(|| {
                    // The order of the listing, taken once: the table itself is unordered.
                    self.node
                        .rib()
                        .listing(listing.query.view(), listing.query.prefix.into())
                });
                let end = (listing.next + ROUTE_CHUNK).min(prefixes.len());
                let lines = self.chunk(&listing.query, &prefixes[listing.next..end]);
                listing.next = end;
                let done = end == prefixes.len();
                if listing.query.lines.try_send(lines).is_err() || done {
                    break;
                }
            }
        }
    }

    /// The lines of a chunk of a listing's prefixes (which may have changed since the listing
    /// began: what is there now is shown).
    fn chunk(&self, query: &RouteQuery, prefixes: &[IpNet]) -> Vec<String> {
        let json = |route: &protocol::Route| {
            serde_json::to_string(route).unwrap_or_else(|error| failure(&error.to_string()))
        };
        let mut lines = Vec::new();
        match (query.table, query.neighbor) {
            (RouteTable::LocRib, neighbor) => {
                for prefix in prefixes {
                    for view in self.node.rib().routes_at(prefix) {
                        if neighbor.is_none_or(|n| view.source == RouteSource::Peer(n)) {
                            lines.push(json(&self.loc_rib_route(&view)));
                        }
                    }
                }
            }
            (table, Some(peer)) => {
                let name = self.peer_name(RouteSource::Peer(peer));
                for prefix in prefixes {
                    let routes = match table {
                        RouteTable::Advertised => self.node.rib().advertised_at(peer, prefix),
                        _ => self.node.rib().received_at(peer, prefix),
                    };
                    for route in routes {
                        let view =
                            route_json(route.prefix, &route.attrs, name.clone(), route.accepted);
                        lines.push(json(&view));
                    }
                }
            }
            (_, None) => {
                lines.push(failure("--received and --advertised need --neighbor NAME"));
            }
        }
        lines
    }

    fn loc_rib_route(&self, view: &RouteView<'_>) -> protocol::Route {
        let from = match (view.source, self.node.local_origin(&view.prefix)) {
            (RouteSource::Local, Some(LocalOrigin::Kernel)) => KERNEL_SOURCE.to_owned(),
            (source, _) => self.peer_name(source),
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

    /// How `show routes` names where a local route comes from, after each step (the node
    /// decides; this checks the rendering and the published count): `None` when it is not in
    /// the Loc-RIB.
    fn check_local_source(steps: &[(Local, Option<&str>)]) {
        let (_events, mut task) = new_task(&config(GLOBAL), ROUTER_ID);
        let prefix: IpNet = "10.244.1.0/26".parse().expect("literal");
        for (i, (step, expected)) in steps.iter().enumerate() {
            let kernel = match step {
                Local::Configured => {
                    task.event(RibEvent::Originate {
                        prefix,
                        route: LocalRoute::default(),
                    });
                    None
                }
                Local::Unconfigured => {
                    task.event(RibEvent::WithdrawLocal { prefix });
                    None
                }
                Local::Kernel(true) => {
                    task.kernel_route(KernelRouteEvent::Add { prefix });
                    Some(1)
                }
                Local::Kernel(false) => {
                    task.kernel_route(KernelRouteEvent::Remove { prefix });
                    Some(0)
                }
            };
            task.node.run_decisions(Instant::now(), DECISION_BUDGET);
            let from: Vec<String> = task
                .node
                .rib()
                .routes_at(&prefix)
                .map(|view| task.loc_rib_route(&view).from)
                .collect();
            assert_eq!(from.first().map(String::as_str), *expected, "step {i}");
            if let Some(kernel) = kernel {
                assert_eq!(task.kernel_advertised().load(Ordering::Relaxed), kernel);
            }
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
