//! `config::etcd`: the etcd datastore source (docs/interface.md, "etcd data model"). The only
//! module of Starling that talks to etcd (design.md invariant 3).
//!
//! [`EtcdSource::start`] spawns one task that owns the connection and hands the daemon
//! [`SourceEvent`]s through a bounded queue ([`ConfigSource::next`]):
//!
//! - **Read, then watch.** A full read of everything under `<prefix>/` (in pages, all at the
//!   revision of the first page) and a watch from that revision + 1: no change is missed or
//!   seen twice. The watch responses at hand are applied together and become one snapshot,
//!   so a burst of writes does not mean a snapshot (and a save) per write.
//! - **Each object alone.** A bad value is logged, listed in [`SnapshotUpdate::rejected`]
//!   (key and reason, for a metric), and the key's previous value stays in force.
//! - **Reconnection** with exponential back-off and jitter. The watch resumes from the last
//!   revision seen when the store still has it (same cluster, revision not behind);
//!   otherwise, and when the watch is canceled because its revision was compacted, the source
//!   reads everything again.
//! - **Last known good.** Every snapshot from etcd is saved in `state_dir` before it is
//!   delivered ([`CACHE_FILE`]). When the first connection fails, the saved snapshot is
//!   delivered (with [`Origin::Cache`]) and the source keeps retrying. The saved values also
//!   seed the view, so that a key whose value is bad at start keeps its saved value.
//! - **Registration** (`register = true`): this node's own `/nodes/<name>` entry is written
//!   on start and after each reconnection, keeping the fields others set
//!   ([`NodeRegistration`]).
//! - TLS (CA, client certificate) and user/password authentication from `[etcd]`.
//!
//! Events in order: `Connected` then `Snapshot` after each successful (re)connection that read
//! everything, `Snapshot` per change, `Disconnected` when the connection is lost (once per
//! outage). When the queue is full the task waits, and stops reading the watch; etcd keeps
//! the events meanwhile.

mod backoff;
mod cache;
mod register;
mod view;

use std::convert::Infallible;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use etcd_client::{
    Certificate, Client, ConnectOptions, GetOptions, Identity, TlsOptions, WatchOptions,
    WatchResponse,
};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use cache::{CacheError, CACHE_FILE};
pub use register::NodeRegistration;

use self::backoff::Backoff;
use self::register::Registered;
use self::view::{Entry, View};
use crate::datastore::DatastoreKey;
use crate::model::Etcd;
use crate::source::{
    ConfigSource, Connection, DatastoreStatus, Origin, Revision, SnapshotUpdate, SourceError,
    SourceEvent,
};

/// Events waiting for the daemon. Each snapshot is complete, so a short queue suffices; when
/// it is full the source stops reading the watch (etcd buffers).
const EVENT_QUEUE: usize = 16;
/// Keys per page of a full read: keeps each response well under gRPC's 4 MiB default limit.
const READ_PAGE_SIZE: i64 = 1000;
/// Watch responses already received that are applied together before a snapshot goes out.
const MAX_BATCH: usize = 1000;
/// `mvccpb.Event.EventType` (etcd `api/mvccpb/kv.proto`).
const EVENT_PUT: i32 = 0;
const EVENT_DELETE: i32 = 1;

/// Timeouts and back-off. The defaults suit production; tests shorten them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    /// To open a connection (TCP and TLS) to an endpoint.
    pub connect_timeout: Duration,
    /// For each request (a read page, the registration, starting a watch); a request that
    /// does not answer in time counts as a lost connection.
    pub request_timeout: Duration,
    /// First delay before reconnecting; doubles after each failure.
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// HTTP/2 pings that detect a dead connection while the watch is idle. etcd refuses pings
    /// more often than every 5 s (`--grpc-keepalive-min-time`).
    pub keepalive_interval: Duration,
    pub keepalive_timeout: Duration,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            keepalive_interval: Duration::from_secs(10),
            keepalive_timeout: Duration::from_secs(5),
        }
    }
}

/// What the source needs besides the `[etcd]` section.
#[derive(Debug, Clone)]
pub struct EtcdOptions {
    /// This node's name in the datastore (`etcd.node`, or the host name).
    pub node: String,
    /// Where the last-known-good snapshot is kept (`global.state_dir`).
    pub state_dir: PathBuf,
    /// Relative `password_file`s of `/peers/<name>` objects are relative to this (the
    /// configuration file's directory).
    pub base_dir: PathBuf,
    /// Required when `etcd.register` is set; ignored otherwise.
    pub registration: Option<NodeRegistration>,
    pub timing: Timing,
}

