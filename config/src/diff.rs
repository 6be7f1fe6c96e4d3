//! What changed between two configurations, so that the daemon touches only that (design
//! invariant 8: no session reset for an unrelated edit). Pure: two values in, a list out.
//!
//! Neighbors are matched by address (a different address is a different session); routes by
//! prefix. Removals come before changes and additions, so that a name or address freed by one
//! entry can be taken by another in the same reload.

use std::collections::BTreeMap;
use std::fmt;

use crate::model::{Config, Global, Kernel, Neighbor, Route, Timers};
use crate::types::PeerAddress;

/// How much of a running session a changed value disturbs; ordered, so that the strongest
/// effect of several changed fields is their `max()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Effect {
    /// Only what `bgpctl` shows.
    Cosmetic,
    /// Applied to the running session or socket as it is (timers, socket options, limits).
    Live,
    /// What we advertise to the neighbor must be recomputed and sent again.
    Readvertise,
    /// Negotiated in OPEN or part of the connection: the session must be re-established.
    Reset,
}

/// A field of a `[[neighbor]]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NeighborField {
    Name,
    Description,
    Asn,
    Port,
    LocalAddress,
    Passive,
    Families,
    RrClient,
    NextHop,
    Password,
    TtlSecurity,
    HoldTime,
    Keepalive,
    ConnectRetry,
    MaxPrefixes,
    MaxPrefixesRestart,
    SendHoldTime,
    ErrorWaitTime,
    AddPath,
    Communities,
    Import,
    Export,
}

impl NeighborField {
    /// The configuration key.
    pub fn name(self) -> &'static str {
        match self {
            NeighborField::Name => "name",
            NeighborField::Description => "description",
            NeighborField::Asn => "asn",
            NeighborField::Port => "port",
            NeighborField::LocalAddress => "local_address",
            NeighborField::Passive => "passive",
            NeighborField::Families => "families",
            NeighborField::RrClient => "rr_client",
            NeighborField::NextHop => "next_hop",
            NeighborField::Password => "password",
            NeighborField::TtlSecurity => "ttl_security",
            NeighborField::HoldTime => "hold_time",
            NeighborField::Keepalive => "keepalive",
            NeighborField::ConnectRetry => "connect_retry",
            NeighborField::MaxPrefixes => "max_prefixes",
            NeighborField::MaxPrefixesRestart => "max_prefixes_restart",
            NeighborField::SendHoldTime => "send_hold_time",
            NeighborField::ErrorWaitTime => "error_wait_time",
            NeighborField::AddPath => "add_path",
            NeighborField::Communities => "communities",
            NeighborField::Import => "import",
            NeighborField::Export => "export",
        }
    }

    pub fn effect(self) -> Effect {
        match self {
            NeighborField::Name | NeighborField::Description => Effect::Cosmetic,
            // TCP_MD5SIG and IP_MINTTL can be set on a connected socket; the keepalive
            // interval and the idle hold after errors are ours alone (RFC 4271 §4.4,
            // §8.1.1); the prefix limit is checked on the next UPDATE and at once against
            // what was received.
            NeighborField::Passive
            | NeighborField::Password
            | NeighborField::TtlSecurity
            | NeighborField::Keepalive
            | NeighborField::ConnectRetry
            | NeighborField::MaxPrefixes
            | NeighborField::MaxPrefixesRestart
            | NeighborField::SendHoldTime
            | NeighborField::ErrorWaitTime => Effect::Live,
            // RFC 4456 §6: reflection depends on whether the peer is a client. Policy is
            // ours alone (RFC 4271 §9.1): a new import policy is run again over the
            // Adj-RIB-In, which keeps every route received (§3.2), and a new export policy
            // changes only what we send; neither needs the neighbor's cooperation.
            NeighborField::RrClient
            | NeighborField::NextHop
            | NeighborField::Communities
            | NeighborField::Import
            | NeighborField::Export => Effect::Readvertise,
            // The AS, families, ADD-PATH and hold time are in OPEN (RFC 4271 §4.2, RFC 4760,
            // RFC 7911); port and source address are the connection itself.
            NeighborField::Asn
            | NeighborField::Port
            | NeighborField::LocalAddress
            | NeighborField::Families
            | NeighborField::HoldTime
            | NeighborField::AddPath => Effect::Reset,
        }
    }
}

