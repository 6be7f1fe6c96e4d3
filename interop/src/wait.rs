//! Bounded polling: every wait in the lab has a deadline and reports what it last saw.

use std::thread;
use std::time::{Duration, Instant};

use crate::error::{LabError, Result};

/// Default limit for waits on a session or a route; far above what a healthy lab needs.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Default pause between two probes.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(100);

/// One look at the thing being waited for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed<T> {
    /// The condition holds; the wait returns this value.
    Ready(T),
    /// Not yet; the text describes what was seen, for the timeout message.
    Pending(String),
}

/// What a probe may return: an [`Observed`], or an `Option` (`None` = not yet).
pub trait Observation {
    type Value;
    fn into_observed(self) -> Observed<Self::Value>;
}

impl<T> Observation for Observed<T> {
    type Value = T;
    fn into_observed(self) -> Observed<T> {
        self
    }
}

impl<T> Observation for Option<T> {
    type Value = T;
    fn into_observed(self) -> Observed<T> {
        match self {
            Some(value) => Observed::Ready(value),
            None => Observed::Pending("condition not met".to_owned()),
        }
    }
}

/// Calls `probe` every `interval` until it is ready or `timeout` has passed.
///
/// A probe error counts as "not yet" (a daemon's control socket may not exist yet) and is kept
/// as the last observation, so a timeout says why it never became ready. The probe always
/// runs at least once.
pub fn wait_until<O, F>(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut probe: F,
) -> Result<O::Value>
where
    O: Observation,
    F: FnMut() -> Result<O>,
{
    let start = Instant::now();
    let mut attempts: u32 = 0;
    loop {
        attempts += 1;
        let last = match probe() {
            Ok(observation) => match observation.into_observed() {
                Observed::Ready(value) => return Ok(value),
                Observed::Pending(text) => text,
            },
            Err(error) => format!("error: {error}"),
        };
        let waited = start.elapsed();
        if waited >= timeout {
            return Err(LabError::Timeout {
                what: what.to_owned(),
                waited,
                last: format!("{last} (after {attempts} attempts)"),
            });
        }
        thread::sleep(interval.min(timeout - waited));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_after_some_attempts() {
        let mut calls = 0;
        let value = wait_until(
            "three calls",
            Duration::from_secs(5),
            Duration::from_millis(1),
            || {
                calls += 1;
                Ok((calls == 3).then_some(calls))
            },
        );
        assert_eq!(value.ok(), Some(3));
    }

    #[test]
    fn timeout_reports_last_observation() {
        let mut calls = 0;
        let result: Result<()> = wait_until(
            "never",
            Duration::from_millis(30),
            Duration::from_millis(5),
            || {
                calls += 1;
                if calls % 2 == 0 {
                    Err(LabError::Invalid(format!("odd failure {calls}")))
                } else {
                    Ok(Observed::Pending(format!("state Active at call {calls}")))
                }
            },
        );
        let message = result.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("waiting for never"), "{message}");
        assert!(
            message.contains("state Active") || message.contains("odd failure"),
            "{message}"
        );
    }
}
