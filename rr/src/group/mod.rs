//! Update groups: neighbors with the same outbound view share one Adj-RIB-Out (RFC 4271 §3.2)
//! and one log of encoded UPDATE messages (the approach of FRR's update groups).
//!
//! The view is the [`GroupKey`]: families, role (external with its AS, internal client,
//! internal non-client), the encoding parameters of the session, next-hop handling with our own
//! addresses, and the export policy. Everything a route looks like towards a member is decided
//! by the key, so export and encoding run once per group and a member costs a cursor into the
//! shared log: the memory of a group does not grow with members times routes.
//!
//! The Adj-RIB-Out is implicit (`export`): what the group advertises for a prefix is the export
//! of its decided paths; the group keeps one bit per prefix (something is advertised) and, with
//! ADD-PATH send, the path identifiers it withdrew while a member may still need them.
//!
//! A member is in one of two phases:
//! - following the log: it is sent `log[cursor..]`;
//! - walking the table ([`Walk`]): after joining (the initial table, then End-of-RIB, RFC 4724
//!   §2), on ROUTE-REFRESH (RFC 2918; with BoRR / EoRR markers when enhanced route refresh is
//!   negotiated, RFC 7313 §4), or when it fell behind the log's retention. A walk remembers the
//!   log position at its start and replays the log from there when done; an UPDATE may thus
//!   repeat a route or send an older state before the newest, which BGP tolerates (each UPDATE
//!   replaces what came before for its prefixes) and which converges to the table.
//!
//! Members that join in a burst (a reflector's clients coming up together) share one walk
//! ([`Snapshot`]): its chunks are encoded once, by the first member that reaches them, so
//! the burst costs one encoding of the table, not one each; a member joining while others
//! still read it replays the log from the snapshot's start, which BGP tolerates as above.
//!
//! A member that fell behind already has everything before its cursor, so its walk sends only
//! the destinations changed since the epoch of the first message it missed, withdrawals
//! included: a destination with nothing left stays in the table (a grave) until no member may
//! still need its withdrawal.

mod encode;
mod export;
mod log;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use ipnet::IpNet;
use proto::{AfiSafiSet, EncodeError, PathId, SessionParams};
use smallvec::SmallVec;

use crate::attrs::Interner;
use crate::peer::{source_role, Peer};
use crate::policy::Policy;
use crate::rules::{Role, Speaker};
use crate::table::{Decisions, Destination, PrefixId, Table};
use crate::types::{family_of, FastMap, GroupId, LocalAddresses, NextHopPolicy, PeerId};

pub(crate) use encode::Batch;
pub(crate) use export::{Desired, ExportPath, Exporter};
pub(crate) use log::{before, earlier, Log};

/// Destinations a walk visits per chunk of messages it produces.
const WALK_CHUNK: usize = 2048;
/// Chunks one [`Group::take`] call may produce before returning, so that a walk over a table
/// where little matches is spread over several calls.
const WALK_CHUNKS_PER_TAKE: usize = 16;

/// Everything the outbound form of a route depends on. Neighbors with equal keys share a
/// group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct GroupKey {
    pub families: AfiSafiSet,
    pub role: Role,
    /// The session parameters, with the receive-only fields cleared.
    pub params: SessionParams,
    pub next_hop: NextHopPolicy,
    pub local: LocalAddresses,
    pub export: Arc<Policy>,
    /// The neighbors negotiated long-lived graceful restart: they may be sent LLGR_STALE
    /// routes (RFC 9494 §4.5).
    pub long_lived: bool,
}

impl GroupKey {
    /// Whether the group sends several paths per prefix (RFC 7911) for some family.
    pub fn sends_path_ids(&self) -> bool {
        self.families
            .iter()
            .any(|family| self.params.sends_path_id(family))
    }
}

/// What the rest of the RIB lends a group for a walk.
pub(crate) struct Context<'a> {
    pub speaker: &'a Speaker,
    pub table: &'a Table,
    pub decisions: &'a Decisions,
    pub peers: &'a FastMap<PeerId, Peer>,
    pub interner: &'a mut Interner,
}

