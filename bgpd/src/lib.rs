//! `bgpd`: the Starling daemon. Everything that does I/O lives here: the tokio runtime,
//! listeners and per-neighbor tasks over TCP (with TCP MD5 and GTSM), the RIB task, the kernel
//! FIB over rtnetlink, the etcd source, the control socket, metrics, signals and logs. Protocol
//! decisions are not made here: the session state machine is `proto::session`, the RIB is `rr`.
//!
//! Entry point: [`daemon::Daemon`], run by the `bgpd` binary.

pub mod alloc;
pub mod control;
pub mod daemon;
pub mod datastore;
pub mod fib;
pub mod logging;
pub mod metrics;
pub mod neighbor;
pub mod peer;
pub mod policy;
pub mod ratelimit;
pub mod restart;
pub mod rib;
pub mod socket;
pub mod systemd;
pub mod transmit;
