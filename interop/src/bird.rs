//! BIRD 2 as a lab peer: config rendered from a [`RouterSpec`], run in the foreground in a
//! namespace, queried with `birdc` over its control socket (a file, no namespace needed).

use std::fmt::Write as _;
use std::fs;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use proto::{AfiSafi, Asn, ClusterId, RouterId};

use crate::command::run;
use crate::error::{LabError, Result};
use crate::lab::{Host, IpVersion, Lab};
use crate::peer::{
    parse_community, parse_ip, parse_ipv4, parse_large_community, parse_prefix, BgpPeer, BgpRoute,
    Origin, PeerKind, SessionState,
};
use crate::process::Process;
use crate::spec::{AddPathConfig, ExtCommunity, NeighborSpec, OriginRoute, RouterSpec};
use crate::wait::{wait_until, DEFAULT_INTERVAL};

/// The daemon binary.
pub const BIRD: &str = "bird";
/// Its CLI.
pub const BIRDC: &str = "birdc";
/// How long BIRD may take to open its control socket.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// Reconnect quickly in tests (defaults: 5 s first connect, 120 s retry, 60 s error wait).
const CONNECT_DELAY_S: u16 = 1;
const CONNECT_RETRY_S: u16 = 1;
const ERROR_WAIT_S: (u16, u16) = (1, 2);
const ERROR_FORGET_S: u16 = 1;

/// A running BIRD.
#[derive(Debug)]
pub struct Bird {
    host: Host,
    spec: RouterSpec,
    config: PathBuf,
    socket: PathBuf,
    process: Process,
}

impl Bird {
    /// Writes the config for `spec` and starts BIRD on `host`; returns once `birdc` answers.
    pub fn start(lab: &Lab, host: &Host, spec: RouterSpec) -> Result<Bird> {
        let stem = format!("bird-{}", host.name);
        let config = lab.path(&format!("{stem}.conf"));
        let socket = lab.path(&format!("{stem}.ctl"));
        let pid_file = lab.path(&format!("{stem}.pid"));
        write_file(&config, &render_config(host, &spec)?)?;
        let argv = [
            BIRD,
            "-f",
            "-c",
            path_str(&config)?,
            "-s",
            path_str(&socket)?,
            "-P",
            path_str(&pid_file)?,
        ];
        let process = lab.spawn(host, &stem, &argv)?;
        let mut bird = Bird {
            host: host.clone(),
            spec,
            config,
            socket,
            process,
        };
        let what = format!("BIRD on {} to answer", bird.host.name);
        let process = &mut bird.process;
        let socket = &bird.socket;
        wait_until(&what, STARTUP_TIMEOUT, DEFAULT_INTERVAL, || {
            process.ensure_running()?;
            Ok(run(BIRDC, &["-s", path_str(socket)?, "show", "status"])
                .ok()
                .map(|_| ()))
        })?;
        Ok(bird)
    }

    /// Runs one `birdc` command and returns its output.
    pub fn birdc(&self, args: &[&str]) -> Result<String> {
        let mut full = vec!["-s", path_str(&self.socket)?];
        full.extend_from_slice(args);
        run(BIRDC, &full)
    }

    /// The rendered configuration currently in use.
    pub fn spec(&self) -> &RouterSpec {
        &self.spec
    }

    pub fn host(&self) -> &Host {
        &self.host
    }

    pub fn process(&mut self) -> &mut Process {
        &mut self.process
    }

    /// Replaces the configuration and asks BIRD to reload it (`birdc configure`).
    pub fn reconfigure(&mut self, spec: RouterSpec) -> Result<()> {
        write_file(&self.config, &render_config(&self.host, &spec)?)?;
        let output = self.birdc(&["configure"])?;
        if !output.contains("Reconfigured") && !output.contains("Reconfiguration in progress") {
            return Err(LabError::Command {
                command: "birdc configure".into(),
                status: "rejected".into(),
                stderr: output,
            });
        }
        self.spec = spec;
        Ok(())
    }
}

