//! `[[prefix_list]]` and `[[policy]]` definitions (in the file, or inside one datastore
//! peer), and the neighbors' `import` / `export` references to them, resolved by name into
//! the policies themselves. Names are unique per kind; every reference must name a definition.

use std::collections::BTreeMap;
use std::num::NonZeroU8;

use super::field::{communities, each, name, optional, prefix, required};
use crate::error::{ErrorKind, KeyPath, Problems};
use crate::policy::{
    Conditions, Modifications, Policy, PolicyAction, PrefixList, PrefixRange, Prepend, Term,
};
use crate::raw::{RawMatch, RawPolicy, RawPrefixEntry, RawPrefixList, RawSet, RawTerm};
use crate::types::Community;

/// The definitions neighbors may name. A name that maps to `None` was defined with errors,
/// already reported: a reference to it fails without a second report.
#[derive(Debug, Default)]
pub(crate) struct Definitions {
    policies: BTreeMap<String, Option<Policy>>,
}

/// Which list of a neighbor names the policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Import,
    Export,
}

impl Direction {
    fn key(self) -> &'static str {
        match self {
            Direction::Import => "import",
            Direction::Export => "export",
        }
    }
}

/// Checks the `prefix_list` and `policy` arrays under `root`.
pub(crate) fn definitions(
    prefix_lists: Option<Vec<RawPrefixList>>,
    policies: Option<Vec<RawPolicy>>,
    root: &KeyPath,
    problems: &mut Problems,
) -> Definitions {
    let lists = named(
        prefix_lists.unwrap_or_default(),
        &root.key("prefix_list"),
        "prefix list",
        problems,
        |raw| raw.name.clone(),
        |raw, name, path, problems| {
            prefix_list(raw.prefixes.clone(), &path.key("prefixes"), problems)
                .map(|ranges| PrefixList { name, ranges })
        },
    );
    let policies = named(
        policies.unwrap_or_default(),
        &root.key("policy"),
        "policy",
        problems,
        |raw| raw.name.clone(),
        |raw, name, path, problems| policy(raw, name, path, &lists, problems),
    );
    Definitions { policies }
}

/// A neighbor's `import` or `export` list: the named policies, in order.
pub(crate) fn references(
    names: Option<Vec<String>>,
    neighbor: &KeyPath,
    direction: Direction,
    definitions: &Definitions,
    problems: &mut Problems,
) -> Option<Vec<Policy>> {
    let path = neighbor.key(direction.key());
    let mut resolved = Vec::new();
    let mut ok = true;
    for (i, name) in names.unwrap_or_default().into_iter().enumerate() {
        match definitions.policies.get(&name) {
            None => {
                problems.push(
                    path.index(i),
                    ErrorKind::UnknownReference {
                        what: "policy",
                        name,
                    },
                );
                ok = false;
            }
            Some(None) => ok = false,
            Some(Some(policy)) if direction == Direction::Import && policy.prepends() => {
                problems.push(path.index(i), ErrorKind::PrependOnImport { policy: name });
                ok = false;
            }
            Some(Some(policy)) => resolved.push(policy.clone()),
        }
    }
    ok.then_some(resolved)
}

/// Entries with a unique `name`, each checked by `check`; a duplicate is reported and left
/// out, the first definition stays.
fn named<R, T>(
    entries: Vec<R>,
    path: &KeyPath,
    what: &'static str,
    problems: &mut Problems,
    name_of: impl Fn(&R) -> Option<String>,
    check: impl Fn(&R, String, &KeyPath, &mut Problems) -> Option<T>,
) -> BTreeMap<String, Option<T>> {
    let mut checked = BTreeMap::new();
    let mut first: BTreeMap<String, KeyPath> = BTreeMap::new();
    for (i, raw) in entries.iter().enumerate() {
        let entry_path = path.index(i);
        let name_path = entry_path.key("name");
        let given = required(name_of(raw), &name_path, problems)
            .and_then(|text| problems.check(&name_path, name(&text)));
        let Some(given) = given else {
            // Still checked, so that one pass reports everything.
            check(raw, String::new(), &entry_path, problems);
            continue;
        };
        if let Some(first) = first.get(&given) {
            problems.push(
                name_path,
                ErrorKind::Duplicate {
                    what,
                    value: format!("{given:?}"),
                    first: first.clone(),
                },
            );
            continue;
        }
        first.insert(given.clone(), entry_path.clone());
        let value = check(raw, given.clone(), &entry_path, problems);
        checked.insert(given, value);
    }
    checked
}

fn prefix_list(
    entries: Option<Vec<RawPrefixEntry>>,
    path: &KeyPath,
    problems: &mut Problems,
) -> Option<Vec<PrefixRange>> {
    match entries {
        None => {
            problems.push(path.clone(), ErrorKind::Missing);
            None
        }
        // A list that matches nothing is a mistake, not a way to reject everything.
        Some(entries) if entries.is_empty() => {
            problems.push(path.clone(), ErrorKind::Empty);
            None
        }
        Some(entries) => {
            let mut ranges = Vec::new();
            let mut ok = true;
            for (i, entry) in entries.into_iter().enumerate() {
                match prefix_range(entry, &path.index(i), problems) {
                    Some(range) => ranges.push(range),
                    None => ok = false,
                }
            }
            ok.then_some(ranges)
        }
    }
}

