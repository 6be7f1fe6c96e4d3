//! The hostile input catalogue's table (run by `hostile.rs`): per case, when the fault is
//! sent, the bytes (valid parts built by `proto`, faults by hand, each field commented), and
//! the outcome RFC 4271 §6 / RFC 7606 / RFC 6608 ask for.

use bytes::BytesMut;
use interop::raw_peer::{announcements, ebgp_attributes, frame, standard_open};
use ipnet::Ipv4Net;
use proto::attr::{AttrFlags, AttrType, Attributes, MultiExitDisc};
use proto::capability::Capability;
use proto::header::MessageType;
use proto::message::Message;
use proto::nlri::{encode_nlri, Nlri};
use proto::notification::{
    ErrorCode, FsmError, HeaderError, OpenError, RouteRefreshError, UpdateError,
};
use proto::open::{HoldTime, Open};
use proto::{Asn, RouterId, SessionParams};
use std::net::Ipv4Addr;

/// Every hostile neighbor's AS (eBGP: several checks apply only to external peers).
pub const HOSTILE_AS: Asn = Asn(65001);
/// The hold time hostile peers offer and Starling is configured with: no KEEPALIVE is needed
/// within a case.
pub const HOSTILE_HOLD_TIME: u16 = 90;
/// MULTI_EXIT_DISC carried by fault UPDATEs whose other attributes should survive: seeing it
/// on the route proves the UPDATE was applied (with the bad attribute discarded).
pub const MARK_MED: u32 = 77;
/// The largest message without RFC 8654 extended messages (RFC 4271 §4.1).
const MAX_MESSAGE: usize = 4096;

/// What a case's bytes are built from.
pub struct Ctx {
    /// The hostile neighbor's address (also the NEXT_HOP of its routes).
    pub source: Ipv4Addr,
    /// Starling's address.
    pub starling: Ipv4Addr,
    /// A route announced validly before the fault; what happens to it tells the outcome.
    pub canary: Ipv4Net,
    /// A route announced validly after the fault: once it is in the RIB, the fault was
    /// processed and the session survived it.
    pub probe: Ipv4Net,
    /// The session's parameters once established (4-octet AS, eBGP).
    pub params: SessionParams,
}

/// When the fault is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Right after TCP is up and Starling's OPEN was read (OpenSent on Starling's side),
    /// instead of our OPEN.
    Connected,
    /// After both OPENs, before our KEEPALIVE (OpenConfirm).
    OpenConfirm,
    /// Once Established and the canary is in Starling's RIB.
    Established,
}

/// The outcome the RFCs ask for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Expect {
    /// Session reset with this NOTIFICATION.
    Notification(ErrorCode),
    /// The OPEN is accepted: the session comes up.
    SessionUp,
    /// RFC 7606 treat-as-withdraw: the session stays, the canary is gone.
    Withdrawn,
    /// RFC 7606 attribute discard: the session stays, the canary carries MARK_MED.
    Discarded,
    /// The message is ignored: the session stays, the canary is as it was.
    Ignored,
    /// RFC 7606 AFI/SAFI disable: the session stays, the family is disabled (logged).
    FamilyDisabled,
    /// Accepted; the unknown optional transitive attribute reaches the observer with the
    /// Partial bit, the unknown optional non-transitive one does not (RFC 4271 §5, §9).
    PassedOnPartial,
    /// Nothing: bgpd waits in OpenSent (its 240 s OPEN hold timer, RFC 4271 §8.2.2, expires
    /// later: `proto` tests it with virtual time).
    Waits,
}

pub struct Case {
    pub name: &'static str,
    pub phase: Phase,
    pub fault: fn(&Ctx) -> Vec<u8>,
    pub expect: Expect,
}

/// The unknown attribute codes of the pass-on case.
pub const UNKNOWN_TRANSITIVE: u8 = 200;
pub const UNKNOWN_NON_TRANSITIVE: u8 = 201;
/// A well-known flag pattern on an unknown type.
const UNKNOWN_WELL_KNOWN: u8 = 99;
/// AS_TRANS (RFC 6793 §9).
const AS_TRANS: u32 = 23456;

