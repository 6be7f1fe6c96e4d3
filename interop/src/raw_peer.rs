//! A hand-driven BGP neighbor for hostile-input tests: a plain TCP connection from a lab host
//! (bound to one of its addresses, so that each connection can be its own configured
//! neighbor) on which a test writes whatever bytes it likes — valid messages encoded by
//! `proto`, faults injected by hand — and reads back what the daemon answers, decoded by
//! `proto`. [`Observer`] keeps such a session alive in a thread and records the UPDATEs it
//! receives, for checks of what the daemon passes on to other neighbors.
//!
//! Every read has a deadline; the observer's thread ends when stopped, dropped or at the end
//! of its lifetime.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ipnet::Ipv4Net;
use proto::attr::{AsPath, Attributes, Origin};
use proto::capability::Capability;
use proto::header::{split_frame, MessageType, HEADER_LEN, MARKER};
use proto::message::Message;
use proto::nlri::Nlri;
use proto::notification::Notification;
use proto::open::{HoldTime, Open};
use proto::params::MAX_EXTENDED_MESSAGE_LEN;
use proto::update::{Announce, Update, UpdateBuilder, Withdraw};
use proto::{AfiSafi, Asn, RouterId, SessionParams};
use socket2::{Domain, Socket, Type};

use crate::error::{LabError, Result};
use crate::lab::Host;
use crate::relay::enter_netns;

/// How long a TCP connect may take on the lab's LAN.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Read granularity: how often a blocked read looks at its deadline (and the observer at its
/// stop flag).
const READ_TICK: Duration = Duration::from_millis(50);
/// Bytes read per system call.
const READ_CHUNK: usize = 16 * 1024;

/// One TCP connection to a BGP speaker, driven by hand.
#[derive(Debug)]
pub struct RawPeer {
    stream: TcpStream,
    buffer: BytesMut,
    /// How received messages are decoded (and [`RawPeer::send_message`] encodes): plain until
    /// [`RawPeer::establish`] saw both OPENs.
    params: SessionParams,
    /// Where the connection comes from.
    local: SocketAddr,
}

/// The end of a wait for a NOTIFICATION.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The speaker sent this NOTIFICATION (and, normally, closed the connection).
    Notification(Notification),
    /// The connection was closed without a NOTIFICATION.
    Closed,
}

impl RawPeer {
    /// Connects from `source` (an address of `host`) to `target`, from inside `host`'s
    /// namespace.
    pub fn connect(host: &Host, source: IpAddr, target: SocketAddr) -> Result<RawPeer> {
        RawPeer::connect_with(host, source, target, None)
    }

    /// Like [`RawPeer::connect`], with the socket's receive buffer (and so the TCP window it
    /// offers) limited to about `receive_buffer` octets: a neighbor that stops reading then
    /// blocks the speaker's sends quickly.
    pub fn connect_with(
        host: &Host,
        source: IpAddr,
        target: SocketAddr,
        receive_buffer: Option<usize>,
    ) -> Result<RawPeer> {
        let netns = PathBuf::from(format!("/run/netns/{}", host.netns));
        // The socket belongs to the namespace of the thread that creates it, for good: the
        // thread can end once it is connected.
        let stream = thread::spawn(move || -> Result<TcpStream> {
            enter_netns(&netns)?;
            let socket = Socket::new(Domain::for_address(target), Type::STREAM, None)
                .map_err(|e| LabError::io("create socket", e))?;
            if let Some(size) = receive_buffer {
                // Before connect: the window scale is fixed by the SYN.
                socket
                    .set_recv_buffer_size(size)
                    .map_err(|e| LabError::io("set SO_RCVBUF", e))?;
            }
            socket
                .bind(&SocketAddr::new(source, 0).into())
                .map_err(|e| LabError::io(format!("bind {source}"), e))?;
            socket
                .connect_timeout(&target.into(), CONNECT_TIMEOUT)
                .map_err(|e| LabError::io(format!("connect {source} -> {target}"), e))?;
            Ok(socket.into())
        })
        .join()
        .map_err(|_| LabError::Invalid("connect thread panicked".into()))??;
        stream
            .set_read_timeout(Some(READ_TICK))
            .map_err(|e| LabError::io("set read timeout", e))?;
        stream
            .set_nodelay(true)
            .map_err(|e| LabError::io("set TCP_NODELAY", e))?;
        let local = stream
            .local_addr()
            .map_err(|e| LabError::io("local address", e))?;
        Ok(RawPeer {
            stream,
            buffer: BytesMut::new(),
            params: SessionParams::plain(true),
            local,
        })
    }

    /// The connection's own address.
    pub fn local(&self) -> SocketAddr {
        self.local
    }

    /// The parameters messages are decoded and encoded with.
    pub fn params(&self) -> SessionParams {
        self.params
    }

