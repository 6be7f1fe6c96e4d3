//! Decision batches: each queued destination is decided (RFC 4271 §9.1.2, `decision`), its
//! forwarding change computed against what the last decision left (multipath next hops,
//! local routes never installed), and then each update group is brought up to date for the
//! batch at once: the old export (of the snapshot taken when the destination was queued) and
//! the new one are compared per group and the difference encoded once into the group's log.

use std::net::IpAddr;

use smallvec::SmallVec;

use super::{FibChange, FibOp, Rib, RibOutput};
use crate::attrs::{Attrs, RouteNextHop};
use crate::decision::{select, Candidate, Reason, SourceKind};
use crate::group::{ExportPath, Exporter};
use crate::peer::source_role;
use crate::rules::Role;
use crate::table::{destination_flags, Decided, PathState, PrefixId, Source};
use crate::types::forwarding_address;

/// Next hops installed in the FIB for a prefix, sorted.
type NextHops = SmallVec<[IpAddr; 1]>;

impl Rib {
    /// Decides up to `budget` queued destinations (urgent ones first), then brings every
    /// update group up to date for them, encoding each change once per group.
    pub fn run_decisions(&mut self, budget: usize) -> Vec<RibOutput> {
        let mut outputs = Vec::new();
        if self.deferral.waiting() {
            return outputs;
        }
        let epoch = self.epoch.wrapping_add(1);
        let mut changed: Vec<(PrefixId, Decided)> = Vec::new();
        let mut decided = 0;
        while decided < budget {
            let Some(id) = self.decisions.pop() else {
                break;
            };
            let Some(destination) = self.table.get_mut(id) else {
                continue;
            };
            if !destination.queued() {
                continue;
            }
            decided += 1;
            let before = self.decisions.take(destination);
            // Export may change where the decision does not: a source's role, or the speaker
            // (a CLUSTER_ID change), is not what it was when the destination was decided.
            let exported_differently = self.previous_speaker.is_some()
                || before
                    .paths
                    .iter()
                    .any(|p| source_role(&self.peers, p.source) != Some(p.role));
            if self.decide(id, &before, epoch, &mut outputs) || exported_differently {
                changed.push((id, before));
            }
        }
        if !changed.is_empty() {
            self.epoch = epoch;
            self.flush(&changed, &mut outputs);
            for (id, _) in &changed {
                if let Some(destination) = self.table.get_mut(*id) {
                    if destination.paths.is_empty() && !destination.queued() {
                        destination.flags |= destination_flags::GRAVE;
                        self.graves.push_back((*id, epoch));
                    }
                }
            }
            self.collect_graves();
        }
        outputs.extend(self.release_deferred());
        outputs
    }

