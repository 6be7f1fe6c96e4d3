//! Two sessions wired back to back in memory, with virtual time: the whole RFC 4271 exchange
//! without sockets (the quinn `Pair` pattern).

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::*;
use crate::notification::{CeaseError, Notification, OpenError};
use crate::types::{AfiSafi, AfiSafiSet, Asn, RouterId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    A,
    B,
}

impl Side {
    fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
}

/// The peer's end of a connection: what we call Outgoing, it calls Incoming.
fn remote_end(id: ConnectionId) -> ConnectionId {
    match id {
        ConnectionId::Outgoing => ConnectionId::Incoming,
        ConnectionId::Incoming => ConnectionId::Outgoing,
    }
}

#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // test plumbing; UPDATEs never travel here
enum Event {
    Connected(ConnectionId),
    Received(ConnectionId, Message),
    Failed(ConnectionId),
    /// A connect from the other side reached this side's listener.
    Accept,
}

struct Pair {
    now: Instant,
    a: Session,
    b: Session,
    /// Which of each side's sockets exist: [Outgoing, Incoming].
    sockets: [[bool; 2]; 2],
    /// Messages written by a side are lost (a peer that went silent).
    mute: [bool; 2],
    /// The other side's listener does not answer connects from this side.
    unreachable: [bool; 2],
    queue: VecDeque<(Side, Event)>,
    log: Vec<(Side, Action)>,
}

fn index(side: Side) -> usize {
    match side {
        Side::A => 0,
        Side::B => 1,
    }
}

fn slot(id: ConnectionId) -> usize {
    match id {
        ConnectionId::Outgoing => 0,
        ConnectionId::Incoming => 1,
    }
}

fn config(asn: u32, router_id: [u8; 4], peer_asn: u32) -> SessionConfig {
    let families = AfiSafiSet::EMPTY.with(AfiSafi::Ipv4Unicast);
    SessionConfig::new(
        Asn(asn),
        RouterId(Ipv4Addr::from(router_id)),
        Asn(peer_asn),
        families,
    )
}

impl Pair {
    fn new(a: SessionConfig, b: SessionConfig) -> Pair {
        Pair {
            now: Instant::now(),
            a: Session::new(a, 1),
            b: Session::new(b, 2),
            sockets: [[false; 2]; 2],
            mute: [false; 2],
            unreachable: [false; 2],
            queue: VecDeque::new(),
            log: Vec::new(),
        }
    }

    fn session(&mut self, side: Side) -> &mut Session {
        match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }

    fn input(&mut self, side: Side, input: Input<'_>) {
        let now = self.now;
        let actions = self.session(side).handle(now, input);
        self.apply(side, actions);
    }

    fn apply(&mut self, side: Side, actions: Vec<Action>) {
        for action in actions {
            self.log.push((side, action.clone()));
            let s = index(side);
            match action {
                Action::Connect => {
                    if self.unreachable[s] {
                        self.queue
                            .push_back((side, Event::Failed(ConnectionId::Outgoing)));
                    } else {
                        self.queue.push_back((side.other(), Event::Accept));
                    }
                }
                Action::AcceptIncoming => {
                    self.sockets[s][slot(ConnectionId::Incoming)] = true;
                    self.sockets[index(side.other())][slot(ConnectionId::Outgoing)] = true;
                    self.queue
                        .push_back((side.other(), Event::Connected(ConnectionId::Outgoing)));
                }
                Action::RefuseIncoming(notification) => {
                    let other = side.other();
                    self.sockets[index(other)][slot(ConnectionId::Outgoing)] = true;
                    self.queue
                        .push_back((other, Event::Connected(ConnectionId::Outgoing)));
                    let message = Message::Notification(notification);
                    self.queue
                        .push_back((other, Event::Received(ConnectionId::Outgoing, message)));
                    self.queue
                        .push_back((other, Event::Failed(ConnectionId::Outgoing)));
                }
                Action::Send(id, message) => {
                    if self.sockets[s][slot(id)] && !self.mute[s] {
                        self.queue
                            .push_back((side.other(), Event::Received(remote_end(id), message)));
                    }
                }
                Action::Close(id) => {
                    // Like TCP: what was sent before the close still arrives; the other end
                    // sees its connection fail after it (and closes its socket then).
                    if std::mem::take(&mut self.sockets[s][slot(id)]) {
                        let remote = remote_end(id);
                        if self.sockets[index(side.other())][slot(remote)] {
                            self.queue.push_back((side.other(), Event::Failed(remote)));
                        }
                    }
                }
                Action::Up(..) | Action::Down { .. } | Action::StateChanged { .. } => {}
            }
        }
    }

