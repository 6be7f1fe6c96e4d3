//! The etcd source against a real etcd (see `support`): each test is a script of datastore
//! writes, server outages and expected events, run by one `check` helper.

mod support;

use std::fs;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use config::datastore::Snapshot;
use config::etcd::{self, EtcdOptions, EtcdSource, NodeRegistration, Timing};
use config::source::{ConfigSource, Origin, Revision, SnapshotUpdate, SourceEvent};
use config::Config;
use etcd_client::{Client, CompactionOptions, Txn, TxnOp};
use proto::{Asn, ClusterId};
use support::{Must, TestEtcd};

const PREFIX: &str = "/starling/v1";
const NODE: &str = "me";
const USER: &str = "starling";
const PASSWORD: &str = "s3cret";
/// How long an expected event may take: reconnection back-off is at most `timing().backoff_max`.
const EVENT_WAIT: Duration = Duration::from_secs(10);
/// How long `Quiet` listens for an unexpected event.
const QUIET: Duration = Duration::from_millis(500);

/// Short timeouts and back-off so that outages resolve quickly.
fn timing() -> Timing {
    Timing {
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(2),
        backoff_initial: Duration::from_millis(50),
        backoff_max: Duration::from_millis(400),
        ..Timing::default()
    }
}

const CONFIG: &str = r#"{"asn":64512,"mode":"mesh"}"#;
const A1: &str = r#"{"address_v4":"10.0.0.1"}"#;
const A2: &str = r#"{"address_v4":"10.0.0.2"}"#;
const B: &str = r#"{"address_v4":"10.0.0.11"}"#;
const C: &str = r#"{"address_v4":"10.0.0.12"}"#;
const BAD: &str = r#"{"address_v4":"ten"}"#;
const PEER: &str = r#"{"address":"192.0.2.1","asn":65000,"nodes":"all"}"#;

