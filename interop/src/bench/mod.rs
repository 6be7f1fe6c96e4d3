//! Benchmarks of Starling against BIRD 2, GoBGP and FRR, side by side in one run (issue 10).
//!
//! - [`engine`]: the load generator, many BGP sessions from one thread, pre-encoded UPDATEs
//!   written in large writes, receivers that only count prefixes.
//! - [`wire`]: what it sends (built with `proto`'s encoder and UPDATE builder) and the minimal
//!   walk of what it receives.
//! - [`dut`]: the daemon under test, pinned to one CPU and measured from `/proc`.
//! - [`workload`]: the workloads and their points.
//! - [`report`]: median/min/max, Markdown tables and SVG charts.
//!
//! [`run_suite`] runs workloads × daemons × points × runs and returns one
//! [`WorkloadReport`] per workload; the `bench` binary writes them to a results folder.
//! Figures are printed, never asserted.

pub mod dut;
pub mod engine;
pub mod report;
pub mod wire;
pub mod workload;

use std::time::Duration;

pub use dut::Daemon;
pub use report::{Metric, Row, RunOutcome, Summary, WorkloadReport};
pub use workload::{Point, Workload};

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub workloads: Vec<Workload>,
    pub daemons: Vec<Daemon>,
    /// Small sizes, for a smoke run.
    pub quick: bool,
    /// Runs per point (the issue asks for at least three).
    pub runs: usize,
    /// Limit of one run's measured phase.
    pub timeout: Duration,
}

/// Runs `options` and reports per workload. `progress` gets one line per run.
pub fn run_suite(options: &Options, mut progress: impl FnMut(&str)) -> Vec<WorkloadReport> {
    let mut reports = Vec::new();
    for workload in &options.workloads {
        let load = load_average();
        let mut rows = Vec::new();
        for point in workload.points(options.quick) {
            let label = point.label(*workload);
            for daemon in &workload.daemons(&options.daemons) {
                let mut runs = Vec::new();
                for run in 1..=options.runs {
                    let outcome = workload.run(*daemon, &point, options.timeout);
                    progress(&format!(
                        "{} {daemon} {label} run {run}/{}: {}",
                        workload.id(),
                        options.runs,
                        describe(workload, &outcome)
                    ));
                    let failed = matches!(outcome, RunOutcome::Failed(_));
                    runs.push(outcome);
                    // A failed run (mostly a timeout) would fail again: spend the time on the
                    // other points instead.
                    if failed {
                        break;
                    }
                }
                rows.push(Row {
                    daemon: *daemon,
                    point: label.clone(),
                    runs,
                });
            }
        }
        let mut notes = vec![format!(
            "Load average when the workload started: {load} (the machine is shared; figures \
             taken under load are noisy)."
        )];
        notes.extend(goal_notes(*workload, &rows));
        reports.push(WorkloadReport {
            id: workload.id(),
            title: workload.title(),
            description: workload.description().to_owned(),
            metrics: workload.metrics(),
            rows,
            notes,
        });
    }
    reports
}

fn describe(workload: &Workload, outcome: &RunOutcome) -> String {
    match outcome {
        RunOutcome::Measured {
            values,
            generator_bound,
        } => {
            let metrics = workload.metrics();
            let parts: Vec<String> = metrics
                .iter()
                .zip(values)
                .map(|(m, v)| format!("{} {} {}", m.name, report::format_value(*v), m.unit))
                .collect();
            let bound = if *generator_bound {
                " [generator-bound]"
            } else {
                ""
            };
            format!("{}{bound}", parts.join(", "))
        }
        RunOutcome::Failed(reason) => format!("FAILED: {reason}"),
    }
}

/// The goals, reported as figures (never asserted).
fn goal_notes(workload: Workload, rows: &[Row]) -> Vec<String> {
    let median = |daemon: Daemon, point: &str, column: usize| {
        rows.iter()
            .find(|r| r.daemon == daemon && r.point == point)
            .and_then(|r| r.summary(column))
            .map(|s| s.median)
    };
    let points: Vec<&str> = {
        let mut points: Vec<&str> = rows.iter().map(|r| r.point.as_str()).collect();
        points.dedup();
        points
    };
    let mut notes = Vec::new();
    for point in points {
        match workload {
            Workload::W3 => {
                if let (Some(ours), Some(bird)) = (
                    median(Daemon::Starling, point, 0),
                    median(Daemon::Bird, point, 0),
                ) {
                    notes.push(format!(
                        "Goal (W3, {point}): Starling ≥ 4× BIRD's prefix-updates per CPU second: \
                         {:.2}× {}",
                        ours / bird,
                        verdict(ours >= 4.0 * bird)
                    ));
                }
            }
            Workload::W1 => {
                let ours = median(Daemon::Starling, point, 0);
                let best = [Daemon::Bird, Daemon::Frr]
                    .into_iter()
                    .filter_map(|d| median(d, point, 0))
                    .fold(None, |best: Option<f64>, v| {
                        Some(best.map_or(v, |b| b.min(v)))
                    });
                if let (Some(ours), Some(best)) = (ours, best) {
                    notes.push(format!(
                        "Goal (W1, {point}): completion no slower than the best of BIRD and FRR: \
                         {} s vs {} s {}",
                        report::format_value(ours),
                        report::format_value(best),
                        verdict(ours <= best)
                    ));
                }
                if let (Some(ours), Some(bird)) = (
                    median(Daemon::Starling, point, 2),
                    median(Daemon::Bird, point, 2),
                ) {
                    notes.push(format!(
                        "Goal (W1, {point}): peak memory no higher than BIRD's: {} MB vs {} MB {}",
                        report::format_value(ours),
                        report::format_value(bird),
                        verdict(ours <= bird)
                    ));
                }
            }
            Workload::W4 => {
                if let (Some(ours), Some(bird)) = (
                    median(Daemon::Starling, point, 0),
                    median(Daemon::Bird, point, 0),
                ) {
                    notes.push(format!(
                        "Goal (W4, {point}): faster than BIRD: {} s vs {} s {}",
                        report::format_value(ours),
                        report::format_value(bird),
                        verdict(ours < bird)
                    ));
                }
            }
            Workload::W6 => {
                if let (Some(ours), Some(yardstick)) = (
                    median(Daemon::Starling, point, 0),
                    median(Daemon::IpBatch, point, 0),
                ) {
                    notes.push(format!(
                        "Goal (W6, {point}): ≥ 0.9× `ip -batch`: {:.2}× {}",
                        ours / yardstick,
                        verdict(ours >= 0.9 * yardstick)
                    ));
                }
            }
            Workload::W2 | Workload::W5 => {}
        }
    }
    notes
}

fn verdict(met: bool) -> &'static str {
    if met {
        "(met)"
    } else {
        "(not met)"
    }
}

/// `/proc/loadavg`'s first three figures, for the report.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| "unknown".to_owned())
}
