//! The FIB's decisions, without I/O: what the RIB wants, what the kernel has (of our protocol,
//! table and metric), what is in flight, and which requests to send next. The task in
//! [`super`] feeds it kernel answers and events and sends the [`Request`]s it returns.
//!
//! Invariants (design.md §1.9, "the kernel is shared"):
//! - a request only ever names our protocol, table and metric, so a route of another protocol
//!   is never replaced or deleted (the kernel matches a delete on `rtm_protocol`, and a replace
//!   on the (prefix, metric) key: no replace is sent while a foreign route holds that key);
//! - routes of our protocol found at start are *adopted*: kept, and only swept (deleted if the
//!   RIB did not claim them) after [`FibState::converged`], so a restart does not flap;
//! - per prefix only the latest wanted state matters (coalescing): a prefix is queued once
//!   however often it changes, and decided when its turn comes.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, Ipv6Addr};

use ipnet::IpNet;
use serde::Serialize;

use super::advertise::Advertise;
use super::netlink::{KernelError, Owner};

/// A next hop as the kernel takes it: an address of the prefix's family, and the interface for
/// an IPv6 link-local address (its scope).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NextHop {
    pub address: IpAddr,
    pub interface: Option<u32>,
}

/// What a kernel route message said (see `netlink::kernel_route`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelRoute {
    pub prefix: IpNet,
    pub table: u32,
    pub protocol: u8,
    pub kind: RouteKind,
    pub priority: u32,
    /// `RTA_OIF`, or the first path's interface of a multipath route.
    pub interface: Option<u32>,
    pub next_hops: Vec<NextHop>,
}

/// `rtm_type`, as far as the FIB cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteKind {
    Unicast,
    Blackhole,
    Other,
}

/// A change to send to the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `RTM_NEWROUTE` with `NLM_F_REPLACE | NLM_F_CREATE` at our metric.
    Replace {
        prefix: IpNet,
        next_hops: Vec<NextHop>,
    },
    /// `RTM_DELROUTE` of our route at `metric`.
    Delete { prefix: IpNet, metric: u32 },
}

/// One row of `bgpctl show fib`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FibEntry {
    pub prefix: IpNet,
    /// What the RIB asked for (or, for an adopted route not yet claimed, what the kernel has).
    pub next_hops: Vec<IpAddr>,
    /// The kernel has exactly this route.
    pub installed: bool,
    /// The kernel's answer to the last failed attempt; retried.
    pub error: Option<String>,
}

/// What the metrics and the restart bits need of the table, counted without listing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FibFigures {
    /// Prefixes the kernel holds exactly as the RIB asked.
    pub installed: usize,
    /// Prefixes whose last attempt failed (retried).
    pub failures: usize,
    /// The families of which the kernel holds a route of ours (right after start: what was
    /// adopted, the forwarding state that survived a restart).
    pub families: proto::AfiSafiSet,
}

/// A kernel-route advertisement change for the RIB (`Originate` / `WithdrawLocal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelRouteEvent {
    /// A kernel route matching `[kernel.advertise]` now exists for this prefix.
    Add { prefix: IpNet },
    /// No matching kernel route is left for this prefix.
    Remove { prefix: IpNet },
}

/// What the RIB asked for a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Wanted {
    requested: Vec<IpAddr>,
    /// The next hops to install, or why there are none.
    resolved: Result<Vec<NextHop>, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct InFlight {
    prefix: IpNet,
    request: Request,
}

