//! BMP messages (RFC 7854 §4) after the common header, and the common header itself.
//!
//! ```text
//!  Version (1) = 3 | Message Length (4, the whole message) | Message Type (1)
//!  0 Route Monitoring:   per-peer header | BGP UPDATE
//!  1 Statistics Report:  per-peer header | Stats Count (4) | statistics
//!  2 Peer Down:          per-peer header | Reason (1) | data (a NOTIFICATION, an FSM event, TLVs)
//!  3 Peer Up:            per-peer header | Local Address (16) | Local Port (2) | Remote Port (2)
//!                        | Sent OPEN | Received OPEN | Information TLVs
//!  4 Initiation:         Information TLVs
//!  5 Termination:        Termination TLVs
//! ```

use std::net::IpAddr;

use bytes::{BufMut, Bytes, BytesMut};
use proto::header::MessageType;

use crate::error::{DecodeError, EncodeError};
use crate::pdu::BgpPdu;
use crate::peer::{address_field, put_address, Family, PeerHeader, PeerKind, ADDRESS_LEN};
use crate::reader::Reader;
use crate::stats::Stat;
use crate::tlv::{InformationTlv, TerminationTlv};
use crate::{COMMON_HEADER_LEN, VERSION};

/// RFC 7854 §4.1 message types (Route Mirroring, 6, is not spoken).
const ROUTE_MONITORING: u8 = 0;
const STATISTICS_REPORT: u8 = 1;
const PEER_DOWN: u8 = 2;
const PEER_UP: u8 = 3;
const INITIATION: u8 = 4;
const TERMINATION: u8 = 5;

/// A BMP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// The routes of an UPDATE (RFC 7854 §4.6): as the neighbor sent it (pre-policy), after
    /// import policy (the L flag), or of the Loc-RIB (RFC 9069 §4.3).
    RouteMonitoring {
        peer: PeerHeader,
        update: BgpPdu,
    },
    StatisticsReport {
        peer: PeerHeader,
        stats: Vec<Stat>,
    },
    PeerDown(PeerDown),
    PeerUp(PeerUp),
    /// The first message of a BMP session (RFC 7854 §4.3): sysDescr and sysName.
    Initiation(Vec<InformationTlv>),
    /// The last one (RFC 7854 §4.5).
    Termination(Vec<TerminationTlv>),
}

/// A session came up (RFC 7854 §4.10), or the Loc-RIB is ready (RFC 9069 §5.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerUp {
    pub peer: PeerHeader,
    /// The TCP session; `None` for the Loc-RIB, whose fields are zero.
    pub session: Option<SessionEndpoints>,
    /// The OPENs as sent and received; for the Loc-RIB one fabricated OPEN, twice, whose
    /// capabilities say how its Route Monitoring UPDATEs are encoded (RFC 9069 §5.3).
    pub sent_open: BgpPdu,
    pub received_open: BgpPdu,
    /// For the Loc-RIB, its VRF/Table Name.
    pub information: Vec<InformationTlv>,
}

/// Our end and the neighbor's of a session's TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionEndpoints {
    /// Of the peer address's family (RFC 7854 §4.10).
    pub local_address: IpAddr,
    pub local_port: u16,
    pub remote_port: u16,
}

/// A session went down (RFC 7854 §4.9), or the Loc-RIB is gone (RFC 9069 §5.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerDown {
    pub peer: PeerHeader,
    pub reason: PeerDownReason,
}

/// Why (RFC 7854 §4.9, the code in parentheses; RFC 9069 §5.4 for 6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerDownReason {
    /// (1) We closed it with this NOTIFICATION.
    LocalNotification(BgpPdu),
    /// (2) We closed it without a NOTIFICATION, on this RFC 4271 §8.1 FSM event.
    LocalNoNotification { fsm_event: u16 },
    /// (3) The neighbor closed it with this NOTIFICATION.
    RemoteNotification(BgpPdu),
    /// (4) The connection closed without a NOTIFICATION.
    RemoteNoNotification,
    /// (5) The neighbor was removed from the configuration; no data.
    Deconfigured,
    /// (6) The Loc-RIB instance is gone; TLVs (its VRF/Table Name) follow.
    LocalSystemClosed(Vec<InformationTlv>),
}

impl Message {
    /// The whole message, common header included.
    pub fn encode(&self) -> Result<Bytes, EncodeError> {
        let mut out = BytesMut::new();
        out.put_u8(VERSION);
        out.put_u32(0); // the length, set below
        out.put_u8(self.type_code());
        match self {
            Message::RouteMonitoring { peer, update } => {
                expect_pdu("Route Monitoring", update, MessageType::Update)?;
                peer.put(&mut out);
                out.put_slice(update.bytes());
            }
            Message::StatisticsReport { peer, stats } => {
                peer.put(&mut out);
                out.put_u32(count(stats.len(), "Stats Count")?);
                for stat in stats {
                    stat.put(&mut out);
                }
            }
            Message::PeerDown(down) => down.put(&mut out)?,
            Message::PeerUp(up) => up.put(&mut out)?,
            Message::Initiation(tlvs) => {
                for tlv in tlvs {
                    tlv.put(&mut out)?;
                }
            }
            Message::Termination(tlvs) => {
                for tlv in tlvs {
                    tlv.put(&mut out)?;
                }
            }
        }
        let length = count(out.len(), "BMP message")?;
        out[1..5].copy_from_slice(&length.to_be_bytes());
        Ok(out.freeze())
    }

