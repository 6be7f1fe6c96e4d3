//! The kernel FIB over rtnetlink (rtnetlink(7)): installs the RIB's best routes
//! ([`rr::FibChange`]) into a Linux routing table and reports the kernel routes that
//! `[kernel.advertise]` selects, for the RIB to originate.
//!
//! One task owns the FIB (design.md §1.6): it is fed [`FibCommand`]s over a bounded channel and
//! emits [`KernelRouteEvent`]s over another; [`Fib`] is its handle.
//!
//! What it guarantees (design.md §1.9, "the kernel is shared"):
//! - **Ownership.** Every route Starling writes carries its protocol number (`rtm_protocol`,
//!   `[kernel] protocol`), the configured table (`RTA_TABLE`) and the metric [`METRIC`]
//!   (`RTA_PRIORITY`). The kernel keys a route by (prefix, TOS, metric) for IPv4 and (prefix,
//!   metric) for IPv6, so a replace at our metric never lands on a route an administrator or a
//!   CNI plugin added (metric 0 / 1024 by default); where another protocol's route does sit at
//!   our metric, we install nothing for that prefix and report the conflict until it is gone.
//!   A delete carries our protocol, which the kernel matches (`fib_table_delete`,
//!   `ip6_route_del`). Routes of other protocols are only ever read.
//! - **Replace semantics.** `RTM_NEWROUTE` with `NLM_F_REPLACE | NLM_F_CREATE` installs or
//!   changes a route in one step, without a delete-then-add gap. ECMP routes are one multipath
//!   route (`RTA_MULTIPATH`) of up to `ecmp_max_paths` equal-weight next hops. IPv4 routes take
//!   IPv4 next hops and IPv6 routes IPv6 ones; an IPv6 link-local next hop needs its interface
//!   ([`FibCommand::LinkLocalInterface`]).
//! - **Batching.** Changes are coalesced per prefix (the latest wins) and many requests travel
//!   in one `sendmsg` datagram (64 KiB, about a thousand routes). The kernel handles a
//!   datagram's requests within that call and, without `NLM_F_ACK`, queues an answer only for
//!   those it refuses, before the call returns: the task reads the refusals at once (matched
//!   by sequence number) and counts the rest as done, so a million routes cost no million
//!   acknowledgements. A refused request keeps the kernel's error (errno and extended-ack
//!   message) for `bgpctl show fib` and is retried when a link, an address or another route
//!   changes, and every [`RETRY_INTERVAL`].
//! - **Reconciliation.** At start the task dumps the table (`RTM_GETROUTE`, `NLM_F_DUMP`):
//!   routes of our protocol are adopted and kept until
//!   [`FibCommand::InitialConvergenceDone`], then those the RIB did not claim are swept, so a
//!   restart does not flap. An explicit withdraw from the RIB deletes at once, adopted or not.
//!   With `persist_on_exit` a stop leaves the installed routes in place (graceful restart,
//!   RFC 4724 §4.1 forwarding state); otherwise it deletes them. With `program = false` nothing
//!   is installed, but routes of ours left by an earlier run are still swept.
//! - **Watching.** The task listens to `RTNLGRP_IPV4_ROUTE`, `RTNLGRP_IPV6_ROUTE`, `RTNLGRP_LINK`
//!   and the address groups (a socket filter drops the kernel's echo of every route we add, a
//!   million messages for a million routes): a route of ours that someone deletes is put back; a lost
//!   notification (`ENOBUFS`, the socket overran) triggers a full dump that replaces what was
//!   known, losing no wanted state; so does a link going down, since the kernel then drops
//!   IPv4 routes through it silently; advertise-filter matches (routes of the configured table)
//!   become events as they happen.

//!
//! Wiring (for the daemon):
//! ```text
//! let (fib, mut kernel_routes) = Fib::start(&config.kernel).await?;  // in the daemon's netns
//! RibOutput::Fib(change)        ─► fib.commands().send(FibCommand::Change(change))
//! kernel_routes.recv():  Add    ─► RibInput::Originate { prefix, route: LocalRoute::default() }
//!                        Remove ─► RibInput::WithdrawLocal { prefix }
//! End-of-RIB from every peer (or the restart timer) ─► fib.initial_convergence_done()
//! reload of [kernel.advertise]  ─► fib.set_advertise(advertise)   (etcd /config pools too)
//! fe80::1%eth0 neighbor         ─► fib.link_local_interface(fe80::1, ifindex of eth0)
//! bgpctl show fib               ─► fib.status() : Vec<FibEntry> (serde: prefix, next_hops,
//!                                                  installed, error)
//! shutdown                      ─► fib.stop()
//! ```
//! A command channel full means the kernel is behind: the RIB task waits (backpressure), as
//! peers wait on the RIB. The event channel never blocks the FIB task: undelivered changes wait
//! in it, coalesced per prefix.

