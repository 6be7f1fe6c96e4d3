//! The etcd data model (`docs/interface.md`, "etcd data model"): one JSON object per key under
//! the prefix, each checked on its own so that a bad object is rejected alone, with an error
//! naming its key.
//!
//! | key | type |
//! |---|---|
//! | `/config` | [`ClusterConfig`] |
//! | `/nodes/<name>` | [`Node`] |
//! | `/peers/<name>` | [`Peer`] |
//!
//! No etcd I/O happens here: the watcher hands in keys and values. How a [`Snapshot`] becomes
//! this node's neighbors is in `derive`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use ipnet::IpNet;
use proto::{Asn, ClusterId};
use serde::Deserialize;
use serde_json::Value;

use crate::error::{ConfigError, ErrorKind, KeyPath, Position, Problems};
use crate::raw::{RawClusterConfig, RawNeighbor, RawNode, RawPolicy, RawPrefixList};
use crate::types::{Community, HoldTime};
use crate::validate::{self, NeighborDraft};

/// How nodes peer with each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Every non-reflector node with every other one (iBGP full mesh, RFC 4271 §9.1.1 needs
    /// it without reflection).
    Mesh,
    /// Nodes peer with the reflector nodes only (RFC 4456).
    RouteReflector,
}

/// `/config`: settings of the whole cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterConfig {
    pub asn: Asn,
    pub mode: Mode,
    /// Hold time of node-to-node sessions, and the default of external peers.
    pub hold_time: HoldTime,
    /// Pod address pools: kernel routes are advertised only inside these.
    pub pools: Vec<IpNet>,
    /// Added to what nodes advertise to each other.
    pub communities: Vec<Community>,
}

/// `/nodes/<name>`: one node (a BGP speaker) of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Node {
    pub name: String,
    /// At least one of the two addresses is set.
    pub address_v4: Option<Ipv4Addr>,
    pub address_v6: Option<Ipv6Addr>,
    /// `None`: the cluster's AS.
    pub asn: Option<Asn>,
    /// Set: this node is a route reflector with this CLUSTER_ID.
    pub rr_cluster_id: Option<ClusterId>,
    pub labels: BTreeMap<String, String>,
}

impl Node {
    pub fn is_reflector(&self) -> bool {
        self.rr_cluster_id.is_some()
    }
}

/// `/peers/<name>`: an external neighbor of some nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Peer {
    pub name: String,
    pub nodes: NodeSelector,
    /// The `[[neighbor]]` fields; timers are resolved when the cluster's hold time is known.
    /// Boxed: with its policies it is much larger than the other objects.
    pub(crate) neighbor: Box<NeighborDraft>,
}

/// Which nodes peer with an external peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeSelector {
    /// `"all"`.
    All,
    /// `["node-a", "node-b"]`.
    Names(BTreeSet<String>),
    /// `{"rack": "r1"}`: nodes carrying every one of these labels.
    Labels(BTreeMap<String, String>),
}

impl NodeSelector {
    /// Whether the node `name` (whose entry, if it has one yet, is `node`) is selected.
    pub fn selects(&self, name: &str, node: Option<&Node>) -> bool {
        match self {
            NodeSelector::All => true,
            NodeSelector::Names(names) => names.contains(name),
            NodeSelector::Labels(labels) => node.is_some_and(|node| {
                labels
                    .iter()
                    .all(|(key, value)| node.labels.get(key) == Some(value))
            }),
        }
    }
}

/// A key of the data model, relative to the prefix.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DatastoreKey {
    Config,
    Node(String),
    Peer(String),
}

impl DatastoreKey {
    /// The model key of a full etcd key under `prefix`, or `None` for anything else.
    pub fn parse(prefix: &str, key: &str) -> Option<DatastoreKey> {
        let rest = key.strip_prefix(prefix)?;
        if rest == "/config" {
            return Some(DatastoreKey::Config);
        }
        let (kind, name) = rest.strip_prefix('/')?.split_once('/')?;
        validate::node_name(name).ok()?;
        match kind {
            "nodes" => Some(DatastoreKey::Node(name.to_owned())),
            "peers" => Some(DatastoreKey::Peer(name.to_owned())),
            _ => None,
        }
    }

    /// The full etcd key under `prefix`.
    pub fn to_key(&self, prefix: &str) -> String {
        match self {
            DatastoreKey::Config => format!("{prefix}/config"),
            DatastoreKey::Node(name) => format!("{prefix}/nodes/{name}"),
            DatastoreKey::Peer(name) => format!("{prefix}/peers/{name}"),
        }
    }
}

/// One checked datastore object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    Config(ClusterConfig),
    Node(Node),
    Peer(Peer),
}

