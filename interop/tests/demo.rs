//! The README's main command, run the way a new user runs it (the operations issue):
//! `scripts/demo` from the repository root, in a process group of its own like a terminal's
//! foreground job. Its printout must show every node's neighbors Established and the pod
//! routes in Starling and in the kernel; Ctrl-C (SIGINT to the group) must stop it cleanly,
//! leaving no namespace and no process of its lab behind.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use interop::{lab_available, lab_namespaces, Tool};

/// Installing, building (the first time) and bringing the cluster up.
const READY_TIMEOUT: Duration = Duration::from_secs(900);
/// From Ctrl-C to the end of the teardown.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);
/// What the demo prints once everything is up.
const READY: &str = "press Ctrl-C to stop";
/// Pod blocks of the three nodes and BIRD's route, as the demo sets them up.
const POD_BLOCKS: [&str; 3] = ["10.244.1.0/26", "10.244.2.0/26", "10.244.3.0/26"];
const BIRD_ROUTE: &str = "198.51.100.0/24";
/// Node name, its neighbors.
const NODES: [(&str, &[&str]); 3] = [
    ("rr", &["bird", "node1", "node2"]),
    ("node1", &["bird", "rr"]),
    ("node2", &["bird", "rr"]),
];

/// The printout's section for `node`: from its `===== node =====` header to the next one.
fn section<'a>(output: &'a str, node: &str) -> &'a str {
    let header = format!("===== {node} =====");
    let start = output
        .find(&header)
        .unwrap_or_else(|| panic!("no {header}"));
    let rest = &output[start + header.len()..];
    &rest[..rest.find("=====").unwrap_or(rest.len())]
}

/// The lines between `$ command` and the next `$ ` in a section.
fn block<'a>(section: &'a str, command: &str) -> &'a str {
    let marker = format!("$ {command}\n");
    let start = section
        .find(&marker)
        .unwrap_or_else(|| panic!("no `{command}` in {section}"));
    let rest = &section[start + marker.len()..];
    &rest[..rest.find("\n$ ").unwrap_or(rest.len())]
}

/// Processes whose command line mentions `needle` (the lab's directory).
fn processes_mentioning(needle: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        .filter(|cmdline| cmdline.contains(needle))
        .collect()
}

#[test]
fn scripts_demo_shows_the_cluster_and_cleans_up_on_ctrl_c() {
    if !lab_available("demo", &[Tool::Bird, Tool::Etcd]) {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    let mut child = Command::new("scripts/demo")
        .current_dir(root)
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("scripts/demo");
    let pgid = i32::try_from(child.id()).expect("pid");
    let stdout = child.stdout.take().expect("piped stdout");
    let (lines, receive) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });

    let mut output = String::new();
    let started = Instant::now();
    while !output.contains(READY) {
        let left = READY_TIMEOUT.saturating_sub(started.elapsed());
        match receive.recv_timeout(left) {
            Ok(line) => {
                output.push_str(&line);
                output.push('\n');
            }
            Err(error) => {
                // SAFETY: signals our own child's process group.
                unsafe { libc::killpg(pgid, libc::SIGINT) };
                let _ = child.wait();
                panic!("demo not ready ({error}); printed:\n{output}");
            }
        }
    }
    eprintln!("demo ready after {:?}", started.elapsed());

    // The lab's name and directory from the first line: `lab NAME: … (logs and configs in DIR)`.
    let first = output.lines().next().unwrap_or_default();
    let lab_name = first
        .strip_prefix("lab ")
        .and_then(|rest| rest.split(':').next())
        .expect("lab name")
        .to_owned();
    let lab_dir = first
        .rsplit_once("in ")
        .map(|(_, dir)| dir.trim_end_matches(')').to_owned())
        .expect("lab directory");
    let namespaces = || -> Vec<String> {
        lab_namespaces()
            .expect("ip netns list")
            .into_iter()
            .filter(|n| n.starts_with(&format!("{lab_name}-")))
            .collect()
    };
    assert!(!namespaces().is_empty(), "the demo's namespaces exist");
    assert!(
        !processes_mentioning(&lab_dir).is_empty(),
        "its daemons run"
    );

    for (index, (node, neighbors)) in NODES.iter().enumerate() {
        let section = section(&output, node);
        let table = block(section, "bgpctl show neighbors");
        for neighbor in *neighbors {
            assert!(
                table.lines().any(|line| {
                    line.split_whitespace().next() == Some(neighbor) && line.contains("Established")
                }),
                "{node}: {neighbor} not Established in\n{table}"
            );
        }
        let routes = block(section, "bgpctl show routes");
        let kernel = block(section, "ip route show proto 186");
        for (other, prefix) in POD_BLOCKS.iter().enumerate() {
            assert!(routes.contains(prefix), "{node}: no {prefix} in\n{routes}");
            if other != index {
                assert!(
                    kernel.lines().any(|l| l.starts_with(prefix)),
                    "{node}: {prefix} not in the kernel:\n{kernel}"
                );
            }
        }
        assert!(routes.contains(BIRD_ROUTE), "{node}: no BIRD route");
        assert!(
            kernel.lines().any(|l| l.starts_with(BIRD_ROUTE)),
            "{node}: BIRD's route not in the kernel:\n{kernel}"
        );
    }

    // Ctrl-C, as a terminal sends it: SIGINT to the foreground process group.
    // SAFETY: signals our own child's process group.
    assert_eq!(unsafe { libc::killpg(pgid, libc::SIGINT) }, 0);
    let stopping = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if stopping.elapsed() > STOP_TIMEOUT {
            let _ = child.kill();
            panic!("the demo did not stop within {STOP_TIMEOUT:?} of Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = reader.join();
    output.extend(receive.try_iter().map(|line| line + "\n"));
    assert!(status.success(), "exit {status}:\n{output}");
    assert!(output.contains("stopping"), "{output}");
    eprintln!("demo stopped {:?} after Ctrl-C", stopping.elapsed());

    assert_eq!(namespaces(), Vec::<String>::new(), "namespaces left");
    assert_eq!(
        processes_mentioning(&lab_dir),
        Vec::<String>::new(),
        "processes left"
    );
}
