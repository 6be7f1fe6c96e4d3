//! The etcd data model and derived peerings: a file configuration, this node's name and the
//! datastore's objects → this node's combined configuration (its neighbors, one line each)
//! and every error, each naming its key.

use std::path::Path;

use config::datastore::{DatastoreKey, Snapshot};
use config::{Config, ErrorWaitTime, Neighbor};

const PREFIX: &str = "/starling/v1";

const FILE: &str = r#"
[global]
asn = 64512
[etcd]
node = "node-b"
"#;

/// One line per neighbor: name, address, AS, families, and its role flags.
fn describe(neighbor: &Neighbor) -> String {
    let mut line = format!(
        "{} {} as{} {}",
        neighbor.name,
        neighbor.address,
        neighbor.asn,
        neighbor
            .families
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(",")
    );
    if let Some(local) = neighbor.local_address {
        line += &format!(" from {local}");
    }
    line += &format!(" hold {}", neighbor.timers.hold_time);
    if neighbor.timers.error_wait_time != ErrorWaitTime::DEFAULT {
        line += &format!(" error wait {}", neighbor.timers.error_wait_time);
    }
    if neighbor.passive {
        line += " passive";
    }
    if neighbor.rr_client {
        line += " rr-client";
    }
    line
}

fn combine(file: &str, node: &str, objects: &[(&str, &str)]) -> (Config, Vec<String>) {
    let file = match Config::from_toml(file, "bgpd.toml", Path::new("/nonexistent")) {
        Ok(config) => config,
        Err(errors) => panic!("invalid test configuration:\n{errors}"),
    };
    let keys: Vec<String> = objects
        .iter()
        .map(|(k, _)| format!("{PREFIX}{k}"))
        .collect();
    let (snapshot, object_errors) = Snapshot::from_objects(
        PREFIX,
        keys.iter()
            .zip(objects)
            .map(|(key, (_, value))| (key.as_str(), value.as_bytes())),
        Path::new("/nonexistent"),
    );
    let (combined, combine_errors) = file.combine(node, &snapshot);
    let errors = object_errors
        .iter()
        .chain(&combine_errors)
        .map(|e| format!("error {e}"))
        .collect();
    (combined, errors)
}

/// `objects` are (key under the prefix, JSON value); `expected` lists the neighbors, then
/// `cluster_id`/`pools` when the datastore set them, then the errors.
fn check(file: &str, node: &str, objects: &[(&str, &str)], expected: &[&str]) {
    let (combined, errors) = combine(file, node, objects);
    let mut actual: Vec<String> = combined.neighbors.iter().map(describe).collect();
    if let Some(cluster_id) = combined.global.cluster_id {
        actual.push(format!("cluster_id {cluster_id}"));
    }
    if let Some(advertise) = combined.kernel.as_ref().and_then(|k| k.advertise.as_ref()) {
        let pools: Vec<String> = advertise.prefixes.iter().map(ToString::to_string).collect();
        actual.push(format!("pools {}", pools.join(",")));
    }
    actual.extend(errors);
    assert_eq!(actual, expected);
}

