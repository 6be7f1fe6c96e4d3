//! `Config::plan`: two configuration texts → the actions a running daemon carries out, in
//! order, one line per action.

use std::path::Path;

use config::{Action, Config};

fn config(text: &str) -> Config {
    match Config::from_toml(text, "test.toml", Path::new("/nonexistent")) {
        Ok(config) => config,
        Err(errors) => panic!("invalid test configuration:\n{errors}"),
    }
}

fn check(old: &str, new: &str, expected: &[&str]) {
    let actions = config(old).plan(&config(new));
    let actual: Vec<String> = actions.iter().map(ToString::to_string).collect();
    assert_eq!(actual, expected, "\nold:\n{old}\nnew:\n{new}");
}

const GLOBAL: &str = "[global]\nasn = 64512\nrouter_id = \"192.0.2.1\"\n";

const TOR1: &str = "[[neighbor]]\nname = \"tor1\"\naddress = \"10.0.0.1\"\nasn = 65000\n";
const TOR2: &str = "[[neighbor]]\nname = \"tor2\"\naddress = \"10.0.0.2\"\nasn = 65000\n";

/// An iBGP neighbor (a reflector's client to be).
const CLIENT: &str = "[[neighbor]]\nname = \"node5\"\naddress = \"10.0.0.5\"\nasn = 64512\n";

const KERNEL: &str = "[kernel]\nprogram = true\n";

#[test]
fn nothing_changed_nothing_done() {
    let text = format!("{GLOBAL}{KERNEL}{TOR1}[[route]]\nprefix = \"10.96.0.0/12\"\n");
    check(&text, &text, &[]);
}

/// Every `[global]` field: live (nothing to do), listeners, CLUSTER_ID, a reset of every
/// session, or a restart.
#[test]
fn global_fields() {
    let old = format!("{GLOBAL}listen = [\"127.0.0.1:1179\", \"[::1]:1179\"]\n{TOR1}{TOR2}");
    for (edit, expected) in [
        // Live: the neighbors' own resolved timers carry it (a neighbor change each).
        (
            ("asn = 64512\n", "asn = 64512\nhold_time = 90\n"),
            &[
                "reconfigure neighbor 10.0.0.1, reset",
                "reconfigure neighbor 10.0.0.2, reset",
            ][..],
        ),
        (
            (
                "asn = 64512\n",
                "asn = 64512\nmetrics_neighbor_labels = false\n",
            ),
            &[],
        ),
        (
            (
                "listen = [\"127.0.0.1:1179\", \"[::1]:1179\"]",
                "listen = [\"[::1]:1179\", \"127.0.0.1:1180\"]",
            ),
            &[
                "close listener 127.0.0.1:1179",
                "open listener 127.0.0.1:1180",
            ],
        ),
        (
            (
                "asn = 64512\n",
                "asn = 64512\ncluster_id = \"192.0.2.99\"\n",
            ),
            &["cluster id 192.0.2.99"],
        ),
        // In every OPEN: every session is reset, and the RIB takes each neighbor again.
        (
            ("asn = 64512", "asn = 64513"),
            &[
                "reconfigure neighbor 10.0.0.1, reset, RIB",
                "reconfigure neighbor 10.0.0.2, reset, RIB",
            ],
        ),
        (
            ("192.0.2.1", "192.0.2.2"),
            &[
                "reconfigure neighbor 10.0.0.1, reset, RIB",
                "reconfigure neighbor 10.0.0.2, reset, RIB",
            ],
        ),
        (
            (
                "asn = 64512\n",
                "asn = 64512\ngraceful_restart = { enabled = true }\n",
            ),
            &[
                "reconfigure neighbor 10.0.0.1, reset, RIB",
                "reconfigure neighbor 10.0.0.2, reset, RIB",
            ],
        ),
        (
            (
                "asn = 64512\n",
                "asn = 64512\ncontrol_socket = \"/tmp/x.ctl\"\n",
            ),
            &["global.control_socket takes effect on restart"],
        ),
        (
            (
                "asn = 64512\n",
                "asn = 64512\nmetrics_listen = \"127.0.0.1:9179\"\n",
            ),
            &["global.metrics_listen takes effect on restart"],
        ),
        (
            ("asn = 64512\n", "asn = 64512\nstate_dir = \"/tmp/state\"\n"),
            &["global.state_dir takes effect on restart"],
        ),
        (
            (
                "asn = 64512\n",
                "asn = 64512\nlog_level = \"debug\"\nlog_format = \"json\"\n",
            ),
            &[
                "global.log_format takes effect on restart",
                "global.log_level takes effect on restart",
            ],
        ),
    ] {
        check(&old, &old.replacen(edit.0, edit.1, 1), expected);
    }
}

