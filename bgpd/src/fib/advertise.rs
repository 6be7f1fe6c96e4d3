//! The advertise half of the FIB: which kernel routes are this node's own
//! (`[kernel.advertise]`), to originate into BGP: pod routes a CNI plugin installs on veth
//! interfaces, or the blackhole covering a node's address block. A route matches when it lies
//! inside a configured pool, carries a listed protocol (`rtm_protocol`), and either leaves
//! through a listed interface or is a blackhole while blackholes are allowed.
//!
//! [`Mirror`] is the FIB's one copy of the matching kernel routes (prefix → the metrics of its
//! matching routes), with, per prefix, whether the RIB task has been told of it: events are
//! coalesced per prefix (an add then a remove before the RIB took either is no event at all)
//! and wait here, never blocking the FIB task, while the RIB's queue is full. The RIB task
//! keeps what it originates of them; nobody else keeps the set.

use std::collections::{HashMap, VecDeque};

use config::{InterfacePattern, KernelAdvertise, RouteProtocol};
use ipnet::IpNet;
use smallvec::SmallVec;

use super::state::{KernelRoute, KernelRouteEvent, RouteKind};

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

/// A prefix with a matching kernel route, or one the RIB still has to be told is gone.
#[derive(Debug, Default)]
struct Mirrored {
    /// The metrics of its matching kernel routes (usually one).
    metrics: SmallVec<[u32; 2]>,
    /// The RIB was told it exists.
    reported: bool,
    /// In the queue of prefixes whose telling may be due.
    unreported: bool,
}

/// See the module documentation.
#[derive(Debug)]
pub struct Mirror {
    filter: Option<Advertise>,
    prefixes: HashMap<IpNet, Mirrored>,
    unreported: VecDeque<IpNet>,
    /// A full dump in progress: the matching routes it found so far (prefix → metrics).
    dump: Option<HashMap<IpNet, SmallVec<[u32; 2]>>>,
}

impl Mirror {
    pub fn new(filter: Option<Advertise>) -> Mirror {
        Mirror {
            filter,
            prefixes: HashMap::new(),
            unreported: VecDeque::new(),
            dump: None,
        }
    }

    /// A new filter; returns whether it differs (the kernel routes must then be dumped again
    /// to be judged by it).
    pub fn set_filter(&mut self, filter: Option<Advertise>) -> bool {
        let changed = self.filter != filter;
        self.filter = filter;
        changed
    }

    /// A route of another protocol in our table came or went; `links` names interfaces.
    pub fn route(&mut self, added: bool, route: &KernelRoute, links: &HashMap<u32, String>) {
        let matches = added
            && self
                .filter
                .as_ref()
                .is_some_and(|filter| filter.matches(route, links));
        if let Some(dump) = &mut self.dump {
            if matches {
                let metrics = dump.entry(route.prefix).or_default();
                if !metrics.contains(&route.priority) {
                    metrics.push(route.priority);
                }
            }
            return;
        }
        let known = self.prefixes.contains_key(&route.prefix);
        if !matches && !known {
            return;
        }
        let mirrored = self.prefixes.entry(route.prefix).or_default();
        mirrored.metrics.retain(|metric| *metric != route.priority);
        if matches {
            mirrored.metrics.push(route.priority);
        }
        self.unreport(route.prefix);
    }

    pub fn begin_dump(&mut self) {
        self.dump = Some(HashMap::new());
    }

    /// The dump is complete: what it found replaces what was known.
    pub fn end_dump(&mut self) {
        let Some(mut dump) = self.dump.take() else {
            return;
        };
        let known: Vec<IpNet> = self.prefixes.keys().copied().collect();
        for prefix in known {
            let metrics = dump.remove(&prefix).unwrap_or_default();
            if let Some(mirrored) = self.prefixes.get_mut(&prefix) {
                mirrored.metrics = metrics;
            }
            self.unreport(prefix);
        }
        for (prefix, metrics) in dump {
            self.prefixes.entry(prefix).or_default().metrics = metrics;
            self.unreport(prefix);
        }
    }

    fn unreport(&mut self, prefix: IpNet) {
        if let Some(mirrored) = self.prefixes.get_mut(&prefix) {
            if !mirrored.unreported {
                mirrored.unreported = true;
                self.unreported.push_back(prefix);
            }
        }
    }

    /// The next advertisement change for the RIB.
    pub fn next_event(&mut self) -> Option<KernelRouteEvent> {
        while let Some(prefix) = self.unreported.pop_front() {
            let Some(mirrored) = self.prefixes.get_mut(&prefix) else {
                continue;
            };
            mirrored.unreported = false;
            let present = !mirrored.metrics.is_empty();
            let event = match (present, mirrored.reported) {
                (true, false) => Some(KernelRouteEvent::Add { prefix }),
                (false, true) => Some(KernelRouteEvent::Remove { prefix }),
                _ => None,
            };
            mirrored.reported = present;
            if !present {
                self.prefixes.remove(&prefix);
            }
            if event.is_some() {
                return event;
            }
        }
        None
    }

    pub fn has_events(&self) -> bool {
        !self.unreported.is_empty()
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
