//! `fundalloc allocate --prices-out / --warm-from / --warm-prices` and `fundalloc assign`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn fundalloc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fundalloc"))
        .args(args)
        .output()
        .unwrap()
}

fn ok_json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A 6 × 3 instance: customers c1..c6, funds a (risk 1), b (risk 1), c (risk 3).
fn instance(dir: &Path, exposure: [u64; 3]) -> (PathBuf, PathBuf, PathBuf) {
    let customers = write(
        dir,
        "customers.csv",
        "customer_id,risk_tolerance\nc1,5\nc2,5\nc3,1\nc4,3\nc5,5\nc6,2\n",
    );
    let funds = write(
        dir,
        "funds.csv",
        &format!(
            "fund_id,risk_level,exposure\na,1,{}\nb,1,{}\nc,3,{}\n",
            exposure[0], exposure[1], exposure[2]
        ),
    );
    let e = write(
        dir,
        "E.csv",
        "customer_id,a,b,c\nc1,5,4,9\nc2,3,1,2\nc3,2,6,7\nc4,1,1,8\nc5,4,4,4\nc6,7,2,1\n",
    );
    (customers, funds, e)
}

#[test]
fn prices_out_then_assign_streams_customers() {
    let dir = tempfile::tempdir().unwrap();
    let (customers, funds, e) = instance(dir.path(), [2, 2, 2]);
    let prices = dir.path().join("prices.json");
    let out = fundalloc(&[
        "allocate",
        "--revenue",
        s(&e),
        "--customers",
        s(&customers),
        "--funds",
        s(&funds),
        "--prices-out",
        s(&prices),
    ]);
    let j = ok_json(&out);
    assert!(j["gap"].as_f64().unwrap().abs() < 1e-9);
    let text = std::fs::read_to_string(&prices).unwrap();
    let file: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(file["format"], "fundalloc-prices/1");
    assert_eq!(file["fund_ids"], serde_json::json!(["a", "b", "c"]));
    assert_eq!(file["prices"]["prices"].as_array().unwrap().len(), 3);

    // Arrivals: columns in another order, an extra column.
    let arrivals = write(
        dir.path(),
        "arrivals.csv",
        "note,c,b,a,risk_tolerance,customer_id\nx,9,0,0,5,n1\ny,0,0,9,1,n2\nz,9,9,9,2,n3\n",
    );
    let assigned = dir.path().join("assigned.csv");
    let j = ok_json(&fundalloc(&[
        "assign",
        "--prices",
        s(&prices),
        "--customers",
        s(&arrivals),
        "--out",
        s(&assigned),
    ]));
    assert_eq!(j["customers"], 3);
    let rows = std::fs::read_to_string(&assigned).unwrap();
    let lines: Vec<&str> = rows.lines().collect();
    assert_eq!(lines[0], "customer_id,fund_id");
    assert_eq!(lines.len(), 4);
    assert!(lines.contains(&"n2,a"), "{rows}");
    // n3 has tolerance 2: fund c (risk 3) is not allowed.
    assert!(!lines.contains(&"n3,c"), "{rows}");

    // Remaining exposure 0 for a: n2 must go elsewhere; c is closed too.
    let remaining = write(
        dir.path(),
        "remaining.csv",
        "fund_id,exposure\na,0\nb,5\nc,0\n",
    );
    let j = ok_json(&fundalloc(&[
        "assign",
        "--prices",
        s(&prices),
        "--customers",
        s(&arrivals),
        "--out",
        s(&assigned),
        "--remaining",
        s(&remaining),
    ]));
    assert_eq!(j["loads"]["a"], 0);
    assert_eq!(j["loads"]["c"], 0);
    assert_eq!(j["loads"]["b"], 3);
}

