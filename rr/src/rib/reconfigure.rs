//! Settings changed live, without a session reset: a neighbor's import or export policy,
//! next hop, client role or limit ([`RibInput::Reconfigure`](super::RibInput)), and this
//! speaker's CLUSTER_ID (RFC 4456 §7: it decides every internal neighbor's client role and
//! the §8 loop check). A neighbor whose outbound view changed moves to another update group
//! and is sent the difference.

use bytes::Bytes;
use proto::{AfiSafiSet, ClusterId};
use smallvec::SmallVec;

use super::{check_limit, Rib, RibError, RibOutput};
use crate::group::{decided_paths, Batch, Exporter, GroupKey};
use crate::peer::{Peer, PeerConfig};
use crate::rules::Role;
use crate::table::Priority;
use crate::types::{GroupId, PeerId};

/// The update group key of a neighbor with `role` and `config` (both may be about to replace
/// its own).
pub(crate) fn group_key(peer: &Peer, role: Role, config: &PeerConfig) -> GroupKey {
    GroupKey {
        families: peer.families,
        role,
        params: proto::SessionParams {
            // What only decoding depends on does not split groups.
            add_path_rx: AfiSafiSet::EMPTY,
            ..peer.params
        },
        next_hop: config.next_hop,
        local: peer.local,
        export: config.export.clone(),
        long_lived: peer
            .restart
            .as_ref()
            .is_some_and(|restart| restart.long_lived_negotiated()),
    }
}

impl Rib {
    pub(crate) fn reconfigure(
        &mut self,
        id: PeerId,
        config: PeerConfig,
    ) -> Result<Vec<RibOutput>, RibError> {
        let peer = self
            .peers
            .get(&id)
            .filter(|peer| peer.established)
            .ok_or(RibError::UnknownPeer(id))?;
        let old = peer.config.clone();
        let role = self.role(peer.asn, config.rr_client);
        let role_changed = role != peer.role;
        let reimport = old.import != config.import
            || old.allow_own_as != config.allow_own_as
            || role_changed
            || old.address != config.address;
        let old_group = peer.group;
        let key = group_key(peer, role, &config);
        let mut outputs = Vec::new();
        if role_changed {
            // How its routes are exported depends on its role: their decided state is
            // recorded with the old one before it changes.
            self.queue_paths(id);
        }
        if let Some(peer) = self.peers.get_mut(&id) {
            // A new limit is judged afresh (below, against what is held now).
            if peer.config.max_prefixes != config.max_prefixes {
                peer.limit_reached = false;
            }
            peer.config = config;
            peer.role = role;
        }
        if reimport {
            self.reimport(id);
        }
        self.regroup_if_changed(id, old_group, key, &mut outputs);
        if let Some(peer) = self.peers.get_mut(&id) {
            for family in peer.families.iter() {
                check_limit(id, peer, family, &mut outputs);
            }
        }
        Ok(outputs)
    }

    /// Queues (bulk) every destination with a route of the neighbor.
    fn queue_paths(&mut self, id: PeerId) {
        let source = crate::table::Source::peer(id);
        self.queue_where(|destination| destination.paths.iter().any(|p| p.source == source));
    }

    /// Queues (bulk) every destination `which` selects, recording its decided state.
    fn queue_where(&mut self, which: impl Fn(&crate::table::Destination) -> bool) {
        let Rib {
            table,
            decisions,
            peers,
            ..
        } = self;
        for index in 0..table.id_bound() {
            let prefix_id = crate::table::PrefixId(index as u32);
            let Some(destination) = table.get_mut(prefix_id) else {
                continue;
            };
            if which(destination) {
                decisions.queue(prefix_id, destination, Priority::Bulk, |s| {
                    crate::peer::source_role(peers, s)
                });
            }
        }
    }

    /// RFC 4456 §7: become a route reflector with this CLUSTER_ID, take another one, or stop
    /// reflecting. Every internal neighbor's role is derived again, its routes imported
    /// again (the §8 loop check uses the CLUSTER_ID) and decided again. What was sent carried
    /// the old CLUSTER_ID and roles, so every destination is queued before the change and the
    /// decisions after it compare with the export under the old ones: groups are sent exactly
    /// the difference.
    pub(crate) fn set_cluster_id(&mut self, cluster_id: Option<ClusterId>) -> Vec<RibOutput> {
        if self.config.cluster_id == cluster_id {
            return Vec::new();
        }
        let mut outputs = Vec::new();
        let deferring = self.deferral.waiting();
        if !deferring {
            self.drain_decisions(&mut outputs);
            self.queue_where(|_| true);
            self.previous_speaker = Some(self.speaker);
        }
        self.config.cluster_id = cluster_id;
        self.speaker.cluster_id = cluster_id;
        let ids: Vec<PeerId> = self.peers.keys().copied().collect();
        // Every role first, so that a group created by a move below is filled with the final
        // role of every route's source.
        let mut moves = Vec::new();
        for &id in &ids {
            let Some(peer) = self.peers.get(&id) else {
                continue;
            };
            let role = self.role(peer.asn, peer.config.rr_client);
            let key = group_key(peer, role, &peer.config);
            moves.push((id, peer.group, key));
            if let Some(peer) = self.peers.get_mut(&id) {
                peer.role = role;
            }
        }
        for (id, old_group, key) in moves {
            if self.peers.get(&id).is_some_and(|p| p.established) {
                self.regroup_if_changed(id, old_group, key, &mut outputs);
            }
        }
        for id in ids {
            self.reimport(id);
        }
        if !deferring {
            self.drain_decisions(&mut outputs);
            self.previous_speaker = None;
            for group in self.groups.values_mut() {
                group.fresh = false;
            }
        }
        outputs
    }

