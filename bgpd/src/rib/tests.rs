use std::path::Path;
use std::sync::Arc;

use proto::attr::{Community, LargeCommunity};
use rr::{Modification, NextHopPolicy, Policy, Statement};

use super::listing::{KERNEL_SOURCE, LOCAL_SOURCE, ROUTE_CHUNK, SELF_NEXT_HOP};
use super::*;
use crate::control::protocol::RouteTable;

fn config(text: &str) -> config::Config {
    config::Config::from_toml(text, "test.toml", Path::new("/"))
        .unwrap_or_else(|errors| panic!("{errors:?}"))
}

const ROUTER_ID: RouterId = RouterId(std::net::Ipv4Addr::new(192, 0, 2, 1));

const GLOBAL: &str = r#"
    [global]
    asn = 64512
    router_id = "192.0.2.1"
    cluster_id = "192.0.2.99"
"#;

/// The configuration `extra` (after [`GLOBAL`]) gives the first neighbor.
fn check_peer(extra: &str, expected: impl FnOnce(&mut PeerConfig)) {
    let config = config(&format!("{GLOBAL}\n{extra}"));
    let neighbor = &config.neighbors[0];
    let mut wanted = PeerConfig::new(neighbor.address.ip);
    expected(&mut wanted);
    assert_eq!(peer_config(neighbor, config.global.asn), wanted, "{extra}");
}

#[test]
fn neighbor_settings_become_peer_config() {
    check_peer("[[neighbor]]\naddress = \"10.0.0.1\"\nasn = 64512", |_| {});
    check_peer(
        "[[neighbor]]\naddress = \"10.0.0.1\"\nasn = 64512\nrr_client = true\nnext_hop = \"self\"\nmax_prefixes = 10",
        |p| {
            p.rr_client = true;
            p.next_hop = NextHopPolicy::SelfAddress;
            p.max_prefixes = std::num::NonZeroU32::new(10);
        },
    );
    check_peer(
        "[[neighbor]]\naddress = \"10.0.0.1\"\nasn = 65000\nnext_hop = \"keep\"\ncommunities = [\"64512:100\", \"64512:1:2\"]",
        |p| {
            p.next_hop = NextHopPolicy::Keep;
            p.export = Arc::new(Policy {
                statements: vec![Statement {
                    conditions: Vec::new(),
                    modifications: vec![
                        // 64512:100 = 0xFC00_0064
                        Modification::AddCommunities(vec![Community(0xFC00_0064)]),
                        Modification::AddLargeCommunities(vec![LargeCommunity {
                            global_admin: 64512,
                            local_data_1: 1,
                            local_data_2: 2,
                        }]),
                    ],
                    verdict: None,
                }],
                ..Policy::accept_all()
            });
        },
    );
}

#[test]
fn global_and_kernel_become_rib_config() {
    let reflector = rib_config(&config(GLOBAL), ROUTER_ID);
    assert_eq!(
        reflector.cluster_id.map(|c| c.to_string()),
        Some("192.0.2.99".into())
    );
    assert!(!reflector.install_routes, "no [kernel]: nothing installed");
    let node = rib_config(
        &config(&format!(
            "{GLOBAL}\n[kernel]\nprogram = true\necmp_max_paths = 4"
        )),
        ROUTER_ID,
    );
    assert!(node.install_routes);
    assert_eq!(node.ecmp_max_paths.get(), 4);
}

/// What originates the local route of one prefix, step by step.
enum Local {
    Configured,
    Unconfigured,
    Kernel(bool),
}

/// How `show routes` names where a local route comes from, after each step (the node
/// decides; this checks the rendering and the published count): `None` when it is not in
/// the Loc-RIB.
fn check_local_source(steps: &[(Local, Option<&str>)]) {
    let (_events, mut task) = new_task(&config(GLOBAL), ROUTER_ID);
    let prefix: IpNet = "10.244.1.0/26".parse().expect("literal");
    for (i, (step, expected)) in steps.iter().enumerate() {
        let kernel = match step {
            Local::Configured => {
                task.event(RibEvent::Originate {
                    prefix,
                    route: LocalRoute::default(),
                });
                None
            }
            Local::Unconfigured => {
                task.event(RibEvent::WithdrawLocal { prefix });
                None
            }
            Local::Kernel(true) => {
                task.kernel_route(KernelRouteEvent::Add { prefix });
                Some(1)
            }
            Local::Kernel(false) => {
                task.kernel_route(KernelRouteEvent::Remove { prefix });
                Some(0)
            }
        };
        task.node.run_decisions(Instant::now(), DECISION_BUDGET);
        let from: Vec<String> = task
            .node
            .rib()
            .routes_at(&prefix)
            .map(|view| task.loc_rib_route(&view).from)
            .collect();
        assert_eq!(from.first().map(String::as_str), *expected, "step {i}");
        if let Some(kernel) = kernel {
            assert_eq!(task.status().borrow().kernel_routes, kernel);
        }
    }
}

#[test]
fn kernel_and_configured_routes_of_one_prefix() {
    use Local::*;
    check_local_source(&[
        (Kernel(true), Some(KERNEL_SOURCE)),
        (Configured, Some(LOCAL_SOURCE)),
        // The configured route keeps it when the kernel route goes, and the other way.
        (Kernel(false), Some(LOCAL_SOURCE)),
        (Kernel(true), Some(LOCAL_SOURCE)),
        (Unconfigured, Some(KERNEL_SOURCE)),
        (Kernel(false), None),
        (Configured, Some(LOCAL_SOURCE)),
        (Unconfigured, None),
    ]);
}

/// A listing longer than a chunk arrives whole, in order, without repeats, and the stream
/// ends.
#[tokio::test]
async fn show_routes_streams_in_chunks() {
    const ROUTES: usize = ROUTE_CHUNK * 2 + 7;
    let routes: String = (0..ROUTES)
        .map(|i| format!("[[route]]\nprefix = \"10.{}.{}.0/24\"\n", i / 256, i % 256))
        .collect();
    let config = config(&format!("{GLOBAL}\n{routes}"));
    let (events, task) = new_task(&config, ROUTER_ID);
    let rib = tokio::spawn(task.run());
    let (lines, mut stream) = mpsc::channel(crate::control::STREAM_CHUNKS);
    events
        .send(RibEvent::ShowRoutes(RouteQuery {
            table: RouteTable::LocRib,
            prefix: None,
            neighbor: None,
            lines,
        }))
        .await
        .expect("the RIB task runs");
    let mut prefixes = Vec::new();
    let mut chunks = 0;
    while let Some(chunk) = stream.recv().await {
        chunks += 1;
        for line in chunk {
            let route: protocol::Route = serde_json::from_str(&line).expect("a route line");
            assert_eq!(
                (route.from.as_str(), route.next_hop.as_str(), route.best),
                (LOCAL_SOURCE, SELF_NEXT_HOP, true)
            );
            prefixes.push(route.prefix.parse::<IpNet>().expect("a prefix"));
        }
    }
    assert_eq!(chunks, 3);
    let mut sorted = prefixes.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(prefixes, sorted);
    assert_eq!(prefixes.len(), ROUTES);
    drop(events);
    rib.await.expect("the RIB task ends");
}
