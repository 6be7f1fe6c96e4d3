//! What the lab reads back from any BGP daemon, and the [`BgpPeer`] trait that lets a test be
//! written once for BIRD, GoBGP and FRR.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use ipnet::IpNet;
use proto::{AfiSafi, Asn, ClusterId, RouterId};

use crate::error::{LabError, Result};
use crate::lab::{Host, Lab};
use crate::require::Tool;
use crate::spec::{Community, ExtCommunity, LargeCommunity, OriginRoute, RouterSpec};
use crate::wait::{wait_until, Observed, DEFAULT_INTERVAL};
use crate::{Bird, Frr, GoBgp};

/// RFC 4271 §8.2.2 session states, as each daemon reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionState {
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established,
}

impl SessionState {
    /// Parses the RFC name (any case); daemon-specific names are mapped by their modules.
    pub fn from_rfc_name(name: &str) -> Option<SessionState> {
        let state = match name.to_ascii_lowercase().as_str() {
            "idle" => SessionState::Idle,
            "connect" => SessionState::Connect,
            "active" => SessionState::Active,
            "opensent" => SessionState::OpenSent,
            "openconfirm" => SessionState::OpenConfirm,
            "established" => SessionState::Established,
            _ => return None,
        };
        Some(state)
    }
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// ORIGIN attribute (RFC 4271 §5.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    Igp,
    Egp,
    Incomplete,
}

/// One path to a prefix as a daemon shows it in its RIB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BgpRoute {
    pub prefix: IpNet,
    pub next_hop: Option<IpAddr>,
    /// AS numbers of all segments in order (sets flattened).
    pub as_path: Vec<Asn>,
    pub origin: Option<Origin>,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub communities: Vec<Community>,
    pub large_communities: Vec<LargeCommunity>,
    pub ext_communities: Vec<ExtCommunity>,
    pub originator_id: Option<RouterId>,
    pub cluster_list: Vec<ClusterId>,
    /// The neighbor it was learned from; `None` for a locally originated route.
    pub from: Option<IpAddr>,
    /// Selected as best by the daemon.
    pub best: bool,
}

impl BgpRoute {
    /// An empty route for `prefix`, filled in by the parsers.
    pub(crate) fn new(prefix: IpNet) -> BgpRoute {
        BgpRoute {
            prefix,
            next_hop: None,
            as_path: Vec::new(),
            origin: None,
            med: None,
            local_pref: None,
            communities: Vec::new(),
            large_communities: Vec::new(),
            ext_communities: Vec::new(),
            originator_id: None,
            cluster_list: Vec::new(),
            from: None,
            best: false,
        }
    }
}

/// Which daemon a peer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerKind {
    Bird,
    GoBgp,
    Frr,
}

impl PeerKind {
    pub const ALL: [PeerKind; 3] = [PeerKind::Bird, PeerKind::GoBgp, PeerKind::Frr];

    /// Starts this daemon on `host` with `spec` (FRR with its default options).
    pub fn start(self, lab: &Lab, host: &Host, spec: RouterSpec) -> Result<Box<dyn BgpPeer>> {
        Ok(match self {
            PeerKind::Bird => Box::new(Bird::start(lab, host, spec)?),
            PeerKind::GoBgp => Box::new(GoBgp::start(lab, host, spec)?),
            PeerKind::Frr => Box::new(Frr::start(lab, host, spec)?),
        })
    }

    /// The binaries this daemon needs.
    pub fn tool(self) -> Tool {
        match self {
            PeerKind::Bird => Tool::Bird,
            PeerKind::GoBgp => Tool::GoBgp,
            PeerKind::Frr => Tool::Frr,
        }
    }

    /// Lower-case name used in file names (`bird`, `gobgp`, `frr`).
    pub fn name(self) -> &'static str {
        match self {
            PeerKind::Bird => "bird",
            PeerKind::GoBgp => "gobgp",
            PeerKind::Frr => "frr",
        }
    }
}

/// A running BGP daemon, queried through its own CLI.
pub trait BgpPeer {
    fn kind(&self) -> PeerKind;

    /// The session state towards `neighbor` (a configured neighbor address).
    fn session_state(&self, neighbor: IpAddr) -> Result<SessionState>;

    /// Every path of `family` in the daemon's main RIB (received and local).
    fn routes(&self, family: AfiSafi) -> Result<Vec<BgpRoute>>;

    /// Starts originating `route` (replacing an earlier one for the same prefix).
    fn announce(&mut self, route: &OriginRoute) -> Result<()>;

