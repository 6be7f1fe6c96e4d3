//! The control socket protocol shared by `bgpd` and `bgpctl`: the client writes one JSON
//! request on a line; the daemon answers with JSON values, one per line, and closes. Lists
//! (neighbors, routes) are one value per line so that neither side holds them whole; an
//! `{"error": …}` line reports a failure. The JSON fields are the ones of the product
//! interface (`docs/interface.md`).

use serde::{Deserialize, Serialize};

/// A command, as sent by `bgpctl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum Request {
    ShowStatus,
    ShowNeighbors {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    ShowRoutes {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prefix: Option<ipnet::IpNet>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        neighbor: Option<String>,
        #[serde(default, skip_serializing_if = "RouteTable::is_loc_rib")]
        table: RouteTable,
    },
    NeighborEnable {
        name: String,
    },
    NeighborDisable {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    NeighborReset {
        name: String,
        #[serde(default)]
        soft: bool,
    },
    Reload,
    ShowFib,
}

/// Which table `show routes` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RouteTable {
    /// The Loc-RIB: every path with its decision state (`--neighbor`: the paths from it).
    #[default]
    LocRib,
    /// A neighbor's Adj-RIB-In, before import policy (`--received`).
    Received,
    /// What we send a neighbor, its update group's Adj-RIB-Out (`--advertised`).
    Advertised,
}

impl RouteTable {
    fn is_loc_rib(&self) -> bool {
        *self == RouteTable::LocRib
    }
}

/// One entry of `show routes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub prefix: String,
    /// An address, or `self` for a route this speaker originates.
    pub next_hop: String,
    pub as_path: Vec<u32>,
    /// `igp`, `egp` or `incomplete`.
    pub origin: Option<String>,
    pub local_pref: Option<u32>,
    pub med: Option<u32>,
    /// `ASN:VALUE`.
    pub communities: Vec<String>,
    /// `GLOBAL:LOCAL1:LOCAL2`.
    pub large_communities: Vec<String>,
    pub originator_id: Option<String>,
    pub cluster_list: Vec<String>,
    /// The neighbor's name; `local` for a route this speaker originates.
    pub from: String,
    /// The best path of its prefix (Loc-RIB); for `--received`, accepted by import policy;
    /// for `--advertised`, always true.
    pub best: bool,
}

/// `show status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub version: String,
    pub router_id: String,
    pub asn: u32,
    pub uptime_s: u64,
    /// `file` or `etcd`.
    pub config_source: String,
    pub config_revision: u64,
    /// `connected`, `disconnected` or `off`.
    pub datastore: String,
    /// `none` or `restarting`.
    pub graceful_restart: String,
}

/// One entry of `show neighbors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Neighbor {
    pub name: String,
    pub address: String,
    pub asn: u32,
    /// RFC 4271 state name.
    pub state: String,
    /// Seconds in Established; 0 when not Established.
    pub uptime_s: u64,
    /// Negotiated hold time, seconds; the configured one when not Established.
    pub hold_time: u16,
    /// Keepalive interval in force, seconds.
    pub keepalive: u64,
    pub families: Vec<String>,
    pub rr_client: bool,
    /// Prefixes received in the current session.
    pub received: u64,
    /// Prefixes accepted by import policy.
    pub accepted: u64,
    /// Prefixes advertised in the current session.
    pub advertised: u64,
    pub last_error: Option<String>,
    /// When `last_error` happened, RFC 3339 UTC (beyond the interface document).
    #[serde(default)]
    pub last_error_at: Option<String>,
    /// Seconds since `last_error` (beyond the interface document).
    #[serde(default)]
    pub last_error_age_s: Option<u64>,
    /// The session is Established and `last_error` came before it (a connect error while the
    /// neighbor was not up yet, say): history, not a current problem (beyond the interface
    /// document).
    #[serde(default)]
    pub last_error_before_up: bool,
}

/// One entry of `show fib`: a route the RIB wants in the kernel (or one of ours adopted from
/// an earlier run and not yet claimed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FibRoute {
    pub prefix: String,
    /// What the RIB asked for; several for a multipath route.
    pub next_hops: Vec<String>,
    /// The kernel holds exactly this route.
    pub installed: bool,
    /// The kernel's answer to the last failed attempt (retried).
    pub error: Option<String>,
}

/// Information that is not an entry of a list (`show fib` without `[kernel]`): `bgpctl`
/// prints it apart and leaves the list empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub notice: String,
}

/// The answer of an action (`neighbor … enable|disable|reset`, `reload`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
}

/// A failed command. Nothing else may be read as one: a `show fib` entry has an `error`
/// field too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failure {
    pub error: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_tagged_json() {
        let request = Request::NeighborReset {
            name: "tor1".into(),
            soft: true,
        };
        let text = serde_json::to_string(&request).expect("serializable");
        assert_eq!(
            text,
            r#"{"command":"neighbor-reset","name":"tor1","soft":true}"#
        );
        assert_eq!(serde_json::from_str::<Request>(&text).ok(), Some(request));
        assert_eq!(
            serde_json::from_str::<Request>(r#"{"command":"show-neighbors"}"#).ok(),
            Some(Request::ShowNeighbors { name: None })
        );
    }
}
