//! Route reflection (RFC 4456): which neighbors a route goes to by role (§6), ORIGINATOR_ID and
//! CLUSTER_LIST set on reflection and checked on receipt (§8), next hop unchanged (§10),
//! redundant reflectors sharing a cluster id, and the iBGP split horizon without reflection
//! (RFC 4271 §9.2).

mod common;

use common::*;
use proto::attr::Attributes;
use proto::{ClusterId, RouterId};
use rr::{PeerId, RibConfig, RibInput};

const CLUSTER: &str = "192.0.2.100";

/// Brings up `neighbors` on a RIB with `config`, then runs `steps`.
fn check(config: RibConfig, neighbors: &[Neighbor], steps: Steps<'_>) {
    let mut lab = Lab::new(config);
    for neighbor in neighbors {
        lab.up(neighbor);
    }
    run_steps(&mut lab, steps);
}

fn clients_and_non_client() -> Vec<Neighbor> {
    vec![
        Neighbor::client(1, "10.0.0.1"),
        Neighbor::client(2, "10.0.0.2"),
        Neighbor::ibgp(3, "10.0.0.3"),
        Neighbor::ebgp(4, 65001, "172.16.0.1"),
    ]
}

/// A client's route goes to every client and non-client, reflected, next hop unchanged. It is
/// also sent back to the client it came from (the whole update group shares one message);
/// that client drops it because the ORIGINATOR_ID is its own BGP Identifier (RFC 4456 §8).
#[test]
fn client_route_goes_to_everyone_and_back_to_its_client() {
    check(
        reflector(CLUSTER),
        &clients_and_non_client(),
        &[(
            update(1, announce(&["10.244.1.0/24"], "10.0.0.1", path(&[]))),
            &[
                "fib 10.244.1.0/24 -> 10.0.0.1",
                "1: + 10.244.1.0/24 via 10.0.0.1 path [] lp 100 orig 10.0.0.1 clusters 192.0.2.100",
                "2: + 10.244.1.0/24 via 10.0.0.1 path [] lp 100 orig 10.0.0.1 clusters 192.0.2.100",
                "3: + 10.244.1.0/24 via 10.0.0.1 path [] lp 100 orig 10.0.0.1 clusters 192.0.2.100",
                "4: + 10.244.1.0/24 via 10.0.0.254 path [64512]",
            ],
        )],
    );
}

/// A non-client's route goes to clients only (and to external neighbors).
#[test]
fn non_client_route_goes_to_clients_only() {
    check(
        reflector(CLUSTER),
        &clients_and_non_client(),
        &[
            (
                update(3, announce(&["10.96.0.0/12"], "10.0.0.3", path(&[]))),
                &[
                    "fib 10.96.0.0/12 -> 10.0.0.3",
                    "1: + 10.96.0.0/12 via 10.0.0.3 path [] lp 100 orig 10.0.0.3 clusters 192.0.2.100",
                    "2: + 10.96.0.0/12 via 10.0.0.3 path [] lp 100 orig 10.0.0.3 clusters 192.0.2.100",
                    "4: + 10.96.0.0/12 via 10.0.0.254 path [64512]",
                ],
            ),
            (
                update(3, withdraw(&["10.96.0.0/12"])),
                &[
                    "fib 10.96.0.0/12 delete",
                    "1: - 10.96.0.0/12",
                    "2: - 10.96.0.0/12",
                    "4: - 10.96.0.0/12",
                ],
            ),
        ],
    );
}

