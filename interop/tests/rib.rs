//! Starling's RIB end to end: route reflection between BIRD, GoBGP and FRR clients (RFC 4456),
//! an iBGP full mesh of Starling nodes, eBGP transit (RFC 4271 §5.1.2 AS_PATH, §5.1.3
//! NEXT_HOP), redundant reflectors sharing a cluster id, and Starling as a client of BIRD.
//! What is checked is read through each daemon's own CLI (`bgpctl --json` for Starling).

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use interop::{
    lab_available, BgpPeer, Extra, Host, IpVersion, Lab, NeighborSpec, OriginRoute, PeerKind,
    RouterSpec, SessionState, Starling, Tool, DEFAULT_INTERVAL, DEFAULT_TIMEOUT,
};
use ipnet::IpNet;
use proto::{Asn, ClusterId, RouterId};

const IBGP_ASN: Asn = Asn(64512);
const CLUSTER: ClusterId = ClusterId(Ipv4Addr::new(10, 0, 0, 99));
const TIMEOUT: Duration = DEFAULT_TIMEOUT;
const V4: IpVersion = IpVersion::V4;

fn prefix(text: &str) -> IpNet {
    text.parse().expect("literal prefix")
}

fn ibgp(host: &Host) -> NeighborSpec {
    NeighborSpec::new(host.address(V4), IBGP_ASN)
}

fn client(host: &Host) -> NeighborSpec {
    NeighborSpec {
        rr_client: true,
        ..ibgp(host)
    }
}

/// What a client must see of a route another client originated, reflected once by a
/// reflector of [`CLUSTER`] (RFC 4456 §8): the originator's router id, our cluster id, the
/// next hop unchanged (§10) and no AS added (iBGP).
fn check_reflected(test: &str, receiver: &dyn BgpPeer, route: IpNet, rr: IpAddr, origin: &Host) {
    let seen = receiver
        .wait_route(route, rr, TIMEOUT)
        .unwrap_or_else(|e| panic!("{test}: {e}"));
    assert_eq!(
        seen.originator_id,
        Some(RouterId(origin.ipv4)),
        "{test}: {seen:?}"
    );
    assert_eq!(seen.cluster_list, vec![CLUSTER], "{test}: {seen:?}");
    assert_eq!(seen.next_hop, Some(origin.address(V4)), "{test}: {seen:?}");
    assert!(seen.as_path.is_empty(), "{test}: iBGP adds no AS: {seen:?}");
}

