//! Network namespaces for one test: a private LAN (a bridge alone in its own namespace), hosts
//! attached to it by veth pairs, optional point-to-point links, and the processes started in
//! them. Dropping the [`Lab`] kills those processes and deletes every namespace it made.
//!
//! Naming: namespaces are `st<pid>l<seq>-<host>` (`<seq>` counts labs within the process), so
//! concurrent tests and concurrent test processes never clash. Interface names are local to a
//! namespace (`eth0` in a host, `h<n>` on the bridge, `p2p<k>` for links), well under the
//! 15-character limit.
//!
//! Addressing: every lab uses the same plan, because labs cannot see each other: each LAN is a
//! bridge in its own namespace with no uplink and no host has a default route, so the same
//! address in two labs never meets on any wire. Hosts and extra addresses get consecutive
//! indexes `i` on the LAN: `10.255.<i/256>.<i%256>/16` and `fd00:255::<i>/64` (`nodad`, so
//! they are usable at once). Point-to-point link `k` uses `10.254.<k>.{1,2}/24` and
//! `fd00:254:<k>::{1,2}/64`.

use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::command::{run, run_in, run_with_input};
use crate::error::{LabError, Result};
use crate::process::{Process, Registry};

/// Prefix of every namespace the lab creates.
const NETNS_PREFIX: &str = "st";
/// The LAN bridge inside the bridge namespace.
const BRIDGE: &str = "br0";
/// A host's interface on the LAN.
pub const LAN_INTERFACE: &str = "eth0";
/// Prefix lengths of the LAN.
pub const LAN_V4_PREFIX_LEN: u8 = 16;
pub const LAN_V6_PREFIX_LEN: u8 = 64;
/// Prefix lengths of point-to-point links.
pub const LINK_V4_PREFIX_LEN: u8 = 24;
pub const LINK_V6_PREFIX_LEN: u8 = 64;
/// Highest LAN address index: 10.255.255.254 (10.255.255.255 is the broadcast address).
const MAX_ADDRESS_INDEX: u32 = 0xfffe;
/// Highest point-to-point link index (one octet of the address).
const MAX_LINK_INDEX: u32 = 255;
/// Longest host name accepted (keeps namespace names readable).
const MAX_HOST_NAME_LEN: usize = 12;
/// Environment variable that keeps a lab's directory (logs, configs) after it is dropped.
pub const KEEP_ENV: &str = "STARLING_LAB_KEEP";

/// Labs created so far by this process (part of the namespace names).
static LAB_SEQUENCE: AtomicU32 = AtomicU32::new(0);

/// IP version of an address or a transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpVersion {
    V4,
    V6,
}

impl IpVersion {
    pub const BOTH: [IpVersion; 2] = [IpVersion::V4, IpVersion::V6];

    pub fn of(address: IpAddr) -> IpVersion {
        match address {
            IpAddr::V4(_) => IpVersion::V4,
            IpAddr::V6(_) => IpVersion::V6,
        }
    }

    /// `ipv4` / `ipv6`, for file names and messages.
    pub fn name(self) -> &'static str {
        match self {
            IpVersion::V4 => "ipv4",
            IpVersion::V6 => "ipv6",
        }
    }
}

/// A host on the lab LAN: one network namespace with `lo` and `eth0` up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// The name given by the test (`bird`, `rr1`, ...).
    pub name: String,
    /// The namespace (`ip netns exec <netns> …`).
    pub netns: String,
    pub ipv4: Ipv4Addr,
    pub ipv6: Ipv6Addr,
}

impl Host {
    /// The host's LAN address of the given version.
    pub fn address(&self, version: IpVersion) -> IpAddr {
        match version {
            IpVersion::V4 => IpAddr::V4(self.ipv4),
            IpVersion::V6 => IpAddr::V6(self.ipv6),
        }
    }
}

/// A point-to-point veth link between two hosts (`a` and `b` sides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Interface name, the same on both sides (`p2p<k>`).
    pub interface: String,
    pub a_ipv4: Ipv4Addr,
    pub b_ipv4: Ipv4Addr,
    pub a_ipv6: Ipv6Addr,
    pub b_ipv6: Ipv6Addr,
}

