//! Cooperative cancellation of long computations.
//!
//! Every fundalloc computation whose cost a caller or a network peer controls checks a
//! [`CancelToken`] in its inner loops and stops with [`Cancelled`](crate::Cancelled): the
//! owner cancels it (a shutdown, a disconnected client) or its deadline passes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::Cancelled;

/// A shareable stop flag with an optional deadline. Cloning shares the flag.
///
/// Checking costs one relaxed atomic load, plus a clock read when a deadline is set; loops
/// check every few thousand operations (see [`CancelToken::check_every`]).
///
/// ```
/// use std::time::Duration;
/// use fundalloc_core_types::CancelToken;
///
/// let token = CancelToken::new();
/// assert!(token.check().is_ok());
/// token.clone().cancel();
/// assert!(token.check().is_err());
///
/// let late = CancelToken::with_timeout(Duration::ZERO);
/// assert!(late.check().unwrap_err().deadline);
/// ```
#[derive(Debug, Clone, Default)]
pub struct CancelToken {
    flag: Arc<AtomicBool>,
    deadline: Option<Instant>,
}

impl CancelToken {
    /// A token that is never cancelled until [`cancel`](CancelToken::cancel) is called.
    pub fn new() -> Self {
        Self::default()
    }

    /// A token whose deadline is `deadline`.
    pub fn with_deadline(deadline: Instant) -> Self {
        Self {
            flag: Arc::default(),
            deadline: Some(deadline),
        }
    }

    /// A token whose deadline is `timeout` from now (a timeout too large for the clock means no
    /// deadline).
    pub fn with_timeout(timeout: Duration) -> Self {
        Self {
            flag: Arc::default(),
            deadline: Instant::now().checked_add(timeout),
        }
    }

    /// A token sharing this one's flag with the earlier of its deadline and `deadline`.
    #[must_use]
    pub fn child_with_deadline(&self, deadline: Instant) -> Self {
        Self {
            flag: Arc::clone(&self.flag),
            deadline: Some(self.deadline.map_or(deadline, |d| d.min(deadline))),
        }
    }

    /// Cancels every clone of this token.
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::Relaxed);
    }

    /// The deadline, if any.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// True once cancelled or past the deadline.
    pub fn is_cancelled(&self) -> bool {
        self.check().is_err()
    }

    /// `Ok` while the computation may go on.
    ///
    /// # Errors
    /// [`Cancelled`] once the token is cancelled (`deadline: false`) or its deadline has
    /// passed (`deadline: true`).
    pub fn check(&self) -> Result<(), Cancelled> {
        if self.flag.load(Ordering::Relaxed) {
            return Err(Cancelled::new(false));
        }
        match self.deadline {
            Some(d) if Instant::now() >= d => Err(Cancelled::new(true)),
            _ => Ok(()),
        }
    }

    /// Checks only when `counter` is a multiple of `every` (a power of two is cheapest), so
    /// an inner loop can call it on each iteration.
    ///
    /// # Errors
    /// As [`check`](CancelToken::check).
    #[inline]
    pub fn check_every(&self, counter: usize, every: usize) -> Result<(), Cancelled> {
        if every == 0 || counter.is_multiple_of(every) {
            self.check()
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_flag_and_children_the_earlier_deadline() {
        let parent = CancelToken::with_timeout(Duration::from_secs(3600));
        let child = parent.child_with_deadline(Instant::now());
        assert!(child.check().unwrap_err().deadline);
        assert!(parent.check().is_ok());
        let other = parent.clone();
        other.cancel();
        assert!(!parent.check().unwrap_err().deadline);
        assert!(CancelToken::with_timeout(Duration::MAX).check().is_ok());
        assert!(CancelToken::new().check_every(3, 4).is_ok());
    }
}
