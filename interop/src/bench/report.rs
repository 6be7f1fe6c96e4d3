//! Turning runs into figures: the median with min and max of each metric per (daemon, point),
//! a Markdown table per workload and a hand-written SVG bar chart of its headline metric.

use std::fmt::Write as _;

use super::dut::Daemon;

/// One measured quantity of a workload (a table column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    pub name: &'static str,
    pub unit: &'static str,
    /// True when more is better (for the chart's caption).
    pub higher_is_better: bool,
}

/// What one run produced: a value per metric (in the workload's column order), or why it
/// failed.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    Measured {
        values: Vec<f64>,
        /// The generator used at least as much CPU as it had wall time (it, not the daemon,
        /// set the pace) or more CPU than the daemon.
        generator_bound: bool,
    },
    Failed(String),
}

/// Median, min and max of one metric over the runs of a point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Summary {
    pub fn of(values: &[f64]) -> Option<Summary> {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        if sorted.is_empty() {
            return None;
        }
        sorted.sort_by(f64::total_cmp);
        let middle = sorted.len() / 2;
        let median = if !sorted.len().is_multiple_of(2) {
            sorted[middle]
        } else {
            (sorted[middle - 1] + sorted[middle]) / 2.0
        };
        Some(Summary {
            median,
            min: sorted[0],
            max: sorted[sorted.len() - 1],
        })
    }
}

/// All runs of one daemon at one point of a workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub daemon: Daemon,
    /// The workload's parameters at this point (`100 clients, 4,000 prefixes`).
    pub point: String,
    pub runs: Vec<RunOutcome>,
}

impl Row {
    fn measured(&self) -> Vec<&Vec<f64>> {
        self.runs
            .iter()
            .filter_map(|r| match r {
                RunOutcome::Measured { values, .. } => Some(values),
                RunOutcome::Failed(_) => None,
            })
            .collect()
    }

    /// The summary of metric `column` over the successful runs.
    pub fn summary(&self, column: usize) -> Option<Summary> {
        let values: Vec<f64> = self
            .measured()
            .iter()
            .filter_map(|v| v.get(column).copied())
            .collect();
        Summary::of(&values)
    }

    fn generator_bound(&self) -> usize {
        self.runs
            .iter()
            .filter(|r| {
                matches!(
                    r,
                    RunOutcome::Measured {
                        generator_bound: true,
                        ..
                    }
                )
            })
            .count()
    }

    fn failures(&self) -> Vec<&str> {
        self.runs
            .iter()
            .filter_map(|r| match r {
                RunOutcome::Failed(reason) => Some(reason.as_str()),
                RunOutcome::Measured { .. } => None,
            })
            .collect()
    }
}

/// Everything measured for one workload.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadReport {
    /// `W3`.
    pub id: &'static str,
    pub title: &'static str,
    pub description: String,
    pub metrics: Vec<Metric>,
    pub rows: Vec<Row>,
    /// Lines printed under the table (goals, caveats).
    pub notes: Vec<String>,
}

