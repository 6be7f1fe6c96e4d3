//! `bgpd::fib` against a real kernel: each test creates its own network namespace with a veth
//! pair (`v0` 10.0.0.1/24 fd00::1/64 ↔ `v1`), runs the FIB in a thread that `setns`'d into it,
//! and asserts through `ip -n NS -j route`, never through the FIB's internals. Without root the
//! tests are skipped with a message, except under `CI=true`, where they fail.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use bgpd::fib::{Fib, FibEntry, InstallError, KernelRouteEvent};
use ipnet::IpNet;
use rr::{FibChange, FibOp};
use serde_json::Value;
use smallvec::SmallVec;

/// How long a route event may take to show in the kernel or as an event (bounded waits).
const DEADLINE: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(20);

/// The `[kernel]` section of each test, with `extra` appended (e.g. `[kernel.advertise]`).
fn kernel_config(persist_on_exit: bool, ecmp_max_paths: u16, extra: &str) -> config::Kernel {
    kernel_config_in(254, persist_on_exit, ecmp_max_paths, extra)
}

fn kernel_config_in(
    table: u32,
    persist_on_exit: bool,
    ecmp_max_paths: u16,
    extra: &str,
) -> config::Kernel {
    let text = format!(
        "[global]\nasn = 64512\n\n[kernel]\nprogram = true\nprotocol = 186\ntable = {table}\n\
         ecmp_max_paths = {ecmp_max_paths}\npersist_on_exit = {persist_on_exit}\n{extra}"
    );
    let config = config::Config::from_toml(&text, "test", std::path::Path::new("."))
        .unwrap_or_else(|errors| panic!("test config: {errors:?}"));
    config
        .kernel
        .unwrap_or_else(|| panic!("test config has [kernel]"))
}

fn replace(prefix: &str, next_hops: &[&str]) -> FibChange {
    FibChange {
        prefix: net(prefix),
        op: FibOp::Replace {
            next_hops: next_hops
                .iter()
                .map(|hop| {
                    hop.parse::<IpAddr>()
                        .unwrap_or_else(|e| panic!("{hop}: {e}"))
                })
                .collect::<SmallVec<[IpAddr; 1]>>(),
        },
    }
}

fn delete(prefix: &str) -> FibChange {
    FibChange {
        prefix: net(prefix),
        op: FibOp::Delete,
    }
}

fn net(prefix: &str) -> IpNet {
    prefix.parse().unwrap_or_else(|e| panic!("{prefix}: {e}"))
}

/// The gateways of the kernel route `prefix` of protocol `protocol` (as `ip` names it), sorted;
/// `None` when there is no such route.
fn gateways(ns: &Namespace, prefix: &str, protocol: &str) -> Option<Vec<String>> {
    let route = ns.routes(prefix).into_iter().find(|route| {
        route["protocol"].as_str() == Some(protocol)
            || route["protocol"].as_u64().map(|n| n.to_string()).as_deref() == Some(protocol)
    })?;
    let mut hops: Vec<String> = match route["nexthops"].as_array() {
        Some(paths) => paths
            .iter()
            .filter_map(|path| path["gateway"].as_str().map(str::to_owned))
            .collect(),
        None => route["gateway"]
            .as_str()
            .map(str::to_owned)
            .into_iter()
            .collect(),
    };
    hops.sort();
    Some(hops)
}

/// Waits (bounded) until `condition` holds.
fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(POLL);
    }
}

async fn next_event(
    events: &mut tokio::sync::mpsc::Receiver<KernelRouteEvent>,
) -> Option<KernelRouteEvent> {
    tokio::time::timeout(DEADLINE, events.recv())
        .await
        .ok()
        .flatten()
}

fn entry<'a>(status: &'a [FibEntry], prefix: &str) -> &'a FibEntry {
    status
        .iter()
        .find(|entry| entry.prefix == net(prefix))
        .unwrap_or_else(|| panic!("{prefix} not in the FIB status: {status:?}"))
}

fn strings(items: &[&str]) -> Option<Vec<String>> {
    Some(items.iter().map(|item| (*item).to_owned()).collect())
}