impl<'a> Context<'a> {
    /// The decided paths of a destination: its snapshot while it waits for a decision.
    pub fn decided(&self, destination: &'a Destination) -> SmallVec<[ExportPath<'a>; 2]> {
        decided_paths(self.decisions, self.peers, destination)
    }
}

/// The decided paths of a destination, as export sees them.
pub(crate) fn decided_paths<'a>(
    decisions: &'a Decisions,
    peers: &FastMap<PeerId, Peer>,
    destination: &'a Destination,
) -> SmallVec<[ExportPath<'a>; 2]> {
    match decisions.snapshot(destination) {
        Some(decided) => decided.paths.iter().map(ExportPath::of_decided).collect(),
        None => destination
            .paths
            .iter()
            .filter_map(|path| ExportPath::of_path(path, source_role(peers, path.source)))
            .collect(),
    }
}

/// The epoch of a destination's last change.
pub(crate) fn changed_epoch(decisions: &Decisions, destination: &Destination) -> u32 {
    decisions
        .snapshot(destination)
        .map_or(destination.aux, |decided| decided.epoch)
}

/// One bit per destination: the group advertises something for it.
#[derive(Debug, Default)]
pub(crate) struct Advertised {
    bits: Vec<u64>,
    /// Routes advertised (several per prefix with ADD-PATH).
    pub routes: usize,
}

impl Advertised {
    pub fn get(&self, id: PrefixId) -> bool {
        self.bits
            .get(id.index() / 64)
            .is_some_and(|word| word & (1 << (id.index() % 64)) != 0)
    }

    fn set(&mut self, id: PrefixId, on: bool) {
        let word = id.index() / 64;
        if on && word >= self.bits.len() {
            self.bits.resize(word + 1, 0);
        }
        if let Some(bits) = self.bits.get_mut(word) {
            if on {
                *bits |= 1 << (id.index() % 64);
            } else {
                *bits &= !(1 << (id.index() % 64));
            }
        }
    }
}

/// A table walk in progress for one member.
#[derive(Debug, Clone)]
pub(crate) struct Walk {
    pub families: AfiSafiSet,
    /// The next destination to visit.
    pub resume: PrefixId,
    /// Every advertised destination is sent (joining, ROUTE-REFRESH); otherwise only those
    /// changed at or after `since`.
    pub everything: bool,
    /// `Some(epoch)`: the member has every change before `epoch`, and withdrawals since are
    /// sent too.
    pub since: Option<u32>,
    /// Where the member continues in the log once the walk is done, and the epoch then.
    pub mark: u64,
    pub mark_epoch: u32,
    /// Messages to send once the walk is done (End-of-RIB, End of Route Refresh).
    pub end: Vec<Bytes>,
    /// Reading the group's [`Snapshot`]: the index of the next chunk (`resume` is then
    /// unused).
    pub shared: Option<usize>,
}

/// The walk members that join share: the table encoded chunk by chunk, as of `mark` or later
/// (see the module documentation).
#[derive(Debug)]
pub(crate) struct Snapshot {
    /// The log position and epoch it started at: its readers replay the log from here.
    mark: u64,
    mark_epoch: u32,
    chunks: Vec<Vec<Bytes>>,
    /// Where the next chunk starts (a walk over every family, everything).
    building: Walk,
    done: bool,
}

/// One neighbor of a group.
#[derive(Debug)]
pub(crate) struct Member {
    /// The next log message to send.
    pub cursor: u64,
    pub walk: Option<Walk>,
    /// Messages for this member alone, sent before anything else.
    pub private: VecDeque<Bytes>,
}

impl Member {
    /// The earliest log message this member may still need.
    fn log_floor(&self) -> u64 {
        self.walk.as_ref().map_or(self.cursor, |walk| walk.mark)
    }
}

