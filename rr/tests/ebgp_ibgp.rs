//! Internal and external neighbors (RFC 4271 §5, §9): AS prepending, next hop, LOCAL_PREF and
//! MED handling, AS loops with `allow_own_as`, well-known communities (RFC 1997), locally
//! originated routes, next-hop policies, the prefix limit (RFC 4486 §4) and End-of-RIB
//! (RFC 4724 §2).

mod common;

use std::num::NonZeroU32;

use common::*;
use proto::attr::{Attributes, Community};
use proto::AfiSafi;
use rr::{LocalRoute, NextHopPolicy, PeerId, RibInput};

/// One internal neighbor (1), two external ones in different ASes (2, 3), on a RIB that is
/// not a reflector; then `steps`.
fn check(neighbors: &[Neighbor], steps: Steps<'_>) {
    let mut lab = Lab::new(config());
    for neighbor in neighbors {
        lab.up(neighbor);
    }
    run_steps(&mut lab, steps);
}

fn neighbors() -> Vec<Neighbor> {
    vec![
        Neighbor::ibgp(1, "10.0.0.1"),
        Neighbor::ebgp(2, 65001, "172.16.0.1"),
        Neighbor::ebgp(3, 65002, "172.16.1.1"),
    ]
}

#[test]
fn peer_up_sends_the_table_then_end_of_rib() {
    let mut lab = Lab::new(config());
    lab.up(&Neighbor::ebgp(2, 65001, "172.16.0.1"));
    lab.run(update(
        2,
        announce(&["198.51.100.0/24"], "172.16.0.1", path(&[65001])),
    ));
    let lines = lab.up(&Neighbor::ibgp(1, "10.0.0.1"));
    assert_lines(
        "initial table",
        &lines,
        &[
            "1: + 198.51.100.0/24 via 172.16.0.1 path [65001] lp 100",
            "1: eor ipv4-unicast",
            "1: eor ipv6-unicast",
        ],
    );
}

/// RFC 4271 §5.1.2–§5.1.5: towards external neighbors our AS is prepended, the next hop is
/// ours, LOCAL_PREF and MED are left out; towards internal ones the next hop and MED are kept
/// and LOCAL_PREF is always present.
#[test]
fn attributes_towards_internal_and_external_neighbors() {
    let internal = Attributes {
        local_pref: local_pref(200),
        multi_exit_disc: med(7),
        ..path(&[])
    };
    let external = Attributes {
        multi_exit_disc: med(5),
        ..path(&[65001, 65100])
    };
    check(
        &neighbors(),
        &[
            (
                update(1, announce(&["10.1.0.0/16"], "10.0.0.1", internal)),
                &[
                    "fib 10.1.0.0/16 -> 10.0.0.1",
                    "2: + 10.1.0.0/16 via 10.0.0.254 path [64512]",
                    "3: + 10.1.0.0/16 via 10.0.0.254 path [64512]",
                ],
            ),
            (
                update(2, announce(&["198.51.100.0/24"], "172.16.0.1", external)),
                &[
                    "fib 198.51.100.0/24 -> 172.16.0.1",
                    "1: + 198.51.100.0/24 via 172.16.0.1 path [65001 65100] lp 100 med 5",
                    "2: + 198.51.100.0/24 via 10.0.0.254 path [64512 65001 65100]",
                    "3: + 198.51.100.0/24 via 10.0.0.254 path [64512 65001 65100]",
                ],
            ),
        ],
    );
}

/// RFC 4271 §5.1.5: LOCAL_PREF from an external neighbor is ignored (the default applies).
#[test]
fn local_pref_from_external_neighbor_is_ignored() {
    let with_local_pref = Attributes {
        local_pref: local_pref(500),
        ..path(&[65001])
    };
    check(
        &neighbors(),
        &[(
            update(
                2,
                announce(&["198.51.100.0/24"], "172.16.0.1", with_local_pref),
            ),
            &[
                "fib 198.51.100.0/24 -> 172.16.0.1",
                "1: + 198.51.100.0/24 via 172.16.0.1 path [65001] lp 100",
                "2: + 198.51.100.0/24 via 10.0.0.254 path [64512 65001]",
                "3: + 198.51.100.0/24 via 10.0.0.254 path [64512 65001]",
            ],
        )],
    );
}

