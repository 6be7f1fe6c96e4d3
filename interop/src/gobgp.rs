//! GoBGP as a lab peer: TOML config rendered from a [`RouterSpec`], `gobgpd` in a namespace
//! with its gRPC API on that namespace's loopback, queried and driven with `gobgp … -j`.
//!
//! GoBGP has no static routes in its config: [`RouterSpec::routes`] are injected with
//! `gobgp global rib add` once the daemon answers. It always advertises the extended next
//! hop capability and has no extended-message support, so those spec flags are not used.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use ipnet::IpNet;
use proto::{AfiSafi, Asn, ClusterId, RouterId};
use serde_json::Value;

use crate::bird::{path_str, write_file};
use crate::command::run_in;
use crate::error::{LabError, Result};
use crate::lab::{Host, IpVersion, Lab};
use crate::peer::{
    family_of, parse_ip, parse_ipv4, BgpPeer, BgpRoute, Origin, PeerKind, SessionState,
};
use crate::process::Process;
use crate::spec::{Community, ExtCommunity, LargeCommunity, NeighborSpec, OriginRoute, RouterSpec};
use crate::wait::{wait_until, DEFAULT_INTERVAL};

/// The daemon binary.
pub const GOBGPD: &str = "gobgpd";
/// Its CLI.
pub const GOBGP: &str = "gobgp";
/// First gRPC port handed out; each instance in this process gets the next one, so two
/// instances in one namespace never clash.
const FIRST_API_PORT: u16 = 50100;
const LAST_API_PORT: u16 = 50999;
static NEXT_API_PORT: AtomicU16 = AtomicU16::new(FIRST_API_PORT);
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// Reconnect quickly in tests (defaults: 120 s connect retry, 30 s idle hold after reset).
const CONNECT_RETRY_S: u16 = 1;
const IDLE_HOLD_AFTER_RESET_S: u16 = 1;
/// Paths per prefix GoBGP may send when ADD-PATH send is on.
const ADD_PATH_SEND_MAX: u8 = 8;
/// RFC 4724 restart time advertised when graceful restart is on.
const RESTART_TIME_S: u16 = 120;
/// gRPC `SessionState` values in `gobgp neighbor -j` (`state.session_state`).
const SESSION_STATES: [(u64, SessionState); 6] = [
    (1, SessionState::Idle),
    (2, SessionState::Connect),
    (3, SessionState::Active),
    (4, SessionState::OpenSent),
    (5, SessionState::OpenConfirm),
    (6, SessionState::Established),
];

/// Path attribute type codes in `gobgp global rib -j` (RFC 4271 §5, RFC 4456, RFC 4760,
/// RFC 4360, RFC 8092).
mod attr_type {
    pub const ORIGIN: u64 = 1;
    pub const AS_PATH: u64 = 2;
    pub const NEXT_HOP: u64 = 3;
    pub const MED: u64 = 4;
    pub const LOCAL_PREF: u64 = 5;
    pub const COMMUNITIES: u64 = 8;
    pub const ORIGINATOR_ID: u64 = 9;
    pub const CLUSTER_LIST: u64 = 10;
    pub const MP_REACH_NLRI: u64 = 14;
    pub const EXTENDED_COMMUNITIES: u64 = 16;
    pub const LARGE_COMMUNITY: u64 = 32;
}

/// RFC 4360 §4: two-octet AS specific type, route target subtype.
const EXT_TYPE_TWO_OCTET_AS: u64 = 0x00;
const EXT_SUBTYPE_ROUTE_TARGET: u64 = 0x02;

/// A running gobgpd.
#[derive(Debug)]
pub struct GoBgp {
    host: Host,
    spec: RouterSpec,
    api_port: u16,
    process: Process,
}

