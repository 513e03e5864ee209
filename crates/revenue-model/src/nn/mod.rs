//! Burn building blocks and losses (crate-internal: burn types stay inside the crate).

pub(crate) mod blocks;
pub(crate) mod loss;
