//! Which kernel routes are this node's own (`[kernel.advertise]`), to originate into BGP: pod
//! routes a CNI plugin installs on veth interfaces, or the blackhole covering a node's address
//! block. A route matches when it lies inside a configured pool, carries a listed protocol
//! (`rtm_protocol`), and either leaves through a listed interface or is a blackhole while
//! blackholes are allowed.

use std::collections::HashMap;

use config::{InterfacePattern, KernelAdvertise, RouteProtocol};
use ipnet::IpNet;

use super::state::{KernelRoute, RouteKind};

/// The advertise filter, from `config::KernelAdvertise`.
#[derive(Debug, Clone)]
pub struct Advertise {
    /// Empty matches nothing: the daemon passes the datastore's pools when the file lists none.
    pools: Vec<IpNet>,
    protocols: Vec<RouteProtocol>,
    /// Empty: any interface.
    interfaces: Vec<InterfacePattern>,
    blackhole: bool,
}

impl Advertise {
    pub fn new(config: &KernelAdvertise) -> Advertise {
        Advertise {
            pools: config.prefixes.clone(),
            protocols: config.protocols.clone(),
            interfaces: config.interfaces.clone(),
            blackhole: config.blackhole,
        }
    }

    /// Whether `route` is one to advertise; `links` names interfaces by index.
    pub fn matches(&self, route: &KernelRoute, links: &HashMap<u32, String>) -> bool {
        let in_pool = self.pools.iter().any(|pool| pool.contains(&route.prefix));
        let listed = self.protocols.contains(&RouteProtocol(route.protocol));
        in_pool
            && listed
            && match route.kind {
                RouteKind::Blackhole => self.blackhole,
                RouteKind::Unicast => self.interface_matches(route, links),
                RouteKind::Other => false,
            }
    }

    fn interface_matches(&self, route: &KernelRoute, links: &HashMap<u32, String>) -> bool {
        if self.interfaces.is_empty() {
            return true;
        }
        let Some(name) = route.interface.and_then(|index| links.get(&index)) else {
            return false;
        };
        self.interfaces.iter().any(|pattern| pattern.matches(name))
    }
}
