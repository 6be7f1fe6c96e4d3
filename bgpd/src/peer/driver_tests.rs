//! The peer driver in virtual time, against a real `proto::session::Session` as the neighbor:
//! what the driver sends is decoded and handed to the neighbor's session, what the neighbor's
//! session sends is encoded and fed to the driver as frames. No sockets, no clock, no root.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use proto::header::MessageType;
use proto::message::Message;
use proto::session::{Action, ConnectionId, Input, Session, SessionConfig, State, StopReason};
use proto::update::Update;
use proto::{Asn, RouterId, SessionParams};
use tokio::sync::mpsc;

use super::driver::{Effect, PeerDriver};
use super::reader::ReadFailure;
use super::status::{ConnectFailure, PeerError};
use super::writer::WriterEvent;
use crate::neighbor::NeighborSettings;
use crate::rib::RibEvent;

const HOLD: Duration = Duration::from_secs(9);
const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

/// Our neighbor's settings: `extra` lines go into its `[[neighbor]]` table.
fn settings(extra: &str) -> NeighborSettings {
    let text = format!(
        "[global]\nasn = 64512\nrouter_id = \"192.0.2.1\"\n\n\
         [[neighbor]]\naddress = \"192.0.2.2\"\nasn = 64513\nhold_time = 9\n{extra}\n"
    );
    let config = config::Config::from_toml(&text, "test.toml", Path::new("/"))
        .unwrap_or_else(|errors| panic!("{errors:?}"));
    NeighborSettings::new(
        &config.global,
        RouterId(Ipv4Addr::new(192, 0, 2, 1)),
        &config.neighbors[0],
    )
    .expect("settings")
}

/// The driver and its neighbor over one simulated connection.
struct Pair {
    driver: PeerDriver,
    neighbor: Session,
    now: Instant,
    /// The connection the driver installed and its generation.
    link: Option<(ConnectionId, u64)>,
    /// The connect attempt the driver asked for.
    attempt: Option<u64>,
    /// Whether bytes flow both ways; cut, each side sees nothing of the other (a stuck TCP
    /// connection).
    flowing: bool,
    /// Messages the driver queued on the connection, by type, in order.
    sent: Vec<MessageType>,
    /// Every effect other than `Send`, in order.
    effects: Vec<Effect>,
    /// Frames for the driver, in order.
    frames: VecDeque<Bytes>,
    /// The neighbor's encoding parameters once it is Established.
    neighbor_params: SessionParams,
    /// Keeps the weak command sender the driver holds upgradable.
    _commands: mpsc::Sender<super::PeerCommand>,
}

impl Pair {
    fn new(extra: &str) -> Pair {
        let settings = settings(extra);
        let mut neighbor = SessionConfig::new(
            Asn(64513),
            RouterId(Ipv4Addr::new(192, 0, 2, 2)),
            Asn(64512),
            settings.session.families,
        );
        neighbor.passive = true;
        neighbor.hold_time = HOLD.as_secs() as u16;
        let (commands, _) = mpsc::channel(1);
        Pair {
            driver: PeerDriver::new(rr::PeerId(1), settings, 7, commands.downgrade()),
            neighbor: Session::new(neighbor, 11),
            now: Instant::now(),
            link: None,
            attempt: None,
            flowing: true,
            sent: Vec::new(),
            effects: Vec::new(),
            frames: VecDeque::new(),
            neighbor_params: SessionParams::plain(true),
            _commands: commands,
        }
    }

    /// A pair whose session is Established, with the RIB's events taken.
    fn established(extra: &str) -> Pair {
        let mut pair = Pair::new(extra);
        pair.driver.start(pair.now);
        pair.neighbor.handle(pair.now, Input::Start);
        pair.pump();
        let attempt = pair.attempt.expect("a connect attempt");
        pair.driver.connected(pair.now, attempt, Ok(Some(LOCAL)));
        let actions = pair
            .neighbor
            .handle(pair.now, Input::TcpConnected(ConnectionId::Incoming));
        pair.neighbor_actions(actions);
        pair.pump();
        assert_eq!(pair.driver.status().state, State::Established);
        pair
    }

    /// Carries out the driver's effects and the neighbor's actions until both are quiet.
    fn pump(&mut self) {
        loop {
            if let Some(effect) = self.driver.poll_effect() {
                self.effect(effect);
                continue;
            }
            if !self.driver.accepts_frames() {
                return;
            }
            let Some(frame) = self.frames.pop_front() else {
                return;
            };
            if let Some((id, generation)) = self.link {
                self.driver.frame(self.now, id, generation, &frame);
            }
        }
    }

