//! The per-neighbor BGP session: the RFC 4271 §8 finite state machine as a pure value.
//!
//! A [`Session`] is fed [`Input`]s (the §8.1 events: administrative start/stop, TCP connection
//! events, received messages and decode errors) and returns [`Action`]s (connect, send, close,
//! session up/down, state changes with their reason). Time is an argument: the driver asks
//! [`Session::poll_timeout`] when the next timer is due, sleeps until then and calls
//! [`Session::handle_timeout`]. Nothing here reads a clock or touches a socket.
//!
//! A neighbor can have two TCP connections at once, the one we initiated
//! ([`ConnectionId::Outgoing`]) and the one the peer initiated ([`ConnectionId::Incoming`]);
//! connection collision detection (RFC 4271 §6.8) picks exactly one of them.
//!
//! Timers (RFC 4271 §10, RFC 9687): ConnectRetry with exponential back-off and jitter, an idle
//! hold time before an automatic restart after an error (§8.1.1 DampPeerOscillations), the hold
//! timer, the keepalive timer and the send hold timer.
//!
//! OPEN handling (RFC 4271 §6.2, RFC 5492, RFC 6793, RFC 6286) and capability negotiation into
//! [`Negotiated`] live in [`negotiate`].

mod backoff;
mod config;
mod fsm;
pub mod negotiate;

pub use backoff::ConnectRetryBackoff;
pub use config::{default_keepalive, AddPathConfig, GracefulRestartConfig, SessionConfig};
pub use fsm::Session;
pub use negotiate::{Negotiated, NegotiatedRestart};

use crate::message::Message;
use crate::notification::{CeaseError, ErrorCode, Notification};
use crate::DecodeError;

/// Which of the (at most two) TCP connections of a neighbor an input or action concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionId {
    /// The connection we initiated (active open).
    Outgoing,
    /// The connection the peer initiated, accepted by our listener.
    Incoming,
}

/// The RFC 4271 §8.2.2 states, as reported for the neighbor as a whole (the most advanced of its
/// connections).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established,
}

impl State {
    /// The RFC 4271 name, as shown by `bgpctl`.
    pub fn name(self) -> &'static str {
        match self {
            State::Idle => "Idle",
            State::Connect => "Connect",
            State::Active => "Active",
            State::OpenSent => "OpenSent",
            State::OpenConfirm => "OpenConfirm",
            State::Established => "Established",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why the operator or the daemon stops a session (RFC 4271 §8.1.2 ManualStop / AutomaticStop);
/// each maps to one Cease subcode (RFC 4486).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// Administratively disabled or the daemon is shutting down (Cease / Administrative
    /// Shutdown), with an RFC 9003 shutdown communication.
    AdministrativeShutdown(String),
    /// Reset by the operator (Cease / Administrative Reset); the session restarts.
    AdministrativeReset(String),
    /// The neighbor was removed from the configuration (Cease / Peer De-configured).
    Deconfigured,
    /// A configuration change that needs a new session (Cease / Other Configuration Change);
    /// the session restarts.
    ConfigurationChanged,
    /// The peer sent more prefixes than allowed (Cease / Maximum Number of Prefixes Reached).
    /// The data field carries AFI, SAFI and the limit (RFC 4486 §4). The session stays down:
    /// restarting it at once would only repeat the overflow, so whether and when it restarts
    /// is the driver's decision (a configured delay, or the operator).
    MaxPrefixes { notification_data: bytes::Bytes },
    /// The daemon cannot keep up (Cease / Out of Resources).
    OutOfResources,
    /// The daemon stops to start again with graceful restart (RFC 4724): the neighbor should
    /// keep our routes. Where the N bit was negotiated (RFC 8538 §4) it is told so with Cease /
    /// Administrative Shutdown and this RFC 9003 communication; elsewhere the connection just
    /// closes, without a NOTIFICATION (RFC 4724 §4.2: a Cease would end graceful restart).
    Restart(String),
}

impl StopReason {
    /// The NOTIFICATION this stop names (what [`StopReason::notification_for`] sends, before
    /// any RFC 8538 Hard Reset wrapping).
    pub fn notification(&self) -> Notification {
        match self {
            StopReason::AdministrativeShutdown(text) | StopReason::Restart(text) => {
                Notification::cease_with_reason(CeaseError::AdministrativeShutdown, text)
            }
            StopReason::AdministrativeReset(text) => {
                Notification::cease_with_reason(CeaseError::AdministrativeReset, text)
            }
            StopReason::Deconfigured => {
                Notification::new(ErrorCode::Cease(CeaseError::PeerDeconfigured))
            }
            StopReason::ConfigurationChanged => {
                Notification::new(ErrorCode::Cease(CeaseError::OtherConfigurationChange))
            }
            StopReason::MaxPrefixes { notification_data } => Notification::with_data(
                ErrorCode::Cease(CeaseError::MaximumPrefixesReached),
                notification_data.clone(),
            ),
            StopReason::OutOfResources => {
                Notification::new(ErrorCode::Cease(CeaseError::OutOfResources))
            }
        }
    }

