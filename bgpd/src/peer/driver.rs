//! The peer task's decisions, without I/O: a [`PeerDriver`] owns the neighbor's
//! `proto::session::Session`, its connection slots and their generations, the events for the
//! RIB task in order, the backpressure state and the neighbor's [`PeerStatus`]. It is fed
//! inputs with `now` (the task's reads, connects, writer reports, commands and timers) and
//! returns [`Effect`]s for the task to carry out, so it is tested as data in virtual time.
//!
//! - Generations: every connect attempt and connection gets a new one; inputs of an older
//!   one are dropped. The Established connection's generation is the epoch of its `PeerUp`
//!   and `PeerDown` and of its writer's pulls (`crate::transmit`).
//! - Order: `PeerUp`, the session's UPDATEs and ROUTE-REFRESHes and `PeerDown` leave through
//!   one outbox, in order. Frames are taken only while it is empty (RFC 4271 §9 leaves flow
//!   control to TCP: a full RIB queue stops the reader, then the socket).
//! - Backpressure is not silence: the UPDATE in hand while the RIB queue is full counts as
//!   received (RFC 4271 §4.4 hold timer) whenever a timer is due and when the RIB takes it,
//!   so our own congestion never expires the hold timer; KEEPALIVEs keep going out.
//! - RFC 4486 §4 leaves restarting after Maximum Number of Prefixes Reached to the operator:
//!   with `max_prefixes_restart` the session starts again after that delay.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use proto::header::MessageType;
use proto::message::Message;
use proto::route_refresh::{RouteRefresh, RouteRefreshSubtype};
use proto::session::{Action, ConnectionId, Input, Negotiated, Reason, Session, State, StopReason};
use proto::update::Update;
use proto::{AfiSafiSet, SessionParams};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::reader::ReadFailure;
use super::status::{ConnectFailure, PeerError, PeerStatus};
use super::writer::WriterEvent;
use super::PeerCommand;
use crate::neighbor::NeighborSettings;
use crate::ratelimit::{LogLimiter, Verdict};
use crate::rib::{self, RibEvent};
use crate::socket::Md5Counters;

/// What the task must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Start a connect attempt, abandoning one in flight; report it with
    /// [`PeerDriver::connected`].
    Connect { attempt: u64 },
    /// Abandon the connect attempt in flight.
    AbortConnect,
    /// The socket in hand (just connected or accepted) becomes connection `id`: start its
    /// reader and writer, closing the connection it replaces.
    Install { id: ConnectionId, generation: u64 },
    /// Write this NOTIFICATION on the accepted socket in hand, then close it.
    Refuse(Bytes),
    /// Queue a session message on the connection's writer; report a full writer with
    /// [`PeerDriver::writer_full`].
    Send {
        id: ConnectionId,
        message_type: MessageType,
        bytes: Bytes,
    },
    /// The session is Established on the connection and its `PeerUp` is in the outbox: its
    /// writer starts pulling UPDATEs.
    StartUpdates(ConnectionId),
    /// Close the connection: its writer sends what is queued (a NOTIFICATION last), then
    /// shuts down.
    Close(ConnectionId),
}

/// A connection as the driver knows it.
#[derive(Debug, Clone, Copy)]
struct Link {
    generation: u64,
    /// Decoding parameters: plain until the session is Established on this connection.
    params: SessionParams,
    /// Our end of the connection (the next hop we advertise as our own).
    local: Option<IpAddr>,
}

