//! The protocol's rules for accepting and passing on routes, as pure functions:
//!
//! - import: LOCAL_PREF from external peers is ignored (RFC 4271 §5.1.5); a path holding our own
//!   AS is a loop (RFC 4271 §9.1.2) unless it appears at most `allow_own_as` times; a route
//!   whose ORIGINATOR_ID is our BGP Identifier, or whose CLUSTER_LIST holds our CLUSTER_ID, is
//!   a reflection loop (RFC 4456 §8);
//! - which neighbors a route goes to ([`advertise`]): internal routes are not passed to internal
//!   neighbors (RFC 4271 §9.2) unless this speaker reflects them (RFC 4456 §6: from a client to
//!   everyone, from a non-client to clients only); routes from external neighbors and local
//!   routes go to everyone; NO_ADVERTISE and NO_EXPORT (RFC 1997) are honored;
//! - what a route looks like towards a neighbor ([`export`]): towards external neighbors our AS
//!   is prepended (§5.1.2), the next hop is ours (§5.1.3), LOCAL_PREF is left out (§5.1.5), MED
//!   is not passed on (§5.1.4) and ORIGINATOR_ID / CLUSTER_LIST are left out (RFC 4456 §8);
//!   towards internal neighbors LOCAL_PREF is always sent (§5.1.5) and a reflected route gets
//!   ORIGINATOR_ID (if absent) and our CLUSTER_ID in front of CLUSTER_LIST, its next hop
//!   unchanged (RFC 4456 §8, §10). Unrecognized optional transitive attributes are passed on
//!   byte for byte with the Partial bit set (RFC 4271 §5).

use ipnet::IpNet;
use proto::attr::{Community, NextHop};
use proto::{AfiSafi, Asn, ClusterId, RouterId, SessionParams};

use crate::attrs::{PathAttrs, RouteNextHop};
use crate::policy::{Outcome, Policy};
use crate::types::{family_of, LocalAddresses, NextHopPolicy};

/// A neighbor's place relative to this speaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// In another AS (eBGP).
    External { asn: Asn },
    /// In our AS (iBGP); `client` when we are its route reflector (RFC 4456 §5).
    Internal { client: bool },
}

impl Role {
    pub fn is_external(self) -> bool {
        matches!(self, Role::External { .. })
    }
}

/// Where a route came from, as far as passing it on depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceRole {
    Local,
    External,
    /// From an internal neighbor, with its BGP Identifier (the ORIGINATOR_ID a reflection
    /// adds when absent, RFC 4456 §8).
    Internal {
        client: bool,
        router_id: RouterId,
    },
}

/// Whether a route may go to a neighbor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advertise {
    No,
    Yes,
    /// Yes, as a reflected route (RFC 4456 §8 attributes).
    Reflect,
}

/// RFC 4271 §9.2 and RFC 4456 §6: whether a route from `source` goes to a neighbor in role
/// `target`. `reflector`: this speaker has a cluster id.
pub fn advertise(source: SourceRole, target: Role, reflector: bool) -> Advertise {
    match (source, target) {
        (SourceRole::Local | SourceRole::External, _) => Advertise::Yes,
        (SourceRole::Internal { .. }, Role::External { .. }) => Advertise::Yes,
        // RFC 4271 §9.2: internal routes are not passed between internal neighbors (full mesh).
        (SourceRole::Internal { .. }, Role::Internal { .. }) if !reflector => Advertise::No,
        // RFC 4456 §6: a client's route goes to every client and non-client.
        (SourceRole::Internal { client: true, .. }, Role::Internal { .. }) => Advertise::Reflect,
        // RFC 4456 §6: a non-client's route goes to clients only.
        (SourceRole::Internal { client: false, .. }, Role::Internal { client: true }) => {
            Advertise::Reflect
        }
        (SourceRole::Internal { client: false, .. }, Role::Internal { client: false }) => {
            Advertise::No
        }
    }
}

/// This speaker's identity, as the rules need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Speaker {
    pub local_asn: Asn,
    pub router_id: RouterId,
    /// Set: this speaker is a route reflector.
    pub cluster_id: Option<ClusterId>,
    pub default_local_pref: proto::attr::LocalPref,
}

