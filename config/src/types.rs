//! Checked value types of the configuration: timers (RFC 4271 §4.2, §10; RFC 4724 §3),
//! GTSM hop counts (RFC 5082), communities (RFC 1997, RFC 8092), neighbor addresses with an
//! IPv6 link-local scope, kernel route protocols (iproute2 `rt_protos`), interface patterns and
//! secrets. Each is built only by a parser that checks it.

use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroU16;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use crate::error::ErrorKind;

/// The hold time we propose in OPEN (RFC 4271 §4.2): zero (no keepalives, no hold timer) or
/// at least three seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HoldTime(u16);

impl HoldTime {
    /// RFC 4271 §10: suggested value 90 s; BIRD, FRR and Calico use 180 s, and so do we.
    pub const DEFAULT: HoldTime = HoldTime(180);
    /// RFC 4271 §4.2: "the Hold Time MUST be either zero or at least three seconds".
    pub const MIN_NONZERO: u16 = 3;
    const ALLOWED: &'static str = "0 or 3..=65535";

    pub fn new(seconds: u16) -> Option<HoldTime> {
        (seconds == 0 || seconds >= Self::MIN_NONZERO).then_some(HoldTime(seconds))
    }

    pub(crate) fn parse(seconds: i64) -> Result<HoldTime, ErrorKind> {
        u16::try_from(seconds)
            .ok()
            .and_then(HoldTime::new)
            .ok_or(ErrorKind::OutOfRange {
                value: seconds,
                allowed: Self::ALLOWED,
            })
    }

    pub fn seconds(self) -> u16 {
        self.0
    }

    /// Zero: no hold timer and no KEEPALIVE messages (RFC 4271 §4.4).
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub fn as_duration(self) -> Duration {
        Duration::from_secs(u64::from(self.0))
    }

    /// RFC 4271 §10: KeepaliveTime is suggested to be one third of the hold time.
    pub fn default_keepalive(self) -> u16 {
        proto::session::default_keepalive(self.0)
    }
}

impl fmt::Display for HoldTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The Long-lived Stale Time of the long-lived graceful restart capability (RFC 9494 §3):
/// 24 bits of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LongLivedTime(u32);

impl LongLivedTime {
    /// RFC 9494 §3: the field is 24 bits wide.
    pub const MAX: u32 = 0x00ff_ffff;

    pub(crate) fn parse(seconds: i64) -> Result<LongLivedTime, ErrorKind> {
        u32::try_from(seconds)
            .ok()
            .filter(|s| *s <= Self::MAX)
            .map(LongLivedTime)
            .ok_or(ErrorKind::OutOfRange {
                value: seconds,
                allowed: "0..=16777215",
            })
    }

    pub fn seconds(self) -> u32 {
        self.0
    }
}

/// The Restart Time of the graceful restart capability (RFC 4724 §3): 12 bits of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RestartTime(u16);

impl RestartTime {
    /// BIRD's and FRR's default.
    pub const DEFAULT: RestartTime = RestartTime(120);
    /// RFC 4724 §3: the field is 12 bits wide.
    pub const MAX: u16 = 0x0fff;

    pub(crate) fn parse(seconds: i64) -> Result<RestartTime, ErrorKind> {
        u16::try_from(seconds)
            .ok()
            .filter(|s| *s <= Self::MAX)
            .map(RestartTime)
            .ok_or(ErrorKind::OutOfRange {
                value: seconds,
                allowed: "0..=4095",
            })
    }

    pub fn seconds(self) -> u16 {
        self.0
    }
}

/// How long a session stopped for `max_prefixes` stays down before it starts again: 1 to
/// 65535 seconds (RFC 4486 §4 leaves the choice to the operator).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RestartDelay(NonZeroU16);

impl RestartDelay {
    pub(crate) fn parse(seconds: i64) -> Result<RestartDelay, ErrorKind> {
        nonzero_seconds(seconds, "1..=65535; omit to stay down").map(RestartDelay)
    }

    pub fn duration(self) -> Duration {
        Duration::from_secs(u64::from(self.0.get()))
    }
}

