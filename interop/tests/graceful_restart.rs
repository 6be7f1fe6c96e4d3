//! Graceful restart (RFC 4724) with real forwarding: two nodes, each with a pod behind a veth
//! whose connected route `[kernel.advertise]` originates; a ping every 10 ms from one pod to the
//! other must lose nothing while a `bgpd` is stopped (SIGTERM or SIGKILL) and started again —
//! a node of a mesh, a Starling route reflector, or a node whose reflector (the helper) is
//! BIRD or GoBGP. A node that never returns loses its routes from the other kernel after its
//! restart time; two nodes restarting at once recover without waiting for each other's
//! End-of-RIB. Each test prints its figures (packets lost, time to recover).
//!
//! RFC 8538: a SIGTERM sends Cease / Administrative Shutdown to a helper that negotiated the
//! N bit (Starling, GoBGP 3.10), which keeps the routes all the same; BIRD 2.0.12 does not
//! offer N and sees the connection close without a NOTIFICATION. An operator's `disable`
//! is a Hard Reset: the helper drops the routes at once.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use interop::{
    kernel_routes, lab_available, wait_until, Extra, Host, IpVersion, Lab, NeighborSpec, PeerKind,
    Process, RouteProtocol, RouterSpec, Starling, DEFAULT_INTERVAL, MAIN_TABLE,
};
use ipnet::{IpNet, Ipv4Net};
use proto::{Asn, ClusterId};

const ASN: Asn = Asn(64512);
const CLUSTER: ClusterId = ClusterId(Ipv4Addr::new(10, 0, 0, 9));
/// Our Restart Time: short, so that the neighbor that never returns is judged quickly.
const RESTART_TIME: Duration = Duration::from_secs(8);
/// The Selection_Deferral_Timer: longer than any recovery, so that a recovery faster than it
/// shows that nobody waited for it.
const SELECTION_DEFERRAL: Duration = Duration::from_secs(40);
/// Pings per stream, 10 ms apart: about 7 s, longer than a restart and its recovery.
const PING_COUNT: u32 = 700;
const PING_INTERVAL: &str = "0.01";
/// Pools the pods' links come from (`interop::Lab::link` uses 10.254.k.0/24).
const POD_POOL: &str = "10.254.0.0/16";
/// How long anything in these scenarios may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A node: its host on the LAN and its pod, a namespace reached only through the node.
struct Node {
    host: Host,
    pod: Host,
    /// The pod's address, in the pod network `prefix`.
    pod_address: Ipv4Addr,
    prefix: IpNet,
}

