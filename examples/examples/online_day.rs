//! Dual prices online: a simulated day. The customers known at 9:00 are solved exactly; the
//! rest (10–30 %) arrive one at a time during the day, with a drift in their revenues, and are
//! assigned by [`OnlineAllocator`] at the morning's fund prices in `O(F log F)` each. Compared
//! with the offline optimum of the whole day (hindsight), with greedy top-K (prices 0) and with
//! re-pricing (an exact re-solve on the customers seen so far) every N arrivals.
//!
//! ```text
//! cargo run --release -p fundalloc-examples --example online_day -- \
//!     --customers 1000000 --late 0.1,0.2,0.3 --drift 0.2 --every 0.1,0.01
//! ```
//!
//! Instance: `LctLike::new(U, F).seed(seed)` (f32); its exact exposures `d_f` become ranges
//! `[⌊0.9·d_f⌋, ⌈1.1·d_f⌉]` for the day. A late customer's revenue for fund f is multiplied
//! by `1 + drift_f`, `drift_f` uniform in `[−drift, drift]` (seeded), so the morning's prices
//! are stale. The morning solve uses the ranges scaled by the morning's share of customers
//! (minimums dropped if that makes the morning infeasible).

use std::time::Instant;

use clap::Parser;
use fundalloc_allocator::prelude::*;
use fundalloc_allocator::{Exact, FundPrices, LctLike, OnlineAllocator};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

#[derive(Parser)]
#[command(about = "Online assignment at dual prices vs the offline optimum of the day")]
struct Args {
    /// Customers in the whole day.
    #[arg(long, default_value_t = 1_000_000)]
    customers: usize,
    /// Funds.
    #[arg(long, default_value_t = 8)]
    funds: usize,
    /// Funds per customer.
    #[arg(long, default_value_t = 1)]
    k: usize,
    /// Shares of the day's customers that arrive after 9:00, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = vec![0.1, 0.2, 0.3])]
    late: Vec<f64>,
    /// Largest relative drift of a fund's revenue for late customers.
    #[arg(long, default_value_t = 0.2)]
    drift: f64,
    /// Re-price every N arrivals, N as a share of the late customers, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = vec![0.1, 0.01])]
    every: Vec<f64>,
    /// Seed of the instance and the drift.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

type BoxError = Box<dyn std::error::Error>;

struct Day {
    /// Row-major U × F revenue, late rows already drifted.
    e: Vec<f32>,
    tol: Vec<RiskLevel>,
    risk: Vec<RiskLevel>,
    range: Vec<ExposureRange>,
    f: usize,
    k: usize,
}

impl Day {
    fn problem(
        &self,
        rows: std::ops::Range<usize>,
        scale: f64,
        keep_min: bool,
    ) -> Result<AllocationProblem<f32>, AllocError> {
        let f = self.f;
        let e = RevenueMatrix::from_shape_vec(
            rows.len(),
            f,
            self.e[rows.start * f..rows.end * f].to_vec(),
        )?;
        let range = self
            .range
            .iter()
            .map(|r| {
                let min = if keep_min {
                    (r.min as f64 * scale).floor() as u64
                } else {
                    0
                };
                ExposureRange::new(min, (r.max as f64 * scale).ceil() as u64)
            })
            .collect();
        AllocationProblem::new(
            e,
            self.tol[rows].to_vec(),
            self.risk.clone(),
            PerCustomer::Exactly(self.k),
            range,
        )
    }