/// The idle hold after a session error, `[MIN, MAX]` seconds (RFC 4271 §8.1.1
/// DampPeerOscillations; BIRD's `error wait time`): the first wait is MIN, each error that
/// follows before the session stayed up for MAX doubles it, up to MAX.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorWaitTime {
    /// 1 ≤ min ≤ max (checked by [`ErrorWaitTime::parse`]).
    min: u16,
    max: u16,
}

impl ErrorWaitTime {
    /// One second, doubling to a minute: a neighbor that restarts comes back at once, one
    /// that keeps failing is retried once a minute.
    pub const DEFAULT: ErrorWaitTime = ErrorWaitTime { min: 1, max: 60 };

    pub(crate) fn parse(values: &[i64]) -> Result<ErrorWaitTime, ErrorKind> {
        let &[min, max] = values else {
            return Err(ErrorKind::Invalid {
                value: format!("{values:?}"),
                expected: "[MIN, MAX], two numbers of seconds",
            });
        };
        let min = nonzero_seconds(min, "1..=65535 seconds")?.get();
        let max = nonzero_seconds(max, "1..=65535 seconds")?.get();
        if min > max {
            return Err(ErrorKind::ErrorWaitOrder { min, max });
        }
        Ok(ErrorWaitTime { min, max })
    }

    /// The first wait.
    pub fn min(self) -> Duration {
        Duration::from_secs(u64::from(self.min))
    }

    /// The longest wait; a session that stayed up this long starts again from [`Self::min`].
    pub fn max(self) -> Duration {
        Duration::from_secs(u64::from(self.max))
    }
}

impl fmt::Display for ErrorWaitTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {}]", self.min, self.max)
    }
}

/// The RFC 9687 send hold time, in seconds (at least 1; the RFC recommends no less than
/// 8 minutes in production).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SendHoldTime(NonZeroU16);

impl SendHoldTime {
    pub(crate) fn parse(seconds: i64) -> Result<SendHoldTime, ErrorKind> {
        nonzero_seconds(seconds, "1..=65535; omit for max(480, 2 × hold_time)").map(SendHoldTime)
    }

    pub fn duration(self) -> Duration {
        Duration::from_secs(u64::from(self.0.get()))
    }
}

/// 1 to 65535 seconds; `allowed` describes the range in the error.
fn nonzero_seconds(seconds: i64, allowed: &'static str) -> Result<NonZeroU16, ErrorKind> {
    u16::try_from(seconds)
        .ok()
        .and_then(NonZeroU16::new)
        .ok_or(ErrorKind::OutOfRange {
            value: seconds,
            allowed,
        })
}

/// GTSM (RFC 5082 §3): the number of hops the neighbor may be away; we accept packets with
/// TTL ≥ 255 − (hops − 1) and send with TTL 255.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TtlSecurity(u8);

impl TtlSecurity {
    pub(crate) fn parse(hops: i64) -> Result<TtlSecurity, ErrorKind> {
        u8::try_from(hops)
            .ok()
            .filter(|h| (1..=254).contains(h))
            .map(TtlSecurity)
            .ok_or(ErrorKind::OutOfRange {
                value: hops,
                allowed: "1..=254",
            })
    }

    pub fn hops(self) -> u8 {
        self.0
    }

    /// The lowest TTL an incoming packet may carry (RFC 5082 §3).
    pub fn min_ttl(self) -> u8 {
        u8::MAX - (self.0 - 1)
    }
}

/// An rtnetlink route protocol number (`rtm_protocol`), named as in iproute2's `rt_protos`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RouteProtocol(pub u8);

impl RouteProtocol {
    /// `RTPROT_STATIC`: values above it are not interpreted by the kernel (linux/rtnetlink.h);
    /// the kernel's own and administrators' routes use it and the values below.
    pub const STATIC: RouteProtocol = RouteProtocol(4);
    /// `RTPROT_BGP`, the default tag of the routes Starling installs.
    pub const BGP: RouteProtocol = RouteProtocol(186);

