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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertise {
    /// Empty matches nothing: with no `prefixes` in the file, the datastore's pools fill them
    /// (`config::Config::combine`), and a reload brings them.
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    const BOOT: u8 = 3;
    const STATIC: u8 = 4;
    const BGP: u8 = 186;

    /// `[kernel.advertise]` as an operator writes it.
    pub(in crate::fib) fn advertise() -> Advertise {
        let text = "[global]\nasn = 64512\n[kernel]\n[kernel.advertise]\n\
                    prefixes = [\"10.244.0.0/16\", \"fd00:10:244::/56\"]\n\
                    protocols = [\"kernel\", \"boot\", \"static\"]\n\
                    interfaces = [\"cni0\", \"cali*\"]\nblackhole = true\n";
        let config = config::Config::from_toml(text, "test", std::path::Path::new("."))
            .unwrap_or_else(|errors| panic!("test config: {errors:?}"));
        let kernel = config
            .kernel
            .unwrap_or_else(|| panic!("test config has [kernel]"));
        let advertise = kernel.advertise.as_ref();
        Advertise::new(advertise.unwrap_or_else(|| panic!("test config has [kernel.advertise]")))
    }

    /// Whether a route of `protocol` and `kind` to `prefix` via interface `interface` matches.
    fn check(prefix: &str, protocol: u8, kind: RouteKind, interface: Option<u32>, expected: bool) {
        let links = HashMap::from([
            (3, "cali1a2b".to_owned()),
            (4, "eth0".to_owned()),
            (5, "cni0".to_owned()),
        ]);
        let route = KernelRoute {
            prefix: prefix.parse().expect("test prefix"),
            table: 254,
            protocol,
            kind,
            priority: 0,
            interface,
            next_hops: Vec::new(),
        };
        assert_eq!(advertise().matches(&route, &links), expected, "{route:?}");
    }

    #[test]
    fn filter() {
        use RouteKind::*;
        check("10.244.1.5/32", BOOT, Unicast, Some(3), true); // a pod on cali*
        check("10.244.1.0/24", STATIC, Unicast, Some(5), true); // the bridge cni0
        check("fd00:10:244::5/128", BOOT, Unicast, Some(3), true);
        check("10.244.1.0/26", BOOT, Blackhole, None, true); // the node's block
        check("10.244.1.5/32", BOOT, Unicast, Some(4), false); // eth0 not listed
        check("10.244.1.5/32", BOOT, Unicast, Some(9), false); // unknown interface
        check("10.245.1.5/32", BOOT, Unicast, Some(3), false); // outside the pools
        check("10.0.0.0/8", BOOT, Unicast, Some(3), false); // covers, not inside, a pool
        check("10.244.1.5/32", BGP, Unicast, Some(3), false); // learned, not ours to originate
        check("10.244.1.5/32", BOOT, Other, Some(3), false); // local, unreachable, …
    }
}
