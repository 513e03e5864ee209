#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod allocation;
mod entity;
mod error;
mod id;
mod real;
mod revenue;
mod risk;
mod series;

pub use allocation::Allocation;
pub use entity::{Customer, Fund, check_unique_customer_ids, check_unique_fund_ids};
pub use error::{CoreError, Result};
pub use id::{CustomerId, FundId};
pub use real::Real;
pub use revenue::RevenueMatrix;
pub use risk::RiskLevel;
pub use series::{
    ChronoSplit, PriceSeries, Segment, StandardScaler, Window, WindowSpec, WindowedSeries,
};

/// The types most programs need: `use fundalloc_core_types::prelude::*;`.
pub mod prelude {
    pub use crate::{
        Allocation, ChronoSplit, CoreError, Customer, CustomerId, Fund, FundId, PriceSeries, Real,
        RevenueMatrix, RiskLevel, Segment, StandardScaler, WindowSpec, WindowedSeries,
    };
}
