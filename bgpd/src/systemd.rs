//! Talking to systemd as a `Type=notify` service: the `sd_notify(3)` protocol (one datagram of
//! newline-separated `KEY=VALUE` assignments to the Unix socket named by `NOTIFY_SOCKET`) and
//! the service watchdog (`WATCHDOG_USEC`, `WATCHDOG_PID`, as `sd_watchdog_enabled(3)` reads
//! them). No RFC applies; the unit that relies on this is
//! `deploy/systemd/starling-bgpd.service` (`Type=notify`, `NotifyAccess=main`, `WatchdogSec=`).
//!
//! Everything is a no-op when the service manager did not ask for it (the variables are unset:
//! a terminal, a container), so the daemon calls it unconditionally. The daemon's life:
//!
//! ```text
//! start ─► READY=1 + STATUS ─┬─► (every watchdog interval, from the main loop) WATCHDOG=1
//!                            ├─► SIGHUP: RELOADING=1 + MONOTONIC_USEC … READY=1 + STATUS
//!                            └─► SIGTERM: STOPPING=1
//! ```
//!
//! `NOTIFY_SOCKET` is left in the environment: bgpd starts no children that could inherit it.

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::io;
use std::os::linux::net::SocketAddrExt as _;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::Path;
use std::time::Duration;

use tracing::warn;

/// The socket the service manager listens on for notifications.
pub const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";
/// The watchdog timeout, in microseconds (`WatchdogSec=`).
pub const WATCHDOG_USEC: &str = "WATCHDOG_USEC";
/// The process the watchdog timeout is meant for; unset means the one that reads it.
pub const WATCHDOG_PID: &str = "WATCHDOG_PID";

/// How long one notification may wait for room in the manager's socket queue. systemd drains
/// it at once; a stuck manager must not stall the daemon's loop (the datagram is then lost).
const SEND_TIMEOUT: Duration = Duration::from_secs(1);
/// `sd_watchdog_enabled(3)`: ping at half the timeout, so one late ping is not yet fatal.
const WATCHDOG_PINGS_PER_TIMEOUT: u32 = 2;
/// First byte of an abstract socket name in `NOTIFY_SOCKET` (`sd_notify(3)`).
const ABSTRACT_PREFIX: u8 = b'@';
/// First byte of a file system socket path in `NOTIFY_SOCKET`.
const PATH_PREFIX: u8 = b'/';

/// Why a notification could not be set up or sent.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("{NOTIFY_SOCKET}={0:?} is neither a socket path (/…) nor an abstract name (@…)")]
    UnsupportedAddress(String),
    #[error("{NOTIFY_SOCKET}={address:?} is not a usable socket address: {source}")]
    Address { address: String, source: io::Error },
    #[error("cannot create the notification socket: {0}")]
    Socket(io::Error),
    #[error("cannot send {message:?} to the service manager at {address:?}: {source}")]
    Send {
        message: String,
        address: String,
        source: io::Error,
    },
    #[error("{variable}={value:?} is not a positive whole number")]
    InvalidNumber {
        variable: &'static str,
        value: String,
    },
    #[error("cannot read CLOCK_MONOTONIC: {0}")]
    Clock(io::Error),
}

/// One assignment of the protocol (`sd_notify(3)`, "Well-known assignments").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State<'a> {
    /// `READY=1`: start-up, or a reload, is finished.
    Ready,
    /// `RELOADING=1` with `MONOTONIC_USEC=` (when the reload began on `CLOCK_MONOTONIC`, which
    /// systemd 253 and later require with it); `READY=1` ends the reload.
    Reloading { monotonic: Duration },
    /// `STOPPING=1`: shutdown has begun.
    Stopping,
    /// `STATUS=`: one line for `systemctl status`.
    Status(&'a str),
    /// `WATCHDOG=1`: the keep-alive ping.
    Watchdog,
}

/// The variables the service manager passes, as read from the environment.
#[derive(Debug, Clone, Default)]
struct Environment {
    notify_socket: Option<OsString>,
    watchdog_usec: Option<OsString>,
    watchdog_pid: Option<OsString>,
    /// This process, to compare with `WATCHDOG_PID`.
    pid: u32,
}

/// Where notifications go, when the service manager asked for them.
#[derive(Debug)]
struct Target {
    socket: UnixDatagram,
    address: SocketAddr,
    /// `NOTIFY_SOCKET` as given, for messages.
    display: String,
}

