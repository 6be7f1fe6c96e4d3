//! The etcd datastore secured (the security issue): a real etcd with TLS and client
//! certificates (made with `openssl`), and one with user/password authentication. A node with
//! the right credentials connects and derives its neighbors; a wrong certificate or password
//! gives a clear error from `bgpd --check` and in the running daemon's log, which keeps
//! running. No password (TCP MD5 inline or from a file, a datastore peer's, the etcd user's,
//! or a wrong one) ever appears in the log, `bgpctl` output (human and JSON) or the metrics.

use std::time::Duration;

use interop::{
    lab_available, CertificateAuthority, DatastoreSpec, Etcd, Extra, Host, IpVersion, KeyPair, Lab,
    NeighborSpec, RouterSpec, ServerTls, Starling, Tool, Usage,
};
use proto::Asn;

const CLUSTER_AS: Asn = Asn(64512);
const PEER_AS: Asn = Asn(65000);
const PREFIX: &str = "/starling/v1";
const TIMEOUT: Duration = Duration::from_secs(30);
/// How long a daemon that cannot reach etcd is watched for a crash.
const SURVIVAL: Duration = Duration::from_secs(3);
const ETCD_USER: &str = "starling";
/// Every secret of the password test: none may leak.
const ETCD_PASSWORD: &str = "etcd-secret-3f9a";
const WRONG_ETCD_PASSWORD: &str = "wrong-etcd-4a7b";
const INLINE_KEY: &str = "inline-md5-7c1e";
const FILE_KEY: &str = "file-md5-91bd";
const PEER_KEY: &str = "etcd-peer-md5-5d2e";
const SECRETS: [&str; 5] = [
    ETCD_PASSWORD,
    WRONG_ETCD_PASSWORD,
    INLINE_KEY,
    FILE_KEY,
    PEER_KEY,
];
/// What the daemon logs when etcd refuses it (the reason is a field of the event).
const UNREACHABLE: &str = "etcd unreachable; keeping the last snapshot and retrying";

/// The lab: etcd, the node under test `n1`, a second node `n2` known only from the datastore
/// (a mesh neighbor `n1` derives; it runs nothing) and `n3` for a daemon with bad credentials.
struct Setup {
    lab: Lab,
    store: Host,
    n1: Host,
    n2: Host,
    n3: Host,
}

fn setup(test: &str, tools: &[Tool]) -> Option<Setup> {
    if !lab_available(test, tools) {
        return None;
    }
    let lab = Lab::new().expect("lab");
    let host = |name: &str| lab.host(name).expect("host");
    Some(Setup {
        store: host("etcd"),
        n1: host("n1"),
        n2: host("n2"),
        n3: host("n3"),
        lab,
    })
}

