//! The daemon's reload path without sockets or root: a daemon built from a configuration
//! (no listeners, a passive neighbor, a RIB queue of one slot that nobody reads) is moved
//! through reloads, and what reaches the RIB is read back in order.

use std::path::Path;

use tokio::sync::mpsc;

use super::{Daemon, Outbox};
use crate::rib::{self, RibEvent};

fn config(text: &str) -> config::Config {
    config::Config::from_toml(text, "test.toml", Path::new("/"))
        .unwrap_or_else(|errors| panic!("{errors}"))
}

const GLOBAL: &str = "[global]\nasn = 64512\nrouter_id = \"192.0.2.1\"\nlisten = []\n\
                      control_socket = \"/nonexistent/bgpd.ctl\"\n";

const POLICIES: &str = "[[policy]]\nname = \"a\"\n[[policy.term]]\nset = { local_pref = 100 }\n\
                        [[policy]]\nname = \"b\"\n[[policy.term]]\nset = { local_pref = 200 }\n\
                        [[policy]]\nname = \"c\"\n[[policy.term]]\nset = { local_pref = 300 }\n";

/// The configuration with the neighbor importing through `policy`, and a `[[route]]` or not.
fn version(policy: &str, route: bool) -> config::Config {
    let route = if route {
        "[[route]]\nprefix = \"10.96.0.0/12\"\n"
    } else {
        ""
    };
    config(&format!(
        "{GLOBAL}{POLICIES}[[neighbor]]\nname = \"tor1\"\naddress = \"10.0.0.1\"\nasn = 65000\n\
         passive = true\nimport = [\"{policy}\"]\n{route}"
    ))
}

/// An event as the test compares it.
fn describe(event: &RibEvent, configs: &[(&str, &config::Config)]) -> String {
    match event {
        RibEvent::Configure { peer, config } => {
            let policy = configs
                .iter()
                .find(|(_, c)| rib::peer_config(&c.neighbors[0], c.global.asn) == *config)
                .map_or("?", |(name, _)| name);
            format!("configure {peer} with {policy}")
        }
        RibEvent::Originate { prefix, .. } => format!("originate {prefix}"),
        RibEvent::WithdrawLocal { prefix } => format!("withdraw {prefix}"),
        RibEvent::NeighborsKnown => "neighbors known".to_owned(),
        other => format!("{other:?}"),
    }
}

/// Two quick reloads (a `[[route]]` added then removed, the neighbor's import policy changed
/// twice) while the RIB's queue is full: their effects wait in the outbox, behind each other,
/// and reach the RIB in order once it reads.
#[tokio::test]
async fn two_quick_reloads_reach_a_full_rib_in_order() {
    let (v0, v1, v2) = (version("a", false), version("b", true), version("c", false));
    let mut daemon = Daemon::new("/nonexistent/bgpd.toml".into(), v0.clone()).expect("daemon");
    let (queue, mut rib) = mpsc::channel(1);
    daemon.rib = Outbox::new("RIB", queue.clone());
    daemon.rib_queue = queue;
    daemon.add_neighbor(&v0.neighbors[0]);
    daemon.announce_neighbors_known();
    assert!(!daemon.rib.is_empty(), "the queue's one slot is taken");

    daemon.apply_config(v1.clone()).expect("first reload");
    daemon.apply_config(v2.clone()).expect("second reload");
    assert_eq!(daemon.rib.len(), 5);

    let mut received = Vec::new();
    while let Ok(Some(event)) =
        tokio::time::timeout(std::time::Duration::from_millis(100), rib.recv()).await
    {
        received.push(describe(&event, &[("a", &v0), ("b", &v1), ("c", &v2)]));
        if !daemon.rib.is_empty() {
            let permit = daemon.rib.ready().await;
            daemon.rib.deliver(permit);
        }
    }
    assert_eq!(
        received,
        [
            "configure peer 0 with a",
            "neighbors known",
            "configure peer 0 with b",
            "originate 10.96.0.0/12",
            "configure peer 0 with c",
            "withdraw 10.96.0.0/12",
        ]
    );
    assert!(daemon.rib.is_empty());
}

/// A control request waits behind the reload before it in the same outbox, so `show routes`
/// after `reload` sees the reload's effects.
#[tokio::test]
async fn a_listing_follows_the_changes_before_it() {
    let (v0, v1) = (version("a", false), version("a", true));
    let mut daemon = Daemon::new("/nonexistent/bgpd.toml".into(), v0).expect("daemon");
    let (queue, mut rib) = mpsc::channel(1);
    daemon.rib = Outbox::new("RIB", queue.clone());
    daemon.rib_queue = queue;
    daemon.apply_config(v1).expect("reload");
    let (reply, _answer) = tokio::sync::oneshot::channel();
    daemon.control(crate::control::ControlRequest {
        request: crate::control::protocol::Request::ShowRoutes {
            prefix: None,
            neighbor: None,
            table: crate::control::protocol::RouteTable::LocRib,
        },
        reply,
    });
    let first = rib.recv().await.expect("an event");
    assert!(matches!(first, RibEvent::Originate { .. }), "{first:?}");
    let permit = daemon.rib.ready().await;
    daemon.rib.deliver(permit);
    let second = rib.recv().await.expect("an event");
    assert!(matches!(second, RibEvent::ShowRoutes(_)), "{second:?}");
}
