//! Sessions between Starling and real BIRD 2, GoBGP and FRR (the sessions issue): eBGP and
//! iBGP over IPv4 and IPv6 transport, TCP MD5, hold time negotiation, a peer that dies or goes
//! silent, both sides connecting at once, and a neighbor removed by SIGHUP. Starling is observed
//! through `bgpctl --json` and its JSON log; the peers through their own CLIs.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use interop::bird::protocol_name;
use interop::{
    lab_available, BgpPeer, Bird, Host, IpVersion, Lab, NeighborSpec, PeerKind, RouterSpec,
    SessionState, Starling, Tool,
};
use proto::Asn;

/// Starling's AS; iBGP peers share it.
const STARLING_AS: Asn = Asn(64512);
/// The external peers' AS.
const PEER_AS: Asn = Asn(65002);
/// Bound on each wait for a session; a healthy one needs a few seconds.
const SESSION_TIMEOUT: Duration = Duration::from_secs(30);

fn neighbor(host: &Host, version: IpVersion, asn: Asn) -> NeighborSpec {
    NeighborSpec::new(host.address(version), asn)
}

/// The peer's side: neighbors towards Starling over both transports.
fn peer_spec(own: &Host, asn: Asn, starling: &Host) -> RouterSpec {
    RouterSpec::new(own.ipv4, asn)
        .neighbor(neighbor(starling, IpVersion::V4, STARLING_AS))
        .neighbor(neighbor(starling, IpVersion::V6, STARLING_AS))
}