/// Extra LAN addresses added to a host (for load generators that need many peers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressPair {
    pub ipv4: Ipv4Addr,
    pub ipv6: Ipv6Addr,
}

#[derive(Debug, Default)]
struct LabState {
    /// Namespaces to delete on drop, bridge first.
    namespaces: Vec<String>,
    /// Host names in use.
    hosts: Vec<String>,
    /// Last LAN address index handed out.
    last_address: u32,
    /// Last point-to-point link index handed out.
    last_link: u32,
}

/// One isolated lab. Not `Clone`: it owns its namespaces and processes.
#[derive(Debug)]
pub struct Lab {
    name: String,
    dir: PathBuf,
    bridge_netns: String,
    registry: Arc<Registry>,
    state: Mutex<LabState>,
}

impl Lab {
    /// Creates the lab's working directory and its LAN (the bridge namespace).
    ///
    /// Also deletes namespaces left behind by earlier lab processes that died without
    /// cleaning up (their pid no longer exists); live labs of other processes are untouched.
    pub fn new() -> Result<Lab> {
        remove_stale_namespaces()?;
        let sequence = LAB_SEQUENCE.fetch_add(1, Ordering::Relaxed);
        let name = format!("{NETNS_PREFIX}{}l{sequence}", std::process::id());
        let dir = std::env::temp_dir().join(format!("starling-{name}"));
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(|e| LabError::io(format!("clear {dir:?}"), e))?;
        }
        fs::create_dir_all(&dir).map_err(|e| LabError::io(format!("create {dir:?}"), e))?;
        let bridge_netns = format!("{name}-br");
        let lab = Lab {
            name,
            dir,
            bridge_netns: bridge_netns.clone(),
            registry: Arc::new(Registry::default()),
            state: Mutex::new(LabState::default()),
        };
        lab.add_namespace(&bridge_netns)?;
        run(
            "ip",
            &["-n", &bridge_netns, "link", "add", BRIDGE, "type", "bridge"],
        )?;
        run("ip", &["-n", &bridge_netns, "link", "set", BRIDGE, "up"])?;
        Ok(lab)
    }

    /// The lab's name (`st<pid>l<seq>`), the prefix of all its namespaces.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The lab's working directory: configs, sockets and logs of its processes.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Adds a host on the LAN with the next free IPv4 and IPv6 address.
    pub fn host(&self, name: &str) -> Result<Host> {
        validate_host_name(name)?;
        {
            let mut state = self.state();
            if state.hosts.iter().any(|h| h == name) {
                return Err(LabError::Invalid(format!("host {name} already exists")));
            }
            state.hosts.push(name.to_owned());
        }
        let netns = format!("{}-{name}", self.name);
        self.add_namespace(&netns)?;
        let index = self.next_address_index()?;
        let bridge_port = format!("h{index}");
        let bridge = self.bridge_netns.as_str();
        run(
            "ip",
            &[
                "-n",
                bridge,
                "link",
                "add",
                &bridge_port,
                "type",
                "veth",
                "peer",
                "name",
                LAN_INTERFACE,
                "netns",
                &netns,
            ],
        )?;
        run(
            "ip",
            &[
                "-n",
                bridge,
                "link",
                "set",
                &bridge_port,
                "master",
                BRIDGE,
                "up",
            ],
        )?;
        let pair = lan_address(index);
        let host = Host {
            name: name.to_owned(),
            netns,
            ipv4: pair.ipv4,
            ipv6: pair.ipv6,
        };
        let batch = format!(
            "{}link set {LAN_INTERFACE} up\n",
            address_batch(LAN_INTERFACE, &[pair])
        );
        run_with_input("ip", &["-n", &host.netns, "-batch", "-"], Some(&batch))?;
        Ok(host)
    }

    /// Adds `count` more LAN addresses to `host`'s `eth0` (one `ip -batch` call).
    pub fn add_addresses(&self, host: &Host, count: u32) -> Result<Vec<AddressPair>> {
        let mut pairs = Vec::new();
        for _ in 0..count {
            pairs.push(lan_address(self.next_address_index()?));
        }
        let batch = address_batch(LAN_INTERFACE, &pairs);
        run_with_input("ip", &["-n", &host.netns, "-batch", "-"], Some(&batch))?;
        Ok(pairs)
    }

    /// Connects two hosts by their own veth pair (`p2p<k>` on both sides), outside the LAN.
    pub fn link(&self, a: &Host, b: &Host) -> Result<Link> {
        let index = {
            let mut state = self.state();
            if state.last_link >= MAX_LINK_INDEX {
                return Err(LabError::Invalid("too many point-to-point links".into()));
            }
            state.last_link += 1;
            state.last_link
        };
        let octet = u8::try_from(index).map_err(|_| LabError::Invalid("link index".into()))?;
        let segment = u16::from(octet);
        let interface = format!("p2p{index}");
        let link = Link {
            interface: interface.clone(),
            a_ipv4: Ipv4Addr::new(10, 254, octet, 1),
            b_ipv4: Ipv4Addr::new(10, 254, octet, 2),
            a_ipv6: Ipv6Addr::new(0xfd00, 0x254, segment, 0, 0, 0, 0, 1),
            b_ipv6: Ipv6Addr::new(0xfd00, 0x254, segment, 0, 0, 0, 0, 2),
        };
        run(
            "ip",
            &[
                "-n", &a.netns, "link", "add", &interface, "type", "veth", "peer", "name",
                &interface, "netns", &b.netns,
            ],
        )?;
        for (host, v4, v6) in [(a, link.a_ipv4, link.a_ipv6), (b, link.b_ipv4, link.b_ipv6)] {
            let batch = format!(
                "address add {v4}/{LINK_V4_PREFIX_LEN} dev {interface}\n\
                 address add {v6}/{LINK_V6_PREFIX_LEN} dev {interface} nodad\n\
                 link set {interface} up\n"
            );
            run_with_input("ip", &["-n", &host.netns, "-batch", "-"], Some(&batch))?;
        }
        Ok(link)
    }

    /// Starts `argv` inside `host`'s namespace; see [`Process`]. `name` names the log files
    /// (`<dir>/<name>.stdout|.stderr`) and must be unique within the lab.
    pub fn spawn(&self, host: &Host, name: &str, argv: &[&str]) -> Result<Process> {
        Process::spawn(self.registry.clone(), &host.netns, name, argv, &self.dir)
    }

    /// Runs a short command inside `host`'s namespace and returns its stdout.
    pub fn exec(&self, host: &Host, argv: &[&str]) -> Result<String> {
        let (program, args) = argv
            .split_first()
            .ok_or_else(|| LabError::Invalid("empty command".into()))?;
        run_in(&host.netns, program, args)
    }

    /// A path in the lab directory.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, LabState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn add_namespace(&self, netns: &str) -> Result<()> {
        run("ip", &["netns", "add", netns])?;
        self.state().namespaces.push(netns.to_owned());
        run("ip", &["-n", netns, "link", "set", "lo", "up"])?;
        Ok(())
    }

    fn next_address_index(&self) -> Result<u32> {
        let mut state = self.state();
        if state.last_address >= MAX_ADDRESS_INDEX {
            return Err(LabError::Invalid("lab LAN addresses exhausted".into()));
        }
        state.last_address += 1;
        Ok(state.last_address)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.registry.kill_all();
        let namespaces = std::mem::take(&mut self.state().namespaces);
        // Hosts first, the bridge last (deleting a host removes its veth from the bridge).
        for netns in namespaces.iter().rev() {
            if let Err(error) = run("ip", &["netns", "del", netns]) {
                eprintln!(
                    "lab {}: cannot delete namespace {netns}: {error}",
                    self.name
                );
            }
        }
        let keep = std::thread::panicking() || std::env::var_os(KEEP_ENV).is_some();
        if keep {
            eprintln!(
                "lab {}: logs and configs kept in {}",
                self.name,
                self.dir.display()
            );
        } else if let Err(error) = fs::remove_dir_all(&self.dir) {
            eprintln!(
                "lab {}: cannot remove {}: {error}",
                self.name,
                self.dir.display()
            );
        }
    }
}

