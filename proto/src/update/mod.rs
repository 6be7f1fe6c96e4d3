//! UPDATE messages (RFC 4271 §4.3) with RFC 7606 error handling and the End-of-RIB marker
//! (RFC 4724 §2).
//!
//! ```text
//! +------------------------------------------+
//! | Withdrawn Routes Length (2)              |
//! | Withdrawn Routes (IPv4 NLRI, variable)   |
//! | Total Path Attribute Length (2)          |
//! | Path Attributes (variable)               |
//! | Network Layer Reachability Information   |
//! +------------------------------------------+
//! ```
//!
//! [`Update::decode`] returns the well-formed parts and, in [`Update::errors`], every
//! recoverable problem with its RFC 7606 [`Action`]; a problem that calls for a session reset
//! is `Err(DecodeError)` carrying the NOTIFICATION. [`builder`] packs many prefixes into few
//! messages for sending.

pub mod builder;
mod next_hop;
pub mod rfc7606;

use bytes::{BufMut, Bytes, BytesMut};
use ipnet::Ipv4Net;
use nom::multi::length_data;
use nom::number::complete::be_u16;

use crate::attr::decode::decode_attributes;
use crate::attr::{put_header, AttrFlags, AttrType, Attributes, MpReach, MpUnreach};
use crate::error::{DecodeError, EncodeError};
use crate::header::{begin_message, finish_message, MessageType};
use crate::nlri::{self, Nlri};
use crate::notification::{ErrorCode, UpdateError};
use crate::params::SessionParams;
use crate::types::{AfiSafi, AfiSafiSet};

pub use builder::{Announce, UpdateBuilder, Withdraw};
pub use rfc7606::{Action, AttrError, Reason};

/// Both length fields of an UPDATE are 2 octets (RFC 4271 §4.3).
const LENGTH_FIELD_LEN: usize = 2;

/// An UPDATE message.
///
/// An UPDATE the encoder produces decodes to an equal value when it is well formed: NLRI come
/// with ORIGIN and AS_PATH (and NEXT_HOP for the NLRI field), path identifiers match ADD-PATH,
/// LOCAL_PREF / ORIGINATOR_ID / CLUSTER_LIST and confederation segments are not sent to
/// external peers, no AS number is 0 (RFC 7607), on 2-octet-AS sessions confederation
/// segments lead the path and hold 2-octet AS numbers (RFC 6793 §6), next hops are host
/// addresses (RFC 4271 §6.3), and `errors` is empty. The encoder writes any combination of
/// fields it is given; the [`UpdateBuilder`] keeps to one kind per message as RFC 7606 §5.1
/// asks of senders.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Update {
    /// Withdrawn Routes: IPv4 unicast.
    pub withdrawn: Vec<Nlri<Ipv4Net>>,
    pub attributes: Attributes,
    /// The NLRI field: IPv4 unicast routes reachable with `attributes`.
    pub announced: Vec<Nlri<Ipv4Net>>,
    pub mp_reach: Option<MpReach>,
    pub mp_unreach: Option<MpUnreach>,
    /// Recoverable problems found while decoding, in the order found. Empty for UPDATEs built
    /// locally.
    pub errors: Vec<AttrError>,
}

impl Update {
    /// Decodes an UPDATE body (the octets after the 19-octet header). Attribute values that
    /// are kept raw share `body`'s buffer.
    pub fn decode(body: &Bytes, params: &SessionParams) -> Result<Update, DecodeError> {
        // RFC 4271 §6.3, kept by RFC 7606 §3(b): length fields that overrun the message reset
        // the session with Malformed Attribute List.
        let overrun = |_| {
            DecodeError::new(
                ErrorCode::UpdateMessage(UpdateError::MalformedAttributeList),
                "UPDATE length fields exceed the message",
            )
        };
        let (rest, withdrawn_field) = length_data(be_u16::<_, ()>)(&body[..]).map_err(overrun)?;
        let (nlri_field, attribute_field) = length_data(be_u16::<_, ()>)(rest).map_err(overrun)?;

        // RFC 7606 §5.3: syntactically incorrect Withdrawn Routes or NLRI fields reset the
        // session (Invalid Network Field).
        let add_path = params.receives_path_id(AfiSafi::Ipv4Unicast);
        let invalid_network = |_| {
            DecodeError::new(
                ErrorCode::UpdateMessage(UpdateError::InvalidNetworkField),
                "malformed IPv4 prefix in Withdrawn Routes or NLRI",
            )
        };
        let withdrawn = nlri::decode_nlri(withdrawn_field, add_path).map_err(invalid_network)?;
        let announced = nlri::decode_nlri(nlri_field, add_path).map_err(invalid_network)?;

        let decoded = decode_attributes(body, attribute_field, params, !announced.is_empty())?;
        let mut update = Update {
            withdrawn,
            attributes: decoded.attributes,
            announced,
            mp_reach: decoded.mp_reach,
            mp_unreach: decoded.mp_unreach,
            errors: decoded.errors,
        };
        update.check_next_hops_are_hosts();
        Ok(update)
    }

