//! Path attribute sets as the RIB keeps them, and their interning.
//!
//! A route's attributes are the decoded `proto::attr::Attributes` plus its next hop, which for
//! IPv4 travels in NEXT_HOP (RFC 4271 §5.1.3) and otherwise in MP_REACH_NLRI (RFC 4760 §3);
//! [`PathAttrs`] keeps it in one place, [`PathAttrs::next_hop`], and leaves
//! `Attributes::next_hop` empty.
//!
//! Invariant: equal attribute sets share one `Arc` ([`Interner`]), so the RIB compares and
//! groups routes by pointer, and 100,000 prefixes announced with one attribute set cost one
//! allocation, whatever the number of neighbors they are sent to.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use proto::attr::{Attributes, LocalPref, NextHop};

/// An interned attribute set.
pub type Attrs = Arc<PathAttrs>;

/// The attributes of one path: everything but the NLRI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PathAttrs {
    /// `attributes.next_hop` is always `None`; the next hop is [`PathAttrs::next_hop`].
    pub attributes: Attributes,
    pub next_hop: RouteNextHop,
}

/// The next hop of a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteNextHop {
    /// This speaker: a locally originated route. Towards every neighbor it becomes the
    /// session's own address.
    Local,
    /// An address, as received or as sent.
    Address(NextHop),
}

impl PathAttrs {
    /// Attributes with the next hop moved out of `attributes` into its own field.
    pub fn new(mut attributes: Attributes, next_hop: RouteNextHop) -> PathAttrs {
        attributes.next_hop = None;
        PathAttrs {
            attributes,
            next_hop,
        }
    }

    /// LOCAL_PREF, or `default` when the path has none (RFC 4271 §9.1.1: the degree of
    /// preference of a route without LOCAL_PREF is a local matter).
    pub fn local_pref_or(&self, default: LocalPref) -> LocalPref {
        self.attributes.local_pref.unwrap_or(default)
    }
}

/// The table of interned attribute sets.
///
/// Entries nobody else holds are swept when the table has doubled since the last sweep, so the
/// cost is amortized over insertions and the table never holds more than twice what is live.
#[derive(Debug, Default)]
pub struct Interner {
    sets: HashSet<Attrs>,
    /// Size after the last sweep.
    live_after_sweep: usize,
}

/// The table is not swept below this size: sweeping a small table saves nothing.
const MIN_SWEEP_SIZE: usize = 1024;

impl Interner {
    /// The shared copy of `attrs`.
    pub fn intern(&mut self, attrs: PathAttrs) -> Attrs {
        if let Some(existing) = self.sets.get(&attrs) {
            return existing.clone();
        }
        if self.sets.len() >= MIN_SWEEP_SIZE.max(self.live_after_sweep * 2) {
            self.sweep();
        }
        let shared = Arc::new(attrs);
        self.sets.insert(shared.clone());
        shared
    }

    /// The shared copy of an attribute set that may already be interned.
    pub fn intern_arc(&mut self, attrs: &Attrs) -> Attrs {
        match self.sets.get(attrs) {
            Some(existing) => existing.clone(),
            None => self.intern(PathAttrs::clone(attrs)),
        }
    }

    /// Number of distinct attribute sets held.
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// Drops the sets only the table holds.
    pub fn sweep(&mut self) {
        self.sets.retain(|set| Arc::strong_count(set) > 1);
        self.live_after_sweep = self.sets.len();
    }
}

/// An interned set as a map key compared by identity: interning makes pointer equality the
/// same as value equality, and hashing a pointer is cheaper than hashing the attributes.
#[derive(Debug, Clone)]
pub(crate) struct ByPointer(pub Attrs);

impl PartialEq for ByPointer {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for ByPointer {}

impl Hash for ByPointer {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.0).hash(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::attr::Origin;
    use std::net::Ipv4Addr;

    fn attrs(origin: Origin, next_hop: [u8; 4]) -> PathAttrs {
        let attributes = Attributes {
            origin: Some(origin),
            next_hop: Some(Ipv4Addr::from(next_hop)),
            ..Attributes::default()
        };
        PathAttrs::new(
            attributes,
            RouteNextHop::Address(NextHop::Ipv4(Ipv4Addr::from(next_hop))),
        )
    }

    #[test]
    fn equal_sets_share_one_arc_and_unused_ones_are_swept() {
        let mut interner = Interner::default();
        let a = interner.intern(attrs(Origin::Igp, [192, 0, 2, 1]));
        let b = interner.intern(attrs(Origin::Igp, [192, 0, 2, 1]));
        let c = interner.intern(attrs(Origin::Egp, [192, 0, 2, 1]));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(a.attributes.next_hop, None, "next hop lives in PathAttrs");
        drop(c);
        interner.sweep();
        assert_eq!(interner.len(), 1);
    }
}
