//! This node's neighbors from a datastore [`Snapshot`] (`docs/interface.md`, "Derived
//! peerings"), added to the file's `[[neighbor]]`s. Pure: the same file and snapshot always
//! give the same configuration.
//!
//! - `mesh`: every non-reflector node peers with every other non-reflector node; of each pair
//!   the node with the higher address is passive, so that there is one TCP connection.
//!   Reflector nodes take no part in the mesh.
//! - `route-reflector`: a non-reflector node peers with every reflector (and connects);
//!   a reflector peers with every non-reflector as `rr_client` (and waits: thousands of
//!   clients should not each be dialled), and with every other reflector as a non-client
//!   (RFC 4456 §6), the higher address passive.
//! - A pair of nodes has one session per address family both have: the IPv4 one is named
//!   after the node, the IPv6 one `<node>/v6` (node names contain no `/`).
//! - A peer (`/peers/<name>`) is a neighbor of the nodes its `nodes` selects.
//! - The file wins: a derived neighbor whose address or name the file already uses is left
//!   out and reported, and so is one that fails a check (e.g. `rr_client` towards eBGP).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use proto::{AfiSafi, AfiSafiSet};

use crate::datastore::{ClusterConfig, DatastoreKey, Mode, Node, Snapshot};
use crate::error::{ConfigError, ErrorKind, KeyPath, Problems};
use crate::model::{Config, Etcd, Global, Neighbor, Timers};
use proto::session::AddPathConfig;

use crate::types::{ErrorWaitTime, NextHopMode, PeerAddress};
use crate::validate::{self, Role, TimerDefaults};

/// A derived neighbor and where its errors point.
struct Candidate {
    /// The full datastore key it comes from.
    origin: String,
    neighbor: Neighbor,
    address_path: KeyPath,
    role_path: KeyPath,
}

/// This node's part in a pair of nodes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pairing {
    /// Equals (mesh members, or two reflectors): the higher address waits.
    Peers,
    /// We are a client of the other node, a reflector.
    ToReflector,
    /// The other node is our client.
    ToClient,
}

impl Config {
    /// The configuration of node `local_node` with the datastore's peerings added, and the
    /// problems that left some of them out. The result is always usable: a bad derived
    /// neighbor is dropped, never the file's.
    ///
    /// Also takes from the datastore: this node's `rr_cluster_id` as `global.cluster_id`
    /// when the file has none, and the cluster's pools as `kernel.advertise.prefixes` when
    /// the file lists none.
    pub fn combine(&self, local_node: &str, snapshot: &Snapshot) -> (Config, Vec<ConfigError>) {
        let prefix = self
            .etcd
            .as_ref()
            .map_or(Etcd::DEFAULT_PREFIX, |etcd| etcd.prefix.as_str());
        let root = KeyPath::root();
        let mut combined = self.clone();
        let mut errors = Vec::new();
        let mut candidates = Vec::new();
        let local = snapshot.nodes.get(local_node);

        if let Some(cluster) = &snapshot.cluster {
            let pools = combined
                .kernel
                .as_mut()
                .and_then(|kernel| kernel.advertise.as_mut())
                .filter(|advertise| advertise.prefixes.is_empty());
            if let Some(advertise) = pools {
                advertise.prefixes = cluster.pools.clone();
            }
            if let Some(local) = local {
                let origin = DatastoreKey::Node(local_node.to_owned()).to_key(prefix);
                let local_asn = local.asn.unwrap_or(cluster.asn);
                if local_asn != self.global.asn {
                    errors.push(ConfigError {
                        origin,
                        position: None,
                        path: root.key("asn"),
                        kind: ErrorKind::AsnMismatch {
                            datastore: local_asn.0,
                            file: self.global.asn.0,
                        },
                    });
                } else {
                    match (local.rr_cluster_id, self.global.cluster_id) {
                        (Some(datastore), Some(file)) if datastore != file => {
                            errors.push(ConfigError {
                                origin,
                                position: None,
                                path: root.key("rr_cluster_id"),
                                kind: ErrorKind::ClusterIdMismatch {
                                    datastore: datastore.to_string(),
                                    file: file.to_string(),
                                },
                            });
                        }
                        (Some(datastore), None) => combined.global.cluster_id = Some(datastore),
                        _ => {}
                    }
                    candidates.extend(node_peerings(
                        local_node,
                        local,
                        cluster,
                        snapshot,
                        prefix,
                        self.global.error_wait_time,
                    ));
                }
            }
        }

        let default_hold = snapshot
            .cluster
            .as_ref()
            .map_or(self.global.hold_time, |cluster| cluster.hold_time);
        for peer in snapshot.peers.values() {
            if !peer.nodes.selects(local_node, local) {
                continue;
            }
            let origin = DatastoreKey::Peer(peer.name.clone()).to_key(prefix);
            let mut problems = Problems::default();
            let defaults = TimerDefaults {
                hold_time: default_hold,
                error_wait_time: self.global.error_wait_time,
            };
            match peer.neighbor.finish(defaults, &root, &mut problems) {
                Some(neighbor) => candidates.push(Candidate {
                    origin,
                    neighbor,
                    address_path: root.key("address"),
                    role_path: root.key("rr_client"),
                }),
                None => errors.extend(problems.into_errors(&origin)),
            }
        }

        let mut addresses: BTreeMap<PeerAddress, String> = BTreeMap::new();
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        for neighbor in &self.neighbors {
            let owner = format!("neighbor {:?} of the configuration file", neighbor.name);
            addresses.insert(neighbor.address.clone(), owner.clone());
            names.insert(neighbor.name.clone(), owner);
        }
        for candidate in candidates {
            let mut problems = Problems::default();
            let neighbor = &candidate.neighbor;
            validate::check_role(
                neighbor.rr_client,
                Some(neighbor.asn),
                Role {
                    local_asn: Some(combined.global.asn),
                    reflector: Some(combined.global.cluster_id.is_some()),
                },
                &candidate.role_path,
                &mut problems,
            );
            if let Some(other) = addresses.get(&neighbor.address) {
                problems.push(
                    candidate.address_path.clone(),
                    ErrorKind::AddressInUse {
                        address: neighbor.address.to_string(),
                        other: other.clone(),
                    },
                );
            } else if let Some(other) = names.get(&neighbor.name) {
                problems.push(
                    candidate.address_path.clone(),
                    ErrorKind::NameInUse {
                        name: neighbor.name.clone(),
                        other: other.clone(),
                    },
                );
            }
            if problems.is_empty() {
                let owner = format!("the neighbor from {}", candidate.origin);
                addresses.insert(neighbor.address.clone(), owner.clone());
                names.insert(neighbor.name.clone(), owner);
                combined.neighbors.push(candidate.neighbor);
            } else {
                errors.extend(problems.into_errors(&candidate.origin));
            }
        }
        (combined, errors)
    }
}

