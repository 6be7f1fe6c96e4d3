//! FRR as a lab peer: `zebra` (optional) and `bgpd` started directly (no systemd, no
//! watchfrr) in a namespace, in a directory owned by `frr:frr` because the daemons drop to
//! that user; configured from a [`RouterSpec`], queried with `vtysh --vty_socket DIR`.
//!
//! FRR always advertises extended messages and ADD-PATH receive: the spec's
//! `extended_message` flag is not used, and `AddPathConfig::None`/`Send` add
//! `disable-addpath-rx`.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use proto::{AfiSafi, Asn, ClusterId, RouterId};
use serde_json::Value;

use crate::bird::{path_str, write_file};
use crate::command::run;
use crate::error::{LabError, Result};
use crate::lab::{Host, Lab};
use crate::peer::{
    family_of, parse_community, parse_ip, parse_ipv4, parse_large_community, BgpPeer, BgpRoute,
    Origin, PeerKind, SessionState,
};
use crate::process::Process;
use crate::spec::{Community, ExtCommunity, NeighborSpec, OriginRoute, RouterSpec};
use crate::wait::{wait_until, DEFAULT_INTERVAL};

/// Where Debian installs the daemons.
pub const ZEBRA: &str = "/usr/lib/frr/zebra";
pub const BGPD: &str = "/usr/lib/frr/bgpd";
/// The CLI.
pub const VTYSH: &str = "vtysh";
/// The user the daemons run as (and who must own their directory).
const FRR_OWNER: &str = "frr:frr";
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// Reconnect quickly in tests (FRR's default connect retry is 120 s).
const CONNECT_RETRY_S: u16 = 1;
/// RFC 1997 well-known communities as FRR's JSON names them.
const WELL_KNOWN_COMMUNITIES: [(&str, Community); 4] = [
    ("noExport", Community(0xffff, 0xff01)),
    ("noAdvertise", Community(0xffff, 0xff02)),
    ("localAs", Community(0xffff, 0xff03)),
    ("noPeer", Community(0xffff, 0xff04)),
];

/// Options that are FRR-specific.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrrOptions {
    /// Run zebra too (kernel routes, interface addresses, next-hop tracking); without it
    /// bgpd runs with `-Z` and treats every next hop as reachable.
    pub zebra: bool,
}

impl Default for FrrOptions {
    fn default() -> Self {
        FrrOptions { zebra: true }
    }
}

/// A running FRR (bgpd and maybe zebra).
#[derive(Debug)]
pub struct Frr {
    host: Host,
    spec: RouterSpec,
    dir: PathBuf,
    bgpd: Process,
    zebra: Option<Process>,
}

impl Frr {
    /// Starts FRR with default options (zebra on).
    pub fn start(lab: &Lab, host: &Host, spec: RouterSpec) -> Result<Frr> {
        Frr::start_with(lab, host, spec, FrrOptions::default())
    }

    /// Writes configs into `<lab>/frr-<host>/`, starts zebra (if asked) then bgpd, and waits
    /// until vtysh gets an answer from bgpd.
    pub fn start_with(
        lab: &Lab,
        host: &Host,
        spec: RouterSpec,
        options: FrrOptions,
    ) -> Result<Frr> {
        let dir = lab.path(&format!("frr-{}", host.name));
        std::fs::create_dir_all(&dir).map_err(|e| LabError::io(format!("create {dir:?}"), e))?;
        let bgpd_conf = dir.join("bgpd.conf");
        write_file(&bgpd_conf, &render_config(host, &spec))?;
        let zebra_conf = dir.join("zebra.conf");
        write_file(
            &zebra_conf,
            &format!("hostname {}\nlog stdout informational\n", host.name),
        )?;
        run("chown", &["-R", FRR_OWNER, path_str(&dir)?])?;
        let dir_text = path_str(&dir)?.to_owned();
        let zserv = dir.join("zserv.api");
        let zserv_text = path_str(&zserv)?.to_owned();
        let zebra = if options.zebra {
            let pid = dir.join("zebra.pid");
            let argv = [
                ZEBRA,
                "-f",
                path_str(&zebra_conf)?,
                "-i",
                path_str(&pid)?,
                "-z",
                &zserv_text,
                "--vty_socket",
                &dir_text,
                "-P",
                "0",
            ];
            let mut process = lab.spawn(host, &format!("frr-{}-zebra", host.name), &argv)?;
            let what = format!("zebra on {} to open its API socket", host.name);
            wait_until(&what, STARTUP_TIMEOUT, DEFAULT_INTERVAL, || {
                process.ensure_running()?;
                Ok(zserv.exists().then_some(()))
            })?;
            Some(process)
        } else {
            None
        };
        let pid = dir.join("bgpd.pid");
        let mut argv = vec![
            BGPD,
            "-f",
            path_str(&bgpd_conf)?,
            "-i",
            path_str(&pid)?,
            "--vty_socket",
            &dir_text,
            "-P",
            "0",
        ];
        if options.zebra {
            argv.extend(["-z", &zserv_text]);
        } else {
            argv.push("-Z");
        }
        let bgpd = lab.spawn(host, &format!("frr-{}-bgpd", host.name), &argv)?;
        let mut frr = Frr {
            host: host.clone(),
            spec,
            dir,
            bgpd,
            zebra,
        };
        let what = format!("FRR bgpd on {} to answer", frr.host.name);
        wait_until(&what, STARTUP_TIMEOUT, DEFAULT_INTERVAL, || {
            frr.bgpd.ensure_running()?;
            if let Some(zebra) = frr.zebra.as_mut() {
                zebra.ensure_running()?;
            }
            Ok(frr.vtysh(&["show bgp summary json"]).ok().map(drop))
        })?;
        Ok(frr)
    }

