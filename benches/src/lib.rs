//! Criterion benchmarks of fundalloc live in `benches/benches/`; run them with `cargo bench -p fundalloc-benches`.
