//! The FIB's per-prefix memory: one compact [`Entry`] per prefix the RIB wants installed or
//! the kernel holds of ours, and the next-hop sets they name, interned (a node has few
//! distinct sets: its neighbors, alone or as ECMP groups).
//!
//! An entry is two set ids and a byte of flags (12 bytes); it is stored flattened beside its
//! prefix in one slot of an open-addressing table (`hashbrown::HashTable`), 16 bytes for an
//! IPv4 prefix and 28 for an IPv6 one, so that an entry costs its slot plus the table's control
//! byte and load-factor slack, and no heap allocation of its own. An entry with nothing in it
//! is removed.
//!
//! Sets are freed by a mark-and-sweep over the holders of set ids (the entries, and what the
//! caller names: the requests in flight) when their number has doubled since the last sweep,
//! so a churn of distinct next hops cannot grow the interner without bound; the sweep runs only
//! at the start of an operation ([`Table::collect`]), when no id is held anywhere else.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::num::NonZeroU32;

use hashbrown::hash_table::{self, HashTable};

/// The slots' hash: foldhash, seeded per process (a prefix's slot cannot be predicted from
/// outside), and several times faster than SipHash on a 5- or 17-byte key.
type Hasher = hashbrown::DefaultHashBuilder;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::state::NextHop;

/// An interned next-hop set (of addresses as the RIB asked, or of [`NextHop`]s as installed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SetId(NonZeroU32);

/// What the FIB knows of one prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Entry {
    /// The next hops the RIB asks for (an address set).
    pub wanted: Option<SetId>,
    /// Our route at our metric as the kernel has it (a [`NextHop`] set).
    pub installed: Option<SetId>,
    pub flags: Flags,
}

impl Entry {
    fn is_empty(&self) -> bool {
        self.wanted.is_none() && self.installed.is_none() && self.flags == Flags::default()
    }
}

/// The per-prefix bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags(u8);

impl Flags {
    /// In the decision queue (once, however often it changed).
    pub const QUEUED: Flags = Flags(1);
    /// Found in the kernel before convergence and not mentioned by the RIB since: kept until
    /// the sweep.
    pub const ADOPTED: Flags = Flags(2);
    /// Seen by the dump in progress.
    pub const DUMPED: Flags = Flags(4);

    pub fn contains(self, flag: Flags) -> bool {
        self.0 & flag.0 != 0
    }

    pub fn set(&mut self, flag: Flags, on: bool) {
        if on {
            self.0 |= flag.0;
        } else {
            self.0 &= !flag.0;
        }
    }
}

/// A slot: the prefix's address bits and length beside its entry, unnested so that they share
/// one alignment's padding.
#[derive(Debug, Clone, Copy)]
struct Slot<A> {
    address: A,
    wanted: Option<SetId>,
    installed: Option<SetId>,
    length: u8,
    flags: Flags,
}

impl<A: Copy> Slot<A> {
    fn entry(&self) -> Entry {
        Entry {
            wanted: self.wanted,
            installed: self.installed,
            flags: self.flags,
        }
    }

    fn store(&mut self, entry: Entry) {
        self.wanted = entry.wanted;
        self.installed = entry.installed;
        self.flags = entry.flags;
    }
}

/// One family's slots.
#[derive(Debug)]
struct Family<A> {
    slots: HashTable<Slot<A>>,
}

impl<A: Copy + Eq + Hash> Family<A> {
    fn new() -> Self {
        Family {
            slots: HashTable::new(),
        }
    }

    fn get(&self, hasher: &Hasher, address: A, length: u8) -> Option<Entry> {
        self.slots
            .find(hasher.hash_one((address, length)), |slot| {
                slot.address == address && slot.length == length
            })
            .map(Slot::entry)
    }

