//! Reloads: `SIGHUP` or `bgpctl reload` reads the file again, a datastore snapshot changes the
//! cluster's part; either way the configuration in force moves to the new one through
//! `config::Config::plan`, whose actions are carried out here in order. Nothing is decided
//! here: a neighbor is reset, reconfigured live or told to the RIB as the plan says. On errors
//! (the file does not load, no router id) the running configuration stays in force.

use config::source::{Origin, SourceEvent};
use config::{Action, Config, PeerAddress, Setting};
use proto::session::StopReason;
use tracing::{error, info, warn};

use super::{router_id, Daemon};
use crate::fib::FibCommand;
use crate::neighbor::{self, NeighborSettings};
use crate::peer::{PeerCommand, PeerHandle};
use crate::rib::{self, RibEvent};

impl Daemon {
    /// Re-reads the configuration file and applies what changed.
    pub(super) fn reload(&mut self) -> Result<Vec<String>, Vec<String>> {
        self.notifier.reloading();
        let result = self.apply_reload();
        let status = match &result {
            Ok(changes) => format!("configuration reloaded ({} changes)", changes.len()),
            Err(_) => "reload failed; running configuration kept".to_owned(),
        };
        self.notifier.ready(&status);
        result
    }

    fn apply_reload(&mut self) -> Result<Vec<String>, Vec<String>> {
        let file = match Config::load(&self.config_path) {
            Ok(config) => config,
            Err(errors) => {
                for problem in errors.iter() {
                    error!(error = %problem, "configuration rejected");
                }
                error!(file = %self.config_path.display(), errors = errors.len(), "reload failed: keeping the running configuration");
                return Err(errors.iter().map(ToString::to_string).collect());
            }
        };
        self.file_config = file;
        let new = self.effective_config();
        self.apply_config(new)
    }

    /// The file's configuration combined with the datastore's snapshot, if any; derived
    /// neighbors that cannot be used are logged and left out.
    fn effective_config(&self) -> Config {
        let Some(datastore) = &self.datastore else {
            return self.file_config.clone();
        };
        let (config, problems) = datastore.effective(&self.file_config);
        for problem in problems {
            warn!(error = %problem, "datastore configuration not applied");
        }
        config
    }

    pub(super) fn datastore_event(&mut self, event: SourceEvent) {
        match event {
            SourceEvent::Connected => info!("datastore connected"),
            SourceEvent::Disconnected { reason } => {
                warn!(%reason, "datastore unreachable: running on the last known configuration");
            }
            SourceEvent::Snapshot(update) => {
                let (revision, cache) = (update.revision.0, update.origin == Origin::Cache);
                if let Some(datastore) = &mut self.datastore {
                    datastore.record(update);
                }
                info!(revision, from_cache = cache, "datastore snapshot");
                let new = self.effective_config();
                let _ = self.apply_config(new);
                self.announce_neighbors_known();
            }
        }
    }

    /// Moves to `new`, carrying out its plan; returns the changes as `bgpctl reload` lists
    /// them.
    pub(super) fn apply_config(&mut self, new: Config) -> Result<Vec<String>, Vec<String>> {
        let router_id = match router_id(&new) {
            Ok(id) => id,
            Err(error) => {
                error!(%error, "reload failed: keeping the running configuration");
                return Err(vec![error.to_string()]);
            }
        };
        let changes = self.config.diff(&new);
        let actions = self.config.plan(&new);
        self.config = new;
        if !changes.is_empty() {
            self.config_revision += 1;
        }
        self.router_id = router_id;
        for change in &changes {
            info!(%change, "configuration change");
        }
        for action in actions {
            self.execute(action);
        }
        info!(changes = changes.len(), "configuration reloaded");
        Ok(changes.iter().map(ToString::to_string).collect())
    }

    fn execute(&mut self, action: Action) {
        match action {
            Action::CloseListener(address) => self.listeners.close(address),
            Action::OpenListener(address) => self.open_listener(address),
            Action::SetClusterId(cluster_id) => self.rib.push(RibEvent::SetClusterId(cluster_id)),
            Action::SetAdvertise(advertise) => {
                info!(pools = ?advertise.as_ref().map(|a| &a.prefixes), "kernel advertise filter changed");
                self.tell_fib(FibCommand::SetAdvertise(advertise));
            }
            Action::SetPersistOnExit(persist_on_exit) => {
                info!(persist_on_exit, "kernel FIB: persist_on_exit changed");
                self.tell_fib(FibCommand::SetPersistOnExit(persist_on_exit));
            }
            Action::RemoveNeighbor(address) => self.remove_neighbor(&address),
            Action::ChangeNeighbor {
                neighbor,
                reset,
                rib,
            } => self.change_neighbor(&neighbor, reset, rib),
            Action::AddNeighbor(neighbor) => self.add_neighbor(&neighbor),
            Action::Withdraw(prefix) => self.rib.push(RibEvent::WithdrawLocal { prefix }),
            Action::Originate(route) => self.rib.push(RibEvent::Originate {
                prefix: route.prefix,
                route: rib::local_route(&route),
            }),
            Action::NeedsRestart(setting) => needs_restart(setting),
        }
    }