    /// iproute2 `/etc/iproute2/rt_protos` (and linux/rtnetlink.h for 17, `mrouted`).
    const NAMES: [(&'static str, u8); 23] = [
        ("unspec", 0),
        ("redirect", 1),
        ("kernel", 2),
        ("boot", 3),
        ("static", 4),
        ("gated", 8),
        ("ra", 9),
        ("mrt", 10),
        ("zebra", 11),
        ("bird", 12),
        ("dnrouted", 13),
        ("xorp", 14),
        ("ntk", 15),
        ("dhcp", 16),
        ("mrouted", 17),
        ("keepalived", 18),
        ("babel", 42),
        ("openr", 99),
        ("bgp", 186),
        ("isis", 187),
        ("ospf", 188),
        ("rip", 189),
        ("eigrp", 192),
    ];

    /// Default `kernel.advertise.protocols`: routes set up by the kernel, at boot, or by an
    /// administrator or a CNI plugin (`ip route add` uses `boot` unless told otherwise).
    pub const DEFAULT_ADVERTISED: [RouteProtocol; 3] =
        [RouteProtocol(2), RouteProtocol(3), RouteProtocol(4)];

    pub(crate) fn parse(raw: &crate::raw::RawProtocol) -> Result<RouteProtocol, ErrorKind> {
        match raw {
            crate::raw::RawProtocol::Number(number) => u8::try_from(*number)
                .map(RouteProtocol)
                .map_err(|_| ErrorKind::OutOfRange {
                    value: *number,
                    allowed: "0..=255",
                }),
            crate::raw::RawProtocol::Name(name) => Self::NAMES
                .iter()
                .find(|(known, _)| known == name)
                .map(|(_, number)| RouteProtocol(*number))
                .ok_or_else(|| ErrorKind::Invalid {
                    value: name.clone(),
                    expected: "a route protocol name of iproute2's rt_protos or a number",
                }),
        }
    }

    /// The iproute2 name, when there is one.
    pub fn name(self) -> Option<&'static str> {
        Self::NAMES
            .iter()
            .find(|(_, number)| *number == self.0)
            .map(|(name, _)| *name)
    }
}

impl fmt::Debug for RouteProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "RouteProtocol({} {name})", self.0),
            None => write!(f, "RouteProtocol({})", self.0),
        }
    }
}

impl fmt::Display for RouteProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "{}", self.0),
        }
    }
}

/// A BGP community attached to advertised routes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Community {
    /// RFC 1997: `ASN:VALUE`, each 16 bits, or a well-known name.
    Standard(u32),
    /// RFC 8092: `GLOBAL:LOCAL1:LOCAL2`, each 32 bits.
    Large {
        global_admin: u32,
        local_data1: u32,
        local_data2: u32,
    },
}

impl Community {
    /// Well-known communities: RFC 1997 (no-export, no-advertise, no-export-subconfed),
    /// RFC 3765 (no-peer), RFC 8326 (graceful-shutdown), RFC 7999 (blackhole).
    const WELL_KNOWN: [(&'static str, u32); 6] = [
        ("no-export", 0xFFFF_FF01),
        ("no-advertise", 0xFFFF_FF02),
        ("no-export-subconfed", 0xFFFF_FF03),
        ("no-peer", 0xFFFF_FF04),
        ("graceful-shutdown", 0xFFFF_0000),
        ("blackhole", 0xFFFF_029A),
    ];
    const EXPECTED: &'static str =
        "a community (ASN:VALUE of 16 bits each, GLOBAL:LOCAL1:LOCAL2 of 32 bits each, or a well-known name like no-export)";
}

impl FromStr for Community {
    type Err = ErrorKind;

