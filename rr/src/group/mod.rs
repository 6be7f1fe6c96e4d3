//! Update groups: neighbors with the same outbound view share one Adj-RIB-Out (RFC 4271 §3.2)
//! and one log of encoded UPDATE messages (the approach of FRR's update groups).
//!
//! The view is the [`GroupKey`]: families, role (external with its AS, internal client,
//! internal non-client), the encoding parameters of the session, next-hop handling with our own
//! addresses, and the export policy. Everything a route looks like towards a member is decided
//! by the key, so export and encoding run once per group ([`OutTable::diff`],
//! [`OutTable::commit`]) and a member costs a cursor into the shared log: the memory of a group
//! does not grow with members times routes.
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
//! A member that fell behind already has everything before its cursor, so its walk sends only
//! entries changed at or after it, withdrawals included. For that, withdrawn entries stay in
//! the table as tombstones until every member is past them.

mod encode;

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;
use ipnet::IpNet;
use proto::{AfiSafiSet, EncodeError, PathId, SessionParams};
use smallvec::SmallVec;

use crate::attrs::Attrs;
use crate::peer::family_range;
use crate::policy::Policy;
use crate::rules::Role;
use crate::types::{family_of, GroupId, LocalAddresses, NextHopPolicy, PeerId};

pub(crate) use encode::Batch;

/// Table entries a walk visits per chunk of messages it produces.
const WALK_CHUNK: usize = 2048;
/// Chunks one [`Group::take`] call may produce before returning, so that a walk over a table
/// where little matches is spread over several calls.
const WALK_CHUNKS_PER_TAKE: usize = 16;
/// Tombstones are collected once they outnumber the live entries and this many.
const MIN_TOMBSTONES_COLLECTED: usize = 1024;

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
    /// Clears what only decoding depends on, so that it does not split groups.
    pub fn outbound_params(params: &SessionParams) -> SessionParams {
        SessionParams {
            add_path_rx: AfiSafiSet::EMPTY,
            ..*params
        }
    }
}

/// What the group advertises for one prefix and path identifier.
#[derive(Debug, Clone)]
pub(crate) struct OutEntry {
    /// `None`: withdrawn, kept as a tombstone for members that fell behind.
    pub attrs: Option<Attrs>,
    /// The log sequence number of the last message that carried this entry's change (0: the
    /// entry predates the log).
    pub changed_at: u64,
}

/// The shared log of encoded UPDATE messages, numbered from `base`.
#[derive(Debug, Default)]
pub(crate) struct Log {
    base: u64,
    messages: VecDeque<Bytes>,
    bytes: usize,
}

impl Log {
    /// Numbering starts at 1 so that 0 can mean "before the log" in [`OutEntry::changed_at`].
    fn new() -> Log {
        Log {
            base: 1,
            ..Log::default()
        }
    }

    /// The sequence number the next message will get.
    pub fn end(&self) -> u64 {
        self.base + self.messages.len() as u64
    }

    fn get(&self, seq: u64) -> Option<&Bytes> {
        let index = usize::try_from(seq.checked_sub(self.base)?).ok()?;
        self.messages.get(index)
    }

    fn append(&mut self, messages: Vec<Bytes>) {
        for message in messages {
            self.bytes += message.len();
            self.messages.push_back(message);
        }
    }

    fn pop_front(&mut self) {
        if let Some(message) = self.messages.pop_front() {
            self.bytes -= message.len();
            self.base += 1;
        }
    }

