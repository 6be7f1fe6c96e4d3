//! Interop lab: network namespaces on one machine with real BGP peers (BIRD 2, GoBGP, FRR)
//! and etcd, for tests and benchmarks that check Starling against them through their own
//! CLIs and the namespaces' kernel tables, never through Starling's internals.
//!
//! It does only lab work: namespaces it creates itself (deleted on drop), processes it starts
//! itself (killed on drop, by process group), traffic only inside those namespaces.
//!
//! Entry points:
//! - [`Lab`]: namespaces, the LAN, hosts ([`Host`]), point-to-point links, processes.
//! - [`RouterSpec`] / [`NeighborSpec`] / [`OriginRoute`]: one typed configuration rendered for
//!   [`Bird`], [`GoBgp`] and [`Frr`], all of which implement [`BgpPeer`].
//! - [`kernel_routes`]: a namespace's routing table, typed.
//! - [`Starling`]: our own `bgpd`, configured from the same specs, queried through `bgpctl`.
//! - [`Etcd`]: a single-member etcd, optionally with TLS and client certificates.
//! - [`CertificateAuthority`]: test certificates made with `openssl`.
//! - [`RawPeer`]: a hand-driven BGP connection for hostile-input tests; [`Observer`] keeps
//!   one alive and records what it receives.
//! - [`Relay`]: a TCP relay that records both directions of a BGP session (golden captures).
//! - [`wait_until`]: bounded polling with the last observation in the timeout error.
//! - [`bench`]: the benchmark suite against BIRD, GoBGP and FRR (load generator, workloads,
//!   tables and charts); the `bench` binary runs it.
//! - [`lab_available`]: skip (or fail under `CI=true`) when root or a daemon is missing.

pub mod bench;
pub mod bird;
pub mod command;
pub mod error;
pub mod etcd;
pub mod frr;
pub mod gobgp;
pub mod kernel;
pub mod lab;
pub mod peer;
pub mod process;
pub mod raw_peer;
pub mod relay;
pub mod require;
pub mod spec;
pub mod starling;
pub mod tls;
pub mod wait;

pub use bird::Bird;
pub use error::{LabError, Result};
pub use etcd::{Etcd, ServerTls};
pub use frr::{Frr, FrrOptions};
pub use gobgp::GoBgp;
pub use kernel::{
    kernel_routes, KernelRoute, NextHop, RouteProtocol, RouteTable, RouteType, MAIN_TABLE,
};
pub use lab::{lab_namespaces, AddressPair, Host, IpVersion, Lab, Link};
pub use peer::{family_of, BgpPeer, BgpRoute, Origin, PeerKind, SessionState};
pub use process::Process;
pub use raw_peer::{Ending, Observer, RawPeer};
pub use relay::Relay;
pub use require::{lab_available, Tool};
pub use spec::{
    AddPathConfig, Community, DatastoreSpec, ExtCommunity, HoldTime, LargeCommunity, NeighborSpec,
    OriginRoute, RouteAttrs, RouterSpec, DEFAULT_HOLD_TIME,
};
pub use starling::{Extra, NeighborStatus, RouteEntry, Starling};
pub use tls::{CertificateAuthority, KeyPair, Usage};
pub use wait::{wait_until, Observed, DEFAULT_INTERVAL, DEFAULT_TIMEOUT};
