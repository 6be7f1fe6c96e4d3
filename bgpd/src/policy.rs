//! A neighbor's configured routing policy (`import`, `export`, `communities`) as the one
//! `rr::Policy` per direction that the RIB runs.
//!
//! A list of policies becomes one: each policy's terms in order, and after the terms of a
//! policy whose `default` is `reject`, a statement that rejects whatever reached it. A term's
//! `action` ends the evaluation of the whole list, as `accept`/`reject` end a BIRD filter;
//! a route no term decided is accepted. The neighbor's `communities` are added by a first
//! export statement, so export policies see them (and may replace them).
//!
//! RFC 1997 / RFC 8092 (communities), RFC 4271 §5.1.5 (LOCAL_PREF), §5.1.2 (prepending our
//! AS; the RIB adds the one for the eBGP hop itself after the export policy).

use ipnet::IpNet;
use proto::attr::LocalPref;
use proto::Asn;
use rr::{Condition, Modification, Policy, PrefixList, PrefixRange, Statement, Verdict};
use tracing::error;

use crate::rib::split_communities;

/// The neighbor's import policies as one.
pub fn import(neighbor: &config::Neighbor, local_asn: Asn) -> Policy {
    chain(None, &neighbor.import, local_asn)
}

/// The neighbor's `communities`, then its export policies, as one.
pub fn export(neighbor: &config::Neighbor, local_asn: Asn) -> Policy {
    let (communities, large) = split_communities(&neighbor.communities);
    let mut modifications = Vec::new();
    if !communities.is_empty() {
        modifications.push(Modification::AddCommunities(communities));
    }
    if !large.is_empty() {
        modifications.push(Modification::AddLargeCommunities(large));
    }
    let first = (!modifications.is_empty()).then_some(Statement {
        conditions: Vec::new(),
        modifications,
        verdict: None,
    });
    chain(first, &neighbor.export, local_asn)
}

fn chain(first: Option<Statement>, policies: &[config::Policy], local_asn: Asn) -> Policy {
    let mut statements: Vec<Statement> = first.into_iter().collect();
    for policy in policies {
        statements.extend(
            policy
                .terms
                .iter()
                .map(|term| statement(&policy.name, term, local_asn)),
        );
        if policy.default == config::PolicyAction::Reject {
            statements.push(Statement {
                conditions: Vec::new(),
                modifications: Vec::new(),
                verdict: Some(Verdict::Reject),
            });
        }
    }
    Policy {
        statements,
        default: Verdict::Accept,
    }
}

fn statement(policy: &str, term: &config::policy::Term, local_asn: Asn) -> Statement {
    let mut conditions = Vec::new();
    if let Some(list) = &term.conditions.prefix_list {
        conditions.push(Condition::Prefix(prefix_list(policy, list)));
    }
    let (communities, large) = split_communities(&term.conditions.communities);
    conditions.extend(communities.into_iter().map(Condition::Community));
    conditions.extend(large.into_iter().map(Condition::LargeCommunity));

    let set = &term.set;
    let mut modifications = Vec::new();
    if let Some(replacement) = &set.communities {
        modifications.push(Modification::SetCommunities(
            split_communities(replacement).0,
        ));
    }
    if let Some(replacement) = &set.large_communities {
        modifications.push(Modification::SetLargeCommunities(
            split_communities(replacement).1,
        ));
    }
    let (add, add_large) = split_communities(&set.add_communities);
    if !add.is_empty() {
        modifications.push(Modification::AddCommunities(add));
    }
    if !add_large.is_empty() {
        modifications.push(Modification::AddLargeCommunities(add_large));
    }
    if let Some(local_pref) = set.local_pref {
        modifications.push(Modification::SetLocalPref(LocalPref(local_pref)));
    }
    if let Some(prepend) = set.prepend {
        modifications.push(Modification::PrependAs {
            asn: local_asn,
            count: prepend.count(),
        });
    }
    Statement {
        conditions,
        modifications,
        verdict: term.action.map(|action| match action {
            config::PolicyAction::Accept => Verdict::Accept,
            config::PolicyAction::Reject => Verdict::Reject,
        }),
    }
}

