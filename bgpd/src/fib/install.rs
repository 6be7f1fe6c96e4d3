//! The install half of the FIB's decisions, without I/O: what the RIB wants per prefix, what
//! the kernel holds of ours (at our protocol, table and metric), what is in flight, and which
//! request to send next.
//!
//! Invariants (design.md §1.9, "the kernel is shared"):
//! - a request only ever names our protocol, table and metric, so a route of another protocol
//!   is never replaced or deleted (the kernel matches a delete on `rtm_protocol`, and a replace
//!   on the (prefix, metric) key: no replace is sent while a foreign route holds that key);
//! - routes of our protocol found at start are *adopted*: kept, and only swept (deleted if the
//!   RIB did not claim them) after [`Install::converged`], so a restart does not flap;
//! - per prefix only the latest wanted state matters (coalescing): a prefix is queued once
//!   however often it changes, and decided when its turn comes.
//!
//! Memory: one [`Entry`] per prefix in the [`Table`] (a few words, no allocation of its own);
//! the queue, the requests in flight and the errors hold only prefixes that are moving or
//! failing.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, Ipv6Addr};

use ipnet::IpNet;
use smallvec::SmallVec;

use super::netlink::{KernelError, Owner};
use super::state::{FibEntry, FibFigures, NextHop, Request};
use super::table::{Entry, Flags, SetId, Table};

/// Queue capacity kept when it empties (a burst's capacity beyond it is given back).
const QUEUE_KEPT: usize = 8192;