    /// Writes `bytes` as they are.
    pub fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream
            .write_all(bytes)
            .map_err(|e| LabError::io(format!("write from {}", self.local), e))
    }

    /// Encodes `message` with the session's parameters and writes it.
    pub fn send_message(&mut self, message: &Message) -> Result<()> {
        let bytes = encode(message, &self.params)?;
        self.send(&bytes)
    }

    /// The next message, or `None` once the speaker closed (or reset) the connection. A frame
    /// that does not decode is an error: the speaker under test must send valid messages.
    pub fn receive(&mut self, timeout: Duration) -> Result<Option<Message>> {
        let deadline = Instant::now() + timeout;
        loop {
            let frame = split_frame(&mut self.buffer, MAX_EXTENDED_MESSAGE_LEN)
                .map_err(|e| LabError::parse("received frame", e))?;
            if let Some(frame) = frame {
                return Message::decode(&frame, &self.params)
                    .map(Some)
                    .map_err(|e| LabError::parse("received message", e));
            }
            if Instant::now() >= deadline {
                return Err(LabError::Timeout {
                    what: format!("a message on {}", self.local),
                    waited: timeout,
                    last: format!("{} octets buffered", self.buffer.len()),
                });
            }
            let mut chunk = [0u8; READ_CHUNK];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(None),
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(None),
                Err(e) => return Err(LabError::io(format!("read on {}", self.local), e)),
            }
        }
    }

    /// Reads until a message of `message_type` arrives (others are skipped); `None` when the
    /// connection closes first.
    pub fn receive_type(
        &mut self,
        message_type: MessageType,
        timeout: Duration,
    ) -> Result<Option<Message>> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.receive(left)? {
                Some(message) if message.message_type() == message_type => {
                    return Ok(Some(message))
                }
                Some(_) => {}
                None => return Ok(None),
            }
        }
    }

    /// Reads (skipping KEEPALIVEs and UPDATEs) until a NOTIFICATION arrives or the connection
    /// closes.
    pub fn wait_ending(&mut self, timeout: Duration) -> Result<Ending> {
        Ok(
            match self.receive_type(MessageType::Notification, timeout)? {
                Some(Message::Notification(notification)) => Ending::Notification(notification),
                _ => Ending::Closed,
            },
        )
    }

    /// Sends `open`, reads the speaker's OPEN, sends a KEEPALIVE and waits for the speaker's:
    /// the session is Established on both sides. Returns the speaker's OPEN; from now on
    /// messages are encoded and decoded with 4-octet AS numbers when both offered them.
    pub fn establish(&mut self, open: &Open, timeout: Duration) -> Result<Open> {
        self.send_message(&Message::Open(open.clone()))?;
        let theirs = self.receive_open(timeout)?;
        self.send_message(&Message::Keepalive)?;
        match self.receive(timeout)? {
            Some(Message::Keepalive) => {}
            other => {
                return Err(LabError::Invalid(format!(
                    "expected a KEEPALIVE after the OPENs on {}, got {other:?}",
                    self.local
                )))
            }
        }
        let four_octet = |open: &Open| {
            open.capabilities
                .iter()
                .any(|c| matches!(c, Capability::FourOctetAs(_)))
        };
        self.params.four_octet_as = four_octet(open) && four_octet(&theirs);
        Ok(theirs)
    }

    /// Reads the speaker's OPEN (the first message it sends on a new connection).
    pub fn receive_open(&mut self, timeout: Duration) -> Result<Open> {
        match self.receive(timeout)? {
            Some(Message::Open(open)) => Ok(open),
            other => Err(LabError::Invalid(format!(
                "expected an OPEN on {}, got {other:?}",
                self.local
            ))),
        }
    }

    /// Closes the connection at once with a TCP reset (SO_LINGER 0), as a crashed host's
    /// kernel would.
    pub fn reset(self) -> Result<()> {
        Socket::from(self.stream)
            .set_linger(Some(Duration::ZERO))
            .map_err(|e| LabError::io("set SO_LINGER", e))
        // Dropping the socket now sends the RST.
    }
}

/// A raw session kept alive by a thread that answers with KEEPALIVEs and records every UPDATE
/// received.
#[derive(Debug)]
pub struct Observer {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
    thread: Option<JoinHandle<()>>,
}

/// What an [`Observer`] saw.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    pub updates: Vec<Update>,
    /// Why the session ended, if it did (a NOTIFICATION received, a close, an error).
    pub ended: Option<String>,
}

