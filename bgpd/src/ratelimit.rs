//! Rate limiting of repeated log events: a neighbor that sends thousands of malformed UPDATEs
//! (each handled per RFC 7606 without a session reset) must not turn into thousands of log
//! lines. A [`LogLimiter`] lets a burst of events through per window and counts the rest;
//! the count is reported once, with the first event let through after the window, or when
//! the caller asks for it (the session going down).
//!
//! Pure: time is an argument, so the limiter is tested without a clock.

use std::time::{Duration, Instant};

/// Events let through per window by [`LogLimiter::default`].
pub const DEFAULT_BURST: u32 = 10;
/// The window of [`LogLimiter::default`].
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(60);

/// What to do with one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Log it.
    Log,
    /// Log it, after a summary line: this many events were suppressed before it.
    LogAfterSuppressed(u64),
    /// Count it only.
    Suppress,
}

/// At most `burst` events per `window`; the others counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLimiter {
    burst: u32,
    window: Duration,
    /// Start of the current window; `None` before the first event.
    window_start: Option<Instant>,
    logged: u32,
    suppressed: u64,
}

impl Default for LogLimiter {
    fn default() -> Self {
        LogLimiter::new(DEFAULT_BURST, DEFAULT_WINDOW)
    }
}

impl LogLimiter {
    pub const fn new(burst: u32, window: Duration) -> LogLimiter {
        LogLimiter {
            burst,
            window,
            window_start: None,
            logged: 0,
            suppressed: 0,
        }
    }

    /// Decides about one event happening at `now`.
    pub fn check(&mut self, now: Instant) -> Verdict {
        let expired = self
            .window_start
            .is_none_or(|start| now.saturating_duration_since(start) >= self.window);
        if expired {
            self.window_start = Some(now);
            self.logged = 0;
        }
        if self.logged >= self.burst {
            self.suppressed += 1;
            return Verdict::Suppress;
        }
        self.logged += 1;
        match self.take_suppressed() {
            Some(count) => Verdict::LogAfterSuppressed(count),
            None => Verdict::Log,
        }
    }

    /// Events suppressed and not yet reported, if any; reports them (the count restarts).
    pub fn take_suppressed(&mut self) -> Option<u64> {
        (self.suppressed > 0).then(|| std::mem::take(&mut self.suppressed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Events at these offsets (milliseconds from the start) against a limiter of 2 per
    /// second give these verdicts.
    fn check(offsets_ms: &[u64], expected: &[Verdict]) {
        let start = Instant::now();
        let mut limiter = LogLimiter::new(2, Duration::from_secs(1));
        let verdicts: Vec<Verdict> = offsets_ms
            .iter()
            .map(|ms| limiter.check(start + Duration::from_millis(*ms)))
            .collect();
        assert_eq!(verdicts, expected, "offsets {offsets_ms:?}");
    }

    #[test]
    fn a_burst_per_window_then_a_summary() {
        use Verdict::*;
        check(&[0, 1, 2], &[Log, Log, Suppress]);
        check(
            &[0, 1, 2, 3, 1000],
            &[Log, Log, Suppress, Suppress, LogAfterSuppressed(2)],
        );
        // The window starts at the first event of a burst, not on a fixed grid.
        check(&[0, 999, 1500, 1999, 2000], &[Log, Log, Log, Log, Suppress]);
        // Nothing suppressed: no summary.
        check(&[0, 1, 1000, 1001], &[Log, Log, Log, Log]);
    }

    #[test]
    fn ten_thousand_events_give_a_bounded_count_of_lines() {
        let start = Instant::now();
        let mut limiter = LogLimiter::default();
        let mut logged = 0u64;
        let mut counted = 0u64;
        for i in 0..10_000u64 {
            match limiter.check(start + Duration::from_micros(i * 10)) {
                Verdict::Log => logged += 1,
                Verdict::LogAfterSuppressed(n) => {
                    logged += 1;
                    counted += n;
                }
                Verdict::Suppress => {}
            }
        }
        counted += limiter.take_suppressed().unwrap_or(0);
        assert_eq!(logged, u64::from(DEFAULT_BURST));
        assert_eq!(logged + counted, 10_000);
        assert_eq!(limiter.take_suppressed(), None, "reported once");
    }
}
