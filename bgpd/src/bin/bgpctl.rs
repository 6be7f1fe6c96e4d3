//! `bgpctl`: the Starling control client, in the manner of `birdc`.
//!
//! ```text
//! bgpctl [--socket PATH] [--json] show status
//! bgpctl [--socket PATH] [--json] show neighbors [NAME]
//! bgpctl [--socket PATH] [--json] show routes [PREFIX] [--neighbor NAME] [--received|--advertised]
//! bgpctl [--socket PATH] [--json] show fib
//! bgpctl [--socket PATH] [--json] neighbor NAME enable|disable|reset [--soft]
//! bgpctl [--socket PATH] [--json] reload
//! ```
//! Exit codes: 0 ok, 1 the daemon reported an error or cannot be reached, 2 bad usage.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;

use bgpd::control::protocol::{
    Done, Failure, FibRoute, Neighbor, Notice, Request, Route, RouteTable, Status,
};

const DEFAULT_SOCKET: &str = "/run/starling/bgpd.ctl";
const USAGE: &str = "usage: bgpctl [--socket PATH] [--json] COMMAND
commands:
  show status
  show neighbors [NAME]
  show routes [PREFIX] [--neighbor NAME] [--received|--advertised]
  show fib
  neighbor NAME enable|disable|reset [--soft]
  reload";

struct Args {
    socket: String,
    json: bool,
    request: Request,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut socket = DEFAULT_SOCKET.to_owned();
    let mut json = false;
    let mut words: Vec<&str> = Vec::new();
    let mut neighbor = None;
    let mut table = RouteTable::LocRib;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--socket" | "-s" => socket = iter.next().ok_or("--socket needs a path")?.clone(),
            "--json" | "-j" => json = true,
            "--neighbor" => neighbor = Some(iter.next().ok_or("--neighbor needs a name")?.clone()),
            "--received" => table = RouteTable::Received,
            "--advertised" => table = RouteTable::Advertised,
            "--help" | "-h" => return Err(USAGE.to_owned()),
            word => words.push(word),
        }
    }
    let request = match words.as_slice() {
        ["show", "status"] => Request::ShowStatus,
        ["show", "neighbors" | "neighbor" | "protocols"] => Request::ShowNeighbors { name: None },
        ["show", "neighbors" | "neighbor" | "protocols", name] => Request::ShowNeighbors {
            name: Some((*name).to_owned()),
        },
        ["show", "routes" | "route"] => Request::ShowRoutes {
            prefix: None,
            neighbor,
            table,
        },
        ["show", "routes" | "route", prefix] => Request::ShowRoutes {
            prefix: Some(
                prefix
                    .parse()
                    .map_err(|e| format!("{prefix}: not a prefix ({e})\n{USAGE}"))?,
            ),
            neighbor,
            table,
        },
        ["show", "fib"] => Request::ShowFib,
        ["neighbor", name, "enable"] => Request::NeighborEnable {
            name: (*name).to_owned(),
        },
        ["neighbor", name, "disable", reason @ ..] => Request::NeighborDisable {
            name: (*name).to_owned(),
            reason: (!reason.is_empty()).then(|| reason.join(" ")),
        },
        ["neighbor", name, "reset"] => Request::NeighborReset {
            name: (*name).to_owned(),
            soft: false,
        },
        ["neighbor", name, "reset", "--soft"] => Request::NeighborReset {
            name: (*name).to_owned(),
            soft: true,
        },
        ["reload"] => Request::Reload,
        _ => return Err(USAGE.to_owned()),
    };
    Ok(Args {
        socket,
        json,
        request,
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse(&args) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            eprintln!("bgpctl: {message}");
            ExitCode::from(1)
        }
    }
}

/// Sends the request and prints the answer; `Ok(false)` when the daemon reported an error.
fn run(args: &Args) -> Result<bool, String> {
    let mut stream = UnixStream::connect(&args.socket)
        .map_err(|e| format!("cannot connect to {}: {e}", args.socket))?;
    let request = serde_json::to_string(&args.request).map_err(|e| e.to_string())?;
    stream
        .write_all(request.as_bytes())
        .and_then(|()| stream.write_all(b"\n"))
        .map_err(|e| e.to_string())?;
    let list = matches!(
        args.request,
        Request::ShowNeighbors { .. } | Request::ShowRoutes { .. } | Request::ShowFib
    );
    let mut output = Output::new(args.json, list, &args.request);
    let mut ok = true;
    for line in BufReader::new(stream).lines() {
        let line = line.map_err(|e| format!("reading the answer: {e}"))?;
        if let Ok(failure) = serde_json::from_str::<Failure>(&line) {
            eprintln!("bgpctl: {}", failure.error);
            ok = false;
            continue;
        }
        if let Ok(notice) = serde_json::from_str::<Notice>(&line) {
            // Not part of the answer's data: the JSON list stays as it is.
            if !args.json {
                println!("{}", notice.notice);
            }
            continue;
        }
        output.line(&line)?;
    }
    output.finish();
    Ok(ok)
}

