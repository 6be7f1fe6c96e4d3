//! A bounded outbox in front of another task's queue, so that the daemon's loop never waits on
//! that task and never loses or reorders what it sends there (design invariant 4: bounded
//! channels, order kept).
//!
//! What the loop sends goes straight into the task's queue while the outbox is empty and the
//! queue has room; otherwise it waits here, behind what came before, and the loop moves it on
//! as room appears ([`Outbox::ready`], [`Outbox::deliver`]). The bound is [`OUTBOX_HIGH`]: the
//! loop takes no new input that could add to an outbox (a reload, a datastore snapshot, a
//! control request) while one holds that many, so an outbox holds at most `OUTBOX_HIGH` plus
//! what one input produces (a reload: a few events per changed neighbor and one per changed
//! `[[route]]`). Nothing is dropped unless the task is gone.

use std::collections::VecDeque;

use tokio::sync::mpsc;
use tracing::warn;

/// Events waiting in one outbox beyond which the loop stops taking inputs.
pub const OUTBOX_HIGH: usize = 64;

/// The daemon's side of one task's queue.
#[derive(Debug)]
pub struct Outbox<T> {
    /// Whose queue (for the log).
    name: &'static str,
    sender: mpsc::Sender<T>,
    waiting: VecDeque<T>,
}

impl<T> Outbox<T> {
    pub fn new(name: &'static str, sender: mpsc::Sender<T>) -> Outbox<T> {
        Outbox {
            name,
            sender,
            waiting: VecDeque::new(),
        }
    }

    /// Sends `item` after everything sent before it.
    pub fn push(&mut self, item: T) {
        if !self.waiting.is_empty() {
            self.waiting.push_back(item);
            return;
        }
        match self.sender.try_send(item) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(item)) => self.waiting.push_back(item),
            Err(mpsc::error::TrySendError::Closed(_)) => self.gone(),
        }
    }

    /// Whether the loop may take another input.
    pub fn has_room(&self) -> bool {
        self.waiting.len() < OUTBOX_HIGH
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// A slot in the task's queue for the first waiting item; never ready while nothing waits.
    /// `None`: the task is gone. Owned, so that the loop may use `self` when it has one.
    pub async fn ready(&self) -> Option<mpsc::OwnedPermit<T>> {
        if self.waiting.is_empty() {
            return std::future::pending().await;
        }
        self.sender.clone().reserve_owned().await.ok()
    }

    /// Moves the first waiting item into `permit`'s slot, and as many more as the queue has
    /// room for; `None` (the task is gone) drops what waits.
    pub fn deliver(&mut self, permit: Option<mpsc::OwnedPermit<T>>) {
        let Some(permit) = permit else {
            self.gone();
            return;
        };
        let Some(first) = self.waiting.pop_front() else {
            return;
        };
        permit.send(first);
        while let Some(item) = self.waiting.pop_front() {
            match self.sender.try_send(item) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(item)) => {
                    self.waiting.push_front(item);
                    return;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    self.gone();
                    return;
                }
            }
        }
    }

    /// Waits until everything waiting is in the task's queue (or the task is gone).
    pub async fn flush(&mut self) {
        while !self.waiting.is_empty() {
            let permit = self.ready().await;
            self.deliver(permit);
        }
    }

    /// The receiving task has ended (it only does so at shutdown or after a fatal error, which
    /// it logs): what waits for it has no one to act on it.
    fn gone(&mut self) {
        if !self.waiting.is_empty() {
            warn!(
                task = self.name,
                dropped = self.waiting.len(),
                "task gone: its queued events are dropped"
            );
        }
        self.waiting.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Items pushed while the queue is full wait in order behind each other and behind what
    /// the queue holds, and are delivered in that order as room appears.
    #[tokio::test]
    async fn order_is_kept_through_a_full_queue() {
        let (sender, mut receiver) = mpsc::channel(2);
        let mut outbox = Outbox::new("test", sender);
        for item in 0..10 {
            outbox.push(item);
        }
        assert_eq!(outbox.len(), 8);
        assert!(outbox.has_room());
        let mut received = Vec::new();
        while received.len() < 10 {
            received.push(receiver.recv().await.expect("an item"));
            if !outbox.is_empty() {
                let permit = outbox.ready().await;
                outbox.deliver(permit);
            }
        }
        assert_eq!(received, (0..10).collect::<Vec<_>>());
        assert!(outbox.is_empty());
    }

    #[tokio::test]
    async fn a_gone_task_drops_what_waits() {
        let (sender, receiver) = mpsc::channel(1);
        let mut outbox = Outbox::new("test", sender);
        outbox.push(1);
        outbox.push(2);
        drop(receiver);
        let permit = outbox.ready().await;
        outbox.deliver(permit);
        assert!(outbox.is_empty());
        outbox.push(3);
        assert!(outbox.is_empty());
    }
}