/// eBGP and iBGP, each over IPv4 and IPv6 transport, against one kind of peer.
fn sessions_with(kind: PeerKind) {
    if !lab_available(&format!("sessions with {}", kind.name()), &[kind.tool()]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let st = lab.host("st").expect("host");
    let external = lab.host("ext").expect("host");
    let internal = lab.host("int").expect("host");
    let versions = [IpVersion::V4, IpVersion::V6];
    let mut spec = RouterSpec::new(st.ipv4, STARLING_AS);
    for version in versions {
        spec = spec.neighbor(neighbor(&external, version, PEER_AS));
        spec = spec.neighbor(neighbor(&internal, version, STARLING_AS));
    }
    let starling = Starling::start(&lab, &st, &spec).expect("bgpd");
    let ext = kind
        .start(&lab, &external, peer_spec(&external, PEER_AS, &st))
        .expect("external peer");
    let int = kind
        .start(&lab, &internal, peer_spec(&internal, STARLING_AS, &st))
        .expect("internal peer");
    for version in versions {
        for (host, peer) in [(&external, &ext), (&internal, &int)] {
            let status = starling
                .wait_established(host.address(version), SESSION_TIMEOUT)
                .expect("Starling side");
            let expected_family = match version {
                IpVersion::V4 => "ipv4-unicast",
                IpVersion::V6 => "ipv6-unicast",
            };
            assert_eq!(status.families, [expected_family], "{status:?}");
            peer.wait_established(st.address(version), SESSION_TIMEOUT)
                .expect("peer side");
        }
    }
    // Each session sent End-of-RIB and stays up: the peers agree after a keepalive round.
    std::thread::sleep(Duration::from_secs(4));
    for status in starling.neighbors().expect("neighbors") {
        assert_eq!(status.state, "Established", "{status:?}");
    }
}

#[test]
fn ebgp_and_ibgp_over_ipv4_and_ipv6_with_bird() {
    sessions_with(PeerKind::Bird);
}

#[test]
fn ebgp_and_ibgp_over_ipv4_and_ipv6_with_gobgp() {
    sessions_with(PeerKind::GoBgp);
}

#[test]
fn ebgp_and_ibgp_over_ipv4_and_ipv6_with_frr() {
    sessions_with(PeerKind::Frr);
}

/// TCP MD5: the right key gives a session; a wrong one gives none and a log line naming the
/// neighbor.
fn md5_with(kind: PeerKind) {
    if !lab_available(&format!("TCP MD5 with {}", kind.name()), &[kind.tool()]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let st = lab.host("st").expect("host");
    let good = lab.host("good").expect("host");
    let bad = lab.host("bad").expect("host");
    let keyed = |host: &Host, asn, key: &str| {
        let mut n = neighbor(host, IpVersion::V4, asn);
        n.password = Some(key.to_owned());
        n
    };
    let spec = RouterSpec::new(st.ipv4, STARLING_AS)
        .neighbor(keyed(&good, PEER_AS, "s3cret-key"))
        .neighbor(keyed(&bad, PEER_AS, "s3cret-key"));
    let starling = Starling::start(&lab, &st, &spec).expect("bgpd");
    let good_peer =
        RouterSpec::new(good.ipv4, PEER_AS).neighbor(keyed(&st, STARLING_AS, "s3cret-key"));
    let bad_peer =
        RouterSpec::new(bad.ipv4, PEER_AS).neighbor(keyed(&st, STARLING_AS, "another-key"));
    let good_peer = kind
        .start(&lab, &good, good_peer)
        .expect("peer with the right key");
    let bad_peer = kind
        .start(&lab, &bad, bad_peer)
        .expect("peer with a wrong key");

    starling
        .wait_established(good.address(IpVersion::V4), SESSION_TIMEOUT)
        .expect("right key");
    good_peer
        .wait_established(st.address(IpVersion::V4), SESSION_TIMEOUT)
        .expect("right key, peer side");

    // The mismatched side retries meanwhile; give it several attempts and MD5 checks.
    let bad_address = bad.address(IpVersion::V4);
    let deadline = Instant::now() + Duration::from_secs(12);
    let mut logged = false;
    while Instant::now() < deadline && !logged {
        std::thread::sleep(Duration::from_millis(500));
        let events = starling
            .log_events("TCP MD5 signature failures: the neighbor's key differs from ours, or it sends none")
            .expect("log");
        logged = events
            .iter()
            .any(|e| e.get("peer").and_then(|p| p.as_str()) == Some(&bad_address.to_string()));
    }
    assert!(
        logged,
        "no MD5 log line naming {bad_address}:\n{}",
        starling.log().unwrap_or_default()
    );
    let status = starling.neighbor(bad_address).expect("neighbor");
    assert_ne!(status.state, "Established");
    assert_eq!(
        status.last_error.as_deref(),
        Some("TCP MD5 signature mismatch"),
        "{status:?}"
    );
    assert_ne!(
        bad_peer
            .session_state(st.address(IpVersion::V4))
            .expect("peer state"),
        SessionState::Established
    );
}

#[test]
fn tcp_md5_with_bird() {
    md5_with(PeerKind::Bird);
}

#[test]
fn tcp_md5_with_frr() {
    md5_with(PeerKind::Frr);
}

/// "Hold timer: 69.995/90" → 90.
fn bird_timer(output: &str, label: &str) -> Option<u64> {
    let line = output.lines().find(|l| l.trim_start().starts_with(label))?;
    line.rsplit('/').next()?.trim().parse().ok()
}

#[test]
fn hold_time_180_against_90_runs_90_and_30_on_both_sides() {
    if !lab_available("hold time negotiation", &[Tool::Bird]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let st = lab.host("st").expect("host");
    let peer = lab.host("bird").expect("host");
    let mut ours = neighbor(&peer, IpVersion::V4, PEER_AS);
    ours.hold_time = interop::HoldTime(180);
    let starling = Starling::start(
        &lab,
        &st,
        &RouterSpec::new(st.ipv4, STARLING_AS).neighbor(ours),
    )
    .expect("bgpd");
    let mut theirs = neighbor(&st, IpVersion::V4, STARLING_AS);
    theirs.hold_time = interop::HoldTime(90);
    let bird = Bird::start(
        &lab,
        &peer,
        RouterSpec::new(peer.ipv4, PEER_AS).neighbor(theirs),
    )
    .expect("bird");

    let status = starling
        .wait_established(peer.address(IpVersion::V4), SESSION_TIMEOUT)
        .expect("session");
    assert_eq!((status.hold_time, status.keepalive), (90, 30));
    bird.wait_established(st.address(IpVersion::V4), SESSION_TIMEOUT)
        .expect("BIRD side");
    let output = bird
        .birdc(&[
            "show",
            "protocols",
            "all",
            &protocol_name(st.address(IpVersion::V4)),
        ])
        .expect("birdc");
    assert_eq!(bird_timer(&output, "Hold timer:"), Some(90), "{output}");
    assert_eq!(
        bird_timer(&output, "Keepalive timer:"),
        Some(30),
        "{output}"
    );
}

#[test]
fn silent_or_killed_peer_is_detected_and_the_session_comes_back() {
    if !lab_available("peer failure", &[Tool::Bird]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let st = lab.host("st").expect("host");
    let peer = lab.host("bird").expect("host");
    let bird_address = peer.address(IpVersion::V4);
    let spec =
        RouterSpec::new(st.ipv4, STARLING_AS).neighbor(neighbor(&peer, IpVersion::V4, PEER_AS));
    let starling = Starling::start(&lab, &st, &spec).expect("bgpd");
    let bird_spec =
        RouterSpec::new(peer.ipv4, PEER_AS).neighbor(neighbor(&st, IpVersion::V4, STARLING_AS));
    let mut bird = Bird::start(&lab, &peer, bird_spec.clone()).expect("bird");
    let hold = Duration::from_secs(u64::from(interop::DEFAULT_HOLD_TIME.0));
    starling
        .wait_established(bird_address, SESSION_TIMEOUT)
        .expect("session");

    // Silent: the TCP connection stays up but nothing arrives; the hold timer must fire.
    bird.process().signal(libc::SIGSTOP);
    let stopped = Instant::now();
    let left = interop::wait_until(
        "Starling to leave Established",
        hold + Duration::from_secs(3),
        interop::DEFAULT_INTERVAL,
        || {
            let status = starling.neighbor(bird_address)?;
            Ok((status.state != "Established").then_some(status))
        },
    );
    bird.process().signal(libc::SIGCONT);
    let status = left.expect("hold timer expiry");
    assert!(
        stopped.elapsed() >= hold - Duration::from_secs(1),
        "left after {:?}",
        stopped.elapsed()
    );
    assert_eq!(
        status.last_error.as_deref(),
        Some("hold timer expired"),
        "{status:?}"
    );
    starling
        .wait_established(bird_address, SESSION_TIMEOUT)
        .expect("back after SIGCONT");

    // Killed: the connection drops; the session is back within seconds of the restart.
    bird.process().kill().expect("kill BIRD");
    interop::wait_until(
        "Starling to leave Established",
        hold,
        interop::DEFAULT_INTERVAL,
        || Ok((starling.neighbor(bird_address)?.state != "Established").then_some(())),
    )
    .expect("down after kill");
    drop(bird);
    let restarted = Instant::now();
    let _bird = Bird::start(&lab, &peer, bird_spec).expect("bird again");
    starling
        .wait_established(bird_address, Duration::from_secs(15))
        .expect("back after restart");
    eprintln!(
        "session back {:?} after BIRD restarted",
        restarted.elapsed()
    );
}

/// Counts established TCP connections between Starling's host and `peer` on port 179.
fn bgp_connections(lab: &Lab, st: &Host, peer: IpAddr) -> usize {
    let output = lab
        .exec(
            st,
            &[
                "ss",
                "-Htn",
                "state",
                "established",
                "( sport = :179 or dport = :179 )",
            ],
        )
        .expect("ss");
    output
        .lines()
        .filter(|line| {
            line.split_whitespace()
                .any(|field| field.starts_with(&format!("{peer}:")))
        })
        .count()
}

#[test]
fn both_sides_active_leaves_exactly_one_session() {
    let kinds = PeerKind::ALL;
    if !lab_available("connection collision", &kinds.map(PeerKind::tool)) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let st = lab.host("st").expect("host");
    let hosts: Vec<Host> = kinds
        .iter()
        .map(|k| lab.host(k.name()).expect("host"))
        .collect();
    let mut spec = RouterSpec::new(st.ipv4, STARLING_AS);
    for host in &hosts {
        spec = spec.neighbor(neighbor(host, IpVersion::V4, PEER_AS));
    }
    // Everyone active and starting together: connections cross.
    let peers: Vec<Box<dyn BgpPeer>> = kinds
        .iter()
        .zip(&hosts)
        .map(|(kind, host)| {
            let spec = RouterSpec::new(host.ipv4, PEER_AS).neighbor(neighbor(
                &st,
                IpVersion::V4,
                STARLING_AS,
            ));
            kind.start(&lab, host, spec).expect("peer")
        })
        .collect();
    let starling = Starling::start(&lab, &st, &spec).expect("bgpd");
    for (peer, host) in peers.iter().zip(&hosts) {
        starling
            .wait_established(host.address(IpVersion::V4), SESSION_TIMEOUT)
            .expect("Starling side");
        peer.wait_established(st.address(IpVersion::V4), SESSION_TIMEOUT)
            .expect("peer side");
    }
    // Collision resolution closes the loser at once; what is left must stay alone and up.
    std::thread::sleep(Duration::from_secs(3));
    let before: Vec<u64> = hosts
        .iter()
        .map(|h| {
            starling
                .neighbor(h.address(IpVersion::V4))
                .expect("status")
                .uptime_s
        })
        .collect();
    std::thread::sleep(Duration::from_secs(3));
    for (host, uptime_before) in hosts.iter().zip(before) {
        assert_eq!(
            bgp_connections(&lab, &st, host.address(IpVersion::V4)),
            1,
            "connections with {}",
            host.name
        );
        let status = starling
            .neighbor(host.address(IpVersion::V4))
            .expect("status");
        assert_eq!(status.state, "Established");
        assert!(
            status.uptime_s >= uptime_before + 2,
            "{} flapped: {status:?}",
            host.name
        );
    }
}

#[test]
fn sighup_removing_a_neighbor_closes_only_that_session() {
    let kinds = PeerKind::ALL;
    if !lab_available("reload", &kinds.map(PeerKind::tool)) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let st = lab.host("st").expect("host");
    let hosts: Vec<Host> = kinds
        .iter()
        .map(|k| lab.host(k.name()).expect("host"))
        .collect();
    let neighbors: Vec<NeighborSpec> = hosts
        .iter()
        .map(|h| neighbor(h, IpVersion::V4, PEER_AS))
        .collect();
    let mut spec = RouterSpec::new(st.ipv4, STARLING_AS);
    spec.neighbors = neighbors.clone();
    let starling = Starling::start(&lab, &st, &spec).expect("bgpd");
    let peers: Vec<Box<dyn BgpPeer>> = kinds
        .iter()
        .zip(&hosts)
        .map(|(kind, host)| {
            let spec = RouterSpec::new(host.ipv4, PEER_AS).neighbor(neighbor(
                &st,
                IpVersion::V4,
                STARLING_AS,
            ));
            kind.start(&lab, host, spec).expect("peer")
        })
        .collect();
    for (peer, host) in peers.iter().zip(&hosts) {
        starling
            .wait_established(host.address(IpVersion::V4), SESSION_TIMEOUT)
            .expect("Starling side");
        peer.wait_established(st.address(IpVersion::V4), SESSION_TIMEOUT)
            .expect("peer side");
    }
    std::thread::sleep(Duration::from_secs(2));

    // Remove the GoBGP neighbor (index 1).
    let removed = hosts[1].address(IpVersion::V4);
    let kept: Vec<IpAddr> = [&hosts[0], &hosts[2]]
        .iter()
        .map(|h| h.address(IpVersion::V4))
        .collect();
    let before: Vec<u64> = kept
        .iter()
        .map(|a| starling.neighbor(*a).expect("status").uptime_s)
        .collect();
    let mut reduced = spec.clone();
    reduced.neighbors.retain(|n| n.address != removed);
    let reloaded = Instant::now();
    starling.reconfigure(&reduced).expect("SIGHUP");

    interop::wait_until(
        "the removed neighbor to disappear",
        Duration::from_secs(10),
        interop::DEFAULT_INTERVAL,
        || {
            let names: Vec<String> = starling
                .neighbors()?
                .into_iter()
                .map(|n| n.address)
                .collect();
            Ok((!names.contains(&removed.to_string())).then_some(()))
        },
    )
    .expect("neighbor removed");
    interop::wait_until(
        "GoBGP to lose its session",
        Duration::from_secs(10),
        interop::DEFAULT_INTERVAL,
        || {
            Ok(
                (peers[1].session_state(st.address(IpVersion::V4))? != SessionState::Established)
                    .then_some(()),
            )
        },
    )
    .expect("GoBGP session closed");
    // GoBGP keeps trying; Starling refuses and says why.
    interop::wait_until(
        "a log line for the unknown neighbor",
        Duration::from_secs(20),
        interop::DEFAULT_INTERVAL,
        || {
            let events = starling
                .log_events("connection from an address that is no configured neighbor closed")?;
            Ok(events
                .iter()
                .any(|e| {
                    e.get("remote")
                        .and_then(|r| r.as_str())
                        .is_some_and(|r| r.starts_with(&format!("{removed}:")))
                })
                .then_some(()))
        },
    )
    .expect("unknown neighbor logged");

    let elapsed = reloaded.elapsed().as_secs();
    for ((address, uptime_before), peer) in kept.iter().zip(before).zip([&peers[0], &peers[2]]) {
        let status = starling.neighbor(*address).expect("status");
        assert_eq!(status.state, "Established", "{status:?}");
        assert!(
            status.uptime_s >= uptime_before + elapsed.saturating_sub(1),
            "{address} flapped: {status:?}"
        );
        assert_eq!(
            peer.session_state(st.address(IpVersion::V4))
                .expect("peer state"),
            SessionState::Established
        );
    }
    let kept_down = starling
        .log_events("session down")
        .expect("log")
        .into_iter()
        .filter(|e| e.get("peer").and_then(|p| p.as_str()) != Some(&removed.to_string()))
        .count();
    assert_eq!(kept_down, 0, "a kept session went down");
}

/// GTSM (RFC 5082): with TTL security on both sides the session comes up; a neighbor that sends
/// with an ordinary eBGP TTL of 1 gets none.
fn gtsm_with(kind: PeerKind) {
    if !lab_available(&format!("GTSM with {}", kind.name()), &[kind.tool()]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let st = lab.host("st").expect("host");
    let secured = lab.host("gtsm").expect("host");
    let plain = lab.host("plain").expect("host");
    let guarded = |host: &Host| {
        let mut n = neighbor(host, IpVersion::V4, PEER_AS);
        n.ttl_security = Some(1);
        n
    };
    let spec = RouterSpec::new(st.ipv4, STARLING_AS)
        .neighbor(guarded(&secured))
        .neighbor(guarded(&plain));
    let starling = Starling::start(&lab, &st, &spec).expect("bgpd");
    let mut towards_starling = neighbor(&st, IpVersion::V4, STARLING_AS);
    let plain_peer = kind
        .start(
            &lab,
            &plain,
            RouterSpec::new(plain.ipv4, PEER_AS).neighbor(towards_starling.clone()),
        )
        .expect("peer without GTSM");
    towards_starling.ttl_security = Some(1);
    let secured_peer = kind
        .start(
            &lab,
            &secured,
            RouterSpec::new(secured.ipv4, PEER_AS).neighbor(towards_starling),
        )
        .expect("peer with GTSM");

    starling
        .wait_established(secured.address(IpVersion::V4), SESSION_TIMEOUT)
        .expect("GTSM session");
    secured_peer
        .wait_established(st.address(IpVersion::V4), SESSION_TIMEOUT)
        .expect("GTSM session, peer side");
    // The plain peer's packets arrive with TTL 1 and are dropped: give it time to try.
    std::thread::sleep(Duration::from_secs(8));
    assert_ne!(
        starling
            .neighbor(plain.address(IpVersion::V4))
            .expect("status")
            .state,
        "Established"
    );
    assert_ne!(
        plain_peer
            .session_state(st.address(IpVersion::V4))
            .expect("peer state"),
        SessionState::Established
    );
}

#[test]
fn gtsm_with_bird() {
    gtsm_with(PeerKind::Bird);
}

#[test]
fn gtsm_with_frr() {
    gtsm_with(PeerKind::Frr);
}

#[test]
fn active_connect_uses_the_configured_local_address() {
    if !lab_available("local address", &[Tool::Bird]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let st = lab.host("st").expect("host");
    let peer = lab.host("bird").expect("host");
    let source = lab.add_addresses(&st, 1).expect("extra address")[0].ipv4;
    let mut ours = neighbor(&peer, IpVersion::V4, PEER_AS);
    ours.local_address = Some(IpAddr::V4(source));
    let starling = Starling::start(
        &lab,
        &st,
        &RouterSpec::new(st.ipv4, STARLING_AS).neighbor(ours),
    )
    .expect("bgpd");
    // BIRD only knows the extra address and never connects itself: a session proves that
    // Starling connected from it.
    let mut theirs = NeighborSpec::new(IpAddr::V4(source), STARLING_AS);
    theirs.passive = true;
    let bird = Bird::start(
        &lab,
        &peer,
        RouterSpec::new(peer.ipv4, PEER_AS).neighbor(theirs),
    )
    .expect("bird");
    starling
        .wait_established(peer.address(IpVersion::V4), SESSION_TIMEOUT)
        .expect("Starling side");
    bird.wait_established(IpAddr::V4(source), SESSION_TIMEOUT)
        .expect("BIRD side");
}

/// Reads a `Name:` line of `/proc/PID/status`.
fn proc_status(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("process status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .map(|v| v.trim().to_owned())
        .unwrap_or_default()
}

#[test]
fn runs_as_a_plain_user_with_two_capabilities() {
    if !lab_available("unprivileged bgpd", &[Tool::Bird]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let st = lab.host("st").expect("host");
    let peer = lab.host("bird").expect("host");
    // Passive with a key: the session must come through our listener on port 179 (a
    // privileged port) with TCP MD5 set by a process that is not root.
    let mut ours = neighbor(&peer, IpVersion::V4, PEER_AS);
    ours.passive = true;
    ours.password = Some("unprivileged".to_owned());
    let spec = RouterSpec::new(st.ipv4, STARLING_AS).neighbor(ours);
    let mut starling =
        Starling::start_unprivileged(&lab, &st, &spec, "nobody").expect("bgpd as nobody");
    let mut theirs = neighbor(&st, IpVersion::V4, STARLING_AS);
    theirs.password = Some("unprivileged".to_owned());
    let bird = Bird::start(
        &lab,
        &peer,
        RouterSpec::new(peer.ipv4, PEER_AS).neighbor(theirs),
    )
    .expect("bird");
    starling
        .wait_established(peer.address(IpVersion::V4), SESSION_TIMEOUT)
        .expect("Starling side");
    bird.wait_established(st.address(IpVersion::V4), SESSION_TIMEOUT)
        .expect("BIRD side");

    let pid = starling.process().pid();
    assert_eq!(
        proc_status(pid, "Uid:").split_whitespace().next(),
        Some("65534"),
        "not running as nobody"
    );
    // CAP_NET_BIND_SERVICE (10) and CAP_NET_ADMIN (12), nothing else.
    assert_eq!(proc_status(pid, "CapEff:"), "0000000000001400");
}

/// The value of a metric line (`name{labels} value`) on a Prometheus page.
fn metric(page: &str, series: &str) -> Option<u64> {
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[test]
fn metrics_count_sessions_and_messages() {
    if !lab_available("metrics", &[Tool::Bird]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let st = lab.host("st").expect("host");
    let peer = lab.host("bird").expect("host");
    let up = lab.host("down").expect("host");
    // One neighbor that answers, one that never will.
    let spec = RouterSpec::new(st.ipv4, STARLING_AS)
        .neighbor(neighbor(&peer, IpVersion::V4, PEER_AS))
        .neighbor(neighbor(&up, IpVersion::V4, PEER_AS));
    let starling = Starling::start(&lab, &st, &spec).expect("bgpd");
    let bird_spec = RouterSpec::new(peer.ipv4, PEER_AS)
        .neighbor(neighbor(&st, IpVersion::V4, STARLING_AS))
        .route(interop::OriginRoute::new(
            "10.244.7.0/26".parse().expect("prefix"),
        ));
    let _bird = Bird::start(&lab, &peer, bird_spec).expect("bird");
    starling
        .wait_established(peer.address(IpVersion::V4), SESSION_TIMEOUT)
        .expect("session");
    let labels = format!("neighbor=\"{0}\",address=\"{0}\"", peer.ipv4);
    // BIRD sends its route, then End-of-RIB: wait for both.
    let page = interop::wait_until(
        "the route and End-of-RIB to be counted",
        SESSION_TIMEOUT,
        interop::DEFAULT_INTERVAL,
        || {
            let page = starling.metrics()?;
            let prefixes = metric(
                &page,
                &format!("starling_neighbor_prefixes_received{{{labels}}}"),
            );
            let updates = metric(
                &page,
                &format!("starling_messages_received_total{{{labels},type=\"update\"}}"),
            );
            Ok((prefixes == Some(1) && updates >= Some(2)).then_some(page))
        },
    )
    .expect("metrics");
    assert_eq!(
        metric(&page, "starling_sessions{state=\"Established\"}"),
        Some(1),
        "{page}"
    );
    assert_eq!(
        metric(&page, &format!("starling_neighbor_established{{{labels}}}")),
        Some(1)
    );
    // One OPEN per connection: two when both sides' connections crossed.
    let opens = metric(
        &page,
        &format!("starling_messages_sent_total{{{labels},type=\"open\"}}"),
    );
    assert!(matches!(opens, Some(1 | 2)), "{page}");
    let silent = format!("neighbor=\"{0}\",address=\"{0}\"", up.ipv4);
    assert_eq!(
        metric(&page, &format!("starling_neighbor_established{{{silent}}}")),
        Some(0)
    );
}
