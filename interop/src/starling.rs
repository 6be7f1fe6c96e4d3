//! Starling (`bgpd`) as a lab peer: its TOML rendered from a [`RouterSpec`], run in a
//! namespace, queried through `bgpctl --json` — the product's own CLI, whose JSON fields are
//! the ones of the interface document; nothing here looks at Starling's internals.
//!
//! The binaries are the workspace's own: built once per test process with the profile of the
//! tests (`cargo build -p bgpd --bins`), or taken from `STARLING_BIN_DIR`.

use std::fmt::Write as _;
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde::Deserialize;

use crate::error::{LabError, Result};
use crate::lab::{Host, Lab};
use crate::peer::SessionState;
use crate::process::Process;
use crate::spec::{AddPathConfig, NeighborSpec, RouterSpec};
use crate::wait::{wait_until, Observed, DEFAULT_INTERVAL};

/// How long bgpd may take to open its control socket.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// Where bgpd serves its metrics, on the loopback of its namespace.
pub const METRICS_PORT: u16 = 9179;
/// The lab's connect retry cap: peers restart often in tests.
const CONNECT_RETRY_S: u16 = 5;

/// One entry of `bgpctl --json show neighbors`, with the fields the interface promises.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NeighborStatus {
    pub name: String,
    pub address: String,
    pub asn: u32,
    pub state: String,
    pub uptime_s: u64,
    pub hold_time: u16,
    pub keepalive: u64,
    pub families: Vec<String>,
    pub rr_client: bool,
    pub received: u64,
    pub accepted: u64,
    pub advertised: u64,
    pub last_error: Option<String>,
    /// Beyond the interface document: when `last_error` happened (RFC 3339 UTC), how long
    /// ago, and whether it came before the Established session.
    #[serde(default)]
    pub last_error_at: Option<String>,
    #[serde(default)]
    pub last_error_age_s: Option<u64>,
    #[serde(default)]
    pub last_error_before_up: bool,
}

/// One entry of `bgpctl --json show routes`, with the fields the interface promises.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RouteEntry {
    pub prefix: String,
    /// An address, or `self` for a route the daemon originates.
    pub next_hop: String,
    pub as_path: Vec<u32>,
    pub origin: Option<String>,
    pub local_pref: Option<u32>,
    pub med: Option<u32>,
    pub communities: Vec<String>,
    pub large_communities: Vec<String>,
    pub originator_id: Option<String>,
    pub cluster_list: Vec<String>,
    /// The neighbor's name (its address unless named), or `local`.
    pub from: String,
    pub best: bool,
}

/// Starling settings the common [`RouterSpec`] has no field for: TOML lines added to the
/// `[[neighbor]]` table of the neighbor with this address (`max_prefixes = 2`,
/// `communities = ["64512:7"]`), to `[global]` (`graceful_restart = { … }`), to the `[etcd]`
/// table (`username = "…"`), and whole tables at the end (`[kernel]`, `[[policy]]`,
/// `[[prefix_list]]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extra {
    pub neighbor_lines: Vec<(IpAddr, String)>,
    pub global_lines: Vec<String>,
    pub etcd_lines: Vec<String>,
    /// `[global] log_level`; `None` keeps the lab's `debug` (benchmarks use `info`).
    pub log_level: Option<String>,
    /// Whole TOML sections appended to the file (`[kernel]`, see [`KernelSpec`]).
    pub sections: Vec<String>,
}

impl Extra {
    pub fn global(mut self, line: &str) -> Extra {
        self.global_lines.push(line.to_owned());
        self
    }

    pub fn log_level(mut self, level: &str) -> Extra {
        self.log_level = Some(level.to_owned());
        self
    }

    pub fn neighbor(mut self, address: IpAddr, line: &str) -> Extra {
        self.neighbor_lines.push((address, line.to_owned()));
        self
    }

    /// Appends a whole TOML section to the file.
    pub fn section(mut self, toml: &str) -> Extra {
        self.sections.push(toml.to_owned());
        self
    }

    pub fn etcd(mut self, line: &str) -> Extra {
        self.etcd_lines.push(line.to_owned());
        self
    }
}

