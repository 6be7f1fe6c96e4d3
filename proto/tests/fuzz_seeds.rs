//! Seed corpora for the cargo-fuzz targets (`fuzz/seeds/message`, `fuzz/seeds/update`), made
//! from real traffic: every message of the BIRD / GoBGP / FRR golden captures and a diverse
//! subset of the RIPE RIS MRT UPDATEs (one per [`Shape`]).
//!
//! A seed is the selector octet that `fuzz/fuzz_targets/common.rs` turns into
//! `SessionParams` (found by asking that very code, so the two cannot drift apart), chosen to
//! give the parameters the message was received with, followed by the whole message (the
//! `message` target) or the UPDATE body (the `update` target). Files are named by the SHA-1 of
//! their content, as libFuzzer names corpus files.
//!
//! Regenerate (replaces the files in both directories):
//!
//! ```text
//! cargo test -p proto --test fuzz_seeds -- --ignored write_fuzz_seeds
//! ```
//!
//! `committed_seeds_decode` checks the committed seeds on every test run.

#[path = "support/captured.rs"]
mod captured;
#[path = "../../fuzz/fuzz_targets/common.rs"]
mod common;
// Only the reader is needed here, not the per-message helpers the benchmark uses.
#[allow(dead_code)]
#[path = "../benches/support/mrt.rs"]
mod mrt;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use proto::attr::SegmentType;
use proto::header::HEADER_LEN;
use proto::message::Message;
use proto::update::Update;
use proto::{AfiSafi, SessionParams};

const SEEDS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/seeds");
/// Enough variety for a smoke run to start from, few enough to load in a moment.
const MAX_SEEDS_PER_TARGET: usize = 300;
/// Keeps the repository light.
const MAX_TOTAL_BYTES: usize = 2 * 1024 * 1024;

/// The fuzz targets that take seeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    /// `fuzz_targets/message.rs`: selector + whole message, header included.
    Message,
    /// `fuzz_targets/update.rs`: selector + UPDATE body.
    Update,
}

impl Target {
    const ALL: [Target; 2] = [Target::Message, Target::Update];

    fn directory(self) -> PathBuf {
        let name = match self {
            Target::Message => "message",
            Target::Update => "update",
        };
        Path::new(SEEDS).join(name)
    }

    /// Whether `input` (a seed: selector, then the target's data) decodes as this target
    /// expects.
    fn decodes(self, input: &[u8]) -> bool {
        let Some((params, data)) = common::params(input) else {
            return false;
        };
        let data = Bytes::copy_from_slice(data);
        match self {
            Target::Message => Message::decode(&data, &params).is_ok(),
            Target::Update => Update::decode(&data, &params).is_ok(),
        }
    }
}

/// The selector octet for which the fuzz targets decode with `params`.
fn selector(params: &SessionParams) -> u8 {
    (0..=u8::MAX)
        .find(|&octet| common::params(&[octet]).map(|(p, _)| p) == Some(*params))
        .unwrap_or_else(|| panic!("no selector octet gives {params:?}"))
}

/// The SHA-1 of `seed` in hex: the name libFuzzer gives a corpus file with this content.
fn content_name(seed: &[u8]) -> String {
    sha1_smol::Sha1::from(seed).digest().to_string()
}

/// A size class: 0 for none, then one class per power of four (1-3, 4-15, 16-63, …).
fn magnitude(count: usize) -> u32 {
    (usize::BITS - count.leading_zeros()).div_ceil(2)
}

/// What makes an UPDATE different from another for the decoder: session parameters, which
/// parts carry routes and how many, which attributes are present, the AS path's segment kinds
/// and length, the number of communities, the size. The MRT dumps repeat a few shapes
/// thousands of times; one seed per shape keeps the variety without the bulk.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Shape {
    /// The session parameters, as the fuzz targets' selector octet.
    selector: u8,
    /// Route counts, as [`magnitude`]s.
    withdrawn: u32,
    announced: u32,
    mp_reach: Option<(AfiSafi, u32)>,
    mp_unreach: Option<(AfiSafi, u32)>,
    /// Presence of ORIGIN, NEXT_HOP, MED, LOCAL_PREF, ATOMIC_AGGREGATE, AGGREGATOR,
    /// ORIGINATOR_ID, CLUSTER_LIST, EXTENDED_COMMUNITIES, LARGE_COMMUNITY, and of a Partial bit.
    attributes: [bool; 11],
    segments: Vec<SegmentType>,
    path_len: u32,
    communities: u32,
    /// Type codes of the unrecognized attributes kept raw.
    unknown: Vec<u8>,
    /// The body length, as a [`magnitude`].
    size: u32,
}

impl Shape {
    fn of(update: &Update, params: &SessionParams, body_len: usize) -> Shape {
        let a = &update.attributes;
        let as_path = a.as_path.as_ref();
        Shape {
            selector: selector(params),
            withdrawn: magnitude(update.withdrawn.len()),
            announced: magnitude(update.announced.len()),
            mp_reach: update
                .mp_reach
                .as_ref()
                .map(|r| (r.family(), magnitude(r.len()))),
            mp_unreach: update
                .mp_unreach
                .as_ref()
                .map(|u| (u.family(), magnitude(u.len()))),
            attributes: [
                a.origin.is_some(),
                a.next_hop.is_some(),
                a.multi_exit_disc.is_some(),
                a.local_pref.is_some(),
                a.atomic_aggregate,
                a.aggregator.is_some(),
                a.originator_id.is_some(),
                !a.cluster_list.is_empty(),
                !a.extended_communities.is_empty(),
                !a.large_communities.is_empty(),
                !a.partial.is_empty(),
            ],
            segments: as_path.map_or(vec![], |p| p.segments().iter().map(|s| s.kind()).collect()),
            path_len: magnitude(as_path.map_or(0, |p| p.path_len())),
            communities: magnitude(a.communities.len()),
            unknown: a.unknown.iter().map(|raw| raw.type_code().0).collect(),
            size: magnitude(body_len),
        }
    }
}

