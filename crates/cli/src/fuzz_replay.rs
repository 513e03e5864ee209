//! Replays the committed corpora of the `cli_tables` and `cli_npy` fuzz targets
//! (`fuzz/corpus/`, see docs/reliability.md) through the same reader calls, on stable, so CI
//! fails when a once-found input panics or hangs again. The targets compile these reader
//! modules from source (the CLI is a binary), so the calls here are theirs.

use std::path::{Path, PathBuf};

use fundalloc_revenue_model::{FeatureSchema, Side};

use crate::{features, input};

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

/// Each input must return within 2 s (a typed error or a value) without panicking.
fn replay(target: &str, call: impl Fn(&Path, &[u8])) {
    let dir = tempfile::tempdir().unwrap();
    for (path, bytes) in inputs(target) {
        let t0 = std::time::Instant::now();
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| call(dir.path(), &bytes)));
        assert!(outcome.is_ok(), "{target}: {} panicked", path.display());
        let took = t0.elapsed();
        assert!(
            took < std::time::Duration::from_secs(2),
            "{target}: {} took {took:?}",
            path.display()
        );
    }
}

#[test]
fn cli_tables_corpus() {
    replay("cli_tables", |dir, data| {
        let Some((&which, file)) = data.split_first() else {
            return;
        };
        let path = dir.join("table.csv");
        std::fs::write(&path, file).unwrap();
        match which % 4 {
            0 => drop(input::read_customers(&path)),
            1 => drop(input::read_funds(&path)),
            2 => {
                let c = dir.join("customers.csv");
                let f = dir.join("funds.csv");
                std::fs::write(&c, b"customer_id,risk_tolerance\nc1,3\n\"c,2\",5\n").unwrap();
                std::fs::write(&f, b"fund_id,risk_level,exposure\nf1,1,1\nf2,5,1\n").unwrap();
                let customers = input::read_customers(&c).unwrap();
                let funds = input::read_funds(&f).unwrap();
                drop(input::read_revenue_csv(&path, &customers, &funds));
            }
            _ => {
                let schema = FeatureSchema::builder()
                    .categorical_levels("segment", ["a", "b"], Side::Customer)
                    .categorical("region", 4, Side::Customer)
                    .numeric("age", Side::Customer, false)
                    .build()
                    .unwrap();
                drop(features::read_feature_table(&path, &schema, Side::Customer));
            }
        }
    });
}

#[test]
fn cli_npy_corpus() {
    replay("cli_npy", |dir, data| {
        let [u, f, file @ ..] = data else {
            return;
        };
        let path = dir.join("revenue.npy");
        std::fs::write(&path, file).unwrap();
        drop(input::read_npy(
            &path,
            usize::from(u % 16),
            usize::from(f % 16),
        ));
    });
}
