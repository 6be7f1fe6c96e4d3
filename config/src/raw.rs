//! The raw serde shape of the configuration file and of datastore objects: exactly the keys of
//! the product surface (`docs/interface.md`), unknown keys rejected, every key optional so that
//! a missing one is reported by validation with its path rather than by serde. Integers are
//! `i64` (TOML's integer) so that range errors name the value. Nothing outside this crate sees
//! these types; they become a checked [`crate::Config`] in `validate`.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use crate::policy::PolicyAction;
use proto::session::AddPathConfig;

use crate::types::{LogFormat, LogLevel, NextHopMode};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    pub global: Option<RawGlobal>,
    pub kernel: Option<RawKernel>,
    pub neighbor: Option<Vec<RawNeighbor>>,
    pub route: Option<Vec<RawRoute>>,
    pub etcd: Option<RawEtcd>,
    pub prefix_list: Option<Vec<RawPrefixList>>,
    pub policy: Option<Vec<RawPolicy>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGlobal {
    pub asn: Option<i64>,
    pub router_id: Option<String>,
    pub listen: Option<Vec<String>>,
    pub hold_time: Option<i64>,
    pub cluster_id: Option<String>,
    pub control_socket: Option<String>,
    pub metrics_listen: Option<String>,
    pub metrics_neighbor_labels: Option<bool>,
    pub state_dir: Option<String>,
    pub graceful_restart: Option<RawGracefulRestart>,
    pub error_wait_time: Option<Vec<i64>>,
    pub log_format: Option<LogFormat>,
    pub log_level: Option<LogLevel>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGracefulRestart {
    pub enabled: Option<bool>,
    pub restart_time: Option<i64>,
    pub long_lived_time: Option<i64>,
    pub selection_deferral_time: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawKernel {
    pub program: Option<bool>,
    pub protocol: Option<RawProtocol>,
    pub table: Option<i64>,
    pub ecmp_max_paths: Option<i64>,
    pub persist_on_exit: Option<bool>,
    pub advertise: Option<RawAdvertise>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAdvertise {
    pub prefixes: Option<Vec<String>>,
    pub protocols: Option<Vec<RawProtocol>>,
    pub interfaces: Option<Vec<String>>,
    pub blackhole: Option<bool>,
}

/// A route protocol written as an iproute2 name or as a number.
#[derive(Debug, Clone)]
pub(crate) enum RawProtocol {
    Name(String),
    Number(i64),
}

impl<'de> Deserialize<'de> for RawProtocol {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ProtocolVisitor;

        impl Visitor<'_> for ProtocolVisitor {
            type Value = RawProtocol;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a route protocol name or number")
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<RawProtocol, E> {
                Ok(RawProtocol::Number(value))
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<RawProtocol, E> {
                Ok(RawProtocol::Number(
                    i64::try_from(value).unwrap_or(i64::MAX),
                ))
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<RawProtocol, E> {
                Ok(RawProtocol::Name(value.to_owned()))
            }
        }

        deserializer.deserialize_any(ProtocolVisitor)
    }
}

/// `add_path`: the session's ADD-PATH mode (RFC 7911) by its configuration name.
fn add_path<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<AddPathConfig>, D::Error> {
    const NAMES: &[&str] = &["none", "receive", "send", "both"];
    let name = String::deserialize(deserializer)?;
    Ok(Some(match name.as_str() {
        "none" => AddPathConfig::None,
        "receive" => AddPathConfig::Receive,
        "send" => AddPathConfig::Send,
        "both" => AddPathConfig::Both,
        other => return Err(de::Error::unknown_variant(other, NAMES)),
    }))
}

/// A `[[neighbor]]` entry, and the neighbor part of a datastore `/peers/<name>` object.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNeighbor {
    pub name: Option<String>,
    pub description: Option<String>,
    pub address: Option<String>,
    pub asn: Option<i64>,
    pub port: Option<i64>,
    pub local_address: Option<String>,
    pub passive: Option<bool>,
    pub families: Option<Vec<String>>,
    pub rr_client: Option<bool>,
    pub next_hop: Option<NextHopMode>,
    pub password: Option<String>,
    pub password_file: Option<String>,
    pub ttl_security: Option<i64>,
    pub hold_time: Option<i64>,
    pub keepalive: Option<i64>,
    pub connect_retry: Option<i64>,
    pub max_prefixes: Option<i64>,
    pub max_prefixes_restart: Option<i64>,
    pub send_hold_time: Option<i64>,
    pub error_wait_time: Option<Vec<i64>>,
    #[serde(default, deserialize_with = "add_path")]
    pub add_path: Option<AddPathConfig>,
    pub communities: Option<Vec<String>>,
    pub import: Option<Vec<String>>,
    pub export: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRoute {
    pub prefix: Option<String>,
    pub communities: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEtcd {
    pub endpoints: Option<Vec<String>>,
    pub prefix: Option<String>,
    pub node: Option<String>,
    pub register: Option<bool>,
    pub tls: Option<RawTls>,
    pub username: Option<String>,
    pub password_file: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTls {
    pub ca: Option<String>,
    pub cert: Option<String>,
    pub key: Option<String>,
}

/// The datastore's `/config` object.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawClusterConfig {
    pub asn: Option<i64>,
    pub mode: Option<crate::datastore::Mode>,
    pub hold_time: Option<i64>,
    pub pools: Option<Vec<String>>,
    pub communities: Option<Vec<String>>,
}

/// A datastore `/nodes/<name>` object.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNode {
    pub address_v4: Option<String>,
    pub address_v6: Option<String>,
    pub asn: Option<i64>,
    pub rr_cluster_id: Option<String>,
    pub labels: Option<BTreeMap<String, String>>,
}

/// A `[[prefix_list]]`, also inside a datastore peer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPrefixList {
    pub name: Option<String>,
    pub prefixes: Option<Vec<RawPrefixEntry>>,
}

/// `"10.96.0.0/12"` (that prefix only) or `{ prefix = "10.244.0.0/16", ge = 26, le = 32 }`.
#[derive(Debug, Clone)]
pub(crate) enum RawPrefixEntry {
    Prefix(String),
    Range(RawPrefixRange),
}

/// By hand rather than `untagged`, so that a mistake inside a range is named (an unknown
/// key, a wrong type) instead of "no variant matched".
impl<'de> Deserialize<'de> for RawPrefixEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntryVisitor;

        impl<'de> Visitor<'de> for EntryVisitor {
            type Value = RawPrefixEntry;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a prefix or a table { prefix, ge, le }")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<RawPrefixEntry, E> {
                Ok(RawPrefixEntry::Prefix(value.to_owned()))
            }

            fn visit_map<M: de::MapAccess<'de>>(self, map: M) -> Result<RawPrefixEntry, M::Error> {
                RawPrefixRange::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawPrefixEntry::Range)
            }
        }

        deserializer.deserialize_any(EntryVisitor)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPrefixRange {
    pub prefix: Option<String>,
    pub ge: Option<i64>,
    pub le: Option<i64>,
}

/// A `[[policy]]`, also inside a datastore peer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPolicy {
    pub name: Option<String>,
    pub default: Option<PolicyAction>,
    pub term: Option<Vec<RawTerm>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTerm {
    #[serde(rename = "match")]
    pub conditions: Option<RawMatch>,
    pub set: Option<RawSet>,
    pub action: Option<PolicyAction>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMatch {
    pub prefix_list: Option<String>,
    pub community: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSet {
    pub local_pref: Option<i64>,
    pub communities: Option<Vec<String>>,
    pub large_communities: Option<Vec<String>>,
    pub add_communities: Option<Vec<String>>,
    pub prepend: Option<i64>,
}