/// A figure with about three significant digits and thousands separators.
pub fn format_value(value: f64) -> String {
    if !value.is_finite() {
        return "–".to_owned();
    }
    let magnitude = value.abs();
    if magnitude >= 1000.0 {
        group_thousands(value.round() as i64)
    } else if magnitude >= 100.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else if magnitude >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

fn group_thousands(value: i64) -> String {
    let digits = value.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if value < 0 {
        out.insert(0, '-');
    }
    out
}

impl WorkloadReport {
    /// The Markdown section: heading, description, table, notes.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "### {} {}\n", self.id, self.title);
        let _ = writeln!(out, "{}\n", self.description);
        let mut header = String::from("| daemon | point |");
        let mut rule = String::from("|---|---|");
        for metric in &self.metrics {
            let _ = write!(header, " {} ({}) |", metric.name, metric.unit);
            rule.push_str("---:|");
        }
        header.push_str(" runs | notes |");
        rule.push_str("---:|---|");
        let _ = writeln!(out, "{header}\n{rule}");
        for row in &self.rows {
            let _ = write!(out, "| {} | {} |", row.daemon, row.point);
            for column in 0..self.metrics.len() {
                match row.summary(column) {
                    Some(s) if s.min == s.max => {
                        let _ = write!(out, " {} |", format_value(s.median));
                    }
                    Some(s) => {
                        let _ = write!(
                            out,
                            " {} ({}–{}) |",
                            format_value(s.median),
                            format_value(s.min),
                            format_value(s.max)
                        );
                    }
                    None => out.push_str(" – |"),
                }
            }
            let mut notes = Vec::new();
            let bound = row.generator_bound();
            if bound > 0 {
                notes.push(format!("generator-bound in {bound} of {}", row.runs.len()));
            }
            for failure in row.failures() {
                notes.push(format!("failed: {}", failure.replace('|', "/")));
            }
            let _ = writeln!(
                out,
                " {}/{} | {} |",
                row.measured().len(),
                row.runs.len(),
                notes.join("; ")
            );
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for note in &self.notes {
                let _ = writeln!(out, "- {note}");
            }
        }
        out
    }

    /// A grouped bar chart of the first metric: one group per point, one bar per daemon
    /// (height = median, whisker = min..max).
    pub fn svg(&self) -> String {
        const WIDTH: f64 = 760.0;
        const HEIGHT: f64 = 360.0;
        const LEFT: f64 = 90.0;
        const RIGHT: f64 = 20.0;
        const TOP: f64 = 40.0;
        const BOTTOM: f64 = 80.0;
        const BAR_GAP: f64 = 4.0;
        const GROUP_GAP: f64 = 24.0;
        const TICKS: u32 = 5;
        let Some(metric) = self.metrics.first() else {
            return String::new();
        };
        let mut points: Vec<&str> = Vec::new();
        let mut daemons: Vec<Daemon> = Vec::new();
        for row in &self.rows {
            if !points.contains(&row.point.as_str()) {
                points.push(&row.point);
            }
            if !daemons.contains(&row.daemon) {
                daemons.push(row.daemon);
            }
        }
        let top_value = self
            .rows
            .iter()
            .filter_map(|r| r.summary(0))
            .map(|s| s.max)
            .fold(0.0_f64, f64::max);
        let scale_max = nice_ceiling(top_value);
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let group_w = plot_w / points.len().max(1) as f64;
        let bar_w = ((group_w - GROUP_GAP) / daemons.len().max(1) as f64 - BAR_GAP).max(2.0);
        let y = |value: f64| TOP + plot_h - value / scale_max * plot_h;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
             viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-family=\"sans-serif\" font-size=\"12\">"
        );
        let _ = writeln!(
            out,
            "<rect width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"white\"/>"
        );
        let direction = if metric.higher_is_better {
            "higher is better"
        } else {
            "lower is better"
        };
        let _ = writeln!(
            out,
            "<text x=\"{LEFT}\" y=\"20\" font-size=\"14\" font-weight=\"bold\">{} {}: {} ({}; {direction})</text>",
            self.id,
            escape(self.title),
            escape(metric.name),
            escape(metric.unit)
        );
        for tick in 0..=TICKS {
            let value = scale_max * f64::from(tick) / f64::from(TICKS);
            let ty = y(value);
            let _ = writeln!(
                out,
                "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{ty:.1}\" y2=\"{ty:.1}\" stroke=\"#ddd\"/>\
                 <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                WIDTH - RIGHT,
                LEFT - 6.0,
                ty + 4.0,
                format_value(value)
            );
        }
        for (group, point) in points.iter().enumerate() {
            let group_x = LEFT + group as f64 * group_w + GROUP_GAP / 2.0;
            for (slot, daemon) in daemons.iter().enumerate() {
                let Some(summary) = self
                    .rows
                    .iter()
                    .find(|r| r.point == *point && r.daemon == *daemon)
                    .and_then(|r| r.summary(0))
                else {
                    continue;
                };
                let x = group_x + slot as f64 * (bar_w + BAR_GAP);
                let top = y(summary.median);
                let _ = writeln!(
                    out,
                    "<rect x=\"{x:.1}\" y=\"{top:.1}\" width=\"{bar_w:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{daemon} {}: {}</title></rect>",
                    TOP + plot_h - top,
                    daemon.colour(),
                    escape(point),
                    format_value(summary.median)
                );
                let cx = x + bar_w / 2.0;
                let _ = writeln!(
                    out,
                    "<line x1=\"{cx:.1}\" x2=\"{cx:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"black\"/>",
                    y(summary.min),
                    y(summary.max)
                );
            }
            let label_x = LEFT + (group as f64 + 0.5) * group_w;
            let _ = writeln!(
                out,
                "<text x=\"{label_x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                TOP + plot_h + 18.0,
                escape(point)
            );
        }
        for (slot, daemon) in daemons.iter().enumerate() {
            let x = LEFT + slot as f64 * 110.0;
            let ly = HEIGHT - 24.0;
            let _ = writeln!(
                out,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/>\
                 <text x=\"{:.1}\" y=\"{ly:.1}\">{daemon}</text>",
                ly - 10.0,
                daemon.colour(),
                x + 16.0
            );
        }
        out.push_str("</svg>\n");
        out
    }
}

