//! Replays every committed fuzz corpus file (`fuzz/corpus/<target>/`) through the same library
//! call as its cargo-fuzz target (`fuzz/fuzz_targets/<target>.rs`), on stable, so CI fails when a
//! once-found input panics again. Each call must return (Ok or a typed error); a panic fails.
//!
//! `FUZZ_WRITE_SEEDS=1 cargo test -p fundalloc-integration-tests --test fuzz_corpus` (re)writes the
//! seed inputs (`seed-*` files: valid messages, a generated case base, a tiny trained model, a
//! price CSV) from which the fuzzers start.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use fundalloc_cbr_advisor::{CaseBase, GeneratorParams, Limits, generate_case_base};
use fundalloc_cbr_advisor::{RetainRequest, parse_message, parse_response};
use fundalloc_revenue_model::prelude::*;
use fundalloc_revenue_model::read_csv_levels;
use fundalloc_timeseries_pno::read_csv_column;
use ndarray::{Array1, Array2};

fn corpus(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

/// Every file of a target's corpus; the corpus must not be empty (a renamed folder would
/// otherwise replay nothing and pass).
fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = corpus(target);
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

fn replay(target: &str, call: impl Fn(&[u8])) {
    for (path, bytes) in inputs(target) {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| call(&bytes)));
        assert!(outcome.is_ok(), "{target}: {} panicked", path.display());
    }
}

#[test]
fn request_parser_corpus() {
    replay("request_parser", |d| {
        let _ = parse_message(d, &Limits::default());
    });
}

#[test]
fn answer_parser_corpus() {
    replay("answer_parser", |d| {
        if let Ok(text) = std::str::from_utf8(d) {
            let _ = parse_response(text);
        }
    });
}

#[test]
fn casebase_json_corpus() {
    replay("casebase_json", |d| {
        let _ = CaseBase::from_json(d);
    });
}

#[test]
fn model_file_corpus() {
    replay("model_file", |d| {
        let _ = RevenueModel::from_bytes(d);
    });
}

#[test]
fn price_csv_corpus() {
    replay("price_csv", |d| {
        let _ = read_csv_column(d, "close", "fuzz");
    });
}

#[test]
fn revenue_csv_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("revenue.csv");
    let schema = FeatureSchema::builder()
        .categorical_levels("segment", ["a", "b"], Side::Customer)
        .categorical("fund", 3, Side::Fund)
        .numeric("age", Side::Customer, false)
        .build()
        .unwrap();
    replay("revenue_csv", |d| {
        std::fs::write(&path, d).unwrap();
        let _ = read_csv_levels(&path, &["segment", "fund"]);
        let _ = load_csv(&path, &schema, &LabelColumns::new("converted", "revenue"));
    });
}

fn write_seed(target: &str, name: &str, bytes: &[u8]) {
    let dir = corpus(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
}

/// Writes the seed inputs when `FUZZ_WRITE_SEEDS` is set; otherwise checks they are there.
#[test]
fn seeds() {
    if std::env::var_os("FUZZ_WRITE_SEEDS").is_none() {
        for t in [
            "request_parser",
            "answer_parser",
            "casebase_json",
            "model_file",
            "price_csv",
            "revenue_csv",
        ] {
            assert!(
                inputs(t).iter().any(|(p, _)| p
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("seed-")),
                "{t} has no seed"
            );
        }
        return;
    }
    // The heavy request and the protocol's other request forms.
    write_seed(
        "request_parser",
        "heavy",
        b"01\nQ1\nC0000003\nNULL\nA\n100000\nNULL\n1000\n.\n",
    );
    write_seed(
        "request_parser",
        "small",
        b"01\nQ2\nC0000001\nNULL\nA\n10\n5\n3\n.\n",
    );
    write_seed(
        "answer_parser",
        "answer",
        b"A1\nQ1\nBOND01;0.5;0.25;0.1;NULL\nEQTY02;0.25;0.125;NULL;0.3\n.\n",
    );
    write_seed("answer_parser", "error", b"E1\nQ1\n40\ndeadline\n.\n");
    let base = generate_case_base(GeneratorParams::new(20, 6, 1)).unwrap();
    let customer = base.to_data().customers[0].clone();
    let retain = RetainRequest::new("R1", customer).encode().unwrap();
    write_seed("request_parser", "retain", retain.as_bytes());
    let mut json = Vec::new();
    base.to_json(&mut json).unwrap();
    write_seed("casebase_json", "generated", &json);
    write_seed(
        "price_csv",
        "prices",
        b"date,close\n2020-01-01,100.5\n2020-01-02,101.25\n2020-01-03,99.75\n",
    );
    // A tiny model trained for one epoch.
    let schema = FeatureSchema::builder()
        .categorical("segment", 2, Side::Customer)
        .numeric("x", Side::Customer, false)
        .categorical("fund", 2, Side::Fund)
        .embedding_dim(2)
        .build()
        .unwrap();
    let n = 16;
    let cat = Array2::from_shape_fn((n, 2), |(i, j)| ((i >> j) % 2) as u32);
    let num = Array2::from_shape_fn((n, 1), |(i, _)| i as f32 / 8.0);
    let converted = Array1::from_shape_fn(n, |i| i % 2 == 1);
    let revenue = Array1::from_shape_fn(n, |i| if i % 2 == 1 { 5.0 + i as f32 } else { 0.0 });
    let data = ExposureDataset::new(schema, cat, num, converted, revenue).unwrap();
    let params = TrainParams::default()
        .hidden(vec![4])
        .batch_size(8)
        .max_epochs(1);
    let (model, _) = fit(
        ModelKind::EntireSpaceLogNormal,
        params,
        &data,
        None,
        &mut NoObserver,
    )
    .unwrap();
    write_seed("model_file", "tiny", &model.to_bytes());
}