#[test]
fn starling_reflects_between_bird_gobgp_and_frr() {
    let test = "Starling reflecting between BIRD, GoBGP and FRR";
    if !lab_available(test, &[Tool::Bird, Tool::GoBgp, Tool::Frr]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let rr_host = lab.host("rr").expect("host");
    let kinds = [PeerKind::Bird, PeerKind::GoBgp, PeerKind::Frr];
    let routes = [
        prefix("10.41.1.0/24"),
        prefix("10.41.2.0/24"),
        prefix("10.41.3.0/24"),
    ];
    let hosts: Vec<Host> = kinds
        .iter()
        .map(|kind| lab.host(kind.name()).expect("host"))
        .collect();
    let mut rr_spec = RouterSpec::new(rr_host.ipv4, IBGP_ASN);
    rr_spec.cluster_id = Some(CLUSTER);
    for host in &hosts {
        rr_spec = rr_spec.neighbor(client(host));
    }
    let rr = Starling::start(&lab, &rr_host, &rr_spec).expect("starling");
    let clients: Vec<Box<dyn BgpPeer>> = kinds
        .iter()
        .zip(&hosts)
        .zip(routes)
        .map(|((kind, host), route)| {
            let spec = RouterSpec::new(host.ipv4, IBGP_ASN)
                .neighbor(ibgp(&rr_host))
                .route(OriginRoute::new(route));
            kind.start(&lab, host, spec).expect("client")
        })
        .collect();
    let rr_address = rr_host.address(V4);
    for (i, receiver) in clients.iter().enumerate() {
        for (j, origin) in hosts.iter().enumerate() {
            if i != j {
                let test = format!("{test}: {} → {}", kinds[j].name(), kinds[i].name());
                check_reflected(&test, receiver.as_ref(), routes[j], rr_address, origin);
            }
        }
    }
    // The reflector's own view: each client's route, best, learned from that client.
    for (host, route) in hosts.iter().zip(routes) {
        let entry = rr
            .wait_route(&route.to_string(), &host.ipv4.to_string(), TIMEOUT)
            .expect("reflector has the route");
        assert_eq!(entry.next_hop, host.ipv4.to_string(), "{entry:?}");
    }
    let neighbor = rr.neighbor(hosts[0].address(V4)).expect("neighbor");
    assert_eq!(neighbor.received, 1, "{neighbor:?}");
    assert_eq!(neighbor.accepted, 1, "{neighbor:?}");
    assert_eq!(neighbor.advertised, 3, "{neighbor:?}");
    // What the reflector sends BIRD: every client's route, reflection attributes added.
    let advertised = rr
        .routes(&["--neighbor", &hosts[0].ipv4.to_string(), "--advertised"])
        .expect("advertised");
    assert_eq!(advertised.len(), 3, "{advertised:?}");
    for entry in &advertised {
        assert_eq!(entry.cluster_list, vec![CLUSTER.to_string()], "{entry:?}");
        assert!(entry.originator_id.is_some(), "{entry:?}");
    }
}

#[test]
fn starling_full_mesh_exchanges_static_routes() {
    let test = "three Starling nodes in an iBGP full mesh";
    if !lab_available(test, &[]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let hosts: Vec<Host> = ["node1", "node2", "node3"]
        .iter()
        .map(|name| lab.host(name).expect("host"))
        .collect();
    let routes = [
        prefix("10.42.1.0/24"),
        prefix("10.42.2.0/24"),
        prefix("10.42.3.0/24"),
    ];
    let nodes: Vec<Starling> = hosts
        .iter()
        .zip(routes)
        .map(|(host, route)| {
            let mut spec = RouterSpec::new(host.ipv4, IBGP_ASN).route(OriginRoute::new(route));
            for other in hosts.iter().filter(|h| h.name != host.name) {
                spec = spec.neighbor(ibgp(other));
            }
            Starling::start(&lab, host, &spec).expect("starling")
        })
        .collect();
    for (node, host) in nodes.iter().zip(&hosts) {
        for (other, route) in hosts.iter().zip(routes) {
            let from = if other.name == host.name {
                "local".to_owned()
            } else {
                other.ipv4.to_string()
            };
            let entry = node
                .wait_route(&route.to_string(), &from, TIMEOUT)
                .unwrap_or_else(|e| panic!("{test}: {e}"));
            let next_hop = if other.name == host.name {
                "self".to_owned()
            } else {
                other.ipv4.to_string()
            };
            assert_eq!(entry.next_hop, next_hop, "{test}: {entry:?}");
            assert!(entry.as_path.is_empty(), "{test}: {entry:?}");
            assert_eq!(
                entry.originator_id, None,
                "{test}: no reflection: {entry:?}"
            );
        }
    }
}

#[test]
fn starling_transits_ebgp_from_bird_to_gobgp() {
    let test = "eBGP transit BIRD → Starling → GoBGP";
    if !lab_available(test, &[Tool::Bird, Tool::GoBgp]) {
        return;
    }
    const BIRD_ASN: Asn = Asn(65001);
    const GOBGP_ASN: Asn = Asn(65003);
    let lab = Lab::new().expect("lab");
    let bird_host = lab.host("bird").expect("host");
    let starling_host = lab.host("starling").expect("host");
    let gobgp_host = lab.host("gobgp").expect("host");
    let route = prefix("10.43.0.0/24");
    let starling_spec = RouterSpec::new(starling_host.ipv4, IBGP_ASN)
        .neighbor(NeighborSpec::new(bird_host.address(V4), BIRD_ASN))
        .neighbor(NeighborSpec::new(gobgp_host.address(V4), GOBGP_ASN));
    let _starling = Starling::start(&lab, &starling_host, &starling_spec).expect("starling");
    let bird_spec = RouterSpec::new(bird_host.ipv4, BIRD_ASN)
        .neighbor(NeighborSpec::new(starling_host.address(V4), IBGP_ASN))
        .route(OriginRoute::new(route));
    let _bird = PeerKind::Bird
        .start(&lab, &bird_host, bird_spec)
        .expect("bird");
    let gobgp_spec = RouterSpec::new(gobgp_host.ipv4, GOBGP_ASN)
        .neighbor(NeighborSpec::new(starling_host.address(V4), IBGP_ASN));
    let gobgp = PeerKind::GoBgp
        .start(&lab, &gobgp_host, gobgp_spec)
        .expect("gobgp");
    let seen = gobgp
        .wait_route(route, starling_host.address(V4), TIMEOUT)
        .unwrap_or_else(|e| panic!("{test}: {e}"));
    // RFC 4271 §5.1.2: our AS in front; §5.1.3: our own address towards an external peer.
    assert_eq!(seen.as_path, vec![IBGP_ASN, BIRD_ASN], "{test}: {seen:?}");
    assert_eq!(
        seen.next_hop,
        Some(starling_host.address(V4)),
        "{test}: {seen:?}"
    );
}

#[test]
fn redundant_reflectors_keep_routes_when_one_dies() {
    let test = "two Starling reflectors of one cluster, one killed";
    if !lab_available(test, &[Tool::Bird, Tool::Frr]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let rr_hosts = [
        lab.host("rr1").expect("host"),
        lab.host("rr2").expect("host"),
    ];
    let bird_host = lab.host("bird").expect("host");
    let frr_host = lab.host("frr").expect("host");
    let mut reflectors: Vec<Starling> = rr_hosts
        .iter()
        .map(|host| {
            let mut spec = RouterSpec::new(host.ipv4, IBGP_ASN)
                .neighbor(client(&bird_host))
                .neighbor(client(&frr_host));
            spec.cluster_id = Some(CLUSTER);
            Starling::start(&lab, host, &spec).expect("starling")
        })
        .collect();
    let bird_route = prefix("10.44.1.0/24");
    let frr_route = prefix("10.44.2.0/24");
    let client_spec = |host: &Host, route: IpNet| {
        RouterSpec::new(host.ipv4, IBGP_ASN)
            .neighbor(ibgp(&rr_hosts[0]))
            .neighbor(ibgp(&rr_hosts[1]))
            .route(OriginRoute::new(route))
    };
    let bird = PeerKind::Bird
        .start(&lab, &bird_host, client_spec(&bird_host, bird_route))
        .expect("bird");
    let frr = PeerKind::Frr
        .start(&lab, &frr_host, client_spec(&frr_host, frr_route))
        .expect("frr");
    for rr in &rr_hosts {
        let rr_address = rr.address(V4);
        check_reflected(test, frr.as_ref(), bird_route, rr_address, &bird_host);
        check_reflected(test, bird.as_ref(), frr_route, rr_address, &frr_host);
    }
    let mut dead = reflectors.remove(0);
    dead.process().kill().expect("kill rr1");
    let dead_address = rr_hosts[0].address(V4);
    for peer in [&bird, &frr] {
        interop::wait_until(
            &format!("{test}: session to rr1 down"),
            TIMEOUT,
            DEFAULT_INTERVAL,
            || {
                let state = peer.session_state(dead_address)?;
                Ok((state != SessionState::Established).then_some(()))
            },
        )
        .expect("session down");
    }
    let alive = rr_hosts[1].address(V4);
    check_reflected(test, frr.as_ref(), bird_route, alive, &bird_host);
    check_reflected(test, bird.as_ref(), frr_route, alive, &frr_host);
}

#[test]
fn bird_reflects_between_starling_clients() {
    let test = "BIRD reflecting between two Starling clients";
    if !lab_available(test, &[Tool::Bird]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let rr_host = lab.host("bird").expect("host");
    let hosts = [
        lab.host("node1").expect("host"),
        lab.host("node2").expect("host"),
    ];
    let routes = [prefix("10.45.1.0/24"), prefix("10.45.2.0/24")];
    let mut rr_spec = RouterSpec::new(rr_host.ipv4, IBGP_ASN)
        .neighbor(client(&hosts[0]))
        .neighbor(client(&hosts[1]));
    rr_spec.cluster_id = Some(CLUSTER);
    let _bird = PeerKind::Bird.start(&lab, &rr_host, rr_spec).expect("bird");
    let nodes: Vec<Starling> = hosts
        .iter()
        .zip(routes)
        .map(|(host, route)| {
            let spec = RouterSpec::new(host.ipv4, IBGP_ASN)
                .neighbor(ibgp(&rr_host))
                .route(OriginRoute::new(route));
            Starling::start(&lab, host, &spec).expect("starling")
        })
        .collect();
    let rr_name = rr_host.ipv4.to_string();
    for (receiver, (origin, route)) in [(0, (1, routes[1])), (1, (0, routes[0]))] {
        let entry = nodes[receiver]
            .wait_route(&route.to_string(), &rr_name, TIMEOUT)
            .unwrap_or_else(|e| panic!("{test}: {e}"));
        let origin = &hosts[origin];
        assert_eq!(
            entry.originator_id,
            Some(origin.ipv4.to_string()),
            "{entry:?}"
        );
        assert_eq!(entry.cluster_list, vec![CLUSTER.to_string()], "{entry:?}");
        assert_eq!(entry.next_hop, origin.ipv4.to_string(), "{entry:?}");
        assert!(entry.as_path.is_empty(), "{entry:?}");
        let received = nodes[receiver]
            .routes(&["--neighbor", &rr_name, "--received"])
            .expect("received");
        assert_eq!(received.len(), 1, "{received:?}");
        let table = nodes[receiver]
            .bgpctl_text(&["show", "routes"])
            .expect("bgpctl");
        assert!(table.starts_with("Prefix"), "{table}");
        assert!(table.contains(&route.to_string()), "{table}");
    }
}

#[test]
fn starling_adds_communities_on_reload_without_reset() {
    let test = "SIGHUP adds communities to what Starling advertises";
    if !lab_available(test, &[Tool::GoBgp]) {
        return;
    }
    const GOBGP_ASN: Asn = Asn(65003);
    let lab = Lab::new().expect("lab");
    let starling_host = lab.host("starling").expect("host");
    let gobgp_host = lab.host("gobgp").expect("host");
    let route = prefix("10.46.0.0/24");
    let gobgp_address = gobgp_host.address(V4);
    let spec = RouterSpec::new(starling_host.ipv4, IBGP_ASN)
        .neighbor(NeighborSpec::new(gobgp_address, GOBGP_ASN))
        .route(OriginRoute::new(route));
    let starling = Starling::start(&lab, &starling_host, &spec).expect("starling");
    let gobgp = PeerKind::GoBgp
        .start(
            &lab,
            &gobgp_host,
            RouterSpec::new(gobgp_host.ipv4, GOBGP_ASN)
                .neighbor(NeighborSpec::new(starling_host.address(V4), IBGP_ASN)),
        )
        .expect("gobgp");
    let starling_address = starling_host.address(V4);
    let before = gobgp
        .wait_route(route, starling_address, TIMEOUT)
        .unwrap_or_else(|e| panic!("{test}: {e}"));
    assert!(before.communities.is_empty(), "{test}: {before:?}");
    assert_eq!(before.as_path, vec![IBGP_ASN], "{test}: {before:?}");

    let extra = Extra::default().neighbor(gobgp_address, "communities = [\"64512:7\"]");
    starling.reconfigure_with(&spec, &extra).expect("reload");
    let wanted = interop::Community(64512, 7);
    interop::wait_until(
        &format!("{test}: GoBGP sees 64512:7"),
        TIMEOUT,
        DEFAULT_INTERVAL,
        || {
            let routes = gobgp.routes(interop::family_of(route))?;
            Ok(routes
                .into_iter()
                .find(|r| r.prefix == route && r.communities.contains(&wanted)))
        },
    )
    .unwrap_or_else(|e| panic!("{test}: {e}"));
    let downs = starling.log_events("session down").expect("log");
    assert!(downs.is_empty(), "{test}: no session reset: {downs:?}");
}

#[test]
fn starling_stops_a_neighbor_over_max_prefixes() {
    let test = "Starling stops a neighbor over max_prefixes";
    if !lab_available(test, &[Tool::GoBgp]) {
        return;
    }
    const GOBGP_ASN: Asn = Asn(65003);
    const LIMIT: usize = 2;
    let lab = Lab::new().expect("lab");
    let starling_host = lab.host("starling").expect("host");
    let gobgp_host = lab.host("gobgp").expect("host");
    let gobgp_address = gobgp_host.address(V4);
    let spec = RouterSpec::new(starling_host.ipv4, IBGP_ASN)
        .neighbor(NeighborSpec::new(gobgp_address, GOBGP_ASN));
    let extra = Extra::default().neighbor(gobgp_address, &format!("max_prefixes = {LIMIT}"));
    let starling = Starling::start_with(&lab, &starling_host, &spec, &extra).expect("starling");
    let mut gobgp_spec = RouterSpec::new(gobgp_host.ipv4, GOBGP_ASN)
        .neighbor(NeighborSpec::new(starling_host.address(V4), IBGP_ASN));
    for i in 0..=LIMIT {
        gobgp_spec = gobgp_spec.route(OriginRoute::new(prefix(&format!("10.47.{i}.0/24"))));
    }
    let _gobgp = PeerKind::GoBgp
        .start(&lab, &gobgp_host, gobgp_spec)
        .expect("gobgp");
    let event = interop::wait_until(
        &format!("{test}: the stop is logged"),
        TIMEOUT,
        DEFAULT_INTERVAL,
        || {
            let events = starling.log_events("too many prefixes: stopping the session")?;
            Ok(events.into_iter().next())
        },
    )
    .unwrap_or_else(|e| panic!("{test}: {e}"));
    let notification = event
        .get("notification")
        .and_then(|n| n.as_str())
        .unwrap_or_default()
        .to_lowercase();
    assert!(notification.contains("prefixes"), "{test}: {event}");
}

/// Prefixes of the throughput figure; `STARLING_RIB_PREFIXES` overrides it.
const THROUGHPUT_PREFIXES: usize = 100_000;

/// Figures, not a timed assertion: BIRD originates many prefixes to a Starling reflector, which
/// reflects them to a Starling client. Prints how long each step took and the reflector's
/// memory and CPU. Run with `cargo test -p interop --test rib -- --ignored --nocapture`
/// (`STARLING_BIN_DIR=target/release` for release binaries).
#[test]
#[ignore = "a measurement; prints figures"]
fn reflector_throughput_figures() {
    let test = "reflector throughput";
    if !lab_available(test, &[Tool::Bird]) {
        return;
    }
    let count: usize = std::env::var("STARLING_RIB_PREFIXES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(THROUGHPUT_PREFIXES);
    let lab = Lab::new().expect("lab");
    let bird_host = lab.host("bird").expect("host");
    let rr_host = lab.host("rr").expect("host");
    let client_host = lab.host("client").expect("host");
    let mut rr_spec = RouterSpec::new(rr_host.ipv4, IBGP_ASN)
        .neighbor(client(&bird_host))
        .neighbor(client(&client_host));
    rr_spec.cluster_id = Some(CLUSTER);
    let mut rr = Starling::start(&lab, &rr_host, &rr_spec).expect("reflector");
    let client_node = Starling::start(
        &lab,
        &client_host,
        &RouterSpec::new(client_host.ipv4, IBGP_ASN).neighbor(ibgp(&rr_host)),
    )
    .expect("client");
    let mut bird_spec = RouterSpec::new(bird_host.ipv4, IBGP_ASN).neighbor(ibgp(&rr_host));
    for i in 0..count {
        let route = format!("10.{}.{}.{}/32", 64 + i / 65_536, (i / 256) % 256, i % 256);
        bird_spec = bird_spec.route(OriginRoute::new(prefix(&route)));
    }
    let start = std::time::Instant::now();
    let _bird = PeerKind::Bird
        .start(&lab, &bird_host, bird_spec)
        .expect("bird");
    let long = Duration::from_secs(600);
    let wait_count = |node: &Starling, neighbor: IpAddr, what: &str| {
        interop::wait_until(what, long, Duration::from_millis(100), || {
            let status = node.neighbor(neighbor)?;
            Ok((status.received as usize >= count).then_some(()))
        })
        .unwrap_or_else(|e| panic!("{test}: {e}"));
        start.elapsed()
    };
    let at_reflector = wait_count(&rr, bird_host.address(V4), "reflector has every prefix");
    let at_client = wait_count(&client_node, rr_host.address(V4), "client has every prefix");
    let pid = rr.process().pid();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS"))
        .unwrap_or("VmRSS: ?")
        .to_owned();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields 14 and 15 of /proc/PID/stat: user and system time in clock ticks.
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: u64 = fields
        .get(11..13)
        .map_or(0, |f| f.iter().filter_map(|t| t.parse::<u64>().ok()).sum());
    println!(
        "{count} prefixes: BIRD start → reflector has all {:.2?}, → client has all {:.2?}; reflector {rss}, CPU {} ticks",
        at_reflector, at_client, ticks
    );
}
