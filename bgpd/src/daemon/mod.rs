//! The daemon's supervisor: it owns the configuration, the listeners and the table of peer
//! tasks, and is the one loop that takes the daemon's outside inputs (signals, the control
//! socket, datastore snapshots, accepted connections, metrics scrapes). It starts the RIB task
//! (`crate::rib`) and, with `[kernel]`, the FIB task (`crate::fib`) before any neighbor; the FIB
//! hands its kernel-route events to the RIB task directly, and takes forwarding changes from it.
//!
//! A reload (`SIGHUP`, `bgpctl reload`, a datastore snapshot) is `config::Config::plan`: the
//! configuration decides what every changed field does, and [`reload`] carries the actions out
//! in order. What the loop tells the RIB and FIB tasks goes through an [`Outbox`] each, so the
//! loop never waits on them and never reorders or drops what it sends: while an outbox holds
//! [`outbox::OUTBOX_HIGH`] events, the loop takes no input that could add to it.
//!
//! `SIGTERM` / `SIGINT` stop every session with Cease / Administrative Shutdown ([`shutdown`]);
//! the FIB stops first, so that sessions closing do not withdraw routes that `persist_on_exit`
//! keeps (RFC 4724 §4.1: forwarding state survives the restart).
//!
//! Modules: [`reload`] (plan execution, neighbors), [`control`] (bgpctl requests, status,
//! metrics), [`listeners`] (listening sockets, accepted connections, TCP MD5 keys),
//! [`shutdown`], [`outbox`].

mod control;
mod listeners;
mod outbox;
mod reload;
mod shutdown;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use config::source::SourceEvent;
use config::{Config, PeerAddress};
use proto::{AfiSafiSet, RouterId};
use tokio::net::TcpStream;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{info, warn};

use crate::control as control_socket;
use crate::datastore::Datastore;
use crate::fib::{Fib, FibCommand, FibError, FibFigures};
use crate::metrics;
use crate::neighbor::{self, NeighborSettings};
use crate::peer::PeerHandle;
use crate::restart::RestartBits;
use crate::rib::{self, RibEvent, RibStatus, RibTask};
use crate::systemd::Notifier;

use listeners::Listeners;
pub use outbox::Outbox;

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
    listeners: Listeners,
    accepted: mpsc::Receiver<(TcpStream, SocketAddr)>,
    seed: u64,
    started: std::time::Instant,
    /// Configurations that took effect, the first included (a reload without changes does not
    /// count); with a datastore, its revision is shown instead.
    config_revision: u64,
    /// systemd's service manager, when bgpd runs as a `Type=notify` unit.
    notifier: Notifier,
    /// What the loop tells the RIB task, in order.
    rib: Outbox<RibEvent>,
    /// The RIB task's queue, for the peer tasks (they wait on it themselves).
    rib_queue: mpsc::Sender<RibEvent>,
    /// Where connection writers pull UPDATEs from the RIB task (handed to each peer task).
    rib_pulls: crate::transmit::Pulls,
    /// The RIB task until `run` starts it.
    rib_task: Option<RibTask>,
    /// The next neighbor number for the RIB; never reused, so that a late input of a removed
    /// neighbor cannot reach its successor.
    next_peer: u32,
    /// The kernel FIB, with `[kernel]`.
    fib: Option<Fib>,
    /// What the loop tells the FIB task, in order (with `[kernel]`).
    fib_outbox: Option<Outbox<FibCommand>>,
    /// What the RIB task publishes: the restart in progress, stale routes, kernel routes
    /// originated.
    rib_status: watch::Receiver<RibStatus>,
    /// With graceful restart: the bits of our OPENs while we restart (RFC 4724 §3).
    restart_bits: Option<RestartBits>,
    /// The RIB was told that the configured neighbors are all known (initial convergence).
    neighbors_known: bool,
}

