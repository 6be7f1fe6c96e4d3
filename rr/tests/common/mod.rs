//! A small lab for scenario tests: a RIB, neighbors brought up with negotiated sessions, inputs
//! written compactly, and everything the RIB emits rendered as one line per fact — FIB
//! changes, stop requests, and each neighbor's messages decoded with `proto` as the neighbor
//! would decode them. Tests compare those lines with expectations written beside the inputs.

#![allow(dead_code)] // each test file uses part of the lab

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use ipnet::IpNet;
use proto::attr::{
    AsPath, Attributes, Community, Ipv6NextHop, LargeCommunity, LocalPref, MpReach, MpUnreach,
    MultiExitDisc, NextHop, Origin,
};
use proto::message::Message;
use proto::nlri::Nlri;
use proto::open::{HoldTime, Open};
use proto::route_refresh::{RouteRefresh, RouteRefreshSubtype};
use proto::session::{Negotiated, NegotiatedRestart};
use proto::update::Update;
use proto::{AfiSafi, AfiSafiSet, Asn, ClusterId, PathId, RouterId, SessionParams};
use rr::{FibOp, LocalAddresses, PeerConfig, PeerId, PeerUp, Rib, RibConfig, RibInput, RibOutput};

/// Our AS in every scenario.
pub const LOCAL_AS: u32 = 64512;
/// Our BGP Identifier.
pub const ROUTER_ID: [u8; 4] = [10, 0, 0, 254];
/// Our address on every session (the next hop when it is "self").
pub const LOCAL_V4: [u8; 4] = [10, 0, 0, 254];
/// Our IPv6 address on every session.
pub const LOCAL_V6: &str = "fd00::254";

pub fn net(s: &str) -> IpNet {
    s.parse().expect("test prefix")
}

pub fn v4(s: &str) -> Ipv4Addr {
    s.parse().expect("test address")
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

pub fn config() -> RibConfig {
    RibConfig::new(Asn(LOCAL_AS), RouterId(ROUTER_ID.into()))
}

pub fn reflector(cluster_id: &str) -> RibConfig {
    RibConfig {
        cluster_id: Some(ClusterId(v4(cluster_id))),
        ..config()
    }
}

/// A neighbor to bring up.
#[derive(Debug, Clone)]
pub struct Neighbor {
    pub id: u32,
    pub asn: u32,
    pub router_id: Ipv4Addr,
    pub config: PeerConfig,
    pub params: SessionParams,
    pub families: AfiSafiSet,
    pub enhanced_route_refresh: bool,
    pub local: LocalAddresses,
    pub graceful_restart: Option<NegotiatedRestart>,
}

impl Neighbor {
    /// A neighbor at `address`, whose BGP Identifier is the address (or 0.0.0.id for IPv6).
    pub fn new(id: u32, asn: u32, address: &str) -> Neighbor {
        let address = ip(address);
        let router_id = match address {
            IpAddr::V4(v4) => v4,
            IpAddr::V6(_) => Ipv4Addr::from(id),
        };
        Neighbor {
            id,
            asn,
            router_id,
            config: PeerConfig::new(address),
            params: SessionParams {
                four_octet_as: true,
                external: asn != LOCAL_AS,
                ..SessionParams::default()
            },
            families: AfiSafiSet::ALL,
            enhanced_route_refresh: false,
            local: LocalAddresses {
                ipv4: Some(Ipv4Addr::from(LOCAL_V4)),
                ipv6: Some(Ipv6NextHop {
                    global: LOCAL_V6.parse().expect("address"),
                    link_local: None,
                }),
            },
            graceful_restart: None,
        }
    }

    pub fn ibgp(id: u32, address: &str) -> Neighbor {
        Neighbor::new(id, LOCAL_AS, address)
    }

    pub fn client(id: u32, address: &str) -> Neighbor {
        let mut neighbor = Neighbor::ibgp(id, address);
        neighbor.config.rr_client = true;
        neighbor
    }

    pub fn ebgp(id: u32, asn: u32, address: &str) -> Neighbor {
        Neighbor::new(id, asn, address)
    }

    pub fn router_id(mut self, router_id: &str) -> Neighbor {
        self.router_id = v4(router_id);
        self
    }

    pub fn add_path(mut self, receive: bool, send: bool) -> Neighbor {
        if receive {
            self.params.add_path_rx = AfiSafiSet::ALL;
        }
        if send {
            self.params.add_path_tx = AfiSafiSet::ALL;
        }
        self
    }

    pub fn families(mut self, families: &[AfiSafi]) -> Neighbor {
        self.families = families.iter().copied().collect();
        self
    }

    pub fn enhanced_route_refresh(mut self) -> Neighbor {
        self.enhanced_route_refresh = true;
        self
    }

    /// Graceful restart negotiated as `restart` says.
    pub fn graceful_restart(mut self, restart: NegotiatedRestart) -> Neighbor {
        self.graceful_restart = Some(restart);
        self
    }

    pub fn with(mut self, change: impl FnOnce(&mut PeerConfig)) -> Neighbor {
        change(&mut self.config);
        self
    }

    pub fn negotiated(&self) -> Negotiated {
        Negotiated {
            peer_asn: Asn(self.asn),
            peer_router_id: RouterId(self.router_id),
            hold_time: 90,
            keepalive: Duration::from_secs(30),
            params: self.params,
            families: self.families,
            route_refresh: true,
            enhanced_route_refresh: self.enhanced_route_refresh,
            graceful_restart: self.graceful_restart.clone(),
            remote: Open::new(
                Asn(self.asn),
                HoldTime(90),
                RouterId(self.router_id),
                Vec::new(),
            ),
        }
    }
}

/// Attributes with ORIGIN IGP and the given AS_SEQUENCE.
pub fn path(asns: &[u32]) -> Attributes {
    Attributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::from_sequence(
            &asns.iter().map(|&a| Asn(a)).collect::<Vec<_>>(),
        )),
        ..Attributes::default()
    }
}