/// Why an imported route was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rejected {
    /// RFC 4271 §9.1.2: our AS is in the path more often than allowed.
    AsLoop,
    /// RFC 4456 §8: ORIGINATOR_ID is our BGP Identifier.
    OriginatorLoop,
    /// RFC 4456 §8: CLUSTER_LIST holds our CLUSTER_ID.
    ClusterLoop,
    /// The import policy rejected it.
    Policy,
}

/// How a neighbor's routes are imported.
#[derive(Debug, Clone, Copy)]
pub struct ImportFrom<'a> {
    pub external: bool,
    pub allow_own_as: u8,
    pub policy: &'a Policy,
}

/// The route as the Loc-RIB keeps it: `Ok(None)` when `received` is kept as it is.
pub fn import(
    speaker: &Speaker,
    from: &ImportFrom<'_>,
    prefix: &IpNet,
    received: &PathAttrs,
) -> Result<Option<PathAttrs>, Rejected> {
    let attributes = &received.attributes;
    let own = attributes.as_path.as_ref().map_or(0, |path| {
        path.segments()
            .iter()
            .flat_map(|segment| segment.asns())
            .filter(|&&asn| asn == speaker.local_asn)
            .count()
    });
    if own > usize::from(from.allow_own_as) {
        return Err(Rejected::AsLoop);
    }
    if attributes.originator_id == Some(speaker.router_id) {
        return Err(Rejected::OriginatorLoop);
    }
    if let Some(cluster_id) = speaker.cluster_id {
        if attributes.cluster_list.contains(&cluster_id) {
            return Err(Rejected::ClusterLoop);
        }
    }
    // RFC 4271 §5.1.5: LOCAL_PREF from an external peer is ignored; RFC 4456 §8 attributes
    // have no meaning outside the AS (the decoder already discards them per RFC 7606).
    let mut changed = None;
    let foreign = attributes.local_pref.is_some()
        || attributes.originator_id.is_some()
        || !attributes.cluster_list.is_empty();
    if from.external && foreign {
        let mut attrs = received.clone();
        attrs.attributes.local_pref = None;
        attrs.attributes.originator_id = None;
        attrs.attributes.cluster_list.clear();
        changed = Some(attrs);
    }
    let current = changed.as_ref().unwrap_or(received);
    match from.policy.evaluate(prefix, current) {
        Outcome::Reject => Err(Rejected::Policy),
        Outcome::Unchanged => Ok(changed),
        Outcome::Modified(attrs) => Ok(Some(*attrs)),
    }
}

/// The neighbor side of [`export`]: everything the outbound form of a route depends on.
#[derive(Debug, Clone, Copy)]
pub struct ExportTo<'a> {
    pub role: Role,
    pub next_hop: NextHopPolicy,
    pub local: LocalAddresses,
    pub params: &'a SessionParams,
    pub policy: &'a Policy,
}

/// The route as sent to a neighbor, or `None` when it is not sent.
pub fn export(
    speaker: &Speaker,
    to: &ExportTo<'_>,
    prefix: &IpNet,
    attrs: &PathAttrs,
    source: SourceRole,
) -> Option<PathAttrs> {
    let advertise = advertise(source, to.role, speaker.cluster_id.is_some());
    if advertise == Advertise::No {
        return None;
    }
    let communities = &attrs.attributes.communities;
    // RFC 1997 §3: NO_ADVERTISE goes to no neighbor, NO_EXPORT and NO_EXPORT_SUBCONFED to no
    // external neighbor (Starling has no confederations).
    if communities.contains(&Community::NO_ADVERTISE) {
        return None;
    }
    let no_export = communities.contains(&Community::NO_EXPORT)
        || communities.contains(&Community::NO_EXPORT_SUBCONFED);
    if no_export && to.role.is_external() {
        return None;
    }
    let mut out = match to.policy.evaluate(prefix, attrs) {
        Outcome::Reject => return None,
        Outcome::Unchanged => attrs.clone(),
        Outcome::Modified(modified) => *modified,
    };
    let attributes = &mut out.attributes;
    if !attributes.unknown.is_empty() {
        attributes.unknown = attributes.unknown.forwarded();
    }
    match to.role {
        Role::External { .. } => {
            let path = attributes.as_path.take().unwrap_or_default();
            attributes.as_path = Some(path.prepended(speaker.local_asn));
            attributes.local_pref = None;
            if source != SourceRole::Local {
                attributes.multi_exit_disc = None;
            }
            attributes.originator_id = None;
            attributes.cluster_list.clear();
        }
        Role::Internal { .. } => {
            attributes.local_pref = Some(out_local_pref(speaker, attrs));
            if attributes.as_path.is_none() {
                attributes.as_path = Some(Default::default());
            }
            if advertise == Advertise::Reflect {
                if let (SourceRole::Internal { router_id, .. }, Some(cluster_id)) =
                    (source, speaker.cluster_id)
                {
                    attributes.originator_id.get_or_insert(router_id);
                    attributes.cluster_list.insert(0, cluster_id);
                }
            }
        }
    }
    let next_hop = outbound_next_hop(to, family_of(prefix), &attrs.next_hop)?;
    out.next_hop = RouteNextHop::Address(next_hop);
    Some(out)
}