/// The LAN address pair with index `index` (1-based).
pub fn lan_address(index: u32) -> AddressPair {
    let [_, _, high, low] = index.to_be_bytes();
    AddressPair {
        ipv4: Ipv4Addr::new(10, 255, high, low),
        // The index fits in 16 bits (checked by the allocator); the cast keeps the low bits.
        ipv6: Ipv6Addr::new(0xfd00, 0x255, 0, 0, 0, 0, 0, (index & 0xffff) as u16),
    }
}

fn address_batch(interface: &str, pairs: &[AddressPair]) -> String {
    let mut batch = String::new();
    for pair in pairs {
        batch.push_str(&format!(
            "address add {}/{LAN_V4_PREFIX_LEN} dev {interface}\n\
             address add {}/{LAN_V6_PREFIX_LEN} dev {interface} nodad\n",
            pair.ipv4, pair.ipv6
        ));
    }
    batch
}

fn validate_host_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= MAX_HOST_NAME_LEN
        && name.chars().all(|c| c.is_ascii_alphanumeric());
    if valid {
        Ok(())
    } else {
        Err(LabError::Invalid(format!(
            "host name {name:?}: use 1 to {MAX_HOST_NAME_LEN} ASCII letters or digits"
        )))
    }
}

/// The pid of the process that created a lab namespace, from its name `st<pid>l<seq>-…`.
fn owner_pid(netns: &str) -> Option<u32> {
    let rest = netns.strip_prefix(NETNS_PREFIX)?;
    let (pid, rest) = rest.split_once('l')?;
    let (sequence, _) = rest.split_once('-')?;
    sequence.parse::<u32>().ok()?;
    pid.parse().ok()
}