#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    #[error("cannot read {path}: {source}")]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("endpoints mix http:// and https://; use one scheme")]
    MixedSchemes,
    #[error("tls is configured but the endpoints are http://; use https://")]
    TlsWithoutHttps,
    #[error("{0:?} is not a valid node name")]
    InvalidNode(String),
    #[error("register = true needs this node's registration (at least one address)")]
    NoRegistration,
    #[error("the etcd source needs a tokio runtime")]
    NoRuntime,
    #[error("cannot {what}: {source}")]
    Request {
        what: &'static str,
        #[source]
        source: etcd_client::Error,
    },
    /// etcd ended a TLS connection on which we present a client certificate. TLS 1.3 lets a
    /// server refuse the client's certificate only after the client has finished its side of
    /// the handshake, so a refusal reaches us under the first request, as an alert, a closed
    /// connection or a broken pipe, whichever wins the race.
    #[error(
        "cannot {what}: etcd ended the TLS connection; it most likely refused our client \
         certificate ([etcd] tls.cert must be signed by a CA etcd trusts): {source}"
    )]
    ClientCertificateRefused {
        what: &'static str,
        #[source]
        source: etcd_client::Error,
    },
    #[error("cannot {what}: no answer within {after:?}")]
    Timeout { what: &'static str, after: Duration },
    #[error("etcd answered without a response header")]
    MissingHeader,
    #[error("the watch was canceled: {reason}")]
    WatchCanceled { reason: String },
    #[error("the watch stream ended")]
    WatchClosed,
    #[error("this node's entry kept changing during {attempts} registration attempts")]
    RegisterConflict { attempts: u32 },
}

impl EtcdError {
    /// Names the likely cause when etcd closes a connection on which we present a client
    /// certificate (`client_certificate`); any other error is returned as it is.
    fn explained(self, client_certificate: bool) -> EtcdError {
        match self {
            EtcdError::Request { what, source } if client_certificate && closed(&source) => {
                EtcdError::ClientCertificateRefused { what, source }
            }
            other => other,
        }
    }
}

/// gRPC statuses (grpc/doc/statuscodes.md) tonic gives a request whose connection fails under
/// it: CANCELLED when the connection closes, UNKNOWN for any other transport error (a TLS
/// alert, a broken pipe). An unreachable etcd is UNAVAILABLE instead.
const GRPC_CANCELLED: i32 = 1;
const GRPC_UNKNOWN: i32 = 2;

/// The connection under a request failed after it was established.
fn closed(error: &etcd_client::Error) -> bool {
    matches!(error, etcd_client::Error::GRpcStatus(status)
        if [GRPC_CANCELLED, GRPC_UNKNOWN].contains(&i32::from(status.code())))
}

/// The etcd datastore source: a handle on its task. Dropping it stops the task.
#[derive(Debug)]
pub struct EtcdSource {
    events: mpsc::Receiver<SourceEvent>,
    status: watch::Receiver<DatastoreStatus>,
    task: JoinHandle<()>,
}

impl EtcdSource {
    /// Checks the settings and spawns the source on the current tokio runtime. Nothing is
    /// sent to etcd before this returns: connection problems arrive as events.
    pub fn start(etcd: &Etcd, options: EtcdOptions) -> Result<EtcdSource, EtcdError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| EtcdError::NoRuntime)?;
        let connect = connect_options(etcd, &options.timing)?;
        let node = crate::validate::node_name(&options.node)
            .map_err(|_| EtcdError::InvalidNode(options.node.clone()))?;
        let node_key = DatastoreKey::Node(node).to_key(&etcd.prefix);
        let registration = match (etcd.register, options.registration) {
            (false, _) => None,
            (true, None) => return Err(EtcdError::NoRegistration),
            (true, Some(registration))
                if registration.address_v4.is_none() && registration.address_v6.is_none() =>
            {
                return Err(EtcdError::NoRegistration)
            }
            (true, Some(registration)) => Some((node_key, registration)),
        };
        let (event_sender, events) = mpsc::channel(EVENT_QUEUE);
        let (status_sender, status) = watch::channel(DatastoreStatus {
            connection: Connection::Disconnected {
                reason: "not connected yet".to_owned(),
            },
            last: None,
            rejected: 0,
        });
        let key_prefix = format!("{}/", etcd.prefix);
        let worker = Worker {
            endpoints: etcd.endpoints.clone(),
            connect,
            client_certificate: client_certificate(etcd),
            range_end: range_end(key_prefix.as_bytes()),
            key_prefix,
            view: View::new(&etcd.prefix, options.base_dir),
            prefix: etcd.prefix.clone(),
            registration,
            state_dir: options.state_dir,
            backoff: Backoff::new(options.timing.backoff_initial, options.timing.backoff_max),
            timing: options.timing,
            cluster_id: None,
            announced: Announced::Nothing,
            from_cache: None,
            events: event_sender,
            status: status_sender,
        };
        let task = runtime.spawn(worker.run());
        Ok(EtcdSource {
            events,
            status,
            task,
        })
    }

    /// The connection state and last revision, updated as events are queued.
    pub fn status(&self) -> watch::Receiver<DatastoreStatus> {
        self.status.clone()
    }
}

