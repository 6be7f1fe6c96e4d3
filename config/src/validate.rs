//! Raw (serde) values into checked ones, independent of where they came from: every problem is
//! recorded with its key path and validation goes on, so that one pass finds them all. The
//! TOML loader gives the problems positions; datastore objects name their key instead.
//!
//! Password files are read here, so that an unreadable one is a configuration error with a
//! path rather than a failed session later.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use proto::{AfiSafi, AfiSafiSet, Asn, ClusterId, RouterId};

use crate::error::{ErrorKind, KeyPath, Problems};
use crate::model::{
    Config, Etcd, EtcdAuth, EtcdTls, Global, GracefulRestart, Kernel, KernelAdvertise, Neighbor,
    Route, Timers,
};
use crate::raw::{
    RawAdvertise, RawEtcd, RawFile, RawGlobal, RawKernel, RawNeighbor, RawRoute, RawTls,
};
use crate::types::{
    AddPath, Community, HoldTime, InterfacePattern, LogFormat, LogLevel, NextHopMode, Password,
    PeerAddress, RestartTime, RouteProtocol, TtlSecurity,
};

/// Validates a whole file. `base_dir` resolves relative paths (the file's directory).
pub(crate) fn file(raw: RawFile, base_dir: &Path, problems: &mut Problems) -> Option<Config> {
    let root = KeyPath::root();
    let global_path = root.key("global");
    // Checks across entries use what each entry says even when the entry has other errors,
    // so that one pass reports them all; a value that is itself invalid (reported on its
    // own) is "unknown" and skips the checks that need it.
    let facts = GlobalFacts::of(raw.global.as_ref());
    let global = match raw.global {
        Some(global) => self::global(global, &global_path, base_dir, problems),
        None => {
            problems.push(global_path.key("asn"), ErrorKind::Missing);
            None
        }
    };
    let graceful_restart = global.as_ref().is_some_and(|g| g.graceful_restart.enabled);

    let kernel = raw.kernel.map(|kernel| {
        self::kernel(
            kernel,
            &root.key("kernel"),
            graceful_restart,
            raw.etcd.is_some(),
            problems,
        )
    });

    let neighbors_path = root.key("neighbor");
    let raw_neighbors = raw.neighbor.unwrap_or_default();
    check_unique(
        raw_neighbors.iter().enumerate().map(|(i, raw)| {
            let address = raw
                .address
                .as_deref()
                .and_then(|a| PeerAddress::parse(a).ok());
            let name = match &raw.name {
                Some(given) => self::name(given).ok(),
                None => address.as_ref().map(PeerAddress::to_string),
            };
            (neighbors_path.index(i), address, name)
        }),
        problems,
    );
    let mut neighbors = Vec::new();
    let mut neighbors_ok = true;
    for (i, raw) in raw_neighbors.into_iter().enumerate() {
        let path = neighbors_path.index(i);
        let peer_asn = raw.asn.and_then(|a| asn(a).ok());
        check_role(
            raw.rr_client.unwrap_or(false),
            peer_asn,
            facts.role,
            &path.key("rr_client"),
            problems,
        );
        let neighbor = neighbor_draft(raw, &path, base_dir, facts.hold_time, problems)
            .and_then(|draft| draft.finish(facts.hold_time?, &path, problems));
        match neighbor {
            Some(neighbor) => neighbors.push(neighbor),
            None => neighbors_ok = false,
        }
    }

    let routes_path = root.key("route");
    let raw_routes = raw.route.unwrap_or_default();
    let mut seen_prefixes = BTreeMap::new();
    for (i, raw) in raw_routes.iter().enumerate() {
        let Some(prefix) = raw.prefix.as_deref().and_then(|p| prefix(p).ok()) else {
            continue;
        };
        let path = routes_path.index(i);
        if let Some(first) = seen_prefixes.insert(prefix, path.clone()) {
            problems.push(
                path.key("prefix"),
                ErrorKind::Duplicate {
                    what: "route",
                    value: prefix.to_string(),
                    first,
                },
            );
        }
    }
    let mut routes = Vec::new();
    let mut routes_ok = true;
    for (i, raw) in raw_routes.into_iter().enumerate() {
        match route(raw, &routes_path.index(i), problems) {
            Some(route) => routes.push(route),
            None => routes_ok = false,
        }
    }

    let etcd = raw
        .etcd
        .map(|etcd| self::etcd(etcd, &root.key("etcd"), base_dir, problems));

    if !problems.is_empty() || !neighbors_ok || !routes_ok {
        return None;
    }
    Some(Config {
        global: global?,
        kernel: kernel.map_or(Some(None), |k| k.map(Some))?,
        neighbors,
        routes,
        etcd: etcd.map_or(Some(None), |e| e.map(Some))?,
    })
}

