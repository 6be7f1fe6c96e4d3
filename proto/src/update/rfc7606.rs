//! RFC 7606 (revised UPDATE error handling): the approaches of §2 as an ordered [`Action`], and
//! [`AttrError`], the record of one recoverable problem found while decoding an UPDATE. Where
//! each outcome is decided, the decoder cites the RFC 7606 section (see `attr::table` and
//! `update`).

use std::fmt;

use bytes::Bytes;

use crate::attr::AttrType;
use crate::notification::{ErrorCode, Notification, UpdateError};
use crate::types::AfiSafi;

/// The error-handling approaches of RFC 7606 §2, weakest first, so that `max()` over the
/// errors of an UPDATE picks the one to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// The malformed attribute is dropped; the rest of the UPDATE is processed as usual.
    AttributeDiscard,
    /// Every route the UPDATE announces (NLRI field and MP_REACH_NLRI) is handled as if it had
    /// been withdrawn.
    TreatAsWithdraw,
    /// The routes of [`AttrError::family`] learned from this peer are removed and the family is
    /// ignored for the rest of the session (RFC 4760 §7). A speaker that cannot do this
    /// resets the session instead, with [`AttrError::notification`].
    AfiSafiDisable,
    /// The session is closed with a NOTIFICATION. Decoding reports this outcome as
    /// `Err(DecodeError)`, so it never appears in `Update::errors`.
    SessionReset,
}

/// What was wrong. The section named is where RFC 7606 (or the RFC cited) assigns the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// §4: an attribute header or value overruns the path attribute field; the attributes after
    /// it cannot be located.
    AttributeListOverrun,
    /// §3(c): the Optional or Transitive flag contradicts the attribute type.
    FlagsConflict,
    /// §3(g): a second occurrence of an attribute; it is ignored.
    Duplicate,
    /// §3(d): ORIGIN, AS_PATH, or (with NLRI in the NLRI field) NEXT_HOP is missing.
    MissingWellKnown,
    /// An attribute marked well-known (not Optional) whose type this speaker does not know.
    UnrecognizedWellKnown,
    /// The attribute length is not one the attribute allows (zero included, §4).
    BadLength,
    /// §7.1: an ORIGIN value other than IGP, EGP, INCOMPLETE.
    InvalidValue,
    /// §7.2 (and RFC 6793 §6 for AS4_PATH): a bad segment type, a zero segment length, or
    /// segments that do not fill the attribute.
    MalformedAsPath,
    /// §7.2 / RFC 5065 §5: AS_CONFED_SEQUENCE or AS_CONFED_SET from a peer outside the
    /// confederation.
    ConfedSegmentFromExternalPeer,
    /// §7.5, §7.9, §7.10: LOCAL_PREF, ORIGINATOR_ID or CLUSTER_LIST from an external peer.
    FromExternalPeer,
    /// RFC 6793 §6: AS4_PATH or AS4_AGGREGATOR received from a 4-octet-AS speaker.
    As4FromNewSpeaker,
    /// RFC 6793 §6: confederation segments in AS4_PATH; they were dropped, the rest was used.
    ConfedSegmentInAs4Path,
    /// §7.11: the next hop length of MP_REACH_NLRI is not one the family allows (RFC 2545,
    /// RFC 8950 depending on the session).
    MpNextHopLength,
    /// §5.3: the NLRI inside MP_REACH_NLRI or MP_UNREACH_NLRI are not syntactically correct.
    MpNlri,
    /// RFC 4760 §7: MP_(UN)REACH_NLRI for a family this speaker does not speak; ignored.
    UnsupportedFamily,
    /// RFC 4271 §6.3: the next hop is the receiving speaker's own address (semantically
    /// incorrect: the routes are ignored, no NOTIFICATION). Found by
    /// [`crate::update::Update::check_next_hop_not_local`], not by decoding.
    LocalNextHop,
    /// RFC 4271 §6.3: the next hop is not a valid host address (unspecified, loopback,
    /// multicast, reserved or broadcast); the routes are ignored, no NOTIFICATION. Decided
    /// when decoding (`update::next_hop`).
    NextHopNotHost,
}