/// A running `bgpd`.
#[derive(Debug)]
pub struct Starling {
    host: Host,
    config: PathBuf,
    socket: PathBuf,
    /// `state_dir` of its configuration: its own, since the datastore snapshot lives there.
    state_dir: PathBuf,
    process: Process,
}

impl Starling {
    /// Writes the configuration for `spec` and starts `bgpd` on `host`; returns once `bgpctl`
    /// answers.
    pub fn start(lab: &Lab, host: &Host, spec: &RouterSpec) -> Result<Starling> {
        Starling::launch(lab, host, spec, None, &Extra::default())
    }

    /// Like [`Starling::start`], with Starling-only neighbor settings.
    pub fn start_with(
        lab: &Lab,
        host: &Host,
        spec: &RouterSpec,
        extra: &Extra,
    ) -> Result<Starling> {
        Starling::launch(lab, host, spec, None, extra)
    }

    /// Like [`Starling::start`], but as `user` with only `CAP_NET_ADMIN` and
    /// `CAP_NET_BIND_SERVICE`, as the systemd unit runs it. Its socket and state live in a
    /// directory owned by `user`.
    pub fn start_unprivileged(
        lab: &Lab,
        host: &Host,
        spec: &RouterSpec,
        user: &str,
    ) -> Result<Starling> {
        Starling::launch(lab, host, spec, Some(user), &Extra::default())
    }

    fn launch(
        lab: &Lab,
        host: &Host,
        spec: &RouterSpec,
        user: Option<&str>,
        extra: &Extra,
    ) -> Result<Starling> {
        let stem = format!("starling-{}", host.name);
        let config = lab.path(&format!("{stem}.toml"));
        let run_dir = match user {
            Some(user) => {
                let dir = lab.path(&format!("{stem}.run"));
                fs::create_dir_all(&dir)
                    .map_err(|e| LabError::io(format!("create {}", dir.display()), e))?;
                crate::command::run("chown", &[user, path_str(&dir)?])?;
                dir
            }
            None => {
                // Each node its own state directory: the datastore snapshot lives there.
                let dir = lab.path(&format!("{stem}.state"));
                fs::create_dir_all(&dir)
                    .map_err(|e| LabError::io(format!("create {}", dir.display()), e))?;
                dir
            }
        };
        let socket = run_dir.join(format!("{stem}.ctl"));
        write_file(
            &config,
            &render_config(host, spec, &socket, &run_dir, extra),
        )?;
        let bgpd = binary("bgpd")?;
        let mut argv: Vec<String> = Vec::new();
        if let Some(user) = user {
            let gid = crate::command::run("id", &["-g", user])?.trim().to_owned();
            // The unit's privileges: a plain user, two capabilities (ambient, so they survive
            // exec), nothing else in the bounding set, no new privileges.
            let caps = "-all,+net_admin,+net_bind_service";
            argv.extend(
                [
                    "setpriv",
                    &format!("--reuid={user}"),
                    &format!("--regid={gid}"),
                    "--clear-groups",
                    &format!("--inh-caps={caps}"),
                    &format!("--ambient-caps={caps}"),
                    &format!("--bounding-set={caps}"),
                    "--no-new-privs",
                    "--",
                ]
                .map(str::to_owned),
            );
        }
        argv.extend([
            path_str(&bgpd)?.to_owned(),
            "--config".to_owned(),
            path_str(&config)?.to_owned(),
        ]);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let process = lab.spawn(host, &stem, &argv)?;
        let mut starling = Starling {
            host: host.clone(),
            config,
            socket,
            state_dir: run_dir,
            process,
        };
        let what = format!("bgpd on {} to answer", starling.host.name);
        wait_until(&what, STARTUP_TIMEOUT, DEFAULT_INTERVAL, || {
            starling.process.ensure_running()?;
            Ok(starling.bgpctl(&["show", "status"]).ok().map(|_| ()))
        })?;
        Ok(starling)
    }

    /// Runs `bgpd --check` in `host`'s namespace on the configuration for `spec` (written
    /// beside the daemon's, not started): its standard output when it passes, else an error
    /// carrying what it printed.
    pub fn check(lab: &Lab, host: &Host, spec: &RouterSpec, extra: &Extra) -> Result<String> {
        let stem = format!("starling-{}-check", host.name);
        let config = lab.path(&format!("{stem}.toml"));
        let dir = lab.path(&format!("{stem}.state"));
        let socket = dir.join(format!("{stem}.ctl"));
        write_file(&config, &render_config(host, spec, &socket, &dir, extra))?;
        let bgpd = binary("bgpd")?;
        crate::command::run_in(
            &host.netns,
            path_str(&bgpd)?,
            &["--check", "--config", path_str(&config)?],
        )
    }

