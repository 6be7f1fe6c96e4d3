//! A reload as a plan: the effect of every changed field of two configurations, decided here
//! and returned as [`Action`]s in the order the daemon must carry them out (design invariant 8:
//! only what changed is touched, and a session is reset only for what its OPEN negotiated).
//! Pure: two values in, a list out; the daemon executes the list and decides nothing itself.
//!
//! The order: listeners closed, then opened; the CLUSTER_ID (RFC 4456 §7) before the neighbors'
//! `rr_client` changes that come with it; the FIB's live `[kernel]` settings; neighbors removed,
//! changed, added (a removal first frees an address or name another entry takes); `[[route]]`s
//! withdrawn, then originated. Settings that take a restart are reported where they occur.

use std::fmt;
use std::net::SocketAddr;

use ipnet::IpNet;
use proto::ClusterId;

use crate::diff::{Change, Effect, GlobalField, KernelField, NeighborField};
use crate::model::{Config, KernelAdvertise, Neighbor, Route};
use crate::types::PeerAddress;

/// One step of moving the running daemon from one configuration to the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Stop accepting connections on this address.
    CloseListener(SocketAddr),
    /// Start accepting connections on this address (with every neighbor's TCP MD5 key).
    OpenListener(SocketAddr),
    /// The reflector role and CLUSTER_ID: every neighbor's role is derived again by the RIB,
    /// without a session reset.
    SetClusterId(Option<ClusterId>),
    /// The FIB judges kernel routes by this filter from now on (`None`: none advertised);
    /// it dumps the table again to do so.
    SetAdvertise(Option<KernelAdvertise>),
    /// Whether the FIB leaves its routes in the kernel when bgpd stops.
    SetPersistOnExit(bool),
    /// A neighbor is deconfigured: its session ends (Cease / Peer De-configured) and the RIB
    /// forgets it.
    RemoveNeighbor(PeerAddress),
    /// A neighbor's settings changed: its task takes them for the running session and the
    /// next ones.
    ChangeNeighbor {
        neighbor: Box<Neighbor>,
        /// Something its OPEN negotiated or its connection is made of changed (or a global
        /// setting every OPEN carries): the session is re-established.
        reset: bool,
        /// What the RIB holds of it changed (reflection role, next hop, prefix limit,
        /// communities, policy): the RIB re-imports and re-exports its routes live.
        rib: bool,
    },
    /// A neighbor is configured: its task starts.
    AddNeighbor(Box<Neighbor>),
    /// A `[[route]]` is removed: the RIB stops originating it.
    Withdraw(IpNet),
    /// A `[[route]]` is added or changed: the RIB originates it with these attributes.
    Originate(Route),
    /// A changed setting that the running daemon cannot take; it applies when bgpd restarts.
    NeedsRestart(Setting),
}

/// A setting that only a restart applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    Global(GlobalField),
    /// `[kernel]` appeared: the FIB starts with the process.
    KernelAdded,
    /// `[kernel]` went: the FIB stops with the process.
    KernelRemoved,
    Kernel(KernelField),
    /// `[etcd]` added, removed or changed: the datastore source starts with the process.
    Etcd,
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Setting::Global(field) => write!(f, "global.{}", field.name()),
            Setting::KernelAdded => f.write_str("[kernel] added"),
            Setting::KernelRemoved => f.write_str("[kernel] removed"),
            Setting::Kernel(field) => write!(f, "kernel.{}", field.name()),
            Setting::Etcd => f.write_str("[etcd]"),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::CloseListener(address) => write!(f, "close listener {address}"),
            Action::OpenListener(address) => write!(f, "open listener {address}"),
            Action::SetClusterId(Some(id)) => write!(f, "cluster id {id}"),
            Action::SetClusterId(None) => f.write_str("no cluster id"),
            Action::SetAdvertise(Some(advertise)) => {
                write!(f, "advertise kernel routes in {:?}", advertise.prefixes)
            }
            Action::SetAdvertise(None) => f.write_str("advertise no kernel route"),
            Action::SetPersistOnExit(persist) => write!(f, "persist_on_exit {persist}"),
            Action::RemoveNeighbor(address) => write!(f, "remove neighbor {address}"),
            Action::ChangeNeighbor {
                neighbor,
                reset,
                rib,
            } => {
                write!(f, "reconfigure neighbor {}", neighbor.address)?;
                if *reset {
                    f.write_str(", reset")?;
                }
                if *rib {
                    f.write_str(", RIB")?;
                }
                Ok(())
            }
            Action::AddNeighbor(neighbor) => write!(f, "add neighbor {}", neighbor.address),
            Action::Withdraw(prefix) => write!(f, "withdraw route {prefix}"),
            Action::Originate(route) => write!(f, "originate route {}", route.prefix),
            Action::NeedsRestart(setting) => write!(f, "{setting} takes effect on restart"),
        }
    }
}

impl GlobalField {
    /// What a change of this field does to a running daemon.
    fn effect(self) -> GlobalEffect {
        match self {
            // Every OPEN carries the AS, the BGP Identifier (RFC 4271 §4.2) and the graceful
            // restart capability (RFC 4724 §3).
            GlobalField::Asn | GlobalField::RouterId | GlobalField::GracefulRestart => {
                GlobalEffect::ResetSessions
            }
            GlobalField::Listen => GlobalEffect::Listeners,
            GlobalField::ClusterId => GlobalEffect::ClusterId,
            // The hold time and the error wait time reach each neighbor through its own
            // resolved timers (a changed neighbor of its own); the metrics page reads the
            // configuration on every scrape.
            GlobalField::HoldTime
            | GlobalField::ErrorWaitTime
            | GlobalField::MetricsNeighborLabels => GlobalEffect::Live,
            GlobalField::ControlSocket
            | GlobalField::MetricsListen
            | GlobalField::StateDir
            | GlobalField::LogFormat
            | GlobalField::LogLevel => GlobalEffect::Restart,
        }
    }
}

