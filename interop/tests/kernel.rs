//! Starling's kernel FIB end to end, in real kernels (one network namespace per node): pod
//! routes a CNI plugin would create on node A (the blackhole of its address block and a /32
//! through a veth into a pod namespace) are advertised, installed on node B with Starling's
//! protocol number and seen by BIRD; pods on two nodes ping each other through the programmed
//! routes (IPv4 and IPv6); ECMP; other protocols' routes are left alone; owned routes deleted
//! by hand come back; a 100,000-change burst leaves what is advertised equal to the kernel;
//! `persist_on_exit` keeps the routes over a restart, which adopts them without a gap;
//! `bgpctl show fib`. Everything is read through `ip`, `birdc` and `bgpctl`.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use interop::command::{run, run_with_input};
use interop::starling::KernelSpec;
use interop::{
    kernel_routes, lab_available, BgpPeer, Bird, Extra, Host, IpVersion, KernelRoute, Lab,
    LabError, NeighborSpec, OriginRoute, RouteProtocol, RouterSpec, Starling, Tool,
    DEFAULT_TIMEOUT, MAIN_TABLE,
};
use ipnet::IpNet;
use proto::{AfiSafi, Asn};

const ASN: Asn = Asn(64512);
const TIMEOUT: Duration = DEFAULT_TIMEOUT;
/// Withdrawals must be gone from every neighbor's table within this (the bound).
const WITHDRAW_BOUND: Duration = Duration::from_secs(1);
/// Polling interval while a bound is measured.
const FAST_POLL: Duration = Duration::from_millis(20);
/// `[kernel] protocol` left at its default: `RTPROT_BGP`.
const STARLING: RouteProtocol = RouteProtocol::BGP;
/// The kernel changes of the burst: adds, then deletes of some of them.
const BURST_ADDS: u32 = 60_000;
const BURST_DELETES: u32 = 40_000;
/// The node side of a pod's veth answers for these (Calico's scheme): the pod's gateway.
const POD_GATEWAY_V4: &str = "169.254.1.1";
const POD_GATEWAY_V6: &str = "fe80::1";

fn net(text: &str) -> IpNet {
    text.parse().expect("literal prefix")
}

/// The pools every node advertises from: pod blocks, and the burst's routes.
fn pools() -> Vec<IpNet> {
    vec![
        net("10.100.0.0/16"),
        net("10.101.0.0/16"),
        net("fd00:100::/48"),
    ]
}

/// Node `index`'s pod address block (Calico: /26 and /122) and its first pod's addresses.
struct Block {
    v4: IpNet,
    v6: IpNet,
    pod_v4: IpAddr,
    pod_v6: IpAddr,
}

fn block(index: u8) -> Block {
    Block {
        v4: net(&format!("10.100.{index}.0/26")),
        v6: net(&format!("fd00:100:0:{index}::/122")),
        pod_v4: format!("10.100.{index}.5").parse().expect("literal"),
        pod_v6: format!("fd00:100:0:{index}::5").parse().expect("literal"),
    }
}

fn ip(host: &Host, args: &[&str]) -> String {
    let mut full = vec!["-n", host.netns.as_str()];
    full.extend_from_slice(args);
    run("ip", &full).unwrap_or_else(|e| panic!("ip on {}: {e}", host.name))
}

fn ip_batch(host: &Host, batch: &str) {
    run_with_input("ip", &["-n", &host.netns, "-batch", "-"], Some(batch))
        .unwrap_or_else(|e| panic!("ip -batch on {}: {e}", host.name));
}

fn sysctl(host: &Host, settings: &[&str]) {
    let mut argv = vec!["netns", "exec", host.netns.as_str(), "sysctl", "-q", "-w"];
    argv.extend_from_slice(settings);
    run("ip", &argv).unwrap_or_else(|e| panic!("sysctl on {}: {e}", host.name));
}

