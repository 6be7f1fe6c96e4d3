//! Update groups: one Adj-RIB-Out and one log of encoded UPDATEs per outbound view; members
//! joining late (table walk, End-of-RIB), falling behind the log's retention (resynchronized
//! by a walk over what changed, withdrawals included), asking for a refresh (RFC 2918, RFC
//! 7313 BoRR / EoRR both ways); decisions batched first in, first out.

mod common;

use common::*;
use proto::route_refresh::RouteRefreshSubtype;
use proto::AfiSafi;
use rr::{PeerId, RibConfig};

const CLUSTER: &str = "192.0.2.100";

/// A reflector with non-client 1 as the source and `clients` clients numbered from 10, all
/// up; then each step's lines are compared, where every step takes every neighbor's messages.
fn check(config: RibConfig, clients: u32, steps: Steps<'_>) -> Lab {
    let mut lab = Lab::new(config);
    lab.up(&Neighbor::ibgp(1, "10.0.0.1"));
    for id in 10..10 + clients {
        lab.up(&Neighbor::client(id, &format!("10.0.1.{id}")));
    }
    run_steps(&mut lab, steps);
    lab
}

/// Clients with one outbound view share one group; what they are sent is encoded once: every
/// member gets the very same buffer.
#[test]
fn members_share_encoded_messages() {
    let mut lab = check(reflector(CLUSTER), 0, &[]);
    for id in 10..20 {
        lab.up(&Neighbor::client(id, &format!("10.0.1.{id}")));
    }
    lab.step(update(
        1,
        announce(&["10.244.0.0/24", "10.244.1.0/24"], "10.0.0.1", path(&[])),
    ));
    let buffers: Vec<Vec<bytes::Bytes>> = (10..20)
        .map(|id| lab.rib.take_messages(PeerId(id), usize::MAX))
        .collect();
    assert_eq!(buffers[0].len(), 1, "both prefixes in one UPDATE");
    for member in &buffers {
        assert_eq!(member.len(), 1);
        assert_eq!(
            member[0].as_ptr(),
            buffers[0][0].as_ptr(),
            "one shared buffer"
        );
    }
    let groups: Vec<(usize, usize)> = lab
        .rib
        .groups()
        .map(|g| (g.members, g.advertised))
        .collect();
    assert_eq!(
        groups,
        [(1, 0), (10, 2)],
        "the source alone, the clients together"
    );
}

/// Members joining in a burst share one walk of the table: the first to reach a chunk
/// encodes it, the others get the very same buffers (a reflector's clients coming up together
/// cost one encoding of the table, not one each). One joining on its own later walks afresh.
#[test]
fn members_joining_together_share_one_walk() {
    let mut lab = check(reflector(CLUSTER), 0, &[]);
    let prefixes: Vec<String> = (0..50).map(|i| format!("10.244.{i}.0/24")).collect();
    let prefixes: Vec<&str> = prefixes.iter().map(String::as_str).collect();
    lab.step(update(1, announce(&prefixes, "10.0.0.1", path(&[]))));
    for id in 10..15 {
        lab.step(Lab::up_input_of(&Neighbor::client(
            id,
            &format!("10.0.1.{id}"),
        )));
    }
    let walks: Vec<Vec<bytes::Bytes>> = (10..15)
        .map(|id| lab.rib.take_messages(PeerId(id), usize::MAX))
        .collect();
    for walk in &walks {
        // The table, then End-of-RIB for each family (the member's own).
        assert_eq!(walk.len(), walks[0].len());
        assert_eq!(walk[0].as_ptr(), walks[0][0].as_ptr(), "one shared buffer");
    }
    assert_ne!(
        walks[1][1].as_ptr(),
        walks[0][1].as_ptr(),
        "End-of-RIB is per member"
    );
    let late = Neighbor::client(20, "10.0.1.20");
    lab.step(Lab::up_input_of(&late));
    let alone = lab.rib.take_messages(PeerId(20), usize::MAX);
    assert_eq!(alone.len(), walks[0].len());
    assert_ne!(alone[0].as_ptr(), walks[0][0].as_ptr(), "a fresh walk");
}