/// The smallest 1, 2 or 5 × 10ⁿ at or above `value` (an axis maximum).
fn nice_ceiling(value: f64) -> f64 {
    if value <= 0.0 || !value.is_finite() {
        return 1.0;
    }
    let exponent = value.log10().floor();
    let base = 10f64.powf(exponent);
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * base)
        .find(|candidate| *candidate >= value)
        .unwrap_or(10.0 * base)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_are_median_min_max() {
        let check = |values: &[f64], expected: Option<(f64, f64, f64)>| {
            let got = Summary::of(values).map(|s| (s.median, s.min, s.max));
            assert_eq!(got, expected, "{values:?}");
        };
        check(&[3.0, 1.0, 2.0], Some((2.0, 1.0, 3.0)));
        check(&[4.0, 1.0], Some((2.5, 1.0, 4.0)));
        check(&[], None);
    }

    #[test]
    fn values_are_readable() {
        let check = |value: f64, expected: &str| assert_eq!(format_value(value), expected);
        check(1_234_567.4, "1,234,567");
        check(512.3, "512");
        check(12.34, "12.3");
        check(1.234, "1.23");
        check(0.01234, "0.012");
        check(f64::NAN, "–");
    }

    #[test]
    fn axis_ceilings_are_round() {
        let check = |value: f64, expected: f64| assert_eq!(nice_ceiling(value), expected);
        check(0.0, 1.0);
        check(3.2, 5.0);
        check(170.0, 200.0);
        check(1000.0, 1000.0);
    }

    #[test]
    fn table_and_chart_show_every_row() {
        let report = WorkloadReport {
            id: "W9",
            title: "test",
            description: "a test".into(),
            metrics: vec![Metric {
                name: "time",
                unit: "s",
                higher_is_better: false,
            }],
            rows: vec![
                Row {
                    daemon: Daemon::Starling,
                    point: "10 clients".into(),
                    runs: vec![
                        RunOutcome::Measured {
                            values: vec![1.0],
                            generator_bound: false,
                        },
                        RunOutcome::Measured {
                            values: vec![3.0],
                            generator_bound: true,
                        },
                        RunOutcome::Failed("timeout".into()),
                    ],
                },
                Row {
                    daemon: Daemon::Bird,
                    point: "10 clients".into(),
                    runs: vec![RunOutcome::Measured {
                        values: vec![2.0],
                        generator_bound: false,
                    }],
                },
            ],
            notes: vec!["goal: none".into()],
        };
        let table = report.markdown();
        assert!(
            table.contains("| starling | 10 clients | 2.00 (1.00–3.00) | 2/3 | generator-bound in 1 of 3; failed: timeout |"),
            "{table}"
        );
        assert!(
            table.contains("| bird | 10 clients | 2.00 | 1/1 |  |"),
            "{table}"
        );
        let svg = report.svg();
        assert_eq!(svg.matches("<title>").count(), 2, "{svg}");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
    }
}
