//! TCP sockets for BGP: listeners, outgoing connects, and the per-neighbor transport options:
//! TCP MD5 signatures (RFC 2385, Linux `TCP_MD5SIG`), the Generalized TTL Security Mechanism
//! (RFC 5082: send with TTL 255, accept only TTL ≥ 256 − hops via `IP_MINTTL` /
//! `IPV6_MINHOPCOUNT`), and `TCP_NODELAY` (BGP messages are small and latency matters more
//! than segment count).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// Linux `TCP_MD5SIG_MAXKEYLEN`.
const MD5_MAX_KEY_LEN: usize = 80;
/// RFC 5082 §3: GTSM senders use the maximum TTL.
const GTSM_TTL: u32 = 255;

/// Transport settings of one neighbor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransportOptions {
    /// TCP MD5 key (RFC 2385).
    pub md5_key: Option<Vec<u8>>,
    /// GTSM: the lowest TTL (or hop limit) accepted from the neighbor.
    pub min_ttl: Option<u8>,
    /// Source address for our connections.
    pub local_address: Option<IpAddr>,
    /// Interface index for IPv6 link-local neighbors.
    pub scope_id: Option<u32>,
}

/// Linux `struct tcp_md5sig` (include/uapi/linux/tcp.h).
#[repr(C)]
struct TcpMd5Sig {
    addr: libc::sockaddr_storage,
    flags: u8,
    prefix_len: u8,
    key_len: u16,
    ifindex: libc::c_int,
    key: [u8; MD5_MAX_KEY_LEN],
}

/// Installs (or with `None`, removes) the MD5 key for `peer` on `socket`. On a listening
/// socket it applies to connections from that address.
pub fn set_md5_key(socket: &impl AsRawFd, peer: IpAddr, key: Option<&[u8]>) -> io::Result<()> {
    let key = key.unwrap_or_default();
    if key.len() > MD5_MAX_KEY_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "TCP MD5 key longer than 80 octets",
        ));
    }
    let address = SockAddr::from(SocketAddr::new(peer, 0));
    // SAFETY: an all-zero `tcp_md5sig` is a valid value of this plain C struct.
    let mut sig: TcpMd5Sig = unsafe { std::mem::zeroed() };
    // SAFETY: `SockAddr` holds a valid sockaddr of `len()` bytes, at most the size of
    // `sockaddr_storage`, which is what `sig.addr` is.
    unsafe {
        std::ptr::copy_nonoverlapping(
            address.as_ptr().cast::<u8>(),
            (&mut sig.addr as *mut libc::sockaddr_storage).cast::<u8>(),
            address.len() as usize,
        );
    }
    sig.key_len = key.len() as u16; // at most 80, checked above
    sig.key[..key.len()].copy_from_slice(key);
    setsockopt(socket, libc::IPPROTO_TCP, libc::TCP_MD5SIG, &sig)
}

/// RFC 5082: send with TTL / hop limit 255.
pub fn set_gtsm_ttl(socket: &impl AsRawFd, family: IpAddr) -> io::Result<()> {
    let ttl = GTSM_TTL as libc::c_int;
    match family {
        IpAddr::V4(_) => setsockopt(socket, libc::IPPROTO_IP, libc::IP_TTL, &ttl),
        IpAddr::V6(_) => setsockopt(socket, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, &ttl),
    }
}

/// RFC 5082: drop packets from the neighbor whose TTL / hop limit is below `min_ttl`.
pub fn set_min_ttl(socket: &impl AsRawFd, family: IpAddr, min_ttl: u8) -> io::Result<()> {
    let value = libc::c_int::from(min_ttl);
    match family {
        IpAddr::V4(_) => setsockopt(socket, libc::IPPROTO_IP, libc::IP_MINTTL, &value),
        IpAddr::V6(_) => setsockopt(socket, libc::IPPROTO_IPV6, libc::IPV6_MINHOPCOUNT, &value),
    }
}

