//! The workloads of issue 10, each run against one daemon at one point. A run builds a fresh
//! lab (the daemon's namespace and the harness namespace with one address per session),
//! starts the daemon as a route reflector with every harness session as an iBGP neighbor
//! (senders non-clients, receivers clients, RFC 4456 §6: a non-client's routes go to clients
//! only, so receivers get everything and senders nothing back), establishes every session,
//! then measures.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use proto::{AfiSafi, Asn, ClusterId};

use super::dut::{harness_usage, kernel_prefixes, pin_harness, Daemon, Dut, Usage};
use super::engine::{Engine, Latency, SessionPlan, HOLD_TIME_S};
use super::report::{Metric, RunOutcome};
use super::wire::{self, Batch, PrefixSpace};
use crate::error::{LabError, Result};
use crate::lab::{AddressPair, Host, IpVersion, Lab};
use crate::spec::{HoldTime, NeighborSpec, RouterSpec};

/// The AS of the daemon and of every harness session (iBGP).
const ASN: Asn = Asn(64512);
/// How long establishing every session may take.
const ESTABLISH_TIMEOUT: Duration = Duration::from_secs(120);
/// A run is generator-bound when the harness used this share of the wall time as CPU.
const GENERATOR_BOUND_SHARE: f64 = 0.9;
/// CPU time below which the generator's and the daemon's are not compared (a few ticks).
const SIGNIFICANT_CPU: Duration = Duration::from_millis(100);
/// W5: prefixes per withdrawal or re-announcement batch, and one batch per tick (a fixed
/// rate of 10,000 prefixes per second).
const CHURN_BATCH: u32 = 100;
const CHURN_TICK: Duration = Duration::from_millis(10);
/// W5: share of the table churned (10 %).
const CHURN_SHARE_DIVISOR: u32 = 10;
/// W5: how long the daemon gets after a client drops before its memory is read.
const DROP_SETTLE: Duration = Duration::from_secs(2);
const BYTES_PER_MB: f64 = 1_000_000.0;
const MS_PER_S: f64 = 1000.0;

/// Address plans of the generated prefixes (outside the lab's 10.254/16 and 10.255/16).
const INGEST_V4_BASE: Ipv4Addr = Ipv4Addr::new(16, 0, 0, 0);
const INGEST_V4_LEN: u8 = 24;
const INGEST_V6_BASE: Ipv6Addr = Ipv6Addr::new(0xfd20, 0, 0, 0, 0, 0, 0, 0);
const INGEST_V6_LEN: u8 = 48;
/// Calico's default IPAM block: a /26 per node out of the pod pool.
const POD_BLOCK_BASE: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 0);
const POD_BLOCK_LEN: u8 = 26;
/// W4: each peer's routes, four pod blocks and five host routes (/32).
const BLOCKS_PER_PEER: u32 = 4;
const HOSTS_PER_PEER: u32 = 5;
const HOST_ROUTE_BASE: Ipv4Addr = Ipv4Addr::new(10, 128, 0, 0);
const HOST_ROUTE_LEN: u8 = 32;
/// W4/W6: how often the kernel's table is counted while waiting for it.
const KERNEL_POLL: Duration = Duration::from_millis(20);
/// W4: time given to the daemon after its CLI answers, before the clock starts (some bring
/// their BGP listener up a moment later).
const STARTUP_SETTLE: Duration = Duration::from_secs(3);
/// W4: how long the daemon is watched idle after convergence.
const IDLE_WINDOW: Duration = Duration::from_secs(5);
/// W6: the next hop of `ip -batch`'s routes (a LAN address, so on-link).
const IP_BATCH_NEXT_HOP: Ipv4Addr = Ipv4Addr::new(10, 255, 0, 2);
/// W6: the protocol `ip -batch` tags its routes with (`bgp`).
const IP_BATCH_PROTOCOL: u8 = 186;
const BYTES_PER_KB: f64 = 1000.0;
const PERCENT: f64 = 100.0;