/// What neighbors' checks need from `[global]`, each `None` when `[global]` has it wrong.
struct GlobalFacts {
    /// The default hold time of neighbors.
    hold_time: Option<HoldTime>,
    role: Role,
}

impl GlobalFacts {
    fn of(raw: Option<&RawGlobal>) -> GlobalFacts {
        let hold_time = match raw.and_then(|g| g.hold_time) {
            None => Some(HoldTime::DEFAULT),
            Some(seconds) => HoldTime::parse(seconds).ok(),
        };
        let reflector = match raw.and_then(|g| g.cluster_id.as_deref()) {
            None => Some(false),
            Some(text) => text.parse::<Ipv4Addr>().ok().map(|_| true),
        };
        GlobalFacts {
            hold_time,
            role: Role {
                local_asn: raw.and_then(|g| g.asn).and_then(|a| asn(a).ok()),
                reflector,
            },
        }
    }
}

fn global(
    raw: RawGlobal,
    path: &KeyPath,
    base_dir: &Path,
    problems: &mut Problems,
) -> Option<Global> {
    let asn = required(raw.asn, &path.key("asn"), problems)
        .and_then(|asn| problems.check(&path.key("asn"), self::asn(asn)));
    let router_id = optional(raw.router_id, &path.key("router_id"), problems, |text| {
        // RFC 6286 §2.1: the BGP Identifier is a non-zero 32-bit value.
        ipv4(text, "a non-zero IPv4 address (the BGP Identifier)")
            .and_then(|ip| nonzero_id(text, ip))
            .map(RouterId)
    });
    let listen = match raw.listen {
        Some(list) => each(&list, &path.key("listen"), problems, |text| {
            socket_address(text)
        }),
        None => Some(vec![
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, Global::DEFAULT_PORT)),
            SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, Global::DEFAULT_PORT)),
        ]),
    };
    let hold_time = optional(raw.hold_time, &path.key("hold_time"), problems, |s| {
        HoldTime::parse(*s)
    });
    let cluster_id = optional(raw.cluster_id, &path.key("cluster_id"), problems, |text| {
        ipv4(text, "an IPv4 address (the CLUSTER_ID)").map(ClusterId)
    });
    let control_socket = optional(
        raw.control_socket,
        &path.key("control_socket"),
        problems,
        |text| file_path(text, base_dir),
    );
    let metrics_listen = optional(
        raw.metrics_listen,
        &path.key("metrics_listen"),
        problems,
        |text| socket_address(text),
    );
    let state_dir = optional(raw.state_dir, &path.key("state_dir"), problems, |text| {
        file_path(text, base_dir)
    });
    let graceful_restart = match raw.graceful_restart {
        Some(gr) => {
            let gr_path = path.key("graceful_restart");
            optional(
                gr.restart_time,
                &gr_path.key("restart_time"),
                problems,
                |s| RestartTime::parse(*s),
            )
            .map(|restart_time| GracefulRestart {
                enabled: gr.enabled.unwrap_or(false),
                restart_time: restart_time.unwrap_or(RestartTime::DEFAULT),
            })
        }
        None => Some(GracefulRestart {
            enabled: false,
            restart_time: RestartTime::DEFAULT,
        }),
    };
    Some(Global {
        asn: asn?,
        router_id: router_id?,
        listen: listen?,
        hold_time: hold_time?.unwrap_or(HoldTime::DEFAULT),
        cluster_id: cluster_id?,
        control_socket: control_socket?
            .unwrap_or_else(|| PathBuf::from(Global::DEFAULT_CONTROL_SOCKET)),
        metrics_listen: metrics_listen?,
        state_dir: state_dir?.unwrap_or_else(|| PathBuf::from(Global::DEFAULT_STATE_DIR)),
        graceful_restart: graceful_restart?,
        log_format: raw.log_format.unwrap_or(LogFormat::Human),
        log_level: raw.log_level.unwrap_or(LogLevel::Info),
    })
}

