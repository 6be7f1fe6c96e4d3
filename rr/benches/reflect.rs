//! One route reflector takes 100,000 IPv4 prefixes from one non-client neighbor and produces
//! the UPDATEs for 100 clients in one update group: apply the decoded UPDATEs, run every
//! decision, take every client's messages.
//!
//! Prints the time (criterion) and the memory: the peak heap during the scenario and what the
//! RIB retains afterwards, for 1 and for 100 clients, which shows that clients cost a cursor,
//! not a copy of the table. Run with `cargo bench -p rr --bench reflect`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use ipnet::Ipv4Net;
use proto::attr::{AsPath, Attributes, Community, Origin};
use proto::nlri::Nlri;
use proto::open::{HoldTime, Open};
use proto::session::Negotiated;
use proto::update::{Announce, Update, UpdateBuilder};
use proto::{AfiSafiSet, Asn, ClusterId, RouterId, SessionParams};
use rr::{LocalAddresses, PeerConfig, PeerId, PeerUp, Rib, RibConfig, RibInput};

/// Counts heap bytes in use and their peak.
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator with the same arguments; the
// counters are only statistics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            let now = IN_USE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        unsafe { System.dealloc(pointer, layout) };
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const LOCAL_AS: u32 = 64512;
const PREFIXES: u32 = 100_000;
const CLIENTS: u32 = 100;
/// Attribute sets among the prefixes (different AS paths and communities), as a full table
/// from one upstream would have many.
const ATTRIBUTE_SETS: u32 = 100;
/// Decisions per `run_decisions` call.
const BUDGET: usize = 10_000;
/// Octets per `take_messages` call (a writer's pull, as `bgpd` asks for).
const TAKE: usize = 256 * 1024;
const SOURCE: PeerId = PeerId(1);

fn params() -> SessionParams {
    SessionParams {
        four_octet_as: true,
        ..SessionParams::plain(false)
    }
}

fn session(router_id: Ipv4Addr) -> Negotiated {
    Negotiated {
        peer_asn: Asn(LOCAL_AS),
        peer_router_id: RouterId(router_id),
        hold_time: 90,
        keepalive: Duration::from_secs(30),
        params: params(),
        families: AfiSafiSet::EMPTY.with(proto::AfiSafi::Ipv4Unicast),
        route_refresh: true,
        enhanced_route_refresh: true,
        graceful_restart: None,
        remote: Open::new(Asn(LOCAL_AS), HoldTime(90), RouterId(router_id), Vec::new()),
    }
}

fn peer_up(id: u32, address: Ipv4Addr, client: bool) -> RibInput {
    let mut config = PeerConfig::new(address.into());
    config.rr_client = client;
    RibInput::PeerUp(Box::new(PeerUp {
        peer: PeerId(id),
        config,
        session: session(address),
        local: LocalAddresses {
            ipv4: Some(Ipv4Addr::new(10, 0, 0, 254)),
            ipv6: None,
        },
    }))
}

/// The UPDATEs the source sends, encoded with `proto` and decoded as the peer task would.
fn source_updates() -> Vec<Update> {
    let builder = UpdateBuilder::new(&params());
    let per_set = PREFIXES / ATTRIBUTE_SETS;
    let mut updates = Vec::new();
    for set in 0..ATTRIBUTE_SETS {
        let attributes = Attributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::from_sequence(&[Asn(65000 + set), Asn(65500)])),
            next_hop: Some(Ipv4Addr::new(10, 0, 0, 1)),
            communities: vec![Community::new(65000, set as u16)],
            ..Attributes::default()
        };
        let nlri: Vec<Nlri<Ipv4Net>> = (set * per_set..(set + 1) * per_set)
            .map(|i| {
                let address = Ipv4Addr::from(0x0b00_0000 + (i << 8));
                Nlri::new(Ipv4Net::new(address, 24).expect("/24"), None)
            })
            .collect();
        for message in builder
            .announce(&attributes, Announce::Ipv4(&nlri))
            .expect("encodes")
        {
            // Past the 19-octet header.
            let body = message.slice(19..);
            updates.push(Update::decode(&body, &params()).expect("decodes"));
        }
    }
    updates
}