    /// The NOTIFICATION this stop sends to a connection; `notification_negotiated`: the
    /// connection negotiated the RFC 8538 N bit. `None`: close without one.
    ///
    /// RFC 8538 §5 (the table of Cease subcodes): with N negotiated, a stop that ends the
    /// session for good is sent as a Hard Reset, so that the neighbor drops our routes at
    /// once: Maximum Number of Prefixes Reached, Administrative Shutdown and Peer
    /// De-configured, and Administrative Reset (left to us; an operator's reset means a fresh
    /// start). Other Configuration Change and Out of Resources stay graceful, and so, on
    /// purpose, does our own restart.
    pub fn notification_for(&self, notification_negotiated: bool) -> Option<Notification> {
        let hard = matches!(
            self,
            StopReason::MaxPrefixes { .. }
                | StopReason::AdministrativeShutdown(_)
                | StopReason::Deconfigured
                | StopReason::AdministrativeReset(_)
        );
        match self {
            StopReason::Restart(_) if !notification_negotiated => None,
            _ if hard && notification_negotiated => {
                Some(Notification::hard_reset(&self.notification()))
            }
            _ => Some(self.notification()),
        }
    }

    /// Whether the session starts again by itself after this stop.
    pub fn restarts(&self) -> bool {
        !matches!(
            self,
            StopReason::AdministrativeShutdown(_)
                | StopReason::Deconfigured
                | StopReason::MaxPrefixes { .. }
                | StopReason::Restart(_)
        )
    }
}

/// An event of RFC 4271 §8.1 that the driver reports. Timer events are not inputs: they fire
/// from [`Session::handle_timeout`].
#[derive(Debug)]
pub enum Input<'a> {
    /// ManualStart / AutomaticStart (§8.1.2 events 1, 3; 4, 5 when the neighbor is passive).
    Start,
    /// ManualStop / AutomaticStop (§8.1.2 events 2, 8).
    Stop(StopReason),
    /// A TCP connection is up: our connect completed (Tcp_CR_Acked, event 16), or our listener
    /// accepted one from this neighbor (TcpConnectionConfirmed, event 17). An accepted socket is
    /// held aside by the driver until [`Action::AcceptIncoming`] or [`Action::RefuseIncoming`].
    TcpConnected(ConnectionId),
    /// A connection failed or was closed by the peer (TcpConnectionFails, event 18); for
    /// [`ConnectionId::Outgoing`] before it was up, the connect attempt failed.
    TcpFailed(ConnectionId),
    /// A message was decoded on a connection (events 19, 25, 26, 27). UPDATEs are passed so that
    /// the machine can check the state and restart the hold timer; the driver hands the UPDATE to
    /// the RIB itself when [`Session::accepts_updates`] says so.
    Message(ConnectionId, &'a Message),
    /// Decoding failed fatally (BGPHeaderErr, BGPOpenMsgErr, UpdateMsgErr; events 21, 22, 28):
    /// the NOTIFICATION in the error is sent and the connection closed.
    DecodeError(ConnectionId, &'a DecodeError),
    /// A message was written to the connection (restarts the keepalive timer, RFC 4271 §10).
    MessageSent(ConnectionId),
    /// The connection's send buffer is full and data is waiting (starts the RFC 9687 send hold
    /// timer if not running).
    SendBlocked(ConnectionId),
    /// Data was written after being blocked (stops the send hold timer).
    SendProgress(ConnectionId),
}

/// Why a connection or the session changed state; logged with every state change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    Started,
    Stopped(StopReason),
    ConnectRetryExpired,
    IdleHoldExpired,
    TcpConnected,
    TcpFailed,
    OpenReceived,
    KeepaliveReceived,
    HoldTimerExpired,
    SendHoldTimerExpired,
    /// We sent a NOTIFICATION for this error.
    ErrorSent(ErrorCode),
    /// The peer sent this NOTIFICATION.
    NotificationReceived(Notification),
    /// The other connection won the RFC 4271 §6.8 collision.
    CollisionLost,
}

impl Reason {
    /// Whether a connection that ended for this reason ended gracefully: a neighbor that did
    /// graceful restart with us keeps its routes, stale (RFC 4724 §4.2), and may come straight
    /// back. `sent`: the NOTIFICATION we sent; `notification_negotiated`: the connection
    /// negotiated the RFC 8538 N bit.
    ///
    /// A TCP connection that simply failed always is (RFC 4724 §4.2), and so is our own
    /// restart. With N, every NOTIFICATION, sent or received, is too, except Cease / Hard
    /// Reset (RFC 8538 §4); without N, none is.
    pub fn is_graceful(&self, sent: Option<&Notification>, notification_negotiated: bool) -> bool {
        match self {
            Reason::TcpFailed | Reason::Stopped(StopReason::Restart(_)) => true,
            _ if !notification_negotiated => false,
            Reason::NotificationReceived(received) => !received.is_hard_reset(),
            _ => !sent.is_some_and(Notification::is_hard_reset),
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Started => f.write_str("started"),
            Reason::Stopped(stop) => write!(f, "stopped: {}", stop.notification()),
            Reason::ConnectRetryExpired => f.write_str("connect retry timer expired"),
            Reason::IdleHoldExpired => f.write_str("idle hold timer expired"),
            Reason::TcpConnected => f.write_str("TCP connection up"),
            Reason::TcpFailed => f.write_str("TCP connection failed or closed"),
            Reason::OpenReceived => f.write_str("OPEN received"),
            Reason::KeepaliveReceived => f.write_str("KEEPALIVE received"),
            Reason::HoldTimerExpired => f.write_str("hold timer expired"),
            Reason::SendHoldTimerExpired => f.write_str("send hold timer expired"),
            Reason::ErrorSent(code) => write!(f, "sent NOTIFICATION {code}"),
            Reason::NotificationReceived(n) => write!(f, "received NOTIFICATION {n}"),
            Reason::CollisionLost => f.write_str("connection collision resolution"),
        }
    }
}

/// What the driver must do, in order.
///
/// `Send` carries a whole [`Message`]; actions are few and short-lived (control messages only),
/// so the size is of no concern.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum Action {
    /// Open an outgoing TCP connection to the neighbor; report the outcome with
    /// [`Input::TcpConnected`]`(Outgoing)` or [`Input::TcpFailed`]`(Outgoing)`.
    Connect,
    /// Write a message (OPEN, KEEPALIVE or NOTIFICATION) to the connection.
    Send(ConnectionId, Message),
    /// Make the socket held aside since [`Input::TcpConnected`]`(Incoming)` the Incoming
    /// connection (a previous one was closed by an earlier [`Action::Close`]).
    AcceptIncoming,
    /// Send this NOTIFICATION on the socket held aside, then close it; the session is unchanged.
    RefuseIncoming(Notification),
    /// Flush what was queued on the connection (a NOTIFICATION, best effort) and close it; also
    /// abandons a pending outgoing connect.
    Close(ConnectionId),
    /// The session is Established on this connection with these parameters: start the RIB
    /// exchange.
    Up(ConnectionId, Box<Negotiated>),
    /// The session left Established. `graceful` ([`Reason::is_graceful`]): it ended as
    /// graceful restart allows (RFC 4724 §4.2, RFC 8538 §4), so the routes learned on it may
    /// be kept as stale, which the RIB decides from the negotiated capabilities; otherwise
    /// they are gone.
    Down { reason: Reason, graceful: bool },
    /// The neighbor's state (see [`State`]) changed; one log event each.
    StateChanged {
        from: State,
        to: State,
        reason: Reason,
    },
}

#[cfg(test)]
mod tests;
