//! NOTIFICATION messages (RFC 4271 §4.5, §6) with typed error codes and subcodes:
//! RFC 4271 §4.5, RFC 5492 (Unsupported Capability), RFC 6608 (FSM errors), RFC 4486 and
//! RFC 8538 (Cease subcodes), RFC 7313 (ROUTE-REFRESH errors), RFC 9687 (Send Hold Timer
//! Expired), and the RFC 9003 shutdown communication carried by Cease / Administrative
//! Shutdown and Administrative Reset.

use bytes::{BufMut, Bytes, BytesMut};

/// Declares a wire enum of subcodes with an `Unknown(u8)` catch-all, so that every received
/// value is representable and every sent value is named.
macro_rules! subcode_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A value this implementation does not name.
            Unknown(u8),
        }

        impl $name {
            pub fn from_wire(value: u8) -> $name {
                match value {
                    $($value => $name::$variant,)*
                    other => $name::Unknown(other),
                }
            }

            pub fn to_wire(self) -> u8 {
                match self {
                    $($name::$variant => $value,)*
                    $name::Unknown(other) => other,
                }
            }
        }
    };
}

subcode_enum! {
    /// Message Header Error subcodes (RFC 4271 §6.1).
    HeaderError {
        Unspecific = 0,
        ConnectionNotSynchronized = 1,
        BadMessageLength = 2,
        BadMessageType = 3,
    }
}

subcode_enum! {
    /// OPEN Message Error subcodes (RFC 4271 §6.2, RFC 5492 §5, RFC 9234).
    OpenError {
        Unspecific = 0,
        UnsupportedVersionNumber = 1,
        BadPeerAs = 2,
        BadBgpIdentifier = 3,
        UnsupportedOptionalParameter = 4,
        UnacceptableHoldTime = 6,
        UnsupportedCapability = 7,
        RoleMismatch = 11,
    }
}

subcode_enum! {
    /// UPDATE Message Error subcodes (RFC 4271 §6.3).
    UpdateError {
        Unspecific = 0,
        MalformedAttributeList = 1,
        UnrecognizedWellKnownAttribute = 2,
        MissingWellKnownAttribute = 3,
        AttributeFlagsError = 4,
        AttributeLengthError = 5,
        InvalidOrigin = 6,
        InvalidNextHop = 8,
        OptionalAttributeError = 9,
        InvalidNetworkField = 10,
        MalformedAsPath = 11,
    }
}

subcode_enum! {
    /// Finite State Machine Error subcodes (RFC 6608 §3).
    FsmError {
        Unspecified = 0,
        UnexpectedMessageInOpenSent = 1,
        UnexpectedMessageInOpenConfirm = 2,
        UnexpectedMessageInEstablished = 3,
    }
}

subcode_enum! {
    /// Cease subcodes (RFC 4486 §4, RFC 8538 §5, RFC 9384).
    CeaseError {
        Unspecific = 0,
        MaximumPrefixesReached = 1,
        AdministrativeShutdown = 2,
        PeerDeconfigured = 3,
        AdministrativeReset = 4,
        ConnectionRejected = 5,
        OtherConfigurationChange = 6,
        ConnectionCollisionResolution = 7,
        OutOfResources = 8,
        HardReset = 9,
        BfdDown = 10,
    }
}

subcode_enum! {
    /// ROUTE-REFRESH Message Error subcodes (RFC 7313 §5).
    RouteRefreshError {
        Reserved = 0,
        InvalidMessageLength = 1,
    }
}

/// An error code with its subcode (RFC 4271 §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    MessageHeader(HeaderError),
    OpenMessage(OpenError),
    UpdateMessage(UpdateError),
    HoldTimerExpired,
    FiniteStateMachine(FsmError),
    Cease(CeaseError),
    RouteRefreshMessage(RouteRefreshError),
    /// RFC 9687 §3.
    SendHoldTimerExpired,
    /// A code this implementation does not name, kept as received.
    Unknown {
        code: u8,
        subcode: u8,
    },
}

impl ErrorCode {
    pub fn from_wire(code: u8, subcode: u8) -> ErrorCode {
        match code {
            1 => ErrorCode::MessageHeader(HeaderError::from_wire(subcode)),
            2 => ErrorCode::OpenMessage(OpenError::from_wire(subcode)),
            3 => ErrorCode::UpdateMessage(UpdateError::from_wire(subcode)),
            4 if subcode == 0 => ErrorCode::HoldTimerExpired,
            5 => ErrorCode::FiniteStateMachine(FsmError::from_wire(subcode)),
            6 => ErrorCode::Cease(CeaseError::from_wire(subcode)),
            7 => ErrorCode::RouteRefreshMessage(RouteRefreshError::from_wire(subcode)),
            8 if subcode == 0 => ErrorCode::SendHoldTimerExpired,
            _ => ErrorCode::Unknown { code, subcode },
        }
    }

