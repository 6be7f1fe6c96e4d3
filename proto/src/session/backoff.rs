//! Exponential back-off with jitter for the ConnectRetry and IdleHold timers (RFC 4271 §10:
//! jitter spreads retries so that peers do not synchronise; we draw from 75 %–100 % of the
//! interval, as the RFC suggests). The IdleHold timer is the operator's `error_wait_time`
//! (BIRD's `error wait time`): its first wait is exactly its minimum and no wait falls below
//! it ([`ConnectRetryBackoff::next_interval_at_least_initial`]). The random source is a seeded
//! SplitMix64 so that the state machine stays deterministic under test.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRetryBackoff {
    initial: Duration,
    max: Duration,
    current: Duration,
    rng: u64,
}

impl ConnectRetryBackoff {
    pub fn new(initial: Duration, max: Duration, seed: u64) -> Self {
        ConnectRetryBackoff {
            initial,
            max: max.max(initial),
            current: initial,
            rng: seed,
        }
    }

    /// The next interval (jittered), doubling the base for the attempt after it.
    pub fn next_interval(&mut self) -> Duration {
        let base = self.current;
        self.current = (self.current * 2).min(self.max);
        // 75 % plus up to 25 % of the base, in 1/1024 steps.
        let fraction = self.next_random() % 257;
        base * 3 / 4 + base * u32::try_from(fraction).unwrap_or(256) / 1024
    }

    /// Like [`Self::next_interval`], never below the initial interval: the first draw is the
    /// initial interval itself, later ones are jittered within [initial, base].
    pub fn next_interval_at_least_initial(&mut self) -> Duration {
        self.next_interval().max(self.initial)
    }

    /// New bounds, keeping the random source; the next interval starts again from `initial`.
    pub fn set_bounds(&mut self, initial: Duration, max: Duration) {
        self.initial = initial;
        self.max = max.max(initial);
        self.current = initial;
    }

    /// Back to the initial interval (after a session was established).
    pub fn reset(&mut self) {
        self.current = self.initial;
    }

    fn next_random(&mut self) -> u64 {
        // SplitMix64 (Steele, Lea, Flood 2014).
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_with_jitter_up_to_the_cap() {
        let mut backoff =
            ConnectRetryBackoff::new(Duration::from_secs(4), Duration::from_secs(20), 7);
        let bases = [4, 8, 16, 20, 20];
        for base in bases {
            let interval = backoff.next_interval();
            let base = Duration::from_secs(base);
            assert!(
                interval >= base * 3 / 4 && interval <= base,
                "{interval:?} outside jitter of {base:?}"
            );
        }
        backoff.reset();
        assert!(backoff.next_interval() <= Duration::from_secs(4));
    }

    #[test]
    fn a_floor_at_the_initial_interval_starts_exactly_there() {
        let mut backoff =
            ConnectRetryBackoff::new(Duration::from_secs(3), Duration::from_secs(12), 7);
        assert_eq!(
            backoff.next_interval_at_least_initial(),
            Duration::from_secs(3)
        );
        for base in [6, 12, 12] {
            let interval = backoff.next_interval_at_least_initial();
            let base = Duration::from_secs(base);
            assert!(
                interval >= base * 3 / 4 && interval <= base,
                "{interval:?} outside jitter of {base:?}"
            );
        }
        backoff.set_bounds(Duration::from_secs(5), Duration::from_secs(2));
        assert_eq!(
            backoff.next_interval_at_least_initial(),
            Duration::from_secs(5)
        );
        assert_eq!(
            backoff.next_interval_at_least_initial(),
            Duration::from_secs(5),
            "the maximum is at least the initial interval"
        );
    }

    #[test]
    fn jitter_differs_between_seeds() {
        let draws = |seed| {
            let mut b =
                ConnectRetryBackoff::new(Duration::from_secs(100), Duration::from_secs(100), seed);
            (0..4).map(|_| b.next_interval()).collect::<Vec<_>>()
        };
        assert_ne!(draws(1), draws(2));
    }
}
