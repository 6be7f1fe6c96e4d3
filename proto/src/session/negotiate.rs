//! Our OPEN, and the peer's OPEN judged and combined with ours into the session's parameters:
//! RFC 4271 §6.2 (version, peer AS, hold time, BGP Identifier), RFC 6286 §2.2 (identifier
//! uniqueness only within an AS), RFC 6793 §4.1 (4-octet AS and AS_TRANS), RFC 5492 §3
//! (Unsupported Capability), RFC 4760 §8 (families; IPv4 unicast is implied without the
//! multiprotocol capability), RFC 7911 §4 (ADD-PATH directions), RFC 8950 §3, RFC 8654 §3,
//! RFC 4724 §3–§4, RFC 8538 §2 and RFC 9494 §3 (graceful restart, its N bit and long-lived
//! graceful restart: what the peer asks us to keep when its session drops).

use std::time::Duration;

use bytes::BytesMut;

use super::config::{AddPathConfig, SessionConfig};
use crate::capability::{
    self, AddPathFamily, Capability, CapabilityCode, ExtendedNextHop, Fqdn, GracefulRestart,
    GracefulRestartFamily, LongLivedGracefulRestartFamily,
};
use crate::notification::{ErrorCode, Notification, OpenError};
use crate::open::{HoldTime, Open};
use crate::types::{Afi, AfiSafi, AfiSafiSet, Asn, RouterId, Safi};
use crate::SessionParams;

/// What both sides agreed on; valid from OpenConfirm on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The peer's AS, from the 4-octet AS capability or the My Autonomous System field.
    pub peer_asn: Asn,
    pub peer_router_id: RouterId,
    /// Seconds; the smaller of both proposals (RFC 4271 §4.2). 0 = no hold timer.
    pub hold_time: u16,
    /// Interval between our KEEPALIVEs; zero when the hold time is zero.
    pub keepalive: Duration,
    /// What the wire format depends on from now on.
    pub params: SessionParams,
    /// Families both sides speak.
    pub families: AfiSafiSet,
    /// The peer accepts ROUTE-REFRESH (RFC 2918).
    pub route_refresh: bool,
    /// Both sides support enhanced route refresh (RFC 7313).
    pub enhanced_route_refresh: bool,
    /// Graceful restart, when both sides sent the capability (RFC 4724 §3).
    pub graceful_restart: Option<NegotiatedRestart>,
    /// The peer's OPEN, as received (for its graceful restart capability, host name, …).
    pub remote: Open,
}

/// Graceful restart as negotiated: what the peer's capability asks of us as its helper, for
/// the families of the session (RFC 4724 §3, §4.2; RFC 9494 §3, §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedRestart {
    /// How long to keep the peer's routes after its session drops, waiting for it to return
    /// (its Restart Time).
    pub restart_time: Duration,
    /// The peer's Restart State (R) bit: it has just restarted, so a restarting speaker must
    /// not wait for its End-of-RIB (RFC 4724 §4.1).
    pub peer_restarting: bool,
    /// Families the peer listed: its routes of these are kept when the session drops.
    pub families: AfiSafiSet,
    /// Families whose Forwarding State (F) bit is set: the peer kept forwarding across its
    /// restart, so its stale routes of these families may stay (RFC 4724 §4.2).
    pub forwarding_preserved: AfiSafiSet,
    /// RFC 9494: families of the long-lived capability, each with the peer's long-lived
    /// stale time; empty unless both sides sent it.
    pub long_lived: Vec<(AfiSafi, Duration)>,
    /// Both sides set the N bit (RFC 8538 §2): a NOTIFICATION, sent or received, other than
    /// Cease / Hard Reset ends the session gracefully (RFC 8538 §4), and a stop that means
    /// "for good" is sent as a Hard Reset (§5).
    pub notification: bool,
}

impl NegotiatedRestart {
    /// The long-lived stale time for `family`; `None` when long-lived graceful restart was not
    /// negotiated for it or its stale time is zero (RFC 9494 §4.2: then routes are not kept).
    pub fn long_lived_stale_time(&self, family: AfiSafi) -> Option<Duration> {
        self.long_lived
            .iter()
            .find(|(f, time)| *f == family && !time.is_zero())
            .map(|(_, time)| *time)
    }

