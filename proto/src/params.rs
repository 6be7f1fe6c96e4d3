//! What an established session negotiated, as far as the wire format depends on it
//! (RFC 6793 4-octet AS, RFC 8654 extended messages, RFC 7911 ADD-PATH per family and
//! direction, RFC 8950 extended next hop). Encoders and decoders take it by reference;
//! peers with equal `SessionParams` can share encoded bytes.

use crate::types::{AfiSafi, AfiSafiSet};

/// RFC 4271 §4.1: the largest message without extended messages.
pub const MAX_MESSAGE_LEN: usize = 4096;
/// RFC 8654 §4: the largest message once extended messages are negotiated.
pub const MAX_EXTENDED_MESSAGE_LEN: usize = 65535;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionParams {
    /// Both sides advertised the 4-octet AS capability: AS_PATH and AGGREGATOR carry 4-octet
    /// numbers and AS4_PATH / AS4_AGGREGATOR are not used (RFC 6793 §4.1).
    pub four_octet_as: bool,
    /// Both sides advertised extended messages (RFC 8654): messages up to 65535 octets.
    pub extended_message: bool,
    /// Families in which we receive path identifiers (we said receive, the peer said send).
    pub add_path_rx: AfiSafiSet,
    /// Families in which we send path identifiers (we said send, the peer said receive).
    pub add_path_tx: AfiSafiSet,
    /// Families whose NLRI may come with a next hop of the other address family (RFC 8950);
    /// for us, IPv4 unicast NLRI with an IPv6 next hop.
    pub extended_next_hop: AfiSafiSet,
    /// The peer is in another AS (eBGP). Decoding depends on it where RFC 7606 / RFC 4456 /
    /// RFC 5065 treat an attribute differently when it comes from an external peer.
    pub external: bool,
}

impl SessionParams {
    /// Parameters before any capability is negotiated: 2-octet AS, 4096-octet messages,
    /// no path identifiers. This is the encoding used for OPEN itself.
    pub const fn plain(external: bool) -> SessionParams {
        SessionParams {
            four_octet_as: false,
            extended_message: false,
            add_path_rx: AfiSafiSet::EMPTY,
            add_path_tx: AfiSafiSet::EMPTY,
            extended_next_hop: AfiSafiSet::EMPTY,
            external,
        }
    }

    /// The largest message this session may carry, header included.
    pub fn max_message_len(&self) -> usize {
        if self.extended_message {
            MAX_EXTENDED_MESSAGE_LEN
        } else {
            MAX_MESSAGE_LEN
        }
    }

    /// Whether NLRI of `family` that we receive carry a path identifier.
    pub fn receives_path_id(&self, family: AfiSafi) -> bool {
        self.add_path_rx.contains(family)
    }

    /// Whether NLRI of `family` that we send carry a path identifier.
    pub fn sends_path_id(&self, family: AfiSafi) -> bool {
        self.add_path_tx.contains(family)
    }

    /// The same session seen from the other end: what one side sends, the other receives.
    /// Useful for tests that decode what an encoder produced.
    pub fn mirrored(&self) -> SessionParams {
        SessionParams {
            add_path_rx: self.add_path_tx,
            add_path_tx: self.add_path_rx,
            ..*self
        }
    }
}

impl Default for SessionParams {
    fn default() -> Self {
        SessionParams::plain(false)
    }
}