fn kernel(
    raw: RawKernel,
    path: &KeyPath,
    graceful_restart: bool,
    has_etcd: bool,
    problems: &mut Problems,
) -> Option<Kernel> {
    let protocol_path = path.key("protocol");
    let protocol = match raw.protocol {
        Some(raw) => problems.check(
            &protocol_path,
            RouteProtocol::parse(&raw).and_then(|protocol| {
                if protocol > RouteProtocol::STATIC {
                    Ok(protocol)
                } else {
                    Err(ErrorKind::OutOfRange {
                        value: i64::from(protocol.0),
                        allowed: "5..=255; 0..=4 are the kernel's and administrators' own",
                    })
                }
            }),
        ),
        None => Some(RouteProtocol::BGP),
    };
    let table = optional(raw.table, &path.key("table"), problems, |table| {
        u32::try_from(*table)
            .ok()
            .filter(|t| *t != 0)
            .ok_or(ErrorKind::OutOfRange {
                value: *table,
                allowed: "1..=4294967295",
            })
    });
    let ecmp_max_paths = optional(
        raw.ecmp_max_paths,
        &path.key("ecmp_max_paths"),
        problems,
        |paths| {
            u16::try_from(*paths)
                .ok()
                .filter(|p| (1..=Kernel::MAX_ECMP_PATHS).contains(p))
                .ok_or(ErrorKind::OutOfRange {
                    value: *paths,
                    allowed: "1..=256",
                })
        },
    );
    let advertise = raw.advertise.map(|advertise| {
        self::advertise(
            advertise,
            &path.key("advertise"),
            protocol.unwrap_or(RouteProtocol::BGP),
            has_etcd,
            problems,
        )
    });
    Some(Kernel {
        program: raw.program.unwrap_or(true),
        protocol: protocol?,
        table: table?.unwrap_or(Kernel::DEFAULT_TABLE),
        ecmp_max_paths: ecmp_max_paths?.unwrap_or(Kernel::DEFAULT_ECMP_MAX_PATHS),
        persist_on_exit: raw.persist_on_exit.unwrap_or(graceful_restart),
        advertise: advertise.map_or(Some(None), |a| a.map(Some))?,
    })
}

fn advertise(
    raw: RawAdvertise,
    path: &KeyPath,
    own_protocol: RouteProtocol,
    has_etcd: bool,
    problems: &mut Problems,
) -> Option<KernelAdvertise> {
    let prefixes_path = path.key("prefixes");
    let prefixes = each(
        &raw.prefixes.unwrap_or_default(),
        &prefixes_path,
        problems,
        |text| prefix(text),
    );
    if prefixes.as_ref().is_some_and(Vec::is_empty) && !has_etcd {
        problems.push(prefixes_path, ErrorKind::NoAdvertisePrefixes);
    }
    let protocols = match raw.protocols {
        Some(list) => each(&list, &path.key("protocols"), problems, |raw| {
            RouteProtocol::parse(raw).and_then(|protocol| {
                if protocol == own_protocol {
                    Err(ErrorKind::OwnProtocol(protocol.0))
                } else {
                    Ok(protocol)
                }
            })
        }),
        None => Some(RouteProtocol::DEFAULT_ADVERTISED.to_vec()),
    };
    let interfaces = each(
        &raw.interfaces.unwrap_or_default(),
        &path.key("interfaces"),
        problems,
        |text| InterfacePattern::parse(text),
    );
    Some(KernelAdvertise {
        prefixes: prefixes?,
        protocols: protocols?,
        interfaces: interfaces?,
        blackhole: raw.blackhole.unwrap_or(false),
    })
}

