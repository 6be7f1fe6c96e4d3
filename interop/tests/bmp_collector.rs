//! The BMP encoder (`bmp`, RFC 7854 and RFC 9069) against a real collector: pmacct's
//! `pmbmpd` listens in a lab namespace, a connection from another host sends it every message
//! Starling will send (Initiation; Peer Up, pre-policy Route Monitoring, Statistics Report and
//! Peer Down of an IPv4 and an IPv6 neighbor; the Loc-RIB's; Termination), and what pmbmpd
//! wrote as JSON is checked field by field against what was encoded.
//!
//! bgpd does not export BMP yet; the UPDATEs here are built by `proto`'s builder, as a
//! neighbor would send them.
//!
//! Run: `cargo test -p interop --test bmp_collector -- --nocapture` (root, pmacct installed).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use bmp::{
    BgpPdu, InformationTlv, Message, PeerDown, PeerDownReason, PeerFlags, PeerHeader, PeerKind,
    PeerUp, SessionEndpoints, Stat, TerminationReason, TerminationTlv, Timestamp,
};
use bytes::Bytes;
use interop::raw_peer::{announcements, ebgp_attributes, standard_open};
use interop::require::PMBMPD;
use interop::{lab_available, wait_until, Host, Lab, RawPeer, Tool, DEFAULT_INTERVAL};
use ipnet::Ipv4Net;
use proto::message::Message as BgpMessage;
use proto::notification::{CeaseError, Notification};
use proto::{AfiSafi, Asn, RouterId, SessionParams};
use serde_json::Value;

const LOCAL_AS: Asn = Asn(64512);
const PEER_AS: Asn = Asn(65001);
const BMP_PORT: u16 = bmp::DEFAULT_PORT;
/// 2025-12-06 05:46:40.000005 UTC, as pmbmpd prints it.
const TIMESTAMP: Timestamp = Timestamp {
    seconds: 1_765_000_000,
    microseconds: 5,
};
const TIMEOUT: Duration = Duration::from_secs(15);

fn four_octet() -> SessionParams {
    SessionParams {
        four_octet_as: true,
        ..SessionParams::plain(true)
    }
}

fn neighbor(address: IpAddr, bgp_id: Ipv4Addr, flags: PeerFlags) -> PeerHeader {
    PeerHeader {
        peer: PeerKind::Global { address, flags },
        asn: PEER_AS,
        bgp_id: RouterId(bgp_id),
        timestamp: TIMESTAMP,
    }
}

fn loc_rib() -> PeerHeader {
    PeerHeader {
        peer: PeerKind::LocRib { filtered: false },
        asn: LOCAL_AS,
        bgp_id: RouterId(Ipv4Addr::new(10, 0, 0, 1)),
        timestamp: TIMESTAMP,
    }
}

fn open(asn: Asn, bgp_id: Ipv4Addr) -> BgpPdu {
    BgpPdu::encode(
        &BgpMessage::Open(standard_open(asn, bgp_id, 90)),
        &SessionParams::default(),
    )
    .expect("OPEN")
}

/// An UPDATE announcing `prefix` via `next_hop`, as a neighbor in PEER_AS sends it.
fn update(prefix: &str, next_hop: Ipv4Addr) -> BgpPdu {
    let prefix: Ipv4Net = prefix.parse().expect("prefix");
    let frames = announcements(
        &four_octet(),
        &ebgp_attributes(PEER_AS, next_hop),
        &[prefix],
    )
    .expect("UPDATE");
    BgpPdu::from_frame(Bytes::from(frames)).expect("one UPDATE")
}

