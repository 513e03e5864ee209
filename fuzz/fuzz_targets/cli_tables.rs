//! The `fundalloc` CLI's CSV readers (customers, funds, revenue matrix, feature table). The CLI
//! is a binary, so its reader modules are compiled into this target from their source files.
//! The first byte picks the reader; the rest is the file.
#![no_main]
#![allow(dead_code, unreachable_pub)]
use fundalloc_revenue_model::{FeatureSchema, Side};
use libfuzzer_sys::fuzz_target;

#[path = "../../crates/cli/src/features.rs"]
mod features;
#[path = "../../crates/cli/src/input.rs"]
mod input;
#[path = "../../crates/cli/src/npy.rs"]
mod npy;
#[path = "common/scratch.rs"]
mod scratch;

fuzz_target!(|data: &[u8]| {
    let Some((&which, file)) = data.split_first() else {
        return;
    };
    let path = scratch::write("table.csv", file);
    match which % 4 {
        0 => {
            let _ = input::read_customers(&path);
        }
        1 => {
            let _ = input::read_funds(&path);
        }
        2 => {
            let c = scratch::write(
                "customers.csv",
                b"customer_id,risk_tolerance\nc1,3\n\"c,2\",5\n",
            );
            let f = scratch::write(
                "funds.csv",
                b"fund_id,risk_level,exposure\nf1,1,1\nf2,5,1\n",
            );
            let customers = input::read_customers(&c).expect("fixed customers");
            let funds = input::read_funds(&f).expect("fixed funds");
            let _ = input::read_revenue_csv(&path, &customers, &funds);
        }
        _ => {
            let schema = FeatureSchema::builder()
                .categorical_levels("segment", ["a", "b"], Side::Customer)
                .categorical("region", 4, Side::Customer)
                .numeric("age", Side::Customer, false)
                .build()
                .expect("fixed schema");
            let _ = features::read_feature_table(&path, &schema, Side::Customer);
        }
    }
});
