//! [`Rib`]: the state machine that owns every table. Inputs ([`RibInput`]) update the
//! Adj-RIBs-In and queue prefixes; [`Rib::run_decisions`] decides a bounded number of queued
//! prefixes, updates the FIB view and each update group's Adj-RIB-Out and log; each neighbor's
//! writer takes its messages with [`Rib::take_messages`]. Nothing here blocks, reads a clock or
//! does I/O: effects leave as [`RibOutput`] values.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ipnet::IpNet;
use proto::attr::{AsPath, Attributes, Community, LargeCommunity, LocalPref, NextHop, Origin};
use proto::attr::{MpReach, MpUnreach};
use proto::message::Message;
use proto::notification::{CeaseError, ErrorCode, Notification};
use proto::route_refresh::{RouteRefresh, RouteRefreshSubtype};
use proto::update::{Action, Update};
use proto::{AfiSafi, AfiSafiSet, Asn, ClusterId, EncodeError, PathId, RouterId, SessionParams};
use smallvec::SmallVec;

use crate::attrs::{Attrs, ByPointer, Interner, PathAttrs, RouteNextHop};
use crate::decision::{select, Candidate, DecisionCtx, Reason, SourceKind};
use crate::group::{Batch, Desired, Group, GroupKey, Member};
use crate::loc_rib::{Destination, LocRib, NextHops, PathState};
use crate::peer::{family_index, Peer, PeerConfig, PeerUp};
use crate::restart::{is_long_lived_stale, Deferral, DEFAULT_STALE_PATH_TIME};
use crate::rules::{self, ExportTo, Rejected, Role, SourceRole, Speaker};
use crate::types::{family_of, forwarding_address, GroupId, PeerId, RouteSource};

/// RFC 4271 §9.1.1 leaves the default degree of preference local; 100 is what BIRD, FRR and
/// GoBGP use.
pub const DEFAULT_LOCAL_PREF: LocalPref = LocalPref(100);
/// Octets of encoded UPDATEs a group keeps for members that are behind; a member further
/// behind is resynchronized by a table walk.
pub const DEFAULT_LOG_RETENTION: usize = 16 * 1024 * 1024;
/// Default number of equal paths installed for one prefix.
pub const DEFAULT_ECMP_MAX_PATHS: usize = 16;

/// RFC 4486 §4: the Data field of Cease / Maximum Number of Prefixes Reached is AFI (2 octets),
/// SAFI (1) and the upper bound (4).
const MAX_PREFIXES_DATA_LEN: usize = 7;

/// Settings of the whole RIB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RibConfig {
    pub local_asn: Asn,
    pub router_id: RouterId,
    /// Set: this speaker is a route reflector with this CLUSTER_ID (RFC 4456 §7).
    pub cluster_id: Option<ClusterId>,
    /// Equal paths installed per prefix (multipath); 1 installs the best only.
    pub ecmp_max_paths: NonZeroUsize,
    /// Compare MED across neighboring ASes (RFC 4271 §9.1.2.2(c) compares within one).
    pub always_compare_med: bool,
    pub default_local_pref: LocalPref,
    /// Emit [`FibChange`]s. Off for a pure route reflector, which then keeps no FIB state.
    pub install_routes: bool,
    /// Octets of encoded UPDATEs each group keeps for members that are behind.
    pub log_retention: usize,
    /// How long a neighbor returning from a graceful restart may leave its routes stale
    /// before its End-of-RIB (RFC 4724 §4.2).
    pub stale_path_time: Duration,
}

impl RibConfig {
    pub fn new(local_asn: Asn, router_id: RouterId) -> RibConfig {
        RibConfig {
            local_asn,
            router_id,
            cluster_id: None,
            ecmp_max_paths: NonZeroUsize::new(DEFAULT_ECMP_MAX_PATHS).unwrap_or(NonZeroUsize::MIN),
            always_compare_med: false,
            default_local_pref: DEFAULT_LOCAL_PREF,
            install_routes: true,
            log_retention: DEFAULT_LOG_RETENTION,
            stale_path_time: DEFAULT_STALE_PATH_TIME,
        }
    }
}

/// A locally originated route (a configured static route, a kernel route to advertise). Its
/// next hop is this speaker's own address towards every neighbor; its AS_PATH starts empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalRoute {
    pub origin: Origin,
    pub communities: Vec<Community>,
    pub large_communities: Vec<LargeCommunity>,
}

impl Default for LocalRoute {
    fn default() -> Self {
        LocalRoute {
            origin: Origin::Igp,
            communities: Vec::new(),
            large_communities: Vec::new(),
        }
    }
}

