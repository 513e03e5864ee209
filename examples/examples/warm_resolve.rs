//! Warm re-solve vs cold solve after a small change, at scale.
//!
//! ```text
//! cargo run --release -p fundalloc-examples --example warm_resolve -- \
//!     --customers 10000000 --change 0.01
//! ```
//!
//! Instance: `LctLike::new(U, 8).seed(seed)` (f32, K = 1, exact exposures). Changes, each of
//! about `--change` × U customers: `rows` (that many customers' revenue rows redrawn: every
//! fund's revenue × a uniform factor in [0.5, 1.5]), `quota` (that many exposures moved from
//! the largest fund to the smallest), `customers` (that many removed from the front, the same
//! number appended with fresh rows), `fund-closed` (the smallest fund closed, its quota spread
//! over the others), `fund-added` (a ninth fund taking that many exposures from the largest).
//! For each: the cold solve of the changed problem, the warm solve from the original
//! optimum's prices and allocation (mapped onto the changed customers and funds), and the
//! stateful session (`ExactSession`, a copy of the one holding the original optimum): the same
//! change as typed `Change`s, `apply_all` + `resolve` timed together. Objectives must agree
//! (checked) and every gap close. `--only quota,rows` runs some of the changes;
//! `--sequence N` then applies N successive changes of each kind to one session and reports
//! the re-solves' median and worst time (buckets pile up and are compacted between them).

use std::time::Instant;

use clap::Parser;
use fundalloc_allocator::prelude::*;
use fundalloc_allocator::{Certificate, Change, Exact, ExactSession, LctLike};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

