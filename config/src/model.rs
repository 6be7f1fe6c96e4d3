//! The checked configuration: what the daemon runs with. Every value here has passed
//! validation and every default is resolved (a neighbor's hold time is its own or the global
//! one). The structs are `#[non_exhaustive]`: other crates read them but cannot build them,
//! so a `Config` always comes from [`Config::load`], [`Config::from_toml`] or
//! [`Config::combine`].

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use proto::session::AddPathConfig;
use proto::{AfiSafiSet, Asn, ClusterId, RouterId};

use crate::policy::Policy;
use crate::types::{
    Community, ErrorWaitTime, HoldTime, InterfacePattern, LogFormat, LogLevel, LongLivedTime,
    NextHopMode, Password, PeerAddress, RestartDelay, RestartTime, RouteProtocol, SendHoldTime,
    TtlSecurity,
};

/// A whole, checked configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    pub global: Global,
    /// `None`: no kernel I/O at all (a pure route reflector).
    pub kernel: Option<Kernel>,
    /// In file order, then those derived from the datastore; addresses and names are unique.
    pub neighbors: Vec<Neighbor>,
    /// Locally originated routes; prefixes are unique.
    pub routes: Vec<Route>,
    /// `None`: file-only mode.
    pub etcd: Option<Etcd>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Global {
    pub asn: Asn,
    /// `None`: the daemon uses the first non-loopback IPv4 address of the host, and fails if
    /// there is none (that needs the host's interfaces, which this crate does not read).
    pub router_id: Option<RouterId>,
    /// Empty: never accept connections.
    pub listen: Vec<SocketAddr>,
    pub hold_time: HoldTime,
    /// Set: this speaker is a route reflector with this CLUSTER_ID (RFC 4456 §7).
    pub cluster_id: Option<ClusterId>,
    pub control_socket: PathBuf,
    /// `None`: no metrics endpoint.
    pub metrics_listen: Option<SocketAddr>,
    /// Per-neighbor metric series; off on big meshes, where they would be thousands.
    pub metrics_neighbor_labels: bool,
    pub state_dir: PathBuf,
    pub graceful_restart: GracefulRestart,
    /// The neighbors' idle hold after an error, unless they set their own.
    pub error_wait_time: ErrorWaitTime,
    pub log_format: LogFormat,
    pub log_level: LogLevel,
}

impl Global {
    /// RFC 4271 §8.2.1 / §6.2: the suggested default port.
    pub const DEFAULT_PORT: u16 = 179;
    pub const DEFAULT_CONTROL_SOCKET: &'static str = "/run/starling/bgpd.ctl";
    pub const DEFAULT_STATE_DIR: &'static str = "/var/lib/starling";
}

/// Graceful restart (RFC 4724) as we advertise it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct GracefulRestart {
    pub enabled: bool,
    pub restart_time: RestartTime,
    /// Long-lived graceful restart (RFC 9494) stale time we offer; `None`: not offered.
    pub long_lived_time: Option<LongLivedTime>,
    /// How long a restarting speaker waits for End-of-RIB from its neighbors before it
    /// decides and sweeps the kernel (RFC 4724 §4.1 Selection_Deferral_Timer).
    pub selection_deferral_time: Duration,
}

