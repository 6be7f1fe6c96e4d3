//! Exponential back-off between reconnection attempts, with jitter so that thousands of
//! nodes that lost the datastore together do not come back in the same instant.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

/// The delay before each retry: `initial`, doubling up to `max`, each drawn uniformly from
/// its upper half ("equal jitter").
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
    /// Seeds the jitter; a fresh random state per source.
    random: RandomState,
    attempts: u64,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max: max.max(initial),
            next: initial,
            random: RandomState::new(),
            attempts: 0,
        }
    }

    /// After a connection that worked: start again from `initial`.
    pub fn reset(&mut self) {
        self.next = self.initial;
    }

    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        self.attempts = self.attempts.wrapping_add(1);
        // A u64 hash scaled into [0, 1).
        let fraction = self.random.hash_one(self.attempts) as f64 / (u64::MAX as f64 + 1.0);
        self.step(fraction)
    }

    /// `next_delay` with the jitter `fraction` (in [0, 1)) given.
    fn step(&mut self, fraction: f64) -> Duration {
        let ceiling = self.next;
        self.next = (self.next * 2).min(self.max);
        ceiling / 2 + ceiling.mul_f64(fraction.clamp(0.0, 1.0) / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Delays in milliseconds for jitter fractions, from 100 ms up to 1 s.
    fn check(fractions: &[f64], want: &[u64]) {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let got: Vec<u64> = fractions
            .iter()
            .map(|f| backoff.step(*f).as_millis() as u64)
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn doubles_up_to_the_maximum() {
        check(&[0.0; 6], &[50, 100, 200, 400, 500, 500]);
        check(&[0.999_999; 6], &[99, 199, 399, 799, 999, 999]);
    }

    /// The production settings (`Timing::default`): 500 ms doubling to at most 30 s between
    /// attempts however long etcd stays away, and the cap is reached, not stuck below.
    #[test]
    fn default_timing_caps_at_thirty_seconds() {
        const CAP: Duration = Duration::from_secs(30);
        let timing = super::super::Timing::default();
        assert_eq!(timing.backoff_max, CAP);
        let mut backoff = Backoff::new(timing.backoff_initial, timing.backoff_max);
        let highest: Vec<u128> = (0..9)
            .map(|_| backoff.step(0.999_999).as_millis())
            .collect();
        assert_eq!(
            highest,
            [499, 999, 1999, 3999, 7999, 15999, 29999, 29999, 29999]
        );
        let drawn: Vec<Duration> = (0..1000).map(|_| backoff.next_delay()).collect();
        assert!(
            drawn.iter().all(|d| *d >= CAP / 2 && *d <= CAP),
            "{drawn:?}"
        );
    }

    #[test]
    fn reset_starts_again() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        for _ in 0..5 {
            backoff.next_delay();
        }
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(100));
    }
}