/// An update group.
#[derive(Debug)]
pub(crate) struct Group {
    pub id: GroupId,
    key: GroupKey,
    pub log: Log,
    pub advertised: Advertised,
    /// With ADD-PATH send: path identifiers withdrawn, with the epoch, kept while a member may
    /// fall behind them.
    withdrawn: HashMap<(IpNet, PathId), u32>,
    pub members: BTreeMap<PeerId, Member>,
    /// The joiners' shared walk, while it may serve.
    snapshot: Option<Snapshot>,
    /// Made while a CLUSTER_ID change is applied: its advertised set was computed under the
    /// new CLUSTER_ID, so its changes compare with the export under the new one.
    pub fresh: bool,
}

/// What committing a batch did.
#[derive(Debug, Default)]
pub(crate) struct Committed {
    /// Messages were added to the log.
    pub logged: bool,
    /// Announcements that could not be encoded and were withdrawn instead.
    pub failed: usize,
    pub error: Option<EncodeError>,
}

/// The changes of one batch for one group, waiting to be encoded.
pub(crate) struct Pending {
    pub batch: Batch,
    /// Per destination touched: how many routes the group advertises for it now.
    touched: Vec<(PrefixId, IpNet, usize, usize)>,
}

impl Group {
    pub fn new(id: GroupId, key: GroupKey) -> Group {
        Group {
            id,
            key,
            log: Log::new(),
            advertised: Advertised::default(),
            withdrawn: HashMap::new(),
            members: BTreeMap::new(),
            snapshot: None,
            fresh: false,
        }
    }

    pub fn key(&self) -> &GroupKey {
        &self.key
    }

    /// Sets what is advertised without logging it: a new group, whose members all start
    /// with a walk.
    pub fn fill(&mut self, ctx: &mut Context<'_>) {
        let mut exporter = Exporter::new(ctx.speaker, &self.key);
        for (id, destination) in ctx.table.iter() {
            let paths = ctx.decided(destination);
            let desired = exporter.view(ctx.interner, &destination.prefix, paths.into_iter());
            if !desired.is_empty() {
                self.advertised.set(id, true);
                self.advertised.routes += desired.len();
            }
        }
    }

    /// Starts collecting the changes of a batch.
    pub fn pending(&self) -> Pending {
        Pending {
            batch: Batch::new(&self.key.params),
            touched: Vec::new(),
        }
    }

    /// Adds the difference between `old` (what the members were sent, unless the group
    /// advertises nothing for the destination) and `new` to `pending`.
    pub fn diff(
        &mut self,
        id: PrefixId,
        prefix: IpNet,
        old: &Desired,
        new: &Desired,
        pending: &mut Pending,
        epoch: u32,
    ) {
        let held: &[(PathId, crate::attrs::Attrs)] =
            if self.advertised.get(id) { old } else { &[] };
        if held.is_empty() && new.is_empty() {
            return;
        }
        let mut changed = false;
        for (path_id, _) in held {
            if !new.iter().any(|(new_id, _)| new_id == path_id) {
                pending.batch.withdraw(prefix, *path_id);
                if self.key.sends_path_ids() {
                    self.withdrawn.insert((prefix, *path_id), epoch);
                }
                changed = true;
            }
        }
        for (path_id, attrs) in new {
            let same = held
                .iter()
                .any(|(held_id, held)| held_id == path_id && Arc::ptr_eq(held, attrs));
            if !same {
                pending.batch.announce(prefix, *path_id, attrs);
                if self.key.sends_path_ids() {
                    self.withdrawn.remove(&(prefix, *path_id));
                }
                changed = true;
            }
        }
        if changed {
            pending.touched.push((id, prefix, held.len(), new.len()));
        }
    }