/// What the daemon tells the RIB.
///
/// The UPDATE stays inline: an input lives only while it is applied, and boxing would cost an
/// allocation per UPDATE on the hot path.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum RibInput {
    /// A session reached Established.
    PeerUp(Box<PeerUp>),
    /// A session left Established, or a restarting neighbor is forgotten. `graceful`: the
    /// session ended as graceful restart allows (its connection failed, or, with the RFC 8538
    /// N bit, a NOTIFICATION other than Hard Reset: `proto::session::Reason::is_graceful`); when it
    /// negotiated graceful restart its routes are kept stale (RFC 4724 §4.2, see `restart`),
    /// otherwise they are removed.
    PeerDown { peer: PeerId, graceful: bool },
    /// The timer of a [`RibOutput::StaleTimer`] ran out.
    StaleTimeout { peer: PeerId, family: AfiSafi },
    /// We are restarting (RFC 4724 §4.1): defer decisions, and the End-of-RIB of neighbors
    /// that come up, until [`RibInput::EndSelectionDeferral`]. Apply it before any PeerUp.
    DeferSelection,
    /// End-of-RIB came from every neighbor waited for, or the Selection_Deferral_Timer ran
    /// out: decide now; [`RibOutput::SelectionDeferralDone`] follows the last decision.
    EndSelectionDeferral,
    /// An UPDATE, decoded, with its RFC 7606 errors.
    Update { peer: PeerId, update: Update },
    /// A ROUTE-REFRESH from the neighbor (RFC 2918, RFC 7313).
    RouteRefresh { peer: PeerId, refresh: RouteRefresh },
    /// Originate (or replace) a local route.
    Originate { prefix: IpNet, route: LocalRoute },
    /// Stop originating a local route.
    WithdrawLocal { prefix: IpNet },
    /// New settings for an established neighbor, applied without a session reset: import
    /// policy and `allow_own_as` (re-run over the Adj-RIB-In), export policy and next hop
    /// (the neighbor moves to another update group and is sent the difference), `rr_client`,
    /// `max_prefixes`.
    Reconfigure { peer: PeerId, config: PeerConfig },
    /// Become a route reflector with this CLUSTER_ID, take another one, or stop reflecting
    /// (`None`), without a session reset. RFC 4456 §7 ties a neighbor's client role and §8
    /// the CLUSTER_LIST loop check to the CLUSTER_ID, so every neighbor's role is derived
    /// again, its routes imported again and every route decided and exported again.
    SetClusterId(Option<ClusterId>),
}

/// A change to the forwarding table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FibChange {
    pub prefix: IpNet,
    pub op: FibOp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FibOp {
    /// Install (or replace) the route with these next hops (ECMP when more than one).
    Replace { next_hops: SmallVec<[IpAddr; 1]> },
    /// Remove the route.
    Delete,
}

/// What the RIB asks of the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RibOutput {
    Fib(FibChange),
    /// (Re)start the neighbor's stale timer for `family`, replacing any running one; when it
    /// runs out, apply [`RibInput::StaleTimeout`] (RFC 4724 §4.2, RFC 9494 §4.2).
    StaleTimer {
        peer: PeerId,
        family: AfiSafi,
        after: Duration,
    },
    /// The deferred decisions (RFC 4724 §4.1) have all run and End-of-RIB is queued for every
    /// neighbor: what is not in the FIB now may be swept from the kernel.
    SelectionDeferralDone,
    /// The neighbor has messages: call [`Rib::take_messages`] when its writer has room.
    Transmit(PeerId),
    /// Stop the session with this NOTIFICATION (RFC 4486 §4, too many prefixes).
    StopPeer {
        peer: PeerId,
        notification: Notification,
    },
    /// RFC 7606 AFI/SAFI disable was applied: the family's routes from the neighbor were
    /// removed and its further routes are ignored for the session.
    FamilyDisabled {
        peer: PeerId,
        family: AfiSafi,
    },
    /// Routes could not be encoded for a group (for example attributes larger than a message)
    /// and were withdrawn from it instead.
    ExportFailed {
        group: GroupId,
        routes: usize,
        error: EncodeError,
    },
}

/// An input the RIB cannot apply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RibError {
    #[error("{0} is not established")]
    UnknownPeer(PeerId),
}

/// The RIB. See the crate documentation.
#[derive(Debug)]
pub struct Rib {
    pub(crate) config: RibConfig,
    pub(crate) speaker: Speaker,
    ctx: DecisionCtx,
    pub(crate) interner: Interner,
    pub(crate) loc_rib: LocRib,
    pub(crate) peers: HashMap<PeerId, Peer>,
    pub(crate) groups: BTreeMap<GroupId, Group>,
    group_index: HashMap<GroupKey, GroupId>,
    next_group: u32,
    /// Selection deferral of a restarting speaker (RFC 4724 §4.1).
    pub(crate) deferral: Deferral,
}

impl Rib {
    pub fn new(config: RibConfig) -> Rib {
        Rib {
            speaker: Speaker {
                local_asn: config.local_asn,
                router_id: config.router_id,
                cluster_id: config.cluster_id,
                default_local_pref: config.default_local_pref,
            },
            ctx: DecisionCtx {
                always_compare_med: config.always_compare_med,
                default_local_pref: config.default_local_pref,
            },
            config,
            interner: Interner::default(),
            loc_rib: LocRib::default(),
            peers: HashMap::new(),
            groups: BTreeMap::new(),
            group_index: HashMap::new(),
            next_group: 0,
            deferral: Deferral::Off,
        }
    }

    pub fn config(&self) -> &RibConfig {
        &self.config
    }

