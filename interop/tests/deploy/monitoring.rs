//! The Grafana dashboard and the Prometheus alerting rules (`deploy/monitoring/`): the rules
//! pass `promtool check rules` and their unit tests (`promtool test rules`), broken copies do
//! not; the dashboard is a well-formed Grafana model whose every query goes to the chosen data
//! source and instance; and every `starling_*` name the three files use is a series a live
//! bgpd exports (in the lab, root only: with per-neighbor labels, [kernel], graceful restart
//! and a datastore, and again with `metrics_neighbor_labels = false`).

use std::collections::BTreeSet;
use std::fs;
use std::net::IpAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use interop::starling::KernelSpec;
use interop::{
    lab_available, DatastoreSpec, Etcd, Extra, Lab, NeighborSpec, RouterSpec, Starling, Tool,
};
use proto::Asn;
use serde_json::Value;

use crate::{describe, mutate, read, run, tool, workspace, ScratchDir};

const DASHBOARD: &str = "deploy/monitoring/dashboard.json";
const RULES: &str = "deploy/monitoring/alerts.yml";
const RULES_TEST: &str = "deploy/monitoring/alerts-test.yml";
/// The series Prometheus makes itself for every scrape target; the only name the files may
/// use that bgpd does not export.
const PROMETHEUS_OWN: [&str; 1] = ["up"];

fn promtool() -> Option<std::path::PathBuf> {
    tool("promtool", &[], "apt-get install prometheus")
}

/// `promtool ARGS` in `dir`; whether it succeeded, and what it said.
fn promtool_in(promtool: &Path, dir: &Path, args: &[&str]) -> (bool, String) {
    let output = run(Command::new(promtool).args(args).current_dir(dir));
    (output.status.success(), describe(&output))
}

#[test]
fn alert_rules_pass_promtool_and_broken_copies_do_not() {
    let Some(promtool) = promtool() else { return };
    let dir = workspace().join("deploy/monitoring");
    for args in [
        &["check", "rules", "alerts.yml"][..],
        &["test", "rules", "alerts-test.yml"],
    ] {
        let (ok, said) = promtool_in(&promtool, &dir, args);
        assert!(ok, "promtool {args:?}: {said}");
    }

    let rules = read(RULES);
    let tests = read(RULES_TEST);
    // (what is broken, rules, the promtool command that must reject it)
    let broken = [
        (
            "an expression that does not parse",
            mutate(&rules, "starling_fib_failures > 0", "starling_fib_failures >"),
            ["check", "rules", "alerts.yml"],
        ),
        (
            "an alert that waits less than its test says",
            mutate(&rules, "for: 10m", "for: 1m"),
            ["test", "rules", "alerts-test.yml"],
        ),
        (
            "the per-neighbor exception dropped from the aggregate session alert",
            mutate(
                &rules,
                "unless on (job, instance) count by (job, instance) (starling_neighbor_established)",
                "",
            ),
            ["test", "rules", "alerts-test.yml"],
        ),
    ];
    for (what, rules, args) in broken {
        let scratch = ScratchDir::new("alerts");
        fs::write(scratch.path().join("alerts.yml"), rules).expect("write rules");
        fs::write(scratch.path().join("alerts-test.yml"), &tests).expect("write tests");
        let (ok, said) = promtool_in(&promtool, scratch.path(), &args);
        assert!(!ok, "promtool {args:?} accepted {what}: {said}");
    }
}

/// Every panel of the dashboard, rows' nested panels included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut all = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        all.push(panel);
        if let Some(nested) = panel["panels"].as_array() {
            all.extend(nested);
        }
    }
    all
}

#[test]
fn dashboard_is_a_grafana_model_whose_queries_follow_its_variables() {
    let dashboard: Value = serde_json::from_str(&read(DASHBOARD)).expect("dashboard is JSON");
    assert_eq!(dashboard["uid"], "starling-bgpd");
    assert!(dashboard["schemaVersion"].as_u64().is_some_and(|v| v >= 36));
    let variables: Vec<&str> = dashboard["templating"]["list"]
        .as_array()
        .expect("variables")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(variables, ["datasource", "instance"]);

    let mut ids = BTreeSet::new();
    let mut queries = 0;
    for panel in panels(&dashboard) {
        let title = panel["title"].as_str().expect("a title");
        let id = panel["id"].as_u64().expect("an id");
        assert!(ids.insert(id), "{title}: id {id} used twice");
        let grid = &panel["gridPos"];
        let (x, w) = (grid["x"].as_u64(), grid["w"].as_u64());
        assert!(
            matches!((x, w), (Some(x), Some(w)) if w > 0 && x + w <= 24)
                && grid["h"].as_u64().is_some_and(|h| h > 0),
            "{title}: gridPos {grid} outside the 24 columns"
        );
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "{title}");
        assert!(panel["description"].is_string(), "{title}: a description");
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title}: no query");
        let mut ref_ids = BTreeSet::new();
        for target in targets {
            let expr = target["expr"].as_str().expect("expr");
            assert!(
                ref_ids.insert(target["refId"].as_str()),
                "{title}: refId twice"
            );
            assert!(expr.contains("instance=~\"$instance\""), "{title}: {expr}");
            queries += 1;
        }
    }
    println!("dashboard: {} panels, {queries} queries", ids.len());
}

