//! Import and export policy per neighbor: prefix lists with ge/le, community matches, setting
//! and adding communities (RFC 1997) and large communities (RFC 8092), LOCAL_PREF, AS
//! prepending; and policy changes applied without a session reset.

mod common;

use std::sync::Arc;

use common::*;
use proto::attr::{Attributes, LocalPref};
use proto::Asn;
use rr::{
    Condition, Modification, PeerConfig, PeerId, Policy, PrefixList, PrefixRange, RibInput,
    Statement, Verdict,
};

/// Internal neighbor 1, external neighbor 2 (AS 65001) with `import`, external neighbor 3 (AS
/// 65002) with `export`; then `steps`.
fn check(import: Policy, export: Policy, steps: Steps<'_>) {
    let mut lab = Lab::new(config());
    lab.up(&Neighbor::ibgp(1, "10.0.0.1"));
    lab.up(&Neighbor::ebgp(2, 65001, "172.16.0.1").with(|c| c.import = Arc::new(import)));
    lab.up(&Neighbor::ebgp(3, 65002, "172.16.1.1").with(|c| c.export = Arc::new(export)));
    run_steps(&mut lab, steps);
}

fn prefixes(ranges: &[(&str, u8, u8)]) -> PrefixList {
    PrefixList(
        ranges
            .iter()
            .map(|&(prefix, ge, le)| PrefixRange::new(net(prefix), ge, le).expect("valid range"))
            .collect(),
    )
}

/// Only pod CIDRs (10.244.0.0/16 up to /26) are accepted.
#[test]
fn import_prefix_list() {
    let import = Policy {
        statements: vec![Statement {
            conditions: vec![Condition::Prefix(prefixes(&[("10.244.0.0/16", 16, 26)]))],
            modifications: vec![],
            verdict: Some(Verdict::Accept),
        }],
        default: Verdict::Reject,
    };
    check(
        import,
        Policy::accept_all(),
        &[(
            update(
                2,
                announce(
                    &["10.244.1.0/24", "10.244.1.0/27", "10.245.0.0/24"],
                    "172.16.0.1",
                    path(&[65001]),
                ),
            ),
            &[
                "fib 10.244.1.0/24 -> 172.16.0.1",
                "1: + 10.244.1.0/24 via 172.16.0.1 path [65001] lp 100",
                "2: + 10.244.1.0/24 via 10.0.0.254 path [64512 65001]",
                "3: + 10.244.1.0/24 via 10.0.0.254 path [64512 65001]",
            ],
        )],
    );
}

/// A community sets LOCAL_PREF on import, which the decision then uses.
#[test]
fn import_community_sets_local_pref() {
    let import = Policy {
        statements: vec![Statement {
            conditions: vec![Condition::Community(community("65001:666"))],
            modifications: vec![Modification::SetLocalPref(LocalPref(50))],
            verdict: None,
        }],
        default: Verdict::Accept,
    };
    let backup = Attributes {
        communities: vec![community("65001:666")],
        ..path(&[65001])
    };
    let mut lab = Lab::new(config());
    lab.up(&Neighbor::ibgp(1, "10.0.0.1"));
    lab.up(&Neighbor::ebgp(2, 65001, "172.16.0.1").with(|c| c.import = Arc::new(import)));
    run_steps(
        &mut lab,
        &[
            (
                update(2, announce(&["198.51.100.0/24"], "172.16.0.1", backup)),
                &[
                    "fib 198.51.100.0/24 -> 172.16.0.1",
                    "1: + 198.51.100.0/24 via 172.16.0.1 path [65001] lp 50 comm 65001:666",
                    "2: + 198.51.100.0/24 via 10.0.0.254 path [64512 65001] comm 65001:666",
                ],
            ),
            // An internal path with the default LOCAL_PREF now wins despite eBGP-over-iBGP; the
            // best path being internal, the internal neighbor gets a withdrawal (RFC 4271 §9.2).
            (
                update(
                    1,
                    announce(&["198.51.100.0/24"], "10.0.0.9", path(&[65009])),
                ),
                &[
                    "fib 198.51.100.0/24 -> 10.0.0.9",
                    "1: - 198.51.100.0/24",
                    "2: + 198.51.100.0/24 via 10.0.0.254 path [64512 65009]",
                ],
            ),
        ],
    );
}

