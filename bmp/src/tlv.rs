//! The TLVs of Initiation, Peer Up and Peer Down (Information TLVs, RFC 7854 §4.4; RFC 9069
//! §5.1 adds VRF/Table Name) and of Termination (RFC 7854 §4.5).
//!
//! ```text
//!  Information Type (2) | Information Length (2) | Information (variable)
//! ```

use bytes::{BufMut, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::reader::Reader;

/// RFC 7854 §4.4 information types; RFC 9069 §5.1 for 3.
const STRING: u16 = 0;
const SYS_DESCR: u16 = 1;
const SYS_NAME: u16 = 2;
const TABLE_NAME: u16 = 3;
/// RFC 7854 §4.5 termination types.
const TERMINATION_STRING: u16 = 0;
const TERMINATION_REASON: u16 = 1;
/// RFC 9069 §5.1: a table name is at most 255 octets of UTF-8.
const MAX_TABLE_NAME: usize = 255;

/// An Information TLV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InformationTlv {
    /// Free-form UTF-8 text for people (type 0).
    String(String),
    /// The system's description, like SNMP sysDescr (type 1; Initiation must carry it).
    SysDescr(String),
    /// The system's name, like SNMP sysName (type 2; Initiation must carry it).
    SysName(String),
    /// The table a Loc-RIB peer stands for, `global` for the default one (type 3, RFC 9069
    /// §5.1; a Loc-RIB Peer Up must carry it).
    TableName(String),
}

/// A Termination TLV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TerminationTlv {
    String(String),
    Reason(TerminationReason),
}

/// Why the monitored router ends the BMP session (RFC 7854 §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminationReason {
    /// 0: closed by an administrator; it may come back.
    AdministrativelyClosed,
    /// 1
    Unspecified,
    /// 2
    OutOfResources,
    /// 3: another session to this monitoring station replaces it.
    RedundantConnection,
    /// 4: closed for good by an administrator.
    PermanentlyAdministrativelyClosed,
}

impl TerminationReason {
    fn to_wire(self) -> u16 {
        match self {
            TerminationReason::AdministrativelyClosed => 0,
            TerminationReason::Unspecified => 1,
            TerminationReason::OutOfResources => 2,
            TerminationReason::RedundantConnection => 3,
            TerminationReason::PermanentlyAdministrativelyClosed => 4,
        }
    }

    fn from_wire(value: u16) -> Option<TerminationReason> {
        Some(match value {
            0 => TerminationReason::AdministrativelyClosed,
            1 => TerminationReason::Unspecified,
            2 => TerminationReason::OutOfResources,
            3 => TerminationReason::RedundantConnection,
            4 => TerminationReason::PermanentlyAdministrativelyClosed,
            _ => return None,
        })
    }
}

impl InformationTlv {
    pub(crate) fn put(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        let (kind, text) = match self {
            InformationTlv::String(text) => (STRING, text),
            InformationTlv::SysDescr(text) => (SYS_DESCR, text),
            InformationTlv::SysName(text) => (SYS_NAME, text),
            InformationTlv::TableName(text) => {
                if text.len() > MAX_TABLE_NAME {
                    return Err(EncodeError::TooLong {
                        what: "VRF/Table Name",
                        length: text.len(),
                        bits: 8,
                    });
                }
                (TABLE_NAME, text)
            }
        };
        put_tlv(out, kind, text.as_bytes(), "Information TLV")
    }

    /// Reads TLVs to the end of `reader`.
    pub(crate) fn decode_all(reader: &mut Reader<'_>) -> Result<Vec<InformationTlv>, DecodeError> {
        let mut tlvs = Vec::new();
        while !reader.is_empty() {
            let (kind, value) = tlv(reader, "Information TLV")?;
            let text = text(value, "Information TLV")?;
            tlvs.push(match kind {
                STRING => InformationTlv::String(text),
                SYS_DESCR => InformationTlv::SysDescr(text),
                SYS_NAME => InformationTlv::SysName(text),
                TABLE_NAME => InformationTlv::TableName(text),
                other => {
                    return Err(DecodeError::Unsupported {
                        what: "Information TLV type",
                        value: u32::from(other),
                    })
                }
            });
        }
        Ok(tlvs)
    }
}

impl TerminationTlv {
    pub(crate) fn put(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        match self {
            TerminationTlv::String(text) => {
                put_tlv(out, TERMINATION_STRING, text.as_bytes(), "Termination TLV")
            }
            TerminationTlv::Reason(reason) => put_tlv(
                out,
                TERMINATION_REASON,
                &reason.to_wire().to_be_bytes(),
                "Termination TLV",
            ),
        }
    }

    pub(crate) fn decode_all(reader: &mut Reader<'_>) -> Result<Vec<TerminationTlv>, DecodeError> {
        let mut tlvs = Vec::new();
        while !reader.is_empty() {
            let (kind, value) = tlv(reader, "Termination TLV")?;
            tlvs.push(match kind {
                TERMINATION_STRING => TerminationTlv::String(text(value, "Termination TLV")?),
                TERMINATION_REASON => {
                    let mut field = Reader::new(value);
                    let code = field.u16("termination reason")?;
                    field.finish()?;
                    TerminationTlv::Reason(TerminationReason::from_wire(code).ok_or(
                        DecodeError::Unsupported {
                            what: "termination reason",
                            value: u32::from(code),
                        },
                    )?)
                }
                other => {
                    return Err(DecodeError::Unsupported {
                        what: "Termination TLV type",
                        value: u32::from(other),
                    })
                }
            });
        }
        Ok(tlvs)
    }
}

fn put_tlv(
    out: &mut BytesMut,
    kind: u16,
    value: &[u8],
    what: &'static str,
) -> Result<(), EncodeError> {
    let length = u16::try_from(value.len()).map_err(|_| EncodeError::TooLong {
        what,
        length: value.len(),
        bits: 16,
    })?;
    out.put_u16(kind);
    out.put_u16(length);
    out.put_slice(value);
    Ok(())
}

fn tlv<'a>(reader: &mut Reader<'a>, what: &'static str) -> Result<(u16, &'a [u8]), DecodeError> {
    let kind = reader.u16(what)?;
    let length = reader.u16(what)?;
    Ok((kind, reader.take(usize::from(length), what)?))
}

fn text(value: &[u8], what: &'static str) -> Result<String, DecodeError> {
    String::from_utf8(value.to_vec()).map_err(|_| DecodeError::Utf8 { what })
}
