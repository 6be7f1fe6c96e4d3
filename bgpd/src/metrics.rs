//! Prometheus metrics in the text exposition format (version 0.0.4) at `GET /metrics` on
//! `metrics_listen`. A scrape asks the daemon's loop, which owns the state, to render a page
//! from the neighbors' status; nothing is shared behind locks. With
//! `metrics_neighbor_labels = false` the per-neighbor series are summed, so that a mesh of
//! thousands of nodes does not make thousands of series per metric.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use proto::session::State;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use crate::peer::{MessageCounts, PeerStatus};

/// The longest request head read from a scraper.
const MAX_REQUEST_HEAD: usize = 8192;
/// A scraper must send its request within this time.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

const STATES: [State; 6] = [
    State::Idle,
    State::Connect,
    State::Active,
    State::OpenSent,
    State::OpenConfirm,
    State::Established,
];

/// A scrape waiting for its page.
pub type ScrapeRequest = oneshot::Sender<String>;

/// Daemon-wide values of a page.
#[derive(Debug, Clone, Default)]
pub struct DaemonInfo {
    pub version: &'static str,
    pub uptime: Duration,
    pub config_revision: u64,
    /// `None`: no datastore configured.
    pub datastore_connected: Option<bool>,
}

/// The kernel FIB's part of a page (with `[kernel]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FibSample {
    /// Routes the kernel holds exactly as the RIB asked.
    pub installed: usize,
    /// Routes the kernel refused (each retried; `bgpctl show fib` has the errors).
    pub failures: usize,
    /// Kernel routes matching `[kernel.advertise]`, originated into BGP.
    pub advertised: usize,
}

/// Appends the FIB's series to a page from [`render`].
pub fn render_fib(out: &mut String, fib: &FibSample) {
    let series = [
        (
            "starling_fib_routes_installed",
            "Routes installed in the kernel as the RIB asked.",
            fib.installed,
        ),
        (
            "starling_fib_failures",
            "Routes the kernel refused (retried; see bgpctl show fib).",
            fib.failures,
        ),
        (
            "starling_kernel_routes_advertised",
            "Kernel routes matching [kernel.advertise], originated into BGP.",
            fib.advertised,
        ),
    ];
    for (name, help, value) in series {
        family(out, name, "gauge", help);
        let _ = writeln!(out, "{name} {value}");
    }
}

/// One neighbor's part of a page.
pub struct NeighborSample<'a> {
    pub name: &'a str,
    pub address: &'a str,
    pub status: &'a PeerStatus,
}

