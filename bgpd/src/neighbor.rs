//! A configured neighbor translated into what the peer task needs: the session configuration
//! for `proto::session` and the transport options for the socket. `config` describes; this
//! decides how the daemon runs it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use proto::session::{GracefulRestartConfig, SessionConfig};
use proto::{AfiSafiSet, RouterId};

use crate::socket::TransportOptions;

/// The first ConnectRetry interval; it doubles per failed attempt up to the configured
/// `connect_retry` (RFC 4271 §10 suggests 120 s as a fixed value; a short first retry makes a
/// restarted node rejoin quickly).
const FIRST_CONNECT_RETRY: Duration = Duration::from_secs(5);

/// Everything the peer task runs a neighbor with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighborSettings {
    pub name: String,
    /// The neighbor as shown to operators (`fe80::1%eth0` keeps its interface).
    pub display_address: String,
    pub address: SocketAddr,
    /// RFC 4456 client of this reflector.
    pub rr_client: bool,
    pub session: SessionConfig,
    pub transport: TransportOptions,
    /// What the RIB needs of the neighbor (announced with each session's PeerUp).
    pub rib: rr::PeerConfig,
    /// How long a session stopped for `max_prefixes` stays down; `None`: until the operator
    /// starts it again.
    pub max_prefixes_restart: Option<Duration>,
}

/// Why a neighbor cannot be run as configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NeighborError {
    #[error("interface {0} of link-local neighbor does not exist")]
    NoSuchInterface(String),
}

impl NeighborSettings {
    pub fn new(
        global: &config::Global,
        router_id: RouterId,
        neighbor: &config::Neighbor,
    ) -> Result<Self, NeighborError> {
        let mut session =
            SessionConfig::new(global.asn, router_id, neighbor.asn, neighbor.families);
        session.passive = neighbor.passive;
        session.hold_time = neighbor.timers.hold_time.seconds();
        let keepalive = u16::try_from(neighbor.timers.keepalive.as_secs()).unwrap_or(u16::MAX);
        // The configured keepalive is the default third of the hold time unless set otherwise.
        session.keepalive =
            (keepalive != neighbor.timers.hold_time.default_keepalive()).then_some(keepalive);
        session.connect_retry_max = neighbor.timers.connect_retry.max(Duration::from_secs(1));
        session.connect_retry = FIRST_CONNECT_RETRY.min(session.connect_retry_max);
        session.send_hold_time = neighbor.send_hold_time.map(|s| s.duration());
        session.idle_hold = neighbor.timers.error_wait_time.min();
        session.idle_hold_max = neighbor.timers.error_wait_time.max();
        session.add_path = neighbor.add_path;
        // IPv4 routes over an IPv6 session need IPv6 next hops (RFC 8950).
        session.extended_next_hop = neighbor.address.ip.is_ipv6()
            && neighbor.families.contains(proto::AfiSafi::Ipv4Unicast);
        if global.graceful_restart.enabled {
            session.graceful_restart = Some(GracefulRestartConfig {
                restart_time: global.graceful_restart.restart_time.seconds(),
                restarting: false,
                forwarding_preserved: AfiSafiSet::EMPTY,
                long_lived_stale_time: global
                    .graceful_restart
                    .long_lived_time
                    .map(|time| time.seconds()),
                // RFC 8538: offered whenever graceful restart is; it counts where the
                // neighbor offers it too.
                notification: true,
            });
        }
        let scope_id = match &neighbor.address.interface {
            Some(interface) => Some(
                interface_index(interface.as_str())
                    .ok_or_else(|| NeighborError::NoSuchInterface(interface.as_str().to_owned()))?,
            ),
            None => None,
        };
        let transport = TransportOptions {
            md5_key: neighbor
                .password
                .as_ref()
                .map(|p| p.expose().as_bytes().to_vec()),
            min_ttl: neighbor.ttl_security.map(|t| t.min_ttl()),
            local_address: neighbor.local_address,
            scope_id,
        };
        Ok(NeighborSettings {
            name: neighbor.name.clone(),
            display_address: neighbor.address.to_string(),
            address: SocketAddr::new(neighbor.address.ip, neighbor.port),
            rr_client: neighbor.rr_client,
            session,
            transport,
            rib: crate::rib::peer_config(neighbor, global.asn),
            max_prefixes_restart: neighbor.max_prefixes_restart.map(|d| d.duration()),
        })
    }
}

/// The index of a network interface (if_nametoindex(3)), `None` when there is none so named.
pub(crate) fn interface_index(name: &str) -> Option<u32> {
    let name = std::ffi::CString::new(name).ok()?;
    // SAFETY: `name` is a valid NUL-terminated string for the duration of the call.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    (index != 0).then_some(index)
}

/// RFC 4271 §4.2 leaves the choice of BGP Identifier to the operator; like BIRD we default to
/// the first non-loopback IPv4 address of the host.
pub fn default_router_id() -> Option<RouterId> {
    let mut addresses: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `addresses` with a list we free below.
    if unsafe { libc::getifaddrs(&mut addresses) } != 0 {
        return None;
    }
    let mut found = None;
    let mut cursor = addresses;
    while !cursor.is_null() && found.is_none() {
        // SAFETY: `cursor` is a node of the list getifaddrs returned.
        let entry = unsafe { &*cursor };
        if !entry.ifa_addr.is_null() {
            // SAFETY: `ifa_addr` is non-null and points to a sockaddr of the family it names.
            let family = unsafe { (*entry.ifa_addr).sa_family };
            if i32::from(family) == libc::AF_INET {
                // SAFETY: AF_INET addresses are `sockaddr_in`.
                let v4 = unsafe { &*(entry.ifa_addr as *const libc::sockaddr_in) };
                let address = Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
                if !address.is_loopback() && !address.is_unspecified() {
                    found = Some(RouterId(address));
                }
            }
        }
        cursor = entry.ifa_next;
    }
    // SAFETY: `addresses` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(addresses) };
    found
}

/// Whether an accepted connection from `remote` belongs to this neighbor (link-local
/// neighbors also match on the interface).
pub fn matches(settings: &NeighborSettings, remote: &SocketAddr) -> bool {
    let ip = canonical(remote.ip());
    if ip != settings.address.ip() {
        return false;
    }
    match (remote, settings.transport.scope_id) {
        (SocketAddr::V6(v6), Some(scope)) => v6.scope_id() == scope,
        _ => true,
    }
}

/// An IPv4 peer seen through an IPv6 socket arrives as `::ffff:a.b.c.d`.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}
