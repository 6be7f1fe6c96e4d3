//! The decision process: RFC 4271 §9.1.2.2 with the RFC 4456 §9 additions, run as the RFC
//! describes it, by elimination, one step at a time, and recording the step that decided.
//!
//! Steps, in order ([`STEPS`]):
//! 0. routes without the LLGR_STALE community (RFC 9494 §4.3: a long-lived stale route is
//!    less preferred than any route without it, before any other step);
//! 1. locally originated routes first (not in the RFC: the degree of preference of §9.1.1 is a
//!    local matter, and like BIRD's static-over-BGP preference a speaker prefers what it
//!    originates itself);
//! 2. highest LOCAL_PREF (§9.1.1; a path without one counts as the configured default);
//! 3. (a) shortest AS_PATH, an AS_SET counting 1 and confederation segments 0 (RFC 5065 §5.3);
//! 4. (b) lowest ORIGIN (IGP < EGP < INCOMPLETE);
//! 5. (c) lowest MULTI_EXIT_DISC among routes from the same neighboring AS (the first AS of
//!    the path), a missing MED counting as 0; with `always_compare_med` among all routes;
//! 6. (d) routes from external peers over routes from internal peers;
//!    (e) the interior cost to the next hop is skipped: Starling has no IGP, every next hop
//!    costs the same;
//! 7. (f) lowest BGP Identifier, the ORIGINATOR_ID standing in for it when present
//!    (RFC 4456 §9);
//! 8. shortest CLUSTER_LIST, which RFC 4456 §9 inserts between (f) and (g);
//! 9. (g) lowest peer address;
//! 10. lowest path identifier: two paths from one ADD-PATH neighbor (RFC 7911) that tie on
//!     everything else.
//!
//! Step 5 is why the process eliminates rather than sorts: MED makes pairwise preference
//! non-transitive, and the RFC's elimination gives the same result whatever the order of the
//! candidates. [`compare`] is the same process on two candidates.
//!
//! Multipath: the routes still standing after step 6 are equally good for forwarding; the
//! remaining steps only order them. Up to `ecmp_max_paths` of them are installed.

use std::cmp::Ordering;
use std::net::IpAddr;

use proto::attr::{LocalPref, MultiExitDisc, Origin};
use proto::{Asn, PathId, RouterId};
use smallvec::SmallVec;

use crate::attrs::PathAttrs;
use crate::restart::is_long_lived_stale;

/// Settings of the decision process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecisionCtx {
    /// Compare MED between routes from different neighboring ASes too.
    pub always_compare_med: bool,
    /// The degree of preference of a path without LOCAL_PREF.
    pub default_local_pref: LocalPref,
}

/// How the speaker learned a path; it decides step 1 and step 6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceKind {
    /// Originated by this speaker.
    Local,
    /// From an external (eBGP) neighbor.
    External,
    /// From an internal (iBGP) neighbor.
    Internal,
}

/// One path as the decision process sees it.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub attrs: &'a PathAttrs,
    pub kind: SourceKind,
    /// The BGP Identifier of the neighbor the path came from (our own for local paths).
    pub peer_router_id: RouterId,
    /// The neighbor's address; `None` for local paths.
    pub peer_address: Option<IpAddr>,
    /// The path identifier the neighbor gave it (RFC 7911), `PathId(0)` without ADD-PATH.
    pub path_id: PathId,
}

/// The step that decided between two paths, or that eliminated a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    LongLivedStale,
    LocallyOriginated,
    LocalPref,
    AsPathLength,
    Origin,
    MultiExitDisc,
    ExternalOverInternal,
    RouterId,
    ClusterListLength,
    PeerAddress,
    PathId,
    /// Nothing tells the two apart.
    Tie,
}

impl Reason {
    /// A short explanation for `bgpctl`.
    pub fn describe(self) -> &'static str {
        match self {
            Reason::LongLivedStale => "route not long-lived stale (LLGR_STALE) preferred",
            Reason::LocallyOriginated => "locally originated route preferred",
            Reason::LocalPref => "higher LOCAL_PREF",
            Reason::AsPathLength => "shorter AS_PATH",
            Reason::Origin => "lower ORIGIN",
            Reason::MultiExitDisc => "lower MED from the same neighboring AS",
            Reason::ExternalOverInternal => "eBGP route preferred over iBGP",
            Reason::RouterId => "lower BGP Identifier (ORIGINATOR_ID)",
            Reason::ClusterListLength => "shorter CLUSTER_LIST",
            Reason::PeerAddress => "lower peer address",
            Reason::PathId => "lower path identifier",
            Reason::Tie => "equal",
        }
    }
}

