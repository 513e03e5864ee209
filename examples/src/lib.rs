//! Shared helpers for the runnable examples of fundalloc (plotting, table printing, data paths).
//!
//! Run an example from the repository root with `cargo run --release --example NAME`.

pub mod campaign;
pub mod data;
pub mod plot;
pub mod rts;
