//! The routes this node originates, and which source keeps each alive: a configured route
//! (`[[route]]`, with its communities) and a kernel route matching the advertise filter (the
//! node's pod routes) may name one prefix; the configured attributes win, and the route lives
//! while either exists. The Loc-RIB holds one local path per prefix either way
//! (`RouteSource::Local`); this says where it came from.

use ipnet::IpNet;

use crate::rib::LocalRoute;
use crate::types::FastMap;

/// Why a prefix is originated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalOrigin {
    /// A configured `[[route]]` (`show routes` says `local`).
    Configured,
    /// Only a kernel route matching `[kernel.advertise]` (`show routes` says `kernel`).
    Kernel,
}

/// What the RIB should hold for a prefix after a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Effect {
    Originate(LocalRoute),
    Withdraw,
    Unchanged,
}

/// The originated prefixes and their sources.
#[derive(Debug, Default)]
pub(crate) struct Origination {
    configured: FastMap<IpNet, LocalRoute>,
    /// Prefixes with a kernel route matching the advertise filter.
    kernel: FastMap<IpNet, ()>,
}

impl Origination {
    pub fn configure(&mut self, prefix: IpNet, route: LocalRoute) -> Effect {
        if self.configured.get(&prefix) == Some(&route) {
            return Effect::Unchanged;
        }
        self.configured.insert(prefix, route.clone());
        Effect::Originate(route)
    }

    pub fn deconfigure(&mut self, prefix: IpNet) -> Effect {
        if self.configured.remove(&prefix).is_none() {
            return Effect::Unchanged;
        }
        if self.kernel.contains_key(&prefix) {
            Effect::Originate(LocalRoute::default())
        } else {
            Effect::Withdraw
        }
    }

    pub fn kernel(&mut self, prefix: IpNet, present: bool) -> Effect {
        let changed = if present {
            self.kernel.insert(prefix, ()).is_none()
        } else {
            self.kernel.remove(&prefix).is_some()
        };
        match (changed, self.configured.contains_key(&prefix), present) {
            (false, _, _) | (true, true, _) => Effect::Unchanged,
            (true, false, true) => Effect::Originate(LocalRoute::default()),
            (true, false, false) => Effect::Withdraw,
        }
    }

    /// Where the local route of `prefix` comes from.
    pub fn origin(&self, prefix: &IpNet) -> Option<LocalOrigin> {
        if self.configured.contains_key(prefix) {
            Some(LocalOrigin::Configured)
        } else if self.kernel.contains_key(prefix) {
            Some(LocalOrigin::Kernel)
        } else {
            None
        }
    }

    /// Kernel routes originated (for the metrics).
    pub fn kernel_routes(&self) -> usize {
        self.kernel.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One prefix through a sequence of changes: the RIB's effect and where it comes from
    /// afterwards.
    #[test]
    fn configured_and_kernel_routes_of_one_prefix() {
        #[derive(Debug, Clone, Copy)]
        enum Step {
            Kernel(bool),
            Configure,
            Deconfigure,
        }
        use Step::*;
        let prefix: IpNet = "10.244.1.0/26".parse().expect("literal");
        let route = LocalRoute::default();
        let originate = Effect::Originate(route.clone());
        let steps = [
            (Kernel(true), originate.clone(), Some(LocalOrigin::Kernel)),
            (Configure, originate.clone(), Some(LocalOrigin::Configured)),
            // The configured route keeps it when the kernel route goes, and the other way.
            (
                Kernel(false),
                Effect::Unchanged,
                Some(LocalOrigin::Configured),
            ),
            (
                Kernel(true),
                Effect::Unchanged,
                Some(LocalOrigin::Configured),
            ),
            (Deconfigure, originate.clone(), Some(LocalOrigin::Kernel)),
            (Kernel(false), Effect::Withdraw, None),
            (Configure, originate, Some(LocalOrigin::Configured)),
            (Deconfigure, Effect::Withdraw, None),
            (Deconfigure, Effect::Unchanged, None),
        ];
        let mut origination = Origination::default();
        for (i, (step, effect, origin)) in steps.into_iter().enumerate() {
            let got = match step {
                Kernel(present) => origination.kernel(prefix, present),
                Configure => origination.configure(prefix, route.clone()),
                Deconfigure => origination.deconfigure(prefix),
            };
            assert_eq!(
                (got, origination.origin(&prefix)),
                (effect, origin),
                "step {i}: {step:?}"
            );
        }
    }
}