/// RFC 4271 §9.1.2: a path holding our AS is a loop; `allow_own_as` lets it appear that many
/// times.
#[test]
fn own_as_in_path_is_a_loop_unless_allowed() {
    let neighbors = vec![
        Neighbor::ibgp(1, "10.0.0.1"),
        Neighbor::ebgp(2, 65001, "172.16.0.1"),
        Neighbor::ebgp(3, 65002, "172.16.1.1").with(|c| c.allow_own_as = 1),
    ];
    check(
        &neighbors,
        &[
            (
                update(
                    2,
                    announce(&["10.9.0.0/16"], "172.16.0.1", path(&[65001, 64512])),
                ),
                &[],
            ),
            (
                update(
                    3,
                    announce(&["10.9.0.0/16"], "172.16.1.1", path(&[65002, 64512])),
                ),
                &[
                    "fib 10.9.0.0/16 -> 172.16.1.1",
                    "1: + 10.9.0.0/16 via 172.16.1.1 path [65002 64512] lp 100",
                    "2: + 10.9.0.0/16 via 10.0.0.254 path [64512 65002 64512]",
                    "3: + 10.9.0.0/16 via 10.0.0.254 path [64512 65002 64512]",
                ],
            ),
            (
                update(
                    3,
                    announce(&["10.8.0.0/16"], "172.16.1.1", path(&[65002, 64512, 64512])),
                ),
                &[],
            ),
        ],
    );
}

/// RFC 1997 §3: NO_EXPORT stays inside the AS, NO_ADVERTISE goes nowhere.
#[test]
fn well_known_communities() {
    let no_export = Attributes {
        communities: vec![Community::NO_EXPORT],
        ..path(&[])
    };
    let no_advertise = Attributes {
        communities: vec![Community::NO_ADVERTISE],
        ..path(&[65001])
    };
    check(
        &neighbors(),
        &[
            (
                update(1, announce(&["10.1.0.0/16"], "10.0.0.1", no_export)),
                &["fib 10.1.0.0/16 -> 10.0.0.1"],
            ),
            (
                update(2, announce(&["10.2.0.0/16"], "172.16.0.1", no_advertise)),
                &["fib 10.2.0.0/16 -> 172.16.0.1"],
            ),
        ],
    );
}

/// A locally originated route: next hop ours towards everyone, empty path inside the AS, ours
/// outside; it wins over learned routes and is never installed (the kernel has it already).
#[test]
fn locally_originated_routes() {
    let route = LocalRoute {
        communities: vec![community("64512:200")],
        ..LocalRoute::default()
    };
    check(
        &neighbors(),
        &[
            (
                update(1, announce(&["10.96.0.0/12"], "10.0.0.1", path(&[]))),
                &[
                    "fib 10.96.0.0/12 -> 10.0.0.1",
                    "2: + 10.96.0.0/12 via 10.0.0.254 path [64512]",
                    "3: + 10.96.0.0/12 via 10.0.0.254 path [64512]",
                ],
            ),
            (
                RibInput::Originate {
                    prefix: net("10.96.0.0/12"),
                    route,
                },
                &[
                    "fib 10.96.0.0/12 delete",
                    "1: + 10.96.0.0/12 via 10.0.0.254 path [] lp 100 comm 64512:200",
                    "2: + 10.96.0.0/12 via 10.0.0.254 path [64512] comm 64512:200",
                    "3: + 10.96.0.0/12 via 10.0.0.254 path [64512] comm 64512:200",
                ],
            ),
            (
                RibInput::WithdrawLocal {
                    prefix: net("10.96.0.0/12"),
                },
                &[
                    "fib 10.96.0.0/12 -> 10.0.0.1",
                    "1: - 10.96.0.0/12",
                    "2: + 10.96.0.0/12 via 10.0.0.254 path [64512]",
                    "3: + 10.96.0.0/12 via 10.0.0.254 path [64512]",
                ],
            ),
            (
                RibInput::Originate {
                    prefix: net("fd00:96::/108"),
                    route: LocalRoute::default(),
                },
                &[
                    "1: + fd00:96::/108 via fd00::254 path [] lp 100",
                    "2: + fd00:96::/108 via fd00::254 path [64512]",
                    "3: + fd00:96::/108 via fd00::254 path [64512]",
                ],
            ),
        ],
    );
}

