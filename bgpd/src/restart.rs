//! Graceful restart (RFC 4724) as the daemon sees it: the bits of our OPEN after a restart (the
//! restart's progress is the node's, published by the RIB task as `crate::rib::RibStatus`).
//!
//! Decided here: the Restart State bit is set on the first session with each neighbor after
//! start whenever graceful restart is enabled (a fresh boot looks like a restart with nothing
//! preserved, which costs a neighbor nothing); the Forwarding State bit of a family is set when
//! `persist_on_exit` is on and routes of ours of that family were found in the kernel at start
//! (they are the forwarding state that survived), and for every family when there is no
//! `[kernel]` (a pure reflector forwards nothing, so nothing was lost). After the first
//! session, both reflect the running process (`crate::peer`).

use proto::session::GracefulRestartConfig;
use proto::AfiSafiSet;

/// The Restart State and Forwarding State bits of our OPENs while we restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartBits {
    pub forwarding_preserved: AfiSafiSet,
}

impl RestartBits {
    /// Sets the bits on a neighbor's graceful restart configuration (none: not enabled).
    pub fn apply(self, config: &mut Option<GracefulRestartConfig>) {
        if let Some(config) = config {
            config.restarting = true;
            config.forwarding_preserved = self.forwarding_preserved;
        }
    }
}