    /// Stops originating `prefix`.
    fn withdraw(&mut self, prefix: IpNet) -> Result<()>;

    /// Administratively shuts the session down: Cease / Administrative Shutdown carrying
    /// `message` as RFC 9003 shutdown communication.
    fn shutdown(&mut self, neighbor: IpAddr, message: &str) -> Result<()>;

    /// Re-enables a session stopped with [`BgpPeer::shutdown`].
    fn enable(&mut self, neighbor: IpAddr) -> Result<()>;

    /// Asks `neighbor` to resend its `family` routes (ROUTE-REFRESH, RFC 2918).
    fn refresh_in(&mut self, neighbor: IpAddr, family: AfiSafi) -> Result<()>;

    /// Waits until the session to `neighbor` is Established.
    fn wait_established(&self, neighbor: IpAddr, timeout: Duration) -> Result<()> {
        let what = format!("{} session to {neighbor} Established", self.kind().name());
        wait_until(&what, timeout, DEFAULT_INTERVAL, || {
            Ok(match self.session_state(neighbor)? {
                SessionState::Established => Observed::Ready(()),
                other => Observed::Pending(format!("state {other}")),
            })
        })
    }

    /// Waits until `prefix` has a path learned from `from` and returns it.
    fn wait_route(&self, prefix: IpNet, from: IpAddr, timeout: Duration) -> Result<BgpRoute> {
        let what = format!("{} to learn {prefix} from {from}", self.kind().name());
        let family = family_of(prefix);
        wait_until(&what, timeout, DEFAULT_INTERVAL, || {
            let routes = self.routes(family)?;
            let found = routes
                .iter()
                .find(|r| r.prefix == prefix && r.from == Some(from))
                .cloned();
            Ok(match found {
                Some(route) => Observed::Ready(route),
                None => Observed::Pending(format!(
                    "{} paths: {:?}",
                    routes.len(),
                    routes
                        .iter()
                        .map(|r| (r.prefix, r.from))
                        .collect::<Vec<_>>()
                )),
            })
        })
    }

    /// Waits until no path to `prefix` learned from `from` is left.
    fn wait_route_gone(&self, prefix: IpNet, from: IpAddr, timeout: Duration) -> Result<()> {
        let what = format!("{} to drop {prefix} from {from}", self.kind().name());
        let family = family_of(prefix);
        wait_until(&what, timeout, DEFAULT_INTERVAL, || {
            let still = self
                .routes(family)?
                .into_iter()
                .any(|r| r.prefix == prefix && r.from == Some(from));
            Ok(if still {
                Observed::Pending(format!("{prefix} still present"))
            } else {
                Observed::Ready(())
            })
        })
    }
}

/// The unicast family of a prefix.
pub fn family_of(prefix: IpNet) -> AfiSafi {
    match prefix {
        IpNet::V4(_) => AfiSafi::Ipv4Unicast,
        IpNet::V6(_) => AfiSafi::Ipv6Unicast,
    }
}

/// Parses `a:b` communities as the daemons print them.
pub(crate) fn parse_community(text: &str) -> Result<Community> {
    let (a, b) = text
        .split_once(':')
        .ok_or_else(|| LabError::parse("community", text))?;
    Ok(Community(
        a.trim()
            .parse()
            .map_err(|_| LabError::parse("community", text))?,
        b.trim()
            .parse()
            .map_err(|_| LabError::parse("community", text))?,
    ))
}

/// Parses `a:b:c` large communities.
pub(crate) fn parse_large_community(text: &str) -> Result<LargeCommunity> {
    let parts: Vec<&str> = text.split(':').map(str::trim).collect();
    let number = |s: &str| {
        s.parse::<u32>()
            .map_err(|_| LabError::parse("large community", text))
    };
    match parts.as_slice() {
        [a, b, c] => Ok(LargeCommunity(number(a)?, number(b)?, number(c)?)),
        _ => Err(LabError::parse("large community", text)),
    }
}

/// Parses an IPv4 address used as an id (originator, cluster).
pub(crate) fn parse_ipv4(what: &str, text: &str) -> Result<Ipv4Addr> {
    text.trim().parse().map_err(|_| LabError::parse(what, text))
}

/// Parses an IP address.
pub(crate) fn parse_ip(what: &str, text: &str) -> Result<IpAddr> {
    text.trim().parse().map_err(|_| LabError::parse(what, text))
}

/// Parses a prefix.
pub(crate) fn parse_prefix(text: &str) -> Result<IpNet> {
    text.trim()
        .parse()
        .map_err(|_| LabError::parse("prefix", text))
}