/// The seeds of both targets, by file name (the SHA-1 of the content).
#[derive(Default)]
struct Corpus {
    seeds: BTreeMap<Target, BTreeMap<String, Vec<u8>>>,
}

impl Corpus {
    fn add(&mut self, target: Target, params: &SessionParams, data: &[u8]) {
        let mut seed = Vec::with_capacity(1 + data.len());
        seed.push(selector(params));
        seed.extend_from_slice(data);
        assert!(
            target.decodes(&seed),
            "{target:?} seed does not decode: {data:02x?}"
        );
        let name = content_name(&seed);
        self.seeds.entry(target).or_default().insert(name, seed);
    }

    fn len(&self, target: Target) -> usize {
        self.seeds.get(&target).map_or(0, BTreeMap::len)
    }

    fn bytes(&self) -> usize {
        self.seeds
            .values()
            .flat_map(BTreeMap::values)
            .map(Vec::len)
            .sum()
    }
}

/// Adds a message received with `params`: an UPDATE only if it is the first of its shape,
/// any other message as it is (equal ones share a name).
fn add_message(
    corpus: &mut Corpus,
    shapes: &mut BTreeSet<Shape>,
    params: &SessionParams,
    frame: &Bytes,
) {
    let message = Message::decode(frame, params)
        .unwrap_or_else(|e| panic!("captured message does not decode: {e}"));
    let Message::Update(update) = message else {
        corpus.add(Target::Message, params, frame);
        return;
    };
    let body = &frame[HEADER_LEN..];
    if shapes.insert(Shape::of(&update, params, body.len())) {
        corpus.add(Target::Message, params, frame);
        corpus.add(Target::Update, params, body);
    }
}

/// The golden captures first (they have the parameters MRT lacks: ADD-PATH, extended next
/// hop, extended messages), then the MRT dumps.
fn corpus() -> Corpus {
    let mut corpus = Corpus::default();
    let mut shapes = BTreeSet::new();
    for entry in captured::manifest().file {
        for (index, frame) in entry.frames().iter().enumerate() {
            add_message(&mut corpus, &mut shapes, &entry.params_for(index), frame);
        }
    }
    for dump in [mrt::RRC03, mrt::RRC15] {
        let (_, captured) = mrt::messages(&mrt::gunzip(dump));
        for capture in &captured {
            add_message(
                &mut corpus,
                &mut shapes,
                &capture.params(),
                &capture.message,
            );
        }
    }
    corpus
}

/// The seed files of `target` on disk, by name.
fn committed(target: Target) -> BTreeMap<String, Vec<u8>> {
    let directory = target.directory();
    fs::read_dir(&directory)
        .unwrap_or_else(|e| panic!("{}: {e}", directory.display()))
        .map(|entry| {
            let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
            let name = path.file_name().and_then(|n| n.to_str()).map(str::to_owned);
            let name = name.unwrap_or_else(|| panic!("{}: not UTF-8", path.display()));
            let content = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (name, content)
        })
        .collect()
}

/// Writes the corpora, replacing what the two seed directories held.
#[test]
#[ignore = "writes fuzz/seeds; run by hand after changing the captures or this generator"]
fn write_fuzz_seeds() {
    let corpus = corpus();
    for target in Target::ALL {
        let directory = target.directory();
        if directory.exists() {
            for name in committed(target).keys() {
                let path = directory.join(name);
                fs::remove_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            }
        }
        fs::create_dir_all(&directory).unwrap_or_else(|e| panic!("{}: {e}", directory.display()));
        for (name, seed) in corpus.seeds.get(&target).into_iter().flatten() {
            let path = directory.join(name);
            fs::write(&path, seed).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
        println!("{target:?}: {} seeds", corpus.len(target));
    }
    println!("{} octets in all", corpus.bytes());
}

/// The generator stays within its budget.
#[test]
fn generated_corpus_is_small() {
    let corpus = corpus();
    for target in Target::ALL {
        let count = corpus.len(target);
        assert!(
            (1..=MAX_SEEDS_PER_TARGET).contains(&count),
            "{target:?}: {count} seeds"
        );
    }
    assert!(
        corpus.bytes() < MAX_TOTAL_BYTES,
        "{} octets",
        corpus.bytes()
    );
}

/// The committed seeds are named by their content, fit the budget, and decode with the
/// parameters their selector octet gives (so the fuzzer starts from valid messages).
#[test]
fn committed_seeds_decode() {
    let mut total = 0;
    for target in Target::ALL {
        let seeds = committed(target);
        assert!(
            (1..=MAX_SEEDS_PER_TARGET).contains(&seeds.len()),
            "{target:?}: {} seeds",
            seeds.len()
        );
        for (name, seed) in &seeds {
            assert_eq!(
                *name,
                content_name(seed),
                "{target:?}: {name} is not named by its SHA-1"
            );
            assert!(target.decodes(seed), "{target:?}: {name} does not decode");
            total += seed.len();
        }
    }
    assert!(total < MAX_TOTAL_BYTES, "{total} octets of seeds");
}