    /// Applies one input. Decisions are not run here: call [`Rib::run_decisions`] while
    /// [`Rib::pending_decisions`] is not zero.
    pub fn apply(&mut self, input: RibInput) -> Result<Vec<RibOutput>, RibError> {
        match input {
            RibInput::PeerUp(up) => Ok(self.peer_up(*up)),
            RibInput::PeerDown { peer, graceful } => {
                if self.is_restarting(peer) && graceful {
                    return Ok(Vec::new());
                }
                if graceful {
                    if let Some(outputs) = self.graceful_down(peer) {
                        return Ok(outputs);
                    }
                }
                self.peer_down(peer).map(|()| Vec::new())
            }
            RibInput::StaleTimeout { peer, family } => Ok(self.stale_timeout(peer, family)),
            RibInput::DeferSelection => {
                self.defer_selection();
                Ok(Vec::new())
            }
            RibInput::EndSelectionDeferral => Ok(self.end_selection_deferral()),
            RibInput::Update { peer, update } => self.update(peer, update),
            RibInput::RouteRefresh { peer, refresh } => self.route_refresh(peer, refresh),
            RibInput::Originate { prefix, route } => {
                let attributes = Attributes {
                    origin: Some(route.origin),
                    as_path: Some(AsPath::default()),
                    communities: route.communities,
                    large_communities: route.large_communities,
                    ..Attributes::default()
                };
                let attrs = self
                    .interner
                    .intern(PathAttrs::new(attributes, RouteNextHop::Local));
                let prefix = prefix.trunc();
                self.loc_rib
                    .set_path(prefix, RouteSource::Local, PathId(0), Some(attrs));
                Ok(Vec::new())
            }
            RibInput::WithdrawLocal { prefix } => {
                self.loc_rib
                    .set_path(prefix.trunc(), RouteSource::Local, PathId(0), None);
                Ok(Vec::new())
            }
            RibInput::Reconfigure { peer, config } => self.reconfigure(peer, config),
            RibInput::SetClusterId(cluster_id) => Ok(self.set_cluster_id(cluster_id)),
        }
    }

    /// Prefixes waiting for a decision that may run now (none while selection is deferred).
    pub fn pending_decisions(&self) -> usize {
        if self.deferral.waiting() {
            0
        } else {
            self.loc_rib.pending()
        }
    }

    /// Decides up to `budget` queued prefixes, then brings every update group's Adj-RIB-Out
    /// up to date for them, encoding each change once per group.
    pub fn run_decisions(&mut self, budget: usize) -> Vec<RibOutput> {
        let mut outputs = Vec::new();
        if self.deferral.waiting() {
            return outputs;
        }
        let mut changed = Vec::new();
        let mut emptied = Vec::new();
        while changed.len() < budget {
            let Some(prefix) = self.loc_rib.pop_pending() else {
                break;
            };
            if self.decide(prefix, &mut outputs) {
                emptied.push(prefix);
            }
            changed.push(prefix);
        }
        if !changed.is_empty() {
            self.flush(&changed, &mut outputs);
            for prefix in &emptied {
                self.loc_rib.prune(prefix);
            }
        }
        outputs.extend(self.release_deferred());
        outputs
    }

    /// Up to `max` messages for `peer`, in order. They count as sent: hand them to the
    /// neighbor's writer. Empty when nothing is waiting (a long table walk may also return
    /// few or none while [`Rib::has_messages`] stays true; call again).
    pub fn take_messages(&mut self, peer: PeerId, max: usize) -> Vec<Bytes> {
        let Some(group) = self.peers.get(&peer).map(|p| p.group) else {
            return Vec::new();
        };
        match self.groups.get_mut(&group) {
            Some(group) => group.take(peer, max),
            None => Vec::new(),
        }
    }

    /// Whether `peer` has messages waiting.
    pub fn has_messages(&self, peer: PeerId) -> bool {
        self.peers
            .get(&peer)
            .and_then(|p| self.groups.get(&p.group))
            .is_some_and(|group| group.has_messages(peer))
    }

    fn peer_up(&mut self, up: PeerUp) -> Vec<RibOutput> {
        // A neighbor returning from a graceful restart keeps its routes, stale (RFC 4724
        // §4.2); otherwise a new session replaces the old one and its routes are gone.
        let returning = match self.peers.remove(&up.peer) {
            Some(old) if !old.established => Some(old),
            Some(old) => {
                self.peers.insert(up.peer, old);
                let _ = self.peer_down(up.peer);
                None
            }
            None => None,
        };
        let PeerUp {
            peer: id,
            config,
            session,
            local,
        } = up;
        let role = self.role(session.peer_asn, config.rr_client);
        let key = GroupKey {
            families: session.families,
            role,
            params: GroupKey::outbound_params(&session.params),
            next_hop: config.next_hop,
            local,
            export: config.export.clone(),
            long_lived: session
                .graceful_restart
                .as_ref()
                .is_some_and(|restart| restart.long_lived_negotiated()),
        };
        let end_of_rib = session
            .families
            .iter()
            .filter_map(|family| Update::end_of_rib(family).encode(&session.params).ok())
            .collect();
        let group = self.ensure_group(key);
        if let Some(joins) = self.deferral.joins_mut() {
            // RFC 4724 §4.1: our End-of-RIB must follow the table decided after the deferral.
            joins.push((id, end_of_rib));
        } else if let Some(group) = self.groups.get_mut(&group) {
            group.join(id, Vec::new(), end_of_rib);
        }
        let reimport = returning.as_ref().is_some_and(|old| {
            old.config.import != config.import || old.config.allow_own_as != config.allow_own_as
        });
        let (adj_rib_in, accepted, stale) = match returning {
            Some(old) => (old.adj_rib_in, old.accepted, old.stale),
            None => (BTreeMap::new(), 0, [None, None]),
        };
        let restored = stale.iter().any(Option::is_some);
        self.peers.insert(
            id,
            Peer {
                established: true,
                restart: session.graceful_restart,
                stale,
                config,
                asn: session.peer_asn,
                router_id: session.peer_router_id,
                role,
                params: session.params,
                families: session.families,
                enhanced_route_refresh: session.enhanced_route_refresh,
                local,
                disabled: AfiSafiSet::EMPTY,
                adj_rib_in,
                accepted,
                limit_reached: false,
                refreshing: [None, None],
                group,
            },
        );
        let mut outputs = vec![RibOutput::Transmit(id)];
        if restored {
            if reimport {
                self.reimport(id);
            }
            outputs.extend(self.graceful_return(id));
        }
        outputs
    }

