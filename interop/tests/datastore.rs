//! Starling nodes that take the cluster from etcd (the etcd issue): mesh mode from the
//! datastore with every node's pod route exchanged, live removal and return of a node, a switch
//! from mesh to route-reflector mode that resets no session whose peering stays, and an etcd
//! outage that neither takes sessions down nor stops a restarted node from coming back on its
//! saved snapshot.

use std::time::Duration;

use interop::{
    lab_available, DatastoreSpec, Etcd, Host, Lab, OriginRoute, RouterSpec, Starling, Tool,
};
use proto::Asn;

const CLUSTER_AS: Asn = Asn(64512);
const PREFIX: &str = "/starling/v1";
const TIMEOUT: Duration = Duration::from_secs(45);

/// The CLUSTER_ID both reflectors share (RFC 4456 §7: redundant reflectors of one cluster).
const CLUSTER_ID: &str = "244.0.0.1";

/// A node's pod block, a `[[route]]` it originates: `10.244.<last octet of its address>.0/26`.
fn pod_block(host: &Host) -> String {
    format!("10.244.{}.0/26", host.ipv4.octets()[3])
}

fn node_spec(host: &Host, etcd: &Etcd) -> RouterSpec {
    let mut spec = RouterSpec::new(host.ipv4, CLUSTER_AS);
    spec.datastore = Some(DatastoreSpec {
        endpoint: etcd.endpoint(),
        node: host.name.clone(),
    });
    let block = pod_block(host).parse().expect("pod block");
    spec.route(OriginRoute::new(block))
}

/// Waits until `node` has a best route to every other host's pod block whose next hop is that
/// host (iBGP and reflection leave the originator's next hop alone: RFC 4271 §5.1.3, RFC 4456
/// §10). Returns the routes, in the order of `hosts`.
fn wait_pod_routes(node: &Starling, hosts: &[Host]) -> Vec<interop::RouteEntry> {
    let others = hosts.iter().filter(|h| h.name != node.host().name);
    others
        .map(|host| {
            let (prefix, next_hop) = (pod_block(host), host.ipv4.to_string());
            interop::wait_until(
                &format!("{} has {prefix} via {next_hop}", node.host().name),
                TIMEOUT,
                interop::DEFAULT_INTERVAL,
                || {
                    let routes = node.routes(&[&prefix])?;
                    Ok(
                        match routes.iter().find(|r| r.best && r.next_hop == next_hop) {
                            Some(route) => interop::Observed::Ready(route.clone()),
                            None => interop::Observed::Pending(format!("{routes:?}")),
                        },
                    )
                },
            )
            .expect("pod route")
        })
        .collect()
}

/// Every node's uptime of each of its sessions, by (node, neighbor) name.
fn uptimes(nodes: &[Starling]) -> std::collections::BTreeMap<(String, String), u64> {
    nodes
        .iter()
        .flat_map(|node| {
            let name = node.host().name.clone();
            node.neighbors()
                .expect("neighbors")
                .into_iter()
                .map(move |n| ((name.clone(), n.name), n.uptime_s))
        })
        .collect()
}

/// Waits until `node` has exactly the `expected` neighbors (by name), all Established.
fn wait_mesh(node: &Starling, expected: &[&str]) {
    node.wait_neighbors(expected, TIMEOUT).expect("mesh");
}

/// Waits until each of `nodes` has its session with `name` Established, polling often: the
/// callers time how long that takes.
fn wait_session_with(nodes: &[Starling], name: &str) {
    const POLL: Duration = Duration::from_millis(20);
    for node in nodes {
        interop::wait_until(&format!("a session with {name}"), TIMEOUT, POLL, || {
            let up = node
                .neighbors()?
                .into_iter()
                .any(|n| n.name == name && n.state == "Established");
            Ok(up.then_some(()))
        })
        .expect("session Established");
    }
}

fn status_field(node: &Starling, field: &str) -> String {
    let text = node
        .bgpctl(&["show", "status"])
        .expect("bgpctl show status");
    let status: serde_json::Value = serde_json::from_str(&text).expect("JSON status");
    status
        .get(field)
        .map(|v| v.to_string().trim_matches('"').to_owned())
        .unwrap_or_default()
}

struct Cluster {
    lab: Lab,
    etcd: Etcd,
    hosts: Vec<Host>,
    nodes: Vec<Starling>,
}