/// A neighbor whose timers are not yet resolved: a datastore peer takes its default hold time
/// from the cluster settings, which may arrive after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NeighborDraft {
    neighbor: Neighbor,
    hold_time: Option<HoldTime>,
    keepalive: Option<u16>,
}

impl NeighborDraft {
    pub fn address(&self) -> &PeerAddress {
        &self.neighbor.address
    }

    /// Resolves the timers against `default_hold`.
    pub fn finish(
        &self,
        default_hold: HoldTime,
        path: &KeyPath,
        problems: &mut Problems,
    ) -> Option<Neighbor> {
        let hold_time = self.hold_time.unwrap_or(default_hold);
        let keepalive =
            problems.check(&path.key("keepalive"), keepalive(hold_time, self.keepalive))?;
        let mut neighbor = self.neighbor.clone();
        neighbor.timers.hold_time = hold_time;
        neighbor.timers.keepalive = Duration::from_secs(u64::from(keepalive));
        Some(neighbor)
    }
}

/// The keepalive interval in seconds for `hold_time` (RFC 4271 §4.2, §4.4, §10).
fn keepalive(hold_time: HoldTime, configured: Option<u16>) -> Result<u16, ErrorKind> {
    let Some(keepalive) = configured else {
        return Ok(hold_time.default_keepalive());
    };
    if hold_time.is_zero() {
        if keepalive == 0 {
            Ok(0)
        } else {
            Err(ErrorKind::KeepaliveWithoutHoldTime { keepalive })
        }
    } else if keepalive == 0 {
        Err(ErrorKind::KeepaliveZero {
            hold_time: hold_time.seconds(),
        })
    } else if u32::from(keepalive) * 3 > u32::from(hold_time.seconds()) {
        Err(ErrorKind::KeepaliveTooLong {
            keepalive,
            hold_time: hold_time.seconds(),
        })
    } else {
        Ok(keepalive)
    }
}

