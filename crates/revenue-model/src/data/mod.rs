//! Features, datasets, CSV loading and the synthetic campaign.

pub(crate) mod csv_load;
pub(crate) mod dataset;
pub(crate) mod schema;
pub(crate) mod synthetic;