/// A member that joins later walks the table, then gets End-of-RIB, then follows the log.
#[test]
fn late_member_walks_the_table() {
    let mut lab = check(
        reflector(CLUSTER),
        1,
        &[(
            update(1, announce(&["10.244.0.0/24"], "10.0.0.1", path(&[]))),
            &[
                "fib 10.244.0.0/24 -> 10.0.0.1",
                "10: + 10.244.0.0/24 via 10.0.0.1 path [] lp 100 orig 10.0.0.1 clusters 192.0.2.100",
            ],
        )],
    );
    let joined = lab.up(&Neighbor::client(11, "10.0.1.11"));
    assert_lines(
        "joined",
        &joined,
        &[
            "11: + 10.244.0.0/24 via 10.0.0.1 path [] lp 100 orig 10.0.0.1 clusters 192.0.2.100",
            "11: eor ipv4-unicast",
            "11: eor ipv6-unicast",
        ],
    );
    run_steps(
        &mut lab,
        &[(
            update(1, withdraw(&["10.244.0.0/24"])),
            &[
                "fib 10.244.0.0/24 delete",
                "10: - 10.244.0.0/24",
                "11: - 10.244.0.0/24",
            ],
        )],
    );
}

/// A walk over a table larger than one chunk, taken one message at a time.
#[test]
fn large_walk_in_small_steps() {
    let mut lab = check(reflector(CLUSTER), 0, &[]);
    let prefixes: Vec<String> = (0..5000u32)
        .map(|i| format!("10.{}.{}.0/24", 100 + i / 256, i % 256))
        .collect();
    let refs: Vec<&str> = prefixes.iter().map(String::as_str).collect();
    for chunk in refs.chunks(500) {
        lab.step(update(1, announce(chunk, "10.0.0.1", path(&[]))));
    }
    lab.take = 3;
    let lines = lab.up(&Neighbor::client(10, "10.0.1.10"));
    assert_eq!(lines.len(), 5002);
    assert!(lines[..5000].iter().all(|l| l.starts_with("10: + 10.")));
    assert_eq!(
        &lines[5000..],
        ["10: eor ipv4-unicast", "10: eor ipv6-unicast"]
    );
}

/// With no log retention, a member that did not take its messages is resynchronized by a walk
/// over what changed since its cursor: announcements and withdrawals, nothing it already has.
#[test]
fn lagging_member_resyncs_by_walking_changes() {
    let config = RibConfig {
        log_retention: 0,
        ..reflector(CLUSTER)
    };
    let mut lab = check(config, 2, &[]);
    let route = |prefix: &str| {
        format!("+ {prefix} via 10.0.0.1 path [] lp 100 orig 10.0.0.1 clusters 192.0.2.100")
    };
    lab.step(update(
        1,
        announce(
            &["10.244.1.0/24", "10.244.2.0/24", "10.244.3.0/24"],
            "10.0.0.1",
            path(&[]),
        ),
    ));
    let first = lab.sent_to(10);
    assert_eq!(
        first,
        [
            route("10.244.1.0/24"),
            route("10.244.2.0/24"),
            route("10.244.3.0/24")
        ]
    );
    lab.step(update(1, withdraw(&["10.244.2.0/24"])));
    lab.step(update(
        1,
        announce(&["10.244.4.0/24"], "10.0.0.1", path(&[])),
    ));
    assert_eq!(
        lab.sent_to(10),
        ["- 10.244.2.0/24".to_string(), route("10.244.4.0/24")],
        "the member that kept up gets only the two changes"
    );
    assert_eq!(
        lab.sent_to(11),
        [
            "- 10.244.2.0/24".to_string(),
            route("10.244.1.0/24"),
            route("10.244.3.0/24"),
            route("10.244.4.0/24")
        ],
        "the member that fell behind gets the present table and the withdrawal"
    );
}

/// ROUTE-REFRESH re-sends the Adj-RIB-Out of the family (RFC 2918); with enhanced route
/// refresh it is framed by BoRR and EoRR (RFC 7313 §4). No session reset.
#[test]
fn route_refresh_resends_the_table() {
    let mut lab = Lab::new(reflector(CLUSTER));
    lab.up(&Neighbor::ibgp(1, "10.0.0.1"));
    lab.up(&Neighbor::client(10, "10.0.1.10"));
    lab.up(&Neighbor::client(11, "10.0.1.11").enhanced_route_refresh());
    lab.run(update(
        1,
        announce(&["10.244.0.0/24"], "10.0.0.1", path(&[])),
    ));
    lab.run(update(
        1,
        announce(&["fd00:244::/64"], "fd00::1", path(&[])),
    ));
    let route = "+ 10.244.0.0/24 via 10.0.0.1 path [] lp 100 orig 10.0.0.1 clusters 192.0.2.100";
    run_steps(
        &mut lab,
        &[
            (
                refresh(10, AfiSafi::Ipv4Unicast, RouteRefreshSubtype::Normal),
                &[&format!("10: {route}")],
            ),
            (
                refresh(11, AfiSafi::Ipv4Unicast, RouteRefreshSubtype::Normal),
                &[
                    "11: borr ipv4-unicast",
                    &format!("11: {route}"),
                    "11: eorr ipv4-unicast",
                ],
            ),
        ],
    );
}

