//! The golden captures of `tests/data/captured` (see its README): `manifest.toml` and each
//! file's messages with the parameters to decode them with. Shared through `#[path]` by the
//! `captured_golden` and `fuzz_seeds` tests; test data only, so it panics on what it cannot read.
// Each test crate that includes this module uses a different part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use proto::header::split_frame;
use proto::{AfiSafi, AfiSafiSet, SessionParams};
use serde::Deserialize;

pub const CAPTURED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/captured");
const MANIFEST: &str = include_str!("../data/captured/manifest.toml");

/// `manifest.toml`: one entry per capture file.
#[derive(Deserialize)]
pub struct Manifest {
    pub file: Vec<ManifestFile>,
}

/// See the capture README for the meaning of each key.
#[derive(Deserialize)]
pub struct ManifestFile {
    pub name: String,
    pub scenario: String,
    pub sender: String,
    pub receiver: String,
    pub transport: String,
    pub sender_asn: u32,
    pub receiver_asn: u32,
    pub external: bool,
    pub four_octet_as: bool,
    pub extended_message: bool,
    pub add_path: Vec<String>,
    pub extended_next_hop: Vec<String>,
    pub families: Vec<String>,
    pub sender_capabilities: Vec<u8>,
    pub bytes: usize,
    pub messages: MessageCounts,
}

/// The count of each message type in a capture.
#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageCounts {
    #[serde(default)]
    pub open: usize,
    #[serde(default)]
    pub update: usize,
    #[serde(default)]
    pub notification: usize,
    #[serde(default)]
    pub keepalive: usize,
    #[serde(default)]
    pub route_refresh: usize,
}

impl Manifest {
    pub fn entry(&self, name: &str) -> &ManifestFile {
        self.file
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("{name}: not in manifest.toml"))
    }
}

impl ManifestFile {
    pub fn path(&self) -> PathBuf {
        Path::new(CAPTURED).join(&self.name)
    }

    /// The parameters to decode this file's messages after the OPEN with.
    pub fn params(&self) -> SessionParams {
        SessionParams {
            four_octet_as: self.four_octet_as,
            extended_message: self.extended_message,
            add_path_rx: families(&self.add_path),
            // What the receiver sends back is not in this file.
            add_path_tx: AfiSafiSet::EMPTY,
            extended_next_hop: families(&self.extended_next_hop),
            external: self.external,
        }
    }

    /// The parameters for message `index`: the first message is the OPEN, which travels
    /// before any capability applies (RFC 4271 §4.2); the others use [`ManifestFile::params`].
    pub fn params_for(&self, index: usize) -> SessionParams {
        if index == 0 {
            SessionParams::plain(self.external)
        } else {
            self.params()
        }
    }

    /// The capture of the same session in the other direction.
    pub fn reverse<'a>(&self, manifest: &'a Manifest) -> &'a ManifestFile {
        let mut reverse = manifest.file.iter().filter(|other| {
            other.sender == self.receiver
                && other.receiver == self.sender
                && other.transport == self.transport
                && other.scenario == self.scenario
        });
        let found = reverse.next();
        assert!(reverse.next().is_none(), "{}: two reverse files", self.name);
        found.unwrap_or_else(|| panic!("{}: no reverse file in the manifest", self.name))
    }

    /// The file cut into whole messages (RFC 4271 §4.1) as a stream reader would, each
    /// checked against the length limit of [`ManifestFile::params_for`].
    pub fn frames(&self) -> Vec<Bytes> {
        let path = self.path();
        let stream = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut buffer = BytesMut::from(&stream[..]);
        let mut frames = Vec::new();
        while !buffer.is_empty() {
            let index = frames.len();
            let max_len = self.params_for(index).max_message_len();
            match split_frame(&mut buffer, max_len) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => panic!("{}: message {index} is truncated", self.name),
                Err(error) => panic!("{}: message {index} does not frame: {error}", self.name),
            }
        }
        frames
    }
}

pub fn manifest() -> Manifest {
    toml::from_str(MANIFEST).unwrap_or_else(|e| panic!("manifest.toml: {e}"))
}

pub fn families(names: &[String]) -> AfiSafiSet {
    names
        .iter()
        .map(|name| name.parse::<AfiSafi>().unwrap_or_else(|e| panic!("{e}")))
        .collect()
}