    /// Encodes a batch, appends the messages to the log and records what is advertised.
    /// Announcements that cannot be encoded are withdrawn instead (the members may hold an
    /// older state of them). Then trims the log.
    pub fn commit(&mut self, pending: Pending, retention: usize, epoch: u32) -> Committed {
        let Pending { batch, touched } = pending;
        if batch.is_empty() {
            self.record(&touched, &HashSet::new());
            return Committed::default();
        }
        let (mut messages, failed) = batch.encode();
        let mut committed = Committed {
            failed: failed.keys.len(),
            error: failed.error,
            ..Committed::default()
        };
        let mut failed_prefixes = HashSet::new();
        if !failed.keys.is_empty() {
            let mut withdrawals = Batch::new(&self.key.params);
            for (prefix, path_id) in &failed.keys {
                // Members may hold the previous announcement: withdraw it.
                withdrawals.withdraw(*prefix, *path_id);
                failed_prefixes.insert(*prefix);
            }
            messages.extend(withdrawals.encode().0);
        }
        self.record(&touched, &failed_prefixes);
        if messages.is_empty() {
            return committed;
        }
        self.log.append(messages, epoch);
        committed.logged = true;
        self.trim(retention, epoch);
        committed
    }

    fn record(&mut self, touched: &[(PrefixId, IpNet, usize, usize)], failed: &HashSet<IpNet>) {
        for &(id, prefix, held, now) in touched {
            let now = if failed.contains(&prefix) { 0 } else { now };
            if self.advertised.get(id) {
                self.advertised.routes -= held;
            }
            self.advertised.routes += now;
            self.advertised.set(id, now > 0);
        }
    }

    /// Adds a member that starts with a walk of the whole table, then `end` (its End-of-RIB
    /// markers), then the log.
    pub fn join(&mut self, peer: PeerId, private: Vec<Bytes>, end: Vec<Bytes>, epoch: u32) {
        // A snapshot serves a burst of joins: while another member still reads it and the
        // log still holds its start. Otherwise a new one starts here, so that a member joining
        // on its own gets the table as it is, not an old one and the changes since.
        let base = self.log.base;
        let burst = self
            .members
            .values()
            .any(|m| m.walk.as_ref().is_some_and(|w| w.shared.is_some()));
        let snapshot = match self.snapshot.take() {
            Some(snapshot) if burst && snapshot.mark >= base => snapshot,
            _ => Snapshot {
                mark: self.log.end(),
                mark_epoch: epoch,
                chunks: Vec::new(),
                building: Walk {
                    families: self.key.families,
                    resume: PrefixId(0),
                    everything: true,
                    since: None,
                    mark: self.log.end(),
                    mark_epoch: epoch,
                    end: Vec::new(),
                    shared: None,
                },
                done: false,
            },
        };
        let walk = Walk {
            families: self.key.families,
            resume: PrefixId(0),
            everything: true,
            since: None,
            mark: snapshot.mark,
            mark_epoch: snapshot.mark_epoch,
            end,
            shared: Some(0),
        };
        self.members.insert(
            peer,
            Member {
                cursor: snapshot.mark,
                walk: Some(walk),
                private: private.into(),
            },
        );
        self.snapshot = Some(snapshot);
    }

    /// Starts a walk of `families` for a member (ROUTE-REFRESH), sending `begin` first and
    /// `end` after it (BoRR / EoRR, RFC 7313 §4). A walk in progress is widened instead.
    pub fn refresh(
        &mut self,
        peer: PeerId,
        families: AfiSafiSet,
        begin: Vec<Bytes>,
        end: Vec<Bytes>,
        epoch: u32,
    ) {
        let log_end = self.log.end();
        let Some(member) = self.members.get_mut(&peer) else {
            return;
        };
        member.private.extend(begin);
        let walk = member.walk.get_or_insert(Walk {
            families: AfiSafiSet::EMPTY,
            resume: PrefixId(0),
            everything: true,
            since: None,
            mark: member.cursor.min(log_end),
            mark_epoch: epoch,
            end: Vec::new(),
            shared: None,
        });
        // Restarting from the beginning is simplest and only repeats announcements; a
        // resynchronization in progress keeps its `since` so its withdrawals are still sent.
        for family in families.iter() {
            walk.families.insert(family);
        }
        walk.resume = PrefixId(0);
        walk.everything = true;
        walk.shared = None;
        walk.end.extend(end);
    }

