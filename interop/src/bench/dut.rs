//! The daemon under test: started in its own namespace from one [`RouterSpec`] (so BIRD,
//! GoBGP, FRR and Starling get equivalent configurations), pinned to one CPU, and measured
//! from `/proc` only (CPU seconds as `utime + stime`, peak memory as `VmHWM`, current memory as
//! `VmRSS`), never through its CLI while a run is going on.

use std::fmt;
use std::fs;
use std::time::Duration;

use super::engine::NetnsGuard;
use crate::bird;
use crate::command::run;
use crate::error::{LabError, Result};
use crate::frr::{Frr, FrrOptions};
use crate::lab::{Host, Lab};
use crate::process::Process;
use crate::spec::RouterSpec;
use crate::starling::{Extra, Starling};
use crate::wait::{wait_until, DEFAULT_INTERVAL};
use crate::{Bird, GoBgp};

/// The CPU the daemon under test is pinned to; the harness takes the next one.
pub const DAEMON_CPU: usize = 0;
pub const HARNESS_CPU: usize = 1;
/// Starling logs at `info` in benchmarks (the lab's default, `debug`, is for tests).
const STARLING_LOG_LEVEL: &str = "info";
/// Starling's kernel FIB: install learned best routes in the main table.
const STARLING_KERNEL: &str = "[kernel]\nprogram = true";
/// BIRD's kernel FIB: export every best route to the main table.
const BIRD_KERNEL: &str = "protocol kernel {\n  ipv4 { export all; };\n}\n";
/// How far `utime + stime` may exceed the per-thread sum before an exited thread is assumed
/// (two clock ticks of rounding).
const EXITED_THREAD_SLACK: Duration = Duration::from_millis(20);
/// How long BIRD may take to open its control socket.
const BIRD_STARTUP: Duration = Duration::from_secs(20);

/// A daemon the suite compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Daemon {
    Starling,
    Bird,
    GoBgp,
    Frr,
    /// Not a daemon: `ip -batch` installing the same routes, W6's yardstick.
    IpBatch,
}

impl Daemon {
    pub const ALL: [Daemon; 4] = [Daemon::Starling, Daemon::Bird, Daemon::GoBgp, Daemon::Frr];

    pub fn name(self) -> &'static str {
        match self {
            Daemon::Starling => "starling",
            Daemon::Bird => "bird",
            Daemon::GoBgp => "gobgp",
            Daemon::Frr => "frr",
            Daemon::IpBatch => "ip -batch",
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
            Daemon::IpBatch => "#666666",
        }
    }
}

impl fmt::Display for Daemon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What `/proc` says about the daemon's processes (summed over them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Usage {
    /// `utime + stime`: every thread, exited ones too, in clock ticks (10 ms).
    pub cpu: Duration,
    /// Per live thread, its run time in nanoseconds (`/proc/PID/task/TID/schedstat`).
    pub threads: Vec<(u32, Duration)>,
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
    /// Starts `daemon` on `host` with `spec` and pins it to [`DAEMON_CPU`]. With `kernel`,
    /// the daemon installs its best routes in its namespace's main table (Starling's
    /// `[kernel]`, BIRD's kernel protocol, FRR's zebra); without, none does.
    pub fn start(
        lab: &Lab,
        host: &Host,
        daemon: Daemon,
        spec: RouterSpec,
        kernel: bool,
    ) -> Result<Dut> {
        let (running, pids): (Box<dyn std::any::Any>, Vec<u32>) = match daemon {
            Daemon::Starling => {
                let mut extra = Extra::default().log_level(STARLING_LOG_LEVEL);
                if kernel {
                    extra = extra.section(STARLING_KERNEL);
                }
                let mut starling = Starling::start_with(lab, host, &spec, &extra)?;
                let pid = starling.process().pid();
                (Box::new(starling), vec![pid])
            }
            Daemon::Bird if kernel => {
                let (process, pid) = start_bird_with_kernel(lab, host, &spec)?;
                (Box::new(process), vec![pid])
            }
            Daemon::Bird => {
                let mut bird = Bird::start(lab, host, spec)?;
                let pid = bird.process().pid();
                (Box::new(bird), vec![pid])
            }
            Daemon::GoBgp if kernel => {
                return Err(LabError::Invalid(
                    "GoBGP has no kernel FIB of its own (only through FRR's zebra)".into(),
                ))
            }
            Daemon::IpBatch => return Err(LabError::Invalid("ip -batch is not a daemon".into())),
            Daemon::GoBgp => {
                let mut gobgp = GoBgp::start(lab, host, spec)?;
                let pid = gobgp.process().pid();
                (Box::new(gobgp), vec![pid])
            }
            Daemon::Frr => {
                // Without kernel routes bgpd runs alone (`-Z`); with them zebra installs them,
                // and its CPU and memory count too.
                let options = FrrOptions { zebra: kernel };
                let mut frr = Frr::start_with(lab, host, spec, options)?;
                let mut pids = vec![frr.bgpd().pid()];
                if kernel {
                    let pid_file = lab.path(&format!("frr-{}/zebra.pid", host.name));
                    let text = fs::read_to_string(&pid_file)
                        .map_err(|e| LabError::io(format!("read {}", pid_file.display()), e))?;
                    pids.push(
                        text.trim()
                            .parse()
                            .map_err(|_| LabError::parse("zebra pid file", &text))?,
                    );
                }
                (Box::new(frr), pids)
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
            usage.threads.extend(one.threads);
        }
        Ok(usage)
    }
}

