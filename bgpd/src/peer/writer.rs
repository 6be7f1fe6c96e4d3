//! A connection's writer: the one owner of the socket's write half. It sends the session's own
//! messages (OPEN, KEEPALIVE, NOTIFICATION, ROUTE-REFRESH, from the peer task) before anything
//! else, and UPDATEs only by pulling them from the RIB task when it has room
//! ([`crate::transmit`]): at most one pull outstanding, about [`PULL_BYTES`] at a time, written
//! with vectored writes (many messages per system call).
//!
//! Once a NOTIFICATION is queued nothing else is: it is written (after the rest of a message
//! partly written, so the stream stays framed, RFC 4271 §4.1), and the connection is shut down.
//! A write that has not completed after [`WRITE_BLOCKED_AFTER`] is reported (the RFC 9687
//! send hold timer starts), and so is the progress that ends it.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::time::Duration;

use bytes::{Buf, Bytes};
use proto::session::ConnectionId;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::task::LinkEvent;
use crate::transmit::Pulls;

/// A write that has not completed after this long reports the connection as blocked (starts
/// the RFC 9687 send hold timer).
pub const WRITE_BLOCKED_AFTER: Duration = Duration::from_secs(1);
/// UPDATE octets a writer asks for at a time; it asks again once less than half is left, so
/// that the next answer arrives while the socket still has data to take.
pub const PULL_BYTES: usize = 256 * 1024;
/// The session's messages a writer holds beside its channel's; when both are full the peer
/// task's send fails and the session counts the connection as blocked.
const CONTROL_HELD: usize = 16;
/// Buffers per vectored write (well under the kernel's `IOV_MAX`).
const MAX_SLICES: usize = 64;

/// A message of the session (not an UPDATE), encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlMessage {
    pub bytes: Bytes,
    /// A NOTIFICATION: the last message of the connection.
    pub last: bool,
}

/// What a writer tells its peer task (tagged with the connection by [`LinkEvent::Writer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriterEvent {
    /// A write has not completed for [`WRITE_BLOCKED_AFTER`].
    Blocked,
    /// Written again after [`WriterEvent::Blocked`].
    Progress,
    /// The socket failed.
    Failed,
}

/// What a writer has to send, in the order it goes out: the rest of a message partly
/// written, the session's messages, then UPDATEs; nothing after a NOTIFICATION.
#[derive(Debug, Default)]
pub struct WriteQueue {
    head: Option<Bytes>,
    control: VecDeque<Bytes>,
    updates: VecDeque<Bytes>,
    update_bytes: usize,
    /// A NOTIFICATION is queued.
    closing: bool,
}

impl WriteQueue {
    /// Queues a session message; after a NOTIFICATION nothing is, and UPDATEs not yet begun
    /// are dropped so that the NOTIFICATION goes out next.
    pub fn push_control(&mut self, message: ControlMessage) {
        if self.closing {
            return;
        }
        if message.last {
            self.closing = true;
            self.drop_updates();
        }
        self.control.push_back(message.bytes);
    }

    /// Queues pulled UPDATEs (none once closing).
    pub fn push_updates(&mut self, messages: Vec<Bytes>) {
        if self.closing {
            return;
        }
        self.update_bytes += messages.iter().map(Bytes::len).sum::<usize>();
        self.updates.extend(messages);
    }

    /// Drops the UPDATEs not yet begun.
    pub fn drop_updates(&mut self) {
        self.updates.clear();
        self.update_bytes = 0;
    }

    /// Whether another session message may be taken from the channel.
    pub fn accepts_control(&self) -> bool {
        !self.closing && self.control.len() < CONTROL_HELD
    }

    /// The budget of the next pull, when one is due.
    pub fn pull_budget(&self) -> Option<usize> {
        (!self.closing && self.update_bytes < PULL_BYTES / 2)
            .then(|| PULL_BYTES - self.update_bytes)
    }

    pub fn is_empty(&self) -> bool {
        self.head.is_none() && self.control.is_empty() && self.updates.is_empty()
    }

    /// A NOTIFICATION was queued and everything is written.
    pub fn is_done(&self) -> bool {
        self.closing && self.is_empty()
    }