impl ConfigSource for EtcdSource {
    async fn next(&mut self) -> Result<SourceEvent, SourceError> {
        self.events.recv().await.ok_or(SourceError::Stopped)
    }
}

impl Drop for EtcdSource {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Connects once and reads the revision of the prefix: `bgpd --check`'s reachability test.
pub async fn probe(etcd: &Etcd, timing: &Timing) -> Result<Revision, EtcdError> {
    read_revision(etcd, timing)
        .await
        .map_err(|error| error.explained(client_certificate(etcd)))
}

async fn read_revision(etcd: &Etcd, timing: &Timing) -> Result<Revision, EtcdError> {
    let options = connect_options(etcd, timing)?;
    let mut client = timed(
        timing.connect_timeout,
        "connect to etcd",
        Client::connect(&etcd.endpoints, Some(options)),
    )
    .await?;
    let key_prefix = format!("{}/", etcd.prefix);
    let count = GetOptions::new()
        .with_range(range_end(key_prefix.as_bytes()))
        .with_count_only();
    let response = timed(
        timing.request_timeout,
        "read the datastore",
        client.get(key_prefix, Some(count)),
    )
    .await?;
    let header = response.header().ok_or(EtcdError::MissingHeader)?;
    Ok(Revision(header.revision()))
}

/// Why a session ended.
enum Interrupt {
    Failed(EtcdError),
    /// The daemon dropped its handle.
    Stopped,
}

impl From<EtcdError> for Interrupt {
    fn from(error: EtcdError) -> Interrupt {
        Interrupt::Failed(error)
    }
}

/// How a watch ended without an error.
enum WatchEnd {
    /// Its start revision is gone: read everything again.
    Compacted(Revision),
}

/// The last connection event sent: each change is announced once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Announced {
    Nothing,
    Connected,
    Disconnected,
}

/// The task that owns the connection.
struct Worker {
    endpoints: Vec<String>,
    connect: ConnectOptions,
    /// We present a client certificate: a closed connection probably means etcd refused it.
    client_certificate: bool,
    prefix: String,
    /// `<prefix>/`, and the end of its key range.
    key_prefix: String,
    range_end: Vec<u8>,
    view: View,
    /// This node's key and registration, when `register = true`.
    registration: Option<(String, NodeRegistration)>,
    state_dir: PathBuf,
    timing: Timing,
    backoff: Backoff,
    /// The cluster the view's revision belongs to; `None` until a full read (a cached
    /// revision is not resumed from).
    cluster_id: Option<u64>,
    /// The last connection event sent.
    announced: Announced,
    /// The saved snapshot, delivered if the first connection fails.
    from_cache: Option<SnapshotUpdate>,
    events: mpsc::Sender<SourceEvent>,
    status: watch::Sender<DatastoreStatus>,
}

impl Worker {
    async fn run(mut self) {
        self.load_cache();
        // Bounded by the daemon: the loop ends when it drops the source.
        loop {
            let error = match self.session().await {
                Err(Interrupt::Stopped) => return,
                Err(Interrupt::Failed(error)) => error.explained(self.client_certificate),
                Ok(never) => match never {},
            };
            let delay = self.backoff.next_delay();
            if self.disconnected(&error).await.is_err() {
                return;
            }
            if let Some(update) = self.from_cache.take() {
                if self.deliver(update).await.is_err() {
                    return;
                }
            }
            tracing::debug!(%error, ?delay, "etcd: retrying");
            tokio::time::sleep(delay).await;
        }
    }