pub fn local_pref(value: u32) -> Option<LocalPref> {
    Some(LocalPref(value))
}

pub fn med(value: u32) -> Option<MultiExitDisc> {
    Some(MultiExitDisc(value))
}

pub fn community(s: &str) -> Community {
    s.parse().expect("community")
}

pub fn large(s: &str) -> LargeCommunity {
    s.parse().expect("large community")
}

/// An UPDATE announcing `prefixes` (all of one family) via `next_hop`, each `prefix` or
/// `prefix#id` (an ADD-PATH path identifier).
pub fn announce(prefixes: &[&str], next_hop: &str, attributes: Attributes) -> Update {
    let entries: Vec<(IpNet, Option<PathId>)> = prefixes.iter().map(|p| entry(p)).collect();
    let v4: Vec<_> = entries
        .iter()
        .filter_map(|(p, id)| match p {
            IpNet::V4(p) => Some(Nlri::new(*p, *id)),
            IpNet::V6(_) => None,
        })
        .collect();
    let v6: Vec<_> = entries
        .iter()
        .filter_map(|(p, id)| match p {
            IpNet::V6(p) => Some(Nlri::new(*p, *id)),
            IpNet::V4(_) => None,
        })
        .collect();
    match ip(next_hop) {
        IpAddr::V4(address) if v6.is_empty() => Update {
            attributes: Attributes {
                next_hop: Some(address),
                ..attributes
            },
            announced: v4,
            ..Update::default()
        },
        IpAddr::V6(global) if v4.is_empty() => Update {
            attributes,
            mp_reach: Some(MpReach::Ipv6Unicast {
                next_hop: Ipv6NextHop {
                    global,
                    link_local: None,
                },
                announced: v6,
            }),
            ..Update::default()
        },
        IpAddr::V6(global) => Update {
            attributes,
            mp_reach: Some(MpReach::Ipv4Unicast {
                next_hop: NextHop::Ipv6(Ipv6NextHop {
                    global,
                    link_local: None,
                }),
                announced: v4,
            }),
            ..Update::default()
        },
        IpAddr::V4(_) => panic!("test announces IPv6 prefixes via an IPv4 next hop"),
    }
}

/// An UPDATE withdrawing `prefixes` (all of one family; `prefix#id` with ADD-PATH).
pub fn withdraw(prefixes: &[&str]) -> Update {
    let entries: Vec<(IpNet, Option<PathId>)> = prefixes.iter().map(|p| entry(p)).collect();
    let v4: Vec<_> = entries
        .iter()
        .filter_map(|(p, id)| match p {
            IpNet::V4(p) => Some(Nlri::new(*p, *id)),
            IpNet::V6(_) => None,
        })
        .collect();
    let v6: Vec<_> = entries
        .iter()
        .filter_map(|(p, id)| match p {
            IpNet::V6(p) => Some(Nlri::new(*p, *id)),
            IpNet::V4(_) => None,
        })
        .collect();
    Update {
        withdrawn: v4,
        mp_unreach: (!v6.is_empty()).then_some(MpUnreach::Ipv6Unicast { withdrawn: v6 }),
        ..Update::default()
    }
}