/// iBGP over IPv4 and over IPv6 to each of `others` (one session per family).
fn mesh(me: &Host, others: &[&Host]) -> RouterSpec {
    let mut spec = RouterSpec::new(me.ipv4, ASN);
    for other in others {
        spec = spec
            .neighbor(NeighborSpec::new(other.address(IpVersion::V4), ASN))
            .neighbor(NeighborSpec::new(other.address(IpVersion::V6), ASN));
    }
    spec
}

fn start(lab: &Lab, host: &Host, spec: &RouterSpec, kernel: Option<&KernelSpec>) -> Starling {
    let extra = match kernel {
        Some(kernel) => Extra::default().section(&kernel.render()),
        None => Extra::default(),
    };
    Starling::start_with(lab, host, spec, &extra).expect("starling")
}

fn established(node: &Starling, others: &[&Host]) {
    for other in others {
        for version in IpVersion::BOTH {
            node.wait_established(other.address(version), TIMEOUT)
                .expect("established");
        }
    }
}

/// Nodes A and B in an iBGP mesh over IPv4 and IPv6, both advertising their pod routes
/// ([`KernelSpec::pods`]), sessions up. Fields drop in order: the daemons before the lab.
struct TwoNodes {
    node_a: Starling,
    node_b: Starling,
    a: Host,
    b: Host,
    lab: Lab,
}

/// [`TwoNodes`], or `None` when the lab cannot run here.
fn two_nodes(test: &str) -> Option<TwoNodes> {
    if !lab_available(test, &[]) {
        return None;
    }
    let lab = Lab::new().expect("lab");
    let (a, b) = (lab.host("a").expect("host"), lab.host("b").expect("host"));
    let kernel = KernelSpec::pods(&pools());
    let node_a = start(&lab, &a, &mesh(&a, &[&b]), Some(&kernel));
    let node_b = start(&lab, &b, &mesh(&b, &[&a]), Some(&kernel));
    established(&node_a, &[&b]);
    Some(TwoNodes {
        node_a,
        node_b,
        a,
        b,
        lab,
    })
}

/// Starling's routes for `prefix` in `host`'s main table.
fn owned(host: &Host, prefix: IpNet) -> Option<KernelRoute> {
    routes_of(host, prefix, STARLING).into_iter().next()
}

fn routes_of(host: &Host, prefix: IpNet, protocol: RouteProtocol) -> Vec<KernelRoute> {
    let version = IpVersion::of(prefix.addr());
    kernel_routes(host, version, MAIN_TABLE)
        .expect("ip route")
        .into_iter()
        .filter(|r| r.prefix == prefix && r.protocol == protocol)
        .collect()
}

fn gateways(route: &KernelRoute) -> BTreeSet<IpAddr> {
    route.next_hops.iter().filter_map(|h| h.gateway).collect()
}

/// Waits until `host` holds Starling's route for `prefix` through exactly `via`.
fn wait_installed(host: &Host, prefix: IpNet, via: &[IpAddr]) -> KernelRoute {
    let wanted: BTreeSet<IpAddr> = via.iter().copied().collect();
    interop::wait_until(
        &format!("{prefix} via {via:?} in {}'s kernel", host.name),
        TIMEOUT,
        interop::DEFAULT_INTERVAL,
        || {
            let route = owned(host, prefix);
            Ok(match route {
                Some(route) if gateways(&route) == wanted => interop::Observed::Ready(route),
                other => interop::Observed::Pending(format!("{other:?}")),
            })
        },
    )
    .expect("route installed")
}

/// Waits until `condition` holds, at most `bound`; returns how long it took.
fn within(what: &str, bound: Duration, mut condition: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if condition() {
            return start.elapsed();
        }
        assert!(start.elapsed() < bound, "{what}: not within {bound:?}");
        std::thread::sleep(FAST_POLL);
    }
}

