//! What an operator sees of a neighbor's errors, and how long bgpd rests after one (issue 17):
//! `show neighbors` gives `last_error` with its time (`last_error_at`, `last_error_age_s`) and
//! says when it came before the Established session (`last_error_before_up`; the human table
//! marks it `before up`), so that a connect error from before BIRD was up does not read as a
//! current problem; and `error_wait_time = [MIN, MAX]` is the idle hold after an error: a
//! hand-driven neighbor that errs is refused (Cease / Connection Rejected) for exactly MIN, then
//! for about twice that after its next error.
//!
//! Run: `cargo test -p interop --test neighbor_errors -- --nocapture` (root, BIRD installed).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use interop::raw_peer::{frame, standard_open};
use interop::{
    lab_available, wait_until, BgpPeer, Bird, Extra, IpVersion, Lab, NeighborSpec, NeighborStatus,
    RawPeer, RouterSpec, Starling, Tool, DEFAULT_INTERVAL,
};
use proto::header::MessageType;
use proto::message::Message;
use proto::notification::{CeaseError, ErrorCode};
use proto::Asn;

const STARLING_AS: Asn = Asn(64512);
const PEER_AS: Asn = Asn(65002);
const TIMEOUT: Duration = Duration::from_secs(30);
const BGP_PORT: u16 = 179;

/// `name`'s row of the human `show neighbors` table.
fn human_row(starling: &Starling, name: &str) -> String {
    let table = starling
        .bgpctl_text(&["show", "neighbors"])
        .expect("show neighbors");
    table
        .lines()
        .find(|line| line.starts_with(name))
        .unwrap_or_else(|| panic!("no row for {name}:\n{table}"))
        .to_owned()
}

/// An RFC 3339 UTC timestamp to the second, `2026-11-22T15:30:00Z`.
fn is_rfc3339_utc(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 20
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            10 => *b == b'T',
            13 | 16 => *b == b':',
            19 => *b == b'Z',
            _ => b.is_ascii_digit(),
        })
}

