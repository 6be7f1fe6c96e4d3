//! The writer over an in-memory stream (`tokio::io::duplex`) on tokio's paused clock, with a
//! stand-in for the RIB task answering its pulls; and its queue as data.

use std::time::Duration;

use bytes::Bytes;
use proto::session::ConnectionId;
use tokio::io::{AsyncReadExt, DuplexStream};
use tokio::sync::{mpsc, oneshot};

use super::task::LinkEvent;
use super::writer::{
    ControlMessage, Source, WriteQueue, Writer, WriterEvent, PULL_BYTES, WRITE_BLOCKED_AFTER,
};
use crate::transmit::{Pull, Transmitter};

const GENERATION: u64 = 5;
const PEER: rr::PeerId = rr::PeerId(3);

fn message(fill: u8, len: usize) -> Bytes {
    Bytes::from(vec![fill; len])
}

fn control(fill: u8) -> ControlMessage {
    ControlMessage {
        bytes: message(fill, 19),
        last: false,
    }
}

fn notification() -> ControlMessage {
    ControlMessage {
        bytes: message(b'N', 21),
        last: true,
    }
}

/// A running writer and the ends the test holds.
struct Harness {
    /// The neighbor's end of the connection.
    neighbor: DuplexStream,
    /// The session's messages; `None` once the session closed the connection.
    control: Option<mpsc::Sender<ControlMessage>>,
    start: Option<oneshot::Sender<()>>,
    /// The RIB task's end of the pulls, answered by the test.
    transmitter: Transmitter,
    events: mpsc::Receiver<LinkEvent>,
    writer: tokio::task::JoinHandle<()>,
}

/// A writer whose socket buffers `buffer` octets.
fn harness(buffer: usize) -> Harness {
    let (ours, neighbor) = tokio::io::duplex(buffer);
    let (control, control_rx) = mpsc::channel(16);
    let (start, start_rx) = oneshot::channel();
    let (events_tx, events) = mpsc::channel(16);
    let transmitter = Transmitter::default();
    let source = Source {
        pulls: transmitter.pulls(),
        peer: PEER,
    };
    let writer = Writer {
        half: ours,
        control: control_rx,
        start: Some(start_rx),
        source,
        events: events_tx,
        id: ConnectionId::Outgoing,
        generation: GENERATION,
    };
    Harness {
        neighbor,
        control: Some(control),
        start: Some(start),
        transmitter,
        events,
        writer: tokio::spawn(writer.run()),
    }
}

impl Harness {
    async fn send(&self, message: ControlMessage) {
        let control = self.control.as_ref().expect("open");
        control.send(message).await.expect("the writer runs");
    }

    fn start_updates(&mut self) {
        let _ = self.start.take().expect("not started").send(());
    }

    async fn pull(&mut self) -> Pull {
        self.transmitter.recv().await.expect("a pull")
    }

    /// Whether a pull arrives within `span`.
    async fn pulls_within(&mut self, span: Duration) -> bool {
        tokio::time::timeout(span, self.transmitter.recv())
            .await
            .is_ok()
    }

    /// Reads until the writer closes its end.
    async fn read_to_end(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.neighbor
            .read_to_end(&mut out)
            .await
            .expect("in-memory read");
        out
    }

    async fn read_exact(&mut self, len: usize) -> Vec<u8> {
        let mut out = vec![0; len];
        self.neighbor
            .read_exact(&mut out)
            .await
            .expect("in-memory read");
        out
    }

