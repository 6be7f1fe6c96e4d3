//! The metrics endpoint against the peers' own account (the operations issue): Starling's
//! Prometheus page, scraped while it peers with BIRD and GoBGP, shows the sessions that
//! `birdc show protocols all` and `gobgp neighbor` call Established, and per neighbor the
//! prefix count each peer says it advertised to Starling.

use std::time::Duration;

use interop::bird::protocol_name;
use interop::{
    lab_available, Bird, GoBgp, IpVersion, Lab, NeighborSpec, OriginRoute, RouterSpec, Starling,
    Tool,
};
use proto::Asn;

const STARLING_AS: Asn = Asn(64512);
const BIRD_AS: Asn = Asn(65001);
const GOBGP_AS: Asn = Asn(65002);
const TIMEOUT: Duration = Duration::from_secs(45);

/// The value of a metric line (`name{labels} value`) on a Prometheus page.
fn metric(page: &str, series: &str) -> Option<u64> {
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

/// The number before `word` on the first line that has `label` (`Routes: 2 imported, 0
/// filtered, 1 exported` → `exported`: 1; `Advertised: 3` → with an empty word).
fn count(output: &str, label: &str, word: &str) -> Option<u64> {
    let rest = output
        .lines()
        .find_map(|line| line.trim().strip_prefix(label))?;
    if word.is_empty() {
        return rest.trim().parse().ok();
    }
    rest.split(',')
        .find_map(|part| part.trim().strip_suffix(word)?.trim().parse().ok())
}

fn routes(prefixes: &[&str]) -> Vec<OriginRoute> {
    prefixes
        .iter()
        .map(|p| OriginRoute::new(p.parse().expect("prefix")))
        .collect()
}

#[test]
fn metrics_match_what_bird_and_gobgp_report() {
    if !lab_available("metrics against peers", &[Tool::Bird, Tool::GoBgp]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let st = lab.host("st").expect("host");
    let bird_host = lab.host("bird").expect("host");
    let gobgp_host = lab.host("gobgp").expect("host");
    let v4 = IpVersion::V4;
    let mut spec = RouterSpec::new(st.ipv4, STARLING_AS)
        .neighbor(NeighborSpec::new(bird_host.address(v4), BIRD_AS))
        .neighbor(NeighborSpec::new(gobgp_host.address(v4), GOBGP_AS));
    for route in routes(&["10.244.9.0/26"]) {
        spec = spec.route(route);
    }
    let starling = Starling::start(&lab, &st, &spec).expect("bgpd");

    let mut bird_spec = RouterSpec::new(bird_host.ipv4, BIRD_AS)
        .neighbor(NeighborSpec::new(st.address(v4), STARLING_AS));
    for route in routes(&["10.244.1.0/26", "10.244.1.64/26"]) {
        bird_spec = bird_spec.route(route);
    }
    let bird = Bird::start(&lab, &bird_host, bird_spec).expect("bird");
    let mut gobgp_spec = RouterSpec::new(gobgp_host.ipv4, GOBGP_AS)
        .neighbor(NeighborSpec::new(st.address(v4), STARLING_AS));
    for route in routes(&["10.244.2.0/26", "10.244.2.64/26", "10.244.2.128/26"]) {
        gobgp_spec = gobgp_spec.route(route);
    }
    let gobgp = GoBgp::start(&lab, &gobgp_host, gobgp_spec).expect("gobgp");

    let st_address = st.ipv4.to_string();
    let labels = |host: &interop::Host| format!("neighbor=\"{0}\",address=\"{0}\"", host.ipv4);
    let received = |page: &str, host: &interop::Host| {
        metric(
            page,
            &format!("starling_neighbor_prefixes_received{{{}}}", labels(host)),
        )
    };
    // Scrape until Starling's counts agree with what each peer says it advertised: the peers
    // count a route as advertised once sent, Starling once received.
    let (page, bird_output, gobgp_output) = interop::wait_until(
        "Starling's metrics to agree with BIRD and GoBGP",
        TIMEOUT,
        interop::DEFAULT_INTERVAL,
        || {
            let bird_output =
                bird.birdc(&["show", "protocols", "all", &protocol_name(st.ipv4.into())])?;
            let gobgp_output = gobgp.cli(&["neighbor", &st_address])?;
            let page = starling.metrics()?;
            let bird_exported = count(&bird_output, "Routes:", "exported");
            let gobgp_advertised = count(&gobgp_output, "Advertised:", "");
            let agree = received(&page, &bird_host) == bird_exported
                && received(&page, &gobgp_host) == gobgp_advertised
                && bird_exported == Some(2)
                && gobgp_advertised == Some(3);
            Ok(agree.then_some((page, bird_output, gobgp_output)))
        },
    )
    .expect("metrics agree");

    // Sessions: both peers say Established, and so does the page, per neighbor and in total.
    let bird_state = bird_output
        .lines()
        .find_map(|line| line.trim().strip_prefix("BGP state:"))
        .map(str::trim);
    assert_eq!(bird_state, Some("Established"), "{bird_output}");
    assert!(
        gobgp_output
            .to_ascii_lowercase()
            .contains("bgp state = established"),
        "{gobgp_output}"
    );
    let summary = gobgp.cli(&["neighbor"]).expect("gobgp neighbor");
    let gobgp_established = summary
        .lines()
        .filter(|line| line.contains(&st_address) && line.contains("Establ"))
        .count();
    assert_eq!(gobgp_established, 1, "{summary}");
    assert_eq!(
        metric(&page, "starling_sessions{state=\"Established\"}"),
        Some(2),
        "{page}"
    );
    for host in [&bird_host, &gobgp_host] {
        assert_eq!(
            metric(
                &page,
                &format!("starling_neighbor_established{{{}}}", labels(host))
            ),
            Some(1),
            "{page}"
        );
    }
}