#[test]
fn install_replace_delete() {
    let Some(ns) = Namespace::create("install") else {
        return;
    };
    ns.run(|ns| async move {
        let (fib, _events) = Fib::start(&kernel_config(false, 16, ""))
            .await
            .expect("start");
        fib.change(replace("10.1.0.0/24", &["10.0.0.2"]))
            .await
            .expect("change");
        fib.change(replace("2001:db8:1::/48", &["fd00::2"]))
            .await
            .expect("change");
        fib.flush().await.expect("flush");
        assert_eq!(gateways(&ns, "10.1.0.0/24", "bgp"), strings(&["10.0.0.2"]));
        assert_eq!(
            gateways(&ns, "2001:db8:1::/48", "bgp"),
            strings(&["fd00::2"])
        );
        let route = &ns.routes("10.1.0.0/24")[0];
        assert_eq!(route["metric"].as_u64(), Some(u64::from(bgpd::fib::METRIC)));

        // Replace in place; the latest of several queued changes wins.
        fib.change(replace("10.1.0.0/24", &["10.0.0.4"]))
            .await
            .expect("change");
        fib.change(replace("10.1.0.0/24", &["10.0.0.3"]))
            .await
            .expect("change");
        fib.flush().await.expect("flush");
        assert_eq!(gateways(&ns, "10.1.0.0/24", "bgp"), strings(&["10.0.0.3"]));
        assert_eq!(ns.routes("10.1.0.0/24").len(), 1, "replaced, not added");

        fib.change(delete("2001:db8:1::/48")).await.expect("change");
        fib.flush().await.expect("flush");
        assert_eq!(gateways(&ns, "2001:db8:1::/48", "bgp"), None);
        let status = fib.status().await.expect("status");
        assert!(entry(&status, "10.1.0.0/24").installed);
        assert_eq!(status.len(), 1);

        // Without persist_on_exit a stop removes what we installed.
        fib.stop().await.expect("stop");
        assert_eq!(gateways(&ns, "10.1.0.0/24", "bgp"), None);
    });
}

#[test]
fn ecmp_multipath_up_to_max_paths() {
    let Some(ns) = Namespace::create("ecmp") else {
        return;
    };
    ns.run(|ns| async move {
        let (fib, _events) = Fib::start(&kernel_config(true, 2, ""))
            .await
            .expect("start");
        fib.change(replace("10.1.0.0/24", &["10.0.0.3", "10.0.0.2"]))
            .await
            .expect("change");
        fib.change(replace(
            "10.1.1.0/24",
            &["10.0.0.4", "10.0.0.3", "10.0.0.2"],
        ))
        .await
        .expect("c");
        fib.change(replace("2001:db8:1::/48", &["fd00::2", "fd00::3"]))
            .await
            .expect("change");
        // An IPv4 prefix takes only IPv4 next hops.
        fib.change(replace("10.1.2.0/24", &["fd00::2", "10.0.0.2"]))
            .await
            .expect("change");
        fib.flush().await.expect("flush");
        assert_eq!(
            gateways(&ns, "10.1.0.0/24", "bgp"),
            strings(&["10.0.0.2", "10.0.0.3"])
        );
        assert_eq!(
            gateways(&ns, "10.1.1.0/24", "bgp"),
            strings(&["10.0.0.2", "10.0.0.3"])
        );
        assert_eq!(
            gateways(&ns, "2001:db8:1::/48", "bgp"),
            strings(&["fd00::2", "fd00::3"])
        );
        assert_eq!(gateways(&ns, "10.1.2.0/24", "bgp"), strings(&["10.0.0.2"]));
        // persist_on_exit: a stop leaves the routes.
        fib.stop().await.expect("stop");
        assert_eq!(
            gateways(&ns, "10.1.0.0/24", "bgp"),
            strings(&["10.0.0.2", "10.0.0.3"])
        );
    });
}

