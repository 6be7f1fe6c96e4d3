//! Checks of the operator packaging in `deploy/`, each with the tool operators' platforms use,
//! and each also shown broken copies, which it must reject (a checker that accepts anything
//! cannot pass):
//! - [`systemd`]: the unit passes `systemd-analyze verify` and stays under an exposure score
//!   of `systemd-analyze security` in a scratch root (no running systemd needed), and states
//!   what bgpd relies on; the sysusers entry creates the user the unit runs as.
//! - [`kubernetes`]: every manifest validates against the Kubernetes JSON schemas
//!   (`kubernetes-validate --strict`, from PyPI), and the manifests agree with each other and
//!   with bgpd: the files a pod sees in /etc/starling are valid configurations whose secret
//!   files exist, paths match the mounts, the capabilities are the two bgpd needs.
//! - [`monitoring`]: the alerting rules pass `promtool check rules` and their unit tests
//!   (`promtool test rules`); the Grafana dashboard is well formed; every metric name they use
//!   is exported by a live bgpd (lab, root).
//! - here: the Containerfile builds every workspace member and installs the binaries where the
//!   unit and the manifests run them.
//!
//! A missing tool skips its test with a message (`scripts/test` installs them all); under
//! `CI=true` it fails instead.

// The crate root of an integration test is this file, so its modules' paths are spelled out.
#[path = "deploy/kubernetes.rs"]
mod kubernetes;
#[path = "deploy/monitoring.rs"]
mod monitoring;
#[path = "deploy/systemd.rs"]
mod systemd;

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Environment variable CI sets to `true`: a missing tool fails the test instead of skipping.
const CI_ENV: &str = "CI";
const CONTAINERFILE: &str = "deploy/Containerfile";

/// Where the image installs the binaries, and so where the unit and the probes run them.
const BGPD: &str = "/usr/sbin/bgpd";
const BGPCTL: &str = "/usr/bin/bgpctl";
/// The configuration file every deployment passes to bgpd.
const CONFIG_FILE: &str = "/etc/starling/bgpd.toml";
/// The uid the image runs as and the manifests require.
const IMAGE_UID: u64 = 10001;

/// Gives every scratch directory of this process a name of its own.
static NEXT_SCRATCH: AtomicUsize = AtomicUsize::new(0);

#[test]
fn containerfile_builds_the_workspace_into_the_paths_deployments_use() {
    let containerfile = read(CONTAINERFILE);
    let manifest: toml::Table = read("Cargo.toml").parse().expect("Cargo.toml is TOML");
    let members = manifest["workspace"]["members"]
        .as_array()
        .expect("workspace members");
    for member in members.iter().filter_map(toml::Value::as_str) {
        assert!(
            containerfile.contains(&format!("\nCOPY {member} {member}\n")),
            "{CONTAINERFILE} copies workspace member {member}"
        );
    }
    for (binary, path) in [("bgpd", BGPD), ("bgpctl", BGPCTL)] {
        assert!(
            containerfile.contains(&format!(
                "COPY --from=builder /src/target/release/{binary} {path}\n"
            )),
            "{CONTAINERFILE} installs {binary} as {path}"
        );
    }
    assert!(containerfile.contains(&format!("\nUSER {IMAGE_UID}:{IMAGE_UID}\n")));
    assert!(containerfile.contains("setcap cap_net_admin,cap_net_bind_service+ep /usr/sbin/bgpd"));
    assert!(containerfile.contains(&format!("CMD [\"--config\", \"{CONFIG_FILE}\"]")));
}

pub(crate) fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("interop sits in the workspace")
        .to_path_buf()
}

pub(crate) fn read(relative: &str) -> String {
    let path = workspace().join(relative);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `text` with `from` replaced, which must occur (else the broken copy would not be broken).
pub(crate) fn mutate(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} not found to break");
    text.replacen(from, to, 1)
}

/// A tool by name (through `PATH`) or at one of `candidates`. Missing: prints a skip and
/// returns `None`, or panics under `CI=true` (CI must not go green without the check).
pub(crate) fn tool(name: &str, candidates: &[PathBuf], install: &str) -> Option<PathBuf> {
    if let Some(found) = candidates
        .iter()
        .find(|path| path.is_file())
        .cloned()
        .or_else(|| interop::require::find_binary(name))
    {
        return Some(found);
    }
    let message = format!("deploy check needs `{name}` ({install})");
    if std::env::var(CI_ENV).is_ok_and(|v| v == "true") {
        panic!("{message}; CI=true: failing instead of skipping");
    }
    // The real stderr, not eprintln!, which the harness hides for passing tests.
    let _ = writeln!(std::io::stderr(), "SKIPPED {message}");
    None
}

pub(crate) fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

pub(crate) fn describe(output: &Output) -> String {
    format!(
        "{}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

pub(crate) fn stderr_lines(output: &Output) -> impl Iterator<Item = &str> {
    std::str::from_utf8(&output.stderr)
        .unwrap_or_default()
        .lines()
}

/// A directory under the system's temporary directory, removed when dropped.
pub(crate) struct ScratchDir(PathBuf);

impl ScratchDir {
    pub(crate) fn new(purpose: &str) -> ScratchDir {
        let path = std::env::temp_dir().join(format!(
            "starling-deploy-{purpose}-{}-{}",
            std::process::id(),
            NEXT_SCRATCH.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&path).expect("create scratch directory");
        ScratchDir(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
