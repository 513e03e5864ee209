//! Step 1 of SMARTFASI retrieval (N nearest customers by Eq. 5) over a generated case base of
//! 1,000,000 customers (override with `CBR_BENCH_CASES`).
//!
//! `cargo bench -p fundalloc-benches --bench cbr_retrieval`
//!
//! With `CBR_BENCH_EXPORT=<dir>` the case base (CSV), the benchmark targets and Rust's top-N
//! answers are written there first, for the cbrkit comparison in
//! `crates/cbr-advisor/scripts/compare_cbrkit.sh`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::io::Write;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use fundalloc_cbr_advisor::{CaseBase, GeneratorParams, QueryParams, generate_case_base};
use fundalloc_core_types::CancelToken;

const N: usize = 50;

fn targets(cb: &CaseBase) -> Vec<u32> {
    // Fixed, spread-out targets: customers with portfolios and one without.
    let step = (cb.len() / 7).max(1);
    let mut with = Vec::new();
    let mut without = None;
    for i in (0..cb.len()).step_by(step / 3 + 1) {
        let i = i as u32;
        if cb.portfolios_of(i).is_empty() {
            without.get_or_insert(i);
        } else if with.len() < 4 {
            with.push(i);
        }
    }
    with.extend(without);
    with
}

fn export(cb: &CaseBase, dir: &str, targets: &[u32]) {
    std::fs::create_dir_all(dir).unwrap();
    let f = |n: &str| std::io::BufWriter::new(std::fs::File::create(format!("{dir}/{n}")).unwrap());
    cb.to_csv(f("customers.csv"), f("holdings.csv")).unwrap();
    cb.catalogue().to_csv(f("products.csv")).unwrap();
    let mut out = Vec::new();
    for &t in targets {
        let target = cb.target(&cb.ids()[t as usize]).unwrap();
        let t0 = Instant::now();
        let nb = cb.nearest(&target, N, &[t], &CancelToken::new()).unwrap();
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        out.push(serde_json::json!({
            "target": cb.ids()[t as usize].as_str(),
            "rust_ms_first_call": ms,
            "top": nb.iter().map(|n| (n.id.as_str(), n.distance)).collect::<Vec<_>>(),
        }));
    }
    let mut w = f("rust_top.json");
    serde_json::to_writer_pretty(&mut w, &out).unwrap();
    w.flush().unwrap();
}

fn bench(c: &mut Criterion) {
    let cases: usize = std::env::var("CBR_BENCH_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let t0 = Instant::now();
    let cb = generate_case_base(GeneratorParams::new(cases, 200, 42)).unwrap();
    eprintln!(
        "generated {} customers, {} portfolios in {:.1} s; rayon threads: {}",
        cb.len(),
        cb.n_portfolios(),
        t0.elapsed().as_secs_f64(),
        rayon::current_num_threads()
    );
    let ts = targets(&cb);
    if let Ok(dir) = std::env::var("CBR_BENCH_EXPORT") {
        export(&cb, &dir, &ts);
    }
    let tg: Vec<_> = ts
        .iter()
        .map(|&t| (t, cb.target(&cb.ids()[t as usize]).unwrap()))
        .collect();
    let mut g = c.benchmark_group("cbr_retrieval");
    g.sample_size(20);
    let mut k = 0;
    g.bench_function(format!("step1_{cases}_n{N}"), |b| {
        b.iter(|| {
            let (i, t) = &tg[k % tg.len()];
            k += 1;
            black_box(cb.nearest(t, N, &[*i], &CancelToken::new()).unwrap())
        })
    });
    let mut k = 0;
    let params = QueryParams::new(10).n(Some(N));
    g.bench_function(format!("steps123_{cases}_n{N}_k10"), |b| {
        b.iter(|| {
            let (_, t) = &tg[k % tg.len()];
            k += 1;
            black_box(
                cb.recommend(t, params.clone(), &CancelToken::new())
                    .unwrap(),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
