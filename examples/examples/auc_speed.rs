//! Speed of the exact ROC AUC on millions of scores (the benchmark recorded in
//! `docs/benchmarks.md`, next to scikit-learn's `roc_auc_score` on the same input).
//!
//! `cargo run --release -p fundalloc-examples --example auc_speed [-- --n 10000000]`
//!
//! With `--scores FILE --labels FILE` it reads raw little-endian `f64` scores and one byte per
//! label (0/1), as written by `crates/metrics/scripts/auc_sklearn_bench.py`, so both tools time
//! the very same input. Otherwise it generates seeded scores: `s = σ(z)`, `z ~ N(0, 1)`, and a
//! label that is positive with probability `s`.

use std::time::Instant;

use clap::Parser;
use fundalloc_metrics::roc_auc;
use rand::{RngExt, SeedableRng, rngs::StdRng};
use rand_distr::{Distribution, StandardNormal};

#[derive(Parser)]
#[command(about = "Time the exact ROC AUC on many scores")]
struct Args {
    /// Number of generated scores (ignored with --scores).
    #[arg(long, default_value_t = 10_000_000)]
    n: usize,
    /// Raw little-endian f64 scores.
    #[arg(long, requires = "labels")]
    scores: Option<std::path::PathBuf>,
    /// One byte per label, 0 or 1.
    #[arg(long, requires = "scores")]
    labels: Option<std::path::PathBuf>,
    /// Timed repetitions per configuration (the best and the median are printed).
    #[arg(long, default_value_t = 7)]
    repeats: usize,
    /// Seed of the generated input.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
}

fn load(args: &Args) -> Result<(Vec<bool>, Vec<f64>), Box<dyn std::error::Error>> {
    if let (Some(s), Some(l)) = (&args.scores, &args.labels) {
        let bytes = std::fs::read(s)?;
        let scores: Vec<f64> = bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect();
        let labels: Vec<bool> = std::fs::read(l)?.iter().map(|&b| b == 1).collect();
        return Ok((labels, scores));
    }
    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut labels = Vec::with_capacity(args.n);
    let mut scores = Vec::with_capacity(args.n);
    for _ in 0..args.n {
        let z: f64 = StandardNormal.sample(&mut rng);
        let s = 1.0 / (1.0 + (-z).exp());
        labels.push(rng.random::<f64>() < s);
        scores.push(s);
    }
    Ok((labels, scores))
}

fn time(repeats: usize, f: impl Fn() -> f64) -> (f64, f64, f64) {
    let mut secs = Vec::with_capacity(repeats);
    let mut value = f64::NAN;
    for _ in 0..repeats.max(1) {
        let start = Instant::now();
        value = std::hint::black_box(f());
        secs.push(start.elapsed().as_secs_f64());
    }
    secs.sort_by(f64::total_cmp);
    (value, secs[0], secs[secs.len() / 2])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let (labels, scores) = load(&args)?;
    let positives = labels.iter().filter(|&&y| y).count();
    println!(
        "n = {}, positives = {positives}, rayon threads = {}",
        scores.len(),
        rayon::current_num_threads()
    );
    println!(
        "{:<28} {:>20} {:>10} {:>10}",
        "configuration", "AUC", "best s", "median s"
    );
    for threads in [1, rayon::current_num_threads()] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()?;
        let (auc, best, median) = pool.install(|| {
            time(args.repeats, || {
                roc_auc(&labels, &scores).unwrap_or(f64::NAN)
            })
        });
        println!(
            "{:<28} {auc:>20.17} {best:>10.4} {median:>10.4}",
            format!("roc_auc, {threads} thread(s)")
        );
    }
    Ok(())
}
