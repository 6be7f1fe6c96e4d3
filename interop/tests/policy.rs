//! Routing policy from Starling's configuration, end to end: BIRD (eBGP) sends routes that an
//! import policy filters by prefix list (ge/le) and community and gives a LOCAL_PREF, read in
//! `bgpctl --json show routes`; an export policy towards GoBGP (eBGP) adds communities and
//! large communities (RFC 1997, RFC 8092) and prepends our AS (RFC 4271 §5.1.2), read in
//! GoBGP's own RIB; a SIGHUP that changes both applies without resetting a session; and
//! `max_prefixes` lowered below what BIRD sends stops the session with Cease / Maximum Number
//! of Prefixes Reached (RFC 4486 §4), read in BIRD's own `show protocols all`. (Starling's side
//! of that stop is checked in `tests/rib.rs`.)

use std::time::Duration;

use interop::{
    lab_available, BgpPeer, Bird, Community, Extra, IpVersion, Lab, LargeCommunity, NeighborSpec,
    OriginRoute, PeerKind, RouteAttrs, RouterSpec, Starling, Tool, DEFAULT_INTERVAL,
    DEFAULT_TIMEOUT,
};
use ipnet::IpNet;
use proto::Asn;

const STARLING_ASN: Asn = Asn(64512);
const BIRD_ASN: Asn = Asn(65001);
const GOBGP_ASN: Asn = Asn(65003);
const TIMEOUT: Duration = DEFAULT_TIMEOUT;
const V4: IpVersion = IpVersion::V4;

/// The community BIRD tags its preferred route with.
const PREFERRED: Community = Community(65001, 9);

fn prefix(text: &str) -> IpNet {
    text.parse().expect("literal prefix")
}

/// Definitions for Starling; `{le}`, `{prepend}` and `{extra}` vary between the first
/// configuration and the reloaded one.
fn policies(le: u8, prepend: u8, extra: &str) -> String {
    format!(
        r#"[[prefix_list]]
name = "pods"
prefixes = [{{ prefix = "10.50.0.0/16", ge = 24, le = {le} }}]

[[policy]]
name = "from-bird"
default = "reject"

[[policy.term]]
match = {{ prefix_list = "pods", community = ["65001:9"] }}
set = {{ local_pref = 300 }}
action = "accept"

[[policy.term]]
match = {{ prefix_list = "pods" }}
set = {{ local_pref = 200 }}
action = "accept"

[[policy]]
name = "to-gobgp"

[[policy.term]]
set = {{ add_communities = ["64512:100", "64512:1:100"{extra}], prepend = {prepend} }}
"#
    )
}

