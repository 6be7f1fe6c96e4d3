//! The daemon's supervisor: it owns the configuration, the listeners and the table of peer
//! tasks. Accepted connections are routed to their neighbor's task (or closed when they come
//! from no configured neighbor); `SIGHUP` reloads the configuration file and applies only what
//! changed; `SIGTERM` / `SIGINT` stop every session with Cease / Administrative Shutdown
//! (with graceful restart, only where the RFC 8538 N bit was negotiated).
//! It starts the RIB task (`crate::rib`) and tells it what the configuration says of routes
//! and neighbors; `show routes` and the neighbors' route counters are answered by the RIB.
//!
//! With `[kernel]` it starts the FIB task (`crate::fib`) before any neighbor: the RIB task
//! feeds it forwarding changes, a small task turns its kernel-route events into locally
//! originated routes (next hop self towards every neighbor), and the daemon gives it the
//! datastore's pools, link-local neighbors' interfaces, `show fib` and the metrics' figures.
//! On shutdown the FIB stops first, so that sessions closing do not withdraw routes that
//! `persist_on_exit` keeps (RFC 4724 §4.1: forwarding state survives the restart).

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use config::source::{Origin, SourceEvent};
use config::{Change, Config, Effect, KernelField, PeerAddress};
use proto::session::StopReason;
use proto::{AfiSafiSet, RouterId};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info, warn};

use crate::control::protocol::{self, Done, Request};
use crate::control::{self as control_socket, failure, Answer, ControlRequest};
use crate::datastore::Datastore;
use crate::fib::{Fib, FibCommand, FibEntry, FibError, KernelRouteEvent};
use crate::metrics;
use crate::neighbor::{self, NeighborSettings};
use crate::peer::{PeerCommand, PeerHandle};
use crate::restart::{RestartBits, RestartStatus};
use crate::rib::{self, RibEvent, RibTask, RouteQuery};
use crate::socket;
use crate::systemd::Notifier;

