//! Configuration errors: where (source, line and column, key path) and why.
//!
//! Every problem found while loading becomes one [`ConfigError`]; loaders collect all of them
//! and return a [`ConfigErrors`] so that an operator fixes a file in one pass.

use std::fmt;

use ipnet::IpNet;

/// One step of a [`KeyPath`]: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// The path of a value inside a document, displayed as `neighbor[2].hold_time`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyPath(Vec<Segment>);

impl KeyPath {
    /// The document root (displayed as nothing).
    pub fn root() -> KeyPath {
        KeyPath(Vec::new())
    }

    /// This path extended by a table key.
    pub fn key(&self, key: &str) -> KeyPath {
        let mut segments = self.0.clone();
        segments.push(Segment::Key(key.to_owned()));
        KeyPath(segments)
    }

    /// This path extended by an array index.
    pub fn index(&self, index: usize) -> KeyPath {
        let mut segments = self.0.clone();
        segments.push(Segment::Index(index));
        KeyPath(segments)
    }

    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `self` is `prefix` or lies inside it.
    pub fn starts_with(&self, prefix: &KeyPath) -> bool {
        self.0.starts_with(&prefix.0)
    }

    pub(crate) fn from_segments(segments: Vec<Segment>) -> KeyPath {
        KeyPath(segments)
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    if is_bare_key(key) {
                        f.write_str(key)?;
                    } else {
                        write!(f, "{key:?}")?;
                    }
                }
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// TOML bare keys (`A-Za-z0-9_-`) print as they are; anything else is quoted.
fn is_bare_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A 1-based line and column (in characters) inside a source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl Position {
    /// The position of byte `offset` in `text` (clamped to the text, and to a char boundary).
    pub fn of_offset(text: &str, offset: usize) -> Position {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Position {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

/// Why a value was rejected. The `Display` is the reason an operator reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// The file cannot be read at all.
    #[error("cannot read the file: {0}")]
    Io(String),
    /// Not TOML (or, for datastore objects, not JSON).
    #[error("syntax error: {0}")]
    Syntax(String),
    /// An unknown key or a value of the wrong type, as reported by the deserializer.
    #[error("{0}")]
    Schema(String),
    #[error("missing required key")]
    Missing,
    #[error("{value} is not allowed ({allowed})")]
    OutOfRange { value: i64, allowed: &'static str },
    #[error("{value:?} is not {expected}")]
    Invalid {
        value: String,
        expected: &'static str,
    },
    #[error("must not be empty")]
    Empty,
    #[error("{prefix} has host bits set (the network is {network})")]
    HostBits { prefix: IpNet, network: IpNet },
    /// RFC 4271 §10 suggests a keepalive of a third of the hold time; a longer one lets the
    /// peer's hold timer expire between two KEEPALIVEs.
    #[error("keepalive {keepalive} is more than hold_time {hold_time} / 3")]
    KeepaliveTooLong { keepalive: u16, hold_time: u16 },
    /// RFC 4271 §4.4: with a hold time of zero no KEEPALIVE is sent at all.
    #[error("keepalive {keepalive} is set but hold_time is 0 (no keepalives are sent)")]
    KeepaliveWithoutHoldTime { keepalive: u16 },
    #[error("error_wait_time minimum {min} is more than its maximum {max}")]
    ErrorWaitOrder { min: u16, max: u16 },
    #[error("keepalive 0 with hold_time {hold_time} lets the hold timer expire")]
    KeepaliveZero { hold_time: u16 },
    #[error("duplicate {what} {value} (first used at {first})")]
    Duplicate {
        what: &'static str,
        value: String,
        first: KeyPath,
    },
    #[error("{0} and {1} are both set; use one of them")]
    Exclusive(&'static str, &'static str),
    #[error("{0} needs {1}")]
    Requires(&'static str, &'static str),
    #[error("cannot read {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("link-local address {0} needs an interface (write it as {0}%eth0)")]
    LinkLocalWithoutInterface(String),
    #[error("an interface scope (%{interface}) is only allowed on IPv6 link-local addresses")]
    ScopeNotLinkLocal { interface: String },
    #[error("local_address {local} is not of the address family of {address}")]
    FamilyMismatch { local: String, address: String },
    /// RFC 4456 §2: route reflection happens between internal peers only.
    #[error(
        "rr_client applies to iBGP neighbors only (asn {peer} differs from the local asn {local})"
    )]
    ClientNotInternal { peer: u32, local: u32 },
    #[error("rr_client needs global.cluster_id (only a route reflector has clients)")]
    ClientWithoutCluster,
    /// Re-advertising our own installed routes would loop them through the network.
    #[error("protocol {0} is kernel.protocol, the routes Starling installs itself")]
    OwnProtocol(u8),
    #[error(
        "nothing can be advertised: set prefixes, or configure [etcd] whose /config has pools"
    )]
    NoAdvertisePrefixes,
    #[error("{key:?} is not a key of the datastore model (expected /config, /nodes/<name> or /peers/<name>)")]
    UnknownDatastoreKey { key: String },
    #[error("asn {datastore} differs from global.asn {file}")]
    AsnMismatch { datastore: u32, file: u32 },
    #[error("rr_cluster_id {datastore} differs from global.cluster_id {file}")]
    ClusterIdMismatch { datastore: String, file: String },
    #[error("address {address} is already used by {other}")]
    AddressInUse { address: String, other: String },
    #[error("name {name:?} is already used by {other}")]
    NameInUse { name: String, other: String },
    #[error("no {what} named {name:?} is defined")]
    UnknownReference { what: &'static str, name: String },
    #[error("ge {ge} le {le} matches nothing inside {prefix}: need {} <= ge <= le <= {max}", prefix.prefix_len())]
    PrefixRange {
        prefix: IpNet,
        ge: u8,
        le: u8,
        max: u8,
    },
    /// Our AS at the front of a received path would make it look like our own announcement.
    #[error("policy {policy:?} prepends to the AS_PATH, which only export policies may do")]
    PrependOnImport { policy: String },
}

/// One problem in a configuration source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The file name as given to the loader, or the datastore key of the object.
    pub origin: String,
    /// Where in the source text, when it is known.
    pub position: Option<Position>,
    /// Which value; the root path when the problem concerns the source as a whole.
    pub path: KeyPath,
    pub kind: ErrorKind,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin)?;
        if let Some(position) = self.position {
            write!(f, ":{}:{}", position.line, position.column)?;
        }
        if !self.path.is_root() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.kind)
    }
}