    /// Delivers queued events; when none is left, advances virtual time to the next timer.
    /// Stops at `until` (virtual) or after a bounded number of steps.
    fn run_until(&mut self, until: Instant) {
        for _ in 0..100_000 {
            if let Some((side, event)) = self.queue.pop_front() {
                match event {
                    Event::Accept => self.input(side, Input::TcpConnected(ConnectionId::Incoming)),
                    Event::Connected(id) => self.input(side, Input::TcpConnected(id)),
                    Event::Failed(id) => {
                        self.sockets[index(side)][slot(id)] = false;
                        self.input(side, Input::TcpFailed(id));
                    }
                    Event::Received(id, message) => {
                        // A message arriving on a socket that was closed meanwhile is lost.
                        if self.sockets[index(side)][slot(id)] {
                            self.input(side, Input::Message(id, &message));
                        }
                    }
                }
                continue;
            }
            let next = [self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    let now = self.now;
                    let actions = self.a.handle_timeout(now);
                    self.apply(Side::A, actions);
                    let actions = self.b.handle_timeout(now);
                    self.apply(Side::B, actions);
                }
                _ => {
                    self.now = self.now.max(until);
                    return;
                }
            }
        }
        panic!("pair did not settle");
    }

    fn run_for(&mut self, duration: Duration) {
        let until = self.now + duration;
        self.run_until(until);
    }

    fn start_both(&mut self) {
        self.input(Side::A, Input::Start);
        self.input(Side::B, Input::Start);
    }

    fn sent_notifications(&self, side: Side) -> Vec<Notification> {
        self.log
            .iter()
            .filter(|(s, _)| *s == side)
            .filter_map(|(_, a)| match a {
                Action::Send(_, Message::Notification(n)) => Some(n.clone()),
                Action::RefuseIncoming(n) => Some(n.clone()),
                _ => None,
            })
            .collect()
    }

    fn count(&self, side: Side, predicate: impl Fn(&Action) -> bool) -> usize {
        self.log
            .iter()
            .filter(|(s, a)| *s == side && predicate(a))
            .count()
    }
}

/// A (65001, active) and B (65002, passive): one connection, no collision.
fn ebgp_pair() -> Pair {
    let mut b = config(65002, [10, 0, 0, 2], 65001);
    b.passive = true;
    Pair::new(config(65001, [10, 0, 0, 1], 65002), b)
}

fn is_up(action: &Action) -> bool {
    matches!(action, Action::Up(..))
}

fn is_down(action: &Action) -> bool {
    matches!(action, Action::Down { .. })
}

#[test]
fn active_and_passive_reach_established() {
    let mut b = config(65002, [10, 0, 0, 2], 65001);
    b.passive = true;
    let mut pair = Pair::new(config(65001, [10, 0, 0, 1], 65002), b);
    pair.start_both();
    pair.run_for(Duration::from_secs(1));
    assert_eq!(pair.a.state(), State::Established);
    assert_eq!(pair.b.state(), State::Established);
    assert_eq!(
        pair.a.established_connection(),
        Some(ConnectionId::Outgoing)
    );
    assert_eq!(
        pair.b.established_connection(),
        Some(ConnectionId::Incoming)
    );
    assert_eq!(pair.count(Side::A, is_up), 1);
    assert_eq!(pair.count(Side::B, is_up), 1);
    // Every state on the way is reported, in order.
    let states: Vec<_> = pair
        .log
        .iter()
        .filter_map(|(s, a)| match a {
            Action::StateChanged { to, .. } if *s == Side::A => Some(*to),
            _ => None,
        })
        .collect();
    assert_eq!(
        states,
        [
            State::Connect,
            State::OpenSent,
            State::OpenConfirm,
            State::Established
        ]
    );
}

#[test]
fn hold_time_is_the_smaller_of_both_and_keepalive_a_third() {
    let mut b = config(65002, [10, 0, 0, 2], 65001);
    b.hold_time = 90;
    let mut pair = Pair::new(config(65001, [10, 0, 0, 1], 65002), b);
    pair.start_both();
    pair.run_for(Duration::from_secs(1));
    for session in [&pair.a, &pair.b] {
        let negotiated = session.negotiated().expect("established");
        assert_eq!(negotiated.hold_time, 90);
        assert_eq!(negotiated.keepalive, Duration::from_secs(30));
    }
}

