//! Hostile input catalogue (issue 9): one `bgpd`, one table of malformed or out-of-place
//! messages, each sent by a [`RawPeer`] from its own address (its own configured neighbor, so
//! that idle-hold back-off after one case never delays the next). Every case states the
//! outcome RFC 4271 §6 / RFC 7606 / RFC 6608 asks for, checked on the wire (the NOTIFICATION
//! received, or a probe UPDATE accepted behind the fault) and through `bgpctl --json` (state,
//! last_error, routes). After every case: bgpd runs, the well-behaved BIRD neighbor keeps its
//! session (its establishment time does not move) and its routes, and the observer (a raw
//! peer that only listens) still has its session.
//!
//! The catalogue itself (what is sent, what must happen) is the table in `hostile/cases.rs`;
//! this file runs it.
//!
//! Run: `cargo test -p interop --test hostile -- --nocapture` (root, BIRD installed);
//! `HOSTILE_CASES=text` runs only the cases whose name contains `text`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use interop::raw_peer::standard_open;
use interop::{
    lab_available, Bird, Ending, IpVersion, Lab, NeighborSpec, Observer, OriginRoute, RawPeer,
    RouteEntry, RouterSpec, Starling, Tool,
};
use ipnet::{IpNet, Ipv4Net};
use proto::attr::{AttrFlags, AttrType};
use proto::message::Message;
use proto::{AfiSafi, Asn, SessionParams};

#[path = "hostile/cases.rs"]
mod cases;

use cases::{
    announce, attr, canary_with, cases, valid_open, Case, Ctx, Expect, Phase, HOSTILE_AS,
    HOSTILE_HOLD_TIME, MARK_MED, TRANSITIVE, UNKNOWN_NON_TRANSITIVE, UNKNOWN_TRANSITIVE,
};

const STARLING_AS: Asn = Asn(64512);
const OBSERVER_AS: Asn = Asn(65200);
const BIRD_AS: Asn = Asn(65300);
/// The observer's session: short, so that a stuck observer shows.
const OBSERVER_HOLD_TIME: u16 = 9;
const OBSERVER_KEEPALIVE: Duration = Duration::from_secs(3);
/// Bound on any single wait of a case.
const WAIT: Duration = Duration::from_secs(10);
/// How long a NOTIFICATION may take to arrive.
const NOTIFICATION_WAIT: Duration = Duration::from_secs(5);
/// How long "nothing happens" is watched for (a connection that never sends OPEN).
const QUIET: Duration = Duration::from_secs(3);
/// BGP's port; bgpd listens on it inside its namespace.
const BGP_PORT: u16 = 179;
/// Malformed UPDATEs sent in a row to check that their log lines are rate-limited.
const FLOOD: usize = 10_000;
/// Log lines the flood may produce at most (a burst per window plus summaries).
const FLOOD_LOG_BOUND: usize = 40;

