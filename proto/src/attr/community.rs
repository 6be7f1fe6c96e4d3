//! Community values: COMMUNITIES (RFC 1997 §3, well-known values from the IANA registry),
//! EXTENDED_COMMUNITIES (RFC 4360 §2) and LARGE_COMMUNITY (RFC 8092 §3). Only the values live
//! here; the attribute framing and RFC 7606 checks are in `attr::table`.

use std::fmt;
use std::str::FromStr;

/// A standard community (RFC 1997): by convention `ASN:value`, 16 bits each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Community(pub u32);

impl Community {
    /// RFC 1997 §3.
    pub const NO_EXPORT: Community = Community(0xffff_ff01);
    /// RFC 1997 §3.
    pub const NO_ADVERTISE: Community = Community(0xffff_ff02);
    /// RFC 1997 §3.
    pub const NO_EXPORT_SUBCONFED: Community = Community(0xffff_ff03);
    /// RFC 3765 §4.
    pub const NOPEER: Community = Community(0xffff_ff04);
    /// RFC 8326 §5.
    pub const GRACEFUL_SHUTDOWN: Community = Community(0xffff_0000);
    /// RFC 7999 §5.
    pub const BLACKHOLE: Community = Community(0xffff_029a);
    /// RFC 9494 §4.
    pub const LLGR_STALE: Community = Community(0xffff_0006);
    /// RFC 9494 §4.
    pub const NO_LLGR: Community = Community(0xffff_0007);

    /// Octets of one community on the wire.
    pub const LEN: usize = 4;

    pub fn new(asn: u16, value: u16) -> Community {
        Community((u32::from(asn) << 16) | u32::from(value))
    }

    /// The high-order 16 bits (an AS number by convention).
    pub fn asn(self) -> u16 {
        (self.0 >> 16) as u16
    }

    /// The low-order 16 bits.
    pub fn value(self) -> u16 {
        (self.0 & 0xffff) as u16
    }
}

impl fmt::Display for Community {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.asn(), self.value())
    }
}

/// A community string that is not `N:N` with 16-bit (standard) or `N:N:N` with 32-bit (large)
/// numbers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid community {0:?}")]
pub struct InvalidCommunity(pub String);

impl FromStr for Community {
    type Err = InvalidCommunity;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidCommunity(s.to_owned());
        let (asn, value) = s.split_once(':').ok_or_else(invalid)?;
        Ok(Community::new(
            asn.parse().map_err(|_| invalid())?,
            value.parse().map_err(|_| invalid())?,
        ))
    }
}

/// An extended community (RFC 4360 §2): 8 octets, the first one or two of which give its type.
/// Kept as octets; unrecognized types are never an error (RFC 7606 §7.14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExtendedCommunity(pub [u8; 8]);

impl ExtendedCommunity {
    /// Octets of one extended community on the wire.
    pub const LEN: usize = 8;
    /// RFC 4360 §2: the Transitive bit of the type octet, set when the community is
    /// non-transitive across ASes.
    const NON_TRANSITIVE_BIT: u8 = 0x40;

    /// The Type high octet.
    pub fn type_high(self) -> u8 {
        self.0[0]
    }

    /// The Sub-Type octet (for the "regular" types, RFC 4360 §2).
    pub fn subtype(self) -> u8 {
        self.0[1]
    }

    /// Whether the community may be passed to other ASes (RFC 4360 §2).
    pub fn is_transitive(self) -> bool {
        self.0[0] & Self::NON_TRANSITIVE_BIT == 0
    }
}

impl fmt::Display for ExtendedCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:016x}", u64::from_be_bytes(self.0))
    }
}

/// A large community (RFC 8092 §3): `global:local1:local2`, 32 bits each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LargeCommunity {
    /// The Global Administrator, an AS number by convention.
    pub global_admin: u32,
    pub local_data_1: u32,
    pub local_data_2: u32,
}

impl LargeCommunity {
    /// Octets of one large community on the wire.
    pub const LEN: usize = 12;
}

impl fmt::Display for LargeCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.global_admin, self.local_data_1, self.local_data_2
        )
    }
}

impl FromStr for LargeCommunity {
    type Err = InvalidCommunity;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidCommunity(s.to_owned());
        let mut parts = s
            .split(':')
            .map(|p| p.parse::<u32>().map_err(|_| invalid()));
        let mut next = || parts.next().unwrap_or_else(|| Err(invalid()));
        let community = LargeCommunity {
            global_admin: next()?,
            local_data_1: next()?,
            local_data_2: next()?,
        };
        match parts.next() {
            None => Ok(community),
            Some(_) => Err(invalid()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn community_text() {
        let c: Community = "64512:100".parse().expect("valid");
        assert_eq!(c, Community(0xfc00_0064));
        assert_eq!(c.to_string(), "64512:100");
        assert_eq!(Community::NO_EXPORT.to_string(), "65535:65281");
        assert!("65536:1".parse::<Community>().is_err());
        assert!("1".parse::<Community>().is_err());
    }

    #[test]
    fn large_community_text() {
        let c: LargeCommunity = "4200000000:1:2".parse().expect("valid");
        assert_eq!(c.to_string(), "4200000000:1:2");
        assert!("1:2".parse::<LargeCommunity>().is_err());
        assert!("1:2:3:4".parse::<LargeCommunity>().is_err());
    }

    #[test]
    fn extended_community_transitivity() {
        let route_target = ExtendedCommunity([0x00, 0x02, 0xfd, 0xe8, 0, 0, 0, 100]);
        assert!(route_target.is_transitive());
        assert_eq!(route_target.subtype(), 0x02);
        assert!(!ExtendedCommunity([0x40, 0x04, 0, 0, 0, 0, 0, 0]).is_transitive());
    }
}