fn out_local_pref(speaker: &Speaker, attrs: &PathAttrs) -> proto::attr::LocalPref {
    attrs.local_pref_or(speaker.default_local_pref)
}

/// RFC 4271 §5.1.3 and RFC 4456 §10: the next hop sent, or `None` when the session cannot carry
/// any (no address of the family, no RFC 8950 extended next hop for an IPv6 next hop of IPv4
/// routes).
fn outbound_next_hop(
    to: &ExportTo<'_>,
    family: AfiSafi,
    current: &RouteNextHop,
) -> Option<NextHop> {
    let keep = match (current, to.next_hop) {
        (RouteNextHop::Local, _) | (_, NextHopPolicy::SelfAddress) => None,
        (RouteNextHop::Address(address), NextHopPolicy::Keep) => Some(*address),
        (RouteNextHop::Address(address), NextHopPolicy::Auto) => {
            (!to.role.is_external()).then_some(*address)
        }
    };
    let extended = to.params.extended_next_hop.contains(AfiSafi::Ipv4Unicast);
    match (family, keep) {
        (AfiSafi::Ipv4Unicast, Some(NextHop::Ipv4(v4))) => Some(NextHop::Ipv4(v4)),
        (AfiSafi::Ipv4Unicast, Some(NextHop::Ipv6(v6))) => extended.then_some(NextHop::Ipv6(v6)),
        (AfiSafi::Ipv6Unicast, Some(NextHop::Ipv6(v6))) => Some(NextHop::Ipv6(v6)),
        (AfiSafi::Ipv6Unicast, Some(NextHop::Ipv4(_))) => None,
        (AfiSafi::Ipv4Unicast, None) => match (to.local.ipv4, to.local.ipv6) {
            (Some(v4), _) => Some(NextHop::Ipv4(v4)),
            (None, Some(v6)) if extended => Some(NextHop::Ipv6(v6)),
            _ => None,
        },
        (AfiSafi::Ipv6Unicast, None) => to.local.ipv6.map(NextHop::Ipv6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4456 §6 as a table: (source, target, reflector) → outcome.
    #[test]
    fn reflection_is_a_function_of_roles() {
        let client = SourceRole::Internal {
            client: true,
            router_id: RouterId([192, 0, 2, 1].into()),
        };
        let non_client = SourceRole::Internal {
            client: false,
            router_id: RouterId([192, 0, 2, 2].into()),
        };
        let to_client = Role::Internal { client: true };
        let to_non_client = Role::Internal { client: false };
        let to_external = Role::External { asn: Asn(65001) };
        let cases = [
            (client, to_client, true, Advertise::Reflect),
            (client, to_non_client, true, Advertise::Reflect),
            (client, to_external, true, Advertise::Yes),
            (non_client, to_client, true, Advertise::Reflect),
            (non_client, to_non_client, true, Advertise::No),
            (non_client, to_non_client, false, Advertise::No),
            (client, to_client, false, Advertise::No),
            (SourceRole::External, to_non_client, true, Advertise::Yes),
            (SourceRole::External, to_external, false, Advertise::Yes),
            (SourceRole::Local, to_client, true, Advertise::Yes),
        ];
        for (source, target, reflector, expected) in cases {
            assert_eq!(
                advertise(source, target, reflector),
                expected,
                "{source:?} -> {target:?} (reflector {reflector})"
            );
        }
    }
}