    async fn next_event(&mut self) -> WriterEvent {
        match self.events.recv().await {
            Some(LinkEvent::Writer {
                id,
                generation,
                event,
            }) => {
                assert_eq!((id, generation), (ConnectionId::Outgoing, GENERATION));
                event
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn no_pull_before_the_session_is_established() {
    let mut h = harness(1 << 16);
    h.send(control(b'O')).await;
    assert_eq!(h.read_exact(19).await, vec![b'O'; 19]);
    assert!(
        !h.pulls_within(Duration::from_secs(5)).await,
        "no pull before Established"
    );
    h.start_updates();
    let pull = h.pull().await;
    assert_eq!(
        (pull.peer, pull.epoch, pull.max_bytes),
        (PEER, GENERATION, PULL_BYTES)
    );
}

/// UPDATEs come only as the writer pulls them, one pull at a time, and go out in order.
#[tokio::test(start_paused = true)]
async fn updates_are_pulled_one_answer_at_a_time() {
    let mut h = harness(1 << 20);
    h.start_updates();
    let first = h.pull().await;
    assert!(
        !h.pulls_within(Duration::from_secs(1)).await,
        "one pull outstanding"
    );
    let updates: Vec<Bytes> = (0..100u8).map(|i| message(i, 4096)).collect();
    let _ = first.reply.send(updates.clone());
    let written = h.read_exact(100 * 4096).await;
    assert_eq!(written, updates.concat());
    // It asks again once there is room.
    let again = h.pull().await;
    assert_eq!(again.max_bytes, PULL_BYTES);
}

/// A writer in the middle of the first of two UPDATEs of 1500 octets: its socket buffers
/// 1000.
async fn cut_update() -> Harness {
    let mut h = harness(1000);
    h.start_updates();
    let pull = h.pull().await;
    let _ = pull
        .reply
        .send(vec![message(b'a', 1500), message(b'b', 1500)]);
    tokio::time::sleep(Duration::from_millis(10)).await;
    h
}

/// The session's messages overtake UPDATEs not yet begun, never one partly written.
#[tokio::test(start_paused = true)]
async fn session_messages_go_before_waiting_updates() {
    let mut h = cut_update().await;
    h.send(control(b'K')).await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    let written = h.read_exact(1500 + 19 + 1500).await;
    let expected = [vec![b'a'; 1500], vec![b'K'; 19], vec![b'b'; 1500]].concat();
    assert_eq!(written, expected);
}

/// Once a NOTIFICATION is queued nothing follows it: UPDATEs not begun are dropped, later
/// messages are not written, and the stream ends.
#[tokio::test(start_paused = true)]
async fn nothing_is_written_after_a_notification() {
    let mut h = cut_update().await;
    h.send(notification()).await;
    // Sent after the NOTIFICATION: the writer takes no more.
    let late = h.control.as_ref().expect("open").try_send(control(b'K'));
    assert!(late.is_ok(), "the channel has room");
    let written = h.read_to_end().await;
    let expected = [vec![b'a'; 1500], vec![b'N'; 21]].concat();
    assert_eq!(written, expected);
    h.writer.await.expect("the writer ends");
}

/// The session closing the connection without a NOTIFICATION: its messages go out, pulled
/// UPDATEs do not, and the stream ends.
#[tokio::test(start_paused = true)]
async fn a_closed_connection_flushes_the_sessions_messages_only() {
    let mut h = harness(1 << 16);
    h.start_updates();
    let pull = h.pull().await;
    h.send(control(b'K')).await;
    h.control = None;
    let _ = pull.reply.send(vec![message(b'u', 100)]);
    assert_eq!(h.read_to_end().await, vec![b'K'; 19]);
}

/// RFC 9687: a write that does not complete for a second is reported, and so is the
/// progress that ends it.
#[tokio::test(start_paused = true)]
async fn a_neighbor_that_stops_reading_is_reported_blocked() {
    let mut h = harness(4096);
    h.start_updates();
    let pull = h.pull().await;
    let _ = pull
        .reply
        .send((0..10u8).map(|i| message(i, 4096)).collect());
    let started = tokio::time::Instant::now();
    assert_eq!(h.next_event().await, WriterEvent::Blocked);
    let waited = started.elapsed();
    println!("blocked reported after {waited:?}");
    assert!(waited >= WRITE_BLOCKED_AFTER, "{waited:?}");
    // The neighbor reads again.
    let _ = h.read_exact(4096).await;
    assert_eq!(h.next_event().await, WriterEvent::Progress);
}

/// A socket that fails is reported, and the writer ends.
#[tokio::test(start_paused = true)]
async fn a_failed_socket_is_reported() {
    let mut h = harness(64);
    let neighbor = std::mem::replace(&mut h.neighbor, tokio::io::duplex(1).0);
    drop(neighbor);
    h.send(control(b'K')).await;
    assert_eq!(h.next_event().await, WriterEvent::Failed);
    h.writer.await.expect("the writer ends");
}

#[test]
fn the_queue_writes_in_order_and_resumes_a_partial_message() {
    let mut queue = WriteQueue::default();
    queue.push_updates(vec![message(b'a', 10), message(b'b', 10)]);
    queue.push_control(control(b'k'));
    let order: Vec<u8> = queue.slices().iter().map(|s| s[0]).collect();
    assert_eq!(order, b"kab");
    // 19 octets of the KEEPALIVE and 5 of the first UPDATE.
    queue.advance(24);
    queue.push_control(control(b'x'));
    let order: Vec<(u8, usize)> = queue.slices().iter().map(|s| (s[0], s.len())).collect();
    assert_eq!(order, [(b'a', 5), (b'x', 19), (b'b', 10)]);
    assert_eq!(queue.pull_budget(), Some(PULL_BYTES - 10));
    queue.advance(34);
    assert!(queue.is_empty());
}

#[test]
fn the_queue_pulls_while_less_than_half_a_pull_waits() {
    let mut queue = WriteQueue::default();
    assert_eq!(queue.pull_budget(), Some(PULL_BYTES));
    queue.push_updates(vec![message(0, PULL_BYTES / 2)]);
    assert_eq!(queue.pull_budget(), None);
    queue.advance(1);
    assert_eq!(
        queue.pull_budget(),
        Some(PULL_BYTES),
        "the head is being written"
    );
    queue.push_control(notification());
    assert_eq!(queue.pull_budget(), None, "closing: no more UPDATEs");
    assert!(!queue.accepts_control());
}