    /// Runs `vtysh -c CMD…` (each element one `-c`).
    pub fn vtysh(&self, commands: &[&str]) -> Result<String> {
        let mut args = vec!["--vty_socket", path_str(&self.dir)?];
        for command in commands {
            args.extend(["-c", command]);
        }
        run(VTYSH, &args)
    }

    /// Runs configuration commands under `router bgp ASN`.
    pub fn configure_bgp(&self, lines: &[String]) -> Result<()> {
        let router = format!("router bgp {}", self.spec.asn);
        let mut commands = vec!["configure terminal", router.as_str()];
        commands.extend(lines.iter().map(String::as_str));
        self.vtysh(&commands).map(drop)
    }

    pub fn host(&self) -> &Host {
        &self.host
    }

    pub fn spec(&self) -> &RouterSpec {
        &self.spec
    }

    pub fn bgpd(&mut self) -> &mut Process {
        &mut self.bgpd
    }
}

impl BgpPeer for Frr {
    fn kind(&self) -> PeerKind {
        PeerKind::Frr
    }

    fn session_state(&self, neighbor: IpAddr) -> Result<SessionState> {
        let output = self.vtysh(&[&format!("show bgp neighbors {neighbor} json")])?;
        parse_session_state(&output, neighbor)
    }

    fn routes(&self, family: AfiSafi) -> Result<Vec<BgpRoute>> {
        let output = self.vtysh(&[&format!(
            "show bgp {} unicast json detail",
            afi_name(family)
        )])?;
        parse_routes(&output)
    }

    fn announce(&mut self, route: &OriginRoute) -> Result<()> {
        // Route maps live outside `router bgp`: define it first, then the network.
        let index = route_map_index(&self.spec, route.prefix);
        let mut commands = vec!["configure terminal".to_owned()];
        commands.extend(route_map_lines(index, route));
        commands.push(format!("router bgp {}", self.spec.asn));
        commands.push(format!(
            "address-family {} unicast",
            afi_name(family_of(route.prefix))
        ));
        commands.push(network_line(index, route));
        let commands: Vec<&str> = commands.iter().map(String::as_str).collect();
        self.vtysh(&commands)?;
        self.spec.routes.retain(|r| r.prefix != route.prefix);
        self.spec.routes.push(route.clone());
        Ok(())
    }

    fn withdraw(&mut self, prefix: IpNet) -> Result<()> {
        self.configure_bgp(&[
            format!("address-family {} unicast", afi_name(family_of(prefix))),
            format!("no network {prefix}"),
        ])?;
        self.spec.routes.retain(|r| r.prefix != prefix);
        Ok(())
    }

    fn shutdown(&mut self, neighbor: IpAddr, message: &str) -> Result<()> {
        self.configure_bgp(&[format!("neighbor {neighbor} shutdown message {message}")])
    }

    fn enable(&mut self, neighbor: IpAddr) -> Result<()> {
        self.configure_bgp(&[format!("no neighbor {neighbor} shutdown")])
    }

    fn refresh_in(&mut self, neighbor: IpAddr, family: AfiSafi) -> Result<()> {
        let command = format!("clear bgp {} unicast {neighbor} soft in", afi_name(family));
        self.vtysh(&[&command]).map(drop)
    }
}

