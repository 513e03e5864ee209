//! revenue-model's CSV loaders (`load_csv`, `read_csv_levels`) on a fixed schema: one customer
//! feature by level name, one fund feature by integer code, one numeric feature, two labels.
#![no_main]
use fundalloc_revenue_model::{FeatureSchema, LabelColumns, Side, load_csv, read_csv_levels};
use libfuzzer_sys::fuzz_target;

#[path = "common/scratch.rs"]
mod scratch;

fuzz_target!(|data: &[u8]| {
    let path = scratch::write("revenue.csv", data);
    let _ = read_csv_levels(&path, &["segment", "fund"]);
    let schema = FeatureSchema::builder()
        .categorical_levels("segment", ["a", "b"], Side::Customer)
        .categorical("fund", 3, Side::Fund)
        .numeric("age", Side::Customer, false)
        .build()
        .expect("fixed schema");
    let _ = load_csv(&path, &schema, &LabelColumns::new("converted", "revenue"));
});
