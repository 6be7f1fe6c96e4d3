//! A typed description of a BGP speaker's configuration, rendered by each daemon module into
//! its own syntax, so one test can drive BIRD, GoBGP and FRR the same way.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use ipnet::IpNet;
pub use proto::session::AddPathConfig;
use proto::{AfiSafi, Asn, ClusterId, RouterId};

/// Hold time used when a test does not care: short, so failures show quickly
/// (keepalive = hold / 3, as RFC 4271 §10 suggests).
pub const DEFAULT_HOLD_TIME: HoldTime = HoldTime(9);

/// A BGP hold time in seconds (RFC 4271 §4.2: 0 or at least 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HoldTime(pub u16);

impl HoldTime {
    /// The keepalive interval the lab configures: a third of the hold time (RFC 4271 §10).
    pub fn keepalive(self) -> u16 {
        proto::session::default_keepalive(self.0)
    }

    pub fn as_duration(self) -> Duration {
        Duration::from_secs(u64::from(self.0))
    }
}

/// One configured neighbor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighborSpec {
    pub address: IpAddr,
    pub asn: Asn,
    /// Source address of the session; default: the host's LAN address of the same version.
    pub local_address: Option<IpAddr>,
    /// Wait for the neighbor to connect; never connect out.
    pub passive: bool,
    pub hold_time: HoldTime,
    /// TCP MD5 signature (RFC 2385) shared secret.
    pub password: Option<String>,
    /// `None`: directly connected (TTL 1 for eBGP, on-link check). `Some(ttl)`: multihop.
    pub multihop: Option<u8>,
    /// GTSM (RFC 5082): the neighbor may be this many hops away; sends with TTL 255.
    pub ttl_security: Option<u8>,
    /// Treat the neighbor as a route reflector client (RFC 4456); needs iBGP.
    pub rr_client: bool,
    /// Families to negotiate; empty means the family of `address` only.
    pub families: Vec<AfiSafi>,
    /// RFC 7911 ADD-PATH mode advertised to the neighbor, for all its families.
    pub add_path: AddPathConfig,
    /// Advertise graceful restart (RFC 4724) where the daemon makes it optional.
    pub graceful_restart: bool,
    /// Advertise extended next hop (RFC 8950) for IPv4 NLRI over IPv6 next hops.
    pub extended_next_hop: bool,
    /// Advertise extended messages (RFC 8654) where the daemon makes it optional.
    pub extended_message: bool,
}

impl NeighborSpec {
    /// A directly connected neighbor with lab defaults: active, 9 s hold time, no options.
    pub fn new(address: IpAddr, asn: Asn) -> NeighborSpec {
        NeighborSpec {
            address,
            asn,
            local_address: None,
            passive: false,
            hold_time: DEFAULT_HOLD_TIME,
            password: None,
            multihop: None,
            ttl_security: None,
            rr_client: false,
            families: Vec::new(),
            add_path: AddPathConfig::None,
            graceful_restart: false,
            extended_next_hop: false,
            extended_message: false,
        }
    }

    /// The families to configure: the explicit list, else the transport's own family.
    pub fn effective_families(&self) -> Vec<AfiSafi> {
        if !self.families.is_empty() {
            return self.families.clone();
        }
        match self.address {
            IpAddr::V4(_) => vec![AfiSafi::Ipv4Unicast],
            IpAddr::V6(_) => vec![AfiSafi::Ipv6Unicast],
        }
    }
}

/// RFC 1997 community `asn:value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Community(pub u16, pub u16);

impl Community {
    pub fn from_u32(value: u32) -> Community {
        let [a, b, c, d] = value.to_be_bytes();
        Community(u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d]))
    }
}

impl fmt::Display for Community {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.0, self.1)
    }
}

/// RFC 8092 large community `global:local1:local2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LargeCommunity(pub u32, pub u32, pub u32);

impl fmt::Display for LargeCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.0, self.1, self.2)
    }
}

/// RFC 4360 extended communities the lab can set on all three daemons.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExtCommunity {
    /// Two-octet-AS-specific route target (RFC 4360 §4, type 0x00 subtype 0x02).
    RouteTarget { asn: u16, value: u32 },
    /// Anything else, as the daemon printed it.
    Other(String),
}

impl fmt::Display for ExtCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtCommunity::RouteTarget { asn, value } => write!(f, "rt:{asn}:{value}"),
            ExtCommunity::Other(text) => f.write_str(text),
        }
    }
}

/// Attributes put on a locally originated route.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RouteAttrs {
    pub med: Option<u32>,
    /// Only sent on iBGP sessions (RFC 4271 §5.1.5).
    pub local_pref: Option<u32>,
    pub communities: Vec<Community>,
    pub large_communities: Vec<LargeCommunity>,
    pub ext_communities: Vec<ExtCommunity>,
    /// AS numbers put in the AS_PATH at origination, first = leftmost; on eBGP the speaker's
    /// own AS goes in front of them.
    pub as_path_prepend: Vec<Asn>,
}

/// A route the speaker originates (BIRD `protocol static`, FRR `network`, GoBGP `global rib
/// add`). The next hop is the daemon's own choice (itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginRoute {
    pub prefix: IpNet,
    pub attrs: RouteAttrs,
}

impl OriginRoute {
    pub fn new(prefix: IpNet) -> OriginRoute {
        OriginRoute {
            prefix,
            attrs: RouteAttrs::default(),
        }
    }

    pub fn with_attrs(prefix: IpNet, attrs: RouteAttrs) -> OriginRoute {
        OriginRoute { prefix, attrs }
    }
}

/// A whole speaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterSpec {
    pub router_id: RouterId,
    pub asn: Asn,
    /// Set: act as a route reflector with this cluster id towards `rr_client` neighbors.
    pub cluster_id: Option<ClusterId>,
    pub neighbors: Vec<NeighborSpec>,
    pub routes: Vec<OriginRoute>,
    /// Starling only: take the cluster's peers from etcd (the `[etcd]` section).
    pub datastore: Option<DatastoreSpec>,
}

/// Where a Starling node finds the cluster's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatastoreSpec {
    /// `http://ADDR:PORT`.
    pub endpoint: String,
    /// This node's name in the datastore; it registers itself under it.
    pub node: String,
}

impl RouterSpec {
    pub fn new(router_id: Ipv4Addr, asn: Asn) -> RouterSpec {
        RouterSpec {
            router_id: RouterId(router_id),
            asn,
            cluster_id: None,
            neighbors: Vec::new(),
            routes: Vec::new(),
            datastore: None,
        }
    }

    pub fn neighbor(mut self, neighbor: NeighborSpec) -> RouterSpec {
        self.neighbors.push(neighbor);
        self
    }

    pub fn route(mut self, route: OriginRoute) -> RouterSpec {
        self.routes.push(route);
        self
    }

    /// Every family some neighbor uses.
    pub fn families(&self) -> Vec<AfiSafi> {
        let mut families: Vec<AfiSafi> = self
            .neighbors
            .iter()
            .flat_map(NeighborSpec::effective_families)
            .collect();
        families.sort();
        families.dedup();
        families
    }
}
