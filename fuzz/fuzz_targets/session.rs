//! The session state machine (`proto::session::Session`) under arbitrary sequences of events,
//! timer expiries and received bytes. Besides "no panic" it checks, after every step:
//!
//! - state changes are reported as a chain: each `StateChanged` starts where the previous one
//!   ended, changes something, and the last one ends at `Session::state()`;
//! - `Up(id)` only after we sent our OPEN on that connection and the peer's OPEN and then a
//!   KEEPALIVE arrived on it (RFC 4271 §8.2.2), never twice without a `Down` between; the
//!   session reports Established exactly while it is up, on that connection;
//! - timers are sane: after `handle_timeout(now)` nothing is still due at `now`; no deadline lies
//!   beyond the longest timer the configuration allows; an enabled, non-passive session that is
//!   not connected (Idle, Connect, Active) always has a timer that will get it going again, and
//!   an Established one with a hold time has its hold and keepalive timers.
//!
//! The script plays a driver that keeps the contract of `Action::Connect`: an outgoing
//! connection is reported up only for a connect the session asked for and has not abandoned.
//!
//! Input layout (`Script`): a few octets choose the local configuration and the peer, then each
//! operation is an opcode octet and its arguments. The script ends when the input does.
#![no_main]

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use proto::message::Message;
use proto::notification::{CeaseError, ErrorCode, Notification};
use proto::session::{
    negotiate, Action, AddPathConfig, ConnectionId, Input, Session, SessionConfig, State,
    StopReason,
};
use proto::{Asn, RouterId, SessionParams};

// Only its family bits are used here; the selector of session parameters is not.
#[allow(dead_code)]
#[path = "common.rs"]
mod common;

/// Bounds the work per input (each operation is a few microseconds).
const MAX_OPERATIONS: usize = 512;
/// The hold times offered by either side: none, the RFC 4271 §4.2 minimum, typical ones, the
/// largest.
const HOLD_TIMES: [u16; 6] = [0, 3, 9, 90, 180, u16::MAX];
/// Local and peer router ids: the peer's is below, equal to or above ours (§6.8 collisions).
const LOCAL_ROUTER_ID: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const PEER_ROUTER_IDS: [Ipv4Addr; 3] = [
    Ipv4Addr::new(192, 0, 2, 1),
    LOCAL_ROUTER_ID,
    Ipv4Addr::new(192, 0, 2, 20),
];
const LOCAL_ASN: Asn = Asn(64512);
/// The peer is internal or external; a wrong AS in its OPEN is one of the choices too.
const PEER_ASNS: [Asn; 2] = [Asn(64512), Asn(65001)];
const WRONG_ASN: Asn = Asn(65099);
/// The most a timer can lie ahead: RFC 9687's send hold time for the largest hold time
/// (2 × 65535 s), with room for the ConnectRetry and idle hold ceilings (`SessionConfig::new`).
const LONGEST_TIMER: Duration = Duration::from_secs(2 * u16::MAX as u64 + 600);

/// Reads the fuzz input octet by octet; past the end every read is `None`.
struct Script<'a> {
    data: &'a [u8],
}

impl Script<'_> {
    fn octet(&mut self) -> Option<u8> {
        let (&first, rest) = self.data.split_first()?;
        self.data = rest;
        Some(first)
    }

    fn bytes(&mut self, len: usize) -> Option<&[u8]> {
        let len = len.min(self.data.len());
        let (taken, rest) = self.data.split_at(len);
        self.data = rest;
        Some(taken)
    }

    fn pick<T: Copy>(&mut self, choices: &[T]) -> Option<T> {
        let octet = self.octet()?;
        choices.get(usize::from(octet) % choices.len()).copied()
    }

    fn connection(&mut self) -> Option<ConnectionId> {
        self.pick(&[ConnectionId::Outgoing, ConnectionId::Incoming])
    }
}

fn add_path(bits: u8) -> AddPathConfig {
    match bits & 3 {
        0 => AddPathConfig::None,
        1 => AddPathConfig::Receive,
        2 => AddPathConfig::Send,
        _ => AddPathConfig::Both,
    }
}

/// A session configuration from two octets: families, ADD-PATH, passive, options, hold time.
fn session_config(script: &mut Script, local_asn: Asn, peer_asn: Asn) -> Option<SessionConfig> {
    let flags = script.octet()?;
    let mut config = SessionConfig::new(
        local_asn,
        RouterId(LOCAL_ROUTER_ID),
        peer_asn,
        common::families(flags),
    );
    config.add_path = add_path(flags >> 2);
    config.passive = flags & 0x10 != 0;
    config.extended_message = flags & 0x20 != 0;
    config.extended_next_hop = flags & 0x40 != 0;
    config.hold_time = script.pick(&HOLD_TIMES)?;
    config.send_hold_time = (flags & 0x80 != 0).then_some(Duration::from_secs(30));
    Some(config)
}

