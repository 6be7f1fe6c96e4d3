//! The node in virtual time: initial convergence and the FIB sweep, the restarting speaker's
//! selection deferral, stale timers, neighbors configured after their session came up, and
//! origination from configured and kernel routes. Each scenario is a list of steps (an input
//! or a time) and the outputs it must produce, rendered one line each.

mod common;

use std::time::{Duration, Instant};

use common::*;
use proto::session::NegotiatedRestart;
use proto::{AfiSafi, AfiSafiSet};
use rr::node::{Node, NodeConfig, NodeInput, NodeOutput};
use rr::{FibOp, LocalRoute, PeerId};

const IPV4: AfiSafi = AfiSafi::Ipv4Unicast;

/// What a step does.
#[allow(clippy::large_enum_variant)] // a test table
enum Step {
    Input(NodeInput),
    /// Seconds since start: the node's timers that are due run.
    At(u64),
}

fn configure(neighbor: &Neighbor) -> Step {
    Step::Input(NodeInput::Configure {
        peer: PeerId(neighbor.id),
        config: neighbor.config.clone(),
    })
}

fn up(neighbor: &Neighbor) -> Step {
    Step::Input(NodeInput::PeerUp {
        peer: PeerId(neighbor.id),
        session: Box::new(neighbor.negotiated()),
        local: neighbor.local,
    })
}

fn input(input: rr::RibInput) -> Step {
    match input {
        rr::RibInput::Update { peer, update } => Step::Input(NodeInput::Update { peer, update }),
        rr::RibInput::PeerDown { peer, graceful } => {
            Step::Input(NodeInput::PeerDown { peer, graceful })
        }
        other => panic!("no node input for {other:?}"),
    }
}

fn end_of_rib(peer: u32) -> Step {
    input(update(peer, proto::update::Update::end_of_rib(IPV4)))
}

