//! Percentiles of latency samples.

use std::time::Duration;

/// Latency percentiles over a set of samples, in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    /// How many samples.
    pub n: usize,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
}

impl Summary {
    /// Summarises `samples` (nearest-rank percentiles); all zero when there are none.
    pub fn of(samples: &[Duration]) -> Self {
        Self {
            n: samples.len(),
            p50: percentile(samples, 50.0),
            p95: percentile(samples, 95.0),
            p99: percentile(samples, 99.0),
        }
    }
}

/// The nearest-rank `p`th percentile of `samples`, in milliseconds (0 when there are none);
/// `p` = 100 is the largest sample.
pub fn percentile(samples: &[Duration], p: f64) -> f64 {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    if ms.is_empty() {
        return 0.0;
    }
    ms.sort_by(f64::total_cmp);
    let index = (p * ms.len() as f64 / 100.0).ceil() as usize;
    ms[index.clamp(1, ms.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let s = Summary::of(&samples);
        assert_eq!((s.n, s.p50, s.p95, s.p99), (100, 50.0, 95.0, 99.0));
        assert_eq!(Summary::of(&[]).n, 0);
        assert_eq!(percentile(&samples, 90.0), 90.0);
        assert_eq!(percentile(&samples, 100.0), 100.0);
    }
}