const MESH: (&str, &str) = (
    "/config",
    r#"{"asn":64512,"mode":"mesh","hold_time":90,"pools":["10.244.0.0/16"]}"#,
);
const RR: (&str, &str) = ("/config", r#"{"asn":64512,"mode":"route-reflector"}"#);
const NODE_A: (&str, &str) = (
    "/nodes/node-a",
    r#"{"address_v4":"10.0.0.11","address_v6":"fd00::11","labels":{"rack":"r1"}}"#,
);
const NODE_B: (&str, &str) = (
    "/nodes/node-b",
    r#"{"address_v4":"10.0.0.12","address_v6":"fd00::12","labels":{"rack":"r2"}}"#,
);
const NODE_C: (&str, &str) = ("/nodes/node-c", r#"{"address_v4":"10.0.0.13"}"#);
const REFLECTOR_1: (&str, &str) = (
    "/nodes/rr-1",
    r#"{"address_v4":"10.0.0.1","rr_cluster_id":"244.0.0.1"}"#,
);
const REFLECTOR_2: (&str, &str) = (
    "/nodes/rr-2",
    r#"{"address_v4":"10.0.0.2","rr_cluster_id":"244.0.0.1"}"#,
);

#[test]
fn mesh_peers_every_other_non_reflector_once_per_family() {
    check(
        FILE,
        "node-b",
        &[MESH, NODE_A, NODE_B, NODE_C, REFLECTOR_1],
        &[
            // node-b has the higher address towards node-a: it waits for node-a.
            "node-a 10.0.0.11 as64512 ipv4-unicast from 10.0.0.12 hold 90 passive",
            "node-a/v6 fd00::11 as64512 ipv6-unicast from fd00::12 hold 90 passive",
            // node-c has no IPv6 address: one session.
            "node-c 10.0.0.13 as64512 ipv4-unicast from 10.0.0.12 hold 90",
        ],
    );
}

/// Derived node sessions take the file's `error_wait_time`; a datastore peer may set its own.
#[test]
fn error_wait_time_from_the_file_or_the_peer() {
    let file = FILE.replace("asn = 64512\n", "asn = 64512\nerror_wait_time = [2, 20]\n");
    check(
        &file,
        "node-b",
        &[
            MESH,
            NODE_B,
            NODE_C,
            (
                "/peers/tor",
                r#"{"address":"10.1.0.1","asn":65000,"nodes":"all","error_wait_time":[1,5]}"#,
            ),
            (
                "/peers/tor-default",
                r#"{"address":"10.1.0.2","asn":65000,"nodes":"all"}"#,
            ),
        ],
        &[
            "node-c 10.0.0.13 as64512 ipv4-unicast from 10.0.0.12 hold 90 error wait [2, 20]",
            "tor 10.1.0.1 as65000 ipv4-unicast hold 90 error wait [1, 5]",
            "tor-default 10.1.0.2 as65000 ipv4-unicast hold 90 error wait [2, 20]",
        ],
    );
}

#[test]
fn route_reflector_mode_from_a_client() {
    check(
        FILE,
        "node-b",
        &[RR, NODE_A, NODE_B, REFLECTOR_1, REFLECTOR_2],
        &[
            "rr-1 10.0.0.1 as64512 ipv4-unicast from 10.0.0.12 hold 180",
            "rr-2 10.0.0.2 as64512 ipv4-unicast from 10.0.0.12 hold 180",
        ],
    );
}

#[test]
fn route_reflector_mode_from_a_reflector() {
    let file = FILE.replace("node-b", "rr-2");
    check(
        &file,
        "rr-2",
        &[RR, NODE_A, NODE_B, REFLECTOR_1, REFLECTOR_2],
        &[
            "node-a 10.0.0.11 as64512 ipv4-unicast from 10.0.0.2 hold 180 passive rr-client",
            "node-b 10.0.0.12 as64512 ipv4-unicast from 10.0.0.2 hold 180 passive rr-client",
            // Reflectors peer as non-clients; the higher address waits.
            "rr-1 10.0.0.1 as64512 ipv4-unicast from 10.0.0.2 hold 180 passive",
            "cluster_id 244.0.0.1",
        ],
    );
}

#[test]
fn peers_select_nodes_by_all_name_or_label() {
    check(
        FILE,
        "node-b",
        &[
            MESH,
            NODE_B,
            (
                "/peers/tor-all",
                r#"{"address":"10.1.0.1","asn":65000,"nodes":"all"}"#,
            ),
            (
                "/peers/tor-named",
                r#"{"address":"10.1.0.2","asn":65000,"nodes":["node-a","node-b"],"hold_time":30}"#,
            ),
            (
                "/peers/tor-r2",
                r#"{"address":"10.1.0.3","asn":65000,"nodes":{"rack":"r2"}}"#,
            ),
            (
                "/peers/tor-r1",
                r#"{"address":"10.1.0.4","asn":65000,"nodes":{"rack":"r1"}}"#,
            ),
            (
                "/peers/tor-other",
                r#"{"address":"10.1.0.5","asn":65000,"nodes":["node-a"]}"#,
            ),
        ],
        &[
            // Peers default to the cluster's hold time.
            "tor-all 10.1.0.1 as65000 ipv4-unicast hold 90",
            "tor-named 10.1.0.2 as65000 ipv4-unicast hold 30",
            "tor-r2 10.1.0.3 as65000 ipv4-unicast hold 90",
        ],
    );
}

#[test]
fn file_neighbors_come_first_and_win() {
    let file = format!(
        "{FILE}[[neighbor]]\nname = \"tor\"\naddress = \"10.0.0.11\"\nasn = 65000\n\
         [kernel.advertise]\nprotocols = [\"boot\"]\n"
    );
    check(
        &file,
        "node-b",
        &[
            MESH,
            NODE_A,
            NODE_B,
            ("/peers/tor", r#"{"address":"10.1.0.1","asn":65000,"nodes":"all"}"#),
        ],
        &[
            "tor 10.0.0.11 as65000 ipv4-unicast hold 180",
            "node-a/v6 fd00::11 as64512 ipv6-unicast from fd00::12 hold 90 passive",
            // The file lists no prefixes to advertise: the cluster's pools fill in.
            "pools 10.244.0.0/16",
            "error /starling/v1/nodes/node-a: address_v4: address 10.0.0.11 is already used by neighbor \"tor\" of the configuration file",
            "error /starling/v1/peers/tor: address: name \"tor\" is already used by neighbor \"tor\" of the configuration file",
        ],
    );
}

#[test]
fn checks_that_need_the_local_speaker() {
    check(
        FILE,
        "node-b",
        &[
            ("/config", r#"{"asn":64512,"mode":"mesh","hold_time":30}"#),
            NODE_B,
            // Checked alone, the keepalive is fine; against the cluster's hold time it is not.
            ("/peers/slow", r#"{"address":"10.1.0.1","asn":65000,"nodes":"all","keepalive":20}"#),
            // node-b is no reflector.
            ("/peers/client", r#"{"address":"10.1.0.2","asn":64512,"nodes":"all","rr_client":true}"#),
            ("/peers/ebgp-client", r#"{"address":"10.1.0.3","asn":65000,"nodes":"all","rr_client":true}"#),
        ],
        &[
            "error /starling/v1/peers/slow: keepalive: keepalive 20 is more than hold_time 30 / 3",
            "error /starling/v1/peers/client: rr_client: rr_client needs global.cluster_id (only a route reflector has clients)",
            "error /starling/v1/peers/ebgp-client: rr_client: rr_client applies to iBGP neighbors only (asn 65000 differs from the local asn 64512)",
        ],
    );
}

#[test]
fn local_node_in_another_as_gets_no_node_peerings() {
    check(
        FILE,
        "node-b",
        &[
            MESH,
            NODE_A,
            ("/nodes/node-b", r#"{"address_v4":"10.0.0.12","asn":65099}"#),
            (
                "/peers/tor",
                r#"{"address":"10.1.0.1","asn":65000,"nodes":"all"}"#,
            ),
        ],
        &[
            "tor 10.1.0.1 as65000 ipv4-unicast hold 90",
            "error /starling/v1/nodes/node-b: asn: asn 65099 differs from global.asn 64512",
        ],
    );
}

#[test]
fn without_its_own_entry_a_node_has_only_peers_for_all_or_by_name() {
    check(
        FILE,
        "node-b",
        &[
            MESH,
            NODE_A,
            (
                "/peers/tor-all",
                r#"{"address":"10.1.0.1","asn":65000,"nodes":"all"}"#,
            ),
            (
                "/peers/tor-r2",
                r#"{"address":"10.1.0.3","asn":65000,"nodes":{"rack":"r2"}}"#,
            ),
        ],
        &["tor-all 10.1.0.1 as65000 ipv4-unicast hold 90"],
    );
}

#[test]
fn each_bad_object_is_rejected_alone() {
    check(
        FILE,
        "node-b",
        &[
            MESH,
            NODE_A,
            NODE_B,
            ("/nodes/node-x", r#"{"address_v4":"10.0.0.99""#),
            ("/nodes/node-y", r#"{"labels":{"":"x"},"rr_cluster_id":"x"}"#),
            ("/nodes/node-z", r#"{"address_v4":"10.0.0.14","colour":"red"}"#),
            ("/peers/p1", r#"{"address":"10.1.0.1","asn":65000,"nodes":7}"#),
            ("/peers/p2", r#"{"address":"10.1.0.1","asn":0,"hold_time":2,"name":"other"}"#),
            ("/peers/p3", r#"{"asn":65000,"nodes":"all","password":"a","password_file":"b"}"#),
            ("/peers/p4", r#"[1, 2]"#),
            ("/colours/blue", r#"{}"#),
            ("/config", r#"{"asn":64512,"mode":"star"}"#),
        ],
        &[
            // The last valid /config stays: hold time 90 and the mesh.
            "node-a 10.0.0.11 as64512 ipv4-unicast from 10.0.0.12 hold 90 passive",
            "node-a/v6 fd00::11 as64512 ipv6-unicast from fd00::12 hold 90 passive",
            "error /starling/v1/nodes/node-x:1:25: syntax error: EOF while parsing an object",
            "error /starling/v1/nodes/node-y: rr_cluster_id: \"x\" is not an IPv4 address (the CLUSTER_ID)",
            "error /starling/v1/nodes/node-y: labels.\"\": must not be empty",
            "error /starling/v1/nodes/node-y: a node needs address_v4 or address_v6",
            "error /starling/v1/nodes/node-z: unknown key `colour`, expected one of `address_v4`, `address_v6`, `asn`, `rr_cluster_id`, `labels`",
            "error /starling/v1/peers/p1: nodes: \"7\" is not \"all\", a list of node names or an object of labels",
            "error /starling/v1/peers/p2: nodes: missing required key",
            "error /starling/v1/peers/p2: name: \"other\" is not the peer's name from its key (/peers/<name>), or nothing",
            "error /starling/v1/peers/p3: address: missing required key",
            "error /starling/v1/peers/p3: password_file: password and password_file are both set; use one of them",
            "error /starling/v1/peers/p4: \"[1,2]\" is not a JSON object",
            "error /starling/v1/colours/blue: \"/starling/v1/colours/blue\" is not a key of the datastore model (expected /config, /nodes/<name> or /peers/<name>)",
            "error /starling/v1/config: unknown value `star`, expected `mesh` or `route-reflector`",
        ],
    );
}

/// A peer carries the prefix lists and policies it names, and is checked alone.
#[test]
fn peers_carry_their_own_policies() {
    let policies = r#""prefix_list":[{"name":"pods","prefixes":[{"prefix":"10.244.0.0/16","ge":26}]}],
        "policy":[{"name":"in","default":"reject","term":[{"match":{"prefix_list":"pods"},"action":"accept"}]},
                  {"name":"out","term":[{"set":{"add_communities":["64512:1"],"prepend":2}}]}]"#;
    let good = format!(
        r#"{{"address":"10.1.0.1","asn":65000,"nodes":"all",{policies},"import":["in"],"export":["out"]}}"#
    );
    let bad = format!(
        r#"{{"address":"10.1.0.2","asn":65000,"nodes":"all",{policies},"import":["out"],"export":["nope"]}}"#
    );
    let objects = [
        ("/peers/tor1", good.as_str()),
        ("/peers/tor2", bad.as_str()),
    ];
    check(
        FILE,
        "node-b",
        &objects,
        &[
            "tor1 10.1.0.1 as65000 ipv4-unicast hold 180",
            "error /starling/v1/peers/tor2: import[0]: policy \"out\" prepends to the AS_PATH, which only export policies may do",
            "error /starling/v1/peers/tor2: export[0]: no policy named \"nope\" is defined",
        ],
    );
    let (combined, _) = combine(FILE, "node-b", &objects);
    let names = |policies: &[config::Policy]| -> Vec<String> {
        policies.iter().map(|p| p.name.clone()).collect()
    };
    assert_eq!(names(&combined.neighbors[0].import), ["in"]);
    assert_eq!(names(&combined.neighbors[0].export), ["out"]);
}

#[test]
fn a_node_that_disappears_leaves_every_peer_set() {
    let objects = [MESH, NODE_A, NODE_B, NODE_C];
    let (before, _) = combine(FILE, "node-b", &objects);
    let (after, _) = combine(FILE, "node-b", &objects[..3]);
    let changes: Vec<String> = before
        .diff(&after)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(changes, ["neighbor node-c (10.0.0.13) removed"]);
}

#[test]
fn datastore_keys() {
    for (key, expected) in [
        ("/starling/v1/config", Some(DatastoreKey::Config)),
        (
            "/starling/v1/nodes/node-a",
            Some(DatastoreKey::Node("node-a".into())),
        ),
        (
            "/starling/v1/peers/tor1",
            Some(DatastoreKey::Peer("tor1".into())),
        ),
        ("/starling/v1/nodes/", None),
        ("/starling/v1/nodes/a/b", None),
        ("/starling/v1/configs", None),
        ("/other/config", None),
    ] {
        let parsed = DatastoreKey::parse(PREFIX, key);
        assert_eq!(parsed, expected, "{key}");
        if let Some(parsed) = parsed {
            assert_eq!(parsed.to_key(PREFIX), key);
        }
    }
}