#[derive(Parser)]
#[command(about = "Warm re-solve vs cold solve after a change")]
struct Args {
    /// Customers.
    #[arg(long, default_value_t = 1_000_000)]
    customers: usize,
    /// Funds.
    #[arg(long, default_value_t = 8)]
    funds: usize,
    /// Size of each change as a share of the customers.
    #[arg(long, default_value_t = 0.01)]
    change: f64,
    /// Seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Leave out the added-fund change (its cold and warm solves dominate the run time).
    #[arg(long)]
    skip_fund_added: bool,
    /// Runs per solve (the fastest is reported).
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Only these changes (comma-separated names: rows, quota, customers, fund-closed,
    /// fund-added); all when absent.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Then apply this many successive changes of each kind (rows, quota, customers) to one
    /// session, and check the last optimum against a cold solve.
    #[arg(long, default_value_t = 0)]
    sequence: usize,
}

type BoxError = Box<dyn std::error::Error>;

struct Changed {
    name: &'static str,
    problem: AllocationProblem<f32>,
    prices: Vec<f64>,
    previous: Allocation,
    /// The same change for the session.
    session: Vec<Change<f32>>,
}

fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let (u, f) = (args.customers, args.funds);
    let t = Instant::now();
    let base: AllocationProblem<f32> = LctLike::new(u, f).seed(args.seed).generate()?;
    eprintln!("generated {u} × {f} in {:.1} s", t.elapsed().as_secs_f64());
    let (sol, cert) = Exact::new().solve_certified(&base)?;
    let t = Instant::now();
    let session = ExactSession::new(base.clone())?;
    eprintln!(
        "session set up (cold solve + rebase) in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    println!(
        "| change | U | F | cold s | warm s | session s | cold / warm | cold / session | objective (cold) | session − cold | session gap | warm initial excess | session: recomputed, candidates, buckets loaded, augmentations, presearch passes |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    println!(
        "| none (original, cold) | {u} | {f} | {:.3} | – | – | – | – | {:.3} | – | {:.1e} | – | {} |",
        sol.report.seconds,
        sol.report.objective,
        cert.gap(),
        sol.report.notes.get(1).map_or("", String::as_str)
    );
    let n = ((args.change * u as f64) as usize).max(1);
    let mut rng = StdRng::seed_from_u64(args.seed ^ 0xc4a9);
    let d: Vec<u64> = base.exposure().iter().map(|r| r.min).collect();
    let big = (0..f).max_by_key(|&g| d[g]).unwrap_or(0);
    let small = (0..f).min_by_key(|&g| d[g]).unwrap_or(0);
    let rebuild = |e: Vec<f32>,
                   rows: usize,
                   funds: usize,
                   tol: Vec<RiskLevel>,
                   risk: Vec<RiskLevel>,
                   d: Vec<u64>| {
        AllocationProblem::new(
            RevenueMatrix::from_shape_vec(rows, funds, e).expect("shape"),
            tol,
            risk,
            PerCustomer::Exactly(1),
            d.into_iter().map(ExposureRange::exact).collect(),
        )
    };
    let mut changes = Vec::new();
    {
        // rows
        let mut e = base.revenue().as_slice().to_vec();
        let mut touched = Vec::with_capacity(n);
        for _ in 0..n {
            let v = rng.random_range(0..u);
            touched.push(v);
            for x in &mut e[v * f..(v + 1) * f] {
                *x *= rng.random_range(0.5f32..1.5);
            }
        }
        touched.sort_unstable();
        touched.dedup();
        let rows = touched
            .iter()
            .flat_map(|&v| e[v * f..(v + 1) * f].iter().copied())
            .collect();
        let session = vec![Change::Rows {
            customers: touched,
            rows,
        }];
        let problem = rebuild(
            e,
            u,
            f,
            base.tolerance().to_vec(),
            base.fund_risk().to_vec(),
            d.clone(),
        )?;
        changes.push(Changed {
            name: "rows",
            problem,
            prices: cert.fund_prices().to_vec(),
            previous: sol.allocation.clone(),
            session,
        });
    }
    {
        // quota
        let mut d2 = d.clone();
        let session = move_quota(&mut d2, n);
        let problem = rebuild(
            base.revenue().as_slice().to_vec(),
            u,
            f,
            base.tolerance().to_vec(),
            base.fund_risk().to_vec(),
            d2,
        )?;
        changes.push(Changed {
            name: "quota",
            problem,
            prices: cert.fund_prices().to_vec(),
            previous: sol.allocation.clone(),
            session,
        });
    }
    {
        // customers: n removed from the front, n appended (tolerance 5: may hold anything).
        let mut e = base.revenue().as_slice()[n * f..].to_vec();
        let mut tol = base.tolerance()[n..].to_vec();
        let mut added = Vec::with_capacity(n * f);
        for _ in 0..n {
            let donor = rng.random_range(0..u);
            added.extend(
                base.revenue()
                    .row(donor)
                    .iter()
                    .map(|&x| x * rng.random_range(0.5f32..1.5)),
            );
            tol.push(RiskLevel::new(5));
        }
        e.extend_from_slice(&added);
        let session = vec![
            Change::RemoveCustomers {
                customers: (0..n).collect(),
            },
            Change::AddCustomers {
                rows: added,
                tolerance: vec![RiskLevel::new(5); n],
            },
        ];
        let problem = rebuild(e, u, f, tol, base.fund_risk().to_vec(), d.clone())?;
        let previous = Allocation::from_rows(
            f,
            (n..u)
                .map(|v| sol.allocation.funds_of(v).to_vec())
                .chain((0..n).map(|_| Vec::new())),
        )?;
        changes.push(Changed {
            name: "customers",
            problem,
            prices: cert.fund_prices().to_vec(),
            previous,
            session,
        });
    }
    {
        // fund-closed: the smallest fund; its quota goes to the others evenly.
        let mut e = Vec::with_capacity(u * (f - 1));
        for v in 0..u {
            e.extend(
                (0..f)
                    .filter(|&g| g != small)
                    .map(|g| base.revenue().row(v)[g]),
            );
        }
        let mut d2: Vec<u64> = (0..f).filter(|&g| g != small).map(|g| d[g]).collect();
        for i in 0..d[small] as usize {
            let len = d2.len();
            d2[i % len] += 1;
        }
        let others: Vec<usize> = (0..f).filter(|&g| g != small).collect();
        let mut session = vec![Change::CloseFund { fund: small }];
        session.extend(others.iter().zip(&d2).map(|(&g, &dg)| Change::Quota {
            fund: g,
            range: ExposureRange::exact(dg),
        }));
        let mut risk: Vec<RiskLevel> = base.fund_risk().to_vec();
        risk.remove(small);
        let mut prices = cert.fund_prices().to_vec();
        prices.remove(small);
        let previous = Allocation::from_rows(
            f - 1,
            sol.allocation.iter().map(|(_, fs)| {
                fs.iter()
                    .filter(|&&g| g as usize != small)
                    .map(|&g| if g as usize > small { g - 1 } else { g })
                    .collect::<Vec<u32>>()
            }),
        )?;
        match rebuild(e, u, f - 1, base.tolerance().to_vec(), risk, d2) {
            Ok(problem) => changes.push(Changed {
                name: "fund-closed",
                problem,
                prices,
                previous,
                session,
            }),
            Err(err) => eprintln!("fund-closed skipped: {err}"),
        }
    }
    if !args.skip_fund_added
        && (args.only.is_empty() || args.only.iter().any(|o| o == "fund-added"))
    {
        // fund-added: a ninth fund (risk 1) with revenue ~ a random existing fund's, n exposures.
        let mut e = Vec::with_capacity(u * (f + 1));
        let mut column = Vec::with_capacity(u);
        for v in 0..u {
            let row = base.revenue().row(v);
            e.extend_from_slice(row);
            let x = row[v % f] * rng.random_range(0.5f32..1.5);
            e.push(x);
            column.push(x);
        }
        let mut d2 = d.clone();
        let m = (n as u64).min(d2[big]);
        d2[big] -= m;
        d2.push(m);
        let session = vec![
            Change::Quota {
                fund: big,
                range: ExposureRange::exact(d2[big]),
            },
            Change::AddFund {
                column,
                risk: RiskLevel::new(1),
                range: ExposureRange::exact(m),
            },
        ];
        let mut risk = base.fund_risk().to_vec();
        risk.push(RiskLevel::new(1));
        let mut prices = cert.fund_prices().to_vec();
        prices.push(0.0);
        let previous =
            Allocation::from_rows(f + 1, sol.allocation.iter().map(|(_, fs)| fs.to_vec()))?;
        let problem = rebuild(e, u, f + 1, base.tolerance().to_vec(), risk, d2)?;
        changes.push(Changed {
            name: "fund-added",
            problem,
            prices,
            previous,
            session,
        });
    }
    drop(sol);
    let base_rows: Vec<f32> = if args.sequence > 0 {
        base.revenue().as_slice().to_vec()
    } else {
        Vec::new()
    };
    drop(base);
    let repeat = args.repeat.max(1);
    for c in changes {
        if !args.only.is_empty() && !args.only.iter().any(|o| o == c.name) {
            continue;
        }
        let mut cold_best: Option<Solution> = None;
        for _ in 0..repeat {
            let (s, _) = Exact::new().solve_certified(&c.problem)?;
            if cold_best
                .as_ref()
                .is_none_or(|b| s.report.seconds < b.report.seconds)
            {
                cold_best = Some(s);
            }
        }
        let cold = cold_best.ok_or("no run")?;
        let mut warm_best: Option<(Solution, Certificate)> = None;
        for _ in 0..repeat {
            let (s, w) = Exact::new().solve_warm(&c.problem, &c.prices, Some(&c.previous))?;
            if warm_best
                .as_ref()
                .is_none_or(|b| s.report.seconds < b.0.report.seconds)
            {
                warm_best = Some((s, w));
            }
        }
        let (warm, wc) = warm_best.ok_or("no run")?;
        let diff = warm.report.objective - cold.report.objective;
        assert!(
            diff.abs() <= 1e-9 * cold.report.objective.abs().max(1.0),
            "warm {diff}"
        );
        drop(c.problem);
        let mut session_best: Option<(f64, fundalloc_allocator::Resolved)> = None;
        for _ in 0..repeat {
            let mut s = session.clone();
            let t = Instant::now();
            s.apply_all(c.session.clone())?;
            let r = s.resolve()?;
            let seconds = t.elapsed().as_secs_f64();
            if session_best.as_ref().is_none_or(|b| seconds < b.0) {
                session_best = Some((seconds, r));
            }
        }
        let (session_s, r) = session_best.ok_or("no run")?;
        let sdiff = r.certificate.objective() - cold.report.objective;
        assert!(
            sdiff.abs() <= 1e-9 * cold.report.objective.abs().max(1.0),
            "session {sdiff}"
        );
        println!(
            "| {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.1}× | {:.1}× | {:.3} | {sdiff:.1e} | {:.1e} | {} | {}{}, {}, {}, {}, {} |",
            c.name,
            cold.allocation.n_customers(),
            wc.fund_prices().len(),
            cold.report.seconds,
            warm.report.seconds,
            session_s,
            cold.report.seconds / warm.report.seconds,
            cold.report.seconds / session_s,
            cold.report.objective,
            r.certificate.gap(),
            warm.report
                .notes
                .get(1)
                .map_or("", String::as_str)
                .split("initial excess ")
                .nth(1)
                .and_then(|s| s.split(',').next())
                .unwrap_or("?"),
            if r.full { "full solve; " } else { "" },
            r.recomputed,
            r.candidates,
            r.buckets_loaded,
            r.augmentations,
            r.presearch_passes,
        );
    }
    if args.sequence > 0 {
        sequences(&args, &session, &base_rows, &d, n)?;
    }
    Ok(())
}