#[test]
fn foreign_routes_are_untouched() {
    let Some(ns) = Namespace::create("foreign") else {
        return;
    };
    ns.ip(&[
        "route",
        "add",
        "10.2.0.0/24",
        "via",
        "10.0.0.4",
        "proto",
        "static",
    ]);
    ns.ip(&[
        "route",
        "add",
        "10.2.1.0/24",
        "via",
        "10.0.0.4",
        "proto",
        "static",
        "metric",
        "32",
    ]);
    ns.run(|ns| async move {
        let (fib, _events) = Fib::start(&kernel_config(false, 16, ""))
            .await
            .expect("start");
        fib.initial_convergence_done().await.expect("converged");
        fib.change(replace("10.2.0.0/24", &["10.0.0.2"]))
            .await
            .expect("change");
        fib.flush().await.expect("flush");
        assert_eq!(gateways(&ns, "10.2.0.0/24", "bgp"), strings(&["10.0.0.2"]));
        assert_eq!(
            gateways(&ns, "10.2.0.0/24", "static"),
            strings(&["10.0.0.4"])
        );
        // A foreign route at our metric shares the kernel's key: never replaced.
        fib.change(replace("10.2.1.0/24", &["10.0.0.2"]))
            .await
            .expect("change");
        fib.flush().await.expect("flush");
        let status = fib.status().await.expect("status");
        let refused = entry(&status, "10.2.1.0/24");
        assert!(!refused.installed && refused.error.is_some(), "{refused:?}");
        assert_eq!(
            gateways(&ns, "10.2.1.0/24", "static"),
            strings(&["10.0.0.4"])
        );
        fib.change(delete("10.2.0.0/24")).await.expect("change");
        // A delete of a prefix we do not hold must not reach a foreign route at our metric.
        fib.change(delete("10.2.1.0/24")).await.expect("change");
        fib.flush().await.expect("flush");
        assert_eq!(gateways(&ns, "10.2.0.0/24", "bgp"), None);
        assert_eq!(
            gateways(&ns, "10.2.0.0/24", "static"),
            strings(&["10.0.0.4"])
        );
        assert_eq!(
            gateways(&ns, "10.2.1.0/24", "static"),
            strings(&["10.0.0.4"])
        );
        fib.stop().await.expect("stop");
        assert_eq!(
            gateways(&ns, "10.2.0.0/24", "static"),
            strings(&["10.0.0.4"])
        );
    });
}

#[test]
fn adopted_routes_swept_after_convergence() {
    let Some(ns) = Namespace::create("adopt") else {
        return;
    };
    for prefix in ["10.3.0.0/24", "10.3.1.0/24"] {
        ns.ip(&[
            "route", "add", prefix, "via", "10.0.0.2", "proto", "186", "metric", "32",
        ]);
    }
    // Ours from an older configuration (another metric): swept too.
    ns.ip(&[
        "route",
        "add",
        "10.3.2.0/24",
        "via",
        "10.0.0.2",
        "proto",
        "186",
        "metric",
        "7",
    ]);
    ns.run(|ns| async move {
        let (fib, _events) = Fib::start(&kernel_config(true, 16, ""))
            .await
            .expect("start");
        fib.change(replace("10.3.0.0/24", &["10.0.0.2"]))
            .await
            .expect("change");
        fib.flush().await.expect("flush");
        // Before convergence nothing is swept, and the claimed route was not touched.
        for prefix in ["10.3.0.0/24", "10.3.1.0/24", "10.3.2.0/24"] {
            assert_eq!(
                gateways(&ns, prefix, "bgp"),
                strings(&["10.0.0.2"]),
                "{prefix}"
            );
        }
        let status = fib.status().await.expect("status");
        assert!(
            entry(&status, "10.3.1.0/24").installed,
            "adopted: {status:?}"
        );
        fib.initial_convergence_done().await.expect("converged");
        fib.flush().await.expect("flush");
        assert_eq!(gateways(&ns, "10.3.0.0/24", "bgp"), strings(&["10.0.0.2"]));
        assert_eq!(gateways(&ns, "10.3.1.0/24", "bgp"), None);
        assert_eq!(gateways(&ns, "10.3.2.0/24", "bgp"), None);
        fib.stop().await.expect("stop");
    });
}