mod advertise;
mod install;
mod netlink;
mod state;
mod table;
#[cfg(test)]
mod tests;

use std::io;
use std::net::Ipv6Addr;
use std::time::Duration;

use rr::{FibChange, FibOp};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use install::InstallError;
pub use netlink::KernelError;
pub use state::{FibEntry, FibFigures, KernelRouteEvent};

use advertise::Advertise;
use netlink::{group, Incoming, NetlinkSocket, Owner};
use state::FibState;

/// `RTA_PRIORITY` of the routes Starling installs: BIRD's default kernel metric, below the
/// defaults of `ip route add` (0 for IPv4, 1024 for IPv6) so that our routes never share a key
/// with an administrator's.
pub const METRIC: u32 = 32;
/// Failed prefixes are tried again this often, even without a hint that they may now work.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(5);
/// After a link, address or route change, failed prefixes are retried this soon (changes come
/// in bursts: one retry per burst).
pub const RETRY_DELAY: Duration = Duration::from_millis(50);
/// Bound of the command channel into the task.
pub const COMMAND_CAPACITY: usize = 4096;
/// Bound of the event channel out of the task; when full, events wait in the task coalesced
/// per prefix (never dropped, never blocking the task).
pub const EVENT_CAPACITY: usize = 1024;

/// Requests per `sendmsg`: the kernel's netlink receive path takes datagrams up to the socket's
/// send buffer (212 KiB by default); 64 KiB stays well under it.
const DATAGRAM_BYTES: usize = 64 * 1024;
/// Room left in a datagram for one more request (an ECMP route of 256 IPv6 paths is ~9 KiB).
const REQUEST_MAX_BYTES: usize = 10 * 1024;
/// Receive buffers: the refusals of a datagram and dumps; bursts of notifications.
const REQUEST_SOCKET_BUFFER: usize = 16 * 1024 * 1024;
const MONITOR_SOCKET_BUFFER: usize = 32 * 1024 * 1024;
/// Datagrams read from one socket before the task looks at its other inputs.
const READ_BUDGET: usize = 1024;
/// Commands taken per wakeup before the task sends what they produced.
const COMMAND_BUDGET: usize = 4096;
/// Prefixes waiting for a decision beyond which the task takes no more commands: the command
/// queue fills and the RIB task waits (backpressure), so the decision queue stays this short
/// however large a burst the RIB decides.
const QUEUE_HIGH: usize = 8192;
/// A dump that takes longer than this is abandoned as an error.
const DUMP_TIMEOUT: Duration = Duration::from_secs(60);

/// What the daemon asks of the FIB task.
#[derive(Debug)]
pub enum FibCommand {
    /// A best-route change from the RIB.
    Change(FibChange),
    /// The RIB has converged after start (End-of-RIB from every peer, or the caller's timer):
    /// adopted routes it did not claim are deleted.
    InitialConvergenceDone,
    /// The interface of an IPv6 link-local next hop (from a neighbor's `fe80::1%eth0`).
    LinkLocalInterface { address: Ipv6Addr, interface: u32 },
    /// A new `[kernel.advertise]` (a reload, or the datastore's pools where the file lists
    /// none); `None`: no kernel route is advertised. The kernel routes are judged again.
    SetAdvertise(Option<config::KernelAdvertise>),
    /// A new `persist_on_exit`, read when the task stops.
    SetPersistOnExit(bool),
    /// The table for `bgpctl show fib`.
    Status(oneshot::Sender<Vec<FibEntry>>),
    /// The counts for the metrics and the restart bits, without the table.
    Figures(oneshot::Sender<FibFigures>),
    /// Answered once every change so far has been acknowledged (or refused) by the kernel.
    Flush(oneshot::Sender<()>),
    /// Stop: delete our routes unless `persist_on_exit`; answered when done.
    Stop(oneshot::Sender<()>),
}