/// Next-hop policies: `self` towards an internal neighbor, `keep` towards an external one.
#[test]
fn next_hop_policies() {
    let neighbors = vec![
        Neighbor::ibgp(1, "10.0.0.1").with(|c| c.next_hop = NextHopPolicy::SelfAddress),
        Neighbor::ebgp(2, 65001, "172.16.0.1").with(|c| c.next_hop = NextHopPolicy::Keep),
        Neighbor::ebgp(3, 65002, "172.16.1.1"),
    ];
    check(
        &neighbors,
        &[(
            update(
                3,
                announce(&["198.51.100.0/24"], "172.16.1.1", path(&[65002])),
            ),
            &[
                "fib 198.51.100.0/24 -> 172.16.1.1",
                "1: + 198.51.100.0/24 via 10.0.0.254 path [65002] lp 100",
                "2: + 198.51.100.0/24 via 172.16.1.1 path [64512 65002]",
                "3: + 198.51.100.0/24 via 10.0.0.254 path [64512 65002]",
            ],
        )],
    );
}

/// RFC 4486 §4: above `max_prefixes` the daemon is asked to stop the session with Cease /
/// Maximum Number of Prefixes Reached (data: AFI, SAFI, limit); later UPDATEs are ignored.
#[test]
fn prefix_limit_stops_the_session() {
    let limited =
        Neighbor::ebgp(2, 65001, "172.16.0.1").with(|c| c.max_prefixes = NonZeroU32::new(2));
    check(
        &[limited],
        &[
            (
                update(
                    2,
                    announce(
                        &["10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16"],
                        "172.16.0.1",
                        path(&[65001]),
                    ),
                ),
                &[
                    "stop 2 Cease / MaximumPrefixesReached data [00, 01, 01, 00, 00, 00, 02]",
                    "fib 10.1.0.0/16 -> 172.16.0.1",
                    "fib 10.2.0.0/16 -> 172.16.0.1",
                    "fib 10.3.0.0/16 -> 172.16.0.1",
                    "2: + 10.1.0.0/16 via 10.0.0.254 path [64512 65001]",
                    "2: + 10.2.0.0/16 via 10.0.0.254 path [64512 65001]",
                    "2: + 10.3.0.0/16 via 10.0.0.254 path [64512 65001]",
                ],
            ),
            (
                update(2, announce(&["10.4.0.0/16"], "172.16.0.1", path(&[65001]))),
                &[],
            ),
        ],
    );
}

/// A neighbor going down takes its routes along; the next best takes over.
#[test]
fn peer_down_removes_its_routes() {
    let mut lab = Lab::new(config());
    for neighbor in neighbors() {
        lab.up(&neighbor);
    }
    run_steps(
        &mut lab,
        &[
            (
                update(
                    2,
                    announce(&["198.51.100.0/24"], "172.16.0.1", path(&[65001])),
                ),
                &[
                    "fib 198.51.100.0/24 -> 172.16.0.1",
                    "1: + 198.51.100.0/24 via 172.16.0.1 path [65001] lp 100",
                    "2: + 198.51.100.0/24 via 10.0.0.254 path [64512 65001]",
                    "3: + 198.51.100.0/24 via 10.0.0.254 path [64512 65001]",
                ],
            ),
            (
                update(
                    3,
                    announce(&["198.51.100.0/24"], "172.16.1.1", path(&[65002, 65001])),
                ),
                &[],
            ),
            (
                down(2),
                &[
                    "fib 198.51.100.0/24 -> 172.16.1.1",
                    "1: + 198.51.100.0/24 via 172.16.1.1 path [65002 65001] lp 100",
                    "3: + 198.51.100.0/24 via 10.0.0.254 path [64512 65002 65001]",
                ],
            ),
        ],
    );
    assert!(lab.rib.peer_summary(PeerId(2)).is_none());
    let summary = lab.rib.peer_summary(PeerId(3)).expect("established");
    assert_eq!((summary.received, summary.accepted), (1, 1));
}

/// Families the session did not negotiate are neither received nor sent.
#[test]
fn only_negotiated_families() {
    let v4_only = Neighbor::ibgp(1, "10.0.0.1").families(&[AfiSafi::Ipv4Unicast]);
    let mut lab = Lab::new(config());
    let lines = lab.up(&v4_only);
    assert_lines("v4 only", &lines, &["1: eor ipv4-unicast"]);
    lab.up(&Neighbor::ebgp(2, 65001, "fd00::1"));
    run_steps(
        &mut lab,
        &[
            (
                update(1, announce(&["fd00:1::/64"], "fd00::1", path(&[]))),
                &[],
            ),
            (
                update(2, announce(&["fd00:2::/64"], "fd00::1", path(&[65001]))),
                &[
                    "fib fd00:2::/64 -> fd00::1",
                    "2: + fd00:2::/64 via fd00::254 path [64512 65001]",
                ],
            ),
        ],
    );
}
