//! Graceful restart (RFC 4724) and long-lived graceful restart (RFC 9494) in the RIB: a
//! helper keeps a restarting neighbor's routes stale, refreshes them when it returns, removes
//! what is still stale at its End-of-RIB or when its timers run out; long-lived stale routes
//! carry LLGR_STALE, lose to any other route and only go to neighbors that negotiated it; a
//! restarting speaker defers its decisions and its End-of-RIB.

mod common;

use std::time::Duration;

use common::*;
use proto::session::NegotiatedRestart;
use proto::update::Update;
use proto::{AfiSafi, AfiSafiSet};
use rr::{PeerId, RibInput};

const CLUSTER: &str = "192.0.2.100";
const V4: AfiSafi = AfiSafi::Ipv4Unicast;
const V6: AfiSafi = AfiSafi::Ipv6Unicast;

/// Graceful restart for both families, forwarding preserved, `restart_time` seconds; with
/// long-lived graceful restart when `long_lived` is set.
fn restart(restart_time: u64, long_lived: Option<u64>) -> NegotiatedRestart {
    NegotiatedRestart {
        restart_time: Duration::from_secs(restart_time),
        peer_restarting: false,
        families: AfiSafiSet::ALL,
        forwarding_preserved: AfiSafiSet::ALL,
        long_lived: long_lived
            .map(|time| {
                AfiSafi::ALL
                    .iter()
                    .map(|&family| (family, Duration::from_secs(time)))
                    .collect()
            })
            .unwrap_or_default(),
        notification: false,
    }
}

/// A reflector with `neighbors` up, in order; then each step's lines are compared.
fn check(neighbors: &[Neighbor], steps: Steps<'_>) -> Lab {
    let mut lab = Lab::new(reflector(CLUSTER));
    for neighbor in neighbors {
        lab.up(neighbor);
    }
    run_steps(&mut lab, steps);
    lab
}

fn graceful_down(peer: u32) -> RibInput {
    RibInput::PeerDown {
        peer: PeerId(peer),
        graceful: true,
    }
}

fn timeout(peer: u32, family: AfiSafi) -> RibInput {
    RibInput::StaleTimeout {
        peer: PeerId(peer),
        family,
    }
}

fn end_of_rib(peer: u32, family: AfiSafi) -> RibInput {
    update(peer, Update::end_of_rib(family))
}

/// Client 1 restarts gracefully; client 2 watches.
fn restarting_client() -> Neighbor {
    Neighbor::client(1, "10.0.1.1").graceful_restart(restart(120, None))
}

/// RFC 4724 §4.2: the routes stay (FIB and neighbors untouched) while client 1 restarts; when
/// it returns, what it sends again stays and what is still stale at its End-of-RIB goes.
#[test]
fn stale_routes_are_kept_until_end_of_rib() {
    let lab = check(
        &[restarting_client(), Neighbor::client(2, "10.0.1.2")],
        &[
            (
                update(
                    1,
                    announce(&["10.244.0.0/24", "10.244.1.0/24"], "10.0.1.1", path(&[])),
                ),
                &[
                    "fib 10.244.0.0/24 -> 10.0.1.1",
                    "fib 10.244.1.0/24 -> 10.0.1.1",
                    "1: + 10.244.0.0/24 via 10.0.1.1 path [] lp 100 orig 10.0.1.1 clusters 192.0.2.100",
                    "1: + 10.244.1.0/24 via 10.0.1.1 path [] lp 100 orig 10.0.1.1 clusters 192.0.2.100",
                    "2: + 10.244.0.0/24 via 10.0.1.1 path [] lp 100 orig 10.0.1.1 clusters 192.0.2.100",
                    "2: + 10.244.1.0/24 via 10.0.1.1 path [] lp 100 orig 10.0.1.1 clusters 192.0.2.100",
                ],
            ),
            // Only IPv4 routes: only IPv4 is stale.
            (graceful_down(1), &["stale timer 1 ipv4-unicast 120s"]),
            (
                Lab::up_input_of(&restarting_client()),
                &[
                    "stale timer 1 ipv4-unicast 360s",
                    "1: + 10.244.0.0/24 via 10.0.1.1 path [] lp 100 orig 10.0.1.1 clusters 192.0.2.100",
                    "1: + 10.244.1.0/24 via 10.0.1.1 path [] lp 100 orig 10.0.1.1 clusters 192.0.2.100",
                    "1: eor ipv4-unicast",
                    "1: eor ipv6-unicast",
                ],
            ),
            (
                update(1, announce(&["10.244.0.0/24"], "10.0.1.1", path(&[]))),
                &[],
            ),
            (
                end_of_rib(1, V4),
                &[
                    "fib 10.244.1.0/24 delete",
                    "1: - 10.244.1.0/24",
                    "2: - 10.244.1.0/24",
                ],
            ),
            // Nothing is stale any more: the stale timer finds nothing to do.
            (timeout(1, V4), &[]),
        ],
    );
    assert_eq!(lab.rib.stale_routes(), 0);
}

