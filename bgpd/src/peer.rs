//! One task per neighbor: it owns the neighbor's `proto::session::Session`, its (at most two)
//! TCP connections and its connect attempt, feeds the session the events of RFC 4271 §8.1 and
//! carries out the actions it returns. Each connection has a reader task (framing only, so
//! that decoding uses the parameters negotiated when the frame is processed, not when it was
//! read) and a writer task (so that a peer that stops reading cannot block the timers).
//!
//! UPDATEs and ROUTE-REFRESHes of the established session go to the RIB task; when its queue
//! is full the task waits, and stops reading the socket meanwhile. Timers keep running during
//! the wait (KEEPALIVEs go out), and the UPDATE in hand re-arms the hold timer (RFC 4271 §4.4)
//! whenever a timer is due and again when the RIB takes it, so that the hold timer does not
//! expire because of our own congestion (BIRD does the same). The RIB task writes the
//! routes it sends (End-of-RIB included, RFC 4724 §2) to the connection's writer itself.

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use proto::header::{split_frame, MessageType};
use proto::message::Message;
use proto::notification::{ErrorCode, HeaderError};
use proto::params::MAX_EXTENDED_MESSAGE_LEN;
use proto::route_refresh::{RouteRefresh, RouteRefreshSubtype};
use proto::session::{Action, ConnectionId, Input, Reason, Session, State, StopReason};
use proto::update::Update;
use proto::{AfiSafiSet, DecodeError, SessionParams};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::neighbor::NeighborSettings;
use crate::ratelimit::{LogLimiter, Verdict};
use crate::rib::{self, RibEvent};
use crate::socket::{self, Md5Counters};

/// Frames read ahead of the peer task per connection; a full queue stops the reader, and with
/// it the socket (TCP flow control pushes back on the peer).
const EVENT_QUEUE: usize = 1024;
/// Messages queued for a writer before the session counts as blocked.
const WRITE_QUEUE: usize = 256;
/// A write that has not completed after this long reports the connection as blocked (starts
/// the RFC 9687 send hold timer).
const WRITE_BLOCKED_AFTER: Duration = Duration::from_secs(1);
/// How long a closing connection may take to flush its last messages (a NOTIFICATION).
const CLOSE_FLUSH: Duration = Duration::from_secs(2);
/// How often a neighbor with a TCP MD5 key that is not Established looks at the kernel's MD5
/// failure counters.
const MD5_CHECK_INTERVAL: Duration = Duration::from_secs(5);

/// What the daemon tells a peer task.
#[derive(Debug)]
pub enum PeerCommand {
    /// Our listener accepted this connection from the neighbor.
    Incoming(TcpStream, SocketAddr),
    /// Start the session (ManualStart).
    Enable,
    /// Stop it: shutdown stays down, reset starts again.
    Stop(StopReason),
    /// Ask the neighbor to send its routes again (ROUTE-REFRESH, RFC 2918) without a reset.
    SoftReset,
    /// New settings, used from the next session on (the daemon resets the session when the
    /// change needs it).
    Reconfigure(Box<NeighborSettings>),
    /// Stop with this reason, flush, and end the task.
    Shutdown(StopReason),
}

/// What operators see of a neighbor (`bgpctl show neighbors`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    pub state: State,
    /// Wall-clock time the session became Established.
    pub established_at: Option<SystemTime>,
    pub hold_time: Option<u16>,
    pub keepalive: Option<Duration>,
    pub families: AfiSafiSet,
    pub last_error: Option<String>,
    /// ops: wall-clock time of `last_error`.
    pub last_error_at: Option<SystemTime>,
    /// Prefixes announced to us in the current session.
    pub prefixes_received: u64,
    /// Messages by type since the daemon started.
    pub received: MessageCounts,
    pub sent: MessageCounts,
    /// Times the session reached Established.
    pub established_transitions: u64,
}

/// Messages of each type (RFC 4271 §4.1, RFC 2918), counted since the daemon started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageCounts {
    pub open: u64,
    pub update: u64,
    pub notification: u64,
    pub keepalive: u64,
    pub route_refresh: u64,
}

