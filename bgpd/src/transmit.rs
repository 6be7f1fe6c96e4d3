//! The RIB task's transmit side: each connection's writer pulls its neighbor's UPDATEs (the
//! update group's encoded messages, End-of-RIB included, RFC 4724 §2) when it has room, so
//! that the writer is the one owner of its socket and the RIB never pushes into a queue the
//! session also uses.
//!
//! A writer sends a [`Pull`] (a byte budget and a one-shot reply) and waits for its answer
//! before it pulls again: at most one pull per connection is outstanding, which bounds the
//! unbounded channel they travel on by the number of connections. The RIB answers at once
//! when the neighbor has messages, or parks the pull until a `RibOutput::Transmit` says it
//! has. Pulls carry the connection's epoch (its generation, also carried by `PeerUp` and
//! `PeerDown`): a pull that overtakes its `PeerUp` waits for it, one of an older connection
//! is dropped, and `PeerDown` drops what is parked. Dropping a pull closes its reply: the
//! writer stops pulling.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use rr::PeerId;
use tokio::sync::{mpsc, oneshot};

/// A writer's request for up to about `max_bytes` octets of its neighbor's messages.
#[derive(Debug)]
pub struct Pull {
    pub peer: PeerId,
    /// The connection's generation: the epoch of the `PeerUp` it belongs to.
    pub epoch: u64,
    pub max_bytes: usize,
    pub reply: oneshot::Sender<Vec<Bytes>>,
}

/// Where writers send their pulls (cloned into every peer task).
#[derive(Debug, Clone)]
pub struct Pulls(mpsc::UnboundedSender<Pull>);

impl Pulls {
    /// Asks for the neighbor's next messages; `None` when the RIB task is gone.
    pub fn pull(
        &self,
        peer: PeerId,
        epoch: u64,
        max_bytes: usize,
    ) -> Option<oneshot::Receiver<Vec<Bytes>>> {
        let (reply, answer) = oneshot::channel();
        let pull = Pull {
            peer,
            epoch,
            max_bytes,
            reply,
        };
        self.0.send(pull).ok().map(|()| answer)
    }
}

/// What pulls are served from: the node (a fake in the tests).
pub trait Messages {
    fn has_messages(&self, peer: PeerId) -> bool;
    /// Messages adding up to about `max_bytes` octets; they count as sent.
    fn take_messages(&mut self, peer: PeerId, max_bytes: usize) -> Vec<Bytes>;
}

impl Messages for rr::node::Node {
    fn has_messages(&self, peer: PeerId) -> bool {
        rr::node::Node::has_messages(self, peer)
    }

    fn take_messages(&mut self, peer: PeerId, max_bytes: usize) -> Vec<Bytes> {
        rr::node::Node::take_messages(self, peer, max_bytes)
    }
}

/// A neighbor's latest session as its `PeerUp` / `PeerDown` told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Session {
    Up(u64),
    Down(u64),
}

/// The pulls the RIB task holds, and the channel they arrive on.
#[derive(Debug)]
pub struct Transmitter {
    receiver: mpsc::UnboundedReceiver<Pull>,
    sender: Pulls,
    sessions: HashMap<PeerId, Session>,
    /// At most one pull per neighbor, waiting for messages or for its `PeerUp`.
    parked: HashMap<PeerId, Pull>,
    /// Parked pulls whose take came back empty while messages remain (a step of a long
    /// table walk): served again on the next turn of the RIB loop.
    ready: HashSet<PeerId>,
}

impl Default for Transmitter {
    fn default() -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        Transmitter {
            receiver,
            sender: Pulls(sender),
            sessions: HashMap::new(),
            parked: HashMap::new(),
            ready: HashSet::new(),
        }
    }
}

impl Transmitter {
    /// The sending side, for the peer tasks' writers.
    pub fn pulls(&self) -> Pulls {
        self.sender.clone()
    }

    /// The next pull (never ends: the transmitter keeps a sender).
    pub async fn recv(&mut self) -> Option<Pull> {
        self.receiver.recv().await
    }

    /// Serves every pull waiting in the channel.
    pub fn drain(&mut self, messages: &mut impl Messages) {
        while let Ok(pull) = self.receiver.try_recv() {
            self.pull(pull, messages);
        }
    }

