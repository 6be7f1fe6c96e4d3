//! Properties of the message level (design invariants 4 and 5):
//! - every OPEN, ROUTE-REFRESH, NOTIFICATION and KEEPALIVE the encoder accepts decodes back
//!   to itself, through `split_frame` too;
//! - an encoder refusal leaves the output untouched;
//! - any octets through `split_frame` and `Message::decode` never panic, and whatever decodes
//!   re-encodes to something that decodes the same.

use bytes::{BufMut, Bytes, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;
use proto::capability::{
    AddPathFamily, AddPathMode, Capability, CapabilityCode, ExtendedNextHop, Fqdn, GracefulRestart,
    GracefulRestartFamily, LongLivedGracefulRestartFamily,
};
use proto::header::{split_frame, MessageType, HEADER_LEN, MARKER};
use proto::message::Message;
use proto::notification::{ErrorCode, Notification};
use proto::open::{HoldTime, Open};
use proto::params::MAX_MESSAGE_LEN;
use proto::route_refresh::{RouteRefresh, RouteRefreshSubtype};
use proto::{Afi, Asn, EncodeError, RouterId, Safi, SessionParams};

fn afi() -> impl Strategy<Value = Afi> {
    any::<u16>().prop_map(Afi)
}

fn safi() -> impl Strategy<Value = Safi> {
    any::<u8>().prop_map(Safi)
}

/// Every capability the encoder can write within its 255-octet value.
fn capability() -> impl Strategy<Value = Capability> {
    prop_oneof![
        (afi(), safi()).prop_map(|(afi, safi)| Capability::Multiprotocol { afi, safi }),
        Just(Capability::RouteRefresh),
        Just(Capability::ExtendedMessage),
        Just(Capability::EnhancedRouteRefresh),
        vec((afi(), safi(), afi()), 0..=42).prop_map(|tuples| {
            Capability::ExtendedNextHop(
                tuples
                    .into_iter()
                    .map(|(nlri_afi, nlri_safi, next_hop_afi)| ExtendedNextHop {
                        nlri_afi,
                        nlri_safi,
                        next_hop_afi,
                    })
                    .collect(),
            )
        }),
        (
            any::<bool>(),
            any::<bool>(),
            0..=0x0fffu16,
            vec((afi(), safi(), any::<bool>()), 0..=63)
        )
            .prop_map(|(restart_state, notification, restart_time, families)| {
                Capability::GracefulRestart(GracefulRestart {
                    restart_state,
                    notification,
                    restart_time,
                    families: families
                        .into_iter()
                        .map(|(afi, safi, forwarding_preserved)| GracefulRestartFamily {
                            afi,
                            safi,
                            forwarding_preserved,
                        })
                        .collect(),
                })
            }),
        any::<u32>().prop_map(|asn| Capability::FourOctetAs(Asn(asn))),
        vec((afi(), safi(), any::<u8>()), 0..=63).prop_map(|families| {
            Capability::AddPath(
                families
                    .into_iter()
                    .map(|(afi, safi, mode)| AddPathFamily {
                        afi,
                        safi,
                        mode: AddPathMode::from_wire(mode),
                    })
                    .collect(),
            )
        }),
        vec((afi(), safi(), any::<bool>(), 0..=0x00ff_ffffu32), 0..=36).prop_map(|families| {
            Capability::LongLivedGracefulRestart(
                families
                    .into_iter()
                    .map(|(afi, safi, forwarding_preserved, stale_time)| {
                        LongLivedGracefulRestartFamily {
                            afi,
                            safi,
                            forwarding_preserved,
                            stale_time,
                        }
                    })
                    .collect(),
            )
        }),
        (vec(any::<u8>(), 0..=126), vec(any::<u8>(), 0..=126)).prop_map(
            |(hostname, domain_name)| Capability::Fqdn(Fqdn {
                hostname: hostname.into(),
                domain_name: domain_name.into(),
            })
        ),
        (
            any::<u8>().prop_filter("a code no variant names", |code| matches!(
                CapabilityCode::from_wire(*code),
                CapabilityCode::Unknown(_)
            )),
            vec(any::<u8>(), 0..=255)
        )
            .prop_map(|(code, value)| Capability::Unknown {
                code,
                value: value.into(),
            }),
    ]
}

/// OPENs of up to 12 capabilities: at most 12 × 257 octets, within 4096 with the header,
/// and often over 255 so that the RFC 9072 form is exercised.
fn open() -> impl Strategy<Value = Open> {
    (
        any::<u16>(),
        any::<u16>(),
        any::<u32>(),
        vec(capability(), 0..=12),
    )
        .prop_map(|(my_as, hold_time, identifier, capabilities)| Open {
            my_as: Asn(u32::from(my_as)),
            hold_time: HoldTime(hold_time),
            bgp_identifier: RouterId(identifier.into()),
            capabilities,
        })
}

fn route_refresh() -> impl Strategy<Value = RouteRefresh> {
    (afi(), any::<u8>(), safi()).prop_map(|(afi, subtype, safi)| RouteRefresh {
        afi,
        subtype: RouteRefreshSubtype::from_wire(subtype),
        safi,
    })
}

/// NOTIFICATIONs with codes as they come off the wire (so that `Unknown` never stands for a
/// named code) and data up to the largest plain message.
fn notification() -> impl Strategy<Value = Notification> {
    (
        any::<u8>(),
        any::<u8>(),
        vec(any::<u8>(), 0..=MAX_MESSAGE_LEN - HEADER_LEN - 2),
    )
        .prop_map(|(code, subcode, data)| {
            Notification::with_data(ErrorCode::from_wire(code, subcode), data)
        })
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        open().prop_map(Message::Open),
        route_refresh().prop_map(Message::RouteRefresh),
        notification().prop_map(Message::Notification),
        Just(Message::Keepalive),
    ]
}