impl Object {
    /// Checks the value stored at `key` (a full etcd key under `prefix`). Errors are named by
    /// `key`; peers' relative `password_file`s are relative to `base_dir`.
    pub fn parse(
        prefix: &str,
        key: &str,
        value: &[u8],
        base_dir: &Path,
    ) -> Result<Object, Vec<ConfigError>> {
        let Some(model_key) = DatastoreKey::parse(prefix, key) else {
            return Err(vec![ConfigError {
                origin: key.to_owned(),
                position: None,
                path: KeyPath::root(),
                kind: ErrorKind::UnknownDatastoreKey {
                    key: key.to_owned(),
                },
            }]);
        };
        let json: Value = serde_json::from_slice(value).map_err(|e| vec![json_error(key, &e)])?;
        let mut problems = Problems::default();
        let object = match model_key {
            DatastoreKey::Config => {
                cluster_config(json, &mut problems).map(|o| o.map(Object::Config))
            }
            DatastoreKey::Node(name) => {
                node(name, json, &mut problems).map(|o| o.map(Object::Node))
            }
            DatastoreKey::Peer(name) => {
                peer(name, json, base_dir, &mut problems).map(|o| o.map(Object::Peer))
            }
        };
        match object {
            Ok(Some(object)) if problems.is_empty() => Ok(object),
            Ok(_) => Err(problems.into_errors(key)),
            Err(error) => Err(vec![json_error(key, &error)]),
        }
    }
}

/// What the datastore holds, as far as it is valid: the last good value of each key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// `None` until `/config` holds a valid object: no node peerings without a mode.
    pub cluster: Option<ClusterConfig>,
    pub nodes: BTreeMap<String, Node>,
    pub peers: BTreeMap<String, Peer>,
}

impl Snapshot {
    /// A snapshot of every valid object among `objects` (full key, value); each invalid one
    /// is left out and reported.
    pub fn from_objects<'a>(
        prefix: &str,
        objects: impl IntoIterator<Item = (&'a str, &'a [u8])>,
        base_dir: &Path,
    ) -> (Snapshot, Vec<ConfigError>) {
        let mut snapshot = Snapshot::default();
        let mut errors = Vec::new();
        for (key, value) in objects {
            match Object::parse(prefix, key, value, base_dir) {
                Ok(object) => snapshot.insert(object),
                Err(object_errors) => errors.extend(object_errors),
            }
        }
        (snapshot, errors)
    }

    /// Puts a new value of its key in place.
    pub fn insert(&mut self, object: Object) {
        match object {
            Object::Config(cluster) => self.cluster = Some(cluster),
            Object::Node(node) => {
                self.nodes.insert(node.name.clone(), node);
            }
            Object::Peer(peer) => {
                self.peers.insert(peer.name.clone(), peer);
            }
        }
    }

    /// Forgets a deleted key.
    pub fn remove(&mut self, key: &DatastoreKey) {
        match key {
            DatastoreKey::Config => self.cluster = None,
            DatastoreKey::Node(name) => {
                self.nodes.remove(name);
            }
            DatastoreKey::Peer(name) => {
                self.peers.remove(name);
            }
        }
    }
}

fn cluster_config(
    json: Value,
    problems: &mut Problems,
) -> Result<Option<ClusterConfig>, serde_json::Error> {
    let raw: RawClusterConfig = serde_json::from_value(json)?;
    let root = KeyPath::root();
    let asn = validate::required(raw.asn, &root.key("asn"), problems)
        .and_then(|asn| problems.check(&root.key("asn"), validate::asn(asn)));
    let mode = validate::required(raw.mode, &root.key("mode"), problems);
    let hold_time = validate::optional(raw.hold_time, &root.key("hold_time"), problems, |s| {
        HoldTime::parse(*s)
    });
    let pools = validate::each(
        &raw.pools.unwrap_or_default(),
        &root.key("pools"),
        problems,
        |text| validate::prefix(text),
    );
    let communities = validate::communities(raw.communities, &root.key("communities"), problems);
    let (Some(asn), Some(mode), Some(hold_time), Some(pools), Some(communities)) =
        (asn, mode, hold_time, pools, communities)
    else {
        return Ok(None);
    };
    Ok(Some(ClusterConfig {
        asn,
        mode,
        hold_time: hold_time.unwrap_or(HoldTime::DEFAULT),
        pools,
        communities,
    }))
}