/// etcd plus four Starling nodes in mesh mode, every pair Established.
fn mesh_of_four() -> Option<Cluster> {
    if !lab_available("etcd mesh", &[Tool::Etcd]) {
        return None;
    }
    let lab = Lab::new().expect("lab");
    let store = lab.host("etcd").expect("host");
    let etcd = Etcd::start(&lab, &store).expect("etcd");
    etcd.put(
        &format!("{PREFIX}/config"),
        r#"{"asn":64512,"mode":"mesh","hold_time":30}"#,
    )
    .expect("cluster config");
    let hosts: Vec<Host> = (1..=4)
        .map(|i| lab.host(&format!("n{i}")).expect("host"))
        .collect();
    let nodes: Vec<Starling> = hosts
        .iter()
        .map(|h| Starling::start(&lab, h, &node_spec(h, &etcd)).expect("bgpd"))
        .collect();
    let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
    for (i, node) in nodes.iter().enumerate() {
        let others: Vec<&str> = names
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, n)| *n)
            .collect();
        wait_mesh(node, &others);
    }
    // Routes exchanged: each node learns every other node's pod block straight from it.
    for node in &nodes {
        for (route, host) in wait_pod_routes(node, &hosts)
            .iter()
            .zip(hosts.iter().filter(|h| h.name != node.host().name))
        {
            assert_eq!(route.from, host.name, "{route:?}");
            assert!(route.cluster_list.is_empty(), "not reflected: {route:?}");
        }
    }
    Some(Cluster {
        lab,
        etcd,
        hosts,
        nodes,
    })
}

#[test]
fn four_nodes_mesh_from_etcd_and_a_removed_node_leaves() {
    let Some(cluster) = mesh_of_four() else {
        return;
    };
    for node in &cluster.nodes {
        assert_eq!(status_field(node, "config_source"), "etcd");
        assert_eq!(status_field(node, "datastore"), "connected");
    }
    let uptime = |node: &Starling, name: &str| {
        node.neighbors()
            .expect("neighbors")
            .into_iter()
            .find(|n| n.name == name)
            .map(|n| n.uptime_s)
    };
    let before = uptime(&cluster.nodes[0], "n2").expect("n1 has n2");

    // n4 leaves the datastore: everyone else drops it; nothing else flaps.
    let n4_key = format!("{PREFIX}/nodes/n4");
    let n4_entry = cluster
        .etcd
        .get(&n4_key)
        .expect("get n4")
        .expect("n4 registered");
    cluster.etcd.delete(&n4_key).expect("delete n4");
    for node in &cluster.nodes[..3] {
        let others: Vec<&str> = ["n1", "n2", "n3"]
            .into_iter()
            .filter(|n| *n != node.host().name)
            .collect();
        wait_mesh(node, &others);
    }
    let after = uptime(&cluster.nodes[0], "n2").expect("n1 still has n2");
    assert!(
        after >= before,
        "n1–n2 flapped: {before} s before, {after} s after"
    );

    // n4's entry written back (n4 kept running): from that etcd write to every session with
    // n4 Established.
    let written = std::time::Instant::now();
    cluster.etcd.put(&n4_key, &n4_entry).expect("put n4 back");
    wait_session_with(&cluster.nodes[..3], "n4");
    eprintln!(
        "etcd write of /nodes/n4 to its 3 sessions Established: {:?}",
        written.elapsed()
    );
    wait_mesh(&cluster.nodes[3], &["n1", "n2", "n3"]);
    wait_pod_routes(&cluster.nodes[0], &cluster.hosts);
}