    /// Decides everything queued.
    fn drain_decisions(&mut self, outputs: &mut Vec<RibOutput>) {
        while self.pending_decisions() > 0 {
            outputs.extend(self.run_decisions(usize::MAX));
        }
    }

    /// Moves the neighbor to the group of `key` when its group `old` has another key.
    fn regroup_if_changed(
        &mut self,
        id: PeerId,
        old: GroupId,
        key: GroupKey,
        outputs: &mut Vec<RibOutput>,
    ) {
        if self
            .groups
            .get(&old)
            .is_some_and(|group| *group.key() != key)
        {
            self.regroup(id, old, key);
            outputs.push(RibOutput::Transmit(id));
        }
    }

    /// Moves a neighbor to the group of `key`. It may hold anything the old group ever sent
    /// it (it may not have taken the latest messages), so it is sent what the old group still
    /// had queued for it, withdrawals for every route the old group advertises that the new
    /// one does not, then the new group's table, then any End-of-RIB it was still owed.
    fn regroup(&mut self, id: PeerId, old: GroupId, key: GroupKey) {
        let params = key.params;
        let new = self.ensure_group(key);
        if self.deferral.holds(id) {
            // Not in a group yet: it joins the new one when the deferral ends.
            if let Some(peer) = self.peers.get_mut(&id) {
                peer.group = new;
            }
            return;
        }
        // What the member has not taken yet from the old group goes with it: the old group's
        // withdrawals of destinations now gone included.
        let (mut private, since): (Vec<Bytes>, Option<u32>) = match self
            .groups
            .get(&old)
            .and_then(|group| Some((group, group.members.get(&id)?)))
        {
            Some((group, member)) => {
                let from = member.walk.as_ref().map_or(member.cursor, |walk| walk.mark);
                let mut carried: Vec<Bytes> = member.private.iter().cloned().collect();
                carried.extend(group.log.from(from).cloned());
                (carried, member.walk.as_ref().and_then(|walk| walk.since))
            }
            None => (Vec::new(), None),
        };
        let withdrawals = self.regroup_withdrawals(old, new, &params, since);
        let end = self
            .leave_group(id, old)
            .and_then(|member| member.walk.map(|walk| walk.end))
            .unwrap_or_default();
        private.extend(withdrawals);
        let epoch = self.epoch;
        if let Some(group) = self.groups.get_mut(&new) {
            group.join(id, private, end, epoch);
        }
        if let Some(peer) = self.peers.get_mut(&id) {
            peer.group = new;
        }
    }

    /// The withdrawals that take a member of group `old` to what group `new` advertises.
    /// `since`: the member was resynchronizing from that epoch, so destinations changed since
    /// (gone ones included) are withdrawn too unless the new group advertises them.
    fn regroup_withdrawals(
        &mut self,
        old: GroupId,
        new: GroupId,
        params: &proto::SessionParams,
        since: Option<u32>,
    ) -> Vec<Bytes> {
        let mut batch = Batch::new(params);
        let Rib {
            speaker,
            table,
            decisions,
            peers,
            interner,
            groups,
            previous_speaker,
            ..
        } = self;
        let (Some(old_group), Some(new_group)) = (groups.get(&old), groups.get(&new)) else {
            return Vec::new();
        };
        // What each group's members hold is its export under the speaker it was computed
        // with: the previous one while a CLUSTER_ID change is applied, unless the group was
        // made during it.
        let (speaker, previous_speaker): (&crate::rules::Speaker, Option<&crate::rules::Speaker>) =
            (speaker, previous_speaker.as_ref());
        let held_under = |fresh: bool| match previous_speaker {
            Some(previous) if !fresh => previous,
            _ => speaker,
        };
        let mut old_export = Exporter::new(held_under(old_group.fresh), old_group.key());
        let mut new_export = Exporter::new(held_under(new_group.fresh), new_group.key());
        for (prefix_id, destination) in table.iter() {
            let changed = since.is_some_and(|since| {
                !crate::group::before(crate::group::changed_epoch(decisions, destination), since)
            });
            if !old_group.advertised.get(prefix_id) {
                let kept = new_group.advertised.get(prefix_id);
                if changed
                    && !kept
                    && !params.sends_path_id(crate::types::family_of(&destination.prefix))
                {
                    batch.withdraw(destination.prefix, proto::PathId(0));
                }
                continue;
            }
            let paths = decided_paths(decisions, peers, destination);
            let held = old_export.view(interner, &destination.prefix, paths.iter().copied());
            let kept = if new_group.advertised.get(prefix_id) {
                new_export.view(interner, &destination.prefix, paths.iter().copied())
            } else {
                SmallVec::new()
            };
            for (path_id, _) in &held {
                if !kept.iter().any(|(kept_id, _)| kept_id == path_id) {
                    batch.withdraw(destination.prefix, *path_id);
                }
            }
        }
        batch.encode().0
    }
}