    /// Whether long-lived graceful restart was negotiated for any family: such a neighbor may
    /// be sent routes marked LLGR_STALE (RFC 9494 §4.5).
    pub fn long_lived_negotiated(&self) -> bool {
        !self.long_lived.is_empty()
    }
}

impl Negotiated {
    /// The peer's graceful restart capability, when we offered graceful restart too.
    pub fn peer_graceful_restart(&self) -> Option<&GracefulRestart> {
        self.remote.graceful_restart()
    }

    /// The peer's host name (FQDN capability), if it sent one in UTF-8.
    pub fn peer_hostname(&self) -> Option<&str> {
        self.remote.fqdn().and_then(Fqdn::hostname_str)
    }
}

/// The OPEN we send for `config`.
pub fn local_open(config: &SessionConfig) -> Open {
    let mut capabilities: Vec<Capability> = config
        .families
        .iter()
        .map(|family| Capability::Multiprotocol {
            afi: family.afi(),
            safi: family.safi(),
        })
        .collect();
    capabilities.push(Capability::RouteRefresh);
    capabilities.push(Capability::EnhancedRouteRefresh);
    capabilities.push(Capability::FourOctetAs(config.local_asn));
    if config.extended_message {
        capabilities.push(Capability::ExtendedMessage);
    }
    if let Some(mode) = add_path_capability_mode(config.add_path) {
        let families = config.families.iter().map(|f| AddPathFamily {
            afi: f.afi(),
            safi: f.safi(),
            mode,
        });
        capabilities.push(Capability::AddPath(families.collect()));
    }
    if config.extended_next_hop && config.families.contains(AfiSafi::Ipv4Unicast) {
        capabilities.push(Capability::ExtendedNextHop(vec![ExtendedNextHop {
            nlri_afi: Afi::IPV4,
            nlri_safi: Safi::UNICAST,
            next_hop_afi: Afi::IPV6,
        }]));
    }
    if let Some(restart) = &config.graceful_restart {
        let families = config.families.iter().map(|f| GracefulRestartFamily {
            afi: f.afi(),
            safi: f.safi(),
            forwarding_preserved: restart.forwarding_preserved.contains(f),
        });
        capabilities.push(Capability::GracefulRestart(GracefulRestart {
            restart_state: restart.restarting,
            notification: restart.notification,
            restart_time: restart.restart_time,
            families: families.collect(),
        }));
        if let Some(stale_time) = restart.long_lived_stale_time {
            let families = config
                .families
                .iter()
                .map(|f| LongLivedGracefulRestartFamily {
                    afi: f.afi(),
                    safi: f.safi(),
                    forwarding_preserved: restart.forwarding_preserved.contains(f),
                    stale_time,
                });
            capabilities.push(Capability::LongLivedGracefulRestart(families.collect()));
        }
    }
    if let Some((hostname, domain_name)) = &config.hostname {
        capabilities.push(Capability::Fqdn(Fqdn {
            hostname: hostname.clone().into_bytes().into(),
            domain_name: domain_name.clone().into_bytes().into(),
        }));
    }
    Open::new(
        config.local_asn,
        HoldTime(config.hold_time),
        config.local_router_id,
        capabilities,
    )
}

fn add_path_capability_mode(mode: AddPathConfig) -> Option<capability::AddPathMode> {
    match mode {
        AddPathConfig::None => None,
        AddPathConfig::Receive => Some(capability::AddPathMode::Receive),
        AddPathConfig::Send => Some(capability::AddPathMode::Send),
        AddPathConfig::Both => Some(capability::AddPathMode::Both),
    }
}

fn open_error(subcode: OpenError) -> Notification {
    Notification::new(ErrorCode::OpenMessage(subcode))
}