    /// `(code, subcode)` as sent on the wire.
    pub fn to_wire(self) -> (u8, u8) {
        match self {
            ErrorCode::MessageHeader(s) => (1, s.to_wire()),
            ErrorCode::OpenMessage(s) => (2, s.to_wire()),
            ErrorCode::UpdateMessage(s) => (3, s.to_wire()),
            ErrorCode::HoldTimerExpired => (4, 0),
            ErrorCode::FiniteStateMachine(s) => (5, s.to_wire()),
            ErrorCode::Cease(s) => (6, s.to_wire()),
            ErrorCode::RouteRefreshMessage(s) => (7, s.to_wire()),
            ErrorCode::SendHoldTimerExpired => (8, 0),
            ErrorCode::Unknown { code, subcode } => (code, subcode),
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ErrorCode::MessageHeader(s) => write!(f, "Message Header Error / {s:?}"),
            ErrorCode::OpenMessage(s) => write!(f, "OPEN Message Error / {s:?}"),
            ErrorCode::UpdateMessage(s) => write!(f, "UPDATE Message Error / {s:?}"),
            ErrorCode::HoldTimerExpired => f.write_str("Hold Timer Expired"),
            ErrorCode::FiniteStateMachine(s) => write!(f, "Finite State Machine Error / {s:?}"),
            ErrorCode::Cease(s) => write!(f, "Cease / {s:?}"),
            ErrorCode::RouteRefreshMessage(s) => write!(f, "ROUTE-REFRESH Message Error / {s:?}"),
            ErrorCode::SendHoldTimerExpired => f.write_str("Send Hold Timer Expired"),
            ErrorCode::Unknown { code, subcode } => {
                write!(f, "error code {code} / subcode {subcode}")
            }
        }
    }
}

/// RFC 9003 §2: the shutdown communication is at most 255 octets of UTF-8.
pub const MAX_SHUTDOWN_COMMUNICATION: usize = 255;

/// A NOTIFICATION message body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub code: ErrorCode,
    /// The Data field, whose meaning depends on the code (RFC 4271 §6).
    pub data: Bytes,
}

/// The shutdown communication of a Cease NOTIFICATION was present but malformed (RFC 9003 §4:
/// log it as such, never act on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ShutdownCommunicationError {
    #[error("shutdown communication length {length} exceeds the {available} octets present")]
    Truncated { length: usize, available: usize },
    #[error("shutdown communication is not valid UTF-8")]
    InvalidUtf8,
}

impl Notification {
    pub fn new(code: ErrorCode) -> Notification {
        Notification {
            code,
            data: Bytes::new(),
        }
    }

    pub fn with_data(code: ErrorCode, data: impl Into<Bytes>) -> Notification {
        Notification {
            code,
            data: data.into(),
        }
    }

    /// Cease / Administrative Shutdown or Reset (or another Cease subcode) with an RFC 9003
    /// shutdown communication. The reason is cut at a character boundary to 255 octets.
    pub fn cease_with_reason(subcode: CeaseError, reason: &str) -> Notification {
        let mut end = reason.len().min(MAX_SHUTDOWN_COMMUNICATION);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        let text = &reason.as_bytes()[..end];
        let mut data = BytesMut::with_capacity(1 + text.len());
        // `end` is at most 255 by construction.
        data.put_u8(end as u8);
        data.put_slice(text);
        Notification {
            code: ErrorCode::Cease(subcode),
            data: data.freeze(),
        }
    }

    /// RFC 8538 §3: Cease / Hard Reset carrying `cause` (its code, subcode and data) in its
    /// data field: the session ends for good, even where graceful restart on NOTIFICATION was
    /// negotiated.
    pub fn hard_reset(cause: &Notification) -> Notification {
        let mut data = BytesMut::with_capacity(2 + cause.data.len());
        cause.encode_body(&mut data);
        Notification {
            code: ErrorCode::Cease(CeaseError::HardReset),
            data: data.freeze(),
        }
    }

    /// Whether this is a Cease / Hard Reset (RFC 8538 §3).
    pub fn is_hard_reset(&self) -> bool {
        self.code == ErrorCode::Cease(CeaseError::HardReset)
    }

    /// The NOTIFICATION a Hard Reset carries (RFC 8538 §3); `None` for other codes, or when the
    /// data field is too short to hold a code and subcode.
    pub fn hard_reset_cause(&self) -> Option<Notification> {
        if !self.is_hard_reset() {
            return None;
        }
        Notification::decode(&self.data)
    }