/// Checks one neighbor on its own (everything but its role, which depends on the local
/// speaker). Its keepalive is checked against its hold time, or against `default_hold` when
/// that is known already; [`NeighborDraft::finish`] checks it again once it is.
pub(crate) fn neighbor_draft(
    raw: RawNeighbor,
    path: &KeyPath,
    base_dir: &Path,
    default_hold: Option<HoldTime>,
    problems: &mut Problems,
) -> Option<NeighborDraft> {
    let address = required(raw.address, &path.key("address"), problems)
        .and_then(|text| problems.check(&path.key("address"), PeerAddress::parse(&text)));
    let name = optional(raw.name, &path.key("name"), problems, |text| name(text));
    let asn = required(raw.asn, &path.key("asn"), problems)
        .and_then(|asn| problems.check(&path.key("asn"), self::asn(asn)));
    let port = optional(raw.port, &path.key("port"), problems, |port| {
        u16::try_from(*port)
            .ok()
            .filter(|p| *p != 0)
            .ok_or(ErrorKind::OutOfRange {
                value: *port,
                allowed: "1..=65535",
            })
    });
    let local_path = path.key("local_address");
    let local_address = optional(raw.local_address, &local_path, problems, |text| {
        text.parse::<IpAddr>().map_err(|_| ErrorKind::Invalid {
            value: text.clone(),
            expected: "an IP address",
        })
    });
    let families = match raw.families {
        Some(list) if list.is_empty() => {
            problems.push(path.key("families"), ErrorKind::Empty);
            None
        }
        Some(list) => each(&list, &path.key("families"), problems, |text| {
            text.parse::<AfiSafi>().map_err(|_| ErrorKind::Invalid {
                value: text.clone(),
                expected: "an address family (ipv4-unicast or ipv6-unicast)",
            })
        })
        .map(|families| families.into_iter().collect::<AfiSafiSet>()),
        // The unicast family of the transport address (RFC 4760 §1: other families need the
        // multiprotocol capability, which the operator asks for by listing them).
        None => address.as_ref().map(|address| {
            AfiSafiSet::EMPTY.with(match address.ip {
                IpAddr::V4(_) => AfiSafi::Ipv4Unicast,
                IpAddr::V6(_) => AfiSafi::Ipv6Unicast,
            })
        }),
    };
    let password = match (raw.password, raw.password_file) {
        (Some(_), Some(_)) => {
            problems.push(
                path.key("password_file"),
                ErrorKind::Exclusive("password", "password_file"),
            );
            None
        }
        (Some(text), None) => {
            problems.check(&path.key("password"), Password::parse(&text).map(Some))
        }
        (None, Some(file)) => problems.check(
            &path.key("password_file"),
            read_secret(&file, base_dir).map(Some),
        ),
        (None, None) => Some(None),
    };
    let ttl_security = optional(raw.ttl_security, &path.key("ttl_security"), problems, |h| {
        TtlSecurity::parse(*h)
    });
    let hold_time = optional(raw.hold_time, &path.key("hold_time"), problems, |s| {
        HoldTime::parse(*s)
    });
    let keepalive = optional(raw.keepalive, &path.key("keepalive"), problems, |s| {
        seconds_u16(*s, "0..=65535")
    });
    let connect_retry = optional(
        raw.connect_retry,
        &path.key("connect_retry"),
        problems,
        |s| {
            seconds_u16(*s, "1..=65535").and_then(|s| {
                if s == 0 {
                    Err(ErrorKind::OutOfRange {
                        value: 0,
                        allowed: "1..=65535",
                    })
                } else {
                    Ok(Duration::from_secs(u64::from(s)))
                }
            })
        },
    );
    let max_prefixes = optional(raw.max_prefixes, &path.key("max_prefixes"), problems, |n| {
        u32::try_from(*n)
            .ok()
            .and_then(NonZeroU32::new)
            .ok_or(ErrorKind::OutOfRange {
                value: *n,
                allowed: "1..=4294967295; omit for no limit",
            })
    });
    let communities = communities(raw.communities, &path.key("communities"), problems);
    let timers_ok = match (&hold_time, &keepalive) {
        (Some(hold_time), Some(keepalive)) => match hold_time.or(default_hold) {
            Some(hold_time) => problems
                .check(
                    &path.key("keepalive"),
                    self::keepalive(hold_time, *keepalive),
                )
                .is_some(),
            None => true,
        },
        _ => true,
    };

    let address = address?;
    let local_address = local_address?;
    if let Some(local) = local_address {
        if local.is_ipv4() != address.ip.is_ipv4() {
            problems.push(
                local_path,
                ErrorKind::FamilyMismatch {
                    local: local.to_string(),
                    address: address.to_string(),
                },
            );
            return None;
        }
    }
    if !timers_ok {
        return None;
    }
    let neighbor = Neighbor {
        name: name?.unwrap_or_else(|| address.to_string()),
        description: raw.description,
        address,
        asn: asn?,
        port: port?.unwrap_or(Global::DEFAULT_PORT),
        local_address,
        passive: raw.passive.unwrap_or(false),
        families: families?,
        rr_client: raw.rr_client.unwrap_or(false),
        next_hop: raw.next_hop.unwrap_or(NextHopMode::Auto),
        password: password?,
        ttl_security: ttl_security?,
        timers: Timers {
            // Placeholders until `finish` resolves them.
            hold_time: HoldTime::DEFAULT,
            keepalive: Duration::ZERO,
            connect_retry: connect_retry?.unwrap_or(Timers::DEFAULT_CONNECT_RETRY),
        },
        max_prefixes: max_prefixes?,
        add_path: raw.add_path.unwrap_or(AddPath::None),
        communities: communities?,
    };
    Some(NeighborDraft {
        neighbor,
        hold_time: hold_time?,
        keepalive: keepalive?,
    })
}