/// RFC 4724 §4.2: a neighbor that does not return within its Restart Time loses its routes,
/// and is forgotten.
#[test]
fn restart_timer_expiry_removes_the_routes() {
    let lab = check(
        &[restarting_client(), Neighbor::client(2, "10.0.1.2")],
        &[
            (
                update(1, announce(&["fd00:10:244::/64"], "fd00::1", path(&[]))),
                &[
                    "fib fd00:10:244::/64 -> fd00::1",
                    "1: + fd00:10:244::/64 via fd00::1 path [] lp 100 orig 10.0.1.1 clusters 192.0.2.100",
                    "2: + fd00:10:244::/64 via fd00::1 path [] lp 100 orig 10.0.1.1 clusters 192.0.2.100",
                ],
            ),
            (graceful_down(1), &["stale timer 1 ipv6-unicast 120s"]),
            (
                timeout(1, V6),
                &["fib fd00:10:244::/64 delete", "2: - fd00:10:244::/64"],
            ),
        ],
    );
    assert_eq!(lab.rib.stale_routes(), 0);
    assert!(lab.rib.peer_summary(PeerId(1)).is_none(), "forgotten");
}

/// RFC 4724 §4.2: stale routes go at once when the returning neighbor's OPEN does not keep
/// the family's forwarding state; a drop after a NOTIFICATION (not graceful), or of a neighbor
/// without graceful restart, removes the routes at once.
#[test]
fn routes_go_at_once_when_not_kept() {
    let announce_one = update(1, announce(&["10.244.0.0/24"], "10.0.1.1", path(&[])));
    let announced: &[&str] = &[
        "fib 10.244.0.0/24 -> 10.0.1.1",
        "1: + 10.244.0.0/24 via 10.0.1.1 path [] lp 100 orig 10.0.1.1 clusters 192.0.2.100",
        "2: + 10.244.0.0/24 via 10.0.1.1 path [] lp 100 orig 10.0.1.1 clusters 192.0.2.100",
    ];
    let removed: &[&str] = &["fib 10.244.0.0/24 delete", "2: - 10.244.0.0/24"];
    let mut no_forwarding = restart(120, None);
    no_forwarding.forwarding_preserved = AfiSafiSet::EMPTY;
    let returned = Neighbor::client(1, "10.0.1.1").graceful_restart(no_forwarding);
    check(
        &[restarting_client(), Neighbor::client(2, "10.0.1.2")],
        &[
            (announce_one.clone(), announced),
            (graceful_down(1), &["stale timer 1 ipv4-unicast 120s"]),
            (
                Lab::up_input_of(&returned),
                &[
                    "fib 10.244.0.0/24 delete",
                    "1: eor ipv4-unicast",
                    "1: eor ipv6-unicast",
                    "1: - 10.244.0.0/24",
                    "2: - 10.244.0.0/24",
                ],
            ),
        ],
    );
    check(
        &[restarting_client(), Neighbor::client(2, "10.0.1.2")],
        &[(announce_one.clone(), announced), (down(1), removed)],
    );
    check(
        &[
            Neighbor::client(1, "10.0.1.1"),
            Neighbor::client(2, "10.0.1.2"),
        ],
        &[(announce_one, announced), (graceful_down(1), removed)],
    );
}