/// What the session was told and did on each connection, to judge `Up`.
#[derive(Default, Clone, Copy)]
struct Connection {
    /// The session sent its OPEN (so the connection exists).
    open_sent: bool,
    /// The peer's OPEN was fed on it after that.
    open_received: bool,
    /// A KEEPALIVE was fed on it after the peer's OPEN.
    keepalive_received: bool,
}

struct Model {
    connections: [Connection; 2],
    /// The session asked for a connect (`Action::Connect`) whose outcome is not reported yet.
    /// A driver reports `TcpConnected(Outgoing)` only then (its connection generations drop
    /// the completion of a connect the session abandoned), so the script does too.
    connect_pending: bool,
    up: Option<ConnectionId>,
    reported: State,
    /// Started and not stopped for good.
    enabled: bool,
    passive: bool,
}

fn slot(id: ConnectionId) -> usize {
    match id {
        ConnectionId::Outgoing => 0,
        ConnectionId::Incoming => 1,
    }
}

impl Model {
    fn connection(&mut self, id: ConnectionId) -> &mut Connection {
        &mut self.connections[slot(id)]
    }

    /// Notes what is about to be fed (before `handle`).
    fn feeding(&mut self, input: &Input) {
        match input {
            Input::Start => self.enabled = true,
            Input::TcpConnected(ConnectionId::Outgoing)
            | Input::TcpFailed(ConnectionId::Outgoing) => {
                self.connect_pending = false;
            }
            Input::Stop(reason) if !reason.restarts() => self.enabled = false,
            Input::Message(id, Message::Open(_)) => {
                let connection = self.connection(*id);
                if connection.open_sent {
                    connection.open_received = true;
                }
            }
            Input::Message(id, Message::Keepalive) => {
                let connection = self.connection(*id);
                if connection.open_received {
                    connection.keepalive_received = true;
                }
            }
            _ => {}
        }
    }

    /// Checks what `handle` or `handle_timeout` returned and what the session says now.
    fn check(&mut self, session: &Session, now: Instant, actions: &[Action]) {
        for action in actions {
            match action {
                Action::Send(id, Message::Open(_)) => {
                    *self.connection(*id) = Connection {
                        open_sent: true,
                        ..Connection::default()
                    };
                }
                Action::Connect => self.connect_pending = true,
                Action::Close(id) => {
                    *self.connection(*id) = Connection::default();
                    if *id == ConnectionId::Outgoing {
                        self.connect_pending = false;
                    }
                }
                Action::Up(id, negotiated) => {
                    let connection = self.connections[slot(*id)];
                    assert!(
                        connection.open_sent
                            && connection.open_received
                            && connection.keepalive_received,
                        "Up on {id:?} without the OPEN exchange: {actions:?}"
                    );
                    assert_eq!(self.up, None, "Up twice without Down: {actions:?}");
                    assert!(
                        negotiated.hold_time == 0 || negotiated.hold_time >= 3,
                        "negotiated hold time {} (RFC 4271 §4.2: 0 or at least 3)",
                        negotiated.hold_time
                    );
                    self.up = Some(*id);
                }
                Action::Down { .. } => {
                    assert!(self.up.is_some(), "Down while not up: {actions:?}");
                    self.up = None;
                }
                Action::StateChanged { from, to, .. } => {
                    assert_eq!(*from, self.reported, "state chain broken: {actions:?}");
                    assert_ne!(from, to, "state change to itself: {actions:?}");
                    self.reported = *to;
                }
                _ => {}
            }
        }
        let state = session.state();
        assert!(
            [
                "Idle",
                "Connect",
                "Active",
                "OpenSent",
                "OpenConfirm",
                "Established"
            ]
            .contains(&state.name()),
            "unknown state name {}",
            state.name()
        );
        assert_eq!(state, self.reported, "state not reported: {actions:?}");
        assert_eq!(
            state == State::Established,
            self.up.is_some(),
            "Established without Up or the reverse"
        );
        assert_eq!(session.established_connection(), self.up);
        for id in [ConnectionId::Outgoing, ConnectionId::Incoming] {
            assert_eq!(session.accepts_updates(id), self.up == Some(id));
        }
        self.check_timers(session, now, state);
    }

    fn check_timers(&self, session: &Session, now: Instant, state: State) {
        let next = session.poll_timeout();
        if let Some(next) = next {
            assert!(
                next.saturating_duration_since(now) <= LONGEST_TIMER,
                "a timer {:?} ahead",
                next - now
            );
        }
        if self.enabled && !self.passive && state <= State::Active {
            assert!(next.is_some(), "{state} with no timer to leave it");
        }
        if let Some(negotiated) = session.negotiated() {
            if negotiated.hold_time > 0 {
                assert!(next.is_some(), "Established without hold timer");
            }
        }
    }
}