    /// A pull from a writer.
    pub fn pull(&mut self, pull: Pull, messages: &mut impl Messages) {
        match self.sessions.get(&pull.peer) {
            Some(Session::Up(epoch)) if *epoch == pull.epoch => self.serve(pull, messages),
            // An older connection's: dropped.
            Some(Session::Up(epoch) | Session::Down(epoch)) if pull.epoch <= *epoch => {}
            // It overtook its PeerUp.
            _ => self.park(pull),
        }
    }

    /// The neighbor's session `epoch` is up (call before the RIB applies its `PeerUp`).
    pub fn up(&mut self, peer: PeerId, epoch: u64) {
        self.sessions.insert(peer, Session::Up(epoch));
        if self.parked.get(&peer).is_some_and(|p| p.epoch < epoch) {
            self.unpark(peer);
        }
    }

    /// The neighbor's session `epoch` is down: its pull goes. (A neighbor forgotten before
    /// its PeerDown arrives stays forgotten.)
    pub fn down(&mut self, peer: PeerId, epoch: u64) {
        if let Some(session) = self.sessions.get_mut(&peer) {
            *session = Session::Down(epoch);
        }
        if self.parked.get(&peer).is_some_and(|p| p.epoch <= epoch) {
            self.unpark(peer);
        }
    }

    /// The neighbor was deconfigured.
    pub fn forget(&mut self, peer: PeerId) {
        self.sessions.remove(&peer);
        self.unpark(peer);
    }

    /// `RibOutput::Transmit(peer)`: the neighbor has messages.
    pub fn transmit(&mut self, peer: PeerId, messages: &mut impl Messages) {
        if let Some(pull) = self.parked.remove(&peer) {
            self.ready.remove(&peer);
            self.pull(pull, messages);
        }
    }

    /// Whether a parked pull is to be served on the next turn.
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Serves the pulls whose neighbor was in the middle of a walk.
    pub fn serve_ready(&mut self, messages: &mut impl Messages) {
        let ready: Vec<PeerId> = self.ready.drain().collect();
        for peer in ready {
            self.transmit(peer, messages);
        }
    }

    fn serve(&mut self, pull: Pull, messages: &mut impl Messages) {
        if pull.reply.is_closed() {
            return;
        }
        if !messages.has_messages(pull.peer) {
            self.park(pull);
            return;
        }
        let taken = messages.take_messages(pull.peer, pull.max_bytes);
        if taken.is_empty() {
            self.ready.insert(pull.peer);
            self.park(pull);
            return;
        }
        // A writer gone since it asked loses what it asked for: its connection is closing,
        // PeerDown follows, and a new session starts from a walk of the table.
        let _ = pull.reply.send(taken);
    }

    /// Keeps the newest pull of a neighbor. Parking for a neighbor not up purges pulls whose
    /// writer is gone, so a pull that arrives after its neighbor was forgotten cannot stay.
    fn park(&mut self, pull: Pull) {
        if !matches!(self.sessions.get(&pull.peer), Some(Session::Up(_))) {
            self.parked.retain(|_, p| !p.reply.is_closed());
        }
        match self.parked.get(&pull.peer) {
            Some(parked) if parked.epoch > pull.epoch => {}
            _ => {
                self.parked.insert(pull.peer, pull);
            }
        }
    }