    /// Runs the decision process for one destination and emits its forwarding change.
    /// Returns whether what the decision left differs from `before`.
    fn decide(
        &mut self,
        id: PrefixId,
        before: &Decided,
        epoch: u32,
        outputs: &mut Vec<RibOutput>,
    ) -> bool {
        let Rib {
            table,
            peers,
            speaker,
            ctx,
            config,
            ..
        } = self;
        let Some(destination) = table.get_mut(id) else {
            return false;
        };
        let prefix = destination.prefix;
        let paths = destination.paths.as_mut_slice();
        let mut candidates: SmallVec<[Candidate<'_>; 4]> = SmallVec::new();
        let mut indices: SmallVec<[usize; 4]> = SmallVec::new();
        for (index, path) in paths.iter().enumerate() {
            let Some(attrs) = path.imported() else {
                continue;
            };
            let peer = match path.source.route_source() {
                crate::types::RouteSource::Peer(peer) => peers.get(&peer),
                crate::types::RouteSource::Local => None,
            };
            let kind = match (path.source == Source::LOCAL, peer.map(|p| p.role)) {
                (true, _) => SourceKind::Local,
                (_, Some(Role::External { .. })) => SourceKind::External,
                // A path outlives its neighbor only within one call; counting it internal
                // is the conservative choice.
                (_, _) => SourceKind::Internal,
            };
            candidates.push(Candidate {
                attrs,
                kind,
                peer_router_id: peer.map_or(speaker.router_id, |p| p.router_id),
                peer_address: peer.map(|p| p.config.address),
                path_id: path.received_id,
            });
            indices.push(index);
        }
        let selection = select(&candidates, ctx, config.ecmp_max_paths.get());
        drop(candidates);
        let mut states: SmallVec<[PathState; 4]> =
            SmallVec::from_elem(PathState::Pending, paths.len());
        if let Some(selection) = &selection {
            for (position, &index) in indices.iter().enumerate() {
                let reason = selection.reasons[position].unwrap_or(Reason::Tie);
                states[index] = if position == selection.best() {
                    PathState::Best
                } else if selection.multipath.contains(&position) {
                    PathState::Multipath(reason)
                } else {
                    PathState::NotSelected(reason)
                };
            }
        }
        for (path, state) in paths.iter_mut().zip(&states) {
            path.state = *state;
        }
        let after = paths
            .iter()
            .filter(|p| p.state != PathState::Pending)
            .filter_map(|p| Some((p.source, p.sent_id, p.imported()?, p.state)));
        let changed = !same_decision(before, after);
        destination.aux = if changed { epoch } else { before.epoch };
        if changed && config.install_routes {
            let old = next_hops(before.paths.iter().map(|p| (p.source, &p.attrs, p.state)));
            let new = next_hops(
                destination
                    .paths
                    .iter()
                    .filter_map(|p| Some((p.source, p.imported()?, p.state))),
            );
            if old != new {
                let op = if new.is_empty() {
                    FibOp::Delete
                } else {
                    FibOp::Replace { next_hops: new }
                };
                outputs.push(RibOutput::Fib(FibChange { prefix, op }));
            }
        }
        changed
    }

    /// Brings every group up to date for `changed` destinations: per group, the old and the
    /// new export of each are compared and the difference encoded once.
    fn flush(&mut self, changed: &[(PrefixId, Decided)], outputs: &mut Vec<RibOutput>) {
        let Rib {
            speaker,
            table,
            decisions,
            peers,
            interner,
            groups,
            config,
            epoch,
            previous_speaker,
            ..
        } = self;
        for group in groups.values_mut() {
            let key = group.key().clone();
            let mut exporter = Exporter::new(speaker, &key);
            let mut previous = previous_speaker
                .as_ref()
                .filter(|_| !group.fresh)
                .map(|old| Exporter::new(old, &key));
            let mut pending = group.pending();
            for (id, before) in changed {
                let Some(destination) = table.get(*id) else {
                    continue;
                };
                let prefix = destination.prefix;
                if !key.families.contains(crate::types::family_of(&prefix)) {
                    continue;
                }
                let before = before.paths.iter().map(ExportPath::of_decided);
                let old = match &mut previous {
                    Some(previous) => previous.view(interner, &prefix, before),
                    None => exporter.view(interner, &prefix, before),
                };
                let current = crate::group::decided_paths(decisions, peers, destination);
                let new = exporter.view(interner, &prefix, current.into_iter());
                group.diff(*id, prefix, &old, &new, &mut pending, *epoch);
            }
            let committed = group.commit(pending, config.log_retention, *epoch);
            if let Some(error) = committed.error {
                outputs.push(RibOutput::ExportFailed {
                    group: group.id,
                    routes: committed.failed,
                    error,
                });
            }
            if committed.logged {
                outputs.extend(group.members.keys().map(|&peer| RibOutput::Transmit(peer)));
            }
        }
    }
}

/// Whether the paths decided now are those `before` recorded, in the same roles for export
/// and forwarding (the reasons of paths not selected do not matter).
fn same_decision<'a>(
    before: &Decided,
    after: impl Iterator<Item = (Source, proto::PathId, &'a Attrs, PathState)>,
) -> bool {
    let kind = |state: PathState| match state {
        PathState::Best => 0,
        PathState::Multipath(_) => 1,
        PathState::NotSelected(_) => 2,
        PathState::Pending => 3,
    };
    let mut count = 0;
    for (source, sent_id, attrs, state) in after {
        count += 1;
        let found = before.paths.iter().any(|p| {
            p.source == source
                && p.sent_id == sent_id
                && std::sync::Arc::ptr_eq(&p.attrs, attrs)
                && kind(p.state) == kind(state)
        });
        if !found {
            return false;
        }
    }
    count == before.paths.len()
}

/// The next hops to install for a destination: those of the best and multipath routes,
/// sorted and without repeats; none when the best is a local route (the kernel already
/// routes it).
fn next_hops<'a>(paths: impl Iterator<Item = (Source, &'a Attrs, PathState)>) -> NextHops {
    let mut out = NextHops::new();
    for (source, attrs, state) in paths {
        match state {
            PathState::Best if source == Source::LOCAL => return NextHops::new(),
            PathState::Best | PathState::Multipath(_) => {
                if let RouteNextHop::Address(next_hop) = attrs.next_hop {
                    let address = forwarding_address(&next_hop);
                    if !out.contains(&address) {
                        out.push(address);
                    }
                }
            }
            _ => {}
        }
    }
    out.sort();
    out
}