impl Reason {
    fn describe(self) -> &'static str {
        match self {
            Reason::AttributeListOverrun => "attribute overruns the path attribute field",
            Reason::FlagsConflict => "attribute flags conflict with the attribute type",
            Reason::Duplicate => "duplicate attribute",
            Reason::MissingWellKnown => "missing well-known mandatory attribute",
            Reason::UnrecognizedWellKnown => "unrecognized well-known attribute",
            Reason::BadLength => "invalid attribute length",
            Reason::InvalidValue => "invalid attribute value",
            Reason::MalformedAsPath => "malformed AS path segments",
            Reason::ConfedSegmentFromExternalPeer => "confederation segment from an external peer",
            Reason::FromExternalPeer => "attribute not allowed from an external peer",
            Reason::As4FromNewSpeaker => "AS4 attribute from a 4-octet-AS speaker",
            Reason::ConfedSegmentInAs4Path => "confederation segment in AS4_PATH",
            Reason::MpNextHopLength => "unexpected next hop length",
            Reason::MpNlri => "malformed NLRI",
            Reason::UnsupportedFamily => "address family not supported",
            Reason::LocalNextHop => "next hop is our own address",
            Reason::NextHopNotHost => "next hop is not a host address",
        }
    }
}

/// One recoverable problem in a received UPDATE and the approach it calls for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrError {
    /// The attribute concerned; `None` for problems of the attribute list as a whole.
    pub attribute: Option<AttrType>,
    pub action: Action,
    pub reason: Reason,
    /// The family concerned, for errors inside MP_(UN)REACH_NLRI (the family to disable when
    /// `action` is [`Action::AfiSafiDisable`]).
    pub family: Option<AfiSafi>,
    /// The offending attribute as received (flags, type, length, value), shared with the
    /// message buffer; empty where no single attribute is at fault.
    pub data: Bytes,
}

impl AttrError {
    pub(crate) fn new(attribute: Option<AttrType>, action: Action, reason: Reason) -> AttrError {
        AttrError {
            attribute,
            action,
            reason,
            family: None,
            data: Bytes::new(),
        }
    }

    pub(crate) fn in_family(mut self, family: AfiSafi) -> AttrError {
        self.family = Some(family);
        self
    }

    pub(crate) fn with_data(mut self, data: Bytes) -> AttrError {
        self.data = data;
        self
    }

    /// The UPDATE Message Error subcode RFC 4271 §6.3 assigns to this problem.
    pub fn subcode(&self) -> UpdateError {
        match self.reason {
            Reason::AttributeListOverrun | Reason::Duplicate => UpdateError::MalformedAttributeList,
            Reason::FlagsConflict => UpdateError::AttributeFlagsError,
            Reason::MissingWellKnown => UpdateError::MissingWellKnownAttribute,
            Reason::UnrecognizedWellKnown => UpdateError::UnrecognizedWellKnownAttribute,
            Reason::BadLength => UpdateError::AttributeLengthError,
            Reason::InvalidValue if self.attribute == Some(AttrType::ORIGIN) => {
                UpdateError::InvalidOrigin
            }
            Reason::MalformedAsPath | Reason::ConfedSegmentFromExternalPeer => {
                UpdateError::MalformedAsPath
            }
            Reason::InvalidValue
            | Reason::FromExternalPeer
            | Reason::As4FromNewSpeaker
            | Reason::ConfedSegmentInAs4Path
            | Reason::MpNextHopLength
            | Reason::MpNlri
            | Reason::UnsupportedFamily => UpdateError::OptionalAttributeError,
            Reason::LocalNextHop | Reason::NextHopNotHost => UpdateError::InvalidNextHop,
        }
    }

    /// The NOTIFICATION to send when a speaker escalates this problem to a session reset
    /// (for example an [`Action::AfiSafiDisable`] it does not implement). RFC 4271 §6.3: the
    /// Data field carries the offending attribute, or for a missing attribute its type code.
    pub fn notification(&self) -> Notification {
        let data = match (self.reason, self.attribute) {
            (Reason::MissingWellKnown, Some(AttrType(code))) => Bytes::copy_from_slice(&[code]),
            _ => self.data.clone(),
        };
        Notification::with_data(ErrorCode::UpdateMessage(self.subcode()), data)
    }
}

impl fmt::Display for AttrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.attribute {
            Some(attribute) => write!(f, "{attribute}: {}", self.reason.describe())?,
            None => f.write_str(self.reason.describe())?,
        }
        if let Some(family) = self.family {
            write!(f, " ({family})")?;
        }
        write!(f, " -> {:?}", self.action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strongest_action_is_the_maximum() {
        let actions = [
            Action::TreatAsWithdraw,
            Action::AttributeDiscard,
            Action::AfiSafiDisable,
        ];
        assert_eq!(actions.iter().max(), Some(&Action::AfiSafiDisable));
        assert!(Action::AttributeDiscard < Action::TreatAsWithdraw);
        assert!(Action::AfiSafiDisable < Action::SessionReset);
    }
}