/// The daemon's link to systemd; every method is a no-op when systemd did not ask for
/// notifications.
#[derive(Debug)]
pub struct Notifier {
    target: Option<Target>,
    watchdog_interval: Option<Duration>,
}

/// Ticks at the watchdog interval, or never when the watchdog is off. Ping from the loop whose
/// liveness the watchdog should prove (the daemon's main loop), not from a task of its own.
#[derive(Debug)]
pub struct WatchdogTimer(Option<tokio::time::Interval>);

impl State<'_> {
    /// Appends this state's assignment lines to `message`.
    fn write(&self, message: &mut String) {
        // Writing to a String cannot fail.
        let _ = match self {
            State::Ready => writeln!(message, "READY=1"),
            State::Reloading { monotonic } => writeln!(
                message,
                "RELOADING=1\nMONOTONIC_USEC={}",
                monotonic.as_micros()
            ),
            State::Stopping => writeln!(message, "STOPPING=1"),
            // A newline would end the assignment and start another one.
            State::Status(text) => writeln!(message, "STATUS={}", text.replace(['\n', '\r'], " ")),
            State::Watchdog => writeln!(message, "WATCHDOG=1"),
        };
    }
}

impl Environment {
    fn current() -> Environment {
        Environment {
            notify_socket: std::env::var_os(NOTIFY_SOCKET),
            watchdog_usec: std::env::var_os(WATCHDOG_USEC),
            watchdog_pid: std::env::var_os(WATCHDOG_PID),
            pid: std::process::id(),
        }
    }
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID`. Unset (or empty) variables
    /// turn the corresponding feature off; malformed ones are errors.
    pub fn from_env() -> Result<Notifier, NotifyError> {
        Notifier::new(&Environment::current())
    }

    /// A notifier that never sends anything (when [`Notifier::from_env`] failed).
    pub fn disabled() -> Notifier {
        Notifier {
            target: None,
            watchdog_interval: None,
        }
    }

    fn new(environment: &Environment) -> Result<Notifier, NotifyError> {
        let target = match non_empty(environment.notify_socket.as_deref()) {
            Some(value) => Some(Target::new(value)?),
            None => None,
        };
        Ok(Notifier {
            target,
            watchdog_interval: watchdog_interval(environment)?,
        })
    }

    /// How often to call [`Notifier::watchdog`]: half of `WatchdogSec=`; `None` when the
    /// watchdog is off or meant for another process.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog_interval
    }

    /// A timer for the daemon's `select!` loop: `_ = timer.tick() => notifier.watchdog()`.
    pub fn watchdog_timer(&self) -> WatchdogTimer {
        WatchdogTimer(self.watchdog_interval.map(|period| {
            let mut interval = tokio::time::interval(period);
            // After a stall, ping once rather than in a burst: the stall already happened.
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            interval
        }))
    }

    /// Sends `states` as one datagram; `Ok` without sending when notifications are off.
    pub fn notify(&self, states: &[State<'_>]) -> Result<(), NotifyError> {
        let Some(target) = &self.target else {
            return Ok(());
        };
        let mut message = String::new();
        for state in states {
            state.write(&mut message);
        }
        target
            .socket
            .send_to_addr(message.as_bytes(), &target.address)
            .map(drop)
            .map_err(|source| NotifyError::Send {
                message,
                address: target.display.clone(),
                source,
            })
    }

    /// Start-up (or a reload) is finished: `READY=1` with a status line.
    pub fn ready(&self, status: &str) {
        self.send_logged(&[State::Ready, State::Status(status)]);
    }

    /// A status line for `systemctl status`.
    pub fn status(&self, text: &str) {
        self.send_logged(&[State::Status(text)]);
    }

    /// A reload begins; call [`Notifier::ready`] when it is done (whether it succeeded or not:
    /// the daemon keeps running either way).
    pub fn reloading(&self) {
        if self.target.is_none() {
            return;
        }
        match monotonic_now() {
            Ok(monotonic) => self.send_logged(&[
                State::Reloading { monotonic },
                State::Status("reloading the configuration"),
            ]),
            Err(error) => warn!(%error, "systemd notification not sent"),
        }
    }

    /// Shutdown has begun.
    pub fn stopping(&self) {
        self.send_logged(&[State::Stopping, State::Status("stopping")]);
    }

    /// The watchdog keep-alive; call it every [`Notifier::watchdog_interval`].
    pub fn watchdog(&self) {
        if self.watchdog_interval.is_some() {
            self.send_logged(&[State::Watchdog]);
        }
    }

    /// Failures are logged here, once: the daemon runs on without its service manager's view.
    fn send_logged(&self, states: &[State<'_>]) {
        if let Err(error) = self.notify(states) {
            warn!(%error, "systemd notification not sent");
        }
    }
}

impl Target {
    fn new(value: &OsStr) -> Result<Target, NotifyError> {
        let display = value.to_string_lossy().into_owned();
        let bytes = value.as_bytes();
        let address = match bytes.first().copied() {
            Some(PATH_PREFIX) => SocketAddr::from_pathname(Path::new(value)),
            Some(ABSTRACT_PREFIX) if bytes.len() > 1 => SocketAddr::from_abstract_name(&bytes[1..]),
            // Newer managers also offer `vsock:` addresses (for virtual machines); bgpd does
            // not run where only those exist.
            _ => return Err(NotifyError::UnsupportedAddress(display)),
        }
        .map_err(|source| NotifyError::Address {
            address: display.clone(),
            source,
        })?;
        let socket = UnixDatagram::unbound().map_err(NotifyError::Socket)?;
        socket
            .set_write_timeout(Some(SEND_TIMEOUT))
            .map_err(NotifyError::Socket)?;
        Ok(Target {
            socket,
            address,
            display,
        })
    }
}

impl WatchdogTimer {
    /// Completes at the next ping time; never, when the watchdog is off.
    pub async fn tick(&mut self) {
        match &mut self.0 {
            Some(interval) => {
                interval.tick().await;
            }
            None => std::future::pending().await,
        }
    }
}

/// `sd_watchdog_enabled(3)`: the ping interval when `WATCHDOG_USEC` is set and
/// `WATCHDOG_PID`, if set, names this process.
fn watchdog_interval(environment: &Environment) -> Result<Option<Duration>, NotifyError> {
    let Some(usec) = non_empty(environment.watchdog_usec.as_deref()) else {
        return Ok(None);
    };
    let timeout = Duration::from_micros(positive(WATCHDOG_USEC, usec)?);
    if let Some(pid) = non_empty(environment.watchdog_pid.as_deref()) {
        if positive(WATCHDOG_PID, pid)? != u64::from(environment.pid) {
            return Ok(None);
        }
    }
    Ok(Some(timeout / WATCHDOG_PINGS_PER_TIMEOUT))
}

fn non_empty(value: Option<&OsStr>) -> Option<&OsStr> {
    value.filter(|v| !v.is_empty())
}

fn positive(variable: &'static str, value: &OsStr) -> Result<u64, NotifyError> {
    value
        .to_str()
        .and_then(|text| text.parse::<u64>().ok())
        .filter(|number| *number > 0)
        .ok_or_else(|| NotifyError::InvalidNumber {
            variable,
            value: value.to_string_lossy().into_owned(),
        })
}

/// Now on `CLOCK_MONOTONIC`, the clock `MONOTONIC_USEC` is read against (`std::time::Instant`
/// does not expose its value).
fn monotonic_now() -> Result<Duration, NotifyError> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime(2) writes one timespec through a pointer to a live, writable one.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) } != 0 {
        return Err(NotifyError::Clock(io::Error::last_os_error()));
    }
    let seconds = u64::try_from(now.tv_sec).map_err(|_| {
        NotifyError::Clock(io::Error::new(
            io::ErrorKind::InvalidData,
            "negative seconds",
        ))
    })?;
    let nanos = u32::try_from(now.tv_nsec).map_err(|_| {
        NotifyError::Clock(io::Error::new(
            io::ErrorKind::InvalidData,
            "nanoseconds out of range",
        ))
    })?;
    Ok(Duration::new(seconds, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// The largest datagram a test expects.
    const MAX_DATAGRAM: usize = 4096;
    /// How long a test waits for a datagram before it fails.
    const RECEIVE_TIMEOUT: Duration = Duration::from_secs(5);

    /// Gives every test socket a name of its own within this process.
    static NEXT_SOCKET: AtomicUsize = AtomicUsize::new(0);

    /// A datagram socket standing in for systemd's, bound to a path or an abstract name.
    struct Manager {
        socket: UnixDatagram,
        /// The value for `NOTIFY_SOCKET`.
        notify_socket: String,
        /// Removed when the test ends.
        path: Option<PathBuf>,
    }

    impl Manager {
        fn unique_name() -> String {
            format!(
                "starling-notify-{}-{}",
                std::process::id(),
                NEXT_SOCKET.fetch_add(1, Ordering::Relaxed)
            )
        }

        fn at_path() -> Manager {
            let path = std::env::temp_dir().join(format!("{}.sock", Manager::unique_name()));
            let socket = UnixDatagram::bind(&path).expect("bind a datagram socket in the temp dir");
            Manager::finish(socket, path.display().to_string(), Some(path))
        }

        fn abstract_name() -> Manager {
            let name = Manager::unique_name();
            let address =
                SocketAddr::from_abstract_name(name.as_bytes()).expect("short abstract name");
            let socket = UnixDatagram::bind_addr(&address).expect("bind an abstract socket");
            Manager::finish(socket, format!("@{name}"), None)
        }

        fn finish(socket: UnixDatagram, notify_socket: String, path: Option<PathBuf>) -> Manager {
            socket
                .set_read_timeout(Some(RECEIVE_TIMEOUT))
                .expect("read timeout");
            Manager {
                socket,
                notify_socket,
                path,
            }
        }

        fn environment(&self) -> Environment {
            Environment {
                notify_socket: Some(self.notify_socket.clone().into()),
                pid: std::process::id(),
                ..Environment::default()
            }
        }

        fn receive(&self) -> String {
            let mut buffer = [0u8; MAX_DATAGRAM];
            let length = self
                .socket
                .recv(&mut buffer)
                .expect("a notification arrives");
            String::from_utf8(buffer[..length].to_vec()).expect("notifications are text")
        }
    }

    impl Drop for Manager {
        fn drop(&mut self) {
            if let Some(path) = &self.path {
                let _ = std::fs::remove_file(path);
            }
        }
    }

    /// Each call sends exactly the datagram expected, to a path socket and to an abstract one.
    fn check(send: fn(&Notifier), expected: &str) {
        for manager in [Manager::at_path(), Manager::abstract_name()] {
            let notifier = Notifier::new(&manager.environment()).expect("valid NOTIFY_SOCKET");
            send(&notifier);
            assert_eq!(
                manager.receive(),
                expected,
                "NOTIFY_SOCKET={}",
                manager.notify_socket
            );
        }
    }

    #[test]
    fn notifications_are_newline_separated_assignments() {
        check(|n| n.ready("3 neighbors"), "READY=1\nSTATUS=3 neighbors\n");
        check(
            |n| n.status("etcd unreachable"),
            "STATUS=etcd unreachable\n",
        );
        check(|n| n.stopping(), "STOPPING=1\nSTATUS=stopping\n");
        // A newline in a status would start a forged assignment.
        check(|n| n.status("bad\nREADY=1"), "STATUS=bad READY=1\n");
    }

    #[test]
    fn reloading_carries_the_monotonic_clock() {
        let manager = Manager::at_path();
        let notifier = Notifier::new(&manager.environment()).expect("valid NOTIFY_SOCKET");
        let before = monotonic_now().expect("clock").as_micros();
        notifier.reloading();
        let after = monotonic_now().expect("clock").as_micros();
        let message = manager.receive();
        let lines: Vec<&str> = message.lines().collect();
        assert_eq!(lines.len(), 3, "{message:?}");
        assert_eq!(lines[0], "RELOADING=1");
        let usec: u128 = lines[1]
            .strip_prefix("MONOTONIC_USEC=")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("MONOTONIC_USEC line in {message:?}"));
        assert!(
            (before..=after).contains(&usec),
            "{usec} not in {before}..={after}"
        );
        assert_eq!(lines[2], "STATUS=reloading the configuration");
    }

    #[test]
    fn watchdog_pings_only_when_enabled() {
        let manager = Manager::at_path();
        let silent = Notifier::new(&manager.environment()).expect("valid NOTIFY_SOCKET");
        silent.watchdog();
        let environment = Environment {
            watchdog_usec: Some("30000000".into()),
            ..manager.environment()
        };
        let notifier = Notifier::new(&environment).expect("valid environment");
        notifier.watchdog();
        // The first datagram is the enabled notifier's: the silent one sent nothing.
        assert_eq!(manager.receive(), "WATCHDOG=1\n");
    }

    #[test]
    fn unset_variables_turn_everything_off() {
        for notify_socket in [None, Some(OsString::new())] {
            let environment = Environment {
                notify_socket,
                pid: std::process::id(),
                ..Environment::default()
            };
            let notifier = Notifier::new(&environment).expect("nothing to parse");
            assert!(notifier.notify(&[State::Ready]).is_ok());
            assert_eq!(notifier.watchdog_interval(), None);
        }
    }

    #[test]
    fn notify_socket_forms() {
        // (NOTIFY_SOCKET, accepted)
        let cases = [
            ("/run/systemd/notify", true),
            ("@/org/freedesktop/systemd1/notify/123", true),
            ("vsock:2:1234", false),
            ("relative/path", false),
            ("@", false),
        ];
        for (value, accepted) in cases {
            let environment = Environment {
                notify_socket: Some(value.into()),
                ..Environment::default()
            };
            assert_eq!(
                Notifier::new(&environment).is_ok(),
                accepted,
                "NOTIFY_SOCKET={value}"
            );
        }
    }

    #[test]
    fn a_missing_manager_socket_is_a_send_error() {
        let path = std::env::temp_dir().join(format!("{}.sock", Manager::unique_name()));
        let environment = Environment {
            notify_socket: Some(path.into_os_string()),
            ..Environment::default()
        };
        let notifier = Notifier::new(&environment).expect("a path is a valid address");
        assert!(matches!(
            notifier.notify(&[State::Ready]),
            Err(NotifyError::Send { .. })
        ));
    }

    #[test]
    fn watchdog_interval_is_half_the_timeout_for_this_process() {
        let own = std::process::id().to_string();
        let other = (std::process::id() + 1).to_string();
        /// What `watchdog_interval` gives, with errors reduced to their variable.
        #[derive(Debug, PartialEq)]
        enum Outcome {
            Off,
            Every(Duration),
            Invalid(&'static str),
        }
        // (WATCHDOG_USEC, WATCHDOG_PID, outcome)
        let cases = [
            (None, None, Outcome::Off),
            (
                Some("30000000"),
                None,
                Outcome::Every(Duration::from_secs(15)),
            ),
            (
                Some("30000000"),
                Some(own.as_str()),
                Outcome::Every(Duration::from_secs(15)),
            ),
            (Some("30000000"), Some(other.as_str()), Outcome::Off),
            (Some("3"), None, Outcome::Every(Duration::from_nanos(1500))),
            (Some("0"), None, Outcome::Invalid(WATCHDOG_USEC)),
            (Some("-5"), None, Outcome::Invalid(WATCHDOG_USEC)),
            (Some("30s"), None, Outcome::Invalid(WATCHDOG_USEC)),
            (Some("30000000"), Some("me"), Outcome::Invalid(WATCHDOG_PID)),
        ];
        for (usec, pid, expected) in cases {
            let environment = Environment {
                watchdog_usec: usec.map(OsString::from),
                watchdog_pid: pid.map(OsString::from),
                pid: std::process::id(),
                ..Environment::default()
            };
            let outcome = match Notifier::new(&environment) {
                Ok(notifier) => notifier
                    .watchdog_interval()
                    .map_or(Outcome::Off, Outcome::Every),
                Err(NotifyError::InvalidNumber { variable, .. }) => Outcome::Invalid(variable),
                Err(error) => panic!("unexpected error {error}"),
            };
            assert_eq!(
                outcome, expected,
                "WATCHDOG_USEC={usec:?} WATCHDOG_PID={pid:?}"
            );
        }
    }

    #[tokio::test]
    async fn watchdog_timer_ticks_at_the_interval_or_never() {
        /// A watchdog timeout short enough for a test: 20 ms, pinged every 10 ms.
        const SHORT_TIMEOUT_USEC: &str = "20000";
        /// How long a disabled timer is watched for a tick that must not come.
        const QUIET_PERIOD: Duration = Duration::from_millis(50);
        let enabled = Notifier::new(&Environment {
            watchdog_usec: Some(SHORT_TIMEOUT_USEC.into()),
            ..Environment::default()
        })
        .expect("valid environment");
        let mut timer = enabled.watchdog_timer();
        // The first tick is immediate; the second one comes after the interval.
        let started = tokio::time::Instant::now();
        tokio::time::timeout(RECEIVE_TIMEOUT, async {
            timer.tick().await;
            timer.tick().await;
        })
        .await
        .expect("two ticks");
        assert!(started.elapsed() >= Duration::from_millis(10));

        let mut silent = Notifier::disabled().watchdog_timer();
        assert!(tokio::time::timeout(QUIET_PERIOD, silent.tick())
            .await
            .is_err());
    }
}
