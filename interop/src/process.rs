//! Long-running processes started inside a lab namespace: output to files, killed (with
//! their whole process group, and nothing else) when dropped or when the lab goes away.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{LabError, Result};

/// How much of a log is shown in error messages.
const LOG_TAIL_BYTES: u64 = 4000;
/// How often a stopping process is checked.
const STOP_POLL: Duration = Duration::from_millis(10);

/// Process groups started by one lab that are still alive. The lab kills them all when it
/// is dropped, even if a test leaked a [`Process`].
#[derive(Debug, Default)]
pub(crate) struct Registry {
    groups: Mutex<Vec<i32>>,
}

impl Registry {
    fn add(&self, group: i32) {
        self.groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(group);
    }

    fn remove(&self, group: i32) {
        self.groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|g| *g != group);
    }

    /// SIGKILL to every registered group. Their leaders are our unreaped children (owned by
    /// live `Process` values), so no group id can have been reused by a stranger.
    pub(crate) fn kill_all(&self) {
        let groups =
            std::mem::take(&mut *self.groups.lock().unwrap_or_else(PoisonError::into_inner));
        for group in groups {
            signal_group(group, libc::SIGKILL);
        }
    }
}

/// A daemon running in a lab namespace. Dropping it kills its process group.
#[derive(Debug)]
pub struct Process {
    name: String,
    child: Child,
    group: i32,
    stdout: PathBuf,
    stderr: PathBuf,
    registry: Arc<Registry>,
    reaped: Option<ExitStatus>,
}

impl Process {
    /// Starts `argv` in `netns` as the leader of a new process group, with stdout and stderr
    /// in `dir/<name>.stdout` and `dir/<name>.stderr`.
    pub(crate) fn spawn(
        registry: Arc<Registry>,
        netns: &str,
        name: &str,
        argv: &[&str],
        dir: &Path,
    ) -> Result<Process> {
        let (program, args) = argv
            .split_first()
            .ok_or_else(|| LabError::Invalid(format!("empty command for {name}")))?;
        let stdout = dir.join(format!("{name}.stdout"));
        let stderr = dir.join(format!("{name}.stderr"));
        let out =
            File::create(&stdout).map_err(|e| LabError::io(format!("create {stdout:?}"), e))?;
        let err =
            File::create(&stderr).map_err(|e| LabError::io(format!("create {stderr:?}"), e))?;
        // `ip netns exec` execs the program in place, so the pid we get is the daemon's and the
        // process group we create here is the daemon's (and its children's).
        let child = Command::new("ip")
            .args(["netns", "exec", netns, program])
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| LabError::io(format!("spawn {name} ({program})"), e))?;
        let group = i32::try_from(child.id())
            .map_err(|_| LabError::Invalid(format!("pid {} out of range", child.id())))?;
        registry.add(group);
        Ok(Process {
            name: name.to_owned(),
            child,
            group,
            stdout,
            stderr,
            registry,
            reaped: None,
        })
    }

    /// The name given at spawn time (also the log file stem).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The daemon's pid (also its process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stdout_path(&self) -> &Path {
        &self.stdout
    }

    pub fn stderr_path(&self) -> &Path {
        &self.stderr
    }

    /// The exit status if the process has ended (it is reaped then), `None` while it runs.
    pub fn exit_status(&mut self) -> Result<Option<ExitStatus>> {
        if self.reaped.is_none() {
            self.reaped = self
                .child
                .try_wait()
                .map_err(|e| LabError::io(format!("wait for {}", self.name), e))?;
            if self.reaped.is_some() {
                self.forget_group();
            }
        }
        Ok(self.reaped)
    }

    /// An error if the process has exited; used while waiting for a daemon to come up.
    pub fn ensure_running(&mut self) -> Result<()> {
        match self.exit_status()? {
            None => Ok(()),
            Some(status) => Err(LabError::Exited {
                name: self.name.clone(),
                status: describe(status),
                log_tail: self.log_tail(),
            }),
        }
    }

    /// The last few KB of stderr and stdout, for error messages.
    pub fn log_tail(&self) -> String {
        format!(
            "--- {} ---\n{}\n--- {} ---\n{}",
            self.stderr.display(),
            tail(&self.stderr),
            self.stdout.display(),
            tail(&self.stdout)
        )
    }

    /// Sends `signal` to the whole process group (e.g. `libc::SIGHUP` to reload).
    pub fn signal(&self, signal: i32) {
        if self.reaped.is_none() {
            signal_group(self.group, signal);
        }
    }

    /// Asks the daemon to stop (SIGTERM to its group), waits up to `grace`, then kills it.
    pub fn stop(mut self, grace: Duration) -> Result<ExitStatus> {
        self.signal(libc::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Some(status) = self.exit_status()? {
                return Ok(status);
            }
            thread::sleep(STOP_POLL);
        }
        self.kill()
    }

    /// SIGKILL to the group, then reap the leader.
    pub fn kill(&mut self) -> Result<ExitStatus> {
        if let Some(status) = self.reaped {
            return Ok(status);
        }
        signal_group(self.group, libc::SIGKILL);
        let status = self
            .child
            .wait()
            .map_err(|e| LabError::io(format!("reap {}", self.name), e))?;
        self.reaped = Some(status);
        self.registry.remove(self.group);
        Ok(status)
    }

    /// Called right after the leader is reaped: its pid could be reused from now on, so the
    /// group gets one last SIGKILL (stragglers) and is no longer signalled by the lab.
    fn forget_group(&self) {
        signal_group(self.group, libc::SIGKILL);
        self.registry.remove(self.group);
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.reaped.is_none() {
            // Nothing useful to do with an error while dropping.
            let _ = self.kill();
        }
    }
}

/// Signals process group `group`. Only ever called with groups this crate created.
fn signal_group(group: i32, signal: i32) {
    // SAFETY: kill(2) has no memory-safety preconditions; a negative pid addresses the group.
    // ESRCH (group already gone) is fine to ignore.
    unsafe {
        libc::kill(-group, signal);
    }
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => status.to_string(),
    }
}

fn tail(path: &Path) -> String {
    let Ok(mut file) = File::open(path) else {
        return String::from("(no log)");
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL_BYTES)));
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}
