//! `bgpctl` requests and metrics scrapes, as the daemon's loop answers them: status and the
//! neighbors' view from what the loop owns, route listings and route counters from the RIB task
//! (through its outbox, after every change sent before), the kernel table from the FIB task.
//! An answer that another task produces is awaited by a small task of its own, so that the
//! loop never waits; such a task carries only the reply.

use proto::session::{default_keepalive, StopReason};
use tokio::sync::oneshot;

use super::Daemon;
use crate::control::protocol::{self, Done, Request};
use crate::control::{failure, Answer, ControlRequest};
use crate::datastore::Datastore;
use crate::fib::{FibCommand, FibEntry};
use crate::metrics;
use crate::peer::{PeerCommand, PeerHandle};
use crate::rib::{RibEvent, RouteQuery};

impl Daemon {
    pub(super) fn control(&mut self, ControlRequest { request, reply }: ControlRequest) {
        let lines = match request {
            Request::ShowStatus => vec![json(&self.status())],
            Request::ShowNeighbors { name } => {
                let neighbors: Vec<_> = self
                    .peers
                    .values()
                    .filter(|p| name.as_ref().is_none_or(|n| *n == p.settings.name))
                    .map(|p| (p.id, neighbor_view(p)))
                    .collect();
                if let Some(name) = name.filter(|_| neighbors.is_empty()) {
                    vec![failure(&format!("no neighbor named {name}"))]
                } else {
                    // The RIB adds its route counters.
                    let (lines, answer) = Answer::stream();
                    self.rib.push(RibEvent::ShowNeighbors { neighbors, lines });
                    let _ = reply.send(answer);
                    return;
                }
            }
            Request::ShowRoutes {
                prefix,
                neighbor,
                table,
            } => {
                let peer = match &neighbor {
                    Some(name) => match self.peers.values().find(|p| p.settings.name == *name) {
                        Some(peer) => Some(peer.id),
                        None => {
                            let _ = reply.send(Answer::Lines(vec![failure(&format!(
                                "no neighbor named {name}"
                            ))]));
                            return;
                        }
                    },
                    None => None,
                };
                let (lines, answer) = Answer::stream();
                self.rib.push(RibEvent::ShowRoutes(RouteQuery {
                    table,
                    prefix,
                    neighbor: peer,
                    lines,
                }));
                let _ = reply.send(answer);
                return;
            }
            Request::NeighborEnable { name } => self.neighbor_command(&name, PeerCommand::Enable),
            Request::NeighborDisable { name, reason } => {
                let reason = reason.unwrap_or_else(|| "disabled by the operator".to_owned());
                self.neighbor_command(
                    &name,
                    PeerCommand::Stop(StopReason::AdministrativeShutdown(reason)),
                )
            }
            Request::NeighborReset { name, soft: true } => {
                self.neighbor_command(&name, PeerCommand::SoftReset)
            }
            Request::NeighborReset { name, soft: false } => {
                let reason = StopReason::AdministrativeReset("reset by the operator".to_owned());
                self.neighbor_command(&name, PeerCommand::Stop(reason))
            }
            Request::ShowFib => {
                self.show_fib(reply);
                return;
            }
            Request::Reload => match self.reload() {
                Ok(changes) => vec![json(&Done { ok: true, changes })],
                Err(errors) => errors.iter().map(|e| failure(e)).collect(),
            },
        };
        let _ = reply.send(Answer::Lines(lines));
    }

    fn neighbor_command(&mut self, name: &str, command: PeerCommand) -> Vec<String> {
        let Some(peer) = self.peers.values().find(|p| p.settings.name == name) else {
            return vec![failure(&format!("no neighbor named {name}"))];
        };
        match peer.commands.try_send(command) {
            Ok(()) => vec![json(&Done {
                ok: true,
                changes: Vec::new(),
            })],
            Err(_) => vec![failure("the neighbor's task is busy; try again")],
        }
    }

    /// `show fib`: one line per entry; without `[kernel]`, a notice and no entry.
    fn show_fib(&mut self, reply: oneshot::Sender<Answer>) {
        let Some(outbox) = &mut self.fib_outbox else {
            let notice = protocol::Notice {
                notice: "no [kernel] section: the kernel FIB is off".to_owned(),
            };
            let _ = reply.send(Answer::Lines(vec![json(&notice)]));
            return;
        };
        let (status, table) = oneshot::channel();
        outbox.push(FibCommand::Status(status));
        tokio::spawn(async move {
            let lines = match table.await {
                Ok(entries) => entries.iter().map(|e| json(&fib_route(e))).collect(),
                Err(_) => vec![failure("the kernel FIB has stopped")],
            };
            let _ = reply.send(Answer::Lines(lines));
        });
    }