    fn role(&self, peer_asn: Asn, rr_client: bool) -> Role {
        if peer_asn == self.config.local_asn {
            Role::Internal {
                client: rr_client && self.config.cluster_id.is_some(),
            }
        } else {
            Role::External { asn: peer_asn }
        }
    }

    pub(crate) fn peer_down(&mut self, id: PeerId) -> Result<(), RibError> {
        let peer = self.peers.remove(&id).ok_or(RibError::UnknownPeer(id))?;
        // Whatever was queued for it goes with the session.
        let _ = self.leave_group(id, peer.group);
        if let Some(joins) = self.deferral.joins_mut() {
            joins.retain(|(peer, _)| *peer != id);
        }
        for (prefix, path_id) in peer.adj_rib_in.keys() {
            self.loc_rib
                .set_path(*prefix, RouteSource::Peer(id), *path_id, None);
        }
        Ok(())
    }

    /// The group for `key`, created (and its Adj-RIB-Out filled from the Loc-RIB) if needed.
    fn ensure_group(&mut self, key: GroupKey) -> GroupId {
        if let Some(&id) = self.group_index.get(&key) {
            return id;
        }
        let id = GroupId(self.next_group);
        self.next_group += 1;
        let mut group = Group::new(id, key.clone());
        let mut memo = ExportMemo::new(&key);
        for (prefix, destination) in &self.loc_rib.table {
            if !key.families.contains(family_of(prefix)) {
                continue;
            }
            let desired = desired(
                &self.speaker,
                &key,
                &self.peers,
                &mut self.interner,
                &mut memo,
                prefix,
                destination,
            );
            group.table.fill(*prefix, desired);
        }
        self.groups.insert(id, group);
        self.group_index.insert(key, id);
        id
    }

    /// Removes `peer` from group `id`, and the group when it was the last member.
    pub(crate) fn leave_group(&mut self, peer: PeerId, id: GroupId) -> Option<Member> {
        // Neighbors waiting for the end of a selection deferral will join it.
        let awaited = self.deferral.joins_mut().is_some_and(|joins| {
            joins.iter().any(|(other, _)| {
                *other != peer && self.peers.get(other).is_some_and(|p| p.group == id)
            })
        });
        let group = self.groups.get_mut(&id)?;
        let member = group.members.remove(&peer);
        if group.members.is_empty() && !awaited {
            // Nobody shares the view any more: its Adj-RIB-Out and log go with it.
            let key = group.key().clone();
            self.groups.remove(&id);
            self.group_index.remove(&key);
        }
        member
    }

    fn update(&mut self, id: PeerId, update: Update) -> Result<Vec<RibOutput>, RibError> {
        let mut outputs = Vec::new();
        let peer = self
            .peers
            .get(&id)
            .filter(|peer| peer.established)
            .ok_or(RibError::UnknownPeer(id))?;
        if peer.limit_reached {
            return Ok(outputs);
        }
        let end_of_rib = update.end_of_rib_family();
        // RFC 7606 §2 / RFC 4760 §7: AFI/SAFI disable removes the family's routes and ignores
        // it for the rest of the session.
        for family in update.families_to_disable().iter() {
            if self.disable_family(id, family) {
                outputs.push(RibOutput::FamilyDisabled { peer: id, family });
            }
        }
        // RFC 7606 §2: treat-as-withdraw applies to every route the UPDATE announces. RFC 7606
        // §3(d): without ORIGIN or AS_PATH the routes are withdrawn too (the decoder reports
        // that as treat-as-withdraw; checked again so the RIB never holds such a route).
        let withdraw_all = update
            .errors
            .iter()
            .any(|error| error.action == Action::TreatAsWithdraw);
        let Update {
            withdrawn,
            attributes,
            announced,
            mp_reach,
            mp_unreach,
            ..
        } = update;
        let usable = !withdraw_all && attributes.origin.is_some() && attributes.as_path.is_some();

        let withdrawn_ipv4 = withdrawn
            .iter()
            .map(|n| (IpNet::V4(n.prefix()), n.path_id()));
        self.receive(id, AfiSafi::Ipv4Unicast, withdrawn_ipv4, None, &mut outputs);
        match &mp_unreach {
            Some(MpUnreach::Ipv4Unicast { withdrawn }) => {
                let entries = withdrawn
                    .iter()
                    .map(|n| (IpNet::V4(n.prefix()), n.path_id()));
                self.receive(id, AfiSafi::Ipv4Unicast, entries, None, &mut outputs);
            }
            Some(MpUnreach::Ipv6Unicast { withdrawn }) => {
                let entries = withdrawn
                    .iter()
                    .map(|n| (IpNet::V6(n.prefix()), n.path_id()));
                self.receive(id, AfiSafi::Ipv6Unicast, entries, None, &mut outputs);
            }
            None => {}
        }

        if !announced.is_empty() {
            // RFC 4271 §5.1.3: routes in the NLRI field take NEXT_HOP (mandatory with them;
            // the decoder treats its absence as withdrawal, RFC 7606 §3(d)).
            let attrs = match attributes.next_hop {
                Some(next_hop) if usable => Some(self.interner.intern(PathAttrs::new(
                    attributes.clone(),
                    RouteNextHop::Address(NextHop::Ipv4(next_hop)),
                ))),
                _ => None,
            };
            let entries = announced
                .iter()
                .map(|n| (IpNet::V4(n.prefix()), n.path_id()));
            self.receive(id, AfiSafi::Ipv4Unicast, entries, attrs, &mut outputs);
        }
        match &mp_reach {
            Some(MpReach::Ipv4Unicast {
                next_hop,
                announced,
            }) => {
                let attrs = usable.then(|| {
                    self.interner.intern(PathAttrs::new(
                        attributes.clone(),
                        RouteNextHop::Address(*next_hop),
                    ))
                });
                let entries = announced
                    .iter()
                    .map(|n| (IpNet::V4(n.prefix()), n.path_id()));
                self.receive(id, AfiSafi::Ipv4Unicast, entries, attrs, &mut outputs);
            }
            Some(MpReach::Ipv6Unicast {
                next_hop,
                announced,
            }) => {
                let attrs = usable.then(|| {
                    self.interner.intern(PathAttrs::new(
                        attributes.clone(),
                        RouteNextHop::Address(NextHop::Ipv6(*next_hop)),
                    ))
                });
                let entries = announced
                    .iter()
                    .map(|n| (IpNet::V6(n.prefix()), n.path_id()));
                self.receive(id, AfiSafi::Ipv6Unicast, entries, attrs, &mut outputs);
            }
            None => {}
        }
        if let Some(family) = end_of_rib {
            self.end_of_rib(id, family);
        }
        Ok(outputs)
    }

