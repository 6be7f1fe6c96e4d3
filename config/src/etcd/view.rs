//! The source's picture of the datastore: the valid value in force for each key, and the keys
//! whose latest value is rejected. Pure: etcd puts, deletes and full reads come in as values,
//! [`SnapshotUpdate`]s go out.
//!
//! Each object is checked alone ([`Object::parse`]): a bad value is logged once and listed in
//! the rejections, and the previous value of that key stays in force; the rest applies.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::datastore::{DatastoreKey, Object, Snapshot};
use crate::error::{ConfigError, ErrorKind, KeyPath};
use crate::source::{Origin, Rejection, Revision, SnapshotUpdate};

/// One key and value as etcd holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    /// The revision of this value (`mod_revision`).
    pub revision: Revision,
}

#[derive(Debug, Clone)]
pub(crate) struct View {
    prefix: String,
    /// Peers' relative `password_file`s are relative to this.
    base_dir: PathBuf,
    /// The raw value in force for each valid key: what the cache saves.
    in_force: BTreeMap<String, Vec<u8>>,
    snapshot: Snapshot,
    rejected: BTreeMap<String, Rejection>,
    revision: Option<Revision>,
}

impl View {
    pub fn new(prefix: &str, base_dir: PathBuf) -> View {
        View {
            prefix: prefix.to_owned(),
            base_dir,
            in_force: BTreeMap::new(),
            snapshot: Snapshot::default(),
            rejected: BTreeMap::new(),
            revision: None,
        }
    }

    /// The revision every change up to which is applied; `None` before the first read.
    pub fn revision(&self) -> Option<Revision> {
        self.revision
    }

    /// The valid values in force, by full key.
    pub fn in_force(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.in_force
    }

    /// A new value of a key. Applied if valid; otherwise rejected, and the key's previous
    /// value stays in force.
    pub fn put(&mut self, entry: &Entry) {
        self.advance(entry.revision);
        let key = match String::from_utf8(entry.key.clone()) {
            Ok(key) => key,
            Err(error) => {
                let key = String::from_utf8_lossy(error.as_bytes()).into_owned();
                let errors = vec![unknown_key(&key)];
                self.reject(key, entry.revision, errors);
                return;
            }
        };
        match Object::parse(&self.prefix, &key, &entry.value, &self.base_dir) {
            Ok(object) => {
                self.snapshot.insert(object);
                self.rejected.remove(&key);
                self.in_force.insert(key, entry.value.clone());
            }
            Err(errors) => self.reject(key, entry.revision, errors),
        }
    }

    /// A key was deleted: its object leaves the snapshot, and so does its rejection.
    pub fn delete(&mut self, key: &[u8], revision: Revision) {
        let key = String::from_utf8_lossy(key).into_owned();
        if let Some(model_key) = DatastoreKey::parse(&self.prefix, &key) {
            self.snapshot.remove(&model_key);
        }
        self.in_force.remove(&key);
        self.rejected.remove(&key);
        self.advance(revision);
    }

    /// A full read at `revision`: keys it lacks are deleted, the others put (so a key whose
    /// new value is bad keeps its previous one).
    pub fn replace(&mut self, entries: &[Entry], revision: Revision) {
        let present: BTreeSet<String> = entries
            .iter()
            .map(|entry| String::from_utf8_lossy(&entry.key).into_owned())
            .collect();
        let gone: Vec<String> = self
            .in_force
            .keys()
            .chain(self.rejected.keys())
            .filter(|key| !present.contains(*key))
            .cloned()
            .collect();
        for key in gone {
            self.delete(key.as_bytes(), revision);
        }
        for entry in entries {
            self.put(entry);
        }
        // A full read reaches the store's revision even when the newest write was to a key
        // outside the prefix.
        self.revision = Some(revision);
    }

    pub fn update(&self, origin: Origin) -> Option<SnapshotUpdate> {
        Some(SnapshotUpdate {
            revision: self.revision?,
            snapshot: self.snapshot.clone(),
            rejected: self.rejected.values().cloned().collect(),
            origin,
        })
    }

    fn reject(&mut self, key: String, revision: Revision, errors: Vec<ConfigError>) {
        let rejection = Rejection {
            key: key.clone(),
            revision,
            errors,
        };
        // A full read meets the same bad value again: it was logged already.
        if self.rejected.get(&key) != Some(&rejection) {
            tracing::warn!(
                key = %key,
                revision = revision.0,
                reason = %rejection.reason(),
                kept_previous = self.in_force.contains_key(&key),
                "datastore object rejected",
            );
        }
        self.rejected.insert(key, rejection);
    }

    fn advance(&mut self, revision: Revision) {
        self.revision = Some(self.revision.map_or(revision, |r| r.max(revision)));
    }
}