impl GoBgp {
    /// Writes the config, starts gobgpd on `host`, waits for its API and injects the routes.
    pub fn start(lab: &Lab, host: &Host, spec: RouterSpec) -> Result<GoBgp> {
        let api_port = next_api_port();
        let stem = format!("gobgp-{}", host.name);
        let config = lab.path(&format!("{stem}.toml"));
        write_file(&config, &render_config(host, &spec))?;
        let api = format!("127.0.0.1:{api_port}");
        let argv = [
            GOBGPD,
            "-f",
            path_str(&config)?,
            "-t",
            "toml",
            "-p",
            "-l",
            "info",
            "--api-hosts",
            &api,
            "--pprof-disable",
        ];
        let process = lab.spawn(host, &stem, &argv)?;
        let mut gobgp = GoBgp {
            host: host.clone(),
            spec: spec.clone(),
            api_port,
            process,
        };
        let what = format!("gobgpd on {} to answer", gobgp.host.name);
        wait_until(&what, STARTUP_TIMEOUT, DEFAULT_INTERVAL, || {
            gobgp.process.ensure_running()?;
            Ok(gobgp.cli(&["global", "-j"]).ok().map(drop))
        })?;
        // The injected routes are part of the configuration: keep the commands beside it.
        let mut injected = String::new();
        for route in &spec.routes {
            gobgp.add_path(route)?;
            let _ = writeln!(injected, "gobgp {}", rib_add_args(host, route).join(" "));
        }
        write_file(&lab.path(&format!("{stem}.routes")), &injected)?;
        Ok(gobgp)
    }

    /// Runs `gobgp -p PORT ARGS…` in the daemon's namespace.
    pub fn cli(&self, args: &[&str]) -> Result<String> {
        let port = self.api_port.to_string();
        let mut full = vec!["-u", "127.0.0.1", "-p", &port];
        full.extend_from_slice(args);
        run_in(&self.host.netns, GOBGP, &full)
    }

    pub fn host(&self) -> &Host {
        &self.host
    }

    pub fn spec(&self) -> &RouterSpec {
        &self.spec
    }

    pub fn api_port(&self) -> u16 {
        self.api_port
    }

    pub fn process(&mut self) -> &mut Process {
        &mut self.process
    }

    fn add_path(&self, route: &OriginRoute) -> Result<()> {
        let args = rib_add_args(&self.host, route);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.cli(&args).map(drop)
    }
}

impl BgpPeer for GoBgp {
    fn kind(&self) -> PeerKind {
        PeerKind::GoBgp
    }

    fn session_state(&self, neighbor: IpAddr) -> Result<SessionState> {
        let output = self.cli(&["neighbor", "-j"])?;
        parse_session_state(&output, neighbor)
    }

    fn routes(&self, family: AfiSafi) -> Result<Vec<BgpRoute>> {
        let output = self.cli(&["global", "rib", "-a", family_arg(family), "-j"])?;
        parse_rib(&output)
    }

    fn announce(&mut self, route: &OriginRoute) -> Result<()> {
        self.add_path(route)?;
        self.spec.routes.retain(|r| r.prefix != route.prefix);
        self.spec.routes.push(route.clone());
        Ok(())
    }

    fn withdraw(&mut self, prefix: IpNet) -> Result<()> {
        let prefix_text = prefix.to_string();
        let family = family_arg(family_of(prefix));
        self.cli(&["global", "rib", "del", "-a", family, &prefix_text])?;
        self.spec.routes.retain(|r| r.prefix != prefix);
        Ok(())
    }

    /// Uses the CLI's `shutdown` (deprecated in favour of `disable`): in GoBGP 3.10 only
    /// `shutdown` passes `--reason` on as the RFC 9003 communication.
    fn shutdown(&mut self, neighbor: IpAddr, message: &str) -> Result<()> {
        let address = neighbor.to_string();
        self.cli(&["neighbor", &address, "shutdown", "--reason", message])
            .map(drop)
    }

