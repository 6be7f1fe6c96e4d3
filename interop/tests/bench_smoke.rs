//! Smoke test of the benchmark harness, so that it cannot rot: W3 at its `--quick` size
//! against Starling only, one run. It checks that the run completes and reports figures,
//! never how good they are (benchmarks are not timed assertions).

use std::time::Duration;

use interop::bench::{run_suite, Daemon, Options, RunOutcome, Workload};
use interop::lab_available;

/// Far above what the quick point needs; bounds the test if the daemon wedges.
const TIMEOUT: Duration = Duration::from_secs(30);

#[test]
fn quick_w3_against_starling_reports_figures() {
    if !lab_available("benchmark smoke run", &[]) {
        return;
    }
    // Builds (or finds) bgpd before the run starts.
    interop::starling::binary("bgpd").expect("bgpd binary");
    let options = Options {
        workloads: vec![Workload::W3],
        daemons: vec![Daemon::Starling],
        quick: true,
        runs: 1,
        timeout: TIMEOUT,
    };
    let reports = run_suite(&options, |line| eprintln!("{line}"));
    let [report] = reports.as_slice() else {
        panic!("one report expected, got {}", reports.len());
    };
    let [row] = report.rows.as_slice() else {
        panic!("one row expected: {report:?}");
    };
    match row.runs.as_slice() {
        [RunOutcome::Measured { values, .. }] => {
            assert_eq!(values.len(), report.metrics.len());
            assert!(
                values.iter().all(|v| v.is_finite() && *v >= 0.0),
                "{values:?}"
            );
        }
        other => panic!("the run failed: {other:?}"),
    }
    let table = report.markdown();
    assert!(
        table.contains("| starling | 20 clients, 4,000 |"),
        "{table}"
    );
    assert!(report.svg().contains("<rect"));
}