/// The cluster in mesh mode with `n2` in it.
fn fill(etcd: &Etcd, n2: &Host) {
    etcd.put(
        &format!("{PREFIX}/config"),
        r#"{"asn":64512,"mode":"mesh"}"#,
    )
    .expect("cluster config");
    etcd.put(
        &format!("{PREFIX}/nodes/n2"),
        &format!(r#"{{"address_v4":"{}"}}"#, n2.ipv4),
    )
    .expect("n2");
}

fn node_spec(host: &Host, etcd: &Etcd) -> RouterSpec {
    let mut spec = RouterSpec::new(host.ipv4, CLUSTER_AS);
    spec.datastore = Some(DatastoreSpec {
        endpoint: etcd.endpoint(),
        node: host.name.clone(),
    });
    spec
}

fn tls_line(ca: &CertificateAuthority, client: &KeyPair) -> String {
    format!(
        "tls = {{ ca = {:?}, cert = {:?}, key = {:?} }}",
        ca.cert(),
        client.cert,
        client.key
    )
}

fn status_field(node: &Starling, field: &str) -> String {
    let text = node.bgpctl(&["show", "status"]).expect("show status");
    let status: serde_json::Value = serde_json::from_str(&text).expect("JSON status");
    status[field].as_str().unwrap_or_default().to_owned()
}

/// Waits until `node` is connected to etcd and has derived (at least) these neighbors.
fn wait_neighbors(node: &Starling, names: &[&str]) {
    interop::wait_until(
        "neighbors derived from etcd",
        TIMEOUT,
        interop::DEFAULT_INTERVAL,
        || {
            let neighbors = node.neighbors()?;
            let have: Vec<&str> = neighbors.iter().map(|n| n.name.as_str()).collect();
            let connected = status_field(node, "datastore") == "connected";
            Ok(if connected && names.iter().all(|n| have.contains(n)) {
                interop::Observed::Ready(())
            } else {
                interop::Observed::Pending(format!("connected {connected}, neighbors {have:?}"))
            })
        },
    )
    .expect("derived neighbors");
}

/// `bgpd --check` fails naming the cause, and a daemon with the same configuration runs on
/// without the datastore, saying why in its status and its log.
fn check_refused(setup: &Setup, spec: &RouterSpec, extra: &Extra, cause: &str) -> Starling {
    let error = Starling::check(&setup.lab, &setup.n3, spec, extra)
        .expect_err("bgpd --check must fail")
        .to_string();
    assert!(
        error.contains("etcd is not reachable") && error.contains(cause),
        "bgpd --check does not say {cause:?}: {error}"
    );
    let mut node = Starling::start_with(&setup.lab, &setup.n3, spec, extra).expect("bgpd");
    let logged = interop::wait_until(
        "the refusal in the log",
        TIMEOUT,
        interop::DEFAULT_INTERVAL,
        || {
            let events = node.log_events(UNREACHABLE)?;
            Ok(events
                .iter()
                .filter_map(|e| e.get("reason").and_then(|r| r.as_str()))
                .find(|reason| reason.contains(cause))
                .map(str::to_owned))
        },
    );
    assert!(
        logged.is_ok(),
        "{logged:?}\n{}",
        node.log().unwrap_or_default()
    );
    assert_eq!(status_field(&node, "datastore"), "disconnected");
    std::thread::sleep(SURVIVAL);
    node.process().ensure_running().expect("bgpd keeps running");
    node
}

#[test]
fn tls_with_client_certificates() {
    let Some(setup) = setup("etcd over TLS", &[Tool::Etcd, Tool::Openssl]) else {
        return;
    };
    let dir = setup.lab.dir();
    let ca = CertificateAuthority::create(dir, "lab").expect("CA");
    let server = ca
        .issue("etcd", "etcd", Usage::Server, Some(setup.store.ipv4.into()))
        .expect("server certificate");
    let client = ca
        .issue("client", "starling", Usage::Client, None)
        .expect("client certificate");
    // Same name, signed by a CA etcd does not trust.
    let rogue = CertificateAuthority::create(dir, "rogue").expect("rogue CA");
    let rogue_client = rogue
        .issue("client", "starling", Usage::Client, None)
        .expect("rogue client certificate");
    let tls = ServerTls {
        cert: server.cert,
        key: server.key,
        client_ca: ca.cert().to_owned(),
    };
    let etcd = Etcd::start_with(&setup.lab, &setup.store, Some(&tls)).expect("etcd");
    fill(&etcd, &setup.n2);

    let good = Extra::default().etcd(&tls_line(&ca, &client));
    let spec = node_spec(&setup.n1, &etcd);
    let checked = Starling::check(&setup.lab, &setup.n1, &spec, &good).expect("bgpd --check");
    assert!(checked.contains("etcd reachable"), "{checked}");
    let node = Starling::start_with(&setup.lab, &setup.n1, &spec, &good).expect("bgpd");
    wait_neighbors(&node, &["n2"]);

    // A client certificate from another CA: etcd ends the handshake.
    let bad = Extra::default().etcd(&tls_line(&ca, &rogue_client));
    check_refused(&setup, &node_spec(&setup.n3, &etcd), &bad, "certificate");
}

#[test]
fn user_and_password_and_no_password_leaks() {
    let Some(setup) = setup("etcd with authentication", &[Tool::Etcd]) else {
        return;
    };
    let lab = &setup.lab;
    let mut etcd = Etcd::start(lab, &setup.store).expect("etcd");
    etcd.enable_auth(ETCD_USER, ETCD_PASSWORD, PREFIX)
        .expect("auth enable");
    fill(&etcd, &setup.n2);
    let tor1 = lab.host("tor1").expect("host");
    let tor2 = lab.host("tor2").expect("host");
    let tor3 = lab.host("tor3").expect("host");
    // An external peer from the datastore, with its TCP MD5 key inline in the object.
    etcd.put(
        &format!("{PREFIX}/peers/tor3"),
        &format!(
            r#"{{"address":"{}","asn":{},"nodes":"all","password":"{PEER_KEY}"}}"#,
            tor3.ipv4, PEER_AS.0
        ),
    )
    .expect("peer");
    let secret_file = |name: &str, secret: &str| {
        let path = lab.path(name);
        std::fs::write(&path, secret).expect("secret file");
        path
    };
    let etcd_password = secret_file("etcd.password", ETCD_PASSWORD);
    let wrong_password = secret_file("wrong.password", WRONG_ETCD_PASSWORD);
    let md5_file = secret_file("tor2.key", FILE_KEY);

    // File neighbors: one key inline, one from a file.
    let mut inline = NeighborSpec::new(tor1.address(IpVersion::V4), PEER_AS);
    inline.password = Some(INLINE_KEY.to_owned());
    let spec = node_spec(&setup.n1, &etcd)
        .neighbor(inline)
        .neighbor(NeighborSpec::new(tor2.address(IpVersion::V4), PEER_AS));
    let login = |password_file: &std::path::Path| {
        Extra::default()
            .neighbor(
                tor2.address(IpVersion::V4),
                &format!("password_file = {md5_file:?}"),
            )
            .etcd(&format!("username = \"{ETCD_USER}\""))
            .etcd(&format!("password_file = {password_file:?}"))
    };
    let checked =
        Starling::check(lab, &setup.n1, &spec, &login(&etcd_password)).expect("bgpd --check");
    assert!(checked.contains("etcd reachable"), "{checked}");
    let node = Starling::start_with(lab, &setup.n1, &spec, &login(&etcd_password)).expect("bgpd");
    wait_neighbors(&node, &["n2", "tor3"]);

    let refused = check_refused(
        &setup,
        &node_spec(&setup.n3, &etcd),
        &login(&wrong_password),
        "authentication failed",
    );

    // Everything an operator or a scraper sees, from both daemons.
    for daemon in [&node, &refused] {
        let mut seen = vec![("log".to_owned(), daemon.log().expect("log"))];
        for command in [
            &["show", "status"][..],
            &["show", "neighbors"],
            &["show", "neighbors", "tor3"],
            &["show", "routes"],
        ] {
            let what = command.join(" ");
            let json = daemon.bgpctl(command).unwrap_or_else(|e| e.to_string());
            let text = daemon
                .bgpctl_text(command)
                .unwrap_or_else(|e| e.to_string());
            seen.push((format!("bgpctl --json {what}"), json));
            seen.push((format!("bgpctl {what}"), text));
        }
        seen.push(("metrics".to_owned(), daemon.metrics().expect("metrics")));
        for (what, text) in &seen {
            for secret in SECRETS {
                assert!(
                    !text.contains(secret),
                    "{} shows a password in {what}:\n{text}",
                    daemon.host().name
                );
            }
        }
    }
}