pub fn cases() -> Vec<Case> {
    use Expect::*;
    use Phase::*;
    let header = |s| Notification(ErrorCode::MessageHeader(s));
    let open = |s| Notification(ErrorCode::OpenMessage(s));
    let update = |s| Notification(ErrorCode::UpdateMessage(s));
    let fsm = |s| Notification(ErrorCode::FiniteStateMachine(s));
    let route_refresh = |s| Notification(ErrorCode::RouteRefreshMessage(s));
    vec![
        // --- Message header (RFC 4271 §6.1) ---
        Case {
            name: "header: marker not all ones",
            phase: Established,
            fault: |_| {
                let mut keepalive = frame(MessageType::Keepalive.to_wire(), &[]);
                keepalive[7] = 0x00; // one marker octet cleared
                keepalive
            },
            expect: header(HeaderError::ConnectionNotSynchronized),
        },
        Case {
            name: "header: length below 19",
            phase: Established,
            fault: |_| with_length(frame(MessageType::Keepalive.to_wire(), &[]), 18),
            expect: header(HeaderError::BadMessageLength),
        },
        Case {
            name: "header: unknown message type 7",
            phase: Established,
            fault: |_| frame(7, &[]),
            expect: header(HeaderError::BadMessageType),
        },
        Case {
            name: "header: KEEPALIVE with a body",
            phase: Established,
            fault: |_| frame(MessageType::Keepalive.to_wire(), &[0x00]),
            expect: header(HeaderError::BadMessageLength),
        },
        Case {
            name: "header: OPEN shorter than 29 octets",
            phase: Connected,
            fault: |ctx| {
                let mut open = open_bytes(&valid_open(ctx));
                open.truncate(28);
                with_length(open, 28)
            },
            expect: header(HeaderError::BadMessageLength),
        },
        Case {
            name: "header: NOTIFICATION shorter than 21 octets",
            phase: Established,
            fault: |_| frame(MessageType::Notification.to_wire(), &[0x06]),
            expect: header(HeaderError::BadMessageLength),
        },
        Case {
            name: "header: 4097-octet UPDATE without extended messages",
            phase: Established,
            fault: |ctx| {
                // A valid UPDATE padded with announcements up to one octet over the limit.
                let attributes = encoded(&marked(ctx), ctx);
                let mut nlri = Vec::new();
                let fixed = 19 + 4 + attributes.len();
                let mut third = 0u8;
                while fixed + nlri.len() + 4 <= MAX_MESSAGE + 1 {
                    nlri.extend_from_slice(&[24, 10, 200, third]); // 10.200.x.0/24
                    third = third.wrapping_add(1);
                }
                nlri.resize(MAX_MESSAGE + 1 - fixed, 0); // /0 entries fill the rest
                update_bytes(&[], &attributes, &nlri)
            },
            expect: header(HeaderError::BadMessageLength),
        },
        // --- OPEN (RFC 4271 §6.2, RFC 5492, RFC 6793) ---
        Case {
            name: "open: version 3",
            phase: Connected,
            fault: |ctx| {
                let mut open = open_bytes(&valid_open(ctx));
                open[19] = 3; // Version
                open
            },
            expect: open(OpenError::UnsupportedVersionNumber),
        },
        Case {
            name: "open: AS 0 without the 4-octet capability",
            phase: Connected,
            fault: |ctx| open_bytes(&open_as(ctx, Asn(0), None)),
            expect: open(OpenError::BadPeerAs),
        },
        Case {
            name: "open: 4-octet AS capability with AS 0",
            phase: Connected,
            fault: |ctx| open_bytes(&open_as(ctx, Asn(AS_TRANS), Some(Asn(0)))),
            expect: open(OpenError::BadPeerAs),
        },
        Case {
            name: "open: AS_TRANS as My AS without the 4-octet capability",
            phase: Connected,
            fault: |ctx| open_bytes(&open_as(ctx, Asn(AS_TRANS), None)),
            expect: open(OpenError::BadPeerAs),
        },
        Case {
            name: "open: AS_TRANS inside the 4-octet AS capability",
            phase: Connected,
            fault: |ctx| open_bytes(&open_as(ctx, Asn(AS_TRANS), Some(Asn(AS_TRANS)))),
            expect: open(OpenError::BadPeerAs),
        },
        Case {
            name: "open: AS_TRANS as My AS, the capability naming a 2-octet AS",
            phase: Connected,
            // RFC 6793 §4.1: the capability is the AS; AS_TRANS stands in the 2-octet field.
            fault: |ctx| open_bytes(&open_as(ctx, Asn(AS_TRANS), Some(HOSTILE_AS))),
            expect: SessionUp,
        },
        Case {
            name: "open: hold time 1",
            phase: Connected,
            fault: |ctx| {
                open_bytes(&Open {
                    hold_time: HoldTime(1),
                    ..valid_open(ctx)
                })
            },
            expect: open(OpenError::UnacceptableHoldTime),
        },
        Case {
            name: "open: hold time 2",
            phase: Connected,
            fault: |ctx| {
                open_bytes(&Open {
                    hold_time: HoldTime(2),
                    ..valid_open(ctx)
                })
            },
            expect: open(OpenError::UnacceptableHoldTime),
        },
        Case {
            name: "open: BGP identifier 0.0.0.0",
            phase: Connected,
            fault: |ctx| {
                open_bytes(&Open {
                    bgp_identifier: RouterId(Ipv4Addr::UNSPECIFIED),
                    ..valid_open(ctx)
                })
            },
            expect: open(OpenError::BadBgpIdentifier),
        },
        Case {
            name: "open: truncated 4-octet AS capability",
            phase: Connected,
            fault: |ctx| {
                open_with_parameters(
                    ctx,
                    &[
                        0x02, 0x04, // Capabilities parameter, 4 octets
                        0x41, 0x02, // 4-octet AS, length 2 (must be 4)
                        0xfd, 0xe9, // half an AS number
                    ],
                )
            },
            expect: open(OpenError::Unspecific),
        },
        Case {
            name: "open: capability overruns its parameter",
            phase: Connected,
            fault: |ctx| {
                open_with_parameters(
                    ctx,
                    &[
                        0x02, 0x04, // Capabilities parameter, 4 octets
                        0x41, 0x04, // 4-octet AS, length 4: overruns the parameter
                        0x00, 0x00, //
                    ],
                )
            },
            expect: open(OpenError::Unspecific),
        },
        Case {
            name: "open: optional parameters length beyond the message",
            phase: Connected,
            fault: |ctx| {
                let mut open = open_bytes(&valid_open(ctx));
                open[28] = open[28].saturating_add(10); // Opt Parm Len
                open
            },
            expect: open(OpenError::Unspecific),
        },
        Case {
            name: "open: unsupported optional parameter type 5",
            phase: Connected,
            fault: |ctx| {
                open_with_parameters(
                    ctx,
                    &[
                        0x05, 0x02, // parameter type 5, 2 octets
                        0x00, 0x00,
                    ],
                )
            },
            expect: open(OpenError::UnsupportedOptionalParameter),
        },
        Case {
            name: "open: duplicate capabilities are accepted",
            phase: Connected,
            fault: |ctx| {
                let mut open = valid_open(ctx);
                open.capabilities.extend(open.capabilities.clone());
                open_bytes(&open)
            },
            expect: SessionUp,
        },
        Case {
            name: "open: unknown capability is ignored",
            phase: Connected,
            fault: |ctx| {
                let mut open = valid_open(ctx);
                open.capabilities.push(Capability::Unknown {
                    code: 0xc8,
                    value: bytes::Bytes::from_static(&[0xde, 0xad]),
                });
                open_bytes(&open)
            },
            expect: SessionUp,
        },
        // --- Messages in the wrong state (RFC 4271 §8.2.2, RFC 6608) ---
        Case {
            name: "state: UPDATE in OpenSent",
            phase: Connected,
            fault: |ctx| canary_with(ctx, &[]),
            expect: fsm(FsmError::UnexpectedMessageInOpenSent),
        },
        Case {
            name: "state: KEEPALIVE in OpenSent",
            phase: Connected,
            fault: |_| frame(MessageType::Keepalive.to_wire(), &[]),
            expect: fsm(FsmError::UnexpectedMessageInOpenSent),
        },
        Case {
            name: "state: UPDATE in OpenConfirm",
            phase: OpenConfirm,
            fault: |ctx| canary_with(ctx, &[]),
            expect: fsm(FsmError::UnexpectedMessageInOpenConfirm),
        },
        Case {
            name: "state: OPEN in Established",
            phase: Established,
            fault: |ctx| open_bytes(&valid_open(ctx)),
            expect: fsm(FsmError::UnexpectedMessageInEstablished),
        },
        Case {
            name: "state: a connection that never sends OPEN",
            phase: Connected,
            fault: |_| Vec::new(),
            expect: Waits,
        },
        Case {
            name: "route refresh: a family not negotiated is ignored",
            phase: Established,
            fault: |_| {
                frame(
                    MessageType::RouteRefresh.to_wire(),
                    &[
                        0x00, 0x01, // AFI IPv4
                        0x00, // reserved
                        0x02, // SAFI multicast: never negotiated
                    ],
                )
            },
            expect: Ignored,
        },
        // --- ROUTE-REFRESH length (RFC 7313 §5): 4 octets after the header, every subtype ---
        Case {
            name: "route refresh: a normal request with one more octet",
            phase: Established,
            fault: |_| {
                frame(
                    MessageType::RouteRefresh.to_wire(),
                    &[
                        0x00, 0x01, // AFI IPv4
                        0x00, // subtype 0: a request
                        0x01, // SAFI unicast
                        0x00, // one octet too many (no ORF was negotiated)
                    ],
                )
            },
            expect: route_refresh(RouteRefreshError::InvalidMessageLength),
        },
        Case {
            name: "route refresh: a reserved subtype with two more octets",
            phase: Established,
            fault: |_| {
                frame(
                    MessageType::RouteRefresh.to_wire(),
                    &[
                        0x00, 0x01, // AFI IPv4
                        0x07, // subtype 7: reserved, ignored only when well formed
                        0x01, // SAFI unicast
                        0xab, 0xcd, // two octets too many
                    ],
                )
            },
            expect: route_refresh(RouteRefreshError::InvalidMessageLength),
        },
        // --- UPDATE structure (RFC 4271 §6.3 kept by RFC 7606 §3(b), §5.3) ---
        Case {
            name: "update: withdrawn routes length overruns the message",
            phase: Established,
            fault: |_| {
                frame(
                    MessageType::Update.to_wire(),
                    &[
                        0x00, 0x10, // Withdrawn Routes Length 16, 2 octets follow
                        0x18, 0x0a, //
                    ],
                )
            },
            expect: update(UpdateError::MalformedAttributeList),
        },
        Case {
            name: "update: total path attribute length overruns the message",
            phase: Established,
            fault: |_| {
                frame(
                    MessageType::Update.to_wire(),
                    &[
                        0x00, 0x00, // no withdrawn routes
                        0x00, 0x40, // Total Path Attribute Length 64, 4 octets follow
                        0x40, 0x01, 0x01, 0x00, // ORIGIN IGP
                    ],
                )
            },
            expect: update(UpdateError::MalformedAttributeList),
        },
        Case {
            name: "update: an attribute overruns the attribute field",
            phase: Established,
            fault: |ctx| {
                let mut attributes = encoded(&marked(ctx), ctx);
                // COMMUNITIES claiming 200 octets, 4 present.
                attributes.extend_from_slice(&[0xc0, 0x08, 0xc8, 0xfd, 0xe9, 0x00, 0x01]);
                update_bytes(&[], &attributes, &nlri(ctx.canary))
            },
            expect: Withdrawn,
        },
        Case {
            name: "update: NLRI prefix length 33",
            phase: Established,
            fault: |ctx| {
                update_bytes(
                    &[],
                    &encoded(&marked(ctx), ctx),
                    &[0x21, 0x0a, 0x00, 0x00, 0x00, 0x00], // /33
                )
            },
            expect: update(UpdateError::InvalidNetworkField),
        },
        Case {
            name: "update: NLRI truncated",
            phase: Established,
            fault: |ctx| {
                update_bytes(
                    &[],
                    &encoded(&marked(ctx), ctx),
                    &[0x18, 0x0a, 0x64], // /24 with 2 of 3 octets
                )
            },
            expect: update(UpdateError::InvalidNetworkField),
        },
        Case {
            name: "update: path identifier without ADD-PATH",
            phase: Established,
            fault: |ctx| {
                let mut field = vec![0x00, 0x00, 0x00, 0x64]; // Path Identifier 100
                field.extend_from_slice(&nlri(ctx.canary));
                update_bytes(&[], &encoded(&marked(ctx), ctx), &field)
            },
            expect: update(UpdateError::InvalidNetworkField),
        },
        // --- Attribute flags, presence, duplicates (RFC 7606 §3) ---
        Case {
            name: "attribute flags: ORIGIN marked optional",
            phase: Established,
            fault: |ctx| {
                canary_without(
                    ctx,
                    AttrType::ORIGIN,
                    &attr(TRANSITIVE, AttrType::ORIGIN, &[0x00]),
                )
            },
            expect: Withdrawn,
        },
        Case {
            name: "attribute flags: MULTI_EXIT_DISC marked transitive",
            phase: Established,
            fault: |ctx| {
                canary_without(
                    ctx,
                    AttrType::MULTI_EXIT_DISC,
                    &attr(TRANSITIVE, AttrType::MULTI_EXIT_DISC, &[0, 0, 0, 1]),
                )
            },
            expect: Withdrawn,
        },
        Case {
            name: "missing well-known: ORIGIN",
            phase: Established,
            fault: |ctx| canary_without(ctx, AttrType::ORIGIN, &[]),
            expect: Withdrawn,
        },
        Case {
            name: "missing well-known: AS_PATH",
            phase: Established,
            fault: |ctx| canary_without(ctx, AttrType::AS_PATH, &[]),
            expect: Withdrawn,
        },
        Case {
            name: "missing well-known: NEXT_HOP",
            phase: Established,
            fault: |ctx| canary_without(ctx, AttrType::NEXT_HOP, &[]),
            expect: Withdrawn,
        },
        Case {
            name: "duplicate attribute: a second MULTI_EXIT_DISC is discarded",
            phase: Established,
            fault: |ctx| {
                canary_with(
                    ctx,
                    &attr(OPTIONAL, AttrType::MULTI_EXIT_DISC, &[0, 0, 0, 1]),
                )
            },
            expect: Discarded,
        },
        Case {
            name: "duplicate attribute: two MP_REACH_NLRI",
            phase: Established,
            fault: |ctx| {
                let reach = mp_reach_ipv6(&[0xfd, 0x00], 16, &[0x20, 0x20, 0x01, 0x0d, 0xb8]);
                let mut extra = reach.clone();
                extra.extend_from_slice(&reach);
                canary_with(ctx, &extra)
            },
            expect: update(UpdateError::MalformedAttributeList),
        },
        Case {
            name: "unknown well-known attribute",
            phase: Established,
            fault: |ctx| {
                canary_with(
                    ctx,
                    &attr(WELL_KNOWN, AttrType(UNKNOWN_WELL_KNOWN), &[0x01]),
                )
            },
            expect: Withdrawn,
        },
        Case {
            name: "unknown optional attributes: transitive passed on with Partial",
            phase: Established,
            fault: |ctx| {
                let mut extra = attr(
                    TRANSITIVE,
                    AttrType(UNKNOWN_TRANSITIVE),
                    &[0x01, 0x02, 0x03],
                );
                extra.extend(attr(OPTIONAL, AttrType(UNKNOWN_NON_TRANSITIVE), &[0x04]));
                canary_with(ctx, &extra)
            },
            expect: PassedOnPartial,
        },
        // --- Attribute values (RFC 7606 §7) ---
        Case {
            name: "ORIGIN value 3",
            phase: Established,
            fault: |ctx| {
                canary_without(
                    ctx,
                    AttrType::ORIGIN,
                    &attr(WELL_KNOWN, AttrType::ORIGIN, &[0x03]),
                )
            },
            expect: Withdrawn,
        },
        Case {
            name: "AS_PATH: zero-length segment",
            phase: Established,
            fault: |ctx| with_as_path(ctx, &[0x02, 0x00]), // AS_SEQUENCE of 0
            expect: Withdrawn,
        },
        Case {
            name: "AS_PATH: segment overruns the attribute",
            phase: Established,
            fault: |ctx| {
                with_as_path(
                    ctx,
                    &[
                        0x02, 0x02, // AS_SEQUENCE of 2
                        0x00, 0x00, 0xfd, 0xe9, // 65001, the second is missing
                    ],
                )
            },
            expect: Withdrawn,
        },
        Case {
            name: "AS_PATH: segment type 5",
            phase: Established,
            fault: |ctx| {
                with_as_path(
                    ctx,
                    &[
                        0x05, 0x01, // segment type 5, 1 AS
                        0x00, 0x00, 0xfd, 0xe9, // 65001
                    ],
                )
            },
            expect: Withdrawn,
        },
        Case {
            name: "AS_PATH: confederation segment from an external peer",
            phase: Established,
            fault: |ctx| {
                with_as_path(
                    ctx,
                    &[
                        0x03, 0x01, 0x00, 0x00, 0xfd, 0xea, // AS_CONFED_SEQUENCE 65002
                        0x02, 0x01, 0x00, 0x00, 0xfd, 0xe9, // AS_SEQUENCE 65001
                    ],
                )
            },
            expect: Withdrawn,
        },
        Case {
            name: "AS_PATH: empty from an external peer",
            phase: Established,
            fault: |ctx| with_as_path(ctx, &[]),
            expect: Withdrawn,
        },
        Case {
            name: "NEXT_HOP: the receiving speaker's own address",
            phase: Established,
            fault: |ctx| {
                canary_without(
                    ctx,
                    AttrType::NEXT_HOP,
                    &attr(WELL_KNOWN, AttrType::NEXT_HOP, &ctx.starling.octets()),
                )
            },
            expect: Withdrawn,
        },
        Case {
            name: "NEXT_HOP: 0.0.0.0 is not a host address",
            phase: Established,
            fault: |ctx| {
                canary_without(
                    ctx,
                    AttrType::NEXT_HOP,
                    &attr(WELL_KNOWN, AttrType::NEXT_HOP, &[0, 0, 0, 0]),
                )
            },
            expect: Withdrawn,
        },
        Case {
            name: "NEXT_HOP: 127.0.0.1 (loopback) is not a host address",
            phase: Established,
            fault: |ctx| {
                canary_without(
                    ctx,
                    AttrType::NEXT_HOP,
                    &attr(WELL_KNOWN, AttrType::NEXT_HOP, &[127, 0, 0, 1]),
                )
            },
            expect: Withdrawn,
        },
        Case {
            name: "NEXT_HOP: 224.0.0.5 (multicast) is not a host address",
            phase: Established,
            fault: |ctx| {
                canary_without(
                    ctx,
                    AttrType::NEXT_HOP,
                    &attr(WELL_KNOWN, AttrType::NEXT_HOP, &[224, 0, 0, 5]),
                )
            },
            expect: Withdrawn,
        },
        Case {
            name: "NEXT_HOP: 240.0.0.1 (class E) is not a host address",
            phase: Established,
            fault: |ctx| {
                canary_without(
                    ctx,
                    AttrType::NEXT_HOP,
                    &attr(WELL_KNOWN, AttrType::NEXT_HOP, &[240, 0, 0, 1]),
                )
            },
            expect: Withdrawn,
        },
        Case {
            name: "NEXT_HOP: 255.255.255.255 (limited broadcast) is not a host address",
            phase: Established,
            fault: |ctx| {
                canary_without(
                    ctx,
                    AttrType::NEXT_HOP,
                    &attr(WELL_KNOWN, AttrType::NEXT_HOP, &[255, 255, 255, 255]),
                )
            },
            expect: Withdrawn,
        },
        Case {
            name: "fixed length: ORIGIN of 2 octets",
            phase: Established,
            fault: |ctx| {
                canary_without(
                    ctx,
                    AttrType::ORIGIN,
                    &attr(WELL_KNOWN, AttrType::ORIGIN, &[0, 0]),
                )
            },
            expect: Withdrawn,
        },
        Case {
            name: "fixed length: NEXT_HOP of 5 octets",
            phase: Established,
            fault: |ctx| {
                canary_without(
                    ctx,
                    AttrType::NEXT_HOP,
                    &attr(WELL_KNOWN, AttrType::NEXT_HOP, &[10, 0, 0, 1, 0]),
                )
            },
            expect: Withdrawn,
        },
        Case {
            name: "fixed length: MULTI_EXIT_DISC of 3 octets",
            phase: Established,
            fault: |ctx| {
                canary_without(
                    ctx,
                    AttrType::MULTI_EXIT_DISC,
                    &attr(OPTIONAL, AttrType::MULTI_EXIT_DISC, &[0; 3]),
                )
            },
            expect: Withdrawn,
        },
        Case {
            name: "fixed length: MULTI_EXIT_DISC of 0 octets",
            phase: Established,
            fault: |ctx| {
                canary_without(
                    ctx,
                    AttrType::MULTI_EXIT_DISC,
                    &attr(OPTIONAL, AttrType::MULTI_EXIT_DISC, &[]),
                )
            },
            expect: Withdrawn,
        },
        Case {
            name: "fixed length: LOCAL_PREF of 3 octets (and from eBGP)",
            phase: Established,
            fault: |ctx| canary_with(ctx, &attr(WELL_KNOWN, AttrType::LOCAL_PREF, &[0; 3])),
            expect: Discarded,
        },
        Case {
            name: "fixed length: ATOMIC_AGGREGATE of 1 octet",
            phase: Established,
            fault: |ctx| canary_with(ctx, &attr(WELL_KNOWN, AttrType::ATOMIC_AGGREGATE, &[0])),
            expect: Discarded,
        },
        Case {
            name: "fixed length: AGGREGATOR of 7 octets on a 4-octet session",
            phase: Established,
            fault: |ctx| {
                canary_with(
                    ctx,
                    &attr(
                        TRANSITIVE,
                        AttrType::AGGREGATOR,
                        &[0, 0, 0xfd, 0xe9, 10, 0, 0],
                    ),
                )
            },
            expect: Discarded,
        },
        Case {
            name: "COMMUNITIES of 5 octets",
            phase: Established,
            fault: |ctx| {
                canary_with(
                    ctx,
                    &attr(TRANSITIVE, AttrType::COMMUNITIES, &[0xfd, 0xe9, 0, 1, 0]),
                )
            },
            expect: Withdrawn,
        },
        Case {
            name: "COMMUNITIES of 0 octets",
            phase: Established,
            fault: |ctx| canary_with(ctx, &attr(TRANSITIVE, AttrType::COMMUNITIES, &[])),
            expect: Withdrawn,
        },
        Case {
            name: "LARGE_COMMUNITY of 13 octets",
            phase: Established,
            fault: |ctx| canary_with(ctx, &attr(TRANSITIVE, AttrType::LARGE_COMMUNITY, &[0; 13])),
            expect: Withdrawn,
        },
        Case {
            name: "EXTENDED_COMMUNITIES of 7 octets",
            phase: Established,
            fault: |ctx| {
                canary_with(
                    ctx,
                    &attr(TRANSITIVE, AttrType::EXTENDED_COMMUNITIES, &[0; 7]),
                )
            },
            expect: Withdrawn,
        },
        Case {
            name: "ORIGINATOR_ID from an external peer",
            phase: Established,
            fault: |ctx| {
                canary_with(
                    ctx,
                    &attr(OPTIONAL, AttrType::ORIGINATOR_ID, &[10, 9, 9, 9]),
                )
            },
            expect: Discarded,
        },
        Case {
            name: "ORIGINATOR_ID of 3 octets from an external peer",
            phase: Established,
            fault: |ctx| canary_with(ctx, &attr(OPTIONAL, AttrType::ORIGINATOR_ID, &[10, 9, 9])),
            expect: Discarded,
        },
        Case {
            name: "CLUSTER_LIST from an external peer",
            phase: Established,
            fault: |ctx| canary_with(ctx, &attr(OPTIONAL, AttrType::CLUSTER_LIST, &[10, 9, 9, 9])),
            expect: Discarded,
        },
        // --- MP_REACH_NLRI (RFC 4760 §7, RFC 7606 §5.3, §7.11) ---
        Case {
            name: "MP_REACH_NLRI: unknown AFI is ignored",
            phase: Established,
            fault: |ctx| {
                let reach = attr(
                    OPTIONAL,
                    AttrType::MP_REACH_NLRI,
                    &[
                        0x00, 0x03, 0x01, // AFI 3, SAFI 1
                        0x04, 10, 0, 0, 1,    // next hop length 4
                        0x00, // reserved
                        0x08, 0x0a, // 10/8
                    ],
                );
                update_bytes(&[], &[encoded(&marked(ctx), ctx), reach].concat(), &[])
            },
            expect: Ignored,
        },
        Case {
            name: "MP_REACH_NLRI: IPv6 next hop of 5 octets",
            phase: Established,
            fault: |ctx| {
                let reach = mp_reach_ipv6(&[0xfd, 0, 0, 0, 1], 32, &[0x20, 0x01, 0x0d, 0xb8]);
                update_bytes(&[], &[encoded(&marked(ctx), ctx), reach].concat(), &[])
            },
            expect: FamilyDisabled,
        },
        Case {
            name: "MP_REACH_NLRI: IPv6 prefix length 129",
            phase: Established,
            fault: |ctx| {
                let mut prefix = vec![0x20, 0x01, 0x0d, 0xb8];
                prefix.resize(17, 0);
                let reach = mp_reach_ipv6(&[0xfd; 16], 129, &prefix);
                update_bytes(&[], &[encoded(&marked(ctx), ctx), reach].concat(), &[])
            },
            expect: FamilyDisabled,
        },
        Case {
            name: "MP_REACH_NLRI: IPv6 next hop :: (unspecified) is not a host address",
            phase: Established,
            // The canary in the NLRI field beside it: the whole UPDATE is treat-as-withdraw.
            fault: |ctx| {
                let next_hop: std::net::Ipv6Addr = "::".parse().expect("address");
                let reach = mp_reach_ipv6(&next_hop.octets(), 32, &[0x20, 0x01, 0x0d, 0xb8]);
                canary_with(ctx, &reach)
            },
            expect: Withdrawn,
        },
        Case {
            name: "MP_REACH_NLRI: IPv6 next hop ::1 (loopback) is not a host address",
            phase: Established,
            // The canary in the NLRI field beside it: the whole UPDATE is treat-as-withdraw.
            fault: |ctx| {
                let next_hop: std::net::Ipv6Addr = "::1".parse().expect("address");
                let reach = mp_reach_ipv6(&next_hop.octets(), 32, &[0x20, 0x01, 0x0d, 0xb8]);
                canary_with(ctx, &reach)
            },
            expect: Withdrawn,
        },
        Case {
            name: "MP_REACH_NLRI: IPv6 next hop ff02::1 (multicast) is not a host address",
            phase: Established,
            // The canary in the NLRI field beside it: the whole UPDATE is treat-as-withdraw.
            fault: |ctx| {
                let next_hop: std::net::Ipv6Addr = "ff02::1".parse().expect("address");
                let reach = mp_reach_ipv6(&next_hop.octets(), 32, &[0x20, 0x01, 0x0d, 0xb8]);
                canary_with(ctx, &reach)
            },
            expect: Withdrawn,
        },
    ]
}