/// Renders a page. `neighbor_labels` keeps one series per neighbor.
pub fn render(
    info: &DaemonInfo,
    neighbors: &[NeighborSample<'_>],
    neighbor_labels: bool,
) -> String {
    let mut out = String::new();
    family(
        &mut out,
        "starling_build_info",
        "gauge",
        "Starling's version.",
    );
    let _ = writeln!(out, "starling_build_info{{version=\"{}\"}} 1", info.version);
    family(
        &mut out,
        "starling_uptime_seconds",
        "gauge",
        "Seconds since bgpd started.",
    );
    let _ = writeln!(out, "starling_uptime_seconds {}", info.uptime.as_secs());
    family(
        &mut out,
        "starling_config_revision",
        "gauge",
        "Configuration revision in force.",
    );
    let _ = writeln!(out, "starling_config_revision {}", info.config_revision);
    if let Some(connected) = info.datastore_connected {
        family(
            &mut out,
            "starling_datastore_connected",
            "gauge",
            "1 while the datastore is reachable.",
        );
        let _ = writeln!(out, "starling_datastore_connected {}", u8::from(connected));
    }

    family(
        &mut out,
        "starling_sessions",
        "gauge",
        "Neighbors by RFC 4271 session state.",
    );
    for state in STATES {
        let count = neighbors.iter().filter(|n| n.status.state == state).count();
        let _ = writeln!(out, "starling_sessions{{state=\"{state}\"}} {count}");
    }

    if neighbor_labels {
        per_neighbor(&mut out, neighbors);
    } else {
        summed(&mut out, neighbors);
    }
    out
}

fn per_neighbor(out: &mut String, neighbors: &[NeighborSample<'_>]) {
    let labels = |n: &NeighborSample<'_>| {
        format!(
            "neighbor=\"{}\",address=\"{}\"",
            escape(n.name),
            escape(n.address)
        )
    };
    family(
        out,
        "starling_neighbor_established",
        "gauge",
        "1 while the session is Established.",
    );
    for n in neighbors {
        let up = u8::from(n.status.state == State::Established);
        let _ = writeln!(out, "starling_neighbor_established{{{}}} {up}", labels(n));
    }
    family(
        out,
        "starling_neighbor_prefixes_received",
        "gauge",
        "Prefixes received in the current session.",
    );
    for n in neighbors {
        let _ = writeln!(
            out,
            "starling_neighbor_prefixes_received{{{}}} {}",
            labels(n),
            n.status.prefixes_received
        );
    }
    family(
        out,
        "starling_neighbor_established_total",
        "counter",
        "Times the session reached Established.",
    );
    for n in neighbors {
        let _ = writeln!(
            out,
            "starling_neighbor_established_total{{{}}} {}",
            labels(n),
            n.status.established_transitions
        );
    }
    for (direction, pick) in directions() {
        family(
            out,
            &format!("starling_messages_{direction}_total"),
            "counter",
            &format!("BGP messages {direction}, by type."),
        );
        for n in neighbors {
            for (kind, count) in pick(n.status).by_type() {
                let _ = writeln!(
                    out,
                    "starling_messages_{direction}_total{{{},type=\"{kind}\"}} {count}",
                    labels(n)
                );
            }
        }
    }
}

fn summed(out: &mut String, neighbors: &[NeighborSample<'_>]) {
    family(
        out,
        "starling_prefixes_received",
        "gauge",
        "Prefixes received in current sessions, all neighbors.",
    );
    let prefixes: u64 = neighbors.iter().map(|n| n.status.prefixes_received).sum();
    let _ = writeln!(out, "starling_prefixes_received {prefixes}");
    family(
        out,
        "starling_established_total",
        "counter",
        "Times sessions reached Established, all neighbors.",
    );
    let transitions: u64 = neighbors
        .iter()
        .map(|n| n.status.established_transitions)
        .sum();
    let _ = writeln!(out, "starling_established_total {transitions}");
    for (direction, pick) in directions() {
        family(
            out,
            &format!("starling_messages_{direction}_total"),
            "counter",
            &format!("BGP messages {direction}, by type."),
        );
        let mut total = MessageCounts::default();
        for n in neighbors {
            let counts = pick(n.status);
            total.open += counts.open;
            total.update += counts.update;
            total.notification += counts.notification;
            total.keepalive += counts.keepalive;
            total.route_refresh += counts.route_refresh;
        }
        for (kind, count) in total.by_type() {
            let _ = writeln!(
                out,
                "starling_messages_{direction}_total{{type=\"{kind}\"}} {count}"
            );
        }
    }
}

type Pick = fn(&PeerStatus) -> &MessageCounts;

fn directions() -> [(&'static str, Pick); 2] {
    [("received", |s| &s.received), ("sent", |s| &s.sent)]
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Label values escape backslash, double quote and newline (exposition format).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Serves `GET /metrics` on `address`, asking the daemon for each page.
pub async fn serve(
    address: SocketAddr,
    scrapes: mpsc::Sender<ScrapeRequest>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(address).await?;
    Ok(tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, remote)) => {
                    debug!(%remote, "metrics scrape");
                    tokio::spawn(answer(stream, scrapes.clone()));
                }
                Err(error) => {
                    warn!(%address, %error, "metrics accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }))
}

async fn answer(mut stream: TcpStream, scrapes: mpsc::Sender<ScrapeRequest>) {
    let Ok(Some(path)) =
        tokio::time::timeout(REQUEST_TIMEOUT, read_request_path(&mut stream)).await
    else {
        return;
    };
    let (status, body) = if path == "/metrics" {
        let (reply, page) = oneshot::channel();
        match scrapes.send(reply).await {
            Ok(()) => match page.await {
                Ok(page) => ("200 OK", page),
                Err(_) => (
                    "503 Service Unavailable",
                    "bgpd is shutting down\n".to_owned(),
                ),
            },
            Err(_) => (
                "503 Service Unavailable",
                "bgpd is shutting down\n".to_owned(),
            ),
        }
    } else {
        ("404 Not Found", "metrics are at /metrics\n".to_owned())
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Reads the request head and returns the path of a GET request.
async fn read_request_path(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 || head.len() + read > MAX_REQUEST_HEAD {
            return None;
        }
        head.extend_from_slice(&chunk[..read]);
    }
    let line = head.split(|b| *b == b'\n').next()?;
    let mut parts = std::str::from_utf8(line).ok()?.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some("GET"), Some(path)) => Some(path.split('?').next().unwrap_or(path).to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: State, prefixes: u64) -> PeerStatus {
        let mut status = PeerStatus {
            state,
            prefixes_received: prefixes,
            ..PeerStatus::default()
        };
        status.received.update = 3;
        status.sent.keepalive = 2;
        status
    }

    #[test]
    fn per_neighbor_page() {
        let (a, b) = (status(State::Established, 5), status(State::Active, 0));
        let neighbors = [
            NeighborSample {
                name: "tor\"1",
                address: "10.0.0.1",
                status: &a,
            },
            NeighborSample {
                name: "tor2",
                address: "10.0.0.2",
                status: &b,
            },
        ];
        let page = render(
            &DaemonInfo {
                version: "0.1.0",
                ..DaemonInfo::default()
            },
            &neighbors,
            true,
        );
        for line in [
            "starling_sessions{state=\"Established\"} 1",
            "starling_sessions{state=\"Active\"} 1",
            "starling_sessions{state=\"Idle\"} 0",
            "starling_neighbor_established{neighbor=\"tor\\\"1\",address=\"10.0.0.1\"} 1",
            "starling_neighbor_prefixes_received{neighbor=\"tor\\\"1\",address=\"10.0.0.1\"} 5",
            "starling_messages_received_total{neighbor=\"tor2\",address=\"10.0.0.2\",type=\"update\"} 3",
            "# TYPE starling_messages_sent_total counter",
        ] {
            assert!(page.lines().any(|l| l == line), "missing {line:?} in\n{page}");
        }
        assert!(!page.contains("starling_datastore_connected"));
    }

    #[test]
    fn summed_page_has_no_neighbor_labels() {
        let (a, b) = (status(State::Established, 5), status(State::Established, 7));
        let neighbors = [
            NeighborSample {
                name: "a",
                address: "10.0.0.1",
                status: &a,
            },
            NeighborSample {
                name: "b",
                address: "10.0.0.2",
                status: &b,
            },
        ];
        let info = DaemonInfo {
            version: "0.1.0",
            datastore_connected: Some(false),
            ..DaemonInfo::default()
        };
        let page = render(&info, &neighbors, false);
        assert!(!page.contains("neighbor="), "{page}");
        assert!(page.lines().any(|l| l == "starling_prefixes_received 12"));
        assert!(page
            .lines()
            .any(|l| l == "starling_messages_received_total{type=\"update\"} 6"));
        assert!(page.lines().any(|l| l == "starling_datastore_connected 0"));
    }

    #[test]
    fn fib_series() {
        let mut page = String::new();
        render_fib(
            &mut page,
            &FibSample {
                installed: 3,
                failures: 1,
                advertised: 2,
            },
        );
        for line in [
            "# TYPE starling_fib_routes_installed gauge",
            "starling_fib_routes_installed 3",
            "starling_fib_failures 1",
            "starling_kernel_routes_advertised 2",
        ] {
            assert!(
                page.lines().any(|l| l == line),
                "missing {line:?} in\n{page}"
            );
        }
    }
}