fn setsockopt<T>(
    socket: &impl AsRawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: `value` points to a live `T` of the given size for the duration of the call.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (value as *const T).cast::<libc::c_void>(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A listening socket on `address`: IPv6 sockets are IPv6-only, so that `0.0.0.0:179` and
/// `[::]:179` can both be bound; TTL 255 so that GTSM neighbors accept our SYN-ACK.
pub fn listen(address: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    if address.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    set_gtsm_ttl(&socket, address.ip())?;
    // Keep each SYN for `prepare_accepted`'s GTSM check.
    setsockopt(
        &socket,
        libc::IPPROTO_TCP,
        libc::TCP_SAVE_SYN,
        &(1 as libc::c_int),
    )?;
    socket.bind(&address.into())?;
    socket.listen(128)?;
    TcpListener::from_std(socket.into())
}

/// Why an accepted connection is refused before any BGP message is read.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// RFC 5082 §3: the neighbor's SYN arrived with a TTL below the GTSM minimum.
    #[error("GTSM: SYN arrived with TTL {ttl}, below the minimum {min_ttl}")]
    TtlTooLow { ttl: u8, min_ttl: u8 },
    #[error("socket options: {0}")]
    Io(#[from] io::Error),
}

/// Prepares an accepted connection: TTL 255, no delay, and for a GTSM neighbor the check of its
/// SYN's TTL and the minimum TTL from now on.
///
/// The listening socket is shared by all neighbors, so the per-neighbor minimum can only be set
/// after `accept`; data that arrived before that (a fast peer's OPEN) would bypass it. The SYN
/// the listener saved (`TCP_SAVE_SYN`) closes that gap: a connection whose SYN came from too far
/// away is refused before anything is read from it.
pub fn prepare_accepted(
    stream: &TcpStream,
    peer: IpAddr,
    options: &TransportOptions,
) -> Result<(), AcceptError> {
    stream.set_nodelay(true)?;
    set_gtsm_ttl(stream, peer)?;
    if let Some(min_ttl) = options.min_ttl {
        set_min_ttl(stream, peer, min_ttl)?;
        let ttl = saved_syn_ttl(stream)?;
        if ttl < min_ttl {
            return Err(AcceptError::TtlTooLow { ttl, min_ttl });
        }
    }
    Ok(())
}

/// IPv4 header: TTL is octet 8; IPv6 header: Hop Limit is octet 7.
const IPV4_TTL_OFFSET: usize = 8;
const IPV6_HOP_LIMIT_OFFSET: usize = 7;
/// Room for the IP and TCP headers of a SYN with options (60 + 60 for IPv4, 40 + 60 for IPv6).
const SAVED_SYN_LEN: usize = 128;

/// The TTL (IPv4) or hop limit (IPv6) of the SYN that opened `stream`, as saved by the
/// listener's `TCP_SAVE_SYN` (Linux ≥ 4.2). The kernel hands the SYN out once.
fn saved_syn_ttl(stream: &impl AsRawFd) -> io::Result<u8> {
    let mut headers = [0u8; SAVED_SYN_LEN];
    let mut length = SAVED_SYN_LEN as libc::socklen_t;
    // SAFETY: `headers` is writable for `length` bytes and `length` is a valid in/out pointer.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_SAVED_SYN,
            headers.as_mut_ptr().cast::<libc::c_void>(),
            &mut length,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let saved = headers.get(..length as usize).unwrap_or_default();
    let offset = match saved.first().map(|b| b >> 4) {
        Some(4) => IPV4_TTL_OFFSET,
        Some(6) => IPV6_HOP_LIMIT_OFFSET,
        _ => return Err(io::Error::new(io::ErrorKind::InvalidData, "no saved SYN")),
    };
    saved
        .get(offset)
        .copied()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "saved SYN too short"))
}

/// Connects to the neighbor with its transport options applied before the SYN.
pub async fn connect(peer: SocketAddr, options: &TransportOptions) -> io::Result<TcpStream> {
    let peer = match (peer, options.scope_id) {
        (SocketAddr::V6(mut v6), Some(scope)) => {
            v6.set_scope_id(scope);
            SocketAddr::V6(v6)
        }
        (peer, _) => peer,
    };
    let socket = match peer {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_nodelay(true)?;
    set_gtsm_ttl(&socket, peer.ip())?;
    if let Some(min_ttl) = options.min_ttl {
        set_min_ttl(&socket, peer.ip(), min_ttl)?;
    }
    if let Some(key) = &options.md5_key {
        set_md5_key(&socket, peer.ip(), Some(key))?;
    }
    if let Some(local) = options.local_address {
        socket.bind(SocketAddr::new(local, 0))?;
    }
    socket.connect(peer).await
}

/// The kernel's TCP MD5 failure counters for this network namespace (`/proc/net/netstat`,
/// `TcpExt:` line): segments with a wrong signature, with one where none was expected, and
/// without one where one was expected. A mismatched key shows nowhere else: the kernel drops
/// such segments silently.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Md5Counters {
    pub failure: u64,
    pub unexpected: u64,
    pub not_found: u64,
}

