//! The decision process (RFC 4271 §9.1.2.2 with RFC 4456 §9): one case per step through
//! `compare`, the MED elimination that pairwise comparison cannot express, and multipath
//! selection through the RIB (FIB next hops, the reasons `bgpctl` shows).

mod common;

use std::cmp::Ordering;
use std::net::IpAddr;
use std::num::NonZeroUsize;

use common::*;
use proto::attr::{AsPath, Attributes, Origin, Segment, SegmentType};
use proto::{Asn, ClusterId, PathId, RouterId};
use rr::decision::select;
use rr::{
    compare, Candidate, DecisionCtx, PathAttrs, PathState, Reason, RibConfig, RouteNextHop,
    SourceKind, DEFAULT_LOCAL_PREF,
};

/// A path as the decision sees it: how it was learned, from whom, with which attributes.
#[derive(Clone)]
struct Path {
    kind: SourceKind,
    router_id: &'static str,
    address: &'static str,
    path_id: u32,
    attrs: PathAttrs,
}

fn path_from(kind: SourceKind, router_id: &'static str, attributes: Attributes) -> Path {
    Path {
        kind,
        router_id,
        address: router_id,
        path_id: 0,
        attrs: PathAttrs::new(attributes, RouteNextHop::Local),
    }
}

fn ibgp(router_id: &'static str, attributes: Attributes) -> Path {
    path_from(SourceKind::Internal, router_id, attributes)
}

fn ebgp(router_id: &'static str, attributes: Attributes) -> Path {
    path_from(SourceKind::External, router_id, attributes)
}

fn candidate(path: &Path) -> Candidate<'_> {
    Candidate {
        attrs: &path.attrs,
        kind: path.kind,
        peer_router_id: RouterId(v4(path.router_id)),
        peer_address: Some(path.address.parse::<IpAddr>().expect("address")),
        path_id: PathId(path.path_id),
    }
}

const CTX: DecisionCtx = DecisionCtx {
    always_compare_med: false,
    default_local_pref: DEFAULT_LOCAL_PREF,
};

/// `compare(a, b)` must give `expected`, and `compare(b, a)` its reverse with the same reason.
fn check(name: &str, a: Path, b: Path, ctx: DecisionCtx, expected: (Ordering, Reason)) {
    assert_eq!(
        compare(&candidate(&a), &candidate(&b), &ctx),
        expected,
        "{name}"
    );
    let reversed = (expected.0.reverse(), expected.1);
    assert_eq!(
        compare(&candidate(&b), &candidate(&a), &ctx),
        reversed,
        "{name} reversed"
    );
}

fn with_set(sequence: &[u32], set: &[u32]) -> Attributes {
    let asns = |list: &[u32]| list.iter().map(|&a| Asn(a)).collect::<Vec<_>>();
    let segments = vec![
        Segment::new(SegmentType::AsSequence, asns(sequence)).expect("segment"),
        Segment::new(SegmentType::AsSet, asns(set)).expect("segment"),
    ];
    Attributes {
        as_path: Some(AsPath::new(segments)),
        ..path(&[])
    }
}