    /// Records received routes of one family in the Adj-RIB-In (`attrs`: announced with them;
    /// `None`: withdrawn) and passes them through import into the Loc-RIB. Checks the prefix
    /// limit afterwards.
    fn receive(
        &mut self,
        id: PeerId,
        family: AfiSafi,
        entries: impl Iterator<Item = (IpNet, Option<PathId>)>,
        attrs: Option<Attrs>,
        outputs: &mut Vec<RibOutput>,
    ) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        if !peer.receives(family) {
            return;
        }
        let cacheable = !peer.config.import.depends_on_prefix();
        let mut cached: Option<Result<Attrs, Rejected>> = None;
        let source = RouteSource::Peer(id);
        for (prefix, path_id) in entries {
            let key = (prefix, path_id.unwrap_or_default());
            if let Some(pending) = &mut peer.refreshing[family_index(family)] {
                pending.remove(&key);
            }
            let marked_stale = Rib::refreshed(peer, family, &key);
            let Some(attrs) = &attrs else {
                // RFC 4271 §9: a withdrawal of a route never announced is ignored.
                if peer.adj_rib_in.remove(&key).is_some()
                    && self.loc_rib.set_path(prefix, source, key.1, None)
                {
                    peer.accepted -= 1;
                }
                continue;
            };
            let previous = peer.adj_rib_in.insert(key, attrs.clone());
            // Unchanged attributes need no import, unless the Loc-RIB holds the route marked
            // long-lived stale (RFC 9494 §4.3).
            let unchanged =
                previous.is_some_and(|previous| std::sync::Arc::ptr_eq(&previous, attrs));
            if unchanged && !marked_stale {
                continue;
            }
            let imported = match &cached {
                Some(result) if cacheable => result.clone(),
                _ => {
                    let result = rules::import(&self.speaker, &peer.import_from(), &prefix, attrs)
                        .map(|changed| match changed {
                            Some(changed) => self.interner.intern(changed),
                            None => attrs.clone(),
                        });
                    if cacheable {
                        cached = Some(result.clone());
                    }
                    result
                }
            };
            let accepted = imported.is_ok();
            let existed = self.loc_rib.set_path(prefix, source, key.1, imported.ok());
            match (existed, accepted) {
                (false, true) => peer.accepted += 1,
                (true, false) => peer.accepted -= 1,
                _ => {}
            }
        }
        check_limit(id, peer, family, outputs);
    }

    /// Removes every route of `family` from the neighbor and ignores the family from now on.
    /// `false` when it already was.
    fn disable_family(&mut self, id: PeerId, family: AfiSafi) -> bool {
        let Some(peer) = self.peers.get_mut(&id) else {
            return false;
        };
        if peer.disabled.contains(family) {
            return false;
        }
        let keys = peer.family_keys(family);
        self.remove_routes(id, &keys);
        if let Some(peer) = self.peers.get_mut(&id) {
            peer.disabled.insert(family);
        }
        true
    }

    pub(crate) fn remove_routes(&mut self, id: PeerId, keys: &[(IpNet, PathId)]) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        for key in keys {
            if peer.adj_rib_in.remove(key).is_some()
                && self
                    .loc_rib
                    .set_path(key.0, RouteSource::Peer(id), key.1, None)
            {
                peer.accepted -= 1;
            }
        }
    }

    fn route_refresh(
        &mut self,
        id: PeerId,
        refresh: RouteRefresh,
    ) -> Result<Vec<RibOutput>, RibError> {
        let peer = self.peers.get_mut(&id).ok_or(RibError::UnknownPeer(id))?;
        // RFC 2918 §4: a request for a family the session did not negotiate is ignored.
        let Some(family) = AfiSafi::from_wire(refresh.afi, refresh.safi)
            .filter(|family| peer.families.contains(*family))
        else {
            return Ok(Vec::new());
        };
        match refresh.subtype {
            RouteRefreshSubtype::Normal => {
                // RFC 7313 §4: with enhanced route refresh the table is framed by BoRR / EoRR.
                let (begin, end) = if peer.enhanced_route_refresh {
                    (
                        demarcation(
                            family,
                            RouteRefreshSubtype::BeginningOfRouteRefresh,
                            &peer.params,
                        ),
                        demarcation(family, RouteRefreshSubtype::EndOfRouteRefresh, &peer.params),
                    )
                } else {
                    (Vec::new(), Vec::new())
                };
                let group = peer.group;
                if let Some(group) = self.groups.get_mut(&group) {
                    group.refresh(id, AfiSafiSet::EMPTY.with(family), begin, end);
                }
                Ok(vec![RibOutput::Transmit(id)])
            }
            RouteRefreshSubtype::BeginningOfRouteRefresh => {
                // RFC 7313 §4: routes not re-announced before EoRR are stale.
                let keys = peer.family_keys(family).into_iter().collect();
                peer.refreshing[family_index(family)] = Some(keys);
                Ok(Vec::new())
            }
            RouteRefreshSubtype::EndOfRouteRefresh => {
                if let Some(stale) = peer.refreshing[family_index(family)].take() {
                    let stale: Vec<_> = stale.into_iter().collect();
                    self.remove_routes(id, &stale);
                }
                Ok(Vec::new())
            }
            // RFC 7313 §5: unknown subtypes are ignored.
            RouteRefreshSubtype::Unknown(_) => Ok(Vec::new()),
        }
    }

    fn reconfigure(&mut self, id: PeerId, config: PeerConfig) -> Result<Vec<RibOutput>, RibError> {
        let peer = self
            .peers
            .get(&id)
            .filter(|peer| peer.established)
            .ok_or(RibError::UnknownPeer(id))?;
        let old = peer.config.clone();
        let role = self.role(peer.asn, config.rr_client);
        let reimport = old.import != config.import
            || old.allow_own_as != config.allow_own_as
            || old.rr_client != config.rr_client
            || old.address != config.address;
        let old_group = peer.group;
        let key = group_key(peer, role, &config);
        let mut outputs = Vec::new();
        if let Some(peer) = self.peers.get_mut(&id) {
            // A new limit is judged afresh (below, against what is held now).
            if peer.config.max_prefixes != config.max_prefixes {
                peer.limit_reached = false;
            }
            peer.config = config;
            peer.role = role;
        }
        if reimport {
            self.reimport(id);
        }
        self.regroup_if_changed(id, old_group, key, &mut outputs);
        if let Some(peer) = self.peers.get_mut(&id) {
            for family in peer.families.iter() {
                check_limit(id, peer, family, &mut outputs);
            }
        }
        Ok(outputs)
    }

    fn set_cluster_id(&mut self, cluster_id: Option<ClusterId>) -> Vec<RibOutput> {
        if self.config.cluster_id == cluster_id {
            return Vec::new();
        }
        self.config.cluster_id = cluster_id;
        self.speaker.cluster_id = cluster_id;
        let mut outputs = Vec::new();
        let ids: Vec<PeerId> = self.peers.keys().copied().collect();
        // Every role first, so that a group created by a move below is filled with the final
        // role of every route's source.
        let mut moves = Vec::new();
        for &id in &ids {
            let Some(peer) = self.peers.get(&id) else {
                continue;
            };
            let role = self.role(peer.asn, peer.config.rr_client);
            let key = group_key(peer, role, &peer.config);
            moves.push((id, peer.group, key));
            if let Some(peer) = self.peers.get_mut(&id) {
                peer.role = role;
            }
        }
        for (id, old_group, key) in moves {
            self.regroup_if_changed(id, old_group, key, &mut outputs);
        }
        // The loop check and the source roles changed: every route is decided and exported
        // again, with the new CLUSTER_ID in what is reflected. Only after the moves: a
        // reimported prefix is undecided until the next run, so a group filled then would
        // miss it in its walk and send it again from its log.
        for id in ids {
            self.reimport(id);
        }
        outputs
    }

    /// Moves the neighbor to the group of `key` when its group `old` has another key.
    fn regroup_if_changed(
        &mut self,
        id: PeerId,
        old: GroupId,
        key: GroupKey,
        outputs: &mut Vec<RibOutput>,
    ) {
        if self
            .groups
            .get(&old)
            .is_some_and(|group| *group.key() != key)
        {
            self.regroup(id, old, key);
            outputs.push(RibOutput::Transmit(id));
        }
    }

    /// Runs import again over the neighbor's Adj-RIB-In and queues every prefix (a changed
    /// role or address changes the decision even where the attributes stay).
    fn reimport(&mut self, id: PeerId) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let source = RouteSource::Peer(id);
        let mut accepted = 0;
        for (&(prefix, path_id), attrs) in &peer.adj_rib_in {
            let imported = rules::import(&self.speaker, &peer.import_from(), &prefix, attrs)
                .map(|changed| match changed {
                    Some(changed) => self.interner.intern(changed),
                    None => attrs.clone(),
                })
                .ok();
            accepted += usize::from(imported.is_some());
            // Removing first makes the prefix pending even when the attributes are unchanged.
            self.loc_rib.set_path(prefix, source, path_id, None);
            self.loc_rib.set_path(prefix, source, path_id, imported);
        }
        peer.accepted = accepted;
    }

    /// Moves a neighbor to the group of `key`. It may hold anything the old group ever sent
    /// it (it may not have taken the latest messages), so it is sent what the old group still
    /// had queued for it, withdrawals for every route of the old table (tombstones included)
    /// that the new group does not advertise, then the new group's table, then any End-of-RIB
    /// it was still owed.
    fn regroup(&mut self, id: PeerId, old: GroupId, key: GroupKey) {
        let params = key.params;
        let new = self.ensure_group(key);
        if self.deferral.holds(id) {
            // Not in a group yet: it joins the new one when the deferral ends.
            if let Some(peer) = self.peers.get_mut(&id) {
                peer.group = new;
            }
            return;
        }
        let mut withdrawals = Batch::new(&params);
        if let (Some(old_group), Some(new_group)) = (self.groups.get(&old), self.groups.get(&new)) {
            for route in old_group.table.routes.keys() {
                let advertised = new_group
                    .table
                    .routes
                    .get(route)
                    .is_some_and(|entry| entry.attrs.is_some());
                if !advertised {
                    withdrawals.withdraw(route.0, route.1);
                }
            }
        }
        let (private, end) = match self.leave_group(id, old) {
            Some(member) => (
                member.private.into_iter().collect(),
                member.walk.map(|walk| walk.end).unwrap_or_default(),
            ),
            None => (Vec::new(), Vec::new()),
        };
        let mut private: Vec<Bytes> = private;
        private.extend(withdrawals.encode().0);
        if let Some(group) = self.groups.get_mut(&new) {
            group.join(id, private, end);
        }
        if let Some(peer) = self.peers.get_mut(&id) {
            peer.group = new;
        }
    }

    /// Runs the decision process for one prefix and updates the FIB view. Returns whether the
    /// prefix has no path left.
    fn decide(&mut self, prefix: IpNet, outputs: &mut Vec<RibOutput>) -> bool {
        let Some(destination) = self.loc_rib.table.get_mut(&prefix) else {
            return false;
        };
        let candidates: SmallVec<[Candidate<'_>; 4]> = destination
            .paths
            .iter()
            .map(|path| candidate(&self.speaker, &self.peers, path.source, path))
            .collect();
        let selection = select(&candidates, &self.ctx, self.config.ecmp_max_paths.get());
        drop(candidates);
        let mut next_hops = NextHops::new();
        if let Some(selection) = &selection {
            for (index, path) in destination.paths.iter_mut().enumerate() {
                let reason = selection.reasons[index].unwrap_or(Reason::Tie);
                path.state = if index == selection.best() {
                    PathState::Best
                } else if selection.multipath.contains(&index) {
                    PathState::Multipath(reason)
                } else {
                    PathState::NotSelected(reason)
                };
            }
            for &index in &selection.multipath {
                // A local route is this speaker's own: the kernel already routes it.
                if let RouteNextHop::Address(next_hop) = destination.paths[index].attrs.next_hop {
                    let address = forwarding_address(&next_hop);
                    if !next_hops.contains(&address) {
                        next_hops.push(address);
                    }
                }
            }
            if destination
                .best()
                .is_some_and(|p| p.source == RouteSource::Local)
            {
                next_hops.clear();
            }
        }
        if self.config.install_routes {
            fib_update(prefix, destination, next_hops, outputs);
        }
        destination.paths.is_empty()
    }

    /// Brings every group up to date for `changed` prefixes: per prefix, the destination is
    /// looked up once and each group computes what it advertises; each group then encodes its
    /// changes once.
    fn flush(&mut self, changed: &[IpNet], outputs: &mut Vec<RibOutput>) {
        let mut work: Vec<GroupWork> = self
            .groups
            .values()
            .map(|group| GroupWork {
                batch: Batch::new(&group.key().params),
                touched: Vec::new(),
                memo: ExportMemo::new(group.key()),
            })
            .collect();
        for prefix in changed {
            let destination = self.loc_rib.table.get(prefix);
            for (group, work) in self.groups.values().zip(work.iter_mut()) {
                let key = group.key();
                if !key.families.contains(family_of(prefix)) {
                    continue;
                }
                let desired = match destination {
                    Some(destination) => desired(
                        &self.speaker,
                        key,
                        &self.peers,
                        &mut self.interner,
                        &mut work.memo,
                        prefix,
                        destination,
                    ),
                    None => Desired::new(),
                };
                group
                    .table
                    .diff(*prefix, &desired, &mut work.batch, &mut work.touched);
            }
        }
        for (group, work) in self.groups.values_mut().zip(work) {
            let committed = group.commit(work.batch, work.touched, self.config.log_retention);
            if let Some(error) = committed.error {
                outputs.push(RibOutput::ExportFailed {
                    group: group.id,
                    routes: committed.failed,
                    error,
                });
            }
            if committed.logged {
                outputs.extend(group.members.keys().map(|&peer| RibOutput::Transmit(peer)));
            }
        }
    }
}

