//! The rtnetlink boundary (rtnetlink(7), netlink(7)): a non-blocking `NETLINK_ROUTE` socket under
//! tokio, request encoding (`RTM_NEWROUTE`, `RTM_DELROUTE`, dumps) and decoding of what the kernel
//! sends back (`NLMSG_ERROR` acknowledgements, `NLMSG_DONE`, route and link messages) into the
//! plain values [`super::state`] decides on.
//!
//! A received datagram holds one or more netlink messages, each `NLMSG_ALIGN`ed; every message is
//! decoded totally: a malformed one is skipped and counted, never a panic.

use std::io;
use std::net::IpAddr;
use std::os::fd::AsRawFd;

use ipnet::IpNet;
use netlink_packet_core::Parseable;
use netlink_packet_core::{
    NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_CREATE, NLM_F_DUMP,
    NLM_F_REPLACE, NLM_F_REQUEST,
};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteNextHop, RouteProtocol,
    RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use tokio::io::unix::AsyncFd;

use super::state::{KernelRoute, NextHop, Request, RouteKind};

/// rtnetlink multicast groups (linux/rtnetlink.h `enum rtnetlink_groups`).
pub(super) mod group {
    pub const LINK: u32 = 1;
    pub const IPV4_IFADDR: u32 = 5;
    pub const IPV4_ROUTE: u32 = 7;
    pub const IPV6_IFADDR: u32 = 9;
    pub const IPV6_ROUTE: u32 = 11;
}

/// Netlink control message types (linux/netlink.h).
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_OVERRUN: u16 = 4;
/// rtnetlink message types (linux/rtnetlink.h).
const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const RTM_NEWROUTE: u16 = 24;
const RTM_DELROUTE: u16 = 25;

/// `NLMSG_ALIGNTO`.
const NLMSG_ALIGN: usize = 4;
/// `sizeof(struct nlmsghdr)`.
const NLMSG_HEADER_LEN: usize = 16;
/// `NLM_F_ACK_TLVS`: extended-ack attributes follow the echoed header of an `NLMSG_ERROR`.
const NLM_F_ACK_TLVS: u16 = 0x200;
/// `NLMSGERR_ATTR_MSG`: the kernel's human readable error string (extended ack).
const NLMSGERR_ATTR_MSG: u16 = 1;
/// `sizeof(struct nlattr)`.
const NLA_HEADER_LEN: usize = 4;

/// One datagram is at most this large: dumps fill skbs of up to 32 KiB (`netlink_dump`), so
/// 64 KiB leaves room; a larger one is reported as truncated instead of half-decoded.
pub(super) const RECEIVE_BUFFER_LEN: usize = 64 * 1024;

/// What one netlink message from the kernel means to the FIB.
#[derive(Debug)]
pub(super) enum Incoming {
    /// `NLMSG_ERROR`: code 0 acknowledges request `sequence`, otherwise it failed.
    Ack {
        sequence: u32,
        error: Option<KernelError>,
    },
    /// End of the dump `sequence`.
    Done { sequence: u32 },
    /// A route was added/replaced (`added`) or deleted; `None` when not IPv4/IPv6 unicast space.
    Route {
        added: bool,
        route: Option<KernelRoute>,
    },
    /// A link appeared, changed, or went away; `up`: administratively up with carrier.
    Link {
        added: bool,
        index: u32,
        name: Option<String>,
        up: bool,
    },
    /// An address was added or removed (a next hop may have become reachable).
    Address,
    /// `NLMSG_OVERRUN` or a message type the FIB does not use.
    Other,
}

/// A negative `NLMSG_ERROR` answer: the errno and the kernel's extended-ack message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelError {
    pub errno: i32,
    pub message: Option<String>,
}

impl KernelError {
    /// `ESRCH`: a delete found no such route (already gone).
    pub fn is_no_such_route(&self) -> bool {
        self.errno == libc::ESRCH
    }
}

impl std::fmt::Display for KernelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let os = io::Error::from_raw_os_error(self.errno);
        match &self.message {
            Some(message) => write!(f, "{os}: {message}"),
            None => write!(f, "{os}"),
        }
    }
}

/// A `NETLINK_ROUTE` socket registered with tokio.
pub(super) struct NetlinkSocket {
    fd: AsyncFd<Socket>,
}