/// What this speaker is, for the checks of its neighbors' roles; `None` where unknown.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Role {
    pub local_asn: Option<Asn>,
    /// Whether it has a CLUSTER_ID.
    pub reflector: Option<bool>,
}

/// RFC 4456 §2, §7: clients are internal peers of a reflector, which has a CLUSTER_ID.
pub(crate) fn check_role(
    rr_client: bool,
    peer_asn: Option<Asn>,
    role: Role,
    path: &KeyPath,
    problems: &mut Problems,
) {
    if !rr_client {
        return;
    }
    if let (Some(peer), Some(local)) = (peer_asn, role.local_asn) {
        if peer != local {
            problems.push(
                path.clone(),
                ErrorKind::ClientNotInternal {
                    peer: peer.0,
                    local: local.0,
                },
            );
            return;
        }
    }
    if role.reflector == Some(false) {
        problems.push(path.clone(), ErrorKind::ClientWithoutCluster);
    }
}

/// Neighbor addresses and names are unique: the daemon and `bgpctl` find neighbors by them.
fn check_unique(
    identities: impl Iterator<Item = (KeyPath, Option<PeerAddress>, Option<String>)>,
    problems: &mut Problems,
) {
    let mut addresses = BTreeMap::new();
    let mut names = BTreeMap::new();
    for (path, address, name) in identities {
        if let Some(address) = address {
            if let Some(first) = addresses.insert(address.clone(), path.clone()) {
                problems.push(
                    path.key("address"),
                    ErrorKind::Duplicate {
                        what: "neighbor address",
                        value: address.to_string(),
                        first,
                    },
                );
            }
        }
        if let Some(name) = name {
            if let Some(first) = names.insert(name.clone(), path.clone()) {
                problems.push(
                    path.key("name"),
                    ErrorKind::Duplicate {
                        what: "neighbor name",
                        value: format!("{name:?}"),
                        first,
                    },
                );
            }
        }
    }
}

fn route(raw: RawRoute, path: &KeyPath, problems: &mut Problems) -> Option<Route> {
    let prefix = required(raw.prefix, &path.key("prefix"), problems)
        .and_then(|text| problems.check(&path.key("prefix"), prefix(&text)));
    let communities = communities(raw.communities, &path.key("communities"), problems);
    Some(Route {
        prefix: prefix?,
        communities: communities?,
    })
}

fn etcd(raw: RawEtcd, path: &KeyPath, base_dir: &Path, problems: &mut Problems) -> Option<Etcd> {
    let endpoints_path = path.key("endpoints");
    let endpoints = match raw.endpoints {
        Some(list) if list.is_empty() => {
            problems.push(endpoints_path, ErrorKind::Empty);
            None
        }
        Some(list) => each(&list, &endpoints_path, problems, |text| endpoint(text)),
        None => Some(vec![Etcd::DEFAULT_ENDPOINT.to_owned()]),
    };
    let prefix = optional(raw.prefix, &path.key("prefix"), problems, |text| {
        if text.starts_with('/') && !text.ends_with('/') {
            Ok(text.clone())
        } else {
            Err(ErrorKind::Invalid {
                value: text.clone(),
                expected: "a key prefix starting with '/' and not ending with '/'",
            })
        }
    });
    let node = optional(raw.node, &path.key("node"), problems, |text| {
        node_name(text)
    });
    let tls = raw
        .tls
        .map(|tls| self::tls(tls, &path.key("tls"), base_dir, problems));
    let auth = match (raw.username, raw.password_file) {
        (Some(username), Some(file)) => problems
            .check(
                &path.key("password_file"),
                read_secret_text(&file, base_dir),
            )
            .map(|password| {
                Some(EtcdAuth {
                    username,
                    password: Password::unbounded(password),
                })
            }),
        (Some(_), None) => {
            problems.push(
                path.key("username"),
                ErrorKind::Requires("username", "password_file"),
            );
            None
        }
        (None, Some(_)) => {
            problems.push(
                path.key("password_file"),
                ErrorKind::Requires("password_file", "username"),
            );
            None
        }
        (None, None) => Some(None),
    };
    Some(Etcd {
        endpoints: endpoints?,
        prefix: prefix?.unwrap_or_else(|| Etcd::DEFAULT_PREFIX.to_owned()),
        node: node?,
        register: raw.register.unwrap_or(true),
        tls: tls.map_or(Some(None), |t| t.map(Some))?,
        auth: auth?,
    })
}