/// The OPEN a well-behaved hostile neighbor sends.
pub fn valid_open(ctx: &Ctx) -> Open {
    standard_open(HOSTILE_AS, ctx.source, HOSTILE_HOLD_TIME)
}

/// The valid OPEN with this My AS field and, if given, this 4-octet AS capability.
fn open_as(ctx: &Ctx, my_as: Asn, four_octet: Option<Asn>) -> Open {
    let mut open = valid_open(ctx);
    open.my_as = my_as;
    open.capabilities
        .retain(|c| !matches!(c, Capability::FourOctetAs(_)));
    open.capabilities
        .extend(four_octet.map(Capability::FourOctetAs));
    open
}

fn open_bytes(open: &Open) -> Vec<u8> {
    let mut out = BytesMut::new();
    Message::Open(open.clone())
        .encode(&SessionParams::default(), &mut out)
        .expect("encode OPEN");
    out.to_vec()
}

/// The valid OPEN's fixed fields followed by `parameters` as its Optional Parameters.
fn open_with_parameters(ctx: &Ctx, parameters: &[u8]) -> Vec<u8> {
    let open = open_bytes(&valid_open(ctx));
    let mut body = open[19..28].to_vec(); // version, My AS, hold time, identifier
    body.push(u8::try_from(parameters.len()).expect("short parameters"));
    body.extend_from_slice(parameters);
    frame(MessageType::Open.to_wire(), &body)
}