impl BgpPeer for Bird {
    fn kind(&self) -> PeerKind {
        PeerKind::Bird
    }

    fn session_state(&self, neighbor: IpAddr) -> Result<SessionState> {
        let output = self.birdc(&["show", "protocols", "all", &protocol_name(neighbor)])?;
        parse_bgp_state(&output)
    }

    fn routes(&self, family: AfiSafi) -> Result<Vec<BgpRoute>> {
        let output = self.birdc(&["show", "route", "table", table_name(family), "all"])?;
        let neighbors: Vec<(String, IpAddr)> = self
            .spec
            .neighbors
            .iter()
            .map(|n| (protocol_name(n.address), n.address))
            .collect();
        parse_routes(&output, &neighbors)
    }

    fn announce(&mut self, route: &OriginRoute) -> Result<()> {
        let mut spec = self.spec.clone();
        spec.routes.retain(|r| r.prefix != route.prefix);
        spec.routes.push(route.clone());
        self.reconfigure(spec)
    }

    fn withdraw(&mut self, prefix: IpNet) -> Result<()> {
        let mut spec = self.spec.clone();
        spec.routes.retain(|r| r.prefix != prefix);
        self.reconfigure(spec)
    }

    fn shutdown(&mut self, neighbor: IpAddr, message: &str) -> Result<()> {
        let quoted = format!("\"{}\"", message.replace('"', ""));
        self.birdc(&["disable", &protocol_name(neighbor), &quoted])
            .map(drop)
    }

    fn enable(&mut self, neighbor: IpAddr) -> Result<()> {
        self.birdc(&["enable", &protocol_name(neighbor)]).map(drop)
    }

    /// BIRD 2.0 reloads all channels of the protocol (its `reload in` takes no channel), so
    /// `family` is not used.
    fn refresh_in(&mut self, neighbor: IpAddr, _family: AfiSafi) -> Result<()> {
        self.birdc(&["reload", "in", &protocol_name(neighbor)])
            .map(drop)
    }
}

/// The BIRD protocol name for a neighbor (`n10_255_0_2`, `nfd00_255__2`).
pub fn protocol_name(neighbor: IpAddr) -> String {
    let flat: String = neighbor
        .to_string()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("n{flat}")
}

fn table_name(family: AfiSafi) -> &'static str {
    match family {
        AfiSafi::Ipv4Unicast => "master4",
        AfiSafi::Ipv6Unicast => "master6",
    }
}

fn channel_name(family: AfiSafi) -> &'static str {
    match family {
        AfiSafi::Ipv4Unicast => "ipv4",
        AfiSafi::Ipv6Unicast => "ipv6",
    }
}

/// Renders a BIRD 2 configuration for `spec` on `host`.
pub fn render_config(host: &Host, spec: &RouterSpec) -> Result<String> {
    let mut out = String::new();
    // `log stderr` keeps BIRD's log in the lab directory (the process's stderr file).
    let _ = writeln!(out, "log stderr all;");
    let _ = writeln!(out, "router id {};", spec.router_id);
    let _ = writeln!(out, "protocol device {{ }}");
    for family in AfiSafi::ALL {
        let routes: Vec<&OriginRoute> = spec
            .routes
            .iter()
            .filter(|r| crate::peer::family_of(r.prefix) == family)
            .collect();
        if routes.is_empty() {
            continue;
        }
        let _ = writeln!(out, "protocol static static_{} {{", channel_name(family));
        let _ = writeln!(out, "  {};", channel_name(family));
        for route in routes {
            let _ = writeln!(
                out,
                "  route {} blackhole {{ {}}};",
                route.prefix,
                route_attrs(route)
            );
        }
        let _ = writeln!(out, "}}");
    }
    for neighbor in &spec.neighbors {
        render_neighbor(&mut out, host, spec, neighbor)?;
    }
    Ok(out)
}