#[test]
fn deleted_owned_route_is_restored() {
    let Some(ns) = Namespace::create("restore") else {
        return;
    };
    ns.run(|ns| async move {
        let (fib, _events) = Fib::start(&kernel_config(false, 16, ""))
            .await
            .expect("start");
        fib.change(replace("10.4.0.0/24", &["10.0.0.2"]))
            .await
            .expect("change");
        fib.change(replace("2001:db8:4::/48", &["fd00::2"]))
            .await
            .expect("change");
        fib.flush().await.expect("flush");
        ns.ip(&["route", "del", "10.4.0.0/24", "proto", "bgp"]);
        ns.ip(&["-6", "route", "del", "2001:db8:4::/48", "proto", "bgp"]);
        let waiter = ns.clone();
        tokio::task::spawn_blocking(move || {
            eventually("10.4.0.0/24 restored", || {
                gateways(&waiter, "10.4.0.0/24", "bgp") == strings(&["10.0.0.2"])
            });
            eventually("2001:db8:4::/48 restored", || {
                gateways(&waiter, "2001:db8:4::/48", "bgp") == strings(&["fd00::2"])
            });
        })
        .await
        .expect("waiter");
        fib.stop().await.expect("stop");
    });
}

#[test]
fn unresolvable_next_hop_reported_then_installed() {
    let Some(ns) = Namespace::create("unreach") else {
        return;
    };
    ns.run(|ns| async move {
        let (fib, _events) = Fib::start(&kernel_config(false, 16, ""))
            .await
            .expect("start");
        fib.change(replace("10.5.0.0/24", &["192.0.2.1"]))
            .await
            .expect("change");
        fib.flush().await.expect("flush");
        let status = fib.status().await.expect("status");
        let failed = entry(&status, "10.5.0.0/24");
        assert!(!failed.installed);
        assert!(
            matches!(&failed.error, Some(InstallError::Kernel(error)) if error.errno == libc::ENETUNREACH),
            "kernel's error: {:?}",
            failed.error
        );
        let error = failed.error.as_ref().map(ToString::to_string).unwrap_or_default();
        assert!(error.contains("unreachable"), "kernel's error: {error:?}");
        assert_eq!(gateways(&ns, "10.5.0.0/24", "bgp"), None);

        // The next hop becomes reachable: the address event triggers the retry.
        ns.ip(&["addr", "add", "192.0.2.10/24", "dev", "v0"]);
        let waiter = ns.clone();
        tokio::task::spawn_blocking(move || {
            eventually("10.5.0.0/24 installed", || {
                gateways(&waiter, "10.5.0.0/24", "bgp") == strings(&["192.0.2.1"])
            });
        })
        .await
        .expect("waiter");
        fib.flush().await.expect("flush");
        let status = fib.status().await.expect("status");
        assert_eq!(
            entry(&status, "10.5.0.0/24"),
            &FibEntry {
                prefix: net("10.5.0.0/24"),
                next_hops: vec!["192.0.2.1".parse().expect("address")],
                installed: true,
                error: None,
            }
        );
        fib.stop().await.expect("stop");
    });
}

#[test]
fn advertise_filter_events() {
    let Some(ns) = Namespace::create("advert") else {
        return;
    };
    // Present before start: reported from the initial dump.
    ns.ip(&["route", "add", "10.244.3.0/26", "dev", "v0"]);
    ns.run(|ns| async move {
        let advertise = "[kernel.advertise]\nprefixes = [\"10.244.0.0/16\"]\n\
                         protocols = [\"kernel\", \"boot\", \"static\"]\n\
                         interfaces = [\"v0\"]\nblackhole = true\n";
        let (fib, mut events) = Fib::start(&kernel_config(false, 16, advertise))
            .await
            .expect("start");
        let added = |prefix| {
            Some(KernelRouteEvent::Add {
                prefix: net(prefix),
            })
        };
        let removed = |prefix| {
            Some(KernelRouteEvent::Remove {
                prefix: net(prefix),
            })
        };
        assert_eq!(next_event(&mut events).await, added("10.244.3.0/26"));

        let started = Instant::now();
        ns.ip(&["route", "add", "blackhole", "10.244.1.0/26"]);
        assert_eq!(next_event(&mut events).await, added("10.244.1.0/26"));
        eprintln!("blackhole route event after {:?}", started.elapsed());
        // Not advertised: outside the pools; on an unlisted interface; our own protocol.
        ns.ip(&["route", "add", "10.9.0.0/24", "dev", "v0"]);
        ns.ip(&["route", "add", "10.244.5.0/24", "dev", "v1"]);
        fib.change(replace("10.244.6.0/24", &["10.0.0.2"]))
            .await
            .expect("change");
        fib.flush().await.expect("flush");
        ns.ip(&["route", "add", "10.244.2.5/32", "dev", "v0"]);
        assert_eq!(next_event(&mut events).await, added("10.244.2.5/32"));
        ns.ip(&["route", "del", "blackhole", "10.244.1.0/26"]);
        assert_eq!(next_event(&mut events).await, removed("10.244.1.0/26"));
        fib.stop().await.expect("stop");
        assert_eq!(events.try_recv().ok(), None, "no other event");
    });
}