impl Usage {
    /// CPU time used since `earlier`: per-thread run times in nanoseconds (threads that
    /// started meanwhile count from zero), unless `utime + stime` says more than a couple of
    /// ticks beyond that (a thread exited meanwhile and took its run time with it).
    pub fn cpu_since(&self, earlier: &Usage) -> Duration {
        let coarse = self.cpu.saturating_sub(earlier.cpu);
        let fine: Duration = self
            .threads
            .iter()
            .map(|(tid, now)| {
                let before = earlier
                    .threads
                    .iter()
                    .find(|(t, _)| t == tid)
                    .map_or(Duration::ZERO, |(_, d)| *d);
                now.saturating_sub(before)
            })
            .sum();
        if coarse > fine + EXITED_THREAD_SLACK {
            coarse
        } else {
            fine
        }
    }
}

/// Pins the calling process (every thread of it) to [`HARNESS_CPU`], if there is one.
pub fn pin_harness() -> Result<()> {
    if cpu_count() <= HARNESS_CPU {
        return Ok(());
    }
    pin_process(std::process::id(), HARNESS_CPU)
}

/// The calling process's own CPU usage (all threads), from `/proc` like the daemon's.
pub fn harness_usage() -> Result<Usage> {
    process_usage(std::process::id())
}

/// BIRD with the lab's configuration for `spec` plus a kernel protocol (the lab's [`Bird`]
/// renders no kernel protocol).
fn start_bird_with_kernel(lab: &Lab, host: &Host, spec: &RouterSpec) -> Result<(Process, u32)> {
    let stem = format!("bird-{}", host.name);
    let config = lab.path(&format!("{stem}.conf"));
    let socket = lab.path(&format!("{stem}.ctl"));
    let pid_file = lab.path(&format!("{stem}.pid"));
    let text = format!("{}{BIRD_KERNEL}", bird::render_config(host, spec)?);
    fs::write(&config, text).map_err(|e| LabError::io(format!("write {config:?}"), e))?;
    let argv = [
        bird::BIRD,
        "-f",
        "-c",
        bird::path_str(&config)?,
        "-s",
        bird::path_str(&socket)?,
        "-P",
        bird::path_str(&pid_file)?,
    ];
    let mut process = lab.spawn(host, &stem, &argv)?;
    let socket_text = bird::path_str(&socket)?;
    wait_until("BIRD to answer", BIRD_STARTUP, DEFAULT_INTERVAL, || {
        process.ensure_running()?;
        Ok(run(bird::BIRDC, &["-s", socket_text, "show", "status"])
            .ok()
            .map(drop))
    })?;
    let pid = process.pid();
    Ok((process, pid))
}

/// Prefixes in the main routing table of `netns` (IPv4), from `/proc/net/fib_triestat` read
/// inside the namespace: cheap next to a route dump, so it can be polled.
pub fn kernel_prefixes(netns: &str) -> Result<u64> {
    let text = {
        let _inside = NetnsGuard::enter(netns)?;
        fs::read_to_string("/proc/thread-self/net/fib_triestat")
            .map_err(|e| LabError::io("read fib_triestat", e))?
    };
    main_prefixes(&text).ok_or_else(|| LabError::parse("fib_triestat", &text))
}

/// The `Prefixes:` figure of the `Main:` section.
fn main_prefixes(text: &str) -> Option<u64> {
    text.split("Main:")
        .nth(1)?
        .lines()
        .find_map(|line| line.trim().strip_prefix("Prefixes:"))?
        .trim()
        .parse()
        .ok()
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
        threads: thread_times(pid),
        peak: status_kib(&status, "VmHWM:").unwrap_or(0) * 1024,
        resident: status_kib(&status, "VmRSS:").unwrap_or(0) * 1024,
    })
}

/// Run time of each live thread: the first field of `schedstat` (nanoseconds on CPU).
fn thread_times(pid: u32) -> Vec<(u32, Duration)> {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| {
            let tid: u32 = task.file_name().to_str()?.parse().ok()?;
            let text = fs::read_to_string(task.path().join("schedstat")).ok()?;
            let nanos: u64 = text.split_whitespace().next()?.parse().ok()?;
            Some((tid, Duration::from_nanos(nanos)))
        })
        .collect()
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
    fn cpu_since_prefers_thread_times_unless_a_thread_exited() {
        let ms = Duration::from_millis;
        let usage = |cpu: u64, threads: &[(u32, u64)]| Usage {
            cpu: ms(cpu),
            threads: threads.iter().map(|(t, d)| (*t, ms(*d))).collect(),
            ..Usage::default()
        };
        let check = |before: &Usage, after: &Usage, expected: u64| {
            assert_eq!(after.cpu_since(before), ms(expected));
        };
        // Fine-grained: 3 ms that the ticks do not show.
        check(&usage(10, &[(1, 8)]), &usage(10, &[(1, 11)]), 3);
        // A new thread counts from zero.
        check(&usage(10, &[(1, 8)]), &usage(20, &[(1, 11), (2, 5)]), 8);
        // Thread 2 exited with 500 ms: the ticks know, the live threads do not.
        check(&usage(0, &[(1, 0), (2, 0)]), &usage(510, &[(1, 10)]), 510);
    }

    #[test]
    fn reads_main_table_prefixes() {
        let text = "Basic info: size of leaf: 48 bytes\nMain:\n\tAver depth:     2.42\n\tLeaves:         7\n\tPrefixes:       9\nLocal:\n\tPrefixes:       3\n";
        assert_eq!(main_prefixes(text), Some(9));
        assert_eq!(main_prefixes("Local:\n\tPrefixes: 3\n"), None);
    }

    #[test]
    fn daemon_names_round_trip() {
        for daemon in Daemon::ALL {
            assert_eq!(Daemon::parse(daemon.name()), Some(daemon));
        }
        assert_eq!(Daemon::parse("quagga"), None);
    }
}