/// See the module documentation.
#[derive(Debug)]
pub struct FibState {
    owner: Owner,
    ecmp_max_paths: usize,
    program: bool,
    converged: bool,
    wanted: HashMap<IpNet, Wanted>,
    /// Our routes at our metric as the kernel has them (acknowledged, dumped or notified).
    installed: HashMap<IpNet, Vec<NextHop>>,
    /// Routes of ours found by a dump before convergence that the RIB has not mentioned since.
    adopted: HashSet<IpNet>,
    /// Our routes at another metric (an older configuration): deleted at the sweep.
    strays: HashSet<(IpNet, u32)>,
    /// Prefixes where a route of another protocol sits at our metric: a replace would
    /// overwrite it (same kernel key), so we install nothing there while it stays.
    occupied: HashSet<IpNet>,
    errors: HashMap<IpNet, String>,
    queue: VecDeque<IpNet>,
    queued: HashSet<IpNet>,
    in_flight: HashMap<u32, InFlight>,
    /// The latest request in flight per prefix, by sequence number.
    latest: HashMap<IpNet, u32>,
    link_local_scopes: HashMap<Ipv6Addr, u32>,
    advertise: Option<Advertise>,
    links: HashMap<u32, String>,
    links_up: HashSet<u32>,
    /// Kernel routes matching the advertise filter: prefix → their metrics.
    advertised: HashMap<IpNet, Vec<u32>>,
    /// What the RIB was last told, and the prefixes whose telling is due.
    reported: HashSet<IpNet>,
    unreported: VecDeque<IpNet>,
    unreported_set: HashSet<IpNet>,
    /// A full dump in progress: what it has found so far.
    dump: Option<Dump>,
}

#[derive(Debug, Default)]
struct Dump {
    installed: HashMap<IpNet, Vec<NextHop>>,
    strays: HashSet<(IpNet, u32)>,
    occupied: HashSet<IpNet>,
    advertised: HashMap<IpNet, Vec<u32>>,
}

impl FibState {
    pub fn new(
        owner: Owner,
        ecmp_max_paths: usize,
        program: bool,
        advertise: Option<Advertise>,
    ) -> FibState {
        FibState {
            owner,
            ecmp_max_paths: ecmp_max_paths.max(1),
            program,
            converged: false,
            wanted: HashMap::new(),
            installed: HashMap::new(),
            adopted: HashSet::new(),
            strays: HashSet::new(),
            occupied: HashSet::new(),
            errors: HashMap::new(),
            queue: VecDeque::new(),
            queued: HashSet::new(),
            in_flight: HashMap::new(),
            latest: HashMap::new(),
            link_local_scopes: HashMap::new(),
            advertise,
            links: HashMap::new(),
            links_up: HashSet::new(),
            advertised: HashMap::new(),
            reported: HashSet::new(),
            unreported: VecDeque::new(),
            unreported_set: HashSet::new(),
            dump: None,
        }
    }

    /// The RIB's best next hops for `prefix`; `None` withdraws it.
    pub fn want(&mut self, prefix: IpNet, next_hops: Option<&[IpAddr]>) {
        if !self.program {
            return;
        }
        // Claimed or withdrawn by the RIB: no longer merely adopted.
        self.adopted.remove(&prefix);
        match next_hops {
            Some(next_hops) => {
                let resolved = self.resolve(prefix, next_hops);
                self.wanted.insert(
                    prefix,
                    Wanted {
                        requested: next_hops.to_vec(),
                        resolved,
                    },
                );
            }
            None => {
                self.wanted.remove(&prefix);
            }
        }
        self.enqueue(prefix);
    }

    /// The daemon learned the interface of an IPv6 link-local next hop (a neighbor configured
    /// as `fe80::1%eth0`); prefixes via it are resolved again.
    pub fn set_link_local_scope(&mut self, address: Ipv6Addr, interface: u32) {
        self.link_local_scopes.insert(address, interface);
        let affected: Vec<IpNet> = self
            .wanted
            .iter()
            .filter(|(_, wanted)| wanted.requested.contains(&IpAddr::V6(address)))
            .map(|(prefix, _)| *prefix)
            .collect();
        for prefix in affected {
            if let Some(wanted) = self.wanted.get(&prefix) {
                let requested = wanted.requested.clone();
                self.want(prefix, Some(&requested));
            }
        }
    }

    /// A new advertise filter; returns whether it differs (the kernel routes must then be
    /// dumped again to be judged by it).
    pub fn set_advertise(&mut self, advertise: Option<Advertise>) -> bool {
        let changed = self.advertise != advertise;
        self.advertise = advertise;
        changed
    }

