//! A group's log of encoded UPDATE messages, numbered from `base`, each tagged with the
//! decision epoch that produced it (a member that falls behind the log's retention is sent
//! what changed since that epoch).

use std::collections::VecDeque;

use bytes::Bytes;

/// The shared log of encoded UPDATE messages.
#[derive(Debug, Default)]
pub(crate) struct Log {
    pub base: u64,
    messages: VecDeque<(Bytes, u32)>,
    bytes: usize,
}

impl Log {
    pub fn new() -> Log {
        Log {
            base: 1,
            ..Log::default()
        }
    }

    /// The sequence number the next message will get.
    pub fn end(&self) -> u64 {
        self.base + self.messages.len() as u64
    }

    pub fn get(&self, seq: u64) -> Option<&Bytes> {
        self.entry(seq).map(|(message, _)| message)
    }

    /// The epoch of the message `seq`, if the log still has it.
    pub fn epoch_at(&self, seq: u64) -> Option<u32> {
        self.entry(seq).map(|(_, epoch)| *epoch)
    }

    fn entry(&self, seq: u64) -> Option<&(Bytes, u32)> {
        let index = usize::try_from(seq.checked_sub(self.base)?).ok()?;
        self.messages.get(index)
    }

    /// The messages from `seq` on.
    pub fn from(&self, seq: u64) -> impl Iterator<Item = &Bytes> {
        let skip = usize::try_from(seq.saturating_sub(self.base)).unwrap_or(usize::MAX);
        self.messages.iter().skip(skip).map(|(message, _)| message)
    }

    pub fn append(&mut self, messages: Vec<Bytes>, epoch: u32) {
        for message in messages {
            self.bytes += message.len();
            self.messages.push_back((message, epoch));
        }
    }

    /// Drops the oldest message.
    pub fn pop_front(&mut self) {
        if let Some((message, _)) = self.messages.pop_front() {
            self.bytes -= message.len();
            self.base += 1;
        }
        if self.messages.is_empty() {
            // A burst (a full table sent) would leave a large buffer behind.
            self.messages.shrink_to(64);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    pub fn len(&self) -> usize {
        self.messages.len()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// Whether epoch `a` comes before `b`. Epochs wrap; two epochs compared are never 2³¹ apart
/// (a member that far behind has long been resynchronized), and a wrong answer for older
/// ones only resends a route.
pub(crate) fn before(a: u32, b: u32) -> bool {
    (b.wrapping_sub(a) as i32) > 0
}

/// The earlier of two epochs.
pub(crate) fn earlier(a: u32, b: u32) -> u32 {
    if before(b, a) {
        b
    } else {
        a
    }
}
