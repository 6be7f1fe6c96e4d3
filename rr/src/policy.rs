//! Route policy, per neighbor and direction: an ordered list of statements, each with
//! conditions (prefix lists with ge/le, standard and large community matches), modifications
//! (set or add COMMUNITIES (RFC 1997) and LARGE_COMMUNITY (RFC 8092), set LOCAL_PREF, prepend
//! AS numbers) and an optional verdict that ends evaluation.
//!
//! Import policy runs on routes as received (after the RFC 4271 / RFC 4456 loop checks);
//! export policy runs on the Loc-RIB route before the protocol's own changes for the neighbor
//! (our AS prepended towards eBGP, next hop, reflection attributes), as BIRD does. A policy is
//! a value: neighbors whose export policies are equal can share an update group.

use ipnet::IpNet;
use proto::attr::{Community, LargeCommunity, LocalPref};
use proto::Asn;

use crate::attrs::PathAttrs;

/// What happens to a route no statement decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Verdict {
    #[default]
    Accept,
    Reject,
}

/// A policy: statements in order; the first one with a verdict whose conditions hold ends
/// evaluation; otherwise `default` applies. Modifications of every matching statement are
/// kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Policy {
    pub statements: Vec<Statement>,
    pub default: Verdict,
}

/// One statement: when every condition holds, the modifications apply, then the verdict.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Statement {
    pub conditions: Vec<Condition>,
    pub modifications: Vec<Modification>,
    pub verdict: Option<Verdict>,
}

/// A condition on a route.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Condition {
    /// The prefix matches one of the list's ranges.
    Prefix(PrefixList),
    /// The route carries this community.
    Community(Community),
    /// The route carries this large community.
    LargeCommunity(LargeCommunity),
}

/// A change to a route's attributes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Modification {
    /// Replace COMMUNITIES; empty removes the attribute.
    SetCommunities(Vec<Community>),
    /// Add communities the route does not carry yet.
    AddCommunities(Vec<Community>),
    /// Replace LARGE_COMMUNITY; empty removes the attribute.
    SetLargeCommunities(Vec<LargeCommunity>),
    /// Add large communities the route does not carry yet.
    AddLargeCommunities(Vec<LargeCommunity>),
    /// Set LOCAL_PREF (it only travels to internal neighbors, RFC 4271 §5.1.5).
    SetLocalPref(LocalPref),
    /// Put `asn` in front of the AS_PATH `count` times (RFC 4271 §5.1.2 allows repeating it).
    PrependAs { asn: Asn, count: u8 },
}

/// Prefix ranges; a prefix matches the list when it matches any range.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PrefixList(pub Vec<PrefixRange>);

/// A prefix and the lengths accepted inside it: `prefix ge G le L` matches every prefix
/// inside `prefix` whose length is between G and L. (An operator's shorthand, a range without
/// `ge` or `le`, is the configuration's to expand: `config::PrefixRange` holds both bounds.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PrefixRange {
    prefix: IpNet,
    ge: u8,
    le: u8,
}

/// A prefix range whose lengths cannot match anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("prefix range {prefix} ge {ge} le {le}: need {} <= ge <= le <= {max}", prefix.prefix_len())]
pub struct InvalidPrefixRange {
    pub prefix: IpNet,
    pub ge: u8,
    pub le: u8,
    pub max: u8,
}

impl PrefixRange {
    /// The range, checked: the prefix's own length ≤ `ge` ≤ `le` ≤ the family's maximum.
    pub fn new(prefix: IpNet, ge: u8, le: u8) -> Result<PrefixRange, InvalidPrefixRange> {
        let prefix = prefix.trunc();
        let max = prefix.max_prefix_len();
        let own = prefix.prefix_len();
        if own <= ge && ge <= le && le <= max {
            Ok(PrefixRange { prefix, ge, le })
        } else {
            Err(InvalidPrefixRange {
                prefix,
                ge,
                le,
                max,
            })
        }
    }

    pub fn matches(&self, candidate: &IpNet) -> bool {
        let length = candidate.prefix_len();
        self.ge <= length && length <= self.le && self.prefix.contains(candidate)
    }
}

impl PrefixList {
    pub fn matches(&self, prefix: &IpNet) -> bool {
        self.0.iter().any(|range| range.matches(prefix))
    }
}

/// The outcome of a policy for one route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Reject,
    /// Accepted as it was.
    Unchanged,
    /// Accepted with these attributes.
    Modified(Box<PathAttrs>),
}