fn afi_name(family: AfiSafi) -> &'static str {
    match family {
        AfiSafi::Ipv4Unicast => "ipv4",
        AfiSafi::Ipv6Unicast => "ipv6",
    }
}

/// A stable route-map number for a prefix: its position in the spec, or the next one.
fn route_map_index(spec: &RouterSpec, prefix: IpNet) -> usize {
    spec.routes
        .iter()
        .position(|r| r.prefix == prefix)
        .unwrap_or(spec.routes.len())
}

fn route_map_lines(index: usize, route: &OriginRoute) -> Vec<String> {
    let attrs = &route.attrs;
    let mut lines = vec![format!("route-map ORIGIN{index} permit 10")];
    if let Some(med) = attrs.med {
        lines.push(format!("set metric {med}"));
    }
    if let Some(local_pref) = attrs.local_pref {
        lines.push(format!("set local-preference {local_pref}"));
    }
    if !attrs.communities.is_empty() {
        let list: Vec<String> = attrs.communities.iter().map(ToString::to_string).collect();
        lines.push(format!("set community {}", list.join(" ")));
    }
    if !attrs.large_communities.is_empty() {
        let list: Vec<String> = attrs
            .large_communities
            .iter()
            .map(ToString::to_string)
            .collect();
        lines.push(format!("set large-community {}", list.join(" ")));
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
        lines.push(format!("set extcommunity rt {}", targets.join(" ")));
    }
    if !attrs.as_path_prepend.is_empty() {
        let path: Vec<String> = attrs
            .as_path_prepend
            .iter()
            .map(|a| a.0.to_string())
            .collect();
        lines.push(format!("set as-path prepend {}", path.join(" ")));
    }
    lines.push("exit".to_owned());
    lines
}

fn network_line(index: usize, route: &OriginRoute) -> String {
    format!("network {} route-map ORIGIN{index}", route.prefix)
}

/// Renders bgpd.conf for `spec`.
pub fn render_config(host: &Host, spec: &RouterSpec) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "frr defaults traditional");
    let _ = writeln!(out, "hostname {}", host.name);
    let _ = writeln!(out, "log stdout informational");
    let _ = writeln!(out, "!");
    for (index, route) in spec.routes.iter().enumerate() {
        for line in route_map_lines(index, route) {
            let _ = writeln!(out, "{line}");
        }
        let _ = writeln!(out, "!");
    }
    let _ = writeln!(out, "router bgp {}", spec.asn);
    let _ = writeln!(out, " bgp router-id {}", spec.router_id);
    // RFC 8212 policy default off (the lab wants routes to flow without policy config), and
    // originate `network`s whether or not the kernel has them.
    let _ = writeln!(out, " no bgp ebgp-requires-policy");
    let _ = writeln!(out, " no bgp network import-check");
    let _ = writeln!(out, " no bgp default ipv4-unicast");
    if let Some(cluster) = spec.cluster_id {
        let _ = writeln!(out, " bgp cluster-id {cluster}");
    }
    if spec.neighbors.iter().any(|n| n.graceful_restart) {
        let _ = writeln!(out, " bgp graceful-restart");
    }
    for n in &spec.neighbors {
        render_neighbor(&mut out, spec, n);
    }
    for family in AfiSafi::ALL {
        let neighbors: Vec<&NeighborSpec> = spec
            .neighbors
            .iter()
            .filter(|n| n.effective_families().contains(&family))
            .collect();
        let routes: Vec<(usize, &OriginRoute)> = spec
            .routes
            .iter()
            .enumerate()
            .filter(|(_, r)| family_of(r.prefix) == family)
            .collect();
        if neighbors.is_empty() && routes.is_empty() {
            continue;
        }
        let _ = writeln!(out, " address-family {} unicast", afi_name(family));
        for (index, route) in routes {
            let _ = writeln!(out, "  {}", network_line(index, route));
        }
        for n in neighbors {
            let a = n.address;
            let _ = writeln!(out, "  neighbor {a} activate");
            if n.rr_client {
                let _ = writeln!(out, "  neighbor {a} route-reflector-client");
            }
            if n.add_path.sends() {
                let _ = writeln!(out, "  neighbor {a} addpath-tx-all-paths");
            }
            if !n.add_path.receives() {
                let _ = writeln!(out, "  neighbor {a} disable-addpath-rx");
            }
        }
        let _ = writeln!(out, " exit-address-family");
    }
    let _ = writeln!(out, "!");
    out
}