/// RFC 9494: after the Restart Time the stale routes stay for the long-lived stale time with
/// LLGR_STALE (NO_LLGR ones go, §4.3); they lose to any other route (§4.3) and only go to
/// neighbors that negotiated long-lived graceful restart (§4.5), yet are still installed.
#[test]
fn long_lived_stale_routes() {
    let mut no_llgr = path(&[]);
    no_llgr.communities = vec![community("65535:7")];
    let mut low = path(&[]);
    low.local_pref = local_pref(50);
    let long_lived = restart(120, Some(3600));
    check(
        &[
            Neighbor::client(1, "10.0.1.1").graceful_restart(long_lived.clone()),
            Neighbor::client(2, "10.0.1.2").graceful_restart(long_lived),
            Neighbor::client(3, "10.0.1.3"),
            Neighbor::ibgp(4, "10.0.0.4"),
        ],
        &[
            (
                update(1, announce(&["10.244.0.0/24"], "10.0.1.1", path(&[]))),
                &[
                    "fib 10.244.0.0/24 -> 10.0.1.1",
                    "1: + 10.244.0.0/24 via 10.0.1.1 path [] lp 100 orig 10.0.1.1 clusters 192.0.2.100",
                    "2: + 10.244.0.0/24 via 10.0.1.1 path [] lp 100 orig 10.0.1.1 clusters 192.0.2.100",
                    "3: + 10.244.0.0/24 via 10.0.1.1 path [] lp 100 orig 10.0.1.1 clusters 192.0.2.100",
                    "4: + 10.244.0.0/24 via 10.0.1.1 path [] lp 100 orig 10.0.1.1 clusters 192.0.2.100",
                ],
            ),
            (
                update(1, announce(&["10.244.1.0/24"], "10.0.1.1", no_llgr)),
                &[
                    "fib 10.244.1.0/24 -> 10.0.1.1",
                    "1: + 10.244.1.0/24 via 10.0.1.1 path [] lp 100 comm 65535:7 orig 10.0.1.1 clusters 192.0.2.100",
                    "2: + 10.244.1.0/24 via 10.0.1.1 path [] lp 100 comm 65535:7 orig 10.0.1.1 clusters 192.0.2.100",
                    "3: + 10.244.1.0/24 via 10.0.1.1 path [] lp 100 comm 65535:7 orig 10.0.1.1 clusters 192.0.2.100",
                    "4: + 10.244.1.0/24 via 10.0.1.1 path [] lp 100 comm 65535:7 orig 10.0.1.1 clusters 192.0.2.100",
                ],
            ),
            // A worse path from non-client 4 (clients only get it while it is the best).
            (
                update(4, announce(&["10.244.0.0/24"], "10.0.0.4", low)),
                &[],
            ),
            (graceful_down(1), &["stale timer 1 ipv4-unicast 120s"]),
            (
                timeout(1, V4),
                &[
                    "stale timer 1 ipv4-unicast 3600s",
                    "fib 10.244.0.0/24 -> 10.0.0.4",
                    "fib 10.244.1.0/24 delete",
                    "2: - 10.244.1.0/24",
                    "2: + 10.244.0.0/24 via 10.0.0.4 path [] lp 50 orig 10.0.0.4 clusters 192.0.2.100",
                    "3: - 10.244.1.0/24",
                    "3: + 10.244.0.0/24 via 10.0.0.4 path [] lp 50 orig 10.0.0.4 clusters 192.0.2.100",
                    "4: - 10.244.0.0/24",
                    "4: - 10.244.1.0/24",
                ],
            ),
            // Back to the long-lived stale route: installed, sent only to client 2.
            (
                update(4, withdraw(&["10.244.0.0/24"])),
                &[
                    "fib 10.244.0.0/24 -> 10.0.1.1",
                    "2: + 10.244.0.0/24 via 10.0.1.1 path [] lp 100 comm 65535:6 orig 10.0.1.1 clusters 192.0.2.100",
                    "3: - 10.244.0.0/24",
                ],
            ),
            (
                timeout(1, V4),
                &["fib 10.244.0.0/24 delete", "2: - 10.244.0.0/24"],
            ),
        ],
    );
}

