//! The state machine proper (RFC 4271 §8.2), with connection collision detection (§6.8).

use std::time::{Duration, Instant};

use super::backoff::ConnectRetryBackoff;
use super::negotiate::{self, Negotiated};
use super::{Action, ConnectionId, Input, Reason, SessionConfig, State, StopReason};
use crate::message::Message;
use crate::notification::{CeaseError, ErrorCode, FsmError, Notification};

/// RFC 4271 §8.2.2 (Connect and Active states): after sending OPEN, "set the HoldTimer to a
/// large value"; 4 minutes is the suggested value.
const OPEN_HOLD_TIME: Duration = Duration::from_secs(240);
/// RFC 9687 §4: the send hold time is at least 8 minutes (or twice the hold time, if larger).
const MIN_SEND_HOLD_TIME: Duration = Duration::from_secs(480);

/// One neighbor's session: up to two TCP connections and the timers that drive them.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    /// Started and not administratively stopped: the session restarts by itself after errors.
    enabled: bool,
    /// An outgoing connect is in flight (RFC 4271 Connect state).
    connecting: bool,
    outgoing: Option<Connection>,
    incoming: Option<Connection>,
    connect_retry_at: Option<Instant>,
    /// After an error the session rests in Idle until then (§8.1.1 IdleHoldTimer).
    idle_hold_until: Option<Instant>,
    /// The idle hold refuses incoming connections: not when the last connection merely
    /// failed or the peer refused ours (see [`Session::incoming_connected`]).
    idle_hold_refuses: bool,
    connect_backoff: ConnectRetryBackoff,
    idle_backoff: ConnectRetryBackoff,
    /// The state last reported by [`Action::StateChanged`].
    reported: State,
}

#[derive(Debug)]
struct Connection {
    phase: Phase,
    hold_deadline: Option<Instant>,
    keepalive_deadline: Option<Instant>,
    send_blocked_since: Option<Instant>,
}

#[derive(Debug)]
enum Phase {
    /// OPEN sent, waiting for the peer's.
    OpenSent,
    /// OPEN received and accepted; KEEPALIVE sent, waiting for the peer's.
    OpenConfirm(Box<Negotiated>),
    Established {
        negotiated: Box<Negotiated>,
        since: Instant,
    },
}

impl Phase {
    fn state(&self) -> State {
        match self {
            Phase::OpenSent => State::OpenSent,
            Phase::OpenConfirm(_) => State::OpenConfirm,
            Phase::Established { .. } => State::Established,
        }
    }
}

/// Collects the actions of one input and the reason for a state change.
struct Step {
    actions: Vec<Action>,
    reason: Option<Reason>,
}

impl Step {
    fn push(&mut self, action: Action) {
        self.actions.push(action);
    }

    fn because(&mut self, reason: Reason) {
        self.reason = Some(reason);
    }
}

impl Session {
    /// A session in Idle. `seed` drives the timer jitter (use a random value in production, a
    /// fixed one in tests).
    pub fn new(config: SessionConfig, seed: u64) -> Session {
        let connect_backoff =
            ConnectRetryBackoff::new(config.connect_retry, config.connect_retry_max, seed);
        let idle_backoff =
            ConnectRetryBackoff::new(config.idle_hold, config.idle_hold_max, seed.rotate_left(32));
        Session {
            config,
            enabled: false,
            connecting: false,
            outgoing: None,
            incoming: None,
            connect_retry_at: None,
            idle_hold_until: None,
            idle_hold_refuses: true,
            connect_backoff,
            idle_backoff,
            reported: State::Idle,
        }
    }

    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Replaces the configuration used for the next OPEN. The running connection keeps what it
    /// negotiated; the caller stops the session when a change needs a new one. A new idle hold
    /// range (`error_wait_time`) applies from the next error on, starting at its minimum.
    pub fn set_config(&mut self, config: SessionConfig) {
        if (config.idle_hold, config.idle_hold_max)
            != (self.config.idle_hold, self.config.idle_hold_max)
        {
            self.idle_backoff
                .set_bounds(config.idle_hold, config.idle_hold_max);
        }
        self.config = config;
    }