    /// The control socket's path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Runs `bgpctl --json ARGS` against this daemon and returns its standard output.
    pub fn bgpctl(&self, args: &[&str]) -> Result<String> {
        let bgpctl = binary("bgpctl")?;
        let mut argv = vec!["--socket", path_str(&self.socket)?, "--json"];
        argv.extend_from_slice(args);
        crate::command::run(path_str(&bgpctl)?, &argv)
    }

    /// Runs `bgpctl ARGS` (human output, as an operator sees it).
    pub fn bgpctl_text(&self, args: &[&str]) -> Result<String> {
        let bgpctl = binary("bgpctl")?;
        let mut argv = vec!["--socket", path_str(&self.socket)?];
        argv.extend_from_slice(args);
        crate::command::run(path_str(&bgpctl)?, &argv)
    }

    /// The Prometheus page, fetched over HTTP from inside the host's namespace (bash's
    /// `/dev/tcp`, so no HTTP client needs to be installed).
    pub fn metrics(&self) -> Result<String> {
        let script = format!(
            "exec 3<>/dev/tcp/127.0.0.1/{METRICS_PORT}; printf 'GET /metrics HTTP/1.0\\r\\n\\r\\n' >&3; cat <&3"
        );
        let response = crate::command::run_in(&self.host.netns, "bash", &["-c", &script])?;
        match response.split_once("\r\n\r\n") {
            Some((head, body)) if head.starts_with("HTTP/1.1 200") => Ok(body.to_owned()),
            _ => Err(LabError::Parse {
                what: "metrics response".into(),
                detail: response,
            }),
        }
    }

    pub fn neighbors(&self) -> Result<Vec<NeighborStatus>> {
        let text = self.bgpctl(&["show", "neighbors"])?;
        serde_json::from_str(&text).map_err(|e| LabError::Parse {
            what: "bgpctl show neighbors".into(),
            detail: format!("{e}: {text}"),
        })
    }

    /// `bgpctl --json show routes ARGS` (a prefix, `--neighbor NAME`, `--received`,
    /// `--advertised`).
    pub fn routes(&self, args: &[&str]) -> Result<Vec<RouteEntry>> {
        let mut argv = vec!["show", "routes"];
        argv.extend_from_slice(args);
        let text = self.bgpctl(&argv)?;
        serde_json::from_str(&text).map_err(|e| LabError::Parse {
            what: "bgpctl show routes".into(),
            detail: format!("{e}: {text}"),
        })
    }

    /// Waits until the Loc-RIB has a best path for `prefix` learned from `from` (a neighbor
    /// name or address, or `local`).
    pub fn wait_route(&self, prefix: &str, from: &str, timeout: Duration) -> Result<RouteEntry> {
        let what = format!("Starling on {} has {prefix} from {from}", self.host.name);
        wait_until(&what, timeout, DEFAULT_INTERVAL, || {
            let routes = self.routes(&[prefix])?;
            Ok(
                match routes.iter().find(|r| r.best && r.from == from).cloned() {
                    Some(route) => Observed::Ready(route),
                    None => Observed::Pending(format!("{routes:?}")),
                },
            )
        })
    }

    /// Waits until the neighbors are exactly `expected` (by name, in any order), all
    /// Established.
    pub fn wait_neighbors(&self, expected: &[&str], timeout: Duration) -> Result<()> {
        let mut want: Vec<&str> = expected.to_vec();
        want.sort_unstable();
        let what = format!("Starling on {} Established with {want:?}", self.host.name);
        wait_until(&what, timeout, DEFAULT_INTERVAL, || {
            let neighbors = self.neighbors()?;
            let mut names: Vec<&str> = neighbors.iter().map(|n| n.name.as_str()).collect();
            names.sort_unstable();
            let all_up = neighbors.iter().all(|n| n.state == "Established");
            Ok(if names == want && all_up {
                Observed::Ready(())
            } else {
                let states: Vec<(&str, &str)> = neighbors
                    .iter()
                    .map(|n| (n.name.as_str(), n.state.as_str()))
                    .collect();
                Observed::Pending(format!("{states:?}"))
            })
        })
    }