#[test]
fn each_step_decides() {
    let local = path_from(SourceKind::Local, "10.0.0.254", path(&[]));
    /// Name, preferred path, other path, settings, expected comparison.
    type Case = (&'static str, Path, Path, DecisionCtx, (Ordering, Reason));
    let cases: Vec<Case> = vec![
        (
            "local route over a learned one with higher LOCAL_PREF",
            local,
            ibgp(
                "10.0.0.1",
                Attributes {
                    local_pref: local_pref(900),
                    ..path(&[])
                },
            ),
            CTX,
            (Ordering::Greater, Reason::LocallyOriginated),
        ),
        (
            "higher LOCAL_PREF",
            ibgp(
                "10.0.0.2",
                Attributes {
                    local_pref: local_pref(200),
                    ..path(&[1, 2, 3])
                },
            ),
            ibgp(
                "10.0.0.1",
                Attributes {
                    local_pref: local_pref(100),
                    ..path(&[1])
                },
            ),
            CTX,
            (Ordering::Greater, Reason::LocalPref),
        ),
        (
            "missing LOCAL_PREF counts as the default",
            ibgp("10.0.0.2", path(&[1])),
            ibgp(
                "10.0.0.1",
                Attributes {
                    local_pref: local_pref(99),
                    ..path(&[1])
                },
            ),
            CTX,
            (Ordering::Greater, Reason::LocalPref),
        ),
        (
            "shorter AS_PATH",
            ibgp("10.0.0.2", path(&[1, 2])),
            ibgp("10.0.0.1", path(&[1, 2, 3])),
            CTX,
            (Ordering::Greater, Reason::AsPathLength),
        ),
        (
            "an AS_SET counts as one",
            ibgp("10.0.0.2", with_set(&[1], &[2, 3, 4, 5])),
            ibgp("10.0.0.1", path(&[1, 2, 3])),
            CTX,
            (Ordering::Greater, Reason::AsPathLength),
        ),
        (
            "lower ORIGIN",
            ibgp(
                "10.0.0.2",
                Attributes {
                    origin: Some(Origin::Egp),
                    ..path(&[1])
                },
            ),
            ibgp(
                "10.0.0.1",
                Attributes {
                    origin: Some(Origin::Incomplete),
                    ..path(&[1])
                },
            ),
            CTX,
            (Ordering::Greater, Reason::Origin),
        ),
        (
            "lower MED from the same neighboring AS",
            ibgp(
                "10.0.0.2",
                Attributes {
                    multi_exit_disc: med(5),
                    ..path(&[1, 9])
                },
            ),
            ibgp(
                "10.0.0.1",
                Attributes {
                    multi_exit_disc: med(10),
                    ..path(&[1, 8])
                },
            ),
            CTX,
            (Ordering::Greater, Reason::MultiExitDisc),
        ),
        (
            "missing MED counts as 0",
            ibgp("10.0.0.2", path(&[1])),
            ibgp(
                "10.0.0.1",
                Attributes {
                    multi_exit_disc: med(1),
                    ..path(&[1])
                },
            ),
            CTX,
            (Ordering::Greater, Reason::MultiExitDisc),
        ),
        (
            "MED from different neighboring ASes is not compared",
            ebgp(
                "10.0.0.2",
                Attributes {
                    multi_exit_disc: med(50),
                    ..path(&[2])
                },
            ),
            ibgp(
                "10.0.0.1",
                Attributes {
                    multi_exit_disc: med(10),
                    ..path(&[1])
                },
            ),
            CTX,
            (Ordering::Greater, Reason::ExternalOverInternal),
        ),
        (
            "always-compare-med compares across ASes",
            ibgp(
                "10.0.0.2",
                Attributes {
                    multi_exit_disc: med(10),
                    ..path(&[2])
                },
            ),
            ebgp(
                "10.0.0.1",
                Attributes {
                    multi_exit_disc: med(50),
                    ..path(&[1])
                },
            ),
            DecisionCtx {
                always_compare_med: true,
                ..CTX
            },
            (Ordering::Greater, Reason::MultiExitDisc),
        ),
        (
            "eBGP over iBGP",
            ebgp("10.0.0.2", path(&[1])),
            ibgp("10.0.0.1", path(&[1])),
            CTX,
            (Ordering::Greater, Reason::ExternalOverInternal),
        ),
        (
            "lower BGP Identifier",
            ibgp("10.0.0.1", path(&[1])),
            ibgp("10.0.0.2", path(&[1])),
            CTX,
            (Ordering::Greater, Reason::RouterId),
        ),
        (
            "ORIGINATOR_ID stands in for the BGP Identifier (RFC 4456 §9)",
            ibgp(
                "10.0.0.9",
                Attributes {
                    originator_id: Some(RouterId(v4("10.0.0.1"))),
                    ..path(&[])
                },
            ),
            ibgp("10.0.0.2", path(&[])),
            CTX,
            (Ordering::Greater, Reason::RouterId),
        ),
        (
            "shorter CLUSTER_LIST after the identifier (RFC 4456 §9)",
            ibgp(
                "10.0.0.3",
                Attributes {
                    originator_id: Some(RouterId(v4("10.0.0.1"))),
                    cluster_list: vec![ClusterId(v4("192.0.2.1"))],
                    ..path(&[])
                },
            ),
            ibgp(
                "10.0.0.2",
                Attributes {
                    originator_id: Some(RouterId(v4("10.0.0.1"))),
                    cluster_list: vec![ClusterId(v4("192.0.2.1")), ClusterId(v4("192.0.2.2"))],
                    ..path(&[])
                },
            ),
            CTX,
            (Ordering::Greater, Reason::ClusterListLength),
        ),
        (
            "lower peer address",
            Path {
                address: "10.0.1.1",
                ..ibgp("10.0.0.1", path(&[]))
            },
            Path {
                address: "10.0.1.2",
                ..ibgp("10.0.0.1", path(&[]))
            },
            CTX,
            (Ordering::Greater, Reason::PeerAddress),
        ),
        (
            "lower path identifier from one ADD-PATH neighbor",
            Path {
                path_id: 1,
                ..ibgp("10.0.0.1", path(&[]))
            },
            Path {
                path_id: 2,
                ..ibgp("10.0.0.1", path(&[]))
            },
            CTX,
            (Ordering::Greater, Reason::PathId),
        ),
        (
            "identical",
            ibgp("10.0.0.1", path(&[])),
            ibgp("10.0.0.1", path(&[])),
            CTX,
            (Ordering::Equal, Reason::Tie),
        ),
    ];
    for (name, a, b, ctx, expected) in cases {
        check(name, a, b, ctx, expected);
    }
}

/// RFC 4271 §9.1.2.2(c) is an elimination: A (AS 1, MED 10) loses to B (AS 1, MED 5); C (AS 2)
/// is not compared by MED and beats B on the identifier. Pairwise, A would beat C on the
/// identifier: a sort could pick A, the elimination never does.
#[test]
fn med_elimination_is_not_pairwise() {
    let a = ibgp(
        "10.0.0.1",
        Attributes {
            multi_exit_disc: med(10),
            ..path(&[1])
        },
    );
    let b = ibgp(
        "10.0.0.3",
        Attributes {
            multi_exit_disc: med(5),
            ..path(&[1])
        },
    );
    let c = ibgp("10.0.0.2", path(&[2]));
    let paths = [a, b, c];
    for order in [[0, 1, 2], [2, 1, 0], [1, 0, 2], [0, 2, 1]] {
        let candidates: Vec<Candidate<'_>> = order.iter().map(|&i| candidate(&paths[i])).collect();
        let selection = select(&candidates, &CTX, 1).expect("candidates");
        let best = order[selection.best()];
        assert_eq!(best, 2, "order {order:?}");
        let reason_of = |index: usize| {
            let position = order.iter().position(|&i| i == index).expect("present");
            selection.reasons[position]
        };
        assert_eq!(reason_of(0), Some(Reason::MultiExitDisc));
        assert_eq!(reason_of(1), Some(Reason::RouterId));
    }
}

/// Multipath through the RIB: equal routes up to eBGP-over-iBGP are installed together, up to
/// `ecmp_max_paths`, ordered by the tie-breaks; `bgpctl` sees each path's state and reason.
#[test]
fn multipath_installs_equal_paths() {
    let config = RibConfig {
        ecmp_max_paths: NonZeroUsize::new(2).expect("non-zero"),
        ..config()
    };
    let mut lab = Lab::new(config);
    for neighbor in [
        Neighbor::ibgp(1, "10.0.0.1"),
        Neighbor::ibgp(2, "10.0.0.2"),
        Neighbor::ibgp(3, "10.0.0.3"),
    ] {
        lab.up(&neighbor);
    }
    run_steps(
        &mut lab,
        &[
            (
                update(3, announce(&["10.96.0.10/32"], "10.0.0.3", path(&[]))),
                &["fib 10.96.0.10/32 -> 10.0.0.3"],
            ),
            (
                update(2, announce(&["10.96.0.10/32"], "10.0.0.2", path(&[]))),
                &["fib 10.96.0.10/32 -> 10.0.0.2,10.0.0.3"],
            ),
            (
                update(1, announce(&["10.96.0.10/32"], "10.0.0.1", path(&[]))),
                &["fib 10.96.0.10/32 -> 10.0.0.1,10.0.0.2"],
            ),
            (
                update(
                    1,
                    announce(
                        &["10.96.0.10/32"],
                        "10.0.0.1",
                        Attributes {
                            local_pref: local_pref(50),
                            ..path(&[])
                        },
                    ),
                ),
                &["fib 10.96.0.10/32 -> 10.0.0.2,10.0.0.3"],
            ),
        ],
    );
    let states: Vec<(String, PathState)> = lab
        .rib
        .routes(Some(net("10.96.0.10/32")))
        .map(|route| (format!("{:?}", route.source), route.state))
        .collect();
    assert_eq!(
        states,
        [
            (
                "Peer(PeerId(3))".to_string(),
                PathState::Multipath(Reason::RouterId)
            ),
            ("Peer(PeerId(2))".to_string(), PathState::Best),
            (
                "Peer(PeerId(1))".to_string(),
                PathState::NotSelected(Reason::LocalPref)
            ),
        ]
    );
}
