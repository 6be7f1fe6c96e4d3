//! What neighbors send: UPDATEs into the Adj-RIB-In and, through import, the Loc-RIB (RFC 4271
//! §9.1, RFC 7606 outcomes, RFC 4486 §4 prefix limit), ROUTE-REFRESH (RFC 2918, RFC 7313), and
//! the walks over one neighbor's routes in the table (its session gone, a family disabled,
//! import run again).

use std::sync::Arc;

use ipnet::IpNet;
use proto::attr::{MpReach, MpUnreach, NextHop};
use proto::route_refresh::{RouteRefresh, RouteRefreshSubtype};
use proto::update::{Action, Update};
use proto::{AfiSafi, AfiSafiSet, PathId};

use super::{check_limit, demarcation, Rib, RibError, RibOutput};
use crate::attrs::{Attrs, PathAttrs, RouteNextHop};
use crate::peer::{family_index, source_role};
use crate::restart::long_lived_stale;
use crate::rules;
use crate::table::{path_flags, Path, PathState, PrefixId, Priority, Source};
use crate::types::{family_of, PeerId};

/// The outcome of import for one route: `Ok(None)` kept as received, `Ok(Some)` modified,
/// `Err` rejected.
pub(crate) type Imported = Result<Option<Attrs>, ()>;

/// What a walk over one neighbor's routes removed.
#[derive(Debug, Default)]
pub(crate) struct Removed {
    pub routes: usize,
    pub accepted: usize,
    /// Per family, routes removed that were stale.
    pub stale: [usize; 2],
}

impl Rib {
    pub(crate) fn update(
        &mut self,
        id: PeerId,
        update: Update,
    ) -> Result<Vec<RibOutput>, RibError> {
        let mut outputs = Vec::new();
        let peer = self
            .peers
            .get(&id)
            .filter(|peer| peer.established)
            .ok_or(RibError::UnknownPeer(id))?;
        if peer.limit_reached {
            return Ok(outputs);
        }
        let end_of_rib = update.end_of_rib_family();
        // RFC 7606 §2 / RFC 4760 §7: AFI/SAFI disable removes the family's routes and ignores
        // it for the rest of the session.
        for family in update.families_to_disable().iter() {
            if self.disable_family(id, family) {
                outputs.push(RibOutput::FamilyDisabled { peer: id, family });
            }
        }
        // RFC 7606 §2: treat-as-withdraw applies to every route the UPDATE announces. RFC 7606
        // §3(d): without ORIGIN or AS_PATH the routes are withdrawn too (the decoder reports
        // that as treat-as-withdraw; checked again so the RIB never holds such a route).
        let withdraw_all = update
            .errors
            .iter()
            .any(|error| error.action == Action::TreatAsWithdraw);
        let Update {
            withdrawn,
            attributes,
            announced,
            mp_reach,
            mp_unreach,
            ..
        } = update;
        let usable = !withdraw_all && attributes.origin.is_some() && attributes.as_path.is_some();

        let withdrawn_ipv4 = withdrawn
            .iter()
            .map(|n| (IpNet::V4(n.prefix()), n.path_id()));
        self.receive(id, AfiSafi::Ipv4Unicast, withdrawn_ipv4, None, &mut outputs);
        match &mp_unreach {
            Some(MpUnreach::Ipv4Unicast { withdrawn }) => {
                let entries = withdrawn
                    .iter()
                    .map(|n| (IpNet::V4(n.prefix()), n.path_id()));
                self.receive(id, AfiSafi::Ipv4Unicast, entries, None, &mut outputs);
            }
            Some(MpUnreach::Ipv6Unicast { withdrawn }) => {
                let entries = withdrawn
                    .iter()
                    .map(|n| (IpNet::V6(n.prefix()), n.path_id()));
                self.receive(id, AfiSafi::Ipv6Unicast, entries, None, &mut outputs);
            }
            None => {}
        }

        if !announced.is_empty() {
            // RFC 4271 §5.1.3: routes in the NLRI field take NEXT_HOP (mandatory with them;
            // the decoder treats its absence as withdrawal, RFC 7606 §3(d)).
            let attrs = match attributes.next_hop {
                Some(next_hop) if usable => Some(self.interner.intern(PathAttrs::new(
                    attributes.clone(),
                    RouteNextHop::Address(NextHop::Ipv4(next_hop)),
                ))),
                _ => None,
            };
            let entries = announced
                .iter()
                .map(|n| (IpNet::V4(n.prefix()), n.path_id()));
            self.receive(id, AfiSafi::Ipv4Unicast, entries, attrs, &mut outputs);
        }
        match &mp_reach {
            Some(MpReach::Ipv4Unicast {
                next_hop,
                announced,
            }) => {
                let attrs = usable.then(|| {
                    self.interner.intern(PathAttrs::new(
                        attributes.clone(),
                        RouteNextHop::Address(*next_hop),
                    ))
                });
                let entries = announced
                    .iter()
                    .map(|n| (IpNet::V4(n.prefix()), n.path_id()));
                self.receive(id, AfiSafi::Ipv4Unicast, entries, attrs, &mut outputs);
            }
            Some(MpReach::Ipv6Unicast {
                next_hop,
                announced,
            }) => {
                let attrs = usable.then(|| {
                    self.interner.intern(PathAttrs::new(
                        attributes.clone(),
                        RouteNextHop::Address(NextHop::Ipv6(*next_hop)),
                    ))
                });
                let entries = announced
                    .iter()
                    .map(|n| (IpNet::V6(n.prefix()), n.path_id()));
                self.receive(id, AfiSafi::Ipv6Unicast, entries, attrs, &mut outputs);
            }
            None => {}
        }
        if let Some(family) = end_of_rib {
            self.end_of_rib(id, family);
        }
        Ok(outputs)
    }