/// The workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Workload {
    W1,
    W2,
    W3,
    W4,
    W5,
    W6,
}

impl Workload {
    pub const ALL: [Workload; 6] = [
        Workload::W1,
        Workload::W2,
        Workload::W3,
        Workload::W4,
        Workload::W5,
        Workload::W6,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Workload::W1 => "W1",
            Workload::W2 => "W2",
            Workload::W3 => "W3",
            Workload::W4 => "W4",
            Workload::W5 => "W5",
            Workload::W6 => "W6",
        }
    }

    pub fn parse(id: &str) -> Option<Workload> {
        Workload::ALL
            .into_iter()
            .find(|w| w.id().eq_ignore_ascii_case(id))
    }

    pub fn title(self) -> &'static str {
        match self {
            Workload::W1 => "ingest and reflect",
            Workload::W2 => "pass-through",
            Workload::W3 => "reflector fan-out",
            Workload::W4 => "cluster scale",
            Workload::W5 => "churn",
            Workload::W6 => "kernel",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Workload::W1 => {
                "Senders (iBGP non-clients) each announce unique IPv4 /24s; one route-reflector \
                 client receives every route. Time from the first write to the receiver holding \
                 the last prefix; the daemon's CPU over that time and its peak memory (VmHWM)."
            }
            Workload::W2 => {
                "One sender → daemon → one receiver. Routes per second from the first write to \
                 the last prefix received; per-prefix latency from the write that carried it to \
                 its arrival at the receiver."
            }
            Workload::W3 => {
                "One injector, every other session a route-reflector client. Prefix-updates \
                 delivered (clients × prefixes) per CPU second of the daemon, and the time until \
                 the last client holds every prefix."
            }
            Workload::W4 => {
                "Peers (iBGP non-clients) each announce four /26 and five /32 as soon as their \
                 session is up; the daemon installs them in its kernel. Time from the first \
                 connection to every session Established and every route in the kernel's main \
                 table; resident memory added per session; CPU while idle afterwards (% of one \
                 CPU). GoBGP has no kernel FIB of its own and is left out."
            }
            Workload::W6 => {
                "One sender announces IPv4 /24s; the daemon installs them in its kernel. Routes \
                 per second from the first write to the last route in the main table (BGP \
                 ingest included), against `ip -batch` adding the same routes in an empty \
                 namespace. GoBGP has no kernel FIB of its own and is left out."
            }
            Workload::W5 => {
                "From W3's steady state: withdraw 10 % of the prefixes at 10,000 prefixes/s, \
                 then re-announce them at the same rate, then drop one client. Propagation of a \
                 prefix: from the write that carried its withdrawal (announcement) to the last \
                 client having dropped (got) it; resident memory 2 s after the drop against the \
                 steady state."
            }
        }
    }

    /// The table columns; the first is the chart's.
    pub fn metrics(self) -> Vec<Metric> {
        let metric = |name, unit, higher_is_better| Metric {
            name,
            unit,
            higher_is_better,
        };
        match self {
            Workload::W1 => vec![
                metric("completion", "s", false),
                metric("daemon CPU", "s", false),
                metric("peak memory", "MB", false),
                metric("harness CPU", "s", false),
            ],
            Workload::W2 => vec![
                metric("throughput", "routes/s", true),
                metric("latency p50", "ms", false),
                metric("latency p99", "ms", false),
                metric("daemon CPU", "s", false),
                metric("peak memory", "MB", false),
            ],
            Workload::W3 => vec![
                metric("prefix-updates per CPU second", "1/s", true),
                metric("last client complete", "s", false),
                metric("daemon CPU", "s", false),
                metric("peak memory", "MB", false),
                metric("harness CPU", "s", false),
            ],
            Workload::W4 => vec![
                metric("Established + in kernel", "s", false),
                metric("all Established", "s", false),
                metric("memory per session", "kB", false),
                metric("idle CPU", "%", false),
                metric("peak memory", "MB", false),
            ],
            Workload::W6 => vec![
                metric("install rate", "routes/s", true),
                metric("completion", "s", false),
                metric("daemon CPU", "s", false),
                metric("peak memory", "MB", false),
            ],
            Workload::W5 => vec![
                metric("withdrawal propagation, slowest prefix", "ms", false),
                metric("withdrawal propagation p99", "ms", false),
                metric("re-announce propagation, slowest prefix", "ms", false),
                metric("memory after drop − steady", "MB", false),
                metric("daemon CPU during churn", "s", false),
            ],
        }
    }

    /// The points of the workload (full sizes, or small ones for `--quick`).
    pub fn points(self, quick: bool) -> Vec<Point> {
        let v4 = |count| PrefixSpace::ipv4(INGEST_V4_BASE, INGEST_V4_LEN, count);
        let v6 = |count| PrefixSpace::ipv6(INGEST_V6_BASE, INGEST_V6_LEN, count);
        let pods = |count| PrefixSpace::ipv4(POD_BLOCK_BASE, POD_BLOCK_LEN, count);
        let point = |senders, receivers, space| Point {
            senders,
            receivers,
            space,
        };
        match (self, quick) {
            (Workload::W1, false) => vec![point(10, 1, v4(1_000_000))],
            (Workload::W1, true) => vec![point(3, 1, v4(15_000))],
            (Workload::W2, false) => vec![
                point(1, 1, v4(100_000)),
                point(1, 1, v4(1_000_000)),
                point(1, 1, v6(100_000)),
            ],
            (Workload::W2, true) => vec![point(1, 1, v4(10_000)), point(1, 1, v6(5_000))],
            (Workload::W3, false) => vec![
                point(1, 100, pods(4_000)),
                point(1, 500, pods(4_000)),
                point(1, 100, pods(100_000)),
                point(1, 500, pods(100_000)),
            ],
            (Workload::W3, true) => vec![point(1, 20, pods(4_000))],
            (Workload::W4, false) => vec![
                point(100, 0, pods(100 * BLOCKS_PER_PEER)),
                point(200, 0, pods(200 * BLOCKS_PER_PEER)),
                point(500, 0, pods(500 * BLOCKS_PER_PEER)),
            ],
            (Workload::W4, true) => vec![point(20, 0, pods(20 * BLOCKS_PER_PEER))],
            (Workload::W6, false) => vec![point(1, 0, v4(100_000)), point(1, 0, v4(1_000_000))],
            (Workload::W6, true) => vec![point(1, 0, v4(10_000))],
            (Workload::W5, false) => vec![point(1, 100, pods(4_000)), point(1, 100, pods(100_000))],
            (Workload::W5, true) => vec![point(1, 10, pods(2_000))],
        }
    }

    /// The daemons of `requested` this workload can run, plus its yardsticks.
    pub fn daemons(self, requested: &[Daemon]) -> Vec<Daemon> {
        let mut daemons: Vec<Daemon> = requested
            .iter()
            .copied()
            .filter(|d| *d != Daemon::IpBatch)
            .filter(|d| !(self.kernel() && *d == Daemon::GoBgp))
            .collect();
        if self == Workload::W6 {
            daemons.push(Daemon::IpBatch);
        }
        daemons
    }

    /// Whether the daemon installs routes in its kernel in this workload.
    fn kernel(self) -> bool {
        matches!(self, Workload::W4 | Workload::W6)
    }

    /// Runs once against `daemon` at `point`.
    pub fn run(self, daemon: Daemon, point: &Point, timeout: Duration) -> RunOutcome {
        let result = match self {
            Workload::W1 | Workload::W2 | Workload::W3 => load(self, daemon, point, timeout),
            Workload::W4 => cluster(daemon, point, timeout),
            Workload::W5 => churn(daemon, point, timeout),
            Workload::W6 if daemon == Daemon::IpBatch => ip_batch(point, timeout),
            Workload::W6 => kernel_install(daemon, point, timeout),
        };
        result.unwrap_or_else(|e| RunOutcome::Failed(shorten(&e.to_string())))
    }
}