    /// Seeds the view with the saved snapshot and keeps it for delivery.
    fn load_cache(&mut self) {
        match cache::load(&self.state_dir, &self.prefix) {
            Ok(Some(saved)) => {
                self.view.replace(&saved.entries, saved.revision);
                self.from_cache = self.view.update(Origin::Cache);
                tracing::info!(
                    revision = saved.revision.0,
                    objects = saved.entries.len(),
                    "loaded the last-known-good datastore snapshot"
                );
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "ignoring the saved datastore snapshot"),
        }
    }

    /// One connection: register, read (or resume), watch; returns only with an error.
    async fn session(&mut self) -> Result<Infallible, Interrupt> {
        let mut client = timed(
            self.timing.connect_timeout,
            "connect to etcd",
            Client::connect(&self.endpoints, Some(self.connect.clone())),
        )
        .await?;
        self.register(&mut client).await;
        let mut resume = self.resume_point(&mut client).await?;
        loop {
            let from = match resume.take() {
                Some(revision) => {
                    self.connected().await?;
                    revision
                }
                None => {
                    let (entries, revision, cluster_id) = self.full_read(&mut client).await?;
                    self.connected().await?;
                    self.view.replace(&entries, revision);
                    self.cluster_id = Some(cluster_id);
                    self.publish().await?;
                    revision
                }
            };
            match self.watch(&mut client, from).await? {
                WatchEnd::Compacted(compacted) => tracing::info!(
                    revision = from.0,
                    compacted = compacted.0,
                    "etcd compacted the watched revision; reading everything again"
                ),
            }
        }
    }

    async fn register(&mut self, client: &mut Client) {
        let Some((key, registration)) = &self.registration else {
            return;
        };
        match register::register(client, key, registration, self.timing.request_timeout).await {
            Ok(Registered::Written(revision)) => {
                tracing::info!(key = %key, revision = revision.0, "registered this node");
            }
            Ok(Registered::Unchanged) => {
                tracing::debug!(key = %key, "this node's entry is up to date");
            }
            // Not fatal: the node runs without its entry until the next reconnection, and a
            // lost connection shows in the read that follows.
            Err(error) => tracing::warn!(key = %key, %error, "cannot register this node"),
        }
    }

    /// The revision to resume watching from, if the store still is the one the view comes
    /// from and has not gone back in time (a restore from backup, a new cluster).
    async fn resume_point(&mut self, client: &mut Client) -> Result<Option<Revision>, EtcdError> {
        let (Some(cluster_id), Some(revision)) = (self.cluster_id, self.view.revision()) else {
            return Ok(None);
        };
        let count = GetOptions::new()
            .with_range(self.range_end.clone())
            .with_count_only();
        let response = timed(
            self.timing.request_timeout,
            "read the datastore revision",
            client.get(self.key_prefix.clone(), Some(count)),
        )
        .await?;
        let header = response.header().ok_or(EtcdError::MissingHeader)?;
        if header.cluster_id() != cluster_id || header.revision() < revision.0 {
            tracing::info!(
                cluster_id = header.cluster_id(),
                revision = header.revision(),
                seen = revision.0,
                "etcd is not the store last seen; reading everything again"
            );
            return Ok(None);
        }
        Ok(Some(revision))
    }

    /// Every key under the prefix, at one revision; with that revision and the cluster id.
    async fn full_read(
        &mut self,
        client: &mut Client,
    ) -> Result<(Vec<Entry>, Revision, u64), EtcdError> {
        let mut entries = Vec::new();
        let mut start = self.key_prefix.clone().into_bytes();
        let mut at: Option<(Revision, u64)> = None;
        // Bounded: each page starts strictly after the previous one's last key.
        loop {
            let mut page = GetOptions::new()
                .with_range(self.range_end.clone())
                .with_limit(READ_PAGE_SIZE);
            if let Some((revision, _)) = at {
                page = page.with_revision(revision.0);
            }
            let mut response = timed(
                self.timing.request_timeout,
                "read the datastore",
                client.get(start.clone(), Some(page)),
            )
            .await?;
            let header = response.header().ok_or(EtcdError::MissingHeader)?;
            let first = (Revision(header.revision()), header.cluster_id());
            at.get_or_insert(first);
            let more = response.more();
            let kvs = response.take_kvs();
            let Some(last) = kvs.last() else { break };
            start = last.key().to_vec();
            start.push(0);
            entries.extend(kvs.into_iter().map(|kv| Entry {
                revision: Revision(kv.mod_revision()),
                key: kv.key().to_vec(),
                value: kv.value().to_vec(),
            }));
            if !more {
                break;
            }
        }
        let (revision, cluster_id) = at.ok_or(EtcdError::MissingHeader)?;
        tracing::debug!(
            revision = revision.0,
            keys = entries.len(),
            "read the datastore"
        );
        Ok((entries, revision, cluster_id))
    }