    /// Records received routes of one family in the Adj-RIB-In (`attrs`: announced with them;
    /// `None`: withdrawn) and passes them through import into the Loc-RIB; each changed
    /// destination is queued, urgent. Checks the prefix limit afterwards.
    fn receive(
        &mut self,
        id: PeerId,
        family: AfiSafi,
        entries: impl Iterator<Item = (IpNet, Option<PathId>)>,
        attrs: Option<Attrs>,
        outputs: &mut Vec<RibOutput>,
    ) {
        let Some(peer) = self.peers.get(&id) else {
            return;
        };
        if !peer.receives(family) {
            return;
        }
        let Rib {
            speaker,
            interner,
            table,
            decisions,
            peers,
            epoch,
            ..
        } = self;
        let Some(peer) = peers.get(&id) else {
            return;
        };
        let from = peer.import_from();
        let cacheable = !peer.config.import.depends_on_prefix();
        let mut cached: Option<Imported> = None;
        let mut import = |prefix: &IpNet, attrs: &Attrs| -> Imported {
            match &cached {
                Some(result) if cacheable => result.clone(),
                _ => {
                    let result = rules::import(speaker, &from, prefix, attrs)
                        .map(|changed| changed.map(|changed| interner.intern(changed)))
                        .map_err(|_| ());
                    if cacheable {
                        cached = Some(result.clone());
                    }
                    result
                }
            }
        };
        let source = Source::peer(id);
        let (mut received, mut accepted, mut refreshed): (isize, isize, usize) = (0, 0, 0);
        let roles = |s: Source| source_role(peers, s);
        for (prefix, path_id) in entries {
            let path_id = path_id.unwrap_or_default();
            let Some(attrs) = &attrs else {
                // RFC 4271 §9: a withdrawal of a route never announced is ignored.
                let Some(prefix_id) = table.lookup(&prefix) else {
                    continue;
                };
                let Some(destination) = table.get_mut(prefix_id) else {
                    continue;
                };
                let Some(index) = destination.paths.position(source, path_id) else {
                    continue;
                };
                decisions.queue(prefix_id, destination, Priority::Urgent, roles);
                let path = destination.paths.remove(index);
                received -= 1;
                accepted -= isize::from(path.imported().is_some());
                refreshed += usize::from(path.has(path_flags::STALE));
                continue;
            };
            let prefix_id = table.entry(prefix, *epoch);
            let Some(destination) = table.get_mut(prefix_id) else {
                continue;
            };
            match destination.paths.position(source, path_id) {
                Some(index) => {
                    let path = &mut destination.paths.as_mut_slice()[index];
                    refreshed += usize::from(path.has(path_flags::STALE));
                    // Unchanged attributes need no import, unless the Loc-RIB holds the route
                    // marked long-lived stale (RFC 9494 §4.3).
                    let unchanged =
                        Arc::ptr_eq(&path.received, attrs) && !path.has(path_flags::LONG_LIVED);
                    path.set(path_flags::STALE | path_flags::REFRESHING, false);
                    if unchanged {
                        continue;
                    }
                    let imported = import(&prefix, attrs);
                    decisions.queue(prefix_id, destination, Priority::Urgent, roles);
                    let path = &mut destination.paths.as_mut_slice()[index];
                    let was = path.imported().is_some();
                    path.received = attrs.clone();
                    path.set(path_flags::LONG_LIVED, false);
                    path.set_import(imported);
                    path.state = PathState::Pending;
                    accepted += isize::from(path.imported().is_some()) - isize::from(was);
                }
                None => {
                    let imported = import(&prefix, attrs);
                    decisions.queue(prefix_id, destination, Priority::Urgent, roles);
                    let mut path = Path::new(source, path_id, attrs.clone());
                    path.sent_id = destination.paths.free_sent_id();
                    path.set_import(imported);
                    received += 1;
                    accepted += isize::from(path.imported().is_some());
                    destination.paths.push(path);
                }
            }
        }
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        peer.received = peer.received.saturating_add_signed(received);
        peer.accepted = peer.accepted.saturating_add_signed(accepted);
        if let Some(stale) = &mut peer.stale[family_index(family)] {
            stale.routes = stale.routes.saturating_sub(refreshed);
        }
        check_limit(id, peer, family, outputs);
    }

