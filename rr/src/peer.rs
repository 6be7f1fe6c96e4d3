//! Neighbors as the RIB knows them: the settings the daemon gives ([`PeerConfig`]), what the
//! session negotiated ([`PeerUp`]), and per neighbor the Adj-RIB-In (RFC 4271 §3.2): every route
//! received, before import policy, keyed by prefix and ADD-PATH path identifier (RFC 7911 §5).
//! The key orders IPv4 before IPv6, so each family is one contiguous range of the map.

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::ops::Bound;
use std::sync::Arc;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proto::session::{Negotiated, NegotiatedRestart};
use proto::{AfiSafi, AfiSafiSet, Asn, PathId, RouterId, SessionParams};

use crate::attrs::Attrs;
use crate::policy::Policy;
use crate::restart::Stale;
use crate::rules::{ImportFrom, Role, SourceRole};
use crate::types::{GroupId, LocalAddresses, NextHopPolicy, PeerId};

/// What the daemon configures for a neighbor, translated from its own configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    /// The neighbor's address (RFC 4271 §9.1.2.2(g) compares it).
    pub address: IpAddr,
    /// We are the neighbor's route reflector (RFC 4456); only meaningful when the RIB has a
    /// cluster id and the neighbor is internal.
    pub rr_client: bool,
    pub next_hop: NextHopPolicy,
    pub import: Arc<Policy>,
    pub export: Arc<Policy>,
    /// Above this many received routes the daemon is asked to stop the session (RFC 4486 §4).
    pub max_prefixes: Option<NonZeroU32>,
    /// How many times our own AS may appear in a received path (0: RFC 4271 §9.1.2 loop check).
    pub allow_own_as: u8,
}

impl PeerConfig {
    /// Defaults: not a client, automatic next hop, accept everything, no limit.
    pub fn new(address: IpAddr) -> PeerConfig {
        PeerConfig {
            address,
            rr_client: false,
            next_hop: NextHopPolicy::Auto,
            import: Arc::new(Policy::accept_all()),
            export: Arc::new(Policy::accept_all()),
            max_prefixes: None,
            allow_own_as: 0,
        }
    }
}

/// A session reached Established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerUp {
    pub peer: PeerId,
    pub config: PeerConfig,
    /// What the session negotiated (`proto::session::Action::Up`).
    pub session: Negotiated,
    /// Our own addresses on this session, for next-hop-self.
    pub local: LocalAddresses,
}

/// The routes received from one neighbor, keyed by prefix and path identifier.
pub(crate) type AdjRibIn = BTreeMap<(IpNet, PathId), Attrs>;

/// An established neighbor, or one restarting whose stale routes are kept (RFC 4724 §4.2).
#[derive(Debug)]
pub(crate) struct Peer {
    /// The session is up; `false` while the neighbor restarts and only its stale routes are
    /// kept (it is then in no update group).
    pub established: bool,
    /// Graceful restart as the last session negotiated it.
    pub restart: Option<NegotiatedRestart>,
    /// Per family, the routes kept from before the neighbor restarted that it has not sent
    /// again yet.
    pub stale: [Option<Stale>; 2],
    pub config: PeerConfig,
    pub asn: Asn,
    pub router_id: RouterId,
    pub role: Role,
    pub params: SessionParams,
    pub families: AfiSafiSet,
    pub enhanced_route_refresh: bool,
    pub local: LocalAddresses,
    /// RFC 7606 / RFC 4760 §7: families ignored for the rest of the session.
    pub disabled: AfiSafiSet,
    pub adj_rib_in: AdjRibIn,
    /// Routes import accepted.
    pub accepted: usize,
    /// The limit was exceeded and the daemon asked to stop the session; further UPDATEs are
    /// ignored.
    pub limit_reached: bool,
    /// RFC 7313 §4: keys not re-announced since the neighbor's Beginning of Route Refresh, per
    /// family; they are withdrawn at its End of Route Refresh.
    pub refreshing: [Option<HashSet<(IpNet, PathId)>>; 2],
    pub group: GroupId,
}

impl Peer {
    pub fn source_role(&self) -> SourceRole {
        match self.role {
            Role::External { .. } => SourceRole::External,
            Role::Internal { client } => SourceRole::Internal {
                client,
                router_id: self.router_id,
            },
        }
    }

    pub fn import_from(&self) -> ImportFrom<'_> {
        ImportFrom {
            external: self.role.is_external(),
            allow_own_as: self.config.allow_own_as,
            policy: &self.config.import,
        }
    }

    /// Whether routes of `family` from this neighbor are used.
    pub fn receives(&self, family: AfiSafi) -> bool {
        self.families.contains(family) && !self.disabled.contains(family)
    }

    /// The keys of one family in the Adj-RIB-In.
    pub fn family_keys(&self, family: AfiSafi) -> Vec<(IpNet, PathId)> {
        self.adj_rib_in
            .range(family_range(family))
            .map(|(key, _)| *key)
            .collect()
    }
}

/// A range of keys `(prefix, path identifier)`.
pub(crate) type KeyBounds = (Bound<(IpNet, PathId)>, Bound<(IpNet, PathId)>);

/// The key range of one family in a map keyed by `(IpNet, PathId)`.
pub(crate) fn family_range(family: AfiSafi) -> KeyBounds {
    let first_v6 = (IpNet::V6(Ipv6Net::default()), PathId(0));
    match family {
        AfiSafi::Ipv4Unicast => (
            Bound::Included((IpNet::V4(Ipv4Net::default()), PathId(0))),
            Bound::Excluded(first_v6),
        ),
        AfiSafi::Ipv6Unicast => (Bound::Included(first_v6), Bound::Unbounded),
    }
}

/// The index of a family in per-family arrays.
pub(crate) fn family_index(family: AfiSafi) -> usize {
    match family {
        AfiSafi::Ipv4Unicast => 0,
        AfiSafi::Ipv6Unicast => 1,
    }
}
