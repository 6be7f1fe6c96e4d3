//! The load generator: many BGP sessions from one thread of one process, each from its own
//! address of the harness namespace, driven by one `poll(2)` loop over non-blocking sockets.
//!
//! A session runs the RFC 4271 §8 happy path only (OPEN, KEEPALIVE, then UPDATEs): anything
//! else from the daemon (a NOTIFICATION, a closed connection) fails the run. Senders write
//! pre-encoded [`Batch`]es with writes as large as the socket takes; when a write completes a
//! message, the prefixes in it are stamped as sent. Receivers keep a bitmap of the prefixes
//! they hold and stamp, per prefix, the latest moment any receiver saw it appear or vanish, so
//! a workload can read both "when did the last receiver have everything" and per-prefix
//! latencies without storing anything per receiver and prefix.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use bytes::Bytes;
use proto::header::MessageType;
use proto::{AfiSafi, Asn};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::wire::{self, Batch, PrefixSpace};
use crate::error::{LabError, Result};

/// BGP's port (RFC 4271 §8.2.1).
pub const BGP_PORT: u16 = 179;
/// Hold time offered by the generator and configured on the daemons: long, so that a daemon
/// busy with a large table never times a session out during a benchmark.
pub const HOLD_TIME_S: u16 = 240;
/// How often the generator sends KEEPALIVE (RFC 4271 §10 suggests a third of the hold time).
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(HOLD_TIME_S as u64 / 3);
/// Read buffer shared by all sessions.
const SCRATCH_LEN: usize = 256 * 1024;
/// Reads per session per loop turn, so one busy session cannot starve the others.
const READS_PER_TURN: usize = 8;
/// Longest sleep in `poll`, so deadlines and keepalives are checked regularly.
const POLL_SLICE: Duration = Duration::from_millis(20);
/// How long one connect may take (the daemon's listener is already up).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Connection attempts per session (a daemon may not listen yet just after it started).
const CONNECT_ATTEMPTS: u32 = 20;
const CONNECT_RETRY: Duration = Duration::from_millis(250);
/// A stamp of 0 means "not yet"; real stamps are at least 1 µs after the epoch.
const NO_STAMP: u32 = 0;

/// One session to open.
#[derive(Debug, Clone)]
pub struct SessionPlan {
    pub local: IpAddr,
    pub remote: IpAddr,
    pub asn: Asn,
    /// Our BGP Identifier (RFC 4271 §4.2): unique per session.
    pub router_id: std::net::Ipv4Addr,
    pub family: AfiSafi,
    /// Count what the daemon sends on this session.
    pub receiver: bool,
    /// Sent as soon as the session is Established (a peer announcing its routes at once).
    pub on_established: Option<Batch>,
}

/// RFC 4271 §8.2.2 states the generator passes through.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    OpenSent,
    OpenConfirm,
    Established,
    /// Closed by the workload ([`Engine::close`]); not an error.
    Dropped,
    /// Closed by the daemon or by an error: fails the run.
    Failed(String),
}

/// The prefixes one receiver holds.
#[derive(Debug, Clone)]
pub struct Table {
    bits: Vec<u64>,
    count: u32,
    /// When `count` last changed.
    pub last_change: Option<Instant>,
    /// Prefix entries received, repeats included.
    pub entries: u64,
}

impl Table {
    fn new(space: &PrefixSpace) -> Table {
        Table {
            bits: vec![0; (space.count as usize).div_ceil(u64::BITS as usize)],
            count: 0,
            last_change: None,
            entries: 0,
        }
    }

    /// Distinct prefixes of the space held now.
    pub fn count(&self) -> u32 {
        self.count
    }

    pub fn contains(&self, index: u32) -> bool {
        let (word, bit) = position(index);
        self.bits.get(word).is_some_and(|w| w & bit != 0)
    }

    /// Records an announcement or a withdrawal; true when it changed the table.
    fn apply(&mut self, index: u32, announced: bool) -> bool {
        let (word, bit) = position(index);
        let Some(slot) = self.bits.get_mut(word) else {
            return false;
        };
        let held = *slot & bit != 0;
        match (announced, held) {
            (true, false) => {
                *slot |= bit;
                self.count += 1;
                true
            }
            (false, true) => {
                *slot &= !bit;
                self.count -= 1;
                true
            }
            _ => false,
        }
    }
}