/// The lab: Starling, BIRD (well-behaved), the observer, and a host for the hostile peers.
struct Bench {
    _lab: Lab,
    starling: Starling,
    _bird: Bird,
    bird_address: IpAddr,
    /// BIRD's routes as Starling holds them, before any case.
    bird_routes: Vec<RouteEntry>,
    /// When BIRD's session came up (now minus its uptime), to the second.
    bird_since: u64,
    observer: Observer,
    raw_host: interop::Host,
    hostile: Vec<Ipv4Addr>,
    starling_address: Ipv4Addr,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Bench {
    /// `count` hostile neighbors, plus one for the log flood.
    fn start(count: u32) -> Bench {
        let lab = Lab::new().expect("lab");
        let st = lab.host("st").expect("host");
        let bird_host = lab.host("bird").expect("host");
        let raw_host = lab.host("raw").expect("host");
        let hostile: Vec<Ipv4Addr> = lab
            .add_addresses(&raw_host, count)
            .expect("addresses")
            .into_iter()
            .map(|pair| pair.ipv4)
            .collect();
        let bird_address = bird_host.address(IpVersion::V4);
        let mut spec = RouterSpec::new(st.ipv4, STARLING_AS)
            .neighbor(NeighborSpec::new(bird_address, BIRD_AS));
        let mut observer = NeighborSpec::new(IpAddr::V4(raw_host.ipv4), OBSERVER_AS);
        observer.passive = true;
        spec = spec.neighbor(observer);
        for address in &hostile {
            let mut neighbor = NeighborSpec::new(IpAddr::V4(*address), HOSTILE_AS);
            neighbor.passive = true;
            neighbor.hold_time = interop::HoldTime(HOSTILE_HOLD_TIME);
            neighbor.families = vec![AfiSafi::Ipv4Unicast, AfiSafi::Ipv6Unicast];
            spec = spec.neighbor(neighbor);
        }
        let starling = Starling::start(&lab, &st, &spec).expect("bgpd");
        let bird_spec = RouterSpec::new(bird_host.ipv4, BIRD_AS)
            .neighbor(NeighborSpec::new(st.address(IpVersion::V4), STARLING_AS))
            .route(OriginRoute::new(IpNet::V4(
                "10.99.1.0/24".parse().expect("prefix"),
            )))
            .route(OriginRoute::new(IpNet::V4(
                "10.99.2.0/24".parse().expect("prefix"),
            )));
        let bird = Bird::start(&lab, &bird_host, bird_spec).expect("bird");
        starling
            .wait_established(bird_address, WAIT * 3)
            .expect("BIRD session");
        let bird_routes = interop::wait_until(
            "BIRD's two routes in Starling",
            WAIT,
            interop::DEFAULT_INTERVAL,
            || {
                let routes = starling.routes(&["--neighbor", &bird_address.to_string()])?;
                Ok((routes.len() == 2).then_some(routes))
            },
        )
        .expect("BIRD routes");
        let status = starling.neighbor(bird_address).expect("status");
        let bird_since = unix_now() - status.uptime_s;

        let target = SocketAddr::new(IpAddr::V4(st.ipv4), BGP_PORT);
        let mut peer = RawPeer::connect(&raw_host, IpAddr::V4(raw_host.ipv4), target)
            .expect("observer connects");
        let open = standard_open(OBSERVER_AS, raw_host.ipv4, OBSERVER_HOLD_TIME);
        peer.establish(&open, WAIT).expect("observer session");
        let observer = Observer::start(peer, OBSERVER_KEEPALIVE, Duration::from_secs(600));
        Bench {
            _lab: lab,
            starling,
            _bird: bird,
            bird_address,
            bird_routes,
            bird_since,
            observer,
            raw_host,
            hostile,
            starling_address: st.ipv4,
        }
    }

    fn target(&self) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(self.starling_address), BGP_PORT)
    }

    fn ctx(&self, index: usize) -> Ctx {
        let third = u8::try_from(index).expect("fewer than 256 cases");
        Ctx {
            source: self.hostile[index],
            starling: self.starling_address,
            canary: Ipv4Net::new(Ipv4Addr::new(10, 100, third, 0), 24).expect("prefix"),
            probe: Ipv4Net::new(Ipv4Addr::new(10, 101, third, 0), 24).expect("prefix"),
            params: SessionParams {
                four_octet_as: true,
                ..SessionParams::plain(true)
            },
        }
    }

    /// The invariants that hold after every case.
    fn check_bystanders(&mut self, case: &str) {
        self.starling
            .process()
            .ensure_running()
            .unwrap_or_else(|e| panic!("{case}: bgpd died: {e}"));
        let status = self.starling.neighbor(self.bird_address).expect("status");
        assert_eq!(
            status.state, "Established",
            "{case}: BIRD session: {status:?}"
        );
        let since = unix_now() - status.uptime_s;
        assert!(
            since <= self.bird_since + 2,
            "{case}: BIRD's session was reset (up since {since}, was {})",
            self.bird_since
        );
        let routes = self
            .starling
            .routes(&["--neighbor", &self.bird_address.to_string()])
            .expect("routes");
        assert_eq!(routes, self.bird_routes, "{case}: BIRD's routes changed");
        if let Some(ended) = self.observer.seen().ended {
            panic!("{case}: the observer's session ended: {ended}");
        }
    }

    /// Starling's best route for `prefix` from the neighbor at `source`, if any.
    fn route(&self, prefix: Ipv4Net, source: Ipv4Addr) -> Option<RouteEntry> {
        self.starling
            .routes(&[&prefix.to_string()])
            .expect("routes")
            .into_iter()
            .find(|r| r.from == source.to_string())
    }

    fn wait_route(&self, case: &str, prefix: Ipv4Net, source: Ipv4Addr) -> RouteEntry {
        interop::wait_until(
            &format!("{case}: {prefix} from {source}"),
            WAIT,
            Duration::from_millis(50),
            || Ok(self.route(prefix, source)),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn run(&mut self, index: usize, case: &Case) {
        let ctx = self.ctx(index);
        let name = case.name;
        let mut peer = RawPeer::connect(&self.raw_host, IpAddr::V4(ctx.source), self.target())
            .unwrap_or_else(|e| panic!("{name}: connect: {e}"));
        match case.phase {
            Phase::Connected => {
                peer.receive_open(WAIT)
                    .unwrap_or_else(|e| panic!("{name}: Starling's OPEN: {e}"));
            }
            Phase::OpenConfirm => {
                peer.send_message(&Message::Open(valid_open(&ctx)))
                    .expect("send OPEN");
                peer.receive_open(WAIT)
                    .unwrap_or_else(|e| panic!("{name}: Starling's OPEN: {e}"));
                match peer.receive(WAIT) {
                    Ok(Some(Message::Keepalive)) => {}
                    other => panic!("{name}: expected a KEEPALIVE, got {other:?}"),
                }
            }
            Phase::Established => {
                peer.establish(&valid_open(&ctx), WAIT)
                    .unwrap_or_else(|e| panic!("{name}: establish: {e}"));
                peer.send(&announce(&ctx, ctx.canary)).expect("canary");
                self.wait_route(name, ctx.canary, ctx.source);
            }
        }
        peer.send(&(case.fault)(&ctx))
            .unwrap_or_else(|e| panic!("{name}: send the fault: {e}"));
        self.check_outcome(case, &ctx, &mut peer);
        drop(peer);
        self.check_bystanders(name);
    }

    fn check_outcome(&self, case: &Case, ctx: &Ctx, peer: &mut RawPeer) {
        let name = case.name;
        let address = IpAddr::V4(ctx.source);
        match case.expect {
            Expect::Notification(code) => {
                let ending = peer
                    .wait_ending(NOTIFICATION_WAIT)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                match ending {
                    Ending::Notification(n) => assert_eq!(n.code, code, "{name}: {n}"),
                    Ending::Closed => panic!("{name}: closed without NOTIFICATION {code}"),
                }
                // The connection is closed after the NOTIFICATION.
                assert!(
                    matches!(peer.wait_ending(NOTIFICATION_WAIT), Ok(Ending::Closed)),
                    "{name}: connection left open"
                );
                let expected = format!("sent NOTIFICATION {code}");
                let status = interop::wait_until(
                    &format!("{name}: last_error"),
                    WAIT,
                    Duration::from_millis(50),
                    || {
                        let status = self.starling.neighbor(address)?;
                        Ok((status.last_error.as_deref() == Some(expected.as_str())
                            && status.state != "Established")
                            .then_some(status))
                    },
                )
                .unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(status.uptime_s, 0, "{name}: {status:?}");
                assert!(
                    self.route(ctx.canary, ctx.source).is_none(),
                    "{name}: routes of a reset session stay"
                );
            }
            Expect::SessionUp => {
                peer.send_message(&Message::Keepalive).expect("KEEPALIVE");
                match peer.receive(WAIT) {
                    Ok(Some(Message::Keepalive)) => {}
                    other => panic!("{name}: expected a KEEPALIVE, got {other:?}"),
                }
                self.starling
                    .wait_established(address, WAIT)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            Expect::Waits => {
                match peer.receive(QUIET) {
                    Err(interop::LabError::Timeout { .. }) => {}
                    other => panic!("{name}: expected silence, got {other:?}"),
                }
                let status = self.starling.neighbor(address).expect("status");
                assert_eq!(status.state, "OpenSent", "{name}: {status:?}");
            }
            Expect::Withdrawn
            | Expect::Discarded
            | Expect::Ignored
            | Expect::FamilyDisabled
            | Expect::PassedOnPartial => {
                // The probe behind the fault proves it was processed and the session lives.
                peer.send(&announce(ctx, ctx.probe)).expect("probe");
                self.wait_route(name, ctx.probe, ctx.source);
                let status = self.starling.neighbor(address).expect("status");
                assert_eq!(status.state, "Established", "{name}: {status:?}");
                let canary = self.route(ctx.canary, ctx.source);
                match case.expect {
                    Expect::Withdrawn => {
                        assert!(canary.is_none(), "{name}: not withdrawn: {canary:?}")
                    }
                    Expect::Discarded | Expect::PassedOnPartial => {
                        // Applied (the mark is there), without what an eBGP peer may not set.
                        let route = canary.unwrap_or_else(|| panic!("{name}: canary gone"));
                        assert_eq!(route.med, Some(MARK_MED), "{name}: {route:?}");
                        assert_eq!(route.local_pref, None, "{name}: {route:?}");
                        assert_eq!(route.originator_id, None, "{name}: {route:?}");
                        assert!(route.cluster_list.is_empty(), "{name}: {route:?}");
                    }
                    _ => assert_eq!(
                        canary.as_ref().map(|r| r.med),
                        Some(None),
                        "{name}: {canary:?}"
                    ),
                }
                if case.expect == Expect::FamilyDisabled {
                    self.check_family_disabled(name, ctx.source);
                }
                if case.expect == Expect::PassedOnPartial {
                    self.check_passed_on(name, ctx.canary);
                }
                // No NOTIFICATION is on its way.
                match peer.receive(Duration::from_millis(200)) {
                    Ok(Some(Message::Keepalive | Message::Update(_)))
                    | Err(interop::LabError::Timeout { .. }) => {}
                    other => panic!("{name}: unexpected {other:?}"),
                }
            }
        }
    }

    fn check_family_disabled(&self, name: &str, source: Ipv4Addr) {
        let wanted = source.to_string();
        interop::wait_until(
            &format!("{name}: family disabled logged"),
            WAIT,
            Duration::from_millis(50),
            || {
                let events = self
                    .starling
                    .log_events("family disabled for the session (RFC 7606)")?;
                Ok(events
                    .iter()
                    .any(|e| e.get("peer").and_then(|p| p.as_str()) == Some(wanted.as_str()))
                    .then_some(()))
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }

    /// The observer received `canary` with the unknown transitive attribute, Partial set, and
    /// without the non-transitive one.
    fn check_passed_on(&self, name: &str, canary: Ipv4Net) {
        let update = interop::wait_until(
            &format!("{name}: the observer gets {canary} with the marked attributes"),
            WAIT,
            Duration::from_millis(50),
            || {
                let seen = self.observer.seen();
                Ok(seen.updates.into_iter().rev().find(|u| {
                    u.announced.iter().any(|n| n.prefix() == canary)
                        && u.attributes.multi_exit_disc.is_none()
                        && !u.attributes.unknown.is_empty()
                }))
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let transitive = update
            .attributes
            .unknown
            .get(AttrType(UNKNOWN_TRANSITIVE))
            .unwrap_or_else(|| panic!("{name}: not passed on: {update:?}"));
        assert!(
            transitive.flags().contains(AttrFlags::PARTIAL),
            "{name}: Partial bit clear: {transitive:?}"
        );
        assert_eq!(&transitive.value()[..], &[0x01, 0x02, 0x03]);
        assert!(
            update
                .attributes
                .unknown
                .get(AttrType(UNKNOWN_NON_TRANSITIVE))
                .is_none(),
            "{name}: a non-transitive attribute was passed on"
        );
    }

    /// [`FLOOD`] UPDATEs with a malformed COMMUNITIES (treat-as-withdraw, so the session
    /// stays) on one session; the log must stay bounded and say how much it suppressed.
    fn flood(&mut self, index: usize) {
        let ctx = self.ctx(index);
        let name = "log flood";
        let mut peer = RawPeer::connect(&self.raw_host, IpAddr::V4(ctx.source), self.target())
            .expect("connect");
        peer.establish(&valid_open(&ctx), WAIT).expect("establish");
        let fault = canary_with(
            &ctx,
            &attr(TRANSITIVE, AttrType::COMMUNITIES, &[0xfd, 0xe9, 0, 1, 0]),
        );
        let started = Instant::now();
        let batch: Vec<u8> = fault.repeat(FLOOD);
        peer.send(&batch).expect("flood");
        peer.send(&announce(&ctx, ctx.probe)).expect("probe");
        self.wait_route(name, ctx.probe, ctx.source);
        let elapsed = started.elapsed();
        drop(peer);
        let wanted = ctx.source.to_string();
        let from_peer = |message: &str| -> Vec<serde_json::Value> {
            self.starling
                .log_events(message)
                .expect("log")
                .into_iter()
                .filter(|e| e.get("peer").and_then(|p| p.as_str()) == Some(wanted.as_str()))
                .collect()
        };
        // The summary is written when the session goes down at the latest.
        let summaries = interop::wait_until(
            "a suppressed-lines summary",
            WAIT,
            interop::DEFAULT_INTERVAL,
            || {
                let events = from_peer("repeated UPDATE errors suppressed");
                Ok((!events.is_empty()).then_some(events))
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let lines = from_peer("UPDATE error handled per RFC 7606");
        let suppressed: u64 = summaries
            .iter()
            .filter_map(|e| e.get("suppressed").and_then(serde_json::Value::as_u64))
            .sum();
        eprintln!(
            "{FLOOD} malformed UPDATEs in {elapsed:?}: {} error lines, {} summaries, {suppressed} suppressed",
            lines.len(),
            summaries.len()
        );
        assert!(
            lines.len() + summaries.len() <= FLOOD_LOG_BOUND,
            "{} lines logged",
            lines.len()
        );
        assert_eq!(
            lines.len() as u64 + suppressed,
            FLOOD as u64,
            "every error is logged or counted"
        );
        self.check_bystanders(name);
    }
}

#[test]
fn hostile_input_catalogue() {
    if !lab_available("hostile input catalogue", &[Tool::Bird]) {
        return;
    }
    // `HOSTILE_CASES=text` runs only the cases whose name contains it (the log flood too).
    let only = std::env::var("HOSTILE_CASES").ok();
    let cases: Vec<Case> = cases()
        .into_iter()
        .filter(|case| only.as_deref().is_none_or(|text| case.name.contains(text)))
        .collect();
    let started = Instant::now();
    let count = u32::try_from(cases.len() + 1).expect("few cases");
    let mut bench = Bench::start(count);
    eprintln!("lab up in {:?}", started.elapsed());
    for (index, case) in cases.iter().enumerate() {
        let case_started = Instant::now();
        bench.run(index, case);
        eprintln!(
            "ok {:>2} {} ({:?})",
            index,
            case.name,
            case_started.elapsed()
        );
    }
    bench.flood(cases.len());
    let seen = bench.observer.seen();
    assert!(seen.ended.is_none(), "observer: {seen:?}");
    eprintln!(
        "{} cases in {:?}; the observer saw {} UPDATEs",
        cases.len(),
        started.elapsed(),
        seen.updates.len()
    );
}