/// The peer task's state and decisions.
pub struct PeerDriver {
    peer: rr::PeerId,
    settings: NeighborSettings,
    session: Session,
    /// The task's own command queue, for the RIB to stop the session (weak, so that the task
    /// still ends when the daemon drops its handle).
    commands: mpsc::WeakSender<PeerCommand>,
    outgoing: Option<Link>,
    incoming: Option<Link>,
    /// An accepted socket the task holds while the session decides on it, with its local
    /// address.
    incoming_held: Option<Option<IpAddr>>,
    /// The connect attempt in flight.
    attempt: Option<u64>,
    generation: u64,
    /// The epoch of the session announced to the RIB (its `PeerUp` is queued or sent).
    announced: Option<u64>,
    /// Events for the RIB, in order. Holds at most one UPDATE or ROUTE-REFRESH (frames are
    /// taken only while it is empty) besides the session changes since.
    outbox: VecDeque<RibEvent>,
    /// The connection whose UPDATE or ROUTE-REFRESH waits in the outbox.
    held: Option<ConnectionId>,
    status: PeerStatus,
    /// MD5 failure counters at the previous sample (neighbors with a key).
    md5_baseline: Option<Md5Counters>,
    /// Bounds the log lines of recoverable UPDATE errors (a flood of them is one summary).
    update_errors: LogLimiter,
    /// The delayed start after a `max_prefixes` stop.
    restart_at: Option<Instant>,
    effects: VecDeque<Effect>,
}

impl PeerDriver {
    pub fn new(
        peer: rr::PeerId,
        settings: NeighborSettings,
        seed: u64,
        commands: mpsc::WeakSender<PeerCommand>,
    ) -> PeerDriver {
        PeerDriver {
            peer,
            session: Session::new(settings.session.clone(), seed),
            settings,
            commands,
            outgoing: None,
            incoming: None,
            incoming_held: None,
            attempt: None,
            generation: 0,
            announced: None,
            outbox: VecDeque::new(),
            held: None,
            status: PeerStatus::default(),
            md5_baseline: None,
            update_errors: LogLimiter::default(),
            restart_at: None,
            effects: VecDeque::new(),
        }
    }

    /// The next thing to do.
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    pub fn status(&self) -> &PeerStatus {
        &self.status
    }

    pub fn settings(&self) -> &NeighborSettings {
        &self.settings
    }

    /// When [`PeerDriver::handle_timeout`] is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.session.poll_timeout(), self.restart_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether the task may take the next frame: nothing waits for the RIB.
    pub fn accepts_frames(&self) -> bool {
        self.outbox.is_empty()
    }

    pub fn has_rib_events(&self) -> bool {
        !self.outbox.is_empty()
    }

    /// The next event for the RIB, once its queue has room.
    pub fn take_rib_event(&mut self, now: Instant) -> Option<RibEvent> {
        let event = self.outbox.pop_front()?;
        if matches!(
            event,
            RibEvent::Update { .. } | RibEvent::RouteRefresh { .. }
        ) {
            if let Some(id) = self.held.take() {
                self.rearm(now, id);
            }
        }
        Some(event)
    }

    /// Whether the task should sample the kernel's TCP MD5 failure counters.
    pub fn wants_md5_sample(&self) -> bool {
        self.settings.transport.md5_key.is_some() && self.session.state() != State::Established
    }

    /// ManualStart, at the task's start and on `Enable`.
    pub fn start(&mut self, now: Instant) {
        self.restart_at = None;
        self.input(now, Input::Start);
    }

    /// ManualStop; a `max_prefixes` stop starts again after `max_prefixes_restart`, if set.
    pub fn stop(&mut self, now: Instant, reason: StopReason) {
        self.restart_at = None;
        let max_prefixes = matches!(reason, StopReason::MaxPrefixes { .. });
        self.input(now, Input::Stop(reason));
        if max_prefixes {
            match self.settings.max_prefixes_restart {
                Some(delay) => {
                    info!(peer = %self.settings.name, delay_s = delay.as_secs(), "stopped for max_prefixes: restart scheduled");
                    self.restart_at = Some(now + delay);
                }
                None => {
                    info!(peer = %self.settings.name, "stopped for max_prefixes: stays down until enabled")
                }
            }
        }
    }

    /// The task ends: stop, nothing scheduled.
    pub fn shutdown(&mut self, now: Instant, reason: StopReason) {
        self.restart_at = None;
        self.input(now, Input::Stop(reason));
    }

    /// New settings, used from the next session on.
    pub fn reconfigure(&mut self, settings: NeighborSettings) {
        self.session.set_config(settings.session.clone());
        self.settings = settings;
    }

