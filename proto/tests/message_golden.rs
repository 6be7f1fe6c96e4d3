//! Golden vectors for the message level of the wire format: framing errors (RFC 4271 §6.1),
//! OPEN with capabilities (RFC 4271 §4.2, RFC 5492, RFC 9072), NOTIFICATION, KEEPALIVE and
//! ROUTE-REFRESH (RFC 2918, RFC 7313). Each vector is a whole message in grouped hex with a
//! comment per field, checked through [`check`] on both the stream path (`split_frame`) and
//! `Message::decode`.

use bytes::{Bytes, BytesMut};
use proto::capability::{
    AddPathFamily, AddPathMode, Capability, CapabilityCode, ExtendedNextHop, Fqdn, GracefulRestart,
    GracefulRestartFamily, LongLivedGracefulRestartFamily,
};
use proto::header::{split_frame, MessageType};
use proto::message::Message;
use proto::notification::{CeaseError, ErrorCode, Notification};
use proto::open::{HoldTime, Open};
use proto::route_refresh::{RouteRefresh, RouteRefreshSubtype};
use proto::{Afi, Asn, RouterId, Safi, SessionParams};

/// The 16-octet all-ones marker, for `concat!`.
macro_rules! marker {
    () => {
        "ffffffff ffffffff ffffffff ffffffff"
    };
}

