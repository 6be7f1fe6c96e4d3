//! [`Rib`]: the state machine that owns every table. Inputs ([`RibInput`]) change paths in
//! the prefix table (`crate::table`: Adj-RIBs-In and Loc-RIB in one record per destination)
//! and queue their destinations; [`Rib::run_decisions`] decides a bounded number of queued
//! destinations, updates the FIB view and each update group's log; each neighbor's writer
//! takes its messages with [`Rib::take_messages`]. Nothing here blocks, reads a clock or does
//! I/O: effects leave as [`RibOutput`] values.
//!
//! - `receive`: UPDATEs and ROUTE-REFRESH from neighbors, import, the prefix limit, and the
//!   walks over one neighbor's routes (its session gone, a family disabled, import again);
//! - `decide`: the decision batches, the FIB changes, each group's share of a batch, and the
//!   destinations left empty;
//! - `reconfigure`: a neighbor's settings or the CLUSTER_ID changed live, neighbors moving
//!   between update groups.

mod decide;
mod receive;
mod reconfigure;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ipnet::IpNet;
use proto::attr::{AsPath, Attributes, Community, LargeCommunity, LocalPref, Origin};
use proto::message::Message;
use proto::notification::Notification;
use proto::route_refresh::{RouteRefresh, RouteRefreshSubtype};
use proto::update::Update;
use proto::{AfiSafi, AfiSafiSet, Asn, ClusterId, EncodeError, PathId, RouterId, SessionParams};
use smallvec::SmallVec;

use crate::attrs::{Interner, PathAttrs, RouteNextHop};
use crate::decision::DecisionCtx;
use crate::group::{Context, Group, GroupKey, Member};
use crate::peer::{source_role, Peer, PeerConfig, PeerUp};
use crate::restart::{Deferral, DEFAULT_STALE_PATH_TIME};
use crate::rules::{Role, Speaker};
use crate::table::{Decisions, Path, PrefixId, Priority, Source, Table};
use crate::types::{FastMap, GroupId, PeerId};

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
    /// session failed without a NOTIFICATION (`proto::session::Reason::is_graceful`); when it
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
    pub(crate) table: Table,
    pub(crate) decisions: Decisions,
    /// Incremented by every decision batch that changed something; a destination records
    /// the epoch of its last change, a logged message the epoch that made it.
    pub(crate) epoch: u32,
    /// Empty destinations, oldest first, with the epoch that emptied them: freed once no
    /// update group member may still need their withdrawal.
    graves: VecDeque<(PrefixId, u32)>,
    pub(crate) peers: FastMap<PeerId, Peer>,
    pub(crate) groups: BTreeMap<GroupId, Group>,
    group_index: HashMap<GroupKey, GroupId>,
    next_group: u32,
    /// Selection deferral of a restarting speaker (RFC 4724 §4.1).
    pub(crate) deferral: Deferral,
    /// While a CLUSTER_ID change is applied: the speaker before it, under which what the
    /// groups were sent was exported.
    previous_speaker: Option<Speaker>,
}