    /// Decodes one whole message, common header included (as [`split_message`] cuts them).
    pub fn decode(message: &Bytes) -> Result<Message, DecodeError> {
        let mut reader = Reader::new(message);
        let version = reader.u8("common header")?;
        if version != VERSION {
            return Err(DecodeError::Version(version));
        }
        let length = reader.u32("common header")?;
        if usize::try_from(length).ok() != Some(message.len()) {
            return Err(DecodeError::Length {
                field: length,
                actual: message.len(),
            });
        }
        let decoded = match reader.u8("common header")? {
            ROUTE_MONITORING => Message::RouteMonitoring {
                peer: PeerHeader::decode(&mut reader)?,
                update: pdu(
                    message,
                    &mut reader,
                    "Route Monitoring",
                    MessageType::Update,
                )?,
            },
            STATISTICS_REPORT => {
                let peer = PeerHeader::decode(&mut reader)?;
                let count = reader.u32("Stats Count")?;
                // Nothing is allocated for the count: one larger than the statistics present
                // fails at the first missing one.
                let stats = (0..count)
                    .map(|_| Stat::decode(&mut reader))
                    .collect::<Result<Vec<_>, _>>()?;
                Message::StatisticsReport { peer, stats }
            }
            PEER_DOWN => Message::PeerDown(PeerDown::decode(message, &mut reader)?),
            PEER_UP => Message::PeerUp(PeerUp::decode(message, &mut reader)?),
            INITIATION => Message::Initiation(InformationTlv::decode_all(&mut reader)?),
            TERMINATION => Message::Termination(TerminationTlv::decode_all(&mut reader)?),
            other => return Err(DecodeError::MessageType(other)),
        };
        reader.finish()?;
        Ok(decoded)
    }

    fn type_code(&self) -> u8 {
        match self {
            Message::RouteMonitoring { .. } => ROUTE_MONITORING,
            Message::StatisticsReport { .. } => STATISTICS_REPORT,
            Message::PeerDown(_) => PEER_DOWN,
            Message::PeerUp(_) => PEER_UP,
            Message::Initiation(_) => INITIATION,
            Message::Termination(_) => TERMINATION,
        }
    }
}

impl PeerUp {
    fn put(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        expect_pdu("Peer Up", &self.sent_open, MessageType::Open)?;
        expect_pdu("Peer Up", &self.received_open, MessageType::Open)?;
        match (self.peer.peer, self.session) {
            (PeerKind::Global { address, .. }, Some(session)) => {
                if Family::of(address) != Family::of(session.local_address) {
                    return Err(EncodeError::FamilyMismatch {
                        local: session.local_address,
                        peer: address,
                    });
                }
            }
            (PeerKind::LocRib { .. }, None) => {
                if !self
                    .information
                    .iter()
                    .any(|tlv| matches!(tlv, InformationTlv::TableName(_)))
                {
                    return Err(EncodeError::LocRib(
                        "a Loc-RIB Peer Up names its table (VRF/Table Name TLV, RFC 9069 §5.3)",
                    ));
                }
            }
            _ => return Err(EncodeError::SessionEndpoints),
        }
        self.peer.put(out);
        put_address(out, self.session.map(|s| s.local_address));
        out.put_u16(self.session.map_or(0, |s| s.local_port));
        out.put_u16(self.session.map_or(0, |s| s.remote_port));
        out.put_slice(self.sent_open.bytes());
        out.put_slice(self.received_open.bytes());
        for tlv in &self.information {
            tlv.put(out)?;
        }
        Ok(())
    }

    fn decode(message: &Bytes, reader: &mut Reader<'_>) -> Result<PeerUp, DecodeError> {
        let peer = PeerHeader::decode(reader)?;
        let local: [u8; ADDRESS_LEN] = reader.array("Local Address")?;
        let local_port = reader.u16("Local Port")?;
        let remote_port = reader.u16("Remote Port")?;
        let session = match peer.address() {
            Some(address) => Some(SessionEndpoints {
                local_address: address_field(&local, Family::of(address)),
                local_port,
                remote_port,
            }),
            None if local == [0; ADDRESS_LEN] && local_port == 0 && remote_port == 0 => None,
            None => {
                return Err(DecodeError::PeerHeader(
                    "Loc-RIB Peer Up with a TCP session",
                ))
            }
        };
        Ok(PeerUp {
            peer,
            session,
            sent_open: pdu(message, reader, "Peer Up sent OPEN", MessageType::Open)?,
            received_open: pdu(message, reader, "Peer Up received OPEN", MessageType::Open)?,
            information: InformationTlv::decode_all(reader)?,
        })
    }
}