/// `message` with its Length field replaced.
fn with_length(mut message: Vec<u8>, length: u16) -> Vec<u8> {
    message[16..18].copy_from_slice(&length.to_be_bytes());
    message
}

/// The canary's valid attributes with MULTI_EXIT_DISC set to [`MARK_MED`].
fn marked(ctx: &Ctx) -> Attributes {
    Attributes {
        multi_exit_disc: Some(MultiExitDisc(MARK_MED)),
        ..plain(ctx)
    }
}

/// ORIGIN IGP, AS_PATH [HOSTILE_AS], NEXT_HOP the neighbor itself.
fn plain(ctx: &Ctx) -> Attributes {
    ebgp_attributes(HOSTILE_AS, ctx.source)
}

fn encoded(attributes: &Attributes, ctx: &Ctx) -> Vec<u8> {
    let mut out = BytesMut::new();
    attributes
        .encode(&ctx.params, &mut out)
        .expect("encode attributes");
    out.to_vec()
}

/// Attribute flags of the faults: well-known, optional non-transitive, optional transitive.
const WELL_KNOWN: AttrFlags = AttrFlags::WELL_KNOWN;
const OPTIONAL: AttrFlags = AttrFlags::OPTIONAL_NON_TRANSITIVE;
pub const TRANSITIVE: AttrFlags = AttrFlags::OPTIONAL_TRANSITIVE;

