//! The peer task: a thin shell around [`PeerDriver`] that does its I/O. It owns the
//! connections' tasks (a reader and a writer each), the connect attempt and the sockets in
//! hand, feeds the driver what they report with the current time, carries out its effects,
//! delivers its events to the RIB task as the RIB's queue makes room, and publishes the
//! neighbor's status after every step.
//!
//! Channels (see ARCHITECTURE.md's map): frames from both readers share one queue of
//! [`FRAME_QUEUE`], read only while the driver accepts frames (the RIB backpressure stops the
//! readers, then TCP); writers' reports and connect results share a small queue of their own
//! ([`LINK_QUEUE`]) that is always read, so timers, commands and writer reports are served
//! while the RIB is full.

use std::time::Duration;

use proto::session::{ConnectionId, StopReason};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::driver::{Effect, PeerDriver};
use super::reader::{read_loop, Read, ReadEvent};
use super::status::{ConnectFailure, PeerStatus};
use super::writer::{ControlMessage, Source, Writer, WriterEvent};
use super::PeerCommand;
use crate::neighbor::NeighborSettings;
use crate::rib::RibEvent;
use crate::socket::{self, Md5Counters};
use crate::transmit::Pulls;

/// Frames read ahead of the peer task, shared by its connections; a full queue stops the
/// readers, and with them the sockets (TCP flow control pushes back on the neighbor).
pub const FRAME_QUEUE: usize = 32;
/// Writer reports and connect results waiting for the peer task; a full queue makes the
/// writer or connect task wait (they send a handful per connection).
pub const LINK_QUEUE: usize = 16;
/// Session messages queued for a writer beyond what it holds itself; when full the session
/// counts the connection as blocked (RFC 9687).
pub const CONTROL_QUEUE: usize = 16;
/// How long a closing connection may take to flush its last messages (a NOTIFICATION).
const CLOSE_FLUSH: Duration = Duration::from_secs(2);
/// How often a neighbor with a TCP MD5 key that is not Established looks at the kernel's MD5
/// failure counters.
const MD5_CHECK_INTERVAL: Duration = Duration::from_secs(5);

/// A report from a connection's writer, or the end of a connect attempt.
#[derive(Debug)]
pub enum LinkEvent {
    Connected {
        attempt: u64,
        result: std::io::Result<TcpStream>,
    },
    Writer {
        id: ConnectionId,
        generation: u64,
        event: WriterEvent,
    },
}

/// A connection's tasks.
struct Connection {
    control: mpsc::Sender<ControlMessage>,
    /// Tells the writer to start pulling UPDATEs.
    start: Option<oneshot::Sender<()>>,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
}

pub struct PeerTask {
    driver: PeerDriver,
    peer: rr::PeerId,
    rib: mpsc::Sender<RibEvent>,
    pulls: Pulls,
    commands: mpsc::Receiver<PeerCommand>,
    frames: mpsc::Receiver<ReadEvent>,
    frames_tx: mpsc::Sender<ReadEvent>,
    links: mpsc::Receiver<LinkEvent>,
    links_tx: mpsc::Sender<LinkEvent>,
    outgoing: Option<Connection>,
    incoming: Option<Connection>,
    /// The connect attempt in flight and its number.
    connect: Option<(u64, JoinHandle<()>)>,
    /// The socket the driver is deciding on (just connected or accepted).
    in_hand: Option<TcpStream>,
    /// Closed connections flushing their last messages, each bounded by [`CLOSE_FLUSH`].
    closing: Vec<JoinHandle<()>>,
    status: watch::Sender<PeerStatus>,
}

impl PeerTask {
    pub fn new(
        peer: rr::PeerId,
        settings: NeighborSettings,
        seed: u64,
        rib: mpsc::Sender<RibEvent>,
        pulls: Pulls,
        commands: (mpsc::WeakSender<PeerCommand>, mpsc::Receiver<PeerCommand>),
        status: watch::Sender<PeerStatus>,
    ) -> PeerTask {
        let (frames_tx, frames) = mpsc::channel(FRAME_QUEUE);
        let (links_tx, links) = mpsc::channel(LINK_QUEUE);
        PeerTask {
            peer,
            driver: PeerDriver::new(peer, settings, seed, commands.0),
            rib,
            pulls,
            commands: commands.1,
            frames,
            frames_tx,
            links,
            links_tx,
            outgoing: None,
            incoming: None,
            connect: None,
            in_hand: None,
            closing: Vec::new(),
            status,
        }
    }

