//! Whether the lab can run here: root and the daemons' binaries. Lab tests call
//! [`lab_available`] first and return early (a skip, printed) when something is missing;
//! under CI (`CI=true`) a missing prerequisite fails the test instead, so CI cannot go green
//! without running the lab.

use std::env;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::{bird, etcd, frr, gobgp, tls};

/// Environment variable CI sets to `true`.
const CI_ENV: &str = "CI";
/// pmacct's BMP collector.
pub const PMBMPD: &str = "/usr/sbin/pmbmpd";

/// A real peer (or service) a lab test needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tool {
    Bird,
    GoBgp,
    Frr,
    Etcd,
    /// The `openssl` command line tool, for test certificates.
    Openssl,
    /// pmacct's BMP collector, `pmbmpd` (the BMP encoder's test).
    Pmbmpd,
}

impl Tool {
    /// Binaries the tool needs, by name (looked up in `PATH`) or absolute path.
    pub fn binaries(self) -> &'static [&'static str] {
        match self {
            Tool::Bird => &[bird::BIRD, bird::BIRDC],
            Tool::GoBgp => &[gobgp::GOBGPD, gobgp::GOBGP],
            Tool::Frr => &[frr::BGPD, frr::ZEBRA, frr::VTYSH],
            Tool::Etcd => &[etcd::ETCD, etcd::ETCDCTL],
            Tool::Openssl => &[tls::OPENSSL],
            Tool::Pmbmpd => &[PMBMPD],
        }
    }

    /// The Debian package that provides it.
    pub fn package(self) -> &'static str {
        match self {
            Tool::Bird => "bird2",
            Tool::GoBgp => "gobgpd",
            Tool::Frr => "frr",
            Tool::Etcd => "etcd-server etcd-client",
            Tool::Openssl => "openssl",
            Tool::Pmbmpd => "pmacct",
        }
    }
}

/// Everything that stops the lab from running with `tools`, empty when it can run.
pub fn missing(tools: &[Tool]) -> Vec<String> {
    let mut problems = Vec::new();
    // SAFETY: geteuid(2) cannot fail and has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        problems.push("not running as root (network namespaces need it)".to_owned());
    }
    for binary in ["ip"] {
        if find_binary(binary).is_none() {
            problems.push(format!("`{binary}` not found (install iproute2)"));
        }
    }
    for tool in tools {
        for binary in tool.binaries() {
            if find_binary(binary).is_none() {
                problems.push(format!("`{binary}` not found (install {})", tool.package()));
            }
        }
    }
    problems
}

/// True if the lab can run. Otherwise prints a skip message and returns false, or panics when
/// `CI=true` (a CI run must not silently skip the lab).
pub fn lab_available(test: &str, tools: &[Tool]) -> bool {
    let problems = missing(tools);
    if problems.is_empty() {
        return true;
    }
    let message = format!("lab test {test} cannot run: {}", problems.join("; "));
    if env::var(CI_ENV).is_ok_and(|v| v == "true") {
        panic!("{message} (CI=true: failing instead of skipping)");
    }
    // Written to the real stderr, not through `eprintln!`, which the test harness captures
    // and hides for passing tests: a skip must be visible in every run.
    let _ = writeln!(std::io::stderr(), "SKIPPED {message}");
    false
}

/// Resolves a binary like the shell would: absolute paths as they are, names through `PATH`.
pub fn find_binary(name: &str) -> Option<PathBuf> {
    let path = Path::new(name);
    if path.is_absolute() {
        return is_executable(path).then(|| path.to_path_buf());
    }
    let search = env::var_os("PATH")?;
    env::split_paths(&search)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    /// Any of the user/group/other execute bits.
    const EXECUTE_BITS: u32 = 0o111;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & EXECUTE_BITS != 0)
}
