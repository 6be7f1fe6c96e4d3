//! A single-member etcd inside a lab namespace, for tests of the etcd configuration source.
//! Clients talk to it at `http://<host address>:2379`, or `https://` with TLS, where etcd also
//! requires a client certificate signed by the configured CA (`--client-cert-auth`). The lab's
//! own `etcdctl` uses a second, plain endpoint on the namespace's loopback (as root once
//! authentication is on), so that it works whatever the clients are made to face; the peer
//! port stays on that loopback too.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
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
/// The lab's administrative endpoint, plain HTTP on the namespace's loopback.
const ADMIN_URL: &str = "http://127.0.0.1:2381";
/// etcd's superuser, which must exist before `auth enable`.
const ROOT_USER: &str = "root";
const ROOT_PASSWORD: &str = "lab-root-password";
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// etcd's side of TLS: its certificate and key, and the CA it requires client certificates
/// to be signed by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: PathBuf,
}

/// A running single-member etcd.
#[derive(Debug)]
pub struct Etcd {
    host: Host,
    client: SocketAddr,
    tls: bool,
    /// Authentication is on: the lab's etcdctl logs in as root.
    auth: bool,
    process: Process,
}

impl Etcd {
    /// Starts etcd on `host`'s IPv4 LAN address and waits until it is healthy.
    pub fn start(lab: &Lab, host: &Host) -> Result<Etcd> {
        Etcd::start_with(lab, host, None)
    }

    /// Like [`Etcd::start`]; with `tls`, clients must use `https://` and present a client
    /// certificate signed by `tls.client_ca`.
    pub fn start_with(lab: &Lab, host: &Host, tls: Option<&ServerTls>) -> Result<Etcd> {
        let client = SocketAddr::new(host.address(IpVersion::V4), CLIENT_PORT);
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{client}");
        let listen = format!("{url},{ADMIN_URL}");
        let data_dir = lab.path(&format!("etcd-{}", host.name));
        let cluster = format!("lab={PEER_URL}");
        let mut argv = vec![
            ETCD,
            "--name",
            "lab",
            "--data-dir",
            path_str(&data_dir)?,
            "--listen-client-urls",
            &listen,
            "--advertise-client-urls",
            &url,
            "--listen-peer-urls",
            PEER_URL,
            "--initial-advertise-peer-urls",
            PEER_URL,
            "--initial-cluster",
            &cluster,
            "--initial-cluster-state",
            "new",
        ];
        if let Some(tls) = tls {
            argv.extend([
                "--cert-file",
                path_str(&tls.cert)?,
                "--key-file",
                path_str(&tls.key)?,
                "--trusted-ca-file",
                path_str(&tls.client_ca)?,
                "--client-cert-auth",
            ]);
        }
        let process = lab.spawn(host, &format!("etcd-{}", host.name), &argv)?;
        let mut etcd = Etcd {
            host: host.clone(),
            client,
            tls: tls.is_some(),
            auth: false,
            process,
        };
        let what = format!("etcd on {} to be healthy", etcd.host.name);
        wait_until(&what, STARTUP_TIMEOUT, DEFAULT_INTERVAL, || {
            etcd.process.ensure_running()?;
            Ok(etcd.etcdctl(&["endpoint", "health"]).ok().map(drop))
        })?;
        Ok(etcd)
    }

    /// The client endpoint URL (`http://ADDR:2379`, `https://` with TLS).
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.client)
    }

    pub fn client_address(&self) -> IpAddr {
        self.client.ip()
    }

    pub fn process(&mut self) -> &mut Process {
        &mut self.process
    }

    /// Runs `etcdctl ARGS…` (API v3) in the host's namespace, on the administrative endpoint.
    pub fn etcdctl(&self, args: &[&str]) -> Result<String> {
        let root = format!("{ROOT_USER}:{ROOT_PASSWORD}");
        let mut full = vec!["ETCDCTL_API=3", ETCDCTL, "--endpoints", ADMIN_URL];
        if self.auth {
            full.extend(["--user", &root]);
        }
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

    /// Turns authentication on (`auth enable`, after creating root) with `user`, who may read
    /// and write every key under `prefix`.
    pub fn enable_auth(&mut self, user: &str, password: &str, prefix: &str) -> Result<()> {
        let role = format!("{user}-role");
        let range = format!("{prefix}/");
        let root = format!("{ROOT_USER}:{ROOT_PASSWORD}");
        let login = format!("{user}:{password}");
        let steps: [&[&str]; 6] = [
            &["user", "add", &root],
            &["user", "add", &login],
            &["role", "add", &role],
            &[
                "role",
                "grant-permission",
                &role,
                "--prefix=true",
                "readwrite",
                &range,
            ],
            &["user", "grant-role", user, &role],
            &["auth", "enable"],
        ];
        for step in steps {
            self.etcdctl(step)?;
        }
        self.auth = true;
        Ok(())
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