/// How long stopping sessions may take to send their NOTIFICATIONs on shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Why the daemon cannot start or run.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("router_id is not configured and the host has no IPv4 address to take it from")]
    NoRouterId,
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
    #[error("cannot start the datastore source: {0}")]
    Datastore(#[from] crate::datastore::DatastoreError),
    #[error("cannot create control socket {path}: {source}")]
    ControlSocket {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start the kernel FIB: {0}")]
    Fib(#[from] FibError),
}

pub struct Daemon {
    config_path: PathBuf,
    /// The file as last loaded; with a datastore, `config` is it combined with the snapshot.
    file_config: Config,
    /// The configuration in force.
    config: Config,
    datastore: Option<Datastore>,
    router_id: RouterId,
    peers: BTreeMap<PeerAddress, PeerHandle>,
    listeners: Vec<Listener>,
    accepted_tx: mpsc::Sender<(TcpStream, SocketAddr)>,
    accepted: mpsc::Receiver<(TcpStream, SocketAddr)>,
    seed: u64,
    started: std::time::Instant,
    /// Configurations that took effect, the first included (a reload without changes does not
    /// count); with a datastore, its revision is shown instead.
    config_revision: u64,
    /// systemd's service manager, when bgpd runs as a `Type=notify` unit.
    notifier: Notifier,
    /// The RIB task's queue.
    rib: mpsc::Sender<RibEvent>,
    /// The RIB task until `run` starts it.
    rib_task: Option<RibTask>,
    /// The next neighbor number for the RIB; never reused, so that a late input of a removed
    /// neighbor cannot reach its successor.
    next_peer: u32,
    /// The kernel FIB, with `[kernel]`.
    fib: Option<Fib>,
    /// The `[kernel]` the FIB started with (what a reload can change live is judged against it).
    fib_started: Option<config::Kernel>,
    /// Kernel routes originated into BGP now (kept by the task that forwards them).
    kernel_advertised: Arc<AtomicUsize>,
    /// Graceful restart figures kept by the RIB task.
    restart_status: Arc<RestartStatus>,
    /// With graceful restart: the bits of our OPENs while we restart (RFC 4724 §3).
    restart_bits: Option<RestartBits>,
    /// The RIB was told that the configured neighbors are all known (initial convergence).
    neighbors_known: bool,
}

struct Listener {
    address: SocketAddr,
    socket: Arc<TcpListener>,
    task: tokio::task::JoinHandle<()>,
}

impl Daemon {
    pub fn new(config_path: PathBuf, config: Config) -> Result<Daemon, DaemonError> {
        let router_id = router_id(&config)?;
        let (accepted_tx, accepted) = mpsc::channel(64);
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id());
        let (rib, rib_task) = rib::new_task(&config, router_id);
        let restart_status = rib_task.restart_status();
        Ok(Daemon {
            rib,
            rib_task: Some(rib_task),
            next_peer: 0,
            fib: None,
            fib_started: None,
            kernel_advertised: Arc::new(AtomicUsize::new(0)),
            restart_status,
            restart_bits: None,
            neighbors_known: false,
            config_path,
            file_config: config.clone(),
            config,
            datastore: None,
            router_id,
            peers: BTreeMap::new(),
            listeners: Vec::new(),
            accepted_tx,
            accepted,
            seed,
            started: std::time::Instant::now(),
            config_revision: 1,
            notifier: Notifier::from_env().unwrap_or_else(|error| {
                warn!(%error, "systemd notifications off");
                Notifier::disabled()
            }),
        })
    }

    pub async fn run(mut self) -> Result<(), DaemonError> {
        let mut hangup = signal(SignalKind::hangup()).map_err(DaemonError::Signals)?;
        let mut terminate = signal(SignalKind::terminate()).map_err(DaemonError::Signals)?;
        let mut interrupt = signal(SignalKind::interrupt()).map_err(DaemonError::Signals)?;
        let (control_tx, mut control) = mpsc::channel(16);
        let control_path = self.config.global.control_socket.clone();
        let control_task = control_socket::serve(&control_path, control_tx).map_err(|source| {
            DaemonError::ControlSocket {
                path: control_path.clone(),
                source,
            }
        })?;
        for address in self.config.global.listen.clone() {
            self.open_listener(address)?;
        }
        let (scrape_tx, mut scrapes) = mpsc::channel(4);
        let metrics_task = match self.config.global.metrics_listen {
            Some(address) => Some(
                metrics::serve(address, scrape_tx)
                    .await
                    .map_err(|source| DaemonError::Listen { address, source })?,
            ),
            None => None,
        };
        let kernel_task = self.start_fib().await?;
        self.start_graceful_restart().await;
        let rib_task = self.rib_task.take().map(|task| tokio::spawn(task.run()));
        // Neighbors from the file start at once; the datastore's follow with its first snapshot
        // (from etcd, or from the saved cache while etcd is away).
        self.datastore = Datastore::start(&self.file_config, &self.config_path, self.router_id)?;
        let neighbors = self.config.neighbors.clone();
        for neighbor in &neighbors {
            self.add_neighbor(neighbor);
        }
        if self.datastore.is_none() {
            self.announce_neighbors_known();
        }
        info!(
            asn = %self.config.global.asn,
            router_id = %self.router_id,
            neighbors = self.peers.len(),
            listen = ?self.config.global.listen,
            "bgpd started"
        );
        self.notifier
            .ready(&format!("{} neighbors", self.peers.len()));
        // Created after READY: its first tick fires at once.
        let mut watchdog = self.notifier.watchdog_timer();
        loop {
            tokio::select! {
                // In the main loop, so that a hung loop is what the watchdog catches.
                _ = watchdog.tick() => self.notifier.watchdog(),
                Some((stream, remote)) = self.accepted.recv() => self.route_incoming(stream, remote),
                Some(request) = control.recv() => self.control(request),
                Some(event) = next_datastore_event(&mut self.datastore) => self.datastore_event(event),
                Some(reply) = scrapes.recv() => self.scrape(reply),
                _ = hangup.recv() => {
                    let _ = self.reload();
                }
                _ = terminate.recv() => break,
                _ = interrupt.recv() => break,
            }
        }
        self.notifier.stopping();
        control_task.abort();
        if let Some(task) = metrics_task {
            task.abort();
        }
        let _ = std::fs::remove_file(&control_path);
        // Before the sessions close: their withdrawals must not reach a kernel whose routes
        // `persist_on_exit` keeps.
        if let Some(fib) = self.fib.take() {
            match fib.stop().await {
                Ok(()) => info!("kernel FIB stopped"),
                Err(error) => warn!(%error, "kernel FIB stopped with an error"),
            }
        }
        if let Some(task) = kernel_task {
            task.abort();
        }
        // ops (RFC 8538): the RIB stops before the sessions close, so that nothing a closing
        // session withdraws reaches the others (they close too, or, restarting gracefully,
        // must keep our routes).
        if let Some(task) = rib_task {
            task.abort();
            let _ = task.await;
        }
        self.shutdown().await;
        Ok(())
    }

    /// Starts the FIB when `[kernel]` is configured: the RIB task gets its queue, and a task
    /// of its own forwards kernel-route events to the RIB in order (awaiting room: the FIB
    /// keeps undelivered events coalesced meanwhile).
    async fn start_fib(&mut self) -> Result<Option<tokio::task::JoinHandle<()>>, DaemonError> {
        let Some(kernel) = self.config.kernel.clone() else {
            return Ok(None);
        };
        let (fib, events) = Fib::start(&kernel).await?;
        info!(
            protocol = kernel.protocol.0,
            table = kernel.table,
            program = kernel.program,
            persist_on_exit = kernel.persist_on_exit,
            "kernel FIB started"
        );
        if let Some(task) = self.rib_task.as_mut() {
            task.set_fib(fib.commands());
        }
        self.fib = Some(fib);
        self.fib_started = Some(kernel);
        let task = tokio::spawn(forward_kernel_routes(
            events,
            self.rib.clone(),
            Arc::clone(&self.kernel_advertised),
        ));
        Ok(Some(task))
    }

    /// With graceful restart enabled we start as a restarting speaker (RFC 4724 §4.1): the RIB
    /// defers selection, and our OPENs carry the Restart State bit and, per family, the
    /// Forwarding State bit when our routes survived in the kernel (see `crate::restart`).
    async fn start_graceful_restart(&mut self) {
        let restart = self.config.global.graceful_restart;
        if !restart.enabled {
            return;
        }
        let forwarding_preserved = match (&self.fib, &self.config.kernel) {
            (_, None) => AfiSafiSet::ALL,
            (Some(fib), Some(kernel)) if kernel.persist_on_exit => {
                // Right after start the FIB holds exactly what it adopted from the kernel.
                let entries = fib_status(&fib.commands()).await.unwrap_or_default();
                entries
                    .iter()
                    .filter(|entry| entry.installed)
                    .map(|entry| rr::types::family_of(&entry.prefix))
                    .collect()
            }
            _ => AfiSafiSet::EMPTY,
        };
        info!(
            selection_deferral_time = restart.selection_deferral_time.as_secs(),
            forwarding_preserved = ?forwarding_preserved,
            "graceful restart: selection deferred until End-of-RIB from the neighbors"
        );
        self.restart_bits = Some(RestartBits {
            forwarding_preserved,
        });
        if let Some(task) = self.rib_task.as_mut() {
            task.defer_selection(restart.selection_deferral_time);
        }
    }

    /// Our OPEN's restart bits while the restart is in progress.
    fn restart_open(&self, settings: &mut NeighborSettings) {
        if let Some(bits) = self.restart_bits {
            if self.restart_status.restarting.load(Ordering::Relaxed) {
                bits.apply(&mut settings.session.graceful_restart);
            }
        }
    }

    /// Tells the RIB once that every configured neighbor has been added.
    fn announce_neighbors_known(&mut self) {
        if !self.neighbors_known {
            self.neighbors_known = true;
            let neighbors = self.peers.values().map(|p| p.id).collect();
            self.to_rib(RibEvent::NeighborsKnown { neighbors });
        }
    }

    /// Answers a metrics scrape; the FIB's figures are asked from its task without holding up
    /// the loop.
    fn scrape(&self, reply: metrics::ScrapeRequest) {
        let mut page = self.metrics_page();
        let Some(fib) = &self.fib else {
            let _ = reply.send(page);
            return;
        };
        let commands = fib.commands();
        let advertised = Arc::clone(&self.kernel_advertised);
        tokio::spawn(async move {
            let entries = fib_status(&commands).await.unwrap_or_default();
            let sample = metrics::FibSample {
                installed: entries.iter().filter(|e| e.installed).count(),
                failures: entries.iter().filter(|e| e.error.is_some()).count(),
                advertised: advertised.load(Ordering::Relaxed),
            };
            metrics::render_fib(&mut page, &sample);
            let _ = reply.send(page);
        });
    }

    /// `show fib`: one line per entry; without `[kernel]`, a notice and no entry.
    fn show_fib(&self, reply: oneshot::Sender<Answer>) {
        let Some(fib) = &self.fib else {
            let notice = protocol::Notice {
                notice: "no [kernel] section: the kernel FIB is off".to_owned(),
            };
            let _ = reply.send(Answer::Lines(vec![json(&notice)]));
            return;
        };
        let commands = fib.commands();
        tokio::spawn(async move {
            let lines = match fib_status(&commands).await {
                Ok(entries) => entries.iter().map(|e| json(&fib_route(e))).collect(),
                Err(error) => vec![failure(&error.to_string())],
            };
            let _ = reply.send(Answer::Lines(lines));
        });
    }

    /// Hands the FIB task a command, when there is one; like [`Self::to_rib`], without waiting.
    fn to_fib(&self, command: FibCommand) {
        let Some(fib) = &self.fib else {
            return;
        };
        if let Err(mpsc::error::TrySendError::Full(command)) = fib.commands().try_send(command) {
            let commands = fib.commands();
            tokio::spawn(async move {
                let _ = commands.send(command).await;
            });
        }
    }

    /// SIGHUP or a datastore snapshot changed `[kernel]`. The datastore's pools apply live;
    /// everything else shapes the FIB task's sockets, ownership or the RIB's decisions and
    /// takes a restart.
    fn kernel_change(&self, change: &Change) {
        let restart = |what: &str| {
            warn!(
                change = what,
                "this [kernel] change takes effect when bgpd restarts"
            );
        };
        match change {
            Change::KernelAdded => restart("kernel added"),
            Change::KernelRemoved => restart("kernel removed"),
            Change::Kernel(fields) => {
                for field in fields {
                    if *field == KernelField::Advertise && self.advertise_pools_only() {
                        let pools = self
                            .config
                            .kernel
                            .as_ref()
                            .and_then(|k| k.advertise.as_ref())
                            .map(|a| a.prefixes.clone())
                            .unwrap_or_default();
                        info!(pools = ?pools, "advertise pools from the datastore");
                        self.to_fib(FibCommand::AdvertisePools(pools));
                    } else {
                        restart(field.name());
                    }
                }
            }
            _ => {}
        }
    }

    /// Whether the advertise filter in force differs from the one the FIB started with only
    /// by the datastore's pools (neither file listed any, so the FIB takes them live).
    fn advertise_pools_only(&self) -> bool {
        let started = self.fib_started.as_ref().and_then(|k| k.advertise.as_ref());
        let file = self
            .file_config
            .kernel
            .as_ref()
            .and_then(|k| k.advertise.as_ref());
        match (started, file) {
            (Some(started), Some(file)) => {
                started.prefixes.is_empty()
                    && file.prefixes.is_empty()
                    && started.protocols == file.protocols
                    && started.interfaces == file.interfaces
                    && started.blackhole == file.blackhole
            }
            _ => false,
        }
    }

    fn control(&mut self, ControlRequest { request, reply }: ControlRequest) {
        let lines = match request {
            Request::ShowStatus => vec![json(&self.status())],
            Request::ShowNeighbors { name } => {
                let neighbors: Vec<_> = self
                    .peers
                    .values()
                    .filter(|p| name.as_ref().is_none_or(|n| *n == p.settings.name))
                    .map(|p| (p.id, neighbor_view(p)))
                    .collect();
                if let Some(name) = name.filter(|_| neighbors.is_empty()) {
                    vec![failure(&format!("no neighbor named {name}"))]
                } else {
                    // The RIB adds its route counters.
                    let (lines, answer) = Answer::stream();
                    match self
                        .rib
                        .try_send(RibEvent::ShowNeighbors { neighbors, lines })
                    {
                        Ok(()) => {
                            let _ = reply.send(answer);
                            return;
                        }
                        Err(error) => match error.into_inner() {
                            RibEvent::ShowNeighbors { neighbors, .. } => {
                                neighbors.iter().map(|(_, n)| json(n)).collect()
                            }
                            _ => Vec::new(),
                        },
                    }
                }
            }
            Request::ShowRoutes {
                prefix,
                neighbor,
                table,
            } => {
                let peer = match &neighbor {
                    Some(name) => match self.peers.values().find(|p| p.settings.name == *name) {
                        Some(peer) => Some(peer.id),
                        None => {
                            let _ = reply.send(Answer::Lines(vec![failure(&format!(
                                "no neighbor named {name}"
                            ))]));
                            return;
                        }
                    },
                    None => None,
                };
                let (lines, answer) = Answer::stream();
                let query = RouteQuery {
                    table,
                    prefix,
                    neighbor: peer,
                    lines,
                };
                if self.rib.try_send(RibEvent::ShowRoutes(query)).is_ok() {
                    let _ = reply.send(answer);
                    return;
                }
                vec![failure("the RIB is busy; try again")]
            }
            Request::NeighborEnable { name } => self.neighbor_command(&name, PeerCommand::Enable),
            Request::NeighborDisable { name, reason } => {
                let reason = reason.unwrap_or_else(|| "disabled by the operator".to_owned());
                self.neighbor_command(
                    &name,
                    PeerCommand::Stop(StopReason::AdministrativeShutdown(reason)),
                )
            }
            Request::NeighborReset { name, soft: true } => {
                self.neighbor_command(&name, PeerCommand::SoftReset)
            }
            Request::NeighborReset { name, soft: false } => {
                let reason = StopReason::AdministrativeReset("reset by the operator".to_owned());
                self.neighbor_command(&name, PeerCommand::Stop(reason))
            }
            Request::ShowFib => {
                self.show_fib(reply);
                return;
            }
            Request::Reload => match self.reload() {
                Ok(changes) => vec![json(&Done { ok: true, changes })],
                Err(errors) => errors.iter().map(|e| failure(e)).collect(),
            },
        };
        let _ = reply.send(Answer::Lines(lines));
    }

    fn neighbor_command(&mut self, name: &str, command: PeerCommand) -> Vec<String> {
        let Some(peer) = self.peers.values().find(|p| p.settings.name == name) else {
            return vec![failure(&format!("no neighbor named {name}"))];
        };
        match peer.commands.try_send(command) {
            Ok(()) => vec![json(&Done {
                ok: true,
                changes: Vec::new(),
            })],
            Err(_) => vec![failure("the neighbor's task is busy; try again")],
        }
    }

    fn metrics_page(&self) -> String {
        let statuses: Vec<_> = self
            .peers
            .values()
            .map(|p| (p, p.status.borrow().clone()))
            .collect();
        let samples: Vec<metrics::NeighborSample<'_>> = statuses
            .iter()
            .map(|(peer, status)| metrics::NeighborSample {
                name: &peer.settings.name,
                address: &peer.settings.display_address,
                status,
            })
            .collect();
        let info = metrics::DaemonInfo {
            version: env!("CARGO_PKG_VERSION"),
            uptime: self.started.elapsed(),
            config_revision: self.config_revision,
            datastore_connected: self.datastore.as_ref().map(Datastore::connected),
        };
        let mut page = metrics::render(&info, &samples, self.config.global.metrics_neighbor_labels);
        metrics::render_graceful_restart(
            &mut page,
            self.restart_status.restarting.load(Ordering::Relaxed),
            self.restart_status.stale_routes.load(Ordering::Relaxed),
        );
        page
    }

    fn status(&self) -> protocol::Status {
        protocol::Status {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            router_id: self.router_id.to_string(),
            asn: self.config.global.asn.0,
            uptime_s: self.started.elapsed().as_secs(),
            config_source: if self.datastore.is_some() {
                "etcd"
            } else {
                "file"
            }
            .to_owned(),
            config_revision: self
                .datastore
                .as_ref()
                .and_then(Datastore::revision)
                .map_or(self.config_revision, |(revision, _)| {
                    u64::try_from(revision).unwrap_or(0)
                }),
            datastore: match &self.datastore {
                Some(datastore) if datastore.connected() => "connected",
                Some(_) => "disconnected",
                None => "off",
            }
            .to_owned(),
            graceful_restart: self.restart_status.state_name().to_owned(),
        }
    }

    fn open_listener(&mut self, address: SocketAddr) -> Result<(), DaemonError> {
        let socket = Arc::new(
            socket::listen(address).map_err(|source| DaemonError::Listen { address, source })?,
        );
        let accepted = self.accepted_tx.clone();
        let task_socket = Arc::clone(&socket);
        let task = tokio::spawn(async move {
            loop {
                match task_socket.accept().await {
                    Ok(connection) => {
                        if accepted.send(connection).await.is_err() {
                            return;
                        }
                    }
                    Err(error) => {
                        warn!(%address, %error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        info!(%address, "listening");
        self.listeners.push(Listener {
            address,
            socket,
            task,
        });
        Ok(())
    }

    fn route_incoming(&mut self, stream: TcpStream, remote: SocketAddr) {
        let peer = self
            .peers
            .values()
            .find(|p| neighbor::matches(&p.settings, &remote));
        match peer {
            Some(peer) => {
                if peer
                    .commands
                    .try_send(PeerCommand::Incoming(stream, remote))
                    .is_err()
                {
                    warn!(peer = %peer.settings.name, %remote, "peer task busy, connection dropped");
                }
            }
            None => {
                // Dropping the stream closes it.
                warn!(%remote, "connection from an address that is no configured neighbor closed");
            }
        }
    }

    fn add_neighbor(&mut self, neighbor: &config::Neighbor) {
        let mut settings =
            match NeighborSettings::new(&self.config.global, self.router_id, neighbor) {
                Ok(settings) => settings,
                Err(error) => {
                    error!(peer = %neighbor.name, %error, "neighbor not started");
                    return;
                }
            };
        self.restart_open(&mut settings);
        if let Some(key) = &settings.transport.md5_key {
            self.set_listener_key(&settings.name, settings.address.ip(), Some(key));
        }
        self.seed = self.seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let id = rr::PeerId(self.next_peer);
        self.next_peer += 1;
        self.to_rib(RibEvent::NeighborAdded { peer: id });
        self.link_local_interface(&neighbor.address);
        let handle = PeerHandle::spawn(id, settings, self.seed, self.rib.clone());
        self.peers.insert(neighbor.address.clone(), handle);
    }

    /// An IPv6 link-local neighbor (`fe80::1%eth0`): the routes it announces have a next hop
    /// that only means something on its interface (RFC 4291 §2.5.6), which the FIB must name.
    fn link_local_interface(&self, address: &PeerAddress) {
        let (IpAddr::V6(ip), Some(interface)) = (address.ip, &address.interface) else {
            return;
        };
        if self.fib.is_none() {
            return;
        }
        match neighbor::interface_index(&interface.to_string()) {
            Some(index) => self.to_fib(FibCommand::LinkLocalInterface {
                address: ip,
                interface: index,
            }),
            None => {
                warn!(peer = %address, "no such interface: routes through this link-local neighbor cannot be installed")
            }
        }
    }

    /// RFC 2385 keys must be on the listening sockets too, or the neighbor's SYNs are dropped;
    /// `None` removes the key.
    fn set_listener_key(&self, name: &str, ip: IpAddr, key: Option<&[u8]>) {
        for listener in self
            .listeners
            .iter()
            .filter(|l| l.address.is_ipv4() == ip.is_ipv4())
        {
            if let Err(error) = socket::set_md5_key(listener.socket.as_ref(), ip, key) {
                warn!(peer = %name, listener = %listener.address, %error, "cannot set TCP MD5 key on listener");
            }
        }
    }

    /// Opens the listeners of the new configuration that are not open and closes the others.
    fn update_listeners(&mut self) {
        let wanted = self.config.global.listen.clone();
        self.listeners.retain(|listener| {
            let keep = wanted.contains(&listener.address);
            if !keep {
                info!(address = %listener.address, "no longer listening");
                listener.task.abort();
            }
            keep
        });
        for address in wanted {
            if self.listeners.iter().any(|l| l.address == address) {
                continue;
            }
            if let Err(error) = self.open_listener(address) {
                error!(%error, "listener not opened");
                continue;
            }
            let keys: Vec<_> = self
                .peers
                .values()
                .filter_map(|p| {
                    Some((
                        p.settings.name.clone(),
                        p.settings.address.ip(),
                        p.settings.transport.md5_key.clone()?,
                    ))
                })
                .collect();
            for (name, ip, key) in keys {
                self.set_listener_key(&name, ip, Some(&key));
            }
        }
    }

    /// Re-reads the configuration file and applies what changed; on errors the running
    /// configuration stays in force.
    fn reload(&mut self) -> Result<Vec<String>, Vec<String>> {
        self.notifier.reloading();
        let result = self.apply_reload();
        let status = match &result {
            Ok(changes) => format!("configuration reloaded ({} changes)", changes.len()),
            Err(_) => "reload failed; running configuration kept".to_owned(),
        };
        self.notifier.ready(&status);
        result
    }

    fn apply_reload(&mut self) -> Result<Vec<String>, Vec<String>> {
        let file = match Config::load(&self.config_path) {
            Ok(config) => config,
            Err(errors) => {
                for problem in errors.iter() {
                    error!(error = %problem, "configuration rejected");
                }
                error!(file = %self.config_path.display(), errors = errors.len(), "reload failed: keeping the running configuration");
                return Err(errors.iter().map(ToString::to_string).collect());
            }
        };
        self.file_config = file;
        let new = self.effective_config();
        self.apply_config(new)
    }

    /// The file's configuration combined with the datastore's snapshot, if any; derived
    /// neighbors that cannot be used are logged and left out.
    fn effective_config(&self) -> Config {
        let Some(datastore) = &self.datastore else {
            return self.file_config.clone();
        };
        let (config, problems) = datastore.effective(&self.file_config);
        for problem in problems {
            warn!(error = %problem, "datastore configuration not applied");
        }
        config
    }

    fn datastore_event(&mut self, event: SourceEvent) {
        match event {
            SourceEvent::Connected => info!("datastore connected"),
            SourceEvent::Disconnected { reason } => {
                warn!(%reason, "datastore unreachable: running on the last known configuration");
            }
            SourceEvent::Snapshot(update) => {
                let (revision, cache) = (update.revision.0, update.origin == Origin::Cache);
                if let Some(datastore) = &mut self.datastore {
                    datastore.record(update);
                }
                info!(revision, from_cache = cache, "datastore snapshot");
                let new = self.effective_config();
                let _ = self.apply_config(new);
                self.announce_neighbors_known();
            }
        }
    }

    /// Moves to `new`, touching only what differs from the configuration in force.
    fn apply_config(&mut self, new: Config) -> Result<Vec<String>, Vec<String>> {
        let changes = self.config.diff(&new);
        let global_reset = changes.iter().any(|c| matches!(c, Change::Global(fields) if fields.iter().any(|f| global_field_resets(*f))));
        let router_id = match router_id(&new) {
            Ok(id) => id,
            Err(error) => {
                error!(%error, "reload failed: keeping the running configuration");
                return Err(vec![error.to_string()]);
            }
        };
        self.config = new;
        if !changes.is_empty() {
            self.config_revision += 1;
        }
        self.router_id = router_id;
        for change in &changes {
            info!(%change, "configuration change");
            match change {
                Change::NeighborRemoved(neighbor) => self.remove_neighbor(&neighbor.address),
                Change::NeighborAdded(neighbor) => self.add_neighbor(neighbor),
                Change::NeighborChanged { old, new, .. } => {
                    let reset = change.effect() == Some(Effect::Reset);
                    self.change_neighbor(old, new, reset);
                }
                Change::RouteAdded(route) | Change::RouteChanged(route) => {
                    self.to_rib(RibEvent::Originate {
                        prefix: route.prefix,
                        route: rib::local_route(route),
                    });
                }
                Change::RouteRemoved(route) => {
                    self.to_rib(RibEvent::WithdrawLocal {
                        prefix: route.prefix,
                    });
                }
                Change::KernelAdded | Change::KernelRemoved | Change::Kernel(_) => {
                    self.kernel_change(change);
                }
                Change::Global(fields) => {
                    for field in fields {
                        if *field == config::GlobalField::Listen {
                            self.update_listeners();
                        } else if *field == config::GlobalField::ClusterId {
                            // Before the neighbors' rr_client changes that come with it.
                            self.to_rib(RibEvent::SetClusterId(self.config.global.cluster_id));
                        } else if !global_field_resets(*field) && !global_field_live(*field) {
                            warn!(
                                field = field.name(),
                                "this global setting takes effect when bgpd restarts"
                            );
                        }
                    }
                }
                _ => {}
            }
        }
        if global_reset {
            let neighbors = self.config.neighbors.clone();
            for neighbor in &neighbors {
                self.change_neighbor(neighbor, neighbor, true);
            }
        }
        info!(changes = changes.len(), "configuration reloaded");
        Ok(changes.iter().map(ToString::to_string).collect())
    }

    fn remove_neighbor(&mut self, address: &PeerAddress) {
        if let Some(peer) = self.peers.remove(address) {
            self.to_rib(RibEvent::NeighborRemoved { peer: peer.id });
            if peer.settings.transport.md5_key.is_some() {
                self.set_listener_key(&peer.settings.name, peer.settings.address.ip(), None);
            }
            let _ = peer
                .commands
                .try_send(PeerCommand::Shutdown(StopReason::Deconfigured));
        }
    }

    fn change_neighbor(&mut self, old: &config::Neighbor, new: &config::Neighbor, reset: bool) {
        let mut settings = match NeighborSettings::new(&self.config.global, self.router_id, new) {
            Ok(settings) => settings,
            Err(error) => {
                error!(peer = %new.name, %error, "neighbor change not applied");
                return;
            }
        };
        self.restart_open(&mut settings);
        let Some(had_key) = self
            .peers
            .get(&old.address)
            .map(|p| p.settings.transport.md5_key.is_some())
        else {
            return;
        };
        if settings.transport.md5_key.is_some() || had_key {
            self.set_listener_key(
                &settings.name,
                settings.address.ip(),
                settings.transport.md5_key.as_deref(),
            );
        }
        let Some(peer) = self.peers.get_mut(&old.address) else {
            return;
        };
        // rr_client, next_hop, max_prefixes, communities: applied by the RIB without a reset.
        let rib_change = (peer.settings.rib != settings.rib).then(|| RibEvent::Reconfigure {
            peer: peer.id,
            config: settings.rib.clone(),
        });
        peer.settings = settings.clone();
        let _ = peer
            .commands
            .try_send(PeerCommand::Reconfigure(Box::new(settings)));
        if reset {
            let _ = peer
                .commands
                .try_send(PeerCommand::Stop(StopReason::ConfigurationChanged));
        }
        if let Some(event) = rib_change {
            self.to_rib(event);
        }
    }

    /// Hands the RIB a configuration change. The daemon's loop does not wait on the RIB: when
    /// its queue is full the change is sent from a task of its own.
    fn to_rib(&self, event: RibEvent) {
        if let Err(mpsc::error::TrySendError::Full(event)) = self.rib.try_send(event) {
            let rib = self.rib.clone();
            tokio::spawn(async move {
                let _ = rib.send(event).await;
            });
        }
    }

    async fn shutdown(&mut self) {
        // ops (RFC 8538): with graceful restart every session is stopped for a restart: a
        // neighbor that negotiated the N bit gets Cease / Administrative Shutdown and keeps
        // our routes (RFC 8538 §4); the others see the connection close without a
        // NOTIFICATION, which keeps them too (RFC 4724 §4.2). The kernel routes stay.
        let reason = if self.config.global.graceful_restart.enabled {
            info!("stopping for a graceful restart: neighbors keep our routes");
            StopReason::Restart("bgpd is restarting".to_owned())
        } else {
            info!("stopping: closing every session");
            StopReason::AdministrativeShutdown("bgpd is shutting down".to_owned())
        };
        let peers = std::mem::take(&mut self.peers);
        let mut tasks = Vec::new();
        for (_, peer) in peers {
            let _ = peer
                .commands
                .send(PeerCommand::Shutdown(reason.clone()))
                .await;
            tasks.push(peer.task);
        }
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
            for task in tasks {
                let _ = task.await;
            }
        })
        .await;
        for listener in &self.listeners {
            listener.task.abort();
        }
        info!("stopped");
    }
}

/// Global fields that apply at once: the hold time and the error wait time reach the
/// neighbors through their own resolved timers, the metrics page reads the configuration on
/// every scrape, the RIB takes a new CLUSTER_ID (RFC 4456 §7) without a session reset.
fn global_field_live(field: config::GlobalField) -> bool {
    matches!(
        field,
        config::GlobalField::HoldTime
            | config::GlobalField::ErrorWaitTime
            | config::GlobalField::MetricsNeighborLabels
            | config::GlobalField::ClusterId
    )
}

/// Global fields that change every session's OPEN.
fn global_field_resets(field: config::GlobalField) -> bool {
    matches!(
        field,
        config::GlobalField::Asn
            | config::GlobalField::RouterId
            | config::GlobalField::GracefulRestart
    )
}

fn router_id(config: &Config) -> Result<RouterId, DaemonError> {
    config
        .global
        .router_id
        .or_else(neighbor::default_router_id)
        .ok_or(DaemonError::NoRouterId)
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|error| failure(&error.to_string()))
}

fn neighbor_view(peer: &PeerHandle) -> protocol::Neighbor {
    let status = peer.status.borrow();
    let settings = &peer.settings;
    let uptime_s = status
        .established_at
        .and_then(|at| std::time::SystemTime::now().duration_since(at).ok())
        .map_or(0, |d| d.as_secs());
    protocol::Neighbor {
        name: settings.name.clone(),
        address: settings.display_address.clone(),
        asn: settings.session.peer_asn.0,
        state: status.state.name().to_owned(),
        uptime_s,
        hold_time: status.hold_time.unwrap_or(settings.session.hold_time),
        keepalive: status.keepalive.map_or_else(
            || {
                u64::from(
                    settings
                        .session
                        .keepalive
                        .unwrap_or(settings.session.hold_time / 3),
                )
            },
            |k| k.as_secs(),
        ),
        families: (if status.families.is_empty() {
            settings.session.families
        } else {
            status.families
        })
        .iter()
        .map(|f| f.name().to_owned())
        .collect(),
        rr_client: settings.rr_client,
        received: status.prefixes_received,
        accepted: status.prefixes_received,
        advertised: 0,
        last_error: status.last_error.clone(),
        // ops: when it happened, and whether before the current session.
        last_error_at: status.last_error_at.map(control_socket::time::rfc3339_utc),
        last_error_age_s: status.last_error_at.map(|at| {
            std::time::SystemTime::now()
                .duration_since(at)
                .map_or(0, |d| d.as_secs())
        }),
        last_error_before_up: matches!(
            (status.last_error_at, status.established_at),
            (Some(error), Some(up)) if error < up
        ),
    }
}

/// Turns the FIB's kernel-route events into locally originated routes, in order; counts the
/// prefixes advertised for the metrics. Ends when either side is gone.
async fn forward_kernel_routes(
    mut events: mpsc::Receiver<KernelRouteEvent>,
    rib: mpsc::Sender<RibEvent>,
    advertised: Arc<AtomicUsize>,
) {
    let mut prefixes = HashSet::new();
    while let Some(event) = events.recv().await {
        let event = match event {
            KernelRouteEvent::Add { prefix } => {
                prefixes.insert(prefix);
                RibEvent::KernelRoute {
                    prefix,
                    present: true,
                }
            }
            KernelRouteEvent::Remove { prefix } => {
                prefixes.remove(&prefix);
                RibEvent::KernelRoute {
                    prefix,
                    present: false,
                }
            }
        };
        advertised.store(prefixes.len(), Ordering::Relaxed);
        if rib.send(event).await.is_err() {
            return;
        }
    }
}

/// The FIB's table, through its command queue (so that a caller need not hold the handle).
async fn fib_status(commands: &mpsc::Sender<FibCommand>) -> Result<Vec<FibEntry>, FibError> {
    let (reply, answer) = oneshot::channel();
    commands
        .send(FibCommand::Status(reply))
        .await
        .map_err(|_| FibError::Stopped)?;
    answer.await.map_err(|_| FibError::Stopped)
}

fn fib_route(entry: &FibEntry) -> protocol::FibRoute {
    protocol::FibRoute {
        prefix: entry.prefix.to_string(),
        next_hops: entry.next_hops.iter().map(ToString::to_string).collect(),
        installed: entry.installed,
        error: entry.error.clone(),
    }
}

/// The datastore's next event, or never when there is no datastore.
async fn next_datastore_event(datastore: &mut Option<Datastore>) -> Option<SourceEvent> {
    match datastore {
        Some(datastore) => datastore.next().await,
        None => std::future::pending().await,
    }
}
