//! One task per neighbor: it owns the neighbor's `proto::session::Session`, its (at most two)
//! TCP connections and its connect attempt, feeds the session the events of RFC 4271 §8.1 and
//! carries out the actions it returns.
//!
//! - [`driver`]: the decisions, without I/O ([`driver::PeerDriver`], fed inputs with `now`,
//!   returning effects; tested in virtual time).
//! - [`task`]: the tokio shell that does the driver's I/O and talks to the RIB task.
//! - [`reader`]: a connection's reader (framing only, so that decoding uses the parameters
//!   negotiated when the frame is processed, not when it was read).
//! - [`writer`]: a connection's writer, the one owner of its socket's write half: the
//!   session's messages first, then UPDATEs it pulls from the RIB task when it has room
//!   (`crate::transmit`), nothing after a NOTIFICATION; blocked writes reported for the RFC
//!   9687 send hold timer.
//! - [`status`]: what operators see ([`PeerStatus`], [`PeerError`]).

pub mod driver;
pub mod reader;
pub mod status;
pub mod task;
pub mod writer;

#[cfg(test)]
mod driver_tests;
#[cfg(test)]
mod writer_tests;

use std::net::SocketAddr;

use proto::session::StopReason;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use status::{ConnectFailure, MessageCounts, PeerError, PeerStatus};

use crate::neighbor::NeighborSettings;
use crate::rib::RibEvent;
use crate::transmit::Pulls;

/// Commands waiting for a peer task (the daemon's and the RIB's); the daemon's sends to a full
/// queue are reported as busy, the RIB's `max_prefixes` stop likewise.
const COMMAND_QUEUE: usize = 64;

/// What the daemon (and the RIB, for `max_prefixes`) tells a peer task.
#[derive(Debug)]
pub enum PeerCommand {
    /// Our listener accepted this connection from the neighbor.
    Incoming(TcpStream, SocketAddr),
    /// Start the session (ManualStart).
    Enable,
    /// Stop it: shutdown stays down, reset starts again.
    Stop(StopReason),
    /// Ask the neighbor to send its routes again (ROUTE-REFRESH, RFC 2918) without a reset.
    SoftReset,
    /// New settings, used from the next session on (the daemon resets the session when the
    /// change needs it).
    Reconfigure(Box<NeighborSettings>),
    /// Stop with this reason, flush, and end the task.
    Shutdown(StopReason),
}

/// The daemon's side of a running peer task.
#[derive(Debug)]
pub struct PeerHandle {
    /// The neighbor as the RIB knows it.
    pub id: rr::PeerId,
    pub settings: NeighborSettings,
    pub commands: mpsc::Sender<PeerCommand>,
    pub status: watch::Receiver<PeerStatus>,
    pub task: JoinHandle<()>,
}

impl PeerHandle {
    /// Starts the task; the session is enabled at once. `pulls` is where its connections'
    /// writers ask the RIB task for UPDATEs.
    pub fn spawn(
        id: rr::PeerId,
        settings: NeighborSettings,
        seed: u64,
        rib: mpsc::Sender<RibEvent>,
        pulls: Pulls,
    ) -> PeerHandle {
        let (commands, command_rx) = mpsc::channel(COMMAND_QUEUE);
        let (status_tx, status) = watch::channel(PeerStatus::default());
        let task = task::PeerTask::new(
            id,
            settings.clone(),
            seed,
            rib,
            pulls,
            (commands.downgrade(), command_rx),
            status_tx,
        );
        let task = tokio::spawn(task.run());
        PeerHandle {
            id,
            settings,
            commands,
            status,
            task,
        }
    }
}