/// Every problem found in one source, in the order they appear in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    pub fn iter(&self) -> impl Iterator<Item = &ConfigError> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One error per line.
impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

/// A problem found by source-independent validation, before it is given a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub path: KeyPath,
    pub kind: ErrorKind,
}

/// Collects the problems of one validation pass.
#[derive(Debug, Default)]
pub(crate) struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn push(&mut self, path: KeyPath, kind: ErrorKind) {
        self.0.push(Problem { path, kind });
    }

    /// Records the error of `result`, if any, and passes its value on.
    pub fn check<T>(&mut self, path: &KeyPath, result: Result<T, ErrorKind>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(kind) => {
                self.push(path.clone(), kind);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Gives the problems of a source without positions (datastore objects) their origin.
    pub fn into_errors(self, origin: &str) -> Vec<ConfigError> {
        self.0
            .into_iter()
            .map(|problem| ConfigError {
                origin: origin.to_owned(),
                position: None,
                path: problem.path,
                kind: problem.kind,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths_display_like_toml() {
        let path = KeyPath::root().key("neighbor").index(2).key("hold_time");
        assert_eq!(path.to_string(), "neighbor[2].hold_time");
        let label = KeyPath::root()
            .key("labels")
            .key("topology.kubernetes.io/zone");
        assert_eq!(label.to_string(), "labels.\"topology.kubernetes.io/zone\"");
    }

    #[test]
    fn positions_count_lines_and_characters() {
        let text = "a = 1\nµb = 2\n";
        assert_eq!(
            Position::of_offset(text, 0),
            Position { line: 1, column: 1 }
        );
        // 'µ' is two bytes but one column.
        assert_eq!(
            Position::of_offset(text, 8),
            Position { line: 2, column: 2 }
        );
    }
}