#[test]
fn routes_flushed_by_link_down_are_reinstalled() {
    let Some(ns) = Namespace::create("linkdown") else {
        return;
    };
    ns.run(|ns| async move {
        let (fib, _events) = Fib::start(&kernel_config(false, 16, ""))
            .await
            .expect("start");
        fib.change(replace("10.6.0.0/24", &["10.0.0.2"]))
            .await
            .expect("change");
        fib.flush().await.expect("flush");
        // The kernel drops IPv4 routes through a link that goes down, without a notification.
        ns.ip(&["link", "set", "v0", "down"]);
        assert_eq!(gateways(&ns, "10.6.0.0/24", "bgp"), None);
        ns.ip(&["link", "set", "v0", "up"]);
        let waiter = ns.clone();
        tokio::task::spawn_blocking(move || {
            eventually("10.6.0.0/24 reinstalled", || {
                gateways(&waiter, "10.6.0.0/24", "bgp") == strings(&["10.0.0.2"])
            });
        })
        .await
        .expect("waiter");
        fib.stop().await.expect("stop");
    });
}

#[test]
fn link_local_next_hop_takes_its_interface() {
    let Some(ns) = Namespace::create("linklocal") else {
        return;
    };
    ns.run(|ns| async move {
        let (fib, _events) = Fib::start(&kernel_config(false, 16, ""))
            .await
            .expect("start");
        fib.change(replace("2001:db8:7::/48", &["fe80::2"]))
            .await
            .expect("change");
        fib.flush().await.expect("flush");
        let status = fib.status().await.expect("status");
        let error = entry(&status, "2001:db8:7::/48").error.clone();
        assert_eq!(
            error,
            Some(InstallError::UnscopedLinkLocal(
                "fe80::2".parse().expect("address")
            ))
        );

        // SAFETY: if_nametoindex(3) reads a NUL-terminated name; this thread is in the namespace.
        let v0 = unsafe { libc::if_nametoindex(c"v0".as_ptr()) };
        assert_ne!(v0, 0, "v0 exists");
        fib.link_local_interface("fe80::2".parse().expect("address"), v0)
            .await
            .expect("scope");
        fib.flush().await.expect("flush");
        assert_eq!(
            gateways(&ns, "2001:db8:7::/48", "bgp"),
            strings(&["fe80::2"])
        );
        assert_eq!(ns.routes("2001:db8:7::/48")[0]["dev"].as_str(), Some("v0"));
        fib.stop().await.expect("stop");
    });
}

