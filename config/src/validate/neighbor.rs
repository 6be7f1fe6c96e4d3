//! `[[neighbor]]` entries and the neighbor part of datastore peers: each field checked on its
//! own, the timers against each other (RFC 4271 §4.2, §4.4, §10), the route reflection role
//! against the local speaker (RFC 4456), and uniqueness across entries.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::path::Path;
use std::time::Duration;

use proto::{AfiSafi, AfiSafiSet, Asn};

use super::field::{asn, communities, each, name, optional, read_secret, required, seconds_u16};
use super::policy::{references, Definitions, Direction};
use crate::error::{ErrorKind, KeyPath, Problems};
use crate::model::{Global, Neighbor, Timers};
use crate::raw::RawNeighbor;
use crate::types::{
    ErrorWaitTime, HoldTime, NextHopMode, Password, PeerAddress, RestartDelay, SendHoldTime,
    TtlSecurity,
};

/// A neighbor whose timers are not yet resolved: a datastore peer takes its default hold time
/// from the cluster settings, which may arrive after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NeighborDraft {
    neighbor: Neighbor,
    hold_time: Option<HoldTime>,
    keepalive: Option<u16>,
    error_wait_time: Option<ErrorWaitTime>,
}

/// What a neighbor takes from `[global]` (or the datastore's `/config`) when it does not set
/// the value itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimerDefaults {
    pub hold_time: HoldTime,
    pub error_wait_time: ErrorWaitTime,
}

impl NeighborDraft {
    /// Resolves the timers against `defaults`.
    pub fn finish(
        &self,
        defaults: TimerDefaults,
        path: &KeyPath,
        problems: &mut Problems,
    ) -> Option<Neighbor> {
        let hold_time = self.hold_time.unwrap_or(defaults.hold_time);
        let keepalive =
            problems.check(&path.key("keepalive"), keepalive(hold_time, self.keepalive))?;
        let mut neighbor = self.neighbor.clone();
        neighbor.timers.hold_time = hold_time;
        neighbor.timers.keepalive = Duration::from_secs(u64::from(keepalive));
        neighbor.timers.error_wait_time = self.error_wait_time.unwrap_or(defaults.error_wait_time);
        Some(neighbor)
    }
}

/// The keepalive interval in seconds for `hold_time` (RFC 4271 §4.2, §4.4, §10).
pub(super) fn keepalive(hold_time: HoldTime, configured: Option<u16>) -> Result<u16, ErrorKind> {
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
    definitions: &Definitions,
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
    let max_prefixes_restart = optional(
        raw.max_prefixes_restart,
        &path.key("max_prefixes_restart"),
        problems,
        |s| RestartDelay::parse(*s),
    );
    let send_hold_time = optional(
        raw.send_hold_time,
        &path.key("send_hold_time"),
        problems,
        |s| SendHoldTime::parse(*s),
    );
    let error_wait_time = optional(
        raw.error_wait_time,
        &path.key("error_wait_time"),
        problems,
        |values| ErrorWaitTime::parse(values),
    );
    let communities = communities(raw.communities, &path.key("communities"), problems);
    let import = references(raw.import, path, Direction::Import, definitions, problems);
    let export = references(raw.export, path, Direction::Export, definitions, problems);
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
            error_wait_time: ErrorWaitTime::DEFAULT,
        },
        max_prefixes: max_prefixes?,
        max_prefixes_restart: max_prefixes_restart?,
        send_hold_time: send_hold_time?,
        add_path: raw.add_path.unwrap_or(proto::session::AddPathConfig::None),
        communities: communities?,
        import: import?,
        export: export?,
    };
    Some(NeighborDraft {
        neighbor,
        hold_time: hold_time?,
        keepalive: keepalive?,
        error_wait_time: error_wait_time?,
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
pub(super) fn check_unique(
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