/// A pod on `node`: a namespace joined to the node by a veth (`cali<index>` on the node side),
/// the pod's /32 and /128 routed to it, its block blackholed, as Calico's CNI plugin leaves
/// them; forwarding on in the node.
fn add_pod(lab: &Lab, node: &Host, index: u8) -> Host {
    let pod = lab.host(&format!("pod{index}")).expect("pod host");
    // Off the LAN: a pod reaches the world only through its node.
    ip(&pod, &["link", "del", "eth0"]);
    let block = block(index);
    let veth = format!("cali{index}");
    sysctl(
        node,
        &[
            "net.ipv4.ip_forward=1",
            "net.ipv6.conf.all.forwarding=1",
            "net.ipv6.conf.default.accept_dad=0",
        ],
    );
    sysctl(&pod, &["net.ipv6.conf.default.accept_dad=0"]);
    ip(
        node,
        &[
            "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &pod.netns,
        ],
    );
    ip_batch(
        node,
        &format!(
            "link set {veth} up\n\
             address add {POD_GATEWAY_V4}/32 dev {veth}\n\
             address add {POD_GATEWAY_V6}/64 dev {veth} nodad\n\
             route add {}/32 dev {veth}\n\
             route add {}/128 dev {veth}\n\
             route add blackhole {}\n\
             route add blackhole {}\n",
            block.pod_v4, block.pod_v6, block.v4, block.v6
        ),
    );
    ip_batch(
        &pod,
        &format!(
            "link set eth0 up\n\
             address add {}/32 dev eth0\n\
             address add {}/128 dev eth0 nodad\n\
             route add {POD_GATEWAY_V4} dev eth0 scope link\n\
             route add 0.0.0.0/0 via {POD_GATEWAY_V4} dev eth0\n\
             route add ::/0 via {POD_GATEWAY_V6} dev eth0\n",
            block.pod_v4, block.pod_v6
        ),
    );
    pod
}

/// The node's pod routes: its block's blackholes and the pod's host routes.
fn pod_prefixes(index: u8) -> [IpNet; 4] {
    let block = block(index);
    [
        block.v4,
        block.v6,
        IpNet::from(block.pod_v4),
        IpNet::from(block.pod_v6),
    ]
}

fn via(host: &Host, prefix: IpNet) -> IpAddr {
    host.address(IpVersion::of(prefix.addr()))
}