fn unknown_key(key: &str) -> ConfigError {
    ConfigError {
        origin: key.to_owned(),
        position: None,
        path: KeyPath::root(),
        kind: ErrorKind::UnknownDatastoreKey {
            key: key.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIX: &str = "/starling/v1";

    enum Step {
        Put(&'static str, &'static str, i64),
        Delete(&'static str, i64),
        /// A full read: (key, value, mod revision)…, at a revision.
        Read(&'static [(&'static str, &'static str, i64)], i64),
    }

    /// Applies the steps, then compares the node names in force, their v4 addresses, and the
    /// rejected keys.
    fn check(steps: &[Step], nodes: &[(&str, &str)], rejected: &[&str], revision: i64) {
        let mut view = View::new(PREFIX, PathBuf::from("/nonexistent"));
        let entry = |key: &str, value: &str, revision: i64| Entry {
            key: format!("{PREFIX}{key}").into_bytes(),
            value: value.as_bytes().to_vec(),
            revision: Revision(revision),
        };
        for step in steps {
            match step {
                Step::Put(key, value, revision) => view.put(&entry(key, value, *revision)),
                Step::Delete(key, revision) => {
                    view.delete(format!("{PREFIX}{key}").as_bytes(), Revision(*revision))
                }
                Step::Read(entries, revision) => {
                    let entries: Vec<Entry> =
                        entries.iter().map(|(k, v, r)| entry(k, v, *r)).collect();
                    view.replace(&entries, Revision(*revision));
                }
            }
        }
        let Some(update) = view.update(Origin::Datastore) else {
            panic!("no update after {} steps", steps.len());
        };
        let got: Vec<(String, String)> = update
            .snapshot
            .nodes
            .values()
            .map(|node| {
                let address = node.address_v4.map(|a| a.to_string()).unwrap_or_default();
                (node.name.clone(), address)
            })
            .collect();
        let want: Vec<(String, String)> = nodes
            .iter()
            .map(|(n, a)| (n.to_string(), a.to_string()))
            .collect();
        assert_eq!(got, want, "nodes in force");
        let got: Vec<String> = update.rejected.iter().map(|r| r.key.clone()).collect();
        let want: Vec<String> = rejected.iter().map(|k| format!("{PREFIX}{k}")).collect();
        assert_eq!(got, want, "rejected keys");
        assert_eq!(update.revision, Revision(revision), "revision");
        assert_eq!(
            view.in_force().keys().count(),
            update.snapshot.nodes.len(),
            "raw values in force"
        );
    }

    const A1: &str = r#"{"address_v4":"10.0.0.1"}"#;
    const A2: &str = r#"{"address_v4":"10.0.0.2"}"#;
    const BAD: &str = r#"{"address_v4":"not an address"}"#;

    #[test]
    fn puts_and_deletes_apply_in_order() {
        check(
            &[
                Step::Put("/nodes/a", A1, 2),
                Step::Put("/nodes/b", A1, 3),
                Step::Put("/nodes/a", A2, 4),
                Step::Delete("/nodes/b", 5),
            ],
            &[("a", "10.0.0.2")],
            &[],
            5,
        );
    }

    #[test]
    fn a_bad_value_is_rejected_and_the_previous_one_stays() {
        check(
            &[Step::Put("/nodes/a", A1, 2), Step::Put("/nodes/a", BAD, 3)],
            &[("a", "10.0.0.1")],
            &["/nodes/a"],
            3,
        );
    }

    #[test]
    fn a_good_value_clears_the_rejection() {
        check(
            &[Step::Put("/nodes/a", BAD, 2), Step::Put("/nodes/a", A2, 3)],
            &[("a", "10.0.0.2")],
            &[],
            3,
        );
    }

    #[test]
    fn deleting_a_rejected_key_forgets_both() {
        check(
            &[
                Step::Put("/nodes/a", A1, 2),
                Step::Put("/nodes/a", BAD, 3),
                Step::Delete("/nodes/a", 4),
            ],
            &[],
            &[],
            4,
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        check(&[Step::Put("/frobs/x", A1, 2)], &[], &["/frobs/x"], 2);
    }

    #[test]
    fn a_full_read_deletes_what_it_lacks_and_keeps_previous_values_of_bad_keys() {
        check(
            &[
                Step::Put("/nodes/a", A1, 2),
                Step::Put("/nodes/b", A1, 3),
                Step::Put("/nodes/c", BAD, 4),
                Step::Read(&[("/nodes/a", BAD, 9), ("/nodes/d", A2, 8)], 12),
            ],
            &[("a", "10.0.0.1"), ("d", "10.0.0.2")],
            &["/nodes/a"],
            12,
        );
    }
}
