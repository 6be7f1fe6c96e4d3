//! Reading a namespace's kernel routing table (`ip -n NS -N -j route show table T`) into typed
//! routes, so tests can assert what a daemon installed (design.md invariant 9: our routes
//! carry our own protocol number).

use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::Value;

use crate::command::run;
use crate::error::{LabError, Result};
use crate::lab::{Host, IpVersion};

/// The main routing table (`RT_TABLE_MAIN`).
pub const MAIN_TABLE: RouteTable = RouteTable(254);

/// A kernel routing table id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RouteTable(pub u32);

/// The rtnetlink protocol number of a route (who installed it: 2 kernel, 4 static, 186 BGP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RouteProtocol(pub u8);

impl RouteProtocol {
    pub const KERNEL: RouteProtocol = RouteProtocol(2);
    pub const BOOT: RouteProtocol = RouteProtocol(3);
    pub const STATIC: RouteProtocol = RouteProtocol(4);
    pub const BIRD: RouteProtocol = RouteProtocol(12);
    /// `RTPROT_BGP`, used by FRR and (by default) Starling.
    pub const BGP: RouteProtocol = RouteProtocol(186);
}

/// Route type (`rtm_type`) as `ip` names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RouteType {
    Unicast,
    Blackhole,
    Unreachable,
    Prohibit,
    Local,
    Broadcast,
    Other(String),
}

/// One next hop of a route.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NextHop {
    pub gateway: Option<IpAddr>,
    pub dev: Option<String>,
}

/// One kernel route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelRoute {
    pub prefix: IpNet,
    pub kind: RouteType,
    pub protocol: RouteProtocol,
    /// One entry for a plain route, several for ECMP, none for blackholes.
    pub next_hops: Vec<NextHop>,
}

/// The routes of `table` in `host`'s namespace for one IP version.
pub fn kernel_routes(
    host: &Host,
    version: IpVersion,
    table: RouteTable,
) -> Result<Vec<KernelRoute>> {
    let version_flag = match version {
        IpVersion::V4 => "-4",
        IpVersion::V6 => "-6",
    };
    let table_text = table.0.to_string();
    let output = run(
        "ip",
        &[
            "-n",
            &host.netns,
            version_flag,
            "-N",
            "-j",
            "route",
            "show",
            "table",
            &table_text,
        ],
    )?;
    parse_routes(&output, version)
}

/// Parses `ip -N -j route show` output.
pub fn parse_routes(output: &str, version: IpVersion) -> Result<Vec<KernelRoute>> {
    if output.trim().is_empty() {
        return Ok(Vec::new());
    }
    let entries: Vec<Value> =
        serde_json::from_str(output).map_err(|e| LabError::parse("ip -j route", e))?;
    entries.iter().map(|e| parse_route(e, version)).collect()
}

fn parse_route(entry: &Value, version: IpVersion) -> Result<KernelRoute> {
    let dst = entry
        .get("dst")
        .and_then(Value::as_str)
        .ok_or_else(|| LabError::parse("ip route (no dst)", entry))?;
    let prefix = parse_dst(dst, version)?;
    // `ip` omits `type` for unicast routes; with `-N` it prints the `rtm_type` number
    // (linux/rtnetlink.h: RTN_UNICAST 1 … RTN_PROHIBIT 8), without `-N` the name.
    let kind = match entry.get("type").and_then(Value::as_str) {
        None | Some("1") | Some("unicast") => RouteType::Unicast,
        Some("2") | Some("local") => RouteType::Local,
        Some("3") | Some("broadcast") => RouteType::Broadcast,
        Some("6") | Some("blackhole") => RouteType::Blackhole,
        Some("7") | Some("unreachable") => RouteType::Unreachable,
        Some("8") | Some("prohibit") => RouteType::Prohibit,
        Some(other) => RouteType::Other(other.to_owned()),
    };
    let protocol = match entry.get("protocol") {
        // With `-N` the protocol is a number printed as a string.
        Some(Value::String(text)) => text
            .parse()
            .map_err(|_| LabError::parse("ip route protocol", text))?,
        Some(Value::Number(number)) => number
            .as_u64()
            .and_then(|n| u8::try_from(n).ok())
            .ok_or_else(|| LabError::parse("ip route protocol", number))?,
        // Absent means RTPROT_UNSPEC.
        _ => 0,
    };
    let next_hops = match entry.get("nexthops").and_then(Value::as_array) {
        Some(hops) => hops.iter().map(parse_next_hop).collect::<Result<_>>()?,
        None => {
            let hop = parse_next_hop(entry)?;
            if hop.gateway.is_none() && hop.dev.is_none() {
                Vec::new()
            } else {
                vec![hop]
            }
        }
    };
    Ok(KernelRoute {
        prefix,
        kind,
        protocol: RouteProtocol(protocol),
        next_hops,
    })
}

