//! The one observer trait of fundalloc's long loops (argmin style).
//!
//! The loop (training, simulation, solving) belongs to the library; what a program wants to
//! see of it — a progress bar, a log line, a metrics exporter — is an observer it passes in.
//! Libraries pass [`NoObserver`]; examples pass an indicatif bar.
//!
//! `R` is the crate's per-epoch report (`EpochReport` in every crate that trains), so one
//! observer type can watch several crates' loops by implementing the trait for each report.
//!
//! ```
//! use fundalloc_core_types::Observer;
//!
//! /// Keeps every epoch's loss.
//! #[derive(Default)]
//! struct Losses(Vec<f64>);
//! impl Observer<(usize, f64)> for Losses {
//!     fn on_epoch(&mut self, report: &(usize, f64)) {
//!         self.0.push(report.1);
//!     }
//! }
//!
//! fn train(epochs: usize, observer: &mut impl Observer<(usize, f64)>) {
//!     for e in 1..=epochs {
//!         for b in 1..=4 {
//!             observer.on_step(e, b, 4);
//!         }
//!         observer.on_epoch(&(e, 1.0 / e as f64));
//!     }
//! }
//! let mut losses = Losses::default();
//! train(3, &mut losses);
//! assert_eq!(losses.0.len(), 3);
//! ```

/// Watches a long loop. Every method has a no-op default, so an observer implements only what
/// it shows.
pub trait Observer<R: ?Sized> {
    /// After step `step` (from 1) of `steps` in round `round` (from 1): a mini-batch of an
    /// epoch, a chunk of paths, a pass of a solver.
    fn on_step(&mut self, round: usize, step: usize, steps: usize) {
        let _ = (round, step, steps);
    }

    /// After each round (an epoch), with the crate's report of it.
    fn on_epoch(&mut self, report: &R) {
        let _ = report;
    }
}

/// The observer that watches nothing: what libraries and tests pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoObserver;

impl<R: ?Sized> Observer<R> for NoObserver {}

impl<R: ?Sized, O: Observer<R> + ?Sized> Observer<R> for &mut O {
    fn on_step(&mut self, round: usize, step: usize, steps: usize) {
        (**self).on_step(round, step, steps);
    }
    fn on_epoch(&mut self, report: &R) {
        (**self).on_epoch(report);
    }
}
