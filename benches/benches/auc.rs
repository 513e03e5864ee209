//! Exact ROC AUC on 1 M and 10 M scores (f64, f32, continuous and heavily tied).
//!
//! `cargo bench -p fundalloc-benches --bench auc`; results and the scikit-learn comparison are
//! in `docs/benchmarks.md` (the peer is timed by `crates/metrics/scripts/auc_sklearn_bench.py`).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fundalloc_metrics::roc_auc;
use rand::{RngExt, SeedableRng, rngs::StdRng};
use rand_distr::{Distribution, StandardNormal};

/// Scores `σ(z)`, `z ~ N(0, 1)`, label positive with probability `σ(z)`; optionally rounded to
/// `decimals` (ties).
fn data(n: usize, decimals: Option<i32>) -> (Vec<bool>, Vec<f64>) {
    let mut rng = StdRng::seed_from_u64(2026);
    (0..n)
        .map(|_| {
            let z: f64 = StandardNormal.sample(&mut rng);
            let s = 1.0 / (1.0 + (-z).exp());
            let y = rng.random::<f64>() < s;
            let s = match decimals {
                Some(d) => (s * 10f64.powi(d)).round() / 10f64.powi(d),
                None => s,
            };
            (y, s)
        })
        .unzip()
}

fn bench_auc(c: &mut Criterion) {
    let mut group = c.benchmark_group("roc_auc");
    group.sample_size(10);
    for n in [1_000_000, 10_000_000] {
        let (labels, scores) = data(n, None);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("f64", n), &n, |b, _| {
            b.iter(|| roc_auc(black_box(&labels), black_box(&scores)))
        });
        let s32: Vec<f32> = scores.iter().map(|&s| s as f32).collect();
        group.bench_with_input(BenchmarkId::new("f32", n), &n, |b, _| {
            b.iter(|| roc_auc(black_box(&labels), black_box(&s32)))
        });
        let (labels, tied) = data(n, Some(3));
        group.bench_with_input(BenchmarkId::new("f64_rounded_3_decimals", n), &n, |b, _| {
            b.iter(|| roc_auc(black_box(&labels), black_box(&tied)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_auc);
criterion_main!(benches);