/// What a vector must do.
enum Expect {
    /// Decodes to this message, which encodes back to the very same octets.
    RoundTrip(Message),
    /// Decodes to this message (the encoder writes it differently).
    Decodes(Message),
    /// Decodes to a message of this type (its body belongs to another module's tests).
    Type(MessageType),
    /// Fails; the hex is the NOTIFICATION body to send: code, subcode, data.
    Notification(&'static str),
}

/// Decodes `frame` (hex) both as a stream would (`split_frame`, then `Message::decode`) and
/// directly, and checks both against `expect`.
fn check(name: &str, params: SessionParams, frame: &str, expect: Expect) {
    let frame = hex(frame);
    let direct = Message::decode(&frame, &params);
    let mut stream = BytesMut::from(&frame[..]);
    let streamed = match split_frame(&mut stream, params.max_message_len()) {
        Ok(Some(cut)) => {
            assert_eq!(cut, frame, "{name}: split_frame must cut the whole vector");
            assert!(stream.is_empty(), "{name}: octets left after the frame");
            Message::decode(&cut, &params)
        }
        Ok(None) => panic!("{name}: split_frame wants more than the whole vector"),
        Err(error) => Err(error),
    };
    assert_eq!(
        direct, streamed,
        "{name}: stream and direct decoding differ"
    );
    match expect {
        Expect::RoundTrip(expected) => {
            assert_eq!(direct, Ok(expected.clone()), "{name}: decoded");
            let mut out = BytesMut::new();
            expected.encode(&params, &mut out).expect(name);
            assert_eq!(out.freeze(), frame, "{name}: re-encoded");
        }
        Expect::Decodes(expected) => assert_eq!(direct, Ok(expected), "{name}: decoded"),
        Expect::Type(message_type) => {
            let message = direct.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(message.message_type(), message_type, "{name}");
        }
        Expect::Notification(body) => {
            let error = direct.expect_err(name);
            let mut sent = BytesMut::new();
            error.notification().encode_body(&mut sent);
            assert_eq!(sent.freeze(), hex(body), "{name}: {error}");
        }
    }
}

fn plain() -> SessionParams {
    SessionParams::plain(false)
}

fn extended() -> SessionParams {
    SessionParams {
        extended_message: true,
        ..SessionParams::plain(false)
    }
}

/// Hex octets; whitespace is ignored.
fn hex(text: &str) -> Bytes {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let pairs = digits.chunks_exact(2);
    assert!(
        pairs.remainder().is_empty(),
        "odd hex digit count in {text:?}"
    );
    pairs
        .map(|pair| {
            let pair = std::str::from_utf8(pair).expect("ASCII");
            u8::from_str_radix(pair, 16).unwrap_or_else(|_| panic!("bad hex {pair:?}"))
        })
        .collect::<Vec<u8>>()
        .into()
}

fn router_id(text: &str) -> RouterId {
    RouterId(text.parse().expect("IPv4 address"))
}

fn open(my_as: u32, capabilities: Vec<Capability>) -> Message {
    Message::Open(Open {
        my_as: Asn(my_as),
        hold_time: HoldTime(180),
        bgp_identifier: router_id("192.0.2.1"),
        capabilities,
    })
}

fn multiprotocol(afi: Afi) -> Capability {
    Capability::Multiprotocol {
        afi,
        safi: Safi::UNICAST,
    }
}

fn every_capability() -> Vec<Capability> {
    vec![
        multiprotocol(Afi::IPV4),
        multiprotocol(Afi::IPV6),
        Capability::RouteRefresh,
        Capability::ExtendedNextHop(vec![ExtendedNextHop {
            nlri_afi: Afi::IPV4,
            nlri_safi: Safi::UNICAST,
            next_hop_afi: Afi::IPV6,
        }]),
        Capability::ExtendedMessage,
        Capability::GracefulRestart(GracefulRestart {
            restart_state: true,
            notification: true,
            restart_time: 120,
            families: vec![
                GracefulRestartFamily {
                    afi: Afi::IPV4,
                    safi: Safi::UNICAST,
                    forwarding_preserved: true,
                },
                GracefulRestartFamily {
                    afi: Afi::IPV6,
                    safi: Safi::UNICAST,
                    forwarding_preserved: false,
                },
            ],
        }),
        Capability::FourOctetAs(Asn(4_200_000_000)),
        Capability::AddPath(vec![
            AddPathFamily {
                afi: Afi::IPV4,
                safi: Safi::UNICAST,
                mode: AddPathMode::Both,
            },
            AddPathFamily {
                afi: Afi::IPV6,
                safi: Safi::UNICAST,
                mode: AddPathMode::Receive,
            },
        ]),
        Capability::EnhancedRouteRefresh,
        Capability::LongLivedGracefulRestart(vec![LongLivedGracefulRestartFamily {
            afi: Afi::IPV4,
            safi: Safi::UNICAST,
            forwarding_preserved: true,
            stale_time: 3600,
        }]),
        Capability::Fqdn(Fqdn {
            hostname: Bytes::from_static(b"node1"),
            domain_name: Bytes::from_static(b"lab"),
        }),
        Capability::Unknown {
            code: 128,
            value: Bytes::from_static(&[1, 2, 3]),
        },
    ]
}

#[test]
fn open_with_every_capability() {
    check(
        "OPEN with every capability",
        plain(),
        concat!(
            marker!(),
            "006f",                 // length 111
            "01",                   // OPEN
            "04",                   // version 4
            "5ba0",                 // my AS: AS_TRANS 23456
            "00b4",                 // hold time 180
            "c0000201",             // BGP identifier 192.0.2.1
            "52",                   // optional parameters length 82
            "02 50",                // Capabilities, 80 octets
            "01 04 0001 00 01",     // multiprotocol IPv4 unicast (reserved octet 0)
            "01 04 0002 00 01",     // multiprotocol IPv6 unicast
            "02 00",                // route refresh
            "05 06 0001 0001 0002", // extended next hop: IPv4 unicast via IPv6
            "06 00",                // extended message
            "40 0a",                // graceful restart, 10 octets
            "c078",                 //   R and N set, restart time 120
            "0001 01 80",           //   IPv4 unicast, forwarding preserved
            "0002 01 00",           //   IPv6 unicast
            "41 04 fa56ea00",       // 4-octet AS 4200000000
            "45 08",                // ADD-PATH, 8 octets
            "0001 01 03",           //   IPv4 unicast, send and receive
            "0002 01 01",           //   IPv6 unicast, receive
            "46 00",                // enhanced route refresh
            "47 07",                // long-lived graceful restart, 7 octets
            "0001 01 80 000e10",    //   IPv4 unicast, forwarding preserved, stale time 3600
            "49 0a",                // FQDN, 10 octets
            "05 6e6f646531",        //   hostname "node1"
            "03 6c6162",            //   domain name "lab"
            "80 03 010203",         // unknown capability 128, 3 octets
        ),
        Expect::RoundTrip(open(23456, every_capability())),
    );
}

#[test]
fn open_helpers_read_the_capabilities() {
    let Message::Open(open) = open(23456, every_capability()) else {
        unreachable!("built as an OPEN")
    };
    assert_eq!(open.peer_asn(), Asn(4_200_000_000));
    assert!(open.has_capability(CapabilityCode::EnhancedRouteRefresh));
    assert!(!open.has_capability(CapabilityCode::Unknown(129)));
    assert_eq!(
        open.multiprotocol().collect::<Vec<_>>(),
        vec![(Afi::IPV4, Safi::UNICAST), (Afi::IPV6, Safi::UNICAST)]
    );
    assert_eq!(open.add_path().filter(|f| f.mode.sends()).count(), 1);
    assert_eq!(open.extended_next_hop().count(), 1);
    assert_eq!(open.graceful_restart().map(|g| g.restart_time), Some(120));
    assert_eq!(open.long_lived_graceful_restart().map(<[_]>::len), Some(1));
    assert_eq!(open.fqdn().and_then(Fqdn::hostname_str), Some("node1"));

    let two_octet = Open::new(Asn(65000), HoldTime(90), router_id("192.0.2.2"), vec![]);
    assert_eq!(two_octet.peer_asn(), Asn(65000));
    let four_octet = Open::new(
        Asn(4_200_000_000),
        HoldTime(90),
        router_id("192.0.2.2"),
        vec![],
    );
    assert_eq!(four_octet.my_as, Asn::TRANS);
}

#[test]
fn open_forms() {
    check(
        "OPEN without optional parameters",
        plain(),
        concat!(
            marker!(),
            "001d",     // length 29
            "01",       // OPEN
            "04",       // version 4
            "fde8",     // my AS 65000
            "00b4",     // hold time 180
            "c0000201", // BGP identifier 192.0.2.1
            "00",       // no optional parameters
        ),
        Expect::RoundTrip(open(65000, vec![])),
    );
    check(
        "OPEN in the RFC 9072 form although it would fit the RFC 4271 one",
        plain(),
        concat!(
            marker!(),
            "0029",             // length 41
            "01",               // OPEN
            "04",               // version 4
            "fde8",             // my AS 65000
            "00b4",             // hold time 180
            "c0000201",         // BGP identifier 192.0.2.1
            "ff",               // Non-Ext OP Len (ignored)
            "ff",               // Non-Ext OP Type 255: extended form
            "0009",             // Extended Opt. Parm. Length 9
            "02 0006",          // Capabilities, 2-octet length 6
            "01 04 0001 00 01", // multiprotocol IPv4 unicast
        ),
        Expect::Decodes(open(65000, vec![multiprotocol(Afi::IPV4)])),
    );
    check(
        "OPEN in the RFC 9072 form with a Non-Ext OP Len other than 255",
        plain(),
        concat!(
            marker!(),
            "0029",             // length 41
            "01",               // OPEN
            "04",               // version 4
            "fde8",             // my AS 65000
            "00b4",             // hold time 180
            "c0000201",         // BGP identifier 192.0.2.1
            "01",               // Non-Ext OP Len: non-zero, otherwise ignored
            "ff",               // Non-Ext OP Type 255: extended form
            "0009",             // Extended Opt. Parm. Length 9
            "02 0006",          // Capabilities, 2-octet length 6
            "01 04 0001 00 01", // multiprotocol IPv4 unicast
        ),
        Expect::Decodes(open(65000, vec![multiprotocol(Afi::IPV4)])),
    );
    check(
        "OPEN with one Capabilities parameter per capability (Quagga/FRR style)",
        plain(),
        concat!(
            marker!(),
            "0031",                   // length 49
            "01",                     // OPEN
            "04",                     // version 4
            "fde8",                   // my AS 65000
            "00b4",                   // hold time 180
            "c0000201",               // BGP identifier 192.0.2.1
            "14",                     // optional parameters length 20
            "02 06 01 04 0001 00 01", // Capabilities: multiprotocol IPv4 unicast
            "02 02 02 00",            // Capabilities: route refresh
            "02 06 41 04 0000fde8",   // Capabilities: 4-octet AS 65000
        ),
        Expect::Decodes(open(
            65000,
            vec![
                multiprotocol(Afi::IPV4),
                Capability::RouteRefresh,
                Capability::FourOctetAs(Asn(65000)),
            ],
        )),
    );
    check(
        "multiprotocol reserved octet is ignored",
        plain(),
        concat!(
            marker!(),
            "0025",             // length 37
            "01",               // OPEN
            "04",               // version 4
            "fde8",             // my AS 65000
            "00b4",             // hold time 180
            "c0000201",         // BGP identifier 192.0.2.1
            "08",               // optional parameters length 8
            "02 06",            // Capabilities, 6 octets
            "01 04 0002 ff 01", // multiprotocol IPv6, reserved 0xff, unicast
        ),
        Expect::Decodes(open(65000, vec![multiprotocol(Afi::IPV6)])),
    );
    check(
        "FQDN octets after the domain name are ignored",
        plain(),
        concat!(
            marker!(),
            "0026",     // length 38
            "01",       // OPEN
            "04",       // version 4
            "fde8",     // my AS 65000
            "00b4",     // hold time 180
            "c0000201", // BGP identifier 192.0.2.1
            "09",       // optional parameters length 9
            "02 07",    // Capabilities, 7 octets
            "49 05",    // FQDN, 5 octets
            "01 61",    //   hostname "a"
            "01 62",    //   domain name "b"
            "00",       //   trailing octet
        ),
        Expect::Decodes(open(
            65000,
            vec![Capability::Fqdn(Fqdn {
                hostname: Bytes::from_static(b"a"),
                domain_name: Bytes::from_static(b"b"),
            })],
        )),
    );
}

#[test]
fn open_needing_the_extended_form() {
    let unknown_value = "aa".repeat(253);
    let frame = [
        marker!(),
        "0128",             // length 296
        "01",               // OPEN
        "04",               // version 4
        "fde8",             // my AS 65000
        "00b4",             // hold time 180
        "c0000201",         // BGP identifier 192.0.2.1
        "ff",               // Non-Ext OP Len 255
        "ff",               // Non-Ext OP Type 255: extended form
        "0108",             // Extended Opt. Parm. Length 264
        "02 0105",          // Capabilities, 2-octet length 261
        "01 04 0001 00 01", // multiprotocol IPv4 unicast
        "81 fd",            // unknown capability 129, 253 octets
        &unknown_value,
    ]
    .concat();
    check(
        "OPEN whose capabilities exceed 255 octets",
        plain(),
        &frame,
        Expect::RoundTrip(open(
            65000,
            vec![
                multiprotocol(Afi::IPV4),
                Capability::Unknown {
                    code: 129,
                    value: vec![0xaa; 253].into(),
                },
            ],
        )),
    );
}

#[test]
fn open_errors() {
    check(
        "version 3",
        plain(),
        concat!(
            marker!(),
            "001d",     // length 29
            "01",       // OPEN
            "03",       // version 3
            "fde8",     // my AS 65000
            "00b4",     // hold time 180
            "c0000201", // BGP identifier 192.0.2.1
            "00",       // no optional parameters
        ),
        Expect::Notification("02 01 0004"), // Unsupported Version Number, we speak 4
    );
    check(
        "authentication parameter",
        plain(),
        concat!(
            marker!(),
            "0020",     // length 32
            "01",       // OPEN
            "04",       // version 4
            "fde8",     // my AS 65000
            "00b4",     // hold time 180
            "c0000201", // BGP identifier 192.0.2.1
            "03",       // optional parameters length 3
            "01 01 00", // Authentication (type 1), 1 octet
        ),
        Expect::Notification("02 04"), // Unsupported Optional Parameter
    );
    check(
        "optional parameters length beyond the message",
        plain(),
        concat!(
            marker!(),
            "0021",        // length 33
            "01",          // OPEN
            "04",          // version 4
            "fde8",        // my AS 65000
            "00b4",        // hold time 180
            "c0000201",    // BGP identifier 192.0.2.1
            "08",          // optional parameters length 8, but 4 octets follow
            "02 02 02 00", // Capabilities: route refresh
        ),
        Expect::Notification("02 00"), // OPEN Message Error / Unspecific
    );
    check(
        "octets after the optional parameters",
        plain(),
        concat!(
            marker!(),
            "001f",     // length 31
            "01",       // OPEN
            "04",       // version 4
            "fde8",     // my AS 65000
            "00b4",     // hold time 180
            "c0000201", // BGP identifier 192.0.2.1
            "00",       // no optional parameters
            "02 00",    // ...yet two more octets
        ),
        Expect::Notification("02 00"), // OPEN Message Error / Unspecific
    );
    check(
        "parameter overruns the optional parameters",
        plain(),
        concat!(
            marker!(),
            "0021",        // length 33
            "01",          // OPEN
            "04",          // version 4
            "fde8",        // my AS 65000
            "00b4",        // hold time 180
            "c0000201",    // BGP identifier 192.0.2.1
            "04",          // optional parameters length 4
            "02 05 02 00", // Capabilities claiming 5 octets, 2 present
        ),
        Expect::Notification("02 00"), // OPEN Message Error / Unspecific
    );
    check(
        "capability overruns its parameter",
        plain(),
        concat!(
            marker!(),
            "0021",     // length 33
            "01",       // OPEN
            "04",       // version 4
            "fde8",     // my AS 65000
            "00b4",     // hold time 180
            "c0000201", // BGP identifier 192.0.2.1
            "04",       // optional parameters length 4
            "02 02",    // Capabilities, 2 octets
            "01 04",    // multiprotocol claiming 4 octets, none present
        ),
        Expect::Notification("02 00"), // OPEN Message Error / Unspecific
    );
    check(
        "RFC 9072 length beyond the message",
        plain(),
        concat!(
            marker!(),
            "0029",                     // length 41
            "01",                       // OPEN
            "04",                       // version 4
            "fde8",                     // my AS 65000
            "00b4",                     // hold time 180
            "c0000201",                 // BGP identifier 192.0.2.1
            "ff ff",                    // extended form
            "0010",                     // Extended Opt. Parm. Length 16, but 9 octets follow
            "02 0006 01 04 0001 00 01", // Capabilities: multiprotocol IPv4 unicast
        ),
        Expect::Notification("02 00"), // OPEN Message Error / Unspecific
    );
    check(
        "RFC 9072 form cut after the Non-Ext OP Type",
        plain(),
        concat!(
            marker!(),
            "001e",     // length 30
            "01",       // OPEN
            "04",       // version 4
            "fde8",     // my AS 65000
            "00b4",     // hold time 180
            "c0000201", // BGP identifier 192.0.2.1
            "ff ff",    // extended form, no Extended Opt. Parm. Length
        ),
        Expect::Notification("02 00"), // OPEN Message Error / Unspecific
    );
}

#[test]
fn malformed_capabilities() {
    // Each OPEN carries one Capabilities parameter with one malformed capability; all are
    // OPEN Message Error / Unspecific (RFC 4271 §6.2: recognized but malformed).
    let cases = [
        ("multiprotocol of 5 octets", "02 07 01 05 0001 00 01 00"),
        ("route refresh with a value", "02 03 02 01 00"),
        ("extended next hop of 4 octets", "02 06 05 04 0001 0001"),
        ("extended message with a value", "02 03 06 01 00"),
        ("graceful restart of 3 octets", "02 05 40 03 0078 00"),
        ("graceful restart without flags", "02 02 40 00"),
        ("4-octet AS of 2 octets", "02 04 41 02 fde8"),
        ("ADD-PATH of 3 octets", "02 05 45 03 0001 01"),
        ("enhanced route refresh with a value", "02 03 46 01 00"),
        (
            "long-lived graceful restart of 6 octets",
            "02 08 47 06 0001 01 80 0000",
        ),
        ("FQDN hostname beyond the value", "02 05 49 03 05 61 62"),
        ("FQDN without domain name length", "02 04 49 02 01 61"),
        ("capability header cut", "02 01 01"),
    ];
    for (name, parameter) in cases {
        let parameter = hex(parameter);
        let length = 29 + parameter.len();
        let frame = format!(
            "{marker} {length:04x} 01 04 fde8 00b4 c0000201 {parameters_len:02x} {parameter}",
            marker = marker!(),
            parameters_len = parameter.len(),
            parameter = parameter
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
        );
        check(name, plain(), &frame, Expect::Notification("02 00"));
    }
}

#[test]
fn unknown_add_path_mode_and_wide_safi_are_kept_or_skipped() {
    check(
        "ADD-PATH mode 7 is kept; extended next hop SAFI 0x0101 is skipped",
        plain(),
        concat!(
            marker!(),
            "0039",             // length 57
            "01",               // OPEN
            "04",               // version 4
            "fde8",             // my AS 65000
            "00b4",             // hold time 180
            "c0000201",         // BGP identifier 192.0.2.1
            "1c",               // optional parameters length 28
            "02 1a",            // Capabilities, 26 octets
            "45 04 0001 01 07", // ADD-PATH IPv4 unicast, mode 7
            "05 0c",            // extended next hop, 12 octets
            "0001 0101 0002",   //   IPv4, SAFI 257 (not a SAFI), via IPv6
            "0001 0001 0002",   //   IPv4 unicast via IPv6
            "41 04 0000fde8",   // 4-octet AS 65000
        ),
        Expect::Decodes(open(
            65000,
            vec![
                Capability::AddPath(vec![AddPathFamily {
                    afi: Afi::IPV4,
                    safi: Safi::UNICAST,
                    mode: AddPathMode::Unknown(7),
                }]),
                Capability::ExtendedNextHop(vec![ExtendedNextHop {
                    nlri_afi: Afi::IPV4,
                    nlri_safi: Safi::UNICAST,
                    next_hop_afi: Afi::IPV6,
                }]),
                Capability::FourOctetAs(Asn(65000)),
            ],
        )),
    );
}

#[test]
fn framing_errors() {
    check(
        "marker with a zero octet",
        plain(),
        concat!(
            "ffffffff ffffffff ffffffff ffffff00", // marker, last octet wrong
            "0013",                                // length 19
            "04",                                  // KEEPALIVE
        ),
        Expect::Notification("01 01"), // Connection Not Synchronized
    );
    check(
        "length 18",
        plain(),
        concat!(marker!(), "0012", "04"),   // length 18, KEEPALIVE
        Expect::Notification("01 02 0012"), // Bad Message Length, the length field
    );
    check(
        "length 4097 without extended messages",
        plain(),
        concat!(marker!(), "1001", "02"), // length 4097, UPDATE
        Expect::Notification("01 02 1001"),
    );
    check(
        "OPEN of 4097 octets with extended messages (RFC 8654 §4)",
        extended(),
        concat!(marker!(), "1001", "01"), // length 4097, OPEN
        Expect::Notification("01 02 1001"),
    );
    check(
        "KEEPALIVE of 4097 octets with extended messages (RFC 8654 §4)",
        extended(),
        concat!(marker!(), "1001", "04"), // length 4097, KEEPALIVE
        Expect::Notification("01 02 1001"),
    );
    check(
        "type 6",
        plain(),
        concat!(marker!(), "0013", "06"), // length 19, type 6
        Expect::Notification("01 03 06"), // Bad Message Type, the type field
    );
    check(
        "type 0",
        plain(),
        concat!(marker!(), "0013", "00"), // length 19, type 0
        Expect::Notification("01 03 00"),
    );
    check(
        "unknown type with a bad length: length is checked first",
        plain(),
        concat!(marker!(), "0012", "09"), // length 18, type 9
        Expect::Notification("01 02 0012"),
    );
    check(
        "KEEPALIVE with a body",
        plain(),
        concat!(marker!(), "0014", "04", "00"), // length 20, KEEPALIVE, one octet
        Expect::Notification("01 02 0014"),
    );
    check(
        "OPEN of 28 octets",
        plain(),
        concat!(
            marker!(),
            "001c",                  // length 28
            "01",                    // OPEN
            "04 fde8 00b4 c0000201", // no optional parameters length
        ),
        Expect::Notification("01 02 001c"),
    );
    check(
        "UPDATE of 22 octets",
        plain(),
        concat!(marker!(), "0016", "02", "0000 00"), // length 22, UPDATE, 3 octets
        Expect::Notification("01 02 0016"),
    );
    check(
        "NOTIFICATION of 20 octets",
        plain(),
        concat!(marker!(), "0014", "03", "06"), // length 20, NOTIFICATION, code only
        Expect::Notification("01 02 0014"),
    );
    check(
        "ROUTE-REFRESH of 22 octets",
        plain(),
        concat!(marker!(), "0016", "05", "0001 00"), // length 22, ROUTE-REFRESH, no SAFI
        Expect::Notification("01 02 0016"),
    );
}

#[test]
fn extended_messages_allow_long_updates() {
    let mut frame = hex(concat!(marker!(), "1001", "02")).to_vec(); // length 4097, UPDATE
    frame.resize(4097, 0);
    let mut stream = BytesMut::from(&frame[..]);
    let cut = split_frame(&mut stream, extended().max_message_len());
    assert_eq!(cut, Ok(Some(Bytes::from(frame))));
}

/// A reader frames up to the extended size before the session has negotiated anything; the
/// limit in force is applied by `Message::decode` with the negotiated parameters (RFC 8654
/// §4), so it is the one place the length is judged.
#[test]
fn decoding_applies_the_negotiated_maximum_to_a_whole_frame() {
    let mut frame = hex(concat!(marker!(), "1001", "02", "0000 0000")).to_vec(); // 4097, UPDATE
    frame.resize(4097, 0); // NLRI: default routes (zero-length prefixes)
    let mut stream = BytesMut::from(&frame[..]);
    let cut = split_frame(&mut stream, proto::params::MAX_EXTENDED_MESSAGE_LEN)
        .expect("a valid header")
        .expect("a whole frame");
    let error = Message::decode(&cut, &plain()).expect_err("4097 octets without RFC 8654");
    let mut sent = BytesMut::new();
    error.notification().encode_body(&mut sent);
    assert_eq!(
        sent.freeze(),
        hex("01 02 1001"),
        "Bad Message Length, the length"
    );
    let update = Message::decode(&cut, &extended()).expect("within the extended maximum");
    assert_eq!(update.message_type(), MessageType::Update);
}

#[test]
fn frame_and_length_field_must_agree() {
    let frame = hex(concat!(marker!(), "0013", "04", "00")); // length 19 on 20 octets
    let error = Message::decode(&frame, &plain()).expect_err("mismatch");
    let mut sent = BytesMut::new();
    error.notification().encode_body(&mut sent);
    assert_eq!(sent.freeze(), hex("01 02 0013"));
}

#[test]
fn keepalive_and_notification() {
    check(
        "KEEPALIVE",
        plain(),
        concat!(marker!(), "0013", "04"), // length 19, KEEPALIVE
        Expect::RoundTrip(Message::Keepalive),
    );
    check(
        "NOTIFICATION Hold Timer Expired",
        plain(),
        concat!(marker!(), "0015", "03", "04 00"), // length 21, NOTIFICATION, code 4/0
        Expect::RoundTrip(Message::Notification(Notification::with_data(
            ErrorCode::HoldTimerExpired,
            Bytes::new(),
        ))),
    );
    check(
        "NOTIFICATION Cease / Administrative Shutdown with a communication",
        plain(),
        concat!(
            marker!(),
            "0019",      // length 25
            "03",        // NOTIFICATION
            "06 02",     // Cease / Administrative Shutdown
            "03 627965", // RFC 9003: length 3, "bye"
        ),
        Expect::RoundTrip(Message::Notification(Notification::cease_with_reason(
            CeaseError::AdministrativeShutdown,
            "bye",
        ))),
    );
    check(
        "UPDATE is handed to the UPDATE codec",
        plain(),
        concat!(marker!(), "0017", "02", "0000", "0000"), // length 23, UPDATE, empty
        Expect::Type(MessageType::Update),
    );
}

fn route_refresh(afi: Afi, subtype: RouteRefreshSubtype) -> Message {
    Message::RouteRefresh(RouteRefresh {
        afi,
        subtype,
        safi: Safi::UNICAST,
    })
}

#[test]
fn route_refresh_subtypes() {
    check(
        "normal request",
        plain(),
        concat!(marker!(), "0017", "05", "0001 00 01"), // IPv4, subtype 0, unicast
        Expect::RoundTrip(route_refresh(Afi::IPV4, RouteRefreshSubtype::Normal)),
    );
    check(
        "BoRR",
        plain(),
        concat!(marker!(), "0017", "05", "0002 01 01"), // IPv6, subtype 1, unicast
        Expect::RoundTrip(route_refresh(
            Afi::IPV6,
            RouteRefreshSubtype::BeginningOfRouteRefresh,
        )),
    );
    check(
        "EoRR",
        plain(),
        concat!(marker!(), "0017", "05", "0001 02 01"), // IPv4, subtype 2, unicast
        Expect::RoundTrip(route_refresh(
            Afi::IPV4,
            RouteRefreshSubtype::EndOfRouteRefresh,
        )),
    );
    check(
        "reserved subtype 255 is kept for the session to ignore",
        plain(),
        concat!(marker!(), "0017", "05", "0001 ff 01"), // IPv4, subtype 255, unicast
        Expect::RoundTrip(route_refresh(Afi::IPV4, RouteRefreshSubtype::Unknown(255))),
    );
    check(
        "unknown subtype with extra octets is a length error too (as BIRD)",
        plain(),
        concat!(marker!(), "0019", "05", "0001 07 01", "abcd"), // subtype 7, 2 more octets
        Expect::Notification(concat!("07 01", marker!(), "0019 05 0001 07 01 abcd")),
    );
    check(
        "normal request with RFC 5291 ORF entries: ORF is never negotiated, a length error",
        plain(),
        concat!(
            marker!(),
            "001c",       // length 28
            "05",         // ROUTE-REFRESH
            "0001 00 01", // IPv4, subtype 0, unicast
            "01",         // ORF When-to-refresh: immediate
            "40 0002 00", // ORF type 64, length 2... (cut; never parsed)
        ),
        // ROUTE-REFRESH Message Error / Invalid Message Length, the complete message
        Expect::Notification(concat!(
            "07 01",
            marker!(),
            "001c 05 0001 00 01 01 40 0002 00"
        )),
    );
    check(
        "BoRR with 5 octets",
        plain(),
        concat!(marker!(), "0018", "05", "0001 01 01", "00"), // subtype 1, one more octet
        // ROUTE-REFRESH Message Error / Invalid Message Length, the complete message
        Expect::Notification(concat!("07 01", marker!(), "0018 05 0001 01 01 00")),
    );
    check(
        "EoRR with 6 octets",
        plain(),
        concat!(marker!(), "0019", "05", "0002 02 01", "0000"), // subtype 2, two more
        Expect::Notification(concat!("07 01", marker!(), "0019 05 0002 02 01 0000")),
    );
}