    fn effect(&mut self, effect: Effect) {
        match effect {
            Effect::Send {
                message_type,
                bytes,
                ..
            } => {
                self.sent.push(message_type);
                if !self.flowing {
                    return;
                }
                let message =
                    Message::decode(&bytes, &self.neighbor_params).expect("the driver's message");
                let actions = self
                    .neighbor
                    .handle(self.now, Input::Message(ConnectionId::Incoming, &message));
                self.neighbor_actions(actions);
            }
            effect => {
                match &effect {
                    Effect::Connect { attempt } => self.attempt = Some(*attempt),
                    Effect::Install { id, generation } => self.link = Some((*id, *generation)),
                    Effect::Close(id) if self.link.is_some_and(|(l, _)| l == *id) => {
                        self.link = None;
                    }
                    _ => {}
                }
                self.effects.push(effect);
            }
        }
    }

    fn neighbor_actions(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Send(_, message) => {
                    let mut out = BytesMut::new();
                    message
                        .encode(&self.neighbor_params, &mut out)
                        .expect("the neighbor's message");
                    if self.flowing {
                        self.frames.push_back(out.freeze());
                    }
                }
                Action::Up(_, negotiated) => self.neighbor_params = negotiated.params,
                _ => {}
            }
        }
    }

    /// The neighbor sends an UPDATE (an IPv4 End-of-RIB: any UPDATE will do).
    fn neighbor_sends_update(&mut self) {
        let mut out = BytesMut::new();
        Message::Update(Update::default())
            .encode(&self.neighbor_params, &mut out)
            .expect("an empty UPDATE");
        self.frames.push_back(out.freeze());
        self.pump();
    }

    /// Lets `span` of virtual time pass, running both sides' timers as they fall due.
    fn advance(&mut self, span: Duration) {
        let until = self.now + span;
        loop {
            let neighbor_due = self.neighbor.poll_timeout().filter(|_| self.flowing);
            let due = [self.driver.poll_timeout(), neighbor_due]
                .into_iter()
                .flatten()
                .min();
            match due {
                Some(at) if at <= until => {
                    self.now = self.now.max(at);
                    if self.driver.poll_timeout().is_some_and(|d| d <= self.now) {
                        self.driver.handle_timeout(self.now);
                    }
                    if neighbor_due.is_some_and(|d| d <= self.now) {
                        let actions = self.neighbor.handle_timeout(self.now);
                        self.neighbor_actions(actions);
                    }
                    self.pump();
                }
                _ => break,
            }
        }
        self.now = until;
    }

    /// Everything the driver has for the RIB, taken as a RIB with room would.
    fn take_rib(&mut self) -> Vec<RibEvent> {
        let events: Vec<RibEvent> =
            std::iter::from_fn(|| self.driver.take_rib_event(self.now)).collect();
        self.pump();
        events
    }

    fn count(&self, message_type: MessageType) -> usize {
        self.sent.iter().filter(|t| **t == message_type).count()
    }
}

/// What an event is, for comparing orders.
fn kind(event: &RibEvent) -> String {
    match event {
        RibEvent::PeerUp(up) => format!("up {}", up.epoch),
        RibEvent::PeerDown { epoch, .. } => format!("down {epoch}"),
        RibEvent::Update { .. } => "update".to_owned(),
        RibEvent::RouteRefresh { .. } => "refresh".to_owned(),
        _ => "other".to_owned(),
    }
}

#[test]
fn peer_up_comes_before_the_first_update_and_peer_down_after_the_last() {
    let mut pair = Pair::established("");
    let (id, generation) = pair.link.expect("a connection");
    assert!(
        pair.effects.contains(&Effect::StartUpdates(id)),
        "{:?}",
        pair.effects
    );
    // The RIB is full: PeerUp waits, and frames wait behind it.
    pair.neighbor_sends_update();
    pair.neighbor_sends_update();
    assert!(!pair.driver.accepts_frames());
    let first: Vec<String> = pair.take_rib().iter().map(kind).collect();
    let second: Vec<String> = pair.take_rib().iter().map(kind).collect();
    pair.driver
        .read_failed(pair.now, id, generation, ReadFailure::Closed);
    let last: Vec<String> = pair.take_rib().iter().map(kind).collect();
    let epoch = generation.to_string();
    assert_eq!(
        [first, second, last].concat(),
        [
            format!("up {epoch}"),
            "update".to_owned(),
            "update".to_owned(),
            format!("down {epoch}"),
        ]
    );
    assert_eq!(pair.driver.status().state, State::Idle);
}