fn wait_status(
    starling: &Starling,
    address: IpAddr,
    what: &str,
    done: impl Fn(&NeighborStatus) -> bool,
) -> NeighborStatus {
    wait_until(what, TIMEOUT, DEFAULT_INTERVAL, || {
        let status = starling.neighbor(address)?;
        Ok(done(&status).then_some(status))
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn last_error_has_its_time_and_says_when_it_came_before_the_session() {
    if !lab_available("last_error and its time", &[Tool::Bird]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let st = lab.host("st").expect("host");
    let peer = lab.host("bird").expect("host");
    let address = peer.address(IpVersion::V4);
    let name = address.to_string();
    let spec = RouterSpec::new(st.ipv4, STARLING_AS).neighbor(NeighborSpec::new(address, PEER_AS));
    let starling = Starling::start(&lab, &st, &spec).expect("bgpd");

    // BIRD is not running yet: the connect is refused.
    let status = wait_status(&starling, address, "a connect error", |s| {
        s.last_error
            .as_deref()
            .is_some_and(|e| e.starts_with("connect:"))
    });
    let at = status.last_error_at.clone().unwrap_or_default();
    assert!(is_rfc3339_utc(&at), "last_error_at {at:?}");
    assert!(
        status.last_error_age_s.is_some_and(|age| age < 30),
        "{status:?}"
    );
    assert!(!status.last_error_before_up, "{status:?}");
    let row = human_row(&starling, &name);
    println!("not up yet: {row}");
    assert!(row.contains("connect:") && row.contains(" ago)"), "{row}");
    assert!(!row.contains("before up"), "{row}");

    // BIRD comes up: the connect error is history.
    let bird_spec = RouterSpec::new(peer.ipv4, PEER_AS)
        .neighbor(NeighborSpec::new(st.address(IpVersion::V4), STARLING_AS));
    let mut bird = Bird::start(&lab, &peer, bird_spec).expect("bird");
    starling
        .wait_established(address, TIMEOUT)
        .expect("session");
    let status = starling.neighbor(address).expect("status");
    assert!(status.last_error_before_up, "{status:?}");
    assert_eq!(
        status.last_error_at.as_deref(),
        Some(at.as_str()),
        "the same error"
    );
    let row = human_row(&starling, &name);
    println!("up: {row}");
    assert!(row.contains("before up"), "{row}");

    // An error of this session is current until the next session comes up.
    bird.shutdown(st.address(IpVersion::V4), "maintenance")
        .expect("BIRD disables the session");
    let status = wait_status(&starling, address, "the Cease as last error", |s| {
        s.last_error
            .as_deref()
            .is_some_and(|e| e.contains("AdministrativeShutdown"))
    });
    assert!(!status.last_error_before_up, "{status:?}");
    let row = human_row(&starling, &name);
    println!("shut down: {row}");
    assert!(row.contains("AdministrativeShutdown") && !row.contains("before up"));
    bird.enable(st.address(IpVersion::V4)).expect("enable");
    starling
        .wait_established(address, TIMEOUT)
        .expect("session again");
    let status = starling.neighbor(address).expect("status");
    assert!(status.last_error_before_up, "{status:?}");
}

/// Whether bgpd takes a new connection from `peer_host`'s `source`: `Some(connection)` (it
/// sent its OPEN) or `None` (it refused with Cease / Connection Rejected, its idle hold).
fn try_connect(host: &interop::Host, source: IpAddr, target: SocketAddr) -> Option<RawPeer> {
    let mut peer = RawPeer::connect(host, source, target).expect("connect");
    match peer.receive(Duration::from_secs(2)).expect("an answer") {
        Some(Message::Open(_)) => Some(peer),
        Some(Message::Notification(n))
            if n.code == ErrorCode::Cease(CeaseError::ConnectionRejected) =>
        {
            None
        }
        other => panic!("unexpected answer {other:?}"),
    }
}

/// Establishes `peer` (bgpd's OPEN already read), then makes it err: a KEEPALIVE with a body
/// (Message Header Error). Returns when bgpd's NOTIFICATION arrived: the idle hold began.
fn err(peer: &mut RawPeer, open: &proto::open::Open) -> Instant {
    peer.send_message(&Message::Open(open.clone()))
        .expect("OPEN");
    peer.send_message(&Message::Keepalive).expect("KEEPALIVE");
    match peer.receive(Duration::from_secs(5)).expect("KEEPALIVE") {
        Some(Message::Keepalive) => {}
        other => panic!("expected a KEEPALIVE, got {other:?}"),
    }
    peer.send(&frame(MessageType::Keepalive.to_wire(), &[0x00]))
        .expect("fault");
    match peer
        .wait_ending(Duration::from_secs(5))
        .expect("NOTIFICATION")
    {
        interop::Ending::Notification(_) => Instant::now(),
        interop::Ending::Closed => panic!("closed without NOTIFICATION"),
    }
}

/// Polls every 200 ms until bgpd takes the connection; the connection and when.
fn wait_accepted(host: &interop::Host, source: IpAddr, target: SocketAddr) -> (RawPeer, Instant) {
    let deadline = Instant::now() + TIMEOUT;
    while Instant::now() < deadline {
        if let Some(peer) = try_connect(host, source, target) {
            return (peer, Instant::now());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("bgpd never took the connection back");
}

#[test]
fn error_wait_time_starts_at_its_minimum_and_doubles() {
    if !lab_available("error_wait_time", &[]) {
        return;
    }
    const MIN: Duration = Duration::from_secs(3);
    const MAX: Duration = Duration::from_secs(6);
    let lab = Lab::new().expect("lab");
    let st = lab.host("st").expect("host");
    let raw = lab.host("raw").expect("host");
    let source = IpAddr::V4(raw.ipv4);
    let mut neighbor = NeighborSpec::new(source, PEER_AS);
    neighbor.passive = true;
    let spec = RouterSpec::new(st.ipv4, STARLING_AS).neighbor(neighbor);
    // The neighbor's own range wins over the global one.
    let extra = Extra::default()
        .global("error_wait_time = [1, 60]")
        .neighbor(source, "error_wait_time = [3, 6]");
    let _starling = Starling::start_with(&lab, &st, &spec, &extra).expect("bgpd");
    let target = SocketAddr::new(IpAddr::V4(st.ipv4), BGP_PORT);
    let open = standard_open(PEER_AS, raw.ipv4, 90);

    let mut first = try_connect(&raw, source, target).expect("the first connection is taken");
    let error_at = err(&mut first, &open);
    let (mut second, accepted_at) = wait_accepted(&raw, source, target);
    let first_wait = accepted_at - error_at;
    let error_at = err(&mut second, &open);
    let (_third, accepted_at) = wait_accepted(&raw, source, target);
    let second_wait = accepted_at - error_at;
    println!(
        "error_wait_time [3, 6]: refused for {:.2} s after the first error, {:.2} s after the second",
        first_wait.as_secs_f64(),
        second_wait.as_secs_f64()
    );
    // Exactly MIN, then MAX jittered to 75-100 %; polling adds up to 200 ms and a refusal's
    // round trip.
    let slack = Duration::from_millis(800);
    assert!(
        first_wait >= MIN - Duration::from_millis(100) && first_wait <= MIN + slack,
        "first idle hold {first_wait:?}, not {MIN:?}"
    );
    assert!(
        second_wait >= MAX * 3 / 4 - Duration::from_millis(100) && second_wait <= MAX + slack,
        "second idle hold {second_wait:?}, not about {MAX:?}"
    );
}
