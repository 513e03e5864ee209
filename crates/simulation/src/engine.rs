//! The Monte Carlo engine: paths drawn in parallel, reduced to the horizon returns.
//!
//! **Reproducibility.** Path `i` (or antithetic pair `i`) draws from its own ChaCha8 stream:
//! the key is expanded from the seed and the stream number is `i`. ChaCha is counter based, so
//! the stream does not depend on which thread draws it, nor on the chunking: a seed gives
//! bit-identical results on any number of threads. Every reduction (sums, sorting) runs in
//! path order after the parallel part.
//!
//! **Memory.** Paths are drawn chunk by chunk (`chunk_size` paths, the unit of cancellation
//! and progress) and reduced at once to their horizon return: only `n_paths` `f64` are kept
//! (8 MB per million paths), never a path. A fan chart (`fan_chart(true)`) needs every step's
//! value of every path, so it keeps an `n_paths × (steps + 1)` buffer of `f64` for the
//! duration of the call (2 GB for 1 M paths × 252 steps; capped at
//! [`MAX_FAN_CELLS`](crate::MAX_FAN_CELLS)), then only its percentiles.

use fundalloc_core_types::{CancelToken, InvalidParameter, Observer, ParamGuard, ShapeMismatch};
use ndarray::Array2;
use rand::rngs::ChaCha8Rng;
use rand::{Rng, RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

use crate::measures::{check_level, empirical_tail, percentile_sorted, tail_std_errors};
use crate::model::Prepared;
use crate::{Estimate, PathModel, Portfolio, Result, SimulationValidParams, Summary, TailEstimate};

/// Per-step percentiles of the cumulative return of the simulated portfolio (fan-chart data).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FanChart {
    /// The percentile levels, in (0, 1), as asked.
    pub levels: Vec<f64>,
    /// `(steps + 1) × levels.len()`: row `t` holds the percentiles of `V_t/V_0 − 1` after `t`
    /// steps (row 0 is all zeros).
    pub values: Array2<f64>,
    /// Steps per year (step `t` is at `t / steps_per_year` years).
    pub steps_per_year: f64,
}

/// The simulated distribution of the horizon return `R = V_T/V_0 − 1` of a portfolio
/// (buy and hold), with its measures. Holds the `n_paths` horizon returns, sorted.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulation {
    sorted: Vec<f64>,
    expected_return: Estimate,
    volatility: Estimate,
    horizon_years: f64,
    steps: usize,
    fan: Option<FanChart>,
}

impl Simulation {
    /// Number of paths.
    pub fn n_paths(&self) -> usize {
        self.sorted.len()
    }

    /// Steps to the horizon.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The horizon in years.
    pub fn horizon_years(&self) -> f64 {
        self.horizon_years
    }

    /// The horizon returns, sorted ascending.
    pub fn sorted_returns(&self) -> &[f64] {
        &self.sorted
    }

    /// The expected yield `E[R]` (the mean horizon return) with its MC standard error.
    pub fn expected_return(&self) -> Estimate {
        self.expected_return
    }

    /// The standard deviation of `R` (divisor `n − 1`) with its MC standard error.
    pub fn volatility(&self) -> Estimate {
        self.volatility
    }

    /// The `p`-percentile of `R` (linear interpolation, NumPy's default).
    ///
    /// # Errors
    /// `InvalidParameter` unless `p` is in (0, 1).
    pub fn percentile(&self, p: f64) -> Result<f64> {
        let p = check_level(p)?;
        Ok(percentile_sorted(&self.sorted, p))
    }

    /// VaR and CVaR at confidence `level`, as positive losses, with their MC standard errors.
    ///
    /// # Errors
    /// `InvalidParameter` unless `level` is in (0, 1).
    pub fn tail(&self, level: f64) -> Result<TailEstimate> {
        let level = check_level(level)?;
        let (var, cvar) = empirical_tail(&self.sorted, level);
        let (se_var, se_cvar) = tail_std_errors(&self.sorted, level, var);
        Ok(TailEstimate {
            level,
            var: Estimate::new(var, se_var),
            cvar: Estimate::new(cvar, se_cvar),
        })
    }

    /// The expected yield, volatility and the tails at each of `levels`.
    ///
    /// # Errors
    /// `InvalidParameter` for a level outside (0, 1).
    pub fn summary(&self, levels: &[f64]) -> Result<Summary> {
        Ok(Summary {
            n_paths: self.n_paths(),
            horizon_years: self.horizon_years,
            expected_return: self.expected_return,
            volatility: self.volatility,
            tails: levels
                .iter()
                .map(|&l| self.tail(l))
                .collect::<Result<_>>()?,
        })
    }

    /// The fan chart, when asked with `fan_chart(true)`.
    pub fn fan_chart(&self) -> Option<&FanChart> {
        self.fan.as_ref()
    }
}