    /// Appends the UPDATE body (no header) to `out`. MP_REACH_NLRI and MP_UNREACH_NLRI come
    /// first among the attributes (RFC 7606 §5.1), the others in type code order.
    pub fn encode_body(
        &self,
        params: &SessionParams,
        out: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        let add_path = params.sends_path_id(AfiSafi::Ipv4Unicast);
        nlri::check_path_ids(&self.withdrawn, add_path)?;
        nlri::check_path_ids(&self.announced, add_path)?;
        if let Some(reach) = &self.mp_reach {
            reach.check(params)?;
        }
        if let Some(unreach) = &self.mp_unreach {
            unreach.check(params)?;
        }

        let withdrawn_len = length_field(nlri::encoded_len(&self.withdrawn), "withdrawn routes")?;
        out.put_u16(withdrawn_len);
        nlri::put_all(&self.withdrawn, out);

        let length_at = out.len();
        out.put_u16(0);
        if let Some(reach) = &self.mp_reach {
            let flags = AttrFlags::OPTIONAL_NON_TRANSITIVE;
            put_header(out, flags, AttrType::MP_REACH_NLRI, reach.value_len())?;
            reach.put_value(out);
        }
        if let Some(unreach) = &self.mp_unreach {
            let flags = AttrFlags::OPTIONAL_NON_TRANSITIVE;
            put_header(out, flags, AttrType::MP_UNREACH_NLRI, unreach.value_len())?;
            unreach.put_value(out);
        }
        self.attributes.encode(params, out)?;
        let attribute_len = out.len() - length_at - LENGTH_FIELD_LEN;
        let attribute_len = length_field(attribute_len, "path attributes")?;
        out[length_at..length_at + LENGTH_FIELD_LEN].copy_from_slice(&attribute_len.to_be_bytes());

        nlri::put_all(&self.announced, out);
        Ok(())
    }

    /// The complete message, header included, checked against the session's maximum size.
    pub fn encode(&self, params: &SessionParams) -> Result<Bytes, EncodeError> {
        let mut out = BytesMut::new();
        let start = begin_message(&mut out, MessageType::Update);
        self.encode_body(params, &mut out)?;
        finish_message(&mut out, start, params.max_message_len())?;
        Ok(out.freeze())
    }

    /// The approach to apply to this UPDATE: the strongest of its errors (RFC 7606 §2), `None`
    /// when it decoded cleanly. With [`Action::TreatAsWithdraw`], every route in `announced`
    /// and `mp_reach` is to be handled as withdrawn.
    pub fn strongest_action(&self) -> Option<Action> {
        self.errors.iter().map(|e| e.action).max()
    }

    /// The families whose errors call for [`Action::AfiSafiDisable`].
    pub fn families_to_disable(&self) -> AfiSafiSet {
        self.errors
            .iter()
            .filter(|e| e.action == Action::AfiSafiDisable)
            .filter_map(|e| e.family)
            .collect()
    }

    /// The End-of-RIB marker of `family` (RFC 4724 §2): for IPv4 unicast an UPDATE with no
    /// routes and no attributes, otherwise an UPDATE with only an empty MP_UNREACH_NLRI.
    pub fn end_of_rib(family: AfiSafi) -> Update {
        match family {
            AfiSafi::Ipv4Unicast => Update::default(),
            AfiSafi::Ipv6Unicast => Update {
                mp_unreach: Some(MpUnreach::end_of_rib(family)),
                ..Update::default()
            },
        }
    }

    /// The family this UPDATE marks the End-of-RIB of (RFC 4724 §2), if it is such a marker.
    /// An empty MP_UNREACH_NLRI for IPv4 unicast is accepted as the IPv4 marker too.
    pub fn end_of_rib_family(&self) -> Option<AfiSafi> {
        let only_unreach = self.withdrawn.is_empty()
            && self.announced.is_empty()
            && self.mp_reach.is_none()
            && self.attributes.is_empty()
            && self.errors.is_empty();
        if !only_unreach {
            return None;
        }
        match &self.mp_unreach {
            None => Some(AfiSafi::Ipv4Unicast),
            Some(unreach) if unreach.is_empty() => Some(unreach.family()),
            Some(_) => None,
        }
    }
}

fn length_field(length: usize, what: &'static str) -> Result<u16, EncodeError> {
    u16::try_from(length).map_err(|_| EncodeError::FieldOverflow { what, bits: 16 })
}