/// Export: add a community and a large community, replace communities for one prefix, and
/// prepend our AS twice more.
#[test]
fn export_modifications() {
    let export = Policy {
        statements: vec![
            Statement {
                conditions: vec![],
                modifications: vec![
                    Modification::AddCommunities(vec![community("64512:100")]),
                    Modification::AddLargeCommunities(vec![large("64512:1:2")]),
                    Modification::PrependAs {
                        asn: Asn(64512),
                        count: 2,
                    },
                ],
                verdict: None,
            },
            Statement {
                conditions: vec![Condition::Prefix(prefixes(&[("10.2.0.0/16", 16, 16)]))],
                modifications: vec![Modification::SetCommunities(vec![])],
                verdict: Some(Verdict::Accept),
            },
            Statement {
                conditions: vec![Condition::LargeCommunity(large("65009:0:0"))],
                modifications: vec![],
                verdict: Some(Verdict::Reject),
            },
        ],
        default: Verdict::Accept,
    };
    let tagged = Attributes {
        communities: vec![community("65001:1")],
        ..path(&[65001])
    };
    let rejected = Attributes {
        large_communities: vec![large("65009:0:0")],
        ..path(&[65001])
    };
    check(
        Policy::accept_all(),
        export,
        &[
            (
                update(2, announce(&["10.1.0.0/16"], "172.16.0.1", tagged.clone())),
                &[
                    "fib 10.1.0.0/16 -> 172.16.0.1",
                    "1: + 10.1.0.0/16 via 172.16.0.1 path [65001] lp 100 comm 65001:1",
                    "2: + 10.1.0.0/16 via 10.0.0.254 path [64512 65001] comm 65001:1",
                    "3: + 10.1.0.0/16 via 10.0.0.254 path [64512 64512 64512 65001] comm 65001:1,64512:100 large 64512:1:2",
                ],
            ),
            (
                update(2, announce(&["10.2.0.0/16"], "172.16.0.1", tagged)),
                &[
                    "fib 10.2.0.0/16 -> 172.16.0.1",
                    "1: + 10.2.0.0/16 via 172.16.0.1 path [65001] lp 100 comm 65001:1",
                    "2: + 10.2.0.0/16 via 10.0.0.254 path [64512 65001] comm 65001:1",
                    "3: + 10.2.0.0/16 via 10.0.0.254 path [64512 64512 64512 65001] large 64512:1:2",
                ],
            ),
            (
                update(2, announce(&["10.3.0.0/16"], "172.16.0.1", rejected)),
                &[
                    "fib 10.3.0.0/16 -> 172.16.0.1",
                    "1: + 10.3.0.0/16 via 172.16.0.1 path [65001] lp 100 large 65009:0:0",
                    "2: + 10.3.0.0/16 via 10.0.0.254 path [64512 65001] large 65009:0:0",
                ],
            ),
        ],
    );
}

/// Changing a neighbor's export policy moves it to another update group without a reset: it
/// is sent withdrawals for what it no longer gets, then the new group's table.
#[test]
fn export_policy_change_regroups() {
    let mut lab = Lab::new(config());
    lab.up(&Neighbor::ebgp(2, 65001, "172.16.0.1"));
    let neighbor = Neighbor::ebgp(3, 65002, "172.16.1.1");
    lab.up(&neighbor);
    lab.up(&Neighbor::ebgp(4, 65002, "172.16.1.2"));
    lab.run(update(
        2,
        announce(
            &["10.1.0.0/16", "10.2.0.0/16"],
            "172.16.0.1",
            path(&[65001]),
        ),
    ));
    assert_eq!(lab.rib.group_of(PeerId(3)), lab.rib.group_of(PeerId(4)));
    let only_ten_one = Policy {
        statements: vec![Statement {
            conditions: vec![Condition::Prefix(prefixes(&[("10.1.0.0/16", 16, 16)]))],
            modifications: vec![Modification::AddCommunities(vec![community("64512:1")])],
            verdict: Some(Verdict::Accept),
        }],
        default: Verdict::Reject,
    };
    let config = PeerConfig {
        export: Arc::new(only_ten_one),
        ..neighbor.config.clone()
    };
    run_steps(
        &mut lab,
        &[(
            RibInput::Reconfigure {
                peer: PeerId(3),
                config,
            },
            &[
                "3: - 10.2.0.0/16",
                "3: + 10.1.0.0/16 via 10.0.0.254 path [64512 65001] comm 64512:1",
            ],
        )],
    );
    assert_ne!(lab.rib.group_of(PeerId(3)), lab.rib.group_of(PeerId(4)));
    assert_eq!(lab.rib.groups().count(), 3);
}

/// Changing the import policy re-runs it over the Adj-RIB-In: no ROUTE-REFRESH needed.
#[test]
fn import_policy_change_reimports() {
    let mut lab = Lab::new(config());
    lab.up(&Neighbor::ibgp(1, "10.0.0.1"));
    let neighbor = Neighbor::ebgp(2, 65001, "172.16.0.1");
    lab.up(&neighbor);
    lab.run(update(
        2,
        announce(
            &["10.1.0.0/16", "10.2.0.0/16"],
            "172.16.0.1",
            path(&[65001]),
        ),
    ));
    let reject_ten_two = Policy {
        statements: vec![Statement {
            conditions: vec![Condition::Prefix(prefixes(&[("10.2.0.0/16", 16, 16)]))],
            modifications: vec![],
            verdict: Some(Verdict::Reject),
        }],
        default: Verdict::Accept,
    };
    let config = PeerConfig {
        import: Arc::new(reject_ten_two),
        ..neighbor.config.clone()
    };
    run_steps(
        &mut lab,
        &[(
            RibInput::Reconfigure {
                peer: PeerId(2),
                config,
            },
            &[
                "fib 10.2.0.0/16 delete",
                "1: - 10.2.0.0/16",
                "2: - 10.2.0.0/16",
            ],
        )],
    );
    let summary = lab.rib.peer_summary(PeerId(2)).expect("established");
    assert_eq!((summary.received, summary.accepted), (2, 1));
}
