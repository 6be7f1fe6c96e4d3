//! A single-member etcd inside a lab namespace, for tests of the etcd configuration source.
//! Clients talk to it at `http://<host address>:2379`; its peer port stays on the namespace's
//! loopback.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::bird::path_str;
use crate::command::{run_in, run_with_input};
use crate::error::Result;
use crate::lab::{Host, IpVersion, Lab};
use crate::process::Process;
use crate::wait::{wait_until, DEFAULT_INTERVAL};

pub const ETCD: &str = "etcd";
pub const ETCDCTL: &str = "etcdctl";
/// etcd's standard client port.
pub const CLIENT_PORT: u16 = 2379;
/// etcd's standard peer port (loopback only: one member).
const PEER_URL: &str = "http://127.0.0.1:2380";
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// A running single-member etcd.
#[derive(Debug)]
pub struct Etcd {
    host: Host,
    client: SocketAddr,
    process: Process,
}

impl Etcd {
    /// Starts etcd on `host`'s IPv4 LAN address and waits until it is healthy.
    pub fn start(lab: &Lab, host: &Host) -> Result<Etcd> {
        let client = SocketAddr::new(host.address(IpVersion::V4), CLIENT_PORT);
        let url = format!("http://{client}");
        let data_dir = lab.path(&format!("etcd-{}", host.name));
        let argv = [
            ETCD,
            "--name",
            "lab",
            "--data-dir",
            path_str(&data_dir)?,
            "--listen-client-urls",
            &url,
            "--advertise-client-urls",
            &url,
            "--listen-peer-urls",
            PEER_URL,
            "--initial-advertise-peer-urls",
            PEER_URL,
            "--initial-cluster",
            &format!("lab={PEER_URL}"),
            "--initial-cluster-state",
            "new",
        ];
        let process = lab.spawn(host, &format!("etcd-{}", host.name), &argv)?;
        let mut etcd = Etcd {
            host: host.clone(),
            client,
            process,
        };
        let what = format!("etcd on {} to be healthy", etcd.host.name);
        wait_until(&what, STARTUP_TIMEOUT, DEFAULT_INTERVAL, || {
            etcd.process.ensure_running()?;
            Ok(etcd.etcdctl(&["endpoint", "health"]).ok().map(drop))
        })?;
        Ok(etcd)
    }

    /// The client endpoint URL (`http://ADDR:2379`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.client)
    }

    pub fn client_address(&self) -> IpAddr {
        self.client.ip()
    }

    pub fn process(&mut self) -> &mut Process {
        &mut self.process
    }

    /// Runs `etcdctl --endpoints URL ARGS…` (API v3) in the host's namespace.
    pub fn etcdctl(&self, args: &[&str]) -> Result<String> {
        let endpoint = self.endpoint();
        let mut full = vec!["ETCDCTL_API=3", ETCDCTL, "--endpoints", &endpoint];
        full.extend_from_slice(args);
        run_in(&self.host.netns, "env", &full)
    }

    /// Puts every `(key, value)` in one transaction (`etcdctl txn`): one revision, so a
    /// watcher sees all of them in one response, never a state in between.
    pub fn put_all(&self, entries: &[(&str, &str)]) -> Result<()> {
        let endpoint = self.endpoint();
        // No comparisons, the puts on success, nothing on failure; blank lines end sections.
        let mut input = String::from("\n");
        for (key, value) in entries {
            // etcdctl reads each request's words Go-quoted.
            input.push_str(&format!("put {key} {value:?}\n"));
        }
        input.push_str("\n\n");
        let args = [
            "netns",
            "exec",
            &self.host.netns,
            "env",
            "ETCDCTL_API=3",
            ETCDCTL,
            "--endpoints",
            &endpoint,
            "txn",
        ];
        run_with_input("ip", &args, Some(&input)).map(drop)
    }

    pub fn put(&self, key: &str, value: &str) -> Result<()> {
        self.etcdctl(&["put", key, value]).map(drop)
    }

    /// The value of `key`, `None` if absent.
    pub fn get(&self, key: &str) -> Result<Option<String>> {
        let output = self.etcdctl(&["get", key, "--print-value-only"])?;
        Ok(if output.is_empty() {
            None
        } else {
            Some(output.strip_suffix('\n').unwrap_or(&output).to_owned())
        })
    }

    pub fn delete(&self, key: &str) -> Result<()> {
        self.etcdctl(&["del", key]).map(drop)
    }
}