    /// Removes every route of `family` from the neighbor and ignores the family from now on.
    /// `false` when it already was.
    fn disable_family(&mut self, id: PeerId, family: AfiSafi) -> bool {
        let Some(peer) = self.peers.get_mut(&id) else {
            return false;
        };
        if peer.disabled.contains(family) {
            return false;
        }
        peer.disabled.insert(family);
        self.remove_paths(id, Priority::Bulk, |prefix, _| family_of(prefix) == family);
        true
    }

    /// Removes the neighbor's routes that `which` selects, queuing their destinations, and
    /// keeps its counters. Walks the table.
    pub(crate) fn remove_paths(
        &mut self,
        id: PeerId,
        priority: Priority,
        which: impl Fn(&IpNet, &Path) -> bool,
    ) -> Removed {
        let source = Source::peer(id);
        let mut removed = Removed::default();
        let Rib {
            table,
            decisions,
            peers,
            ..
        } = self;
        let roles = |s: Source| source_role(peers, s);
        for index in 0..table.id_bound() {
            let prefix_id = PrefixId(index as u32);
            let Some(destination) = table.get_mut(prefix_id) else {
                continue;
            };
            let prefix = destination.prefix;
            let selected = |p: &Path| p.source == source && which(&prefix, p);
            if !destination.paths.iter().any(selected) {
                continue;
            }
            decisions.queue(prefix_id, destination, priority, roles);
            destination.paths.retain(|path| {
                if !selected(path) {
                    return true;
                }
                removed.routes += 1;
                removed.accepted += usize::from(path.imported().is_some());
                if path.has(path_flags::STALE) {
                    removed.stale[family_index(family_of(&prefix))] += 1;
                }
                false
            });
        }
        if let Some(peer) = self.peers.get_mut(&id) {
            peer.received = peer.received.saturating_sub(removed.routes);
            peer.accepted = peer.accepted.saturating_sub(removed.accepted);
            for (index, stale) in peer.stale.iter_mut().enumerate() {
                if let Some(stale) = stale {
                    stale.routes = stale.routes.saturating_sub(removed.stale[index]);
                }
            }
        }
        removed
    }

    /// Sets `flag` on the neighbor's routes of `family` (no decision changes).
    pub(crate) fn mark_paths(&mut self, id: PeerId, family: AfiSafi, flag: u8) -> usize {
        self.mark_paths_where(id, family, flag, |_| true)
    }

    /// Sets `flag` on the neighbor's routes of `family` that `which` selects.
    pub(crate) fn mark_paths_where(
        &mut self,
        id: PeerId,
        family: AfiSafi,
        flag: u8,
        which: impl Fn(&Path) -> bool,
    ) -> usize {
        let source = Source::peer(id);
        let mut marked = 0;
        for index in 0..self.table.id_bound() {
            let Some(destination) = self.table.get_mut(PrefixId(index as u32)) else {
                continue;
            };
            if family_of(&destination.prefix) != family {
                continue;
            }
            for path in destination
                .paths
                .iter_mut()
                .filter(|p| p.source == source && which(p))
            {
                path.set(flag, true);
                marked += 1;
            }
        }
        marked
    }