/// `/config` switched to route-reflector mode with n1 and n2 made reflectors, in one etcd
/// transaction: the n3–n4 session closes, the sessions of every other pair stay up (their
/// peering only changed role: `rr_client`, `passive`), and every node still has every pod
/// route; the clients' routes to each other now come reflected, with the CLUSTER_ID that
/// reached the reflectors' RIBs live.
#[test]
fn mesh_to_route_reflector_keeps_the_sessions_that_stay() {
    let Some(cluster) = mesh_of_four() else {
        return;
    };
    let before = uptimes(&cluster.nodes);
    let mut writes = vec![(
        format!("{PREFIX}/config"),
        r#"{"asn":64512,"mode":"route-reflector","hold_time":30}"#.to_owned(),
    )];
    for reflector in ["n1", "n2"] {
        let key = format!("{PREFIX}/nodes/{reflector}");
        let entry = cluster.etcd.get(&key).expect("get").expect("registered");
        let mut entry: serde_json::Value = serde_json::from_str(&entry).expect("JSON node");
        entry["rr_cluster_id"] = serde_json::Value::from(CLUSTER_ID);
        writes.push((key, entry.to_string()));
    }
    let writes: Vec<(&str, &str)> = writes
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let written = std::time::Instant::now();
    cluster
        .etcd
        .put_all(&writes)
        .expect("switch to route-reflector mode");

    let topology: [(&str, &[&str]); 4] = [
        ("n1", &["n2", "n3", "n4"]),
        ("n2", &["n1", "n3", "n4"]),
        ("n3", &["n1", "n2"]),
        ("n4", &["n1", "n2"]),
    ];
    for (node, (name, neighbors)) in cluster.nodes.iter().zip(topology) {
        assert_eq!(node.host().name, name);
        wait_mesh(node, neighbors);
    }
    eprintln!(
        "etcd write to the route-reflector topology: {:?}",
        written.elapsed()
    );
    for reflector in &cluster.nodes[..2] {
        for neighbor in reflector.neighbors().expect("neighbors") {
            let client = neighbor.name == "n3" || neighbor.name == "n4";
            assert_eq!(neighbor.rr_client, client, "{neighbor:?}");
        }
    }
    // No reset: every session that exists on both sides of the switch has been up all along.
    let after = uptimes(&cluster.nodes);
    for (pair, up_after) in &after {
        let up_before = before.get(pair).expect("a session that already existed");
        assert!(
            up_after >= up_before,
            "{pair:?} was reset: up {up_before} s before the switch, {up_after} s after"
        );
    }
    assert_eq!(
        before.len() - after.len(),
        2,
        "only n3–n4 closed (both sides)"
    );
    // And each of them reached Established once (the metrics' flap counter).
    for node in &cluster.nodes {
        let page = node.metrics().expect("metrics");
        for neighbor in node.neighbors().expect("neighbors") {
            let series = format!(
                "starling_neighbor_established_total{{neighbor=\"{}\",",
                neighbor.name
            );
            let count = page
                .lines()
                .find(|line| line.starts_with(&series))
                .and_then(|line| line.rsplit(' ').next())
                .and_then(|value| value.parse::<u64>().ok());
            assert_eq!(
                count,
                Some(1),
                "{} – {}: {page}",
                node.host().name,
                neighbor.name
            );
        }
    }

    for node in &cluster.nodes {
        wait_pod_routes(node, &cluster.hosts);
    }
    // A client's route to the other client goes through a reflector now.
    let n4_block = pod_block(&cluster.hosts[3]);
    interop::wait_until(
        "n3 to get n4's pod block reflected",
        TIMEOUT,
        interop::DEFAULT_INTERVAL,
        || {
            let routes = cluster.nodes[2].routes(&[&n4_block])?;
            let reflected = routes.iter().find(|r| {
                r.best
                    && r.originator_id.as_deref() == Some(&cluster.hosts[3].ipv4.to_string())
                    && r.cluster_list == [CLUSTER_ID]
                    && r.next_hop == cluster.hosts[3].ipv4.to_string()
            });
            Ok(match reflected {
                Some(_) => interop::Observed::Ready(()),
                None => interop::Observed::Pending(format!("{routes:?}")),
            })
        },
    )
    .expect("reflected route");
}

/// Cuts (or restores) the nodes' path to etcd with a blackhole route in each node's namespace;
/// the test itself still reaches etcd from etcd's own namespace.
fn cut_etcd(cluster: &Cluster, cut: bool) {
    let etcd = format!("{}/32", cluster.etcd.client_address());
    let verb = if cut { "add" } else { "del" };
    for host in &cluster.hosts {
        cluster
            .lab
            .exec(host, &["ip", "route", verb, "blackhole", &etcd])
            .expect("blackhole route");
    }
}