fn node(
    name: String,
    json: Value,
    problems: &mut Problems,
) -> Result<Option<Node>, serde_json::Error> {
    let raw: RawNode = serde_json::from_value(json)?;
    let root = KeyPath::root();
    let address_v4 = validate::optional(raw.address_v4, &root.key("address_v4"), problems, |t| {
        validate::ipv4(t, "an IPv4 address")
    });
    let address_v6 = validate::optional(raw.address_v6, &root.key("address_v6"), problems, |t| {
        t.parse::<Ipv6Addr>().map_err(|_| ErrorKind::Invalid {
            value: t.clone(),
            expected: "an IPv6 address",
        })
    });
    let asn = validate::optional(raw.asn, &root.key("asn"), problems, |asn| {
        validate::asn(*asn)
    });
    let rr_cluster_id = validate::optional(
        raw.rr_cluster_id,
        &root.key("rr_cluster_id"),
        problems,
        |t| validate::ipv4(t, "an IPv4 address (the CLUSTER_ID)").map(ClusterId),
    );
    let labels = raw.labels.unwrap_or_default();
    for key in labels.keys().filter(|key| key.is_empty()) {
        problems.push(root.key("labels").key(key), ErrorKind::Empty);
    }
    if matches!((&address_v4, &address_v6), (Some(None), Some(None))) {
        problems.push(
            root,
            ErrorKind::Requires("a node", "address_v4 or address_v6"),
        );
    }
    let (Some(address_v4), Some(address_v6), Some(asn), Some(rr_cluster_id)) =
        (address_v4, address_v6, asn, rr_cluster_id)
    else {
        return Ok(None);
    };
    Ok(Some(Node {
        name,
        address_v4,
        address_v6,
        asn,
        rr_cluster_id,
        labels,
    }))
}

fn peer(
    name: String,
    json: Value,
    base_dir: &Path,
    problems: &mut Problems,
) -> Result<Option<Peer>, serde_json::Error> {
    let root = KeyPath::root();
    let Value::Object(mut fields) = json else {
        problems.push(
            root,
            ErrorKind::Invalid {
                value: json.to_string(),
                expected: "a JSON object",
            },
        );
        return Ok(None);
    };
    let nodes = match fields.remove("nodes") {
        Some(value) => problems.check(&root.key("nodes"), node_selector(value)),
        None => {
            problems.push(root.key("nodes"), ErrorKind::Missing);
            None
        }
    };
    let name_path = root.key("name");
    match fields.get("name") {
        None => {
            fields.insert("name".to_owned(), Value::String(name.clone()));
        }
        Some(Value::String(given)) if *given == name => {}
        Some(given) => {
            problems.push(
                name_path,
                ErrorKind::Invalid {
                    value: match given {
                        Value::String(text) => text.clone(),
                        other => other.to_string(),
                    },
                    expected: "the peer's name from its key (/peers/<name>), or nothing",
                },
            );
            return Ok(None);
        }
    }
    // A peer carries the definitions it names, so that it is checked alone.
    let prefix_lists = fields
        .remove("prefix_list")
        .map(serde_json::from_value::<Vec<RawPrefixList>>)
        .transpose()?;
    let policies = fields
        .remove("policy")
        .map(serde_json::from_value::<Vec<RawPolicy>>)
        .transpose()?;
    let definitions = validate::definitions(prefix_lists, policies, &root, problems);
    let raw: RawNeighbor = serde_json::from_value(Value::Object(fields))?;
    let neighbor = validate::neighbor_draft(raw, &root, base_dir, None, &definitions, problems);
    let (Some(nodes), Some(neighbor)) = (nodes, neighbor) else {
        return Ok(None);
    };
    Ok(Some(Peer {
        name,
        nodes,
        neighbor: Box::new(neighbor),
    }))
}

fn node_selector(value: Value) -> Result<NodeSelector, ErrorKind> {
    let invalid = |value: &Value| ErrorKind::Invalid {
        value: value.to_string(),
        expected: "\"all\", a list of node names or an object of labels",
    };
    match &value {
        Value::String(all) if all == "all" => Ok(NodeSelector::All),
        Value::Array(names) => names
            .iter()
            .map(|name| match name {
                Value::String(name) => validate::node_name(name),
                other => Err(invalid(other)),
            })
            .collect::<Result<_, _>>()
            .map(NodeSelector::Names),
        Value::Object(labels) => labels
            .iter()
            .map(|(key, value)| match value {
                Value::String(text) if !key.is_empty() => Ok((key.clone(), text.clone())),
                _ => Err(invalid(&Value::Object(labels.clone()))),
            })
            .collect::<Result<_, _>>()
            .map(NodeSelector::Labels),
        _ => Err(invalid(&value)),
    }
}

/// serde_json puts " at line L column C" after its message; the position is kept apart.
fn json_error(key: &str, error: &serde_json::Error) -> ConfigError {
    let message = error.to_string();
    let position = (error.line() > 0).then(|| Position {
        line: error.line(),
        column: error.column(),
    });
    let message = match message.rfind(" at line ") {
        Some(at) if position.is_some() => message[..at].to_owned(),
        _ => message,
    };
    let kind = if error.is_data() {
        ErrorKind::Schema(crate::file::schema_message(&message))
    } else {
        ErrorKind::Syntax(message)
    };
    ConfigError {
        origin: key.to_owned(),
        position,
        path: KeyPath::root(),
        kind,
    }
}