fn render_neighbor(out: &mut String, spec: &RouterSpec, n: &NeighborSpec) {
    let a = n.address;
    let _ = writeln!(out, " neighbor {a} remote-as {}", n.asn);
    let _ = writeln!(
        out,
        " neighbor {a} timers {} {}",
        n.hold_time.keepalive(),
        n.hold_time.0
    );
    let _ = writeln!(out, " neighbor {a} timers connect {CONNECT_RETRY_S}");
    if n.passive {
        let _ = writeln!(out, " neighbor {a} passive");
    }
    if let Some(password) = &n.password {
        let _ = writeln!(out, " neighbor {a} password {password}");
    }
    if let Some(local) = n.local_address {
        let _ = writeln!(out, " neighbor {a} update-source {local}");
    }
    if let Some(ttl) = n.multihop {
        if n.asn != spec.asn {
            let _ = writeln!(out, " neighbor {a} ebgp-multihop {ttl}");
        }
    }
    if let Some(hops) = n.ttl_security {
        let _ = writeln!(out, " neighbor {a} ttl-security hops {hops}");
    }
    if n.extended_next_hop {
        let _ = writeln!(out, " neighbor {a} capability extended-nexthop");
    }
    if n.graceful_restart {
        let _ = writeln!(out, " neighbor {a} graceful-restart");
    }
}

/// Reads `bgpState` from `show bgp neighbors ADDR json`.
pub fn parse_session_state(output: &str, neighbor: IpAddr) -> Result<SessionState> {
    let json: Value =
        serde_json::from_str(output).map_err(|e| LabError::parse("vtysh show bgp neighbors", e))?;
    let state = json
        .get(neighbor.to_string())
        .and_then(|n| n.get("bgpState"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            LabError::parse(
                "vtysh show bgp neighbors",
                format!("no bgpState for {neighbor}: {output}"),
            )
        })?;
    match state {
        // FRR's own transitional states: no session, in RFC terms Idle.
        "Clearing" | "Deleted" => Ok(SessionState::Idle),
        other => {
            SessionState::from_rfc_name(other).ok_or_else(|| LabError::parse("FRR bgpState", other))
        }
    }
}

/// Parses `show bgp FAMILY unicast json detail`: `routes` maps a prefix to an array whose
/// elements are paths, plus (in FRR 8.4) a leading summary object without `nexthops`.
pub fn parse_routes(output: &str) -> Result<Vec<BgpRoute>> {
    let json: Value = serde_json::from_str(output)
        .map_err(|e| LabError::parse("vtysh show bgp json detail", e))?;
    let mut routes = Vec::new();
    let Some(table) = json.get("routes").and_then(Value::as_object) else {
        return Ok(routes);
    };
    for (prefix, paths) in table {
        let prefix: IpNet = prefix
            .parse()
            .map_err(|_| LabError::parse("FRR prefix", prefix))?;
        for path in paths.as_array().into_iter().flatten() {
            if path.get("nexthops").is_some() {
                routes.push(parse_path(prefix, path)?);
            }
        }
    }
    Ok(routes)
}

fn parse_path(prefix: IpNet, path: &Value) -> Result<BgpRoute> {
    let mut route = BgpRoute::new(prefix);
    let number = |key: &str| {
        path.get(key)
            .and_then(Value::as_u64)
            .and_then(|v| u32::try_from(v).ok())
    };
    route.best = path
        .pointer("/bestpath/overall")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    // Local paths say `"peerId":"(unspec)"`.
    route.from = path
        .pointer("/peer/peerId")
        .and_then(Value::as_str)
        .and_then(|a| a.parse::<IpAddr>().ok());
    route.next_hop = path
        .pointer("/nexthops/0/ip")
        .and_then(Value::as_str)
        .map(|a| parse_ip("FRR nexthop", a))
        .transpose()?;
    for segment in path
        .pointer("/aspath/segments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for asn in segment
            .get("list")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let asn = asn
                .as_u64()
                .and_then(|a| u32::try_from(a).ok())
                .ok_or_else(|| LabError::parse("FRR aspath", segment))?;
            route.as_path.push(Asn(asn));
        }
    }
    route.origin = match path.get("origin").and_then(Value::as_str) {
        Some("IGP") => Some(Origin::Igp),
        Some("EGP") => Some(Origin::Egp),
        Some("incomplete") => Some(Origin::Incomplete),
        Some(other) => return Err(LabError::parse("FRR origin", other)),
        None => None,
    };
    route.med = number("metric");
    route.local_pref = number("locPrf");
    route.communities = string_list(path, "/community/list")
        .map(|c| {
            WELL_KNOWN_COMMUNITIES
                .iter()
                .find(|(name, _)| *name == c)
                .map(|(_, community)| Ok(*community))
                .unwrap_or_else(|| parse_community(c))
        })
        .collect::<Result<_>>()?;
    route.large_communities = string_list(path, "/largeCommunity/list")
        .map(parse_large_community)
        .collect::<Result<_>>()?;
    route.ext_communities = path
        .pointer("/extendedCommunity/string")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .split_whitespace()
        .map(ext_community)
        .collect();
    if let Some(originator) = path.get("originatorId").and_then(Value::as_str) {
        route.originator_id = Some(RouterId(parse_ipv4("FRR originatorId", originator)?));
    }
    route.cluster_list = string_list(path, "/clusterList/list")
        .map(|c| parse_ipv4("FRR clusterList", c).map(ClusterId))
        .collect::<Result<_>>()?;
    Ok(route)
}