fn parse_next_hop(value: &Value) -> Result<NextHop> {
    let gateway = value
        .get("gateway")
        .and_then(Value::as_str)
        .map(|g| {
            g.parse::<IpAddr>()
                .map_err(|_| LabError::parse("ip route gateway", g))
        })
        .transpose()?;
    let dev = value.get("dev").and_then(Value::as_str).map(str::to_owned);
    Ok(NextHop { gateway, dev })
}

/// `default`, `10.0.0.0/24` or a bare host address.
fn parse_dst(dst: &str, version: IpVersion) -> Result<IpNet> {
    let text = match (dst, version) {
        ("default", IpVersion::V4) => "0.0.0.0/0",
        ("default", IpVersion::V6) => "::/0",
        (other, _) => other,
    };
    if let Ok(prefix) = text.parse::<IpNet>() {
        return Ok(prefix);
    }
    text.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| LabError::parse("ip route dst", dst))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each route rendered as `prefix kind protocol [gateway@dev …]`.
    fn check(json: &str, version: IpVersion, expected: &[&str]) {
        let routes = parse_routes(json, version).expect("sample parses");
        let got: Vec<String> = routes
            .iter()
            .map(|r| {
                let hops: Vec<String> = r
                    .next_hops
                    .iter()
                    .map(|h| {
                        let gateway = h.gateway.map(|g| g.to_string()).unwrap_or_default();
                        format!("{gateway}@{}", h.dev.as_deref().unwrap_or_default())
                    })
                    .collect();
                format!(
                    "{} {:?} {} [{}]",
                    r.prefix,
                    r.kind,
                    r.protocol.0,
                    hops.join(" ")
                )
            })
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn parses_connected_blackhole_gateway_and_ecmp() {
        check(
            r#"[{"dst":"10.255.0.0/16","dev":"eth0","protocol":"2","scope":"253","prefsrc":"10.255.0.1","flags":[]},
                {"type":"6","dst":"10.9.0.0/24","protocol":"186","flags":[]},
                {"type":"unreachable","dst":"10.7.0.0/24","protocol":"4","flags":[]},
                {"dst":"10.8.0.1","gateway":"10.255.0.2","dev":"eth0","protocol":"186","flags":[]},
                {"dst":"default","protocol":"186","flags":[],"nexthops":[
                    {"gateway":"10.255.0.2","dev":"eth0","weight":1,"flags":[]},
                    {"gateway":"10.255.0.3","dev":"eth0","weight":1,"flags":[]}]}]"#,
            IpVersion::V4,
            &[
                "10.255.0.0/16 Unicast 2 [@eth0]",
                "10.9.0.0/24 Blackhole 186 []",
                "10.7.0.0/24 Unreachable 4 []",
                "10.8.0.1/32 Unicast 186 [10.255.0.2@eth0]",
                "0.0.0.0/0 Unicast 186 [10.255.0.2@eth0 10.255.0.3@eth0]",
            ],
        );
    }

    #[test]
    fn parses_ipv6_and_empty() {
        check(
            r#"[{"dst":"fd00:255::/64","dev":"eth0","protocol":"2","metric":256,"flags":[],"pref":"medium"}]"#,
            IpVersion::V6,
            &["fd00:255::/64 Unicast 2 [@eth0]"],
        );
        check("", IpVersion::V6, &[]);
        check("[]", IpVersion::V4, &[]);
    }
}