    /// Changes the entry in place (one lookup); an entry left empty is removed.
    fn update(&mut self, hasher: &Hasher, address: A, length: u8, change: impl FnOnce(&mut Entry)) {
        let found = self.slots.entry(
            hasher.hash_one((address, length)),
            |slot| slot.address == address && slot.length == length,
            |slot| hasher.hash_one((slot.address, slot.length)),
        );
        match found {
            hash_table::Entry::Occupied(mut found) => {
                let slot = found.get_mut();
                let mut entry = slot.entry();
                change(&mut entry);
                if entry.is_empty() {
                    found.remove();
                } else {
                    slot.store(entry);
                }
            }
            hash_table::Entry::Vacant(vacant) => {
                let mut entry = Entry::default();
                change(&mut entry);
                if !entry.is_empty() {
                    vacant.insert(Slot {
                        address,
                        wanted: entry.wanted,
                        installed: entry.installed,
                        length,
                        flags: entry.flags,
                    });
                }
            }
        }
    }

    /// Calls `change` on every entry and removes those left empty.
    fn update_all(
        &mut self,
        mut change: impl FnMut(IpNet, &mut Entry),
        net: impl Fn(A, u8) -> IpNet,
    ) {
        self.slots.retain(|slot| {
            let mut entry = slot.entry();
            change(net(slot.address, slot.length), &mut entry);
            slot.store(entry);
            !entry.is_empty()
        });
    }
}

/// An interner of small sets, by id.
#[derive(Debug)]
struct Interner<T: Eq + Hash> {
    /// By id - 1; `None`: freed, its id on `free`.
    sets: Vec<Option<Box<[T]>>>,
    ids: HashMap<Box<[T]>, SetId>,
    free: Vec<SetId>,
}

impl<T: Eq + Hash + Clone> Interner<T> {
    fn new() -> Self {
        Interner {
            sets: Vec::new(),
            ids: HashMap::new(),
            free: Vec::new(),
        }
    }

    fn intern(&mut self, set: &[T]) -> SetId {
        if let Some(id) = self.ids.get(set) {
            return *id;
        }
        let boxed: Box<[T]> = set.into();
        let id = match self.free.pop() {
            Some(id) => {
                self.sets[index(id)] = Some(boxed.clone());
                id
            }
            None => {
                // There are never 2³² sets: each is held by a prefix or a request.
                self.sets.push(Some(boxed.clone()));
                id_at(self.sets.len() - 1)
            }
        };
        self.ids.insert(boxed, id);
        id
    }

    fn get(&self, id: SetId) -> &[T] {
        // An id is only ever read while held (see the module documentation).
        self.sets
            .get(index(id))
            .and_then(Option::as_deref)
            .unwrap_or(&[])
    }

    fn live(&self) -> usize {
        self.ids.len()
    }

    /// Frees every set not in `marked`.
    fn sweep(&mut self, marked: &[bool]) {
        for (position, set) in self.sets.iter_mut().enumerate() {
            if set.is_some() && !marked.get(position).copied().unwrap_or(false) {
                if let Some(set) = set.take() {
                    self.ids.remove(&set);
                }
                self.free.push(id_at(position));
            }
        }
    }
}

// The length was a prefix length when the slot was made.
fn v4_net(address: u32, length: u8) -> IpNet {
    Ipv4Net::new(Ipv4Addr::from(address), length)
        .map_or_else(|_| IpNet::V4(Ipv4Net::default()), IpNet::V4)
}

fn v6_net(address: [u8; 16], length: u8) -> IpNet {
    Ipv6Net::new(Ipv6Addr::from(address), length)
        .map_or_else(|_| IpNet::V6(Ipv6Net::default()), IpNet::V6)
}

/// The id of the set at `position` in the interner's vector (ids start at 1).
fn id_at(position: usize) -> SetId {
    let id = u32::try_from(position + 1).unwrap_or(u32::MAX);
    SetId(NonZeroU32::new(id).unwrap_or(NonZeroU32::MAX))
}

fn index(id: SetId) -> usize {
    id.0.get() as usize - 1
}

/// Every prefix's entry, and the sets they name.
#[derive(Debug)]
pub struct Table {
    hasher: Hasher,
    v4: Family<u32>,
    v6: Family<[u8; 16]>,
    /// Address sets the RIB asked for.
    wanted_sets: Interner<IpAddr>,
    /// Next-hop sets installed (or to be).
    next_hop_sets: Interner<NextHop>,
    /// Live sets at the last sweep: the next one runs when there are twice as many.
    swept_at: usize,
}