    /// Watches from `from + 1`, delivering a snapshot per response with events.
    async fn watch(&mut self, client: &mut Client, from: Revision) -> Result<WatchEnd, Interrupt> {
        let options = WatchOptions::new()
            .with_range(self.range_end.clone())
            .with_start_revision(from.0 + 1)
            .with_progress_notify();
        let mut stream = timed(
            self.timing.request_timeout,
            "start the watch",
            client.watch(self.key_prefix.clone(), Some(options)),
        )
        .await?;
        // Bounded by the connection: keepalive pings end a dead stream.
        loop {
            let mut next = Some(watch_message(stream.message().await)?);
            let mut changed = false;
            let mut batch = 0;
            // A burst (nodes registering after a cluster restart, or responses queued while
            // the daemon was busy) becomes one snapshot, not one per write.
            while let Some(response) = next.take() {
                if let Some(end) = self.apply(&response)? {
                    return Ok(end);
                }
                changed |= !response.events().is_empty();
                batch += 1;
                if batch < MAX_BATCH {
                    // `message` is cancel-safe (a poll of the stream): nothing is lost when
                    // nothing is ready.
                    next = tokio::select! {
                        biased;
                        message = stream.message() => Some(watch_message(message)?),
                        () = std::future::ready(()) => None,
                    };
                }
            }
            if changed {
                self.publish().await?;
            }
        }
    }

    /// Applies one watch response; `Some` when the watch ended.
    fn apply(&mut self, response: &WatchResponse) -> Result<Option<WatchEnd>, EtcdError> {
        if response.canceled() {
            // etcd: "the watcher tried to watch at a compacted revision".
            if response.compact_revision() > 0 {
                return Ok(Some(WatchEnd::Compacted(Revision(
                    response.compact_revision(),
                ))));
            }
            return Err(EtcdError::WatchCanceled {
                reason: response.cancel_reason().to_owned(),
            });
        }
        if response.created() {
            // The watch works: the connection is good for more than one read.
            self.backoff.reset();
        }
        // No events: a creation or progress notification.
        for event in response.events() {
            let Some(kv) = event.kv() else {
                tracing::warn!("etcd sent a watch event without a key; ignored");
                continue;
            };
            let revision = Revision(kv.mod_revision());
            match event.0.r#type {
                EVENT_PUT => self.view.put(&Entry {
                    key: kv.key().to_vec(),
                    value: kv.value().to_vec(),
                    revision,
                }),
                EVENT_DELETE => self.view.delete(kv.key(), revision),
                other => tracing::warn!(kind = other, "unknown etcd event type; ignored"),
            }
        }
        Ok(None)
    }

    /// Saves the view's snapshot and delivers it.
    async fn publish(&mut self) -> Result<(), Interrupt> {
        let Some(update) = self.view.update(Origin::Datastore) else {
            return Ok(());
        };
        self.save(update.revision).await;
        self.deliver(update).await
    }

    /// Saves what is in force, off the async threads; failures are logged, not fatal.
    async fn save(&self, revision: Revision) {
        let bytes = match cache::encode(&self.prefix, revision, self.view.in_force()) {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::warn!(%error, "cannot save the datastore snapshot");
                return;
            }
        };
        let dir = self.state_dir.clone();
        match tokio::task::spawn_blocking(move || cache::write(&dir, &bytes)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "cannot save the datastore snapshot"),
            Err(error) => tracing::warn!(%error, "cannot save the datastore snapshot"),
        }
    }

    async fn deliver(&mut self, update: SnapshotUpdate) -> Result<(), Interrupt> {
        self.status.send_modify(|status| {
            status.last = Some((update.revision, update.origin));
            status.rejected = update.rejected.len();
        });
        self.emit(SourceEvent::Snapshot(update)).await
    }

    async fn connected(&mut self) -> Result<(), Interrupt> {
        // Once etcd answered, the saved snapshot is history.
        self.from_cache = None;
        if self.announced == Announced::Connected {
            return Ok(());
        }
        self.announced = Announced::Connected;
        tracing::info!(endpoints = ?self.endpoints, "connected to etcd");
        self.status
            .send_modify(|status| status.connection = Connection::Connected);
        self.emit(SourceEvent::Connected).await
    }

    async fn disconnected(&mut self, error: &EtcdError) -> Result<(), Interrupt> {
        if self.announced == Announced::Disconnected {
            return Ok(());
        }
        self.announced = Announced::Disconnected;
        let reason = error.to_string();
        tracing::warn!(%reason, "etcd unreachable; keeping the last snapshot and retrying");
        self.status.send_modify(|status| {
            status.connection = Connection::Disconnected {
                reason: reason.clone(),
            }
        });
        self.emit(SourceEvent::Disconnected { reason }).await
    }

    async fn emit(&self, event: SourceEvent) -> Result<(), Interrupt> {
        self.events
            .send(event)
            .await
            .map_err(|_| Interrupt::Stopped)
    }
}

