//! The pool's refill waits for the visitor being served.
//!
//! A sandbox handed out from the pool used to be replaced at once: a container start, which on a
//! small server takes its CPU for a good part of a second, at the very moment the visitor who
//! took the sandbox has their page to load and their shell to attach. While the pool still has a
//! ready sandbox for the next visitor, the refill now waits until that visitor's tab has
//! attached, or at most [`HOLD`]. A hold is not extended by the handouts made during it, so
//! visitors arriving one after another cannot put the refill off for longer than that.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The longest a refill waits for the tab it follows to attach.
pub const HOLD: Duration = Duration::from_millis(500);

/// Until when the pool's refill waits, if it does.
#[derive(Debug, Default)]
pub struct RefillHold {
    /// The end of the current hold; `None` when there is none.
    until: Mutex<Option<Instant>>,
}

impl RefillHold {
    fn until(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        // Every update is one assignment, so a poisoned lock still holds a consistent value.
        self.until.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a hold of [`HOLD`] from `now`, unless one is on; returns the hold started, which
    /// only its own [`RefillHold::release`] ends early.
    pub fn start(&self, now: Instant) -> Option<Instant> {
        let mut until = self.until();
        if until.is_some_and(|at| at > now) {
            return None;
        }
        let at = now + HOLD;
        *until = Some(at);
        Some(at)
    }

    /// Ends the hold that [`RefillHold::start`] returned as `at`, if it is still the current one.
    pub fn release(&self, at: Instant) {
        let mut until = self.until();
        if *until == Some(at) {
            *until = None;
        }
    }

    /// Whether the refill waits at `now`.
    pub fn is_on(&self, now: Instant) -> bool {
        self.until().is_some_and(|at| at > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_hold_lasts_at_most_its_length_and_is_not_extended() {
        let hold = RefillHold::default();
        let start = Instant::now();
        assert!(!hold.is_on(start));
        let first = hold.start(start).expect("a hold starts");
        assert!(hold.is_on(start));
        // A handout during the hold does not move its end.
        assert_eq!(hold.start(start + HOLD / 2), None);
        assert!(hold.is_on(start + HOLD / 2));
        assert!(!hold.is_on(start + HOLD));
        // Over: the next handout starts a new one.
        let second = hold.start(start + HOLD).expect("a new hold");
        // The first's release does not end the second.
        hold.release(first);
        assert!(hold.is_on(start + HOLD));
        hold.release(second);
        assert!(!hold.is_on(start + HOLD));
    }
}