impl MessageCounts {
    pub fn count(&mut self, message_type: MessageType) {
        *match message_type {
            MessageType::Open => &mut self.open,
            MessageType::Update => &mut self.update,
            MessageType::Notification => &mut self.notification,
            MessageType::Keepalive => &mut self.keepalive,
            MessageType::RouteRefresh => &mut self.route_refresh,
        } += 1;
    }

    /// `(type name, count)` for every type, in wire order.
    pub fn by_type(&self) -> [(&'static str, u64); 5] {
        [
            ("open", self.open),
            ("update", self.update),
            ("notification", self.notification),
            ("keepalive", self.keepalive),
            ("route_refresh", self.route_refresh),
        ]
    }
}

impl Default for PeerStatus {
    fn default() -> Self {
        PeerStatus {
            state: State::Idle,
            established_at: None,
            hold_time: None,
            keepalive: None,
            families: AfiSafiSet::EMPTY,
            last_error: None,
            last_error_at: None,
            prefixes_received: 0,
            received: MessageCounts::default(),
            sent: MessageCounts::default(),
            established_transitions: 0,
        }
    }
}

/// The daemon's side of a running peer task.
#[derive(Debug)]
pub struct PeerHandle {
    /// The neighbor as the RIB knows it.
    pub id: rr::PeerId,
    pub settings: NeighborSettings,
    pub commands: mpsc::Sender<PeerCommand>,
    pub status: watch::Receiver<PeerStatus>,
    pub task: JoinHandle<()>,
}

impl PeerHandle {
    /// Starts the task; the session is enabled at once.
    pub fn spawn(
        id: rr::PeerId,
        settings: NeighborSettings,
        seed: u64,
        rib: mpsc::Sender<RibEvent>,
    ) -> PeerHandle {
        let (commands, command_rx) = mpsc::channel(64);
        let (status_tx, status) = watch::channel(PeerStatus::default());
        let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
        let session = Session::new(settings.session.clone(), seed);
        let task = PeerTask {
            id,
            rib,
            rib_outbox: Vec::new(),
            own_commands: commands.downgrade(),
            settings: settings.clone(),
            session,
            commands: command_rx,
            events,
            events_tx,
            outgoing: None,
            incoming: None,
            pending_incoming: None,
            connect: None,
            generation: 0,
            status: status_tx,
            md5_baseline: None,
            update_errors: LogLimiter::default(),
            restart: None,
            closing: Vec::new(),
        };
        let task = tokio::spawn(task.run());
        PeerHandle {
            id,
            settings,
            commands,
            status,
            task,
        }
    }
}

/// An event from a connection's reader or writer, or from the connect attempt, tagged with the
/// generation of the connection it belongs to so that late events of a closed one are dropped.
#[derive(Debug)]
enum Event {
    Connected {
        generation: u64,
        result: io::Result<TcpStream>,
    },
    Frame {
        id: ConnectionId,
        generation: u64,
        frame: Bytes,
    },
    ReadFailed {
        id: ConnectionId,
        generation: u64,
        failure: ReadFailure,
    },
    WriteFailed {
        id: ConnectionId,
        generation: u64,
    },
    SendBlocked {
        id: ConnectionId,
        generation: u64,
    },
    SendProgress {
        id: ConnectionId,
        generation: u64,
    },
}

#[derive(Debug)]
enum ReadFailure {
    Closed,
    Io(io::Error),
    Framing(DecodeError),
}

struct Connection {
    generation: u64,
    writer: mpsc::Sender<Bytes>,
    reader: JoinHandle<()>,
    writer_task: JoinHandle<()>,
    /// Decoding parameters: plain until the session is Established on this connection.
    params: SessionParams,
    /// Our end of the connection (the next hop we advertise as our own).
    local: Option<IpAddr>,
}

struct PeerTask {
    id: rr::PeerId,
    /// The RIB task's queue.
    rib: mpsc::Sender<RibEvent>,
    /// Session changes (PeerUp, PeerDown) for the RIB, sent in order after each event.
    rib_outbox: Vec<RibEvent>,
    /// This task's own command queue, for the RIB to stop the session (weak, so that the task
    /// still ends when the daemon drops its handle).
    own_commands: mpsc::WeakSender<PeerCommand>,
    settings: NeighborSettings,
    session: Session,
    commands: mpsc::Receiver<PeerCommand>,
    events: mpsc::Receiver<Event>,
    events_tx: mpsc::Sender<Event>,
    outgoing: Option<Connection>,
    incoming: Option<Connection>,
    /// An accepted connection waiting for the session's AcceptIncoming / RefuseIncoming.
    pending_incoming: Option<TcpStream>,
    /// The connect attempt in flight and its generation.
    connect: Option<(u64, JoinHandle<()>)>,
    generation: u64,
    status: watch::Sender<PeerStatus>,
    /// MD5 failure counters when the current connect attempt began (neighbors with a key).
    md5_baseline: Option<Md5Counters>,
    /// Bounds the log lines of recoverable UPDATE errors (a flood of them is one summary).
    update_errors: LogLimiter,
    /// The delayed start after a `max_prefixes` stop (aborted by any other command that
    /// starts or stops the session).
    restart: Option<JoinHandle<()>>,
    /// ops (RFC 8538): closed connections still flushing their last messages (a NOTIFICATION),
    /// awaited before the task ends so that a shutdown's Cease reaches the neighbor.
    closing: Vec<JoinHandle<()>>,
}

impl PeerTask {
    async fn run(mut self) {
        self.input(Input::Start);
        let mut md5_check = tokio::time::interval(MD5_CHECK_INTERVAL);
        loop {
            let sleep = sleep_until(self.session.poll_timeout());
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(PeerCommand::Shutdown(reason)) => {
                        self.cancel_restart();
                        self.input(Input::Stop(reason));
                        self.flush_and_exit().await;
                        return;
                    }
                    Some(command) => self.command(command),
                    None => {
                        self.input(Input::Stop(StopReason::Deconfigured));
                        self.flush_and_exit().await;
                        return;
                    }
                },
                Some(event) = self.events.recv() => self.event(event).await,
                _ = md5_check.tick(), if self.settings.transport.md5_key.is_some() => {
                    if self.session.state() != State::Established {
                        self.check_md5_failures();
                    }
                }
                () = sleep => {
                    let actions = self.session.handle_timeout(Instant::now());
                    self.apply(actions);
                }
            }
            self.flush_rib().await;
        }
    }

    /// Sends the RIB the session changes of the last event, in order.
    async fn flush_rib(&mut self) {
        for event in std::mem::take(&mut self.rib_outbox) {
            // The RIB task ends only when the daemon stops.
            if self.rib.send(event).await.is_err() {
                return;
            }
        }
    }

    /// Gives the writers of closing connections time to send their NOTIFICATION.
    async fn flush_and_exit(&mut self) {
        self.flush_rib().await;
        let closing = std::mem::take(&mut self.closing);
        let _ = tokio::time::timeout(CLOSE_FLUSH, async {
            for connection in [self.outgoing.take(), self.incoming.take()]
                .into_iter()
                .flatten()
            {
                drop(connection.writer);
                let _ = connection.writer_task.await;
                connection.reader.abort();
            }
            // ops (RFC 8538): and those the session closed on its way out.
            for flush in closing {
                let _ = flush.await;
            }
        })
        .await;
    }

    fn command(&mut self, command: PeerCommand) {
        match command {
            PeerCommand::Incoming(stream, remote) => {
                if let Err(error) =
                    socket::prepare_accepted(&stream, remote.ip(), &self.settings.transport)
                {
                    warn!(peer = %self.settings.name, %remote, %error, "incoming connection refused");
                    return;
                }
                debug!(peer = %self.settings.name, %remote, "incoming connection");
                self.pending_incoming = Some(stream);
                self.input(Input::TcpConnected(ConnectionId::Incoming));
                // Whatever the session decided, the socket held aside is not kept waiting.
                self.pending_incoming = None;
            }
            PeerCommand::Enable => {
                self.cancel_restart();
                self.input(Input::Start);
            }
            PeerCommand::SoftReset => self.request_refresh(),
            PeerCommand::Stop(reason) => {
                self.cancel_restart();
                let max_prefixes = matches!(reason, StopReason::MaxPrefixes { .. });
                self.input(Input::Stop(reason));
                if max_prefixes {
                    self.schedule_restart();
                }
            }
            PeerCommand::Reconfigure(settings) => {
                self.session.set_config(settings.session.clone());
                self.settings = *settings;
            }
            PeerCommand::Shutdown(_) => unreachable!("handled by the run loop"),
        }
    }

    /// RFC 4486 §4 leaves restarting after Maximum Number of Prefixes Reached to the
    /// operator: with `max_prefixes_restart` the session starts again after that delay.
    fn schedule_restart(&mut self) {
        let Some(delay) = self.settings.max_prefixes_restart else {
            info!(peer = %self.settings.name, "stopped for max_prefixes: stays down until enabled");
            return;
        };
        info!(peer = %self.settings.name, delay_s = delay.as_secs(), "stopped for max_prefixes: restart scheduled");
        let commands = self.own_commands.clone();
        self.restart = Some(tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if let Some(commands) = commands.upgrade() {
                let _ = commands.send(PeerCommand::Enable).await;
            }
        }));
    }

    fn cancel_restart(&mut self) {
        if let Some(restart) = self.restart.take() {
            restart.abort();
        }
    }

    /// Sends a ROUTE-REFRESH per negotiated family when the neighbor supports it.
    fn request_refresh(&mut self) {
        let (Some(id), Some(negotiated)) = (
            self.session.established_connection(),
            self.session.negotiated(),
        ) else {
            return;
        };
        if !negotiated.route_refresh {
            warn!(peer = %self.settings.name, "soft reset: the neighbor does not support route refresh");
            return;
        }
        let requests: Vec<Message> = negotiated
            .families
            .iter()
            .map(|family| {
                Message::RouteRefresh(RouteRefresh {
                    afi: family.afi(),
                    subtype: RouteRefreshSubtype::Normal,
                    safi: family.safi(),
                })
            })
            .collect();
        for request in &requests {
            if self.send(id, request) {
                self.input(Input::MessageSent(id));
            }
        }
        info!(peer = %self.settings.name, "route refresh requested");
    }

    async fn event(&mut self, event: Event) {
        match event {
            Event::Connected { generation, result } => {
                if !matches!(self.connect, Some((g, _)) if g == generation) {
                    return;
                }
                self.connect = None;
                match result {
                    Ok(stream) => {
                        self.install(ConnectionId::Outgoing, stream);
                        self.input(Input::TcpConnected(ConnectionId::Outgoing));
                    }
                    Err(error) => {
                        debug!(peer = %self.settings.name, %error, "connect failed");
                        self.note_error(format!("connect: {error}"));
                        self.input(Input::TcpFailed(ConnectionId::Outgoing));
                    }
                }
            }
            Event::Frame {
                id,
                generation,
                frame,
            } => {
                if self.current(id, generation) {
                    self.frame(id, &frame).await;
                }
            }
            Event::ReadFailed {
                id,
                generation,
                failure,
            } => {
                if !self.current(id, generation) {
                    return;
                }
                match failure {
                    ReadFailure::Closed => self.input(Input::TcpFailed(id)),
                    ReadFailure::Io(error) => {
                        debug!(peer = %self.settings.name, %error, "read failed");
                        self.input(Input::TcpFailed(id));
                    }
                    ReadFailure::Framing(error) => {
                        warn!(peer = %self.settings.name, %error, "malformed message header");
                        self.input(Input::DecodeError(id, &error));
                    }
                }
            }
            Event::WriteFailed { id, generation } => {
                if self.current(id, generation) {
                    self.input(Input::TcpFailed(id));
                }
            }
            Event::SendBlocked { id, generation } => {
                if self.current(id, generation) {
                    self.input(Input::SendBlocked(id));
                }
            }
            Event::SendProgress { id, generation } => {
                if self.current(id, generation) {
                    self.input(Input::SendProgress(id));
                }
            }
        }
    }

    fn current(&self, id: ConnectionId, generation: u64) -> bool {
        self.connection(id)
            .is_some_and(|c| c.generation == generation)
    }

    fn connection(&self, id: ConnectionId) -> Option<&Connection> {
        match id {
            ConnectionId::Outgoing => self.outgoing.as_ref(),
            ConnectionId::Incoming => self.incoming.as_ref(),
        }
    }

    fn slot(&mut self, id: ConnectionId) -> &mut Option<Connection> {
        match id {
            ConnectionId::Outgoing => &mut self.outgoing,
            ConnectionId::Incoming => &mut self.incoming,
        }
    }

    async fn frame(&mut self, id: ConnectionId, frame: &Bytes) {
        let Some(params) = self.connection(id).map(|c| c.params) else {
            return;
        };
        // The reader frames up to the extended size; the limit in force is the negotiated one
        // (RFC 8654 §4).
        if frame.len() > params.max_message_len() {
            let length = u16::try_from(frame.len()).unwrap_or(u16::MAX).to_be_bytes();
            let error = DecodeError::with_data(
                ErrorCode::MessageHeader(HeaderError::BadMessageLength),
                Bytes::copy_from_slice(&length),
                "message longer than the negotiated maximum",
            );
            self.input(Input::DecodeError(id, &error));
            return;
        }
        match Message::decode(frame, &params) {
            Ok(message) => {
                self.status
                    .send_modify(|status| status.received.count(message.message_type()));
                let for_rib = matches!(message, Message::Update(_) | Message::RouteRefresh(_))
                    && self.session.accepts_updates(id);
                if !for_rib {
                    self.input(Input::Message(id, &message));
                    return;
                }
                // PeerUp goes first.
                self.flush_rib().await;
                // Backpressure: while the RIB is full this task waits and the socket is not
                // read. Timers still run meanwhile (KEEPALIVEs go out); each time one is due
                // the UPDATE in hand is shown to the session again, so that the hold timer is
                // re-armed (as BIRD does): our congestion is not the neighbor's silence.
                let permit = loop {
                    let sleep = sleep_until(self.session.poll_timeout());
                    tokio::select! {
                        permit = self.rib.clone().reserve_owned() => match permit {
                            Ok(permit) => break permit,
                            Err(_) => return,
                        },
                        () = sleep => {
                            self.input(Input::Message(id, &message));
                            let actions = self.session.handle_timeout(Instant::now());
                            self.apply(actions);
                            if !self.session.accepts_updates(id) {
                                return;
                            }
                        }
                    }
                };
                self.input(Input::Message(id, &message));
                if !self.session.accepts_updates(id) {
                    return;
                }
                let peer = self.id;
                match message {
                    Message::Update(mut update) => {
                        if let Some(local) = self.connection(id).and_then(|c| c.local) {
                            update.check_next_hop_not_local(local);
                        }
                        self.update(&update);
                        permit.send(RibEvent::Update { peer, update });
                    }
                    Message::RouteRefresh(refresh) => {
                        permit.send(RibEvent::RouteRefresh { peer, refresh });
                    }
                    _ => {}
                }
            }
            Err(error) => {
                warn!(peer = %self.settings.name, %error, "malformed message");
                self.input(Input::DecodeError(id, &error));
            }
        }
    }

    /// Counts an UPDATE's prefixes (for the metrics) and reports its RFC 7606 problems.
    fn update(&mut self, update: &Update) {
        if let Some(family) = update.end_of_rib_family() {
            info!(peer = %self.settings.name, afi_safi = %family, "End-of-RIB received");
        }
        for error in &update.errors {
            match self.update_errors.check(Instant::now()) {
                Verdict::Suppress => {}
                verdict => {
                    if let Verdict::LogAfterSuppressed(count) = verdict {
                        self.report_suppressed(count);
                    }
                    warn!(peer = %self.settings.name, error = %error, "UPDATE error handled per RFC 7606");
                }
            }
        }
        let announced = update.announced.len() + update.mp_reach.as_ref().map_or(0, |r| r.len());
        self.status
            .send_modify(|status| status.prefixes_received += announced as u64);
    }

    fn report_suppressed(&self, count: u64) {
        warn!(peer = %self.settings.name, suppressed = count, "repeated UPDATE errors suppressed");
    }

    /// Feeds the session and carries out what it returns.
    fn input(&mut self, input: Input<'_>) {
        let actions = self.session.handle(Instant::now(), input);
        self.apply(actions);
    }

    fn apply(&mut self, actions: Vec<Action>) {
        let mut queue: VecDeque<Action> = actions.into();
        while let Some(action) = queue.pop_front() {
            match action {
                Action::Connect => self.connect(),
                Action::AcceptIncoming => {
                    if let Some(stream) = self.pending_incoming.take() {
                        self.install(ConnectionId::Incoming, stream);
                    }
                }
                Action::RefuseIncoming(notification) => {
                    if let Some(stream) = self.pending_incoming.take() {
                        debug!(peer = %self.settings.name, %notification, "refusing incoming connection");
                        tokio::spawn(refuse(stream, Message::Notification(notification)));
                    }
                }
                Action::Send(id, message) => {
                    if self.send(id, &message) {
                        queue.extend(self.session.handle(Instant::now(), Input::MessageSent(id)));
                    }
                }
                Action::Close(id) => self.close(id),
                Action::Up(id, negotiated) => {
                    let mut link = None;
                    if let Some(connection) = self.slot(id).as_mut() {
                        connection.params = negotiated.params;
                        link = connection
                            .local
                            .map(|local| (local, connection.writer.clone()));
                    }
                    info!(
                        peer = %self.settings.name,
                        remote_as = %negotiated.peer_asn,
                        remote_id = %negotiated.peer_router_id,
                        hold_time = negotiated.hold_time,
                        keepalive = negotiated.keepalive.as_secs(),
                        families = ?negotiated.families.iter().map(|f| f.name()).collect::<Vec<_>>(),
                        four_octet_as = negotiated.params.four_octet_as,
                        "session established"
                    );
                    self.status.send_modify(|status| {
                        status.established_at = Some(SystemTime::now());
                        status.hold_time = Some(negotiated.hold_time);
                        status.keepalive = Some(negotiated.keepalive);
                        status.families = negotiated.families;
                        status.prefixes_received = 0;
                        status.established_transitions += 1;
                    });
                    self.restart_done(negotiated.families);
                    match link {
                        Some((local, writer)) => {
                            self.rib_outbox.push(RibEvent::PeerUp(Box::new(rib::PeerUp {
                                peer: self.id,
                                name: self.settings.name.clone(),
                                negotiated: *negotiated,
                                local,
                                config: self.settings.rib.clone(),
                                writer,
                                commands: self.own_commands.clone(),
                            })));
                        }
                        None => {
                            warn!(peer = %self.settings.name, "established connection without a local address: nothing is advertised");
                        }
                    }
                }
                Action::Down { reason, graceful } => {
                    if let Some(count) = self.update_errors.take_suppressed() {
                        self.report_suppressed(count);
                    }
                    info!(peer = %self.settings.name, %reason, graceful, "session down");
                    self.rib_outbox.push(RibEvent::PeerDown {
                        peer: self.id,
                        graceful,
                    });
                    self.status.send_modify(|status| {
                        status.established_at = None;
                        status.hold_time = None;
                        status.keepalive = None;
                        status.families = AfiSafiSet::EMPTY;
                    });
                }
                Action::StateChanged { from, to, reason } => {
                    info!(peer = %self.settings.name, from = %from, to = %to, %reason, "state change");
                    if is_error(from, &reason) {
                        self.note_error(reason.to_string());
                    }
                    self.status.send_modify(|status| status.state = to);
                }
            }
        }
    }

    /// RFC 4724 §3: the Restart State bit is for the OPEN after our restart only; from now on
    /// our forwarding state is the running FIB's, so later sessions say it was preserved.
    fn restart_done(&mut self, families: AfiSafiSet) {
        let Some(restart) = self.settings.session.graceful_restart.as_mut() else {
            return;
        };
        if restart.restarting || restart.forwarding_preserved != families {
            restart.restarting = false;
            restart.forwarding_preserved = families;
            self.session.set_config(self.settings.session.clone());
        }
    }

    fn note_error(&mut self, error: String) {
        self.status.send_modify(|status| {
            status.last_error = Some(error);
            status.last_error_at = Some(SystemTime::now()); // ops
        });
    }

    fn connect(&mut self) {
        if let Some((_, task)) = self.connect.take() {
            task.abort();
        }
        self.generation += 1;
        let generation = self.generation;
        let events = self.events_tx.clone();
        let address = self.settings.address;
        let transport = self.settings.transport.clone();
        let task = tokio::spawn(async move {
            let result = socket::connect(address, &transport).await;
            let _ = events.send(Event::Connected { generation, result }).await;
        });
        self.connect = Some((generation, task));
    }

    /// With TCP MD5 a key mismatch is silent (the kernel drops the segments); the kernel's
    /// failure counters (per network namespace) are the only witness, so a rise while this
    /// neighbor is not Established is reported.
    fn check_md5_failures(&mut self) {
        if self.settings.transport.md5_key.is_none() {
            return;
        }
        let Ok(now) = Md5Counters::read() else { return };
        if let Some(before) = self.md5_baseline.replace(now) {
            if now.total() > before.total() {
                warn!(
                    peer = %self.settings.name,
                    wrong_signature = now.failure - before.failure,
                    unexpected_signature = now.unexpected - before.unexpected,
                    missing_signature = now.not_found - before.not_found,
                    "TCP MD5 signature failures: the neighbor's key differs from ours, or it sends none"
                );
                self.note_error("TCP MD5 signature mismatch".to_owned());
            }
        }
    }

    fn install(&mut self, id: ConnectionId, stream: TcpStream) {
        self.generation += 1;
        let generation = self.generation;
        let local = stream
            .local_addr()
            .ok()
            .map(|a| crate::neighbor::canonical(a.ip()));
        let (read_half, write_half) = stream.into_split();
        let (writer, write_rx) = mpsc::channel(WRITE_QUEUE);
        let reader = tokio::spawn(read_loop(read_half, self.events_tx.clone(), id, generation));
        let writer_task = tokio::spawn(write_loop(
            write_half,
            write_rx,
            self.events_tx.clone(),
            id,
            generation,
        ));
        let params = SessionParams::plain(!self.settings.session.is_internal());
        if let Some(old) = self.slot(id).replace(Connection {
            generation,
            writer,
            reader,
            writer_task,
            params,
            local,
        }) {
            drop(close_connection(old));
        }
    }

    /// Encodes and queues a message; false when it could not be queued.
    fn send(&mut self, id: ConnectionId, message: &Message) -> bool {
        let name = self.settings.name.clone();
        let Some(connection) = self.connection(id) else {
            return false;
        };
        let mut buffer = BytesMut::new();
        if let Err(error) = message.encode(&connection.params, &mut buffer) {
            warn!(peer = %name, %error, "cannot encode message");
            return false;
        }
        match connection.writer.try_send(buffer.freeze()) {
            Ok(()) => {
                self.status
                    .send_modify(|status| status.sent.count(message.message_type()));
                true
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                // The writer has not drained 256 messages: the neighbor is not reading.
                self.input(Input::SendBlocked(id));
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    fn close(&mut self, id: ConnectionId) {
        if let Some(connection) = self.slot(id).take() {
            // ops (RFC 8538): kept, for `flush_and_exit` (finished ones are dropped).
            self.closing.retain(|flush| !flush.is_finished());
            self.closing.push(close_connection(connection));
        }
        if id == ConnectionId::Outgoing {
            if let Some((_, task)) = self.connect.take() {
                task.abort();
            }
        }
    }
}

/// Lets the writer flush what is queued (a NOTIFICATION), bounded in time, and stops reading;
/// the task that waits for it.
fn close_connection(connection: Connection) -> JoinHandle<()> {
    connection.reader.abort();
    drop(connection.writer);
    let writer_task = connection.writer_task;
    tokio::spawn(async move {
        let abort = writer_task.abort_handle();
        if tokio::time::timeout(CLOSE_FLUSH, writer_task)
            .await
            .is_err()
        {
            abort.abort();
        }
    })
}

/// Whether a state change reports an error worth showing as the neighbor's last error. A
/// failed connect attempt is recorded with the operating system's reason where it happens.
fn is_error(from: State, reason: &Reason) -> bool {
    match reason {
        Reason::HoldTimerExpired
        | Reason::SendHoldTimerExpired
        | Reason::ErrorSent(_)
        | Reason::NotificationReceived(_)
        | Reason::Stopped(StopReason::MaxPrefixes { .. }) => true,
        Reason::TcpFailed => from >= State::OpenSent,
        _ => false,
    }
}

/// Sends a NOTIFICATION on a connection the session refused, then closes it.
async fn refuse(mut stream: TcpStream, message: Message) {
    let mut buffer = BytesMut::new();
    if message
        .encode(&SessionParams::default(), &mut buffer)
        .is_ok()
    {
        let _ = tokio::time::timeout(CLOSE_FLUSH, stream.write_all(&buffer)).await;
    }
    let _ = tokio::time::timeout(CLOSE_FLUSH, stream.shutdown()).await;
}

async fn read_loop(
    mut half: OwnedReadHalf,
    events: mpsc::Sender<Event>,
    id: ConnectionId,
    generation: u64,
) {
    let mut buffer = BytesMut::with_capacity(MAX_EXTENDED_MESSAGE_LEN);
    let failure = loop {
        loop {
            match split_frame(&mut buffer, MAX_EXTENDED_MESSAGE_LEN) {
                Ok(Some(frame)) => {
                    // Waiting here when the peer task is behind is the backpressure.
                    if events
                        .send(Event::Frame {
                            id,
                            generation,
                            frame,
                        })
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    let _ = events
                        .send(Event::ReadFailed {
                            id,
                            generation,
                            failure: ReadFailure::Framing(error),
                        })
                        .await;
                    return;
                }
            }
        }
        if buffer.capacity() - buffer.len() < proto::params::MAX_MESSAGE_LEN {
            buffer.reserve(MAX_EXTENDED_MESSAGE_LEN);
        }
        match half.read_buf(&mut buffer).await {
            Ok(0) => break ReadFailure::Closed,
            Ok(_) => {}
            Err(error) => break ReadFailure::Io(error),
        }
    };
    let _ = events
        .send(Event::ReadFailed {
            id,
            generation,
            failure,
        })
        .await;
}

async fn write_loop(
    mut half: OwnedWriteHalf,
    mut queue: mpsc::Receiver<Bytes>,
    events: mpsc::Sender<Event>,
    id: ConnectionId,
    generation: u64,
) {
    while let Some(bytes) = queue.recv().await {
        let write = half.write_all(&bytes);
        tokio::pin!(write);
        let mut blocked = false;
        let result = loop {
            tokio::select! {
                result = &mut write => break result,
                () = tokio::time::sleep(WRITE_BLOCKED_AFTER), if !blocked => {
                    blocked = true;
                    let _ = events.send(Event::SendBlocked { id, generation }).await;
                }
            }
        };
        if result.is_err() {
            let _ = events.send(Event::WriteFailed { id, generation }).await;
            return;
        }
        if blocked {
            let _ = events.send(Event::SendProgress { id, generation }).await;
        }
    }
    // The session closed the connection: what was queued is written; end the stream.
    let _ = half.shutdown().await;
}

/// Sleeps until the session's next timer is due, or forever when none is running.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)).await,
        None => std::future::pending().await,
    }
}
