//! The daemon under test: started in its own namespace from one [`RouterSpec`] (so BIRD,
//! GoBGP, FRR and Starling get equivalent configurations), pinned to one CPU, and measured
//! from `/proc` only (CPU seconds as `utime + stime`, peak memory as `VmHWM`, current memory as
//! `VmRSS`), never through its CLI while a run is going on.

use std::fmt;
use std::fs;
use std::time::Duration;

use crate::error::{LabError, Result};
use crate::frr::{Frr, FrrOptions};
use crate::lab::{Host, Lab};
use crate::spec::RouterSpec;
use crate::starling::{Extra, Starling};
use crate::{Bird, GoBgp};

/// The CPU the daemon under test is pinned to; the harness takes the next one.
pub const DAEMON_CPU: usize = 0;
pub const HARNESS_CPU: usize = 1;
/// Starling logs at `info` in benchmarks (the lab's default, `debug`, is for tests).
const STARLING_LOG_LEVEL: &str = "info";

/// A daemon the suite compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Daemon {
    Starling,
    Bird,
    GoBgp,
    Frr,
}

impl Daemon {
    pub const ALL: [Daemon; 4] = [Daemon::Starling, Daemon::Bird, Daemon::GoBgp, Daemon::Frr];

    pub fn name(self) -> &'static str {
        match self {
            Daemon::Starling => "starling",
            Daemon::Bird => "bird",
            Daemon::GoBgp => "gobgp",
            Daemon::Frr => "frr",
        }
    }

    pub fn parse(name: &str) -> Option<Daemon> {
        Daemon::ALL
            .into_iter()
            .find(|d| d.name().eq_ignore_ascii_case(name))
    }

    /// Bar colour in the charts.
    pub fn colour(self) -> &'static str {
        match self {
            Daemon::Starling => "#d95f02",
            Daemon::Bird => "#1b9e77",
            Daemon::GoBgp => "#7570b3",
            Daemon::Frr => "#e7298a",
        }
    }
}

impl fmt::Display for Daemon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What `/proc` says about the daemon's processes (summed over them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub cpu: Duration,
    /// Peak resident set (`VmHWM`), bytes.
    pub peak: u64,
    /// Resident set now (`VmRSS`), bytes.
    pub resident: u64,
}

/// A started, pinned daemon.
pub struct Dut {
    pub daemon: Daemon,
    pids: Vec<u32>,
    /// The lab's handle of the daemon ([`Starling`], [`Bird`], ...): dropping it stops the
    /// daemon.
    _running: Box<dyn std::any::Any>,
}

impl Dut {
    /// Starts `daemon` on `host` with `spec` (no kernel routes) and pins it to
    /// [`DAEMON_CPU`].
    pub fn start(lab: &Lab, host: &Host, daemon: Daemon, spec: RouterSpec) -> Result<Dut> {
        let (running, pids): (Box<dyn std::any::Any>, Vec<u32>) = match daemon {
            Daemon::Starling => {
                let extra = Extra::default().log_level(STARLING_LOG_LEVEL);
                let mut starling = Starling::start_with(lab, host, &spec, &extra)?;
                let pid = starling.process().pid();
                (Box::new(starling), vec![pid])
            }
            Daemon::Bird => {
                let mut bird = Bird::start(lab, host, spec)?;
                let pid = bird.process().pid();
                (Box::new(bird), vec![pid])
            }
            Daemon::GoBgp => {
                let mut gobgp = GoBgp::start(lab, host, spec)?;
                let pid = gobgp.process().pid();
                (Box::new(gobgp), vec![pid])
            }
            Daemon::Frr => {
                // bgpd alone (`-Z`): no zebra, so no kernel routes, like the others here.
                let mut frr = Frr::start_with(lab, host, spec, FrrOptions { zebra: false })?;
                let pid = frr.bgpd().pid();
                (Box::new(frr), vec![pid])
            }
        };
        let dut = Dut {
            daemon,
            pids,
            _running: running,
        };
        dut.pin()?;
        Ok(dut)
    }

