//! `bench`: runs the benchmark suite (issue 10) against Starling, BIRD, GoBGP and FRR and
//! writes a Markdown table and an SVG chart per workload into a results folder, plus
//! `summary.md` with the latest table of every workload found there; `--readme FILE` also
//! replaces the part of FILE between the `<!-- bench:begin -->` and `<!-- bench:end -->`
//! markers with that summary.
//!
//! Usage: bench [--workload W1,W3] [--daemons starling,bird] [--quick] [--runs N]
//!              [--timeout SECONDS] [--out DIR] [--readme FILE] [--command TEXT]
//!
//! Run as root (network namespaces). Set `STARLING_BIN_DIR` to a release build of bgpd
//! (`scripts/bench` does).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

use interop::bench::{run_suite, Daemon, Options, Workload, WorkloadReport};

const DEFAULT_RUNS: usize = 3;
const QUICK_RUNS: usize = 1;
const DEFAULT_TIMEOUT_S: u64 = 300;
const QUICK_TIMEOUT_S: u64 = 30;
const DEFAULT_OUT: &str = "bench/results";
const README_BEGIN: &str = "<!-- bench:begin -->";
const README_END: &str = "<!-- bench:end -->";
/// Exit code for bad usage (as bgpd's).
const USAGE_EXIT: u8 = 2;

struct Arguments {
    options: Options,
    out: PathBuf,
    readme: Option<PathBuf>,
    command: String,
}

fn main() -> ExitCode {
    let arguments = match parse(std::env::args().skip(1).collect()) {
        Ok(arguments) => arguments,
        Err(message) => {
            eprintln!("bench: {message}");
            eprintln!(
                "usage: bench [--workload W1,W2,W3,W4,W5,W6] [--daemons starling,bird,gobgp,frr] \
                 [--quick] [--runs N] [--timeout SECONDS] [--out DIR] [--readme FILE]"
            );
            return ExitCode::from(USAGE_EXIT);
        }
    };
    let header = header(&arguments);
    eprintln!("{header}");
    let reports = run_suite(&arguments.options, |line| eprintln!("{line}"));
    match write_results(&arguments, &header, &reports) {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("bench: {error}");
            ExitCode::FAILURE
        }
    }
}

fn parse(args: Vec<String>) -> Result<Arguments, String> {
    let mut workloads = Workload::ALL.to_vec();
    let mut daemons = Daemon::ALL.to_vec();
    let mut quick = false;
    let mut runs = None;
    let mut timeout = None;
    let mut out = PathBuf::from(DEFAULT_OUT);
    let mut readme = None;
    let mut command = String::from("scripts/bench");
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--workload" => {
                workloads = list(&value("--workload")?, Workload::parse, "workload")?;
            }
            "--daemons" => daemons = list(&value("--daemons")?, Daemon::parse, "daemon")?,
            "--quick" => quick = true,
            "--runs" => {
                runs = Some(
                    value("--runs")?
                        .parse::<usize>()
                        .ok()
                        .filter(|r| *r > 0)
                        .ok_or("--runs takes a positive number")?,
                )
            }
            "--timeout" => {
                timeout = Some(Duration::from_secs(
                    value("--timeout")?
                        .parse()
                        .map_err(|_| "--timeout takes seconds")?,
                ))
            }
            "--out" => out = PathBuf::from(value("--out")?),
            "--readme" => readme = Some(PathBuf::from(value("--readme")?)),
            "--command" => command = value("--command")?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let options = Options {
        workloads,
        daemons,
        quick,
        runs: runs.unwrap_or(if quick { QUICK_RUNS } else { DEFAULT_RUNS }),
        timeout: timeout.unwrap_or(Duration::from_secs(if quick {
            QUICK_TIMEOUT_S
        } else {
            DEFAULT_TIMEOUT_S
        })),
    };
    Ok(Arguments {
        options,
        out,
        readme,
        command,
    })
}

fn list<T>(text: &str, parse: impl Fn(&str) -> Option<T>, what: &str) -> Result<Vec<T>, String> {
    text.split(',')
        .map(|item| parse(item.trim()).ok_or_else(|| format!("unknown {what} {item}")))
        .collect()
}

/// Date, machine, versions and the command: what a reader needs to reproduce the tables.
fn header(arguments: &Arguments) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Command: `{}`\n", arguments.command);
    let _ = writeln!(
        out,
        "Taken {} on {} CPUs ({}); daemon pinned to CPU 0, harness to CPU 1; {} run(s) per \
         point, median (min–max).\n",
        shell(&["date", "-u", "+%Y-%m-%d %H:%M UTC"]),
        std::thread::available_parallelism().map_or(1, usize::from),
        shell(&[
            "sh",
            "-c",
            "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"
        ])
        .trim(),
        arguments.options.runs
    );
    let _ = writeln!(
        out,
        "Versions: Starling {}, {}, GoBGP {}, FRR {}.",
        shell(&["git", "rev-parse", "--short", "HEAD"]),
        shell(&["sh", "-c", "bird --version 2>&1"]),
        shell(&["sh", "-c", "gobgpd --version 2>&1 | awk '{print $NF}'"]),
        shell(&[
            "sh",
            "-c",
            "/usr/lib/frr/bgpd --version 2>&1 | head -1 | awk '{print $NF}'"
        ]),
    );
    out
}

fn shell(argv: &[&str]) -> String {
    let Some((program, args)) = argv.split_first() else {
        return String::new();
    };
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn write_results(
    arguments: &Arguments,
    header: &str,
    reports: &[WorkloadReport],
) -> std::io::Result<String> {
    std::fs::create_dir_all(&arguments.out)?;
    for report in reports {
        let stem = report.id.to_ascii_lowercase();
        std::fs::write(
            arguments.out.join(format!("{stem}.md")),
            format!(
                "{header}\n{}\n![{} chart]({stem}.svg)\n",
                report.markdown(),
                report.id
            ),
        )?;
        std::fs::write(arguments.out.join(format!("{stem}.svg")), report.svg())?;
    }
    // The summary gathers every workload's latest file, so workloads run one at a time add
    // up; each keeps the header (date, load, versions) of its own run.
    let mut summary = String::new();
    for workload in Workload::ALL {
        let stem = workload.id().to_ascii_lowercase();
        let Ok(text) = std::fs::read_to_string(arguments.out.join(format!("{stem}.md"))) else {
            continue;
        };
        let text = text.replace(
            &format!("]({stem}.svg)"),
            &format!("]({}/{stem}.svg)", arguments.out.display()),
        );
        let _ = writeln!(summary, "{text}");
    }
    std::fs::write(arguments.out.join("summary.md"), &summary)?;
    if let Some(readme) = &arguments.readme {
        let text = std::fs::read_to_string(readme)?;
        let updated = replace_between(&text, &summary).ok_or_else(|| {
            std::io::Error::other(format!(
                "{} has no {README_BEGIN} … {README_END} section",
                readme.display()
            ))
        })?;
        std::fs::write(readme, updated)?;
    }
    Ok(summary)
}

/// `text` with what lies between the markers replaced by `content`.
fn replace_between(text: &str, content: &str) -> Option<String> {
    let begin = text.find(README_BEGIN)? + README_BEGIN.len();
    let end = text[begin..].find(README_END)? + begin;
    Some(format!(
        "{}\n{}\n{}",
        &text[..begin],
        content.trim(),
        &text[end..]
    ))
}