#[test]
fn keepalives_keep_the_session_up() {
    let mut pair = ebgp_pair();
    pair.start_both();
    pair.run_for(Duration::from_secs(3600));
    assert_eq!(pair.a.state(), State::Established);
    assert_eq!(pair.count(Side::A, is_down), 0);
    // One hour at a 60 s keepalive interval.
    let keepalives = pair.count(Side::A, |a| {
        matches!(a, Action::Send(_, Message::Keepalive))
    });
    assert!((59..=62).contains(&keepalives), "{keepalives} keepalives");
}

#[test]
fn zero_hold_time_sends_no_keepalives() {
    let mut a = config(65001, [10, 0, 0, 1], 65002);
    a.hold_time = 0;
    let mut pair = Pair::new(a, config(65002, [10, 0, 0, 2], 65001));
    pair.start_both();
    pair.run_for(Duration::from_secs(3600));
    assert_eq!(pair.b.state(), State::Established);
    assert_eq!(pair.b.negotiated().map(|n| n.hold_time), Some(0));
    // Only the KEEPALIVE that confirms the OPEN.
    assert_eq!(
        pair.count(Side::B, |a| matches!(
            a,
            Action::Send(_, Message::Keepalive)
        )),
        1
    );
}

#[test]
fn collision_leaves_exactly_one_session() {
    // Both sides active and starting at once; B has the higher identifier, so the connection
    // B initiated survives (RFC 4271 §6.8).
    let mut pair = Pair::new(
        config(64512, [10, 0, 0, 1], 64512),
        config(64512, [10, 0, 0, 2], 64512),
    );
    pair.start_both();
    pair.run_for(Duration::from_secs(10));
    assert_eq!(pair.a.state(), State::Established);
    assert_eq!(pair.b.state(), State::Established);
    assert_eq!(
        pair.a.established_connection(),
        Some(ConnectionId::Incoming)
    );
    assert_eq!(
        pair.b.established_connection(),
        Some(ConnectionId::Outgoing)
    );
    assert_eq!(pair.count(Side::A, is_up), 1);
    assert_eq!(pair.count(Side::B, is_up), 1);
    assert_eq!(pair.sockets, [[false, true], [true, false]]);
    // And it stays that way.
    pair.run_for(Duration::from_secs(600));
    assert_eq!(pair.count(Side::A, is_down), 0);
}

#[test]
fn hold_timer_expiry_drops_the_session_and_it_comes_back() {
    let mut pair = ebgp_pair();
    pair.start_both();
    pair.run_for(Duration::from_secs(1));
    pair.mute[index(Side::B)] = true;
    pair.run_for(Duration::from_secs(181));
    assert_eq!(pair.count(Side::A, is_down), 1);
    assert_eq!(
        pair.sent_notifications(Side::A)[0].code,
        ErrorCode::HoldTimerExpired
    );
    pair.mute[index(Side::B)] = false;
    pair.run_for(Duration::from_secs(300));
    assert_eq!(pair.a.state(), State::Established);
    assert_eq!(pair.b.state(), State::Established);
}

#[test]
fn unreachable_peer_is_retried_with_back_off() {
    let mut pair = Pair::new(
        config(65001, [10, 0, 0, 1], 65002),
        config(65002, [10, 0, 0, 2], 65001),
    );
    pair.unreachable[index(Side::A)] = true;
    pair.input(Side::A, Input::Start);
    pair.run_for(Duration::from_secs(600));
    let attempts = pair.count(Side::A, |a| matches!(a, Action::Connect));
    // 5 s doubling to a 30 s cap with 75–100 % jitter: 22 to 29 attempts in 10 minutes.
    assert!((21..=30).contains(&attempts), "{attempts} attempts");
    assert_eq!(pair.a.state(), State::Active);
}

#[test]
fn administrative_shutdown_carries_its_reason_and_stays_down() {
    let mut pair = ebgp_pair();
    pair.start_both();
    pair.run_for(Duration::from_secs(1));
    pair.input(
        Side::A,
        Input::Stop(StopReason::AdministrativeShutdown("maintenance".into())),
    );
    pair.run_for(Duration::from_secs(600));
    assert_eq!(pair.a.state(), State::Idle);
    let sent = pair.sent_notifications(Side::A);
    assert_eq!(sent[0].shutdown_communication(), Some(Ok("maintenance")));
    // B saw a NOTIFICATION, sent none back, and waits for A (it is passive).
    assert_eq!(pair.count(Side::B, is_down), 1);
    assert!(pair.sent_notifications(Side::B).is_empty());
    assert_eq!(pair.b.state(), State::Active);
    // A refuses connections while stopped.
    pair.input(Side::A, Input::TcpConnected(ConnectionId::Incoming));
    assert!(matches!(
        pair.log.last(),
        Some((Side::A, Action::RefuseIncoming(_)))
    ));
}

