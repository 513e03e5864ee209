//! The revenue-model file loader: any bytes give a model or a typed error, never an abort.
#![no_main]
use fundalloc_revenue_model::RevenueModel;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = RevenueModel::from_bytes(data);
});