fn tls(raw: RawTls, path: &KeyPath, base_dir: &Path, problems: &mut Problems) -> Option<EtcdTls> {
    let ca = optional(raw.ca, &path.key("ca"), problems, |text| {
        file_path(text, base_dir)
    });
    let cert = optional(raw.cert, &path.key("cert"), problems, |text| {
        file_path(text, base_dir)
    });
    let key = optional(raw.key, &path.key("key"), problems, |text| {
        file_path(text, base_dir)
    });
    let identity = match (cert?, key?) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        (Some(_), None) => {
            problems.push(path.key("cert"), ErrorKind::Requires("cert", "key"));
            return None;
        }
        (None, Some(_)) => {
            problems.push(path.key("key"), ErrorKind::Requires("key", "cert"));
            return None;
        }
    };
    Some(EtcdTls { ca: ca?, identity })
}

// Field helpers. Each returns the checked value or the reason it is not one.

/// A required key: `None` (and a problem) when it is absent.
pub(crate) fn required<T>(value: Option<T>, path: &KeyPath, problems: &mut Problems) -> Option<T> {
    if value.is_none() {
        problems.push(path.clone(), ErrorKind::Missing);
    }
    value
}

/// An optional key: `Some(None)` when absent, `None` (and a problem) when invalid.
pub(crate) fn optional<R, T>(
    value: Option<R>,
    path: &KeyPath,
    problems: &mut Problems,
    parse: impl FnOnce(&R) -> Result<T, ErrorKind>,
) -> Option<Option<T>> {
    match value {
        None => Some(None),
        Some(raw) => problems.check(path, parse(&raw)).map(Some),
    }
}

/// Every element of a list, each checked with its index in the path; `None` if any failed.
pub(crate) fn each<R, T>(
    list: &[R],
    path: &KeyPath,
    problems: &mut Problems,
    parse: impl Fn(&R) -> Result<T, ErrorKind>,
) -> Option<Vec<T>> {
    let mut values = Vec::with_capacity(list.len());
    let mut ok = true;
    for (i, raw) in list.iter().enumerate() {
        match problems.check(&path.index(i), parse(raw)) {
            Some(value) => values.push(value),
            None => ok = false,
        }
    }
    ok.then_some(values)
}

pub(crate) fn communities(
    list: Option<Vec<String>>,
    path: &KeyPath,
    problems: &mut Problems,
) -> Option<Vec<Community>> {
    each(&list.unwrap_or_default(), path, problems, |text| {
        text.parse::<Community>()
    })
}

/// RFC 7607: AS 0 is reserved; RFC 6793 §9: AS_TRANS only stands in for a 4-octet AS.
pub(crate) fn asn(value: i64) -> Result<Asn, ErrorKind> {
    u32::try_from(value)
        .ok()
        .map(Asn)
        .filter(|asn| asn.0 != 0 && *asn != Asn::TRANS)
        .ok_or(ErrorKind::OutOfRange {
            value,
            allowed: "1..=4294967295 except 23456 (AS_TRANS)",
        })
}