#[test]
fn administrative_reset_restarts() {
    let mut pair = ebgp_pair();
    pair.start_both();
    pair.run_for(Duration::from_secs(1));
    pair.input(
        Side::A,
        Input::Stop(StopReason::AdministrativeReset("soft".into())),
    );
    pair.run_for(Duration::from_secs(60));
    assert_eq!(pair.count(Side::A, is_up), 2);
    assert_eq!(pair.a.state(), State::Established);
}

#[test]
fn max_prefixes_stays_down_until_started_again() {
    let mut pair = ebgp_pair();
    pair.start_both();
    pair.run_for(Duration::from_secs(1));
    pair.input(
        Side::A,
        Input::Stop(StopReason::MaxPrefixes {
            notification_data: bytes::Bytes::from_static(&[0, 1, 1, 0, 0, 0, 2]),
        }),
    );
    let sent = pair.sent_notifications(Side::A);
    assert_eq!(
        sent[0].code,
        ErrorCode::Cease(CeaseError::MaximumPrefixesReached)
    );
    pair.run_for(Duration::from_secs(600));
    assert_eq!(pair.a.state(), State::Idle);
    assert_eq!(pair.count(Side::A, is_up), 1);
    // The driver's restart (after its configured delay) is a Start.
    pair.input(Side::A, Input::Start);
    pair.run_for(Duration::from_secs(60));
    assert_eq!(pair.count(Side::A, is_up), 2);
    assert_eq!(pair.a.state(), State::Established);
}

/// Runs A against a B whose OPEN is altered by `tweak`, and returns the NOTIFICATION A sent.
fn open_error(a: SessionConfig, b: SessionConfig) -> Notification {
    let mut b = b;
    b.passive = true;
    let mut pair = Pair::new(a, b);
    pair.start_both();
    pair.run_for(Duration::from_secs(1));
    let sent = pair.sent_notifications(Side::A);
    assert_eq!(pair.count(Side::A, is_up), 0);
    sent.into_iter().next().expect("A refused the OPEN")
}

#[test]
fn wrong_peer_as_is_bad_peer_as() {
    let n = open_error(
        config(65001, [10, 0, 0, 1], 65002),
        config(65003, [10, 0, 0, 2], 65001),
    );
    assert_eq!(n.code, ErrorCode::OpenMessage(OpenError::BadPeerAs));
}

#[test]
fn hold_time_of_one_or_two_is_unacceptable() {
    for hold in [1, 2] {
        let mut b = config(65002, [10, 0, 0, 2], 65001);
        b.hold_time = hold;
        let n = open_error(config(65001, [10, 0, 0, 1], 65002), b);
        assert_eq!(
            n.code,
            ErrorCode::OpenMessage(OpenError::UnacceptableHoldTime)
        );
    }
}

#[test]
fn identifier_equal_to_ours_is_refused_on_ibgp_only() {
    let n = open_error(
        config(64512, [10, 0, 0, 1], 64512),
        config(64512, [10, 0, 0, 1], 64512),
    );
    assert_eq!(n.code, ErrorCode::OpenMessage(OpenError::BadBgpIdentifier));
    // RFC 6286 §2.2: on eBGP the identifiers may be equal.
    let mut b = config(65002, [10, 0, 0, 1], 65001);
    b.passive = true;
    let mut pair = Pair::new(config(65001, [10, 0, 0, 1], 65002), b);
    pair.start_both();
    pair.run_for(Duration::from_secs(1));
    assert_eq!(pair.a.state(), State::Established);
}

#[test]
fn no_common_family_is_unsupported_capability() {
    let mut b = config(65002, [10, 0, 0, 2], 65001);
    b.families = AfiSafiSet::EMPTY.with(AfiSafi::Ipv6Unicast);
    let n = open_error(config(65001, [10, 0, 0, 1], 65002), b);
    assert_eq!(
        n.code,
        ErrorCode::OpenMessage(OpenError::UnsupportedCapability)
    );
}

#[test]
fn keepalive_in_open_sent_is_a_finite_state_machine_error() {
    let mut pair = Pair::new(
        config(65001, [10, 0, 0, 1], 65002),
        config(65002, [10, 0, 0, 2], 65001),
    );
    pair.input(Side::A, Input::Start);
    pair.input(Side::A, Input::TcpConnected(ConnectionId::Outgoing));
    pair.sockets[0][0] = true;
    pair.input(
        Side::A,
        Input::Message(ConnectionId::Outgoing, &Message::Keepalive),
    );
    let sent = pair.sent_notifications(Side::A);
    assert_eq!(
        sent[0].code,
        ErrorCode::FiniteStateMachine(crate::notification::FsmError::UnexpectedMessageInOpenSent)
    );
    assert_eq!(pair.a.state(), State::Idle);
}