/// An external route goes to clients and non-clients as a plain iBGP route: no reflection
/// attributes, LOCAL_PREF added (RFC 4271 §5.1.5). It also goes back to the external neighbor
/// (a group of its own here), which drops it for its own AS in the path (RFC 4271 §9.1.2):
/// the receiver decides, so that a neighbor using allow-own-AS still gets it.
#[test]
fn external_route_goes_to_everyone_unreflected() {
    check(
        reflector(CLUSTER),
        &clients_and_non_client(),
        &[(
            update(
                4,
                announce(&["198.51.100.0/24"], "172.16.0.1", path(&[65001])),
            ),
            &[
                "fib 198.51.100.0/24 -> 172.16.0.1",
                "1: + 198.51.100.0/24 via 172.16.0.1 path [65001] lp 100",
                "2: + 198.51.100.0/24 via 172.16.0.1 path [65001] lp 100",
                "3: + 198.51.100.0/24 via 172.16.0.1 path [65001] lp 100",
                "4: + 198.51.100.0/24 via 10.0.0.254 path [64512 65001]",
            ],
        )],
    );
}

/// An existing ORIGINATOR_ID is kept and our CLUSTER_ID goes in front of CLUSTER_LIST.
#[test]
fn reflection_keeps_originator_and_prepends_cluster_id() {
    let reflected = Attributes {
        originator_id: Some(RouterId(v4("10.0.9.9"))),
        cluster_list: vec![ClusterId(v4("192.0.2.200"))],
        ..path(&[])
    };
    check(
        reflector(CLUSTER),
        &clients_and_non_client(),
        &[(
            update(3, announce(&["10.244.9.0/24"], "10.0.9.9", reflected)),
            &[
                "fib 10.244.9.0/24 -> 10.0.9.9",
                "1: + 10.244.9.0/24 via 10.0.9.9 path [] lp 100 orig 10.0.9.9 clusters 192.0.2.100,192.0.2.200",
                "2: + 10.244.9.0/24 via 10.0.9.9 path [] lp 100 orig 10.0.9.9 clusters 192.0.2.100,192.0.2.200",
                "4: + 10.244.9.0/24 via 10.0.0.254 path [64512]",
            ],
        )],
    );
}

/// RFC 4456 §8: our CLUSTER_ID in CLUSTER_LIST, or our BGP Identifier as ORIGINATOR_ID, is a
/// loop: the route is kept in the Adj-RIB-In but not used.
#[test]
fn reflection_loops_are_dropped() {
    let looped_cluster = Attributes {
        originator_id: Some(RouterId(v4("10.0.0.1"))),
        cluster_list: vec![ClusterId(v4(CLUSTER))],
        ..path(&[])
    };
    let looped_originator = Attributes {
        originator_id: Some(RouterId(ROUTER_ID.into())),
        ..path(&[])
    };
    let mut lab = Lab::new(reflector(CLUSTER));
    for neighbor in clients_and_non_client() {
        lab.up(&neighbor);
    }
    run_steps(
        &mut lab,
        &[
            (
                update(3, announce(&["10.244.1.0/24"], "10.0.0.1", looped_cluster)),
                &[],
            ),
            (
                update(
                    3,
                    announce(&["10.244.2.0/24"], "10.0.0.1", looped_originator),
                ),
                &[],
            ),
        ],
    );
    let received: Vec<(String, bool)> = lab
        .rib
        .received(PeerId(3), None)
        .map(|r| (r.prefix.to_string(), r.accepted))
        .collect();
    assert_eq!(
        received,
        [
            ("10.244.1.0/24".to_string(), false),
            ("10.244.2.0/24".to_string(), false)
        ]
    );
    assert_eq!(lab.rib.routes(None).count(), 0);
}

