//! UPDATE decoding and encoding throughput, per prefix:
//! (a) packed UPDATEs: 1,000 IPv4 prefixes (/26 and /32 alternating) sharing one attribute set,
//!     built with `UpdateBuilder` and decoded with `Update::decode`;
//! (b) Internet-like UPDATEs: every UPDATE of the RIPE RIS MRT dumps in `tests/data/mrt/`
//!     (varied attributes, few prefixes each), decoded and re-encoded.
//!
//! Criterion reports elements (prefixes) per second; under `cargo bench` a short timing loop
//! also prints ns/prefix for each case. Figures, never assertions.

mod support;

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput};
use ipnet::Ipv4Net;
use proto::attr::{AsPath, Attributes, Community, LocalPref, MultiExitDisc, Origin};
use proto::header::HEADER_LEN;
use proto::nlri::Nlri;
use proto::update::{Announce, Update, UpdateBuilder};
use proto::{Asn, SessionParams};
use support::mrt::{gunzip, messages, BGP_UPDATE, RRC03, RRC15};

const PACKED_PREFIXES: u32 = 1000;
/// How long the explicit ns/prefix loop runs per case.
const REPORT_TIME: Duration = Duration::from_secs(1);

fn ibgp() -> SessionParams {
    SessionParams {
        four_octet_as: true,
        ..SessionParams::plain(false)
    }
}

/// 1,000 distinct prefixes in 10.0.0.0/8, /26 and /32 alternating.
fn packed_prefixes() -> Vec<Nlri<Ipv4Net>> {
    (0..PACKED_PREFIXES)
        .map(|i| {
            let length = if i % 2 == 0 { 26 } else { 32 };
            let address = Ipv4Addr::from(0x0a00_0000 + i * 64);
            Nlri::new(Ipv4Net::new(address, length).expect("valid length"), None)
        })
        .collect()
}

fn shared_attributes() -> Attributes {
    Attributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::from_sequence(&[Asn(64512), Asn(65000)])),
        next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
        multi_exit_disc: Some(MultiExitDisc(10)),
        local_pref: Some(LocalPref(100)),
        communities: vec![Community::new(64512, 100), Community::new(64512, 200)],
        ..Attributes::default()
    }
}

/// Under `cargo bench`, times `run` (which handles `prefixes` prefixes) for about
/// [`REPORT_TIME`] and prints ns/prefix.
fn report(name: &str, prefixes: usize, mut run: impl FnMut()) {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let start = Instant::now();
    let mut rounds = 0u32;
    while start.elapsed() < REPORT_TIME {
        run();
        rounds += 1;
    }
    let per_prefix = start.elapsed().as_nanos() as f64 / f64::from(rounds) / prefixes as f64;
    println!("{name}: {per_prefix:.2} ns/prefix ({rounds} rounds of {prefixes} prefixes)");
}

fn packed(c: &mut Criterion) {
    let params = ibgp();
    let builder = UpdateBuilder::new(&params);
    let attributes = shared_attributes();
    let prefixes = packed_prefixes();
    let messages = builder
        .announce(&attributes, Announce::Ipv4(&prefixes))
        .expect("builds");
    let bodies: Vec<Bytes> = messages.iter().map(|m| m.slice(HEADER_LEN..)).collect();
    let receiver = params.mirrored();
    let count = prefixes.len();

    let encode = || {
        black_box(
            builder
                .announce(black_box(&attributes), Announce::Ipv4(black_box(&prefixes)))
                .expect("builds"),
        );
    };
    let decode = || {
        for body in &bodies {
            black_box(Update::decode(black_box(body), &receiver).expect("decodes"));
        }
    };

    let mut group = c.benchmark_group("packed_1000_ipv4");
    group.throughput(Throughput::Elements(count as u64));
    group.bench_function("encode", |b| b.iter(encode));
    group.bench_function("decode", |b| b.iter(decode));
    group.finish();
    println!(
        "packed: {count} prefixes in {} messages of {:?} octets",
        messages.len(),
        messages.iter().map(Bytes::len).collect::<Vec<_>>()
    );
    report("packed_1000_ipv4/encode", count, encode);
    report("packed_1000_ipv4/decode", count, decode);
}

fn prefix_count(update: &Update) -> usize {
    update.announced.len()
        + update.withdrawn.len()
        + update.mp_reach.as_ref().map_or(0, |r| r.len())
        + update.mp_unreach.as_ref().map_or(0, |u| u.len())
}

fn internet_like(c: &mut Criterion) {
    let corpus: Vec<(Bytes, SessionParams)> = [RRC15, RRC03]
        .into_iter()
        .flat_map(|dump| messages(&gunzip(dump)).1)
        .filter(|captured| captured.message_type() == BGP_UPDATE)
        .map(|captured| (captured.body(), captured.params()))
        .collect();
    let decoded: Vec<(Update, SessionParams)> = corpus
        .iter()
        .map(|(body, params)| (Update::decode(body, params).expect("decodes"), *params))
        .collect();
    let count: usize = decoded.iter().map(|(u, _)| prefix_count(u)).sum();
    let total_octets: usize = corpus.iter().map(|(body, _)| body.len()).sum();
    let mut out = BytesMut::with_capacity(total_octets * 2);

    let decode = || {
        for (body, params) in &corpus {
            black_box(Update::decode(black_box(body), params).expect("decodes"));
        }
    };
    let mut encode = || {
        out.clear();
        for (update, params) in &decoded {
            black_box(update)
                .encode_body(params, &mut out)
                .expect("encodes");
        }
        black_box(&out);
    };

    let mut group = c.benchmark_group("internet_like_mrt");
    group.throughput(Throughput::Elements(count as u64));
    group.bench_function("decode", |b| b.iter(decode));
    group.bench_function("encode", |b| b.iter(&mut encode));
    group.finish();
    println!(
        "internet-like: {} UPDATEs, {count} prefixes, {total_octets} octets",
        corpus.len()
    );
    report("internet_like_mrt/decode", count, decode);
    report("internet_like_mrt/encode", count, encode);
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    packed(&mut criterion);
    internet_like(&mut criterion);
    criterion.final_summary();
}
