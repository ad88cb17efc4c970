//! How often a failed step is tried again, and how long to wait in between.

use std::time::Duration;

use serde::Serialize;

/// Retries with exponential backoff and jitter: the wait before retry `n` (1-based) is drawn
/// uniformly from `[d/2, d]` where `d = backoff * 2^(n-1)`, capped at [`RetryPolicy::MAX_DELAY`].
/// Jitter keeps several failing steps from retrying against a database in lockstep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RetryPolicy {
    /// Extra attempts after the first one.
    pub retries: u32,
    /// The base delay before the first retry.
    #[serde(serialize_with = "serialize_duration")]
    pub backoff: Duration,
}

impl RetryPolicy {
    pub const DEFAULT_BACKOFF: Duration = Duration::from_secs(1);
    pub const MAX_DELAY: Duration = Duration::from_mins(5);

    pub const NONE: Self = Self {
        retries: 0,
        backoff: Self::DEFAULT_BACKOFF,
    };

    /// Total number of attempts, the first one included.
    pub fn max_attempts(&self) -> u32 {
        self.retries.saturating_add(1)
    }

    /// The longest wait before retry `retry` (1-based), before jitter.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let exponent = retry.saturating_sub(1).min(31);
        self.backoff
            .checked_mul(1 << exponent)
            .unwrap_or(Self::MAX_DELAY)
            .min(Self::MAX_DELAY)
    }

    /// The wait before retry `retry` (1-based), jitter included. `unit` is a random number in
    /// `[0, 1)`, passed in so that the policy itself stays deterministic and testable.
    pub fn delay(&self, retry: u32, unit: f64) -> Duration {
        let ceiling = self.ceiling(retry);
        ceiling.div_f64(2.0) + ceiling.div_f64(2.0).mul_f64(unit.clamp(0.0, 1.0))
    }
}

fn serialize_duration<S: serde::Serializer>(
    duration: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&crate::values::HumanDuration::new(*duration))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_and_stay_within_jitter_bounds() {
        let policy = RetryPolicy {
            retries: 5,
            backoff: Duration::from_secs(2),
        };
        assert_eq!(policy.max_attempts(), 6);
        for (retry, ceiling) in [(1, 2), (2, 4), (3, 8), (4, 16)] {
            let ceiling = Duration::from_secs(ceiling);
            assert_eq!(policy.ceiling(retry), ceiling);
            assert_eq!(policy.delay(retry, 0.0), ceiling / 2);
            assert_eq!(policy.delay(retry, 1.0), ceiling);
            let middle = policy.delay(retry, 0.5);
            assert!(middle > ceiling / 2 && middle < ceiling);
        }
    }

    #[test]
    fn delays_are_capped() {
        let policy = RetryPolicy {
            retries: 100,
            backoff: Duration::from_secs(10),
        };
        assert_eq!(policy.ceiling(40), RetryPolicy::MAX_DELAY);
        assert_eq!(policy.delay(99, 1.0), RetryPolicy::MAX_DELAY);
    }
}