    fn enable(&mut self, neighbor: IpAddr) -> Result<()> {
        let address = neighbor.to_string();
        self.cli(&["neighbor", &address, "enable"]).map(drop)
    }

    /// `gobgp neighbor X softresetin`: GoBGP 3.10 re-applies its import policy to the
    /// Adj-RIB-In and sends no ROUTE-REFRESH on the wire (seen in the golden captures).
    fn refresh_in(&mut self, neighbor: IpAddr, family: AfiSafi) -> Result<()> {
        let address = neighbor.to_string();
        self.cli(&[
            "neighbor",
            &address,
            "softresetin",
            "-a",
            family_arg(family),
        ])
        .map(drop)
    }
}

fn next_api_port() -> u16 {
    let span = LAST_API_PORT - FIRST_API_PORT + 1;
    let n = NEXT_API_PORT.fetch_add(1, Ordering::Relaxed);
    FIRST_API_PORT + (n - FIRST_API_PORT) % span
}

fn family_arg(family: AfiSafi) -> &'static str {
    match family {
        AfiSafi::Ipv4Unicast => "ipv4",
        AfiSafi::Ipv6Unicast => "ipv6",
    }
}

/// `gobgp global rib add` arguments for a route: next hop = the host's own address of the
/// prefix's family (GoBGP would otherwise send `0.0.0.0`/`::`-derived next hops).
fn rib_add_args(host: &Host, route: &OriginRoute) -> Vec<String> {
    let family = family_of(route.prefix);
    let next_hop = match family {
        AfiSafi::Ipv4Unicast => host.address(IpVersion::V4),
        AfiSafi::Ipv6Unicast => host.address(IpVersion::V6),
    };
    let mut args: Vec<String> = ["global", "rib", "add", "-a", family_arg(family)]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(route.prefix.to_string());
    args.extend([
        "origin".into(),
        "igp".into(),
        "nexthop".into(),
        next_hop.to_string(),
    ]);
    let attrs = &route.attrs;
    if !attrs.as_path_prepend.is_empty() {
        let path: Vec<String> = attrs
            .as_path_prepend
            .iter()
            .map(|a| a.0.to_string())
            .collect();
        args.extend(["aspath".into(), path.join(",")]);
    }
    if let Some(med) = attrs.med {
        args.extend(["med".into(), med.to_string()]);
    }
    if let Some(local_pref) = attrs.local_pref {
        args.extend(["local-pref".into(), local_pref.to_string()]);
    }
    if !attrs.communities.is_empty() {
        let list: Vec<String> = attrs.communities.iter().map(ToString::to_string).collect();
        args.extend(["community".into(), list.join(",")]);
    }
    if !attrs.large_communities.is_empty() {
        let list: Vec<String> = attrs
            .large_communities
            .iter()
            .map(ToString::to_string)
            .collect();
        args.extend(["large-community".into(), list.join(",")]);
    }
    let targets: Vec<String> = attrs
        .ext_communities
        .iter()
        .filter_map(|c| match c {
            ExtCommunity::RouteTarget { asn, value } => Some(format!("{asn}:{value}")),
            ExtCommunity::Other(_) => None,
        })
        .collect();
    if !targets.is_empty() {
        args.push("rt".into());
        args.extend(targets);
    }
    args
}

/// Renders gobgpd's TOML configuration.
pub fn render_config(host: &Host, spec: &RouterSpec) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "[global.config]");
    let _ = writeln!(out, "  as = {}", spec.asn);
    let _ = writeln!(out, "  router-id = \"{}\"", spec.router_id);
    // Listen on the host's LAN addresses (both versions) only.
    let _ = writeln!(
        out,
        "  local-address-list = [\"{}\", \"{}\"]",
        host.ipv4, host.ipv6
    );
    for n in &spec.neighbors {
        render_neighbor(&mut out, spec, n);
    }
    out
}