/// A neighbor's own change and a global reset coincide: one action, reset once.
#[test]
fn a_global_reset_covers_a_changed_neighbor_once() {
    let old = format!("{GLOBAL}{TOR1}{TOR2}");
    let new = format!(
        "{}{TOR1}export = []\ndescription = \"x\"\n{TOR2}",
        GLOBAL.replace("64512", "64513")
    );
    check(
        &old,
        &new,
        &[
            "reconfigure neighbor 10.0.0.1, reset, RIB",
            "reconfigure neighbor 10.0.0.2, reset, RIB",
        ],
    );
}

/// Every `[kernel]` field: the advertise filter and `persist_on_exit` live, the rest (and the
/// section itself appearing or going) on restart.
#[test]
fn kernel_fields() {
    let advertise = "[kernel.advertise]\nprefixes = [\"10.244.0.0/16\"]\nprotocols = [\"boot\"]\n";
    let old = format!("{GLOBAL}{KERNEL}{advertise}");
    for (edit, expected) in [
        (
            ("10.244.0.0/16", "10.245.0.0/16"),
            &["advertise kernel routes in [10.245.0.0/16]"][..],
        ),
        (
            (
                "protocols = [\"boot\"]",
                "protocols = [\"boot\", \"static\"]",
            ),
            &["advertise kernel routes in [10.244.0.0/16]"],
        ),
        (
            (
                "program = true\n",
                "program = true\npersist_on_exit = true\n",
            ),
            &["persist_on_exit true"],
        ),
        (
            ("program = true", "program = false"),
            &["kernel.program takes effect on restart"],
        ),
        (
            (
                "program = true\n",
                "program = true\nprotocol = 200\ntable = 100\n",
            ),
            &[
                "kernel.protocol takes effect on restart",
                "kernel.table takes effect on restart",
            ],
        ),
        (
            ("program = true\n", "program = true\necmp_max_paths = 4\n"),
            &["kernel.ecmp_max_paths takes effect on restart"],
        ),
    ] {
        check(&old, &old.replacen(edit.0, edit.1, 1), expected);
    }
    check(
        &old,
        &format!("{GLOBAL}{KERNEL}"),
        &["advertise no kernel route"],
    );
    check(
        GLOBAL,
        &format!("{GLOBAL}{KERNEL}"),
        &["[kernel] added takes effect on restart"],
    );
    check(
        &format!("{GLOBAL}{KERNEL}"),
        GLOBAL,
        &["[kernel] removed takes effect on restart"],
    );
}