#[test]
fn a_connection_that_never_sends_open_expires_after_the_open_hold_time() {
    // RFC 4271 §8.2.2 (Connect/Active state, TCP up): the hold timer is set to a large value
    // (4 minutes suggested) until the peer's OPEN arrives.
    let mut pair = Pair::new(
        config(65001, [10, 0, 0, 1], 65002),
        config(65002, [10, 0, 0, 2], 65001),
    );
    pair.input(Side::A, Input::Start);
    // B never hears of it: the connection is up and B says nothing.
    pair.queue.clear();
    pair.input(Side::A, Input::TcpConnected(ConnectionId::Outgoing));
    pair.run_for(Duration::from_secs(239));
    assert_eq!(pair.a.state(), State::OpenSent);
    assert!(pair.sent_notifications(Side::A).is_empty());
    pair.run_for(Duration::from_secs(2));
    assert_eq!(
        pair.sent_notifications(Side::A)[0].code,
        ErrorCode::HoldTimerExpired
    );
    assert_ne!(pair.a.state(), State::OpenSent);
}

#[test]
fn notification_in_established_goes_down_without_reply() {
    let mut pair = ebgp_pair();
    pair.start_both();
    pair.run_for(Duration::from_secs(1));
    let id = pair.a.established_connection().expect("established");
    let cease = Message::Notification(Notification::new(ErrorCode::Cease(
        CeaseError::AdministrativeReset,
    )));
    pair.input(Side::A, Input::Message(id, &cease));
    assert_eq!(pair.count(Side::A, is_down), 1);
    assert!(pair.sent_notifications(Side::A).is_empty());
    assert_eq!(pair.a.state(), State::Idle);
}

#[test]
fn incoming_connection_while_established_is_refused() {
    let mut b = config(65002, [10, 0, 0, 2], 65001);
    b.passive = true;
    let mut pair = Pair::new(config(65001, [10, 0, 0, 1], 65002), b);
    pair.start_both();
    pair.run_for(Duration::from_secs(1));
    pair.input(Side::A, Input::TcpConnected(ConnectionId::Incoming));
    let refused = pair.log.last().map(|(_, a)| a.clone());
    assert_eq!(
        refused,
        Some(Action::RefuseIncoming(Notification::new(ErrorCode::Cease(
            CeaseError::ConnectionCollisionResolution
        ))))
    );
    assert_eq!(pair.a.state(), State::Established);
}

#[test]
fn send_hold_timer_closes_a_stuck_session() {
    let mut pair = ebgp_pair();
    pair.start_both();
    pair.run_for(Duration::from_secs(1));
    let id = pair.a.established_connection().expect("established");
    pair.input(Side::A, Input::SendBlocked(id));
    // The peer keeps sending KEEPALIVEs, so only the send side is stuck.
    pair.run_for(Duration::from_secs(479));
    assert_eq!(pair.count(Side::A, is_down), 0);
    pair.run_for(Duration::from_secs(2));
    assert_eq!(pair.count(Side::A, is_down), 1);
    assert_eq!(
        pair.sent_notifications(Side::A)[0].code,
        ErrorCode::SendHoldTimerExpired
    );
}

#[test]
fn collision_with_equal_identifiers_is_broken_by_as_number() {
    // RFC 6286 §2.3: equal identifiers (eBGP); the speaker with the larger AS keeps the
    // connection it initiated.
    let mut pair = Pair::new(
        config(65010, [10, 0, 0, 9], 65020),
        config(65020, [10, 0, 0, 9], 65010),
    );
    pair.start_both();
    pair.run_for(Duration::from_secs(10));
    assert_eq!(
        pair.a.established_connection(),
        Some(ConnectionId::Incoming)
    );
    assert_eq!(
        pair.b.established_connection(),
        Some(ConnectionId::Outgoing)
    );
    assert_eq!(pair.count(Side::A, is_up) + pair.count(Side::B, is_up), 2);
}

#[test]
fn state_changes_carry_their_reason() {
    let mut pair = ebgp_pair();
    pair.start_both();
    pair.run_for(Duration::from_secs(1));
    pair.mute[index(Side::B)] = true;
    pair.run_for(Duration::from_secs(181));
    let down = pair.log.iter().find_map(|(side, action)| match action {
        Action::StateChanged {
            from: State::Established,
            to,
            reason,
        } if *side == Side::A => Some((*to, reason.clone())),
        _ => None,
    });
    assert_eq!(down, Some((State::Idle, Reason::HoldTimerExpired)));
}