/// One attribute with a one-octet length (the Extended Length flag must be clear).
pub fn attr(flags: AttrFlags, code: AttrType, value: &[u8]) -> Vec<u8> {
    assert!(
        !flags.contains(AttrFlags::EXTENDED_LENGTH),
        "short form only"
    );
    let mut out = vec![
        flags.0,
        code.0,
        u8::try_from(value.len()).expect("short value"),
    ];
    out.extend_from_slice(value);
    out
}

/// An MP_REACH_NLRI for IPv6 unicast with this next hop and one prefix of `length` bits.
fn mp_reach_ipv6(next_hop: &[u8], length: u8, prefix: &[u8]) -> Vec<u8> {
    let mut value = vec![0x00, 0x02, 0x01]; // AFI IPv6, SAFI unicast
    value.push(u8::try_from(next_hop.len()).expect("short next hop"));
    value.extend_from_slice(next_hop);
    value.push(0x00); // reserved
    value.push(length);
    value.extend_from_slice(prefix);
    attr(OPTIONAL, AttrType::MP_REACH_NLRI, &value)
}

fn nlri(prefix: Ipv4Net) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_nlri(&[Nlri::new(prefix, None)], false, &mut out).expect("encode NLRI");
    out.to_vec()
}

/// An UPDATE message (header included) from its three fields.
fn update_bytes(withdrawn: &[u8], attributes: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for field in [withdrawn, attributes] {
        body.extend_from_slice(
            &u16::try_from(field.len())
                .expect("short field")
                .to_be_bytes(),
        );
        body.extend_from_slice(field);
    }
    body.extend_from_slice(nlri);
    frame(MessageType::Update.to_wire(), &body)
}