fn position(index: u32) -> (usize, u64) {
    ((index / u64::BITS) as usize, 1u64 << (index % u64::BITS))
}

/// Messages waiting to be written on one session.
#[derive(Debug)]
struct Pending {
    batch: Batch,
    /// Octets of `batch.bytes` written so far.
    offset: usize,
    /// Marks already stamped.
    marks_done: usize,
}

#[derive(Debug)]
struct Session {
    plan: SessionPlan,
    socket: TcpStream,
    phase: Phase,
    /// Octets of an incomplete message carried to the next read.
    carry: Vec<u8>,
    outbox: VecDeque<Pending>,
    next_keepalive: Instant,
    table: Option<Table>,
}

/// Per-prefix stamps shared by all sessions (µs since the engine's epoch).
#[derive(Debug)]
struct Stamps {
    epoch: Instant,
    /// When the write carrying the prefix completed.
    sent: Vec<u32>,
    /// The latest moment a receiver's table changed for the prefix.
    effect: Vec<u32>,
}

impl Stamps {
    fn now(&self, now: Instant) -> u32 {
        let micros = now.saturating_duration_since(self.epoch).as_micros();
        u32::try_from(micros).unwrap_or(u32::MAX).max(1)
    }
}

/// The generator: every session of one run.
#[derive(Debug)]
pub struct Engine {
    sessions: Vec<Session>,
    space: PrefixSpace,
    stamps: Stamps,
    keepalive: Bytes,
    scratch: Vec<u8>,
}

