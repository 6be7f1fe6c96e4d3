//! `bgpctl` against a running daemon (the operations issue): every command, human and `--json`,
//! with the JSON checked field by field against the interface document.

use std::net::IpAddr;
use std::time::Duration;

use interop::{
    lab_available, BgpPeer, Bird, IpVersion, Lab, NeighborSpec, RouterSpec, Starling, Tool,
};
use proto::Asn;
use serde_json::Value;

const STARLING_AS: Asn = Asn(64512);
const PEER_AS: Asn = Asn(65002);
const TIMEOUT: Duration = Duration::from_secs(30);

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Every key of `expected` is in `object` with that JSON type.
fn check_fields(object: &Value, expected: &[(&str, &str)]) {
    for (key, kind) in expected {
        let value = object
            .get(*key)
            .unwrap_or_else(|| panic!("missing {key} in {object}"));
        let ok = match *kind {
            "string" => value.is_string(),
            "number" => value.is_u64(),
            "bool" => value.is_boolean(),
            "array" => value.is_array(),
            "string|null" => value.is_string() || value.is_null(),
            other => panic!("unknown kind {other}"),
        };
        assert!(ok, "{key} is not {kind}: {value}");
    }
}

#[test]
fn every_command_human_and_json() {
    if !lab_available("bgpctl", &[Tool::Bird]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let st = lab.host("st").expect("host");
    let peer = lab.host("bird").expect("host");
    let address = peer.address(IpVersion::V4);
    let spec = RouterSpec::new(st.ipv4, STARLING_AS).neighbor(NeighborSpec::new(address, PEER_AS));
    let starling = Starling::start(&lab, &st, &spec).expect("bgpd");
    let bird_spec = RouterSpec::new(peer.ipv4, PEER_AS)
        .neighbor(NeighborSpec::new(st.address(IpVersion::V4), STARLING_AS));
    let bird = Bird::start(&lab, &peer, bird_spec).expect("bird");
    starling
        .wait_established(address, TIMEOUT)
        .expect("session");
    let name = address.to_string();

    // show status
    let status = json(&starling.bgpctl(&["show", "status"]).expect("status"));
    check_fields(
        &status,
        &[
            ("version", "string"),
            ("router_id", "string"),
            ("asn", "number"),
            ("uptime_s", "number"),
            ("config_source", "string"),
            ("config_revision", "number"),
            ("datastore", "string"),
            ("graceful_restart", "string"),
        ],
    );
    assert_eq!(status["router_id"], st.ipv4.to_string());
    assert_eq!(status["asn"], 64512);
    assert_eq!(status["config_source"], "file");
    assert_eq!(status["datastore"], "off");
    assert_eq!(status["graceful_restart"], "none");
    let human = starling.bgpctl_text(&["show", "status"]).expect("status");
    assert!(
        human.contains(&format!("Router ID:         {}", st.ipv4)),
        "{human}"
    );

    // show neighbors [NAME]
    let neighbors = json(&starling.bgpctl(&["show", "neighbors"]).expect("neighbors"));
    let list = neighbors.as_array().expect("an array");
    assert_eq!(list.len(), 1);
    let neighbor = &list[0];
    check_fields(
        neighbor,
        &[
            ("name", "string"),
            ("address", "string"),
            ("asn", "number"),
            ("state", "string"),
            ("uptime_s", "number"),
            ("hold_time", "number"),
            ("keepalive", "number"),
            ("families", "array"),
            ("rr_client", "bool"),
            ("received", "number"),
            ("accepted", "number"),
            ("advertised", "number"),
            ("last_error", "string|null"),
            // Beyond the interface document.
            ("last_error_at", "string|null"),
            ("last_error_before_up", "bool"),
        ],
    );
    assert_eq!(neighbor["name"], name.as_str());
    assert_eq!(neighbor["address"], name.as_str());
    assert_eq!(neighbor["asn"], 65002);
    assert_eq!(neighbor["state"], "Established");
    assert_eq!(neighbor["families"], serde_json::json!(["ipv4-unicast"]));
    let one = json(
        &starling
            .bgpctl(&["show", "neighbors", &name])
            .expect("one neighbor"),
    );
    assert_eq!(one.as_array().map(Vec::len), Some(1));
    let human = starling
        .bgpctl_text(&["show", "neighbors"])
        .expect("neighbors");
    let mut lines = human.lines();
    let header = lines.next().unwrap_or_default();
    for column in [
        "Name",
        "Address",
        "AS",
        "State",
        "Uptime",
        "Hold/KA",
        "Received",
        "Advertised",
        "Last error",
    ] {
        assert!(header.contains(column), "{header}");
    }
    let row = lines.next().unwrap_or_default();
    assert!(
        row.contains(&name) && row.contains("Established") && row.contains("65002"),
        "{row}"
    );
    // An unknown name is an error, exit 1.
    assert!(starling.bgpctl(&["show", "neighbors", "nobody"]).is_err());

    // neighbor NAME disable | enable | reset [--soft]
    let done = json(
        &starling
            .bgpctl(&["neighbor", &name, "disable", "maintenance"])
            .expect("disable"),
    );
    assert_eq!(done["ok"], true);
    bird.wait_until_state_not_established(st.address(IpVersion::V4));
    assert_ne!(
        starling.neighbor(address).expect("status").state,
        "Established"
    );
    assert_eq!(
        starling
            .bgpctl_text(&["neighbor", &name, "enable"])
            .expect("enable")
            .trim(),
        "ok"
    );
    starling
        .wait_established(address, TIMEOUT)
        .expect("enabled again");
    let before = starling.neighbor(address).expect("status");
    let done = json(
        &starling
            .bgpctl(&["neighbor", &name, "reset", "--soft"])
            .expect("soft reset"),
    );
    assert_eq!(done["ok"], true);
    std::thread::sleep(Duration::from_secs(2));
    let after = starling.neighbor(address).expect("status");
    assert_eq!(after.state, "Established");
    assert!(
        after.uptime_s >= before.uptime_s,
        "a soft reset must not reset the session"
    );
    let done = json(
        &starling
            .bgpctl(&["neighbor", &name, "reset"])
            .expect("reset"),
    );
    assert_eq!(done["ok"], true);
    interop::wait_until(
        "the reset session back",
        TIMEOUT,
        interop::DEFAULT_INTERVAL,
        || {
            let status = starling.neighbor(address)?;
            Ok((status.state == "Established" && status.uptime_s < after.uptime_s).then_some(()))
        },
    )
    .expect("reset and back");

    // reload: nothing changed, then a changed hold time.
    let done = json(&starling.bgpctl(&["reload"]).expect("reload"));
    assert_eq!(done["ok"], true);
    assert!(
        done.get("changes")
            .is_none_or(|c| c.as_array().is_some_and(Vec::is_empty)),
        "{done}"
    );
    let mut changed = spec.clone();
    changed.neighbors[0].hold_time = interop::HoldTime(30);
    starling
        .write_config(&changed, &interop::Extra::default())
        .expect("config");
    let done = json(&starling.bgpctl(&["reload"]).expect("reload"));
    let changes = done["changes"].as_array().expect("changes listed");
    assert!(
        changes
            .iter()
            .any(|c| c.as_str().is_some_and(|c| c.contains("hold_time"))),
        "{done}"
    );
    let status = json(&starling.bgpctl(&["show", "status"]).expect("status"));
    assert_eq!(status["config_revision"], 2);
}

/// BIRD's view of its session to `neighbor` leaves Established (bounded).
trait WaitDown {
    fn wait_until_state_not_established(&self, neighbor: IpAddr);
}

impl WaitDown for Bird {
    fn wait_until_state_not_established(&self, neighbor: IpAddr) {
        interop::wait_until(
            "BIRD to see the shutdown",
            TIMEOUT,
            interop::DEFAULT_INTERVAL,
            || {
                Ok(
                    (self.session_state(neighbor)? != interop::SessionState::Established)
                        .then_some(()),
                )
            },
        )
        .expect("session down");
    }
}

/// The control socket belongs to the daemon's group (mode 0660): a user outside the group is
/// refused by the kernel before bgpd sees anything; the same user given the group is served.
#[test]
fn control_socket_is_for_its_group_only() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    if !lab_available("control socket permissions", &[]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let st = lab.host("st").expect("host");
    let starling =
        Starling::start(&lab, &st, &RouterSpec::new(st.ipv4, STARLING_AS)).expect("bgpd");
    let socket = starling.socket();
    let metadata = std::fs::metadata(socket).expect("socket");
    assert_eq!(metadata.permissions().mode() & 0o777, 0o660, "{socket:?}");
    let bgpctl = interop::starling::binary("bgpctl").expect("bgpctl");
    let as_nobody = |groups: &str| {
        interop::command::run(
            "setpriv",
            &[
                "--reuid=nobody",
                "--regid=nogroup",
                groups,
                "--",
                bgpctl.to_str().expect("UTF-8 path"),
                "--socket",
                socket.to_str().expect("UTF-8 path"),
                "show",
                "status",
            ],
        )
    };
    let refused = as_nobody("--clear-groups").expect_err("nobody is not in the group");
    assert!(
        refused.to_string().contains("Permission denied"),
        "{refused}"
    );
    let served = as_nobody(&format!("--groups={}", metadata.gid())).expect("in the group");
    assert!(served.contains("Router ID:"), "{served}");
}