fn params() -> impl Strategy<Value = SessionParams> {
    any::<bool>().prop_map(|extended_message| SessionParams {
        extended_message,
        ..SessionParams::plain(false)
    })
}

/// A header for `message_type` announcing `body_len` more octets, then the body.
fn framed(message_type: u8, body: &[u8]) -> Bytes {
    let mut frame = BytesMut::new();
    frame.put_slice(&MARKER);
    frame.put_u16(u16::try_from(HEADER_LEN + body.len()).expect("small body"));
    frame.put_u8(message_type);
    frame.put_slice(body);
    frame.freeze()
}

/// Decodes every frame `split_frame` cuts from `octets`; re-encodes what decodes (except
/// UPDATE, whose codec has its own tests) and checks it decodes to the same message.
fn decode_all(octets: &[u8], params: &SessionParams) -> Result<(), TestCaseError> {
    let mut buffer = BytesMut::from(octets);
    // Each frame consumes at least 19 octets, so the loop ends.
    while let Ok(Some(frame)) = split_frame(&mut buffer, params.max_message_len()) {
        let Ok(message) = Message::decode(&frame, params) else {
            continue;
        };
        if message.message_type() == MessageType::Update {
            continue;
        }
        let mut out = BytesMut::new();
        message
            .encode(params, &mut out)
            .map_err(|e| TestCaseError::fail(format!("re-encoding {message:?}: {e}")))?;
        prop_assert_eq!(Message::decode(&out.freeze(), params), Ok(message));
    }
    Ok(())
}

proptest! {
    #[test]
    fn encoded_messages_decode_to_themselves(message in message(), params in params()) {
        let mut out = BytesMut::new();
        message.encode(&params, &mut out).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut stream = out.clone();
        let frame = out.freeze();
        prop_assert_eq!(
            split_frame(&mut stream, params.max_message_len()),
            Ok(Some(frame.clone()))
        );
        prop_assert!(stream.is_empty());
        prop_assert_eq!(Message::decode(&frame, &params), Ok(message));
    }

    #[test]
    fn oversize_notification_is_refused_and_output_kept(
        data_len in 4000..=4200usize,
        params in params(),
    ) {
        let message = Message::Notification(Notification::with_data(
            ErrorCode::from_wire(6, 2),
            vec![0x61; data_len],
        ));
        let mut out = BytesMut::from(&b"prior"[..]);
        let result = message.encode(&params, &mut out);
        let length = HEADER_LEN + 2 + data_len;
        if length > params.max_message_len() {
            prop_assert_eq!(
                result,
                Err(EncodeError::TooLarge { length, max: params.max_message_len() })
            );
            prop_assert_eq!(&out[..], b"prior");
        } else {
            prop_assert_eq!(result, Ok(()));
            prop_assert_eq!(out.len(), 5 + length);
        }
    }

    #[test]
    fn arbitrary_octets_never_panic(
        octets in vec(any::<u8>(), 0..600),
        params in params(),
    ) {
        decode_all(&octets, &params)?;
    }

    #[test]
    fn arbitrary_bodies_behind_valid_headers_never_panic(
        message_type in 0..=6u8,
        body in vec(any::<u8>(), 0..400),
        params in params(),
    ) {
        decode_all(&framed(message_type, &body), &params)?;
    }

    #[test]
    fn arbitrary_optional_parameters_never_panic(
        version_4 in any::<bool>(),
        parameters in vec(any::<u8>(), 0..300),
        params in params(),
    ) {
        // Version, my AS, hold time, identifier, then the parameters octets as they come,
        // their first octet standing for the Optional Parameters Length.
        let mut body = vec![if version_4 { 4 } else { 3 }, 0xfd, 0xe8, 0, 90, 192, 0, 2, 1];
        body.extend_from_slice(&parameters);
        if body.len() < 10 {
            body.push(0);
        }
        decode_all(&framed(MessageType::Open.to_wire(), &body), &params)?;
    }

    #[test]
    fn mutated_opens_never_panic(
        open in open(),
        position in any::<prop::sample::Index>(),
        octet in any::<u8>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let params = SessionParams::plain(false);
        let mut out = BytesMut::new();
        Message::Open(open).encode(&params, &mut out)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut body = out[HEADER_LEN..].to_vec();
        let index = position.index(body.len());
        body[index] = octet;
        body.truncate(cut.index(body.len() + 1));
        decode_all(&framed(MessageType::Open.to_wire(), &body), &params)?;
    }
}