/// Sessions and prefixes of one point. The space is split evenly between the senders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point {
    pub senders: usize,
    pub receivers: usize,
    pub space: PrefixSpace,
}

impl Point {
    /// `10 senders × 100,000 IPv4` style label.
    pub fn label(&self, workload: Workload) -> String {
        let family = match self.space.family {
            AfiSafi::Ipv4Unicast => "IPv4",
            AfiSafi::Ipv6Unicast => "IPv6",
        };
        let count = super::report::format_value(f64::from(self.space.count));
        match workload {
            Workload::W1 => format!(
                "{} × {} {family}",
                self.senders,
                super::report::format_value(f64::from(self.space.count) / self.senders as f64)
            ),
            Workload::W2 => format!("{count} {family}"),
            Workload::W3 | Workload::W5 => format!("{} clients, {count}", self.receivers),
            Workload::W4 => format!("{} peers", self.senders),
            Workload::W6 => format!("{count} {family}"),
        }
    }

    /// The prefixes sender `k` announces.
    fn share(&self, sender: usize) -> std::ops::Range<u32> {
        let senders = u32::try_from(self.senders.max(1)).unwrap_or(u32::MAX);
        let each = self.space.count / senders;
        let k = u32::try_from(sender).unwrap_or(u32::MAX);
        let end = if k + 1 == senders {
            self.space.count
        } else {
            (k + 1) * each
        };
        k * each..end
    }
}