/// Prints answers as they arrive: JSON (a list becomes one array, streamed) or tables.
struct Output<'a> {
    json: bool,
    list: bool,
    count: usize,
    request: &'a Request,
    rows: Vec<Vec<String>>,
}

const NEIGHBOR_HEADER: [&str; 9] = [
    "Name",
    "Address",
    "AS",
    "State",
    "Uptime",
    "Hold/KA",
    "Received",
    "Advertised",
    "Last error",
];
const ROUTE_HEADER: [&str; 8] = [
    "Prefix",
    "Next hop",
    "Best",
    "From",
    "AS path",
    "Local pref",
    "MED",
    "Communities",
];

const FIB_HEADER: [&str; 4] = ["Prefix", "Next hops", "Installed", "Error"];

impl<'a> Output<'a> {
    fn new(json: bool, list: bool, request: &'a Request) -> Self {
        if json && list {
            print!("[");
        }
        Output {
            json,
            list,
            count: 0,
            request,
            rows: Vec::new(),
        }
    }

    fn line(&mut self, line: &str) -> Result<(), String> {
        self.count += 1;
        if self.json {
            if self.list {
                print!("{}{line}", if self.count > 1 { "," } else { "" });
            } else {
                println!("{line}");
            }
            return Ok(());
        }
        let parse_error = |e: serde_json::Error| format!("unexpected answer {line:?}: {e}");
        match self.request {
            Request::ShowStatus => {
                let status: Status = serde_json::from_str(line).map_err(parse_error)?;
                println!("Starling bgpd {}", status.version);
                println!("Router ID:         {}", status.router_id);
                println!("AS:                {}", status.asn);
                println!("Uptime:            {}", duration(status.uptime_s));
                println!(
                    "Config:            {} (revision {})",
                    status.config_source, status.config_revision
                );
                println!("Datastore:         {}", status.datastore);
                println!("Graceful restart:  {}", status.graceful_restart);
            }
            Request::ShowNeighbors { .. } => {
                let n: Neighbor = serde_json::from_str(line).map_err(parse_error)?;
                let uptime = if n.state == "Established" {
                    duration(n.uptime_s)
                } else {
                    "-".to_owned()
                };
                let last_error = last_error_cell(&n);
                self.rows.push(vec![
                    n.name,
                    n.address,
                    n.asn.to_string(),
                    n.state,
                    uptime,
                    format!("{}/{}", n.hold_time, n.keepalive),
                    n.received.to_string(),
                    n.advertised.to_string(),
                    last_error,
                ]);
            }
            Request::ShowRoutes { .. } => {
                let r: Route = serde_json::from_str(line).map_err(parse_error)?;
                let path: Vec<String> = r.as_path.iter().map(u32::to_string).collect();
                let optional =
                    |value: Option<u32>| value.map_or_else(String::new, |v| v.to_string());
                let mut communities = r.communities;
                communities.extend(r.large_communities);
                self.rows.push(vec![
                    r.prefix,
                    r.next_hop,
                    if r.best { "*" } else { "" }.to_owned(),
                    r.from,
                    path.join(" "),
                    optional(r.local_pref),
                    optional(r.med),
                    communities.join(" "),
                ]);
            }
            Request::ShowFib => {
                let f: FibRoute = serde_json::from_str(line).map_err(parse_error)?;
                self.rows.push(vec![
                    f.prefix,
                    f.next_hops.join(" "),
                    if f.installed { "yes" } else { "no" }.to_owned(),
                    f.error.unwrap_or_default(),
                ]);
            }
            _ => {
                let done: Done = serde_json::from_str(line).map_err(parse_error)?;
                if done.changes.is_empty() {
                    println!("ok");
                }
                for change in done.changes {
                    println!("{change}");
                }
            }
        }
        Ok(())
    }

    fn finish(self) {
        if self.json && self.list {
            println!("]");
        }
        if !self.rows.is_empty() {
            match self.request {
                Request::ShowRoutes { .. } => print_table(&ROUTE_HEADER, &self.rows),
                Request::ShowFib => print_table(&FIB_HEADER, &self.rows),
                _ => print_table(&NEIGHBOR_HEADER, &self.rows),
            }
        }
    }
}

/// The neighbor's last error with how long ago it happened, marked when it came before the
/// Established session (a connect error while the neighbor was not up yet is history, not a
/// current problem).
fn last_error_cell(n: &Neighbor) -> String {
    let Some(error) = &n.last_error else {
        return String::new();
    };
    let before_up = if n.last_error_before_up {
        ", before up"
    } else {
        ""
    };
    match n.last_error_age_s {
        Some(age) => format!("{error} ({} ago{before_up})", duration(age)),
        None => error.clone(),
    }
}

fn duration(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    if d > 0 {
        format!("{d}d {h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

/// Left-aligned columns, as `birdc` prints them.
fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let render = |cells: Vec<&str>| {
        let line: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    };
    render(header.to_vec());
    for row in rows {
        render(row.iter().map(String::as_str).collect());
    }
}