    /// Pins every thread of the daemon to [`DAEMON_CPU`] (threads it starts later inherit
    /// it) when the machine has a CPU for the harness too.
    pub fn pin(&self) -> Result<()> {
        if cpu_count() <= HARNESS_CPU {
            return Ok(());
        }
        for pid in &self.pids {
            pin_process(*pid, DAEMON_CPU)?;
        }
        Ok(())
    }

    /// CPU time and memory of the daemon's processes so far.
    pub fn usage(&self) -> Result<Usage> {
        let mut usage = Usage::default();
        for pid in &self.pids {
            let one = process_usage(*pid)?;
            usage.cpu += one.cpu;
            usage.peak += one.peak;
            usage.resident += one.resident;
        }
        Ok(usage)
    }
}

/// Pins the calling process (every thread of it) to [`HARNESS_CPU`], if there is one.
pub fn pin_harness() -> Result<()> {
    if cpu_count() <= HARNESS_CPU {
        return Ok(());
    }
    pin_process(std::process::id(), HARNESS_CPU)
}

/// The calling process's own CPU time (all threads), from `/proc` like the daemon's.
pub fn harness_cpu() -> Result<Duration> {
    Ok(process_usage(std::process::id())?.cpu)
}

fn cpu_count() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn pin_process(pid: u32, cpu: usize) -> Result<()> {
    let tasks = fs::read_dir(format!("/proc/{pid}/task"))
        .map_err(|e| LabError::io(format!("list threads of {pid}"), e))?;
    for task in tasks.flatten() {
        let Some(tid) = task
            .file_name()
            .to_str()
            .and_then(|t| t.parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: cpu_set_t is plain data; CPU_ZERO/CPU_SET only write inside it, and `cpu` is
        // below the machine's CPU count (checked by the callers), hence below CPU_SETSIZE.
        let result = unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_ZERO(&mut set);
            libc::CPU_SET(cpu, &mut set);
            libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set)
        };
        // A thread may exit between the listing and the call (ESRCH): nothing to pin.
        if result != 0 {
            let error = std::io::Error::last_os_error();
            if error.raw_os_error() != Some(libc::ESRCH) {
                return Err(LabError::io(
                    format!("pin thread {tid} to CPU {cpu}"),
                    error,
                ));
            }
        }
    }
    Ok(())
}

fn process_usage(pid: u32) -> Result<Usage> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| LabError::io(format!("read /proc/{pid}/stat"), e))?;
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| LabError::io(format!("read /proc/{pid}/status"), e))?;
    Ok(Usage {
        cpu: parse_cpu(&stat, clock_ticks()).ok_or_else(|| LabError::parse("/proc stat", &stat))?,
        peak: status_kib(&status, "VmHWM:").unwrap_or(0) * 1024,
        resident: status_kib(&status, "VmRSS:").unwrap_or(0) * 1024,
    })
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|t| *t > 0).unwrap_or(100)
}

/// `utime + stime` from `/proc/PID/stat` (fields 14 and 15, proc(5)), counted after the
/// parenthesised command name, which may itself contain spaces.
fn parse_cpu(stat: &str, ticks_per_second: u64) -> Option<Duration> {
    let (_, after_name) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Field 3 (state) is the first after the name: utime is field 14, stime field 15.
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    let ticks = utime + stime;
    Some(Duration::from_micros(ticks * 1_000_000 / ticks_per_second))
}

/// A `kB` line of `/proc/PID/status`.
fn status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|value| value.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cpu_and_memory_from_proc_text() {
        let stat = "4242 (bird (x) y) S 1 4242 4242 0 -1 4194560 500 0 0 0 123 45 0 0 20 0 1 0";
        assert_eq!(parse_cpu(stat, 100), Some(Duration::from_millis(1680)));
        let status = "Name:\tbird\nVmHWM:\t   10240 kB\nVmRSS:\t    9000 kB\n";
        assert_eq!(status_kib(status, "VmHWM:"), Some(10240));
        assert_eq!(status_kib(status, "VmRSS:"), Some(9000));
        assert_eq!(status_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn daemon_names_round_trip() {
        for daemon in Daemon::ALL {
            assert_eq!(Daemon::parse(daemon.name()), Some(daemon));
        }
        assert_eq!(Daemon::parse("quagga"), None);
    }
}