fn node(lab: &Lab, name: &str) -> Node {
    let host = lab.host(name).expect("host");
    let pod = lab.host(&format!("{name}pod")).expect("pod host");
    let link = lab.link(&host, &pod).expect("pod link");
    // The pod leaves the LAN: its only way out is its node.
    lab.exec(&pod, &["ip", "link", "del", "eth0"])
        .expect("pod off the LAN");
    let gateway = link.a_ipv4.to_string();
    lab.exec(&pod, &["ip", "route", "add", "default", "via", &gateway])
        .expect("pod default route");
    lab.exec(&host, &["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        .expect("forwarding");
    let prefix = Ipv4Net::new(link.b_ipv4, interop::lab::LINK_V4_PREFIX_LEN)
        .expect("link prefix")
        .trunc();
    Node {
        host,
        pod,
        pod_address: link.b_ipv4,
        prefix: IpNet::V4(prefix),
    }
}

/// Graceful restart on, with a kernel FIB that keeps its routes on exit and advertises the
/// pods' connected routes.
fn node_extra() -> Extra {
    reflector_extra().section(&format!(
        "[kernel]\npersist_on_exit = true\n\n[kernel.advertise]\nprefixes = [\"{POD_POOL}\"]\nprotocols = [\"kernel\"]"
    ))
}

/// Graceful restart on, no kernel (a pure reflector).
fn reflector_extra() -> Extra {
    Extra::default().global(&format!(
        "graceful_restart = {{ enabled = true, restart_time = {}, selection_deferral_time = {} }}",
        RESTART_TIME.as_secs(),
        SELECTION_DEFERRAL.as_secs()
    ))
}

fn ibgp(host: &Host) -> NeighborSpec {
    NeighborSpec {
        graceful_restart: true,
        ..NeighborSpec::new(IpAddr::V4(host.ipv4), ASN)
    }
}

fn client(host: &Host) -> NeighborSpec {
    NeighborSpec {
        rr_client: true,
        ..ibgp(host)
    }
}

/// A Starling node peering with `neighbors`.
fn start_node(lab: &Lab, node: &Node, neighbors: &[&Host]) -> (Starling, RouterSpec) {
    let spec = neighbors
        .iter()
        .fold(RouterSpec::new(node.host.ipv4, ASN), |spec, host| {
            spec.neighbor(ibgp(host))
        });
    let starling = Starling::start_with(lab, &node.host, &spec, &node_extra()).expect("bgpd");
    (starling, spec)
}

/// Two Starling nodes peering directly: the nodes and their daemons with their specs.
type Mesh = ((Node, Starling, RouterSpec), (Node, Starling, RouterSpec));

fn mesh(lab: &Lab) -> Mesh {
    let a = node(lab, "a");
    let b = node(lab, "b");
    let (starling_a, spec_a) = start_node(lab, &a, &[&b.host]);
    let (starling_b, spec_b) = start_node(lab, &b, &[&a.host]);
    ((a, starling_a, spec_a), (b, starling_b, spec_b))
}

/// A reflector host, the nodes `a` and `b`, and the reflector spec with both as clients.
fn reflector_of(lab: &Lab) -> (Host, Node, Node, RouterSpec) {
    let rr = lab.host("rr").expect("host");
    let a = node(lab, "a");
    let b = node(lab, "b");
    let mut rr_spec = RouterSpec::new(rr.ipv4, ASN)
        .neighbor(client(&a.host))
        .neighbor(client(&b.host));
    rr_spec.cluster_id = Some(CLUSTER);
    (rr, a, b, rr_spec)
}

/// A running ping stream from `from`'s pod to `to`'s.
struct PingStream(Process);

impl PingStream {
    fn start(lab: &Lab, from: &Node, to: &Node, name: &str) -> PingStream {
        let target = to.pod_address.to_string();
        let count = PING_COUNT.to_string();
        PingStream(
            lab.spawn(
                &from.pod,
                name,
                &[
                    "ping",
                    "-q",
                    "-n",
                    "-i",
                    PING_INTERVAL,
                    "-c",
                    &count,
                    "-W",
                    "1",
                    &target,
                ],
            )
            .expect("ping"),
        )
    }

    /// Waits for the stream to end; (transmitted, received).
    fn finish(mut self) -> (u32, u32) {
        let limit = Duration::from_millis(u64::from(PING_COUNT) * 20) + TIMEOUT;
        wait_until("ping stream to end", limit, DEFAULT_INTERVAL, || {
            Ok(self.0.exit_status()?.map(|_| ()))
        })
        .expect("ping ends");
        let summary = std::fs::read_to_string(self.0.stdout_path()).expect("ping output");
        parse_ping(&summary).unwrap_or_else(|| panic!("ping summary: {summary}"))
    }
}

/// `N packets transmitted, M received` from ping's summary.
fn parse_ping(summary: &str) -> Option<(u32, u32)> {
    let line = summary
        .lines()
        .find(|l| l.contains("packets transmitted"))?;
    let mut numbers = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<u32>());
    Some((numbers.next()?.ok()?, numbers.next()?.ok()?))
}

/// Waits until `from`'s pod reaches `to`'s.
fn wait_reachable(lab: &Lab, from: &Node, to: &Node) {
    let target = to.pod_address.to_string();
    wait_until(
        "pods to reach each other",
        TIMEOUT,
        DEFAULT_INTERVAL,
        || {
            Ok(lab
                .exec(&from.pod, &["ping", "-c", "1", "-W", "1", &target])
                .ok()
                .map(|_| ()))
        },
    )
    .expect("pods reachable");
}

/// Stops `starling` with `signal` and waits for the process to end.
fn stop(mut starling: Starling, signal: i32) {
    starling.process().signal(signal);
    wait_until("bgpd to exit", TIMEOUT, DEFAULT_INTERVAL, || {
        Ok(starling.process().exit_status()?.map(|_| ()))
    })
    .expect("bgpd exits");
}

/// `bgpctl show status` `graceful_restart`.
fn restart_state(starling: &Starling) -> Option<String> {
    let status: serde_json::Value =
        serde_json::from_str(&starling.bgpctl(&["show", "status"]).ok()?).ok()?;
    status["graceful_restart"].as_str().map(str::to_owned)
}

/// Waits until `starling` has finished its restart (selection done, End-of-RIB sent).
fn wait_recovered(starling: &Starling, others: &[&Starling]) {
    wait_until("restart to finish", TIMEOUT, DEFAULT_INTERVAL, || {
        Ok((restart_state(starling).as_deref() == Some("none")).then_some(()))
    })
    .unwrap_or_else(|error| {
        let others: Vec<String> = others.iter().map(|o| info_log(o)).collect();
        panic!(
            "{error}\n{}\n--- others\n{}",
            info_log(starling),
            others.join("\n---\n")
        )
    });
}

/// The daemon's log without its debug events, for failure messages.
fn info_log(starling: &Starling) -> String {
    starling
        .log()
        .unwrap_or_default()
        .lines()
        .filter(|line| !line.contains("\"DEBUG\""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether `host`'s kernel routes `prefix` with a route Starling (or another BGP daemon)
/// installed.
fn has_bgp_route(host: &Host, prefix: IpNet) -> bool {
    kernel_routes(host, IpVersion::V4, MAIN_TABLE)
        .expect("kernel routes")
        .iter()
        .any(|r| r.prefix == prefix && r.protocol == RouteProtocol::BGP)
}

/// Restarts the node `restarted` (whose daemon is `daemon`) with `signal` while pod `from`
/// pings pod `to`; returns (packets lost, time from the start of the new bgpd to the end of
/// its restart).
fn restart_under_ping(
    lab: &Lab,
    (from, to): (&Node, &Node),
    restarted: &Host,
    daemon: (Starling, RouterSpec, Extra),
    signal: i32,
    others: &[&Starling],
) -> (u32, Duration) {
    wait_reachable(lab, from, to);
    let (starling, spec, extra) = daemon;
    let ping = PingStream::start(lab, from, to, "ping");
    std::thread::sleep(Duration::from_millis(500));
    stop(starling, signal);
    let started = Instant::now();
    let starling = Starling::start_with(lab, restarted, &spec, &extra).expect("bgpd again");
    wait_recovered(&starling, others);
    let recovered = started.elapsed();
    let (sent, received) = ping.finish();
    (sent - received, recovered)
}

fn report(test: &str, lost: u32, recovered: Duration) {
    println!(
        "{test}: {lost} of {PING_COUNT} packets lost; restart finished {:.2} s after bgpd started",
        recovered.as_secs_f64()
    );
}

/// The shutdown communication of the Cease a restarting bgpd sends (`bgpd::daemon`).
const RESTART_COMMUNICATION: &str = "bgpd is restarting";

/// Two Starling nodes peering directly; one restarts.
fn mesh_node_restarts(test: &str, signal: i32) {
    if !lab_available(test, &[]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let ((a, starling_a, spec_a), (b, starling_b, _)) = mesh(&lab);
    let (lost, recovered) = restart_under_ping(
        &lab,
        (&b, &a),
        &a.host,
        (starling_a, spec_a, node_extra()),
        signal,
        &[&starling_b],
    );
    report(test, lost, recovered);
    assert_eq!(lost, 0, "{test}: packets lost");
    // Both offer the RFC 8538 N bit: a SIGTERM is announced with a Cease, which the helper
    // took as a graceful restart (no packet lost); a SIGKILL can say nothing.
    let cease = format!(
        "received NOTIFICATION Cease / AdministrativeShutdown (\"{RESTART_COMMUNICATION}\")"
    );
    let downs = starling_b.log_events("session down").expect("helper's log");
    let announced = downs
        .iter()
        .any(|event| event["reason"].as_str() == Some(cease.as_str()) && event["graceful"] == true);
    println!("{test}: the helper's sessions ended: {downs:?}");
    assert_eq!(announced, signal == libc::SIGTERM, "{test}");
}

#[test]
fn sigterm_loses_no_packet() {
    mesh_node_restarts("graceful restart after SIGTERM", libc::SIGTERM);
}

#[test]
fn sigkill_loses_no_packet() {
    mesh_node_restarts("graceful restart after SIGKILL", libc::SIGKILL);
}

/// A Starling route reflector between two Starling nodes restarts.
#[test]
fn reflector_restart_loses_no_packet() {
    let test = "graceful restart of a route reflector";
    if !lab_available(test, &[]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let (rr, a, b, rr_spec) = reflector_of(&lab);
    let reflector = Starling::start_with(&lab, &rr, &rr_spec, &reflector_extra()).expect("rr");
    let (starling_a, _) = start_node(&lab, &a, &[&rr]);
    let (starling_b, _) = start_node(&lab, &b, &[&rr]);
    let (lost, recovered) = restart_under_ping(
        &lab,
        (&a, &b),
        &rr,
        (reflector, rr_spec, reflector_extra()),
        libc::SIGTERM,
        &[&starling_a, &starling_b],
    );
    report(test, lost, recovered);
    assert_eq!(lost, 0, "{test}: packets lost");
}

/// Two Starling nodes behind a BIRD or GoBGP reflector, the helper of the node that restarts.
fn helper_reflector(kind: PeerKind) {
    let test = format!("graceful restart with {} as the helper", kind.name());
    if !lab_available(&test, &[kind.tool()]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let (rr, a, b, rr_spec) = reflector_of(&lab);
    let _reflector = kind.start(&lab, &rr, rr_spec).expect("reflector");
    let (starling_a, spec_a) = start_node(&lab, &a, &[&rr]);
    let (starling_b, _) = start_node(&lab, &b, &[&rr]);
    let (lost, recovered) = restart_under_ping(
        &lab,
        (&b, &a),
        &a.host,
        (starling_a, spec_a, node_extra()),
        libc::SIGTERM,
        &[&starling_b],
    );
    report(&test, lost, recovered);
    assert_eq!(lost, 0, "{test}: packets lost");
    // RFC 8538: GoBGP offers the N bit and got the Cease; BIRD 2.0.12 does not, and saw the
    // connection close without a NOTIFICATION (RFC 4724 §4.2).
    let told = ["stdout", "stderr"].iter().any(|stream| {
        let path = lab.path(&format!("{}-rr.{stream}", kind.name()));
        std::fs::read_to_string(path)
            .expect("the helper's log")
            .contains(RESTART_COMMUNICATION)
    });
    println!("{test}: the helper received the restart's Cease: {told}");
    assert_eq!(told, kind == PeerKind::GoBgp, "{test}");
}

#[test]
fn bird_helper_loses_no_packet() {
    helper_reflector(PeerKind::Bird);
}

#[test]
fn gobgp_helper_loses_no_packet() {
    helper_reflector(PeerKind::GoBgp);
}

/// RFC 8538 §5: an operator's `disable` ends the session for good, as a Hard Reset, even with
/// graceful restart on both sides: the other node drops the routes at once instead of keeping
/// them for the Restart Time.
#[test]
fn disable_is_a_hard_reset() {
    let test = "graceful restart: disable sends a Hard Reset";
    if !lab_available(test, &[]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let ((a, starling_a, _), (b, starling_b, _)) = mesh(&lab);
    wait_reachable(&lab, &b, &a);
    let started = Instant::now();
    starling_a
        .bgpctl(&[
            "neighbor",
            &b.host.ipv4.to_string(),
            "disable",
            "maintenance",
        ])
        .expect("disable");
    wait_until("the route to go", TIMEOUT, DEFAULT_INTERVAL, || {
        Ok((!has_bgp_route(&b.host, a.prefix)).then_some(()))
    })
    .expect("route removed");
    let gone = started.elapsed();
    let last_error = starling_b
        .neighbor(IpAddr::V4(a.host.ipv4))
        .expect("status")
        .last_error
        .unwrap_or_default();
    println!(
        "{test}: route removed {:.2} s after the disable (restart time {} s); {last_error:?}",
        gone.as_secs_f64(),
        RESTART_TIME.as_secs()
    );
    assert!(gone < RESTART_TIME, "{test}: kept as stale");
    assert!(
        last_error.contains("Cease / HardReset (Cease / AdministrativeShutdown (\"maintenance\"))"),
        "{test}: {last_error:?}"
    );
}

/// RFC 4724 §4.2: the routes of a node that does not come back stay for its Restart Time,
/// then leave the other kernel.
#[test]
fn node_that_never_returns_loses_its_routes() {
    let test = "graceful restart: a node that never returns";
    if !lab_available(test, &[]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let ((a, starling_a, _), (b, _starling_b, _)) = mesh(&lab);
    wait_reachable(&lab, &b, &a);
    // From before the kill: the neighbor's timer starts when it sees the connection end.
    let stopped = Instant::now();
    stop(starling_a, libc::SIGKILL);
    std::thread::sleep(RESTART_TIME / 2);
    assert!(
        has_bgp_route(&b.host, a.prefix),
        "{test}: kept during the restart time"
    );
    wait_until("the stale route to go", TIMEOUT, DEFAULT_INTERVAL, || {
        Ok((!has_bgp_route(&b.host, a.prefix)).then_some(()))
    })
    .expect("stale route removed");
    let gone = stopped.elapsed();
    println!(
        "{test}: route removed {:.2} s after the kill (restart time {} s)",
        gone.as_secs_f64(),
        RESTART_TIME.as_secs()
    );
    assert!(
        gone >= RESTART_TIME,
        "{test}: removed before the restart time"
    );
}

/// RFC 4724 §4.1: two nodes restarting at once do not wait for each other's End-of-RIB
/// (each sees the other's Restart State bit): both finish long before the
/// Selection_Deferral_Timer, and the pods keep reaching each other.
#[test]
fn two_nodes_restart_at_once() {
    let test = "graceful restart of two nodes at once";
    if !lab_available(test, &[]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let ((a, starling_a, spec_a), (b, starling_b, spec_b)) = mesh(&lab);
    wait_reachable(&lab, &a, &b);
    let ping = PingStream::start(&lab, &a, &b, "ping");
    std::thread::sleep(Duration::from_millis(500));
    stop(starling_a, libc::SIGTERM);
    stop(starling_b, libc::SIGTERM);
    let started = Instant::now();
    let starling_a = Starling::start_with(&lab, &a.host, &spec_a, &node_extra()).expect("a");
    let starling_b = Starling::start_with(&lab, &b.host, &spec_b, &node_extra()).expect("b");
    wait_recovered(&starling_a, &[&starling_b]);
    wait_recovered(&starling_b, &[&starling_a]);
    let recovered = started.elapsed();
    let (sent, received) = ping.finish();
    report(test, sent - received, recovered);
    assert!(
        recovered < SELECTION_DEFERRAL,
        "{test}: waited for the deferral timer"
    );
    assert_eq!(sent - received, 0, "{test}: packets lost");
}