/// Where each prefix took effect relative to when it was sent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Engine {
    /// Opens every session from inside `netns` and sends each OPEN; see [`Engine::run_until`]
    /// to make progress.
    pub fn connect(netns: &str, plans: Vec<SessionPlan>, space: PrefixSpace) -> Result<Engine> {
        let keepalive = wire::keepalive()?;
        let now = Instant::now();
        let mut sessions = Vec::with_capacity(plans.len());
        {
            let _inside = NetnsGuard::enter(netns)?;
            for plan in plans {
                let socket = connect(plan.local, plan.remote)?;
                let open = wire::open(plan.asn, plan.router_id, HOLD_TIME_S, plan.family)?;
                let table = plan.receiver.then(|| Table::new(&space));
                let mut session = Session {
                    plan,
                    socket,
                    phase: Phase::OpenSent,
                    carry: Vec::new(),
                    outbox: VecDeque::new(),
                    next_keepalive: now + KEEPALIVE_INTERVAL,
                    table,
                };
                session.push(raw(open));
                sessions.push(session);
            }
        }
        Ok(Engine {
            sessions,
            space,
            stamps: Stamps {
                epoch: now,
                sent: vec![NO_STAMP; space.count as usize],
                effect: vec![NO_STAMP; space.count as usize],
            },
            keepalive,
            scratch: vec![0; SCRATCH_LEN],
        })
    }

    pub fn space(&self) -> &PrefixSpace {
        &self.space
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Sessions that completed the OPEN exchange and are still up.
    pub fn established(&self) -> usize {
        self.sessions
            .iter()
            .filter(|s| s.phase == Phase::Established)
            .count()
    }

    /// The table of receiver `session` (`None` for a sender).
    pub fn table(&self, session: usize) -> Option<&Table> {
        self.sessions.get(session).and_then(|s| s.table.as_ref())
    }

    /// Tables of every receiver still up.
    pub fn tables(&self) -> impl Iterator<Item = &Table> {
        self.sessions
            .iter()
            .filter(|s| s.phase != Phase::Dropped)
            .filter_map(|s| s.table.as_ref())
    }

    /// Queues `batch` on `session`; it is written as the socket accepts it.
    pub fn send(&mut self, session: usize, batch: Batch) -> Result<()> {
        let session = self
            .sessions
            .get_mut(session)
            .ok_or_else(|| LabError::Invalid(format!("no session {session}")))?;
        session.push(batch);
        Ok(())
    }

    /// True when every queued message has been handed to the kernel.
    pub fn flushed(&self) -> bool {
        self.sessions.iter().all(|s| s.outbox.is_empty())
    }

    /// An End-of-RIB (RFC 4724 §2) for the session's family, as a batch.
    pub fn end_of_rib(&self, session: usize) -> Result<Batch> {
        let family = self
            .sessions
            .get(session)
            .map(|s| s.plan.family)
            .ok_or_else(|| LabError::Invalid(format!("no session {session}")))?;
        wire::end_of_rib(family)
    }

    /// Closes `session` from our side, as a client going away would (no NOTIFICATION).
    pub fn close(&mut self, session: usize) {
        if let Some(session) = self.sessions.get_mut(session) {
            let _ = session.socket.shutdown(std::net::Shutdown::Both);
            session.phase = Phase::Dropped;
            session.outbox.clear();
        }
    }

    /// Forgets all per-prefix stamps (the start of a new phase of a workload).
    pub fn reset_stamps(&mut self) {
        self.stamps.sent.fill(NO_STAMP);
        self.stamps.effect.fill(NO_STAMP);
    }

    /// The latest moment any receiver's table changed, if any did since the last reset.
    pub fn last_effect(&self) -> Option<Instant> {
        let latest = self.stamps.effect.iter().copied().max()?;
        (latest != NO_STAMP).then(|| self.stamps.epoch + Duration::from_micros(u64::from(latest)))
    }

    /// Percentiles of (last effect − sent) over the prefixes `indexes` that have both stamps.
    pub fn latency(&self, indexes: impl Iterator<Item = u32>) -> Option<Latency> {
        let mut delays: Vec<u32> = indexes
            .filter_map(|i| {
                let sent = *self.stamps.sent.get(i as usize)?;
                let effect = *self.stamps.effect.get(i as usize)?;
                (sent != NO_STAMP && effect != NO_STAMP).then(|| effect.saturating_sub(sent))
            })
            .collect();
        if delays.is_empty() {
            return None;
        }
        delays.sort_unstable();
        let at = |fraction: f64| {
            let position = ((delays.len() - 1) as f64 * fraction).round() as usize;
            Duration::from_micros(u64::from(delays[position.min(delays.len() - 1)]))
        };
        Some(Latency {
            p50: at(0.5),
            p99: at(0.99),
            max: at(1.0),
        })
    }

    /// Runs the sessions until `done` holds (true) or `timeout` passes (false). A session
    /// the daemon closes or sends a NOTIFICATION on is an error.
    pub fn run_until(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&Engine) -> bool,
    ) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        let mut fds: Vec<libc::pollfd> = Vec::with_capacity(self.sessions.len());
        loop {
            if let Some(failed) = self.sessions.iter().find_map(|s| match &s.phase {
                Phase::Failed(reason) => Some(format!("session from {}: {reason}", s.plan.local)),
                _ => None,
            }) {
                return Err(LabError::Invalid(failed));
            }
            if done(self) {
                return Ok(true);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            self.keepalives(now);
            fds.clear();
            fds.extend(self.sessions.iter().map(|s| libc::pollfd {
                fd: s.socket.as_raw_fd(),
                events: match s.phase {
                    Phase::Dropped | Phase::Failed(_) => 0,
                    _ if s.outbox.is_empty() => libc::POLLIN,
                    _ => libc::POLLIN | libc::POLLOUT,
                },
                revents: 0,
            }));
            let wait = (deadline - now).min(POLL_SLICE);
            let nfds = libc::nfds_t::try_from(fds.len())
                .map_err(|_| LabError::Invalid("too many sessions".into()))?;
            // SAFETY: `fds` is a live, initialised slice of `nfds` pollfd structures.
            let ready = unsafe { libc::poll(fds.as_mut_ptr(), nfds, wait.as_millis() as i32) };
            if ready < 0 {
                let error = std::io::Error::last_os_error();
                if error.kind() == ErrorKind::Interrupted {
                    continue;
                }
                return Err(LabError::io("poll", error));
            }
            for (index, fd) in fds.iter().enumerate() {
                if fd.revents == 0 {
                    continue;
                }
                if fd.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
                    self.read(index);
                }
                if fd.revents & libc::POLLOUT != 0 {
                    self.write(index);
                }
            }
        }
    }

    fn keepalives(&mut self, now: Instant) {
        for session in &mut self.sessions {
            if session.phase == Phase::Established && now >= session.next_keepalive {
                session.next_keepalive = now + KEEPALIVE_INTERVAL;
                session.push(raw(self.keepalive.clone()));
            }
        }
    }

    fn read(&mut self, index: usize) {
        let Engine {
            sessions,
            space,
            stamps,
            keepalive,
            scratch,
        } = self;
        let Some(session) = sessions.get_mut(index) else {
            return;
        };
        for _ in 0..READS_PER_TURN {
            let n = match session.socket.read(scratch) {
                Ok(0) => {
                    session.fail("connection closed by the daemon".into());
                    return;
                }
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    session.fail(format!("read: {e}"));
                    return;
                }
            };
            let now = Instant::now();
            let mut carry = std::mem::take(&mut session.carry);
            let data: &[u8] = if carry.is_empty() {
                &scratch[..n]
            } else {
                carry.extend_from_slice(&scratch[..n]);
                &carry
            };
            let consumed = match session.receive(data, space, stamps, now, keepalive) {
                Ok(consumed) => consumed,
                Err(reason) => {
                    session.fail(reason);
                    return;
                }
            };
            let rest = data[consumed..].to_vec();
            carry.clear();
            carry.extend_from_slice(&rest);
            session.carry = carry;
        }
    }

    fn write(&mut self, index: usize) {
        let Engine {
            sessions, stamps, ..
        } = self;
        let Some(session) = sessions.get_mut(index) else {
            return;
        };
        while let Some(pending) = session.outbox.front_mut() {
            match session.socket.write(&pending.batch.bytes[pending.offset..]) {
                Ok(n) => {
                    pending.offset += n;
                    let stamp = stamps.now(Instant::now());
                    while let Some((end, range)) = pending.batch.marks.get(pending.marks_done) {
                        if *end > pending.offset {
                            break;
                        }
                        for prefix in range.clone() {
                            if let Some(slot) = stamps.sent.get_mut(prefix as usize) {
                                *slot = stamp;
                            }
                        }
                        pending.marks_done += 1;
                    }
                    if pending.offset == pending.batch.bytes.len() {
                        session.outbox.pop_front();
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    session.fail(format!("write: {e}"));
                    return;
                }
            }
        }
    }
}