fn entry(text: &str) -> (IpNet, Option<PathId>) {
    match text.split_once('#') {
        Some((prefix, id)) => (net(prefix), Some(PathId(id.parse().expect("path id")))),
        None => (net(text), None),
    }
}

pub fn update(peer: u32, update: Update) -> RibInput {
    RibInput::Update {
        peer: PeerId(peer),
        update,
    }
}

pub fn refresh(peer: u32, family: AfiSafi, subtype: RouteRefreshSubtype) -> RibInput {
    RibInput::RouteRefresh {
        peer: PeerId(peer),
        refresh: RouteRefresh {
            afi: family.afi(),
            subtype,
            safi: family.safi(),
        },
    }
}

pub fn down(peer: u32) -> RibInput {
    RibInput::PeerDown {
        peer: PeerId(peer),
        graceful: false,
    }
}

/// A RIB and its neighbors' session parameters.
pub struct Lab {
    pub rib: Rib,
    params: BTreeMap<u32, SessionParams>,
    /// Decisions run per call of `run_decisions`.
    pub budget: usize,
    /// Octets taken per call of `take_messages` (a writer's room).
    pub take: usize,
}

/// Steps a test runs: an input and the lines it must produce.
pub type Steps<'a> = &'a [(RibInput, &'a [&'a str])];

impl Lab {
    pub fn new(config: RibConfig) -> Lab {
        Lab {
            rib: Rib::new(config),
            params: BTreeMap::new(),
            budget: 1000,
            take: 1 << 20,
        }
    }

    pub fn up_input(&mut self, neighbor: &Neighbor) -> RibInput {
        self.params.insert(neighbor.id, neighbor.params);
        Lab::up_input_of(neighbor)
    }

    /// The PeerUp of `neighbor`, for steps written before the lab exists ([`Lab::run`] records
    /// its session parameters).
    pub fn up_input_of(neighbor: &Neighbor) -> RibInput {
        RibInput::PeerUp(Box::new(PeerUp {
            peer: PeerId(neighbor.id),
            config: neighbor.config.clone(),
            session: neighbor.negotiated(),
            local: neighbor.local,
        }))
    }

    /// Brings `neighbor` up and returns what that produced.
    pub fn up(&mut self, neighbor: &Neighbor) -> Vec<String> {
        let input = self.up_input(neighbor);
        self.run(input)
    }

    /// Applies `input`, runs every pending decision, takes every neighbor's messages, and
    /// renders the outputs: RIB outputs first, then each neighbor's messages in neighbor order.
    pub fn run(&mut self, input: RibInput) -> Vec<String> {
        match &input {
            RibInput::PeerDown { peer, .. } => {
                self.params.remove(&peer.0);
            }
            RibInput::PeerUp(up) => {
                self.params.insert(up.peer.0, up.session.params);
            }
            _ => {}
        }
        let mut outputs = self
            .rib
            .apply(input)
            .expect("input for an established neighbor");
        while self.rib.pending_decisions() > 0 {
            outputs.extend(self.rib.run_decisions(self.budget));
        }
        let mut lines = Vec::new();
        let mut transmit = Vec::new();
        for output in outputs {
            match output {
                RibOutput::Transmit(peer) => transmit.push(peer.0),
                other => lines.push(describe_output(&other)),
            }
        }
        lines.extend(self.sent(&transmit));
        lines
    }

    /// Applies `input` and runs every pending decision, taking no messages; renders the RIB
    /// outputs other than `Transmit`.
    pub fn step(&mut self, input: RibInput) -> Vec<String> {
        let mut outputs = self
            .rib
            .apply(input)
            .expect("input for an established neighbor");
        while self.rib.pending_decisions() > 0 {
            outputs.extend(self.rib.run_decisions(self.budget));
        }
        outputs
            .iter()
            .filter(|o| !matches!(o, RibOutput::Transmit(_)))
            .map(describe_output)
            .collect()
    }

