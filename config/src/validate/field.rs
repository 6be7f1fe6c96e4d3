//! Checks of single values. Each returns the checked value or the reason it is not one; the
//! combinators record the reason under the value's path.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use proto::Asn;

use crate::error::{ErrorKind, KeyPath, Problems};
use crate::types::{Community, Password};

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

pub(crate) fn nonzero_id(text: &str, ip: Ipv4Addr) -> Result<Ipv4Addr, ErrorKind> {
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

pub(crate) fn socket_address(text: &str) -> Result<SocketAddr, ErrorKind> {
    text.parse().map_err(|_| ErrorKind::Invalid {
        value: text.to_owned(),
        expected: "an address and port like 0.0.0.0:179 or [::]:179",
    })
}

pub(crate) fn seconds_u16(value: i64, allowed: &'static str) -> Result<u16, ErrorKind> {
    u16::try_from(value).map_err(|_| ErrorKind::OutOfRange { value, allowed })
}

/// Neighbor names appear in `bgpctl` commands and logs.
pub(crate) fn name(text: &str) -> Result<String, ErrorKind> {
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

pub(crate) fn endpoint(text: &str) -> Result<String, ErrorKind> {
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
pub(crate) fn file_path(text: &str, base_dir: &Path) -> Result<PathBuf, ErrorKind> {
    if text.is_empty() {
        Err(ErrorKind::Empty)
    } else {
        Ok(base_dir.join(text))
    }
}

/// A secret file's content without its trailing line ending (editors add one).
pub(crate) fn read_secret_text(text: &str, base_dir: &Path) -> Result<String, ErrorKind> {
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

pub(crate) fn read_secret(text: &str, base_dir: &Path) -> Result<Password, ErrorKind> {
    read_secret_text(text, base_dir).and_then(|secret| Password::parse(&secret))
}