/// Judges the peer's OPEN against our configuration (RFC 4271 §6.2) and negotiates; the error
/// is the NOTIFICATION to send.
pub fn negotiate(config: &SessionConfig, remote: &Open) -> Result<Negotiated, Notification> {
    let peer_asn = peer_asn(remote)?;
    if peer_asn != config.peer_asn {
        return Err(open_error(OpenError::BadPeerAs));
    }

    // RFC 4271 §6.2: 1 and 2 are unacceptable; 0 means no hold timer.
    let remote_hold = remote.hold_time.0;
    if remote_hold == 1 || remote_hold == 2 {
        return Err(open_error(OpenError::UnacceptableHoldTime));
    }

    // RFC 6286 §2.2: any non-zero identifier; equal to ours only across AS boundaries.
    let peer_router_id = remote.bgp_identifier;
    let internal = peer_asn == config.local_asn;
    if peer_router_id.to_u32() == 0 || (internal && peer_router_id == config.local_router_id) {
        return Err(open_error(OpenError::BadBgpIdentifier));
    }

    let families = common_families(config, remote)?;
    let hold_time = config.hold_time.min(remote_hold);
    let keepalive = if hold_time == 0 {
        Duration::ZERO
    } else {
        // A configured interval is honoured up to a third of the hold time (RFC 4271 §10).
        let third = u64::from(super::config::default_keepalive(hold_time));
        Duration::from_secs(config.keepalive.map_or(third, |k| u64::from(k).min(third)))
    };

    let mut params = SessionParams::plain(!internal);
    params.four_octet_as = remote.four_octet_as().is_some();
    params.extended_message =
        config.extended_message && remote.has_capability(CapabilityCode::ExtendedMessage);
    for family in families.iter() {
        let remote_mode = remote
            .add_path()
            .filter(|entry| AfiSafi::from_wire(entry.afi, entry.safi) == Some(family))
            .last()
            .map(|entry| entry.mode);
        // RFC 7911 §4: we receive when we said receive and the peer said send, and vice versa.
        let (peer_sends, peer_receives) = match remote_mode {
            Some(capability::AddPathMode::Send) => (true, false),
            Some(capability::AddPathMode::Receive) => (false, true),
            Some(capability::AddPathMode::Both) => (true, true),
            Some(capability::AddPathMode::Unknown(_)) | None => (false, false),
        };
        if config.add_path.receives() && peer_sends {
            params.add_path_rx.insert(family);
        }
        if config.add_path.sends() && peer_receives {
            params.add_path_tx.insert(family);
        }
    }
    let ipv4_over_ipv6 = remote.extended_next_hop().any(|t| {
        AfiSafi::from_wire(t.nlri_afi, t.nlri_safi) == Some(AfiSafi::Ipv4Unicast)
            && t.next_hop_afi == Afi::IPV6
    });
    if config.extended_next_hop && ipv4_over_ipv6 && families.contains(AfiSafi::Ipv4Unicast) {
        params.extended_next_hop.insert(AfiSafi::Ipv4Unicast);
    }

    Ok(Negotiated {
        peer_asn,
        peer_router_id,
        hold_time,
        keepalive,
        params,
        families,
        route_refresh: remote.has_capability(CapabilityCode::RouteRefresh),
        enhanced_route_refresh: remote.has_capability(CapabilityCode::EnhancedRouteRefresh),
        graceful_restart: negotiate_restart(config, remote, families),
        remote: remote.clone(),
    })
}

/// Graceful restart when both sides offered it (RFC 4724 §3): the peer's families within the
/// session's, its Restart Time and bits. The long-lived capability counts only beside the
/// graceful restart one and when we offered it too (RFC 9494 §3).
fn negotiate_restart(
    config: &SessionConfig,
    remote: &Open,
    session_families: AfiSafiSet,
) -> Option<NegotiatedRestart> {
    let ours = config.graceful_restart.as_ref()?;
    let theirs = remote.graceful_restart()?;
    let mut families = AfiSafiSet::EMPTY;
    let mut forwarding_preserved = AfiSafiSet::EMPTY;
    for entry in &theirs.families {
        let Some(family) = AfiSafi::from_wire(entry.afi, entry.safi) else {
            continue;
        };
        if !session_families.contains(family) {
            continue;
        }
        families.insert(family);
        if entry.forwarding_preserved {
            forwarding_preserved.insert(family);
        }
    }
    let long_lived = match (
        ours.long_lived_stale_time,
        remote.long_lived_graceful_restart(),
    ) {
        (Some(_), Some(entries)) => entries
            .iter()
            .filter_map(|entry| {
                let family = AfiSafi::from_wire(entry.afi, entry.safi)?;
                session_families
                    .contains(family)
                    .then(|| (family, Duration::from_secs(u64::from(entry.stale_time))))
            })
            .collect(),
        _ => Vec::new(),
    };
    Some(NegotiatedRestart {
        restart_time: Duration::from_secs(u64::from(theirs.restart_time)),
        peer_restarting: theirs.restart_state,
        families,
        forwarding_preserved,
        long_lived,
        notification: ours.notification && theirs.notification,
    })
}

