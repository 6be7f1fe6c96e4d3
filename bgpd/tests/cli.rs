//! The command-line contract of `bgpd` and `bgpctl`: `--check` lists every configuration error
//! with file, line and key and exits 2; bad usage exits 2; an unreachable daemon exits 1.

use std::path::PathBuf;
use std::process::{Command, Output};

fn write_config(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bgpd-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write config");
    path
}

fn run(binary: &str, args: &[&str]) -> Output {
    Command::new(binary)
        .args(args)
        .output()
        .expect("binary runs")
}

fn check(config: &str) -> (i32, String, String) {
    let path = write_config(&format!("check-{}.toml", config.len()), config);
    let output = run(
        env!("CARGO_BIN_EXE_bgpd"),
        &["--check", "--config", path.to_str().expect("UTF-8 path")],
    );
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn check_accepts_a_valid_file() {
    let (code, stdout, _) = check(
        "[global]\nasn = 64512\nrouter_id = \"192.0.2.1\"\n\n[[neighbor]]\naddress = \"192.0.2.2\"\nasn = 65000\n",
    );
    assert_eq!(code, 0);
    assert!(stdout.contains("configuration ok"), "{stdout}");
}

#[test]
fn check_lists_every_error_with_line_and_key() {
    let config = "[global]\nasn = 64512\nrouter_id = \"192.0.2.1\"\nholdtime = 90\n\n\
                  [[neighbor]]\naddress = \"192.0.2.2\"\nasn = 65000\nhold_time = 2\n";
    let (code, _, stderr) = check(config);
    assert_eq!(code, 2, "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains(":4:") && l.contains("global.holdtime")),
        "{stderr}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains(":9:") && l.contains("neighbor[0].hold_time")),
        "{stderr}"
    );
    assert!(stderr.contains("2 configuration error(s)"), "{stderr}");
}

#[test]
fn bad_usage_exits_2() {
    let output = run(env!("CARGO_BIN_EXE_bgpd"), &["--no-such-flag"]);
    assert_eq!(output.status.code(), Some(2));
    let output = run(env!("CARGO_BIN_EXE_bgpctl"), &["show", "everything"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn unreachable_daemon_exits_1() {
    let output = run(
        env!("CARGO_BIN_EXE_bgpctl"),
        &["--socket", "/nonexistent/bgpd.ctl", "show", "status"],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot connect"));
}

/// Reads datagrams from the fake service manager until one contains `wanted` (bounded).
fn expect_notification(socket: &std::os::unix::net::UnixDatagram, wanted: &str) -> String {
    let mut buffer = [0u8; 4096];
    for _ in 0..50 {
        let Ok(length) = socket.recv(&mut buffer) else {
            continue;
        };
        let text = String::from_utf8_lossy(&buffer[..length]).into_owned();
        if text.lines().any(|line| line == wanted) {
            return text;
        }
    }
    panic!("no {wanted} from bgpd");
}

#[test]
fn tells_systemd_ready_watchdog_and_stopping() {
    let dir = std::env::temp_dir().join(format!("bgpd-notify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let notify_path = dir.join("notify.sock");
    let _ = std::fs::remove_file(&notify_path);
    let manager = std::os::unix::net::UnixDatagram::bind(&notify_path).expect("notify socket");
    manager
        .set_read_timeout(Some(std::time::Duration::from_millis(200)))
        .expect("timeout");
    let config = write_config(
        "notify.toml",
        &format!(
            "[global]\nasn = 64512\nrouter_id = \"192.0.2.1\"\nlisten = []\ncontrol_socket = \"{}\"\n",
            dir.join("bgpd.ctl").display()
        ),
    );
    let mut bgpd = Command::new(env!("CARGO_BIN_EXE_bgpd"))
        .args(["--config", config.to_str().expect("UTF-8 path")])
        .env("NOTIFY_SOCKET", &notify_path)
        .env("WATCHDOG_USEC", "200000")
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("bgpd starts");
    let ready = expect_notification(&manager, "READY=1");
    assert!(ready.lines().any(|l| l.starts_with("STATUS=")), "{ready}");
    expect_notification(&manager, "WATCHDOG=1");
    // SAFETY: signalling the child we spawned.
    unsafe { libc::kill(bgpd.id() as i32, libc::SIGTERM) };
    expect_notification(&manager, "STOPPING=1");
    let status = bgpd.wait().expect("bgpd exits");
    assert!(status.success(), "{status:?}");
}

#[test]
fn check_reports_an_unreachable_datastore() {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let (code, _, stderr) = check(
        "[global]\nasn = 64512\nrouter_id = \"192.0.2.1\"\n\n\
         [etcd]\nendpoints = [\"http://127.0.0.1:1\"]\nnode = \"n1\"\nregister = false\n",
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("etcd is not reachable"), "{stderr}");
}