/// The group id of a neighbor not yet in a group.
const NO_GROUP: GroupId = GroupId(u32::MAX);

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
            table: Table::default(),
            decisions: Decisions::default(),
            epoch: 0,
            graves: VecDeque::new(),
            peers: FastMap::default(),
            groups: BTreeMap::new(),
            group_index: HashMap::new(),
            next_group: 0,
            deferral: Deferral::Off,
            previous_speaker: None,
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
                self.originate(prefix.trunc(), route);
                Ok(Vec::new())
            }
            RibInput::WithdrawLocal { prefix } => {
                self.withdraw_local(prefix.trunc());
                Ok(Vec::new())
            }
            RibInput::Reconfigure { peer, config } => self.reconfigure(peer, config),
            RibInput::SetClusterId(cluster_id) => Ok(self.set_cluster_id(cluster_id)),
        }
    }

    /// Destinations waiting for a decision that may run now (none while selection is
    /// deferred).
    pub fn pending_decisions(&self) -> usize {
        if self.deferral.waiting() {
            0
        } else {
            self.decisions.pending()
        }
    }

    /// Messages for `peer`, in order, until they add up to `max_bytes` octets (the last may
    /// cross it). They count as sent: hand them to the neighbor's writer. Empty when nothing
    /// is waiting (a long table walk may also return few or none while [`Rib::has_messages`]
    /// stays true; call again).
    pub fn take_messages(&mut self, peer: PeerId, max_bytes: usize) -> Vec<Bytes> {
        let Some(group) = self.peers.get(&peer).map(|p| p.group) else {
            return Vec::new();
        };
        let Rib {
            speaker,
            table,
            decisions,
            peers,
            interner,
            groups,
            ..
        } = self;
        let Some(group) = groups.get_mut(&group) else {
            return Vec::new();
        };
        let mut ctx = Context {
            speaker,
            table,
            decisions,
            peers,
            interner,
        };
        let messages = group.take(peer, max_bytes, &mut ctx);
        self.collect_graves();
        messages
    }

    /// Whether `peer` has messages waiting.
    pub fn has_messages(&self, peer: PeerId) -> bool {
        self.peers
            .get(&peer)
            .and_then(|p| self.groups.get(&p.group))
            .is_some_and(|group| group.has_messages(peer))
    }

    /// The local route of `prefix`, originated or replaced.
    fn originate(&mut self, prefix: IpNet, route: LocalRoute) {
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
        let id = self.table.entry(prefix, self.epoch);
        let Rib {
            table,
            decisions,
            peers,
            ..
        } = self;
        let Some(destination) = table.get_mut(id) else {
            return;
        };
        match destination.paths.position(Source::LOCAL, PathId(0)) {
            Some(index) => {
                if std::sync::Arc::ptr_eq(&destination.paths.as_slice()[index].received, &attrs) {
                    return;
                }
                decisions.queue(id, destination, Priority::Urgent, |s| source_role(peers, s));
                let path = &mut destination.paths.as_mut_slice()[index];
                path.received = attrs;
                path.state = crate::table::PathState::Pending;
            }
            None => {
                decisions.queue(id, destination, Priority::Urgent, |s| source_role(peers, s));
                let mut path = Path::new(Source::LOCAL, PathId(0), attrs);
                path.sent_id = destination.paths.free_sent_id();
                destination.paths.push(path);
            }
        }
    }

    fn withdraw_local(&mut self, prefix: IpNet) {
        let Some(id) = self.table.lookup(&prefix) else {
            return;
        };
        let Rib {
            table,
            decisions,
            peers,
            ..
        } = self;
        let Some(destination) = table.get_mut(id) else {
            return;
        };
        if let Some(index) = destination.paths.position(Source::LOCAL, PathId(0)) {
            decisions.queue(id, destination, Priority::Urgent, |s| source_role(peers, s));
            destination.paths.remove(index);
        }
    }

    fn peer_up(&mut self, up: PeerUp) -> Vec<RibOutput> {
        // A neighbor returning from a graceful restart keeps its routes, stale (RFC 4724
        // §4.2); otherwise a new session replaces the old one and its routes are gone.
        let returning = match self.peers.get(&up.peer) {
            Some(old) if !old.established => self.peers.remove(&up.peer),
            Some(_) => {
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
        let end_of_rib = session
            .families
            .iter()
            .filter_map(|family| Update::end_of_rib(family).encode(&session.params).ok())
            .collect();
        let reimport = returning.as_ref().is_some_and(|old| {
            old.config.import != config.import || old.config.allow_own_as != config.allow_own_as
        });
        let (received, accepted, stale) = match returning {
            Some(old) => (old.received, old.accepted, old.stale),
            None => (0, 0, [None, None]),
        };
        let restored = stale.iter().any(Option::is_some);
        // In the table before its group is made: a new group's fill looks up the roles of
        // the sources of what it advertises, the neighbor's own stale routes included.
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
                received,
                accepted,
                limit_reached: false,
                refreshing: [false, false],
                group: NO_GROUP,
            },
        );
        let Some(key) = self
            .peers
            .get(&id)
            .map(|peer| reconfigure::group_key(peer, role, &peer.config))
        else {
            return Vec::new();
        };
        let group = self.ensure_group(key);
        if let Some(peer) = self.peers.get_mut(&id) {
            peer.group = group;
        }
        let epoch = self.epoch;
        if let Some(joins) = self.deferral.joins_mut() {
            // RFC 4724 §4.1: our End-of-RIB must follow the table decided after the deferral.
            joins.push((id, end_of_rib));
        } else if let Some(group) = self.groups.get_mut(&group) {
            group.join(id, Vec::new(), end_of_rib, epoch);
        }
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

    /// The session is gone, or a restarting neighbor is forgotten: its routes go (queued
    /// while it is still known, so that the decided state records its role), then the
    /// neighbor.
    pub(crate) fn peer_down(&mut self, id: PeerId) -> Result<(), RibError> {
        let group = self.peers.get(&id).ok_or(RibError::UnknownPeer(id))?.group;
        // Whatever was queued for it goes with the session.
        let _ = self.leave_group(id, group);
        if let Some(joins) = self.deferral.joins_mut() {
            joins.retain(|(peer, _)| *peer != id);
        }
        self.remove_paths(id, Priority::Bulk, |_, _| true);
        self.peers.remove(&id);
        Ok(())
    }

    /// The context update groups need from the rest of the RIB.
    fn split(&mut self) -> (&mut BTreeMap<GroupId, Group>, Context<'_>) {
        let Rib {
            speaker,
            table,
            decisions,
            peers,
            interner,
            groups,
            ..
        } = self;
        (
            groups,
            Context {
                speaker,
                table,
                decisions,
                peers,
                interner,
            },
        )
    }

    /// The group for `key`, created (and its advertised set computed from the table) if
    /// needed.
    fn ensure_group(&mut self, key: GroupKey) -> GroupId {
        if let Some(&id) = self.group_index.get(&key) {
            return id;
        }
        let id = GroupId(self.next_group);
        self.next_group += 1;
        let mut group = Group::new(id, key.clone());
        group.fresh = self.previous_speaker.is_some();
        let (_, mut ctx) = self.split();
        group.fill(&mut ctx);
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
            // Nobody shares the view any more: its log goes with it.
            let key = group.key().clone();
            self.groups.remove(&id);
            self.group_index.remove(&key);
            self.collect_graves();
        }
        member
    }

    /// Frees the empty destinations no group member may still need a withdrawal of.
    pub(crate) fn collect_graves(&mut self) {
        if self.graves.is_empty() {
            return;
        }
        let needed = self
            .groups
            .values()
            .map(|group| group.needed_epoch(self.epoch))
            .fold(self.epoch.wrapping_add(1), crate::group::earlier);
        while let Some(&(id, emptied)) = self.graves.front() {
            if !crate::group::before(emptied, needed) {
                break;
            }
            self.graves.pop_front();
            let free = self
                .table
                .get(id)
                .is_some_and(|d| d.is_grave() && d.paths.is_empty() && !d.queued());
            if free {
                self.table.remove(id);
            }
        }
        if self.graves.is_empty() {
            // A mass withdrawal would leave its buffer behind.
            self.graves.shrink_to(64);
        }
    }
}

/// RFC 4486 §4: asks the daemon to stop the session once the neighbor sent more routes than
/// allowed.
fn check_limit(id: PeerId, peer: &mut Peer, family: AfiSafi, outputs: &mut Vec<RibOutput>) {
    let Some(max) = peer.config.max_prefixes else {
        return;
    };
    if peer.limit_reached || peer.received <= max.get() as usize {
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
            proto::notification::ErrorCode::Cease(
                proto::notification::CeaseError::MaximumPrefixesReached,
            ),
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