/// Waits until Starling's Loc-RIB has `route` from BIRD with `local_pref`.
fn check_imported(starling: &Starling, route: &str, from: &str, local_pref: u32) {
    let entry = interop::wait_until(
        &format!("Starling imports {route} with LOCAL_PREF {local_pref}"),
        TIMEOUT,
        DEFAULT_INTERVAL,
        || {
            let routes = starling.routes(&[])?;
            Ok(routes
                .into_iter()
                .find(|r| r.prefix == route && r.from == from && r.local_pref == Some(local_pref)))
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(entry.as_path, vec![BIRD_ASN.0], "{entry:?}");
}

/// Waits until GoBGP has `route` from Starling with this AS_PATH and these communities.
fn check_exported(
    gobgp: &dyn BgpPeer,
    route: IpNet,
    as_path: &[Asn],
    communities: &[Community],
    large: &[LargeCommunity],
) {
    interop::wait_until(
        &format!("GoBGP sees {route} with path {as_path:?}, {communities:?}, {large:?}"),
        TIMEOUT,
        DEFAULT_INTERVAL,
        || {
            let routes = gobgp.routes(interop::family_of(route))?;
            Ok(routes.into_iter().find(|r| {
                r.prefix == route
                    && r.as_path == as_path
                    && communities.iter().all(|c| r.communities.contains(c))
                    && large.iter().all(|c| r.large_communities.contains(c))
            }))
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn import_and_export_policies_apply_and_reload_without_reset() {
    let test = "import and export policy between BIRD, Starling and GoBGP";
    if !lab_available(test, &[Tool::Bird, Tool::GoBgp]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let starling_host = lab.host("starling").expect("host");
    let bird_host = lab.host("bird").expect("host");
    let gobgp_host = lab.host("gobgp").expect("host");
    let (bird_address, gobgp_address) = (bird_host.address(V4), gobgp_host.address(V4));
    let starling_address = starling_host.address(V4);

    let local = prefix("10.60.0.0/24");
    let spec = RouterSpec::new(starling_host.ipv4, STARLING_ASN)
        .neighbor(NeighborSpec::new(bird_address, BIRD_ASN))
        .neighbor(NeighborSpec::new(gobgp_address, GOBGP_ASN))
        .route(OriginRoute::new(local));
    let extra = |le: u8, prepend: u8, more: &str, bird_line: &str| {
        Extra::default()
            .neighbor(bird_address, "import = [\"from-bird\"]")
            .neighbor(bird_address, bird_line)
            .neighbor(gobgp_address, "export = [\"to-gobgp\"]")
            .section(&policies(le, prepend, more))
    };
    let starling =
        Starling::start_with(&lab, &starling_host, &spec, &extra(26, 2, "", "")).expect("starling");

    // Inside the list (/24, /26), too long for it until the reload (/28), outside it, and
    // one with the community of the first term.
    let (inside, inside_26, long, outside, preferred) = (
        "10.50.1.0/24",
        "10.50.2.0/26",
        "10.50.3.0/28",
        "10.51.0.0/24",
        "10.50.4.0/24",
    );
    let mut bird_spec = RouterSpec::new(bird_host.ipv4, BIRD_ASN)
        .neighbor(NeighborSpec::new(starling_address, STARLING_ASN));
    for route in [inside, inside_26, long, outside] {
        bird_spec = bird_spec.route(OriginRoute::new(prefix(route)));
    }
    bird_spec = bird_spec.route(OriginRoute::with_attrs(
        prefix(preferred),
        RouteAttrs {
            communities: vec![PREFERRED],
            ..RouteAttrs::default()
        },
    ));
    let bird = Bird::start(&lab, &bird_host, bird_spec).expect("bird");
    let gobgp = PeerKind::GoBgp
        .start(
            &lab,
            &gobgp_host,
            RouterSpec::new(gobgp_host.ipv4, GOBGP_ASN)
                .neighbor(NeighborSpec::new(starling_address, STARLING_ASN)),
        )
        .expect("gobgp");

    // Import: the prefix list decides, the community picks the term, LOCAL_PREF is set.
    let from = bird_host.ipv4.to_string();
    check_imported(&starling, inside, &from, 200);
    check_imported(&starling, inside_26, &from, 200);
    check_imported(&starling, preferred, &from, 300);
    let received = starling
        .routes(&["--neighbor", &from, "--received"])
        .expect("received");
    assert_eq!(received.len(), 5, "the Adj-RIB-In keeps all: {received:?}");
    let loc_rib = starling.routes(&[]).expect("routes");
    for rejected in [long, outside] {
        assert!(
            loc_rib.iter().all(|r| r.prefix != rejected),
            "{test}: {rejected} rejected: {loc_rib:?}"
        );
    }
    let status = starling.neighbor(bird_address).expect("neighbor");
    assert_eq!((status.received, status.accepted), (5, 3), "{status:?}");

    // Export: our AS three times (two by policy, one for the hop), communities added.
    let ours = [Community(64512, 100)];
    let large = [LargeCommunity(64512, 1, 100)];
    let prepended = [STARLING_ASN; 3];
    check_exported(gobgp.as_ref(), local, &prepended, &ours, &large);
    let transit = [STARLING_ASN, STARLING_ASN, STARLING_ASN, BIRD_ASN];
    check_exported(gobgp.as_ref(), prefix(inside), &transit, &ours, &large);
    let gobgp_routes = gobgp
        .routes(interop::family_of(local))
        .expect("gobgp routes");
    assert!(
        gobgp_routes.iter().all(|r| r.prefix != prefix(outside)),
        "{test}: import-rejected routes are not exported: {gobgp_routes:?}"
    );

    // SIGHUP: a wider prefix list, one prepend less, one more community; no reset.
    let uptime_before = starling.neighbor(bird_address).expect("neighbor").uptime_s;
    starling
        .reconfigure_with(&spec, &extra(28, 1, ", \"64512:200\"", ""))
        .expect("reload");
    check_imported(&starling, long, &from, 200);
    let more = [Community(64512, 100), Community(64512, 200)];
    check_exported(gobgp.as_ref(), local, &[STARLING_ASN; 2], &more, &large);
    let downs = starling.log_events("session down").expect("log");
    assert!(downs.is_empty(), "{test}: no session reset: {downs:?}");
    for address in [bird_address, gobgp_address] {
        let status = starling.neighbor(address).expect("neighbor");
        assert_eq!(status.state, "Established", "{status:?}");
    }
    let status = starling.neighbor(bird_address).expect("neighbor");
    assert!(
        status.uptime_s >= uptime_before,
        "{test}: uptime went from {uptime_before} to {}",
        status.uptime_s
    );
    assert_eq!(status.accepted, 4, "{status:?}");

    // max_prefixes below the five BIRD sends: BIRD is told why (RFC 4486 §4, subcode 1).
    starling
        .reconfigure_with(&spec, &extra(28, 1, "", "max_prefixes = 3"))
        .expect("reload");
    let protocol = interop::bird::protocol_name(starling_address);
    interop::wait_until(
        &format!("{test}: BIRD receives Cease / Maximum Number of Prefixes Reached"),
        TIMEOUT,
        DEFAULT_INTERVAL,
        || {
            let output = bird.birdc(&["show", "protocols", "all", &protocol])?;
            Ok(output
                .contains("Maximum number of prefixes reached")
                .then_some(()))
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
}