    fn from_str(text: &str) -> Result<Community, ErrorKind> {
        let invalid = || ErrorKind::Invalid {
            value: text.to_owned(),
            expected: Self::EXPECTED,
        };
        if let Some((_, value)) = Self::WELL_KNOWN.iter().find(|(name, _)| *name == text) {
            return Ok(Community::Standard(*value));
        }
        let parts: Vec<&str> = text.split(':').collect();
        match parts.as_slice() {
            [asn, value] => {
                let asn: u16 = asn.parse().map_err(|_| invalid())?;
                let value: u16 = value.parse().map_err(|_| invalid())?;
                Ok(Community::Standard(
                    (u32::from(asn) << 16) | u32::from(value),
                ))
            }
            [global, local1, local2] => Ok(Community::Large {
                global_admin: global.parse().map_err(|_| invalid())?,
                local_data1: local1.parse().map_err(|_| invalid())?,
                local_data2: local2.parse().map_err(|_| invalid())?,
            }),
            _ => Err(invalid()),
        }
    }
}

/// The configuration syntax, which is what a reader compares with.
impl fmt::Debug for Community {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Community({self})")
    }
}

impl fmt::Display for Community {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Community::Standard(value) => {
                match Self::WELL_KNOWN.iter().find(|(_, known)| *known == value) {
                    Some((name, _)) => f.write_str(name),
                    None => proto::attr::Community(value).fmt(f),
                }
            }
            Community::Large {
                global_admin,
                local_data1,
                local_data2,
            } => proto::attr::LargeCommunity {
                global_admin,
                local_data_1: local_data1,
                local_data_2: local_data2,
            }
            .fmt(f),
        }
    }
}

/// The address of a neighbor: an IP address, with the interface for an IPv6 link-local one
/// (`fe80::1%eth0`), which has no meaning without it (RFC 4291 §2.5.6).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerAddress {
    pub ip: IpAddr,
    /// Set exactly when `ip` is IPv6 link-local.
    pub interface: Option<InterfaceName>,
}

impl PeerAddress {
    pub(crate) fn parse(text: &str) -> Result<PeerAddress, ErrorKind> {
        let (ip_text, interface) = match text.split_once('%') {
            Some((ip, interface)) => (ip, Some(InterfaceName::parse(interface)?)),
            None => (text, None),
        };
        let ip: IpAddr = ip_text.parse().map_err(|_| ErrorKind::Invalid {
            value: text.to_owned(),
            expected: "an IP address (IPv6 link-local ones with %interface)",
        })?;
        match (is_link_local(ip), interface) {
            (true, None) => Err(ErrorKind::LinkLocalWithoutInterface(ip.to_string())),
            (false, Some(interface)) => Err(ErrorKind::ScopeNotLinkLocal {
                interface: interface.0,
            }),
            (_, interface) => Ok(PeerAddress { ip, interface }),
        }
    }
}

/// fe80::/10 (RFC 4291 §2.5.6).
fn is_link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(_) => false,
        IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
    }
}

impl fmt::Display for PeerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.interface {
            Some(interface) => write!(f, "{}%{}", self.ip, interface),
            None => write!(f, "{}", self.ip),
        }
    }
}

/// Linux `IFNAMSIZ` is 16 including the terminating NUL.
const MAX_INTERFACE_NAME_LEN: usize = 15;

/// A network interface name as the kernel accepts it (`dev_valid_name`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InterfaceName(String);