impl NetlinkSocket {
    /// Opens a socket in the calling thread's network namespace, joined to `groups`, with a
    /// receive buffer of `receive_buffer` bytes (forced past `rmem_max` when we may).
    pub fn open(groups: &[u32], receive_buffer: usize) -> io::Result<NetlinkSocket> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind(&SocketAddr::new(0, 0))?;
        // Errors carry only the echoed header, not the whole request (`NETLINK_CAP_ACK`), and a
        // human readable reason (`NETLINK_EXT_ACK`) for `bgpctl show fib`.
        socket.set_cap_ack(true)?;
        socket.set_ext_ack(true)?;
        set_receive_buffer(&socket, receive_buffer)?;
        for group in groups {
            socket.add_membership(*group)?;
        }
        socket.set_non_blocking(true)?;
        // SAFETY: `Socket` owns its descriptor (closed only when dropped, inside the `AsyncFd`)
        // and `as_raw_fd` always returns that same descriptor.
        let fd = unsafe { AsyncFd::register(socket) }?;
        Ok(NetlinkSocket { fd })
    }

    /// Drops, in the kernel, the `RTM_NEWROUTE` notifications of routes of `protocol`
    /// (socket(7) `SO_ATTACH_FILTER`, a classic BPF program over each message: one per
    /// notification skb): the kernel echoes every route we install, and the task needs only
    /// other protocols' routes and the deletion of ours.
    pub fn ignore_route_additions_of(&self, protocol: u8) -> io::Result<()> {
        // BPF loads are big-endian; the message type is in host order.
        let new_route = u32::from(u16::from_be_bytes(RTM_NEWROUTE.to_ne_bytes()));
        // `struct rtmsg` follows the header; `rtm_protocol` is its sixth byte.
        let protocol_offset = u32::try_from(NLMSG_HEADER_LEN + 5).unwrap_or(u32::MAX);
        let mut program = [
            bpf::statement(bpf::LD | bpf::H | bpf::ABS, 4), // nlmsg_type
            bpf::jump(bpf::JMP | bpf::JEQ | bpf::K, new_route, 0, 3),
            bpf::statement(bpf::LD | bpf::B | bpf::ABS, protocol_offset),
            bpf::jump(bpf::JMP | bpf::JEQ | bpf::K, u32::from(protocol), 0, 1),
            bpf::statement(bpf::RET | bpf::K, 0),        // drop
            bpf::statement(bpf::RET | bpf::K, u32::MAX), // keep whole
        ];
        let filter = libc::sock_fprog {
            len: u16::try_from(program.len()).unwrap_or(u16::MAX),
            filter: program.as_mut_ptr(),
        };
        let size = libc::socklen_t::try_from(std::mem::size_of::<libc::sock_fprog>())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: setsockopt(2) on an open socket with a pointer to a live `sock_fprog` whose
        // program outlives the call (the kernel copies it).
        let attached = unsafe {
            libc::setsockopt(
                self.fd.get_ref().as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                std::ptr::addr_of!(filter).cast(),
                size,
            )
        };
        if attached == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Reads one queued datagram into `buffer` without waiting: `Ok(None)` when none is queued.
    pub fn receive_now(&self, buffer: &mut Vec<u8>) -> io::Result<Option<usize>> {
        buffer.clear();
        match self.fd.get_ref().recv(buffer, libc::MSG_TRUNC) {
            Ok(len) if len > buffer.capacity() => Err(truncated(len)),
            Ok(len) => Ok(Some(len)),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Sends one datagram of concatenated requests; the kernel handles them in order.
    pub async fn send(&self, datagram: &[u8]) -> io::Result<()> {
        loop {
            let mut guard = self.fd.writable().await?;
            match guard.try_io(|fd| fd.get_ref().send(datagram, 0)) {
                Ok(result) => return result.map(|_| ()),
                Err(_would_block) => continue,
            }
        }
    }

    /// Waits until tokio believes a datagram can be read.
    pub async fn readable(&self) -> io::Result<ReadGuard<'_>> {
        self.fd.readable().await
    }
}

/// Readiness of a [`NetlinkSocket`] for reading.
pub(super) type ReadGuard<'a> = tokio::io::unix::AsyncFdReadyGuard<'a, Socket>;

/// Reads one datagram into `buffer` without waiting: `Ok(None)` when none is queued (and the
/// readiness is cleared). `ENOBUFS` (the socket overran and messages were lost) comes back as an
/// error for the caller to resync.
pub(super) fn try_receive(
    guard: &mut ReadGuard<'_>,
    buffer: &mut Vec<u8>,
) -> io::Result<Option<usize>> {
    buffer.clear();
    match guard.try_io(|fd| fd.get_ref().recv(buffer, libc::MSG_TRUNC)) {
        Ok(Ok(len)) if len > buffer.capacity() => Err(truncated(len)),
        Ok(Ok(len)) => Ok(Some(len)),
        Ok(Err(error)) => Err(error),
        Err(_would_block) => Ok(None),
    }
}

fn truncated(len: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("netlink datagram of {len} bytes truncated"),
    )
}

