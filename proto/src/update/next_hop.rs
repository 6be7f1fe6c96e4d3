//! The next hop checks decoding alone cannot call syntax: RFC 4271 §6.3 says a semantically
//! incorrect NEXT_HOP makes the routes ignored, with no NOTIFICATION. Two cases: a next hop
//! that is not a host address at all (decided here, at decode time), and a next hop that is
//! the receiving speaker's own address (the driver knows that address). Both apply to the
//! NEXT_HOP attribute when the NLRI field announces routes, and to the MP_REACH_NLRI next hop
//! (RFC 4760 §3; the global address of RFC 2545 §3; RFC 8950 IPv6 next hops of IPv4 routes).
//! Either is recorded as [`Action::TreatAsWithdraw`]: the UPDATE's routes are handled as
//! withdrawn, the RFC 7606 §2 outcome that keeps the session and never uses the route.

use std::net::{IpAddr, Ipv4Addr};

use super::{Action, AttrError, Reason, Update};
use crate::attr::{AttrType, Ipv6NextHop, MpReach, NextHop};

impl Update {
    /// RFC 4271 §6.3: a next hop that is not a valid host address makes the routes ignored.
    /// IPv4: `0.0.0.0/8` ("this network", RFC 1122 §3.2.1.3), loopback `127/8`, multicast
    /// `224/4`, and `240/4` (reserved, the limited broadcast `255.255.255.255` included).
    /// IPv6: the unspecified address, loopback and multicast (RFC 4291 §2.5.2, §2.5.3, §2.7).
    /// An unspecified IPv6 global address beside a link-local one is accepted: the pair then
    /// means the link-local next hop, as some speakers send it on link-local-only sessions.
    pub(super) fn check_next_hops_are_hosts(&mut self) {
        let classic = !self.announced.is_empty()
            && self
                .attributes
                .next_hop
                .is_some_and(|next_hop| !is_ipv4_host(next_hop));
        let multiprotocol = match &self.mp_reach {
            Some(MpReach::Ipv4Unicast {
                next_hop: NextHop::Ipv4(next_hop),
                ..
            }) => !is_ipv4_host(*next_hop),
            Some(
                MpReach::Ipv4Unicast {
                    next_hop: NextHop::Ipv6(next_hop),
                    ..
                }
                | MpReach::Ipv6Unicast { next_hop, .. },
            ) => !is_ipv6_host(next_hop),
            None => false,
        };
        self.record(classic, multiprotocol, Reason::NextHopNotHost);
    }

    /// RFC 4271 §6.3: a next hop that is the receiving speaker's own address is semantically
    /// incorrect; the routes SHOULD be ignored and no NOTIFICATION sent. Decoding does not
    /// know our address, so the driver calls this with the connection's local address; a
    /// match is recorded as [`Action::TreatAsWithdraw`] (the routes are not used), for the
    /// NEXT_HOP attribute or the MP_REACH_NLRI next hop.
    pub fn check_next_hop_not_local(&mut self, local: IpAddr) {
        let classic = !self.announced.is_empty()
            && self
                .attributes
                .next_hop
                .is_some_and(|next_hop| IpAddr::V4(next_hop) == local);
        let multiprotocol = match &self.mp_reach {
            Some(MpReach::Ipv4Unicast {
                next_hop: NextHop::Ipv4(next_hop),
                ..
            }) => IpAddr::V4(*next_hop) == local,
            Some(
                MpReach::Ipv4Unicast {
                    next_hop: NextHop::Ipv6(next_hop),
                    ..
                }
                | MpReach::Ipv6Unicast { next_hop, .. },
            ) => IpAddr::V6(next_hop.global) == local,
            None => false,
        };
        self.record(classic, multiprotocol, Reason::LocalNextHop);
    }

    /// Records a semantically incorrect next hop of the NEXT_HOP attribute (`classic`) or of
    /// MP_REACH_NLRI; one error names the attribute (NEXT_HOP first).
    fn record(&mut self, classic: bool, multiprotocol: bool, reason: Reason) {
        let attribute = match (classic, multiprotocol) {
            (true, _) => AttrType::NEXT_HOP,
            (false, true) => AttrType::MP_REACH_NLRI,
            (false, false) => return,
        };
        self.errors.push(AttrError::new(
            Some(attribute),
            Action::TreatAsWithdraw,
            reason,
        ));
    }
}

/// An IPv4 address that can be a next hop.
fn is_ipv4_host(address: Ipv4Addr) -> bool {
    let first = address.octets()[0];
    // 0/8, 127/8, and 224/4 up to 255/8 (multicast, then 240/4 with the broadcast address).
    !(first == 0 || first == 127 || first >= 224)
}

/// An IPv6 next hop whose global address can be a next hop (or, unspecified, stands beside a
/// link-local address).
fn is_ipv6_host(next_hop: &Ipv6NextHop) -> bool {
    let global = next_hop.global;
    if global.is_unspecified() {
        return next_hop
            .link_local
            .is_some_and(|l| l.is_unicast_link_local());
    }
    !(global.is_loopback() || global.is_multicast())
}