impl Session {
    fn push(&mut self, batch: Batch) {
        if !batch.bytes.is_empty() {
            self.outbox.push_back(Pending {
                batch,
                offset: 0,
                marks_done: 0,
            });
        }
    }

    fn fail(&mut self, reason: String) {
        if self.phase != Phase::Dropped {
            self.phase = Phase::Failed(reason);
        }
    }

    /// Handles the whole messages at the front of `data`; returns how many octets they took.
    fn receive(
        &mut self,
        data: &[u8],
        space: &PrefixSpace,
        stamps: &mut Stamps,
        now: Instant,
        keepalive: &Bytes,
    ) -> std::result::Result<usize, String> {
        let mut consumed = 0;
        let mut stamp = None;
        while let Some(frame) = wire::next_frame(&data[consumed..]).map_err(|e| e.to_string())? {
            consumed += frame.bytes.len();
            match frame.message_type {
                Some(MessageType::Open) if self.phase == Phase::OpenSent => {
                    self.phase = Phase::OpenConfirm;
                    self.push(raw(keepalive.clone()));
                }
                Some(MessageType::Keepalive) if self.phase == Phase::OpenConfirm => {
                    self.phase = Phase::Established;
                    if let Some(batch) = self.plan.on_established.take() {
                        self.push(batch);
                    }
                }
                Some(MessageType::Keepalive) => {}
                Some(MessageType::Update) => {
                    let Some(table) = self.table.as_mut() else {
                        continue;
                    };
                    let stamp = *stamp.get_or_insert_with(|| stamps.now(now));
                    let mut changed = false;
                    wire::walk_update(frame.bytes, space.family, |announced, len, octets| {
                        table.entries += 1;
                        if let Some(index) = space.index_of(len, octets) {
                            if table.apply(index, announced) {
                                changed = true;
                                if let Some(slot) = stamps.effect.get_mut(index as usize) {
                                    *slot = (*slot).max(stamp);
                                }
                            }
                        }
                    })
                    .ok_or("malformed UPDATE")?;
                    if changed {
                        table.last_change = Some(now);
                    }
                }
                Some(MessageType::Notification) => {
                    let code = frame
                        .bytes
                        .get(proto::header::HEADER_LEN..)
                        .unwrap_or_default();
                    return Err(format!("NOTIFICATION from the daemon: {code:02x?}"));
                }
                other => return Err(format!("unexpected {other:?} in {:?}", self.phase)),
            }
        }
        Ok(consumed)
    }
}