fn prefix_range(
    entry: RawPrefixEntry,
    path: &KeyPath,
    problems: &mut Problems,
) -> Option<PrefixRange> {
    let (text, prefix_path, ge, le) = match entry {
        RawPrefixEntry::Prefix(text) => (Some(text), path.clone(), None, None),
        RawPrefixEntry::Range(range) => (range.prefix, path.key("prefix"), range.ge, range.le),
    };
    let network = required(text, &prefix_path, problems)
        .and_then(|text| problems.check(&prefix_path, prefix(&text)));
    let length = |value: &i64| {
        u8::try_from(*value).map_err(|_| ErrorKind::OutOfRange {
            value: *value,
            allowed: "0..=32 for IPv4, 0..=128 for IPv6",
        })
    };
    let ge = optional(ge, &path.key("ge"), problems, length);
    let le = optional(le, &path.key("le"), problems, length);
    let (network, ge, le) = (network?, ge?, le?);
    let own = network.prefix_len();
    let max = network.max_prefix_len();
    let (ge, le) = match (ge, le) {
        (None, None) => (own, own),
        (Some(ge), None) => (ge, max),
        (None, Some(le)) => (own, le),
        (Some(ge), Some(le)) => (ge, le),
    };
    if own <= ge && ge <= le && le <= max {
        Some(PrefixRange {
            prefix: network,
            ge,
            le,
        })
    } else {
        problems.push(
            path.clone(),
            ErrorKind::PrefixRange {
                prefix: network,
                ge,
                le,
                max,
            },
        );
        None
    }
}

fn policy(
    raw: &RawPolicy,
    name: String,
    path: &KeyPath,
    lists: &BTreeMap<String, Option<PrefixList>>,
    problems: &mut Problems,
) -> Option<Policy> {
    let terms_path = path.key("term");
    let mut terms = Vec::new();
    let mut ok = true;
    for (i, raw) in raw.term.iter().flatten().enumerate() {
        match term(raw, &terms_path.index(i), lists, problems) {
            Some(term) => terms.push(term),
            None => ok = false,
        }
    }
    ok.then_some(Policy {
        name,
        default: raw.default.unwrap_or(PolicyAction::Accept),
        terms,
    })
}

fn term(
    raw: &RawTerm,
    path: &KeyPath,
    lists: &BTreeMap<String, Option<PrefixList>>,
    problems: &mut Problems,
) -> Option<Term> {
    let conditions = match &raw.conditions {
        Some(raw) => conditions(raw, &path.key("match"), lists, problems),
        None => Some(Conditions::default()),
    };
    let set = match &raw.set {
        Some(raw) => modifications(raw, &path.key("set"), problems),
        None => Some(Modifications::default()),
    };
    Some(Term {
        conditions: conditions?,
        set: set?,
        action: raw.action,
    })
}

fn conditions(
    raw: &RawMatch,
    path: &KeyPath,
    lists: &BTreeMap<String, Option<PrefixList>>,
    problems: &mut Problems,
) -> Option<Conditions> {
    let list_path = path.key("prefix_list");
    let prefix_list = match &raw.prefix_list {
        None => Some(None),
        Some(name) => match lists.get(name) {
            None => {
                problems.push(
                    list_path,
                    ErrorKind::UnknownReference {
                        what: "prefix list",
                        name: name.clone(),
                    },
                );
                None
            }
            Some(list) => list.clone().map(Some),
        },
    };
    let communities = communities(raw.community.clone(), &path.key("community"), problems);
    Some(Conditions {
        prefix_list: prefix_list?,
        communities: communities?,
    })
}

fn modifications(raw: &RawSet, path: &KeyPath, problems: &mut Problems) -> Option<Modifications> {
    let local_pref = optional(raw.local_pref, &path.key("local_pref"), problems, |value| {
        u32::try_from(*value).map_err(|_| ErrorKind::OutOfRange {
            value: *value,
            allowed: "0..=4294967295",
        })
    });
    let standard = |text: &String| {
        match text.parse::<Community>()? {
        community @ Community::Standard(_) => Ok(community),
        Community::Large { .. } => Err(ErrorKind::Invalid {
            value: text.clone(),
            expected: "a standard community (ASN:VALUE or a well-known name); large ones go in large_communities",
        }),
    }
    };
    let large = |text: &String| match text.parse::<Community>()? {
        community @ Community::Large { .. } => Ok(community),
        Community::Standard(_) => Err(ErrorKind::Invalid {
            value: text.clone(),
            expected: "a large community (GLOBAL:LOCAL1:LOCAL2); standard ones go in communities",
        }),
    };
    let replace = |list: &Option<Vec<String>>,
                   key: &str,
                   parse: &dyn Fn(&String) -> Result<Community, ErrorKind>,
                   problems: &mut Problems| match list {
        None => Some(None),
        Some(list) => each(list, &path.key(key), problems, parse).map(Some),
    };
    let set_communities = replace(&raw.communities, "communities", &standard, problems);
    let set_large = replace(
        &raw.large_communities,
        "large_communities",
        &large,
        problems,
    );
    let add_communities = communities(
        raw.add_communities.clone(),
        &path.key("add_communities"),
        problems,
    );
    let prepend = optional(raw.prepend, &path.key("prepend"), problems, |count| {
        u8::try_from(*count)
            .ok()
            .and_then(NonZeroU8::new)
            .and_then(Prepend::new)
            .ok_or(ErrorKind::OutOfRange {
                value: *count,
                allowed: "1..=10",
            })
    });
    Some(Modifications {
        local_pref: local_pref?,
        communities: set_communities?,
        large_communities: set_large?,
        add_communities: add_communities?,
        prepend: prepend?,
    })
}