fn route_attrs(route: &OriginRoute) -> String {
    let attrs = &route.attrs;
    let mut out = String::new();
    if let Some(local_pref) = attrs.local_pref {
        let _ = write!(out, "bgp_local_pref = {local_pref}; ");
    }
    for c in &attrs.communities {
        let _ = write!(out, "bgp_community.add(({},{})); ", c.0, c.1);
    }
    for c in &attrs.large_communities {
        let _ = write!(out, "bgp_large_community.add(({},{},{})); ", c.0, c.1, c.2);
    }
    for c in &attrs.ext_communities {
        if let ExtCommunity::RouteTarget { asn, value } = c {
            let _ = write!(out, "bgp_ext_community.add((rt,{asn},{value})); ");
        }
    }
    // `prepend` puts its argument leftmost: prepend the last AS first.
    for asn in attrs.as_path_prepend.iter().rev() {
        let _ = write!(out, "bgp_path.prepend({asn}); ");
    }
    out
}

fn render_neighbor(
    out: &mut String,
    host: &Host,
    spec: &RouterSpec,
    n: &NeighborSpec,
) -> Result<()> {
    let local = n
        .local_address
        .unwrap_or_else(|| host.address(IpVersion::of(n.address)));
    let _ = writeln!(out, "protocol bgp {} {{", protocol_name(n.address));
    let _ = writeln!(out, "  local {local} as {};", spec.asn);
    let _ = writeln!(out, "  neighbor {} as {};", n.address, n.asn);
    let _ = writeln!(out, "  hold time {};", n.hold_time.0);
    let _ = writeln!(out, "  keepalive time {};", n.hold_time.keepalive());
    let _ = writeln!(out, "  connect delay time {CONNECT_DELAY_S};");
    let _ = writeln!(out, "  connect retry time {CONNECT_RETRY_S};");
    let _ = writeln!(
        out,
        "  error wait time {},{};",
        ERROR_WAIT_S.0, ERROR_WAIT_S.1
    );
    let _ = writeln!(out, "  error forget time {ERROR_FORGET_S};");
    if n.passive {
        let _ = writeln!(out, "  passive on;");
    }
    if let Some(password) = &n.password {
        let _ = writeln!(out, "  password \"{password}\";");
    }
    if n.ttl_security.is_some() {
        let _ = writeln!(out, "  ttl security on;");
    }
    // iBGP defaults to multihop in BIRD; say `direct` for a neighbor on the LAN.
    match n.multihop {
        Some(ttl) => {
            let _ = writeln!(out, "  multihop {ttl};");
        }
        None => {
            let _ = writeln!(out, "  direct;");
        }
    }
    if n.rr_client {
        if n.asn != spec.asn {
            return Err(LabError::Invalid(format!(
                "rr client {} must be iBGP (AS {} vs {})",
                n.address, n.asn, spec.asn
            )));
        }
        let _ = writeln!(out, "  rr client;");
        if let Some(cluster) = spec.cluster_id {
            let _ = writeln!(out, "  rr cluster id {cluster};");
        }
    }
    if n.extended_message {
        let _ = writeln!(out, "  enable extended messages;");
    }
    if n.graceful_restart {
        let _ = writeln!(out, "  graceful restart on;");
    }
    let export = export_clause(spec);
    for family in n.effective_families() {
        let mut options = format!("import all; {export}");
        match n.add_path {
            AddPathConfig::None => {}
            AddPathConfig::Receive => options.push_str(" add paths rx;"),
            AddPathConfig::Send => options.push_str(" add paths tx;"),
            AddPathConfig::Both => options.push_str(" add paths on;"),
        }
        // RFC 8950: BIRD negotiates it on the IPv4 channel.
        if n.extended_next_hop && family == AfiSafi::Ipv4Unicast {
            options.push_str(" extended next hop on;");
        }
        let _ = writeln!(out, "  {} {{ {options} }};", channel_name(family));
    }
    let _ = writeln!(out, "}}");
    Ok(())
}