/// One group's share of a [`Rib::flush`].
struct GroupWork {
    batch: Batch,
    touched: Vec<((IpNet, PathId), Option<Attrs>)>,
    memo: ExportMemo,
}

/// Export results of one group within one round, per attribute set, source and family. Only
/// used when the export policy does not look at the prefix; the last result is checked first,
/// since consecutive prefixes mostly share attributes.
struct ExportMemo {
    cacheable: bool,
    results: HashMap<(ByPointer, SourceRole, AfiSafi), Option<Attrs>>,
    last: Option<(Attrs, SourceRole, AfiSafi, Option<Attrs>)>,
}

impl ExportMemo {
    fn new(key: &GroupKey) -> ExportMemo {
        ExportMemo {
            cacheable: !key.export.depends_on_prefix(),
            results: HashMap::new(),
            last: None,
        }
    }

    fn get(&self, attrs: &Attrs, source: SourceRole, family: AfiSafi) -> Option<Option<Attrs>> {
        if !self.cacheable {
            return None;
        }
        if let Some((last, last_source, last_family, result)) = &self.last {
            if Arc::ptr_eq(last, attrs) && *last_source == source && *last_family == family {
                return Some(result.clone());
            }
        }
        self.results
            .get(&(ByPointer(attrs.clone()), source, family))
            .cloned()
    }