/// The canary announced again with the marked attributes and `extra` after them.
pub fn canary_with(ctx: &Ctx, extra: &[u8]) -> Vec<u8> {
    let attributes = [encoded(&marked(ctx), ctx), extra.to_vec()].concat();
    update_bytes(&[], &attributes, &nlri(ctx.canary))
}

/// The canary with this AS_PATH value instead of the valid one.
fn with_as_path(ctx: &Ctx, value: &[u8]) -> Vec<u8> {
    canary_without(
        ctx,
        AttrType::AS_PATH,
        &attr(WELL_KNOWN, AttrType::AS_PATH, value),
    )
}

/// Like [`canary_with`], without the valid attribute `left_out`.
fn canary_without(ctx: &Ctx, left_out: AttrType, extra: &[u8]) -> Vec<u8> {
    let mut attributes = marked(ctx);
    match left_out {
        AttrType::ORIGIN => attributes.origin = None,
        AttrType::AS_PATH => attributes.as_path = None,
        AttrType::NEXT_HOP => attributes.next_hop = None,
        AttrType::MULTI_EXIT_DISC => attributes.multi_exit_disc = None,
        other => panic!("no valid {other:?} to leave out"),
    }
    let attributes = [encoded(&attributes, ctx), extra.to_vec()].concat();
    update_bytes(&[], &attributes, &nlri(ctx.canary))
}

/// A valid announcement of `prefix`, built by `proto`'s UPDATE builder.
pub fn announce(ctx: &Ctx, prefix: Ipv4Net) -> Vec<u8> {
    announcements(&ctx.params, &plain(ctx), &[prefix]).expect("UPDATE")
}