#[test]
fn a_dropped_connection_is_the_reason_for_leaving_established() {
    let mut pair = ebgp_pair();
    pair.start_both();
    pair.run_for(Duration::from_secs(1));
    let id = pair.a.established_connection().expect("established");
    pair.input(Side::A, Input::TcpFailed(id));
    let last = pair
        .log
        .iter()
        .rev()
        .find_map(|(side, action)| match action {
            Action::StateChanged { from, to, reason } if *side == Side::A => {
                Some((*from, *to, reason.clone()))
            }
            _ => None,
        });
    assert_eq!(
        last,
        Some((State::Established, State::Idle, Reason::TcpFailed))
    );
}

#[test]
fn collision_is_decided_on_the_first_open_when_the_other_connection_is_in_open_sent() {
    // A has the lower identifier: of two connections both in OpenSent, the first OPEN from B
    // (on A's outgoing connection) already tells A that B's connection is the keeper.
    let a = config(64512, [10, 0, 0, 1], 64512);
    let b = config(64512, [10, 0, 0, 2], 64512);
    let open_b = Message::Open(super::negotiate::local_open(&b));
    let mut session = Session::new(a, 7);
    let now = Instant::now();
    session.handle(now, Input::Start);
    session.handle(now, Input::TcpConnected(ConnectionId::Outgoing));
    session.handle(now, Input::TcpConnected(ConnectionId::Incoming));
    let actions = session.handle(now, Input::Message(ConnectionId::Outgoing, &open_b));
    let collision = Notification::new(ErrorCode::Cease(CeaseError::ConnectionCollisionResolution));
    assert_eq!(
        actions[..2],
        [
            Action::Send(ConnectionId::Outgoing, Message::Notification(collision)),
            Action::Close(ConnectionId::Outgoing)
        ]
    );
    assert!(!actions
        .iter()
        .any(|a| matches!(a, Action::Send(_, Message::Keepalive))));
    let actions = session.handle(now, Input::Message(ConnectionId::Incoming, &open_b));
    assert!(actions.contains(&Action::Send(ConnectionId::Incoming, Message::Keepalive)));
    assert_eq!(session.state(), State::OpenConfirm);
}

/// RFC 4724 §4.2: after a connection that merely failed (a peer restarting), the idle hold
/// does not refuse the peer coming straight back; after an error it does (RFC 4271 §8.2.2).
#[test]
fn idle_hold_accepts_a_returning_peer_after_a_connection_failure() {
    let check = |reason: Input<'_>, accepted: bool| {
        let mut pair = ebgp_pair();
        pair.start_both();
        pair.run_for(Duration::from_secs(1));
        // B is passive: its session is on the incoming connection.
        assert!(pair.b.established_connection() == Some(ConnectionId::Incoming));
        let now = pair.now;
        pair.b.handle(now, reason);
        let actions = pair
            .b
            .handle(now, Input::TcpConnected(ConnectionId::Incoming));
        assert_eq!(
            actions.contains(&Action::AcceptIncoming),
            accepted,
            "{actions:?}"
        );
    };
    check(Input::TcpFailed(ConnectionId::Incoming), true);
    let cease = Message::Notification(Notification::new(ErrorCode::Cease(
        CeaseError::AdministrativeReset,
    )));
    check(Input::Message(ConnectionId::Incoming, &cease), false);
}

#[test]
fn a_connect_still_pending_when_another_connection_got_through_is_abandoned() {
    const HOLD_TIME: u16 = 180;
    // Found by the `session` fuzz target: our connect hangs while the peer's connection
    // reaches OpenConfirm; the ConnectRetry timer fires and must end the attempt, else the
    // session, once the other connection is lost, waits for that connect forever (Connect,
    // then Active after it fails) with no timer to restart it.
    let a = config(64512, [10, 0, 0, 1], 64512);
    let b = config(64512, [10, 0, 0, 2], 64512);
    let open_b = Message::Open(super::negotiate::local_open(&b));
    assert_eq!((a.hold_time, b.hold_time), (HOLD_TIME, HOLD_TIME));
    let mut session = Session::new(a, 7);
    let start = Instant::now();
    session.handle(start, Input::Start);
    session.handle(start, Input::TcpConnected(ConnectionId::Incoming));
    session.handle(start, Input::Message(ConnectionId::Incoming, &open_b));
    assert_eq!(session.state(), State::OpenConfirm);

    let retry = session.poll_timeout().expect("ConnectRetry timer");
    let actions = session.handle_timeout(retry);
    assert_eq!(actions, [Action::Close(ConnectionId::Outgoing)]);
    assert_eq!(session.state(), State::OpenConfirm);

    // The peer never confirms: the hold timer ends its connection; the session rests in
    // Idle, then connects again.
    let hold_expired = start + Duration::from_secs(u64::from(HOLD_TIME) + 1);
    session.handle_timeout(hold_expired);
    assert_eq!(session.state(), State::Idle);
    let idle_hold = session.poll_timeout().expect("idle hold timer");
    let actions = session.handle_timeout(idle_hold);
    assert_eq!(actions.first(), Some(&Action::Connect));
    assert_eq!(session.state(), State::Connect);
}