/// RFC 7313 §4: between the neighbor's BoRR and EoRR, routes it does not announce again are
/// stale and removed at EoRR.
#[test]
fn enhanced_refresh_from_the_neighbor_purges_stale_routes() {
    check(
        reflector(CLUSTER),
        1,
        &[
            (
                update(
                    1,
                    announce(&["10.244.1.0/24", "10.244.2.0/24"], "10.0.0.1", path(&[])),
                ),
                &[
                    "fib 10.244.1.0/24 -> 10.0.0.1",
                    "fib 10.244.2.0/24 -> 10.0.0.1",
                    "10: + 10.244.1.0/24 via 10.0.0.1 path [] lp 100 orig 10.0.0.1 clusters 192.0.2.100",
                    "10: + 10.244.2.0/24 via 10.0.0.1 path [] lp 100 orig 10.0.0.1 clusters 192.0.2.100",
                ],
            ),
            (
                refresh(1, AfiSafi::Ipv4Unicast, RouteRefreshSubtype::BeginningOfRouteRefresh),
                &[],
            ),
            (
                update(1, announce(&["10.244.1.0/24"], "10.0.0.1", path(&[]))),
                &[],
            ),
            (
                refresh(1, AfiSafi::Ipv4Unicast, RouteRefreshSubtype::EndOfRouteRefresh),
                &["fib 10.244.2.0/24 delete", "10: - 10.244.2.0/24"],
            ),
        ],
    );
}

/// Decisions are batched: a prefix changed many times before a decision is decided once, and
/// the queue is first in, first out, so a flapping neighbor does not delay the others by more
/// than one pass.
#[test]
fn decisions_are_batched_and_fair() {
    let mut lab = check(reflector(CLUSTER), 1, &[]);
    lab.up(&Neighbor::ibgp(2, "10.0.0.2"));
    let flapping = ["10.1.0.0/24", "10.1.1.0/24", "10.1.2.0/24"];
    lab.rib
        .apply(update(1, announce(&flapping, "10.0.0.1", path(&[]))))
        .expect("established");
    lab.rib
        .apply(update(2, announce(&["10.2.0.0/24"], "10.0.0.2", path(&[]))))
        .expect("established");
    for _ in 0..100 {
        lab.rib
            .apply(update(1, withdraw(&flapping)))
            .expect("established");
        lab.rib
            .apply(update(1, announce(&flapping, "10.0.0.1", path(&[5]))))
            .expect("established");
    }
    assert_eq!(lab.rib.pending_decisions(), 4, "each prefix queued once");
    let outputs = lab.rib.run_decisions(4);
    assert_eq!(lab.rib.pending_decisions(), 0);
    let fib: Vec<String> = outputs
        .iter()
        .map(describe_output)
        .filter(|l| l.starts_with("fib"))
        .collect();
    assert_eq!(
        fib,
        [
            "fib 10.1.0.0/24 -> 10.0.0.1",
            "fib 10.1.1.0/24 -> 10.0.0.1",
            "fib 10.1.2.0/24 -> 10.0.0.1",
            "fib 10.2.0.0/24 -> 10.0.0.2"
        ]
    );
    assert_eq!(
        lab.sent_to(10).len(),
        4,
        "one announcement per prefix, not one per flap"
    );
}

/// `run_decisions(budget)` decides at most `budget` prefixes per call.
#[test]
fn decisions_respect_the_budget() {
    let mut lab = check(reflector(CLUSTER), 1, &[]);
    lab.rib
        .apply(update(
            1,
            announce(
                &["10.1.0.0/24", "10.1.1.0/24", "10.1.2.0/24"],
                "10.0.0.1",
                path(&[]),
            ),
        ))
        .expect("established");
    for left in [2, 1, 0] {
        let outputs = lab.rib.run_decisions(1);
        assert_eq!(lab.rib.pending_decisions(), left);
        assert_eq!(
            outputs
                .iter()
                .filter(|o| matches!(o, rr::RibOutput::Fib(_)))
                .count(),
            1
        );
    }
}