#[derive(Debug, thiserror::Error)]
pub enum FibError {
    #[error("netlink {operation}: {source}")]
    Netlink {
        operation: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("netlink dump refused: {0}")]
    DumpRefused(String),
    #[error("netlink dump did not finish within {0:?}")]
    DumpTimeout(Duration),
    #[error("the FIB task has stopped")]
    Stopped,
}

impl FibError {
    fn netlink(operation: &'static str) -> impl FnOnce(io::Error) -> FibError {
        move |source| FibError::Netlink { operation, source }
    }
}

/// The handle of a running FIB task.
#[derive(Debug)]
pub struct Fib {
    commands: mpsc::Sender<FibCommand>,
    task: JoinHandle<Result<(), FibError>>,
}

impl Fib {
    /// Opens the netlink sockets in the calling thread's network namespace, dumps links and
    /// routes (adopting ours), and spawns the task on the current tokio runtime. Kernel-route
    /// events arrive on the returned receiver, starting with the routes already there.
    pub async fn start(
        kernel: &config::Kernel,
    ) -> Result<(Fib, mpsc::Receiver<KernelRouteEvent>), FibError> {
        let owner = Owner {
            protocol: kernel.protocol.0,
            table: kernel.table,
            metric: METRIC,
        };
        let groups = [
            group::LINK,
            group::IPV4_IFADDR,
            group::IPV4_ROUTE,
            group::IPV6_IFADDR,
            group::IPV6_ROUTE,
        ];
        let monitor = NetlinkSocket::open(&groups, MONITOR_SOCKET_BUFFER)
            .map_err(FibError::netlink("open monitor socket"))?;
        monitor
            .ignore_route_additions_of(owner.protocol)
            .map_err(FibError::netlink("filter monitor socket"))?;
        let request = NetlinkSocket::open(&[], REQUEST_SOCKET_BUFFER)
            .map_err(FibError::netlink("open request socket"))?;
        let state = FibState::new(
            owner,
            usize::from(kernel.ecmp_max_paths),
            kernel.program,
            kernel.advertise.as_ref().map(Advertise::new),
        );
        let (command_sender, commands) = mpsc::channel(COMMAND_CAPACITY);
        let (event_sender, events) = mpsc::channel(EVENT_CAPACITY);
        let mut driver = Driver {
            state,
            owner,
            sent: Vec::new(),
            persist_on_exit: kernel.persist_on_exit,
            sequence: 0,
            buffer: Vec::with_capacity(netlink::RECEIVE_BUFFER_LEN),
            datagram: Vec::with_capacity(DATAGRAM_BYTES),
            resync_wanted: false,
            retry_at: None,
            flush_waiters: Vec::new(),
            stopping: None,
            events: Some(event_sender),
        };
        driver.dump(&request, DumpKind::Links).await?;
        driver.dump(&request, DumpKind::Routes).await?;
        let task = tokio::spawn(driver.run(request, monitor, commands));
        Ok((
            Fib {
                commands: command_sender,
                task,
            },
            events,
        ))
    }

    /// A sender for the RIB task to feed changes directly.
    pub fn commands(&self) -> mpsc::Sender<FibCommand> {
        self.commands.clone()
    }

    pub async fn change(&self, change: FibChange) -> Result<(), FibError> {
        self.send(FibCommand::Change(change)).await
    }

    pub async fn initial_convergence_done(&self) -> Result<(), FibError> {
        self.send(FibCommand::InitialConvergenceDone).await
    }

    pub async fn link_local_interface(
        &self,
        address: Ipv6Addr,
        interface: u32,
    ) -> Result<(), FibError> {
        self.send(FibCommand::LinkLocalInterface { address, interface })
            .await
    }

    pub async fn set_advertise(
        &self,
        advertise: Option<config::KernelAdvertise>,
    ) -> Result<(), FibError> {
        self.send(FibCommand::SetAdvertise(advertise)).await
    }

    pub async fn status(&self) -> Result<Vec<FibEntry>, FibError> {
        let (reply, answer) = oneshot::channel();
        self.send(FibCommand::Status(reply)).await?;
        answer.await.map_err(|_| FibError::Stopped)
    }

    pub async fn figures(&self) -> Result<FibFigures, FibError> {
        let (reply, answer) = oneshot::channel();
        self.send(FibCommand::Figures(reply)).await?;
        answer.await.map_err(|_| FibError::Stopped)
    }

