//! Turning a set of outbound changes into UPDATE messages, once per update group: prefixes
//! sharing an attribute set (the same `Arc`) go into the same messages
//! (`proto::update::UpdateBuilder` packs them up to the session's maximum size), withdrawals
//! first. IPv4 routes with an IPv4 next hop use the NLRI field (RFC 4271 §4.3), IPv4 routes
//! with an IPv6 next hop MP_REACH_NLRI (RFC 8950), IPv6 routes MP_REACH_NLRI /
//! MP_UNREACH_NLRI (RFC 4760).

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proto::attr::NextHop;
use proto::nlri::Nlri;
use proto::update::{Announce, UpdateBuilder, Withdraw};
use proto::{AfiSafi, EncodeError, PathId, SessionParams};

use crate::attrs::{Attrs, ByPointer, RouteNextHop};

/// Routes sharing one attribute set.
#[derive(Debug)]
struct Announcement {
    attrs: Attrs,
    ipv4: Vec<Nlri<Ipv4Net>>,
    ipv6: Vec<Nlri<Ipv6Net>>,
}

/// Changes collected for one round of encoding.
#[derive(Debug)]
pub(crate) struct Batch {
    params: SessionParams,
    withdraw_ipv4: Vec<Nlri<Ipv4Net>>,
    withdraw_ipv6: Vec<Nlri<Ipv6Net>>,
    announcements: Vec<Announcement>,
    by_attrs: HashMap<ByPointer, usize>,
    /// The announcement last added to: consecutive prefixes mostly share attributes.
    last: Option<usize>,
}

/// Routes whose announcement could not be encoded (attributes too large for a message, a next
/// hop the session cannot carry).
#[derive(Debug, Default)]
pub(crate) struct Failed {
    pub keys: Vec<(IpNet, PathId)>,
    pub error: Option<EncodeError>,
}

