//! The bytes the RIB holds per route, counted by a global allocator, against bounds derived
//! from the design (`rr::table`): a destination with one path is one 56-octet record in a
//! segmented vector, found through a hash index of 4-octet ids (at most 2 buckets of 5 octets
//! per destination after a doubling), each update group keeps one bit per destination, and
//! attribute sets are shared. 100,000 prefixes from one neighbor, reflected to clients whose
//! messages are all taken (so the group's log is empty).
//!
//! A regression that adds a per-route structure (a B-tree per table, an Adj-RIB-Out copy per
//! group, a boxed path) fails here.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use ipnet::Ipv4Net;
use proto::nlri::Nlri;
use proto::update::Update;
use rr::PeerId;

/// Counts heap bytes in use.
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator with the same arguments; the
// counter is only a statistic.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            IN_USE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        unsafe { System.dealloc(pointer, layout) };
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            IN_USE.fetch_add(new_size, Ordering::Relaxed);
            IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The counter is global: one measurement at a time (the test harness runs tests in threads).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

const PREFIXES: u32 = 100_000;
/// Prefixes per UPDATE (a full 4096-octet message holds about 1,000 /24s).
const PER_UPDATE: u32 = 1_000;

/// One destination record (56) + index (≤ 2 × 5 after a doubling) + segment slack and the
/// group's bit (≤ 3 at this size) + the attribute sets shared by 1,000 routes each: 80
/// octets.
const ONE_PATH_BOUND: usize = 80;
/// A second path per destination moves both to the heap: 2 × 32 octets plus the allocator's
/// header (16) on top of the record.
const TWO_PATHS_BOUND: usize = ONE_PATH_BOUND + 2 * 32 + 16;

fn prefix(i: u32) -> Nlri<Ipv4Net> {
    let net = Ipv4Net::new(std::net::Ipv4Addr::from(0x1000_0000 + (i << 8)), 24).expect("a /24");
    Nlri::new(net, None)
}

/// The UPDATEs announcing every prefix via `next_hop`, made one at a time (so that what the
/// inputs allocate is freed within the measurement); every 1,000 prefixes share attributes.
fn updates(next_hop: &str) -> impl Iterator<Item = Update> + '_ {
    (0..PREFIXES / PER_UPDATE).map(move |chunk| {
        let mut update = announce(&[], next_hop, path(&[65000 + chunk % 10, 64000 + chunk]));
        update.announced = (chunk * PER_UPDATE..(chunk + 1) * PER_UPDATE)
            .map(prefix)
            .collect();
        update
    })
}

/// Bytes per destination the RIB holds once `sources` neighbors announced every prefix.
fn bytes_per_destination(sources: u32) -> usize {
    let _serial = serial();
    let mut lab = Lab::new(reflector("192.0.2.100"));
    let sources: Vec<Neighbor> = (1..=sources)
        .map(|id| Neighbor::ibgp(id, &format!("10.0.0.{id}")))
        .collect();
    for source in &sources {
        lab.up(source);
    }
    for client in 0..10 {
        lab.up(&Neighbor::client(100 + client, &format!("10.0.1.{client}")));
    }
    let next_hops: Vec<(u32, String)> = sources
        .iter()
        .map(|source| (source.id, format!("10.0.0.{}", source.id)))
        .collect();
    let before = IN_USE.load(Ordering::Relaxed);
    for (id, next_hop) in &next_hops {
        for update in updates(next_hop) {
            lab.run(rr::RibInput::Update {
                peer: PeerId(*id),
                update,
            });
        }
    }
    let held = IN_USE.load(Ordering::Relaxed).saturating_sub(before);
    let (destinations, _) = lab.rib.table_size();
    assert_eq!(destinations, PREFIXES as usize);
    for client in 0..10 {
        let summary = lab.rib.peer_summary(PeerId(100 + client)).expect("up");
        assert_eq!(
            summary.advertised, PREFIXES as usize,
            "every route reflected"
        );
    }
    let per = held / PREFIXES as usize;
    println!(
        "{sources} source(s): {held} bytes for {PREFIXES} destinations, {per} per destination",
        sources = sources.len()
    );
    per
}

#[test]
fn one_path_per_destination_fits_the_design_bound() {
    let per = bytes_per_destination(1);
    assert!(
        per <= ONE_PATH_BOUND,
        "{per} bytes per destination, bound {ONE_PATH_BOUND}"
    );
}

#[test]
fn two_paths_per_destination_fit_the_design_bound() {
    let per = bytes_per_destination(2);
    assert!(
        per <= TWO_PATHS_BOUND,
        "{per} bytes per destination, bound {TWO_PATHS_BOUND}"
    );
}

#[test]
fn the_table_shrinks_when_its_routes_go() {
    let _serial = serial();
    let mut lab = Lab::new(reflector("192.0.2.100"));
    let source = Neighbor::ibgp(1, "10.0.0.1");
    lab.up(&source);
    lab.up(&Neighbor::client(2, "10.0.1.1"));
    let before = IN_USE.load(Ordering::Relaxed);
    for update in updates("10.0.0.1") {
        lab.run(rr::RibInput::Update {
            peer: PeerId(1),
            update,
        });
    }
    lab.run(down(1));
    // One more change commits, so the group's log lets go of the withdrawals the client took.
    let prefix = net("192.0.2.0/24");
    lab.run(rr::RibInput::Originate {
        prefix,
        route: rr::LocalRoute::default(),
    });
    lab.run(rr::RibInput::WithdrawLocal { prefix });
    let left = IN_USE.load(Ordering::Relaxed).saturating_sub(before);
    assert_eq!(lab.rib.table_size(), (0, 0), "every destination freed");
    // What stays does not grow with the routes that went: buffers kept for the next burst
    // (decision lanes and snapshots, 1,024 entries each) and the attribute sets seen, which
    // the interner sweeps when it next doubles.
    assert!(
        left < 256 * 1024,
        "{left} bytes left after the neighbor went"
    );
}