/// A route whose attributes do not fit a message (RFC 4271 §4.1: 4096 octets) cannot be sent:
/// the group withdraws the older announcement its members hold and reports the failure.
#[test]
fn unencodable_route_is_withdrawn() {
    let huge = proto::attr::Attributes {
        communities: (0..1100).map(proto::attr::Community).collect(),
        ..path(&[])
    };
    check(
        reflector(CLUSTER),
        1,
        &[
            (
                update(1, announce(&["10.244.0.0/24"], "10.0.0.1", path(&[]))),
                &[
                    "fib 10.244.0.0/24 -> 10.0.0.1",
                    "10: + 10.244.0.0/24 via 10.0.0.1 path [] lp 100 orig 10.0.0.1 clusters 192.0.2.100",
                ],
            ),
            (
                update(1, announce(&["10.244.0.0/24"], "10.0.0.1", huge)),
                &["export failed group 1 routes 1", "10: - 10.244.0.0/24"],
            ),
        ],
    );
}

/// What a neighbor holds after applying `lines` (decoded messages) in order.
fn apply_lines(held: &mut std::collections::BTreeSet<String>, lines: &[String]) {
    for line in lines {
        let mut words = line.split(' ');
        match (words.next(), words.next()) {
            (Some("+"), Some(prefix)) => {
                held.insert(prefix.to_string());
            }
            (Some("-"), Some(prefix)) => {
                held.remove(prefix);
            }
            _ => {}
        }
    }
}

/// A member whose initial walk is overtaken by the log's retention starts over and is sent
/// the withdrawals made since its walk began: it ends with exactly the group's table.
#[test]
fn interrupted_walk_converges() {
    let config = RibConfig {
        log_retention: 0,
        ..reflector(CLUSTER)
    };
    let mut lab = check(config, 0, &[]);
    let prefixes: Vec<String> = (0..5000u32)
        .map(|i| format!("10.{}.{}.0/24", 100 + i / 256, i % 256))
        .collect();
    let refs: Vec<&str> = prefixes.iter().map(String::as_str).collect();
    lab.step(update(1, announce(&refs, "10.0.0.1", path(&[]))));
    let member = Neighbor::client(10, "10.0.1.10");
    let input = lab.up_input(&member);
    lab.rib.apply(input).expect("up");
    let params = member.params.mirrored();
    let mut held = std::collections::BTreeSet::new();
    // A budget of one octet takes one message.
    for message in lab.rib.take_messages(PeerId(10), 1) {
        apply_lines(&mut held, &describe_message(&message, &params));
    }
    assert!(
        held.contains("10.100.0.0/24"),
        "the walk began with the first prefix"
    );
    lab.step(update(1, withdraw(&refs[..10])));
    lab.step(update(
        1,
        announce(&["10.99.0.0/24"], "10.0.0.1", path(&[])),
    ));
    apply_lines(&mut held, &lab.sent_to(10));
    let advertised: std::collections::BTreeSet<String> = lab
        .rib
        .advertised(PeerId(10), None)
        .map(|route| route.prefix.to_string())
        .collect();
    assert_eq!(advertised.len(), 4991);
    let stale: Vec<&String> = held.difference(&advertised).collect();
    let missing: Vec<&String> = advertised.difference(&held).collect();
    assert!(
        stale.is_empty() && missing.is_empty(),
        "stale {stale:?}, missing {missing:?}"
    );
}

/// A member moved to another group (export policy change) before taking its latest messages
/// ends with exactly the new group's table: what it may still hold from the old group is
/// withdrawn.
#[test]
fn regrouped_member_converges() {
    let mut lab = Lab::new(config());
    lab.up(&Neighbor::ebgp(2, 65001, "172.16.0.1"));
    let moving = Neighbor::ebgp(3, 65002, "172.16.1.1");
    lab.up(&moving);
    lab.up(&Neighbor::ebgp(4, 65002, "172.16.1.2"));
    let mut held = std::collections::BTreeSet::new();
    lab.step(update(
        2,
        announce(
            &["10.1.0.0/16", "10.2.0.0/16"],
            "172.16.0.1",
            path(&[65001]),
        ),
    ));
    apply_lines(&mut held, &lab.sent_to(3));
    lab.step(update(2, withdraw(&["10.2.0.0/16"])));
    let tagged = rr::Policy {
        statements: vec![rr::Statement {
            modifications: vec![rr::Modification::AddCommunities(vec![community("64512:1")])],
            ..rr::Statement::default()
        }],
        default: rr::Verdict::Accept,
    };
    let config = rr::PeerConfig {
        export: std::sync::Arc::new(tagged),
        ..moving.config.clone()
    };
    lab.step(rr::RibInput::Reconfigure {
        peer: PeerId(3),
        config,
    });
    apply_lines(&mut held, &lab.sent_to(3));
    let advertised: std::collections::BTreeSet<String> = lab
        .rib
        .advertised(PeerId(3), None)
        .map(|route| route.prefix.to_string())
        .collect();
    assert_eq!(held, advertised);
    assert_eq!(advertised.len(), 1);
}