    /// What the neighbor's task runs it with now; `None` (logged) when it cannot run.
    fn settings(&self, neighbor: &config::Neighbor) -> Option<NeighborSettings> {
        match NeighborSettings::new(&self.config.global, self.router_id, neighbor) {
            Ok(mut settings) => {
                self.restart_open(&mut settings);
                Some(settings)
            }
            Err(error) => {
                error!(peer = %neighbor.name, %error, "neighbor not applied");
                None
            }
        }
    }

    pub(super) fn add_neighbor(&mut self, neighbor: &config::Neighbor) {
        let Some(settings) = self.settings(neighbor) else {
            return;
        };
        if let Some(key) = &settings.transport.md5_key {
            self.listeners
                .set_key(&settings.name, settings.address.ip(), Some(key));
        }
        self.seed = self.seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let id = rr::PeerId(self.next_peer);
        self.next_peer += 1;
        self.rib.push(RibEvent::Configure {
            peer: id,
            config: settings.rib.clone(),
        });
        self.link_local_interface(&neighbor.address);
        let handle = PeerHandle::spawn(
            id,
            settings,
            self.seed,
            self.rib_queue.clone(),
            self.rib_pulls.clone(),
        );
        self.peers.insert(neighbor.address.clone(), handle);
    }

    fn remove_neighbor(&mut self, address: &PeerAddress) {
        if let Some(peer) = self.peers.remove(address) {
            self.rib.push(RibEvent::Deconfigure { peer: peer.id });
            if peer.settings.transport.md5_key.is_some() {
                self.listeners
                    .set_key(&peer.settings.name, peer.settings.address.ip(), None);
            }
            tell_peer(&peer, PeerCommand::Shutdown(StopReason::Deconfigured));
        }
    }

    /// New settings for a running neighbor; `reset` re-establishes its session, `rib` gives
    /// the RIB its new `rr::PeerConfig` (applied without a reset).
    fn change_neighbor(&mut self, neighbor: &config::Neighbor, reset: bool, rib: bool) {
        let Some(settings) = self.settings(neighbor) else {
            return;
        };
        let Some(peer) = self.peers.get_mut(&neighbor.address) else {
            return;
        };
        let had_key = peer.settings.transport.md5_key.is_some();
        peer.settings = settings.clone();
        let id = peer.id;
        tell_peer(peer, PeerCommand::Reconfigure(Box::new(settings.clone())));
        if reset {
            tell_peer(peer, PeerCommand::Stop(StopReason::ConfigurationChanged));
        }
        if settings.transport.md5_key.is_some() || had_key {
            self.listeners.set_key(
                &settings.name,
                settings.address.ip(),
                settings.transport.md5_key.as_deref(),
            );
        }
        if rib {
            self.rib.push(RibEvent::Configure {
                peer: id,
                config: settings.rib,
            });
        }
    }

    /// An IPv6 link-local neighbor (`fe80::1%eth0`): the routes it announces have a next hop
    /// that only means something on its interface (RFC 4291 §2.5.6), which the FIB must name.
    fn link_local_interface(&mut self, address: &PeerAddress) {
        let (std::net::IpAddr::V6(ip), Some(interface)) = (address.ip, &address.interface) else {
            return;
        };
        if self.fib_outbox.is_none() {
            return;
        }
        match neighbor::interface_index(interface.as_str()) {
            Some(index) => self.tell_fib(FibCommand::LinkLocalInterface {
                address: ip,
                interface: index,
            }),
            None => {
                warn!(peer = %address, "no such interface: routes through this link-local neighbor cannot be installed")
            }
        }
    }
}

/// Logs a setting the running daemon cannot take (the messages and fields operators and the
/// lab tests look for).
fn needs_restart(setting: Setting) {
    match setting {
        Setting::Global(field) => {
            warn!(
                field = field.name(),
                "this global setting takes effect when bgpd restarts"
            );
        }
        Setting::KernelAdded | Setting::KernelRemoved | Setting::Kernel(_) => {
            let change = match setting {
                Setting::Kernel(field) => field.name(),
                Setting::KernelAdded => "kernel added",
                _ => "kernel removed",
            };
            warn!(
                change,
                "this [kernel] change takes effect when bgpd restarts"
            );
        }
        Setting::Etcd => warn!("this [etcd] change takes effect when bgpd restarts"),
    }
}

/// Hands a peer task a command without waiting; its queue (64) is full only when the task is
/// stuck, and then the command is lost: said in the log.
fn tell_peer(peer: &PeerHandle, command: PeerCommand) {
    // Not the command itself in the log: new settings may hold a TCP MD5 key.
    if peer.commands.try_send(command).is_err() {
        warn!(peer = %peer.settings.name, "peer task busy: reload command not delivered");
    }
}