    /// The next buffers to write, in order.
    pub fn slices(&self) -> Vec<IoSlice<'_>> {
        self.head
            .iter()
            .chain(&self.control)
            .chain(&self.updates)
            .take(MAX_SLICES)
            .map(|b| IoSlice::new(b))
            .collect()
    }

    /// `written` octets of [`WriteQueue::slices`] went out.
    pub fn advance(&mut self, mut written: usize) {
        while written > 0 {
            let Some(mut message) = self.pop_front() else {
                return;
            };
            if written < message.len() {
                message.advance(written);
                self.head = Some(message);
                return;
            }
            written -= message.len();
        }
    }

    fn pop_front(&mut self) -> Option<Bytes> {
        if let Some(message) = self.head.take().or_else(|| self.control.pop_front()) {
            return Some(message);
        }
        let message = self.updates.pop_front()?;
        self.update_bytes -= message.len();
        Some(message)
    }
}

/// Where a writer pulls UPDATEs from once its session is Established.
#[derive(Debug, Clone)]
pub struct Source {
    pub pulls: Pulls,
    pub peer: rr::PeerId,
}

/// One connection's writer task.
pub struct Writer<W> {
    pub half: W,
    /// The session's messages; closed when the session closes the connection.
    pub control: mpsc::Receiver<ControlMessage>,
    /// Fires when the session is Established on this connection (its PeerUp is queued).
    pub start: Option<oneshot::Receiver<()>>,
    pub source: Source,
    pub events: mpsc::Sender<LinkEvent>,
    pub id: ConnectionId,
    pub generation: u64,
}

impl<W: AsyncWrite + Unpin> Writer<W> {
    pub async fn run(mut self) {
        let mut queue = WriteQueue::default();
        let mut pulling = false;
        let mut answer: Option<oneshot::Receiver<Vec<Bytes>>> = None;
        let mut control_open = true;
        // Since when data has waited without a write completing.
        let mut waiting_since: Option<Instant> = None;
        let mut blocked = false;
        loop {
            if queue.is_done() || (!control_open && queue.is_empty()) {
                // What the session queued is written: end the stream.
                let _ = self.half.shutdown().await;
                return;
            }
            if pulling && answer.is_none() {
                if let Some(budget) = queue.pull_budget() {
                    answer = self
                        .source
                        .pulls
                        .pull(self.source.peer, self.generation, budget);
                    pulling = answer.is_some();
                }
            }
            let has_data = !queue.is_empty();
            if has_data {
                waiting_since.get_or_insert_with(Instant::now);
            } else {
                waiting_since = None;
            }
            let stall_at = waiting_since.map(|since| since + WRITE_BLOCKED_AFTER);
            tokio::select! {
                biased;
                message = self.control.recv(), if control_open && queue.accepts_control() => {
                    match message {
                        Some(message) => queue.push_control(message),
                        None => {
                            // The session closed the connection: its messages go out, no
                            // more UPDATEs.
                            control_open = false;
                            pulling = false;
                            answer = None;
                            queue.drop_updates();
                        }
                    }
                }
                started = answer_of(&mut self.start), if self.start.is_some() => {
                    self.start = None;
                    pulling = started.is_ok();
                }
                messages = answer_of(&mut answer), if answer.is_some() => {
                    answer = None;
                    match messages {
                        Ok(messages) => queue.push_updates(messages),
                        // The RIB dropped the pull: the session is over for it.
                        Err(_) => pulling = false,
                    }
                }
                written = write(&mut self.half, &queue), if has_data => match written {
                    Ok(written) if written > 0 => {
                        queue.advance(written);
                        waiting_since = None;
                        if blocked {
                            blocked = false;
                            self.report(WriterEvent::Progress).await;
                        }
                    }
                    _ => {
                        self.report(WriterEvent::Failed).await;
                        return;
                    }
                },
                () = sleep_until(stall_at), if has_data && !blocked => {
                    blocked = true;
                    self.report(WriterEvent::Blocked).await;
                }
            }
        }
    }

    async fn report(&self, event: WriterEvent) {
        let _ = self
            .events
            .send(LinkEvent::Writer {
                id: self.id,
                generation: self.generation,
                event,
            })
            .await;
    }
}

async fn write<W: AsyncWrite + Unpin>(half: &mut W, queue: &WriteQueue) -> io::Result<usize> {
    half.write_vectored(&queue.slices()).await
}

/// The answer of a one-shot, or never when there is none (the caller guards the branch).
async fn answer_of<T>(
    receiver: &mut Option<oneshot::Receiver<T>>,
) -> Result<T, oneshot::error::RecvError> {
    match receiver {
        Some(receiver) => receiver.await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
