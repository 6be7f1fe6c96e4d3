//! The systemd unit and the sysusers entry.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;

use crate::{describe, mutate, read, run, stderr_lines, tool, ScratchDir, BGPD, CONFIG_FILE};

const UNIT: &str = "deploy/systemd/starling-bgpd.service";
const UNIT_NAME: &str = "starling-bgpd.service";
const SYSUSERS: &str = "deploy/systemd/starling.sysusers";
/// `systemd-analyze security --threshold`: the exposure score times ten (0 best, 100 worst)
/// the unit must not exceed. 20 is "OK" on systemd's scale; the unit scores 16 with systemd 252.
const MAX_EXPOSURE: &str = "20";
/// Where a distribution keeps systemd's own units (the targets the unit depends on).
const HOST_UNIT_DIRS: [&str; 2] = ["/usr/lib/systemd/system", "/lib/systemd/system"];
/// What bgpd needs: routes over rtnetlink, and port 179. Nothing else.
const CAPABILITIES: [&str; 2] = ["CAP_NET_ADMIN", "CAP_NET_BIND_SERVICE"];

#[test]
fn unit_states_what_bgpd_relies_on() {
    let unit = UnitFile::parse(&read(UNIT));
    // (key in [Service], expected value)
    let expected = [
        ("Type", "notify"),
        ("NotifyAccess", "main"),
        ("ExecReload", "/bin/kill -HUP $MAINPID"),
        ("Restart", "on-failure"),
        ("User", "starling"),
        ("Group", "starling"),
        ("RuntimeDirectory", "starling"),
        ("StateDirectory", "starling"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectProc", "invisible"),
        (
            "RestrictAddressFamilies",
            "AF_UNIX AF_INET AF_INET6 AF_NETLINK",
        ),
    ];
    for (key, value) in expected {
        assert_eq!(unit.service(key), [value], "[Service] {key}=");
    }
    // The binary where the image puts it, with the file every deployment uses.
    assert_eq!(
        unit.service("ExecStart"),
        [format!("{BGPD} --config {CONFIG_FILE}")],
        "[Service] ExecStart="
    );
    for key in ["AmbientCapabilities", "CapabilityBoundingSet"] {
        let values = unit.service(key);
        let granted: BTreeSet<&str> = values.iter().flat_map(|v| v.split_whitespace()).collect();
        assert_eq!(granted, BTreeSet::from(CAPABILITIES), "[Service] {key}=");
    }
    assert_eq!(unit.service("WatchdogSec").len(), 1, "a watchdog timeout");
    // The control socket lives in the RuntimeDirectory (bgpd's default control_socket).
    assert!(config::Global::DEFAULT_CONTROL_SOCKET.starts_with("/run/starling/"));
    assert_eq!(config::Global::DEFAULT_STATE_DIR, "/var/lib/starling");

    let sysusers = read(SYSUSERS);
    let user = sysusers
        .lines()
        .find_map(|line| line.strip_prefix("u "))
        .and_then(|rest| rest.split_whitespace().next());
    assert_eq!(
        user,
        Some(unit.service("User")[0]),
        "sysusers creates the unit's user"
    );
}

#[test]
fn unit_passes_systemd_analyze_and_broken_copies_do_not() {
    let Some(analyze) = tool("systemd-analyze", &[], "Debian package systemd") else {
        return;
    };
    let unit = read(UNIT);
    let root = SystemdRoot::new(&unit);
    root.verify(&analyze)
        .unwrap_or_else(|e| panic!("{UNIT}: {e}"));
    root.security(&analyze)
        .unwrap_or_else(|e| panic!("{UNIT}: {e}"));

    // (what is broken, original text, replacement): verify must reject each.
    let broken = [
        (
            "unknown directive",
            "[Service]\n",
            "[Service]\nProtectEverything=yes\n",
        ),
        ("bad Type", "Type=notify\n", "Type=notified\n"),
        ("bad address family", " AF_NETLINK\n", " AF_NETLNK\n"),
        (
            "bad duration",
            "WatchdogSec=30s\n",
            "WatchdogSec=half a minute\n",
        ),
    ];
    for (what, from, to) in broken {
        let copy = mutate(&unit, from, to);
        assert!(
            SystemdRoot::new(&copy).verify(&analyze).is_err(),
            "systemd-analyze verify accepted a unit with a {what}"
        );
    }
    // Without its sandboxing the unit must fail the exposure threshold.
    let unhardened: String = unit
        .lines()
        .filter(|line| {
            !["Protect", "Private", "Restrict", "SystemCall"]
                .iter()
                .any(|prefix| line.starts_with(prefix))
        })
        .map(|line| format!("{line}\n"))
        .collect();
    assert!(
        SystemdRoot::new(&unhardened).security(&analyze).is_err(),
        "systemd-analyze security accepted the unit without its sandboxing"
    );
}

#[test]
fn sysusers_entry_creates_the_service_user() {
    let Some(sysusers) = tool("systemd-sysusers", &[], "Debian package systemd") else {
        return;
    };
    let root = ScratchDir::new("sysusers");
    let config_dir = root.path().join("usr/lib/sysusers.d");
    fs::create_dir_all(&config_dir).expect("create sysusers.d");
    fs::create_dir_all(root.path().join("etc")).expect("create etc");
    fs::write(config_dir.join("starling.conf"), read(SYSUSERS)).expect("write sysusers entry");
    let output = run(Command::new(&sysusers).arg(format!("--root={}", root.path().display())));
    assert!(output.status.success(), "{}", describe(&output));
    let problems: Vec<&str> = stderr_lines(&output)
        .filter(|line| !line.starts_with("Creating "))
        .collect();
    assert!(problems.is_empty(), "systemd-sysusers: {problems:?}");

    let passwd = fs::read_to_string(root.path().join("etc/passwd")).expect("passwd written");
    let fields: Vec<&str> = passwd
        .lines()
        .find(|line| line.starts_with("starling:"))
        .unwrap_or_else(|| panic!("no starling user in {passwd:?}"))
        .split(':')
        .collect();
    // name:password:uid:gid:gecos:home:shell
    assert_eq!(fields[5], "/var/lib/starling", "home");
    assert!(fields[6].ends_with("nologin"), "shell {}", fields[6]);
    let group = fs::read_to_string(root.path().join("etc/group")).expect("group written");
    let gid = group
        .lines()
        .find_map(|line| line.strip_prefix("starling:x:"))
        .and_then(|rest| rest.split(':').next());
    assert_eq!(
        gid,
        Some(fields[3]),
        "the user's primary group is group starling"
    );
}

/// A unit file's assignments: section → key → values in order.
struct UnitFile(BTreeMap<String, BTreeMap<String, Vec<String>>>);

impl UnitFile {
    fn parse(text: &str) -> UnitFile {
        let mut sections: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
        let mut section = String::new();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.to_owned();
            } else if let Some((key, value)) = line.split_once('=') {
                sections
                    .entry(section.clone())
                    .or_default()
                    .entry(key.trim().to_owned())
                    .or_default()
                    .push(value.trim().to_owned());
            }
        }
        UnitFile(sections)
    }

    fn service(&self, key: &str) -> Vec<&str> {
        self.0
            .get("Service")
            .and_then(|s| s.get(key))
            .map(|values| values.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// The programs of every `Exec*=` line, without their prefixes (`-`, `@`, `+`, `!`, `:`).
    fn executables(&self) -> Vec<String> {
        self.0
            .get("Service")
            .into_iter()
            .flat_map(|service| service.iter())
            .filter(|(key, _)| key.starts_with("Exec"))
            .flat_map(|(_, values)| values.iter())
            .filter_map(|value| {
                value
                    .trim_start_matches(['-', '@', '+', '!', ':'])
                    .split_whitespace()
                    .next()
                    .filter(|program| program.starts_with('/'))
                    .map(str::to_owned)
            })
            .collect()
    }
}

/// A scratch root for `systemd-analyze --root`: the host's systemd units (the targets the unit
/// depends on), stub executables at every path the unit runs, and the unit under test.
struct SystemdRoot {
    dir: ScratchDir,
}

impl SystemdRoot {
    fn new(unit: &str) -> SystemdRoot {
        let dir = ScratchDir::new("systemd-root");
        let host_units = HOST_UNIT_DIRS
            .iter()
            .map(Path::new)
            .find(|path| path.is_dir())
            .expect("systemd's units are installed where systemd-analyze is");
        let units = dir.path().join("usr/lib/systemd");
        fs::create_dir_all(&units).expect("create usr/lib/systemd");
        let copied = run(Command::new("cp").arg("-a").arg(host_units).arg(&units));
        assert!(copied.status.success(), "{}", describe(&copied));
        // verify checks that every command exists and is executable, nothing more.
        for program in UnitFile::parse(unit).executables() {
            let stub = dir.path().join(program.trim_start_matches('/'));
            fs::create_dir_all(stub.parent().expect("an absolute path has a parent"))
                .expect("create stub directory");
            fs::write(&stub, "#!/bin/sh\nexit 0\n").expect("write stub");
            fs::set_permissions(&stub, fs::Permissions::from_mode(0o755)).expect("chmod stub");
        }
        let system = dir.path().join("etc/systemd/system");
        fs::create_dir_all(&system).expect("create etc/systemd/system");
        fs::write(system.join(UNIT_NAME), unit).expect("write unit");
        SystemdRoot { dir }
    }

    /// `systemd-analyze verify`: it exits 0 on many problems and only warns, so any output
    /// counts as a rejection.
    fn verify(&self, analyze: &Path) -> Result<(), String> {
        let output = run(Command::new(analyze)
            .args(["verify", "--man=no"])
            .arg(format!("--root={}", self.dir.path().display()))
            .arg(UNIT_NAME));
        let quiet = output.stdout.is_empty() && output.stderr.is_empty();
        if output.status.success() && quiet {
            Ok(())
        } else {
            Err(format!("systemd-analyze verify: {}", describe(&output)))
        }
    }

    /// `systemd-analyze security --offline`: the exposure score is at most [`MAX_EXPOSURE`].
    fn security(&self, analyze: &Path) -> Result<(), String> {
        let output = run(Command::new(analyze)
            .args(["security", "--offline=yes"])
            .arg(format!("--threshold={MAX_EXPOSURE}"))
            .arg(format!("--root={}", self.dir.path().display()))
            .arg(UNIT_NAME));
        if output.status.success() {
            Ok(())
        } else {
            let summary = String::from_utf8_lossy(&output.stdout)
                .lines()
                .filter(|line| line.contains("Overall exposure") || line.contains('✗'))
                .collect::<Vec<_>>()
                .join("\n");
            Err(format!(
                "systemd-analyze security above {MAX_EXPOSURE}:\n{summary}{}",
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }
}