impl PeerDown {
    fn put(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        let loc_rib = matches!(self.peer.peer, PeerKind::LocRib { .. });
        let closed = matches!(self.reason, PeerDownReason::LocalSystemClosed(_));
        if loc_rib != closed {
            return Err(EncodeError::LocRib(
                "reason 6 (local system closed) is the Loc-RIB's, and its only one (RFC 9069 §5.4)",
            ));
        }
        self.peer.put(out);
        match &self.reason {
            PeerDownReason::LocalNotification(notification) => {
                expect_pdu("Peer Down", notification, MessageType::Notification)?;
                out.put_u8(1);
                out.put_slice(notification.bytes());
            }
            PeerDownReason::LocalNoNotification { fsm_event } => {
                out.put_u8(2);
                out.put_u16(*fsm_event);
            }
            PeerDownReason::RemoteNotification(notification) => {
                expect_pdu("Peer Down", notification, MessageType::Notification)?;
                out.put_u8(3);
                out.put_slice(notification.bytes());
            }
            PeerDownReason::RemoteNoNotification => out.put_u8(4),
            PeerDownReason::Deconfigured => out.put_u8(5),
            PeerDownReason::LocalSystemClosed(tlvs) => {
                out.put_u8(6);
                for tlv in tlvs {
                    tlv.put(out)?;
                }
            }
        }
        Ok(())
    }

    fn decode(message: &Bytes, reader: &mut Reader<'_>) -> Result<PeerDown, DecodeError> {
        let peer = PeerHeader::decode(reader)?;
        let notification = MessageType::Notification;
        let reason = match reader.u8("Peer Down reason")? {
            1 => {
                PeerDownReason::LocalNotification(pdu(message, reader, "Peer Down", notification)?)
            }
            2 => PeerDownReason::LocalNoNotification {
                fsm_event: reader.u16("Peer Down FSM event")?,
            },
            3 => {
                PeerDownReason::RemoteNotification(pdu(message, reader, "Peer Down", notification)?)
            }
            4 => PeerDownReason::RemoteNoNotification,
            5 => PeerDownReason::Deconfigured,
            6 => PeerDownReason::LocalSystemClosed(InformationTlv::decode_all(reader)?),
            other => {
                return Err(DecodeError::Unsupported {
                    what: "Peer Down reason",
                    value: u32::from(other),
                })
            }
        };
        Ok(PeerDown { peer, reason })
    }
}

/// Cuts the next whole message off the front of `buf`, a stream reader's buffer; `Ok(None)`
/// while more octets are needed. The common header is checked as soon as it is complete.
pub fn split_message(buf: &mut BytesMut) -> Result<Option<Bytes>, DecodeError> {
    let Some(header) = buf.first_chunk::<COMMON_HEADER_LEN>() else {
        return Ok(None);
    };
    if header[0] != VERSION {
        return Err(DecodeError::Version(header[0]));
    }
    let field = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
    let length = usize::try_from(field).unwrap_or(usize::MAX);
    if length < COMMON_HEADER_LEN {
        return Err(DecodeError::Length {
            field,
            actual: buf.len(),
        });
    }
    if buf.len() < length {
        return Ok(None);
    }
    Ok(Some(buf.split_to(length).freeze()))
}

/// The BGP message at the front of `reader`, as a slice of `message`.
fn pdu(
    message: &Bytes,
    reader: &mut Reader<'_>,
    what: &'static str,
    expected: MessageType,
) -> Result<BgpPdu, DecodeError> {
    let length = BgpPdu::length_at(reader.remaining()).ok_or(DecodeError::Truncated { what })?;
    let octets = reader.take(length, what)?;
    let pdu = BgpPdu::from_frame(message.slice_ref(octets))
        .map_err(|error| DecodeError::Pdu { what, error })?;
    if pdu.message_type() != expected {
        return Err(DecodeError::UnexpectedPdu {
            what,
            found: pdu.message_type(),
        });
    }
    Ok(pdu)
}

fn expect_pdu(
    message: &'static str,
    pdu: &BgpPdu,
    expected: MessageType,
) -> Result<(), EncodeError> {
    if pdu.message_type() == expected {
        Ok(())
    } else {
        Err(EncodeError::UnexpectedPdu {
            message,
            expected,
            found: pdu.message_type(),
        })
    }
}

fn count(length: usize, what: &'static str) -> Result<u32, EncodeError> {
    u32::try_from(length).map_err(|_| EncodeError::TooLong {
        what,
        length,
        bits: 32,
    })
}