/// Classic BPF (linux/filter.h, linux/bpf_common.h): what the monitor socket's filter needs.
mod bpf {
    pub const LD: u16 = 0x00;
    pub const JMP: u16 = 0x05;
    pub const RET: u16 = 0x06;
    pub const H: u16 = 0x08;
    pub const B: u16 = 0x10;
    pub const ABS: u16 = 0x20;
    pub const JEQ: u16 = 0x10;
    pub const K: u16 = 0x00;

    pub fn statement(code: u16, k: u32) -> libc::sock_filter {
        jump(code, k, 0, 0)
    }

    pub fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
        libc::sock_filter { code, jt, jf, k }
    }
}

/// `SO_RCVBUFFORCE` (needs `CAP_NET_ADMIN`, which installing routes needs anyway), falling back
/// to `SO_RCVBUF` (capped by `net.core.rmem_max`).
fn set_receive_buffer(socket: &Socket, bytes: usize) -> io::Result<()> {
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    let size = libc::socklen_t::try_from(std::mem::size_of::<libc::c_int>())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: setsockopt(2) on an open socket with a pointer to a live c_int and its size.
    let forced = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            std::ptr::addr_of!(value).cast(),
            size,
        )
    };
    if forced == 0 {
        return Ok(());
    }
    socket.set_rx_buf_sz(value)
}

/// Appends `request` as netlink message `sequence` to `datagram`.
pub(super) fn encode_request(
    datagram: &mut Vec<u8>,
    sequence: u32,
    request: &Request,
    next_hops: &[NextHop],
    owner: &Owner,
) {
    let (message, flags) = match request {
        // No NLM_F_ACK: the kernel answers only what it refuses (see `super`, batching).
        Request::Replace { prefix, .. } => (
            RouteNetlinkMessage::NewRoute(route_message(owner, *prefix, owner.metric, next_hops)),
            NLM_F_REQUEST | NLM_F_REPLACE | NLM_F_CREATE,
        ),
        Request::Delete { prefix, metric } => (
            RouteNetlinkMessage::DelRoute(route_message(owner, *prefix, *metric, &[])),
            NLM_F_REQUEST,
        ),
    };
    append(datagram, sequence, flags, message);
}

/// Appends a dump request of every route (`AF_UNSPEC`: IPv4 and IPv6 in one dump).
pub(super) fn encode_route_dump(datagram: &mut Vec<u8>, sequence: u32) {
    let message = RouteNetlinkMessage::GetRoute(RouteMessage::default());
    append(datagram, sequence, NLM_F_REQUEST | NLM_F_DUMP, message);
}

/// Appends a dump request of every link (for interface names).
pub(super) fn encode_link_dump(datagram: &mut Vec<u8>, sequence: u32) {
    let message = RouteNetlinkMessage::GetLink(LinkMessage::default());
    append(datagram, sequence, NLM_F_REQUEST | NLM_F_DUMP, message);
}

/// Routes Starling writes: its protocol, table and metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Owner {
    pub protocol: u8,
    pub table: u32,
    pub metric: u32,
}