fn render_neighbor(out: &mut String, spec: &RouterSpec, n: &NeighborSpec) {
    let _ = writeln!(out, "\n[[neighbors]]");
    let _ = writeln!(out, "  [neighbors.config]");
    let _ = writeln!(out, "    neighbor-address = \"{}\"", n.address);
    let _ = writeln!(out, "    peer-as = {}", n.asn);
    if let Some(password) = &n.password {
        let _ = writeln!(out, "    auth-password = \"{password}\"");
    }
    let _ = writeln!(out, "  [neighbors.timers.config]");
    let _ = writeln!(out, "    hold-time = {}", n.hold_time.0);
    let _ = writeln!(out, "    keepalive-interval = {}", n.hold_time.keepalive());
    let _ = writeln!(out, "    connect-retry = {CONNECT_RETRY_S}");
    let _ = writeln!(
        out,
        "    idle-hold-time-after-reset = {IDLE_HOLD_AFTER_RESET_S}"
    );
    let _ = writeln!(out, "  [neighbors.transport.config]");
    let _ = writeln!(out, "    passive-mode = {}", n.passive);
    if let Some(local) = n.local_address {
        let _ = writeln!(out, "    local-address = \"{local}\"");
    }
    if let Some(hops) = n.ttl_security {
        let _ = writeln!(out, "  [neighbors.ttl-security.config]");
        let _ = writeln!(out, "    enabled = true");
        let _ = writeln!(out, "    ttl-min = {}", 256 - u16::from(hops));
    }
    if let Some(ttl) = n.multihop {
        let _ = writeln!(out, "  [neighbors.ebgp-multihop.config]");
        let _ = writeln!(out, "    enabled = true");
        let _ = writeln!(out, "    multihop-ttl = {ttl}");
    }
    if n.rr_client {
        let _ = writeln!(out, "  [neighbors.route-reflector.config]");
        let _ = writeln!(out, "    route-reflector-client = true");
        let cluster = spec.cluster_id.map(|c| c.0).unwrap_or(spec.router_id.0);
        let _ = writeln!(out, "    route-reflector-cluster-id = \"{cluster}\"");
    }
    if n.graceful_restart {
        let _ = writeln!(out, "  [neighbors.graceful-restart.config]");
        let _ = writeln!(out, "    enabled = true");
        let _ = writeln!(out, "    restart-time = {RESTART_TIME_S}");
        // RFC 8538: the N bit, so that a NOTIFICATION other than Hard Reset keeps routes.
        let _ = writeln!(out, "    notification-enabled = true");
    }
    for family in n.effective_families() {
        let _ = writeln!(out, "  [[neighbors.afi-safis]]");
        let _ = writeln!(out, "    [neighbors.afi-safis.config]");
        let _ = writeln!(out, "      afi-safi-name = \"{}\"", family.name());
        if n.add_path.receives() || n.add_path.sends() {
            let _ = writeln!(out, "    [neighbors.afi-safis.add-paths.config]");
            let _ = writeln!(out, "      receive = {}", n.add_path.receives());
            if n.add_path.sends() {
                let _ = writeln!(out, "      send-max = {ADD_PATH_SEND_MAX}");
            }
        }
        if n.graceful_restart {
            let _ = writeln!(out, "    [neighbors.afi-safis.mp-graceful-restart.config]");
            let _ = writeln!(out, "      enabled = true");
        }
    }
}

/// Reads the state of `neighbor` from `gobgp neighbor -j`.
pub fn parse_session_state(output: &str, neighbor: IpAddr) -> Result<SessionState> {
    let peers: Vec<Value> =
        serde_json::from_str(output).map_err(|e| LabError::parse("gobgp neighbor -j", e))?;
    let peer = peers
        .iter()
        .find(|p| {
            p.pointer("/conf/neighbor_address")
                .and_then(Value::as_str)
                .and_then(|a| a.parse::<IpAddr>().ok())
                == Some(neighbor)
        })
        .ok_or_else(|| LabError::parse("gobgp neighbor -j", format!("no neighbor {neighbor}")))?;
    // Zero (unknown) is omitted from the JSON; GoBGP reports it before the FSM first runs.
    let code = peer
        .pointer("/state/session_state")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    Ok(SESSION_STATES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, s)| *s)
        .unwrap_or(SessionState::Idle))
}

