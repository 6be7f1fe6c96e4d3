//! Route reflection in the lab: each daemon as reflector between the other two, with
//! ORIGINATOR_ID, CLUSTER_LIST and LOCAL_PREF read back through the receiving client's CLI;
//! then a shutdown and re-enable of the session.

use std::net::Ipv4Addr;
use std::time::Duration;

use interop::{
    lab_available, IpVersion, Lab, NeighborSpec, OriginRoute, PeerKind, RouteAttrs, RouterSpec,
    SessionState, DEFAULT_TIMEOUT,
};
use proto::{AfiSafi, Asn, ClusterId, RouterId};

const ASN: Asn = Asn(65100);
const CLUSTER: ClusterId = ClusterId(Ipv4Addr::new(10, 0, 0, 9));
const TIMEOUT: Duration = DEFAULT_TIMEOUT;
const LOCAL_PREF: u32 = 250;

fn check(reflector: PeerKind, source: PeerKind, client: PeerKind) {
    let test = format!(
        "{} reflecting {} to {}",
        reflector.name(),
        source.name(),
        client.name()
    );
    if !lab_available(&test, &[reflector.tool(), source.tool(), client.tool()]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let rr_host = lab.host("rr").expect("host");
    let s_host = lab.host("source").expect("host");
    let c_host = lab.host("client").expect("host");
    let v4 = IpVersion::V4;
    let ibgp = |host: &interop::Host| NeighborSpec::new(host.address(v4), ASN);
    let client_of = |host: &interop::Host| NeighborSpec {
        rr_client: true,
        ..ibgp(host)
    };
    let mut rr_spec = RouterSpec::new(rr_host.ipv4, ASN)
        .neighbor(client_of(&s_host))
        .neighbor(client_of(&c_host));
    rr_spec.cluster_id = Some(CLUSTER);
    let prefix = "10.40.0.0/24".parse().expect("literal prefix");
    let attrs = RouteAttrs {
        local_pref: Some(LOCAL_PREF),
        ..RouteAttrs::default()
    };
    let s_spec = RouterSpec::new(s_host.ipv4, ASN)
        .neighbor(ibgp(&rr_host))
        .route(OriginRoute::with_attrs(prefix, attrs));
    let c_spec = RouterSpec::new(c_host.ipv4, ASN).neighbor(ibgp(&rr_host));

    let mut rr = reflector.start(&lab, &rr_host, rr_spec).expect("reflector");
    let _source = source.start(&lab, &s_host, s_spec).expect("source");
    let client_peer = client.start(&lab, &c_host, c_spec).expect("client");
    let rr_address = rr_host.address(v4);
    let route = client_peer
        .wait_route(prefix, rr_address, TIMEOUT)
        .unwrap_or_else(|e| panic!("{test}: {e}"));
    assert_eq!(
        route.originator_id,
        Some(RouterId(s_host.ipv4)),
        "{test}: {route:?}"
    );
    assert_eq!(route.cluster_list, vec![CLUSTER], "{test}: {route:?}");
    assert_eq!(route.local_pref, Some(LOCAL_PREF), "{test}: {route:?}");
    assert_eq!(
        route.next_hop,
        Some(s_host.address(v4)),
        "{test}: {route:?}"
    );
    assert!(
        route.as_path.is_empty(),
        "{test}: iBGP adds no AS: {route:?}"
    );

    // Administrative shutdown and re-enable, seen from the client.
    let c_address = c_host.address(v4);
    rr.shutdown(c_address, "lab test").expect("shutdown");
    interop::wait_until(
        &format!("{test}: session down"),
        TIMEOUT,
        interop::DEFAULT_INTERVAL,
        || {
            let state = client_peer.session_state(rr_address)?;
            Ok((state != SessionState::Established).then_some(()))
        },
    )
    .expect("session goes down");
    rr.enable(c_address).expect("enable");
    client_peer
        .wait_route(prefix, rr_address, TIMEOUT)
        .unwrap_or_else(|e| panic!("{test} after re-enable: {e}"));
    assert!(rr
        .routes(AfiSafi::Ipv4Unicast)
        .expect("rr routes")
        .iter()
        .any(|r| r.prefix == prefix));
}

#[test]
fn bird_reflects_gobgp_to_frr() {
    check(PeerKind::Bird, PeerKind::GoBgp, PeerKind::Frr);
}

#[test]
fn gobgp_reflects_frr_to_bird() {
    check(PeerKind::GoBgp, PeerKind::Frr, PeerKind::Bird);
}

#[test]
fn frr_reflects_bird_to_gobgp() {
    check(PeerKind::Frr, PeerKind::Bird, PeerKind::GoBgp);
}
