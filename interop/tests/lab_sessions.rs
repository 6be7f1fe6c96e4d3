//! The lab itself: each pair of real daemons reaches Established over IPv4 and over IPv6
//! transport and exchanges a route with attributes, asserted through each daemon's own CLI.

use std::time::Duration;

use interop::{
    lab_available, lab_namespaces, BgpPeer, Community, Host, IpVersion, Lab, LargeCommunity,
    NeighborSpec, OriginRoute, PeerKind, RouteAttrs, RouterSpec, DEFAULT_TIMEOUT,
};
use ipnet::IpNet;
use proto::Asn;

/// Each side's AS is 65000 + its index (eBGP between the two).
const BASE_ASN: u32 = 65000;
/// Bound on each wait; a healthy pair needs a few seconds.
const TIMEOUT: Duration = DEFAULT_TIMEOUT;

/// The route side `index` originates for a transport.
fn prefix(index: u8, version: IpVersion) -> IpNet {
    let text = match version {
        IpVersion::V4 => format!("10.{}.0.0/24", 100 + index),
        IpVersion::V6 => format!("fd00:{}::/64", 100 + index),
    };
    text.parse().expect("literal prefix")
}

fn spec(index: u8, own: &Host, other: &Host, version: IpVersion) -> RouterSpec {
    let asn = Asn(BASE_ASN + u32::from(index));
    let other_asn = Asn(BASE_ASN + u32::from(1 - index));
    let attrs = RouteAttrs {
        med: Some(10 + u32::from(index)),
        communities: vec![Community(65000, u16::from(index))],
        large_communities: vec![LargeCommunity(asn.0, 1, u32::from(index))],
        ..RouteAttrs::default()
    };
    RouterSpec::new(own.ipv4, asn)
        .neighbor(NeighborSpec::new(other.address(version), other_asn))
        .route(OriginRoute::with_attrs(prefix(index, version), attrs))
}

/// Runs one pair over one transport and checks both directions; then checks the lab's
/// namespaces are gone after drop.
fn check(kinds: [PeerKind; 2], version: IpVersion) {
    let test = format!(
        "{}-{} over {}",
        kinds[0].name(),
        kinds[1].name(),
        version.name()
    );
    if !lab_available(&test, &[kinds[0].tool(), kinds[1].tool()]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let lab_name = lab.name().to_owned();
    {
        let hosts = [
            lab.host(kinds[0].name()).expect("host 0"),
            lab.host(&format!("{}2", kinds[1].name())).expect("host 1"),
        ];
        let peers: Vec<Box<dyn BgpPeer>> = (0..2)
            .map(|i| {
                let own = &hosts[i];
                let other = &hosts[1 - i];
                let index = u8::try_from(i).expect("two sides");
                kinds[i]
                    .start(&lab, own, spec(index, own, other, version))
                    .unwrap_or_else(|e| panic!("{test}: start {}: {e}", kinds[i].name()))
            })
            .collect();
        for i in 0..2 {
            let (receiver, sender) = (&peers[i], &hosts[1 - i]);
            let neighbor = sender.address(version);
            receiver
                .wait_established(neighbor, TIMEOUT)
                .unwrap_or_else(|e| panic!("{test}: {e}"));
            let sender_index = u8::try_from(1 - i).expect("two sides");
            let route = receiver
                .wait_route(prefix(sender_index, version), neighbor, TIMEOUT)
                .unwrap_or_else(|e| panic!("{test}: {e}"));
            let sender_asn = Asn(BASE_ASN + u32::from(sender_index));
            assert_eq!(route.as_path, vec![sender_asn], "{test}: {route:?}");
            assert_eq!(
                route.med,
                Some(10 + u32::from(sender_index)),
                "{test}: {route:?}"
            );
            assert_eq!(
                route.communities,
                vec![Community(65000, u16::from(sender_index))]
            );
            assert_eq!(
                route.large_communities,
                vec![LargeCommunity(sender_asn.0, 1, u32::from(sender_index))]
            );
            assert_eq!(route.next_hop, Some(neighbor), "{test}: {route:?}");
        }
    }
    drop(lab);
    let left: Vec<String> = lab_namespaces()
        .expect("ip netns list")
        .into_iter()
        .filter(|n| n.starts_with(&format!("{lab_name}-")))
        .collect();
    assert!(
        left.is_empty(),
        "{test}: namespaces left after drop: {left:?}"
    );
}

#[test]
fn bird_gobgp_ipv4() {
    check([PeerKind::Bird, PeerKind::GoBgp], IpVersion::V4);
}

#[test]
fn bird_gobgp_ipv6() {
    check([PeerKind::Bird, PeerKind::GoBgp], IpVersion::V6);
}

#[test]
fn gobgp_frr_ipv4() {
    check([PeerKind::GoBgp, PeerKind::Frr], IpVersion::V4);
}

#[test]
fn gobgp_frr_ipv6() {
    check([PeerKind::GoBgp, PeerKind::Frr], IpVersion::V6);
}

#[test]
fn bird_frr_ipv4() {
    check([PeerKind::Bird, PeerKind::Frr], IpVersion::V4);
}

#[test]
fn bird_frr_ipv6() {
    check([PeerKind::Bird, PeerKind::Frr], IpVersion::V6);
}
