//! Stopping (`SIGTERM`, `SIGINT`): the FIB first, so that the sessions' withdrawals never reach
//! a kernel whose routes `persist_on_exit` keeps; then the RIB task, so that nothing a closing
//! session withdraws reaches the others (they close too, or, restarting gracefully, must keep
//! our routes); then the sessions, with Cease / Administrative Shutdown (RFC 4486 §4). With
//! graceful restart enabled every session is stopped for a restart: a neighbor that negotiated
//! the RFC 8538 N bit gets the Cease and keeps our routes (RFC 8538 §4); the others see the
//! connection close without a NOTIFICATION, which keeps them too (RFC 4724 §4.2).

use std::time::Duration;

use proto::session::StopReason;
use tracing::{info, warn};

use super::Daemon;
use crate::peer::PeerCommand;

/// How long stopping sessions may take to send their NOTIFICATIONs on shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

impl Daemon {
    pub(super) async fn shutdown(&mut self, rib_task: Option<tokio::task::JoinHandle<()>>) {
        // What waits for the FIB task (a changed `persist_on_exit`, say) goes before its stop.
        if let Some(mut outbox) = self.fib_outbox.take() {
            outbox.flush().await;
        }
        if let Some(fib) = self.fib.take() {
            match fib.stop().await {
                Ok(()) => info!("kernel FIB stopped"),
                Err(error) => warn!(%error, "kernel FIB stopped with an error"),
            }
        }
        if let Some(task) = rib_task {
            task.abort();
            let _ = task.await;
        }
        let reason = if self.config.global.graceful_restart.enabled {
            info!("stopping for a graceful restart: neighbors keep our routes");
            StopReason::Restart("bgpd is restarting".to_owned())
        } else {
            info!("stopping: closing every session");
            StopReason::AdministrativeShutdown("bgpd is shutting down".to_owned())
        };
        let peers = std::mem::take(&mut self.peers);
        let mut tasks = Vec::new();
        for (_, peer) in peers {
            let _ = peer
                .commands
                .send(PeerCommand::Shutdown(reason.clone()))
                .await;
            tasks.push(peer.task);
        }
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
            for task in tasks {
                let _ = task.await;
            }
        })
        .await;
        self.listeners.close_all();
        info!("stopped");
    }
}