impl GracefulRestart {
    /// The Selection_Deferral_Timer when not configured: the restart time neighbors give us
    /// is typically 120 s too (BIRD's and FRR's default restart time).
    pub const DEFAULT_SELECTION_DEFERRAL_TIME: Duration = Duration::from_secs(120);
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Kernel {
    /// Install learned best routes.
    pub program: bool,
    /// The rtnetlink protocol of the routes Starling owns; above `RTPROT_STATIC`.
    pub protocol: RouteProtocol,
    /// Routing table id; never 0 (`RT_TABLE_UNSPEC`).
    pub table: u32,
    /// Next hops per installed multipath route, 1..=256.
    pub ecmp_max_paths: u16,
    /// Keep installed routes when stopping; defaults to `graceful_restart.enabled`.
    pub persist_on_exit: bool,
    /// `None`: no kernel route is advertised.
    pub advertise: Option<KernelAdvertise>,
}

impl Kernel {
    /// `RT_TABLE_MAIN`.
    pub const DEFAULT_TABLE: u32 = 254;
    pub const DEFAULT_ECMP_MAX_PATHS: u16 = 16;
    pub const MAX_ECMP_PATHS: u16 = 256;
}

/// Which kernel routes are this node's own (pod) routes, to advertise.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KernelAdvertise {
    /// A route is advertised only inside one of these; empty means "the datastore's pools".
    pub prefixes: Vec<IpNet>,
    pub protocols: Vec<RouteProtocol>,
    /// Empty: any interface.
    pub interfaces: Vec<InterfacePattern>,
    /// Blackhole routes (which have no interface) match too.
    pub blackhole: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Neighbor {
    /// Unique; defaults to the address.
    pub name: String,
    pub description: Option<String>,
    pub address: PeerAddress,
    pub asn: Asn,
    pub port: u16,
    /// Source address of our connections; same family as `address`.
    pub local_address: Option<IpAddr>,
    /// Never connect; wait for the neighbor.
    pub passive: bool,
    /// Never empty; defaults to the unicast family of `address`.
    pub families: AfiSafiSet,
    /// RFC 4456: a client of this route reflector (iBGP only).
    pub rr_client: bool,
    pub next_hop: NextHopMode,
    /// TCP MD5 key (RFC 2385), given inline or read from `password_file`.
    pub password: Option<Password>,
    pub ttl_security: Option<TtlSecurity>,
    pub timers: Timers,
    /// Cease / Maximum Number of Prefixes Reached (RFC 4486 §4) above this many.
    pub max_prefixes: Option<NonZeroU32>,
    /// After a `max_prefixes` stop, start the session again after this long; `None`: it stays
    /// down until an operator enables or resets it (RFC 4486 §4 leaves this to the operator).
    pub max_prefixes_restart: Option<RestartDelay>,
    /// RFC 9687 send hold time: a neighbor that takes no data for this long is dropped;
    /// `None`: the RFC's max(8 minutes, 2 × hold time).
    pub send_hold_time: Option<SendHoldTime>,
    /// ADD-PATH (RFC 7911) directions we advertise in the capability, for every family of
    /// the neighbor.
    pub add_path: AddPathConfig,
    /// Added to what we advertise to this neighbor, before the export policies run.
    pub communities: Vec<Community>,
    /// Import policies in order (`import`), resolved from their names.
    pub import: Vec<Policy>,
    /// Export policies in order (`export`), resolved from their names.
    pub export: Vec<Policy>,
}

impl Neighbor {
    /// iBGP (RFC 4271 §1.1: the neighbor is in our own AS).
    pub fn is_internal(&self, local: Asn) -> bool {
        self.asn == local
    }
}

/// Session timers, resolved against their defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timers {
    pub hold_time: HoldTime,
    /// Zero exactly when `hold_time` is zero (RFC 4271 §4.4: no KEEPALIVE then); otherwise
    /// at most a third of it. The session uses min(this, negotiated hold time / 3).
    pub keepalive: Duration,
    /// RFC 4271 §8.2.2 ConnectRetryTimer.
    pub connect_retry: Duration,
    /// The idle hold after an error (the neighbor's `error_wait_time`, else the global one).
    pub error_wait_time: ErrorWaitTime,
}

impl Timers {
    /// RFC 4271 §10: suggested ConnectRetryTime.
    pub const DEFAULT_CONNECT_RETRY: Duration = Duration::from_secs(120);
}

/// A locally originated route, advertised with our own next hop.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Route {
    pub prefix: IpNet,
    pub communities: Vec<Community>,
}

/// The datastore connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Etcd {
    /// Never empty; each `http://` or `https://`.
    pub endpoints: Vec<String>,
    /// Starts with `/`, no trailing `/`.
    pub prefix: String,
    /// This node's name in the datastore; `None`: the daemon uses the host name.
    pub node: Option<String>,
    pub register: bool,
    pub tls: Option<EtcdTls>,
    pub auth: Option<EtcdAuth>,
}

impl Etcd {
    pub const DEFAULT_ENDPOINT: &'static str = "http://127.0.0.1:2379";
    pub const DEFAULT_PREFIX: &'static str = "/starling/v1";
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EtcdTls {
    /// `None`: the system's roots.
    pub ca: Option<PathBuf>,
    /// Client certificate and its key, for mutual TLS.
    pub identity: Option<(PathBuf, PathBuf)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EtcdAuth {
    pub username: String,
    pub password: Password,
}