    fn insert(
        &mut self,
        attrs: &Attrs,
        source: SourceRole,
        family: AfiSafi,
        result: &Option<Attrs>,
    ) {
        if !self.cacheable {
            return;
        }
        self.results
            .insert((ByPointer(attrs.clone()), source, family), result.clone());
        self.last = Some((attrs.clone(), source, family, result.clone()));
    }
}

/// The decision process's view of one path.
fn candidate<'a>(
    speaker: &Speaker,
    peers: &HashMap<PeerId, Peer>,
    source: RouteSource,
    path: &'a crate::loc_rib::Path,
) -> Candidate<'a> {
    let peer = match source {
        RouteSource::Peer(id) => peers.get(&id),
        RouteSource::Local => None,
    };
    let kind = match (source, peer.map(|p| p.role)) {
        (RouteSource::Local, _) => SourceKind::Local,
        (_, Some(Role::External { .. })) => SourceKind::External,
        // A path outlives its neighbor only within one call (paths are removed at PeerDown);
        // counting it internal is the conservative choice.
        (_, _) => SourceKind::Internal,
    };
    Candidate {
        attrs: &path.attrs,
        kind,
        peer_router_id: peer.map_or(speaker.router_id, |p| p.router_id),
        peer_address: peer.map(|p| p.config.address),
        path_id: path.received_id,
    }
}