impl Daemon {
    pub fn new(config_path: PathBuf, config: Config) -> Result<Daemon, DaemonError> {
        let router_id = router_id(&config)?;
        let (accepted_tx, accepted) = mpsc::channel(64);
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id());
        let (rib_queue, rib_task) = rib::new_task(&config, router_id);
        let rib_status = rib_task.status();
        Ok(Daemon {
            rib: Outbox::new("RIB", rib_queue.clone()),
            rib_queue,
            rib_pulls: rib_task.pulls(),
            rib_task: Some(rib_task),
            next_peer: 0,
            fib: None,
            fib_outbox: None,
            rib_status,
            restart_bits: None,
            neighbors_known: false,
            config_path,
            file_config: config.clone(),
            config,
            datastore: None,
            router_id,
            peers: BTreeMap::new(),
            listeners: Listeners::new(accepted_tx),
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
            self.listeners
                .open(address)
                .map_err(|source| DaemonError::Listen { address, source })?;
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
        self.start_fib().await?;
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
            // Inputs that can add to an outbox wait while one is full (never dropped, never
            // reordered); the outboxes drain meanwhile.
            let inputs =
                self.rib.has_room() && self.fib_outbox.as_ref().is_none_or(Outbox::has_room);
            tokio::select! {
                // In the main loop, so that a hung loop is what the watchdog catches.
                _ = watchdog.tick() => self.notifier.watchdog(),
                permit = self.rib.ready() => self.rib.deliver(permit),
                permit = fib_ready(self.fib_outbox.as_ref()) => {
                    if let Some(outbox) = &mut self.fib_outbox {
                        outbox.deliver(permit);
                    }
                }
                Some((stream, remote)) = self.accepted.recv() => self.route_incoming(stream, remote),
                Some(request) = control.recv(), if inputs => self.control(request),
                Some(event) = next_datastore_event(&mut self.datastore), if inputs => self.datastore_event(event),
                Some(reply) = scrapes.recv(), if inputs => self.scrape(reply),
                _ = hangup.recv(), if inputs => {
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
        self.shutdown(rib_task).await;
        Ok(())
    }

    /// Starts the FIB when `[kernel]` is configured: the RIB task gets its command queue and
    /// its kernel-route events.
    async fn start_fib(&mut self) -> Result<(), DaemonError> {
        let Some(kernel) = self.config.kernel.clone() else {
            return Ok(());
        };
        let (fib, kernel_routes) = Fib::start(&kernel).await?;
        info!(
            protocol = kernel.protocol.0,
            table = kernel.table,
            program = kernel.program,
            persist_on_exit = kernel.persist_on_exit,
            "kernel FIB started"
        );
        if let Some(task) = self.rib_task.as_mut() {
            task.set_fib(fib.commands(), kernel_routes);
        }
        self.fib_outbox = Some(Outbox::new("FIB", fib.commands()));
        self.fib = Some(fib);
        Ok(())
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
            // Right after start the FIB holds exactly what it adopted from the kernel.
            (Some(fib), Some(kernel)) if kernel.persist_on_exit => fib
                .figures()
                .await
                .map_or(AfiSafiSet::EMPTY, |figures| figures.families),
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
            if self.rib_status.borrow().restarting {
                bits.apply(&mut settings.session.graceful_restart);
            }
        }
    }

    /// Tells the RIB once that every configured neighbor has been added.
    fn announce_neighbors_known(&mut self) {
        if !self.neighbors_known {
            self.neighbors_known = true;
            self.rib.push(RibEvent::NeighborsKnown);
        }
    }

    /// Hands the FIB task a command, in order, when there is a FIB.
    fn tell_fib(&mut self, command: FibCommand) {
        if let Some(outbox) = &mut self.fib_outbox {
            outbox.push(command);
        }
    }

    /// Asks the FIB task for its figures; `None` without `[kernel]`. The answer comes later, so
    /// the caller awaits it outside the loop.
    fn fib_figures(&mut self) -> Option<oneshot::Receiver<FibFigures>> {
        let outbox = self.fib_outbox.as_mut()?;
        let (reply, answer) = oneshot::channel();
        outbox.push(FibCommand::Figures(reply));
        Some(answer)
    }
}

fn router_id(config: &Config) -> Result<RouterId, DaemonError> {
    config
        .global
        .router_id
        .or_else(neighbor::default_router_id)
        .ok_or(DaemonError::NoRouterId)
}

/// A slot in the FIB task's queue for its outbox; never without `[kernel]`.
async fn fib_ready(outbox: Option<&Outbox<FibCommand>>) -> Option<mpsc::OwnedPermit<FibCommand>> {
    match outbox {
        Some(outbox) => outbox.ready().await,
        None => std::future::pending().await,
    }
}

/// The datastore's next event, or never when there is no datastore.
async fn next_datastore_event(datastore: &mut Option<Datastore>) -> Option<SourceEvent> {
    match datastore {
        Some(datastore) => datastore.next().await,
        None => std::future::pending().await,
    }
}