    /// Runs import again over the neighbor's routes that `which` selects (all of them after a
    /// policy change) and queues every one (bulk): a changed role or address changes the
    /// decision even where the attributes stay. Long-lived stale routes are imported with
    /// LLGR_STALE attached (RFC 9494 §4.3).
    pub(crate) fn reimport_paths(&mut self, id: PeerId, which: impl Fn(&IpNet, &Path) -> bool) {
        let source = Source::peer(id);
        let Rib {
            speaker,
            interner,
            table,
            decisions,
            peers,
            ..
        } = self;
        let Some(peer) = peers.get(&id) else {
            return;
        };
        let from = peer.import_from();
        let roles = |s: Source| source_role(peers, s);
        let mut accepted = 0isize;
        for index in 0..table.id_bound() {
            let prefix_id = PrefixId(index as u32);
            let Some(destination) = table.get_mut(prefix_id) else {
                continue;
            };
            let prefix = destination.prefix;
            if !destination
                .paths
                .iter()
                .any(|p| p.source == source && which(&prefix, p))
            {
                continue;
            }
            decisions.queue(prefix_id, destination, Priority::Bulk, roles);
            for path in destination
                .paths
                .iter_mut()
                .filter(|p| p.source == source && which(&prefix, p))
            {
                let marked;
                let input = if path.has(path_flags::LONG_LIVED) {
                    marked = interner.intern(long_lived_stale(&path.received));
                    &marked
                } else {
                    &path.received
                };
                let imported = rules::import(speaker, &from, &prefix, input)
                    .map(|changed| match changed {
                        Some(changed) => Some(interner.intern(changed)),
                        None if path.has(path_flags::LONG_LIVED) => Some(input.clone()),
                        None => None,
                    })
                    .map_err(|_| ());
                let was = path.imported().is_some();
                path.set_import(imported);
                path.state = PathState::Pending;
                accepted += isize::from(path.imported().is_some()) - isize::from(was);
            }
        }
        if let Some(peer) = self.peers.get_mut(&id) {
            peer.accepted = peer.accepted.saturating_add_signed(accepted);
        }
    }

    /// Runs import again over every route of the neighbor.
    pub(crate) fn reimport(&mut self, id: PeerId) {
        self.reimport_paths(id, |_, _| true);
    }

    pub(crate) fn route_refresh(
        &mut self,
        id: PeerId,
        refresh: RouteRefresh,
    ) -> Result<Vec<RibOutput>, RibError> {
        let epoch = self.epoch;
        let peer = self.peers.get_mut(&id).ok_or(RibError::UnknownPeer(id))?;
        // RFC 2918 §4: a request for a family the session did not negotiate is ignored.
        let Some(family) = AfiSafi::from_wire(refresh.afi, refresh.safi)
            .filter(|family| peer.families.contains(*family))
        else {
            return Ok(Vec::new());
        };
        match refresh.subtype {
            RouteRefreshSubtype::Normal => {
                // RFC 7313 §4: with enhanced route refresh the table is framed by BoRR / EoRR.
                let (begin, end) = if peer.enhanced_route_refresh {
                    (
                        demarcation(
                            family,
                            RouteRefreshSubtype::BeginningOfRouteRefresh,
                            &peer.params,
                        ),
                        demarcation(family, RouteRefreshSubtype::EndOfRouteRefresh, &peer.params),
                    )
                } else {
                    (Vec::new(), Vec::new())
                };
                let group = peer.group;
                if let Some(group) = self.groups.get_mut(&group) {
                    group.refresh(id, AfiSafiSet::EMPTY.with(family), begin, end, epoch);
                }
                Ok(vec![RibOutput::Transmit(id)])
            }
            RouteRefreshSubtype::BeginningOfRouteRefresh => {
                // RFC 7313 §4: routes not re-announced before EoRR are stale.
                peer.refreshing[family_index(family)] = true;
                self.mark_paths(id, family, path_flags::REFRESHING);
                Ok(Vec::new())
            }
            RouteRefreshSubtype::EndOfRouteRefresh => {
                if std::mem::take(&mut peer.refreshing[family_index(family)]) {
                    self.remove_paths(id, Priority::Bulk, |prefix, path| {
                        family_of(prefix) == family && path.has(path_flags::REFRESHING)
                    });
                }
                Ok(Vec::new())
            }
            // RFC 7313 §5: unknown subtypes are ignored.
            RouteRefreshSubtype::Unknown(_) => Ok(Vec::new()),
        }
    }
}