/// `export all`, or a filter setting MED: BIRD sends MED to an external peer only when the
/// export filter set it (a MED from a static route is dropped on eBGP export).
fn export_clause(spec: &RouterSpec) -> String {
    let meds: Vec<String> = spec
        .routes
        .iter()
        .filter_map(|r| {
            r.attrs
                .med
                .map(|med| format!("if net = {} then bgp_med = {med}; ", r.prefix))
        })
        .collect();
    if meds.is_empty() {
        "export all;".to_owned()
    } else {
        format!("export filter {{ {}accept; }};", meds.concat())
    }
}

/// Reads `BGP state:` from `birdc show protocols all NAME`.
fn parse_bgp_state(output: &str) -> Result<SessionState> {
    let value = output
        .lines()
        .find_map(|line| line.trim().strip_prefix("BGP state:"))
        .map(str::trim)
        .ok_or_else(|| LabError::parse("birdc show protocols (no BGP state)", output))?;
    match value {
        // BIRD's extra states: a disabled or shutting-down protocol is Idle in RFC terms.
        "Down" | "Close" => Ok(SessionState::Idle),
        other => SessionState::from_rfc_name(other)
            .ok_or_else(|| LabError::parse("BIRD BGP state", other)),
    }
}

/// Parses `birdc show route table T all`. `neighbors` maps protocol names to addresses so
/// that `from` is filled in for routes whose next hop is not the neighbor itself.
pub fn parse_routes(output: &str, neighbors: &[(String, IpAddr)]) -> Result<Vec<BgpRoute>> {
    let mut routes: Vec<BgpRoute> = Vec::new();
    let mut current_prefix: Option<IpNet> = None;
    for line in output.lines() {
        if line.is_empty() || line.starts_with("BIRD ") || line.starts_with("Table ") {
            continue;
        }
        if let Some(attr) = line.strip_prefix('\t') {
            if let Some(route) = routes.last_mut() {
                parse_attribute(route, attr.trim())?;
            }
            continue;
        }
        // A route header: `PREFIX  TYPE [PROTO TIME (from ADDR)] (*) (PREF) …`, the prefix
        // left blank for further paths to the same prefix.
        if !line.starts_with(char::is_whitespace) {
            let (prefix, _) = line
                .split_once(char::is_whitespace)
                .ok_or_else(|| LabError::parse("birdc route line", line))?;
            current_prefix = Some(parse_prefix(prefix)?);
        }
        let prefix = current_prefix.ok_or_else(|| LabError::parse("birdc route line", line))?;
        routes.push(parse_header(prefix, line, neighbors)?);
    }
    Ok(routes)
}

fn parse_header(prefix: IpNet, line: &str, neighbors: &[(String, IpAddr)]) -> Result<BgpRoute> {
    let mut route = BgpRoute::new(prefix);
    let open = line
        .find('[')
        .ok_or_else(|| LabError::parse("birdc route line (no [proto])", line))?;
    let close = line[open..]
        .find(']')
        .map(|i| open + i)
        .ok_or_else(|| LabError::parse("birdc route line (no ])", line))?;
    let inside: Vec<&str> = line[open + 1..close].split_whitespace().collect();
    let protocol = inside.first().copied().unwrap_or_default();
    route.from = match inside.iter().position(|w| *w == "from") {
        Some(i) => Some(parse_ip(
            "birdc from address",
            inside.get(i + 1).copied().unwrap_or_default(),
        )?),
        None => neighbors
            .iter()
            .find(|(name, _)| name == protocol)
            .map(|(_, address)| *address),
    };
    route.best = line[close + 1..].trim_start().starts_with('*');
    Ok(route)
}