pub(crate) fn ipv4(text: &str, expected: &'static str) -> Result<Ipv4Addr, ErrorKind> {
    text.parse().map_err(|_| ErrorKind::Invalid {
        value: text.to_owned(),
        expected,
    })
}

fn nonzero_id(text: &str, ip: Ipv4Addr) -> Result<Ipv4Addr, ErrorKind> {
    if ip.is_unspecified() {
        Err(ErrorKind::Invalid {
            value: text.to_owned(),
            expected: "a non-zero IPv4 address (the BGP Identifier)",
        })
    } else {
        Ok(ip)
    }
}

/// A prefix whose host bits are clear: `10.0.0.1/8` is almost always a typo.
pub(crate) fn prefix(text: &str) -> Result<IpNet, ErrorKind> {
    let prefix: IpNet = text.parse().map_err(|_| ErrorKind::Invalid {
        value: text.to_owned(),
        expected: "a prefix like 10.244.0.0/16 or fd00::/56",
    })?;
    let network = prefix.trunc();
    if network == prefix {
        Ok(prefix)
    } else {
        Err(ErrorKind::HostBits { prefix, network })
    }
}

fn socket_address(text: &str) -> Result<SocketAddr, ErrorKind> {
    text.parse().map_err(|_| ErrorKind::Invalid {
        value: text.to_owned(),
        expected: "an address and port like 0.0.0.0:179 or [::]:179",
    })
}

fn seconds_u16(value: i64, allowed: &'static str) -> Result<u16, ErrorKind> {
    u16::try_from(value).map_err(|_| ErrorKind::OutOfRange { value, allowed })
}

/// Neighbor names appear in `bgpctl` commands and logs.
fn name(text: &str) -> Result<String, ErrorKind> {
    if !text.is_empty() && !text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Ok(text.to_owned())
    } else {
        Err(ErrorKind::Invalid {
            value: text.to_owned(),
            expected: "a name without spaces or control characters",
        })
    }
}

/// A node name is a datastore key component (`/nodes/<name>`).
pub(crate) fn node_name(text: &str) -> Result<String, ErrorKind> {
    if !text.is_empty() && !text.contains('/') && !text.chars().any(|c| c.is_control()) {
        Ok(text.to_owned())
    } else {
        Err(ErrorKind::Invalid {
            value: text.to_owned(),
            expected: "a node name (not empty, no '/')",
        })
    }
}

fn endpoint(text: &str) -> Result<String, ErrorKind> {
    let rest = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"));
    match rest {
        Some(rest) if !rest.is_empty() => Ok(text.to_owned()),
        _ => Err(ErrorKind::Invalid {
            value: text.to_owned(),
            expected: "an endpoint URL like http://127.0.0.1:2379",
        }),
    }
}

/// Relative paths are relative to the configuration file's directory.
fn file_path(text: &str, base_dir: &Path) -> Result<PathBuf, ErrorKind> {
    if text.is_empty() {
        Err(ErrorKind::Empty)
    } else {
        Ok(base_dir.join(text))
    }
}

/// A secret file's content without its trailing line ending (editors add one).
fn read_secret_text(text: &str, base_dir: &Path) -> Result<String, ErrorKind> {
    let path = file_path(text, base_dir)?;
    let content = std::fs::read_to_string(&path).map_err(|e| ErrorKind::Unreadable {
        path: text.to_owned(),
        reason: e.to_string(),
    })?;
    let secret = content.trim_end_matches(['\n', '\r']);
    if secret.is_empty() {
        Err(ErrorKind::Unreadable {
            path: text.to_owned(),
            reason: "the file is empty".to_owned(),
        })
    } else {
        Ok(secret.to_owned())
    }
}

fn read_secret(text: &str, base_dir: &Path) -> Result<Password, ErrorKind> {
    read_secret_text(text, base_dir).and_then(|secret| Password::parse(&secret))
}
