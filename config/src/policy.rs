//! Routing policy as configured: named prefix lists (`[[prefix_list]]`) and policies
//! (`[[policy]]`) that neighbors name in `import` and `export`. A checked neighbor holds the
//! policies themselves, prefix lists included, so a changed definition is a changed
//! neighbor for [`crate::Config::diff`] and an unchanged one is not.
//!
//! Matches: prefix ranges with ge/le, standard (RFC 1997) and large (RFC 8092) communities.
//! Modifications: set or add communities, set LOCAL_PREF (RFC 4271 §5.1.5), prepend our AS
//! (RFC 4271 §5.1.2). The daemon turns these into `rr::Policy`.

use std::fmt;
use std::num::NonZeroU8;

use ipnet::IpNet;
use serde::Deserialize;

use crate::types::Community;

/// What happens to a route: a term's `action`, or a policy's `default`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyAction {
    Accept,
    Reject,
}

/// A named list of prefix ranges; a prefix matches the list when it matches any range.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct PrefixList {
    pub name: String,
    pub ranges: Vec<PrefixRange>,
}

/// Every prefix inside `prefix` whose length is in `ge..=le`. Checked: the prefix's own
/// length ≤ `ge` ≤ `le` ≤ the family's maximum. Without ge and le only the prefix itself
/// matches; with only `le` lengths start at the prefix's own; with only `ge` they end at the
/// maximum (as in BIRD, FRR and GoBGP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct PrefixRange {
    pub prefix: IpNet,
    pub ge: u8,
    pub le: u8,
}

impl fmt::Display for PrefixRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ge {} le {}", self.prefix, self.ge, self.le)
    }
}

/// A named policy: terms in order, then `default`.
///
/// A term whose conditions all hold applies its modifications, then its `action` if it has
/// one, which ends the evaluation (of the whole `import` or `export` list). Without one, the
/// next term sees the modified route. When no term decided, `default = "reject"` rejects the
/// route and `default = "accept"` passes it to the next policy of the list; after the last
/// one the route is accepted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Policy {
    pub name: String,
    pub default: PolicyAction,
    pub terms: Vec<Term>,
}

impl Policy {
    /// Whether a term prepends to the AS_PATH, which only export policies may do.
    pub fn prepends(&self) -> bool {
        self.terms.iter().any(|term| term.set.prepend.is_some())
    }
}

/// One `[[policy.term]]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Term {
    /// `match`: every condition must hold; none means every route.
    pub conditions: Conditions,
    pub set: Modifications,
    /// `None`: go on with the next term.
    pub action: Option<PolicyAction>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Conditions {
    /// The route's prefix matches this list.
    pub prefix_list: Option<PrefixList>,
    /// The route carries every one of these (standard or large).
    pub communities: Vec<Community>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Modifications {
    /// LOCAL_PREF (it only travels to internal neighbors, RFC 4271 §5.1.5).
    pub local_pref: Option<u32>,
    /// Replaces COMMUNITIES; all standard; empty removes the attribute.
    pub communities: Option<Vec<Community>>,
    /// Replaces LARGE_COMMUNITY; all large; empty removes the attribute.
    pub large_communities: Option<Vec<Community>>,
    /// Added when missing, after any replacement; standard and large.
    pub add_communities: Vec<Community>,
    /// Our AS put this many more times in front of the AS_PATH (export only).
    pub prepend: Option<Prepend>,
}

/// How many extra copies of our AS an export policy prepends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Prepend(NonZeroU8);

impl Prepend {
    /// FRR's bound for `set as-path prepend`: longer paths only waste memory elsewhere.
    pub const MAX: u8 = 10;

    pub(crate) fn new(count: NonZeroU8) -> Option<Prepend> {
        (count.get() <= Self::MAX).then_some(Prepend(count))
    }

    pub fn count(self) -> u8 {
        self.0.get()
    }
}