    /// Sends a ROUTE-REFRESH per negotiated family when the neighbor supports it (RFC 2918).
    pub fn soft_reset(&mut self, now: Instant) {
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
                self.input(now, Input::MessageSent(id));
            }
        }
        info!(peer = %self.settings.name, "route refresh requested");
    }

    /// Our listener accepted a connection from the neighbor (the task holds the socket until
    /// the effects say what becomes of it).
    pub fn incoming(&mut self, now: Instant, local: Option<IpAddr>) {
        self.incoming_held = Some(local);
        self.input(now, Input::TcpConnected(ConnectionId::Incoming));
        // Whatever the session decided, the socket held aside is not kept waiting.
        self.incoming_held = None;
    }

    /// A connect attempt finished; a stale attempt's socket is dropped (no effect installs it).
    pub fn connected(
        &mut self,
        now: Instant,
        attempt: u64,
        result: Result<Option<IpAddr>, ConnectFailure>,
    ) {
        if self.attempt != Some(attempt) {
            return;
        }
        self.attempt = None;
        match result {
            Ok(local) => {
                self.install(ConnectionId::Outgoing, local);
                self.input(now, Input::TcpConnected(ConnectionId::Outgoing));
            }
            Err(failure) => {
                debug!(peer = %self.settings.name, error = %failure, "connect failed");
                self.note_error(now, PeerError::Connect(failure));
                self.input(now, Input::TcpFailed(ConnectionId::Outgoing));
            }
        }
    }

    /// A frame read on a connection.
    pub fn frame(&mut self, now: Instant, id: ConnectionId, generation: u64, frame: &Bytes) {
        let Some(link) = self.current(id, generation) else {
            return;
        };
        // Decoding enforces the negotiated maximum length (RFC 8654 §4).
        let message = match Message::decode(frame, &link.params) {
            Ok(message) => message,
            Err(error) => {
                warn!(peer = %self.settings.name, %error, "malformed message");
                self.input(now, Input::DecodeError(id, &error));
                return;
            }
        };
        self.status.received.count(message.message_type());
        self.input(now, Input::Message(id, &message));
        let for_rib = matches!(message, Message::Update(_) | Message::RouteRefresh(_))
            && self.session.accepts_updates(id)
            && self.announced.is_some();
        if !for_rib {
            return;
        }
        let peer = self.peer;
        match message {
            Message::Update(mut update) => {
                if let Some(local) = link.local {
                    update.check_next_hop_not_local(local);
                }
                self.update(now, &update);
                self.outbox.push_back(RibEvent::Update { peer, update });
            }
            Message::RouteRefresh(refresh) => {
                self.outbox
                    .push_back(RibEvent::RouteRefresh { peer, refresh });
            }
            _ => return,
        }
        self.held = Some(id);
    }

    /// A connection's reader ended.
    pub fn read_failed(
        &mut self,
        now: Instant,
        id: ConnectionId,
        generation: u64,
        failure: ReadFailure,
    ) {
        if self.current(id, generation).is_none() {
            return;
        }
        match failure {
            ReadFailure::Closed => self.input(now, Input::TcpFailed(id)),
            ReadFailure::Io(error) => {
                debug!(peer = %self.settings.name, %error, "read failed");
                self.input(now, Input::TcpFailed(id));
            }
            ReadFailure::Framing(error) => {
                warn!(peer = %self.settings.name, %error, "malformed message header");
                self.input(now, Input::DecodeError(id, &error));
            }
        }
    }

    /// A connection's writer reported.
    pub fn writer_event(
        &mut self,
        now: Instant,
        id: ConnectionId,
        generation: u64,
        event: WriterEvent,
    ) {
        if self.current(id, generation).is_none() {
            return;
        }
        self.input(
            now,
            match event {
                WriterEvent::Blocked => Input::SendBlocked(id),
                WriterEvent::Progress => Input::SendProgress(id),
                WriterEvent::Failed => Input::TcpFailed(id),
            },
        );
    }

    /// The connection's writer did not take a session message: the neighbor is not reading.
    pub fn writer_full(&mut self, now: Instant, id: ConnectionId) {
        if self.connection(id).is_some() {
            self.input(now, Input::SendBlocked(id));
        }
    }

    /// With TCP MD5 a key mismatch is silent (the kernel drops the segments); the kernel's
    /// failure counters (per network namespace) are the only witness, so a rise while this
    /// neighbor is not Established is reported.
    pub fn md5_sample(&mut self, at: Instant, now: Md5Counters) {
        if let Some(before) = self.md5_baseline.replace(now) {
            if now.total() > before.total() {
                warn!(
                    peer = %self.settings.name,
                    wrong_signature = now.failure - before.failure,
                    unexpected_signature = now.unexpected - before.unexpected,
                    missing_signature = now.not_found - before.not_found,
                    "TCP MD5 signature failures: the neighbor's key differs from ours, or it sends none"
                );
                self.note_error(at, PeerError::Md5SignatureMismatch);
            }
        }
    }

    /// Runs the timers that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.restart_at.is_some_and(|at| at <= now) {
            self.restart_at = None;
            info!(peer = %self.settings.name, "restart after the max_prefixes stop");
            self.input(now, Input::Start);
        }
        if let Some(id) = self.held {
            self.rearm(now, id);
        }
        let actions = self.session.handle_timeout(now);
        self.apply(now, actions);
    }

    /// The UPDATE in hand counts as received: the hold timer restarts as for any message
    /// (RFC 4271 §4.4), which in Established is all a KEEPALIVE does.
    fn rearm(&mut self, now: Instant, id: ConnectionId) {
        if self.session.accepts_updates(id) {
            self.input(now, Input::Message(id, &Message::Keepalive));
        }
    }

    /// Counts an UPDATE's prefixes (for the metrics) and reports its RFC 7606 problems.
    fn update(&mut self, now: Instant, update: &Update) {
        if let Some(family) = update.end_of_rib_family() {
            info!(peer = %self.settings.name, afi_safi = %family, "End-of-RIB received");
        }
        for error in &update.errors {
            match self.update_errors.check(now) {
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
        self.status.prefixes_received += announced as u64;
    }

    fn report_suppressed(&self, count: u64) {
        warn!(peer = %self.settings.name, suppressed = count, "repeated UPDATE errors suppressed");
    }

    fn input(&mut self, now: Instant, input: Input<'_>) {
        let actions = self.session.handle(now, input);
        self.apply(now, actions);
    }

    fn apply(&mut self, now: Instant, actions: Vec<Action>) {
        let mut queue: VecDeque<Action> = actions.into();
        while let Some(action) = queue.pop_front() {
            match action {
                Action::Connect => {
                    self.generation += 1;
                    self.attempt = Some(self.generation);
                    self.effects.push_back(Effect::Connect {
                        attempt: self.generation,
                    });
                }
                Action::AcceptIncoming => {
                    if let Some(local) = self.incoming_held.take() {
                        self.install(ConnectionId::Incoming, local);
                    }
                }
                Action::RefuseIncoming(notification) => {
                    if self.incoming_held.take().is_some() {
                        debug!(peer = %self.settings.name, %notification, "refusing incoming connection");
                        let mut bytes = BytesMut::new();
                        if Message::Notification(notification)
                            .encode(&SessionParams::default(), &mut bytes)
                            .is_ok()
                        {
                            self.effects.push_back(Effect::Refuse(bytes.freeze()));
                        }
                    }
                }
                Action::Send(id, message) => {
                    if self.send(id, &message) {
                        queue.extend(self.session.handle(now, Input::MessageSent(id)));
                    }
                }
                Action::Close(id) => self.close(id),
                Action::Up(id, negotiated) => self.up(now, id, *negotiated),
                Action::Down { reason, graceful } => self.down(&reason, graceful),
                Action::StateChanged { from, to, reason } => {
                    info!(peer = %self.settings.name, from = %from, to = %to, %reason, "state change");
                    if let Some(error) = PeerError::from_state_change(from, &reason) {
                        self.note_error(now, error);
                    }
                    self.status.state = to;
                }
            }
        }
    }

    fn up(&mut self, now: Instant, id: ConnectionId, negotiated: Negotiated) {
        let Some(link) = self.slot(id).as_mut() else {
            return;
        };
        link.params = negotiated.params;
        let (epoch, local) = (link.generation, link.local);
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
        let status = &mut self.status;
        status.established_at = Some(now);
        status.hold_time = Some(negotiated.hold_time);
        status.keepalive = Some(negotiated.keepalive);
        status.families = negotiated.families;
        status.prefixes_received = 0;
        status.established_transitions += 1;
        self.restart_done(negotiated.families);
        let Some(local) = local else {
            warn!(peer = %self.settings.name, "established connection without a local address: nothing is exchanged with the RIB");
            return;
        };
        self.outbox
            .push_back(RibEvent::PeerUp(Box::new(rib::PeerUp {
                peer: self.peer,
                name: self.settings.name.clone(),
                negotiated,
                local,
                epoch,
                commands: self.commands.clone(),
            })));
        self.announced = Some(epoch);
        self.effects.push_back(Effect::StartUpdates(id));
    }

    fn note_error(&mut self, now: Instant, error: PeerError) {
        self.status.last_error = Some(error);
        self.status.last_error_at = Some(now);
    }

    /// `graceful`: the session ended as graceful restart allows (a connection failure, or with
    /// the RFC 8538 N bit a NOTIFICATION other than Hard Reset).
    fn down(&mut self, reason: &Reason, graceful: bool) {
        if let Some(count) = self.update_errors.take_suppressed() {
            self.report_suppressed(count);
        }
        info!(peer = %self.settings.name, %reason, graceful, "session down");
        if let Some(epoch) = self.announced.take() {
            self.outbox.push_back(RibEvent::PeerDown {
                peer: self.peer,
                graceful,
                epoch,
            });
        }
        let status = &mut self.status;
        status.established_at = None;
        status.hold_time = None;
        status.keepalive = None;
        status.families = AfiSafiSet::EMPTY;
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

    fn install(&mut self, id: ConnectionId, local: Option<IpAddr>) {
        self.generation += 1;
        let generation = self.generation;
        *self.slot(id) = Some(Link {
            generation,
            params: SessionParams::plain(!self.settings.session.is_internal()),
            local,
        });
        self.effects.push_back(Effect::Install { id, generation });
    }

    /// Encodes and queues a message; false when it cannot be encoded.
    fn send(&mut self, id: ConnectionId, message: &Message) -> bool {
        let Some(link) = self.connection(id) else {
            return false;
        };
        let mut bytes = BytesMut::new();
        if let Err(error) = message.encode(&link.params, &mut bytes) {
            warn!(peer = %self.settings.name, %error, "cannot encode message");
            return false;
        }
        let message_type = message.message_type();
        self.status.sent.count(message_type);
        self.effects.push_back(Effect::Send {
            id,
            message_type,
            bytes: bytes.freeze(),
        });
        true
    }

    fn close(&mut self, id: ConnectionId) {
        if self.slot(id).take().is_some() {
            self.effects.push_back(Effect::Close(id));
        }
        if id == ConnectionId::Outgoing && self.attempt.take().is_some() {
            self.effects.push_back(Effect::AbortConnect);
        }
    }

    /// The connection `id` if `generation` is its own.
    fn current(&self, id: ConnectionId, generation: u64) -> Option<Link> {
        self.connection(id)
            .filter(|link| link.generation == generation)
            .copied()
    }

    fn connection(&self, id: ConnectionId) -> Option<&Link> {
        match id {
            ConnectionId::Outgoing => self.outgoing.as_ref(),
            ConnectionId::Incoming => self.incoming.as_ref(),
        }
    }

    fn slot(&mut self, id: ConnectionId) -> &mut Option<Link> {
        match id {
            ConnectionId::Outgoing => &mut self.outgoing,
            ConnectionId::Incoming => &mut self.incoming,
        }
    }
}