    /// Waits until the kernel has answered every change sent so far.
    pub async fn flush(&self) -> Result<(), FibError> {
        let (reply, answer) = oneshot::channel();
        self.send(FibCommand::Flush(reply)).await?;
        answer.await.map_err(|_| FibError::Stopped)
    }

    /// Stops the task (deleting our routes unless `persist_on_exit`) and returns its outcome.
    pub async fn stop(self) -> Result<(), FibError> {
        let (reply, answer) = oneshot::channel();
        // A task that already ended reports why through its join handle below.
        if self.commands.send(FibCommand::Stop(reply)).await.is_ok() {
            let _ = answer.await;
        }
        self.task.await.map_err(|_| FibError::Stopped)?
    }

    async fn send(&self, command: FibCommand) -> Result<(), FibError> {
        self.commands
            .send(command)
            .await
            .map_err(|_| FibError::Stopped)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DumpKind {
    Links,
    Routes,
}

/// The task's state besides its sockets and channels (which the event loop borrows apart).
struct Driver {
    state: FibState,
    owner: Owner,
    /// The sequence numbers of the datagram being sent.
    sent: Vec<u32>,
    persist_on_exit: bool,
    sequence: u32,
    buffer: Vec<u8>,
    datagram: Vec<u8>,
    /// Notifications or acknowledgements were lost: dump again once nothing is in flight.
    resync_wanted: bool,
    retry_at: Option<Instant>,
    flush_waiters: Vec<oneshot::Sender<()>>,
    stopping: Option<oneshot::Sender<()>>,
    /// `None` once the receiver is gone: events are then dropped.
    events: Option<mpsc::Sender<KernelRouteEvent>>,
}

impl Driver {
    async fn run(
        mut self,
        request: NetlinkSocket,
        monitor: NetlinkSocket,
        mut commands: mpsc::Receiver<FibCommand>,
    ) -> Result<(), FibError> {
        loop {
            if self.resync_wanted && self.state.in_flight() == 0 {
                self.resync_wanted = false;
                self.dump(&request, DumpKind::Routes).await?;
            }
            self.send_requests(&request).await?;
            self.send_events();
            if self.state.is_idle() && !self.resync_wanted {
                for waiter in self.flush_waiters.drain(..) {
                    let _ = waiter.send(());
                }
                if let Some(stopped) = self.stopping.take() {
                    let _ = stopped.send(());
                    return Ok(());
                }
            }
            if self.retry_at.is_none() && self.state.has_failures() {
                self.retry_at = Some(Instant::now() + RETRY_INTERVAL);
            }
            let retry_at = self.retry_at.unwrap_or_else(Instant::now);
            let events = self.events.clone();
            let has_events = events.is_some() && self.state.has_events();
            tokio::select! {
                guard = monitor.readable() => {
                    let mut guard = guard.map_err(FibError::netlink("monitor readiness"))?;
                    self.read(&mut guard)?;
                }
                permit = reserve(events.as_ref()), if has_events => match permit {
                    Some(permit) => {
                        if let Some(event) = self.state.next_event() {
                            permit.send(event);
                        }
                    }
                    None => self.events = None,
                },
                command = commands.recv(), if self.stopping.is_none() && self.state.queued() < QUEUE_HIGH => match command {
                    Some(command) => {
                        self.command(command);
                        for _ in 1..COMMAND_BUDGET {
                            if self.state.queued() >= QUEUE_HIGH {
                                break;
                            }
                            match commands.try_recv() {
                                Ok(command) => self.command(command),
                                Err(_) => break,
                            }
                        }
                    }
                    // Every handle is gone: stop as if asked to.
                    None => self.command(FibCommand::Stop(oneshot::channel().0)),
                },
                () = tokio::time::sleep_until(retry_at), if self.retry_at.is_some() => {
                    self.retry_at = None;
                    self.state.retry_failed();
                }
            }
        }
    }

    fn command(&mut self, command: FibCommand) {
        match command {
            FibCommand::Change(FibChange { prefix, op }) => match op {
                FibOp::Replace { next_hops } => self.state.want(prefix, Some(&next_hops)),
                FibOp::Delete => self.state.want(prefix, None),
            },
            FibCommand::InitialConvergenceDone => {
                tracing::info!(
                    reason = "initial convergence",
                    "sweeping unclaimed kernel routes"
                );
                self.state.converged();
            }
            FibCommand::LinkLocalInterface { address, interface } => {
                self.state.set_link_local_scope(address, interface);
            }
            FibCommand::SetAdvertise(advertise) => {
                if self
                    .state
                    .set_advertise(advertise.as_ref().map(Advertise::new))
                {
                    // Routes the old filter passed over were not kept: judge them all anew.
                    self.resync_wanted = true;
                }
            }
            FibCommand::SetPersistOnExit(persist_on_exit) => self.persist_on_exit = persist_on_exit,
            FibCommand::Status(reply) => {
                let _ = reply.send(self.state.status());
            }
            FibCommand::Figures(reply) => {
                let _ = reply.send(self.state.figures());
            }
            FibCommand::Flush(reply) => self.flush_waiters.push(reply),
            FibCommand::Stop(reply) => {
                if !self.persist_on_exit {
                    self.state.withdraw_all();
                }
                self.stopping = Some(reply);
            }
        }
    }

    /// Sends due requests in datagrams of many; when a datagram's `sendmsg` returns, the kernel
    /// has handled every request in it and queued an answer for each it refused: those are read
    /// at once, and the others are done.
    async fn send_requests(&mut self, request: &NetlinkSocket) -> Result<(), FibError> {
        loop {
            self.datagram.clear();
            self.sent.clear();
            while self.datagram.len() + REQUEST_MAX_BYTES <= DATAGRAM_BYTES {
                let sequence = self.next_sequence();
                let Some(change) = self.state.next_request(sequence) else {
                    break;
                };
                let next_hops = self.state.next_hops(&change);
                netlink::encode_request(
                    &mut self.datagram,
                    sequence,
                    &change,
                    next_hops,
                    &self.owner,
                );
                self.sent.push(sequence);
            }
            if self.sent.is_empty() {
                return Ok(());
            }
            request
                .send(&self.datagram)
                .await
                .map_err(FibError::netlink("send routes"))?;
            self.read_refusals(request)?;
            for sequence in std::mem::take(&mut self.sent) {
                // Refused ones were answered above; lost answers were forgotten.
                self.state.acknowledged(sequence, None);
            }
        }
    }

    /// Reads the answers queued on the request socket (refusals of the datagram just sent)
    /// without waiting. An overrun lost some: the datagram's requests are forgotten and a dump
    /// tells what the kernel did.
    fn read_refusals(&mut self, request: &NetlinkSocket) -> Result<(), FibError> {
        loop {
            let mut buffer = std::mem::take(&mut self.buffer);
            let received = request.receive_now(&mut buffer);
            if let Ok(Some(len)) = &received {
                netlink::decode_datagram(&buffer[..*len], |incoming| {
                    self.incoming(incoming);
                });
            }
            self.buffer = buffer;
            match received {
                Ok(Some(_)) => {}
                Ok(None) => return Ok(()),
                Err(error) if error.raw_os_error() == Some(libc::ENOBUFS) => {
                    tracing::warn!("netlink request socket overran; resynchronizing");
                    self.state.lost_in_flight();
                    self.resync_wanted = true;
                    return Ok(());
                }
                Err(error) => {
                    return Err(FibError::Netlink {
                        operation: "receive answers",
                        source: error,
                    })
                }
            }
        }
    }

    fn send_events(&mut self) {
        let Some(events) = self.events.clone() else {
            // Nobody listens: keep the bookkeeping, drop the events.
            while self.state.next_event().is_some() {}
            return;
        };
        while self.state.has_events() {
            match events.try_reserve() {
                Ok(permit) => match self.state.next_event() {
                    Some(event) => permit.send(event),
                    None => return,
                },
                Err(mpsc::error::TrySendError::Full(())) => return,
                Err(mpsc::error::TrySendError::Closed(())) => {
                    self.events = None;
                    return;
                }
            }
        }
    }

    fn next_sequence(&mut self) -> u32 {
        // 0 is what the kernel uses for its own notifications.
        self.sequence = self.sequence.checked_add(1).unwrap_or(1);
        self.sequence
    }

    /// Drains up to [`READ_BUDGET`] datagrams from the ready monitor socket.
    fn read(&mut self, guard: &mut netlink::ReadGuard<'_>) -> Result<(), FibError> {
        let mut hint = false;
        for _ in 0..READ_BUDGET {
            let mut buffer = std::mem::take(&mut self.buffer);
            let received = netlink::try_receive(guard, &mut buffer);
            let outcome = match received {
                Ok(Some(len)) => {
                    let malformed = netlink::decode_datagram(&buffer[..len], |incoming| {
                        hint |= self.incoming(incoming);
                    });
                    if malformed > 0 {
                        tracing::warn!(malformed, "undecodable netlink messages skipped");
                    }
                    Ok(true)
                }
                Ok(None) => Ok(false),
                Err(error) if error.raw_os_error() == Some(libc::ENOBUFS) => {
                    tracing::warn!("netlink monitor socket overran; resynchronizing");
                    self.resync_wanted = true;
                    Ok(true)
                }
                Err(error) => Err(FibError::Netlink {
                    operation: "receive",
                    source: error,
                }),
            };
            self.buffer = buffer;
            if !outcome? {
                break;
            }
        }
        if hint && self.state.has_failures() {
            let soon = Instant::now() + RETRY_DELAY;
            self.retry_at = Some(self.retry_at.map_or(soon, |at| at.min(soon)));
        }
        Ok(())
    }

    /// Applies one message; returns whether it hints that a failed next hop may now resolve.
    fn incoming(&mut self, incoming: Incoming) -> bool {
        match incoming {
            Incoming::Ack { sequence, error } => {
                if let Some(error) = &error {
                    // Per route, hence debug; `bgpctl show fib` has the standing errors.
                    tracing::debug!(sequence, reason = %error, "kernel refused a route request");
                }
                self.state.acknowledged(sequence, error.as_ref());
                false
            }
            Incoming::Route {
                added,
                route: Some(route),
            } => self.state.route(added, route),
            Incoming::Link {
                added,
                index,
                name,
                up,
            } => {
                if self.state.link(added, index, name, up) {
                    self.resync_wanted = true;
                }
                true
            }
            Incoming::Address => true,
            Incoming::Route { route: None, .. } | Incoming::Done { .. } | Incoming::Other => false,
        }
    }

    /// Dumps links or routes on the request socket (nothing else may be in flight there: a
    /// netlink socket runs one dump at a time, and answers would interleave).
    async fn dump(&mut self, request: &NetlinkSocket, kind: DumpKind) -> Result<(), FibError> {
        let sequence = self.next_sequence();
        self.datagram.clear();
        match kind {
            DumpKind::Links => netlink::encode_link_dump(&mut self.datagram, sequence),
            DumpKind::Routes => {
                self.state.begin_dump();
                netlink::encode_route_dump(&mut self.datagram, sequence);
            }
        }
        request
            .send(&self.datagram)
            .await
            .map_err(FibError::netlink("send dump request"))?;
        let finished = tokio::time::timeout(DUMP_TIMEOUT, self.dump_answers(request, sequence))
            .await
            .map_err(|_| FibError::DumpTimeout(DUMP_TIMEOUT))?;
        finished?;
        if kind == DumpKind::Routes {
            self.state.end_dump();
        }
        Ok(())
    }

    async fn dump_answers(
        &mut self,
        request: &NetlinkSocket,
        sequence: u32,
    ) -> Result<(), FibError> {
        loop {
            let mut guard = request
                .readable()
                .await
                .map_err(FibError::netlink("dump readiness"))?;
            loop {
                let mut buffer = std::mem::take(&mut self.buffer);
                let received = netlink::try_receive(&mut guard, &mut buffer);
                let mut done = Ok(false);
                if let Ok(Some(len)) = &received {
                    netlink::decode_datagram(&buffer[..*len], |incoming| match incoming {
                        Incoming::Done {
                            sequence: done_sequence,
                        } if done_sequence == sequence => {
                            done = Ok(true);
                        }
                        Incoming::Ack {
                            sequence: ack_sequence,
                            error: Some(error),
                        } if ack_sequence == sequence => {
                            done = Err(FibError::DumpRefused(error.to_string()));
                        }
                        other => {
                            self.incoming(other);
                        }
                    });
                }
                self.buffer = buffer;
                match received.map_err(FibError::netlink("receive dump"))? {
                    Some(_) if done? => return Ok(()),
                    Some(_) => {}
                    None => break,
                }
            }
        }
    }
}

/// A slot in the event channel, or `None` when it is closed.
async fn reserve(
    events: Option<&mpsc::Sender<KernelRouteEvent>>,
) -> Option<mpsc::Permit<'_, KernelRouteEvent>> {
    events?.reserve().await.ok()
}
