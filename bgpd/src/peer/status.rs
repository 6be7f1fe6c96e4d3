//! What operators see of a neighbor (`bgpctl show neighbors`, the metrics): its RFC 4271 §8.2.2
//! state, the negotiated timers and families, message counts, and the last error as a closed
//! type ([`PeerError`]) that renders to the text `last_error` shows.

use std::fmt;
use std::io;
use std::time::{Duration, Instant};

use proto::header::MessageType;
use proto::notification::{ErrorCode, Notification};
use proto::session::{Reason, State, StopReason};
use proto::AfiSafiSet;

/// What operators see of a neighbor, published by its task after every step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    pub state: State,
    /// When the session became Established (monotonic, so that the uptime ignores steps of
    /// the wall clock).
    pub established_at: Option<Instant>,
    pub hold_time: Option<u16>,
    pub keepalive: Option<Duration>,
    pub families: AfiSafiSet,
    pub last_error: Option<PeerError>,
    /// When `last_error` happened (monotonic, like `established_at`).
    pub last_error_at: Option<Instant>,
    /// Prefixes announced to us in the current session.
    pub prefixes_received: u64,
    /// Messages by type since the daemon started.
    pub received: MessageCounts,
    pub sent: MessageCounts,
    /// Times the session reached Established.
    pub established_transitions: u64,
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

/// The last thing that went wrong with a neighbor; its text is `last_error` in `bgpctl show
/// neighbors` (the same text a session [`Reason`] logs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    /// Our connect attempt failed.
    #[error("connect: {0}")]
    Connect(ConnectFailure),
    /// The kernel's TCP MD5 failure counters rose while the neighbor was not Established
    /// (RFC 2385: a key mismatch is otherwise silent).
    #[error("TCP MD5 signature mismatch")]
    Md5SignatureMismatch,
    /// RFC 4271 §6.5.
    #[error("hold timer expired")]
    HoldTimerExpired,
    /// RFC 9687: the neighbor stopped reading.
    #[error("send hold timer expired")]
    SendHoldTimerExpired,
    /// We sent a NOTIFICATION with this code.
    #[error("sent NOTIFICATION {0}")]
    NotificationSent(ErrorCode),
    /// The neighbor sent this NOTIFICATION.
    #[error("received NOTIFICATION {0}")]
    NotificationReceived(Notification),
    /// Stopped with Cease / Maximum Number of Prefixes Reached (RFC 4486); the NOTIFICATION
    /// sent.
    #[error("stopped: {0}")]
    MaxPrefixes(Notification),
    /// The TCP connection failed or was closed once the OPEN exchange had begun.
    #[error("TCP connection failed or closed")]
    ConnectionLost,
}

impl PeerError {
    /// The error a state change from `from` reports, if it is one to show. A failed connect
    /// attempt is reported where it happens, with the operating system's reason
    /// ([`PeerError::Connect`]); a connection lost before OPEN was sent is not an error.
    pub fn from_state_change(from: State, reason: &Reason) -> Option<PeerError> {
        Some(match reason {
            Reason::HoldTimerExpired => PeerError::HoldTimerExpired,
            Reason::SendHoldTimerExpired => PeerError::SendHoldTimerExpired,
            Reason::ErrorSent(code) => PeerError::NotificationSent(*code),
            Reason::NotificationReceived(notification) => {
                PeerError::NotificationReceived(notification.clone())
            }
            Reason::Stopped(stop @ StopReason::MaxPrefixes { .. }) => {
                PeerError::MaxPrefixes(stop.notification())
            }
            Reason::TcpFailed if from >= State::OpenSent => PeerError::ConnectionLost,
            _ => return None,
        })
    }
}

/// Why a connect attempt failed: the `io::ErrorKind` and, for an operating system error, its
/// code (shown as the system describes it, e.g. "Connection refused (os error 111)").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectFailure {
    pub kind: io::ErrorKind,
    pub os_code: Option<i32>,
}

impl From<&io::Error> for ConnectFailure {
    fn from(error: &io::Error) -> Self {
        ConnectFailure {
            kind: error.kind(),
            os_code: error.raw_os_error(),
        }
    }
}

impl fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.os_code {
            Some(code) => io::Error::from_raw_os_error(code).fmt(f),
            None => self.kind.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use proto::notification::{CeaseError, HeaderError};

    use super::*;

    /// `last_error` shows what it showed when it was a string: the session's reason, or
    /// `connect: ` and the operating system's error.
    #[test]
    fn errors_render_as_before() {
        let received = Notification::new(ErrorCode::Cease(CeaseError::AdministrativeReset));
        let max_prefixes = StopReason::MaxPrefixes {
            notification_data: Bytes::from_static(&[0, 1, 1, 0, 0, 0, 10]),
        };
        for reason in [
            Reason::HoldTimerExpired,
            Reason::SendHoldTimerExpired,
            Reason::ErrorSent(ErrorCode::MessageHeader(HeaderError::BadMessageLength)),
            Reason::NotificationReceived(received),
            Reason::Stopped(max_prefixes),
            Reason::TcpFailed,
        ] {
            let error = PeerError::from_state_change(State::Established, &reason)
                .unwrap_or_else(|| panic!("{reason} is an error"));
            assert_eq!(error.to_string(), reason.to_string());
        }
        let refused = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(
            PeerError::Connect(ConnectFailure::from(&refused)).to_string(),
            format!("connect: {refused}")
        );
        let timed_out = io::Error::from(io::ErrorKind::TimedOut);
        assert_eq!(
            PeerError::Connect(ConnectFailure::from(&timed_out)).to_string(),
            format!("connect: {timed_out}")
        );
    }

    #[test]
    fn only_errors_are_reported() {
        let stopped = Reason::Stopped(StopReason::AdministrativeShutdown(String::new()));
        assert_eq!(
            PeerError::from_state_change(State::Established, &stopped),
            None
        );
        assert_eq!(
            PeerError::from_state_change(State::Established, &Reason::Started),
            None
        );
        // A connection lost before our OPEN went out is a failed connect, reported as such.
        assert_eq!(
            PeerError::from_state_change(State::Connect, &Reason::TcpFailed),
            None
        );
        assert_eq!(
            PeerError::from_state_change(State::OpenSent, &Reason::TcpFailed),
            Some(PeerError::ConnectionLost)
        );
    }
}