    /// The neighbor configured with this address.
    pub fn neighbor(&self, address: IpAddr) -> Result<NeighborStatus> {
        let wanted = address.to_string();
        self.neighbors()?
            .into_iter()
            .find(|n| n.address == wanted)
            .ok_or_else(|| {
                LabError::Invalid(format!(
                    "bgpd on {} has no neighbor {address}",
                    self.host.name
                ))
            })
    }

    pub fn session_state(&self, neighbor: IpAddr) -> Result<SessionState> {
        let status = self.neighbor(neighbor)?;
        SessionState::from_rfc_name(&status.state).ok_or_else(|| LabError::Parse {
            what: "neighbor state".into(),
            detail: status.state,
        })
    }

    pub fn wait_established(&self, neighbor: IpAddr, timeout: Duration) -> Result<NeighborStatus> {
        let what = format!("Starling on {} Established with {neighbor}", self.host.name);
        wait_until(&what, timeout, DEFAULT_INTERVAL, || {
            let status = self.neighbor(neighbor)?;
            Ok(if status.state == "Established" {
                Observed::Ready(status)
            } else {
                Observed::Pending(format!(
                    "state {} (last error {:?})",
                    status.state, status.last_error
                ))
            })
        })
    }

    /// Rewrites the configuration file for `spec` without telling bgpd (for `bgpctl reload`).
    pub fn write_config(&self, spec: &RouterSpec, extra: &Extra) -> Result<()> {
        write_file(
            &self.config,
            &render_config(&self.host, spec, &self.socket, &self.state_dir, extra),
        )
    }

    /// Rewrites the configuration file for `spec` and sends SIGHUP.
    pub fn reconfigure(&self, spec: &RouterSpec) -> Result<()> {
        self.reconfigure_with(spec, &Extra::default())
    }

    /// Like [`Starling::reconfigure`], with Starling-only neighbor settings.
    pub fn reconfigure_with(&self, spec: &RouterSpec, extra: &Extra) -> Result<()> {
        self.write_config(spec, extra)?;
        self.process.signal(libc::SIGHUP);
        Ok(())
    }

    /// The daemon's log so far (JSON lines on standard error).
    pub fn log(&self) -> Result<String> {
        fs::read_to_string(self.process.stderr_path()).map_err(|e| LabError::io("read bgpd log", e))
    }

    /// Log events whose `message` field equals `message`.
    pub fn log_events(&self, message: &str) -> Result<Vec<serde_json::Value>> {
        Ok(self
            .log()?
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|event| event.get("message").and_then(|m| m.as_str()) == Some(message))
            .collect())
    }

    pub fn process(&mut self) -> &mut Process {
        &mut self.process
    }

    pub fn host(&self) -> &Host {
        &self.host
    }
}