/// What the monitored speaker sends, in order.
fn session() -> Vec<Message> {
    let v4 = neighbor(
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        Ipv4Addr::new(10, 0, 0, 2),
        PeerFlags::default(),
    );
    let v6 = neighbor(
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 3)),
        Ipv4Addr::new(10, 0, 0, 3),
        PeerFlags {
            post_policy: true,
            ..PeerFlags::default()
        },
    );
    let cease = Notification::cease_with_reason(CeaseError::AdministrativeShutdown, "bye");
    let notification = BgpPdu::encode(&BgpMessage::Notification(cease), &SessionParams::default())
        .expect("NOTIFICATION");
    let local_open = open(LOCAL_AS, Ipv4Addr::new(10, 0, 0, 1));
    vec![
        Message::Initiation(vec![
            InformationTlv::SysDescr("Starling bgpd".into()),
            InformationTlv::SysName("node-a".into()),
        ]),
        Message::PeerUp(PeerUp {
            peer: v4,
            session: Some(SessionEndpoints {
                local_address: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
                local_port: 179,
                remote_port: 40001,
            }),
            sent_open: local_open.clone(),
            received_open: open(PEER_AS, Ipv4Addr::new(10, 0, 0, 2)),
            information: vec![],
        }),
        Message::RouteMonitoring {
            peer: v4,
            update: update("192.0.2.0/24", Ipv4Addr::new(10, 0, 0, 2)),
        },
        Message::PeerUp(PeerUp {
            peer: v6,
            session: Some(SessionEndpoints {
                local_address: IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
                local_port: 40002,
                remote_port: 179,
            }),
            sent_open: local_open.clone(),
            received_open: open(PEER_AS, Ipv4Addr::new(10, 0, 0, 3)),
            information: vec![],
        }),
        Message::RouteMonitoring {
            peer: v6,
            update: update("198.51.100.0/24", Ipv4Addr::new(10, 0, 0, 3)),
        },
        Message::StatisticsReport {
            peer: v4,
            stats: vec![
                Stat::RejectedPrefixes(3),
                Stat::AdjRibInRoutes(1),
                Stat::AdjRibInRoutesOf(AfiSafi::Ipv4Unicast, 1),
            ],
        },
        Message::PeerUp(PeerUp {
            peer: loc_rib(),
            session: None,
            sent_open: local_open.clone(),
            received_open: local_open,
            information: vec![InformationTlv::TableName("global".into())],
        }),
        Message::RouteMonitoring {
            peer: loc_rib(),
            update: update("192.0.2.0/24", Ipv4Addr::new(10, 0, 0, 2)),
        },
        Message::PeerDown(PeerDown {
            peer: v4,
            reason: PeerDownReason::RemoteNotification(notification),
        }),
        Message::PeerDown(PeerDown {
            peer: v6,
            reason: PeerDownReason::LocalNoNotification { fsm_event: 10 },
        }),
        Message::PeerDown(PeerDown {
            peer: loc_rib(),
            reason: PeerDownReason::LocalSystemClosed(vec![InformationTlv::TableName(
                "global".into(),
            )]),
        }),
        Message::Termination(vec![TerminationTlv::Reason(
            TerminationReason::AdministrativelyClosed,
        )]),
    ]
}

/// pmbmpd on `host`, logging every message it decodes as a JSON line to `log`.
fn start_collector(lab: &Lab, host: &Host) -> (interop::Process, std::path::PathBuf) {
    let log = lab.path("pmbmpd.json");
    let config = lab.path("pmbmpd.conf");
    std::fs::write(
        &config,
        format!(
            "bmp_daemon_ip: {}\nbmp_daemon_port: {BMP_PORT}\nbmp_daemon_msglog_file: {}\nbmp_daemon_msglog_output: json\n",
            host.ipv4,
            log.display()
        ),
    )
    .expect("pmbmpd config");
    let config = config.to_str().expect("UTF-8 path").to_owned();
    let process = lab
        .spawn(host, "pmbmpd", &[PMBMPD, "-f", &config])
        .expect("pmbmpd");
    (process, log)
}