/// A started daemon and the plans of the harness sessions, not connected yet.
struct Prepared {
    lab: Lab,
    dut: Dut,
    dut_host: Host,
    harness: Host,
    plans: Vec<SessionPlan>,
}

impl Prepared {
    /// A fresh lab, the daemon configured with one neighbor per session (senders first), and
    /// the harness addresses. `kernel`: the daemon installs routes in its kernel table.
    fn new(daemon: Daemon, point: &Point, kernel: bool) -> Result<Prepared> {
        let lab = Lab::new()?;
        let dut_host = lab.host("dut")?;
        let harness = lab.host("harness")?;
        let sessions = point.senders + point.receivers;
        let extra = u32::try_from(sessions.saturating_sub(1))
            .map_err(|_| LabError::Invalid("too many sessions".into()))?;
        let mut pairs = vec![AddressPair {
            ipv4: harness.ipv4,
            ipv6: harness.ipv6,
        }];
        pairs.extend(lab.add_addresses(&harness, extra)?);
        let family = point.space.family;
        let address = |pair: &AddressPair| match family {
            AfiSafi::Ipv4Unicast => IpAddr::V4(pair.ipv4),
            AfiSafi::Ipv6Unicast => IpAddr::V6(pair.ipv6),
        };
        let mut spec = RouterSpec::new(dut_host.ipv4, ASN);
        spec.cluster_id = Some(ClusterId(dut_host.ipv4));
        let mut plans = Vec::with_capacity(sessions);
        for (index, pair) in pairs.iter().enumerate() {
            let receiver = index >= point.senders;
            spec.neighbors.push(NeighborSpec {
                passive: true,
                hold_time: HoldTime(HOLD_TIME_S),
                rr_client: receiver,
                ..NeighborSpec::new(address(pair), ASN)
            });
            plans.push(SessionPlan {
                local: address(pair),
                remote: dut_host.address(IpVersion::of(address(pair))),
                asn: ASN,
                router_id: pair.ipv4,
                family,
                receiver,
                on_established: None,
            });
        }
        let dut = Dut::start(&lab, &dut_host, daemon, spec, kernel)?;
        pin_harness()?;
        Ok(Prepared {
            lab,
            dut,
            dut_host,
            harness,
            plans,
        })
    }

