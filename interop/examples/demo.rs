//! The README's main job: a live lab on this machine. Starling (AS 64512) peers over IPv4 and
//! IPv6 with BIRD (eBGP), GoBGP (eBGP) and FRR (iBGP) in network namespaces; the demo prints
//! `bgpctl show neighbors` and `bgpctl show status`, then waits for Ctrl-C (or `--for SECONDS`)
//! and tears everything down.
//!
//! Run it with `scripts/demo` (as root).

use std::time::Duration;

use interop::{
    BgpPeer, Host, IpVersion, Lab, NeighborSpec, OriginRoute, PeerKind, RouterSpec, Starling,
};
use proto::Asn;

const STARLING_AS: Asn = Asn(64512);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let run_for = parse_args()?;
    // Block SIGINT/SIGTERM before any thread starts, so that Ctrl-C ends `wait_for_signal`
    // instead of killing the process (the lab's drop cleans the namespaces up).
    let signals = block_signals();

    let lab = Lab::new()?;
    let st = lab.host("starling")?;
    let peers = [
        (PeerKind::Bird, Asn(65001)),
        (PeerKind::GoBgp, Asn(65002)),
        (PeerKind::Frr, STARLING_AS),
    ];
    let hosts: Vec<Host> = peers
        .iter()
        .map(|(kind, _)| lab.host(kind.name()))
        .collect::<Result<_, _>>()?;
    let mut spec = RouterSpec::new(st.ipv4, STARLING_AS);
    for ((_, asn), host) in peers.iter().zip(&hosts) {
        for version in [IpVersion::V4, IpVersion::V6] {
            let mut neighbor = NeighborSpec::new(host.address(version), *asn);
            neighbor.hold_time = interop::HoldTime(90);
            spec = spec.neighbor(neighbor);
        }
    }
    println!(
        "lab {}: starting Starling, BIRD, GoBGP and FRR (logs and configs in {})",
        lab.name(),
        lab.dir().display()
    );
    let starling = Starling::start(&lab, &st, &spec)?;
    let mut running: Vec<Box<dyn BgpPeer>> = Vec::new();
    for (index, ((kind, asn), host)) in peers.iter().zip(&hosts).enumerate() {
        let mut peer_spec = RouterSpec::new(host.ipv4, *asn);
        for version in [IpVersion::V4, IpVersion::V6] {
            let mut neighbor = NeighborSpec::new(st.address(version), STARLING_AS);
            neighbor.hold_time = interop::HoldTime(90);
            peer_spec = peer_spec.neighbor(neighbor);
        }
        let prefix = format!("10.244.{}.0/26", index + 1).parse()?;
        running.push(kind.start(&lab, host, peer_spec.route(OriginRoute::new(prefix)))?);
    }
    for (peer, host) in running.iter().zip(&hosts) {
        for version in [IpVersion::V4, IpVersion::V6] {
            starling.wait_established(host.address(version), Duration::from_secs(60))?;
            peer.wait_established(st.address(version), Duration::from_secs(60))?;
        }
    }
    println!("\n$ bgpctl show neighbors");
    print!("{}", starling.bgpctl_text(&["show", "neighbors"])?);
    // The peers' routes reach Starling's RIB shortly after the sessions come up.
    interop::wait_until(
        "the peers' routes",
        Duration::from_secs(30),
        interop::DEFAULT_INTERVAL,
        || Ok((starling.routes(&[])?.len() >= peers.len()).then_some(())),
    )?;
    println!("\n$ bgpctl show routes");
    print!("{}", starling.bgpctl_text(&["show", "routes"])?);
    println!("\n$ bgpctl show status");
    print!("{}", starling.bgpctl_text(&["show", "status"])?);
    match run_for {
        Some(seconds) => {
            println!("\nrunning for {seconds} s");
            std::thread::sleep(Duration::from_secs(seconds));
        }
        None => {
            println!("\nall sessions Established; press Ctrl-C to stop and tear the lab down");
            wait_for_signal(&signals);
        }
    }
    println!("stopping");
    Ok(())
}

/// `--for SECONDS`: run that long instead of waiting for Ctrl-C.
fn parse_args() -> Result<Option<u64>, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(None),
        [flag, seconds] if flag == "--for" => {
            seconds.parse().map(Some).map_err(|e| format!("--for: {e}"))
        }
        _ => Err("usage: demo [--for SECONDS]".to_owned()),
    }
}

fn block_signals() -> libc::sigset_t {
    // SAFETY: plain signal-set manipulation on a local, zero-initialised set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

fn wait_for_signal(set: &libc::sigset_t) {
    let mut signal = 0;
    // SAFETY: `set` is a valid signal set and `signal` a valid out pointer.
    unsafe { libc::sigwait(set, &mut signal) };
}