impl Table {
    pub fn new() -> Table {
        Table {
            hasher: Hasher::default(),
            v4: Family::new(),
            v6: Family::new(),
            wanted_sets: Interner::new(),
            next_hop_sets: Interner::new(),
            swept_at: 0,
        }
    }

    /// The prefix's entry (the default when it has none).
    pub fn get(&self, prefix: IpNet) -> Entry {
        match prefix {
            IpNet::V4(net) => self
                .v4
                .get(&self.hasher, u32::from(net.addr()), net.prefix_len()),
            IpNet::V6(net) => self
                .v6
                .get(&self.hasher, net.addr().octets(), net.prefix_len()),
        }
        .unwrap_or_default()
    }

    /// Stores the prefix's entry (an empty one removes it).
    pub fn set(&mut self, prefix: IpNet, entry: Entry) {
        self.update(prefix, |stored| *stored = entry);
    }

    /// Changes the prefix's entry in place (the default when it has none); an entry left
    /// empty is removed.
    pub fn update(&mut self, prefix: IpNet, change: impl FnOnce(&mut Entry)) {
        match prefix {
            IpNet::V4(net) => {
                self.v4.update(
                    &self.hasher,
                    u32::from(net.addr()),
                    net.prefix_len(),
                    change,
                );
            }
            IpNet::V6(net) => {
                self.v6
                    .update(&self.hasher, net.addr().octets(), net.prefix_len(), change);
            }
        }
    }

    /// Every prefix with an entry, and it.
    pub fn iter(&self) -> impl Iterator<Item = (IpNet, Entry)> + '_ {
        let v4 = self
            .v4
            .slots
            .iter()
            .map(|slot| (v4_net(slot.address, slot.length), slot.entry()));
        let v6 = self
            .v6
            .slots
            .iter()
            .map(|slot| (v6_net(slot.address, slot.length), slot.entry()));
        v4.chain(v6)
    }

    /// Calls `change` on every entry, in no particular order; entries left empty go.
    pub fn update_all(&mut self, mut change: impl FnMut(IpNet, &mut Entry)) {
        self.v4.update_all(&mut change, v4_net);
        self.v6.update_all(&mut change, v6_net);
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.v4.slots.len() + self.v6.slots.len()
    }

    pub fn intern_wanted(&mut self, addresses: &[IpAddr]) -> SetId {
        self.wanted_sets.intern(addresses)
    }

    pub fn intern_next_hops(&mut self, next_hops: &[NextHop]) -> SetId {
        self.next_hop_sets.intern(next_hops)
    }

    pub fn wanted(&self, id: SetId) -> &[IpAddr] {
        self.wanted_sets.get(id)
    }

    pub fn next_hops(&self, id: SetId) -> &[NextHop] {
        self.next_hop_sets.get(id)
    }

    /// Frees the sets no entry and none of `held` (next-hop sets) names, when they have
    /// doubled since the last time. Call only where no other id is held.
    pub fn collect(&mut self, held: impl Iterator<Item = SetId>) {
        let live = self.wanted_sets.live() + self.next_hop_sets.live();
        if live < 2 * self.swept_at + 64 {
            return;
        }
        let mut wanted = vec![false; self.wanted_sets.sets.len()];
        let mut next_hops = vec![false; self.next_hop_sets.sets.len()];
        let mark = |marks: &mut Vec<bool>, id: Option<SetId>| {
            if let Some(slot) = id.and_then(|id| marks.get_mut(index(id))) {
                *slot = true;
            }
        };
        for (_, entry) in self.iter() {
            mark(&mut wanted, entry.wanted);
            mark(&mut next_hops, entry.installed);
        }
        for id in held {
            mark(&mut next_hops, Some(id));
        }
        self.wanted_sets.sweep(&wanted);
        self.next_hop_sets.sweep(&next_hops);
        self.swept_at = self.wanted_sets.live() + self.next_hop_sets.live();
    }
}