#[test]
fn advertise_pools_from_the_datastore() {
    let Some(ns) = Namespace::create("pools") else {
        return;
    };
    ns.run(|ns| async move {
        // No `prefixes`: the pools come from the datastore (never contacted here), combined
        // into the configuration the daemon reloads, whose advertise filter the FIB takes.
        let advertise = "[kernel.advertise]\nprotocols = [\"boot\"]\nblackhole = true\n\
                         [etcd]\nendpoints = [\"http://127.0.0.1:2379\"]\nnode = \"test\"\n";
        let pools = |pool: &str| {
            let with_pool =
                advertise.replace("blackhole", &format!("prefixes = [\"{pool}\"]\nblackhole"));
            kernel_config(false, 16, &with_pool).advertise
        };
        let (fib, mut events) = Fib::start(&kernel_config(false, 16, advertise))
            .await
            .expect("start");
        ns.ip(&["route", "add", "blackhole", "10.244.1.0/26"]);
        fib.flush().await.expect("flush");
        assert_eq!(events.try_recv().ok(), None, "no pools yet");
        fib.set_advertise(pools("10.244.0.0/16"))
            .await
            .expect("pools");
        assert_eq!(
            next_event(&mut events).await,
            Some(KernelRouteEvent::Add {
                prefix: net("10.244.1.0/26")
            })
        );
        fib.set_advertise(pools("10.245.0.0/16"))
            .await
            .expect("pools");
        assert_eq!(
            next_event(&mut events).await,
            Some(KernelRouteEvent::Remove {
                prefix: net("10.244.1.0/26")
            })
        );
        fib.stop().await.expect("stop");
    });
}

#[test]
fn only_the_configured_table_is_ours() {
    let Some(ns) = Namespace::create("table") else {
        return;
    };
    // Our protocol and metric, but in the main table: not ours when we are told table 1000.
    ns.ip(&[
        "route",
        "add",
        "10.8.0.0/24",
        "via",
        "10.0.0.4",
        "proto",
        "186",
        "metric",
        "32",
    ]);
    ns.ip(&[
        "route",
        "add",
        "10.8.1.0/24",
        "via",
        "10.0.0.4",
        "proto",
        "186",
        "metric",
        "32",
        "table",
        "1000",
    ]);
    ns.run(|ns| async move {
        let (fib, _events) = Fib::start(&kernel_config_in(1000, false, 16, ""))
            .await
            .expect("start");
        fib.change(replace("10.8.0.0/24", &["10.0.0.2"]))
            .await
            .expect("change");
        fib.initial_convergence_done().await.expect("converged");
        fib.flush().await.expect("flush");
        let ours = ns.routes_in("1000", "10.8.0.0/24");
        assert_eq!(ours.len(), 1, "{ours:?}");
        assert_eq!(ours[0]["gateway"].as_str(), Some("10.0.0.2"));
        assert!(ns.routes_in("1000", "10.8.1.0/24").is_empty(), "swept");
        assert_eq!(gateways(&ns, "10.8.0.0/24", "bgp"), strings(&["10.0.0.4"]));
        fib.stop().await.expect("stop");
        assert!(ns.routes_in("1000", "10.8.0.0/24").is_empty());
        assert_eq!(gateways(&ns, "10.8.0.0/24", "bgp"), strings(&["10.0.0.4"]));
    });
}

/// Notifications lost to an overrun (`ENOBUFS`) are made up by a full dump: the task is kept
/// from reading while 100,000 foreign routes and the deletion of one of ours happen.
#[test]
fn overrun_resync_loses_no_state() {
    const FOREIGN: u32 = 100_000;
    let Some(ns) = Namespace::create("overrun") else {
        return;
    };
    ns.run(|ns| async move {
        let advertise = "[kernel.advertise]\nprefixes = [\"11.0.0.0/8\", \"12.0.0.0/8\"]\n\
                         protocols = [\"static\"]\ninterfaces = [\"v0\"]\n";
        let (fib, mut events) = Fib::start(&kernel_config(false, 16, advertise))
            .await
            .expect("start");
        fib.change(replace("10.7.0.0/24", &["10.0.0.2"]))
            .await
            .expect("change");
        fib.flush().await.expect("flush");
        let mut batch = String::from("route del 10.7.0.0/24 proto bgp\n");
        for i in 0..FOREIGN {
            let prefix = std::net::Ipv4Addr::from(
                u32::from(std::net::Ipv4Addr::new(11, 0, 0, 0)) + (i << 8),
            );
            batch.push_str(&format!("route add {prefix}/24 dev v0 proto static\n"));
        }
        let file =
            std::env::temp_dir().join(format!("starling-fib-overrun-{}.batch", std::process::id()));
        std::fs::write(&file, batch).expect("write batch file");
        // Blocking this (the runtime's only) thread keeps the FIB task from reading.
        ns.ip(&["-batch", file.to_str().expect("utf-8 temp path")]);
        let _ = std::fs::remove_file(&file);

        let mut added = std::collections::HashSet::new();
        while added.len() < FOREIGN as usize {
            match next_event(&mut events).await {
                Some(KernelRouteEvent::Add { prefix }) => {
                    added.insert(prefix);
                }
                other => panic!("after {} adds: {other:?}", added.len()),
            }
        }
        let waiter = ns.clone();
        tokio::task::spawn_blocking(move || {
            eventually("10.7.0.0/24 restored", || {
                gateways(&waiter, "10.7.0.0/24", "bgp") == strings(&["10.0.0.2"])
            });
        })
        .await
        .expect("waiter");
        fib.stop().await.expect("stop");
    });
}