    /// Connects every session and waits until all are Established; receivers then send their
    /// End-of-RIB (RFC 4724 §2: they have nothing to announce).
    fn establish(self, point: &Point) -> Result<Bed> {
        let next_hops = self
            .plans
            .iter()
            .take(point.senders)
            .map(|p| p.local)
            .collect();
        let mut engine = Engine::connect(&self.harness.netns, self.plans, point.space)?;
        let all = engine.len();
        if !engine.run_until(ESTABLISH_TIMEOUT, |e| e.established() == all)? {
            return Err(LabError::Invalid(format!(
                "{} of {all} sessions Established after {ESTABLISH_TIMEOUT:?}",
                engine.established()
            )));
        }
        for receiver in point.senders..all {
            let eor = engine.end_of_rib(receiver)?;
            engine.send(receiver, eor)?;
        }
        Ok(Bed {
            engine,
            dut: self.dut,
            dut_host: self.dut_host,
            _lab: self.lab,
            next_hops,
        })
    }
}

/// A daemon with every harness session established.
struct Bed {
    /// Fields drop in order: sessions first, then the daemon, then the namespaces.
    engine: Engine,
    dut: Dut,
    dut_host: Host,
    _lab: Lab,
    /// Next hop of sender `k` (its own address).
    next_hops: Vec<IpAddr>,
}

impl Bed {
    fn new(daemon: Daemon, point: &Point, kernel: bool) -> Result<Bed> {
        Prepared::new(daemon, point, kernel)?.establish(point)
    }

    /// Everything sender `k` announces, then its End-of-RIB, as one batch.
    fn announcements(&self, point: &Point, sender: usize) -> Result<Batch> {
        let next_hop = *self
            .next_hops
            .get(sender)
            .ok_or_else(|| LabError::Invalid(format!("no sender {sender}")))?;
        let routes = wire::announce(&point.space, point.share(sender), next_hop)?;
        let eor = self.engine.end_of_rib(sender)?;
        Ok(Batch::concat(&[routes, eor]))
    }

    /// Sends every sender's announcements and waits until each receiver holds `expected`
    /// prefixes; returns the start and the moment the last receiver got its last prefix.
    fn load(
        &mut self,
        point: &Point,
        batches: Vec<Batch>,
        timeout: Duration,
    ) -> Result<(Instant, Instant)> {
        let start = Instant::now();
        for (sender, batch) in batches.into_iter().enumerate() {
            self.engine.send(sender, batch)?;
        }
        let expected = point.space.count;
        self.wait_tables(timeout, "announcements", |count| count == expected)?;
        Ok((start, self.last_change(start)))
    }

    /// Runs until every receiver's count satisfies `complete`.
    fn wait_tables(
        &mut self,
        timeout: Duration,
        what: &str,
        complete: impl Fn(u32) -> bool,
    ) -> Result<()> {
        let done = self
            .engine
            .run_until(timeout, |e| e.tables().all(|t| complete(t.count())))?;
        if done {
            Ok(())
        } else {
            let counts: Vec<u32> = self.engine.tables().map(|t| t.count()).collect();
            let lowest = counts.iter().min().copied().unwrap_or(0);
            Err(LabError::Invalid(format!(
                "timeout after {timeout:?} waiting for {what}: lowest receiver count {lowest} of {}",
                self.engine.space().count
            )))
        }
    }

    fn last_change(&self, fallback: Instant) -> Instant {
        self.engine
            .tables()
            .filter_map(|t| t.last_change)
            .max()
            .unwrap_or(fallback)
    }
}

