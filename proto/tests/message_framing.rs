//! Stream framing (RFC 4271 §4.1, §6.1): `split_frame` over a buffer that fills chunk by
//! chunk, as a TCP reader sees it.

use bytes::{Bytes, BytesMut};
use proto::header::split_frame;
use proto::params::MAX_MESSAGE_LEN;

macro_rules! marker {
    () => {
        "ffffffff ffffffff ffffffff ffffffff"
    };
}

/// What `split_frame` reports after a chunk arrives.
#[derive(Debug, PartialEq, Eq)]
enum Event {
    /// A complete message (hex).
    Frame(Bytes),
    /// An error; the hex is the NOTIFICATION body (code, subcode, data).
    Error(Bytes),
}

/// Feeds `chunks` (hex) one at a time, calling `split_frame` until it wants more octets or
/// fails, and compares all events with `expected` (hex frames or NOTIFICATION bodies).
fn check(name: &str, chunks: &[&str], expected: &[Event]) {
    let mut buffer = BytesMut::new();
    let mut events = Vec::new();
    'chunks: for chunk in chunks {
        buffer.extend_from_slice(&hex(chunk));
        loop {
            match split_frame(&mut buffer, MAX_MESSAGE_LEN) {
                Ok(Some(frame)) => events.push(Event::Frame(frame)),
                Ok(None) => break,
                Err(error) => {
                    let mut body = BytesMut::new();
                    error.notification().encode_body(&mut body);
                    events.push(Event::Error(body.freeze()));
                    break 'chunks;
                }
            }
        }
    }
    assert_eq!(events, expected, "{name}");
}

fn frame(text: &str) -> Event {
    Event::Frame(hex(text))
}

fn error(text: &str) -> Event {
    Event::Error(hex(text))
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

const KEEPALIVE: &str = concat!(marker!(), "0013 04"); // length 19, KEEPALIVE
const ROUTE_REFRESH: &str = concat!(marker!(), "0017 05 0001 00 01"); // IPv4 unicast

#[test]
fn whole_messages() {
    check(
        "two messages in one chunk",
        &[&[KEEPALIVE, ROUTE_REFRESH].concat()],
        &[frame(KEEPALIVE), frame(ROUTE_REFRESH)],
    );
    check("nothing yet", &[], &[]);
    check("a marker alone waits", &[marker!()], &[]);
}

#[test]
fn messages_split_across_chunks() {
    check(
        "header cut in the length field",
        &[concat!(marker!(), "00"), "13 04"],
        &[frame(KEEPALIVE)],
    );
    check(
        "body cut",
        &[concat!(marker!(), "0017 05 0001"), "00 01"],
        &[frame(ROUTE_REFRESH)],
    );
    check(
        "second message cut",
        &[concat!(marker!(), "0013 04", "ffff"), &ROUTE_REFRESH[4..]],
        &[frame(KEEPALIVE), frame(ROUTE_REFRESH)],
    );
}

#[test]
fn errors_are_reported_early() {
    check(
        "a wrong marker octet is reported before the header is complete",
        &["ffff 00"],
        &[error("01 01")], // Connection Not Synchronized
    );
    check(
        "a bad header is reported before its body arrives",
        &[concat!(marker!(), "0fff 07")], // length 4095, type 7
        &[error("01 03 07")],             // Bad Message Type
    );
    check(
        "an error after a good message",
        &[&[KEEPALIVE, concat!(marker!(), "0012 04")].concat()], // then length 18
        &[frame(KEEPALIVE), error("01 02 0012")],                // Bad Message Length
    );
}