/// The JSON lines pmbmpd wrote so far.
fn logged(log: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

#[test]
fn pmbmpd_decodes_what_the_encoder_sends() {
    if !lab_available("BMP against pmbmpd", &[Tool::Pmbmpd]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let collector = lab.host("collector").expect("host");
    let speaker = lab.host("speaker").expect("host");
    let (mut pmbmpd, log) = start_collector(&lab, &collector);
    let target = SocketAddr::new(IpAddr::V4(collector.ipv4), BMP_PORT);
    let mut connection = wait_until("pmbmpd to listen", TIMEOUT, DEFAULT_INTERVAL, || {
        pmbmpd.ensure_running()?;
        Ok(RawPeer::connect(&speaker, IpAddr::V4(speaker.ipv4), target).ok())
    })
    .expect("connected to pmbmpd");
    let messages = session();
    for message in &messages {
        let bytes = message.encode().expect("encode");
        // What is sent is what the decoder reads back.
        assert_eq!(&Message::decode(&bytes).expect("decode"), message);
        connection.send(&bytes).expect("send");
    }
    let events = wait_until(
        "pmbmpd to log the Termination",
        TIMEOUT,
        DEFAULT_INTERVAL,
        || {
            let events = logged(&log);
            Ok(events
                .iter()
                .any(|e| e["bmp_msg_type"] == "term")
                .then_some(events))
        },
    )
    .expect("pmbmpd's log");
    let of_type = |kind: &str| -> Vec<&Value> {
        events
            .iter()
            .filter(|e| e["bmp_msg_type"] == kind)
            .collect()
    };
    for event in events.iter().filter(|e| e["event_type"] == "log") {
        println!("{event}");
    }

    let init = of_type("init");
    assert_eq!(init.len(), 1, "{init:?}");
    assert_eq!(init[0]["bmp_init_info_sysdescr"], "Starling bgpd");
    assert_eq!(init[0]["bmp_init_info_sysname"], "node-a");

    let ups = of_type("peer_up");
    assert_eq!(ups.len(), 3, "{ups:?}");
    let (v4, v6, loc) = (ups[0], ups[1], ups[2]);
    assert_eq!(v4["peer_ip"], "10.0.0.2");
    assert_eq!(v4["peer_asn"], PEER_AS.0);
    assert_eq!(v4["peer_type"], 0);
    assert_eq!(v4["bgp_id"], "10.0.0.2");
    assert_eq!(v4["local_ip"], "10.0.0.1");
    assert_eq!(
        (&v4["local_port"], &v4["remote_port"]),
        (&Value::from(179), &Value::from(40001))
    );
    assert_eq!(v4["is_post"], 0);
    assert_eq!(v6["peer_ip"], "2001:db8::3");
    assert_eq!(v6["local_ip"], "2001:db8::1");
    assert_eq!(v6["is_post"], 1);
    assert_eq!(loc["peer_type"], 3);
    assert_eq!(loc["is_loc"], 1);
    assert_eq!(loc["peer_asn"], LOCAL_AS.0);
    assert_eq!(loc["bgp_id"], "10.0.0.1");
    // pmbmpd 1.7.7 prints the VRF/Table Name TLV (type 3) as hex: "global".
    assert_eq!(loc["bmp_peer_up_info_3"], "67-6C-6F-62-61-6C");

    let routes = of_type("route_monitor");
    assert_eq!(routes.len(), 3, "{routes:?}");
    let route = |prefix: &str, peer: &str| {
        routes
            .iter()
            .find(|r| r["ip_prefix"] == prefix && r["peer_ip"] == peer)
            .unwrap_or_else(|| panic!("no route {prefix} from {peer}: {routes:?}"))
    };
    let pre = route("192.0.2.0/24", "10.0.0.2");
    assert_eq!(pre["bgp_nexthop"], "10.0.0.2");
    assert_eq!(pre["as_path"], "65001");
    assert_eq!(pre["origin"], "i");
    assert_eq!(pre["is_post"], 0);
    assert_eq!(route("198.51.100.0/24", "2001:db8::3")["is_post"], 1);
    assert_eq!(route("192.0.2.0/24", "0.0.0.0")["is_loc"], 1);

    let stats = of_type("stats");
    let counter = |kind: u64| {
        stats
            .iter()
            .find(|s| s["counter_type"] == kind)
            .map(|s| s["counter_value"].clone())
    };
    assert_eq!(counter(0), Some(Value::from(3)), "{stats:?}");
    assert_eq!(counter(7), Some(Value::from(1)), "{stats:?}");
    assert_eq!(counter(9), Some(Value::from(1)), "{stats:?}");

    let downs = of_type("peer_down");
    let reasons: Vec<(&Value, &Value)> = downs
        .iter()
        .map(|d| (&d["peer_ip"], &d["reason_type"]))
        .collect();
    assert_eq!(
        reasons,
        [
            (&Value::from("10.0.0.2"), &Value::from(3)),
            (&Value::from("2001:db8::3"), &Value::from(2)),
            (&Value::from("0.0.0.0"), &Value::from(6)),
        ]
    );

    let term = of_type("term");
    assert_eq!(
        term[0]["bmp_term_info_reason"],
        "Session administratively closed"
    );
    println!(
        "pmbmpd decoded {} messages: {} Peer Up, {} Route Monitoring, {} statistics, {} Peer Down",
        messages.len(),
        ups.len(),
        routes.len(),
        stats.len(),
        downs.len()
    );
}