/// W1, W2, W3: announce everything once and measure until every receiver has it all.
fn load(
    workload: Workload,
    daemon: Daemon,
    point: &Point,
    timeout: Duration,
) -> Result<RunOutcome> {
    let mut bed = Bed::new(daemon, point, false)?;
    let batches = (0..point.senders)
        .map(|sender| bed.announcements(point, sender))
        .collect::<Result<Vec<_>>>()?;
    let before = bed.dut.usage()?;
    let harness_before = harness_usage()?;
    let (start, end) = bed.load(point, batches, timeout)?;
    let after = bed.dut.usage()?;
    let harness = harness_usage()?.cpu_since(&harness_before);
    let wall = end.saturating_duration_since(start);
    let cpu = after.cpu_since(&before);
    let generator_bound = generator_bound(harness, cpu, Instant::now() - start);
    let seconds = wall.as_secs_f64();
    let values = match workload {
        Workload::W1 => vec![
            seconds,
            cpu.as_secs_f64(),
            megabytes(after.peak),
            harness.as_secs_f64(),
        ],
        Workload::W2 => {
            let latency = bed
                .engine
                .latency(0..point.space.count)
                .ok_or_else(|| LabError::Invalid("no latency samples".into()))?;
            vec![
                f64::from(point.space.count) / seconds,
                latency.p50.as_secs_f64() * MS_PER_S,
                latency.p99.as_secs_f64() * MS_PER_S,
                cpu.as_secs_f64(),
                megabytes(after.peak),
            ]
        }
        _ => {
            let updates = f64::from(point.space.count) * point.receivers as f64;
            vec![
                updates / cpu.as_secs_f64(),
                seconds,
                cpu.as_secs_f64(),
                megabytes(after.peak),
                harness.as_secs_f64(),
            ]
        }
    };
    Ok(RunOutcome::Measured {
        values,
        generator_bound,
    })
}

/// W5: W3's load, then 10 % withdrawn and re-announced at a fixed rate, then one client
/// dropped.
fn churn(daemon: Daemon, point: &Point, timeout: Duration) -> Result<RunOutcome> {
    let mut bed = Bed::new(daemon, point, false)?;
    let batch = bed.announcements(point, 0)?;
    bed.load(point, vec![batch], timeout)?;
    let steady: Usage = bed.dut.usage()?;
    let harness_before = harness_usage()?;
    let churned = point.space.count / CHURN_SHARE_DIVISOR;
    let next_hop = *bed
        .next_hops
        .first()
        .ok_or_else(|| LabError::Invalid("no injector".into()))?;
    let batches = |announce: bool| -> Result<Vec<Batch>> {
        (0..churned)
            .step_by(CHURN_BATCH as usize)
            .map(|from| {
                let range = from..(from + CHURN_BATCH).min(churned);
                if announce {
                    wire::announce(&point.space, range, next_hop)
                } else {
                    wire::withdraw(&point.space, range)
                }
            })
            .collect()
    };
    let withdrawals = batches(false)?;
    let reannouncements = batches(true)?;
    let full = point.space.count;
    let withdraw_started = Instant::now();
    let withdrawn = paced(&mut bed, withdrawals, churned, timeout, full - churned)?;
    let reannounced = paced(&mut bed, reannouncements, churned, timeout, full)?;
    let churn_cpu = bed.dut.usage()?.cpu_since(&steady);
    let wall = withdraw_started.elapsed();
    let harness = harness_usage()?.cpu_since(&harness_before);
    // The pace is fixed here: the generator is the bottleneck only if it could not keep it.
    let generator_bound = saturated(harness, wall);
    let last = bed.engine.len() - 1;
    bed.engine.close(last);
    bed.engine.run_until(DROP_SETTLE, |_| false)?;
    let dropped = bed.dut.usage()?;
    let memory_delta = (dropped.resident as f64 - steady.resident as f64) / BYTES_PER_MB;
    Ok(RunOutcome::Measured {
        values: vec![
            withdrawn.max.as_secs_f64() * MS_PER_S,
            withdrawn.p99.as_secs_f64() * MS_PER_S,
            reannounced.max.as_secs_f64() * MS_PER_S,
            memory_delta,
            churn_cpu.as_secs_f64(),
        ],
        generator_bound,
    })
}

/// Sends `batches` one per [`CHURN_TICK`] on the injector, then waits until every receiver
/// holds `target` prefixes. Returns, over the churned prefixes, the time from the write that
/// carried each one to its effect at the slowest receiver.
fn paced(
    bed: &mut Bed,
    batches: Vec<Batch>,
    churned: u32,
    timeout: Duration,
    target: u32,
) -> Result<Latency> {
    bed.engine.reset_stamps();
    let mut tick = Instant::now();
    for batch in batches {
        bed.engine.send(0, batch)?;
        tick += CHURN_TICK;
        let wait = tick.saturating_duration_since(Instant::now());
        bed.engine.run_until(wait, |_| false)?;
    }
    bed.wait_tables(timeout, "churn", |count| count == target)?;
    bed.engine
        .latency(0..churned)
        .ok_or_else(|| LabError::Invalid("no churn latency samples".into()))
}