impl InterfaceName {
    pub(crate) fn parse(name: &str) -> Result<InterfaceName, ErrorKind> {
        if valid_interface_chars(name, false) {
            Ok(InterfaceName(name.to_owned()))
        } else {
            Err(ErrorKind::Invalid {
                value: name.to_owned(),
                expected: "an interface name (1 to 15 characters, no '/', ':' or spaces)",
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InterfaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn valid_interface_chars(name: &str, allow_wildcard: bool) -> bool {
    !name.is_empty()
        && name.len() <= MAX_INTERFACE_NAME_LEN
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '/' && c != ':' && (allow_wildcard || c != '*'))
}

/// An interface name pattern where `*` matches any run of characters (`cali*`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InterfacePattern(String);

impl InterfacePattern {
    pub(crate) fn parse(pattern: &str) -> Result<InterfacePattern, ErrorKind> {
        if valid_interface_chars(pattern, true) {
            Ok(InterfacePattern(pattern.to_owned()))
        } else {
            Err(ErrorKind::Invalid {
                value: pattern.to_owned(),
                expected: "an interface name or pattern like cali* (1 to 15 characters)",
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `name` matches; `*` stands for any (possibly empty) run of characters.
    pub fn matches(&self, name: &str) -> bool {
        let mut parts = self.0.split('*');
        // `split` yields at least one item; a pattern without `*` must match whole.
        let first = parts.next().unwrap_or_default();
        let Some(mut rest) = name.strip_prefix(first) else {
            return false;
        };
        let middle: Vec<&str> = parts.collect();
        let Some((last, middle)) = middle.split_last() else {
            return rest.is_empty();
        };
        for part in middle {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
        rest.len() >= last.len() && rest.ends_with(last)
    }
}

impl fmt::Display for InterfacePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Linux `TCP_MD5SIG_MAXKEYLEN`.
const MAX_TCP_MD5_KEY_LEN: usize = 80;

/// A TCP MD5 signature key (RFC 2385). `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub(crate) fn parse(key: &str) -> Result<Password, ErrorKind> {
        if key.is_empty() {
            return Err(ErrorKind::Empty);
        }
        if key.len() > MAX_TCP_MD5_KEY_LEN {
            return Err(ErrorKind::OutOfRange {
                value: i64::try_from(key.len()).unwrap_or(i64::MAX),
                allowed: "a TCP MD5 key of 1..=80 bytes",
            });
        }
        Ok(Password(key.to_owned()))
    }

    /// A secret that is not a TCP MD5 key (the datastore password), which has no length limit.
    pub(crate) fn unbounded(secret: String) -> Password {
        Password(secret)
    }

    /// The secret itself, for the socket option or the datastore login only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Which NEXT_HOP we advertise to a neighbor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NextHopMode {
    /// RFC 4271 §5.1.3: our own address towards eBGP neighbors; unchanged towards iBGP
    /// neighbors (and when reflecting, RFC 4456 §10); our own for routes we originate.
    Auto,
    /// Always our own address (next-hop-self).
    #[serde(rename = "self")]
    SelfAddress,
    /// Never change it, even towards eBGP neighbors (RFC 4271 §5.1.3 third-party next hop).
    Keep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    /// The name `tracing` filters understand.
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn communities_round_trip() {
        for (text, display) in [
            ("64512:100", Some("64512:100")),
            ("65535:65281", Some("no-export")),
            ("no-export", Some("no-export")),
            ("blackhole", Some("blackhole")),
            ("4200000000:1:2", Some("4200000000:1:2")),
            ("65536:1", None),
            ("1:2:3:4", None),
            ("abc", None),
            ("", None),
        ] {
            let parsed = text.parse::<Community>().ok().map(|c| c.to_string());
            assert_eq!(parsed.as_deref(), display, "{text}");
        }
    }

    #[test]
    fn interface_patterns() {
        for (pattern, name, expected) in [
            ("cali*", "cali12ab", true),
            ("cali*", "cali", true),
            ("cali*", "eth0", false),
            ("cni0", "cni0", true),
            ("cni0", "cni01", false),
            ("*0", "eth0", true),
            ("e*h*", "eth0", true),
            ("a*a", "a", false),
            ("*", "anything", true),
        ] {
            let Ok(parsed) = InterfacePattern::parse(pattern) else {
                panic!("{pattern} should parse");
            };
            assert_eq!(parsed.matches(name), expected, "{pattern} vs {name}");
        }
    }

    #[test]
    fn peer_addresses() {
        for (text, ok) in [
            ("10.0.0.1", true),
            ("2001:db8::1", true),
            ("fe80::1%eth0", true),
            ("fe80::1", false),
            ("10.0.0.1%eth0", false),
            ("fe80::1%", false),
            ("fe80::1%a/b", false),
            ("10.0.0.300", false),
        ] {
            assert_eq!(PeerAddress::parse(text).is_ok(), ok, "{text}");
        }
    }

    #[test]
    fn gtsm_min_ttl() {
        assert_eq!(TtlSecurity::parse(1).map(TtlSecurity::min_ttl), Ok(255));
        assert_eq!(TtlSecurity::parse(254).map(TtlSecurity::min_ttl), Ok(2));
        assert!(TtlSecurity::parse(255).is_err());
    }
}