/// The steps in the order they are applied.
pub const STEPS: [Reason; 11] = [
    Reason::LongLivedStale,
    Reason::LocallyOriginated,
    Reason::LocalPref,
    Reason::AsPathLength,
    Reason::Origin,
    Reason::MultiExitDisc,
    Reason::ExternalOverInternal,
    Reason::RouterId,
    Reason::ClusterListLength,
    Reason::PeerAddress,
    Reason::PathId,
];

/// The first step that only orders multipath candidates.
const FIRST_TIE_BREAK: Reason = Reason::RouterId;

/// Which of `a` and `b` is preferred (`Greater`: `a`), and the step that decided.
pub fn compare(a: &Candidate<'_>, b: &Candidate<'_>, ctx: &DecisionCtx) -> (Ordering, Reason) {
    for step in STEPS {
        let order = rank(step, a, b, ctx);
        if order != Ordering::Equal {
            return (order, step);
        }
    }
    (Ordering::Equal, Reason::Tie)
}

/// The outcome of the decision process over a set of candidates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Indices of the multipath set, best first, at most `max_paths` long; never empty.
    pub multipath: SmallVec<[usize; 4]>,
    /// For each candidate, the step that eliminated it; `None` for the best.
    pub reasons: SmallVec<[Option<Reason>; 4]>,
}

impl Selection {
    pub fn best(&self) -> usize {
        self.multipath[0]
    }
}