#[derive(Clone, Copy)]
enum Step {
    /// Writes through the admin port; keys are relative to the prefix.
    Put(&'static str, &'static str),
    /// Puts in one transaction (one revision).
    Puts(&'static [(&'static str, &'static str)]),
    Delete(&'static str),
    /// Puts nodes `n0`…, one write each, without reading events meanwhile.
    Burst(usize),
    /// Snapshots arrive until one holds this many nodes, in fewer than `at_most` events.
    Converges {
        nodes: usize,
        at_most: usize,
    },
    /// Compacts the store at its current revision.
    Compact,
    /// etcd dies.
    Kill,
    /// etcd runs, but only on the admin port: the source cannot reach it.
    Isolate,
    /// etcd runs on both ports.
    Heal,
    StartSource,
    StopSource,
    Expect(Want),
    /// No event for a while.
    Quiet,
    /// The source's status says `connected` or `disconnected`.
    Status(&'static str),
    /// The key holds this JSON value (compared as JSON).
    Stored(&'static str, &'static str),
}

#[derive(Clone, Copy, Debug)]
enum Want {
    Connected,
    /// With a reason containing this text.
    Disconnected(&'static str),
    /// The snapshot described by `describe`, its rejected keys, where it comes from. A
    /// snapshot from etcd is at the revision of the script's last write (or later, when the
    /// source registers itself).
    Snapshot {
        objects: &'static [&'static str],
        rejected: &'static [&'static str],
        origin: Origin,
    },
}

const fn snapshot(objects: &'static [&'static str]) -> Step {
    Step::Expect(Want::Snapshot {
        objects,
        rejected: &[],
        origin: Origin::Datastore,
    })
}

/// How the source is set up.
#[derive(Clone, Copy, Default)]
struct Setup {
    tls: bool,
    /// Turn authentication on, and log in with this password.
    auth: Option<&'static str>,
    register: bool,
}

struct Harness {
    etcd: TestEtcd,
    setup: Setup,
    /// Shared by the sources of one script, so that one finds what the previous saved.
    state_dir: tempfile::TempDir,
    source: Option<EtcdSource>,
    last_write: Revision,
}

/// Runs `steps`; skipped (with a message) when etcd is not installed.
async fn check(setup: Setup, steps: &[Step]) {
    let Some(mut etcd) = TestEtcd::start(setup.tls).await else {
        return;
    };
    if setup.auth.is_some() {
        etcd.enable_auth(USER, PASSWORD, PREFIX);
    }
    // A new store is at revision 1 before any write.
    let status = etcd.admin().await.status().await.must("etcd status");
    let mut harness = Harness {
        etcd,
        setup,
        state_dir: tempfile::tempdir().must("state directory"),
        source: None,
        last_write: Revision(status.header().map_or(0, |h| h.revision())),
    };
    for (index, step) in steps.iter().enumerate() {
        harness.step(*step, index + 1).await;
    }
}

impl Harness {
    async fn step(&mut self, step: Step, number: usize) {
        let at = format!("step {number}");
        match step {
            Step::Put(key, value) => {
                let response = self.admin().await.put(full(key), value, None).await;
                self.wrote(response.must(&at).header().map(|h| h.revision()));
            }
            Step::Puts(pairs) => {
                let puts: Vec<TxnOp> = pairs
                    .iter()
                    .map(|(key, value)| TxnOp::put(full(key), *value, None))
                    .collect();
                let response = self.admin().await.txn(Txn::new().and_then(puts)).await;
                self.wrote(response.must(&at).header().map(|h| h.revision()));
            }
            Step::Delete(key) => {
                let response = self.admin().await.delete(full(key), None).await;
                self.wrote(response.must(&at).header().map(|h| h.revision()));
            }
            Step::Burst(count) => {
                let mut admin = self.admin().await;
                for n in 0..count {
                    let value = format!(r#"{{"address_v4":"10.1.0.{n}"}}"#);
                    let response = admin.put(full(&format!("/nodes/n{n}")), value, None).await;
                    self.wrote(response.must(&at).header().map(|h| h.revision()));
                }
            }
            Step::Converges { nodes, at_most } => {
                for _ in 0..at_most {
                    let event = tokio::time::timeout(EVENT_WAIT, self.source(&at).next()).await;
                    let Ok(event) = event else {
                        panic!("{at}: no event within {EVENT_WAIT:?}");
                    };
                    match event.must(&at) {
                        SourceEvent::Snapshot(update) if update.snapshot.nodes.len() == nodes => {
                            self.check_revision(&update, &at);
                            return;
                        }
                        SourceEvent::Snapshot(_) => {}
                        other => panic!("{at}: expected a snapshot, got {other:?}"),
                    }
                }
                panic!("{at}: no snapshot with {nodes} nodes in {at_most} events");
            }
            Step::Compact => {
                let options = CompactionOptions::new().with_physical();
                let mut admin = self.admin().await;
                admin
                    .compact(self.last_write.0, Some(options))
                    .await
                    .must(&at);
            }
            Step::Kill => self.etcd.kill(),
            Step::Isolate => self.etcd.run(false).await,
            Step::Heal => self.etcd.run(true).await,
            Step::StartSource => {
                let source = EtcdSource::start(&self.etcd_config(), self.options());
                self.source = Some(source.must(&at));
            }
            Step::StopSource => self.source = None,
            Step::Expect(want) => {
                let event = tokio::time::timeout(EVENT_WAIT, self.source(&at).next()).await;
                let Ok(event) = event else {
                    panic!("{at}: no event within {EVENT_WAIT:?}, expected {want:?}");
                };
                self.expect(want, event.must(&at), &at);
            }
            Step::Quiet => {
                let event = tokio::time::timeout(QUIET, self.source(&at).next()).await;
                if let Ok(event) = event {
                    panic!("{at}: expected no event, got {event:?}");
                }
            }
            Step::Status(want) => {
                let status = self.source(&at).status().borrow().clone();
                assert_eq!(status.connection.name(), want, "{at}: {status:?}");
            }
            Step::Stored(key, want) => {
                let mut response = self.admin().await.get(full(key), None).await.must(&at);
                let kvs = response.take_kvs();
                let Some(kv) = kvs.first() else {
                    panic!("{at}: {key} is missing");
                };
                let got: serde_json::Value = serde_json::from_slice(kv.value()).must(&at);
                let want: serde_json::Value = serde_json::from_str(want).must(&at);
                assert_eq!(got, want, "{at}: value of {key}");
            }
        }
    }

    fn expect(&self, want: Want, event: SourceEvent, at: &str) {
        match (want, event) {
            (Want::Connected, SourceEvent::Connected) => {}
            (Want::Disconnected(text), SourceEvent::Disconnected { reason }) => {
                assert!(
                    reason.contains(text),
                    "{at}: reason {reason:?} lacks {text:?}"
                );
            }
            (
                Want::Snapshot {
                    objects,
                    rejected,
                    origin,
                },
                SourceEvent::Snapshot(update),
            ) => {
                assert_eq!(describe(&update.snapshot), objects, "{at}: objects");
                let got: Vec<String> = update.rejected.iter().map(|r| r.key.clone()).collect();
                let want: Vec<String> = rejected.iter().map(|key| full(key)).collect();
                assert_eq!(got, want, "{at}: rejected keys");
                assert_eq!(update.origin, origin, "{at}: origin");
                self.check_revision(&update, at);
            }
            (want, event) => panic!("{at}: expected {want:?}, got {event:?}"),
        }
    }

    fn check_revision(&self, update: &SnapshotUpdate, at: &str) {
        if self.setup.register {
            assert!(update.revision >= self.last_write, "{at}: {update:?}");
        } else {
            assert_eq!(update.revision, self.last_write, "{at}: revision");
        }
    }

    fn wrote(&mut self, revision: Option<i64>) {
        self.last_write = Revision(revision.unwrap_or_default());
    }

    fn source(&mut self, at: &str) -> &mut EtcdSource {
        match &mut self.source {
            Some(source) => source,
            None => panic!("{at}: no source running"),
        }
    }

    async fn admin(&self) -> Client {
        self.etcd.admin().await
    }

    /// The `[etcd]` section, through the real configuration loader.
    fn etcd_config(&self) -> config::Etcd {
        let mut toml = format!(
            "[global]\nasn = 64512\n[etcd]\nendpoints = [\"{}\"]\nprefix = \"{PREFIX}\"\n\
             node = \"{NODE}\"\nregister = {}\n",
            self.etcd.public_endpoint(),
            self.setup.register,
        );
        if let Some(tls) = self.etcd.tls() {
            toml += &format!(
                "tls = {{ ca = {:?}, cert = {:?}, key = {:?} }}\n",
                tls.ca, tls.client_cert, tls.client_key
            );
        }
        if let Some(password) = self.setup.auth {
            let file = self.etcd.dir().join("etcd-password");
            fs::write(&file, password).must("write the password file");
            toml += &format!("username = \"{USER}\"\npassword_file = {file:?}\n");
        }
        let config = Config::from_toml(&toml, "bgpd.toml", Path::new("/")).must("configuration");
        match config.etcd {
            Some(etcd) => etcd,
            None => panic!("no [etcd] in {toml}"),
        }
    }

    fn options(&self) -> EtcdOptions {
        EtcdOptions {
            node: NODE.to_owned(),
            state_dir: self.state_dir.path().to_owned(),
            base_dir: self.etcd.dir().to_owned(),
            registration: Some(NodeRegistration {
                address_v4: Some(Ipv4Addr::new(10, 0, 0, 100)),
                address_v6: None,
                asn: Some(Asn(64512)),
                rr_cluster_id: Some(ClusterId(Ipv4Addr::new(244, 0, 0, 1))),
            }),
            timing: timing(),
        }
    }
}

fn full(key: &str) -> String {
    format!("{PREFIX}{key}")
}

/// One line per object: `config`, `node NAME ADDRESS`, `peer NAME`.
fn describe(snapshot: &Snapshot) -> Vec<String> {
    let mut lines = Vec::new();
    if snapshot.cluster.is_some() {
        lines.push("config".to_owned());
    }
    for node in snapshot.nodes.values() {
        let address = node.address_v4.map(|a| a.to_string()).unwrap_or_default();
        lines.push(format!("node {} {address}", node.name));
    }
    for peer in snapshot.peers.keys() {
        lines.push(format!("peer {peer}"));
    }
    lines
}

#[tokio::test]
async fn full_read_then_watch() {
    check(
        Setup::default(),
        &[
            Step::Put("/config", CONFIG),
            Step::Put("/nodes/a", A1),
            Step::Put("/nodes/b", B),
            Step::Put("/peers/tor1", PEER),
            Step::StartSource,
            Step::Expect(Want::Connected),
            snapshot(&["config", "node a 10.0.0.1", "node b 10.0.0.11", "peer tor1"]),
            Step::Status("connected"),
            Step::Put("/nodes/c", C),
            snapshot(&[
                "config",
                "node a 10.0.0.1",
                "node b 10.0.0.11",
                "node c 10.0.0.12",
                "peer tor1",
            ]),
            Step::Delete("/nodes/a"),
            snapshot(&[
                "config",
                "node b 10.0.0.11",
                "node c 10.0.0.12",
                "peer tor1",
            ]),
            Step::Delete("/config"),
            snapshot(&["node b 10.0.0.11", "node c 10.0.0.12", "peer tor1"]),
            Step::Quiet,
        ],
    )
    .await;
}

/// The watch is restarted from the last revision seen + 1: changes made while the source
/// could not reach etcd arrive in order, and nothing is delivered twice.
#[tokio::test]
async fn watch_resumes_without_gap_or_duplicate() {
    check(
        Setup::default(),
        &[
            Step::Put("/nodes/a", A1),
            Step::StartSource,
            Step::Expect(Want::Connected),
            snapshot(&["node a 10.0.0.1"]),
            // An outage without changes: reconnecting delivers nothing new.
            Step::Isolate,
            Step::Expect(Want::Disconnected("")),
            Step::Heal,
            Step::Expect(Want::Connected),
            Step::Quiet,
            // Changes behind the source's back, where order matters.
            Step::Isolate,
            Step::Expect(Want::Disconnected("")),
            Step::Put("/nodes/b", B),
            Step::Delete("/nodes/b"),
            Step::Delete("/nodes/a"),
            Step::Put("/nodes/a", A2),
            Step::Put("/nodes/c", C),
            Step::Heal,
            Step::Expect(Want::Connected),
            snapshot(&["node a 10.0.0.2", "node c 10.0.0.12"]),
            Step::Quiet,
            // The resumed watch goes on.
            Step::Put("/nodes/b", B),
            snapshot(&["node a 10.0.0.2", "node b 10.0.0.11", "node c 10.0.0.12"]),
        ],
    )
    .await;
}

/// Writes that arrive faster than the daemon reads become fewer snapshots (the queue holds
/// 16); the last one has everything.
#[tokio::test]
async fn a_burst_of_writes_is_batched() {
    check(
        Setup::default(),
        &[
            Step::StartSource,
            Step::Expect(Want::Connected),
            snapshot(&[]),
            Step::Burst(100),
            Step::Converges {
                nodes: 100,
                at_most: 40,
            },
            Step::Quiet,
        ],
    )
    .await;
}

#[tokio::test]
async fn a_bad_object_is_rejected_alone_and_its_previous_version_stays() {
    check(
        Setup::default(),
        &[
            Step::Put("/nodes/a", A1),
            Step::Put("/nodes/z", BAD),
            Step::StartSource,
            Step::Expect(Want::Connected),
            Step::Expect(Want::Snapshot {
                objects: &["node a 10.0.0.1"],
                rejected: &["/nodes/z"],
                origin: Origin::Datastore,
            }),
            // In one transaction with a good change: the good one applies.
            Step::Puts(&[("/nodes/a", BAD), ("/nodes/b", B)]),
            Step::Expect(Want::Snapshot {
                objects: &["node a 10.0.0.1", "node b 10.0.0.11"],
                rejected: &["/nodes/a", "/nodes/z"],
                origin: Origin::Datastore,
            }),
            Step::Put("/nodes/a", A2),
            Step::Expect(Want::Snapshot {
                objects: &["node a 10.0.0.2", "node b 10.0.0.11"],
                rejected: &["/nodes/z"],
                origin: Origin::Datastore,
            }),
            Step::Put("/bogus/key", A1),
            Step::Expect(Want::Snapshot {
                objects: &["node a 10.0.0.2", "node b 10.0.0.11"],
                rejected: &["/bogus/key", "/nodes/z"],
                origin: Origin::Datastore,
            }),
            Step::Delete("/nodes/z"),
            Step::Expect(Want::Snapshot {
                objects: &["node a 10.0.0.2", "node b 10.0.0.11"],
                rejected: &["/bogus/key"],
                origin: Origin::Datastore,
            }),
        ],
    )
    .await;
}

/// The source resumes at a revision etcd has compacted meanwhile: the watch is canceled
/// and the source reads everything again.
#[tokio::test]
async fn compaction_triggers_a_fresh_read() {
    check(
        Setup::default(),
        &[
            Step::Put("/nodes/a", A1),
            Step::StartSource,
            Step::Expect(Want::Connected),
            snapshot(&["node a 10.0.0.1"]),
            Step::Isolate,
            Step::Expect(Want::Disconnected("")),
            Step::Put("/nodes/b", B),
            Step::Delete("/nodes/a"),
            Step::Put("/nodes/c", C),
            Step::Compact,
            Step::Heal,
            Step::Expect(Want::Connected),
            snapshot(&["node b 10.0.0.11", "node c 10.0.0.12"]),
            Step::Quiet,
            Step::Put("/nodes/a", A2),
            snapshot(&["node a 10.0.0.2", "node b 10.0.0.11", "node c 10.0.0.12"]),
        ],
    )
    .await;
}

#[tokio::test]
async fn etcd_down_then_back_reconnects_and_catches_up() {
    check(
        Setup::default(),
        &[
            Step::Put("/nodes/a", A1),
            Step::StartSource,
            Step::Expect(Want::Connected),
            snapshot(&["node a 10.0.0.1"]),
            Step::Kill,
            Step::Expect(Want::Disconnected("")),
            Step::Status("disconnected"),
            // Several failed attempts, announced once.
            Step::Quiet,
            Step::Isolate,
            Step::Put("/nodes/b", B),
            Step::Heal,
            Step::Expect(Want::Connected),
            Step::Status("connected"),
            snapshot(&["node a 10.0.0.1", "node b 10.0.0.11"]),
        ],
    )
    .await;
}

/// A restart during an outage runs on the saved snapshot, then on etcd once it is back.
#[tokio::test]
async fn start_with_etcd_down_yields_the_saved_snapshot() {
    check(
        Setup::default(),
        &[
            Step::Put("/config", CONFIG),
            Step::Put("/nodes/a", A1),
            Step::Put("/nodes/z", BAD),
            Step::StartSource,
            Step::Expect(Want::Connected),
            Step::Expect(Want::Snapshot {
                objects: &["config", "node a 10.0.0.1"],
                rejected: &["/nodes/z"],
                origin: Origin::Datastore,
            }),
            Step::StopSource,
            Step::Kill,
            Step::StartSource,
            Step::Expect(Want::Disconnected("")),
            // Only what was in force is saved.
            Step::Expect(Want::Snapshot {
                objects: &["config", "node a 10.0.0.1"],
                rejected: &[],
                origin: Origin::Cache,
            }),
            Step::Status("disconnected"),
            Step::Heal,
            Step::Expect(Want::Connected),
            Step::Expect(Want::Snapshot {
                objects: &["config", "node a 10.0.0.1"],
                rejected: &["/nodes/z"],
                origin: Origin::Datastore,
            }),
        ],
    )
    .await;
}

/// The saved value of a key stays in force across a restart when etcd now holds a bad one.
#[tokio::test]
async fn the_saved_value_of_a_key_outlives_a_restart() {
    check(
        Setup::default(),
        &[
            Step::Put("/nodes/a", A1),
            Step::StartSource,
            Step::Expect(Want::Connected),
            snapshot(&["node a 10.0.0.1"]),
            Step::StopSource,
            Step::Put("/nodes/a", BAD),
            Step::StartSource,
            Step::Expect(Want::Connected),
            Step::Expect(Want::Snapshot {
                objects: &["node a 10.0.0.1"],
                rejected: &["/nodes/a"],
                origin: Origin::Datastore,
            }),
        ],
    )
    .await;
}

#[tokio::test]
async fn register_writes_the_node_entry_and_keeps_foreign_fields() {
    const REGISTERED: &str = r#"{"address_v4":"10.0.0.100","asn":64512,
        "rr_cluster_id":"244.0.0.1","labels":{"rack":"r1"}}"#;
    const MOVED: &str = r#"{"address_v4":"10.0.0.7","asn":64512,
        "rr_cluster_id":"244.0.0.1","labels":{"rack":"r1","zone":"z1"}}"#;
    const BACK: &str = r#"{"address_v4":"10.0.0.100","asn":64512,
        "rr_cluster_id":"244.0.0.1","labels":{"rack":"r1","zone":"z1"}}"#;
    check(
        Setup {
            register: true,
            ..Setup::default()
        },
        &[
            Step::Put(
                "/nodes/me",
                r#"{"address_v4":"10.0.0.9","address_v6":"fd00::9","labels":{"rack":"r1"}}"#,
            ),
            Step::StartSource,
            Step::Expect(Want::Connected),
            snapshot(&["node me 10.0.0.100"]),
            Step::Stored("/nodes/me", REGISTERED),
            // Someone edits the entry: it holds until the next reconnection.
            Step::Put("/nodes/me", MOVED),
            snapshot(&["node me 10.0.0.7"]),
            Step::Kill,
            Step::Expect(Want::Disconnected("")),
            Step::Heal,
            Step::Expect(Want::Connected),
            snapshot(&["node me 10.0.0.100"]),
            Step::Stored("/nodes/me", BACK),
            // Reconnecting to an entry that is up to date writes nothing.
            Step::Kill,
            Step::Expect(Want::Disconnected("")),
            Step::Heal,
            Step::Expect(Want::Connected),
            Step::Quiet,
        ],
    )
    .await;
}

