//! The listening sockets: one accept task each, feeding accepted connections to the daemon's
//! loop, which routes each to its neighbor's task (or closes it when it comes from no
//! configured neighbor). RFC 2385 TCP MD5 keys are set on the listeners too, or a keyed
//! neighbor's SYNs would be dropped.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::Daemon;
use crate::neighbor;
use crate::peer::PeerCommand;
use crate::socket;

/// How long an accept task pauses after a failed accept (out of descriptors, say).
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// The open listeners.
pub(super) struct Listeners {
    open: Vec<Listener>,
    /// Where accept tasks put connections (bounded: a full queue holds the accept task, and the
    /// kernel's backlog the neighbor's SYN).
    accepted: mpsc::Sender<(TcpStream, SocketAddr)>,
}

struct Listener {
    address: SocketAddr,
    socket: Arc<TcpListener>,
    task: tokio::task::JoinHandle<()>,
}

impl Listeners {
    pub fn new(accepted: mpsc::Sender<(TcpStream, SocketAddr)>) -> Listeners {
        Listeners {
            open: Vec::new(),
            accepted,
        }
    }

    /// Opens a listener and starts its accept task.
    pub fn open(&mut self, address: SocketAddr) -> std::io::Result<()> {
        let socket = Arc::new(socket::listen(address)?);
        let accepted = self.accepted.clone();
        let task_socket = Arc::clone(&socket);
        let task = tokio::spawn(async move {
            loop {
                match task_socket.accept().await {
                    Ok(connection) => {
                        if accepted.send(connection).await.is_err() {
                            return;
                        }
                    }
                    Err(error) => {
                        warn!(%address, %error, "accept failed");
                        tokio::time::sleep(ACCEPT_RETRY).await;
                    }
                }
            }
        });
        info!(%address, "listening");
        self.open.push(Listener {
            address,
            socket,
            task,
        });
        Ok(())
    }

    pub fn close(&mut self, address: SocketAddr) {
        self.open.retain(|listener| {
            let keep = listener.address != address;
            if !keep {
                info!(address = %listener.address, "no longer listening");
                listener.task.abort();
            }
            keep
        });
    }

    /// Sets (or with `None` removes) a neighbor's TCP MD5 key on the listeners of its family.
    pub fn set_key(&self, name: &str, ip: IpAddr, key: Option<&[u8]>) {
        for listener in self
            .open
            .iter()
            .filter(|l| l.address.is_ipv4() == ip.is_ipv4())
        {
            if let Err(error) = socket::set_md5_key(listener.socket.as_ref(), ip, key) {
                warn!(peer = %name, listener = %listener.address, %error, "cannot set TCP MD5 key on listener");
            }
        }
    }

    /// Stops accepting on every listener.
    pub fn close_all(&mut self) {
        for listener in self.open.drain(..) {
            listener.task.abort();
        }
    }
}

impl Daemon {
    /// Opens a listener with every neighbor's TCP MD5 key; a failure is logged and the rest of
    /// the reload goes on.
    pub(super) fn open_listener(&mut self, address: SocketAddr) {
        if let Err(error) = self.listeners.open(address) {
            warn!(%address, %error, "listener not opened");
            return;
        }
        for peer in self.peers.values() {
            if let Some(key) = &peer.settings.transport.md5_key {
                self.listeners
                    .set_key(&peer.settings.name, peer.settings.address.ip(), Some(key));
            }
        }
    }

    pub(super) fn route_incoming(&mut self, stream: TcpStream, remote: SocketAddr) {
        let peer = self
            .peers
            .values()
            .find(|p| neighbor::matches(&p.settings, &remote));
        match peer {
            Some(peer) => {
                if peer
                    .commands
                    .try_send(PeerCommand::Incoming(stream, remote))
                    .is_err()
                {
                    warn!(peer = %peer.settings.name, %remote, "peer task busy, connection dropped");
                }
            }
            None => {
                // Dropping the stream closes it.
                warn!(%remote, "connection from an address that is no configured neighbor closed");
            }
        }
    }
}
