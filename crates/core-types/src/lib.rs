#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod allocation;
mod cancel;
mod entity;
mod error;
mod id;
mod leaf;
mod observer;
mod params;
mod real;
mod revenue;
mod risk;
mod series;

pub use allocation::Allocation;
pub use cancel::CancelToken;
pub use entity::{Customer, Fund, check_unique_customer_ids, check_unique_fund_ids};
pub use error::{CoreError, Result};
pub use id::{CustomerId, FundId};
pub use leaf::{Cancelled, Empty, InvalidParameter, NonFinite, Position, ShapeMismatch, TooLarge};
pub use observer::{NoObserver, Observer};
pub use params::{ParamGuard, check};
pub use real::Real;
pub use revenue::RevenueMatrix;
pub use risk::RiskLevel;
pub use series::{
    ChronoSplit, PriceSeries, Segment, StandardScaler, Window, WindowSpec, WindowedSeries,
};

/// The types most programs need: `use fundalloc_core_types::prelude::*;`.
pub mod prelude {
    pub use crate::{
        Allocation, CancelToken, ChronoSplit, CoreError, Customer, CustomerId, Fund, FundId,
        NoObserver, Observer, ParamGuard, PriceSeries, Real, RevenueMatrix, RiskLevel, Segment,
        StandardScaler, WindowSpec, WindowedSeries,
    };
}