/// The peer's AS per RFC 6793 §4.1, refusing AS_TRANS where it cannot be meant.
fn peer_asn(remote: &Open) -> Result<Asn, Notification> {
    match remote.four_octet_as() {
        // AS_TRANS only stands in the 2-octet field for a 4-octet AS; as the AS itself it is
        // reserved (RFC 6793 §9).
        Some(Asn::TRANS) => Err(open_error(OpenError::BadPeerAs)),
        // RFC 6793 §4.1: the capability carries the AS; My Autonomous System holds it when it
        // fits two octets, else AS_TRANS. AS_TRANS is accepted for a 2-octet AS too: the
        // capability is what counts, and some speakers always send AS_TRANS. Any other
        // value contradicts the capability.
        Some(asn) if remote.my_as != asn && remote.my_as != Asn::TRANS => {
            Err(open_error(OpenError::BadPeerAs))
        }
        Some(asn) => Ok(asn),
        // A 2-octet speaker cannot be in AS_TRANS, nor in AS 0.
        None if remote.my_as == Asn::TRANS || remote.my_as == Asn(0) => {
            Err(open_error(OpenError::BadPeerAs))
        }
        None => Ok(remote.my_as),
    }
}

/// The families both sides speak; none in common is Unsupported Capability, listing what we
/// offered (RFC 5492 §3).
fn common_families(config: &SessionConfig, remote: &Open) -> Result<AfiSafiSet, Notification> {
    let mut remote_families: AfiSafiSet = remote
        .multiprotocol()
        .filter_map(|(afi, safi)| AfiSafi::from_wire(afi, safi))
        .collect();
    if !remote.has_capability(CapabilityCode::Multiprotocol) {
        // RFC 4760 §8: a speaker without the capability speaks IPv4 unicast only.
        remote_families.insert(AfiSafi::Ipv4Unicast);
    }
    let common = config.families.intersection(remote_families);
    if !common.is_empty() {
        return Ok(common);
    }
    let mut data = BytesMut::new();
    for family in config.families.iter() {
        Capability::Multiprotocol {
            afi: family.afi(),
            safi: family.safi(),
        }
        .encode(&mut data)
        .unwrap_or_else(|_| unreachable!("a multiprotocol capability is 4 octets"));
    }
    Err(Notification::with_data(
        ErrorCode::OpenMessage(OpenError::UnsupportedCapability),
        data.freeze(),
    ))
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn local() -> SessionConfig {
        let families = AfiSafiSet::ALL;
        let mut config = SessionConfig::new(
            Asn(64512),
            RouterId(Ipv4Addr::new(10, 0, 0, 1)),
            Asn(4_200_000_001),
            families,
        );
        config.add_path = AddPathConfig::Both;
        config.extended_next_hop = true;
        config
    }

    fn remote(capabilities: Vec<Capability>) -> Open {
        Open::new(
            Asn(4_200_000_001),
            HoldTime(90),
            RouterId(Ipv4Addr::new(10, 0, 0, 2)),
            capabilities,
        )
    }

    /// Checks negotiation of `capabilities` against [`local`], returning the outcome.
    fn check(capabilities: Vec<Capability>) -> Result<Negotiated, ErrorCode> {
        negotiate(&local(), &remote(capabilities)).map_err(|n| n.code)
    }

    fn multiprotocol(family: AfiSafi) -> Capability {
        Capability::Multiprotocol {
            afi: family.afi(),
            safi: family.safi(),
        }
    }

    #[test]
    fn four_octet_as_peer_with_as_trans() {
        let n = check(vec![
            multiprotocol(AfiSafi::Ipv4Unicast),
            Capability::FourOctetAs(Asn(4_200_000_001)),
        ])
        .expect("accepted");
        assert_eq!(n.peer_asn, Asn(4_200_000_001));
        assert!(n.params.four_octet_as);
        assert!(n.params.external);
        assert_eq!(n.hold_time, 90);
        assert_eq!(n.keepalive, Duration::from_secs(30));
    }

    #[test]
    fn identifier_zero_is_bad_bgp_identifier() {
        let mut open = remote(vec![Capability::FourOctetAs(Asn(4_200_000_001))]);
        open.bgp_identifier = RouterId(Ipv4Addr::UNSPECIFIED);
        let error = negotiate(&local(), &open).map(|_| ()).map_err(|n| n.code);
        assert_eq!(
            error,
            Err(ErrorCode::OpenMessage(OpenError::BadBgpIdentifier))
        );
    }

    #[test]
    fn as_trans_without_the_capability_is_bad_peer_as() {
        assert_eq!(
            check(vec![]).map(|_| ()),
            Err(ErrorCode::OpenMessage(OpenError::BadPeerAs))
        );
    }

    /// RFC 6793 §4.1: AS_TRANS in My Autonomous System with the capability naming the
    /// configured AS is accepted, whether that AS needs four octets or fits two; a My AS that
    /// is neither AS_TRANS nor the capability's AS is not.
    #[test]
    fn as_trans_with_the_capability_is_accepted_whatever_the_size_of_the_as() {
        for peer in [Asn(4_200_000_001), Asn(65001), Asn(1)] {
            let mut config = local();
            config.peer_asn = peer;
            let mut open = remote(vec![Capability::FourOctetAs(peer)]);
            open.my_as = Asn::TRANS;
            let negotiated = negotiate(&config, &open).map_err(|n| n.code);
            assert_eq!(negotiated.map(|n| n.peer_asn), Ok(peer), "AS {peer}");
        }
        let mut config = local();
        config.peer_asn = Asn(65001);
        let mut open = remote(vec![Capability::FourOctetAs(Asn(65001))]);
        open.my_as = Asn(65001);
        assert!(negotiate(&config, &open).is_ok(), "the AS itself in My AS");
        open.my_as = Asn(65002);
        assert_eq!(
            negotiate(&config, &open).map(|_| ()).map_err(|n| n.code),
            Err(ErrorCode::OpenMessage(OpenError::BadPeerAs)),
            "My AS contradicts the capability"
        );
    }

    #[test]
    fn as_trans_inside_the_capability_is_bad_peer_as() {
        let mut open = remote(vec![Capability::FourOctetAs(Asn::TRANS)]);
        open.my_as = Asn::TRANS;
        let mut config = local();
        config.peer_asn = Asn::TRANS;
        assert_eq!(
            negotiate(&config, &open).map(|_| ()).map_err(|n| n.code),
            Err(ErrorCode::OpenMessage(OpenError::BadPeerAs))
        );
    }

    #[test]
    fn add_path_directions_cross() {
        let add_path = |mode| {
            Capability::AddPath(vec![AddPathFamily {
                afi: Afi::IPV4,
                safi: Safi::UNICAST,
                mode,
            }])
        };
        let caps = |mode| vec![Capability::FourOctetAs(Asn(4_200_000_001)), add_path(mode)];
        let n = check(caps(capability::AddPathMode::Send)).expect("accepted");
        assert_eq!(
            (n.params.add_path_rx, n.params.add_path_tx),
            (
                AfiSafiSet::EMPTY.with(AfiSafi::Ipv4Unicast),
                AfiSafiSet::EMPTY
            )
        );
        let n = check(caps(capability::AddPathMode::Receive)).expect("accepted");
        assert_eq!(
            (n.params.add_path_rx, n.params.add_path_tx),
            (
                AfiSafiSet::EMPTY,
                AfiSafiSet::EMPTY.with(AfiSafi::Ipv4Unicast)
            )
        );
        let n = check(caps(capability::AddPathMode::Unknown(7))).expect("accepted");
        assert!(n.params.add_path_rx.is_empty() && n.params.add_path_tx.is_empty());
    }

    #[test]
    fn no_multiprotocol_capability_means_ipv4_unicast() {
        let n = check(vec![Capability::FourOctetAs(Asn(4_200_000_001))]).expect("accepted");
        assert_eq!(n.families, AfiSafiSet::EMPTY.with(AfiSafi::Ipv4Unicast));
        let n = check(vec![
            Capability::FourOctetAs(Asn(4_200_000_001)),
            multiprotocol(AfiSafi::Ipv6Unicast),
        ])
        .expect("accepted");
        assert_eq!(n.families, AfiSafiSet::EMPTY.with(AfiSafi::Ipv6Unicast));
    }

    #[test]
    fn extended_next_hop_for_ipv4_over_ipv6() {
        let tuple = ExtendedNextHop {
            nlri_afi: Afi::IPV4,
            nlri_safi: Safi::UNICAST,
            next_hop_afi: Afi::IPV6,
        };
        let n = check(vec![
            Capability::FourOctetAs(Asn(4_200_000_001)),
            Capability::ExtendedNextHop(vec![tuple]),
        ])
        .expect("accepted");
        assert!(n.params.extended_next_hop.contains(AfiSafi::Ipv4Unicast));
    }

    #[test]
    fn unsupported_capability_lists_what_we_offered() {
        let mut config = local();
        config.families = AfiSafiSet::EMPTY.with(AfiSafi::Ipv6Unicast);
        let open = remote(vec![
            Capability::FourOctetAs(Asn(4_200_000_001)),
            multiprotocol(AfiSafi::Ipv4Unicast),
        ]);
        let error = negotiate(&config, &open).expect_err("no common family");
        assert_eq!(
            error.code,
            ErrorCode::OpenMessage(OpenError::UnsupportedCapability)
        );
        assert_eq!(
            &error.data[..],
            &[
                0x01, 0x04, // multiprotocol, length 4
                0x00, 0x02, 0x00, 0x01, // AFI IPv6, reserved, SAFI unicast
            ]
        );
    }

    #[test]
    fn our_open_round_trips_through_negotiation() {
        let mut config = local();
        config.peer_asn = config.local_asn;
        config.graceful_restart = Some(super::super::GracefulRestartConfig {
            restart_time: 120,
            restarting: true,
            forwarding_preserved: AfiSafiSet::ALL,
            long_lived_stale_time: Some(3600),
            notification: true,
        });
        config.hostname = Some(("node-a".into(), "cluster.local".into()));
        let mut peer = config.clone();
        peer.local_router_id = RouterId(Ipv4Addr::new(10, 0, 0, 2));
        let n = negotiate(&config, &local_open(&peer)).expect("accepted");
        assert_eq!(n.families, AfiSafiSet::ALL);
        assert_eq!(n.params.add_path_rx, AfiSafiSet::ALL);
        assert!(n.params.extended_message && n.enhanced_route_refresh && n.route_refresh);
        assert!(!n.params.external);
        assert_eq!(n.peer_hostname(), Some("node-a"));
        assert_eq!(
            n.peer_graceful_restart()
                .map(|g| (g.restart_time, g.restart_state)),
            Some((120, true))
        );
        let restart = n.graceful_restart.expect("graceful restart negotiated");
        assert_eq!(restart.restart_time, Duration::from_secs(120));
        assert_eq!(restart.forwarding_preserved, AfiSafiSet::ALL);
        assert_eq!(
            restart.long_lived_stale_time(AfiSafi::Ipv6Unicast),
            Some(Duration::from_secs(3600))
        );
        assert!(restart.notification, "both offered the N bit");
    }

    /// RFC 8538 §2: graceful restart on NOTIFICATION holds only when both sides set N.
    #[test]
    fn the_n_bit_counts_when_both_sides_set_it() {
        let with = |ours: bool, theirs: bool| {
            let restart = |notification| super::super::GracefulRestartConfig {
                restart_time: 120,
                restarting: false,
                forwarding_preserved: AfiSafiSet::EMPTY,
                long_lived_stale_time: None,
                notification,
            };
            let mut config = local();
            config.peer_asn = config.local_asn;
            config.graceful_restart = Some(restart(ours));
            let mut peer = config.clone();
            peer.local_router_id = RouterId(Ipv4Addr::new(10, 0, 0, 2));
            peer.graceful_restart = Some(restart(theirs));
            let open = local_open(&peer);
            assert_eq!(
                open.graceful_restart().map(|g| g.notification),
                Some(theirs)
            );
            negotiate(&config, &open)
                .expect("accepted")
                .graceful_restart
                .map(|r| r.notification)
        };
        assert_eq!(with(true, true), Some(true));
        assert_eq!(with(true, false), Some(false));
        assert_eq!(with(false, true), Some(false));
    }

    fn restart_capability(families: &[(AfiSafi, bool)]) -> Capability {
        Capability::GracefulRestart(GracefulRestart {
            restart_state: true,
            notification: false,
            restart_time: 90,
            families: families
                .iter()
                .map(|&(family, forwarding_preserved)| GracefulRestartFamily {
                    afi: family.afi(),
                    safi: family.safi(),
                    forwarding_preserved,
                })
                .collect(),
        })
    }

    fn long_lived_capability(family: AfiSafi, stale_time: u32) -> Capability {
        Capability::LongLivedGracefulRestart(vec![LongLivedGracefulRestartFamily {
            afi: family.afi(),
            safi: family.safi(),
            forwarding_preserved: false,
            stale_time,
        }])
    }

    /// RFC 4724 §3, RFC 9494 §3: what the peer's capabilities ask of us, given what we offer.
    #[test]
    fn graceful_restart_per_family() {
        let offered = |long_lived: Option<u32>| {
            let mut config = local();
            config.graceful_restart = Some(super::super::GracefulRestartConfig {
                restart_time: 120,
                restarting: false,
                forwarding_preserved: AfiSafiSet::EMPTY,
                long_lived_stale_time: long_lived,
                notification: true,
            });
            config
        };
        let open = |capabilities: Vec<Capability>| {
            let mut all = vec![
                Capability::FourOctetAs(Asn(4_200_000_001)),
                multiprotocol(AfiSafi::Ipv4Unicast),
                multiprotocol(AfiSafi::Ipv6Unicast),
            ];
            all.extend(capabilities);
            remote(all)
        };
        let v4 = AfiSafiSet::EMPTY.with(AfiSafi::Ipv4Unicast);

        // Both offer: the peer's families, its F bits, its Restart Time and R bit.
        let peer = open(vec![
            restart_capability(&[(AfiSafi::Ipv4Unicast, true), (AfiSafi::Ipv6Unicast, false)]),
            long_lived_capability(AfiSafi::Ipv4Unicast, 600),
        ]);
        let restart = negotiate(&offered(Some(3600)), &peer)
            .expect("accepted")
            .graceful_restart
            .expect("negotiated");
        assert_eq!(restart.families, AfiSafiSet::ALL);
        assert_eq!(restart.forwarding_preserved, v4);
        assert_eq!(restart.restart_time, Duration::from_secs(90));
        assert!(restart.peer_restarting);
        assert_eq!(
            restart.long_lived_stale_time(AfiSafi::Ipv4Unicast),
            Some(Duration::from_secs(600))
        );
        assert_eq!(restart.long_lived_stale_time(AfiSafi::Ipv6Unicast), None);

        // We did not offer long-lived graceful restart: the peer's is ignored.
        let restart = negotiate(&offered(None), &peer)
            .expect("accepted")
            .graceful_restart
            .expect("negotiated");
        assert!(!restart.long_lived_negotiated());

        // We did not offer graceful restart at all, or the peer did not: nothing.
        assert_eq!(
            negotiate(&local(), &peer)
                .expect("accepted")
                .graceful_restart,
            None
        );
        let without = open(vec![long_lived_capability(AfiSafi::Ipv4Unicast, 600)]);
        assert_eq!(
            negotiate(&offered(Some(3600)), &without)
                .expect("accepted")
                .graceful_restart,
            None
        );
    }
}