/// Parses `gobgp global rib -a FAMILY -j`: `{prefix: [path, …]}`.
pub fn parse_rib(output: &str) -> Result<Vec<BgpRoute>> {
    if output.trim().is_empty() {
        return Ok(Vec::new());
    }
    let table: serde_json::Map<String, Value> =
        serde_json::from_str(output).map_err(|e| LabError::parse("gobgp global rib -j", e))?;
    let mut routes = Vec::new();
    for (prefix, paths) in &table {
        let prefix: IpNet = prefix
            .parse()
            .map_err(|_| LabError::parse("gobgp rib prefix", prefix))?;
        for path in paths.as_array().into_iter().flatten() {
            routes.push(parse_path(prefix, path)?);
        }
    }
    Ok(routes)
}

fn parse_path(prefix: IpNet, path: &Value) -> Result<BgpRoute> {
    let mut route = BgpRoute::new(prefix);
    route.best = path.get("best").and_then(Value::as_bool).unwrap_or(false);
    // Local paths have no source (`<nil>` or an unspecified address).
    route.from = path
        .get("neighbor-ip")
        .and_then(Value::as_str)
        .and_then(|a| a.parse::<IpAddr>().ok())
        .filter(|a| !a.is_unspecified());
    for attr in path
        .get("attrs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        parse_attr(&mut route, attr)?;
    }
    Ok(route)
}

fn parse_attr(route: &mut BgpRoute, attr: &Value) -> Result<()> {
    let kind = attr.get("type").and_then(Value::as_u64).unwrap_or(0);
    let number = |key: &str| {
        attr.get(key)
            .and_then(Value::as_u64)
            .and_then(|v| u32::try_from(v).ok())
    };
    match kind {
        attr_type::ORIGIN => {
            route.origin = match attr.get("value").and_then(Value::as_u64) {
                Some(0) => Some(Origin::Igp),
                Some(1) => Some(Origin::Egp),
                Some(2) => Some(Origin::Incomplete),
                _ => return Err(LabError::parse("gobgp origin", attr)),
            }
        }
        attr_type::AS_PATH => {
            for segment in attr
                .get("as_paths")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                for asn in segment
                    .get("asns")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let asn = asn
                        .as_u64()
                        .and_then(|a| u32::try_from(a).ok())
                        .ok_or_else(|| LabError::parse("gobgp as_path", attr))?;
                    route.as_path.push(Asn(asn));
                }
            }
        }
        attr_type::NEXT_HOP | attr_type::MP_REACH_NLRI => {
            if let Some(next_hop) = attr.get("nexthop").and_then(Value::as_str) {
                route.next_hop = Some(parse_ip("gobgp nexthop", next_hop)?);
            }
        }
        attr_type::MED => route.med = number("metric"),
        attr_type::LOCAL_PREF => route.local_pref = number("value"),
        attr_type::COMMUNITIES => {
            route.communities = attr
                .get("communities")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_u64().and_then(|c| u32::try_from(c).ok()))
                .map(Community::from_u32)
                .collect();
        }
        attr_type::ORIGINATOR_ID => {
            let text = attr
                .get("value")
                .and_then(Value::as_str)
                .unwrap_or_default();
            route.originator_id = Some(RouterId(parse_ipv4("gobgp originator_id", text)?));
        }
        attr_type::CLUSTER_LIST => {
            route.cluster_list = attr
                .get("value")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|c| {
                    parse_ipv4("gobgp cluster_list", c.as_str().unwrap_or_default()).map(ClusterId)
                })
                .collect::<Result<_>>()?;
        }
        attr_type::EXTENDED_COMMUNITIES => {
            route.ext_communities = attr
                .get("value")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(ext_community)
                .collect();
        }
        attr_type::LARGE_COMMUNITY => {
            route.large_communities = attr
                .get("value")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|c| {
                    let part = |k: &str| {
                        c.get(k)
                            .and_then(Value::as_u64)
                            .and_then(|v| u32::try_from(v).ok())
                    };
                    match (part("ASN"), part("LocalData1"), part("LocalData2")) {
                        (Some(a), Some(b), Some(d)) => Ok(LargeCommunity(a, b, d)),
                        _ => Err(LabError::parse("gobgp large community", c)),
                    }
                })
                .collect::<Result<_>>()?;
        }
        _ => {}
    }
    Ok(())
}

