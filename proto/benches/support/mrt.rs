//! A minimal reader of MRT BGP4MP dumps (RFC 6396 §4.4), shared by the MRT golden test and the
//! UPDATE benchmark: a common header (timestamp 4, type 2, subtype 2, length 4), then for
//! BGP4MP_MESSAGE (subtype 1) / BGP4MP_MESSAGE_AS4 (subtype 4): peer AS and local AS (2 or 4
//! octets each), interface index (2), AFI (2), peer and local IP (4 or 16 octets each), and
//! the BGP message with its 19-octet header. Test data only: it panics on malformed input.

use std::collections::BTreeMap;
use std::io::Read;

use bytes::Bytes;
use flate2::read::GzDecoder;
use proto::SessionParams;

pub const RRC15: &[u8] = include_bytes!("../../tests/data/mrt/ripe-rrc15-updates.20100227.1600.gz");
pub const RRC03: &[u8] =
    include_bytes!("../../tests/data/mrt/ripe-rrc03-updates.20100227.1600.first-796-records.gz");

/// RFC 6396 §4: the MRT common header.
const MRT_HEADER_LEN: usize = 12;
/// RFC 6396 §4.4: BGP4MP.
const BGP4MP: u16 = 16;
const BGP4MP_MESSAGE: u16 = 1;
const BGP4MP_MESSAGE_AS4: u16 = 4;
const AFI_IPV4: u16 = 1;
const AFI_IPV6: u16 = 2;
/// RFC 4271 §4.1: marker (16), length (2), type (1).
pub const BGP_HEADER_LEN: usize = 19;
const BGP_TYPE_AT: usize = 18;
pub const BGP_UPDATE: u8 = 2;

/// One BGP message captured by the collector.
pub struct Captured {
    pub four_octet_as: bool,
    pub peer_as: u32,
    pub local_as: u32,
    /// The whole message, header included.
    pub message: Bytes,
}

impl Captured {
    pub fn message_type(&self) -> u8 {
        self.message[BGP_TYPE_AT]
    }

    /// The message body (after the 19-octet header).
    pub fn body(&self) -> Bytes {
        self.message.slice(BGP_HEADER_LEN..)
    }

    /// The session parameters the record implies: 4-octet AS for BGP4MP_MESSAGE_AS4, eBGP
    /// when the two AS numbers differ, nothing else negotiated.
    pub fn params(&self) -> SessionParams {
        SessionParams {
            four_octet_as: self.four_octet_as,
            ..SessionParams::plain(self.peer_as != self.local_as)
        }
    }
}

pub fn gunzip(compressed: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    GzDecoder::new(compressed)
        .read_to_end(&mut out)
        .expect("test data decompresses");
    out
}

fn u16_at(data: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([data[at], data[at + 1]])
}

fn u32_at(data: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
}

/// Every BGP message of `dump`, and the number of records of each BGP4MP subtype.
pub fn messages(dump: &[u8]) -> (BTreeMap<u16, usize>, Vec<Captured>) {
    let mut records_by_subtype = BTreeMap::new();
    let mut captured = Vec::new();
    let mut rest = dump;
    while !rest.is_empty() {
        let (record_type, subtype) = (u16_at(rest, 4), u16_at(rest, 6));
        let length = usize::try_from(u32_at(rest, 8)).expect("fits usize");
        let body = &rest[MRT_HEADER_LEN..MRT_HEADER_LEN + length];
        rest = &rest[MRT_HEADER_LEN + length..];
        assert_eq!(record_type, BGP4MP);
        *records_by_subtype.entry(subtype).or_default() += 1;
        let (as_len, four_octet_as) = match subtype {
            BGP4MP_MESSAGE => (2, false),
            BGP4MP_MESSAGE_AS4 => (4, true),
            _ => continue, // state changes
        };
        let (peer_as, local_as) = if four_octet_as {
            (u32_at(body, 0), u32_at(body, 4))
        } else {
            (u32::from(u16_at(body, 0)), u32::from(u16_at(body, 2)))
        };
        let address_len = match u16_at(body, 2 * as_len + 2) {
            AFI_IPV4 => 4,
            AFI_IPV6 => 16,
            other => panic!("unexpected AFI {other}"),
        };
        let message = &body[2 * as_len + 4 + 2 * address_len..];
        assert_eq!(usize::from(u16_at(message, 16)), message.len());
        captured.push(Captured {
            four_octet_as,
            peer_as,
            local_as,
            message: Bytes::copy_from_slice(message),
        });
    }
    (records_by_subtype, captured)
}
