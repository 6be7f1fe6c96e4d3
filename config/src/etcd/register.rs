//! `register = true`: this node writes its own `/nodes/<name>` entry (docs/interface.md, "etcd
//! data model") on start and after each reconnection.
//!
//! The node owns three fields of its entry: `address_v4`, `address_v6` and `asn`, each
//! written when known and removed when not. `rr_cluster_id` is written when the file sets
//! `cluster_id` and otherwise left as it is: an operator may make a node a reflector in the
//! datastore alone, and a restart must not undo that. Every other field, `labels` above all,
//! is someone else's and is kept as it is. The write is a read-modify-write guarded by the entry's
//! revision (an etcd transaction), retried a bounded number of times when someone else wrote
//! in between, and skipped when the entry already says what it should.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use etcd_client::{Client, Compare, CompareOp, Txn, TxnOp};
use proto::{Asn, ClusterId};
use serde_json::{Map, Value};

use super::{timed, EtcdError};
use crate::source::Revision;

/// Read-modify-write rounds before giving up until the next reconnection.
const MAX_ATTEMPTS: u32 = 5;

/// What this node says about itself. At least one address is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRegistration {
    pub address_v4: Option<Ipv4Addr>,
    pub address_v6: Option<Ipv6Addr>,
    /// `None`: the cluster's AS.
    pub asn: Option<Asn>,
    /// Set: this node is a route reflector with this CLUSTER_ID (RFC 4456 §7).
    pub rr_cluster_id: Option<ClusterId>,
}

impl NodeRegistration {
    /// The fields the node writes, with their values (`None`: remove).
    fn fields(&self) -> Vec<(&'static str, Option<Value>)> {
        let text = |value: String| Some(Value::String(value));
        let mut fields = vec![
            (
                "address_v4",
                self.address_v4.map(|a| a.to_string()).and_then(text),
            ),
            (
                "address_v6",
                self.address_v6.map(|a| a.to_string()).and_then(text),
            ),
            ("asn", self.asn.map(|asn| Value::from(asn.0))),
        ];
        if let Some(id) = self.rr_cluster_id {
            fields.push(("rr_cluster_id", text(id.0.to_string())));
        }
        fields
    }
}

/// What registering did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Registered {
    /// The entry already said it.
    Unchanged,
    /// Written at this revision.
    Written(Revision),
}

/// The new value of the entry whose current value is `existing`, or `None` when it already
/// holds the registration. A value that is not a JSON object is replaced whole.
pub(crate) fn merge(existing: Option<&[u8]>, registration: &NodeRegistration) -> Option<Vec<u8>> {
    let current: Option<Map<String, Value>> =
        existing.and_then(|bytes| match serde_json::from_slice(bytes) {
            Ok(Value::Object(fields)) => Some(fields),
            _ => None,
        });
    if existing.is_some() && current.is_none() {
        tracing::warn!("this node's entry is not a JSON object; replacing it");
    }
    let mut fields = current.clone().unwrap_or_default();
    for (name, value) in registration.fields() {
        match value {
            Some(value) => fields.insert(name.to_owned(), value),
            None => fields.remove(name),
        };
    }
    if current.as_ref() == Some(&fields) {
        return None;
    }
    // Serializing a map of JSON values cannot fail (its keys are strings).
    serde_json::to_vec(&Value::Object(fields)).ok()
}

/// Writes the registration to `key` unless it is there already.
pub(crate) async fn register(
    client: &mut Client,
    key: &str,
    registration: &NodeRegistration,
    request_timeout: Duration,
) -> Result<Registered, EtcdError> {
    for _ in 0..MAX_ATTEMPTS {
        let current = timed(
            request_timeout,
            "read this node's entry",
            client.get(key, None),
        )
        .await?;
        let existing = current.kvs().first();
        let Some(value) = merge(existing.map(|kv| kv.value()), registration) else {
            return Ok(Registered::Unchanged);
        };
        // Write only over the value just read: a missing key has version 0, an existing one
        // must not have changed since.
        let unchanged = match existing {
            None => Compare::version(key, CompareOp::Equal, 0),
            Some(kv) => Compare::mod_revision(key, CompareOp::Equal, kv.mod_revision()),
        };
        let transaction = Txn::new()
            .when([unchanged])
            .and_then([TxnOp::put(key, value, None)]);
        let written = timed(
            request_timeout,
            "write this node's entry",
            client.txn(transaction),
        )
        .await?;
        if written.succeeded() {
            let revision = written.header().map_or(0, |header| header.revision());
            return Ok(Registered::Written(Revision(revision)));
        }
        tracing::debug!(key, "this node's entry changed while registering; again");
    }
    Err(EtcdError::RegisterConflict {
        attempts: MAX_ATTEMPTS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(existing: Option<&str>, registration: &NodeRegistration, want: Option<&str>) {
        let got = merge(existing.map(str::as_bytes), registration)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
        assert_eq!(got.as_deref(), want, "merging into {existing:?}");
    }

    fn node(v4: Option<[u8; 4]>, asn: Option<u32>, cluster: Option<[u8; 4]>) -> NodeRegistration {
        NodeRegistration {
            address_v4: v4.map(Ipv4Addr::from),
            address_v6: None,
            asn: asn.map(Asn),
            rr_cluster_id: cluster.map(|c| ClusterId(Ipv4Addr::from(c))),
        }
    }

    #[test]
    fn creates_a_missing_entry() {
        check(
            None,
            &node(Some([10, 0, 0, 1]), Some(64512), None),
            Some(r#"{"address_v4":"10.0.0.1","asn":64512}"#),
        );
    }

    #[test]
    fn keeps_labels_and_other_fields() {
        check(
            Some(r#"{"address_v4":"10.0.0.9","labels":{"rack":"r1"},"note":"x"}"#),
            &node(Some([10, 0, 0, 1]), None, Some([244, 0, 0, 1])),
            Some(
                r#"{"address_v4":"10.0.0.1","labels":{"rack":"r1"},"note":"x","rr_cluster_id":"244.0.0.1"}"#,
            ),
        );
    }

    #[test]
    fn removes_owned_fields_it_no_longer_has() {
        check(
            Some(r#"{"address_v4":"10.0.0.1","address_v6":"fd00::1","asn":64512}"#),
            &node(Some([10, 0, 0, 1]), None, None),
            Some(r#"{"address_v4":"10.0.0.1"}"#),
        );
    }

    /// A reflector made in the datastore alone stays one across the node's restarts.
    #[test]
    fn keeps_a_cluster_id_the_file_does_not_set() {
        check(
            Some(r#"{"address_v4":"10.0.0.1","rr_cluster_id":"244.0.0.1"}"#),
            &node(Some([10, 0, 0, 1]), None, None),
            None,
        );
    }

    #[test]
    fn writes_nothing_when_the_entry_already_says_it() {
        check(
            Some(r#"{"labels":{"rack":"r1"}, "asn": 64512, "address_v4": "10.0.0.1"}"#),
            &node(Some([10, 0, 0, 1]), Some(64512), None),
            None,
        );
    }

    #[test]
    fn replaces_a_value_that_is_not_an_object() {
        check(
            Some("[1, 2"),
            &node(Some([10, 0, 0, 1]), None, None),
            Some(r#"{"address_v4":"10.0.0.1"}"#),
        );
    }
}
