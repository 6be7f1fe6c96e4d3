//! Protocol identifiers as newtypes: AS numbers (RFC 6793), BGP Identifier (RFC 4271 §4.2,
//! RFC 6286), address families (RFC 4760 §3, IANA AFI/SAFI registries), ADD-PATH path
//! identifiers (RFC 7911 §3) and the route reflector CLUSTER_ID (RFC 4456 §7).

use std::fmt;
use std::net::Ipv4Addr;

/// An autonomous system number; always held as 4 octets (RFC 6793).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Asn(pub u32);

impl Asn {
    /// RFC 6793 §9: the 2-octet placeholder for a 4-octet AS.
    pub const TRANS: Asn = Asn(23456);

    /// Whether the number fits the 2-octet field of an OPEN or a 2-octet AS_PATH.
    pub fn is_two_octet(self) -> bool {
        self.0 <= u32::from(u16::MAX)
    }

    /// The value to put in a 2-octet field: the number itself, or AS_TRANS.
    pub fn to_two_octet(self) -> u16 {
        u16::try_from(self.0).unwrap_or(23456)
    }
}

impl fmt::Display for Asn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The BGP Identifier of a speaker (RFC 4271 §4.2; RFC 6286 makes it a plain 4-octet number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RouterId(pub Ipv4Addr);

impl RouterId {
    pub fn to_u32(self) -> u32 {
        u32::from(self.0)
    }
}

impl fmt::Display for RouterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A route reflection cluster identifier (RFC 4456 §7), the unit of CLUSTER_LIST.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClusterId(pub Ipv4Addr);

impl fmt::Display for ClusterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An ADD-PATH path identifier (RFC 7911 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PathId(pub u32);

/// Address Family Identifier as carried on the wire; any value is representable so that
/// capabilities for families we do not speak are kept and reported, not rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Afi(pub u16);

impl Afi {
    pub const IPV4: Afi = Afi(1);
    pub const IPV6: Afi = Afi(2);
}

/// Subsequent Address Family Identifier as carried on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Safi(pub u8);

impl Safi {
    pub const UNICAST: Safi = Safi(1);
}

/// A family this implementation speaks. Everything else stays an `(Afi, Safi)` pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AfiSafi {
    Ipv4Unicast,
    Ipv6Unicast,
}

impl AfiSafi {
    pub const ALL: [AfiSafi; 2] = [AfiSafi::Ipv4Unicast, AfiSafi::Ipv6Unicast];

    pub fn afi(self) -> Afi {
        match self {
            AfiSafi::Ipv4Unicast => Afi::IPV4,
            AfiSafi::Ipv6Unicast => Afi::IPV6,
        }
    }

    pub fn safi(self) -> Safi {
        Safi::UNICAST
    }

    /// The supported family for a wire pair, if any.
    pub fn from_wire(afi: Afi, safi: Safi) -> Option<AfiSafi> {
        match (afi, safi) {
            (Afi::IPV4, Safi::UNICAST) => Some(AfiSafi::Ipv4Unicast),
            (Afi::IPV6, Safi::UNICAST) => Some(AfiSafi::Ipv6Unicast),
            _ => None,
        }
    }

    /// Name used in configuration and `bgpctl` (`ipv4-unicast`, `ipv6-unicast`).
    pub fn name(self) -> &'static str {
        match self {
            AfiSafi::Ipv4Unicast => "ipv4-unicast",
            AfiSafi::Ipv6Unicast => "ipv6-unicast",
        }
    }

    fn bit(self) -> u8 {
        match self {
            AfiSafi::Ipv4Unicast => 1,
            AfiSafi::Ipv6Unicast => 2,
        }
    }
}

impl fmt::Display for AfiSafi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for AfiSafi {
    type Err = UnknownAfiSafi;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ipv4-unicast" => Ok(AfiSafi::Ipv4Unicast),
            "ipv6-unicast" => Ok(AfiSafi::Ipv6Unicast),
            _ => Err(UnknownAfiSafi(s.to_owned())),
        }
    }
}

/// A family name that is not `ipv4-unicast` or `ipv6-unicast`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown address family {0:?} (expected ipv4-unicast or ipv6-unicast)")]
pub struct UnknownAfiSafi(pub String);

/// A set of supported families, as a bit set (copyable, no allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AfiSafiSet(u8);

impl AfiSafiSet {
    pub const EMPTY: AfiSafiSet = AfiSafiSet(0);
    pub const ALL: AfiSafiSet = AfiSafiSet(0b11);

    pub fn contains(self, family: AfiSafi) -> bool {
        self.0 & family.bit() != 0
    }

    pub fn insert(&mut self, family: AfiSafi) {
        self.0 |= family.bit();
    }

    pub fn remove(&mut self, family: AfiSafi) {
        self.0 &= !family.bit();
    }

    pub fn with(mut self, family: AfiSafi) -> AfiSafiSet {
        self.insert(family);
        self
    }

    pub fn intersection(self, other: AfiSafiSet) -> AfiSafiSet {
        AfiSafiSet(self.0 & other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = AfiSafi> {
        AfiSafi::ALL.into_iter().filter(move |f| self.contains(*f))
    }
}

impl FromIterator<AfiSafi> for AfiSafiSet {
    fn from_iter<I: IntoIterator<Item = AfiSafi>>(iter: I) -> Self {
        let mut set = AfiSafiSet::EMPTY;
        for family in iter {
            set.insert(family);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_trans_for_four_octet_numbers() {
        assert_eq!(Asn(65000).to_two_octet(), 65000);
        assert_eq!(Asn(4_200_000_000).to_two_octet(), 23456);
        assert!(!Asn(65536).is_two_octet());
    }

    #[test]
    fn afi_safi_set_operations() {
        let set: AfiSafiSet = [AfiSafi::Ipv6Unicast].into_iter().collect();
        assert!(set.contains(AfiSafi::Ipv6Unicast));
        assert!(!set.contains(AfiSafi::Ipv4Unicast));
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![AfiSafi::Ipv6Unicast]);
        assert!(set
            .intersection(AfiSafiSet::EMPTY.with(AfiSafi::Ipv4Unicast))
            .is_empty());
        assert_eq!("ipv4-unicast".parse(), Ok(AfiSafi::Ipv4Unicast));
    }
}
