//! What an update group advertises for one destination: the export (`rules::export`: the
//! protocol's rules, then the group's export policy) of the decided best path, or with
//! ADD-PATH send (RFC 7911) of every decided path. It is computed whenever it is needed, from
//! the decided paths (the table's, or the snapshot of a destination waiting for a decision),
//! instead of being stored per group and prefix: the Adj-RIB-Out is implicit, as in BIRD. A
//! memo per attribute set keeps the cost at one lookup per route, since most routes share
//! their attributes.

use std::sync::Arc;

use ipnet::IpNet;
use proto::{AfiSafi, PathId};
use smallvec::SmallVec;

use super::GroupKey;
use crate::attrs::{Attrs, ByPointer, Interner};
use crate::restart::is_long_lived_stale;
use crate::rules::{self, ExportTo, SourceRole, Speaker};
use crate::table::{DecidedPath, Path, PathState};
use crate::types::{family_of, FastMap};

/// What a group advertises for one prefix: path identifier and attributes as sent.
pub(crate) type Desired = SmallVec<[(PathId, Attrs); 1]>;

/// One decided path as export sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExportPath<'a> {
    pub role: SourceRole,
    pub sent_id: PathId,
    pub attrs: &'a Attrs,
    pub best: bool,
}

impl<'a> ExportPath<'a> {
    /// A path of the table, with its source's role now; `None` when it is not in the Loc-RIB
    /// or its source is unknown.
    pub fn of_path(path: &'a Path, role: Option<SourceRole>) -> Option<ExportPath<'a>> {
        if path.state == PathState::Pending {
            return None;
        }
        Some(ExportPath {
            role: role?,
            sent_id: path.sent_id,
            attrs: path.imported()?,
            best: path.state == PathState::Best,
        })
    }

    /// A path as its last decision saw it.
    pub fn of_decided(path: &'a DecidedPath) -> ExportPath<'a> {
        ExportPath {
            role: path.role,
            sent_id: path.sent_id,
            attrs: &path.attrs,
            best: path.state == PathState::Best,
        }
    }
}

/// The export of one group over many destinations (a decision batch, a walk).
pub(crate) struct Exporter<'a> {
    speaker: &'a Speaker,
    key: &'a GroupKey,
    /// Results per attribute set, source role and family, when the policy does not look at
    /// the prefix. The last result is checked first: consecutive prefixes mostly share
    /// attributes.
    cacheable: bool,
    results: FastMap<(ByPointer, SourceRole, AfiSafi), Option<Attrs>>,
    last: Option<(Attrs, SourceRole, AfiSafi, Option<Attrs>)>,
}

impl<'a> Exporter<'a> {
    pub fn new(speaker: &'a Speaker, key: &'a GroupKey) -> Exporter<'a> {
        Exporter {
            speaker,
            key,
            cacheable: !key.export.depends_on_prefix(),
            results: FastMap::default(),
            last: None,
        }
    }

    /// What the group advertises for `prefix` given its decided paths.
    pub fn view<'p>(
        &mut self,
        interner: &mut Interner,
        prefix: &IpNet,
        paths: impl Iterator<Item = ExportPath<'p>>,
    ) -> Desired {
        let family = family_of(prefix);
        let mut out = Desired::new();
        if !self.key.families.contains(family) {
            return out;
        }
        if self.key.params.sends_path_id(family) {
            for path in paths {
                if let Some(attrs) = self.export(interner, prefix, family, &path) {
                    out.push((path.sent_id, attrs));
                }
            }
        } else if let Some(best) = paths.into_iter().find(|p| p.best) {
            if let Some(attrs) = self.export(interner, prefix, family, &best) {
                out.push((PathId(0), attrs));
            }
        }
        out
    }

    fn export(
        &mut self,
        interner: &mut Interner,
        prefix: &IpNet,
        family: AfiSafi,
        path: &ExportPath<'_>,
    ) -> Option<Attrs> {
        // RFC 9494 §4.5: long-lived stale routes only go to neighbors that negotiated it.
        if !self.key.long_lived && is_long_lived_stale(path.attrs) {
            return None;
        }
        if self.cacheable {
            if let Some((last, role, last_family, result)) = &self.last {
                if Arc::ptr_eq(last, path.attrs) && *role == path.role && *last_family == family {
                    return result.clone();
                }
            }
            if let Some(result) =
                self.results
                    .get(&(ByPointer(path.attrs.clone()), path.role, family))
            {
                let result = result.clone();
                self.last = Some((path.attrs.clone(), path.role, family, result.clone()));
                return result;
            }
        }
        let to = ExportTo {
            role: self.key.role,
            next_hop: self.key.next_hop,
            local: self.key.local,
            params: &self.key.params,
            policy: &self.key.export,
        };
        let result = rules::export(self.speaker, &to, prefix, path.attrs, path.role)
            .map(|attrs| interner.intern(attrs));
        if self.cacheable {
            self.results.insert(
                (ByPointer(path.attrs.clone()), path.role, family),
                result.clone(),
            );
            self.last = Some((path.attrs.clone(), path.role, family, result.clone()));
        }
        result
    }
}