fn string_list<'a>(value: &'a Value, pointer: &str) -> impl Iterator<Item = &'a str> {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// `RT:65001:7` → route target; anything else kept as text.
fn ext_community(text: &str) -> ExtCommunity {
    if let Some((asn, value)) = text
        .strip_prefix("RT:")
        .and_then(|rest| rest.split_once(':'))
    {
        if let (Ok(asn), Ok(value)) = (asn.parse(), value.parse()) {
            return ExtCommunity::RouteTarget { asn, value };
        }
    }
    ExtCommunity::Other(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::LargeCommunity;

    const DETAIL: &str = r#"{"vrfId":0,"routerId":"10.255.0.3","routes":{
      "10.1.0.0/24":[{"prefix":"10.1.0.0/24","version":2},
        {"aspath":{"string":"65001 65009","segments":[{"type":"as-sequence","list":[65001,65009]}],"length":2},
         "origin":"IGP","metric":5,"locPrf":150,"valid":true,"bestpath":{"overall":true},
         "community":{"string":"65001:100 noExport","list":["65001:100","noExport"]},
         "extendedCommunity":{"string":"RT:65001:7"},
         "largeCommunity":{"string":"65001:1:2","list":["65001:1:2"]},
         "originatorId":"10.255.0.9","clusterList":{"list":["10.255.0.8"]},
         "nexthops":[{"ip":"10.255.0.1","afi":"ipv4","used":true}],
         "peer":{"peerId":"10.255.0.1","routerId":"10.255.0.1","type":"external"}}],
      "10.3.0.0/24":[{"prefix":"10.3.0.0/24"},
        {"aspath":{"string":"","segments":[],"length":0},"origin":"incomplete","bestpath":{"overall":true},
         "nexthops":[{"ip":"0.0.0.0","afi":"ipv4","used":true}],"peer":{"peerId":"(unspec)"}}]}}"#;

    #[test]
    fn parses_detail_json() {
        let routes = parse_routes(DETAIL).expect("sample parses");
        assert_eq!(routes.len(), 2);
        let learned = &routes[0];
        assert_eq!(learned.from, Some(IpAddr::from([10, 255, 0, 1])));
        assert_eq!(learned.as_path, vec![Asn(65001), Asn(65009)]);
        assert_eq!(learned.med, Some(5));
        assert_eq!(learned.local_pref, Some(150));
        assert_eq!(
            learned.communities,
            vec![Community(65001, 100), Community(0xffff, 0xff01)]
        );
        assert_eq!(learned.large_communities, vec![LargeCommunity(65001, 1, 2)]);
        assert_eq!(
            learned.ext_communities,
            vec![ExtCommunity::RouteTarget {
                asn: 65001,
                value: 7
            }]
        );
        assert_eq!(
            learned.originator_id.map(|r| r.to_string()).as_deref(),
            Some("10.255.0.9")
        );
        assert_eq!(learned.cluster_list.len(), 1);
        let local = &routes[1];
        assert_eq!(local.from, None);
        assert_eq!(local.origin, Some(Origin::Incomplete));
    }

    #[test]
    fn parses_neighbor_state() {
        let output = r#"{"10.255.0.1":{"remoteAs":65001,"bgpState":"Established"}}"#;
        let address = IpAddr::from([10, 255, 0, 1]);
        assert_eq!(
            parse_session_state(output, address).ok(),
            Some(SessionState::Established)
        );
        assert!(parse_session_state("{}", address).is_err());
    }
}