    /// The neighbor's state: the most advanced of its connections, else Connect while a
    /// connect is in flight, Active while waiting for one, Idle when stopped or resting.
    pub fn state(&self) -> State {
        let connected = [&self.outgoing, &self.incoming]
            .into_iter()
            .flatten()
            .map(|c| c.phase.state())
            .max();
        match connected {
            Some(state) => state,
            None if self.connecting => State::Connect,
            None if self.enabled && self.idle_hold_until.is_none() => State::Active,
            None => State::Idle,
        }
    }

    /// The connection the session is Established on, if any.
    pub fn established_connection(&self) -> Option<ConnectionId> {
        [ConnectionId::Outgoing, ConnectionId::Incoming]
            .into_iter()
            .find(|id| {
                matches!(
                    self.connection(*id).map(|c| &c.phase),
                    Some(Phase::Established { .. })
                )
            })
    }

    /// What the Established session negotiated.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        [&self.outgoing, &self.incoming]
            .into_iter()
            .flatten()
            .find_map(|c| match &c.phase {
                Phase::Established { negotiated, .. } => Some(&**negotiated),
                _ => None,
            })
    }

    /// When the session became Established.
    pub fn established_since(&self) -> Option<Instant> {
        [&self.outgoing, &self.incoming]
            .into_iter()
            .flatten()
            .find_map(|c| match c.phase {
                Phase::Established { since, .. } => Some(since),
                _ => None,
            })
    }

    /// Whether an UPDATE received on `id` is to be processed (the session is Established on it).
    pub fn accepts_updates(&self, id: ConnectionId) -> bool {
        self.established_connection() == Some(id)
    }

    /// Feeds one event; returns what the driver must do, in order.
    pub fn handle(&mut self, now: Instant, input: Input<'_>) -> Vec<Action> {
        let mut step = Step {
            actions: Vec::new(),
            reason: None,
        };
        match input {
            Input::Start => self.start(now, &mut step),
            Input::Stop(reason) => self.stop(now, reason, &mut step),
            Input::TcpConnected(ConnectionId::Outgoing) => self.outgoing_connected(now, &mut step),
            Input::TcpConnected(ConnectionId::Incoming) => self.incoming_connected(now, &mut step),
            Input::TcpFailed(id) => self.tcp_failed(now, id, &mut step),
            Input::Message(id, message) => self.message(now, id, message, &mut step),
            Input::DecodeError(id, error) => {
                if self.connection(id).is_some() {
                    self.fail_connection(now, id, error.notification(), &mut step);
                }
            }
            Input::MessageSent(id) => {
                if let Some(connection) = self.connection_mut(id) {
                    if let Some(interval) = keepalive_interval(&connection.phase) {
                        connection.keepalive_deadline = Some(now + interval);
                    }
                }
            }
            Input::SendBlocked(id) => {
                if let Some(connection) = self.connection_mut(id) {
                    connection.send_blocked_since.get_or_insert(now);
                }
            }
            Input::SendProgress(id) => {
                if let Some(connection) = self.connection_mut(id) {
                    connection.send_blocked_since = None;
                }
            }
        }
        self.finish(step)
    }

    /// The earliest deadline at which [`Session::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let connection_deadlines = [ConnectionId::Outgoing, ConnectionId::Incoming]
            .into_iter()
            .filter_map(|id| self.connection(id).map(|c| (id, c)))
            .flat_map(|(_, c)| {
                [
                    c.hold_deadline,
                    c.keepalive_deadline,
                    self.send_hold_deadline(c),
                ]
            });
        [self.connect_retry_at, self.idle_hold_until]
            .into_iter()
            .chain(connection_deadlines)
            .flatten()
            .min()
    }

    /// Fires every timer due at `now` (RFC 4271 §8.1.3 events 9–13, RFC 9687).
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Action> {
        let mut step = Step {
            actions: Vec::new(),
            reason: None,
        };
        if self.idle_hold_until.is_some_and(|t| t <= now) {
            self.idle_hold_until = None;
            step.because(Reason::IdleHoldExpired);
            self.begin_attempt(now, &mut step);
        }
        if self.connect_retry_at.is_some_and(|t| t <= now) {
            self.connect_retry_at = None;
            self.connect_retry_expired(now, &mut step);
        }
        for id in [ConnectionId::Outgoing, ConnectionId::Incoming] {
            let Some(connection) = self.connection(id) else {
                continue;
            };
            if self
                .send_hold_deadline(connection)
                .is_some_and(|t| t <= now)
            {
                // RFC 9687 §4: the peer has not taken data for the send hold time.
                step.because(Reason::SendHoldTimerExpired);
                self.fail_connection(
                    now,
                    id,
                    Notification::new(ErrorCode::SendHoldTimerExpired),
                    &mut step,
                );
                continue;
            }
            if connection.hold_deadline.is_some_and(|t| t <= now) {
                step.because(Reason::HoldTimerExpired);
                self.fail_connection(
                    now,
                    id,
                    Notification::new(ErrorCode::HoldTimerExpired),
                    &mut step,
                );
                continue;
            }
            if connection.keepalive_deadline.is_some_and(|t| t <= now) {
                let interval = keepalive_interval(&connection.phase);
                if let Some(connection) = self.connection_mut(id) {
                    connection.keepalive_deadline = interval.map(|i| now + i);
                }
                step.push(Action::Send(id, Message::Keepalive));
            }
        }
        self.finish(step)
    }

    fn finish(&mut self, mut step: Step) -> Vec<Action> {
        let state = self.state();
        if state != self.reported {
            // Every path that changes the state records why; `Started` is the only change
            // without another cause (Idle → Connect/Active on start).
            let reason = step.reason.take().unwrap_or(Reason::Started);
            step.push(Action::StateChanged {
                from: self.reported,
                to: state,
                reason,
            });
            self.reported = state;
        }
        step.actions
    }

    fn connection(&self, id: ConnectionId) -> Option<&Connection> {
        match id {
            ConnectionId::Outgoing => self.outgoing.as_ref(),
            ConnectionId::Incoming => self.incoming.as_ref(),
        }
    }

    fn connection_mut(&mut self, id: ConnectionId) -> Option<&mut Connection> {
        match id {
            ConnectionId::Outgoing => self.outgoing.as_mut(),
            ConnectionId::Incoming => self.incoming.as_mut(),
        }
    }

    fn slot(&mut self, id: ConnectionId) -> &mut Option<Connection> {
        match id {
            ConnectionId::Outgoing => &mut self.outgoing,
            ConnectionId::Incoming => &mut self.incoming,
        }
    }

    fn send_hold_deadline(&self, connection: &Connection) -> Option<Instant> {
        let since = connection.send_blocked_since?;
        let hold = match &connection.phase {
            Phase::OpenConfirm(n) | Phase::Established { negotiated: n, .. } => {
                Duration::from_secs(n.hold_time.into())
            }
            Phase::OpenSent => OPEN_HOLD_TIME,
        };
        let limit = self
            .config
            .send_hold_time
            .unwrap_or_else(|| MIN_SEND_HOLD_TIME.max(hold * 2));
        Some(since + limit)
    }

    // ManualStart / AutomaticStart (§8.2.2, Idle state).
    fn start(&mut self, now: Instant, step: &mut Step) {
        if self.enabled {
            return;
        }
        self.enabled = true;
        self.idle_hold_until = None;
        step.because(Reason::Started);
        self.begin_attempt(now, step);
    }

    /// Leaves Idle: connect (Connect state) or, for a passive neighbor, wait (Active state).
    fn begin_attempt(&mut self, now: Instant, step: &mut Step) {
        if !self.enabled || self.config.passive || self.connecting || self.outgoing.is_some() {
            return;
        }
        self.connecting = true;
        self.connect_retry_at = Some(now + self.connect_backoff.next_interval());
        step.push(Action::Connect);
    }

    // ConnectRetryTimer_Expires (event 9): try again unless a connection already got through.
    fn connect_retry_expired(&mut self, now: Instant, step: &mut Step) {
        let progressed = [&self.outgoing, &self.incoming]
            .into_iter()
            .flatten()
            .any(|c| matches!(c.phase, Phase::OpenConfirm(_) | Phase::Established { .. }));
        if !self.enabled || self.config.passive || self.outgoing.is_some() {
            return;
        }
        if self.connecting {
            // The previous attempt hangs: abandon it before the next one. Also when another
            // connection got through: with this timer gone, nothing would ever end the attempt,
            // and while it is pending a lost connection does not restart the session.
            step.push(Action::Close(ConnectionId::Outgoing));
            self.connecting = false;
        }
        if progressed {
            return;
        }
        step.because(Reason::ConnectRetryExpired);
        self.begin_attempt(now, step);
    }

    // ManualStop / AutomaticStop (events 2, 8).
    fn stop(&mut self, now: Instant, reason: StopReason, step: &mut Step) {
        for id in [ConnectionId::Outgoing, ConnectionId::Incoming] {
            if let Some(connection) = self.connection(id) {
                let notification = reason.notification_for(notification_negotiated(connection));
                self.close_connection(now, id, notification, Reason::Stopped(reason.clone()), step);
            }
        }
        if self.connecting {
            self.connecting = false;
            step.push(Action::Close(ConnectionId::Outgoing));
        }
        self.connect_retry_at = None;
        step.because(Reason::Stopped(reason.clone()));
        if reason.restarts() && self.enabled {
            self.idle_hold_until = Some(now + self.config.idle_hold);
        } else {
            self.enabled = false;
            self.idle_hold_until = None;
        }
    }

    // Tcp_CR_Acked (event 16).
    fn outgoing_connected(&mut self, now: Instant, step: &mut Step) {
        if !self.connecting {
            // Abandoned or stopped meanwhile.
            step.push(Action::Close(ConnectionId::Outgoing));
            return;
        }
        self.connecting = false;
        if self.established_connection().is_some() {
            // RFC 4271 §6.8: a collision with an Established session closes the new connection.
            step.push(Action::Close(ConnectionId::Outgoing));
            return;
        }
        self.connect_retry_at = None;
        step.because(Reason::TcpConnected);
        self.open_connection(now, ConnectionId::Outgoing, step);
    }

    // TcpConnectionConfirmed (event 17). The driver holds the accepted socket aside until
    // [`Action::AcceptIncoming`] or [`Action::RefuseIncoming`] says what to do with it.
    fn incoming_connected(&mut self, now: Instant, step: &mut Step) {
        let refusal = if !self.enabled || (self.idle_hold_until.is_some() && self.idle_hold_refuses)
        {
            // Idle refuses all incoming connections (RFC 4271 §8.2.2, Idle state), except
            // after a connection that simply failed (a peer restarting, RFC 4724 §4.2, comes
            // straight back) or that the peer refused while in its own idle hold: refusing
            // then would leave both sides refusing each other in turn.
            Some(CeaseError::ConnectionRejected)
        } else if self.established_connection().is_some() {
            // RFC 4271 §6.8: a collision with an Established session closes the new connection.
            Some(CeaseError::ConnectionCollisionResolution)
        } else {
            None
        };
        if let Some(subcode) = refusal {
            step.push(Action::RefuseIncoming(Notification::new(ErrorCode::Cease(
                subcode,
            ))));
            return;
        }
        // A new connection from the peer replaces an unfinished one: the peer gave up on it.
        if self.incoming.is_some() {
            let notification =
                Notification::new(ErrorCode::Cease(CeaseError::ConnectionCollisionResolution));
            self.close_connection(
                now,
                ConnectionId::Incoming,
                Some(notification),
                Reason::CollisionLost,
                step,
            );
        }
        step.push(Action::AcceptIncoming);
        step.because(Reason::TcpConnected);
        self.open_connection(now, ConnectionId::Incoming, step);
    }

    fn open_connection(&mut self, now: Instant, id: ConnectionId, step: &mut Step) {
        *self.slot(id) = Some(Connection {
            phase: Phase::OpenSent,
            hold_deadline: Some(now + OPEN_HOLD_TIME),
            keepalive_deadline: None,
            send_blocked_since: None,
        });
        step.push(Action::Send(
            id,
            Message::Open(negotiate::local_open(&self.config)),
        ));
    }

    // TcpConnectionFails (event 18).
    fn tcp_failed(&mut self, now: Instant, id: ConnectionId, step: &mut Step) {
        if id == ConnectionId::Outgoing && self.connecting {
            // Connect → Active; the ConnectRetry timer brings the next attempt.
            self.connecting = false;
            step.because(Reason::TcpFailed);
            return;
        }
        if self.connection(id).is_none() {
            return;
        }
        step.because(Reason::TcpFailed);
        self.close_connection(now, id, None, Reason::TcpFailed, step);
        self.after_connection_loss(now);
    }

    fn message(&mut self, now: Instant, id: ConnectionId, message: &Message, step: &mut Step) {
        let Some(connection) = self.connection_mut(id) else {
            return;
        };
        // Any message restarts the hold timer once a hold time is negotiated (RFC 4271 §4.4).
        if let Phase::OpenConfirm(n) | Phase::Established { negotiated: n, .. } = &connection.phase
        {
            connection.hold_deadline =
                (n.hold_time > 0).then(|| now + Duration::from_secs(n.hold_time.into()));
        }
        match (message, &connection.phase) {
            (Message::Notification(notification), _) => {
                // RFC 4271 §8.2.2: NotifMsg in any state closes the connection, no reply.
                let reason = Reason::NotificationReceived(notification.clone());
                step.because(reason.clone());
                self.close_connection(now, id, None, reason, step);
                self.after_connection_loss(now);
            }
            (Message::Open(open), Phase::OpenSent) => {
                match negotiate::negotiate(&self.config, open) {
                    Ok(negotiated) => self.open_received(now, id, negotiated, step),
                    Err(notification) => self.fail_connection(now, id, notification, step),
                }
            }
            (Message::Keepalive, Phase::OpenConfirm(_)) => {
                self.keepalive_in_open_confirm(now, id, step)
            }
            (
                Message::Keepalive | Message::Update(_) | Message::RouteRefresh(_),
                Phase::Established { .. },
            ) => {}
            (_, phase) => {
                // RFC 6608: an unexpected message in this state is a Finite State Machine Error.
                let subcode = match phase {
                    Phase::OpenSent => FsmError::UnexpectedMessageInOpenSent,
                    Phase::OpenConfirm(_) => FsmError::UnexpectedMessageInOpenConfirm,
                    Phase::Established { .. } => FsmError::UnexpectedMessageInEstablished,
                };
                let notification = Notification::new(ErrorCode::FiniteStateMachine(subcode));
                self.fail_connection(now, id, notification, step);
            }
        }
    }

    // BGPOpen (event 19) in OpenSent, after the OPEN was accepted by negotiation.
    fn open_received(
        &mut self,
        now: Instant,
        id: ConnectionId,
        negotiated: Negotiated,
        step: &mut Step,
    ) {
        let other = other(id);
        // RFC 4271 §6.8 collision detection against the other connection: Established always
        // wins; in OpenConfirm the BGP Identifiers decide. In OpenSent too, since this OPEN
        // tells us the peer's identifier ("MAY also examine connections in an OpenSent
        // state"): deciding now keeps us from reaching Established on the connection the
        // peer is about to close, which would cost both of them.
        let loser = match self.connection(other).map(|c| &c.phase) {
            Some(Phase::Established { .. }) => Some(id),
            Some(Phase::OpenConfirm(_) | Phase::OpenSent) => {
                Some(self.collision_loser(&negotiated))
            }
            None => None,
        };
        if let Some(loser) = loser {
            let notification =
                Notification::new(ErrorCode::Cease(CeaseError::ConnectionCollisionResolution));
            self.close_connection(now, loser, Some(notification), Reason::CollisionLost, step);
            step.because(Reason::CollisionLost);
            if loser == id {
                return;
            }
        }
        let hold = Duration::from_secs(negotiated.hold_time.into());
        let keepalive = negotiated.keepalive;
        if let Some(connection) = self.connection_mut(id) {
            connection.hold_deadline = (!hold.is_zero()).then(|| now + hold);
            connection.keepalive_deadline = (!keepalive.is_zero()).then(|| now + keepalive);
            connection.phase = Phase::OpenConfirm(Box::new(negotiated));
        }
        step.because(Reason::OpenReceived);
        step.push(Action::Send(id, Message::Keepalive));
    }

    /// RFC 4271 §6.8: the connection initiated by the speaker with the lower BGP Identifier is
    /// closed; RFC 6286 §2.3: on equal identifiers, the one with the lower AS number.
    fn collision_loser(&self, remote: &Negotiated) -> ConnectionId {
        let local = (self.config.local_router_id.to_u32(), self.config.local_asn);
        let peer = (remote.peer_router_id.to_u32(), remote.peer_asn);
        if local < peer {
            ConnectionId::Outgoing
        } else {
            ConnectionId::Incoming
        }
    }

    // KeepAliveMsg (event 26) in OpenConfirm: the session is Established.
    fn keepalive_in_open_confirm(&mut self, now: Instant, id: ConnectionId, step: &mut Step) {
        let Some(connection) = self.connection_mut(id) else {
            return;
        };
        let Phase::OpenConfirm(negotiated) =
            std::mem::replace(&mut connection.phase, Phase::OpenSent)
        else {
            return;
        };
        connection.phase = Phase::Established {
            negotiated: negotiated.clone(),
            since: now,
        };
        // The other connection, if any, loses (RFC 4271 §6.8: only one session per peer).
        let other = other(id);
        if self.connection(other).is_some() {
            let notification =
                Notification::new(ErrorCode::Cease(CeaseError::ConnectionCollisionResolution));
            self.close_connection(now, other, Some(notification), Reason::CollisionLost, step);
        }
        if self.connecting {
            self.connecting = false;
            step.push(Action::Close(ConnectionId::Outgoing));
        }
        self.connect_retry_at = None;
        self.connect_backoff.reset();
        step.because(Reason::KeepaliveReceived);
        step.push(Action::Up(id, negotiated));
    }

    /// Sends `notification`, closes the connection and schedules a restart.
    fn fail_connection(
        &mut self,
        now: Instant,
        id: ConnectionId,
        notification: Notification,
        step: &mut Step,
    ) {
        let reason = step
            .reason
            .clone()
            .filter(|r| matches!(r, Reason::HoldTimerExpired | Reason::SendHoldTimerExpired));
        let reason = reason.unwrap_or(Reason::ErrorSent(notification.code));
        step.because(reason.clone());
        self.close_connection(now, id, Some(notification), reason, step);
        self.after_connection_loss(now);
    }

    /// Removes a connection (sending `notification` first when given); reports Down when it was
    /// the Established one.
    fn close_connection(
        &mut self,
        now: Instant,
        id: ConnectionId,
        notification: Option<Notification>,
        reason: Reason,
        step: &mut Step,
    ) {
        let Some(connection) = self.slot(id).take() else {
            return;
        };
        let refused_by_peer = matches!(
            &reason,
            Reason::NotificationReceived(n)
                if n.code == ErrorCode::Cease(CeaseError::ConnectionRejected)
        );
        let graceful =
            reason.is_graceful(notification.as_ref(), notification_negotiated(&connection));
        // A neighbor that ended gracefully (restarting) may come straight back.
        self.idle_hold_refuses = !(graceful || refused_by_peer);
        if let Some(notification) = notification {
            step.push(Action::Send(id, Message::Notification(notification)));
        }
        step.push(Action::Close(id));
        if let Phase::Established { since, .. } = connection.phase {
            // Flapping sessions back off; one that stayed up for the longest idle hold time
            // starts afresh.
            if now.saturating_duration_since(since) >= self.config.idle_hold_max {
                self.idle_backoff.reset();
            }
            step.push(Action::Down { reason, graceful });
        }
    }

    /// After a connection is gone: when nothing else is under way, rest in Idle for the idle
    /// hold time before starting again (RFC 4271 §8.1.1 DampPeerOscillations).
    fn after_connection_loss(&mut self, now: Instant) {
        if self.outgoing.is_some() || self.incoming.is_some() || self.connecting {
            return;
        }
        self.connect_retry_at = None;
        if self.enabled {
            // The operator's error_wait_time: its minimum first, doubling, never below it.
            self.idle_hold_until = Some(now + self.idle_backoff.next_interval_at_least_initial());
        }
    }
}

fn other(id: ConnectionId) -> ConnectionId {
    match id {
        ConnectionId::Outgoing => ConnectionId::Incoming,
        ConnectionId::Incoming => ConnectionId::Outgoing,
    }
}

/// Whether the connection negotiated the RFC 8538 N bit (both sides set it); unknown, so no,
/// before the peer's OPEN.
fn notification_negotiated(connection: &Connection) -> bool {
    match &connection.phase {
        Phase::OpenConfirm(n) | Phase::Established { negotiated: n, .. } => n
            .graceful_restart
            .as_ref()
            .is_some_and(|restart| restart.notification),
        Phase::OpenSent => false,
    }
}

fn keepalive_interval(phase: &Phase) -> Option<Duration> {
    match phase {
        Phase::OpenConfirm(n) | Phase::Established { negotiated: n, .. } => {
            (!n.keepalive.is_zero()).then_some(n.keepalive)
        }
        Phase::OpenSent => None,
    }
}