#[test]
fn assign_rejects_bad_input_and_keeps_the_previous_output() {
    let dir = tempfile::tempdir().unwrap();
    let (customers, funds, e) = instance(dir.path(), [2, 2, 2]);
    let prices = dir.path().join("prices.json");
    ok_json(&fundalloc(&[
        "allocate",
        "--revenue",
        s(&e),
        "--customers",
        s(&customers),
        "--funds",
        s(&funds),
        "--prices-out",
        s(&prices),
    ]));
    let assigned = write(dir.path(), "assigned.csv", "old\n");
    let bad = write(
        dir.path(),
        "bad.csv",
        "customer_id,risk_tolerance,a,b,c\nn1,5,1,2,3\nn2,5,1,NaN,3\n",
    );
    let out = fundalloc(&[
        "assign",
        "--prices",
        s(&prices),
        "--customers",
        s(&bad),
        "--out",
        s(&assigned),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.csv:3"), "{err}");
    assert_eq!(std::fs::read_to_string(&assigned).unwrap(), "old\n");
    // A missing fund column.
    let missing = write(
        dir.path(),
        "missing.csv",
        "customer_id,risk_tolerance,a,b\nn1,5,1,2\n",
    );
    let out = fundalloc(&[
        "assign",
        "--prices",
        s(&prices),
        "--customers",
        s(&missing),
        "--out",
        s(&assigned),
    ]);
    assert_eq!(out.status.code(), Some(2));
    // Hostile prices files.
    for text in [
        "{",
        "{\"format\":\"fundalloc-prices/1\",\"fund_ids\":[\"a\"],\"prices\":{\"prices\":[1e999],\"fund_risk\":[1],\"exposure\":[{\"min\":0,\"max\":1}],\"rule\":{\"Exactly\":1},\"customers\":1}}",
    ] {
        let p = write(dir.path(), "hostile.json", text);
        let out = fundalloc(&[
            "assign",
            "--prices",
            s(&p),
            "--customers",
            s(&bad),
            "--out",
            s(&assigned),
        ]);
        assert_eq!(out.status.code(), Some(2), "{text}");
    }
    // --prices-out needs the exact solver.
    let out = fundalloc(&[
        "allocate",
        "--revenue",
        s(&e),
        "--customers",
        s(&customers),
        "--funds",
        s(&funds),
        "--solver",
        "heuristic",
        "--prices-out",
        s(&prices),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn warm_from_a_previous_run_gives_the_cold_optimum() {
    let dir = tempfile::tempdir().unwrap();
    let (customers, funds, e) = instance(dir.path(), [2, 2, 2]);
    let prices = dir.path().join("prices.json");
    let previous = dir.path().join("previous.csv");
    ok_json(&fundalloc(&[
        "allocate",
        "--revenue",
        s(&e),
        "--customers",
        s(&customers),
        "--funds",
        s(&funds),
        "--prices-out",
        s(&prices),
        "--out",
        s(&previous),
    ]));
    // The quotas change.
    let (customers, funds, e) = instance(dir.path(), [3, 1, 2]);
    let cold = ok_json(&fundalloc(&[
        "allocate",
        "--revenue",
        s(&e),
        "--customers",
        s(&customers),
        "--funds",
        s(&funds),
    ]));
    let warm = ok_json(&fundalloc(&[
        "allocate",
        "--revenue",
        s(&e),
        "--customers",
        s(&customers),
        "--funds",
        s(&funds),
        "--warm-from",
        s(&previous),
        "--warm-prices",
        s(&prices),
    ]));
    assert!(
        (cold["objective"].as_f64().unwrap() - warm["objective"].as_f64().unwrap()).abs() < 1e-9
    );
    assert!(warm["gap"].as_f64().unwrap().abs() < 1e-9);
    // Without prices (previous allocation only) it is still the optimum.
    let warm = ok_json(&fundalloc(&[
        "allocate",
        "--revenue",
        s(&e),
        "--customers",
        s(&customers),
        "--funds",
        s(&funds),
        "--warm-from",
        s(&previous),
    ]));
    assert!(
        (cold["objective"].as_f64().unwrap() - warm["objective"].as_f64().unwrap()).abs() < 1e-9
    );
}