    /// Whether `peer` has messages waiting.
    pub fn has_messages(&self, peer: PeerId) -> bool {
        self.members.get(&peer).is_some_and(|member| {
            !member.private.is_empty() || member.walk.is_some() || member.cursor < self.log.end()
        })
    }

    /// Messages for `peer`, in order, until they add up to `max_bytes` octets or more (the
    /// last one may cross the budget, so a writer's room is filled); they count as sent.
    pub fn take(&mut self, peer: PeerId, max_bytes: usize, ctx: &mut Context<'_>) -> Vec<Bytes> {
        let Some(member) = self.members.get_mut(&peer) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut bytes = 0;
        let mut chunks = 0;
        let mut exporter = Exporter::new(ctx.speaker, &self.key);
        while bytes < max_bytes {
            if let Some(message) = member.private.pop_front() {
                bytes += message.len();
                out.push(message);
                continue;
            }
            if let Some(walk) = &mut member.walk {
                let group = Shared {
                    key: &self.key,
                    advertised: &self.advertised,
                    withdrawn: &self.withdrawn,
                };
                if let (Some(next), Some(snapshot)) = (walk.shared, &mut self.snapshot) {
                    if let Some(chunk) = snapshot.chunks.get(next) {
                        bytes += chunk.iter().map(Bytes::len).sum::<usize>();
                        out.extend(chunk.iter().cloned());
                        walk.shared = Some(next + 1);
                        continue;
                    }
                    if !snapshot.done {
                        if chunks == WALK_CHUNKS_PER_TAKE {
                            break;
                        }
                        chunks += 1;
                        let mut chunk = VecDeque::new();
                        snapshot.done = walk_chunk(
                            &group,
                            &mut snapshot.building,
                            ctx,
                            &mut exporter,
                            &mut chunk,
                        );
                        snapshot.chunks.push(chunk.into());
                        continue;
                    }
                    member.private.extend(std::mem::take(&mut walk.end));
                    member.cursor = walk.mark;
                    member.walk = None;
                    continue;
                }
                if chunks == WALK_CHUNKS_PER_TAKE {
                    break;
                }
                chunks += 1;
                if walk_chunk(&group, walk, ctx, &mut exporter, &mut member.private) {
                    member.private.extend(std::mem::take(&mut walk.end));
                    member.cursor = walk.mark;
                    member.walk = None;
                }
                continue;
            }
            match self.log.get(member.cursor) {
                Some(message) => {
                    bytes += message.len();
                    out.push(message.clone());
                    member.cursor += 1;
                }
                None => break,
            }
        }
        out
    }

    /// The earliest epoch whose changes some member may still need; `current` + 1 when every
    /// member is up to date.
    pub fn needed_epoch(&self, current: u32) -> u32 {
        let mut needed = current.wrapping_add(1);
        for member in self.members.values() {
            let epoch = match &member.walk {
                Some(walk) => walk
                    .since
                    .map_or(walk.mark_epoch, |since| earlier(since, walk.mark_epoch)),
                None => self.log.epoch_at(member.cursor).unwrap_or(needed),
            };
            needed = earlier(needed, epoch);
        }
        needed
    }

    /// Drops log messages no member needs, then the oldest while the log exceeds `retention`
    /// octets: members left behind resynchronize by a walk over what changed since the first
    /// message they missed. Collects ADD-PATH tombstones no member needs.
    fn trim(&mut self, retention: usize, epoch: u32) {
        let floor = self
            .members
            .values()
            .map(Member::log_floor)
            .min()
            .unwrap_or(self.log.end());
        while self.log.base < floor && !self.log.is_empty() {
            self.log.pop_front();
        }
        while self.log.bytes() > retention && !self.log.is_empty() {
            let dropped = self.log.base;
            let dropped_epoch = self.log.epoch_at(dropped).unwrap_or(epoch);
            for member in self.members.values_mut() {
                fall_behind(member, dropped, dropped_epoch, self.log.end(), epoch);
            }
            self.log.pop_front();
        }
        // Its readers replay the log from its start: gone, it can serve nobody any more.
        if self
            .snapshot
            .as_ref()
            .is_some_and(|snapshot| snapshot.mark < self.log.base)
        {
            self.snapshot = None;
        }
        if !self.withdrawn.is_empty() {
            let needed = self.needed_epoch(epoch);
            self.withdrawn.retain(|_, at| !before(*at, needed));
        }
    }
}