    /// Takes everything waiting for neighbor `id`, decoded.
    pub fn sent_to(&mut self, id: u32) -> Vec<String> {
        let params = self.params[&id];
        let mut lines = Vec::new();
        while self.rib.has_messages(PeerId(id)) {
            for message in self.rib.take_messages(PeerId(id), self.take) {
                lines.extend(describe_message(&message, &params.mirrored()));
            }
        }
        lines
    }

    /// Takes every neighbor's messages; checks that each neighbor with messages was told so.
    fn sent(&mut self, transmit: &[u32]) -> Vec<String> {
        let mut lines = Vec::new();
        let peers: Vec<(u32, SessionParams)> = self.params.iter().map(|(k, v)| (*k, *v)).collect();
        for (id, params) in peers {
            let peer = PeerId(id);
            if self.rib.has_messages(peer) {
                assert!(
                    transmit.contains(&id),
                    "{peer} has messages but no Transmit"
                );
            }
            let mut guard = 0;
            while self.rib.has_messages(peer) {
                guard += 1;
                assert!(guard < 10_000, "{peer}: messages never end");
                for message in self.rib.take_messages(peer, self.take) {
                    for line in describe_message(&message, &params.mirrored()) {
                        lines.push(format!("{id}: {line}"));
                    }
                }
            }
        }
        lines
    }
}

/// Asserts two line lists are equal, printing both in full when not.
pub fn assert_lines(context: &str, actual: &[String], expected: &[&str]) {
    let actual: Vec<&str> = actual.iter().map(String::as_str).collect();
    assert!(
        actual == expected,
        "{context}\n--- expected\n{}\n--- actual\n{}\n",
        expected.join("\n"),
        actual.join("\n")
    );
}

/// Runs steps in order, comparing each step's lines.
pub fn run_steps(lab: &mut Lab, steps: Steps<'_>) {
    for (index, (input, expected)) in steps.iter().enumerate() {
        let lines = lab.run(input.clone());
        assert_lines(&format!("step {index}: {input:?}"), &lines, expected);
    }
}

pub fn describe_output(output: &RibOutput) -> String {
    match output {
        RibOutput::Fib(change) => match &change.op {
            FibOp::Replace { next_hops } => {
                let hops: Vec<String> = next_hops.iter().map(ToString::to_string).collect();
                format!("fib {} -> {}", change.prefix, hops.join(","))
            }
            FibOp::Delete => format!("fib {} delete", change.prefix),
        },
        RibOutput::Transmit(peer) => format!("transmit {}", peer.0),
        RibOutput::StopPeer { peer, notification } => {
            format!(
                "stop {} {} data {:02x?}",
                peer.0,
                notification.code,
                &notification.data[..]
            )
        }
        RibOutput::FamilyDisabled { peer, family } => format!("disable {} {family}", peer.0),
        RibOutput::ExportFailed { group, routes, .. } => {
            format!("export failed {group} routes {routes}")
        }
        RibOutput::StaleTimer {
            peer,
            family,
            after,
        } => format!("stale timer {} {family} {}s", peer.0, after.as_secs()),
        RibOutput::SelectionDeferralDone => "selection deferral done".to_owned(),
    }
}

/// One line per route or marker in an encoded message, as its receiver decodes it.
pub fn describe_message(message: &bytes::Bytes, params: &SessionParams) -> Vec<String> {
    match Message::decode(message, params).expect("we send decodable messages") {
        Message::Update(update) => describe_update(&update),
        Message::RouteRefresh(refresh) => {
            let family = AfiSafi::from_wire(refresh.afi, refresh.safi).expect("our family");
            let kind = match refresh.subtype {
                RouteRefreshSubtype::BeginningOfRouteRefresh => "borr",
                RouteRefreshSubtype::EndOfRouteRefresh => "eorr",
                RouteRefreshSubtype::Normal => "refresh",
                RouteRefreshSubtype::Unknown(_) => "refresh?",
            };
            vec![format!("{kind} {family}")]
        }
        other => vec![format!("{other:?}")],
    }
}

