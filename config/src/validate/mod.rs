//! Raw (serde) values into checked ones, independent of where they came from: every problem is
//! recorded with its key path and validation goes on, so that one pass finds them all. The
//! TOML loader gives the problems positions; datastore objects name their key instead.
//!
//! Password files are read here, so that an unreadable one is a configuration error with a
//! path rather than a failed session later.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use proto::{ClusterId, RouterId};

mod field;
mod neighbor;
mod policy;

pub(crate) use field::{asn, communities, each, ipv4, node_name, optional, prefix, required};
pub(crate) use neighbor::{check_role, neighbor_draft, NeighborDraft, Role, TimerDefaults};
pub(crate) use policy::definitions;

use field::{endpoint, file_path, name, nonzero_id, read_secret_text, socket_address};
use neighbor::check_unique;

use crate::error::{ErrorKind, KeyPath, Problems};
use crate::model::{
    Config, Etcd, EtcdAuth, EtcdTls, Global, GracefulRestart, Kernel, KernelAdvertise, Route,
};
use crate::raw::{RawAdvertise, RawEtcd, RawFile, RawGlobal, RawKernel, RawRoute, RawTls};
use crate::types::{
    ErrorWaitTime, HoldTime, InterfacePattern, LogFormat, LogLevel, LongLivedTime, Password,
    PeerAddress, RestartTime, RouteProtocol,
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

    let definitions = definitions(raw.prefix_list, raw.policy, &root, problems);
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
        let neighbor = neighbor_draft(
            raw,
            &path,
            base_dir,
            facts.hold_time,
            &definitions,
            problems,
        )
        .and_then(|draft| {
            let defaults = TimerDefaults {
                hold_time: facts.hold_time?,
                error_wait_time: facts.error_wait_time?,
            };
            draft.finish(defaults, &path, problems)
        });
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
    /// The default idle hold after an error of neighbors.
    error_wait_time: Option<ErrorWaitTime>,
    role: Role,
}

impl GlobalFacts {
    fn of(raw: Option<&RawGlobal>) -> GlobalFacts {
        let hold_time = match raw.and_then(|g| g.hold_time) {
            None => Some(HoldTime::DEFAULT),
            Some(seconds) => HoldTime::parse(seconds).ok(),
        };
        let error_wait_time = match raw.and_then(|g| g.error_wait_time.as_deref()) {
            None => Some(ErrorWaitTime::DEFAULT),
            Some(values) => ErrorWaitTime::parse(values).ok(),
        };
        let reflector = match raw.and_then(|g| g.cluster_id.as_deref()) {
            None => Some(false),
            Some(text) => text.parse::<Ipv4Addr>().ok().map(|_| true),
        };
        GlobalFacts {
            hold_time,
            error_wait_time,
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
    let error_wait_time = optional(
        raw.error_wait_time,
        &path.key("error_wait_time"),
        problems,
        |values| ErrorWaitTime::parse(values),
    );
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
            let restart_time = optional(
                gr.restart_time,
                &gr_path.key("restart_time"),
                problems,
                |s| RestartTime::parse(*s),
            );
            let long_lived_time = optional(
                gr.long_lived_time,
                &gr_path.key("long_lived_time"),
                problems,
                |s| LongLivedTime::parse(*s),
            );
            let selection_deferral_time = optional(
                gr.selection_deferral_time,
                &gr_path.key("selection_deferral_time"),
                problems,
                |s| selection_deferral_seconds(*s),
            );
            match (restart_time, long_lived_time, selection_deferral_time) {
                (Some(restart_time), Some(long_lived_time), Some(deferral)) => {
                    Some(GracefulRestart {
                        enabled: gr.enabled.unwrap_or(false),
                        restart_time: restart_time.unwrap_or(RestartTime::DEFAULT),
                        long_lived_time,
                        selection_deferral_time: deferral
                            .unwrap_or(GracefulRestart::DEFAULT_SELECTION_DEFERRAL_TIME),
                    })
                }
                _ => None,
            }
        }
        None => Some(GracefulRestart {
            enabled: false,
            restart_time: RestartTime::DEFAULT,
            long_lived_time: None,
            selection_deferral_time: GracefulRestart::DEFAULT_SELECTION_DEFERRAL_TIME,
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
        metrics_neighbor_labels: raw.metrics_neighbor_labels.unwrap_or(true),
        state_dir: state_dir?.unwrap_or_else(|| PathBuf::from(Global::DEFAULT_STATE_DIR)),
        graceful_restart: graceful_restart?,
        error_wait_time: error_wait_time?.unwrap_or(ErrorWaitTime::DEFAULT),
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

/// The Selection_Deferral_Timer (RFC 4724 §4.1): 1 s to an hour; zero would skip the wait
/// that protects forwarding during a restart.
fn selection_deferral_seconds(seconds: i64) -> Result<Duration, ErrorKind> {
    const MAX_SELECTION_DEFERRAL_SECONDS: u64 = 3600;
    u64::try_from(seconds)
        .ok()
        .filter(|s| (1..=MAX_SELECTION_DEFERRAL_SECONDS).contains(s))
        .map(Duration::from_secs)
        .ok_or(ErrorKind::OutOfRange {
            value: seconds,
            allowed: "1..=3600",
        })
}