/// Installs 100,000 IPv4 routes (or `FIB_BENCH_ROUTES`) with Starling and with `ip -batch`,
/// each in a fresh namespace, and prints both rates. Run: `cargo test -p bgpd --release --test fib -- --ignored --nocapture`.
#[test]
#[ignore = "benchmark: prints figures"]
fn bench_install_100k_ipv4_routes() {
    // The i-th /24 from 11.0.0.0 on (into 12.0.0.0/8 past the 65,536th).
    bench_install("ipv4", "10.0.0.2", |i| {
        let base = u32::from(std::net::Ipv4Addr::new(11, 0, 0, 0));
        format!("{}/24", std::net::Ipv4Addr::from(base + (i << 8)))
    });
}

/// As [`bench_install_100k_ipv4_routes`], with IPv6 /64s.
#[test]
#[ignore = "benchmark: prints figures"]
fn bench_install_100k_ipv6_routes() {
    bench_install("ipv6", "fd00::2", |i| {
        format!("2001:db8:{:x}:{:x}::/64", i >> 16, i & 0xffff)
    });
}

fn bench_install(family: &str, next_hop: &'static str, prefix: fn(u32) -> String) {
    // `FIB_BENCH_ROUTES=1000000` for a larger run (a profile of the install path, say).
    let routes: u32 = std::env::var("FIB_BENCH_ROUTES")
        .ok()
        .and_then(|routes| routes.parse().ok())
        .unwrap_or(100_000);
    let Some(starling) = Namespace::create(&format!("bst{family}")) else {
        return;
    };
    let Some(iproute) = Namespace::create(&format!("bip{family}")) else {
        return;
    };

    let batch: String = (0..routes)
        .map(|i| {
            format!(
                "route replace {} via {next_hop} proto 186 metric 32\n",
                prefix(i)
            )
        })
        .collect();
    let file =
        std::env::temp_dir().join(format!("starling-fib-bench-{}.batch", std::process::id()));
    std::fs::write(&file, batch).expect("write batch file");
    let started = Instant::now();
    iproute.ip(&["-batch", file.to_str().expect("utf-8 temp path")]);
    let ip_seconds = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&file);
    assert_eq!(iproute.count_routes(family, "186"), routes as usize);

    let changes: Vec<FibChange> = (0..routes)
        .map(|i| replace(&prefix(i), &[next_hop]))
        .collect();
    let starling_seconds = starling.run_returning(|_ns| async move {
        let (fib, _events) = Fib::start(&kernel_config(true, 16, ""))
            .await
            .expect("start");
        let started = Instant::now();
        for change in changes {
            fib.change(change).await.expect("change");
        }
        fib.flush().await.expect("flush");
        let seconds = started.elapsed().as_secs_f64();
        fib.stop().await.expect("stop");
        seconds
    });
    assert_eq!(starling.count_routes(family, "186"), routes as usize);
    let rate = |seconds: f64| f64::from(routes) / seconds;
    println!(
        "fib install of {routes} {family} routes: starling {:.0} routes/s ({starling_seconds:.3} s), \
         ip -batch {:.0} routes/s ({ip_seconds:.3} s), ratio {:.2}",
        rate(starling_seconds),
        rate(ip_seconds),
        ip_seconds / starling_seconds
    );
}

/// A network namespace made for one test, deleted when the last clone is dropped.
#[derive(Clone)]
struct Namespace {
    inner: std::sync::Arc<NamespaceName>,
}

struct NamespaceName(String);