/// The operator's `error_wait_time` (BIRD's `error wait time`): after an error the session
/// rests exactly its minimum, each further error doubles the wait (jittered, never below the
/// minimum) up to its maximum, and a session that stayed up for the maximum starts again from
/// the minimum. A new range applies from the next error on.
#[test]
fn error_wait_time_starts_at_its_minimum_and_doubles_to_its_maximum() {
    let mut local = config(65002, [10, 0, 0, 2], 65001);
    local.passive = true;
    local.idle_hold = Duration::from_secs(3);
    local.idle_hold_max = Duration::from_secs(12);
    let peer_open = Message::Open(super::negotiate::local_open(&config(
        65001,
        [10, 0, 0, 1],
        65002,
    )));
    let error = Message::Notification(Notification::new(ErrorCode::Cease(
        CeaseError::AdministrativeReset,
    )));
    let mut session = Session::new(local.clone(), 11);
    let mut now = Instant::now();
    session.handle(now, Input::Start);
    // Up for `uptime`, then an error: how long the idle hold lasts.
    let flap = |session: &mut Session, now: &mut Instant, uptime: Duration| {
        let incoming = ConnectionId::Incoming;
        let accepted = session.handle(*now, Input::TcpConnected(incoming));
        assert!(accepted.contains(&Action::AcceptIncoming), "{accepted:?}");
        session.handle(*now, Input::Message(incoming, &peer_open));
        session.handle(*now, Input::Message(incoming, &Message::Keepalive));
        assert_eq!(session.state(), State::Established);
        *now += uptime;
        session.handle(*now, Input::Message(incoming, &error));
        assert_eq!(session.state(), State::Idle);
        let until = session.poll_timeout().expect("idle hold timer");
        let wait = until - *now;
        *now = until;
        session.handle_timeout(*now);
        assert_eq!(session.state(), State::Active);
        wait
    };
    let brief = Duration::from_secs(1);
    let secs = Duration::from_secs;
    assert_eq!(
        flap(&mut session, &mut now, brief),
        secs(3),
        "the minimum first"
    );
    for base in [6, 12, 12] {
        let wait = flap(&mut session, &mut now, brief);
        assert!(
            wait >= secs(base) * 3 / 4 && wait <= secs(base),
            "{wait:?} is not the doubled wait {base} s (jittered)"
        );
    }
    // Up for the maximum: forgiven, back to the minimum.
    assert_eq!(flap(&mut session, &mut now, secs(12)), secs(3));
    assert!(flap(&mut session, &mut now, brief) > secs(3));
    // A new range (a reload) starts at its own minimum.
    local.idle_hold = Duration::from_secs(7);
    local.idle_hold_max = Duration::from_secs(7);
    session.set_config(local);
    assert_eq!(flap(&mut session, &mut now, brief), secs(7));
    assert_eq!(flap(&mut session, &mut now, brief), secs(7));
}

/// A and B (iBGP, A active, B passive) with graceful restart, each offering the RFC 8538 N
/// bit or not.
fn restart_pair(a_offers_n: bool, b_offers_n: bool) -> Pair {
    let restart = |notification| GracefulRestartConfig {
        restart_time: 120,
        restarting: false,
        forwarding_preserved: AfiSafiSet::EMPTY,
        long_lived_stale_time: None,
        notification,
    };
    let mut a = config(64512, [10, 0, 0, 1], 64512);
    a.graceful_restart = Some(restart(a_offers_n));
    let mut b = config(64512, [10, 0, 0, 2], 64512);
    b.graceful_restart = Some(restart(b_offers_n));
    b.passive = true;
    let mut pair = Pair::new(a, b);
    pair.start_both();
    pair.run_for(Duration::from_secs(1));
    assert_eq!(pair.b.state(), State::Established);
    pair
}