#[test]
fn a_stop_while_an_update_waits_for_the_rib_keeps_the_order() {
    let mut pair = Pair::established("");
    pair.take_rib();
    let (_, generation) = pair.link.expect("a connection");
    pair.neighbor_sends_update();
    let reason = StopReason::AdministrativeShutdown(String::new());
    pair.driver.stop(pair.now, reason);
    pair.pump();
    let events: Vec<String> = pair.take_rib().iter().map(kind).collect();
    assert_eq!(events, ["update".to_owned(), format!("down {generation}")]);
}

/// RFC 4271 §4.4 under our own congestion: while the RIB does not take the UPDATE in hand,
/// the neighbor's messages are not read, yet the hold timer does not expire and our
/// KEEPALIVEs keep going out. Once the RIB takes it, the neighbor's silence counts again.
#[test]
fn backpressure_rearms_the_hold_timer_while_keepalives_go_out() {
    let mut pair = Pair::established("");
    pair.take_rib();
    let (_, generation) = pair.link.expect("a connection");
    pair.neighbor_sends_update();
    // The RIB is full, and the connection carries nothing more (its bytes wait in TCP).
    pair.flowing = false;
    let keepalives = pair.count(MessageType::Keepalive);
    pair.advance(HOLD * 10);
    assert_eq!(pair.driver.status().state, State::Established);
    assert_eq!(pair.driver.status().last_error, None);
    assert!(!pair.driver.accepts_frames(), "frames wait for the RIB");
    let sent = pair.count(MessageType::Keepalive) - keepalives;
    assert!(sent >= 29, "a KEEPALIVE every 3 s for 90 s: {sent}");
    assert_eq!(pair.count(MessageType::Notification), 0);
    // The RIB takes it: from now on the neighbor's silence expires the hold timer.
    let events: Vec<String> = pair.take_rib().iter().map(kind).collect();
    assert_eq!(events, ["update"]);
    pair.advance(HOLD - Duration::from_millis(1));
    assert_eq!(pair.driver.status().state, State::Established);
    pair.advance(Duration::from_millis(2));
    assert_eq!(
        pair.driver.status().last_error,
        Some(PeerError::HoldTimerExpired)
    );
    assert_eq!(pair.count(MessageType::Notification), 1);
    let events: Vec<String> = pair.take_rib().iter().map(kind).collect();
    assert_eq!(events, [format!("down {generation}")]);
}

/// RFC 9687: a writer blocked for the send hold time (by default max(8 min, 2 × hold time))
/// ends the session; progress before that stops the timer.
#[test]
fn send_hold_timer_ends_a_session_whose_neighbor_stops_reading() {
    const SEND_HOLD: Duration = Duration::from_secs(480);
    let mut pair = Pair::established("");
    pair.take_rib();
    let (id, generation) = pair.link.expect("a connection");
    pair.driver
        .writer_event(pair.now, id, generation, WriterEvent::Blocked);
    pair.advance(SEND_HOLD / 2);
    pair.driver
        .writer_event(pair.now, id, generation, WriterEvent::Progress);
    pair.advance(SEND_HOLD);
    assert_eq!(pair.driver.status().state, State::Established);
    // Blocked again, and the neighbor still sends KEEPALIVEs: that is not reading ours.
    pair.driver
        .writer_event(pair.now, id, generation, WriterEvent::Blocked);
    pair.advance(SEND_HOLD - Duration::from_secs(1));
    assert_eq!(pair.driver.status().state, State::Established);
    pair.advance(Duration::from_secs(2));
    assert_eq!(
        pair.driver.status().last_error,
        Some(PeerError::SendHoldTimerExpired)
    );
    assert!(pair.effects.contains(&Effect::Close(id)));
}

/// A writer that cannot take a session message counts as blocked too.
#[test]
fn a_full_writer_starts_the_send_hold_timer() {
    let mut pair = Pair::established("");
    pair.take_rib();
    let (id, _) = pair.link.expect("a connection");
    pair.driver.writer_full(pair.now, id);
    pair.advance(Duration::from_secs(481));
    assert_eq!(
        pair.driver.status().last_error,
        Some(PeerError::SendHoldTimerExpired)
    );
}

#[test]
fn nothing_is_sent_after_a_notification() {
    let mut pair = Pair::established("");
    let (id, _) = pair.link.expect("a connection");
    let before = pair.sent.len();
    let effects_before = pair.effects.len();
    pair.driver.stop(
        pair.now,
        StopReason::AdministrativeShutdown("maintenance".to_owned()),
    );
    pair.pump();
    pair.advance(HOLD * 3);
    pair.driver.soft_reset(pair.now);
    pair.pump();
    assert_eq!(pair.sent[before..], [MessageType::Notification]);
    assert_eq!(pair.effects[effects_before..], [Effect::Close(id)]);
}

