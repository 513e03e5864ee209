//! The `fundalloc` CLI's `.npy` revenue reader: the first two bytes give the expected customers
//! and funds (0..16 each), the rest is the file. Any header must give a matrix or a typed error
//! before anything large is allocated.
#![no_main]
#![allow(dead_code, unreachable_pub)]
use libfuzzer_sys::fuzz_target;

#[path = "../../crates/cli/src/input.rs"]
mod input;
#[path = "../../crates/cli/src/npy.rs"]
mod npy;
#[path = "common/scratch.rs"]
mod scratch;

fuzz_target!(|data: &[u8]| {
    let [u, f, file @ ..] = data else {
        return;
    };
    let path = scratch::write("revenue.npy", file);
    let _ = input::read_npy(&path, usize::from(u % 16), usize::from(f % 16));
});