/// `args.sequence` successive changes of each kind on one session: the re-solves' median and
/// worst time, and the last optimum against a cold solve of the session's final problem.
fn sequences(
    args: &Args,
    session: &ExactSession<f32>,
    base_rows: &[f32],
    d: &[u64],
    n: usize,
) -> Result<(), BoxError> {
    let (u, f) = (args.customers, args.funds);
    println!();
    println!(
        "| change × N | U | N | median s | worst s | cold s (final problem) | cold / median | session − cold | candidates after the last |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for kind in ["rows", "quota", "customers"] {
        if !args.only.is_empty() && !args.only.iter().any(|o| o == kind) {
            continue;
        }
        let mut s = session.clone();
        let mut rng = StdRng::seed_from_u64(args.seed ^ 0x5e9 ^ kind.len() as u64);
        let mut d = d.to_vec();
        let mut live: Vec<usize> = (0..u).collect();
        let mut times = Vec::with_capacity(args.sequence);
        let mut last = None;
        for _ in 0..args.sequence {
            let changes = match kind {
                "rows" => {
                    let mut customers: Vec<usize> =
                        (0..n).map(|_| rng.random_range(0..u)).collect();
                    customers.sort_unstable();
                    customers.dedup();
                    let rows = customers
                        .iter()
                        .flat_map(|&v| {
                            let factor: Vec<f32> =
                                (0..f).map(|_| rng.random_range(0.5f32..1.5)).collect();
                            base_rows[v * f..(v + 1) * f]
                                .iter()
                                .zip(factor)
                                .map(|(&x, y)| x * y)
                                .collect::<Vec<f32>>()
                        })
                        .collect();
                    vec![Change::Rows { customers, rows }]
                }
                "quota" => move_quota(&mut d, n),
                _ => {
                    let mut removed = Vec::with_capacity(n);
                    for _ in 0..n.min(live.len().saturating_sub(1)) {
                        let i = rng.random_range(0..live.len());
                        removed.push(live.swap_remove(i));
                    }
                    let rows: Vec<f32> = (0..removed.len())
                        .flat_map(|_| {
                            let donor = rng.random_range(0..u);
                            base_rows[donor * f..(donor + 1) * f]
                                .iter()
                                .map(|&x| x * rng.random_range(0.5f32..1.5))
                                .collect::<Vec<f32>>()
                        })
                        .collect();
                    vec![
                        Change::RemoveCustomers {
                            customers: removed.clone(),
                        },
                        Change::AddCustomers {
                            rows,
                            tolerance: vec![RiskLevel::new(5); removed.len()],
                        },
                    ]
                }
            };
            let t = Instant::now();
            let applied = s.apply_all(changes)?;
            let r = s.resolve()?;
            times.push(t.elapsed().as_secs_f64());
            if std::env::var_os("WARM_TRACE").is_some() {
                eprintln!(
                    "{kind}: {:.3} s, rebased {}, recomputed {}, candidates {}, buckets {}, aug {}, passes {}",
                    t.elapsed().as_secs_f64(),
                    r.rebased,
                    r.recomputed,
                    r.candidates,
                    r.buckets_loaded,
                    r.augmentations,
                    r.presearch_passes
                );
            }
            for a in applied {
                live.extend(a.customers);
            }
            last = Some(r);
        }
        let r = last.ok_or("no change")?;
        let (problem, _) = s.to_problem()?;
        let (cold, _) = Exact::new().solve_certified(&problem)?;
        let diff = r.certificate.objective() - cold.report.objective;
        assert!(
            diff.abs() <= 1e-9 * cold.report.objective.abs().max(1.0),
            "{kind} sequence {diff}"
        );
        let mut sorted = times.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        println!(
            "| {kind} × {} | {u} | {} | {median:.3} | {:.3} | {:.3} | {:.1}× | {diff:.1e} | {} |",
            args.sequence,
            args.sequence,
            sorted[sorted.len() - 1],
            cold.report.seconds,
            cold.report.seconds / median,
            r.candidates,
        );
    }
    Ok(())
}

/// Moves `n` exposures (at most all) from the largest fund to the smallest in `d`; returns the
/// two `Quota` changes that say so.
fn move_quota(d: &mut [u64], n: usize) -> Vec<Change<f32>> {
    let big = (0..d.len()).max_by_key(|&g| d[g]).unwrap_or(0);
    let small = (0..d.len()).min_by_key(|&g| d[g]).unwrap_or(0);
    let m = (n as u64).min(d[big]);
    d[big] -= m;
    d[small] += m;
    vec![
        Change::Quota {
            fund: big,
            range: ExposureRange::exact(d[big]),
        },
        Change::Quota {
            fund: small,
            range: ExposureRange::exact(d[small]),
        },
    ]
}