    /// Answers a metrics scrape; the FIB's figures come from its task.
    pub(super) fn scrape(&mut self, reply: metrics::ScrapeRequest) {
        let mut page = self.metrics_page();
        let Some(figures) = self.fib_figures() else {
            let _ = reply.send(page);
            return;
        };
        let advertised = self.rib_status.borrow().kernel_routes;
        tokio::spawn(async move {
            let figures = figures.await.unwrap_or_default();
            let sample = metrics::FibSample {
                installed: figures.installed,
                failures: figures.failures,
                advertised,
            };
            metrics::render_fib(&mut page, &sample);
            let _ = reply.send(page);
        });
    }

    fn metrics_page(&self) -> String {
        let statuses: Vec<_> = self
            .peers
            .values()
            .map(|p| (p, p.status.borrow().clone()))
            .collect();
        let samples: Vec<metrics::NeighborSample<'_>> = statuses
            .iter()
            .map(|(peer, status)| metrics::NeighborSample {
                name: &peer.settings.name,
                address: &peer.settings.display_address,
                status,
            })
            .collect();
        let info = metrics::DaemonInfo {
            version: env!("CARGO_PKG_VERSION"),
            uptime: self.started.elapsed(),
            config_revision: self.config_revision,
            datastore_connected: self.datastore.as_ref().map(Datastore::connected),
        };
        let mut page = metrics::render(&info, &samples, self.config.global.metrics_neighbor_labels);
        let rib = *self.rib_status.borrow();
        metrics::render_graceful_restart(&mut page, rib.restarting, rib.stale_routes);
        page
    }

    fn status(&self) -> protocol::Status {
        protocol::Status {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            router_id: self.router_id.to_string(),
            asn: self.config.global.asn.0,
            uptime_s: self.started.elapsed().as_secs(),
            config_source: if self.datastore.is_some() {
                "etcd"
            } else {
                "file"
            }
            .to_owned(),
            config_revision: self
                .datastore
                .as_ref()
                .and_then(Datastore::revision)
                .map_or(self.config_revision, |(revision, _)| {
                    u64::try_from(revision).unwrap_or(0)
                }),
            datastore: match &self.datastore {
                Some(datastore) if datastore.connected() => "connected",
                Some(_) => "disconnected",
                None => "off",
            }
            .to_owned(),
            graceful_restart: self.rib_status.borrow().graceful_restart().to_owned(),
        }
    }
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|error| failure(&error.to_string()))
}

fn neighbor_view(peer: &PeerHandle) -> protocol::Neighbor {
    let status = peer.status.borrow();
    let settings = &peer.settings;
    let uptime_s = status.established_at.map_or(0, |at| at.elapsed().as_secs());
    protocol::Neighbor {
        name: settings.name.clone(),
        address: settings.display_address.clone(),
        asn: settings.session.peer_asn.0,
        state: status.state.name().to_owned(),
        uptime_s,
        hold_time: status.hold_time.unwrap_or(settings.session.hold_time),
        keepalive: status.keepalive.map_or_else(
            || {
                u64::from(
                    settings
                        .session
                        .keepalive
                        .unwrap_or(default_keepalive(settings.session.hold_time)),
                )
            },
            |k| k.as_secs(),
        ),
        families: (if status.families.is_empty() {
            settings.session.families
        } else {
            status.families
        })
        .iter()
        .map(|f| f.name().to_owned())
        .collect(),
        rr_client: settings.rr_client,
        received: status.prefixes_received,
        accepted: status.prefixes_received,
        advertised: 0,
        last_error: status.last_error.as_ref().map(ToString::to_string),
        // When it happened (on the wall clock), and whether before the current session.
        last_error_at: status.last_error_at.map(|at| {
            let ago = at.elapsed();
            crate::control::time::rfc3339_utc(std::time::SystemTime::now() - ago)
        }),
        last_error_age_s: status.last_error_at.map(|at| at.elapsed().as_secs()),
        last_error_before_up: matches!(
            (status.last_error_at, status.established_at),
            (Some(error), Some(up)) if error < up
        ),
    }
}

fn fib_route(entry: &FibEntry) -> protocol::FibRoute {
    protocol::FibRoute {
        prefix: entry.prefix.to_string(),
        next_hops: entry.next_hops.iter().map(ToString::to_string).collect(),
        installed: entry.installed,
        error: entry.error.as_ref().map(ToString::to_string),
    }
}
