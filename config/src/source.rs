//! What a datastore source hands the daemon (design.md §4, invariant 8: sources deliver
//! validated snapshots). The source owns the connection; the daemon owns what it runs with,
//! and turns each [`SnapshotUpdate`] into a [`Config`](crate::Config) with
//! [`Config::combine`](crate::Config::combine) and [`Config::diff`](crate::Config::diff).
//!
//! The events are a closed enum delivered in order: the daemon applies snapshots and reports
//! the connection changes (`bgpctl show status`, a metric). The latest connection state can also
//! be read at any time, without consuming events, through [`DatastoreStatus`].

use std::fmt;
use std::future::Future;

use crate::datastore::Snapshot;
use crate::error::ConfigError;

/// An etcd revision: the store's logical clock, increased by every write (etcd's
/// `mvccpb.KeyValue.mod_revision`, `ResponseHeader.revision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Revision(pub i64);

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a snapshot comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// Read or watched from the datastore just now.
    Datastore,
    /// The last-known-good copy saved in `state_dir`, served while the datastore is
    /// unreachable at start.
    Cache,
}

/// A datastore object whose latest value was rejected. Its previous valid value, if there
/// was one, stays in force in the snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The full etcd key.
    pub key: String,
    /// The revision of the rejected value.
    pub revision: Revision,
    /// Never empty.
    pub errors: Vec<ConfigError>,
}

impl Rejection {
    /// The errors on one line, for a log field or a metric label.
    pub fn reason(&self) -> String {
        self.errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// A validated view of the datastore at one revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotUpdate {
    /// Every change up to and including this revision is in `snapshot`.
    pub revision: Revision,
    pub snapshot: Snapshot,
    /// Every key whose latest value is rejected, ordered by key.
    pub rejected: Vec<Rejection>,
    pub origin: Origin,
}

/// What a source says, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceEvent {
    /// The datastore is reachable again (or for the first time). A snapshot follows when
    /// anything changed while it was not.
    Connected,
    /// The datastore became unreachable; the last snapshot stays in force and the source
    /// retries with exponential back-off.
    Disconnected { reason: String },
    /// A new validated snapshot to run with.
    Snapshot(SnapshotUpdate),
}

/// The datastore connection, for `bgpctl show status` and the metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    Connected,
    /// Also the state before the first connection succeeds.
    Disconnected {
        reason: String,
    },
}

impl Connection {
    /// `connected` or `disconnected`, as `bgpctl show status` prints it (docs/interface.md).
    pub fn name(&self) -> &'static str {
        match self {
            Connection::Connected => "connected",
            Connection::Disconnected { .. } => "disconnected",
        }
    }
}

/// The latest state of a datastore source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatastoreStatus {
    pub connection: Connection,
    /// The revision of the last snapshot delivered, and where it came from.
    pub last: Option<(Revision, Origin)>,
    /// How many keys are rejected in that snapshot.
    pub rejected: usize,
}

/// Why a source cannot deliver any more events.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// Its task ended (it panicked, or the runtime is shutting down).
    #[error("the configuration source stopped")]
    Stopped,
}

/// A source of datastore snapshots (design.md §4).
pub trait ConfigSource {
    /// The next event. Cancel-safe: dropping the future loses no event, so it can sit in a
    /// `tokio::select!` beside other work.
    fn next(&mut self) -> impl Future<Output = Result<SourceEvent, SourceError>> + Send;
}
