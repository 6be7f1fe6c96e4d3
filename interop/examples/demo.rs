//! The README's main job: a live cluster on this machine, built from the interop lab code, in
//! network namespaces. etcd holds the cluster in route-reflector mode; three Starling nodes
//! take their peerings from it (`rr` is the route reflector, `node1` and `node2` its clients)
//! and peer with a BIRD router (AS 65001, a `/peers/` entry for every node). Each node holds
//! a blackhole route for its pod block, advertises it from the kernel and installs the others'
//! pod blocks (and BIRD's route) into its kernel with protocol 186.
//!
//! The demo prints, per node, `bgpctl show neighbors`, `bgpctl show routes` and
//! `ip route show proto 186`, then waits for Ctrl-C (or `--for SECONDS`) and tears everything
//! down. Run it with `scripts/demo` (as root).

use std::time::{Duration, Instant};

use interop::{
    kernel_routes, BgpPeer, DatastoreSpec, Etcd, Extra, Host, IpVersion, Lab, NeighborSpec,
    OriginRoute, PeerKind, RouteProtocol, RouterSpec, Starling, MAIN_TABLE,
};
use proto::{Asn, ClusterId};

const CLUSTER_AS: Asn = Asn(64512);
const BIRD_AS: Asn = Asn(65001);
/// The etcd prefix of the data model (`docs/interface.md`), bgpd's default.
const PREFIX: &str = "/starling/v1";
/// The reflector's CLUSTER_ID (RFC 4456 §7); in its file, so that it registers as reflector.
const CLUSTER_ID: &str = "244.0.0.1";
/// The pod network; each node's block is a /26 of it.
const POOL: &str = "10.244.0.0/16";
/// A route BIRD originates (a service or upstream network) that every node installs.
const BIRD_ROUTE: &str = "198.51.100.0/24";
/// How long sessions and routes may take to come up.
const SETTLE: Duration = Duration::from_secs(90);
/// The nodes: name and whether it is the route reflector.
const NODES: [(&str, bool); 3] = [("rr", true), ("node1", false), ("node2", false)];

/// Each node's `[kernel]`: install what BGP learns; advertise the blackhole pod blocks inside
/// the pool (`ip route add blackhole` gives them protocol `boot`).
fn kernel_table() -> String {
    format!(
        "[kernel]\nprogram = true\n\n[kernel.advertise]\nprefixes = [\"{POOL}\"]\n\
         protocols = [\"boot\", \"static\"]\nblackhole = true"
    )
}

