//! Short-lived commands (`ip`, `birdc`, `gobgp`, `vtysh`, `etcdctl`) run to completion with a
//! time limit, so that a wedged CLI cannot hang a test.

use std::io::{Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{LabError, Result};

/// How long a CLI query may take before it is killed. Generous: the machine is shared.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);
/// How often a running command is checked for completion.
const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// Runs `program args…` and returns its stdout; non-zero exit is an error carrying stderr.
pub fn run(program: &str, args: &[&str]) -> Result<String> {
    run_with_input(program, args, None)
}

/// Like [`run`], feeding `input` on standard input (for `ip -batch -`).
pub fn run_with_input(program: &str, args: &[&str], input: Option<&str>) -> Result<String> {
    let mut command = Command::new(program);
    command.args(args);
    let rendered = render(program, args);
    let output = output_with_timeout(&mut command, input, COMMAND_TIMEOUT, &rendered)?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(LabError::Command {
            command: rendered,
            status: output.status.to_string(),
            stderr: format!("{}{}", output.stderr.trim(), output.stdout.trim()),
        })
    }
}

/// Runs `program args…` inside network namespace `netns` (`ip netns exec`).
pub fn run_in(netns: &str, program: &str, args: &[&str]) -> Result<String> {
    let mut full = vec!["netns", "exec", netns, program];
    full.extend_from_slice(args);
    run("ip", &full)
}

/// What a finished command printed.
pub(crate) struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Spawns `command`, reads its output on helper threads (so a full pipe cannot block it) and
/// kills it if it outlives `timeout`.
pub(crate) fn output_with_timeout(
    command: &mut Command,
    input: Option<&str>,
    timeout: Duration,
    rendered: &str,
) -> Result<Output> {
    command
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|e| LabError::io(format!("spawn `{rendered}`"), e))?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| LabError::io(format!("write stdin of `{rendered}`"), e))?;
        // Dropping stdin closes it: the command sees end of input.
    }
    let stdout = child.stdout.take().map(read_in_background);
    let stderr = child.stderr.take().map(read_in_background);
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(POLL_INTERVAL),
            Ok(None) => {
                // Our own child: killing and reaping it is always allowed.
                let _ = child.kill();
                let _ = child.wait();
                return Err(LabError::Command {
                    command: rendered.to_owned(),
                    status: format!("killed after {timeout:?}"),
                    stderr: String::new(),
                });
            }
            Err(e) => return Err(LabError::io(format!("wait for `{rendered}`"), e)),
        }
    };
    Ok(Output {
        status,
        stdout: join_reader(stdout),
        stderr: join_reader(stderr),
    })
}

fn read_in_background<R: Read + Send + 'static>(mut pipe: R) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        // A read error just truncates the captured text; the exit status still tells.
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn join_reader(handle: Option<thread::JoinHandle<String>>) -> String {
    handle.and_then(|h| h.join().ok()).unwrap_or_default()
}

/// A command line for error messages.
pub(crate) fn render(program: &str, args: &[&str]) -> String {
    let mut text = program.to_owned();
    for arg in args {
        text.push(' ');
        if arg.is_empty() || arg.contains(char::is_whitespace) {
            text.push_str(&format!("{arg:?}"));
        } else {
            text.push_str(arg);
        }
    }
    text
}
