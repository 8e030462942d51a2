//! The few statistics the report needs: median over runs, latency percentiles, rates.
//!
//! Percentiles use the nearest-rank method (the smallest sample with at least p% of the samples
//! at or below it), so p99 is always a latency that really happened. The median of runs
//! averages the two middle runs when their number is even.

use std::time::Duration;

/// Median of `values`; `None` when empty. NaNs sort last rather than poisoning the result.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// Latencies recorded by the workers of one run.
#[derive(Debug, Default)]
pub struct Latencies {
    samples: Vec<Duration>,
}

impl Latencies {
    pub fn with_capacity(capacity: usize) -> Self {
        Latencies {
            samples: Vec::with_capacity(capacity),
        }
    }

    pub fn record(&mut self, latency: Duration) {
        self.samples.push(latency);
    }

    /// Adds another worker's samples.
    pub fn merge(&mut self, other: Latencies) {
        self.samples.extend(other.samples);
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// The `p`th percentile (0 < p ≤ 100) in milliseconds, by nearest rank; `None` when empty.
    pub fn percentile_ms(&mut self, p: f64) -> Option<f64> {
        self.samples.sort_unstable();
        nearest_rank(&self.samples, p).map(|d| d.as_secs_f64() * 1000.0)
    }
}

/// The nearest-rank `p`th percentile of sorted `samples`.
fn nearest_rank<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p.clamp(0.0, 100.0) / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Decimal megabytes per second.
pub fn megabytes_per_second(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / 1e6 / elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
}

/// Events per second.
pub fn per_second(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[7.0]), Some(7.0));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn median_ignores_input_order() {
        assert_eq!(median(&[10.0, 30.0, 20.0, 50.0, 40.0]), Some(30.0));
    }

    #[test]
    fn nearest_rank_percentiles() {
        let hundred: Vec<u32> = (1..=100).collect();
        assert_eq!(nearest_rank(&hundred, 50.0), Some(50));
        assert_eq!(nearest_rank(&hundred, 99.0), Some(99));
        assert_eq!(nearest_rank(&hundred, 100.0), Some(100));
        assert_eq!(nearest_rank(&hundred, 0.0), Some(1));
        let ten: Vec<u32> = (1..=10).collect();
        // 99% of 10 samples is rank 9.9 → 10: the worst one.
        assert_eq!(nearest_rank(&ten, 99.0), Some(10));
        assert_eq!(nearest_rank(&ten, 50.0), Some(5));
        assert_eq!(nearest_rank::<u32>(&[], 50.0), None);
    }

    #[test]
    fn latency_percentiles_in_milliseconds() {
        let mut latencies = Latencies::default();
        for ms in (1..=200).rev() {
            latencies.record(Duration::from_millis(ms));
        }
        let mut other = Latencies::default();
        other.record(Duration::from_secs(1));
        latencies.merge(other);
        assert_eq!(latencies.len(), 201);
        assert_eq!(latencies.percentile_ms(50.0), Some(101.0));
        assert_eq!(latencies.percentile_ms(99.0), Some(199.0));
        assert_eq!(latencies.percentile_ms(100.0), Some(1000.0));
    }

    #[test]
    fn rates() {
        assert_eq!(megabytes_per_second(2_000_000, Duration::from_secs(2)), 1.0);
        assert_eq!(per_second(500, Duration::from_millis(250)), 2000.0);
    }
}