impl Policy {
    /// The policy that accepts everything unchanged.
    pub fn accept_all() -> Policy {
        Policy::default()
    }

    /// Whether the outcome depends on the prefix, not only on the attributes (callers cache
    /// outcomes per attribute set otherwise).
    pub fn depends_on_prefix(&self) -> bool {
        self.statements.iter().any(|statement| {
            statement
                .conditions
                .iter()
                .any(|c| matches!(c, Condition::Prefix(_)))
        })
    }

    /// Runs the policy on one route.
    pub fn evaluate(&self, prefix: &IpNet, attrs: &PathAttrs) -> Outcome {
        let mut modified: Option<PathAttrs> = None;
        for statement in &self.statements {
            let current = modified.as_ref().unwrap_or(attrs);
            if !statement
                .conditions
                .iter()
                .all(|c| holds(c, prefix, current))
            {
                continue;
            }
            if !statement.modifications.is_empty() {
                let target = modified.get_or_insert_with(|| attrs.clone());
                for modification in &statement.modifications {
                    apply(modification, target);
                }
            }
            if let Some(verdict) = statement.verdict {
                return finish(verdict, modified);
            }
        }
        finish(self.default, modified)
    }
}

fn finish(verdict: Verdict, modified: Option<PathAttrs>) -> Outcome {
    match (verdict, modified) {
        (Verdict::Reject, _) => Outcome::Reject,
        (Verdict::Accept, None) => Outcome::Unchanged,
        (Verdict::Accept, Some(attrs)) => Outcome::Modified(Box::new(attrs)),
    }
}

fn holds(condition: &Condition, prefix: &IpNet, attrs: &PathAttrs) -> bool {
    match condition {
        Condition::Prefix(list) => list.matches(prefix),
        Condition::Community(community) => attrs.attributes.communities.contains(community),
        Condition::LargeCommunity(community) => {
            attrs.attributes.large_communities.contains(community)
        }
    }
}

fn apply(modification: &Modification, attrs: &mut PathAttrs) {
    let attributes = &mut attrs.attributes;
    match modification {
        Modification::SetCommunities(set) => attributes.communities = set.clone(),
        Modification::AddCommunities(add) => add_missing(&mut attributes.communities, add),
        Modification::SetLargeCommunities(set) => attributes.large_communities = set.clone(),
        Modification::AddLargeCommunities(add) => {
            add_missing(&mut attributes.large_communities, add)
        }
        Modification::SetLocalPref(local_pref) => attributes.local_pref = Some(*local_pref),
        Modification::PrependAs { asn, count } => {
            let mut path = attributes.as_path.take().unwrap_or_default();
            for _ in 0..*count {
                path = path.prepended(*asn);
            }
            attributes.as_path = Some(path);
        }
    }
}

fn add_missing<T: PartialEq + Copy>(list: &mut Vec<T>, add: &[T]) {
    for value in add {
        if !list.contains(value) {
            list.push(*value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().expect("test prefix")
    }

    #[test]
    fn prefix_ranges_follow_ge_le() {
        /// Range prefix, ge, le, candidate, expected.
        type Case = (&'static str, u8, u8, &'static str, bool);
        let cases: &[Case] = &[
            ("10.0.0.0/8", 8, 8, "10.0.0.0/8", true),
            ("10.0.0.0/8", 8, 8, "10.1.0.0/16", false),
            ("10.0.0.0/8", 8, 24, "10.1.0.0/16", true),
            ("10.0.0.0/8", 8, 24, "10.1.1.0/25", false),
            ("10.0.0.0/8", 16, 32, "10.1.1.1/32", true),
            ("10.0.0.0/8", 16, 32, "10.0.0.0/8", false),
            ("10.0.0.0/8", 16, 24, "11.1.0.0/16", false),
            ("fd00::/8", 64, 64, "fd00:1::/64", true),
            ("fd00::/8", 64, 64, "10.0.0.0/8", false),
        ];
        for &(range, ge, le, candidate, expected) in cases {
            let range = PrefixRange::new(net(range), ge, le).expect("valid range");
            assert_eq!(
                range.matches(&net(candidate)),
                expected,
                "{range:?} {candidate}"
            );
        }
        assert!(PrefixRange::new(net("10.0.0.0/8"), 4, 32).is_err());
        assert!(PrefixRange::new(net("10.0.0.0/8"), 24, 16).is_err());
        assert!(PrefixRange::new(net("10.0.0.0/8"), 8, 33).is_err());
    }
}