/// etcd-client options from `[etcd]`: TLS for `https://` endpoints, and the user.
fn connect_options(etcd: &Etcd, timing: &Timing) -> Result<ConnectOptions, EtcdError> {
    let mut options = ConnectOptions::new()
        .with_connect_timeout(timing.connect_timeout)
        .with_keep_alive(timing.keepalive_interval, timing.keepalive_timeout)
        // A member cut off from its cluster's leader cancels our watch instead of leaving it
        // silently stale.
        .with_require_leader(true);
    let https = etcd
        .endpoints
        .iter()
        .filter(|endpoint| endpoint.starts_with("https://"))
        .count();
    if https != 0 && https != etcd.endpoints.len() {
        return Err(EtcdError::MixedSchemes);
    }
    match (&etcd.tls, https) {
        (Some(_), 0) => return Err(EtcdError::TlsWithoutHttps),
        (None, 0) => {}
        (tls, _) => {
            let mut config = TlsOptions::new();
            config = match tls.as_ref().and_then(|tls| tls.ca.as_deref()) {
                Some(ca) => config.ca_certificate(Certificate::from_pem(read(ca)?)),
                None => config.with_native_roots(),
            };
            if let Some((cert, key)) = tls.as_ref().and_then(|tls| tls.identity.as_ref()) {
                config = config.identity(Identity::from_pem(read(cert)?, read(key)?));
            }
            options = options.with_tls(config);
        }
    }
    if let Some(auth) = &etcd.auth {
        options = options
            .with_user(auth.username.clone(), auth.password.expose())
            // Simple tokens expire (5 min by default); a long watch outlives them.
            .with_auto_token_refresh(true);
    }
    Ok(options)
}

/// Whether we present a client certificate (mutual TLS).
fn client_certificate(etcd: &Etcd) -> bool {
    etcd.tls.as_ref().is_some_and(|tls| tls.identity.is_some())
}

fn read(path: &Path) -> Result<Vec<u8>, EtcdError> {
    std::fs::read(path).map_err(|source| EtcdError::ReadFile {
        path: path.to_owned(),
        source,
    })
}

/// The end of the key range of every key starting with `prefix` (etcd's `GetPrefixRangeEnd`:
/// the prefix with its last byte below 0xff incremented and the rest dropped).
fn range_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return end;
        }
    }
    // All 0xff: etcd's "\0" means "to the end of the keyspace".
    vec![0]
}

/// A watch stream's next response, or why there is none.
fn watch_message(
    message: Result<Option<WatchResponse>, etcd_client::Error>,
) -> Result<WatchResponse, EtcdError> {
    message
        .map_err(|source| EtcdError::Request {
            what: "watch the datastore",
            source,
        })?
        .ok_or(EtcdError::WatchClosed)
}

/// Runs an etcd request with a deadline. etcd-client's balanced channel can wait forever for
/// an endpoint to become ready, so every request that must answer has one.
async fn timed<T>(
    limit: Duration,
    what: &'static str,
    request: impl Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, EtcdError> {
    match tokio::time::timeout(limit, request).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(source)) => Err(EtcdError::Request { what, source }),
        Err(_) => Err(EtcdError::Timeout { what, after: limit }),
    }
}

#[cfg(test)]
mod tests {
    use super::range_end;

    #[test]
    fn range_ends_follow_etcd() {
        for (prefix, end) in [
            (&b"/starling/v1/"[..], &b"/starling/v10"[..]),
            (b"a\xff", b"b"),
            (b"\xff\xff", b"\x00"),
        ] {
            assert_eq!(range_end(prefix), end, "prefix {prefix:?}");
        }
    }
}