fn describe(output: &NodeOutput) -> Option<String> {
    Some(match output {
        NodeOutput::Fib(change) => match &change.op {
            FibOp::Replace { next_hops } => format!(
                "fib {} -> {}",
                change.prefix,
                next_hops
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            FibOp::Delete => format!("fib {} delete", change.prefix),
        },
        NodeOutput::Converged(reason) => format!("converged {reason:?}"),
        NodeOutput::RestartDone => "restart done".to_owned(),
        NodeOutput::SweepAllowed => "sweep".to_owned(),
        NodeOutput::Stale {
            peer,
            kept_for: Some(after),
            ..
        } => format!("stale {} for {}s", peer.0, after.as_secs()),
        NodeOutput::Stale { peer, .. } => format!("stale {} expired", peer.0),
        // Messages are the RIB's own tests' concern.
        NodeOutput::Transmit(_) => return None,
        other => format!("{other:?}"),
    })
}

/// Runs the steps in virtual time, each followed by every decision it queued (as the daemon's
/// driver does), and compares the outputs.
fn check(config: NodeConfig, steps: Vec<(Step, &[&str])>) {
    let start = Instant::now();
    let mut node = Node::new(config, start);
    let mut now = start;
    for (index, (step, expected)) in steps.into_iter().enumerate() {
        match step {
            Step::Input(input) => node.handle(now, input),
            Step::At(seconds) => {
                now = start + Duration::from_secs(seconds);
                if node.poll_timeout().is_some_and(|at| at <= now) {
                    node.handle_timeout(now);
                }
            }
        }
        while node.pending_decisions() > 0 {
            node.run_decisions(now, 1000);
        }
        let mut lines = Vec::new();
        while let Some(output) = node.poll_output() {
            lines.extend(describe(&output));
        }
        assert_lines(&format!("step {index}"), &lines, expected);
    }
}

fn node() -> NodeConfig {
    NodeConfig {
        rib: config(),
        selection_deferral: None,
    }
}

fn restart(restart_time: u64) -> NegotiatedRestart {
    NegotiatedRestart {
        restart_time: Duration::from_secs(restart_time),
        peer_restarting: false,
        families: AfiSafiSet::ALL,
        forwarding_preserved: AfiSafiSet::ALL,
        long_lived: Vec::new(),
        notification: false,
    }
}

fn ipv4_only(neighbor: Neighbor) -> Neighbor {
    neighbor.families(&[IPV4])
}

#[test]
fn convergence_waits_for_every_end_of_rib_then_the_fib_sweeps() {
    let a = ipv4_only(Neighbor::ebgp(1, 65001, "172.16.0.1"));
    let b = ipv4_only(Neighbor::ebgp(2, 65002, "172.16.0.2"));
    check(
        node(),
        vec![
            (configure(&a), &[]),
            (configure(&b), &[]),
            (Step::Input(NodeInput::NeighborsKnown), &[]),
            (up(&a), &[]),
            (
                input(update(
                    1,
                    announce(&["10.1.0.0/16"], "172.16.0.1", path(&[65001])),
                )),
                &["fib 10.1.0.0/16 -> 172.16.0.1"],
            ),
            (end_of_rib(1), &[]),
            (up(&b), &[]),
            (end_of_rib(2), &["converged EndOfRib", "sweep"]),
        ],
    );
}

#[test]
fn a_neighbor_that_never_comes_up_is_covered_by_the_timer() {
    let a = Neighbor::ebgp(1, 65001, "172.16.0.1");
    check(
        node(),
        vec![
            (configure(&a), &[]),
            (Step::Input(NodeInput::NeighborsKnown), &[]),
            (Step::At(119), &[]),
            (Step::At(120), &["converged Timeout", "sweep"]),
            (Step::At(500), &[]),
        ],
    );
}

/// RFC 4724 §4.1: a restarting speaker decides nothing until End-of-RIB from its graceful
/// restart neighbors; then its decisions run, the restart ends, and the sweep follows them.
#[test]
fn a_restarting_speaker_defers_selection_until_end_of_rib() {
    let a = ipv4_only(Neighbor::ebgp(1, 65001, "172.16.0.1").graceful_restart(restart(120)));
    check(
        NodeConfig {
            rib: config(),
            selection_deferral: Some(Duration::from_secs(30)),
        },
        vec![
            (configure(&a), &[]),
            (Step::Input(NodeInput::NeighborsKnown), &[]),
            (up(&a), &[]),
            (
                input(update(
                    1,
                    announce(&["10.1.0.0/16"], "172.16.0.1", path(&[65001])),
                )),
                &[],
            ),
            (
                end_of_rib(1),
                &[
                    "converged EndOfRib",
                    "fib 10.1.0.0/16 -> 172.16.0.1",
                    "restart done",
                    "sweep",
                ],
            ),
        ],
    );
}

#[test]
fn the_selection_deferral_is_bounded() {
    let a = ipv4_only(Neighbor::ebgp(1, 65001, "172.16.0.1").graceful_restart(restart(120)));
    check(
        NodeConfig {
            rib: config(),
            selection_deferral: Some(Duration::from_secs(30)),
        },
        vec![
            (configure(&a), &[]),
            (Step::Input(NodeInput::NeighborsKnown), &[]),
            (up(&a), &[]),
            (Step::At(29), &[]),
            (
                Step::At(30),
                &["converged Timeout", "restart done", "sweep"],
            ),
        ],
    );
}

/// RFC 4724 §4.2: a neighbor's routes stay for its restart time after its session fails
/// without a NOTIFICATION, then go.
#[test]
fn stale_routes_leave_when_the_restart_time_runs_out() {
    let a = ipv4_only(Neighbor::ebgp(1, 65001, "172.16.0.1").graceful_restart(restart(60)));
    check(
        node(),
        vec![
            (configure(&a), &[]),
            (up(&a), &[]),
            (
                input(update(
                    1,
                    announce(&["10.1.0.0/16"], "172.16.0.1", path(&[65001])),
                )),
                &["fib 10.1.0.0/16 -> 172.16.0.1"],
            ),
            (
                Step::Input(NodeInput::PeerDown {
                    peer: PeerId(1),
                    graceful: true,
                }),
                &["stale 1 for 60s"],
            ),
            (Step::At(59), &[]),
            (Step::At(60), &["stale 1 expired", "fib 10.1.0.0/16 delete"]),
        ],
    );
}

/// The daemon's settings and the session travel on different paths: a session that comes up
/// first waits for them.
#[test]
fn a_session_up_before_its_settings_waits_for_them() {
    let a = ipv4_only(Neighbor::ebgp(1, 65001, "172.16.0.1"));
    check(
        node(),
        vec![
            (up(&a), &[]),
            (
                input(update(
                    1,
                    announce(&["10.1.0.0/16"], "172.16.0.1", path(&[65001])),
                )),
                &[],
            ),
            (configure(&a), &[]),
            (
                input(update(
                    1,
                    announce(&["10.1.0.0/16"], "172.16.0.1", path(&[65001])),
                )),
                &["fib 10.1.0.0/16 -> 172.16.0.1"],
            ),
        ],
    );
}

/// A restarting neighbor that is deconfigured loses its stale routes at once.
#[test]
fn a_deconfigured_restarting_neighbor_loses_its_routes() {
    let a = ipv4_only(Neighbor::ebgp(1, 65001, "172.16.0.1").graceful_restart(restart(60)));
    check(
        node(),
        vec![
            (configure(&a), &[]),
            (up(&a), &[]),
            (
                input(update(
                    1,
                    announce(&["10.1.0.0/16"], "172.16.0.1", path(&[65001])),
                )),
                &["fib 10.1.0.0/16 -> 172.16.0.1"],
            ),
            (
                Step::Input(NodeInput::PeerDown {
                    peer: PeerId(1),
                    graceful: true,
                }),
                &["stale 1 for 60s"],
            ),
            (
                Step::Input(NodeInput::Deconfigure { peer: PeerId(1) }),
                &["fib 10.1.0.0/16 delete"],
            ),
            (Step::At(60), &[]),
        ],
    );
}

/// Kernel and configured routes of one prefix keep one local route alive while either
/// exists; the node says which one it comes from.
#[test]
fn kernel_and_configured_routes_originate_one_local_route() {
    let prefix = net("10.244.1.0/26");
    let start = Instant::now();
    let mut node = Node::new(node(), start);
    let origin = |node: &Node| node.local_origin(&prefix).map(|o| format!("{o:?}"));
    let routes = |node: &Node| node.rib().routes(Some(prefix)).count();
    node.handle(
        start,
        NodeInput::KernelRoute {
            prefix,
            present: true,
        },
    );
    node.run_decisions(start, 10);
    assert_eq!(
        (routes(&node), origin(&node).as_deref()),
        (1, Some("Kernel"))
    );
    node.handle(
        start,
        NodeInput::Originate {
            prefix,
            route: LocalRoute::default(),
        },
    );
    node.handle(
        start,
        NodeInput::KernelRoute {
            prefix,
            present: false,
        },
    );
    node.run_decisions(start, 10);
    assert_eq!(
        (routes(&node), origin(&node).as_deref()),
        (1, Some("Configured"))
    );
    node.handle(start, NodeInput::WithdrawOriginated { prefix });
    node.run_decisions(start, 10);
    assert_eq!((routes(&node), origin(&node)), (0, None));
    assert_eq!(node.kernel_routes(), 0);
}
