//! Identifiers and small value types shared by the RIB's modules: who a route came from, which
//! update group a neighbor belongs to, and the addresses this speaker uses as its own next hop.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use proto::attr::{Ipv6NextHop, NextHop};
use proto::AfiSafi;

/// A hash map with a fast hasher, for keys no neighbor chooses (ids, interned pointers).
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A neighbor, as numbered by the daemon. The RIB never invents one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerId(pub u32);

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "peer {}", self.0)
    }
}

/// An update group: neighbors with the same outbound view, numbered by the RIB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupId(pub u32);

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "group {}", self.0)
    }
}

/// Where a path in the Loc-RIB came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RouteSource {
    /// Originated by this speaker (a static route or a kernel route).
    Local,
    /// Learned from a neighbor.
    Peer(PeerId),
}

/// This speaker's own addresses on one session, used wherever the next hop is "self"
/// (RFC 4271 §5.1.3): towards external neighbors, with next-hop-self, and for locally
/// originated routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LocalAddresses {
    /// The next hop for IPv4 routes; usually the session's local address.
    pub ipv4: Option<Ipv4Addr>,
    /// The next hop for IPv6 routes (and for IPv4 routes over RFC 8950 when there is no IPv4
    /// address).
    pub ipv6: Option<Ipv6NextHop>,
}

impl LocalAddresses {
    /// Addresses from the local end of the session's TCP connection: the same family only.
    pub fn from_session(local: IpAddr) -> LocalAddresses {
        match local {
            IpAddr::V4(v4) => LocalAddresses {
                ipv4: Some(v4),
                ipv6: None,
            },
            IpAddr::V6(v6) => LocalAddresses {
                ipv4: v6.to_ipv4_mapped(),
                ipv6: Some(Ipv6NextHop {
                    global: v6,
                    link_local: None,
                }),
            },
        }
    }
}

/// How the next hop is chosen for routes sent to a neighbor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum NextHopPolicy {
    /// RFC 4271 §5.1.3: our own address towards external neighbors; unchanged towards internal
    /// ones, reflection included (RFC 4456 §10); our own for locally originated routes.
    #[default]
    Auto,
    /// Always our own address (next-hop-self).
    SelfAddress,
    /// Never changed, even towards external neighbors (RFC 4271 §5.1.3 third-party next hop);
    /// locally originated routes still carry our own address.
    Keep,
}

/// The family of a prefix.
pub fn family_of(prefix: &IpNet) -> AfiSafi {
    match prefix {
        IpNet::V4(_) => AfiSafi::Ipv4Unicast,
        IpNet::V6(_) => AfiSafi::Ipv6Unicast,
    }
}

/// The address a next hop forwards to, as the kernel would use it (the global IPv6 address).
pub fn forwarding_address(next_hop: &NextHop) -> IpAddr {
    match next_hop {
        NextHop::Ipv4(v4) => IpAddr::V4(*v4),
        NextHop::Ipv6(v6) => IpAddr::V6(v6.global),
    }
}
