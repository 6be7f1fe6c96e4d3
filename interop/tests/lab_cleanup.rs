//! The lab's own machinery: addressing, links, kernel table reads, and cleanup (no process
//! or namespace survives a dropped lab, even after a panic or a leaked process handle).

use std::fs;
use std::net::IpAddr;
use std::time::Duration;

use interop::{
    kernel_routes, lab_available, lab_namespaces, wait_until, IpVersion, Lab, RouteProtocol,
    RouteType, MAIN_TABLE,
};

/// How long a killed process may take to disappear.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(20);

/// Namespaces of `lab_name` still present.
fn namespaces_of(lab_name: &str) -> Vec<String> {
    let prefix = format!("{lab_name}-");
    lab_namespaces()
        .expect("ip netns list")
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

/// True once `pid` is gone or a zombie (killed; nobody reaps a leaked child).
fn is_dead(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // Field 3 is the state; the command name (field 2) is in parentheses.
        Ok(stat) => stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.chars().next())
            .is_some_and(|state| state == 'Z'),
    }
}

#[test]
fn drop_kills_leaked_processes_and_deletes_namespaces() {
    if !lab_available("cleanup", &[]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let name = lab.name().to_owned();
    let host = lab.host("sleeper").expect("host");
    let process = lab.spawn(&host, "sleep", &["sleep", "300"]).expect("spawn");
    let pid = process.pid();
    // A test that loses its handle must still not leave the daemon running.
    std::mem::forget(process);
    assert_eq!(
        namespaces_of(&name).len(),
        2,
        "bridge and host namespaces exist"
    );
    drop(lab);
    wait_until("leaked process to die", KILL_TIMEOUT, POLL, || {
        Ok(is_dead(pid).then_some(()))
    })
    .expect("process killed by lab drop");
    assert!(namespaces_of(&name).is_empty());
}

#[test]
fn panic_in_a_test_still_cleans_up() {
    if !lab_available("cleanup after panic", &[]) {
        return;
    }
    let (sender, receiver) = std::sync::mpsc::channel();
    let outcome = std::thread::spawn(move || {
        let lab = Lab::new().expect("lab");
        let host = lab.host("victim").expect("host");
        let process = lab.spawn(&host, "sleep", &["sleep", "300"]).expect("spawn");
        sender
            .send((lab.name().to_owned(), process.pid()))
            .expect("send");
        panic!("deliberate panic with a live lab");
    })
    .join();
    assert!(outcome.is_err(), "the thread panicked");
    let (name, pid) = receiver.recv().expect("lab name");
    wait_until("process to die", KILL_TIMEOUT, POLL, || {
        Ok(is_dead(pid).then_some(()))
    })
    .expect("process killed on unwind");
    assert!(namespaces_of(&name).is_empty());
    // The kept directory is only for debugging the panic.
    let _ = fs::remove_dir_all(std::env::temp_dir().join(format!("starling-{name}")));
}

#[test]
fn hosts_links_addresses_and_kernel_routes() {
    if !lab_available("addressing", &[]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let a = lab.host("a").expect("host a");
    let b = lab.host("b").expect("host b");
    assert_ne!(a.ipv4, b.ipv4);
    assert!(lab.host("a").is_err(), "host names are unique");

    // The LAN works in both versions.
    for version in IpVersion::BOTH {
        let target = b.address(version).to_string();
        lab.exec(&a, &["ping", "-c", "1", "-W", "2", &target])
            .unwrap_or_else(|e| panic!("ping {target}: {e}"));
    }

    // Many addresses on one interface, all usable at once (nodad).
    let extra = lab.add_addresses(&b, 300).expect("addresses");
    assert_eq!(extra.len(), 300);
    let last = extra.last().expect("300 addresses");
    for address in [IpAddr::V4(last.ipv4), IpAddr::V6(last.ipv6)] {
        lab.exec(&a, &["ping", "-c", "1", "-W", "2", &address.to_string()])
            .unwrap_or_else(|e| panic!("ping {address}: {e}"));
    }

    // A point-to-point link outside the LAN.
    let link = lab.link(&a, &b).expect("link");
    lab.exec(
        &a,
        &["ping", "-c", "1", "-W", "2", &link.b_ipv4.to_string()],
    )
    .expect("ping over link");
    lab.exec(
        &b,
        &["ping", "-c", "1", "-W", "2", &link.a_ipv6.to_string()],
    )
    .expect("ping6 over link");

    // Kernel table reads: a connected route, and a blackhole we add with protocol 186.
    lab.exec(
        &a,
        &[
            "ip",
            "route",
            "add",
            "blackhole",
            "10.9.0.0/24",
            "proto",
            "186",
        ],
    )
    .expect("add blackhole");
    let routes = kernel_routes(&a, IpVersion::V4, MAIN_TABLE).expect("routes");
    let blackhole = routes
        .iter()
        .find(|r| r.prefix.to_string() == "10.9.0.0/24")
        .expect("blackhole listed");
    assert_eq!(blackhole.kind, RouteType::Blackhole);
    assert_eq!(blackhole.protocol, RouteProtocol::BGP);
    assert!(blackhole.next_hops.is_empty());
    let connected = routes
        .iter()
        .find(|r| r.prefix.to_string() == "10.255.0.0/16")
        .expect("LAN route");
    assert_eq!(connected.protocol, RouteProtocol::KERNEL);
    assert_eq!(connected.next_hops[0].dev.as_deref(), Some("eth0"));
    let v6 = kernel_routes(&a, IpVersion::V6, MAIN_TABLE).expect("v6 routes");
    assert!(v6.iter().any(|r| r.prefix.to_string() == "fd00:255::/64"));
    // No default route: nothing can leave the lab.
    assert!(!routes.iter().any(|r| r.prefix.prefix_len() == 0));
}