/// The `starling_*` names used anywhere in `text`.
fn used_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("starling_") {
        let before = rest[..at].chars().next_back();
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        // A whole name, and more than the prefix (`starling_*` in prose is none).
        if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') && end > "starling_".len()
        {
            names.insert(tail[..end].to_owned());
        }
        rest = &tail[end..];
    }
    names
}

/// The series names of a Prometheus text page.
fn exported_names(page: &str) -> BTreeSet<String> {
    page.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| line.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_metric_the_dashboard_and_the_rules_use_is_exported() {
    let mut used = BTreeSet::new();
    for file in [DASHBOARD, RULES, RULES_TEST] {
        used.extend(used_names(&read(file)));
    }
    // The same files name Prometheus' own `up`, and only it (checked by hand: the rules'
    // StarlingDown), so a scrape need not show it.
    assert!(read(RULES).contains("up{job=\"starling\"}"));
    if !lab_available("monitoring names against a live scrape", &[Tool::Etcd]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let etcd_host = lab.host("etcd").expect("host");
    let etcd = Etcd::start(&lab, &etcd_host).expect("etcd");
    let full = lab.host("full").expect("host");
    let summed = lab.host("summed").expect("host");
    // A neighbor that never answers is enough for the per-neighbor series.
    let absent = NeighborSpec::new(IpAddr::V4(summed.ipv4), Asn(65009));
    let mut spec = RouterSpec::new(full.ipv4, Asn(64512)).neighbor(absent.clone());
    spec.datastore = Some(DatastoreSpec {
        endpoint: etcd.endpoint(),
        node: full.name.clone(),
    });
    let kernel = KernelSpec::pods(&["10.244.0.0/16".parse().expect("pool")]);
    let extra = Extra::default()
        .global("graceful_restart = { enabled = true }")
        .section(&kernel.render());
    let with_everything = Starling::start_with(&lab, &full, &spec, &extra).expect("bgpd");
    let spec = RouterSpec::new(summed.ipv4, Asn(64512)).neighbor(absent);
    let extra = Extra::default().global("metrics_neighbor_labels = false");
    let without_labels = Starling::start_with(&lab, &summed, &spec, &extra).expect("bgpd");

    let mut exported = BTreeSet::new();
    for (starling, datastore) in [(&with_everything, true), (&without_labels, false)] {
        let page = interop::wait_until(
            "a page with the datastore's state",
            Duration::from_secs(30),
            interop::DEFAULT_INTERVAL,
            || {
                let page = starling.metrics()?;
                let connected = page.lines().any(|l| l == "starling_datastore_connected 1");
                Ok((!datastore || connected).then_some(page))
            },
        )
        .expect("scrape");
        exported.extend(exported_names(&page));
    }
    let missing: Vec<&String> = used.difference(&exported).collect();
    println!(
        "{} starling_* names used, {} exported; Prometheus' own: {PROMETHEUS_OWN:?}",
        used.len(),
        exported.len()
    );
    assert!(missing.is_empty(), "used but not exported: {missing:?}");
}

#[test]
fn used_names_finds_whole_metric_names() {
    let text = r#"sum(starling_sessions{state!="Established"}) / x_starling_fake + rate(starling_messages_sent_total[5m]) "starling-bgpd" every starling_* name"#;
    assert_eq!(
        used_names(text),
        BTreeSet::from([
            "starling_messages_sent_total".to_owned(),
            "starling_sessions".to_owned()
        ])
    );
    let page = "# HELP starling_up x\n# TYPE starling_up gauge\nstarling_up 1\nstarling_sessions{state=\"Idle\"} 0\n";
    assert_eq!(
        exported_names(page),
        BTreeSet::from(["starling_sessions".to_owned(), "starling_up".to_owned()])
    );
}