/// The node-to-node sessions of `local` (named `local_name`), in node name order; their idle
/// hold after errors is this node's `error_wait_time`.
fn node_peerings(
    local_name: &str,
    local: &Node,
    cluster: &ClusterConfig,
    snapshot: &Snapshot,
    prefix: &str,
    error_wait_time: ErrorWaitTime,
) -> Vec<Candidate> {
    let mut candidates = Vec::new();
    for (name, node) in &snapshot.nodes {
        if name == local_name {
            continue;
        }
        let pairing = match (cluster.mode, local.is_reflector(), node.is_reflector()) {
            (Mode::Mesh, false, false) => Pairing::Peers,
            (Mode::Mesh, _, _) => continue,
            (Mode::RouteReflector, false, false) => continue,
            (Mode::RouteReflector, false, true) => Pairing::ToReflector,
            (Mode::RouteReflector, true, false) => Pairing::ToClient,
            (Mode::RouteReflector, true, true) => Pairing::Peers,
        };
        let origin = DatastoreKey::Node(name.clone()).to_key(prefix);
        let families = [
            (
                local.address_v4.map(IpAddr::V4),
                node.address_v4.map(IpAddr::V4),
                AfiSafi::Ipv4Unicast,
                name.clone(),
                "address_v4",
            ),
            (
                local.address_v6.map(IpAddr::V6),
                node.address_v6.map(IpAddr::V6),
                AfiSafi::Ipv6Unicast,
                format!("{name}/v6"),
                "address_v6",
            ),
        ];
        for (ours, theirs, family, session_name, address_key) in families {
            let (Some(ours), Some(theirs)) = (ours, theirs) else {
                continue;
            };
            let passive = match pairing {
                Pairing::Peers => ours > theirs,
                Pairing::ToReflector => false,
                Pairing::ToClient => true,
            };
            let hold_time = cluster.hold_time;
            let neighbor = Neighbor {
                name: session_name,
                description: None,
                address: PeerAddress {
                    ip: theirs,
                    interface: None,
                },
                asn: node.asn.unwrap_or(cluster.asn),
                port: Global::DEFAULT_PORT,
                // The other node matches our connection by its source address.
                local_address: Some(ours),
                passive,
                families: AfiSafiSet::EMPTY.with(family),
                rr_client: pairing == Pairing::ToClient,
                next_hop: NextHopMode::Auto,
                password: None,
                ttl_security: None,
                timers: Timers {
                    hold_time,
                    keepalive: Duration::from_secs(u64::from(hold_time.default_keepalive())),
                    connect_retry: Timers::DEFAULT_CONNECT_RETRY,
                    error_wait_time,
                },
                max_prefixes: None,
                max_prefixes_restart: None,
                send_hold_time: None,
                add_path: AddPathConfig::None,
                communities: cluster.communities.clone(),
                import: Vec::new(),
                export: Vec::new(),
            };
            candidates.push(Candidate {
                origin: origin.clone(),
                neighbor,
                address_path: KeyPath::root().key(address_key),
                role_path: KeyPath::root().key("asn"),
            });
        }
    }
    candidates
}
