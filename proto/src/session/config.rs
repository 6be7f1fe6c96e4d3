//! What the local side of one session is configured to do: the inputs to our OPEN and to
//! negotiation. Built by the daemon from its configuration; `proto` does not read files.

use std::time::Duration;

use crate::types::{AfiSafiSet, Asn, RouterId};

/// ADD-PATH (RFC 7911) mode requested for the session's families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AddPathConfig {
    #[default]
    None,
    Receive,
    Send,
    Both,
}

impl AddPathConfig {
    pub fn receives(self) -> bool {
        matches!(self, AddPathConfig::Receive | AddPathConfig::Both)
    }

    pub fn sends(self) -> bool {
        matches!(self, AddPathConfig::Send | AddPathConfig::Both)
    }
}

/// The keepalive interval for a hold time when none is configured: a third of it (RFC 4271
/// §10), at least a second; zero when the hold time is zero (no KEEPALIVEs, §4.4).
pub fn default_keepalive(hold_time: u16) -> u16 {
    if hold_time == 0 {
        0
    } else {
        (hold_time / 3).max(1)
    }
}

/// Graceful restart (RFC 4724) as we announce it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GracefulRestartConfig {
    /// Seconds the peer should keep our routes after the session drops (12 bits on the wire).
    pub restart_time: u16,
    /// We are restarting now (the Restart State bit, RFC 4724 §3).
    pub restarting: bool,
    /// Families whose forwarding state we preserved across our restart (the F bit).
    pub forwarding_preserved: AfiSafiSet,
    /// Long-lived graceful restart stale time in seconds (RFC 9494, 24 bits); `None` = not offered.
    pub long_lived_stale_time: Option<u32>,
    /// Offer the N bit (RFC 8538 §2): with a neighbor that sets it too, a NOTIFICATION other
    /// than Cease / Hard Reset ends the session as gracefully as a lost connection.
    pub notification: bool,
}

/// The local configuration of one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    pub local_asn: Asn,
    pub local_router_id: RouterId,
    /// The AS the peer must announce (RFC 4271 §6.2 Bad Peer AS otherwise).
    pub peer_asn: Asn,
    /// Never connect; wait for the peer (RFC 4271 §8.1.1 PassiveTcpEstablishment).
    pub passive: bool,
    /// Hold time we propose, seconds: 0 (no keepalives) or 3..=65535.
    pub hold_time: u16,
    /// Keepalive interval, seconds; `None` = a third of the negotiated hold time.
    pub keepalive: Option<u16>,
    /// First ConnectRetry interval; doubles per failed attempt up to `connect_retry_max`.
    pub connect_retry: Duration,
    pub connect_retry_max: Duration,
    /// Wait after an error before starting again (§8.1.1 IdleHoldTime, the operator's
    /// `error_wait_time` minimum): the first wait is exactly this; it doubles (jittered, never
    /// below it) on repeated errors up to `idle_hold_max`, and starts again from here once a
    /// session stayed Established for `idle_hold_max`.
    pub idle_hold: Duration,
    pub idle_hold_max: Duration,
    /// RFC 9687 send hold time; `None` = max(8 minutes, 2 × negotiated hold time).
    pub send_hold_time: Option<Duration>,
    /// Families we offer with the multiprotocol capability (RFC 4760).
    pub families: AfiSafiSet,
    pub add_path: AddPathConfig,
    /// Offer IPv4 unicast NLRI with IPv6 next hops (RFC 8950).
    pub extended_next_hop: bool,
    /// Offer messages up to 65535 octets (RFC 8654).
    pub extended_message: bool,
    pub graceful_restart: Option<GracefulRestartConfig>,
    /// FQDN capability: host name and domain name.
    pub hostname: Option<(String, String)>,
}

impl SessionConfig {
    /// A configuration with the RFC 4271 §10 defaults (hold time 180, keepalive 60) and the
    /// capabilities Starling offers by default.
    pub fn new(
        local_asn: Asn,
        local_router_id: RouterId,
        peer_asn: Asn,
        families: AfiSafiSet,
    ) -> Self {
        SessionConfig {
            local_asn,
            local_router_id,
            peer_asn,
            passive: false,
            hold_time: 180,
            keepalive: None,
            connect_retry: Duration::from_secs(5),
            connect_retry_max: Duration::from_secs(30),
            idle_hold: Duration::from_secs(1),
            idle_hold_max: Duration::from_secs(60),
            send_hold_time: None,
            families,
            add_path: AddPathConfig::None,
            extended_next_hop: false,
            extended_message: true,
            graceful_restart: None,
            hostname: None,
        }
    }

    /// Internal BGP: the peer is in our AS.
    pub fn is_internal(&self) -> bool {
        self.local_asn == self.peer_asn
    }
}