/// etcd away for 60 seconds: sessions stay up on the last
/// snapshot, a node restarted meanwhile comes back from its saved copy, and when etcd returns
/// the watch resumes and applies a change made during the outage.
#[test]
fn etcd_outage_keeps_sessions_and_a_restart_uses_the_saved_snapshot() {
    const OUTAGE: Duration = Duration::from_secs(60);
    let Some(mut cluster) = mesh_of_four() else {
        return;
    };
    let uptime = |node: &Starling, name: &str| {
        node.neighbors()
            .expect("neighbors")
            .into_iter()
            .find(|n| n.name == name)
            .map(|n| n.uptime_s)
    };
    let before = uptime(&cluster.nodes[0], "n3").expect("n1 has n3");
    cut_etcd(&cluster, true);
    let outage = std::time::Instant::now();
    interop::wait_until(
        "n1 to notice the outage",
        TIMEOUT,
        interop::DEFAULT_INTERVAL,
        || Ok((status_field(&cluster.nodes[0], "datastore") == "disconnected").then_some(())),
    )
    .expect("datastore disconnected");

    // n2 restarts while etcd is away: its saved snapshot brings its neighbors back.
    let n2 = cluster.nodes.remove(1);
    drop(n2);
    let host = cluster.hosts[1].clone();
    let restarted =
        Starling::start(&cluster.lab, &host, &node_spec(&host, &cluster.etcd)).expect("bgpd again");
    wait_mesh(&restarted, &["n1", "n3", "n4"]);
    assert_eq!(status_field(&restarted, "datastore"), "disconnected");
    cluster.nodes.insert(1, restarted);

    // A change made during the outage: a node joins (not running: it only shows as a
    // neighbor). Deleting a running node would not do: it re-registers when it reconnects.
    cluster
        .etcd
        .put(
            &format!("{PREFIX}/nodes/ghost"),
            r#"{"address_v4":"10.255.99.99","asn":64512}"#,
        )
        .expect("put ghost");
    std::thread::sleep(OUTAGE.saturating_sub(outage.elapsed()));
    // Still the old mesh, nothing reset.
    wait_mesh(&cluster.nodes[0], &["n2", "n3", "n4"]);
    let during = uptime(&cluster.nodes[0], "n3").expect("n1 has n3");
    assert!(
        during >= before + OUTAGE.as_secs() - 5,
        "n1–n3 flapped during the outage"
    );

    cut_etcd(&cluster, false);
    // The source retries with back-off capped at 30 s, plus its connect and request timeouts.
    let reconnect = Duration::from_secs(90);
    for node in &cluster.nodes[..3] {
        interop::wait_until(
            "the change made during the outage",
            reconnect,
            interop::DEFAULT_INTERVAL,
            || {
                let names: Vec<String> = node.neighbors()?.into_iter().map(|n| n.name).collect();
                Ok(names.iter().any(|n| n == "ghost").then_some(()))
            },
        )
        .expect("ghost neighbor added");
        assert_eq!(status_field(node, "datastore"), "connected");
        let established = node
            .neighbors()
            .expect("neighbors")
            .into_iter()
            .filter(|n| n.state == "Established")
            .count();
        assert_eq!(established, 3, "the real mesh stays up");
    }
}

#[test]
fn an_added_node_comes_up_quickly_and_a_bad_object_is_rejected_alone() {
    let Some(mut cluster) = mesh_of_four() else {
        return;
    };
    // A broken object next to a good change: the broken one is named in the log, the good one
    // applies.
    cluster
        .etcd
        .put(
            &format!("{PREFIX}/nodes/broken"),
            r#"{"address_v4": "not an address"}"#,
        )
        .expect("bad object");
    let host = cluster.lab.host("n5").expect("host");
    let started = std::time::Instant::now();
    let n5 =
        Starling::start(&cluster.lab, &host, &node_spec(&host, &cluster.etcd)).expect("bgpd n5");
    let listening = started.elapsed();
    // From n5's own registration (its first etcd write, right after it listens) to every
    // session with it Established.
    wait_session_with(&cluster.nodes, "n5");
    let joined = started.elapsed() - listening;
    eprintln!("n5 registered and Established with 4 nodes {joined:?} after it started listening");
    assert!(joined < Duration::from_secs(2), "took {joined:?}");
    wait_mesh(&n5, &["n1", "n2", "n3", "n4"]);

    let rejected = cluster.nodes[0]
        .log_events("datastore object rejected; its previous version stays in force")
        .expect("log");
    assert!(
        rejected
            .iter()
            .any(|e| e.get("key").and_then(|k| k.as_str())
                == Some(&format!("{PREFIX}/nodes/broken"))),
        "no rejection naming the key: {rejected:?}"
    );
    cluster.nodes.push(n5);
}