    /// Initial convergence is done: adopted routes the RIB did not claim are swept.
    pub fn converged(&mut self) {
        self.converged = true;
        self.adopted.clear();
        let unclaimed: Vec<IpNet> = self
            .installed
            .keys()
            .filter(|prefix| !self.wanted.contains_key(prefix))
            .copied()
            .collect();
        for prefix in unclaimed {
            self.enqueue(prefix);
        }
    }

    /// Stopping without `persist_on_exit`: every route we own is to be deleted.
    pub fn withdraw_all(&mut self) {
        self.wanted.clear();
        self.converged();
    }

    /// Queue every prefix with a failed attempt (a link, address or route changed, or the
    /// periodic retry).
    pub fn retry_failed(&mut self) {
        let failed: Vec<IpNet> = self.errors.keys().copied().collect();
        for prefix in failed {
            self.enqueue(prefix);
        }
    }

    pub fn has_failures(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Nothing queued and nothing awaiting an acknowledgement.
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty() && self.in_flight.is_empty() && self.sweepable_strays() == 0
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    fn sweepable_strays(&self) -> usize {
        if self.converged {
            self.strays.len()
        } else {
            0
        }
    }

    /// The next request to send as `sequence`, if any is due.
    pub fn next_request(&mut self, sequence: u32) -> Option<Request> {
        if self.dump.is_some() {
            return None;
        }
        if self.converged {
            if let Some(stray) = self.strays.iter().next().copied() {
                self.strays.remove(&stray);
                let (prefix, metric) = stray;
                return Some(self.record(sequence, prefix, Request::Delete { prefix, metric }));
            }
        }
        while let Some(prefix) = self.queue.pop_front() {
            self.queued.remove(&prefix);
            if let Some(request) = self.decide(prefix) {
                return Some(self.record(sequence, prefix, request));
            }
        }
        None
    }

    fn record(&mut self, sequence: u32, prefix: IpNet, request: Request) -> Request {
        self.in_flight.insert(
            sequence,
            InFlight {
                prefix,
                request: request.clone(),
            },
        );
        self.latest.insert(prefix, sequence);
        request
    }

    /// What the kernel will hold for `prefix` once the requests in flight are done.
    fn expected(&self, prefix: &IpNet) -> Option<&[NextHop]> {
        match self
            .latest
            .get(prefix)
            .and_then(|sequence| self.in_flight.get(sequence))
        {
            Some(InFlight {
                request: Request::Replace { next_hops, .. },
                ..
            }) => Some(next_hops),
            Some(InFlight {
                request: Request::Delete { .. },
                ..
            }) => None,
            None => self.installed.get(prefix).map(Vec::as_slice),
        }
    }

    fn decide(&mut self, prefix: IpNet) -> Option<Request> {
        let expected = self.expected(&prefix);
        let present = expected.is_some();
        match self.wanted.get(&prefix).map(|wanted| &wanted.resolved) {
            Some(Ok(_)) if self.occupied.contains(&prefix) => {
                let reason = format!(
                    "a route of another protocol holds this prefix at metric {}",
                    self.owner.metric
                );
                self.errors.insert(prefix, reason);
                None
            }
            Some(Ok(next_hops)) => {
                (expected != Some(next_hops.as_slice())).then(|| Request::Replace {
                    prefix,
                    next_hops: next_hops.clone(),
                })
            }
            Some(Err(reason)) => {
                // The best route has no next hop we can install: keep no stale route either.
                self.errors.insert(prefix, reason.clone());
                present.then_some(Request::Delete {
                    prefix,
                    metric: self.owner.metric,
                })
            }
            None if present && !self.adopted.contains(&prefix) => Some(Request::Delete {
                prefix,
                metric: self.owner.metric,
            }),
            None => {
                if !present {
                    self.errors.remove(&prefix);
                }
                None
            }
        }
    }

    /// The kernel answered request `sequence`.
    pub fn acknowledged(&mut self, sequence: u32, error: Option<&KernelError>) {
        let Some(InFlight { prefix, request }) = self.in_flight.remove(&sequence) else {
            return;
        };
        let latest = self.latest.get(&prefix) == Some(&sequence);
        if latest {
            self.latest.remove(&prefix);
        }
        match (request, error) {
            (Request::Replace { next_hops, .. }, None) => {
                self.installed.insert(prefix, next_hops);
                if latest {
                    self.errors.remove(&prefix);
                }
            }
            (Request::Delete { metric, .. }, None) => self.forget(prefix, metric),
            (Request::Delete { metric, .. }, Some(error)) if error.is_no_such_route() => {
                self.forget(prefix, metric);
            }
            (Request::Replace { .. }, Some(error)) | (Request::Delete { .. }, Some(error)) => {
                // A failed replace leaves the kernel as it was; the prefix is retried.
                if latest {
                    self.errors.insert(prefix, error.to_string());
                }
            }
        }
    }

    fn forget(&mut self, prefix: IpNet, metric: u32) {
        if metric == self.owner.metric {
            self.installed.remove(&prefix);
            if !self.wanted.contains_key(&prefix) {
                self.errors.remove(&prefix);
            }
        }
    }

    /// Answers to requests in flight were lost (the socket overran): forget them; the resync
    /// that follows learns what the kernel did.
    pub fn lost_in_flight(&mut self) {
        let lost: Vec<IpNet> = self
            .in_flight
            .drain()
            .map(|(_, lost)| lost.prefix)
            .collect();
        for prefix in lost {
            self.enqueue(prefix);
        }
        self.latest.clear();
    }

    /// A full dump starts: routes seen until [`Self::end_dump`] replace what we knew.
    pub fn begin_dump(&mut self) {
        self.dump = Some(Dump::default());
    }

    /// The dump is complete: it is now the truth; every prefix is decided again.
    pub fn end_dump(&mut self) {
        let Some(dump) = self.dump.take() else {
            return;
        };
        self.installed = dump.installed;
        self.strays = dump.strays;
        self.occupied = dump.occupied;
        if !self.converged {
            let unclaimed = self
                .installed
                .keys()
                .filter(|prefix| !self.wanted.contains_key(prefix));
            self.adopted.extend(unclaimed);
        }
        let changed: Vec<IpNet> = self
            .advertised
            .keys()
            .chain(dump.advertised.keys())
            .copied()
            .collect();
        self.advertised = dump.advertised;
        for prefix in changed {
            self.unreport(prefix);
        }
        let prefixes: Vec<IpNet> = self
            .wanted
            .keys()
            .chain(self.installed.keys())
            .copied()
            .collect();
        for prefix in prefixes {
            self.enqueue(prefix);
        }
    }

    /// A route from a dump (`dumped`) or a notification. Returns whether the change can make a
    /// failed next hop reachable (a route of someone else changed).
    pub fn route(&mut self, added: bool, route: KernelRoute) -> bool {
        if route.table != self.owner.table {
            return false;
        }
        if route.protocol == self.owner.protocol {
            self.own_route(added, route);
            return false;
        }
        if route.priority == self.owner.metric {
            self.foreign_at_our_metric(added, route.prefix);
        }
        self.advertise_route(added, &route);
        true
    }

    fn own_route(&mut self, added: bool, route: KernelRoute) {
        let prefix = route.prefix;
        let metric = route.priority;
        if let Some(dump) = &mut self.dump {
            if metric == self.owner.metric {
                dump.installed.insert(prefix, normalize(route.next_hops));
            } else {
                dump.strays.insert((prefix, metric));
            }
            return;
        }
        if metric != self.owner.metric {
            if added {
                self.strays.insert((prefix, metric));
            } else {
                self.strays.remove(&(prefix, metric));
            }
            return;
        }
        // Our own requests notify too; while one is in flight its acknowledgement decides.
        if self.latest.contains_key(&prefix) {
            return;
        }
        if added {
            self.installed.insert(prefix, normalize(route.next_hops));
        } else if self.installed.remove(&prefix).is_none() {
            return;
        }
        // Someone deleted (or rewrote) a route we own: put back what the RIB wants.
        self.enqueue(prefix);
    }

    fn foreign_at_our_metric(&mut self, added: bool, prefix: IpNet) {
        if let Some(dump) = &mut self.dump {
            dump.occupied.insert(prefix);
            return;
        }
        let changed = if added {
            self.occupied.insert(prefix)
        } else {
            self.occupied.remove(&prefix)
        };
        if changed && self.wanted.contains_key(&prefix) {
            self.enqueue(prefix);
        }
    }

    fn advertise_route(&mut self, added: bool, route: &KernelRoute) {
        let matches = added
            && self
                .advertise
                .as_ref()
                .is_some_and(|advertise| advertise.matches(route, &self.links));
        let advertised = match &mut self.dump {
            Some(dump) => &mut dump.advertised,
            None => &mut self.advertised,
        };
        let metrics = advertised.entry(route.prefix).or_default();
        metrics.retain(|metric| *metric != route.priority);
        if matches {
            metrics.push(route.priority);
        }
        if metrics.is_empty() {
            advertised.remove(&route.prefix);
        }
        if self.dump.is_none() {
            self.unreport(route.prefix);
        }
    }

    /// A link changed. Returns whether a known link went down or away: the kernel then drops
    /// the IPv4 routes through it without a notification (`fib_sync_down_dev`), so only a dump
    /// tells what is left.
    pub fn link(&mut self, added: bool, index: u32, name: Option<String>, up: bool) -> bool {
        let was_up = self.links_up.contains(&index);
        if added && up {
            self.links_up.insert(index);
        } else {
            self.links_up.remove(&index);
        }
        match (added, name) {
            (true, Some(name)) => {
                self.links.insert(index, name);
            }
            (true, None) => {}
            (false, _) => {
                self.links.remove(&index);
            }
        }
        was_up && !(added && up)
    }

    fn unreport(&mut self, prefix: IpNet) {
        if self.unreported_set.insert(prefix) {
            self.unreported.push_back(prefix);
        }
    }

    /// The next advertisement change for the RIB, coalesced per prefix (an add then a remove
    /// before the RIB took either is no event at all).
    pub fn next_event(&mut self) -> Option<KernelRouteEvent> {
        while let Some(prefix) = self.unreported.pop_front() {
            self.unreported_set.remove(&prefix);
            let present = self.advertised.contains_key(&prefix);
            if present && self.reported.insert(prefix) {
                return Some(KernelRouteEvent::Add { prefix });
            }
            if !present && self.reported.remove(&prefix) {
                return Some(KernelRouteEvent::Remove { prefix });
            }
        }
        None
    }

    pub fn has_events(&self) -> bool {
        !self.unreported.is_empty()
    }

    /// `bgpctl show fib`, by prefix.
    pub fn status(&self) -> Vec<FibEntry> {
        let mut prefixes: Vec<IpNet> = self
            .wanted
            .keys()
            .chain(self.installed.keys())
            .copied()
            .collect();
        prefixes.sort();
        prefixes.dedup();
        prefixes
            .into_iter()
            .map(|prefix| {
                let installed = self.installed.get(&prefix);
                let (next_hops, is_installed) = match self.wanted.get(&prefix) {
                    Some(wanted) => (
                        wanted.requested.clone(),
                        matches!(&wanted.resolved, Ok(next_hops) if Some(next_hops) == installed),
                    ),
                    None => (
                        installed
                            .map(|hops| hops.iter().map(|hop| hop.address).collect())
                            .unwrap_or_default(),
                        installed.is_some(),
                    ),
                };
                FibEntry {
                    prefix,
                    next_hops,
                    installed: is_installed,
                    error: self.errors.get(&prefix).cloned(),
                }
            })
            .collect()
    }

    pub fn figures(&self) -> FibFigures {
        let status = self.status();
        FibFigures {
            installed: status.iter().filter(|entry| entry.installed).count(),
            failures: self.errors.len(),
            families: self.installed.keys().map(rr::types::family_of).collect(),
        }
    }

    fn enqueue(&mut self, prefix: IpNet) {
        if self.queued.insert(prefix) {
            self.queue.push_back(prefix);
        }
    }

    /// The installable next hops: of the prefix's family (IPv4 via IPv4, IPv6 via IPv6), a
    /// link-local one with its interface, sorted, at most `ecmp_max_paths`.
    fn resolve(&self, prefix: IpNet, requested: &[IpAddr]) -> Result<Vec<NextHop>, String> {
        let mut next_hops = Vec::with_capacity(requested.len());
        let mut unscoped = None;
        for address in requested {
            if address.is_ipv4() != prefix.addr().is_ipv4() {
                continue;
            }
            let interface = match address {
                IpAddr::V6(v6) if is_link_local(*address) => match self.link_local_scopes.get(v6) {
                    Some(interface) => Some(*interface),
                    None => {
                        unscoped = Some(*v6);
                        continue;
                    }
                },
                _ => None,
            };
            next_hops.push(NextHop {
                address: *address,
                interface,
            });
        }
        let next_hops = normalize(next_hops);
        if next_hops.is_empty() {
            return Err(match unscoped {
                Some(address) => format!("link-local next hop {address} has no known interface"),
                None => "no next hop of the prefix's address family".to_owned(),
            });
        }
        Ok(next_hops.into_iter().take(self.ecmp_max_paths).collect())
    }
}

/// Sorted and without duplicates, so that equal sets compare equal. The kernel names the
/// interface of every gateway (`RTA_OIF`), but only a link-local one is part of its identity.
fn normalize(mut next_hops: Vec<NextHop>) -> Vec<NextHop> {
    for next_hop in &mut next_hops {
        if !is_link_local(next_hop.address) {
            next_hop.interface = None;
        }
    }
    next_hops.sort();
    next_hops.dedup();
    next_hops
}

fn is_link_local(address: IpAddr) -> bool {
    matches!(address, IpAddr::V6(v6) if v6.is_unicast_link_local())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROTOCOL: u8 = 186;
    const STATIC: u8 = 4;
    const TABLE: u32 = 254;
    const METRIC: u32 = 32;

    /// One input to the state, as the task would deliver it.
    enum Step {
        Want(&'static str, &'static [&'static str]),
        Withdraw(&'static str),
        /// A full dump holding these routes: (prefix, protocol, metric, gateway).
        Dump(&'static [(&'static str, u8, u32, &'static str)]),
        /// A route notification (added or deleted) of one of ours at our metric.
        OwnRoute(bool, &'static str, &'static str),
        /// A route notification of another protocol's route at our metric.
        ForeignRoute(bool, &'static str),
        Converged,
        /// Send what is due and acknowledge each request, failing with `errno` when given.
        Send(Option<i32>),
        RetryFailed,
    }

    /// Applies `steps` to a fresh state (ECMP up to `ecmp`), returning every request sent.
    fn check(ecmp: usize, steps: &[Step], expected: &[Request]) -> FibState {
        let owner = Owner {
            protocol: PROTOCOL,
            table: TABLE,
            metric: METRIC,
        };
        let mut state = FibState::new(owner, ecmp, true, None);
        let mut sent = Vec::new();
        let mut sequence = 0;
        for step in steps {
            match step {
                Step::Want(prefix, hops) => {
                    let hops: Vec<IpAddr> = hops.iter().map(|hop| address(hop)).collect();
                    state.want(net(prefix), Some(&hops));
                }
                Step::Withdraw(prefix) => state.want(net(prefix), None),
                Step::Dump(routes) => {
                    state.begin_dump();
                    for (prefix, protocol, metric, gateway) in *routes {
                        state.route(true, route(prefix, *protocol, *metric, gateway));
                    }
                    state.end_dump();
                }
                Step::OwnRoute(added, prefix, gateway) => {
                    state.route(*added, route(prefix, PROTOCOL, METRIC, gateway));
                }
                Step::ForeignRoute(added, prefix) => {
                    state.route(*added, route(prefix, STATIC, METRIC, "10.0.0.4"));
                }
                Step::Converged => state.converged(),
                Step::Send(errno) => {
                    let mut batch = Vec::new();
                    while let Some(request) = state.next_request(sequence) {
                        batch.push((sequence, request));
                        sequence += 1;
                    }
                    for (sequence, request) in batch {
                        let error = errno.map(|errno| KernelError {
                            errno,
                            message: None,
                        });
                        state.acknowledged(sequence, error.as_ref());
                        sent.push(request);
                    }
                }
                Step::RetryFailed => state.retry_failed(),
            }
        }
        assert_eq!(sent, expected);
        assert!(state.is_idle());
        state
    }

    fn net(prefix: &str) -> IpNet {
        prefix.parse().expect("test prefix")
    }

    fn address(address: &str) -> IpAddr {
        address.parse().expect("test address")
    }

    fn route(prefix: &str, protocol: u8, metric: u32, gateway: &str) -> KernelRoute {
        KernelRoute {
            prefix: net(prefix),
            table: TABLE,
            protocol,
            kind: RouteKind::Unicast,
            priority: metric,
            interface: Some(2),
            next_hops: vec![NextHop {
                address: address(gateway),
                // The kernel names the interface of every gateway.
                interface: Some(2),
            }],
        }
    }

    fn replace(prefix: &str, hops: &[&str]) -> Request {
        Request::Replace {
            prefix: net(prefix),
            next_hops: hops
                .iter()
                .map(|hop| NextHop {
                    address: address(hop),
                    interface: None,
                })
                .collect(),
        }
    }

    fn delete(prefix: &str, metric: u32) -> Request {
        Request::Delete {
            prefix: net(prefix),
            metric,
        }
    }

    #[test]
    fn advertise_events_are_coalesced_per_prefix() {
        let owner = Owner {
            protocol: PROTOCOL,
            table: TABLE,
            metric: METRIC,
        };
        let advertise = crate::fib::advertise::tests::advertise();
        let mut state = FibState::new(owner, 16, true, Some(advertise));
        state.link(true, 3, Some("cali1".to_owned()), true);
        let pod = |metric| KernelRoute {
            interface: Some(3),
            ..route("10.244.1.5/32", 3, metric, "10.0.0.2")
        };
        let add = KernelRouteEvent::Add {
            prefix: net("10.244.1.5/32"),
        };
        let remove = KernelRouteEvent::Remove {
            prefix: net("10.244.1.5/32"),
        };
        // Added and removed before the RIB took the add: nothing to tell.
        state.route(true, pod(0));
        state.route(false, pod(0));
        assert_eq!(state.next_event(), None);
        // Two routes (metrics) to one prefix: one add, and a remove only when both are gone.
        state.route(true, pod(0));
        state.route(true, pod(100));
        assert_eq!(state.next_event(), Some(add));
        state.route(false, pod(0));
        assert_eq!(state.next_event(), None);
        state.route(false, pod(100));
        assert_eq!(state.next_event(), Some(remove));
        assert_eq!(state.next_event(), None);
    }

    #[test]
    fn changes_are_coalesced_per_prefix() {
        use Step::*;
        check(
            16,
            &[
                Want("10.1.0.0/24", &["10.0.0.2"]),
                Want("10.1.0.0/24", &["10.0.0.3"]),
                Want("10.2.0.0/24", &["10.0.0.2"]),
                Withdraw("10.2.0.0/24"),
                Send(None),
                // Unchanged: nothing to send.
                Want("10.1.0.0/24", &["10.0.0.3"]),
                Send(None),
            ],
            &[replace("10.1.0.0/24", &["10.0.0.3"])],
        );
    }

    #[test]
    fn ecmp_keeps_the_prefix_family_up_to_max_paths() {
        use Step::*;
        check(
            2,
            &[
                Want(
                    "10.1.0.0/24",
                    &["fd00::1", "10.0.0.4", "10.0.0.3", "10.0.0.2"],
                ),
                Send(None),
            ],
            &[replace("10.1.0.0/24", &["10.0.0.2", "10.0.0.3"])],
        );
    }

    #[test]
    fn adopted_routes_wait_for_convergence() {
        use Step::*;
        check(
            16,
            &[
                Dump(&[
                    ("10.1.0.0/24", PROTOCOL, METRIC, "10.0.0.2"),
                    ("10.2.0.0/24", PROTOCOL, METRIC, "10.0.0.2"),
                    ("10.3.0.0/24", PROTOCOL, 7, "10.0.0.2"),
                    ("10.4.0.0/24", STATIC, METRIC, "10.0.0.2"),
                ]),
                // Claimed with the next hop it has: no request (no flap).
                Want("10.1.0.0/24", &["10.0.0.2"]),
                Send(None),
                Converged,
                Send(None),
            ],
            &[delete("10.3.0.0/24", 7), delete("10.2.0.0/24", METRIC)],
        );
    }

    #[test]
    fn an_explicit_withdraw_deletes_before_convergence() {
        use Step::*;
        check(
            16,
            &[
                Dump(&[("10.1.0.0/24", PROTOCOL, METRIC, "10.0.0.2")]),
                Withdraw("10.1.0.0/24"),
                Send(None),
            ],
            &[delete("10.1.0.0/24", METRIC)],
        );
    }

    #[test]
    fn a_foreign_route_at_our_metric_is_never_replaced() {
        use Step::*;
        let state = check(
            16,
            &[
                Dump(&[("10.1.0.0/24", STATIC, METRIC, "10.0.0.4")]),
                Want("10.1.0.0/24", &["10.0.0.2"]),
                Send(None),
            ],
            &[],
        );
        assert!(state.status()[0].error.is_some());
        check(
            16,
            &[
                ForeignRoute(true, "10.1.0.0/24"),
                Want("10.1.0.0/24", &["10.0.0.2"]),
                Send(None),
                // Its owner removes it: now the prefix is free for ours.
                ForeignRoute(false, "10.1.0.0/24"),
                Send(None),
            ],
            &[replace("10.1.0.0/24", &["10.0.0.2"])],
        );
    }

    #[test]
    fn a_deleted_route_of_ours_is_put_back() {
        use Step::*;
        check(
            16,
            &[
                Want("10.1.0.0/24", &["10.0.0.2"]),
                Send(None),
                // Our own notification of the install changes nothing.
                OwnRoute(true, "10.1.0.0/24", "10.0.0.2"),
                Send(None),
                OwnRoute(false, "10.1.0.0/24", "10.0.0.2"),
                Send(None),
            ],
            &[
                replace("10.1.0.0/24", &["10.0.0.2"]),
                replace("10.1.0.0/24", &["10.0.0.2"]),
            ],
        );
    }

    #[test]
    fn a_refused_route_is_reported_and_retried() {
        use Step::*;
        let state = check(
            16,
            &[
                Want("10.1.0.0/24", &["192.0.2.1"]),
                Send(Some(libc::ENETUNREACH)),
            ],
            &[replace("10.1.0.0/24", &["192.0.2.1"])],
        );
        let status = state.status();
        assert!(!status[0].installed);
        assert!(status[0].error.is_some());
        check(
            16,
            &[
                Want("10.1.0.0/24", &["192.0.2.1"]),
                Send(Some(libc::ENETUNREACH)),
                RetryFailed,
                Send(None),
            ],
            &[
                replace("10.1.0.0/24", &["192.0.2.1"]),
                replace("10.1.0.0/24", &["192.0.2.1"]),
            ],
        );
    }

    #[test]
    fn a_resync_reinstalls_what_the_kernel_lost() {
        use Step::*;
        check(
            16,
            &[
                Want("10.1.0.0/24", &["10.0.0.2"]),
                Want("10.2.0.0/24", &["10.0.0.2"]),
                Send(None),
                Dump(&[("10.1.0.0/24", PROTOCOL, METRIC, "10.0.0.2")]),
                Send(None),
            ],
            &[
                replace("10.1.0.0/24", &["10.0.0.2"]),
                replace("10.2.0.0/24", &["10.0.0.2"]),
                replace("10.2.0.0/24", &["10.0.0.2"]),
            ],
        );
    }
}