    pub async fn run(mut self) {
        self.driver.start(now());
        let mut md5_check = tokio::time::interval(MD5_CHECK_INTERVAL);
        let reason = loop {
            self.carry_out();
            let sleep = sleep_until(self.driver.poll_timeout());
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(PeerCommand::Shutdown(reason)) => break reason,
                    None => break StopReason::Deconfigured,
                    Some(command) => self.command(command),
                },
                permit = self.rib.clone().reserve_owned(), if self.driver.has_rib_events() => {
                    let event = self.driver.take_rib_event(now());
                    // The RIB task ends only when the daemon stops: what it misses is moot.
                    if let (Ok(permit), Some(event)) = (permit, event) {
                        permit.send(event);
                    }
                }
                Some(event) = self.links.recv() => self.link_event(event),
                Some(event) = self.frames.recv(), if self.driver.accepts_frames() => {
                    let ReadEvent { id, generation, read } = event;
                    match read {
                        Read::Frame(frame) => self.driver.frame(now(), id, generation, &frame),
                        Read::Failed(failure) => {
                            self.driver.read_failed(now(), id, generation, failure);
                        }
                    }
                }
                _ = md5_check.tick(), if self.driver.wants_md5_sample() => {
                    if let Ok(counters) = Md5Counters::read() {
                        self.driver.md5_sample(now(), counters);
                    }
                }
                () = sleep => self.driver.handle_timeout(now()),
            }
        };
        self.exit(reason).await;
    }

    /// Stops the session, hands the RIB what is left in order, and gives the closing
    /// connections time to send their NOTIFICATION.
    async fn exit(mut self, reason: StopReason) {
        self.driver.shutdown(now(), reason);
        self.carry_out();
        while let Some(event) = self.driver.take_rib_event(now()) {
            if self.rib.send(event).await.is_err() {
                break;
            }
        }
        self.abort_connect();
        for id in [ConnectionId::Outgoing, ConnectionId::Incoming] {
            self.close(id);
        }
        for waiter in self.closing.drain(..) {
            let _ = waiter.await;
        }
    }

    fn command(&mut self, command: PeerCommand) {
        match command {
            PeerCommand::Incoming(stream, remote) => {
                let settings = self.driver.settings();
                if let Err(error) =
                    socket::prepare_accepted(&stream, remote.ip(), &settings.transport)
                {
                    warn!(peer = %settings.name, %remote, %error, "incoming connection refused");
                    return;
                }
                debug!(peer = %settings.name, %remote, "incoming connection");
                let local = local_address(&stream);
                self.in_hand = Some(stream);
                self.driver.incoming(now(), local);
                self.carry_out();
                // Whatever the session decided, the socket held aside is not kept waiting.
                self.in_hand = None;
            }
            PeerCommand::Enable => self.driver.start(now()),
            PeerCommand::SoftReset => self.driver.soft_reset(now()),
            PeerCommand::Stop(reason) => self.driver.stop(now(), reason),
            PeerCommand::Reconfigure(settings) => self.driver.reconfigure(*settings),
            PeerCommand::Shutdown(_) => unreachable!("handled by the run loop"),
        }
    }

    fn link_event(&mut self, event: LinkEvent) {
        match event {
            LinkEvent::Connected { attempt, result } => {
                let result = match result {
                    Ok(stream) => {
                        let local = local_address(&stream);
                        self.in_hand = Some(stream);
                        Ok(local)
                    }
                    Err(error) => Err(ConnectFailure::from(&error)),
                };
                if self.connect.as_ref().is_some_and(|(a, _)| *a == attempt) {
                    self.connect = None;
                }
                self.driver.connected(now(), attempt, result);
                self.carry_out();
                // A stale attempt's socket is not installed: it closes here.
                self.in_hand = None;
            }
            LinkEvent::Writer {
                id,
                generation,
                event,
            } => self.driver.writer_event(now(), id, generation, event),
        }
    }

    /// Carries out the driver's effects, and publishes the status when it changed.
    fn carry_out(&mut self) {
        while let Some(effect) = self.driver.poll_effect() {
            match effect {
                Effect::Connect { attempt } => {
                    self.abort_connect();
                    let links = self.links_tx.clone();
                    let settings = self.driver.settings();
                    let (address, transport) = (settings.address, settings.transport.clone());
                    let task = tokio::spawn(async move {
                        let result = socket::connect(address, &transport).await;
                        let _ = links.send(LinkEvent::Connected { attempt, result }).await;
                    });
                    self.connect = Some((attempt, task));
                }
                Effect::AbortConnect => self.abort_connect(),
                Effect::Install { id, generation } => match self.in_hand.take() {
                    Some(stream) => self.install(id, generation, stream),
                    None => {
                        warn!(peer = %self.driver.settings().name, "no socket in hand to install")
                    }
                },
                Effect::Refuse(notification) => {
                    if let Some(stream) = self.in_hand.take() {
                        tokio::spawn(refuse(stream, notification));
                    }
                }
                Effect::Send {
                    id,
                    message_type,
                    bytes,
                } => {
                    let Some(connection) = self.slot(id).as_ref() else {
                        continue;
                    };
                    let message = ControlMessage {
                        bytes,
                        last: message_type == proto::header::MessageType::Notification,
                    };
                    if let Err(mpsc::error::TrySendError::Full(_)) =
                        connection.control.try_send(message)
                    {
                        self.driver.writer_full(now(), id);
                    }
                }
                Effect::StartUpdates(id) => {
                    if let Some(start) = self.slot(id).as_mut().and_then(|c| c.start.take()) {
                        let _ = start.send(());
                    }
                }
                Effect::Close(id) => self.close(id),
            }
        }
        let status = self.driver.status();
        self.status.send_if_modified(|published| {
            let changed = published != status;
            if changed {
                published.clone_from(status);
            }
            changed
        });
    }

    fn install(&mut self, id: ConnectionId, generation: u64, stream: TcpStream) {
        let (read_half, write_half) = stream.into_split();
        let (control, control_rx) = mpsc::channel(CONTROL_QUEUE);
        let (start, start_rx) = oneshot::channel();
        let reader = tokio::spawn(read_loop(read_half, self.frames_tx.clone(), id, generation));
        let writer = Writer {
            half: write_half,
            control: control_rx,
            start: Some(start_rx),
            source: Source {
                pulls: self.pulls.clone(),
                peer: self.peer,
            },
            events: self.links_tx.clone(),
            id,
            generation,
        };
        let writer = tokio::spawn(writer.run());
        let connection = Connection {
            control,
            start: Some(start),
            reader,
            writer,
        };
        if let Some(old) = self.slot(id).replace(connection) {
            self.flush_and_close(old);
        }
    }

    fn abort_connect(&mut self) {
        if let Some((_, task)) = self.connect.take() {
            task.abort();
        }
    }

    fn close(&mut self, id: ConnectionId) {
        if let Some(connection) = self.slot(id).take() {
            self.flush_and_close(connection);
        }
    }

    /// Lets the writer flush what is queued (a NOTIFICATION), bounded in time, and stops
    /// reading.
    fn flush_and_close(&mut self, connection: Connection) {
        connection.reader.abort();
        drop(connection.control);
        let writer = connection.writer;
        self.closing.retain(|waiter| !waiter.is_finished());
        self.closing.push(tokio::spawn(async move {
            let abort = writer.abort_handle();
            if tokio::time::timeout(CLOSE_FLUSH, writer).await.is_err() {
                abort.abort();
            }
        }));
    }

    fn slot(&mut self, id: ConnectionId) -> &mut Option<Connection> {
        match id {
            ConnectionId::Outgoing => &mut self.outgoing,
            ConnectionId::Incoming => &mut self.incoming,
        }
    }
}

/// Our end of a connection (the next hop we advertise as our own).
fn local_address(stream: &TcpStream) -> Option<std::net::IpAddr> {
    stream
        .local_addr()
        .ok()
        .map(|a| crate::neighbor::canonical(a.ip()))
}

/// Sends a NOTIFICATION on a connection the session refused, then closes it.
async fn refuse(mut stream: TcpStream, notification: bytes::Bytes) {
    let _ = tokio::time::timeout(CLOSE_FLUSH, stream.write_all(&notification)).await;
    let _ = tokio::time::timeout(CLOSE_FLUSH, stream.shutdown()).await;
}

/// The current time on tokio's clock (virtual in tests with a paused clock).
fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// Sleeps until the driver's next timer is due, or forever when none is running.
async fn sleep_until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)).await,
        None => std::future::pending().await,
    }
}