    /// The exact optimum of customers `rows` with ranges scaled by `scale` (minimums dropped
    /// when infeasible); returns the solution and its prices.
    fn solve(
        &self,
        rows: std::ops::Range<usize>,
        scale: f64,
    ) -> Result<(Solution, FundPrices), BoxError> {
        let problem = match self.problem(rows.clone(), scale, true) {
            Ok(p) => p,
            Err(_) => self.problem(rows, scale, false)?,
        };
        let (s, c) = Exact::new().solve_certified(&problem)?;
        let prices = c.prices_for(&problem)?;
        Ok((s, prices))
    }
}

/// What one policy did with the late customers.
struct Outcome {
    objective: f64,
    loads: Vec<u64>,
    short: usize,
    latencies: Vec<u64>,
    seconds: f64,
    resolves: usize,
}

fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let (u, f, k) = (args.customers, args.funds, args.k);
    let t = Instant::now();
    let base: AllocationProblem<f32> = LctLike::new(u, f).k(k).seed(args.seed).generate()?;
    eprintln!("generated {u} × {f} in {:.1} s", t.elapsed().as_secs_f64());
    let mut rng = StdRng::seed_from_u64(args.seed ^ 0x5eed);
    let drift: Vec<f64> = (0..f)
        .map(|_| rng.random_range(-args.drift..=args.drift))
        .collect();
    println!(
        "| late | policy | objective | ratio to offline opt | max exceeded | min short (units) | customers short of K | median ns | p99 ns | late-customer s | re-solves |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &late in &args.late {
        let u0 = ((1.0 - late) * u as f64).round() as usize;
        let mut e = base.revenue().as_slice().to_vec();
        for row in e[u0 * f..].chunks_mut(f) {
            for (x, d) in row.iter_mut().zip(&drift) {
                *x = (f64::from(*x) * (1.0 + d)) as f32;
            }
        }
        let range = base
            .exposure()
            .iter()
            .map(|r| {
                ExposureRange::new(
                    (r.min as f64 * 0.9).floor() as u64,
                    (r.max as f64 * 1.1).ceil() as u64,
                )
            })
            .collect();
        let day = Day {
            e,
            tol: base.tolerance().to_vec(),
            risk: base.fund_risk().to_vec(),
            range,
            f,
            k,
        };
        // Hindsight: the whole day at once.
        let (offline, _) = day.solve(0..u, 1.0)?;
        let opt = offline.report.objective;
        // 9:00: the known customers, ranges scaled to their share.
        let (morning, prices) = day.solve(0..u0, u0 as f64 / u as f64)?;
        let morning_loads = morning.allocation.exposure_counts();
        let remaining: Vec<u64> = day
            .range
            .iter()
            .zip(&morning_loads)
            .map(|(r, l)| r.max.saturating_sub(*l))
            .collect();
        let print = |name: &str, o: &Outcome| {
            let mut lat = o.latencies.clone();
            lat.sort_unstable();
            let q = |p: f64| {
                lat.get(((lat.len() as f64 - 1.0) * p) as usize)
                    .copied()
                    .unwrap_or(0)
            };
            let total = morning.report.objective + o.objective;
            let exceeded = day
                .range
                .iter()
                .zip(morning_loads.iter().zip(&o.loads))
                .filter(|(r, (m, l))| *m + *l > r.max)
                .count();
            let short_units: u64 = day
                .range
                .iter()
                .zip(morning_loads.iter().zip(&o.loads))
                .map(|(r, (m, l))| r.min.saturating_sub(m + l))
                .sum();
            println!(
                "| {:.0} % | {name} | {total:.1} | {:.6} | {exceeded} | {short_units} | {} | {} | {} | {:.3} | {} |",
                late * 100.0,
                total / opt,
                o.short,
                q(0.5),
                q(0.99),
                o.seconds,
                o.resolves
            );
        };
        println!(
            "| {:.0} % | offline optimum (hindsight) | {opt:.1} | 1.000000 | 0 | 0 | 0 | – | – | {:.3} | 1 |",
            late * 100.0,
            offline.report.seconds
        );
        let run = |prices: &FundPrices, every: Option<usize>| -> Result<Outcome, BoxError> {
            let mut online = OnlineAllocator::new(prices).with_remaining(remaining.clone())?;
            let mut out = Vec::with_capacity(k);
            let mut latencies = Vec::with_capacity(u - u0);
            let (mut objective, mut short, mut resolves) = (0.0f64, 0usize, 0usize);
            let start = Instant::now();
            for v in u0..u {
                if let Some(n) = every
                    && v > u0
                    && (v - u0).is_multiple_of(n)
                {
                    // Re-price: exact solve on everyone seen so far, ranges scaled.
                    let (_, p) = day.solve(0..v, v as f64 / u as f64)?;
                    online.set_prices(p.prices())?;
                    resolves += 1;
                }
                let row = &day.e[v * f..(v + 1) * f];
                let t = Instant::now();
                let n = online.assign(row, day.tol[v], &mut out)?;
                latencies.push(t.elapsed().as_nanos() as u64);
                short += usize::from(n < k);
                objective += out.iter().map(|&g| f64::from(row[g as usize])).sum::<f64>();
            }
            Ok(Outcome {
                objective,
                loads: online.loads().to_vec(),
                short,
                latencies,
                seconds: start.elapsed().as_secs_f64(),
                resolves,
            })
        };
        print("online at 9:00 prices", &run(&prices, None)?);
        let zero = FundPrices::new(
            vec![0.0; f],
            day.risk.clone(),
            day.range.clone(),
            PerCustomer::Exactly(k),
            u as u64,
        )?;
        print("online greedy (prices 0)", &run(&zero, None)?);
        for &share in &args.every {
            let n = ((share * (u - u0) as f64) as usize).max(1);
            print(
                &format!("online, re-priced every {n} arrivals"),
                &run(&prices, Some(n))?,
            );
        }
    }
    Ok(())
}
