//! The checked parameters of [`simulate`](crate::simulate).

use fundalloc_core_types::{InvalidParameter, ParamGuard, TooLarge, check};

use crate::{Result, SimulationError};

/// The largest `n_paths × steps` one simulation accepts (2^36 ≈ 6.9·10^10 drawn steps, hours
/// of CPU time): larger requests are refused with [`TooLarge`] before anything is allocated.
pub const MAX_PATH_STEPS: u128 = 1 << 36;

/// The largest number of paths (each keeps one `f64` horizon return: 2^28 paths = 2 GiB).
pub const MAX_PATHS: u128 = 1 << 28;

/// The largest fan-chart buffer, `n_paths × (steps + 1)` values of 8 bytes (2^28 = 2 GiB).
pub const MAX_FAN_CELLS: u128 = 1 << 28;

/// Unchecked parameters of [`simulate`](crate::simulate): build with `Default` and the setters,
/// then pass to `simulate`, which checks them.
///
/// ```
/// use fundalloc_simulation::SimulationParams;
/// let params = SimulationParams::default().n_paths(20_000).steps(252).seed(7).antithetic(true);
/// # let _ = params;
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimulationParams(SimulationValidParams);

/// Checked parameters of [`simulate`](crate::simulate); only [`SimulationParams::check`] makes
/// one.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulationValidParams {
    n_paths: usize,
    steps: usize,
    steps_per_year: f64,
    seed: u64,
    antithetic: bool,
    chunk_size: usize,
    fan_chart: bool,
    fan_levels: Vec<f64>,
}

impl Default for SimulationValidParams {
    fn default() -> Self {
        Self {
            n_paths: 100_000,
            steps: 252,
            steps_per_year: 252.0,
            seed: 0,
            antithetic: false,
            chunk_size: 16_384,
            fan_chart: false,
            fan_levels: vec![0.05, 0.25, 0.5, 0.75, 0.95],
        }
    }
}

impl SimulationValidParams {
    /// Number of simulated paths (default 100,000).
    pub fn n_paths(&self) -> usize {
        self.n_paths
    }

    /// Steps to the horizon (default 252: one year of trading days).
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Steps per year, so one step lasts `dt = 1 / steps_per_year` years (default 252). The
    /// GBM drift and volatility are per year; the bootstrap ignores it (one step is one
    /// historical return).
    pub fn steps_per_year(&self) -> f64 {
        self.steps_per_year
    }

    /// The horizon in years, `steps / steps_per_year`.
    pub fn horizon_years(&self) -> f64 {
        self.steps as f64 / self.steps_per_year
    }

    /// The seed: with the path index it keys each path's random stream (default 0).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Whether paths come in antithetic pairs (`z`, `−z`) (default false; GBM only).
    pub fn antithetic(&self) -> bool {
        self.antithetic
    }

    /// Paths per chunk: the unit of parallel work, of cancellation checks and of progress
    /// reports (default 16,384).
    pub fn chunk_size(&self) -> usize {
        self.chunk_size
    }

    /// Whether the per-step percentiles (fan chart) are kept (default false).
    pub fn fan_chart(&self) -> bool {
        self.fan_chart
    }

    /// The percentile levels of the fan chart, each in (0, 1) (default 5, 25, 50, 75, 95 %).
    pub fn fan_levels(&self) -> &[f64] {
        &self.fan_levels
    }

    /// The step length in years.
    pub(crate) fn dt(&self) -> f64 {
        1.0 / self.steps_per_year
    }
}

impl SimulationParams {
    /// Sets the number of paths (at least 1; even with antithetic variates).
    #[must_use]
    pub fn n_paths(mut self, n_paths: usize) -> Self {
        self.0.n_paths = n_paths;
        self
    }

    /// Sets the steps to the horizon (at least 1).
    #[must_use]
    pub fn steps(mut self, steps: usize) -> Self {
        self.0.steps = steps;
        self
    }

    /// Sets the steps per year (finite, > 0).
    #[must_use]
    pub fn steps_per_year(mut self, steps_per_year: f64) -> Self {
        self.0.steps_per_year = steps_per_year;
        self
    }

    /// Sets the seed.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.0.seed = seed;
        self
    }

    /// Turns antithetic variates on or off.
    #[must_use]
    pub fn antithetic(mut self, antithetic: bool) -> Self {
        self.0.antithetic = antithetic;
        self
    }

    /// Sets the paths per chunk (at least 1).
    #[must_use]
    pub fn chunk_size(mut self, chunk_size: usize) -> Self {
        self.0.chunk_size = chunk_size;
        self
    }

    /// Keeps the per-step percentiles (fan chart): costs `n_paths × (steps + 1) × 8` bytes
    /// while simulating.
    #[must_use]
    pub fn fan_chart(mut self, fan_chart: bool) -> Self {
        self.0.fan_chart = fan_chart;
        self
    }

    /// Sets the fan chart's percentile levels (each in (0, 1), at least one).
    #[must_use]
    pub fn fan_levels(mut self, fan_levels: impl Into<Vec<f64>>) -> Self {
        self.0.fan_levels = fan_levels.into();
        self
    }
}

impl ParamGuard for SimulationParams {
    type Checked = SimulationValidParams;
    type Error = SimulationError;

    fn check_ref(&self) -> Result<&SimulationValidParams> {
        let p = &self.0;
        check::at_least("n_paths", p.n_paths, 1)?;
        check::at_least("steps", p.steps, 1)?;
        check::positive("steps_per_year", p.steps_per_year)?;
        check::at_least("chunk_size", p.chunk_size, 1)?;
        if p.antithetic && !p.n_paths.is_multiple_of(2) {
            return Err(InvalidParameter::new(
                "n_paths",
                p.n_paths,
                "must be even with antithetic variates (paths come in pairs)",
            )
            .into());
        }
        TooLarge::check("n_paths", p.n_paths as u128, MAX_PATHS)?;
        TooLarge::check(
            "n_paths × steps",
            p.n_paths as u128 * p.steps as u128,
            MAX_PATH_STEPS,
        )?;
        if p.fan_chart {
            TooLarge::check(
                "fan chart n_paths × (steps + 1)",
                p.n_paths as u128 * (p.steps as u128 + 1),
                MAX_FAN_CELLS,
            )?;
            if p.fan_levels.is_empty() {
                return Err(fundalloc_core_types::Empty::new("fan_levels").into());
            }
            for &level in &p.fan_levels {
                check::in_open_unit("fan_levels", level)?;
            }
        }
        Ok(p)
    }

    fn check(self) -> Result<SimulationValidParams> {
        self.check_ref()?;
        Ok(self.0)
    }
}

fundalloc_core_types::checked_params!(SimulationValidParams, SimulationError);
