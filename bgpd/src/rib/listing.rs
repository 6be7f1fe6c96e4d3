//! `bgpctl show routes`: a listing takes the sorted prefixes of what it shows once (the
//! node's table is unordered) and is answered in chunks of [`ROUTE_CHUNK`] prefixes over a
//! stream with at most eight chunks in flight, resumed where it stopped, so that a large
//! table is never serialized whole. The JSON of a route is `control::protocol::Route`.

use ipnet::IpNet;
use proto::attr::Origin;
use rr::node::LocalOrigin;
use rr::{PathAttrs, PeerId, RouteNextHop, RouteSource, RouteView, TableView};
use tokio::sync::mpsc;

use super::RibTask;
use crate::control::failure;
use crate::control::protocol::{self, RouteTable};

/// Prefixes per chunk of a `show routes` listing.
pub(super) const ROUTE_CHUNK: usize = 512;

/// A `show routes` listing in progress.
#[derive(Debug)]
pub struct RouteQuery {
    pub table: RouteTable,
    pub prefix: Option<IpNet>,
    /// `--neighbor`: the Loc-RIB paths from it, or the table of `--received`/`--advertised`.
    pub neighbor: Option<PeerId>,
    pub lines: mpsc::Sender<Vec<String>>,
}

/// A running listing: the query, its prefixes in order once taken, and where the next chunk
/// starts.
pub(super) struct Running {
    pub query: RouteQuery,
    pub prefixes: Option<Vec<IpNet>>,
    pub next: usize,
}

impl RouteQuery {
    /// The RIB's table the query lists.
    fn view(&self) -> TableView {
        match (self.table, self.neighbor) {
            (RouteTable::Advertised, Some(peer)) => TableView::Advertised(peer),
            (RouteTable::Received, Some(peer)) => TableView::Received(peer),
            (RouteTable::LocRib, neighbor) => TableView::LocRib(neighbor),
            // Answered with an error line by `chunk`, once.
            (_, None) => TableView::LocRib(None),
        }
    }
}

impl RibTask {
    /// Sends every listing's next chunks, as many as its client has room for; finished
    /// listings close their stream.
    pub(super) fn serve_listings(&mut self) {
        let listings = std::mem::take(&mut self.listings);
        for mut listing in listings {
            // Bounded by the stream's capacity: each round fills one slot or ends the listing.
            loop {
                if listing.query.lines.is_closed() {
                    break;
                }
                // This task is the stream's only sender: room now is room at the send below.
                if listing.query.lines.capacity() == 0 {
                    self.listings.push(listing);
                    break;
                }
                let prefixes = listing.prefixes.get_or_insert_with(|| {
                    // The order of the listing, taken once: the table itself is unordered.
                    self.node
                        .rib()
                        .listing(listing.query.view(), listing.query.prefix.into())
                });
                let end = (listing.next + ROUTE_CHUNK).min(prefixes.len());
                let lines = self.chunk(&listing.query, &prefixes[listing.next..end]);
                listing.next = end;
                let done = end == prefixes.len();
                if listing.query.lines.try_send(lines).is_err() || done {
                    break;
                }
            }
        }
    }

    /// The lines of a chunk of a listing's prefixes (which may have changed since the listing
    /// began: what is there now is shown).
    fn chunk(&self, query: &RouteQuery, prefixes: &[IpNet]) -> Vec<String> {
        let json = |route: &protocol::Route| {
            serde_json::to_string(route).unwrap_or_else(|error| failure(&error.to_string()))
        };
        let mut lines = Vec::new();
        match (query.table, query.neighbor) {
            (RouteTable::LocRib, neighbor) => {
                for prefix in prefixes {
                    for view in self.node.rib().routes_at(prefix) {
                        if neighbor.is_none_or(|n| view.source == RouteSource::Peer(n)) {
                            lines.push(json(&self.loc_rib_route(&view)));
                        }
                    }
                }
            }
            (table, Some(peer)) => {
                let name = self.peer_name(RouteSource::Peer(peer));
                for prefix in prefixes {
                    let routes = match table {
                        RouteTable::Advertised => self.node.rib().advertised_at(peer, prefix),
                        _ => self.node.rib().received_at(peer, prefix),
                    };
                    for route in routes {
                        let view =
                            route_json(route.prefix, &route.attrs, name.clone(), route.accepted);
                        lines.push(json(&view));
                    }
                }
            }
            (_, None) => {
                lines.push(failure("--received and --advertised need --neighbor NAME"));
            }
        }
        lines
    }

    pub(super) fn loc_rib_route(&self, view: &RouteView<'_>) -> protocol::Route {
        let from = match (view.source, self.node.local_origin(&view.prefix)) {
            (RouteSource::Local, Some(LocalOrigin::Kernel)) => KERNEL_SOURCE.to_owned(),
            (source, _) => self.peer_name(source),
        };
        route_json(view.prefix, view.attrs, from, view.best())
    }

    fn peer_name(&self, source: RouteSource) -> String {
        match source {
            RouteSource::Local => LOCAL_SOURCE.to_owned(),
            RouteSource::Peer(peer) => self
                .peers
                .get(&peer)
                .map_or_else(|| peer.to_string(), |l| l.name.clone()),
        }
    }
}

/// `from` of a route this speaker originates from its configuration.
pub(super) const LOCAL_SOURCE: &str = "local";
/// `from` of a route this speaker originates from a kernel route (`[kernel.advertise]`).
pub(super) const KERNEL_SOURCE: &str = "kernel";
/// `next_hop` of a route this speaker originates.
pub(super) const SELF_NEXT_HOP: &str = "self";

fn route_json(prefix: IpNet, attrs: &PathAttrs, from: String, best: bool) -> protocol::Route {
    let a = &attrs.attributes;
    protocol::Route {
        prefix: prefix.to_string(),
        next_hop: match &attrs.next_hop {
            RouteNextHop::Local => SELF_NEXT_HOP.to_owned(),
            RouteNextHop::Address(next_hop) => rr::types::forwarding_address(next_hop).to_string(),
        },
        as_path: a.as_path.as_ref().map_or_else(Vec::new, |path| {
            path.segments()
                .iter()
                .flat_map(|segment| segment.asns().iter().map(|asn| asn.0))
                .collect()
        }),
        origin: a.origin.map(|origin| {
            match origin {
                Origin::Igp => "igp",
                Origin::Egp => "egp",
                Origin::Incomplete => "incomplete",
            }
            .to_owned()
        }),
        local_pref: a.local_pref.map(|l| l.0),
        med: a.multi_exit_disc.map(|m| m.0),
        communities: a.communities.iter().map(ToString::to_string).collect(),
        large_communities: a
            .large_communities
            .iter()
            .map(ToString::to_string)
            .collect(),
        originator_id: a.originator_id.map(|id| id.to_string()),
        cluster_list: a.cluster_list.iter().map(ToString::to_string).collect(),
        from,
        best,
    }
}