/// A member whose next message `dropped` (of epoch `dropped_epoch`) leaves the log: from now
/// on it is sent what changed since that epoch by a walk, then continues from `end`.
fn fall_behind(member: &mut Member, dropped: u64, dropped_epoch: u32, end: u64, epoch: u32) {
    match &mut member.walk {
        // A walk that would replay the log from the dropped message: the member may hold
        // routes changed since the walk began. Start over from the present, withdrawals
        // since the walk began included.
        Some(walk) if walk.mark == dropped => {
            let since = walk
                .since
                .map_or(walk.mark_epoch, |since| earlier(since, walk.mark_epoch));
            walk.since = Some(since);
            walk.resume = PrefixId(0);
            walk.mark = end;
            walk.mark_epoch = epoch;
            walk.shared = None;
        }
        Some(_) => {}
        None if member.cursor == dropped => {
            member.walk = Some(Walk {
                families: AfiSafiSet::ALL,
                resume: PrefixId(0),
                everything: false,
                since: Some(dropped_epoch),
                mark: end,
                mark_epoch: epoch,
                end: Vec::new(),
                shared: None,
            });
        }
        None => {}
    }
}

/// What a walk reads of its group.
struct Shared<'a> {
    key: &'a GroupKey,
    advertised: &'a Advertised,
    withdrawn: &'a HashMap<(IpNet, PathId), u32>,
}

/// Produces the next chunk of `walk` into `out`; `true` when the walk is done.
fn walk_chunk(
    group: &Shared<'_>,
    walk: &mut Walk,
    ctx: &mut Context<'_>,
    exporter: &mut Exporter<'_>,
    out: &mut VecDeque<Bytes>,
) -> bool {
    let key = group.key;
    let mut batch = Batch::new(&key.params);
    if let (Some(since), PrefixId(0)) = (walk.since, walk.resume) {
        // ADD-PATH: the identifiers withdrawn since, first (a later announcement in the walk
        // replaces any of them that came back).
        for ((prefix, path_id), at) in group.withdrawn {
            if !before(*at, since) && walk.families.contains(family_of(prefix)) {
                batch.withdraw(*prefix, *path_id);
            }
        }
    }
    let mut done = true;
    let mut last = None;
    for (visited, (id, destination)) in ctx.table.iter_from(walk.resume).enumerate() {
        if visited == WALK_CHUNK {
            done = false;
            break;
        }
        last = Some(id);
        let family = family_of(&destination.prefix);
        if !walk.families.contains(family) || !key.families.contains(family) {
            continue;
        }
        let changed = walk
            .since
            .is_some_and(|since| !before(changed_epoch(ctx.decisions, destination), since));
        if !walk.everything && !changed {
            continue;
        }
        let desired = if group.advertised.get(id) {
            let paths = ctx.decided(destination);
            exporter.view(ctx.interner, &destination.prefix, paths.into_iter())
        } else {
            Desired::new()
        };
        if desired.is_empty() {
            if changed && !key.params.sends_path_id(family) {
                batch.withdraw(destination.prefix, PathId(0));
            }
            continue;
        }
        for (path_id, attrs) in &desired {
            batch.announce(destination.prefix, *path_id, attrs);
        }
    }
    walk.resume = last.map_or(walk.resume, |id| PrefixId(id.0 + 1));
    // Every announcement was encoded once with these parameters when it was logged, which
    // withdraws what fails; a walk cannot meet a new failure.
    out.extend(batch.encode().0);
    done
}