    fn unpark(&mut self, peer: PeerId) {
        self.parked.remove(&peer);
        self.ready.remove(&peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Messages of 100 octets per neighbor.
    #[derive(Default)]
    struct Queue(HashMap<PeerId, usize>);

    impl Messages for Queue {
        fn has_messages(&self, peer: PeerId) -> bool {
            self.0.get(&peer).is_some_and(|n| *n > 0)
        }

        fn take_messages(&mut self, peer: PeerId, max_bytes: usize) -> Vec<Bytes> {
            let waiting = self.0.entry(peer).or_default();
            let taken = (*waiting).min(max_bytes.div_ceil(100));
            *waiting -= taken;
            vec![Bytes::from_static(&[0; 100]); taken]
        }
    }

    const PEER: PeerId = PeerId(7);

    fn pull(transmitter: &Transmitter, epoch: u64) -> oneshot::Receiver<Vec<Bytes>> {
        transmitter.pulls().pull(PEER, epoch, 250).expect("open")
    }

    fn answer(reply: &mut oneshot::Receiver<Vec<Bytes>>) -> Option<usize> {
        reply.try_recv().ok().map(|m| m.len())
    }

    /// The RIB dropped the pull.
    fn dropped(reply: &mut oneshot::Receiver<Vec<Bytes>>) -> bool {
        reply.try_recv() == Err(oneshot::error::TryRecvError::Closed)
    }

    #[test]
    fn answered_at_once_within_the_budget() {
        let (mut t, mut queue) = (Transmitter::default(), Queue::default());
        queue.0.insert(PEER, 10);
        t.up(PEER, 1);
        let mut reply = pull(&t, 1);
        t.drain(&mut queue);
        assert_eq!(
            answer(&mut reply),
            Some(3),
            "250 octets: three messages of 100"
        );
        assert_eq!(queue.0[&PEER], 7);
    }

    #[test]
    fn parked_until_messages_exist() {
        let (mut t, mut queue) = (Transmitter::default(), Queue::default());
        t.up(PEER, 1);
        let mut reply = pull(&t, 1);
        t.drain(&mut queue);
        assert_eq!(answer(&mut reply), None);
        queue.0.insert(PEER, 1);
        t.transmit(PEER, &mut queue);
        assert_eq!(answer(&mut reply), Some(1));
    }

    #[test]
    fn a_pull_that_overtakes_its_peer_up_waits_for_it() {
        let (mut t, mut queue) = (Transmitter::default(), Queue::default());
        queue.0.insert(PEER, 1);
        t.up(PEER, 1);
        t.down(PEER, 1);
        // Connection 3's writer asks before PeerUp(3) is applied.
        let mut reply = pull(&t, 3);
        t.drain(&mut queue);
        assert_eq!(answer(&mut reply), None);
        t.up(PEER, 3);
        t.transmit(PEER, &mut queue);
        assert_eq!(answer(&mut reply), Some(1));
    }

    #[test]
    fn stale_and_down_pulls_are_dropped() {
        let (mut t, mut queue) = (Transmitter::default(), Queue::default());
        queue.0.insert(PEER, 5);
        t.up(PEER, 4);
        let mut stale = pull(&t, 2);
        t.drain(&mut queue);
        assert!(dropped(&mut stale));
        // Parked, then the session goes down.
        queue.0.insert(PEER, 0);
        let mut parked = pull(&t, 4);
        t.drain(&mut queue);
        t.down(PEER, 4);
        assert!(dropped(&mut parked));
        // A late pull of the connection that is down is dropped too.
        let mut late = pull(&t, 4);
        t.drain(&mut queue);
        assert!(dropped(&mut late));
        // A PeerDown of the old session leaves the pull of the next one parked.
        let mut next = pull(&t, 6);
        t.drain(&mut queue);
        t.down(PEER, 4);
        t.up(PEER, 6);
        queue.0.insert(PEER, 1);
        t.transmit(PEER, &mut queue);
        assert_eq!(answer(&mut next), Some(1));
    }

    #[test]
    fn an_empty_walk_step_is_served_on_the_next_turn() {
        /// Has messages, but the first take yields none (a walk over routes none exports).
        struct Walk(u32);
        impl Messages for Walk {
            fn has_messages(&self, _: PeerId) -> bool {
                true
            }
            fn take_messages(&mut self, _: PeerId, _: usize) -> Vec<Bytes> {
                self.0 += 1;
                if self.0 == 1 {
                    Vec::new()
                } else {
                    vec![Bytes::from_static(b"x")]
                }
            }
        }
        let (mut t, mut walk) = (Transmitter::default(), Walk(0));
        t.up(PEER, 1);
        let mut reply = pull(&t, 1);
        t.drain(&mut walk);
        assert_eq!(answer(&mut reply), None);
        assert!(t.has_ready());
        t.serve_ready(&mut walk);
        assert_eq!(answer(&mut reply), Some(1));
        assert!(!t.has_ready());
    }
}