/// Two reflectors with one cluster id serve the same clients: each drops what the other
/// reflects (its own cluster id in CLUSTER_LIST) and uses the client's route directly, so
/// either can fail without the clients losing routes.
#[test]
fn redundant_reflectors_share_a_cluster_id() {
    let from_other_reflector = Attributes {
        originator_id: Some(RouterId(v4("10.0.0.1"))),
        cluster_list: vec![ClusterId(v4(CLUSTER))],
        ..path(&[])
    };
    check(
        reflector(CLUSTER),
        &[
            Neighbor::client(1, "10.0.0.1"),
            Neighbor::client(2, "10.0.0.2"),
            // The other reflector is a non-client of ours.
            Neighbor::ibgp(5, "10.0.0.5"),
        ],
        &[
            (
                update(
                    5,
                    announce(&["10.244.1.0/24"], "10.0.0.1", from_other_reflector),
                ),
                &[],
            ),
            (
                update(1, announce(&["10.244.1.0/24"], "10.0.0.1", path(&[]))),
                &[
                    "fib 10.244.1.0/24 -> 10.0.0.1",
                    "1: + 10.244.1.0/24 via 10.0.0.1 path [] lp 100 orig 10.0.0.1 clusters 192.0.2.100",
                    "2: + 10.244.1.0/24 via 10.0.0.1 path [] lp 100 orig 10.0.0.1 clusters 192.0.2.100",
                    "5: + 10.244.1.0/24 via 10.0.0.1 path [] lp 100 orig 10.0.0.1 clusters 192.0.2.100",
                ],
            ),
            // The client's session to us fails: the other reflector's copy is still a loop
            // for us, so the route is gone here (the other reflector still serves it).
            (
                down(1),
                &[
                    "fib 10.244.1.0/24 delete",
                    "2: - 10.244.1.0/24",
                    "5: - 10.244.1.0/24",
                ],
            ),
        ],
    );
}

/// Without a cluster id, internal routes are not passed between internal neighbors
/// (RFC 4271 §9.2), even to neighbors configured as clients.
#[test]
fn without_reflection_internal_routes_stay_put() {
    check(
        RibConfig { ..config() },
        &clients_and_non_client(),
        &[(
            update(1, announce(&["10.244.1.0/24"], "10.0.0.1", path(&[]))),
            &[
                "fib 10.244.1.0/24 -> 10.0.0.1",
                "4: + 10.244.1.0/24 via 10.0.0.254 path [64512]",
            ],
        )],
    );
}

/// The CLUSTER_ID set and cleared live (RFC 4456 §7): a speaker that becomes a reflector
/// reflects what it already holds, with the new CLUSTER_ID, to the neighbors that were kept
/// from it, and takes it back when it stops; no neighbor goes down.
#[test]
fn cluster_id_set_and_cleared_live() {
    check(
        config(),
        &clients_and_non_client(),
        &[
            (
                update(1, announce(&["10.244.1.0/24"], "10.0.0.1", path(&[]))),
                &[
                    "fib 10.244.1.0/24 -> 10.0.0.1",
                    "4: + 10.244.1.0/24 via 10.0.0.254 path [64512]",
                ],
            ),
            (
                RibInput::SetClusterId(Some(ClusterId(v4(CLUSTER)))),
                &[
                    "1: + 10.244.1.0/24 via 10.0.0.1 path [] lp 100 orig 10.0.0.1 clusters 192.0.2.100",
                    "2: + 10.244.1.0/24 via 10.0.0.1 path [] lp 100 orig 10.0.0.1 clusters 192.0.2.100",
                    "3: + 10.244.1.0/24 via 10.0.0.1 path [] lp 100 orig 10.0.0.1 clusters 192.0.2.100",
                ],
            ),
            // Another CLUSTER_ID: the reflected routes carry it instead.
            (
                RibInput::SetClusterId(Some(ClusterId(v4("192.0.2.101")))),
                &[
                    "1: + 10.244.1.0/24 via 10.0.0.1 path [] lp 100 orig 10.0.0.1 clusters 192.0.2.101",
                    "2: + 10.244.1.0/24 via 10.0.0.1 path [] lp 100 orig 10.0.0.1 clusters 192.0.2.101",
                    "3: + 10.244.1.0/24 via 10.0.0.1 path [] lp 100 orig 10.0.0.1 clusters 192.0.2.101",
                ],
            ),
            (
                RibInput::SetClusterId(None),
                &["1: - 10.244.1.0/24", "2: - 10.244.1.0/24", "3: - 10.244.1.0/24"],
            ),
        ],
    );
}