impl Md5Counters {
    pub fn read() -> io::Result<Md5Counters> {
        let text = std::fs::read_to_string("/proc/net/netstat")?;
        Ok(Md5Counters::parse(&text))
    }

    fn parse(netstat: &str) -> Md5Counters {
        let mut lines = netstat.lines().filter(|l| l.starts_with("TcpExt:"));
        let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
            return Md5Counters::default();
        };
        let mut counters = Md5Counters::default();
        for (name, value) in names
            .split_whitespace()
            .zip(values.split_whitespace())
            .skip(1)
        {
            let value = value.parse().unwrap_or(0);
            match name {
                "TCPMD5Failure" => counters.failure = value,
                "TCPMD5Unexpected" => counters.unexpected = value,
                "TCPMD5NotFound" => counters.not_found = value,
                _ => {}
            }
        }
        counters
    }

    pub fn total(&self) -> u64 {
        self.failure + self.unexpected + self.not_found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_counters_from_netstat() {
        let text = "TcpExt: SyncookiesSent TCPMD5NotFound TCPMD5Unexpected TCPMD5Failure\n\
                    TcpExt: 0 3 1 7\n\
                    IpExt: InNoRoutes\nIpExt: 0\n";
        assert_eq!(
            Md5Counters::parse(text),
            Md5Counters {
                failure: 7,
                unexpected: 1,
                not_found: 3
            }
        );
    }

    #[tokio::test]
    async fn md5_key_on_a_listener_and_a_connect_gives_a_connection() {
        let listener = listen("127.0.0.1:0".parse().expect("literal")).expect("listen on loopback");
        let address = listener.local_addr().expect("bound");
        set_md5_key(&listener, address.ip(), Some(b"secret")).expect("TCP_MD5SIG on listener");
        let options = TransportOptions {
            md5_key: Some(b"secret".to_vec()),
            min_ttl: Some(255),
            ..Default::default()
        };
        let (accepted, connected) = tokio::join!(listener.accept(), connect(address, &options));
        assert!(accepted.is_ok() && connected.is_ok());
    }

    #[tokio::test]
    async fn gtsm_checks_the_ttl_of_the_saved_syn() {
        let listener = listen("127.0.0.1:0".parse().expect("literal")).expect("listen on loopback");
        let address = listener.local_addr().expect("bound");
        // Loopback SYNs carry the sender's TTL; a plain socket sends with the default (64).
        let (accepted, connected) = tokio::join!(listener.accept(), TcpStream::connect(address));
        let (stream, remote) = accepted.expect("accepted");
        drop(connected);
        let guarded = TransportOptions {
            min_ttl: Some(255),
            ..Default::default()
        };
        match prepare_accepted(&stream, remote.ip(), &guarded) {
            Err(AcceptError::TtlTooLow { ttl, min_ttl: 255 }) => assert!(ttl < 255),
            other => panic!("expected a GTSM refusal, got {other:?}"),
        }
        // A GTSM sender (TTL 255) passes.
        let (accepted, connected) = tokio::join!(listener.accept(), connect(address, &guarded));
        let (stream, remote) = accepted.expect("accepted");
        assert!(connected.is_ok());
        prepare_accepted(&stream, remote.ip(), &guarded).expect("TTL 255 accepted");
    }

    #[tokio::test]
    async fn md5_key_mismatch_gives_no_connection() {
        let listener = listen("127.0.0.1:0".parse().expect("literal")).expect("listen on loopback");
        let address = listener.local_addr().expect("bound");
        set_md5_key(&listener, address.ip(), Some(b"secret")).expect("TCP_MD5SIG on listener");
        let options = TransportOptions {
            md5_key: Some(b"wrong".to_vec()),
            ..Default::default()
        };
        let attempt = tokio::time::timeout(
            std::time::Duration::from_millis(500),
            connect(address, &options),
        )
        .await;
        assert!(
            attempt.is_err(),
            "the SYN must be dropped, so the connect hangs"
        );
    }
}