fn route_message(owner: &Owner, prefix: IpNet, metric: u32, next_hops: &[NextHop]) -> RouteMessage {
    let header = RouteHeader {
        address_family: family_of(prefix.addr()),
        destination_prefix_length: prefix.prefix_len(),
        // Tables above 255 only fit RTA_TABLE; the header then says RT_TABLE_UNSPEC.
        table: u8::try_from(owner.table).unwrap_or(RouteHeader::RT_TABLE_UNSPEC),
        protocol: RouteProtocol::from(owner.protocol),
        scope: RouteScope::Universe,
        kind: RouteType::Unicast,
        ..RouteHeader::default()
    };
    let mut message = RouteMessage::default();
    message.header = header;
    message
        .attributes
        .push(RouteAttribute::Destination(prefix.addr().into()));
    message.attributes.push(RouteAttribute::Table(owner.table));
    message.attributes.push(RouteAttribute::Priority(metric));
    match next_hops {
        [] => {}
        [single] => {
            message
                .attributes
                .push(RouteAttribute::Gateway(single.address.into()));
            if let Some(interface) = single.interface {
                message.attributes.push(RouteAttribute::Oif(interface));
            }
        }
        many => {
            // RTA_MULTIPATH: one `struct rtnexthop` per path, equal weight (rtnh_hops = 0).
            let paths = many
                .iter()
                .map(|next_hop| {
                    let mut path = RouteNextHop::default();
                    path.interface_index = next_hop.interface.unwrap_or(0);
                    path.attributes
                        .push(RouteAttribute::Gateway(next_hop.address.into()));
                    path
                })
                .collect();
            message.attributes.push(RouteAttribute::MultiPath(paths));
        }
    }
    message
}