    /// The RFC 9003 shutdown communication, for Cease / Administrative Shutdown or Reset;
    /// `None` when the code carries none or the data field is empty.
    pub fn shutdown_communication(&self) -> Option<Result<&str, ShutdownCommunicationError>> {
        if !matches!(
            self.code,
            ErrorCode::Cease(CeaseError::AdministrativeShutdown | CeaseError::AdministrativeReset)
        ) {
            return None;
        }
        let (&length, rest) = self.data.split_first()?;
        let length = usize::from(length);
        let Some(text) = rest.get(..length) else {
            return Some(Err(ShutdownCommunicationError::Truncated {
                length,
                available: rest.len(),
            }));
        };
        Some(std::str::from_utf8(text).map_err(|_| ShutdownCommunicationError::InvalidUtf8))
    }

    /// Decodes a NOTIFICATION body (the octets after the 19-octet header). The framing layer
    /// has already checked that the body holds at least the code and subcode.
    pub fn decode(body: &Bytes) -> Option<Notification> {
        let (&code, rest) = body.split_first()?;
        let (&subcode, _) = rest.split_first()?;
        Some(Notification {
            code: ErrorCode::from_wire(code, subcode),
            data: body.slice(2..),
        })
    }

    /// Appends the body (code, subcode, data) to `out`.
    pub fn encode_body(&self, out: &mut BytesMut) {
        let (code, subcode) = self.code.to_wire();
        out.put_u8(code);
        out.put_u8(subcode);
        out.put_slice(&self.data);
    }
}

impl std::fmt::Display for Notification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(cause) = self.hard_reset_cause() {
            return write!(f, " ({cause})");
        }
        match self.shutdown_communication() {
            Some(Ok(text)) => write!(f, " ({text:?})"),
            Some(Err(error)) => write!(f, " ({error})"),
            None if !self.data.is_empty() => write!(f, " (data {:02x?})", &self.data[..]),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_code_round_trips() {
        for code in 0..=9u8 {
            for subcode in 0..=12u8 {
                let parsed = ErrorCode::from_wire(code, subcode);
                assert_eq!(parsed.to_wire(), (code, subcode), "{parsed:?}");
            }
        }
    }

    #[test]
    fn shutdown_communication_is_cut_at_a_char_boundary() {
        let reason = "é".repeat(200); // 400 octets
        let n = Notification::cease_with_reason(CeaseError::AdministrativeShutdown, &reason);
        assert_eq!(n.data[0], 254);
        assert_eq!(n.shutdown_communication(), Some(Ok(&reason[..254])));
    }

    #[test]
    fn truncated_shutdown_communication_is_reported() {
        let n = Notification::with_data(
            ErrorCode::Cease(CeaseError::AdministrativeReset),
            Bytes::from_static(&[
                0x05, // length 5
                b'a', b'b', // only two octets follow
            ]),
        );
        assert_eq!(
            n.shutdown_communication(),
            Some(Err(ShutdownCommunicationError::Truncated {
                length: 5,
                available: 2
            }))
        );
    }

    #[test]
    fn hard_reset_carries_its_cause() {
        let cause = Notification::cease_with_reason(CeaseError::AdministrativeShutdown, "bye");
        let hard = Notification::hard_reset(&cause);
        let mut out = BytesMut::new();
        hard.encode_body(&mut out);
        assert_eq!(
            &out[..],
            &[
                0x06, 0x09, // Cease / Hard Reset (RFC 8538 §3)
                0x06, 0x02, // its cause: Cease / Administrative Shutdown
                0x03, b'b', b'y', b'e', // the cause's data: "bye" (RFC 9003)
            ]
        );
        assert!(hard.is_hard_reset() && !cause.is_hard_reset());
        assert_eq!(hard.hard_reset_cause(), Some(cause));
        assert_eq!(
            hard.to_string(),
            "Cease / HardReset (Cease / AdministrativeShutdown (\"bye\"))"
        );
        let empty = Notification::new(ErrorCode::Cease(CeaseError::HardReset));
        assert_eq!(empty.hard_reset_cause(), None);
    }

    #[test]
    fn decode_keeps_data() {
        let body = Bytes::from_static(&[
            0x06, 0x02, // Cease / Administrative Shutdown
            0x03, b'b', b'y', b'e', // "bye"
        ]);
        let n = Notification::decode(&body).expect("code and subcode present");
        assert_eq!(n.shutdown_communication(), Some(Ok("bye")));
        let mut out = BytesMut::new();
        n.encode_body(&mut out);
        assert_eq!(out.freeze(), body);
    }
}
