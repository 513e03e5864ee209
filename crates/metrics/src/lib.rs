#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod auc;
mod check;
mod decision;
mod error;
mod gain;
mod interval;
mod online;
mod regression;
mod regret;

pub use auc::{MAX_PARTS, MannWhitney, labels_from_01, mann_whitney, roc_auc};
pub use decision::{
    ConstraintSense, constraint_satisfaction_rate, objective_ratio, satisfaction_rate,
};
pub use error::{MetricsError, Result};
pub use fundalloc_core_types::Real;
pub use gain::{
    CalibrationBin, Gini, calibration_table, cumulative_gain, decile_table, normalized_gini,
};
pub use interval::{
    IntervalSummary, interval_coverage, interval_coverage_by_column, interval_summary,
    mean_interval_width,
};
pub use online::{OnlineMetrics, cpme, online_metrics, rpme};
pub use regression::{mae, mse, rmse};
pub use regret::{RegretSummary, SIMPLEX_TOLERANCE, WindowRegret, mean_regret, window_regret};

/// Everything at once: `use fundalloc_metrics::prelude::*;`.
pub mod prelude {
    pub use crate::{
        ConstraintSense, MetricsError, calibration_table, constraint_satisfaction_rate, cpme,
        cumulative_gain, decile_table, interval_coverage, interval_summary, mae, mann_whitney,
        mean_interval_width, mean_regret, mse, normalized_gini, objective_ratio, online_metrics,
        rmse, roc_auc, rpme, window_regret,
    };
}