/// W4: every peer announces its routes once Established; measure until all are in the
/// daemon's kernel.
fn cluster(daemon: Daemon, point: &Point, timeout: Duration) -> Result<RunOutcome> {
    let peers =
        u32::try_from(point.senders).map_err(|_| LabError::Invalid("too many peers".into()))?;
    let hosts = PrefixSpace::ipv4(HOST_ROUTE_BASE, HOST_ROUTE_LEN, peers * HOSTS_PER_PEER);
    let mut prepared = Prepared::new(daemon, point, true)?;
    for (peer, plan) in (0..peers).zip(prepared.plans.iter_mut()) {
        let blocks = peer * BLOCKS_PER_PEER..(peer + 1) * BLOCKS_PER_PEER;
        let host_routes = peer * HOSTS_PER_PEER..(peer + 1) * HOSTS_PER_PEER;
        plan.on_established = Some(Batch::concat(&[
            wire::announce(&point.space, blocks, plan.local)?,
            wire::announce(&hosts, host_routes, plan.local)?,
            wire::end_of_rib(plan.family)?,
        ]));
    }
    let netns = prepared.dut_host.netns.clone();
    // The clock covers sessions and routes, not the daemon's own start-up.
    std::thread::sleep(STARTUP_SETTLE);
    let baseline = kernel_prefixes(&netns)?;
    let before = prepared.dut.usage()?;
    let harness_before = harness_usage()?;
    let start = Instant::now();
    let mut bed = prepared.establish(point)?;
    let established = start.elapsed();
    let target = baseline + u64::from(peers * (BLOCKS_PER_PEER + HOSTS_PER_PEER));
    wait_kernel(&mut bed, &netns, target, start + timeout)?;
    let converged = start.elapsed();
    let after = bed.dut.usage()?;
    let harness = harness_usage()?.cpu_since(&harness_before);
    bed.engine.run_until(IDLE_WINDOW, |_| false)?;
    let idle = bed.dut.usage()?.cpu_since(&after);
    let per_session =
        (after.resident as f64 - before.resident as f64) / f64::from(peers) / BYTES_PER_KB;
    Ok(RunOutcome::Measured {
        values: vec![
            converged.as_secs_f64(),
            established.as_secs_f64(),
            per_session,
            idle.as_secs_f64() / IDLE_WINDOW.as_secs_f64() * PERCENT,
            megabytes(after.peak),
        ],
        generator_bound: generator_bound(harness, after.cpu_since(&before), converged),
    })
}

/// W6: one sender's routes until they are all in the daemon's kernel.
fn kernel_install(daemon: Daemon, point: &Point, timeout: Duration) -> Result<RunOutcome> {
    let mut bed = Bed::new(daemon, point, true)?;
    let netns = bed.dut_host.netns.clone();
    let baseline = kernel_prefixes(&netns)?;
    let batch = bed.announcements(point, 0)?;
    let before = bed.dut.usage()?;
    let harness_before = harness_usage()?;
    let start = Instant::now();
    bed.engine.send(0, batch)?;
    wait_kernel(
        &mut bed,
        &netns,
        baseline + u64::from(point.space.count),
        start + timeout,
    )?;
    let done = start.elapsed();
    let after = bed.dut.usage()?;
    let cpu = after.cpu_since(&before);
    let harness = harness_usage()?.cpu_since(&harness_before);
    Ok(RunOutcome::Measured {
        values: vec![
            f64::from(point.space.count) / done.as_secs_f64(),
            done.as_secs_f64(),
            cpu.as_secs_f64(),
            megabytes(after.peak),
        ],
        generator_bound: generator_bound(harness, cpu, done),
    })
}