/// The bgpd TOML for `spec`: listening on the host's LAN addresses, JSON logs, lab timers.
fn render_config(
    host: &Host,
    spec: &RouterSpec,
    socket: &Path,
    dir: &Path,
    extra: &Extra,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "[global]");
    let _ = writeln!(out, "asn = {}", spec.asn.0);
    let _ = writeln!(out, "router_id = \"{}\"", spec.router_id);
    let _ = writeln!(
        out,
        "listen = [\"{}:179\", \"[{}]:179\"]",
        host.ipv4, host.ipv6
    );
    if let Some(cluster_id) = spec.cluster_id {
        let _ = writeln!(out, "cluster_id = \"{cluster_id}\"");
    }
    let _ = writeln!(out, "control_socket = \"{}\"", socket.display());
    let _ = writeln!(out, "state_dir = \"{}\"", dir.display());
    let _ = writeln!(out, "log_format = \"json\"");
    // Loopback of the host's own namespace: reachable only from inside it.
    let _ = writeln!(out, "metrics_listen = \"127.0.0.1:{METRICS_PORT}\"");
    let log_level = extra.log_level.as_deref().unwrap_or("debug");
    let _ = writeln!(out, "log_level = \"{log_level}\"");
    for line in &extra.global_lines {
        let _ = writeln!(out, "{line}");
    }
    for neighbor in &spec.neighbors {
        render_neighbor(&mut out, neighbor);
        for (_, line) in extra
            .neighbor_lines
            .iter()
            .filter(|(address, _)| *address == neighbor.address)
        {
            let _ = writeln!(out, "{line}");
        }
    }
    for route in &spec.routes {
        let _ = writeln!(out, "\n[[route]]\nprefix = \"{}\"", route.prefix);
        let communities: Vec<String> = route
            .attrs
            .communities
            .iter()
            .map(|c| format!("\"{c}\""))
            .chain(
                route
                    .attrs
                    .large_communities
                    .iter()
                    .map(|c| format!("\"{c}\"")),
            )
            .collect();
        if !communities.is_empty() {
            let _ = writeln!(out, "communities = [{}]", communities.join(", "));
        }
    }
    if let Some(datastore) = &spec.datastore {
        let _ = writeln!(out, "\n[etcd]");
        let _ = writeln!(out, "endpoints = [\"{}\"]", datastore.endpoint);
        let _ = writeln!(out, "node = \"{}\"", datastore.node);
        let _ = writeln!(out, "register = true");
        for line in &extra.etcd_lines {
            let _ = writeln!(out, "{line}");
        }
    }
    for section in &extra.sections {
        let _ = writeln!(out, "\n{section}");
    }
    out
}

fn render_neighbor(out: &mut String, neighbor: &NeighborSpec) {
    let _ = writeln!(out, "\n[[neighbor]]");
    let _ = writeln!(out, "address = \"{}\"", neighbor.address);
    let _ = writeln!(out, "asn = {}", neighbor.asn.0);
    let _ = writeln!(out, "passive = {}", neighbor.passive);
    let _ = writeln!(out, "hold_time = {}", neighbor.hold_time.0);
    let _ = writeln!(out, "connect_retry = {CONNECT_RETRY_S}");
    let families: Vec<String> = neighbor
        .effective_families()
        .iter()
        .map(|f| format!("\"{}\"", f.name()))
        .collect();
    let _ = writeln!(out, "families = [{}]", families.join(", "));
    if neighbor.rr_client {
        let _ = writeln!(out, "rr_client = true");
    }
    if let Some(local) = neighbor.local_address {
        let _ = writeln!(out, "local_address = \"{local}\"");
    }
    if let Some(password) = &neighbor.password {
        let _ = writeln!(out, "password = \"{password}\"");
    }
    if let Some(hops) = neighbor.ttl_security {
        let _ = writeln!(out, "ttl_security = {hops}");
    }
    let add_path = match neighbor.add_path {
        AddPathConfig::None => None,
        AddPathConfig::Receive => Some("receive"),
        AddPathConfig::Send => Some("send"),
        AddPathConfig::Both => Some("both"),
    };
    if let Some(mode) = add_path {
        let _ = writeln!(out, "add_path = \"{mode}\"");
    }
}

/// The path of a workspace binary, built on first use.
pub fn binary(name: &str) -> Result<PathBuf> {
    static BUILT: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    let dir = BUILT
        .get_or_init(build_binaries)
        .clone()
        .map_err(LabError::Invalid)?;
    let path = dir.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(LabError::Invalid(format!(
            "{} was not built",
            path.display()
        )))
    }
}

/// `STARLING_BIN_DIR`, or `cargo build -p bgpd --bins` into the workspace's target directory.
fn build_binaries() -> std::result::Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("STARLING_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("no workspace directory")?
        .to_path_buf();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace.join("target"), PathBuf::from);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "-p", "bgpd", "--bins"])
        .current_dir(&workspace)
        .status()
        .map_err(|e| format!("cannot run cargo to build bgpd: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build -p bgpd failed: {status}"));
    }
    Ok(target.join("debug"))
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).map_err(|e| LabError::io(format!("write {}", path.display()), e))
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str()
        .ok_or_else(|| LabError::Invalid(format!("path {path:?} is not UTF-8")))
}

/// A `[kernel]` section (with `[kernel.advertise]` when `pools` is not empty), rendered for
/// [`Extra::section`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelSpec {
    pub persist_on_exit: bool,
    /// `kernel.advertise.prefixes`: routes inside these are advertised.
    pub pools: Vec<ipnet::IpNet>,
    /// `kernel.advertise.interfaces` (patterns like `cali*`).
    pub interfaces: Vec<String>,
}