#[test]
fn a_stale_connections_events_are_dropped() {
    let mut pair = Pair::established("");
    pair.take_rib();
    let (id, generation) = pair.link.expect("a connection");
    let stale = generation - 1;
    let received = pair.driver.status().received;
    let mut keepalive = BytesMut::new();
    Message::Keepalive
        .encode(&SessionParams::default(), &mut keepalive)
        .expect("a KEEPALIVE");
    pair.driver.frame(pair.now, id, stale, &keepalive.freeze());
    pair.driver
        .writer_event(pair.now, id, stale, WriterEvent::Failed);
    pair.driver
        .read_failed(pair.now, id, stale, ReadFailure::Closed);
    // The other slot has no connection at all.
    pair.driver.read_failed(
        pair.now,
        ConnectionId::Incoming,
        generation,
        ReadFailure::Closed,
    );
    // A connect attempt that is not the one in flight.
    pair.driver.connected(pair.now, stale, Ok(Some(LOCAL)));
    assert_eq!(pair.driver.poll_effect(), None);
    assert_eq!(pair.driver.status().state, State::Established);
    assert_eq!(pair.driver.status().received, received);
    assert!(pair.take_rib().is_empty());
}

#[test]
fn a_failed_connect_is_the_last_error_with_the_systems_reason() {
    let mut pair = Pair::new("");
    pair.driver.start(pair.now);
    pair.pump();
    let attempt = pair.attempt.expect("a connect attempt");
    let refused = std::io::Error::from_raw_os_error(libc::ECONNREFUSED);
    pair.driver
        .connected(pair.now, attempt, Err(ConnectFailure::from(&refused)));
    pair.pump();
    assert_eq!(
        pair.driver
            .status()
            .last_error
            .as_ref()
            .map(ToString::to_string),
        Some(format!("connect: {refused}"))
    );
    assert_ne!(pair.driver.status().state, State::Established);
}

fn max_prefixes() -> StopReason {
    StopReason::MaxPrefixes {
        notification_data: Bytes::from_static(&[0, 1, 1, 0, 0, 0, 10]),
    }
}

fn connects(pair: &Pair) -> usize {
    pair.effects
        .iter()
        .filter(|e| matches!(e, Effect::Connect { .. }))
        .count()
}

#[test]
fn a_max_prefixes_stop_restarts_after_max_prefixes_restart() {
    let mut pair = Pair::established("max_prefixes_restart = 30");
    pair.driver.stop(pair.now, max_prefixes());
    pair.pump();
    assert!(matches!(
        pair.driver.status().last_error,
        Some(PeerError::MaxPrefixes(_))
    ));
    assert_eq!(pair.driver.status().state, State::Idle);
    let before = connects(&pair);
    pair.advance(Duration::from_secs(29));
    assert_eq!(connects(&pair), before, "still down after 29 s");
    pair.advance(Duration::from_secs(2));
    assert_eq!(connects(&pair), before + 1, "started again at 30 s");
}

#[test]
fn a_max_prefixes_stop_without_restart_stays_down() {
    let mut pair = Pair::established("");
    pair.driver.stop(pair.now, max_prefixes());
    pair.pump();
    let before = connects(&pair);
    pair.advance(Duration::from_secs(3600));
    assert_eq!(connects(&pair), before);
    assert_eq!(pair.driver.status().state, State::Idle);
    // Until the operator starts it.
    pair.driver.start(pair.now);
    pair.pump();
    assert_eq!(connects(&pair), before + 1);
}

#[test]
fn another_stop_cancels_the_scheduled_restart() {
    let mut pair = Pair::established("max_prefixes_restart = 30");
    pair.driver.stop(pair.now, max_prefixes());
    pair.pump();
    pair.driver
        .stop(pair.now, StopReason::AdministrativeShutdown(String::new()));
    pair.pump();
    let before = connects(&pair);
    pair.advance(Duration::from_secs(120));
    assert_eq!(connects(&pair), before);
}

/// RFC 2918: a soft reset asks for every negotiated family again, on the established
/// connection.
#[test]
fn a_soft_reset_sends_a_route_refresh_per_family() {
    let mut pair = Pair::established("families = [\"ipv4-unicast\", \"ipv6-unicast\"]");
    let before = pair.count(MessageType::RouteRefresh);
    pair.driver.soft_reset(pair.now);
    pair.pump();
    assert_eq!(pair.count(MessageType::RouteRefresh) - before, 2);
    assert_eq!(pair.driver.status().sent.route_refresh, 2);
}