/// Deletes lab namespaces whose creating process is gone (a test killed by a signal cannot
/// run its destructors).
fn remove_stale_namespaces() -> Result<()> {
    let listing = run("ip", &["netns", "list"])?;
    for line in listing.lines() {
        // `ip netns list` prints `name` or `name (id: N)`.
        let Some(netns) = line.split_whitespace().next() else {
            continue;
        };
        let Some(pid) = owner_pid(netns) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            // Best effort: another process may be deleting it at the same moment.
            let _ = run("ip", &["netns", "del", netns]);
        }
    }
    Ok(())
}

/// Names of all existing lab namespaces (of any process), for tests of the cleanup.
pub fn lab_namespaces() -> Result<Vec<String>> {
    let listing = run("ip", &["netns", "list"])?;
    Ok(listing
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|netns| owner_pid(netns).is_some())
        .map(str::to_owned)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_pid_parses_only_lab_names() {
        let check =
            |name: &str, expected: Option<u32>| assert_eq!(owner_pid(name), expected, "{name}");
        check("st1234l0-br", Some(1234));
        check("st1234l17-bird", Some(1234));
        check("st1234l0", None);
        check("stlx-br", None);
        check("cni-1234", None);
        check("st12a4l0-br", None);
    }

    #[test]
    fn lan_addresses_follow_the_index() {
        let check = |index: u32, v4: &str, v6: &str| {
            let pair = lan_address(index);
            assert_eq!(pair.ipv4.to_string(), v4);
            assert_eq!(pair.ipv6.to_string(), v6);
        };
        check(1, "10.255.0.1", "fd00:255::1");
        check(255, "10.255.0.255", "fd00:255::ff");
        check(256, "10.255.1.0", "fd00:255::100");
        check(MAX_ADDRESS_INDEX, "10.255.255.254", "fd00:255::fffe");
    }

    #[test]
    fn host_names_are_short_and_plain() {
        assert!(validate_host_name("bird1").is_ok());
        assert!(validate_host_name("").is_err());
        assert!(validate_host_name("has-dash").is_err());
        assert!(validate_host_name("muchtoolongname").is_err());
    }
}
