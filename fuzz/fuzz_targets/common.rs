//! Shared by the fuzz targets: session parameters drawn from the input's first octet.

use proto::{AfiSafi, AfiSafiSet, SessionParams};

/// IPv4 unicast for bit 0, IPv6 unicast for bit 1.
pub fn families(bits: u8) -> AfiSafiSet {
    let mut set = AfiSafiSet::EMPTY;
    if bits & 1 != 0 {
        set.insert(AfiSafi::Ipv4Unicast);
    }
    if bits & 2 != 0 {
        set.insert(AfiSafi::Ipv6Unicast);
    }
    set
}

/// Splits off one octet that selects every negotiable parameter.
pub fn params(data: &[u8]) -> Option<(SessionParams, &[u8])> {
    let (&selector, rest) = data.split_first()?;
    let params = SessionParams {
        four_octet_as: selector & 0x01 != 0,
        extended_message: selector & 0x02 != 0,
        add_path_rx: families(selector >> 2),
        add_path_tx: families(selector >> 4),
        extended_next_hop: families(selector >> 6 & 1),
        external: selector & 0x80 != 0,
    };
    Some((params, rest))
}