/// A STOP with one of the Cease reasons, or our own graceful restart.
fn stop_reason(octet: u8) -> StopReason {
    match octet % 7 {
        0 => StopReason::AdministrativeShutdown("maintenance".to_owned()),
        1 => StopReason::AdministrativeReset("reset".to_owned()),
        2 => StopReason::Deconfigured,
        3 => StopReason::ConfigurationChanged,
        4 => StopReason::MaxPrefixes {
            notification_data: Bytes::from_static(&[0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x0a]),
        },
        5 => StopReason::OutOfResources,
        _ => StopReason::Restart("restarting".to_owned()),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut script = Script { data };
    let Some(peer_asn) = script.pick(&PEER_ASNS) else {
        return;
    };
    let Some(local) = session_config(&mut script, LOCAL_ASN, peer_asn) else {
        return;
    };
    let Some(seed) = script.octet() else { return };
    let passive = local.passive;
    let mut session = Session::new(local, u64::from(seed));
    let mut model = Model {
        connections: [Connection::default(); 2],
        connect_pending: false,
        up: None,
        reported: State::Idle,
        enabled: false,
        passive,
    };
    // Virtual time: starts at an arbitrary instant and only moves forward.
    let mut now = Instant::now();
    for _ in 0..MAX_OPERATIONS {
        let Some(opcode) = script.octet() else { return };
        // Messages live for one step; an OPEN is built from the peer's configuration.
        let message;
        let error;
        let input = match opcode % 14 {
            0 => Input::Start,
            1 => {
                let Some(octet) = script.octet() else { return };
                Input::Stop(stop_reason(octet))
            }
            2 => {
                let Some(id) = script.connection() else {
                    return;
                };
                if id == ConnectionId::Outgoing && !model.connect_pending {
                    continue;
                }
                Input::TcpConnected(id)
            }
            3 => {
                let Some(id) = script.connection() else {
                    return;
                };
                Input::TcpFailed(id)
            }
            4 => {
                // The peer's OPEN: its AS right or wrong, its identifier, its options.
                let Some(id) = script.connection() else {
                    return;
                };
                let Some(asn) = script.pick(&[peer_asn, WRONG_ASN]) else {
                    return;
                };
                let Some(router_id) = script.pick(&PEER_ROUTER_IDS) else {
                    return;
                };
                let Some(mut remote) = session_config(&mut script, asn, LOCAL_ASN) else {
                    return;
                };
                remote.local_router_id = RouterId(router_id);
                message = Message::Open(negotiate::local_open(&remote));
                Input::Message(id, &message)
            }
            5 => {
                let Some(id) = script.connection() else {
                    return;
                };
                message = Message::Keepalive;
                Input::Message(id, &message)
            }
            6 => {
                let Some(id) = script.connection() else {
                    return;
                };
                message = Message::Notification(Notification::new(ErrorCode::Cease(
                    CeaseError::AdministrativeReset,
                )));
                Input::Message(id, &message)
            }
            7 => {
                // Raw octets as a whole message (header included), decoded with the
                // parameters in force, as the daemon's reader does.
                let Some(id) = script.connection() else {
                    return;
                };
                let Some(len) = script.octet() else { return };
                let Some(frame) = script.bytes(usize::from(len)) else {
                    return;
                };
                let params = session
                    .negotiated()
                    .map_or_else(SessionParams::default, |n| n.params);
                match Message::decode(&Bytes::copy_from_slice(frame), &params) {
                    Ok(decoded) => {
                        message = decoded;
                        Input::Message(id, &message)
                    }
                    Err(e) => {
                        error = e;
                        Input::DecodeError(id, &error)
                    }
                }
            }
            8 => {
                let Some(id) = script.connection() else {
                    return;
                };
                Input::MessageSent(id)
            }
            9 => {
                let Some(id) = script.connection() else {
                    return;
                };
                Input::SendBlocked(id)
            }
            10 => {
                let Some(id) = script.connection() else {
                    return;
                };
                Input::SendProgress(id)
            }
            11 => {
                // A little time passes (up to 25.5 s), then the timers due fire.
                let Some(tenths) = script.octet() else { return };
                now += Duration::from_millis(100 * u64::from(tenths));
                timeout(&mut session, &mut model, now);
                continue;
            }
            12 => {
                // The driver wakes at the next deadline.
                if let Some(next) = session.poll_timeout() {
                    now = now.max(next);
                }
                timeout(&mut session, &mut model, now);
                continue;
            }
            _ => {
                // A long silence: several hold times pass at once.
                now += Duration::from_secs(u64::from(u16::MAX));
                timeout(&mut session, &mut model, now);
                continue;
            }
        };
        model.feeding(&input);
        let actions = session.handle(now, input);
        model.check(&session, now, &actions);
    }
});

/// Fires the timers due at `now`; none may be left due afterwards.
fn timeout(session: &mut Session, model: &mut Model, now: Instant) {
    let actions = session.handle_timeout(now);
    model.check(session, now, &actions);
    if let Some(next) = session.poll_timeout() {
        assert!(
            next > now,
            "a timer still due after handle_timeout: {actions:?}"
        );
    }
}