#[tokio::test]
async fn user_and_password_authentication() {
    check(
        Setup {
            auth: Some(PASSWORD),
            register: true,
            ..Setup::default()
        },
        &[
            Step::Put("/nodes/a", A1),
            Step::StartSource,
            Step::Expect(Want::Connected),
            snapshot(&["node a 10.0.0.1", "node me 10.0.0.100"]),
            Step::Put("/nodes/b", B),
            snapshot(&["node a 10.0.0.1", "node b 10.0.0.11", "node me 10.0.0.100"]),
        ],
    )
    .await;
}

#[tokio::test]
async fn a_wrong_password_is_a_disconnection() {
    check(
        Setup {
            auth: Some("wrong"),
            ..Setup::default()
        },
        &[
            Step::StartSource,
            Step::Expect(Want::Disconnected("authentication failed")),
            Step::Status("disconnected"),
            Step::Quiet,
        ],
    )
    .await;
}

#[tokio::test]
async fn tls_with_a_client_certificate() {
    check(
        Setup {
            tls: true,
            ..Setup::default()
        },
        &[
            Step::Put("/nodes/a", A1),
            Step::StartSource,
            Step::Expect(Want::Connected),
            snapshot(&["node a 10.0.0.1"]),
            Step::Put("/nodes/b", B),
            snapshot(&["node a 10.0.0.1", "node b 10.0.0.11"]),
        ],
    )
    .await;
}

/// `bgpd --check`'s reachability test.
#[tokio::test]
async fn probe_reports_reachability() {
    let Some(mut server) = TestEtcd::start(false).await else {
        return;
    };
    let toml = format!(
        "[global]\nasn = 64512\n[etcd]\nendpoints = [\"{}\"]\n",
        server.public_endpoint()
    );
    let config = Config::from_toml(&toml, "bgpd.toml", Path::new("/")).must("configuration");
    let Some(settings) = config.etcd else {
        panic!("no [etcd]");
    };
    let revision = etcd::probe(&settings, &timing()).await.must("probe");
    assert!(revision >= Revision(1), "{revision}");
    server.kill();
    assert!(etcd::probe(&settings, &timing()).await.is_err());
}