/// A long-lived stale route sent again by the returning neighbor loses LLGR_STALE, even with
/// the very same attributes.
#[test]
fn refreshed_long_lived_route_is_fresh_again() {
    let neighbor = Neighbor::client(1, "10.0.1.1").graceful_restart(restart(0, Some(3600)));
    check(
        &[neighbor.clone(), Neighbor::client(2, "10.0.1.2").graceful_restart(restart(0, Some(3600)))],
        &[
            (
                update(1, announce(&["10.244.0.0/24"], "10.0.1.1", path(&[]))),
                &[
                    "fib 10.244.0.0/24 -> 10.0.1.1",
                    "1: + 10.244.0.0/24 via 10.0.1.1 path [] lp 100 orig 10.0.1.1 clusters 192.0.2.100",
                    "2: + 10.244.0.0/24 via 10.0.1.1 path [] lp 100 orig 10.0.1.1 clusters 192.0.2.100",
                ],
            ),
            // A Restart Time of zero: long-lived at once (RFC 9494 §4.2).
            (
                graceful_down(1),
                &[
                    "stale timer 1 ipv4-unicast 3600s",
                    "2: + 10.244.0.0/24 via 10.0.1.1 path [] lp 100 comm 65535:6 orig 10.0.1.1 clusters 192.0.2.100",
                ],
            ),
            (
                Lab::up_input_of(&neighbor),
                &[
                    "stale timer 1 ipv4-unicast 360s",
                    "1: + 10.244.0.0/24 via 10.0.1.1 path [] lp 100 comm 65535:6 orig 10.0.1.1 clusters 192.0.2.100",
                    "1: eor ipv4-unicast",
                    "1: eor ipv6-unicast",
                ],
            ),
            (
                update(1, announce(&["10.244.0.0/24"], "10.0.1.1", path(&[]))),
                &[
                    "1: + 10.244.0.0/24 via 10.0.1.1 path [] lp 100 orig 10.0.1.1 clusters 192.0.2.100",
                    "2: + 10.244.0.0/24 via 10.0.1.1 path [] lp 100 orig 10.0.1.1 clusters 192.0.2.100",
                ],
            ),
        ],
    );
}

/// RFC 4724 §4.1: a restarting speaker decides nothing and sends no End-of-RIB while its
/// selection is deferred (the daemon ends the deferral when End-of-RIB came from the
/// neighbors it waits for, or on its timer); then the table, then End-of-RIB, then the kernel
/// may be swept.
#[test]
fn selection_is_deferred_until_told() {
    let mut lab = check(
        &[],
        &[
            (RibInput::DeferSelection, &[]),
            (
                RibInput::Originate {
                    prefix: net("10.244.9.0/24"),
                    route: rr::LocalRoute::default(),
                },
                &[],
            ),
            (Lab::up_input_of(&restarting_client()), &[]),
            (Lab::up_input_of(&Neighbor::client(2, "10.0.1.2")), &[]),
            (
                update(1, announce(&["10.244.0.0/24"], "10.0.1.1", path(&[]))),
                &[],
            ),
            (end_of_rib(1, V4), &[]),
            (end_of_rib(1, V6), &[]),
        ],
    );
    assert!(lab.rib.selection_deferred());
    run_steps(
        &mut lab,
        &[(
            RibInput::EndSelectionDeferral,
            &[
                "fib 10.244.0.0/24 -> 10.0.1.1",
                "selection deferral done",
                "1: + 10.244.0.0/24 via 10.0.1.1 path [] lp 100 orig 10.0.1.1 clusters 192.0.2.100",
                "1: + 10.244.9.0/24 via 10.0.0.254 path [] lp 100",
                "1: eor ipv4-unicast",
                "1: eor ipv6-unicast",
                "2: + 10.244.0.0/24 via 10.0.1.1 path [] lp 100 orig 10.0.1.1 clusters 192.0.2.100",
                "2: + 10.244.9.0/24 via 10.0.0.254 path [] lp 100",
                "2: eor ipv4-unicast",
                "2: eor ipv6-unicast",
            ],
        )],
    );
    assert!(!lab.rib.selection_deferred());
}

/// A neighbor that goes down during the deferral is not joined to its group at its end.
#[test]
fn neighbor_down_during_deferral() {
    check(
        &[],
        &[
            (RibInput::DeferSelection, &[]),
            (Lab::up_input_of(&Neighbor::client(1, "10.0.1.1")), &[]),
            (Lab::up_input_of(&Neighbor::client(2, "10.0.1.2")), &[]),
            (down(1), &[]),
            (
                RibInput::EndSelectionDeferral,
                &[
                    "selection deferral done",
                    "2: eor ipv4-unicast",
                    "2: eor ipv6-unicast",
                ],
            ),
        ],
    );
}