/// A field of `[global]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GlobalField {
    Asn,
    RouterId,
    Listen,
    HoldTime,
    ClusterId,
    ControlSocket,
    MetricsListen,
    MetricsNeighborLabels,
    StateDir,
    GracefulRestart,
    ErrorWaitTime,
    LogFormat,
    LogLevel,
}

impl GlobalField {
    pub fn name(self) -> &'static str {
        match self {
            GlobalField::Asn => "asn",
            GlobalField::RouterId => "router_id",
            GlobalField::Listen => "listen",
            GlobalField::HoldTime => "hold_time",
            GlobalField::ClusterId => "cluster_id",
            GlobalField::ControlSocket => "control_socket",
            GlobalField::MetricsListen => "metrics_listen",
            GlobalField::MetricsNeighborLabels => "metrics_neighbor_labels",
            GlobalField::StateDir => "state_dir",
            GlobalField::GracefulRestart => "graceful_restart",
            GlobalField::ErrorWaitTime => "error_wait_time",
            GlobalField::LogFormat => "log_format",
            GlobalField::LogLevel => "log_level",
        }
    }
}

/// A field of `[kernel]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KernelField {
    Program,
    Protocol,
    Table,
    EcmpMaxPaths,
    PersistOnExit,
    Advertise,
}

impl KernelField {
    pub fn name(self) -> &'static str {
        match self {
            KernelField::Program => "program",
            KernelField::Protocol => "protocol",
            KernelField::Table => "table",
            KernelField::EcmpMaxPaths => "ecmp_max_paths",
            KernelField::PersistOnExit => "persist_on_exit",
            KernelField::Advertise => "advertise",
        }
    }
}

/// One difference. New values are read from the new configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Global(Vec<GlobalField>),
    KernelAdded,
    KernelRemoved,
    Kernel(Vec<KernelField>),
    NeighborRemoved(Neighbor),
    NeighborChanged {
        old: Box<Neighbor>,
        new: Box<Neighbor>,
        /// Never empty.
        fields: Vec<NeighborField>,
    },
    NeighborAdded(Neighbor),
    RouteRemoved(Route),
    /// Same prefix, other attributes.
    RouteChanged(Route),
    RouteAdded(Route),
    EtcdAdded,
    EtcdRemoved,
    EtcdChanged,
}

