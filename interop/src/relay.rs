//! A recording TCP relay for one BGP session: it listens inside a lab namespace, accepts a
//! connection, connects onwards to the real peer from the same namespace, copies bytes both
//! ways unchanged and writes each direction to its own file. A later connection (a retry
//! after a failed attempt) replaces the recording, so the files always hold one session. Both peers see an ordinary
//! neighbor at the relay's address (the accepting side must be configured passive, so that
//! only one TCP connection is ever made). TCP MD5 cannot pass a relay.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::error::{LabError, Result};
use crate::lab::Host;

/// How often blocked reads and accepts look at the stop flag.
const TICK: Duration = Duration::from_millis(50);
/// How long to keep trying to reach the upstream peer for an accepted connection.
const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Copy buffer: one maximal extended BGP message.
const BUFFER_LEN: usize = 65_535;

/// Bytes copied in each direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RelayStats {
    /// From the peer that connected to the relay towards the upstream peer.
    pub forward: u64,
    /// From the upstream peer back to the connecting peer.
    pub backward: u64,
}

/// A running relay; [`Relay::stop`] ends it (dropping it does too).
#[derive(Debug)]
pub struct Relay {
    listen: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<RelayStats>>>,
}

impl Relay {
    /// Starts listening on `listen` in `host`'s namespace; returns once the socket is bound.
    /// The relay serves connections one at a time until stopped, or for `lifetime` at most.
    pub fn start(
        host: &Host,
        listen: SocketAddr,
        upstream: SocketAddr,
        forward_log: &Path,
        backward_log: &Path,
        lifetime: Duration,
    ) -> Result<Relay> {
        let netns = PathBuf::from(format!("/run/netns/{}", host.netns));
        let logs = (open_log(forward_log)?, open_log(backward_log)?);
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread_stop = stop.clone();
        let thread = thread::spawn(move || -> Result<RelayStats> {
            let listener = match enter_netns(&netns).and_then(|()| bind(listen)) {
                Ok(listener) => {
                    let _ = ready_tx.send(Ok(()));
                    listener
                }
                Err(error) => {
                    let text = error.to_string();
                    let _ = ready_tx.send(Err(error));
                    return Err(LabError::Invalid(text));
                }
            };
            serve(
                listener,
                upstream,
                logs,
                &thread_stop,
                Instant::now() + lifetime,
            )
        });
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Relay {
                listen,
                stop,
                thread: Some(thread),
            }),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(LabError::Invalid(
                "relay thread ended before binding".into(),
            )),
        }
    }

    pub fn listen_address(&self) -> SocketAddr {
        self.listen
    }

    /// Stops copying, closes both connections and returns the byte counts of the last one.
    pub fn stop(mut self) -> Result<RelayStats> {
        self.finish()
    }

    fn finish(&mut self) -> Result<RelayStats> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .map_err(|_| LabError::Invalid("relay thread panicked".into()))?,
            None => Ok(RelayStats::default()),
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

fn open_log(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| LabError::io(format!("open {path:?}"), e))
}

/// Moves the calling thread (only) into the namespace at `netns`.
/// Moves the calling thread into the network namespace at `netns` (sockets it creates
/// afterwards belong there for good).
pub(crate) fn enter_netns(netns: &Path) -> Result<()> {
    let file = File::open(netns).map_err(|e| LabError::io(format!("open {netns:?}"), e))?;
    // SAFETY: setns(2) on a valid open namespace fd; it changes only this thread's network
    // namespace, which owns no Rust state.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        return Err(LabError::io(
            format!("setns {netns:?}"),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

fn bind(listen: SocketAddr) -> Result<TcpListener> {
    let listener =
        TcpListener::bind(listen).map_err(|e| LabError::io(format!("bind {listen}"), e))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| LabError::io("set listener non-blocking", e))?;
    Ok(listener)
}

fn serve(
    listener: TcpListener,
    upstream: SocketAddr,
    logs: (File, File),
    stop: &AtomicBool,
    deadline: Instant,
) -> Result<RelayStats> {
    let mut stats = RelayStats::default();
    loop {
        if stop.load(Ordering::Relaxed) || Instant::now() >= deadline {
            return Ok(stats);
        }
        let accepted = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                thread::sleep(TICK);
                continue;
            }
            Err(e) => return Err(LabError::io("relay accept", e)),
        };
        accepted
            .set_nonblocking(false)
            .map_err(|e| LabError::io("set accepted socket blocking", e))?;
        // The upstream peer may not listen yet: the connecting peer will retry, so drop this
        // connection (unrecorded) and accept the next one.
        let Ok(onward) = TcpStream::connect_timeout(&upstream, UPSTREAM_CONNECT_TIMEOUT) else {
            drop(accepted);
            continue;
        };
        // A new connection replaces an earlier one that failed (a daemon may reset its first
        // attempt, e.g. FRR before zebra has told bgpd its addresses): the logs keep only the
        // latest connection, so each holds exactly one session.
        for log in [&logs.0, &logs.1] {
            log.set_len(0)
                .map_err(|e| LabError::io("truncate relay log", e))?;
        }
        stats = relay(accepted, onward, (&logs.0, &logs.1), stop, deadline)?;
    }
}

fn relay(
    accepted: TcpStream,
    onward: TcpStream,
    (forward_log, backward_log): (&File, &File),
    stop: &AtomicBool,
    deadline: Instant,
) -> Result<RelayStats> {
    let clone = |s: &TcpStream| s.try_clone().map_err(|e| LabError::io("clone socket", e));
    let (a_read, a_write) = (clone(&accepted)?, clone(&accepted)?);
    let (b_read, b_write) = (clone(&onward)?, clone(&onward)?);
    thread::scope(|scope| {
        let forward = scope.spawn(|| copy(a_read, b_write, forward_log, stop, deadline));
        let backward = scope.spawn(|| copy(b_read, a_write, backward_log, stop, deadline));
        let forward = forward.join().unwrap_or(Ok(0));
        let backward = backward.join().unwrap_or(Ok(0));
        Ok(RelayStats {
            forward: forward?,
            backward: backward?,
        })
    })
}

/// Copies until end of stream, an error, stop or deadline; then closes both sockets so the
/// other direction ends too (a BGP session is over when either side closes).
fn copy(
    mut from: TcpStream,
    mut to: TcpStream,
    mut log: &File,
    stop: &AtomicBool,
    deadline: Instant,
) -> Result<u64> {
    from.set_read_timeout(Some(TICK))
        .map_err(|e| LabError::io("set read timeout", e))?;
    let mut buffer = vec![0u8; BUFFER_LEN];
    let mut total: u64 = 0;
    let result = loop {
        if stop.load(Ordering::Relaxed) || Instant::now() >= deadline {
            break Ok(total);
        }
        match from.read(&mut buffer) {
            Ok(0) => break Ok(total),
            Ok(n) => {
                let chunk = &buffer[..n];
                if let Err(e) = log.write_all(chunk) {
                    break Err(LabError::io("write relay log", e));
                }
                if to.write_all(chunk).is_err() {
                    break Ok(total);
                }
                total += n as u64;
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            // Reset by the peer and the like: the session is over.
            Err(_) => break Ok(total),
        }
    };
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
    let _ = log.flush();
    result
}