fn family_of(address: IpAddr) -> AddressFamily {
    match address {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

fn append(datagram: &mut Vec<u8>, sequence: u32, flags: u16, message: RouteNetlinkMessage) {
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    header.sequence_number = sequence;
    let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(message));
    packet.finalize();
    let start = datagram.len();
    datagram.resize(start + packet.buffer_len(), 0);
    packet.serialize(&mut datagram[start..]);
}

/// Decodes every message of one datagram, calling `each` in order; returns how many were
/// malformed and skipped.
pub(super) fn decode_datagram(datagram: &[u8], mut each: impl FnMut(Incoming)) -> usize {
    let mut malformed = 0;
    let mut rest = datagram;
    while rest.len() >= NLMSG_HEADER_LEN {
        let Ok(buffer) = NetlinkBuffer::new_checked(rest) else {
            return malformed + 1;
        };
        // `new_checked` guarantees NLMSG_HEADER_LEN <= length <= rest.len().
        let length = buffer.length() as usize;
        let payload = &rest[NLMSG_HEADER_LEN..length];
        match decode_message(
            buffer.message_type(),
            buffer.flags(),
            buffer.sequence_number(),
            payload,
        ) {
            Some(incoming) => each(incoming),
            None => malformed += 1,
        }
        let advance = length.next_multiple_of(NLMSG_ALIGN).min(rest.len());
        rest = &rest[advance..];
    }
    malformed
}

fn decode_message(
    message_type: u16,
    flags: u16,
    sequence: u32,
    payload: &[u8],
) -> Option<Incoming> {
    Some(match message_type {
        NLMSG_ERROR => decode_error(flags, sequence, payload)?,
        NLMSG_DONE => Incoming::Done { sequence },
        NLMSG_OVERRUN => Incoming::Other,
        RTM_NEWROUTE | RTM_DELROUTE => {
            let message = RouteMessage::parse(payload).ok()?;
            Incoming::Route {
                added: message_type == RTM_NEWROUTE,
                route: kernel_route(&message),
            }
        }
        RTM_NEWLINK | RTM_DELLINK => {
            let message = LinkMessage::parse(payload).ok()?;
            let name = message
                .attributes
                .iter()
                .find_map(|attribute| match attribute {
                    LinkAttribute::IfName(name) => Some(name.clone()),
                    _ => None,
                });
            let up = message
                .header
                .flags
                .contains(LinkFlags::Up | LinkFlags::LowerUp);
            Incoming::Link {
                added: message_type == RTM_NEWLINK,
                index: message.header.index,
                name,
                up,
            }
        }
        RTM_NEWADDR | RTM_DELADDR => Incoming::Address,
        _ => Incoming::Other,
    })
}

/// `struct nlmsgerr { int error; struct nlmsghdr msg; }` then, with `NLM_F_ACK_TLVS`,
/// extended-ack attributes (the echoed request is only its header under `NETLINK_CAP_ACK`).
fn decode_error(flags: u16, sequence: u32, payload: &[u8]) -> Option<Incoming> {
    let code = i32::from_ne_bytes(payload.get(..4)?.try_into().ok()?);
    if code == 0 {
        return Some(Incoming::Ack {
            sequence,
            error: None,
        });
    }
    let message = if flags & NLM_F_ACK_TLVS != 0 {
        payload
            .get(4 + NLMSG_HEADER_LEN..)
            .and_then(extended_ack_message)
    } else {
        None
    };
    Some(Incoming::Ack {
        sequence,
        error: Some(KernelError {
            errno: code.checked_neg().unwrap_or(i32::MAX),
            message,
        }),
    })
}

fn extended_ack_message(mut attributes: &[u8]) -> Option<String> {
    while attributes.len() >= NLA_HEADER_LEN {
        let length = usize::from(u16::from_ne_bytes([attributes[0], attributes[1]]));
        let kind = u16::from_ne_bytes([attributes[2], attributes[3]]);
        let value = attributes.get(NLA_HEADER_LEN..length)?;
        if kind == NLMSGERR_ATTR_MSG {
            let text = value.split(|byte| *byte == 0).next().unwrap_or_default();
            return Some(String::from_utf8_lossy(text).into_owned());
        }
        let advance = length.next_multiple_of(NLMSG_ALIGN).max(NLA_HEADER_LEN);
        attributes = attributes.get(advance..)?;
    }
    None
}

/// The parts of a route message the FIB decides on; `None` outside IPv4/IPv6.
fn kernel_route(message: &RouteMessage) -> Option<KernelRoute> {
    let header = &message.header;
    let mut destination = None;
    let mut table = u32::from(header.table);
    let mut priority = 0;
    let mut interface = None;
    let mut next_hops = Vec::new();
    for attribute in &message.attributes {
        match attribute {
            RouteAttribute::Destination(address) => destination = ip_of(address),
            RouteAttribute::Table(id) => table = *id,
            RouteAttribute::Priority(metric) => priority = *metric,
            RouteAttribute::Oif(index) => interface = Some(*index),
            RouteAttribute::Gateway(address) => {
                if let Some(address) = ip_of(address) {
                    next_hops.push(NextHop {
                        address,
                        interface: None,
                    });
                }
            }
            RouteAttribute::MultiPath(paths) => {
                for path in paths {
                    let gateway = path
                        .attributes
                        .iter()
                        .find_map(|attribute| match attribute {
                            RouteAttribute::Gateway(address) => ip_of(address),
                            _ => None,
                        });
                    if let Some(address) = gateway {
                        next_hops.push(NextHop {
                            address,
                            interface: Some(path.interface_index).filter(|index| *index != 0),
                        });
                    }
                    if interface.is_none() && path.interface_index != 0 {
                        interface = Some(path.interface_index);
                    }
                }
            }
            _ => {}
        }
    }
    // A single-path route's gateway is scoped by RTA_OIF (an IPv6 link-local next hop).
    if let [single] = next_hops.as_mut_slice() {
        single.interface = single.interface.or(interface);
    }
    let unspecified = match header.address_family {
        AddressFamily::Inet => IpAddr::from([0u8; 4]),
        AddressFamily::Inet6 => IpAddr::from([0u8; 16]),
        _ => return None,
    };
    let prefix = IpNet::new(
        destination.unwrap_or(unspecified),
        header.destination_prefix_length,
    )
    .ok()?;
    let kind = match header.kind {
        RouteType::Unicast => RouteKind::Unicast,
        RouteType::BlackHole => RouteKind::Blackhole,
        _ => RouteKind::Other,
    };
    Some(KernelRoute {
        prefix,
        table,
        protocol: u8::from(header.protocol),
        kind,
        priority,
        interface,
        next_hops,
    })
}

fn ip_of(address: &RouteAddress) -> Option<IpAddr> {
    match address {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

#[cfg(test)]
#[cfg(target_endian = "little")]
mod tests {
    use super::*;

    const OWNER: Owner = Owner {
        protocol: 186,
        table: 254,
        metric: 32,
    };

    #[test]
    fn replace_request_bytes() {
        let mut table = super::super::table::Table::new();
        let next_hops = [NextHop {
            address: "10.0.0.2".parse().expect("address"),
            interface: None,
        }];
        let request = Request::Replace {
            prefix: "10.1.0.0/24".parse().expect("prefix"),
            next_hops: table.intern_next_hops(&next_hops),
        };
        let mut datagram = Vec::new();
        encode_request(&mut datagram, 7, &request, &next_hops, &OWNER);
        #[rustfmt::skip]
        let expected = [
            0x3c, 0x00, 0x00, 0x00, // nlmsg_len 60
            0x18, 0x00,             // nlmsg_type RTM_NEWROUTE
            0x01, 0x05,             // flags REQUEST | REPLACE | CREATE (no ACK: only refusals)
            0x07, 0x00, 0x00, 0x00, // nlmsg_seq 7
            0x00, 0x00, 0x00, 0x00, // nlmsg_pid: the kernel
            0x02,                   // rtm_family AF_INET
            0x18,                   // rtm_dst_len 24
            0x00,                   // rtm_src_len
            0x00,                   // rtm_tos
            0xfe,                   // rtm_table RT_TABLE_MAIN
            0xba,                   // rtm_protocol 186 (ours)
            0x00,                   // rtm_scope RT_SCOPE_UNIVERSE
            0x01,                   // rtm_type RTN_UNICAST
            0x00, 0x00, 0x00, 0x00, // rtm_flags
            0x08, 0x00, 0x01, 0x00, // RTA_DST, 8 bytes
            0x0a, 0x01, 0x00, 0x00, //   10.1.0.0
            0x08, 0x00, 0x0f, 0x00, // RTA_TABLE, 8 bytes
            0xfe, 0x00, 0x00, 0x00, //   254
            0x08, 0x00, 0x06, 0x00, // RTA_PRIORITY, 8 bytes
            0x20, 0x00, 0x00, 0x00, //   metric 32
            0x08, 0x00, 0x05, 0x00, // RTA_GATEWAY, 8 bytes
            0x0a, 0x00, 0x00, 0x02, //   10.0.0.2
        ];
        assert_eq!(datagram, expected);
    }

    #[test]
    fn error_ack_with_extended_message() {
        #[rustfmt::skip]
        let datagram = [
            0x44, 0x00, 0x00, 0x00, // nlmsg_len 68
            0x02, 0x00,             // NLMSG_ERROR
            0x00, 0x03,             // flags CAPPED | ACK_TLVS
            0x07, 0x00, 0x00, 0x00, // nlmsg_seq 7
            0x00, 0x00, 0x00, 0x00, // nlmsg_pid
            0x9b, 0xff, 0xff, 0xff, // error -101 (ENETUNREACH)
            0x3c, 0x00, 0x00, 0x00, // echoed request header: nlmsg_len 60
            0x18, 0x00, 0x05, 0x05, //   RTM_NEWROUTE, flags
            0x07, 0x00, 0x00, 0x00, //   nlmsg_seq 7
            0x00, 0x00, 0x00, 0x00, //   nlmsg_pid
            0x20, 0x00, 0x01, 0x00, // NLMSGERR_ATTR_MSG, 32 bytes
            b'N', b'e', b'x', b't', b'h', b'o', b'p', b' ',
            b'h', b'a', b's', b' ', b'i', b'n', b'v', b'a',
            b'l', b'i', b'd', b' ', b'g', b'a', b't', b'e',
            b'w', b'a', b'y', 0x00,
        ];
        let mut decoded = Vec::new();
        assert_eq!(
            decode_datagram(&datagram, |incoming| decoded.push(incoming)),
            0
        );
        let [Incoming::Ack {
            sequence: 7,
            error: Some(error),
        }] = decoded.as_slice()
        else {
            panic!("not an error ack: {decoded:?}");
        };
        assert_eq!(error.errno, libc::ENETUNREACH);
        assert_eq!(
            error.message.as_deref(),
            Some("Nexthop has invalid gateway")
        );
    }

    #[test]
    fn truncated_message_is_skipped_not_a_panic() {
        #[rustfmt::skip]
        let datagram = [
            0x40, 0x00, 0x00, 0x00, // nlmsg_len 64, but only 16 bytes follow
            0x18, 0x00, 0x00, 0x00, // RTM_NEWROUTE, flags
            0x00, 0x00, 0x00, 0x00, // nlmsg_seq
            0x00, 0x00, 0x00, 0x00, // nlmsg_pid
        ];
        assert_eq!(decode_datagram(&datagram, |_| panic!("decoded garbage")), 1);
    }
}