fn parse_attribute(route: &mut BgpRoute, line: &str) -> Result<()> {
    if let Some(gateway) = line.strip_prefix("via ") {
        if route.next_hop.is_none() {
            let address = gateway.split_whitespace().next().unwrap_or_default();
            route.next_hop = Some(parse_ip("birdc via", address)?);
        }
        return Ok(());
    }
    let Some((name, value)) = line.split_once(':') else {
        return Ok(());
    };
    let value = value.trim();
    match name {
        "BGP.origin" => {
            route.origin = Some(match value {
                "IGP" => Origin::Igp,
                "EGP" => Origin::Egp,
                "Incomplete" => Origin::Incomplete,
                other => return Err(LabError::parse("BGP.origin", other)),
            })
        }
        "BGP.as_path" => {
            route.as_path = value
                .split(|c: char| c.is_whitespace() || c == '{' || c == '}' || c == ',')
                .filter(|w| !w.is_empty())
                .map(|w| {
                    w.parse()
                        .map(Asn)
                        .map_err(|_| LabError::parse("BGP.as_path", value))
                })
                .collect::<Result<_>>()?;
        }
        "BGP.next_hop" => {
            // IPv6 may list a global and a link-local address: the first is the next hop.
            let first = value.split_whitespace().next().unwrap_or_default();
            route.next_hop = Some(parse_ip("BGP.next_hop", first)?);
        }
        "BGP.med" => route.med = Some(parse_number("BGP.med", value)?),
        "BGP.local_pref" => route.local_pref = Some(parse_number("BGP.local_pref", value)?),
        "BGP.community" => {
            route.communities = tuples(value)
                .iter()
                .map(|t| parse_community(&t.join(":")))
                .collect::<Result<_>>()?;
        }
        "BGP.large_community" => {
            route.large_communities = tuples(value)
                .iter()
                .map(|t| parse_large_community(&t.join(":")))
                .collect::<Result<_>>()?;
        }
        "BGP.ext_community" => {
            route.ext_communities = tuples(value).iter().map(|t| ext_community(t)).collect();
        }
        "BGP.originator_id" => {
            route.originator_id = Some(RouterId(parse_ipv4("BGP.originator_id", value)?));
        }
        "BGP.cluster_list" => {
            route.cluster_list = value
                .split_whitespace()
                .map(|a| parse_ipv4("BGP.cluster_list", a).map(ClusterId))
                .collect::<Result<_>>()?;
        }
        _ => {}
    }
    Ok(())
}

/// `(rt, 65001, 7)` → route target; anything else kept as text.
fn ext_community(parts: &[String]) -> ExtCommunity {
    if let [kind, asn, value] = parts {
        if kind == "rt" {
            if let (Ok(asn), Ok(value)) = (asn.parse(), value.parse()) {
                return ExtCommunity::RouteTarget { asn, value };
            }
        }
    }
    ExtCommunity::Other(format!("({})", parts.join(", ")))
}

/// Splits `(a,b) (c, d, e)` into `[[a,b],[c,d,e]]`.
fn tuples(text: &str) -> Vec<Vec<String>> {
    text.split(')')
        .filter_map(|chunk| chunk.split_once('(').map(|(_, inside)| inside))
        .map(|inside| inside.split(',').map(|p| p.trim().to_owned()).collect())
        .collect()
}

fn parse_number(what: &str, text: &str) -> Result<u32> {
    text.trim().parse().map_err(|_| LabError::parse(what, text))
}

pub(crate) fn write_file(path: &std::path::Path, text: &str) -> Result<()> {
    fs::write(path, text).map_err(|e| LabError::io(format!("write {path:?}"), e))
}