/// Why a prefix the RIB wants is not installed as it wants it; kept only while it fails, and
/// retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstallError {
    #[error("no next hop of the prefix's address family")]
    NoNextHopOfFamily,
    #[error("link-local next hop {0} has no known interface")]
    UnscopedLinkLocal(Ipv6Addr),
    #[error("a route of another protocol holds this prefix at metric {metric}")]
    Occupied { metric: u32 },
    #[error("{0}")]
    Kernel(KernelError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct InFlight {
    prefix: IpNet,
    request: Request,
}

/// See the module documentation.
#[derive(Debug)]
pub struct Install {
    owner: Owner,
    ecmp_max_paths: usize,
    program: bool,
    converged: bool,
    table: Table,
    queue: VecDeque<IpNet>,
    in_flight: HashMap<u32, InFlight>,
    /// The latest request in flight per prefix, by sequence number.
    latest: HashMap<IpNet, u32>,
    /// Our routes at another metric (an older configuration): deleted at the sweep.
    strays: HashSet<(IpNet, u32)>,
    /// Prefixes where a route of another protocol sits at our metric: a replace would
    /// overwrite it (same kernel key), so we install nothing there while it stays.
    occupied: HashSet<IpNet>,
    errors: HashMap<IpNet, InstallError>,
    link_local_scopes: HashMap<Ipv6Addr, u32>,
    /// A full dump in progress: the strays and foreign routes it has found so far (our own
    /// routes it finds are marked [`Flags::DUMPED`] in place).
    dump: Option<Dump>,
}

/// What a dump in progress found besides our routes at our metric.
#[derive(Debug, Default)]
struct Dump {
    strays: HashSet<(IpNet, u32)>,
    occupied: HashSet<IpNet>,
}

impl Install {
    pub fn new(owner: Owner, ecmp_max_paths: usize, program: bool) -> Install {
        Install {
            owner,
            ecmp_max_paths: ecmp_max_paths.max(1),
            program,
            converged: false,
            table: Table::new(),
            queue: VecDeque::new(),
            in_flight: HashMap::new(),
            latest: HashMap::new(),
            strays: HashSet::new(),
            occupied: HashSet::new(),
            errors: HashMap::new(),
            link_local_scopes: HashMap::new(),
            dump: None,
        }
    }

    /// The RIB's best next hops for `prefix`; `None` withdraws it.
    pub fn want(&mut self, prefix: IpNet, next_hops: Option<&[IpAddr]>) {
        if !self.program {
            return;
        }
        self.collect();
        let wanted = next_hops.map(|hops| self.table.intern_wanted(hops));
        let queue = &mut self.queue;
        self.table.update(prefix, |entry| {
            entry.wanted = wanted;
            // Claimed or withdrawn by the RIB: no longer merely adopted.
            entry.flags.set(Flags::ADOPTED, false);
            enqueue(queue, prefix, entry);
        });
    }

    /// The interface of an IPv6 link-local next hop; prefixes via it are decided again.
    pub fn set_link_local_scope(&mut self, address: Ipv6Addr, interface: u32) {
        self.link_local_scopes.insert(address, interface);
        let via = |table: &Table, entry: &Entry| {
            entry
                .wanted
                .is_some_and(|id| table.wanted(id).contains(&IpAddr::V6(address)))
        };
        let affected: Vec<IpNet> = self
            .table
            .iter()
            .filter(|(_, entry)| via(&self.table, entry))
            .map(|(prefix, _)| prefix)
            .collect();
        for prefix in affected {
            self.enqueue(prefix);
        }
    }

    /// Initial convergence is done: adopted routes the RIB did not claim are swept.
    pub fn converged(&mut self) {
        self.converged = true;
        let queue = &mut self.queue;
        self.table.update_all(|prefix, entry| {
            entry.flags.set(Flags::ADOPTED, false);
            if entry.installed.is_some() && entry.wanted.is_none() {
                enqueue(queue, prefix, entry);
            }
        });
    }

    /// Stopping without `persist_on_exit`: every route we own is to be deleted.
    pub fn withdraw_all(&mut self) {
        self.table.update_all(|_, entry| entry.wanted = None);
        self.converged();
    }

    /// Queues every prefix with a failed attempt.
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
        self.queue.is_empty()
            && self.in_flight.is_empty()
            && (!self.converged || self.strays.is_empty())
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Prefixes waiting for a decision.
    pub fn queued(&self) -> usize {
        self.queue.len()
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
            let mut entry = self.table.get(prefix);
            entry.flags.set(Flags::QUEUED, false);
            let request = self.decide(prefix, &entry);
            self.table.set(prefix, entry);
            if let Some(request) = request {
                return Some(self.record(sequence, prefix, request));
            }
        }
        if self.queue.capacity() > QUEUE_KEPT {
            self.queue.shrink_to(QUEUE_KEPT);
        }
        None
    }

    fn record(&mut self, sequence: u32, prefix: IpNet, request: Request) -> Request {
        self.in_flight
            .insert(sequence, InFlight { prefix, request });
        self.latest.insert(prefix, sequence);
        request
    }

    /// What the kernel will hold for `prefix` once the requests in flight are done.
    fn expected(&self, prefix: IpNet, entry: &Entry) -> Option<SetId> {
        match self
            .latest
            .get(&prefix)
            .and_then(|sequence| self.in_flight.get(sequence))
        {
            Some(InFlight {
                request: Request::Replace { next_hops, .. },
                ..
            }) => Some(*next_hops),
            Some(InFlight {
                request: Request::Delete { .. },
                ..
            }) => None,
            None => entry.installed,
        }
    }

    fn decide(&mut self, prefix: IpNet, entry: &Entry) -> Option<Request> {
        let expected = self.expected(prefix, entry);
        let delete = Request::Delete {
            prefix,
            metric: self.owner.metric,
        };
        let Some(wanted) = entry.wanted else {
            if expected.is_none() {
                self.errors.remove(&prefix);
            }
            let sweep = expected.is_some() && !entry.flags.contains(Flags::ADOPTED);
            return sweep.then_some(delete);
        };
        let resolved = self
            .resolve(prefix, self.table.wanted(wanted))
            .map(|next_hops| self.table.intern_next_hops(&next_hops));
        match resolved {
            Ok(_) if self.occupied.contains(&prefix) => {
                let metric = self.owner.metric;
                self.errors
                    .insert(prefix, InstallError::Occupied { metric });
                None
            }
            Ok(next_hops) => {
                (expected != Some(next_hops)).then_some(Request::Replace { prefix, next_hops })
            }
            Err(error) => {
                // The best route has no next hop we can install: keep no stale route either.
                self.errors.insert(prefix, error);
                expected.is_some().then_some(delete)
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
                self.table
                    .update(prefix, |entry| entry.installed = Some(next_hops));
                if latest {
                    self.errors.remove(&prefix);
                }
            }
            (Request::Delete { metric, .. }, None) => self.forget(prefix, metric),
            (Request::Delete { metric, .. }, Some(error)) if error.is_no_such_route() => {
                self.forget(prefix, metric);
            }
            (_, Some(error)) => {
                // A failed replace leaves the kernel as it was; the prefix is retried.
                if latest {
                    self.errors
                        .insert(prefix, InstallError::Kernel(error.clone()));
                }
            }
        }
    }

    fn forget(&mut self, prefix: IpNet, metric: u32) {
        if metric == self.owner.metric {
            let mut wanted = false;
            self.table.update(prefix, |entry| {
                entry.installed = None;
                wanted = entry.wanted.is_some();
            });
            if !wanted {
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
        self.latest.clear();
        for prefix in lost {
            self.enqueue(prefix);
        }
    }

    /// A full dump starts: routes seen until [`Self::end_dump`] replace what we knew.
    pub fn begin_dump(&mut self) {
        self.collect();
        self.dump = Some(Dump::default());
    }

    /// The dump is complete: it is now the truth; every prefix is decided again.
    pub fn end_dump(&mut self) {
        let Some(dump) = self.dump.take() else {
            return;
        };
        self.strays = dump.strays;
        self.occupied = dump.occupied;
        let (converged, queue) = (self.converged, &mut self.queue);
        self.table.update_all(|prefix, entry| {
            if !entry.flags.contains(Flags::DUMPED) {
                entry.installed = None;
            }
            entry.flags.set(Flags::DUMPED, false);
            if !converged && entry.installed.is_some() && entry.wanted.is_none() {
                entry.flags.set(Flags::ADOPTED, true);
            }
            if entry.installed.is_some() || entry.wanted.is_some() {
                enqueue(queue, prefix, entry);
            }
        });
    }

    /// A route of our protocol in our table (dumped or notified).
    pub fn own_route(&mut self, added: bool, prefix: IpNet, metric: u32, next_hops: Vec<NextHop>) {
        if let Some(dump) = &mut self.dump {
            if metric != self.owner.metric {
                if added {
                    dump.strays.insert((prefix, metric));
                }
                return;
            }
            let installed = added.then(|| self.table.intern_next_hops(&normalize(next_hops)));
            self.table.update(prefix, |entry| {
                entry.installed = installed;
                entry.flags.set(Flags::DUMPED, true);
            });
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
        let installed = added.then(|| self.table.intern_next_hops(&normalize(next_hops)));
        let queue = &mut self.queue;
        self.table.update(prefix, |entry| {
            if installed.is_none() && entry.installed.is_none() {
                return;
            }
            entry.installed = installed;
            // Someone deleted (or rewrote) a route we own: put back what the RIB wants.
            enqueue(queue, prefix, entry);
        });
    }

    /// A route of another protocol at our metric came or went.
    pub fn foreign_at_our_metric(&mut self, added: bool, prefix: IpNet) {
        if let Some(dump) = &mut self.dump {
            if added {
                dump.occupied.insert(prefix);
            }
            return;
        }
        let changed = if added {
            self.occupied.insert(prefix)
        } else {
            self.occupied.remove(&prefix)
        };
        if changed && self.table.get(prefix).wanted.is_some() {
            self.enqueue(prefix);
        }
    }

    /// The next hops a request names.
    pub fn next_hops(&self, request: &Request) -> &[NextHop] {
        match request {
            Request::Replace { next_hops, .. } => self.table.next_hops(*next_hops),
            Request::Delete { .. } => &[],
        }
    }

    /// `bgpctl show fib`, by prefix.
    pub fn status(&self) -> Vec<FibEntry> {
        let mut rows: Vec<FibEntry> = self
            .table
            .iter()
            .filter(|(_, entry)| entry.wanted.is_some() || entry.installed.is_some())
            .map(|(prefix, entry)| self.row(prefix, &entry))
            .collect();
        rows.sort_by_key(|row| row.prefix);
        rows
    }

    fn row(&self, prefix: IpNet, entry: &Entry) -> FibEntry {
        let installed = entry.installed.map(|id| self.table.next_hops(id));
        let (next_hops, is_installed) = match entry.wanted {
            Some(wanted) => {
                let requested = self.table.wanted(wanted);
                let resolved = self.resolve(prefix, requested);
                let exact = matches!((&resolved, installed), (Ok(hops), Some(have)) if hops.as_slice() == have);
                (requested.to_vec(), exact)
            }
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
    }

    /// The table's counts, without listing it.
    pub fn figures(&self) -> FibFigures {
        let mut figures = FibFigures {
            failures: self.errors.len(),
            ..FibFigures::default()
        };
        for (prefix, entry) in self.table.iter() {
            if entry.installed.is_some() {
                figures.families.insert(rr::types::family_of(&prefix));
            }
            if (entry.wanted.is_some() || entry.installed.is_some())
                && self.row(prefix, &entry).installed
            {
                figures.installed += 1;
            }
        }
        figures
    }

    #[cfg(test)]
    pub fn prefixes(&self) -> usize {
        self.table.len()
    }

    fn enqueue(&mut self, prefix: IpNet) {
        let queue = &mut self.queue;
        self.table
            .update(prefix, |entry| enqueue(queue, prefix, entry));
    }

    /// Frees unused next-hop sets now and then; the requests in flight hold theirs.
    fn collect(&mut self) {
        let held = self
            .in_flight
            .values()
            .filter_map(|flight| match flight.request {
                Request::Replace { next_hops, .. } => Some(next_hops),
                Request::Delete { .. } => None,
            });
        self.table.collect(held);
    }

    /// The installable next hops: of the prefix's family (IPv4 via IPv4, IPv6 via IPv6), a
    /// link-local one with its interface, sorted, at most `ecmp_max_paths`.
    fn resolve(
        &self,
        prefix: IpNet,
        requested: &[IpAddr],
    ) -> Result<SmallVec<[NextHop; 4]>, InstallError> {
        let mut next_hops = SmallVec::<[NextHop; 4]>::new();
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
        next_hops.sort_unstable();
        next_hops.dedup();
        if next_hops.is_empty() {
            return Err(match unscoped {
                Some(address) => InstallError::UnscopedLinkLocal(address),
                None => InstallError::NoNextHopOfFamily,
            });
        }
        next_hops.truncate(self.ecmp_max_paths);
        Ok(next_hops)
    }
}

/// Queues the prefix once.
fn enqueue(queue: &mut VecDeque<IpNet>, prefix: IpNet, entry: &mut Entry) {
    if !entry.flags.contains(Flags::QUEUED) {
        entry.flags.set(Flags::QUEUED, true);
        queue.push_back(prefix);
    }
}

/// Sorted and without duplicates, so that equal sets compare equal. The kernel names the
/// interface of every gateway (`RTA_OIF`), but only a link-local one is part of its identity.
fn normalize(mut next_hops: Vec<NextHop>) -> SmallVec<[NextHop; 4]> {
    for next_hop in &mut next_hops {
        if !is_link_local(next_hop.address) {
            next_hop.interface = None;
        }
    }
    let mut next_hops = SmallVec::from_vec(next_hops);
    next_hops.sort_unstable();
    next_hops.dedup();
    next_hops
}

fn is_link_local(address: IpAddr) -> bool {
    matches!(address, IpAddr::V6(v6) if v6.is_unicast_link_local())
}
