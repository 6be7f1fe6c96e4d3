//! `Config::diff`: two configuration texts → the changes, displayed one per line with the
//! effect on a running session in parentheses.

use std::path::Path;

use config::Config;

fn config(text: &str) -> Config {
    match Config::from_toml(text, "test.toml", Path::new("/nonexistent")) {
        Ok(config) => config,
        Err(errors) => panic!("invalid test configuration:\n{errors}"),
    }
}

fn check(old: &str, new: &str, expected: &[&str]) {
    let changes = config(old).diff(&config(new));
    let actual: Vec<String> = changes.iter().map(ToString::to_string).collect();
    assert_eq!(actual, expected);
}

const GLOBAL: &str = "[global]\nasn = 64512\n";

const TOR1: &str = r#"
[[neighbor]]
name = "tor1"
address = "10.0.0.1"
asn = 65000
"#;

#[test]
fn identical_configurations_have_no_changes() {
    let text = format!("{GLOBAL}{TOR1}[[route]]\nprefix = \"10.96.0.0/12\"\n");
    check(&text, &text, &[]);
}

#[test]
fn neighbor_fields_and_their_effects() {
    let old = format!("{GLOBAL}{TOR1}");
    for (extra, expected) in [
        (
            "description = \"uplink\"",
            "neighbor tor1 (10.0.0.1) changed: description (Cosmetic)",
        ),
        (
            "password = \"new\"",
            "neighbor tor1 (10.0.0.1) changed: password (Live)",
        ),
        (
            "keepalive = 20",
            "neighbor tor1 (10.0.0.1) changed: keepalive (Live)",
        ),
        (
            "max_prefixes = 100",
            "neighbor tor1 (10.0.0.1) changed: max_prefixes (Live)",
        ),
        (
            "max_prefixes_restart = 30",
            "neighbor tor1 (10.0.0.1) changed: max_prefixes_restart (Live)",
        ),
        (
            "send_hold_time = 600",
            "neighbor tor1 (10.0.0.1) changed: send_hold_time (Live)",
        ),
        (
            "error_wait_time = [5, 120]",
            "neighbor tor1 (10.0.0.1) changed: error_wait_time (Live)",
        ),
        (
            "communities = [\"64512:1\"]",
            "neighbor tor1 (10.0.0.1) changed: communities (Readvertise)",
        ),
        (
            "next_hop = \"self\"",
            "neighbor tor1 (10.0.0.1) changed: next_hop (Readvertise)",
        ),
        (
            "families = [\"ipv4-unicast\", \"ipv6-unicast\"]",
            "neighbor tor1 (10.0.0.1) changed: families (Reset)",
        ),
        (
            "add_path = \"receive\"",
            "neighbor tor1 (10.0.0.1) changed: add_path (Reset)",
        ),
        (
            // The strongest effect of several fields wins.
            "hold_time = 90\ndescription = \"x\"",
            "neighbor tor1 (10.0.0.1) changed: description, hold_time, keepalive (Reset)",
        ),
    ] {
        check(&old, &format!("{old}{extra}\n"), &[expected]);
    }
}

#[test]
fn asn_change_resets_and_rename_does_not() {
    let old = format!("{GLOBAL}{TOR1}");
    let new = old.replace("asn = 65000", "asn = 65001");
    check(
        &old,
        &new,
        &["neighbor tor1 (10.0.0.1) changed: asn (Reset)"],
    );
    let renamed = old.replace("\"tor1\"", "\"leaf1\"");
    check(
        &old,
        &renamed,
        &["neighbor tor1 (10.0.0.1) changed: name (Cosmetic)"],
    );
}

#[test]
fn global_hold_time_reaches_neighbors_without_their_own() {
    let old = format!(
        "{GLOBAL}{TOR1}[[neighbor]]\naddress = \"10.0.0.2\"\nasn = 65000\nhold_time = 30\n"
    );
    let new = old.replace("asn = 64512\n", "asn = 64512\nhold_time = 90\n");
    check(
        &old,
        &new,
        &[
            "global changed: hold_time",
            "neighbor tor1 (10.0.0.1) changed: hold_time, keepalive (Reset)",
        ],
    );
}

#[test]
fn global_error_wait_time_reaches_neighbors_without_their_own() {
    let old = format!(
        "{GLOBAL}{TOR1}[[neighbor]]\naddress = \"10.0.0.2\"\nasn = 65000\nerror_wait_time = [2, 4]\n"
    );
    let new = old.replace("asn = 64512\n", "asn = 64512\nerror_wait_time = [3, 30]\n");
    check(
        &old,
        &new,
        &[
            "global changed: error_wait_time",
            "neighbor tor1 (10.0.0.1) changed: error_wait_time (Live)",
        ],
    );
}