impl Drop for NamespaceName {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.0])
            .status();
    }
}

impl Namespace {
    /// `None` (after saying why) when not root; under `CI=true` that is a failure instead.
    fn create(test: &str) -> Option<Namespace> {
        // SAFETY: geteuid(2) has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "the fib tests need root (network namespaces) and CI=true"
            );
            eprintln!("skipping fib test {test}: needs root for network namespaces");
            return None;
        }
        let name = format!("stfib-{test}-{}", std::process::id());
        // A namespace left by a killed earlier run of the same pid is replaced.
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &name])
            .output();
        run(&["ip", "netns", "add", &name]);
        let namespace = Namespace {
            inner: std::sync::Arc::new(NamespaceName(name)),
        };
        namespace.ip(&["link", "set", "lo", "up"]);
        namespace.ip(&["link", "add", "v0", "type", "veth", "peer", "name", "v1"]);
        namespace.ip(&["link", "set", "v0", "up"]);
        namespace.ip(&["link", "set", "v1", "up"]);
        namespace.ip(&["addr", "add", "10.0.0.1/24", "dev", "v0"]);
        namespace.ip(&["addr", "add", "fd00::1/64", "dev", "v0", "nodad"]);
        Some(namespace)
    }

    fn name(&self) -> &str {
        &self.inner.0
    }

    /// `ip -n NS ARGS`, which must succeed.
    fn ip(&self, args: &[&str]) {
        let mut command = vec!["ip", "-n", self.name()];
        command.extend_from_slice(args);
        run(&command);
    }

    /// The kernel routes of exactly `prefix` in the main table, as `ip -j` shows them.
    fn routes(&self, prefix: &str) -> Vec<Value> {
        self.routes_in("main", prefix)
    }

    /// The kernel routes of exactly `prefix` in `table`.
    fn routes_in(&self, table: &str, prefix: &str) -> Vec<Value> {
        let family = if prefix.contains(':') { "-6" } else { "-4" };
        let output = std::process::Command::new("ip")
            .args([
                "-n",
                self.name(),
                family,
                "-j",
                "route",
                "show",
                "table",
                table,
            ])
            .output()
            .expect("run ip route show");
        assert!(output.status.success(), "ip route show: {output:?}");
        // `ip` prints a host route without its /32 or /128.
        let host = prefix
            .strip_suffix("/32")
            .or_else(|| prefix.strip_suffix("/128"));
        let routes: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap_or_default();
        routes
            .into_iter()
            .filter(|route| {
                let dst = route["dst"].as_str();
                dst == Some(prefix) || (host.is_some() && dst == host)
            })
            .collect()
    }

    /// How many routes of `family` ("ipv4" or "ipv6") and `protocol` the main table holds.
    fn count_routes(&self, family: &str, protocol: &str) -> usize {
        let family = if family == "ipv6" { "-6" } else { "-4" };
        let args = [
            "-n",
            self.name(),
            family,
            "route",
            "show",
            "table",
            "main",
            "proto",
            protocol,
        ];
        let output = std::process::Command::new("ip")
            .args(args)
            .output()
            .expect("run ip route show");
        String::from_utf8_lossy(&output.stdout).lines().count()
    }

    /// Runs `body` on a current-thread runtime in a thread inside the namespace: netlink
    /// sockets belong to the namespace of the thread that creates them.
    fn run<F, Fut>(&self, body: F)
    where
        F: FnOnce(Namespace) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()>,
    {
        self.run_returning(body);
    }

    fn run_returning<F, Fut, T>(&self, body: F) -> T
    where
        F: FnOnce(Namespace) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = T>,
        T: Send + 'static,
    {
        let namespace = self.clone();
        let path = format!("/run/netns/{}", self.name());
        let thread = std::thread::spawn(move || {
            let file = std::fs::File::open(&path).expect("open the namespace");
            // SAFETY: setns(2) on an open namespace descriptor; it moves only this thread.
            let rc =
                unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&file), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(body(namespace))
        });
        match thread.join() {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

fn run(command: &[&str]) {
    let output = std::process::Command::new(command[0])
        .args(&command[1..])
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(output.status.success(), "{command:?}: {output:?}");
}