impl KernelSpec {
    /// Advertises blackholes and routes through `cali*` inside `pools`; routes not kept on exit.
    pub fn pods(pools: &[ipnet::IpNet]) -> KernelSpec {
        KernelSpec {
            persist_on_exit: false,
            pools: pools.to_vec(),
            interfaces: vec!["cali*".to_owned()],
        }
    }

    pub fn render(&self) -> String {
        let quoted = |items: Vec<String>| -> String {
            let items: Vec<String> = items.iter().map(|i| format!("\"{i}\"")).collect();
            items.join(", ")
        };
        let mut out = format!(
            "[kernel]\nprogram = true\npersist_on_exit = {}\n",
            self.persist_on_exit
        );
        if !self.pools.is_empty() {
            let _ = writeln!(
                out,
                "[kernel.advertise]\nprefixes = [{}]\ninterfaces = [{}]\nblackhole = true",
                quoted(self.pools.iter().map(ToString::to_string).collect()),
                quoted(self.interfaces.clone()),
            );
        }
        out
    }
}

/// One entry of `bgpctl --json show fib`, with the fields the interface promises.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FibEntry {
    pub prefix: String,
    pub next_hops: Vec<String>,
    pub installed: bool,
    pub error: Option<String>,
}

impl Starling {
    /// `bgpctl --json show fib`.
    pub fn fib(&self) -> Result<Vec<FibEntry>> {
        let text = self.bgpctl(&["show", "fib"])?;
        serde_json::from_str(&text).map_err(|e| LabError::Parse {
            what: "bgpctl show fib".into(),
            detail: format!("{e}: {text}"),
        })
    }

    /// Sends SIGTERM (as systemd stops the unit) and waits up to `grace` for bgpd to exit,
    /// then kills it.
    pub fn terminate(&mut self, grace: Duration) -> Result<std::process::ExitStatus> {
        self.process.signal(libc::SIGTERM);
        let stopped = wait_until(
            &format!("bgpd on {} to exit", self.host.name),
            grace,
            DEFAULT_INTERVAL,
            || self.process.exit_status(),
        );
        match stopped {
            Ok(status) => Ok(status),
            Err(_) => self.process.kill(),
        }
    }

    /// Starts bgpd again with the same configuration after [`Starling::terminate`] (its log
    /// goes to a new file, named after the previous pid); returns once `bgpctl` answers.
    pub fn start_again(&mut self, lab: &Lab) -> Result<()> {
        let bgpd = binary("bgpd")?;
        let name = format!("starling-{}-after-{}", self.host.name, self.process.pid());
        let argv = [path_str(&bgpd)?, "--config", path_str(&self.config)?];
        self.process = lab.spawn(&self.host, &name, &argv)?;
        let what = format!("bgpd on {} to answer again", self.host.name);
        wait_until(&what, STARTUP_TIMEOUT, DEFAULT_INTERVAL, || {
            self.process.ensure_running()?;
            Ok(self.bgpctl(&["show", "status"]).ok().map(|_| ()))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use proto::Asn;

    use super::*;

    /// Every kind of extra lands exactly once and the file stays valid TOML (a table written
    /// twice is a duplicate key, and bgpd refuses the file).
    #[test]
    fn extras_are_rendered_once() {
        let host = Host {
            name: "n1".to_owned(),
            netns: "ns".to_owned(),
            ipv4: Ipv4Addr::new(10, 0, 0, 1),
            ipv6: Ipv6Addr::LOCALHOST,
        };
        let spec = RouterSpec::new(host.ipv4, Asn(64512));
        let extra = Extra::default()
            .global("hold_time = 30")
            .section("[kernel]\nprogram = true")
            .section("[[prefix_list]]\nname = \"pods\"\nprefixes = [\"10.244.0.0/16\"]");
        let text = render_config(&host, &spec, Path::new("/s"), Path::new("/d"), &extra);
        for needle in ["hold_time = 30", "[kernel]", "[[prefix_list]]"] {
            assert_eq!(text.matches(needle).count(), 1, "{needle} in:\n{text}");
        }
        assert!(text.parse::<toml::Table>().is_ok(), "{text}");
    }
}