pub(crate) fn path_str(path: &std::path::Path) -> Result<&str> {
    path.to_str()
        .ok_or_else(|| LabError::Invalid(format!("non-UTF-8 path {path:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Community, LargeCommunity};

    const SHOW_ROUTE: &str = "BIRD 2.0.12 ready.
Table master4:
10.1.0.0/24          blackhole [static_ipv4 12:00:19.224] * (200)
\tType: static univ
\tBGP.as_path: 65009
\tBGP.med: 5
\tBGP.community: (65001,100)
\tBGP.ext_community: (rt, 65001, 7)
\tBGP.large_community: (65001, 1, 2)
10.2.0.0/24          unicast [n10_255_0_2 12:00:32.170] * (100) [AS65101i]
\tvia 10.255.0.2 on eth0
\tType: BGP univ
\tBGP.origin: IGP
\tBGP.as_path: 65002 65100 {65101 65102}
\tBGP.next_hop: 10.255.0.2
\tBGP.local_pref: 100
\tBGP.community: (65002,1) (65002,2)
\tBGP.originator_id: 10.255.0.9
\tBGP.cluster_list: 10.255.0.8 10.255.0.7
                     unicast [n10_255_0_3 12:00:33.000 from 10.255.0.3] (100) [AS65003?]
\tvia 10.255.0.4 on eth0
\tType: BGP univ
\tBGP.origin: Incomplete
\tBGP.as_path: 65003
\tBGP.next_hop: 10.255.0.4
";

    #[test]
    fn parses_show_route_all() {
        let neighbors = vec![(
            protocol_name("10.255.0.2".parse().unwrap_or(IpAddr::from([0; 4]))),
            IpAddr::from([10, 255, 0, 2]),
        )];
        let routes = parse_routes(SHOW_ROUTE, &neighbors).map_err(|e| e.to_string());
        let routes = routes.as_deref().unwrap_or_default();
        assert_eq!(routes.len(), 3);
        let local = &routes[0];
        assert_eq!(local.prefix.to_string(), "10.1.0.0/24");
        assert_eq!(local.from, None);
        assert!(local.best);
        assert_eq!(local.as_path, vec![Asn(65009)]);
        assert_eq!(local.med, Some(5));
        assert_eq!(local.communities, vec![Community(65001, 100)]);
        assert_eq!(local.large_communities, vec![LargeCommunity(65001, 1, 2)]);
        assert_eq!(
            local.ext_communities,
            vec![ExtCommunity::RouteTarget {
                asn: 65001,
                value: 7
            }]
        );
        let learned = &routes[1];
        assert_eq!(learned.from, Some(IpAddr::from([10, 255, 0, 2])));
        assert_eq!(learned.next_hop, Some(IpAddr::from([10, 255, 0, 2])));
        assert_eq!(
            learned.as_path,
            vec![Asn(65002), Asn(65100), Asn(65101), Asn(65102)]
        );
        assert_eq!(learned.origin, Some(Origin::Igp));
        assert_eq!(
            learned.originator_id.map(|r| r.to_string()).as_deref(),
            Some("10.255.0.9")
        );
        assert_eq!(learned.cluster_list.len(), 2);
        let second = &routes[2];
        assert_eq!(second.prefix.to_string(), "10.2.0.0/24");
        assert_eq!(second.from, Some(IpAddr::from([10, 255, 0, 3])));
        assert!(!second.best);
        assert_eq!(second.origin, Some(Origin::Incomplete));
    }

    #[test]
    fn parses_states() {
        let check = |text: &str, expected: SessionState| {
            let output = format!("Name Proto\nx BGP --- up\n  BGP state:          {text}\n");
            assert_eq!(parse_bgp_state(&output).ok(), Some(expected), "{text}");
        };
        check("Established", SessionState::Established);
        check("Active", SessionState::Active);
        check("OpenSent", SessionState::OpenSent);
        check("Down", SessionState::Idle);
    }

    #[test]
    fn protocol_names_are_bird_symbols() {
        assert_eq!(protocol_name(IpAddr::from([10, 255, 0, 2])), "n10_255_0_2");
        let v6: IpAddr = "fd00:255::2".parse().unwrap_or(IpAddr::from([0; 4]));
        assert_eq!(protocol_name(v6), "nfd00_255__2");
    }
}