fn ext_community(value: &Value) -> ExtCommunity {
    let kind = value.get("type").and_then(Value::as_u64);
    let subtype = value.get("subtype").and_then(Value::as_u64);
    let text = value
        .get("value")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if kind == Some(EXT_TYPE_TWO_OCTET_AS) && subtype == Some(EXT_SUBTYPE_ROUTE_TARGET) {
        if let Some((asn, number)) = text.split_once(':') {
            if let (Ok(asn), Ok(value)) = (asn.parse(), number.parse()) {
                return ExtCommunity::RouteTarget { asn, value };
            }
        }
    }
    ExtCommunity::Other(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RIB: &str = r#"{"10.1.0.0/24":[{"nlri":{"prefix":"10.1.0.0/24"},"age":1,"best":true,"attrs":[{"type":1,"value":0},{"type":2,"as_paths":[{"segment_type":2,"num":2,"asns":[65001,65009]}]},{"type":8,"communities":[4259905636]},{"type":16,"value":[{"type":0,"subtype":2,"value":"65001:7"}]},{"type":32,"value":[{"ASN":65001,"LocalData1":1,"LocalData2":2}]},{"type":14,"nexthop":"10.255.0.1","afi":1,"safi":1,"value":[{"prefix":"10.1.0.0/24"}]}],"stale":false,"source-id":"10.255.0.1","neighbor-ip":"10.255.0.1"}]}"#;

    #[test]
    fn parses_rib() {
        let routes = parse_rib(RIB).expect("sample RIB parses");
        assert_eq!(routes.len(), 1);
        let route = &routes[0];
        assert_eq!(route.prefix.to_string(), "10.1.0.0/24");
        assert!(route.best);
        assert_eq!(route.from, Some(IpAddr::from([10, 255, 0, 1])));
        assert_eq!(route.next_hop, Some(IpAddr::from([10, 255, 0, 1])));
        assert_eq!(route.as_path, vec![Asn(65001), Asn(65009)]);
        assert_eq!(route.origin, Some(Origin::Igp));
        assert_eq!(route.communities, vec![Community(65001, 100)]);
        assert_eq!(route.large_communities, vec![LargeCommunity(65001, 1, 2)]);
        assert_eq!(
            route.ext_communities,
            vec![ExtCommunity::RouteTarget {
                asn: 65001,
                value: 7
            }]
        );
    }

    #[test]
    fn parses_neighbor_state() {
        let output = r#"[{"conf":{"neighbor_address":"10.255.0.1","peer_asn":65001},"state":{"session_state":6}},
                        {"conf":{"neighbor_address":"fd00:255::3"},"state":{}}]"#;
        let check = |neighbor: &str, expected: SessionState| {
            let address: IpAddr = neighbor.parse().expect("literal address");
            assert_eq!(parse_session_state(output, address).ok(), Some(expected));
        };
        check("10.255.0.1", SessionState::Established);
        check("fd00:255::3", SessionState::Idle);
        assert!(parse_session_state(output, IpAddr::from([1, 1, 1, 1])).is_err());
    }
}
