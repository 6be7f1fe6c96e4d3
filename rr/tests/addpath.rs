//! ADD-PATH (RFC 7911): paths received with identifiers are kept apart and can be installed
//! together; a reflector that sends every path lets clients behind it keep ECMP to a service
//! address announced by several nodes, while clients without ADD-PATH get the best path.

mod common;

use common::*;

const CLUSTER: &str = "192.0.2.100";

fn check(neighbors: &[Neighbor], steps: Steps<'_>) {
    let mut lab = Lab::new(reflector(CLUSTER));
    for neighbor in neighbors {
        lab.up(neighbor);
    }
    run_steps(&mut lab, steps);
}

/// Two paths for one prefix from one neighbor, told apart by their identifiers, are both
/// installed (equal up to the tie-breaks); a client without ADD-PATH gets the best.
#[test]
fn receive_keys_paths_by_identifier() {
    check(
        &[
            Neighbor::ibgp(1, "10.0.0.1").add_path(true, false),
            Neighbor::client(10, "10.0.1.10"),
        ],
        &[
            (
                update(1, announce(&["10.96.0.10/32#1"], "10.0.0.5", path(&[]))),
                &[
                    "fib 10.96.0.10/32 -> 10.0.0.5",
                    "10: + 10.96.0.10/32 via 10.0.0.5 path [] lp 100 orig 10.0.0.1 clusters 192.0.2.100",
                ],
            ),
            (
                update(1, announce(&["10.96.0.10/32#2"], "10.0.0.6", path(&[]))),
                &["fib 10.96.0.10/32 -> 10.0.0.5,10.0.0.6"],
            ),
            (
                update(1, withdraw(&["10.96.0.10/32#1"])),
                &[
                    "fib 10.96.0.10/32 -> 10.0.0.6",
                    "10: + 10.96.0.10/32 via 10.0.0.6 path [] lp 100 orig 10.0.0.1 clusters 192.0.2.100",
                ],
            ),
        ],
    );
}

/// Two nodes (clients 10, 11) announce one service address. The ADD-PATH client (12) gets both
/// paths, each with its own identifier, and can install both; the others get the best path
/// (which also goes back to node 10, its originator, who ignores it, RFC 4456 §8).
#[test]
fn send_all_paths_keeps_service_ecmp_behind_the_reflector() {
    let reflected = |next_hop: &str| {
        format!("via {next_hop} path [] lp 100 orig {next_hop} clusters 192.0.2.100")
    };
    let a = reflected("10.0.1.10");
    let b = reflected("10.0.1.11");
    check(
        &[
            Neighbor::client(10, "10.0.1.10"),
            Neighbor::client(11, "10.0.1.11"),
            Neighbor::client(12, "10.0.1.12").add_path(false, true),
            Neighbor::client(13, "10.0.1.13"),
        ],
        &[
            (
                update(10, announce(&["10.96.0.10/32"], "10.0.1.10", path(&[]))),
                &[
                    "fib 10.96.0.10/32 -> 10.0.1.10",
                    &format!("10: + 10.96.0.10/32 {a}"),
                    &format!("11: + 10.96.0.10/32 {a}"),
                    &format!("12: + 10.96.0.10/32#1 {a}"),
                    &format!("13: + 10.96.0.10/32 {a}"),
                ],
            ),
            (
                update(11, announce(&["10.96.0.10/32"], "10.0.1.11", path(&[]))),
                &[
                    "fib 10.96.0.10/32 -> 10.0.1.10,10.0.1.11",
                    &format!("12: + 10.96.0.10/32#2 {b}"),
                ],
            ),
            (
                update(10, withdraw(&["10.96.0.10/32"])),
                &[
                    "fib 10.96.0.10/32 -> 10.0.1.11",
                    &format!("10: + 10.96.0.10/32 {b}"),
                    &format!("11: + 10.96.0.10/32 {b}"),
                    "12: - 10.96.0.10/32#1",
                    &format!("13: + 10.96.0.10/32 {b}"),
                ],
            ),
        ],
    );
}

/// ADD-PATH send towards an external neighbor: every path goes, each prepended and with our
/// next hop (so they collapse to one attribute set and one message).
#[test]
fn send_all_paths_to_an_external_neighbor() {
    check(
        &[
            Neighbor::client(10, "10.0.1.10"),
            Neighbor::client(11, "10.0.1.11"),
            Neighbor::ebgp(2, 65001, "172.16.0.1").add_path(false, true),
        ],
        &[
            (
                update(10, announce(&["10.96.0.0/24"], "10.0.1.10", path(&[]))),
                &[
                    "fib 10.96.0.0/24 -> 10.0.1.10",
                    "2: + 10.96.0.0/24#1 via 10.0.0.254 path [64512]",
                    "10: + 10.96.0.0/24 via 10.0.1.10 path [] lp 100 orig 10.0.1.10 clusters 192.0.2.100",
                    "11: + 10.96.0.0/24 via 10.0.1.10 path [] lp 100 orig 10.0.1.10 clusters 192.0.2.100",
                ],
            ),
            (
                update(11, announce(&["10.96.0.0/24"], "10.0.1.11", path(&[]))),
                &[
                    "fib 10.96.0.0/24 -> 10.0.1.10,10.0.1.11",
                    "2: + 10.96.0.0/24#2 via 10.0.0.254 path [64512]",
                ],
            ),
        ],
    );
}