/// A reflector with the source and `clients` clients up.
fn reflector(clients: u32) -> Rib {
    let mut config = RibConfig::new(Asn(LOCAL_AS), RouterId(Ipv4Addr::new(10, 0, 0, 254)));
    config.cluster_id = Some(ClusterId(Ipv4Addr::new(10, 0, 0, 254)));
    config.install_routes = false;
    let mut rib = Rib::new(config);
    rib.apply(peer_up(SOURCE.0, Ipv4Addr::new(10, 0, 0, 1), false))
        .expect("up");
    for id in 0..clients {
        let address = Ipv4Addr::from(0x0a01_0000 + id);
        rib.apply(peer_up(100 + id, address, true)).expect("up");
    }
    for id in 0..clients {
        drain(&mut rib, PeerId(100 + id));
    }
    rib
}

/// Takes all of a peer's messages; returns (messages, octets).
fn drain(rib: &mut Rib, peer: PeerId) -> (usize, usize) {
    let mut count = 0;
    let mut octets = 0;
    while rib.has_messages(peer) {
        let messages: Vec<Bytes> = rib.take_messages(peer, TAKE);
        count += messages.len();
        octets += messages.iter().map(Bytes::len).sum::<usize>();
        black_box(messages);
    }
    (count, octets)
}

/// What one run did: what one client was sent, and the time of each phase.
#[derive(Debug, Default)]
struct Figures {
    messages: usize,
    octets: usize,
    apply: Duration,
    decide: Duration,
    take: Duration,
}

/// The scenario.
fn run(rib: &mut Rib, updates: Vec<Update>, clients: u32) -> Figures {
    let mut figures = Figures::default();
    let start = Instant::now();
    for update in updates {
        rib.apply(RibInput::Update {
            peer: SOURCE,
            update,
        })
        .expect("established");
    }
    figures.apply = start.elapsed();
    let start = Instant::now();
    while rib.pending_decisions() > 0 {
        black_box(rib.run_decisions(BUDGET));
    }
    figures.decide = start.elapsed();
    let start = Instant::now();
    for id in 0..clients {
        let (messages, octets) = drain(rib, PeerId(100 + id));
        if id == 0 {
            (figures.messages, figures.octets) = (messages, octets);
        }
    }
    figures.take = start.elapsed();
    figures
}

/// Runs the scenario once outside criterion and prints its memory figures.
fn memory_report(clients: u32) {
    let updates = source_updates();
    let before = IN_USE.load(Ordering::Relaxed);
    let mut rib = reflector(clients);
    PEAK.store(IN_USE.load(Ordering::Relaxed), Ordering::Relaxed);
    let figures = run(&mut rib, updates, clients);
    let peak = PEAK.load(Ordering::Relaxed) - before;
    let retained = IN_USE.load(Ordering::Relaxed) - before;
    let groups: Vec<_> = rib.groups().collect();
    println!(
        "reflect {PREFIXES} prefixes to {clients} clients, once: apply {:?}, decide and encode \
         {:?}, take {:?}; each client sent {} UPDATEs ({} octets); heap peak {:.1} MiB, \
         retained {:.1} MiB ({} groups, log {} messages / {} octets kept)",
        figures.apply,
        figures.decide,
        figures.take,
        figures.messages,
        figures.octets,
        peak as f64 / (1024.0 * 1024.0),
        retained as f64 / (1024.0 * 1024.0),
        groups.len(),
        groups.iter().map(|g| g.log_messages).sum::<usize>(),
        groups.iter().map(|g| g.log_bytes).sum::<usize>(),
    );
    black_box(rib);
}

fn bench(c: &mut Criterion) {
    memory_report(1);
    memory_report(CLIENTS);
    let updates = source_updates();
    let mut group = c.benchmark_group("reflect");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("100k_prefixes_to_100_clients", |b| {
        b.iter_batched(
            || (reflector(CLIENTS), updates.clone()),
            |(mut rib, updates)| {
                black_box(run(&mut rib, updates, CLIENTS));
                rib
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
