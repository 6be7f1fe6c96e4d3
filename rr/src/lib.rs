//! `rr`: Starling's RIB — Adj-RIBs-In, the Loc-RIB and the decision process, route
//! reflection, import and export policy, and update groups with their Adj-RIB-Out and logs of
//! encoded UPDATEs.
//!
//! It is a pure state machine: it never awaits, reads a clock, touches a socket or the kernel,
//! and does not depend on `config` (the daemon translates configuration into [`RibConfig`],
//! [`PeerConfig`] and [`Policy`]). Effects leave as values: [`FibChange`]s for the FIB task,
//! encoded messages per neighbor, requests to stop a session.
//!
//! # Entry points
//! - [`Rib::new`]`(`[`RibConfig`]`)`;
//! - [`Rib::apply`]`(`[`RibInput`]`)`: `PeerUp` (with `proto::session::Negotiated`),
//!   `PeerDown` (graceful or not), `StaleTimeout`, `DeferSelection` /
//!   `EndSelectionDeferral`, `Update` (a decoded `proto::update::Update`), `RouteRefresh`,
//!   `Originate` / `WithdrawLocal`, `Reconfigure` (one neighbor), `SetClusterId` (the
//!   reflector role, live);
//! - [`Rib::run_decisions`]`(budget)`: decides at most `budget` queued prefixes and fans the
//!   changes out to the update groups; call it while [`Rib::pending_decisions`] is not zero,
//!   between inputs, so that no neighbor starves the others;
//! - [`Rib::take_messages`]`(peer, max_bytes)` after a [`RibOutput::Transmit`]: the next
//!   encoded messages for the neighbor's writer, about `max_bytes` octets of them;
//! - queries for `bgpctl`: [`Rib::routes`], [`Rib::received`], [`Rib::advertised`],
//!   [`Rib::peer_summary`], [`Rib::groups`].
//!
//! A daemon's RIB task is a loop: apply an input and act on its outputs; while decisions are
//! pending and no input waits, `run_decisions(budget)`; on `Transmit(peer)` or when a writer
//! has room, `take_messages(peer, room_in_octets)`.
//!
//! # RFCs
//! RFC 4271 §3.2 (RIBs), §5 (attribute handling towards internal and external neighbors),
//! §9.1 (decision process), §9.2 (iBGP split horizon); RFC 4456 (route reflection: §6 rules,
//! §8 ORIGINATOR_ID / CLUSTER_LIST and loop checks, §9 decision additions); RFC 7911 (ADD-PATH
//! receive and send); RFC 4724 §2 (End-of-RIB); RFC 2918 and RFC 7313 (route refresh, BoRR /
//! EoRR); RFC 4724 §4 and RFC 9494 §4 (graceful restart and long-lived graceful restart, both
//! roles: stale routes, LLGR_STALE, selection deferral; see `restart`); RFC 7606 (treat-as-withdraw, AFI/SAFI disable); RFC 4486 §4 (maximum prefixes);
//! RFC 1997 / RFC 8092 (communities in policy, NO_EXPORT / NO_ADVERTISE).
//!
//! # Invariants
//! - Equal attribute sets share one `Arc` ([`attrs::Interner`]).
//! - Export and encoding run once per update group; a neighbor costs a cursor into its
//!   group's log, so memory does not grow per client per route.
//! - Decisions are batched: a change queues its prefix once, first in first out.
//! - Every path in the Loc-RIB comes from an established neighbor, from a restarting one whose
//!   routes are kept stale (RFC 4724), or is local: a neighbor's routes leave with it.
//!
//! # Decided here
//! - A route reflected from a client goes to its update group as a whole, the client it came
//!   from included: leaving one member out would break the sharing of encoded messages, and
//!   the client discards the route on receipt because the ORIGINATOR_ID is its own BGP
//!   Identifier (RFC 4456 §8). Likewise a route from an external neighbor goes back to that
//!   neighbor's group, which drops it for its own AS in the path (RFC 4271 §9.1.2); the
//!   receiver decides, so a neighbor that allows its own AS still gets it.
//! - When the best path may not go to a group (an internal route towards a non-client), the
//!   group gets nothing for the prefix, not the second best (RFC 4271 §9.1.3: only the best
//!   is advertised); with ADD-PATH send (RFC 7911) every path that may go is sent.
//! - Locally originated routes win over learned ones (a step before LOCAL_PREF; the degree of
//!   preference is a local matter, RFC 4271 §9.1.1) and are never installed in the FIB.
//! - CLUSTER_LIST length is compared after the BGP Identifier, where RFC 4456 §9 inserts it.
//! - `max_prefixes` counts routes received (the Adj-RIB-In), before import policy, so that the
//!   limit bounds memory whatever the policy.
//! - A member that falls behind its group's log retention is resynchronized by a walk over the
//!   entries changed since its cursor, withdrawals included (tombstones are kept until every
//!   member is past them).

pub mod attrs;
pub mod decision;
mod group;
pub mod node;
mod peer;
pub mod policy;
mod query;
mod restart;
mod rib;
pub mod rules;
mod table;
pub mod types;

pub use attrs::{Attrs, PathAttrs, RouteNextHop};
pub use decision::{compare, Candidate, DecisionCtx, Reason, SourceKind};
pub use peer::{PeerConfig, PeerUp};
pub use policy::{Condition, Modification, Policy, PrefixList, PrefixRange, Statement, Verdict};
pub use query::{AdjRibRoute, GroupSummary, Listing, PeerSummary, RouteView, TableView};
pub use restart::DEFAULT_STALE_PATH_TIME;
pub use rib::{
    FibChange, FibOp, LocalRoute, Rib, RibConfig, RibError, RibInput, RibOutput,
    DEFAULT_ECMP_MAX_PATHS, DEFAULT_LOCAL_PREF, DEFAULT_LOG_RETENTION,
};
pub use table::PathState;
pub use types::{GroupId, LocalAddresses, NextHopPolicy, PeerId, RouteSource};
