//! The etcd objects (`config::datastore`): values of `/config`, `/nodes/<name>` and
//! `/peers/<name>` as a watcher reads them, then this node's derived configuration
//! (`Config::combine`). Any keys and values give checked objects or errors named by their key,
//! and the combined configuration never has two neighbors with one name or one address.
//!
//! Input: records separated by NUL octets, alternately a key and its value. A key starting
//! with `/` is taken relative to the prefix (`/nodes/node-a`), anything else as a full key
//! (which may be outside the prefix). The local node is `node-a`; the file configuration is
//! `BASE` below, with one neighbor of its own for the derived ones to collide with.
#![no_main]

use std::collections::HashSet;
use std::path::Path;

use config::datastore::Object;
use config::{Config, Snapshot};
use libfuzzer_sys::fuzz_target;

const PREFIX: &str = "/starling/v1";
const LOCAL_NODE: &str = "node-a";
const BASE_DIR: &str = "/nonexistent/starling-fuzz";
/// At most this many objects per input: derivation is quadratic in nodes.
const MAX_OBJECTS: usize = 64;
const BASE: &str = r#"
[global]
asn = 64512
router_id = "10.0.0.11"

[[neighbor]]
name = "tor"
address = "10.1.0.1"
asn = 65000
"#;

fuzz_target!(|data: &[u8]| {
    let Ok(base) = Config::from_toml(BASE, "base.toml", Path::new(BASE_DIR)) else {
        panic!("the base configuration is valid");
    };
    let mut records = data.split(|&octet| octet == 0);
    let mut objects = Vec::new();
    while let (Some(key), Some(value)) = (records.next(), records.next()) {
        if objects.len() == MAX_OBJECTS {
            break;
        }
        let Ok(key) = std::str::from_utf8(key) else {
            continue;
        };
        let key = if key.starts_with('/') {
            format!("{PREFIX}{key}")
        } else {
            key.to_owned()
        };
        objects.push((key, value));
    }
    for (key, value) in &objects {
        if let Err(errors) = Object::parse(PREFIX, key, value, Path::new(BASE_DIR)) {
            assert!(!errors.is_empty(), "{key}: Err with no error");
            for error in &errors {
                assert_eq!(&error.origin, key, "{error}");
                let _ = error.to_string();
            }
        }
    }
    let (snapshot, _) = Snapshot::from_objects(
        PREFIX,
        objects.iter().map(|(key, value)| (key.as_str(), *value)),
        Path::new(BASE_DIR),
    );
    let (combined, errors) = base.combine(LOCAL_NODE, &snapshot);
    for error in &errors {
        let _ = error.to_string();
    }
    let mut names = HashSet::new();
    let mut addresses = HashSet::new();
    for neighbor in &combined.neighbors {
        assert!(
            names.insert(neighbor.name.clone()),
            "two neighbors named {}",
            neighbor.name
        );
        assert!(
            addresses.insert(neighbor.address.clone()),
            "two neighbors at {:?}",
            neighbor.address
        );
    }
    assert!(
        combined.neighbors.iter().any(|n| n.name == "tor"),
        "the file's neighbor was dropped"
    );
});