fn prefix_list(policy: &str, list: &config::PrefixList) -> PrefixList {
    PrefixList(
        list.ranges
            .iter()
            .filter_map(|range| {
                let prefix: IpNet = range.prefix;
                // `config` checked the same rule (own length <= ge <= le <= maximum); a range
                // that still fails matches nothing, which is what leaving it out does.
                PrefixRange::new(prefix, range.ge, range.le)
                    .inspect_err(|e| error!(policy, list = %list.name, %e, "prefix range left out"))
                    .ok()
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use proto::attr::{Community, LargeCommunity};

    use super::*;

    const LOCAL_ASN: Asn = Asn(64512);

    fn range(prefix: &str, ge: u8, le: u8) -> PrefixRange {
        let prefix = prefix.parse().unwrap_or_else(|e| panic!("{prefix}: {e}"));
        PrefixRange::new(prefix, ge, le).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The neighbor of `text` (definitions, then a neighbor `import = ["in"]`-style tail)
    /// translated: (import, export).
    fn check(text: &str, import: Policy, export: Policy) {
        let text = format!("[global]\nasn = 64512\n{text}");
        let config = config::Config::from_toml(&text, "test.toml", Path::new("/"))
            .unwrap_or_else(|errors| panic!("{errors}"));
        let neighbor = &config.neighbors[0];
        assert_eq!(
            self::import(neighbor, LOCAL_ASN),
            import,
            "import of {text}"
        );
        assert_eq!(
            self::export(neighbor, LOCAL_ASN),
            export,
            "export of {text}"
        );
    }

    const NEIGHBOR: &str = "[[neighbor]]\naddress = \"10.0.0.1\"\nasn = 65000\n";

    #[test]
    fn no_policy_accepts_everything() {
        check(NEIGHBOR, Policy::accept_all(), Policy::accept_all());
    }

    #[test]
    fn terms_and_defaults_become_statements() {
        let text = format!(
            r#"
[[prefix_list]]
name = "pods"
prefixes = [{{ prefix = "10.244.0.0/16", ge = 26 }}, "10.96.0.0/12"]

[[policy]]
name = "in"
default = "reject"
[[policy.term]]
match = {{ prefix_list = "pods", community = ["65000:1", "65000:1:2"] }}
set = {{ local_pref = 200, communities = [], large_communities = ["64512:9:9"] }}
action = "accept"

[[policy]]
name = "out"
[[policy.term]]
set = {{ add_communities = ["64512:100", "64512:1:100"], prepend = 2 }}

{NEIGHBOR}communities = ["64512:7"]
import = ["in"]
export = ["out"]
"#
        );
        let import = Policy {
            statements: vec![
                Statement {
                    conditions: vec![
                        Condition::Prefix(PrefixList(vec![
                            range("10.244.0.0/16", 26, 32),
                            range("10.96.0.0/12", 12, 12),
                        ])),
                        // 65000:1 = 0xFDE8_0001
                        Condition::Community(Community(0xFDE8_0001)),
                        Condition::LargeCommunity(LargeCommunity {
                            global_admin: 65000,
                            local_data_1: 1,
                            local_data_2: 2,
                        }),
                    ],
                    modifications: vec![
                        Modification::SetCommunities(Vec::new()),
                        Modification::SetLargeCommunities(vec![LargeCommunity {
                            global_admin: 64512,
                            local_data_1: 9,
                            local_data_2: 9,
                        }]),
                        Modification::SetLocalPref(LocalPref(200)),
                    ],
                    verdict: Some(Verdict::Accept),
                },
                // default = "reject"
                Statement {
                    conditions: Vec::new(),
                    modifications: Vec::new(),
                    verdict: Some(Verdict::Reject),
                },
            ],
            default: Verdict::Accept,
        };
        let export = Policy {
            statements: vec![
                // The neighbor's own `communities` first; 64512:7 = 0xFC00_0007.
                Statement {
                    conditions: Vec::new(),
                    modifications: vec![Modification::AddCommunities(vec![Community(0xFC00_0007)])],
                    verdict: None,
                },
                Statement {
                    conditions: Vec::new(),
                    modifications: vec![
                        // 64512:100 = 0xFC00_0064
                        Modification::AddCommunities(vec![Community(0xFC00_0064)]),
                        Modification::AddLargeCommunities(vec![LargeCommunity {
                            global_admin: 64512,
                            local_data_1: 1,
                            local_data_2: 100,
                        }]),
                        Modification::PrependAs {
                            asn: LOCAL_ASN,
                            count: 2,
                        },
                    ],
                    verdict: None,
                },
            ],
            default: Verdict::Accept,
        };
        check(&text, import, export);
    }
}