    pub fn len(&self) -> usize {
        self.messages.len()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// A group's Adj-RIB-Out and log.
#[derive(Debug)]
pub(crate) struct OutTable {
    pub key: GroupKey,
    pub routes: BTreeMap<(IpNet, PathId), OutEntry>,
    pub announced: usize,
    tombstones: usize,
    pub log: Log,
}

/// A table walk in progress for one member.
#[derive(Debug, Clone)]
pub(crate) struct Walk {
    pub families: AfiSafiSet,
    /// The last key visited.
    pub resume: Option<(IpNet, PathId)>,
    /// Every announced entry is sent (joining, ROUTE-REFRESH); otherwise only those changed
    /// at or after `since`.
    pub everything: bool,
    /// `Some(seq)`: the member has every change before `seq`, and withdrawals (tombstones)
    /// changed at or after it are sent too.
    pub since: Option<u64>,
    /// Where the member continues in the log once the walk is done.
    pub mark: u64,
    /// Messages to send once the walk is done (End-of-RIB, End of Route Refresh).
    pub end: Vec<Bytes>,
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

    /// The earliest change this member may still need a tombstone for.
    fn tombstone_floor(&self) -> u64 {
        match &self.walk {
            Some(walk) => walk.since.unwrap_or(walk.mark),
            None => self.cursor,
        }
    }
}

/// An update group.
#[derive(Debug)]
pub(crate) struct Group {
    pub id: GroupId,
    pub table: OutTable,
    pub members: BTreeMap<PeerId, Member>,
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

/// The desired outbound entries for one prefix: path identifier and attributes.
pub(crate) type Desired = SmallVec<[(PathId, Attrs); 1]>;

impl OutTable {
    fn new(key: GroupKey) -> OutTable {
        OutTable {
            key,
            routes: BTreeMap::new(),
            announced: 0,
            tombstones: 0,
            log: Log::new(),
        }
    }

    /// Sets what is advertised without logging it: used to fill a new group's table, whose
    /// members all start with a walk.
    pub fn fill(&mut self, prefix: IpNet, desired: Desired) {
        for (id, attrs) in desired {
            let entry = OutEntry {
                attrs: Some(attrs),
                changed_at: 0,
            };
            if self.routes.insert((prefix, id), entry).is_none() {
                self.announced += 1;
            }
        }
    }

    /// Adds to `batch` the difference between what is advertised for `prefix` and `desired`,
    /// and to `touched` the entries to update once the batch is encoded.
    pub fn diff(
        &self,
        prefix: IpNet,
        desired: &Desired,
        batch: &mut Batch,
        touched: &mut Vec<((IpNet, PathId), Option<Attrs>)>,
    ) {
        if desired.is_empty() && self.routes.is_empty() {
            return;
        }
        let range = (prefix, PathId(0))..=(prefix, PathId(u32::MAX));
        let current: SmallVec<[(PathId, &Attrs); 2]> = self
            .routes
            .range(range)
            .filter_map(|((_, id), entry)| entry.attrs.as_ref().map(|attrs| (*id, attrs)))
            .collect();
        for (id, _) in &current {
            if !desired.iter().any(|(desired_id, _)| desired_id == id) {
                batch.withdraw(prefix, *id);
                touched.push(((prefix, *id), None));
            }
        }
        for (id, attrs) in desired {
            let same = current
                .iter()
                .any(|(current_id, current)| current_id == id && Arc::ptr_eq(current, attrs));
            if !same {
                batch.announce(prefix, *id, attrs);
                touched.push(((prefix, *id), Some(attrs.clone())));
            }
        }
    }

    /// Encodes `batch`, appends the messages to the log and records `touched` in the table.
    /// Announcements that cannot be encoded are withdrawn instead (the members may hold an
    /// older state of them).
    pub fn commit(
        &mut self,
        batch: Batch,
        mut touched: Vec<((IpNet, PathId), Option<Attrs>)>,
    ) -> Committed {
        if batch.is_empty() {
            return Committed::default();
        }
        let (mut messages, failed) = batch.encode();
        let mut committed = Committed {
            failed: failed.keys.len(),
            error: failed.error,
            ..Committed::default()
        };
        if !failed.keys.is_empty() {
            let mut withdrawals = Batch::new(&self.key.params);
            for key in &failed.keys {
                // Members hold the previous announcement, if any: withdraw it.
                if self
                    .routes
                    .get(key)
                    .is_some_and(|entry| entry.attrs.is_some())
                {
                    withdrawals.withdraw(key.0, key.1);
                }
            }
            messages.extend(withdrawals.encode().0);
            let failed: HashSet<&(IpNet, PathId)> = failed.keys.iter().collect();
            for (key, attrs) in touched.iter_mut() {
                if failed.contains(key) {
                    *attrs = None;
                }
            }
        }
        if messages.is_empty() {
            return committed;
        }
        self.log.append(messages);
        committed.logged = true;
        let last = self.log.end() - 1;
        for (key, attrs) in touched {
            self.record(key, attrs, last);
        }
        committed
    }

    fn record(&mut self, key: (IpNet, PathId), attrs: Option<Attrs>, changed_at: u64) {
        let announced = attrs.is_some();
        match self.routes.entry(key) {
            Entry::Occupied(mut occupied) => {
                let entry = occupied.get_mut();
                match (entry.attrs.is_some(), announced) {
                    (true, false) => {
                        self.announced -= 1;
                        self.tombstones += 1;
                    }
                    (false, true) => {
                        self.announced += 1;
                        self.tombstones -= 1;
                    }
                    _ => {}
                }
                entry.attrs = attrs;
                entry.changed_at = changed_at;
            }
            Entry::Vacant(vacant) => {
                // Never advertised: nothing to remember when withdrawn.
                if announced {
                    vacant.insert(OutEntry { attrs, changed_at });
                    self.announced += 1;
                }
            }
        }
    }

    /// Produces the next chunk of `walk` into `out`; `true` when the walk is done.
    fn walk_chunk(&self, walk: &mut Walk, out: &mut VecDeque<Bytes>) -> bool {
        let Some(last_family) = walk.families.iter().last() else {
            return true;
        };
        let start = match walk.resume {
            Some(key) => Bound::Excluded(key),
            None => match walk.families.iter().next() {
                Some(first) => family_range(first).0,
                None => Bound::Unbounded,
            },
        };
        let mut batch = Batch::new(&self.key.params);
        let mut done = true;
        for (visited, (key, entry)) in self.routes.range((start, Bound::Unbounded)).enumerate() {
            if visited == WALK_CHUNK {
                done = false;
                break;
            }
            let family = family_of(&key.0);
            if family > last_family {
                break;
            }
            walk.resume = Some(*key);
            if !walk.families.contains(family) {
                continue;
            }
            let changed = walk.since.is_some_and(|since| entry.changed_at >= since);
            match &entry.attrs {
                Some(attrs) if walk.everything || changed => batch.announce(key.0, key.1, attrs),
                None if changed => batch.withdraw(key.0, key.1),
                _ => {}
            }
        }
        // Every announced entry was encoded once with these parameters by `commit`, which
        // withdraws what fails; a walk cannot meet a new failure.
        out.extend(batch.encode().0);
        done
    }

    /// Drops log messages no member needs, then the oldest while the log exceeds `retention`
    /// octets; collects tombstones every member is past.
    fn trim<'a>(&mut self, members: impl Iterator<Item = &'a Member> + Clone, retention: usize) {
        let floor = members
            .clone()
            .map(Member::log_floor)
            .min()
            .unwrap_or(self.log.end());
        while self.log.base < floor && !self.log.messages.is_empty() {
            self.log.pop_front();
        }
        while self.log.bytes > retention && !self.log.messages.is_empty() {
            self.log.pop_front();
        }
        if self.tombstones > self.announced.max(MIN_TOMBSTONES_COLLECTED) {
            let floor = members
                .map(Member::tombstone_floor)
                .min()
                .unwrap_or(self.log.end());
            let before = self.routes.len();
            self.routes
                .retain(|_, entry| entry.attrs.is_some() || entry.changed_at >= floor);
            self.tombstones -= before - self.routes.len();
        }
    }
}

impl Group {
    pub fn new(id: GroupId, key: GroupKey) -> Group {
        Group {
            id,
            table: OutTable::new(key),
            members: BTreeMap::new(),
        }
    }

    pub fn key(&self) -> &GroupKey {
        &self.table.key
    }

    /// Adds a member that starts with a walk of the whole table, then `end` (its End-of-RIB
    /// markers), then the log.
    pub fn join(&mut self, peer: PeerId, private: Vec<Bytes>, end: Vec<Bytes>) {
        let mark = self.table.log.end();
        let walk = Walk {
            families: self.table.key.families,
            resume: None,
            everything: true,
            since: None,
            mark,
            end,
        };
        self.members.insert(
            peer,
            Member {
                cursor: mark,
                walk: Some(walk),
                private: private.into(),
            },
        );
    }

    /// Starts a walk of `family` for a member (ROUTE-REFRESH), sending `begin` first and `end`
    /// after it (BoRR / EoRR, RFC 7313 §4). A walk in progress is widened instead.
    pub fn refresh(
        &mut self,
        peer: PeerId,
        families: AfiSafiSet,
        begin: Vec<Bytes>,
        end: Vec<Bytes>,
    ) {
        let log_end = self.table.log.end();
        let Some(member) = self.members.get_mut(&peer) else {
            return;
        };
        member.private.extend(begin);
        let walk = member.walk.get_or_insert(Walk {
            families: AfiSafiSet::EMPTY,
            resume: None,
            everything: true,
            since: None,
            mark: member.cursor.min(log_end),
            end: Vec::new(),
        });
        // Restarting from the beginning is simplest and only repeats announcements; a
        // resynchronization in progress keeps its `since` so its withdrawals are still sent.
        for family in families.iter() {
            walk.families.insert(family);
        }
        walk.resume = None;
        walk.everything = true;
        walk.end.extend(end);
    }

    /// Commits a batch and trims the log.
    pub fn commit(
        &mut self,
        batch: Batch,
        touched: Vec<((IpNet, PathId), Option<Attrs>)>,
        retention: usize,
    ) -> Committed {
        let committed = self.table.commit(batch, touched);
        if committed.logged {
            self.table.trim(self.members.values(), retention);
        }
        committed
    }

    /// Whether `peer` has messages waiting.
    pub fn has_messages(&self, peer: PeerId) -> bool {
        self.members.get(&peer).is_some_and(|member| {
            !member.private.is_empty()
                || member.walk.is_some()
                || member.cursor < self.table.log.end()
        })
    }

    /// Messages for `peer`, in order, until they add up to `max_bytes` octets or more (the
    /// last one may cross the budget, so a writer's room is filled); they count as sent.
    pub fn take(&mut self, peer: PeerId, max_bytes: usize) -> Vec<Bytes> {
        let Some(member) = self.members.get_mut(&peer) else {
            return Vec::new();
        };
        let table = &self.table;
        let mut out = Vec::new();
        let mut bytes = 0;
        let mut chunks = 0;
        while bytes < max_bytes {
            if let Some(message) = member.private.pop_front() {
                bytes += message.len();
                out.push(message);
                continue;
            }
            if let Some(walk) = &mut member.walk {
                if walk.mark < table.log.base {
                    // The log lost changes made since the walk began, which the member would
                    // have replayed: it may hold routes they replaced or withdrew. Start over
                    // from the present, withdrawals since the walk began included.
                    walk.since = Some(walk.since.map_or(walk.mark, |since| since.min(walk.mark)));
                    walk.resume = None;
                    walk.mark = table.log.end();
                }
                if chunks == WALK_CHUNKS_PER_TAKE {
                    break;
                }
                chunks += 1;
                if table.walk_chunk(walk, &mut member.private) {
                    member.private.extend(std::mem::take(&mut walk.end));
                    member.cursor = walk.mark;
                    member.walk = None;
                }
                continue;
            }
            if member.cursor < table.log.base {
                // Fell behind the retention: resynchronize by a walk over what changed since.
                member.walk = Some(Walk {
                    families: table.key.families,
                    resume: None,
                    everything: false,
                    since: Some(member.cursor),
                    mark: table.log.end(),
                    end: Vec::new(),
                });
                continue;
            }
            match table.log.get(member.cursor) {
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
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use proto::attr::{AsPath, Attributes, NextHop, Origin};

    use super::*;
    use crate::attrs::{PathAttrs, RouteNextHop};

    const RETENTION: usize = 1 << 20;

    fn group() -> Group {
        let key = GroupKey {
            families: AfiSafiSet::ALL,
            role: Role::Internal { client: true },
            params: SessionParams::default(),
            next_hop: NextHopPolicy::Auto,
            local: LocalAddresses::default(),
            export: Arc::new(Policy::default()),
            long_lived: false,
        };
        Group::new(GroupId(0), key)
    }

    fn prefixes(count: u32) -> Vec<IpNet> {
        (0..count)
            .map(|i| {
                IpNet::V4(
                    ipnet::Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 + (i << 8)), 24).expect("/24"),
                )
            })
            .collect()
    }

    /// Sets what the group advertises for `prefixes` (`attrs` or withdrawn) and commits it.
    fn change(group: &mut Group, prefixes: &[IpNet], attrs: Option<&Attrs>) {
        let mut batch = Batch::new(&group.key().params);
        let mut touched = Vec::new();
        for prefix in prefixes {
            let desired: Desired = attrs.map(|a| (PathId(0), a.clone())).into_iter().collect();
            group
                .table
                .diff(*prefix, &desired, &mut batch, &mut touched);
        }
        group.commit(batch, touched, RETENTION);
    }

    /// Tombstones stay while a member may still need them and go once every member is past;
    /// the log keeps what the slowest member has not taken.
    #[test]
    fn tombstones_and_log_follow_the_slowest_member() {
        let attrs = Arc::new(PathAttrs::new(
            Attributes {
                origin: Some(Origin::Igp),
                as_path: Some(AsPath::default()),
                ..Attributes::default()
            },
            RouteNextHop::Address(NextHop::Ipv4(Ipv4Addr::new(10, 0, 0, 1))),
        ));
        let mut group = group();
        let (fast, slow) = (PeerId(1), PeerId(2));
        group.join(fast, Vec::new(), Vec::new());
        group.join(slow, Vec::new(), Vec::new());
        group.take(fast, usize::MAX);
        group.take(slow, usize::MAX);
        let all = prefixes(2000);

        change(&mut group, &all, Some(&attrs));
        let announced = group.take(fast, usize::MAX).len();
        change(&mut group, &all, None);
        assert_eq!(
            group.table.tombstones, 2000,
            "the slow member has not seen them"
        );
        let withdrawn = group.take(fast, usize::MAX).len();
        assert_eq!(group.take(slow, usize::MAX).len(), announced + withdrawn);

        change(&mut group, &all[..1], Some(&attrs));
        assert_eq!(group.table.tombstones, 0, "every member is past them");
        assert_eq!(group.table.announced, 1);
        assert_eq!(
            group.table.log.len(),
            1,
            "only the last change is left to take"
        );
    }
}
