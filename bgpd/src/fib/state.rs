//! The FIB's decisions, without I/O: the install half ([`Install`]: what the RIB wants, what
//! the kernel has of ours, what to send next) and the advertise half ([`Mirror`]: the kernel
//! routes `[kernel.advertise]` selects, and what the RIB task has been told of them), fed the
//! kernel's answers, dumps and notifications by the task in [`super`], which sends the
//! [`Request`]s this returns. Tests: `super::tests`.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv6Addr};

use ipnet::IpNet;

use super::advertise::{Advertise, Mirror};
use super::install::{Install, InstallError};
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

/// A change to send to the kernel; its next hops are read with [`FibState::next_hops`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// `RTM_NEWROUTE` with `NLM_F_REPLACE | NLM_F_CREATE` at our metric.
    Replace {
        prefix: IpNet,
        next_hops: super::table::SetId,
    },
    /// `RTM_DELROUTE` of our route at `metric`.
    Delete { prefix: IpNet, metric: u32 },
}

/// One row of `bgpctl show fib`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FibEntry {
    pub prefix: IpNet,
    /// What the RIB asked for (or, for an adopted route not yet claimed, what the kernel has).
    pub next_hops: Vec<IpAddr>,
    /// The kernel has exactly this route.
    pub installed: bool,
    /// Why the last attempt failed; retried.
    pub error: Option<InstallError>,
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

/// A kernel-route advertisement change for the RIB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelRouteEvent {
    /// A kernel route matching `[kernel.advertise]` now exists for this prefix.
    Add { prefix: IpNet },
    /// No matching kernel route is left for this prefix.
    Remove { prefix: IpNet },
}

/// See the module documentation.
#[derive(Debug)]
pub struct FibState {
    owner: Owner,
    install: Install,
    mirror: Mirror,
    /// Interface names by index (the advertise filter names interfaces).
    links: HashMap<u32, String>,
    links_up: HashSet<u32>,
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
            install: Install::new(owner, ecmp_max_paths, program),
            mirror: Mirror::new(advertise),
            links: HashMap::new(),
            links_up: HashSet::new(),
        }
    }

    /// The RIB's best next hops for `prefix`; `None` withdraws it.
    pub fn want(&mut self, prefix: IpNet, next_hops: Option<&[IpAddr]>) {
        self.install.want(prefix, next_hops);
    }

    /// The daemon learned the interface of an IPv6 link-local next hop (a neighbor configured
    /// as `fe80::1%eth0`); prefixes via it are decided again.
    pub fn set_link_local_scope(&mut self, address: Ipv6Addr, interface: u32) {
        self.install.set_link_local_scope(address, interface);
    }

    /// A new advertise filter; returns whether it differs (the kernel routes must then be
    /// dumped again to be judged by it).
    pub fn set_advertise(&mut self, advertise: Option<Advertise>) -> bool {
        self.mirror.set_filter(advertise)
    }

    /// Initial convergence is done: adopted routes the RIB did not claim are swept.
    pub fn converged(&mut self) {
        self.install.converged();
    }

    /// Stopping without `persist_on_exit`: every route we own is to be deleted.
    pub fn withdraw_all(&mut self) {
        self.install.withdraw_all();
    }

    /// Queue every prefix with a failed attempt (a link, address or route changed, or the
    /// periodic retry).
    pub fn retry_failed(&mut self) {
        self.install.retry_failed();
    }

    pub fn has_failures(&self) -> bool {
        self.install.has_failures()
    }

    /// Nothing queued and nothing awaiting an acknowledgement.
    pub fn is_idle(&self) -> bool {
        self.install.is_idle()
    }

    pub fn in_flight(&self) -> usize {
        self.install.in_flight()
    }

    /// Prefixes waiting for a decision.
    pub fn queued(&self) -> usize {
        self.install.queued()
    }

    /// The next request to send as `sequence`, if any is due.
    pub fn next_request(&mut self, sequence: u32) -> Option<Request> {
        self.install.next_request(sequence)
    }

    /// The next hops of a request (empty for a delete).
    pub fn next_hops(&self, request: &Request) -> &[NextHop] {
        self.install.next_hops(request)
    }

    /// The kernel answered request `sequence`.
    pub fn acknowledged(&mut self, sequence: u32, error: Option<&KernelError>) {
        self.install.acknowledged(sequence, error);
    }

    /// Answers to requests in flight were lost (the socket overran): forget them; the resync
    /// that follows learns what the kernel did.
    pub fn lost_in_flight(&mut self) {
        self.install.lost_in_flight();
    }

    /// A full dump starts: routes seen until [`Self::end_dump`] replace what we knew.
    pub fn begin_dump(&mut self) {
        self.install.begin_dump();
        self.mirror.begin_dump();
    }

    /// The dump is complete: it is now the truth; every prefix is decided again.
    pub fn end_dump(&mut self) {
        self.install.end_dump();
        self.mirror.end_dump();
    }

    /// A route from a dump or a notification. Returns whether the change can make a failed
    /// next hop reachable (a route of someone else changed).
    pub fn route(&mut self, added: bool, route: KernelRoute) -> bool {
        if route.table != self.owner.table {
            return false;
        }
        if route.protocol == self.owner.protocol {
            self.install
                .own_route(added, route.prefix, route.priority, route.next_hops);
            return false;
        }
        if route.priority == self.owner.metric {
            self.install.foreign_at_our_metric(added, route.prefix);
        }
        self.mirror.route(added, &route, &self.links);
        true
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

    /// The next advertisement change for the RIB, coalesced per prefix.
    pub fn next_event(&mut self) -> Option<KernelRouteEvent> {
        self.mirror.next_event()
    }

    pub fn has_events(&self) -> bool {
        self.mirror.has_events()
    }

    /// `bgpctl show fib`, by prefix.
    pub fn status(&self) -> Vec<FibEntry> {
        self.install.status()
    }

    pub fn figures(&self) -> FibFigures {
        self.install.figures()
    }

    /// Prefixes with an install entry.
    #[cfg(test)]
    pub fn prefixes(&self) -> usize {
        self.install.prefixes()
    }
}
