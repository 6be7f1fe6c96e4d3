//! `config`: Starling's configuration as a value.
//!
//! Owns the TOML file's schema (`docs/interface.md`, unknown keys rejected), its validation
//! into a checked [`Config`] that reports *every* error with file, line, column and key path,
//! the pure [`Config::diff`] between two configurations, and the etcd data model
//! ([`datastore`]: `/config`, `/nodes/<name>`, `/peers/<name>`) with the derivation of this
//! node's peerings from a datastore [`Snapshot`] ([`Config::combine`]).
//!
//! It must not know about running sessions: it says what the configuration is, what changed
//! ([`Change`], with the [`Effect`] of each neighbor field) and what a reload must do about it
//! ([`Action`]); the daemon carries the actions out. It reads files (the configuration and the secrets it names); the
//! only module that opens sockets is [`etcd`] (feature `etcd`, on by default), the etcd
//! datastore source with its last-known-good cache in `state_dir`.
//!
//! Entry points:
//! - [`Config::load`] / [`Config::from_toml`]: file or text → `Config` or [`ConfigErrors`];
//! - [`Config::diff`]: two configurations → `Vec<Change>`;
//! - [`Config::plan`]: two configurations → the `Vec<Action>` a running daemon carries out in
//!   order (the effect of every field: live, a session reset, or a restart);
//! - [`policy`]: routing policy as neighbors hold it (`import`, `export`);
//! - [`datastore::Object::parse`], [`Snapshot::from_objects`]: etcd keys and values →
//!   checked objects, each bad one rejected alone;
//! - [`Config::combine`]: file configuration + snapshot → this node's configuration;
//! - [`etcd::EtcdSource::start`]: a [`ConfigSource`] of validated snapshots from etcd
//!   ([`source`] has the events it delivers).
//!
//! A `Config` can only be built by these: its structs are `#[non_exhaustive]`, and the raw
//! serde shapes are private to the crate.

pub mod datastore;
mod derive;
mod diff;
mod error;
#[cfg(feature = "etcd")]
pub mod etcd;
mod file;
mod model;
mod plan;
pub mod policy;
mod raw;
pub mod source;
mod types;
mod validate;

pub use datastore::Snapshot;
pub use diff::{Change, Effect, GlobalField, KernelField, NeighborField};
pub use error::{ConfigError, ConfigErrors, ErrorKind, KeyPath, Position, Segment};
pub use model::{
    Config, Etcd, EtcdAuth, EtcdTls, Global, GracefulRestart, Kernel, KernelAdvertise, Neighbor,
    Route, Timers,
};
pub use plan::{Action, Setting};
pub use policy::{Policy, PolicyAction, PrefixList, PrefixRange};
pub use source::{ConfigSource, SourceEvent};
pub use types::{
    Community, ErrorWaitTime, HoldTime, InterfaceName, InterfacePattern, LogFormat, LogLevel,
    LongLivedTime, NextHopMode, Password, PeerAddress, RestartDelay, RestartTime, RouteProtocol,
    SendHoldTime, TtlSecurity,
};