/// A batch without prefixes (OPEN, KEEPALIVE, End-of-RIB).
fn raw(bytes: Bytes) -> Batch {
    Batch {
        bytes,
        marks: Vec::new(),
    }
}

/// A non-blocking TCP connection from `local` to the daemon's BGP port, retried while the
/// daemon is not listening yet.
fn connect(local: IpAddr, remote: IpAddr) -> Result<TcpStream> {
    let target = SocketAddr::new(remote, BGP_PORT);
    let mut last = None;
    for _ in 0..CONNECT_ATTEMPTS {
        let socket = Socket::new(
            Domain::for_address(target),
            Type::STREAM,
            Some(Protocol::TCP),
        )
        .map_err(|e| LabError::io("socket", e))?;
        socket
            .bind(&SockAddr::from(SocketAddr::new(local, 0)))
            .map_err(|e| LabError::io(format!("bind {local}"), e))?;
        match socket.connect_timeout(&SockAddr::from(target), CONNECT_TIMEOUT) {
            Ok(()) => {
                socket
                    .set_nodelay(true)
                    .map_err(|e| LabError::io("TCP_NODELAY", e))?;
                socket
                    .set_nonblocking(true)
                    .map_err(|e| LabError::io("O_NONBLOCK", e))?;
                return Ok(socket.into());
            }
            Err(e) => last = Some(e),
        }
        std::thread::sleep(CONNECT_RETRY);
    }
    Err(LabError::Invalid(format!(
        "connect {local} -> {target}: {}",
        last.map(|e| e.to_string()).unwrap_or_default()
    )))
}

/// Moves the calling thread into a named network namespace until dropped (sockets created
/// meanwhile stay in that namespace for their whole life).
pub(super) struct NetnsGuard {
    original: File,
}

impl NetnsGuard {
    pub(super) fn enter(netns: &str) -> Result<NetnsGuard> {
        let original = File::open("/proc/thread-self/ns/net")
            .map_err(|e| LabError::io("open own network namespace", e))?;
        let target = File::open(format!("/run/netns/{netns}"))
            .map_err(|e| LabError::io(format!("open namespace {netns}"), e))?;
        set_netns(&target).map_err(|e| LabError::io(format!("enter {netns}"), e))?;
        Ok(NetnsGuard { original })
    }
}

impl Drop for NetnsGuard {
    fn drop(&mut self) {
        if let Err(error) = set_netns(&self.original) {
            // Staying in the lab namespace would misplace every later socket: stop here.
            eprintln!("cannot return to the original network namespace: {error}");
            std::process::abort();
        }
    }
}

fn set_netns(file: &File) -> std::io::Result<()> {
    // SAFETY: setns(2) on a valid namespace file descriptor; it affects only this thread.
    let result = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_counts_distinct_prefixes() {
        let space = PrefixSpace::ipv4(std::net::Ipv4Addr::new(10, 0, 0, 0), 26, 130);
        let mut table = Table::new(&space);
        let check = |table: &mut Table, index: u32, announced: bool, changed: bool, count: u32| {
            assert_eq!(
                table.apply(index, announced),
                changed,
                "{index} {announced}"
            );
            assert_eq!(table.count(), count);
        };
        check(&mut table, 0, true, true, 1);
        check(&mut table, 0, true, false, 1); // repeat: implicit replace
        check(&mut table, 129, true, true, 2);
        check(&mut table, 5, false, false, 2); // withdrawing what is not held
        check(&mut table, 0, false, true, 1);
        assert!(table.contains(129));
        assert!(!table.contains(0));
    }
}
