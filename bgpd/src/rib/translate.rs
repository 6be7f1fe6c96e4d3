//! Configuration in `rr`'s own terms (`rr` does not depend on `config`): the RIB's settings
//! from `[global]` and `[kernel]`, a neighbor's RIB settings (its policies through
//! `crate::policy`), a configured `[[route]]`.

use std::num::NonZeroUsize;
use std::sync::Arc;

use proto::attr::{Community, LargeCommunity};
use proto::RouterId;
use rr::{LocalRoute, NextHopPolicy, PeerConfig, RibConfig};

/// The RIB's settings from `[global]` and `[kernel]`.
pub fn rib_config(config: &config::Config, router_id: RouterId) -> RibConfig {
    let mut rib = RibConfig::new(config.global.asn, router_id);
    rib.cluster_id = config.global.cluster_id;
    match &config.kernel {
        Some(kernel) => {
            rib.install_routes = kernel.program;
            if let Some(paths) = NonZeroUsize::new(usize::from(kernel.ecmp_max_paths)) {
                rib.ecmp_max_paths = paths;
            }
        }
        // No kernel section: a pure reflector keeps no FIB state.
        None => rib.install_routes = false,
    }
    rib
}

/// A neighbor's settings as the RIB knows them; its policies (and `communities`) as
/// [`crate::policy`] translates them, with `local_asn` the AS that export policies prepend.
pub fn peer_config(neighbor: &config::Neighbor, local_asn: proto::Asn) -> PeerConfig {
    let mut peer = PeerConfig::new(neighbor.address.ip);
    peer.rr_client = neighbor.rr_client;
    peer.next_hop = match neighbor.next_hop {
        config::NextHopMode::Auto => NextHopPolicy::Auto,
        config::NextHopMode::SelfAddress => NextHopPolicy::SelfAddress,
        config::NextHopMode::Keep => NextHopPolicy::Keep,
    };
    peer.max_prefixes = neighbor.max_prefixes;
    peer.import = Arc::new(crate::policy::import(neighbor, local_asn));
    peer.export = Arc::new(crate::policy::export(neighbor, local_asn));
    peer
}

/// A configured `[[route]]` as the RIB originates it.
pub fn local_route(route: &config::Route) -> LocalRoute {
    let (communities, large_communities) = split_communities(&route.communities);
    LocalRoute {
        communities,
        large_communities,
        ..LocalRoute::default()
    }
}

pub(crate) fn split_communities(
    configured: &[config::Community],
) -> (Vec<Community>, Vec<LargeCommunity>) {
    let mut communities = Vec::new();
    let mut large = Vec::new();
    for community in configured {
        match *community {
            config::Community::Standard(value) => communities.push(Community(value)),
            config::Community::Large {
                global_admin,
                local_data1,
                local_data2,
            } => large.push(LargeCommunity {
                global_admin,
                local_data_1: local_data1,
                local_data_2: local_data2,
            }),
        }
    }
    (communities, large)
}