/// The update group key of an established neighbor with `role` and `config` (both may be
/// about to replace its own).
fn group_key(peer: &Peer, role: Role, config: &PeerConfig) -> GroupKey {
    GroupKey {
        families: peer.families,
        role,
        params: GroupKey::outbound_params(&peer.params),
        next_hop: config.next_hop,
        local: peer.local,
        export: config.export.clone(),
        long_lived: peer
            .restart
            .as_ref()
            .is_some_and(|restart| restart.long_lived_negotiated()),
    }
}

/// What a group should advertise for one prefix: the best path, or with ADD-PATH send every
/// path (RFC 7911), each after the protocol's rules and the export policy.
fn desired(
    speaker: &Speaker,
    key: &GroupKey,
    peers: &HashMap<PeerId, Peer>,
    interner: &mut Interner,
    memo: &mut ExportMemo,
    prefix: &IpNet,
    destination: &Destination,
) -> Desired {
    let family = family_of(prefix);
    let to = ExportTo {
        role: key.role,
        next_hop: key.next_hop,
        local: key.local,
        params: &key.params,
        policy: &key.export,
    };
    let mut export = |path: &crate::loc_rib::Path| -> Option<Attrs> {
        // RFC 9494 §4.5: long-lived stale routes only go to neighbors that negotiated it.
        if !key.long_lived && is_long_lived_stale(&path.attrs) {
            return None;
        }
        let source = match path.source {
            RouteSource::Local => SourceRole::Local,
            RouteSource::Peer(id) => peers.get(&id)?.source_role(),
        };
        if let Some(result) = memo.get(&path.attrs, source, family) {
            return result;
        }
        let result = rules::export(speaker, &to, prefix, &path.attrs, source)
            .map(|attrs| interner.intern(attrs));
        memo.insert(&path.attrs, source, family, &result);
        result
    };
    let mut out = Desired::new();
    if key.params.sends_path_id(family) {
        for path in &destination.paths {
            if let Some(attrs) = export(path) {
                out.push((path.sent_id, attrs));
            }
        }
    } else if let Some(best) = destination.best() {
        if let Some(attrs) = export(best) {
            out.push((PathId(0), attrs));
        }
    }
    out
}

/// Emits the FIB change when the installed next hops differ from `next_hops`.
fn fib_update(
    prefix: IpNet,
    destination: &mut Destination,
    mut next_hops: NextHops,
    outputs: &mut Vec<RibOutput>,
) {
    next_hops.sort();
    let wanted = (!next_hops.is_empty()).then(|| Box::new(next_hops));
    if wanted == destination.installed {
        return;
    }
    let op = match &wanted {
        Some(next_hops) => FibOp::Replace {
            next_hops: NextHops::clone(next_hops),
        },
        None => FibOp::Delete,
    };
    destination.installed = wanted;
    outputs.push(RibOutput::Fib(FibChange { prefix, op }));
}

/// RFC 4486 §4: asks the daemon to stop the session once the neighbor sent more routes than
/// allowed.
fn check_limit(id: PeerId, peer: &mut Peer, family: AfiSafi, outputs: &mut Vec<RibOutput>) {
    let Some(max) = peer.config.max_prefixes else {
        return;
    };
    if peer.limit_reached || peer.adj_rib_in.len() <= max.get() as usize {
        return;
    }
    peer.limit_reached = true;
    let mut data = Vec::with_capacity(MAX_PREFIXES_DATA_LEN);
    data.extend_from_slice(&family.afi().0.to_be_bytes());
    data.push(family.safi().0);
    data.extend_from_slice(&max.get().to_be_bytes());
    outputs.push(RibOutput::StopPeer {
        peer: id,
        notification: Notification::with_data(
            ErrorCode::Cease(CeaseError::MaximumPrefixesReached),
            data,
        ),
    });
}

/// A BoRR or EoRR message for `family` (RFC 7313 §3).
fn demarcation(
    family: AfiSafi,
    subtype: RouteRefreshSubtype,
    params: &SessionParams,
) -> Vec<Bytes> {
    let message = Message::RouteRefresh(RouteRefresh {
        afi: family.afi(),
        subtype,
        safi: family.safi(),
    });
    let mut out = BytesMut::new();
    match message.encode(params, &mut out) {
        Ok(()) => vec![out.freeze()],
        // A ROUTE-REFRESH is 23 octets; it cannot exceed any maximum.
        Err(_) => Vec::new(),
    }
}