/// A node's pod block: `10.244.<index + 1>.0/26`.
fn pod_block(index: usize) -> String {
    format!("10.244.{}.0/26", index + 1)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let run_for = parse_args()?;
    // Block SIGINT/SIGTERM before any thread starts, so that Ctrl-C ends `wait_for_signal`
    // instead of killing the process (the lab's drop cleans the namespaces up).
    let signals = block_signals();
    let started = Instant::now();

    let lab = Lab::new()?;
    println!(
        "lab {}: starting etcd, 3 Starling nodes (route-reflector mode) and BIRD \
         (logs and configs in {})",
        lab.name(),
        lab.dir().display()
    );
    let store = lab.host("etcd")?;
    let etcd = Etcd::start(&lab, &store)?;
    let bird_host = lab.host("bird")?;
    let hosts: Vec<Host> = NODES
        .iter()
        .map(|(name, _)| lab.host(name))
        .collect::<Result<_, _>>()?;

    etcd.put(
        &format!("{PREFIX}/config"),
        r#"{"asn":64512,"mode":"route-reflector","hold_time":30}"#,
    )?;
    etcd.put(
        &format!("{PREFIX}/peers/bird"),
        &format!(
            r#"{{"address":"{}","asn":{},"nodes":"all"}}"#,
            bird_host.ipv4, BIRD_AS.0
        ),
    )?;

    let mut nodes = Vec::new();
    for (index, ((_, reflector), host)) in NODES.iter().zip(&hosts).enumerate() {
        lab.exec(
            host,
            &["ip", "route", "add", "blackhole", &pod_block(index)],
        )?;
        let mut spec = RouterSpec::new(host.ipv4, CLUSTER_AS);
        spec.datastore = Some(DatastoreSpec {
            endpoint: etcd.endpoint(),
            node: host.name.clone(),
        });
        if *reflector {
            spec.cluster_id = Some(ClusterId(CLUSTER_ID.parse()?));
        }
        let extra = Extra::default().section(&kernel_table());
        nodes.push(Starling::start_with(&lab, host, &spec, &extra)?);
    }
    let mut bird_spec = RouterSpec::new(bird_host.ipv4, BIRD_AS);
    for host in &hosts {
        bird_spec = bird_spec.neighbor(NeighborSpec::new(host.address(IpVersion::V4), CLUSTER_AS));
    }
    let bird_spec = bird_spec.route(OriginRoute::new(BIRD_ROUTE.parse()?));
    let bird: Box<dyn BgpPeer> = PeerKind::Bird.start(&lab, &bird_host, bird_spec)?;

    for (node, host) in nodes.iter().zip(&hosts) {
        let expected = if host.name == "rr" {
            vec!["bird", "node1", "node2"]
        } else {
            vec!["bird", "rr"]
        };
        node.wait_neighbors(&expected, SETTLE)?;
        let mut wanted: Vec<String> = (0..NODES.len())
            .filter(|i| hosts[*i].name != host.name)
            .map(pod_block)
            .collect();
        wanted.push(BIRD_ROUTE.to_owned());
        wait_kernel(host, &wanted)?;
    }
    for host in &hosts {
        bird.wait_established(host.address(IpVersion::V4), SETTLE)?;
    }
    println!("cluster up in {:.1} s", started.elapsed().as_secs_f64());

    for (node, host) in nodes.iter().zip(&hosts) {
        println!("\n===== {} =====", host.name);
        println!("\n$ bgpctl show neighbors");
        print!("{}", node.bgpctl_text(&["show", "neighbors"])?);
        println!("\n$ bgpctl show routes");
        print!("{}", node.bgpctl_text(&["show", "routes"])?);
        println!("\n$ ip route show proto 186");
        print!(
            "{}",
            lab.exec(host, &["ip", "route", "show", "proto", "186"])?
        );
    }
    match run_for {
        Some(seconds) => {
            println!("\nrunning for {seconds} s");
            std::thread::sleep(Duration::from_secs(seconds));
        }
        None => {
            println!("\nall sessions Established; press Ctrl-C to stop and tear the lab down");
            wait_for_signal(&signals);
        }
    }
    println!("stopping");
    Ok(())
}

/// Waits until `host`'s kernel has every prefix of `wanted` installed by Starling.
fn wait_kernel(host: &Host, wanted: &[String]) -> interop::Result<()> {
    interop::wait_until(
        &format!("{}'s kernel to hold {wanted:?}", host.name),
        SETTLE,
        interop::DEFAULT_INTERVAL,
        || {
            let installed: Vec<String> = kernel_routes(host, IpVersion::V4, MAIN_TABLE)?
                .into_iter()
                .filter(|r| r.protocol == RouteProtocol::BGP)
                .map(|r| r.prefix.to_string())
                .collect();
            let missing: Vec<&String> = wanted.iter().filter(|w| !installed.contains(w)).collect();
            Ok(if missing.is_empty() {
                interop::Observed::Ready(())
            } else {
                interop::Observed::Pending(format!("missing {missing:?}"))
            })
        },
    )
}

/// `--for SECONDS`: run that long instead of waiting for Ctrl-C.
fn parse_args() -> Result<Option<u64>, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(None),
        [flag, seconds] if flag == "--for" => {
            seconds.parse().map(Some).map_err(|e| format!("--for: {e}"))
        }
        _ => Err("usage: demo [--for SECONDS]".to_owned()),
    }
}

fn block_signals() -> libc::sigset_t {
    // SAFETY: plain signal-set manipulation on a local, zero-initialised set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

fn wait_for_signal(set: &libc::sigset_t) {
    let mut signal = 0;
    // SAFETY: `set` is a valid signal set and `signal` a valid out pointer.
    unsafe { libc::sigwait(set, &mut signal) };
}
