//! Visitors the warm pool did not meet — they found no ready sandbox and waited for a start —
//! counted over a sliding [`WINDOW`], so the pool grows by as many for the next ones. A pool
//! that keeps up never grows: growing costs starts that compete for the same CPU.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// How far back misses count. Long enough to span a burst of tabs, short enough that the pool
/// shrinks back soon after it.
pub const WINDOW: Duration = Duration::from_secs(10);

/// How long a sandbox the pool holds beyond its target may wait before it is let go: a surplus
/// that would be needed again in a minute is cheaper kept than restarted.
pub const SURPLUS_TTL: Duration = Duration::from_secs(60);

/// The times of the misses within the window.
#[derive(Default)]
pub struct Arrivals {
    /// Oldest first; never longer than the misses of one window.
    times: Mutex<VecDeque<Instant>>,
}

impl Arrivals {
    fn times(&self, now: Instant) -> std::sync::MutexGuard<'_, VecDeque<Instant>> {
        // Every update leaves the list sorted and trimmed, so a poisoned one is still usable.
        let mut times = self.times.lock().unwrap_or_else(|p| p.into_inner());
        while times
            .front()
            .is_some_and(|&t| now.duration_since(t) > WINDOW)
        {
            times.pop_front();
        }
        times
    }

    /// Notes a visitor who found no ready sandbox, now.
    pub fn note(&self) {
        let now = Instant::now();
        self.times(now).push_back(now);
    }

    /// Misses within the last [`WINDOW`].
    pub fn recent(&self) -> usize {
        self.times(Instant::now()).len()
    }
}

/// How many sandboxes the pool should hold: its size, plus one for each visitor it missed in the
/// last window (the next window will likely bring as many), never more than `max`.
pub fn pool_target(size: usize, max: usize, missed: usize) -> usize {
    if size == 0 {
        // A pool turned off stays off.
        return 0;
    }
    (size + missed).min(max.max(size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn counts_only_the_last_window() {
        let arrivals = Arrivals::default();
        for _ in 0..5 {
            arrivals.note();
        }
        tokio::time::advance(WINDOW / 2).await;
        arrivals.note();
        assert_eq!(arrivals.recent(), 6);
        tokio::time::advance(WINDOW / 2 + Duration::from_millis(1)).await;
        assert_eq!(arrivals.recent(), 1, "the first five left the window");
        tokio::time::advance(WINDOW).await;
        assert_eq!(arrivals.recent(), 0);
    }

    #[test]
    fn the_target_follows_arrivals_within_its_bounds() {
        assert_eq!(
            pool_target(4, 16, 0),
            4,
            "a pool that keeps up stays at its size"
        );
        assert_eq!(pool_target(4, 16, 5), 9);
        assert_eq!(pool_target(4, 16, 50), 16, "never above the maximum");
        assert_eq!(
            pool_target(4, 4, 50),
            4,
            "a maximum at the size holds it fixed"
        );
        assert_eq!(pool_target(0, 16, 50), 0, "no pool stays no pool");
    }
}
