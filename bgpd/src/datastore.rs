//! etcd as the daemon's second configuration source (the interface document's data model):
//! the file gives this node's own settings, the datastore gives the cluster — nodes, peers and
//! the peering mode — and `Config::combine` merges them into the configuration in force. The
//! source (`config::etcd`) keeps the last known good snapshot in `state_dir`, so a restart while
//! etcd is unreachable starts from it; this module only adapts it to the daemon.

use std::path::Path;

use config::etcd::{EtcdError, EtcdOptions, EtcdSource, NodeRegistration, Timing};
use config::source::{
    ConfigSource, Connection, DatastoreStatus, Origin, SnapshotUpdate, SourceEvent,
};
use config::{Config, ConfigError};
use proto::RouterId;
use tokio::sync::watch;
use tracing::warn;

/// The datastore source of a daemon whose configuration has `[etcd]`.
pub struct Datastore {
    source: EtcdSource,
    status: watch::Receiver<DatastoreStatus>,
    node: String,
    latest: Option<SnapshotUpdate>,
}

/// Why the datastore source cannot start.
#[derive(Debug, thiserror::Error)]
pub enum DatastoreError {
    #[error("etcd.node is not set and the host name cannot be read")]
    NoNodeName,
    #[error(transparent)]
    Etcd(#[from] EtcdError),
}

impl Datastore {
    /// Starts the source when the configuration has `[etcd]`. This node registers with its router
    /// id as its IPv4 address (the address its neighbors reach it at).
    pub fn start(
        config: &Config,
        config_path: &Path,
        router_id: RouterId,
    ) -> Result<Option<Datastore>, DatastoreError> {
        let Some(etcd) = &config.etcd else {
            return Ok(None);
        };
        let node = match &etcd.node {
            Some(node) => node.clone(),
            None => host_name().ok_or(DatastoreError::NoNodeName)?,
        };
        let registration = NodeRegistration {
            address_v4: Some(router_id.0),
            address_v6: None,
            asn: Some(config.global.asn),
            rr_cluster_id: config.global.cluster_id,
        };
        let options = EtcdOptions {
            node: node.clone(),
            state_dir: config.global.state_dir.clone(),
            base_dir: config_path.parent().unwrap_or(Path::new(".")).to_path_buf(),
            registration: Some(registration),
            timing: Timing::default(),
        };
        let source = EtcdSource::start(etcd, options)?;
        let status = source.status();
        Ok(Some(Datastore {
            source,
            status,
            node,
            latest: None,
        }))
    }

    /// The next event; `None` once the source has stopped for good.
    pub async fn next(&mut self) -> Option<SourceEvent> {
        self.source.next().await.ok()
    }

    /// Keeps a snapshot as the one in force and logs the objects it rejected.
    pub fn record(&mut self, update: SnapshotUpdate) {
        for rejection in &update.rejected {
            warn!(key = %rejection.key, revision = rejection.revision.0, reason = %rejection.reason(), "datastore object rejected; its previous version stays in force");
        }
        self.latest = Some(update);
    }

    /// The configuration in force: the file's combined with the latest snapshot.
    pub fn effective(&self, file: &Config) -> (Config, Vec<ConfigError>) {
        match &self.latest {
            Some(update) => file.combine(&self.node, &update.snapshot),
            None => (file.clone(), Vec::new()),
        }
    }

    pub fn connected(&self) -> bool {
        matches!(self.status.borrow().connection, Connection::Connected)
    }

    /// The revision in force, and whether it came from the saved cache.
    pub fn revision(&self) -> Option<(i64, bool)> {
        self.latest
            .as_ref()
            .map(|u| (u.revision.0, u.origin == Origin::Cache))
    }

    /// Keys whose latest value is rejected.
    pub fn rejected(&self) -> usize {
        self.latest.as_ref().map_or(0, |u| u.rejected.len())
    }
}

fn host_name() -> Option<String> {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is writable for its length; gethostname NUL-terminates within it.
    if unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) } != 0 {
        return None;
    }
    let end = buffer.iter().position(|b| *b == 0)?;
    String::from_utf8(buffer[..end].to_vec())
        .ok()
        .filter(|name| !name.is_empty())
}