/// Each Down of `side`: (graceful, why).
fn downs(pair: &Pair, side: Side) -> Vec<(bool, Reason)> {
    pair.log
        .iter()
        .filter(|(s, _)| *s == side)
        .filter_map(|(_, a)| match a {
            Action::Down { reason, graceful } => Some((*graceful, reason.clone())),
            _ => None,
        })
        .collect()
}

/// RFC 8538: with the N bit negotiated a NOTIFICATION other than Hard Reset ends the session
/// gracefully on both sides (the helper keeps the routes), a stop for good is sent as a Hard
/// Reset, and our own restart is Cease / Administrative Shutdown; without N our restart sends
/// no NOTIFICATION at all and any NOTIFICATION ends graceful restart (RFC 4724 §4.2).
#[test]
fn rfc8538_notification_ends_gracefully_only_with_the_n_bit() {
    let restart = StopReason::Restart("bgpd is restarting".into());
    let shutdown = StopReason::AdministrativeShutdown("maintenance".into());
    let restart_cease = restart.notification();
    let hard_shutdown = Notification::hard_reset(&shutdown.notification());
    // (A offers N, B offers N, how A stops, A's NOTIFICATION, whether B's Down is graceful)
    let cases = [
        (
            true,
            true,
            restart.clone(),
            Some(restart_cease.clone()),
            true,
        ),
        (true, false, restart.clone(), None, true),
        (false, true, restart.clone(), None, true),
        (true, true, shutdown.clone(), Some(hard_shutdown), false),
        (
            true,
            false,
            shutdown.clone(),
            Some(shutdown.notification()),
            false,
        ),
        (
            true,
            true,
            StopReason::ConfigurationChanged,
            Some(StopReason::ConfigurationChanged.notification()),
            true,
        ),
        (
            true,
            true,
            StopReason::Deconfigured,
            Some(Notification::hard_reset(
                &StopReason::Deconfigured.notification(),
            )),
            false,
        ),
    ];
    for (a_n, b_n, stop, sent, graceful) in cases {
        let case = format!("A offers N: {a_n}, B: {b_n}, {stop:?}");
        let mut pair = restart_pair(a_n, b_n);
        pair.input(Side::A, Input::Stop(stop));
        pair.run_for(Duration::from_secs(1));
        assert_eq!(
            pair.sent_notifications(Side::A),
            Vec::from_iter(sent),
            "{case}"
        );
        let b_downs = downs(&pair, Side::B);
        assert_eq!(b_downs.len(), 1, "{case}: {b_downs:?}");
        assert_eq!(b_downs[0].0, graceful, "{case}: {b_downs:?}");
    }
}

/// RFC 8538 §4: with N, a hold timer expiry (NOTIFICATION sent) and an error NOTIFICATION
/// received end gracefully, and the neighbor may come straight back; a Hard Reset does not.
#[test]
fn rfc8538_errors_keep_routes_but_a_hard_reset_does_not() {
    for (n, graceful) in [(true, true), (false, false)] {
        let mut pair = restart_pair(n, n);
        pair.mute[index(Side::A)] = true;
        for _ in 0..2000 {
            if !downs(&pair, Side::B).is_empty() {
                break;
            }
            pair.run_for(Duration::from_millis(100));
        }
        let (ended_gracefully, reason) = downs(&pair, Side::B)
            .into_iter()
            .next()
            .expect("B's hold timer expired");
        assert_eq!(reason, Reason::HoldTimerExpired);
        assert_eq!(ended_gracefully, graceful, "N negotiated: {n}");
        // Graceful: B takes A back at once; otherwise its idle hold refuses A.
        let now = pair.now;
        let actions = pair
            .b
            .handle(now, Input::TcpConnected(ConnectionId::Incoming));
        assert_eq!(
            actions.contains(&Action::AcceptIncoming),
            graceful,
            "{actions:?}"
        );
    }
    for (received, graceful) in [
        (
            Notification::new(ErrorCode::UpdateMessage(
                crate::notification::UpdateError::MalformedAttributeList,
            )),
            true,
        ),
        (
            Notification::hard_reset(&Notification::new(ErrorCode::Cease(
                CeaseError::AdministrativeReset,
            ))),
            false,
        ),
    ] {
        let mut pair = restart_pair(true, true);
        let connection = pair.b.established_connection().expect("established");
        let now = pair.now;
        let actions = pair.b.handle(
            now,
            Input::Message(connection, &Message::Notification(received.clone())),
        );
        let down = actions.iter().find_map(|a| match a {
            Action::Down { graceful, .. } => Some(*graceful),
            _ => None,
        });
        assert_eq!(down, Some(graceful), "{received}");
    }
}