/// W6's yardstick: `ip -batch` adding the same routes to an empty namespace.
fn ip_batch(point: &Point, timeout: Duration) -> Result<RunOutcome> {
    use std::fmt::Write as _;
    let lab = Lab::new()?;
    let host = lab.host("dut")?;
    let mut batch = String::new();
    for index in 0..point.space.count {
        let prefix = point.space.ipv4_prefix(index)?;
        let _ = writeln!(
            batch,
            "route add {prefix} via {IP_BATCH_NEXT_HOP} proto {IP_BATCH_PROTOCOL}"
        );
    }
    let file = lab.path("routes.batch");
    std::fs::write(&file, batch).map_err(|e| LabError::io("write routes.batch", e))?;
    let file = file
        .to_str()
        .ok_or_else(|| LabError::Invalid("non-UTF-8 lab path".into()))?
        .to_owned();
    let baseline = kernel_prefixes(&host.netns)?;
    let mut command = std::process::Command::new("ip");
    command.args(["-n", &host.netns, "-batch", &file]);
    let start = Instant::now();
    let output = crate::command::output_with_timeout(&mut command, None, timeout, "ip -batch")?;
    let done = start.elapsed();
    if !output.status.success() {
        return Err(LabError::Command {
            command: "ip -batch".into(),
            status: output.status.to_string(),
            stderr: output.stderr,
        });
    }
    let installed = kernel_prefixes(&host.netns)? - baseline;
    if installed < u64::from(point.space.count) {
        return Err(LabError::Invalid(format!(
            "ip -batch installed {installed} of {}",
            point.space.count
        )));
    }
    Ok(RunOutcome::Measured {
        values: vec![
            f64::from(point.space.count) / done.as_secs_f64(),
            done.as_secs_f64(),
            f64::NAN,
            f64::NAN,
        ],
        generator_bound: false,
    })
}

/// Keeps the sessions going until the daemon's main table holds `target` prefixes.
fn wait_kernel(bed: &mut Bed, netns: &str, target: u64, deadline: Instant) -> Result<()> {
    loop {
        let installed = kernel_prefixes(netns)?;
        if installed >= target {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(LabError::Invalid(format!(
                "timeout: {installed} of {target} prefixes in the kernel"
            )));
        }
        bed.engine.run_until(KERNEL_POLL, |_| false)?;
    }
}

/// The generator set the pace (it was busy nearly all the time), or it was not cheaper than
/// the daemon (ignoring amounts within the 10 ms resolution of `/proc`'s CPU times).
fn generator_bound(harness: Duration, daemon: Duration, wall: Duration) -> bool {
    saturated(harness, wall) || (harness > daemon && harness >= SIGNIFICANT_CPU)
}

fn saturated(harness: Duration, wall: Duration) -> bool {
    harness.as_secs_f64() >= GENERATOR_BOUND_SHARE * wall.as_secs_f64()
}

fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / BYTES_PER_MB
}

/// Keeps failure reasons table-sized.
fn shorten(text: &str) -> String {
    const MAX: usize = 160;
    let line = text.lines().next().unwrap_or_default();
    if line.len() <= MAX {
        line.to_owned()
    } else {
        let cut = (0..=MAX)
            .rev()
            .find(|i| line.is_char_boundary(*i))
            .unwrap_or(0);
        format!("{}…", &line[..cut])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn senders_split_the_space() {
        let point = Point {
            senders: 3,
            receivers: 1,
            space: PrefixSpace::ipv4(INGEST_V4_BASE, INGEST_V4_LEN, 10),
        };
        let check = |sender: usize, expected: std::ops::Range<u32>| {
            assert_eq!(point.share(sender), expected, "sender {sender}");
        };
        check(0, 0..3);
        check(1, 3..6);
        check(2, 6..10);
    }

    #[test]
    fn workload_ids_round_trip() {
        for workload in Workload::ALL {
            assert_eq!(Workload::parse(workload.id()), Some(workload));
            assert!(!workload.points(true).is_empty());
            assert!(!workload.points(false).is_empty());
        }
    }
}