impl Observer {
    /// Takes over an established `peer`; sends a KEEPALIVE every `keepalive` for `lifetime`
    /// at most.
    pub fn start(mut peer: RawPeer, keepalive: Duration, lifetime: Duration) -> Observer {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (thread_stop, thread_seen) = (stop.clone(), seen.clone());
        let thread = thread::spawn(move || {
            let end = Instant::now() + lifetime;
            let mut next_keepalive = Instant::now();
            let ended = loop {
                if thread_stop.load(Ordering::Relaxed) || Instant::now() >= end {
                    break None;
                }
                if Instant::now() >= next_keepalive {
                    if let Err(e) = peer.send_message(&Message::Keepalive) {
                        break Some(e.to_string());
                    }
                    next_keepalive = Instant::now() + keepalive;
                }
                match peer.receive(READ_TICK) {
                    Ok(Some(Message::Update(update))) => lock(&thread_seen).updates.push(update),
                    Ok(Some(Message::Notification(n))) => break Some(format!("NOTIFICATION {n}")),
                    Ok(Some(_)) | Err(LabError::Timeout { .. }) => {}
                    Ok(None) => break Some("connection closed".to_owned()),
                    Err(e) => break Some(e.to_string()),
                }
            };
            lock(&thread_seen).ended = ended;
            let _ = peer.stream.shutdown(Shutdown::Both);
        });
        Observer {
            stop,
            seen,
            thread: Some(thread),
        }
    }

    /// A copy of what was seen so far.
    pub fn seen(&self) -> Seen {
        lock(&self.seen).clone()
    }

    /// Ends the session and the thread.
    pub fn stop(mut self) -> Seen {
        self.finish();
        self.seen()
    }

    fn finish(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Locks `seen`; a poisoned lock (the thread panicked) still holds what was recorded.
fn lock(seen: &Mutex<Seen>) -> MutexGuard<'_, Seen> {
    seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The OPEN of an ordinary neighbor in `asn`: IPv4 and IPv6 unicast (RFC 4760), route
/// refresh (RFC 2918) and the 4-octet AS capability (RFC 6793).
pub fn standard_open(asn: Asn, router_id: Ipv4Addr, hold_time: u16) -> Open {
    let capabilities = vec![
        Capability::Multiprotocol {
            afi: AfiSafi::Ipv4Unicast.afi(),
            safi: AfiSafi::Ipv4Unicast.safi(),
        },
        Capability::Multiprotocol {
            afi: AfiSafi::Ipv6Unicast.afi(),
            safi: AfiSafi::Ipv6Unicast.safi(),
        },
        Capability::RouteRefresh,
        Capability::FourOctetAs(asn),
    ];
    Open::new(asn, HoldTime(hold_time), RouterId(router_id), capabilities)
}

/// The attributes an eBGP neighbor in `asn` sends with its own routes: ORIGIN IGP, AS_PATH
/// `[asn]`, NEXT_HOP `next_hop`.
pub fn ebgp_attributes(asn: Asn, next_hop: Ipv4Addr) -> Attributes {
    Attributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::from_sequence(&[asn])),
        next_hop: Some(next_hop),
        ..Attributes::default()
    }
}

/// Valid UPDATEs (built by `proto`'s builder) announcing `prefixes` with `attributes`.
pub fn announcements(
    params: &SessionParams,
    attributes: &Attributes,
    prefixes: &[Ipv4Net],
) -> Result<Vec<u8>> {
    let nlri: Vec<Nlri<Ipv4Net>> = prefixes.iter().map(|p| Nlri::new(*p, None)).collect();
    let messages = UpdateBuilder::new(params)
        .announce(attributes, Announce::Ipv4(&nlri))
        .map_err(|e| LabError::Invalid(format!("cannot build UPDATEs: {e}")))?;
    Ok(messages.concat())
}

/// Valid UPDATEs withdrawing `prefixes`.
pub fn withdrawals(params: &SessionParams, prefixes: &[Ipv4Net]) -> Result<Vec<u8>> {
    let nlri: Vec<Nlri<Ipv4Net>> = prefixes.iter().map(|p| Nlri::new(*p, None)).collect();
    let messages = UpdateBuilder::new(params)
        .withdraw(Withdraw::Ipv4(&nlri))
        .map_err(|e| LabError::Invalid(format!("cannot build UPDATEs: {e}")))?;
    Ok(messages.concat())
}

/// `message` encoded with `params`, header included.
pub fn encode(message: &Message, params: &SessionParams) -> Result<Bytes> {
    let mut out = BytesMut::new();
    message
        .encode(params, &mut out)
        .map_err(|e| LabError::Invalid(format!("cannot encode {message:?}: {e}")))?;
    Ok(out.freeze())
}

/// A message with a correct marker and a Length field counting `body`, of any type octet
/// (unknown ones included). Faults in the header are made by editing the result.
pub fn frame(message_type: u8, body: &[u8]) -> Vec<u8> {
    let length = u16::try_from(HEADER_LEN + body.len()).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&MARKER);
    out.extend_from_slice(&length.to_be_bytes());
    out.push(message_type);
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_counts_the_header() {
        let keepalive = frame(MessageType::Keepalive.to_wire(), &[]);
        assert_eq!(&keepalive[..16], &MARKER);
        // Length 19, type 4.
        assert_eq!(&keepalive[16..], &[0x00, 0x13, 0x04]);
        assert_eq!(
            &keepalive[..],
            &encode(&Message::Keepalive, &SessionParams::default()).expect("encode")[..]
        );
    }
}