/// Draws `n_paths` paths of `model`, values the buy-and-hold `portfolio` along each, and
/// returns the distribution of its horizon return.
///
/// The token is checked between chunks of paths; the observer's `on_step(1, chunk, chunks)`
/// is called after each chunk and its `on_epoch` once with the result.
///
/// ```
/// use fundalloc_core_types::{CancelToken, NoObserver};
/// use fundalloc_simulation::{Gbm, Portfolio, SimulationParams, simulate};
/// let model = Gbm::new(0.07, 0.2)?;
/// let params = SimulationParams::default().n_paths(4_000).steps(12).steps_per_year(12.0);
/// let sim = simulate(&model, &Portfolio::single(1, 0)?, params, &CancelToken::new(), &mut NoObserver)?;
/// let tail = sim.tail(0.95)?;
/// assert!(tail.cvar.value > tail.var.value);
/// # Ok::<(), fundalloc_simulation::SimulationError>(())
/// ```
///
/// # Errors
/// `InvalidParameter` or `TooLarge` from the parameters (and `antithetic` with the bootstrap,
/// which has no antithetic variates), `ShapeMismatch` when the portfolio's weights do not
/// match the model's assets, `Cancelled` when the token stops it.
pub fn simulate<M: PathModel + ?Sized>(
    model: &M,
    portfolio: &Portfolio,
    params: impl ParamGuard<Checked = SimulationValidParams, Error = crate::SimulationError>,
    token: &CancelToken,
    observer: &mut impl Observer<Simulation>,
) -> Result<Simulation> {
    simulate_round(model, portfolio, params.check()?, token, observer, 1)
}

pub(crate) fn simulate_round<M: PathModel + ?Sized>(
    model: &M,
    portfolio: &Portfolio,
    params: SimulationValidParams,
    token: &CancelToken,
    observer: &mut impl Observer<Simulation>,
    round: usize,
) -> Result<Simulation> {
    let d = model.n_assets();
    ShapeMismatch::check_len("portfolio weights", d, portfolio.weights().len())?;
    let prepared = model.prepare(params.dt());
    if params.antithetic() && matches!(prepared, Prepared::Bootstrap { .. }) {
        return Err(InvalidParameter::new(
            "antithetic",
            true,
            "is defined for GBM models only, not the bootstrap",
        )
        .into());
    }
    let n_paths = params.n_paths();
    let steps = params.steps();
    let per_draw = if params.antithetic() { 2 } else { 1 };
    let n_draws = n_paths / per_draw;
    let draws_per_chunk = (params.chunk_size() / per_draw).max(1);
    let n_chunks = n_draws.div_ceil(draws_per_chunk);
    let fan_len = steps + 1;
    let keep_fan = params.fan_chart();

    let job = Job {
        prepared: &prepared,
        key: stream_key(params.seed()),
        weights: portfolio.weights(),
        d,
        steps,
        per_draw,
    };
    let mut horizon = vec![0.0; n_paths];
    let mut fan = if keep_fan {
        vec![0.0; n_paths * fan_len]
    } else {
        Vec::new()
    };
    for chunk in 0..n_chunks {
        token.check()?;
        let d0 = chunk * draws_per_chunk;
        let d1 = (d0 + draws_per_chunk).min(n_draws);
        let h = &mut horizon[d0 * per_draw..d1 * per_draw];
        if keep_fan {
            let f = &mut fan[d0 * per_draw * fan_len..d1 * per_draw * fan_len];
            h.par_chunks_mut(per_draw)
                .zip(f.par_chunks_mut(per_draw * fan_len))
                .enumerate()
                .for_each_init(
                    || Scratch::new(d),
                    |s, (i, (h, f))| job.draw((d0 + i) as u64, h, Some(f), s),
                );
        } else {
            h.par_chunks_mut(per_draw).enumerate().for_each_init(
                || Scratch::new(d),
                |s, (i, h)| job.draw((d0 + i) as u64, h, None, s),
            );
        }
        observer.on_step(round, chunk + 1, n_chunks);
    }

    let n = n_paths as f64;
    let mean = horizon.iter().sum::<f64>() / n;
    let (m2, m4) = horizon.iter().fold((0.0, 0.0), |(a, b), r| {
        let e = (r - mean) * (r - mean);
        (a + e, b + e * e)
    });
    let sd = (m2 / (n - 1.0).max(1.0)).sqrt();
    let se_mean = if per_draw == 2 {
        let pairs = horizon.len() / 2;
        let pm: Vec<f64> = horizon
            .chunks_exact(2)
            .map(|p| 0.5 * (p[0] + p[1]))
            .collect();
        let pmean = pm.iter().sum::<f64>() / pairs as f64;
        let pvar = pm.iter().map(|x| (x - pmean) * (x - pmean)).sum::<f64>()
            / (pairs as f64 - 1.0).max(1.0);
        (pvar / pairs as f64).sqrt()
    } else {
        sd / n.sqrt()
    };
    let (pop_var, pop_m4) = (m2 / n, m4 / n);
    let se_sd = if sd > 0.0 {
        ((pop_m4 - pop_var * pop_var).max(0.0) / (4.0 * sd * sd * n)).sqrt()
    } else {
        0.0
    };
    horizon.par_sort_unstable_by(f64::total_cmp);

    let fan_chart = if keep_fan {
        token.check()?;
        let levels = params.fan_levels().to_vec();
        let rows: Vec<Vec<f64>> = (0..fan_len)
            .into_par_iter()
            .map_init(
                || Vec::with_capacity(n_paths),
                |column, t| {
                    column.clear();
                    column.extend((0..n_paths).map(|p| fan[p * fan_len + t]));
                    column.sort_unstable_by(f64::total_cmp);
                    levels
                        .iter()
                        .map(|&l| percentile_sorted(column, l))
                        .collect()
                },
            )
            .collect();
        drop(fan);
        let mut values = Array2::zeros((fan_len, levels.len()));
        for (t, row) in rows.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                values[[t, j]] = *v;
            }
        }
        Some(FanChart {
            levels,
            values,
            steps_per_year: params.steps_per_year(),
        })
    } else {
        None
    };

    let sim = Simulation {
        sorted: horizon,
        expected_return: Estimate::new(mean, se_mean),
        volatility: Estimate::new(sd, se_sd),
        horizon_years: params.horizon_years(),
        steps,
        fan: fan_chart,
    };
    observer.on_epoch(&sim);
    Ok(sim)
}

