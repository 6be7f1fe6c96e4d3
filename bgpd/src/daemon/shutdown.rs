//! Stopping (`SIGTERM`, `SIGINT`): the FIB first, so that the sessions' withdrawals never reach
//! a kernel whose routes `persist_on_exit` keeps; then the sessions, with Cease /
//! Administrative Shutdown (RFC 4486 §4), or, with graceful restart enabled, without a word
//! (RFC 4724 §4.2: neighbors keep our routes only when the TCP connection simply ends).

use std::time::Duration;

use proto::session::StopReason;
use tracing::{info, warn};

use super::Daemon;
use crate::peer::PeerCommand;

/// How long stopping sessions may take to send their NOTIFICATIONs on shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

impl Daemon {
    pub(super) async fn shutdown(&mut self) {
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
        if self.config.global.graceful_restart.enabled {
            // We do not offer the RFC 8538 N bit, so a Cease would make neighbors drop our
            // routes. The peer tasks end without a word; their connections close with them.
            info!("stopping for a graceful restart: sessions end without NOTIFICATION");
            for (_, peer) in std::mem::take(&mut self.peers) {
                peer.task.abort();
            }
            self.listeners.close_all();
            return;
        }
        info!("stopping: closing every session");
        let peers = std::mem::take(&mut self.peers);
        let mut tasks = Vec::new();
        for (_, peer) in peers {
            let reason = StopReason::AdministrativeShutdown("bgpd is shutting down".to_owned());
            let _ = peer.commands.send(PeerCommand::Shutdown(reason)).await;
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