pub fn describe_update(update: &Update) -> Vec<String> {
    assert!(
        update.errors.is_empty(),
        "errors in what we sent: {:?}",
        update.errors
    );
    if let Some(family) = update.end_of_rib_family() {
        return vec![format!("eor {family}")];
    }
    let mut lines = Vec::new();
    for nlri in &update.withdrawn {
        lines.push(format!(
            "- {}",
            route_key(IpNet::V4(nlri.prefix()), nlri.path_id())
        ));
    }
    if let Some(unreach) = &update.mp_unreach {
        match unreach {
            MpUnreach::Ipv4Unicast { withdrawn } => {
                for n in withdrawn {
                    lines.push(format!(
                        "- {}",
                        route_key(IpNet::V4(n.prefix()), n.path_id())
                    ));
                }
            }
            MpUnreach::Ipv6Unicast { withdrawn } => {
                for n in withdrawn {
                    lines.push(format!(
                        "- {}",
                        route_key(IpNet::V6(n.prefix()), n.path_id())
                    ));
                }
            }
        }
    }
    let attributes = describe_attributes(&update.attributes);
    for nlri in &update.announced {
        let next_hop = update
            .attributes
            .next_hop
            .map(|a| a.to_string())
            .unwrap_or_default();
        lines.push(format!(
            "+ {} via {next_hop}{attributes}",
            route_key(IpNet::V4(nlri.prefix()), nlri.path_id())
        ));
    }
    match &update.mp_reach {
        Some(MpReach::Ipv4Unicast {
            next_hop,
            announced,
        }) => {
            let next_hop = match next_hop {
                NextHop::Ipv4(a) => a.to_string(),
                NextHop::Ipv6(a) => a.global.to_string(),
            };
            for n in announced {
                let key = route_key(IpNet::V4(n.prefix()), n.path_id());
                lines.push(format!("+ {key} via {next_hop}{attributes}"));
            }
        }
        Some(MpReach::Ipv6Unicast {
            next_hop,
            announced,
        }) => {
            for n in announced {
                let key = route_key(IpNet::V6(n.prefix()), n.path_id());
                lines.push(format!("+ {key} via {}{attributes}", next_hop.global));
            }
        }
        None => {}
    }
    lines
}

fn route_key(prefix: IpNet, path_id: Option<PathId>) -> String {
    match path_id {
        Some(PathId(id)) => format!("{prefix}#{id}"),
        None => prefix.to_string(),
    }
}

/// The attributes that matter to the scenarios, each only when present: ` path …` (always),
/// ` origin …` (unless IGP), ` lp`, ` med`, ` comm`, ` large`, ` orig`, ` clusters`,
/// ` unknown`.
pub fn describe_attributes(attributes: &Attributes) -> String {
    let mut out = String::new();
    let asns: Vec<String> = attributes
        .as_path
        .iter()
        .flat_map(|p| p.segments())
        .flat_map(|s| s.asns())
        .map(|a| a.0.to_string())
        .collect();
    out.push_str(&format!(" path [{}]", asns.join(" ")));
    match attributes.origin {
        Some(Origin::Igp) | None => {}
        Some(Origin::Egp) => out.push_str(" origin egp"),
        Some(Origin::Incomplete) => out.push_str(" origin incomplete"),
    }
    if let Some(lp) = attributes.local_pref {
        out.push_str(&format!(" lp {}", lp.0));
    }
    if let Some(m) = attributes.multi_exit_disc {
        out.push_str(&format!(" med {}", m.0));
    }
    if !attributes.communities.is_empty() {
        let c: Vec<String> = attributes
            .communities
            .iter()
            .map(ToString::to_string)
            .collect();
        out.push_str(&format!(" comm {}", c.join(",")));
    }
    if !attributes.large_communities.is_empty() {
        let c: Vec<String> = attributes
            .large_communities
            .iter()
            .map(ToString::to_string)
            .collect();
        out.push_str(&format!(" large {}", c.join(",")));
    }
    if let Some(originator) = attributes.originator_id {
        out.push_str(&format!(" orig {originator}"));
    }
    if !attributes.cluster_list.is_empty() {
        let c: Vec<String> = attributes
            .cluster_list
            .iter()
            .map(ToString::to_string)
            .collect();
        out.push_str(&format!(" clusters {}", c.join(",")));
    }
    for raw in attributes.unknown.iter() {
        out.push_str(&format!(
            " unknown {}/{:#04x}",
            raw.type_code().0,
            raw.flags().0
        ));
    }
    out
}

/// An IPv6 address from text.
pub fn v6(s: &str) -> Ipv6Addr {
    s.parse().expect("test address")
}