/// The ChaCha key of a seed (expanded with `SeedableRng::seed_from_u64`'s PCG32); the stream
/// number is the draw's index.
fn stream_key(seed: u64) -> [u8; 32] {
    let mut key = [0u8; 32];
    rand::rngs::ChaCha8Rng::seed_from_u64(seed).fill_bytes(&mut key);
    key
}

/// Per-thread buffers.
struct Scratch {
    acc: Vec<f64>,
}

impl Scratch {
    fn new(d: usize) -> Self {
        Self { acc: vec![0.0; d] }
    }
}

/// What every path of one simulation shares.
struct Job<'a> {
    prepared: &'a Prepared<'a>,
    key: [u8; 32],
    weights: &'a [f64],
    d: usize,
    steps: usize,
    per_draw: usize,
}

impl Job<'_> {
    /// Draw number `draw`: one path, or an antithetic pair; writes the horizon returns to
    /// `out` and, with a fan chart, each step's return to `fan`.
    fn draw(&self, draw: u64, out: &mut [f64], fan: Option<&mut [f64]>, s: &mut Scratch) {
        let mut rng = ChaCha8Rng::from_seed(self.key);
        rng.set_stream(draw);
        let (d, steps, w) = (self.d, self.steps, self.weights);
        match self.prepared {
            Prepared::Gbm { drift, a } => {
                // Σ_t z_t per asset; x_i(t) = t·drift_i ± Σ_k a_ik Σ_{s≤t} z_k,s: exact, as
                // the increments are linear in z.
                let sumz = &mut s.acc;
                sumz.fill(0.0);
                let value = |t: f64, sign: f64, sumz: &[f64]| -> f64 {
                    (0..d)
                        .map(|i| {
                            let lin: f64 = (0..=i).map(|k| a[i * d + k] * sumz[k]).sum();
                            w[i] * (t * drift[i] + sign * lin).exp()
                        })
                        .sum::<f64>()
                        - 1.0
                };
                match fan {
                    None => {
                        for _ in 0..steps {
                            for z in sumz.iter_mut() {
                                *z += <StandardNormal as Distribution<f64>>::sample(
                                    &StandardNormal,
                                    &mut rng,
                                );
                            }
                        }
                    }
                    Some(fan) => {
                        let len = steps + 1;
                        for t in 1..=steps {
                            for z in sumz.iter_mut() {
                                *z += <StandardNormal as Distribution<f64>>::sample(
                                    &StandardNormal,
                                    &mut rng,
                                );
                            }
                            fan[t] = value(t as f64, 1.0, sumz);
                            if self.per_draw == 2 {
                                fan[len + t] = value(t as f64, -1.0, sumz);
                            }
                        }
                    }
                }
                let t = steps as f64;
                out[0] = value(t, 1.0, sumz);
                if self.per_draw == 2 {
                    out[1] = value(t, -1.0, sumz);
                }
            }
            Prepared::Bootstrap {
                returns,
                n_rows,
                p_new_block,
            } => {
                let acc = &mut s.acc;
                acc.fill(0.0);
                let value = |acc: &[f64]| -> f64 {
                    acc.iter().zip(w).map(|(x, w)| w * x.exp()).sum::<f64>() - 1.0
                };
                let n_rows = *n_rows;
                let mut j = rng.random_range(0..n_rows);
                let mut fan = fan;
                for t in 0..steps {
                    if t > 0 {
                        if rng.random::<f64>() < *p_new_block {
                            j = rng.random_range(0..n_rows);
                        } else {
                            j += 1;
                            if j == n_rows {
                                j = 0;
                            }
                        }
                    }
                    for (x, r) in acc.iter_mut().zip(&returns[j * d..(j + 1) * d]) {
                        *x += r;
                    }
                    if let Some(fan) = fan.as_deref_mut() {
                        fan[t + 1] = value(acc);
                    }
                }
                out[0] = value(acc);
            }
        }
    }
}