/// Runs the decision process. `None` when there is no candidate. `max_paths` below 1 counts
/// as 1.
pub fn select(
    candidates: &[Candidate<'_>],
    ctx: &DecisionCtx,
    max_paths: usize,
) -> Option<Selection> {
    if candidates.is_empty() {
        return None;
    }
    let mut alive: SmallVec<[usize; 4]> = (0..candidates.len()).collect();
    let mut reasons: SmallVec<[Option<Reason>; 4]> = SmallVec::from_elem(None, candidates.len());
    let mut multipath: Option<SmallVec<[usize; 4]>> = None;
    for step in STEPS {
        if alive.len() == 1 {
            break;
        }
        if step == FIRST_TIE_BREAK {
            multipath = Some(alive.clone());
        }
        let kept = survivors(step, &alive, candidates, ctx);
        for &index in alive.iter().filter(|i| !kept.contains(i)) {
            reasons[index] = Some(step);
        }
        alive = kept;
    }
    let mut multipath = multipath.unwrap_or_else(|| alive.clone());
    // The tie-break steps are total orders, so sorting by them puts the winner first.
    multipath.sort_by(|&a, &b| tie_break(&candidates[b], &candidates[a], ctx));
    multipath.truncate(max_paths.max(1));
    Some(Selection { multipath, reasons })
}

/// The candidates of `alive` that `step` keeps.
fn survivors(
    step: Reason,
    alive: &[usize],
    candidates: &[Candidate<'_>],
    ctx: &DecisionCtx,
) -> SmallVec<[usize; 4]> {
    if step == Reason::MultiExitDisc {
        return med_survivors(alive, candidates, ctx);
    }
    let mut best = alive[0];
    for &index in &alive[1..] {
        if rank(step, &candidates[index], &candidates[best], ctx) == Ordering::Greater {
            best = index;
        }
    }
    alive
        .iter()
        .copied()
        .filter(|&i| rank(step, &candidates[i], &candidates[best], ctx) == Ordering::Equal)
        .collect()
}

/// RFC 4271 §9.1.2.2(c): a route is removed when another route from the same neighboring AS
/// has a lower MED.
fn med_survivors(
    alive: &[usize],
    candidates: &[Candidate<'_>],
    ctx: &DecisionCtx,
) -> SmallVec<[usize; 4]> {
    let mut lowest: SmallVec<[(Option<Asn>, MultiExitDisc); 4]> = SmallVec::new();
    for &index in alive {
        let key = med_group(&candidates[index], ctx);
        let med = med(&candidates[index]);
        match lowest.iter_mut().find(|(group, _)| *group == key) {
            Some((_, low)) => *low = (*low).min(med),
            None => lowest.push((key, med)),
        }
    }
    alive
        .iter()
        .copied()
        .filter(|&index| {
            let key = med_group(&candidates[index], ctx);
            lowest
                .iter()
                .any(|(group, low)| *group == key && *low == med(&candidates[index]))
        })
        .collect()
}

/// The group within which MEDs compare: the neighboring AS, or everything.
fn med_group(candidate: &Candidate<'_>, ctx: &DecisionCtx) -> Option<Asn> {
    if ctx.always_compare_med {
        None
    } else {
        neighbor_as(candidate)
    }
}

/// Compares by the tie-break steps only.
fn tie_break(a: &Candidate<'_>, b: &Candidate<'_>, ctx: &DecisionCtx) -> Ordering {
    STEPS
        .iter()
        .skip_while(|&&step| step != FIRST_TIE_BREAK)
        .map(|&step| rank(step, a, b, ctx))
        .find(|order| *order != Ordering::Equal)
        .unwrap_or(Ordering::Equal)
}

/// How one step orders two candidates: `Greater` when it prefers `a`.
fn rank(step: Reason, a: &Candidate<'_>, b: &Candidate<'_>, ctx: &DecisionCtx) -> Ordering {
    match step {
        Reason::LongLivedStale => is_long_lived_stale(b.attrs).cmp(&is_long_lived_stale(a.attrs)),
        Reason::LocallyOriginated => {
            (a.kind == SourceKind::Local).cmp(&(b.kind == SourceKind::Local))
        }
        Reason::LocalPref => a
            .attrs
            .local_pref_or(ctx.default_local_pref)
            .cmp(&b.attrs.local_pref_or(ctx.default_local_pref)),
        Reason::AsPathLength => as_path_len(b).cmp(&as_path_len(a)),
        Reason::Origin => origin(b).cmp(&origin(a)),
        Reason::MultiExitDisc => {
            if med_group(a, ctx) == med_group(b, ctx) {
                med(b).cmp(&med(a))
            } else {
                Ordering::Equal
            }
        }
        Reason::ExternalOverInternal => {
            (a.kind != SourceKind::Internal).cmp(&(b.kind != SourceKind::Internal))
        }
        Reason::RouterId => router_id(b).cmp(&router_id(a)),
        Reason::ClusterListLength => cluster_list_len(b).cmp(&cluster_list_len(a)),
        Reason::PeerAddress => b.peer_address.cmp(&a.peer_address),
        Reason::PathId => b.path_id.cmp(&a.path_id),
        Reason::Tie => Ordering::Equal,
    }
}

fn as_path_len(candidate: &Candidate<'_>) -> usize {
    candidate
        .attrs
        .attributes
        .as_path
        .as_ref()
        .map_or(0, |path| path.path_len())
}

/// A path without ORIGIN cannot reach the RIB (RFC 7606 §3(d) treats it as withdrawn); were
/// one to, it would rank last.
fn origin(candidate: &Candidate<'_>) -> Origin {
    candidate
        .attrs
        .attributes
        .origin
        .unwrap_or(Origin::Incomplete)
}

/// RFC 4271 §9.1.2.2(c): a route without MED counts as having the lowest value.
fn med(candidate: &Candidate<'_>) -> MultiExitDisc {
    candidate
        .attrs
        .attributes
        .multi_exit_disc
        .unwrap_or(MultiExitDisc(0))
}

/// The neighboring AS: the first AS of the path; `None` for a path originated in our own AS.
fn neighbor_as(candidate: &Candidate<'_>) -> Option<Asn> {
    candidate
        .attrs
        .attributes
        .as_path
        .as_ref()
        .and_then(|path| path.first_asn())
}

/// RFC 4456 §9: the ORIGINATOR_ID stands in for the BGP Identifier when present.
fn router_id(candidate: &Candidate<'_>) -> RouterId {
    candidate
        .attrs
        .attributes
        .originator_id
        .unwrap_or(candidate.peer_router_id)
}

fn cluster_list_len(candidate: &Candidate<'_>) -> usize {
    candidate.attrs.attributes.cluster_list.len()
}