enum GlobalEffect {
    Live,
    Listeners,
    ClusterId,
    ResetSessions,
    Restart,
}

impl NeighborField {
    /// Whether the RIB's view of the neighbor (`rr::PeerConfig`: reflection role, next hop,
    /// prefix limit, communities and policy) is made from this field.
    pub fn rib(self) -> bool {
        matches!(
            self,
            NeighborField::RrClient
                | NeighborField::NextHop
                | NeighborField::MaxPrefixes
                | NeighborField::Communities
                | NeighborField::Import
                | NeighborField::Export
        )
    }
}

impl Config {
    /// What the running daemon must do, in order, to move from `self` to `new`.
    pub fn plan(&self, new: &Config) -> Vec<Action> {
        let changes = self.diff(new);
        let (mut global, mut kernel, mut routes, mut etcd) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut reset_sessions = false;
        for change in &changes {
            match change {
                Change::Global(fields) => {
                    for field in fields {
                        match field.effect() {
                            GlobalEffect::Live => {}
                            GlobalEffect::Listeners => {
                                listeners(&self.global.listen, &new.global.listen, &mut global);
                            }
                            GlobalEffect::ClusterId => {
                                global.push(Action::SetClusterId(new.global.cluster_id));
                            }
                            GlobalEffect::ResetSessions => reset_sessions = true,
                            GlobalEffect::Restart => {
                                global.push(Action::NeedsRestart(Setting::Global(*field)));
                            }
                        }
                    }
                }
                Change::KernelAdded => kernel.push(Action::NeedsRestart(Setting::KernelAdded)),
                Change::KernelRemoved => kernel.push(Action::NeedsRestart(Setting::KernelRemoved)),
                Change::Kernel(fields) => {
                    // The advertise filter only selects which kernel routes are reported (a
                    // dump judges them again) and `persist_on_exit` is read when bgpd stops.
                    // The protocol and table make a route ours (changing them would orphan
                    // the installed routes); `program` and `ecmp_max_paths` are the RIB's as
                    // well as the FIB's: those take a restart.
                    let section = new.kernel.as_ref();
                    kernel.extend(fields.iter().map(|field| match field {
                        KernelField::Advertise => Action::SetAdvertise(
                            section.and_then(|section| section.advertise.clone()),
                        ),
                        KernelField::PersistOnExit => Action::SetPersistOnExit(
                            section.is_some_and(|section| section.persist_on_exit),
                        ),
                        field => Action::NeedsRestart(Setting::Kernel(*field)),
                    }));
                }
                // In `neighbor_actions`, once each.
                Change::NeighborRemoved(_)
                | Change::NeighborChanged { .. }
                | Change::NeighborAdded(_) => {}
                Change::RouteRemoved(route) => routes.push(Action::Withdraw(route.prefix)),
                Change::RouteChanged(route) | Change::RouteAdded(route) => {
                    routes.push(Action::Originate(route.clone()));
                }
                Change::EtcdAdded | Change::EtcdRemoved | Change::EtcdChanged => {
                    etcd.push(Action::NeedsRestart(Setting::Etcd));
                }
            }
        }
        let mut actions = global;
        actions.append(&mut kernel);
        actions.extend(neighbor_actions(&changes, new, reset_sessions));
        actions.append(&mut routes);
        actions.append(&mut etcd);
        actions
    }
}

/// Removals (as the diff lists them), then changes (in the new configuration's order), then
/// additions; with `reset_sessions` every neighbor that stays is reset, and the RIB takes it
/// again (export policies prepend the local AS).
fn neighbor_actions(changes: &[Change], new: &Config, reset_sessions: bool) -> Vec<Action> {
    let mut actions = Vec::new();
    for change in changes {
        if let Change::NeighborRemoved(neighbor) = change {
            actions.push(Action::RemoveNeighbor(neighbor.address.clone()));
        }
    }
    let added = |address: &PeerAddress| {
        changes
            .iter()
            .any(|change| matches!(change, Change::NeighborAdded(n) if n.address == *address))
    };
    for neighbor in &new.neighbors {
        if added(&neighbor.address) {
            continue;
        }
        let fields = changes.iter().find_map(|change| match change {
            Change::NeighborChanged { new, fields, .. } if new.address == neighbor.address => {
                Some(fields.as_slice())
            }
            _ => None,
        });
        let own_reset =
            fields.is_some_and(|fields| fields.iter().any(|field| field.effect() == Effect::Reset));
        let own_rib = fields.is_some_and(|fields| fields.iter().any(|field| field.rib()));
        if fields.is_some() || reset_sessions {
            actions.push(Action::ChangeNeighbor {
                neighbor: Box::new(neighbor.clone()),
                reset: own_reset || reset_sessions,
                rib: own_rib || reset_sessions,
            });
        }
    }
    for change in changes {
        if let Change::NeighborAdded(neighbor) = change {
            actions.push(Action::AddNeighbor(Box::new(neighbor.clone())));
        }
    }
    actions
}

/// The listeners to close (gone from the list) and to open (new in it), each in list order.
fn listeners(old: &[SocketAddr], new: &[SocketAddr], actions: &mut Vec<Action>) {
    for address in old.iter().filter(|address| !new.contains(address)) {
        actions.push(Action::CloseListener(*address));
    }
    for address in new.iter().filter(|address| !old.contains(address)) {
        actions.push(Action::OpenListener(*address));
    }
}
