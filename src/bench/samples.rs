//! Statistics of timed repetitions: median and nearest-rank percentiles.

use std::time::Duration;

/// The durations of the measured repetitions, in milliseconds, sorted.
#[derive(Debug, Clone, PartialEq)]
pub struct Timings(Vec<f64>);

impl Timings {
    pub fn new(durations: &[Duration]) -> Self {
        let mut millis: Vec<f64> = durations
            .iter()
            .map(|duration| duration.as_secs_f64() * 1000.0)
            .collect();
        millis.sort_by(f64::total_cmp);
        Self(millis)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The middle value; the mean of the two middle ones for an even count.
    pub fn median(&self) -> f64 {
        let count = self.0.len();
        match count {
            0 => 0.0,
            _ if count % 2 == 1 => self.0[count / 2],
            _ => f64::midpoint(self.0[count / 2 - 1], self.0[count / 2]),
        }
    }

    /// The nearest-rank percentile: the smallest value at least `percent`% of the values
    /// are less than or equal to.
    pub fn percentile(&self, percent: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        // Counts of samples are far below 2^52; a rank between 1 and the count (`as`
        // saturates, and the clamp keeps it in range).
        #[allow(clippy::cast_precision_loss)]
        let count = self.0.len() as f64;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let rank = ((percent / 100.0 * count).ceil() as usize).clamp(1, self.0.len());
        self.0[rank - 1]
    }

    pub fn min(&self) -> f64 {
        self.0.first().copied().unwrap_or(0.0)
    }

    pub fn max(&self) -> f64 {
        self.0.last().copied().unwrap_or(0.0)
    }

    pub fn sum(&self) -> f64 {
        self.0.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timings(millis: &[u64]) -> Timings {
        Timings::new(
            &millis
                .iter()
                .map(|millis| Duration::from_millis(*millis))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert!((timings(&[5, 1, 3]).median() - 3.0).abs() < 1e-9);
        assert!((timings(&[4, 1, 3, 2]).median() - 2.5).abs() < 1e-9);
        assert!(timings(&[]).median().abs() < 1e-9);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let hundred = timings(&(1..=100).collect::<Vec<_>>());
        assert!((hundred.percentile(50.0) - 50.0).abs() < 1e-9);
        assert!((hundred.percentile(95.0) - 95.0).abs() < 1e-9);
        assert!((hundred.percentile(99.0) - 99.0).abs() < 1e-9);
        assert!((hundred.percentile(100.0) - 100.0).abs() < 1e-9);
        let three = timings(&[10, 30, 20]);
        assert!(
            (three.percentile(99.0) - 30.0).abs() < 1e-9,
            "the largest of few"
        );
        assert!((three.percentile(1.0) - 10.0).abs() < 1e-9);
        assert!((three.min() - 10.0).abs() < 1e-9 && (three.max() - 30.0).abs() < 1e-9);
    }
}