/// Neighbors through the diff's `Effect`s: live settings reconfigure the task, RIB fields go to
/// the RIB too, OPEN fields reset; removals first, additions last.
#[test]
fn neighbors() {
    let old = format!("{GLOBAL}{TOR1}");
    for (extra, expected) in [
        ("description = \"uplink\"", "reconfigure neighbor 10.0.0.1"),
        ("keepalive = 20", "reconfigure neighbor 10.0.0.1"),
        ("password = \"secret\"", "reconfigure neighbor 10.0.0.1"),
        ("passive = true", "reconfigure neighbor 10.0.0.1"),
        ("max_prefixes = 100", "reconfigure neighbor 10.0.0.1, RIB"),
        ("next_hop = \"self\"", "reconfigure neighbor 10.0.0.1, RIB"),
        (
            "communities = [\"64512:1\"]",
            "reconfigure neighbor 10.0.0.1, RIB",
        ),
        (
            "add_path = \"both\"",
            "reconfigure neighbor 10.0.0.1, reset",
        ),
        ("hold_time = 30", "reconfigure neighbor 10.0.0.1, reset"),
        (
            "hold_time = 30\nnext_hop = \"self\"",
            "reconfigure neighbor 10.0.0.1, reset, RIB",
        ),
    ] {
        check(&old, &format!("{old}{extra}\n"), &[expected]);
    }
    let internal = format!("{GLOBAL}cluster_id = \"192.0.2.1\"\n{CLIENT}");
    check(
        &internal,
        &format!("{internal}rr_client = true\n"),
        &["reconfigure neighbor 10.0.0.5, RIB"],
    );
    let tor3 = "[[neighbor]]\nname = \"tor3\"\naddress = \"10.0.0.3\"\nasn = 65000\n";
    check(
        &format!("{GLOBAL}{TOR1}{TOR2}"),
        &format!("{GLOBAL}{tor3}{TOR2}passive = true\n"),
        &[
            "remove neighbor 10.0.0.1",
            "reconfigure neighbor 10.0.0.2",
            "add neighbor 10.0.0.3",
        ],
    );
}

const POLICIES: &str = r#"
[[policy]]
name = "in"
[[policy.term]]
set = { local_pref = 200 }

[[policy]]
name = "in2"
[[policy.term]]
set = { local_pref = 300 }
"#;

#[test]
fn policy_definitions_reach_the_neighbors_that_use_them() {
    let with = |import: &str| format!("{GLOBAL}{POLICIES}{TOR1}import = [{import}]\n{TOR2}");
    check(
        &with("\"in\""),
        &with("\"in2\""),
        &["reconfigure neighbor 10.0.0.1, RIB"],
    );
    check(
        &with("\"in\""),
        &with("\"in\"").replace("local_pref = 200", "local_pref = 250"),
        &["reconfigure neighbor 10.0.0.1, RIB"],
    );
}

/// Routes: withdrawn, then originated (changed ones again with their new attributes), after
/// the neighbors; `[etcd]` last.
#[test]
fn routes_and_sections_in_order() {
    let old = format!(
        "{GLOBAL}{KERNEL}{CLIENT}[[route]]\nprefix = \"10.96.0.0/12\"\n[[route]]\nprefix = \"10.0.0.0/8\"\n"
    );
    let new = format!(
        "{}{KERNEL}persist_on_exit = true\n{CLIENT}rr_client = true\n\
         [[route]]\nprefix = \"10.96.0.0/12\"\ncommunities = [\"no-export\"]\n\
         [[route]]\nprefix = \"fd00::/8\"\n[etcd]\nnode = \"a\"\n",
        GLOBAL.replace("asn = 64512\n", "asn = 64512\ncluster_id = \"192.0.2.1\"\n")
    );
    check(
        &old,
        &new,
        &[
            "cluster id 192.0.2.1",
            "persist_on_exit true",
            "reconfigure neighbor 10.0.0.5, RIB",
            "withdraw route 10.0.0.0/8",
            "originate route 10.96.0.0/12",
            "originate route fd00::/8",
            "[etcd] takes effect on restart",
        ],
    );
}

/// The actions carry the new values, not just their names.
#[test]
fn actions_carry_the_new_values() {
    let old = format!("{GLOBAL}[[route]]\nprefix = \"10.96.0.0/12\"\n");
    let new_text =
        format!("{GLOBAL}[[route]]\nprefix = \"10.96.0.0/12\"\ncommunities = [\"64512:7\"]\n");
    let new = config(&new_text);
    assert_eq!(
        config(&old).plan(&new),
        vec![Action::Originate(new.routes[0].clone())]
    );
    let reflector = format!("{GLOBAL}cluster_id = \"192.0.2.1\"\n{CLIENT}");
    let new = config(&format!("{reflector}rr_client = true\n"));
    assert_eq!(
        config(&reflector).plan(&new),
        vec![Action::ChangeNeighbor {
            neighbor: Box::new(new.neighbors[0].clone()),
            reset: false,
            rib: true,
        }]
    );
}
