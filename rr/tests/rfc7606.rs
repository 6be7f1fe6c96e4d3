//! RFC 7606 outcomes carried by decoded UPDATEs: treat-as-withdraw removes what the UPDATE
//! announces, AFI/SAFI disable removes the family's routes from the neighbor and ignores the
//! family for the rest of the session. The malformed UPDATEs are real wire bytes decoded by
//! `proto`.

mod common;

use bytes::Bytes;
use common::*;
use proto::update::{Action, Update};
use proto::SessionParams;

/// Decodes an UPDATE body as received from external neighbor 2, checking the RFC 7606 action
/// `proto` assigns.
fn decode(body: &'static [u8], action: Action) -> Update {
    let params = SessionParams {
        four_octet_as: true,
        ..SessionParams::plain(true)
    };
    let update = Update::decode(&Bytes::from_static(body), &params).expect("recoverable");
    assert_eq!(
        update.strongest_action(),
        Some(action),
        "{:?}",
        update.errors
    );
    update
}

/// Internal neighbor 1 and external neighbor 2 up; then `steps`.
fn check(steps: Steps<'_>) {
    let mut lab = Lab::new(config());
    lab.up(&Neighbor::ibgp(1, "10.0.0.1"));
    lab.up(&Neighbor::ebgp(2, 65001, "172.16.0.1"));
    run_steps(&mut lab, steps);
}

/// RFC 7606 §7.1: an invalid ORIGIN makes the UPDATE treat-as-withdraw.
#[test]
fn treat_as_withdraw_removes_the_announced_routes() {
    let invalid_origin = decode(
        &[
            0x00, 0x00, // no withdrawn routes
            0x00, 0x14, // 20 octets of path attributes
            0x40, 0x01, 0x01, 0x07, // ORIGIN 7 (invalid)
            0x40, 0x02, 0x06, // AS_PATH, 6 octets
            0x02, 0x01, 0x00, 0x00, 0xfd, 0xe9, // AS_SEQUENCE of 1: 65001
            0x40, 0x03, 0x04, 0xac, 0x10, 0x00, 0x01, // NEXT_HOP 172.16.0.1
            0x18, 0xc6, 0x33, 0x64, // NLRI 198.51.100.0/24
        ],
        Action::TreatAsWithdraw,
    );
    check(&[
        (
            update(
                2,
                announce(&["198.51.100.0/24"], "172.16.0.1", path(&[65001])),
            ),
            &[
                "fib 198.51.100.0/24 -> 172.16.0.1",
                "1: + 198.51.100.0/24 via 172.16.0.1 path [65001] lp 100",
                "2: + 198.51.100.0/24 via 10.0.0.254 path [64512 65001]",
            ],
        ),
        (
            update(2, invalid_origin),
            &[
                "fib 198.51.100.0/24 delete",
                "1: - 198.51.100.0/24",
                "2: - 198.51.100.0/24",
            ],
        ),
    ]);
}

/// RFC 7606 §7.11: an MP_REACH_NLRI next hop of a length IPv6 does not allow disables IPv6
/// unicast for the session; IPv4 goes on.
#[test]
fn afi_safi_disable_removes_the_family() {
    let bad_next_hop = decode(
        &[
            0x00, 0x00, // no withdrawn routes
            0x00, 0x1f, // 31 octets of path attributes
            0x80, 0x0e, 0x0f, // MP_REACH_NLRI, 15 octets
            0x00, 0x02, 0x01, // AFI IPv6, SAFI unicast
            0x05, // next hop length 5 (IPv6 allows 16 or 32)
            0xfd, 0x00, 0x00, 0x00, 0x01, // next hop
            0x00, // reserved
            0x20, 0xfd, 0x00, 0x00, 0x01, // NLRI fd00:1::/32
            0x40, 0x01, 0x01, 0x00, // ORIGIN IGP
            0x40, 0x02, 0x06, // AS_PATH, 6 octets
            0x02, 0x01, 0x00, 0x00, 0xfd, 0xe9, // AS_SEQUENCE of 1: 65001
        ],
        Action::AfiSafiDisable,
    );
    check(&[
        (
            update(2, announce(&["fd00:2::/64"], "fd00::2", path(&[65001]))),
            &[
                "fib fd00:2::/64 -> fd00::2",
                "1: + fd00:2::/64 via fd00::2 path [65001] lp 100",
                "2: + fd00:2::/64 via fd00::254 path [64512 65001]",
            ],
        ),
        (
            update(2, bad_next_hop),
            &[
                "disable 2 ipv6-unicast",
                "fib fd00:2::/64 delete",
                "1: - fd00:2::/64",
                "2: - fd00:2::/64",
            ],
        ),
        (
            update(2, announce(&["fd00:3::/64"], "fd00::2", path(&[65001]))),
            &[],
        ),
        (
            update(
                2,
                announce(&["198.51.100.0/24"], "172.16.0.1", path(&[65001])),
            ),
            &[
                "fib 198.51.100.0/24 -> 172.16.0.1",
                "1: + 198.51.100.0/24 via 172.16.0.1 path [65001] lp 100",
                "2: + 198.51.100.0/24 via 10.0.0.254 path [64512 65001]",
            ],
        ),
    ]);
}