/// A metric's value on the page.
fn metric(page: &str, name: &str) -> Option<u64> {
    page.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn pod_routes_reach_the_neighbors_kernel_and_bird() {
    let test = "pod routes to a Starling node and BIRD";
    if !lab_available(test, &[Tool::Bird]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let (a, b, bird_host) = (
        lab.host("a").expect("host"),
        lab.host("b").expect("host"),
        lab.host("bird").expect("host"),
    );
    let bird_neighbor =
        |spec: RouterSpec| spec.neighbor(NeighborSpec::new(bird_host.address(IpVersion::V4), ASN));
    let kernel = KernelSpec::pods(&pools());
    let node_a = start(&lab, &a, &bird_neighbor(mesh(&a, &[&b])), Some(&kernel));
    let _node_b = start(&lab, &b, &bird_neighbor(mesh(&b, &[&a])), Some(&kernel));
    let bird_route = net("10.200.0.0/24");
    let bird = Bird::start(
        &lab,
        &bird_host,
        RouterSpec::new(bird_host.ipv4, ASN)
            .neighbor(NeighborSpec::new(a.address(IpVersion::V4), ASN))
            .neighbor(NeighborSpec::new(b.address(IpVersion::V4), ASN))
            .route(OriginRoute::new(bird_route)),
    )
    .expect("bird");
    established(&node_a, &[&b]);
    node_a
        .wait_established(bird_host.address(IpVersion::V4), TIMEOUT)
        .expect("established with BIRD");

    let _pod = add_pod(&lab, &a, 0);
    for prefix in pod_prefixes(0) {
        let route = wait_installed(&b, prefix, &[via(&a, prefix)]);
        assert_eq!(route.protocol, STARLING, "{route:?}");
        let entry = node_a
            .wait_route(&prefix.to_string(), "kernel", TIMEOUT)
            .expect("A originates it");
        assert_eq!(entry.next_hop, "self", "{entry:?}");
    }
    for prefix in [block(0).v4, IpNet::from(block(0).pod_v4)] {
        bird.wait_route(prefix, a.address(IpVersion::V4), TIMEOUT)
            .expect("BIRD has A's pod route");
    }
    let page = node_a.metrics().expect("metrics");
    assert_eq!(
        metric(&page, "starling_kernel_routes_advertised"),
        Some(4),
        "{page}"
    );

    // Removed on A: gone from B's kernel and from BIRD within the bound.
    let block = block(0);
    ip_batch(
        &a,
        &format!(
            "route del {}/32 dev cali0\nroute del blackhole {}\n",
            block.pod_v4, block.v4
        ),
    );
    let gone = [block.v4, IpNet::from(block.pod_v4)];
    let took = within("withdrawn from B and BIRD", WITHDRAW_BOUND, || {
        let bird_routes = bird.routes(AfiSafi::Ipv4Unicast).unwrap_or_default();
        gone.iter().all(|prefix| {
            owned(&b, *prefix).is_none() && !bird_routes.iter().any(|r| r.prefix == *prefix)
        })
    });
    eprintln!("{test}: withdrawn from B's kernel and BIRD in {took:?}");
    // The IPv6 ones stay.
    assert!(owned(&b, block.v6).is_some());

    // What BIRD exports is installed on A, through BIRD.
    let route = wait_installed(&a, bird_route, &[bird_host.address(IpVersion::V4)]);
    assert_eq!(route.protocol, STARLING);
}

#[test]
fn pods_on_two_nodes_ping_through_the_programmed_routes() {
    // Every field bound: an unbound one would be dropped (its daemon stopped) at once.
    let Some(TwoNodes {
        a,
        b,
        lab,
        node_a: _node_a,
        node_b: _node_b,
    }) = two_nodes("pods pinging through programmed routes")
    else {
        return;
    };
    let pod_a = add_pod(&lab, &a, 0);
    let _pod_b = add_pod(&lab, &b, 1);
    for prefix in pod_prefixes(1) {
        wait_installed(&a, prefix, &[via(&b, prefix)]);
    }
    for prefix in pod_prefixes(0) {
        wait_installed(&b, prefix, &[via(&a, prefix)]);
    }
    for target in [block(1).pod_v4, block(1).pod_v6] {
        let target = target.to_string();
        let output = lab
            .exec(
                &pod_a,
                &["ping", "-c", "2", "-W", "2", "-i", "0.2", &target],
            )
            .unwrap_or_else(|e| panic!("ping {target} from pod0 on A: {e}"));
        assert!(output.contains(" 0% packet loss"), "{output}");
    }
}

#[test]
fn same_prefix_from_two_nodes_is_one_multipath_route() {
    if !lab_available("ECMP from two nodes", &[]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let (a, b, c) = (
        lab.host("a").expect("host"),
        lab.host("b").expect("host"),
        lab.host("c").expect("host"),
    );
    let kernel = KernelSpec::pods(&pools());
    let node_a = start(&lab, &a, &mesh(&a, &[&b, &c]), Some(&kernel));
    let _node_b = start(&lab, &b, &mesh(&b, &[&a, &c]), Some(&kernel));
    let node_c = start(&lab, &c, &mesh(&c, &[&a, &b]), Some(&kernel));
    established(&node_c, &[&a, &b]);
    established(&node_a, &[&b]);
    // An anycast block both A and B hold.
    let shared = [net("10.100.9.0/24"), net("fd00:100:0:9::/64")];
    for node in [&a, &b] {
        ip_batch(
            node,
            &format!(
                "route add blackhole {}\nroute add blackhole {}\n",
                shared[0], shared[1]
            ),
        );
    }
    for prefix in shared {
        let route = wait_installed(&c, prefix, &[via(&a, prefix), via(&b, prefix)]);
        assert_eq!(
            route.next_hops.len(),
            2,
            "one route, two next hops: {route:?}"
        );
        assert_eq!(routes_of(&c, prefix, STARLING).len(), 1, "a single route");
    }
    // One of them withdraws: a single path is left.
    ip_batch(
        &a,
        &format!(
            "route del blackhole {}\nroute del blackhole {}\n",
            shared[0], shared[1]
        ),
    );
    for prefix in shared {
        wait_installed(&c, prefix, &[via(&b, prefix)]);
    }
}

#[test]
fn routes_of_other_protocols_are_left_untouched() {
    let Some(TwoNodes {
        a,
        b,
        node_b,
        node_a: _node_a,
        lab: _lab,
    }) = two_nodes("other protocols' routes")
    else {
        return;
    };
    // On B, before A announces them: a static route at the default metric, and one at
    // Starling's own metric (32), which the kernel would key like ours.
    let (beside, same_metric) = (net("10.100.0.0/26"), net("10.100.0.64/26"));
    let gateway = a.ipv4.to_string();
    ip(
        &b,
        &[
            "route",
            "add",
            &beside.to_string(),
            "via",
            &gateway,
            "proto",
            "static",
        ],
    );
    ip(
        &b,
        &[
            "route",
            "add",
            &same_metric.to_string(),
            "via",
            &gateway,
            "proto",
            "static",
            "metric",
            "32",
        ],
    );
    let static_routes = |prefix: IpNet| -> String {
        ip(
            &b,
            &[
                "-j",
                "route",
                "show",
                &prefix.to_string(),
                "proto",
                "static",
            ],
        )
    };
    let before = (static_routes(beside), static_routes(same_metric));
    ip_batch(
        &a,
        &format!("route add blackhole {beside}\nroute add blackhole {same_metric}\n"),
    );
    wait_installed(&b, beside, &[a.address(IpVersion::V4)]);
    // The conflicting one is not installed; show fib says why.
    let entry = interop::wait_until(
        "B reports the conflict",
        TIMEOUT,
        interop::DEFAULT_INTERVAL,
        || {
            let fib = node_b.fib()?;
            Ok(fib
                .into_iter()
                .find(|e| e.prefix == same_metric.to_string() && e.error.is_some()))
        },
    )
    .expect("conflict reported");
    assert!(!entry.installed, "{entry:?}");
    assert!(owned(&b, same_metric).is_none());
    assert_eq!((static_routes(beside), static_routes(same_metric)), before);
    // A withdraws: ours goes, the static routes stay as they were.
    ip_batch(
        &a,
        &format!("route del blackhole {beside}\nroute del blackhole {same_metric}\n"),
    );
    within("B's route withdrawn", TIMEOUT, || {
        owned(&b, beside).is_none()
    });
    assert_eq!((static_routes(beside), static_routes(same_metric)), before);
}

#[test]
fn deleted_route_returns_and_a_burst_leaves_the_advertised_set_equal_to_the_kernel() {
    let test = "100,000 kernel route changes";
    let Some(TwoNodes {
        a,
        b,
        node_a,
        node_b,
        lab: _lab,
    }) = two_nodes(test)
    else {
        return;
    };
    let block = block(0).v4;
    ip(&a, &["route", "add", "blackhole", &block.to_string()]);
    wait_installed(&b, block, &[a.address(IpVersion::V4)]);
    // Someone deletes Starling's route on B: the FIB puts it back.
    ip(&b, &["route", "del", &block.to_string(), "proto", "bgp"]);
    wait_installed(&b, block, &[a.address(IpVersion::V4)]);

    // The burst: adds, then deletes of the first ones, in one `ip -batch` on A.
    let burst = |i: u32| format!("10.101.{}.{}/32", i / 256, i % 256);
    let mut batch = String::new();
    for i in 0..BURST_ADDS {
        batch.push_str(&format!("route add blackhole {}\n", burst(i)));
    }
    for i in 0..BURST_DELETES {
        batch.push_str(&format!("route del blackhole {}\n", burst(i)));
    }
    let mut expected: BTreeSet<String> = (BURST_DELETES..BURST_ADDS).map(burst).collect();
    expected.insert(block.to_string());
    let started = Instant::now();
    ip_batch(&a, &batch);
    let applied = started.elapsed();
    let kernel_a = blackholes(&a);
    assert_eq!(kernel_a, expected, "A's kernel after the batch");
    let installed_b = interop::wait_until(
        "B's kernel equal to A's pod routes",
        TIMEOUT,
        Duration::from_millis(500),
        || {
            let on_b = owned_prefixes(&b);
            Ok(if on_b == expected {
                interop::Observed::Ready(started.elapsed())
            } else {
                interop::Observed::Pending(format!("{} routes on B", on_b.len()))
            })
        },
    )
    .expect("B converges");
    let advertised: BTreeSet<String> = node_a
        .routes(&[])
        .expect("show routes")
        .into_iter()
        .filter(|r| r.from == "kernel" && r.prefix.starts_with("10."))
        .map(|r| r.prefix)
        .collect();
    assert_eq!(advertised.len(), expected.len());
    assert_eq!(advertised, expected, "A's Loc-RIB equals its kernel");
    let at_b: BTreeSet<String> = node_b
        .routes(&[])
        .expect("show routes")
        .into_iter()
        .filter(|r| r.best && r.prefix.starts_with("10."))
        .map(|r| r.prefix)
        .collect();
    assert_eq!(at_b, expected, "what B received equals A's kernel");
    eprintln!("{test}: ip -batch took {applied:?}; B's kernel equal to A's after {installed_b:?}");
}

/// The IPv4 blackhole routes in `host`'s main table, as `ip` prints their prefixes.
fn blackholes(host: &Host) -> BTreeSet<String> {
    prefixes(&ip(host, &["-4", "route", "show", "type", "blackhole"]))
}

/// Starling's IPv4 routes in `host`'s main table.
fn owned_prefixes(host: &Host) -> BTreeSet<String> {
    prefixes(&ip(host, &["-4", "route", "show", "proto", "bgp"]))
}

/// The first word of each line (`blackhole 10.1.2.3` → `10.1.2.3/32`).
fn prefixes(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let first = words.next()?;
            let prefix = if first == "blackhole" {
                words.next()?
            } else {
                first
            };
            prefix
                .parse::<IpNet>()
                .ok()
                .or_else(|| prefix.parse::<IpAddr>().ok().map(IpNet::from))
        })
        .map(|p| p.to_string())
        .collect()
}

#[test]
fn persisted_routes_survive_a_restart_and_are_adopted() {
    if !lab_available("persist_on_exit", &[]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let (a, b) = (lab.host("a").expect("host"), lab.host("b").expect("host"));
    let kernel = KernelSpec::pods(&pools());
    let persistent = KernelSpec {
        persist_on_exit: true,
        ..kernel.clone()
    };
    let node_a = start(&lab, &a, &mesh(&a, &[&b]), Some(&kernel));
    // B waits for A to connect: a restarted node that connects while A still holds its
    // session down (idle hold) is refused, and both back off in turn.
    let mut spec_b = mesh(&b, &[&a]);
    for neighbor in &mut spec_b.neighbors {
        neighbor.passive = true;
    }
    let mut node_b = start(&lab, &b, &spec_b, Some(&persistent));
    established(&node_a, &[&b]);
    let (kept, dropped) = (net("10.100.0.0/26"), net("10.100.0.64/26"));
    ip_batch(
        &a,
        &format!("route add blackhole {kept}\nroute add blackhole {dropped}\n"),
    );
    let installed = wait_installed(&b, kept, &[a.address(IpVersion::V4)]);
    wait_installed(&b, dropped, &[a.address(IpVersion::V4)]);

    let status = node_b.terminate(Duration::from_secs(10)).expect("stop");
    assert!(status.success(), "bgpd exits cleanly on SIGTERM: {status}");
    assert_eq!(
        owned(&b, kept).as_ref(),
        Some(&installed),
        "kept after exit"
    );
    assert!(owned(&b, dropped).is_some(), "kept after exit");
    // While B is down, A stops announcing one of them.
    ip(&a, &["route", "del", "blackhole", &dropped.to_string()]);

    let monitor = lab
        .spawn(&b, "monitor-b", &["ip", "-4", "monitor", "route"])
        .expect("ip monitor");
    node_b.start_again(&lab).expect("restart");
    node_b
        .wait_established(a.address(IpVersion::V4), TIMEOUT)
        .expect("established again");
    // Swept once A's End-of-RIB told B what is still wanted.
    within("the route no longer wanted swept", TIMEOUT, || {
        owned(&b, dropped).is_none()
    });
    let converged = node_b.log_events("initial convergence").expect("log");
    assert_eq!(converged.len(), 1, "{converged:?}");
    assert_eq!(
        converged[0]["fields"]["reason"]
            .as_str()
            .or(converged[0]["reason"].as_str()),
        Some("EndOfRib"),
        "{converged:?}"
    );
    assert_eq!(
        owned(&b, kept).as_ref(),
        Some(&installed),
        "adopted as it was"
    );
    // Never deleted (no gap in forwarding): the monitor saw the sweep, not the kept route.
    let events = std::fs::read_to_string(monitor.stdout_path()).expect("monitor output");
    let deleted = |prefix: IpNet| {
        events
            .lines()
            .any(|l| l.starts_with("Deleted") && l.contains(&prefix.to_string()))
    };
    assert!(deleted(dropped), "the monitor works: {events}");
    assert!(!deleted(kept), "{events}");
}

#[test]
fn show_fib_human_and_json() {
    if !lab_available("bgpctl show fib", &[]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let (a, b, c) = (
        lab.host("a").expect("host"),
        lab.host("b").expect("host"),
        lab.host("c").expect("host"),
    );
    // C speaks from an address B reaches only through a gateway: its next hop cannot be
    // installed on B (the kernel wants a directly reachable gateway).
    let remote: IpAddr = "10.77.0.3".parse().expect("literal");
    ip(
        &c,
        &["address", "add", &format!("{remote}/32"), "dev", "lo"],
    );
    ip(
        &b,
        &[
            "route",
            "add",
            &format!("{remote}/32"),
            "via",
            &c.ipv4.to_string(),
        ],
    );
    let (from_a, from_c) = (net("10.100.0.0/26"), net("10.100.2.0/26"));
    let spec_a = RouterSpec::new(a.ipv4, ASN)
        .neighbor(NeighborSpec::new(b.address(IpVersion::V4), ASN))
        .route(OriginRoute::new(from_a));
    let spec_c = RouterSpec::new(c.ipv4, ASN)
        .neighbor(NeighborSpec {
            local_address: Some(remote),
            ..NeighborSpec::new(b.address(IpVersion::V4), ASN)
        })
        .route(OriginRoute::new(from_c));
    let spec_b = RouterSpec::new(b.ipv4, ASN)
        .neighbor(NeighborSpec::new(a.address(IpVersion::V4), ASN))
        .neighbor(NeighborSpec::new(remote, ASN));
    let node_a = start(&lab, &a, &spec_a, None);
    let _node_c = start(&lab, &c, &spec_c, None);
    let node_b = start(&lab, &b, &spec_b, Some(&KernelSpec::pods(&[])));
    for neighbor in [a.address(IpVersion::V4), remote] {
        node_b
            .wait_established(neighbor, TIMEOUT)
            .expect("established");
    }
    wait_installed(&b, from_a, &[a.address(IpVersion::V4)]);
    // What the kernel says to the same request.
    let refused = run(
        "ip",
        &[
            "-n",
            &b.netns,
            "route",
            "add",
            &from_c.to_string(),
            "via",
            &remote.to_string(),
            "proto",
            "static",
        ],
    );
    let kernel_error = match refused {
        Err(LabError::Command { stderr, .. }) => stderr
            .trim()
            .trim_start_matches("Error: ")
            .trim_end_matches('.')
            .to_owned(),
        other => panic!("the kernel accepted a route via {remote}: {other:?}"),
    };
    let fib = interop::wait_until(
        "B's FIB reports C's route",
        TIMEOUT,
        interop::DEFAULT_INTERVAL,
        || {
            let fib = node_b.fib()?;
            Ok((fib.len() == 2 && fib.iter().any(|e| e.error.is_some())).then_some(fib))
        },
    )
    .expect("show fib");
    let (good, bad) = (&fib[0], &fib[1]);
    assert_eq!(good.prefix, from_a.to_string());
    assert_eq!(good.next_hops, vec![a.ipv4.to_string()]);
    assert!(good.installed);
    assert_eq!(good.error, None);
    assert_eq!(bad.prefix, from_c.to_string());
    assert_eq!(bad.next_hops, vec![remote.to_string()]);
    assert!(!bad.installed);
    let error = bad.error.clone().unwrap_or_default();
    assert!(
        error.contains(&kernel_error),
        "{error:?} vs the kernel's {kernel_error:?}"
    );

    let text = node_b.bgpctl_text(&["show", "fib"]).expect("show fib");
    let rows: Vec<Vec<String>> = text
        .lines()
        .map(|line| {
            line.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .collect();
    assert_eq!(
        rows[0],
        ["Prefix", "Next hops", "Installed", "Error"],
        "{text}"
    );
    assert_eq!(
        rows[1],
        [from_a.to_string(), a.ipv4.to_string(), "yes".to_owned()],
        "{text}"
    );
    assert_eq!(
        rows[2],
        [
            from_c.to_string(),
            remote.to_string(),
            "no".to_owned(),
            error.clone()
        ],
        "{text}"
    );
    assert_eq!(rows.len(), 3, "{text}");

    let page = node_b.metrics().expect("metrics");
    assert_eq!(
        metric(&page, "starling_fib_routes_installed"),
        Some(1),
        "{page}"
    );
    assert_eq!(metric(&page, "starling_fib_failures"), Some(1), "{page}");
    assert_eq!(
        metric(&page, "starling_kernel_routes_advertised"),
        Some(0),
        "{page}"
    );

    // SIGHUP with another [kernel]: what the running FIB cannot take (ECMP width, shared with
    // the RIB) is named in the log; persist_on_exit it takes live.
    let persistent = KernelSpec {
        persist_on_exit: true,
        ..KernelSpec::pods(&[])
    };
    let kernel = format!("{}ecmp_max_paths = 4\n", persistent.render());
    node_b
        .reconfigure_with(&spec_b, &Extra::default().section(&kernel))
        .expect("reload");
    let restart_needed = interop::wait_until(
        "B logs that the change needs a restart",
        TIMEOUT,
        interop::DEFAULT_INTERVAL,
        || {
            let events =
                node_b.log_events("this [kernel] change takes effect when bgpd restarts")?;
            Ok(events.into_iter().next())
        },
    )
    .expect("logged");
    assert_eq!(
        restart_needed["change"], "ecmp_max_paths",
        "{restart_needed}"
    );
    let live = node_b
        .log_events("kernel FIB: persist_on_exit changed")
        .expect("log");
    assert!(
        live.iter().any(|event| event["persist_on_exit"] == true),
        "{live:?}"
    );

    // Without [kernel]: said in words, and an empty list in JSON.
    assert_eq!(node_a.fib().expect("show fib"), Vec::new());
    let text = node_a.bgpctl_text(&["show", "fib"]).expect("show fib");
    assert_eq!(text.trim(), "no [kernel] section: the kernel FIB is off");
    assert!(!node_a.metrics().expect("metrics").contains("starling_fib_"));
}
