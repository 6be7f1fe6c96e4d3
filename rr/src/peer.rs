//! Neighbors as the RIB knows them: the settings the daemon gives ([`PeerConfig`]), what the
//! session negotiated ([`PeerUp`]), and per neighbor its counters and graceful-restart state.
//! Its routes (the Adj-RIB-In, RFC 4271 §3.2: every route received, before import policy,
//! keyed by prefix and ADD-PATH path identifier, RFC 7911 §5) are paths in the prefix table.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use proto::session::{Negotiated, NegotiatedRestart};
use proto::{AfiSafi, AfiSafiSet, Asn, RouterId, SessionParams};

use crate::policy::Policy;
use crate::rules::{ImportFrom, Role, SourceRole};
use crate::table::Source;
use crate::types::{FastMap, GroupId, LocalAddresses, NextHopPolicy, PeerId, RouteSource};

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

/// An established neighbor, or one restarting whose stale routes are kept (RFC 4724 §4.2).
/// Its routes are in the prefix table (`table`); this is what the RIB knows of the session.
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
    /// Routes received (the neighbor's Adj-RIB-In).
    pub received: usize,
    /// Routes import accepted.
    pub accepted: usize,
    /// The limit was exceeded and the daemon asked to stop the session; further UPDATEs are
    /// ignored.
    pub limit_reached: bool,
    /// RFC 7313 §4: per family, between the neighbor's Beginning and End of Route Refresh
    /// (routes not announced again are marked `REFRESHING` and removed at its end).
    pub refreshing: [bool; 2],
    pub group: GroupId,
}

/// The stale routes of one family of a neighbor (RFC 4724 §4.2); the routes carry the
/// `STALE` flag in the table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Stale {
    /// Routes still stale.
    pub routes: usize,
    /// In the long-lived phase: the Loc-RIB holds them with LLGR_STALE attached (RFC 9494).
    pub long_lived: bool,
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
}

/// The role of a path's source for export: the local route, or a known neighbor.
pub(crate) fn source_role(peers: &FastMap<PeerId, Peer>, source: Source) -> Option<SourceRole> {
    match source.route_source() {
        RouteSource::Local => Some(SourceRole::Local),
        RouteSource::Peer(id) => peers.get(&id).map(Peer::source_role),
    }
}

/// The index of a family in per-family arrays.
pub(crate) fn family_index(family: AfiSafi) -> usize {
    match family {
        AfiSafi::Ipv4Unicast => 0,
        AfiSafi::Ipv6Unicast => 1,
    }
}