impl Change {
    /// For a changed neighbor, the strongest effect of its changed fields.
    pub fn effect(&self) -> Option<Effect> {
        match self {
            Change::NeighborChanged { fields, .. } => {
                fields.iter().map(|field| field.effect()).max()
            }
            _ => None,
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn names<T: Copy>(
            f: &mut fmt::Formatter<'_>,
            fields: &[T],
            name: fn(T) -> &'static str,
        ) -> fmt::Result {
            let names: Vec<&str> = fields.iter().map(|field| name(*field)).collect();
            f.write_str(&names.join(", "))
        }
        fn neighbor(n: &Neighbor) -> String {
            format!("neighbor {} ({})", n.name, n.address)
        }
        match self {
            Change::Global(fields) => {
                f.write_str("global changed: ")?;
                names(f, fields, GlobalField::name)
            }
            Change::KernelAdded => f.write_str("kernel added"),
            Change::KernelRemoved => f.write_str("kernel removed"),
            Change::Kernel(fields) => {
                f.write_str("kernel changed: ")?;
                names(f, fields, KernelField::name)
            }
            Change::NeighborRemoved(n) => write!(f, "{} removed", neighbor(n)),
            Change::NeighborChanged { old, fields, .. } => {
                write!(f, "{} changed: ", neighbor(old))?;
                names(f, fields, NeighborField::name)?;
                match self.effect() {
                    Some(effect) => write!(f, " ({effect:?})"),
                    None => Ok(()),
                }
            }
            Change::NeighborAdded(n) => write!(f, "{} added", neighbor(n)),
            Change::RouteRemoved(r) => write!(f, "route {} removed", r.prefix),
            Change::RouteChanged(r) => write!(f, "route {} changed", r.prefix),
            Change::RouteAdded(r) => write!(f, "route {} added", r.prefix),
            Change::EtcdAdded => f.write_str("etcd added"),
            Change::EtcdRemoved => f.write_str("etcd removed"),
            Change::EtcdChanged => f.write_str("etcd changed"),
        }
    }
}

impl Config {
    /// What must change to go from `self` to `new`.
    pub fn diff(&self, new: &Config) -> Vec<Change> {
        let mut changes = Vec::new();
        let global = global_fields(&self.global, &new.global);
        if !global.is_empty() {
            changes.push(Change::Global(global));
        }
        match (&self.kernel, &new.kernel) {
            (None, Some(_)) => changes.push(Change::KernelAdded),
            (Some(_), None) => changes.push(Change::KernelRemoved),
            (Some(old), Some(new)) => {
                let fields = kernel_fields(old, new);
                if !fields.is_empty() {
                    changes.push(Change::Kernel(fields));
                }
            }
            (None, None) => {}
        }
        diff_neighbors(&self.neighbors, &new.neighbors, &mut changes);
        diff_routes(&self.routes, &new.routes, &mut changes);
        match (&self.etcd, &new.etcd) {
            (None, Some(_)) => changes.push(Change::EtcdAdded),
            (Some(_), None) => changes.push(Change::EtcdRemoved),
            (Some(old), Some(new)) if old != new => changes.push(Change::EtcdChanged),
            _ => {}
        }
        changes
    }
}

fn diff_neighbors(old: &[Neighbor], new: &[Neighbor], changes: &mut Vec<Change>) {
    let old: BTreeMap<&PeerAddress, &Neighbor> = old.iter().map(|n| (&n.address, n)).collect();
    let new: BTreeMap<&PeerAddress, &Neighbor> = new.iter().map(|n| (&n.address, n)).collect();
    for (address, neighbor) in &old {
        if !new.contains_key(address) {
            changes.push(Change::NeighborRemoved((*neighbor).clone()));
        }
    }
    for (address, old_neighbor) in &old {
        if let Some(new_neighbor) = new.get(address) {
            let fields = neighbor_fields(old_neighbor, new_neighbor);
            if !fields.is_empty() {
                changes.push(Change::NeighborChanged {
                    old: Box::new((*old_neighbor).clone()),
                    new: Box::new((*new_neighbor).clone()),
                    fields,
                });
            }
        }
    }
    for (address, neighbor) in &new {
        if !old.contains_key(address) {
            changes.push(Change::NeighborAdded((*neighbor).clone()));
        }
    }
}

fn diff_routes(old: &[Route], new: &[Route], changes: &mut Vec<Change>) {
    let old: BTreeMap<_, &Route> = old.iter().map(|r| (r.prefix, r)).collect();
    let new: BTreeMap<_, &Route> = new.iter().map(|r| (r.prefix, r)).collect();
    for (prefix, route) in &old {
        if !new.contains_key(prefix) {
            changes.push(Change::RouteRemoved((*route).clone()));
        }
    }
    for (prefix, old_route) in &old {
        match new.get(prefix) {
            Some(new_route) if new_route != old_route => {
                changes.push(Change::RouteChanged((*new_route).clone()));
            }
            _ => {}
        }
    }
    for (prefix, route) in &new {
        if !old.contains_key(prefix) {
            changes.push(Change::RouteAdded((*route).clone()));
        }
    }
}

/// The fields that differ; the exhaustive destructuring makes a new field a compile error
/// here until it is compared.
fn neighbor_fields(old: &Neighbor, new: &Neighbor) -> Vec<NeighborField> {
    let Neighbor {
        name,
        description,
        address: _,
        asn,
        port,
        local_address,
        passive,
        families,
        rr_client,
        next_hop,
        password,
        ttl_security,
        timers:
            Timers {
                hold_time,
                keepalive,
                connect_retry,
                error_wait_time,
            },
        max_prefixes,
        max_prefixes_restart,
        send_hold_time,
        add_path,
        communities,
        import,
        export,
    } = old;
    let differences = [
        (NeighborField::Name, *name != new.name),
        (NeighborField::Description, *description != new.description),
        (NeighborField::Asn, *asn != new.asn),
        (NeighborField::Port, *port != new.port),
        (
            NeighborField::LocalAddress,
            *local_address != new.local_address,
        ),
        (NeighborField::Passive, *passive != new.passive),
        (NeighborField::Families, *families != new.families),
        (NeighborField::RrClient, *rr_client != new.rr_client),
        (NeighborField::NextHop, *next_hop != new.next_hop),
        (NeighborField::Password, *password != new.password),
        (
            NeighborField::TtlSecurity,
            *ttl_security != new.ttl_security,
        ),
        (NeighborField::HoldTime, *hold_time != new.timers.hold_time),
        (NeighborField::Keepalive, *keepalive != new.timers.keepalive),
        (
            NeighborField::ConnectRetry,
            *connect_retry != new.timers.connect_retry,
        ),
        (
            NeighborField::ErrorWaitTime,
            *error_wait_time != new.timers.error_wait_time,
        ),
        (
            NeighborField::MaxPrefixes,
            *max_prefixes != new.max_prefixes,
        ),
        (
            NeighborField::MaxPrefixesRestart,
            *max_prefixes_restart != new.max_prefixes_restart,
        ),
        (
            NeighborField::SendHoldTime,
            *send_hold_time != new.send_hold_time,
        ),
        (NeighborField::AddPath, *add_path != new.add_path),
        (NeighborField::Communities, *communities != new.communities),
        (NeighborField::Import, *import != new.import),
        (NeighborField::Export, *export != new.export),
    ];
    changed(differences)
}

fn global_fields(old: &Global, new: &Global) -> Vec<GlobalField> {
    let Global {
        asn,
        router_id,
        listen,
        hold_time,
        cluster_id,
        control_socket,
        metrics_listen,
        metrics_neighbor_labels,
        state_dir,
        graceful_restart,
        error_wait_time,
        log_format,
        log_level,
    } = old;
    changed([
        (GlobalField::Asn, *asn != new.asn),
        (GlobalField::RouterId, *router_id != new.router_id),
        (GlobalField::Listen, *listen != new.listen),
        (GlobalField::HoldTime, *hold_time != new.hold_time),
        (GlobalField::ClusterId, *cluster_id != new.cluster_id),
        (
            GlobalField::ControlSocket,
            *control_socket != new.control_socket,
        ),
        (
            GlobalField::MetricsListen,
            *metrics_listen != new.metrics_listen,
        ),
        (
            GlobalField::MetricsNeighborLabels,
            *metrics_neighbor_labels != new.metrics_neighbor_labels,
        ),
        (GlobalField::StateDir, *state_dir != new.state_dir),
        (
            GlobalField::GracefulRestart,
            *graceful_restart != new.graceful_restart,
        ),
        (
            GlobalField::ErrorWaitTime,
            *error_wait_time != new.error_wait_time,
        ),
        (GlobalField::LogFormat, *log_format != new.log_format),
        (GlobalField::LogLevel, *log_level != new.log_level),
    ])
}

fn kernel_fields(old: &Kernel, new: &Kernel) -> Vec<KernelField> {
    let Kernel {
        program,
        protocol,
        table,
        ecmp_max_paths,
        persist_on_exit,
        advertise,
    } = old;
    changed([
        (KernelField::Program, *program != new.program),
        (KernelField::Protocol, *protocol != new.protocol),
        (KernelField::Table, *table != new.table),
        (
            KernelField::EcmpMaxPaths,
            *ecmp_max_paths != new.ecmp_max_paths,
        ),
        (
            KernelField::PersistOnExit,
            *persist_on_exit != new.persist_on_exit,
        ),
        (KernelField::Advertise, *advertise != new.advertise),
    ])
}

fn changed<F, const N: usize>(differences: [(F, bool); N]) -> Vec<F> {
    differences
        .into_iter()
        .filter(|(_, differs)| *differs)
        .map(|(field, _)| field)
        .collect()
}