#[test]
fn neighbors_are_matched_by_address_and_removals_come_first() {
    let old = format!(
        "{GLOBAL}{TOR1}[[neighbor]]\nname = \"tor2\"\naddress = \"10.0.0.2\"\nasn = 65000\n"
    );
    // tor1 moves to a new address (a new session under the old name); tor2 goes; tor3 comes.
    let new = format!(
        "{GLOBAL}{}[[neighbor]]\nname = \"tor3\"\naddress = \"fe80::3%eth0\"\nasn = 65000\n",
        TOR1.replace("10.0.0.1", "10.0.0.9")
    );
    check(
        &old,
        &new,
        &[
            "neighbor tor1 (10.0.0.1) removed",
            "neighbor tor2 (10.0.0.2) removed",
            "neighbor tor1 (10.0.0.9) added",
            "neighbor tor3 (fe80::3%eth0) added",
        ],
    );
}

#[test]
fn routes_by_prefix() {
    let old = format!(
        "{GLOBAL}[[route]]\nprefix = \"10.96.0.0/12\"\n[[route]]\nprefix = \"10.0.0.0/8\"\n"
    );
    let new = format!(
        "{GLOBAL}[[route]]\nprefix = \"10.96.0.0/12\"\ncommunities = [\"no-export\"]\n[[route]]\nprefix = \"fd00::/8\"\n"
    );
    check(
        &old,
        &new,
        &[
            "route 10.0.0.0/8 removed",
            "route 10.96.0.0/12 changed",
            "route fd00::/8 added",
        ],
    );
}

#[test]
fn sections() {
    let kernel = "[kernel]\nprogram = true\n";
    let etcd = "[etcd]\nnode = \"a\"\n";
    check(
        GLOBAL,
        &format!("{GLOBAL}{kernel}{etcd}"),
        &["kernel added", "etcd added"],
    );
    check(
        &format!("{GLOBAL}{kernel}{etcd}"),
        GLOBAL,
        &["kernel removed", "etcd removed"],
    );
    check(
        &format!("{GLOBAL}{kernel}{etcd}"),
        &format!("{GLOBAL}[kernel]\nprogram = false\ntable = 100\n[etcd]\nnode = \"b\"\n"),
        &["kernel changed: program, table", "etcd changed"],
    );
    check(
        GLOBAL,
        &format!("{GLOBAL}router_id = \"10.0.0.1\"\nlog_level = \"debug\"\nlisten = []\n"),
        &["global changed: router_id, listen, log_level"],
    );
}

const POLICIES: &str = r#"
[[prefix_list]]
name = "pods"
prefixes = [{ prefix = "10.244.0.0/16", ge = 26 }]

[[policy]]
name = "in"
[[policy.term]]
match = { prefix_list = "pods" }
set = { local_pref = 200 }

[[policy]]
name = "out"
[[policy.term]]
set = { prepend = 1 }

[[policy]]
name = "unused"
"#;

/// Policy is applied without a reset (RFC 4271 §9.1: it is local); a neighbor changes when
/// what its policies say changes, not when an unrelated definition does.
#[test]
fn policy_changes_are_soft_and_follow_definitions() {
    let with = |import: &str, export: &str| {
        format!("{GLOBAL}{POLICIES}{TOR1}import = [{import}]\nexport = [{export}]\n")
    };
    let old = with("\"in\"", "\"out\"");
    for (new, expected) in [
        (
            with("", "\"out\""),
            &["neighbor tor1 (10.0.0.1) changed: import (Readvertise)"][..],
        ),
        (
            with("\"in\"", "\"out\", \"unused\""),
            &["neighbor tor1 (10.0.0.1) changed: export (Readvertise)"],
        ),
        (
            old.replace("ge = 26", "ge = 24"),
            &["neighbor tor1 (10.0.0.1) changed: import (Readvertise)"],
        ),
        (
            old.replace("prepend = 1", "prepend = 3"),
            &["neighbor tor1 (10.0.0.1) changed: export (Readvertise)"],
        ),
        (
            old.replace(
                "name = \"unused\"",
                "name = \"unused\"\ndefault = \"reject\"",
            ),
            &[],
        ),
    ] {
        check(&old, &new, expected);
    }
}