impl Batch {
    pub fn new(params: &SessionParams) -> Batch {
        Batch {
            params: *params,
            withdraw_ipv4: Vec::new(),
            withdraw_ipv6: Vec::new(),
            announcements: Vec::new(),
            by_attrs: HashMap::new(),
            last: None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.withdraw_ipv4.is_empty()
            && self.withdraw_ipv6.is_empty()
            && self.announcements.is_empty()
    }

    /// The path identifier on the wire: present exactly when ADD-PATH send is negotiated for
    /// the family (RFC 7911 §3).
    fn path_id(&self, family: AfiSafi, id: PathId) -> Option<PathId> {
        self.params.sends_path_id(family).then_some(id)
    }

    pub fn withdraw(&mut self, prefix: IpNet, id: PathId) {
        match prefix {
            IpNet::V4(v4) => {
                let id = self.path_id(AfiSafi::Ipv4Unicast, id);
                self.withdraw_ipv4.push(Nlri::new(v4, id));
            }
            IpNet::V6(v6) => {
                let id = self.path_id(AfiSafi::Ipv6Unicast, id);
                self.withdraw_ipv6.push(Nlri::new(v6, id));
            }
        }
    }

    pub fn announce(&mut self, prefix: IpNet, id: PathId, attrs: &Attrs) {
        let last = self
            .last
            .filter(|&index| Arc::ptr_eq(&self.announcements[index].attrs, attrs));
        let index = match last.or_else(|| self.by_attrs.get(&ByPointer(attrs.clone())).copied()) {
            Some(index) => index,
            None => {
                self.announcements.push(Announcement {
                    attrs: attrs.clone(),
                    ipv4: Vec::new(),
                    ipv6: Vec::new(),
                });
                let index = self.announcements.len() - 1;
                self.by_attrs.insert(ByPointer(attrs.clone()), index);
                index
            }
        };
        self.last = Some(index);
        match prefix {
            IpNet::V4(v4) => {
                let id = self.path_id(AfiSafi::Ipv4Unicast, id);
                self.announcements[index].ipv4.push(Nlri::new(v4, id));
            }
            IpNet::V6(v6) => {
                let id = self.path_id(AfiSafi::Ipv6Unicast, id);
                self.announcements[index].ipv6.push(Nlri::new(v6, id));
            }
        }
    }

    /// The messages, withdrawals first, and the announcements that failed. Prefixes are put
    /// in order within each message (the table holds them unordered), so that what is sent
    /// does not depend on where routes sit in the table.
    pub fn encode(mut self) -> (Vec<Bytes>, Failed) {
        self.withdraw_ipv4
            .sort_unstable_by_key(|n| (n.prefix(), n.path_id()));
        self.withdraw_ipv6
            .sort_unstable_by_key(|n| (n.prefix(), n.path_id()));
        for announcement in &mut self.announcements {
            announcement
                .ipv4
                .sort_unstable_by_key(|n| (n.prefix(), n.path_id()));
            announcement
                .ipv6
                .sort_unstable_by_key(|n| (n.prefix(), n.path_id()));
        }
        self.announcements.sort_by_key(|a| {
            (
                a.ipv4.first().map(|n| n.prefix()),
                a.ipv6.first().map(|n| n.prefix()),
            )
        });
        let builder = UpdateBuilder::new(&self.params);
        let mut messages = Vec::new();
        let mut failed = Failed::default();
        // Withdrawals carry no attributes; with the session's own path identifier rules they
        // cannot fail to encode, but an error is still reported rather than ignored.
        for result in [
            builder.withdraw(Withdraw::Ipv4(&self.withdraw_ipv4)),
            builder.withdraw(Withdraw::Ipv6(&self.withdraw_ipv6)),
        ] {
            match result {
                Ok(encoded) => messages.extend(encoded),
                Err(error) => failed.error = Some(error),
            }
        }
        for announcement in &self.announcements {
            let results = announce(&builder, announcement);
            for (result, keys) in results {
                match result {
                    Ok(encoded) => messages.extend(encoded),
                    Err(error) => {
                        failed.error = Some(error);
                        failed.keys.extend(keys);
                    }
                }
            }
        }
        (messages, failed)
    }
}

type Keys = Vec<(IpNet, PathId)>;

/// Encodes one attribute set's routes, per family; each result comes with the keys it covers.
fn announce(
    builder: &UpdateBuilder,
    announcement: &Announcement,
) -> Vec<(Result<Vec<Bytes>, EncodeError>, Keys)> {
    let mut results = Vec::with_capacity(2);
    let attrs = &announcement.attrs;
    let next_hop = match attrs.next_hop {
        RouteNextHop::Address(next_hop) => Some(next_hop),
        RouteNextHop::Local => None,
    };
    let mismatch = EncodeError::ParamsMismatch {
        what: "outbound route without a next hop the family can carry",
    };
    if !announcement.ipv4.is_empty() {
        let keys = announcement
            .ipv4
            .iter()
            .map(|n| (IpNet::V4(n.prefix()), n.path_id().unwrap_or_default()))
            .collect();
        let result = match next_hop {
            Some(NextHop::Ipv4(address)) => {
                // RFC 4271 §5.1.3: IPv4 routes in the NLRI field carry NEXT_HOP.
                let mut attributes = attrs.attributes.clone();
                attributes.next_hop = Some(address);
                builder.announce(&attributes, Announce::Ipv4(&announcement.ipv4))
            }
            Some(next_hop @ NextHop::Ipv6(_)) => builder.announce(
                &attrs.attributes,
                Announce::Ipv4Mp {
                    next_hop,
                    nlri: &announcement.ipv4,
                },
            ),
            None => Err(mismatch),
        };
        results.push((result, keys));
    }
    if !announcement.ipv6.is_empty() {
        let keys = announcement
            .ipv6
            .iter()
            .map(|n| (IpNet::V6(n.prefix()), n.path_id().unwrap_or_default()))
            .collect();
        let result = match next_hop {
            Some(NextHop::Ipv6(next_hop)) => builder.announce(
                &attrs.attributes,
                Announce::Ipv6 {
                    next_hop,
                    nlri: &announcement.ipv6,
                },
            ),
            _ => Err(mismatch),
        };
        results.push((result, keys));
    }
    results
}
