//! The `fundalloc` binary end to end: good inputs in every format, and each kind of bad file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::json;

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Self {
        let f = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        f.write(
            "customers.csv",
            "customer_id,risk_tolerance\nc1,5\nc2,R5\nc3,1\n",
        );
        f.write(
            "funds.csv",
            "fund_id,risk_level,exposure\nsafe,1,2\nbold,4,1\n",
        );
        f.write("E.csv", "customer_id,safe,bold\nc1,5,4\nc2,3,0\nc3,2,1\n");
        f
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, revenue: &str, extra: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_fundalloc"))
            .arg("allocate")
            .arg("--revenue")
            .arg(self.path(revenue))
            .arg("--customers")
            .arg(self.path("customers.csv"))
            .arg("--funds")
            .arg(self.path("funds.csv"))
            .args(extra)
            .output()
            .unwrap()
    }
}

use common::npy_bytes;

fn bad(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    err
}

#[test]
fn every_solver_on_csv_input() {
    let f = Files::new();
    // Optimum: c1 → bold (4), c2 → safe (3), c3 → safe (2) = 9.
    for (solver, objective, feasible) in [
        ("exact", Some(9.0), true),
        ("ha", None, true),
        ("manual", None, true),
        ("lp", Some(9.0), true),
        ("mip", Some(9.0), true),
        ("greedy", Some(5.0 + 3.0 + 2.0), false),
    ] {
        let v = json(&f.run("E.csv", &["--solver", solver, "--k", "1"]));
        assert_eq!(v["customers"], 3);
        assert_eq!(v["funds"], 2);
        assert_eq!(v["k"], 1);
        assert_eq!(v["feasible"], feasible, "{solver}");
        assert!(v["seconds"].as_f64().unwrap() >= 0.0);
        if let Some(o) = objective {
            assert_eq!(v["objective"].as_f64().unwrap(), o, "{solver}");
        }
        assert!(v["objective"].as_f64().unwrap() <= 10.0);
    }
    let v = json(&f.run("E.csv", &["--solver", "lp"]));
    assert!(v["gap"].as_f64().unwrap() < 1e-9);
    assert_eq!(v["bound"].as_f64().unwrap(), 9.0);
    // The default solver is the exact one, with its certificate's bound and gap.
    let v = json(&f.run("E.csv", &[]));
    assert_eq!(v["solver"], "exact");
    assert_eq!(v["objective"].as_f64().unwrap(), 9.0);
    assert!(v["gap"].as_f64().unwrap() < 1e-9);
}

#[test]
fn npy_input_in_both_precisions_and_assignment_output() {
    let f = Files::new();
    let values = [5.0, 4.0, 3.0, 0.0, 2.0, 1.0];
    let b32: Vec<u8> = values
        .iter()
        .flat_map(|&v| (v as f32).to_le_bytes())
        .collect();
    let b64: Vec<u8> = values.iter().flat_map(|&v: &f64| v.to_le_bytes()).collect();
    std::fs::write(f.path("E32.npy"), npy_bytes("<f4", "(3, 2)", &b32)).unwrap();
    std::fs::write(f.path("E64.npy"), npy_bytes("<f8", "(3, 2)", &b64)).unwrap();
    for name in ["E32.npy", "E64.npy"] {
        let out = f.path("assignment.csv");
        let v = json(&f.run(name, &["--solver", "lp", "--out", out.to_str().unwrap()]));
        assert_eq!(v["objective"].as_f64().unwrap(), 9.0);
        let text = std::fs::read_to_string(&out).unwrap();
        assert_eq!(text, "customer_id,fund_id\nc1,bold\nc2,safe\nc3,safe\n");
    }
    let v = json(&f.run(
        "E64.npy",
        &["--solver", "manual", "--priority", "bold,safe"],
    ));
    assert_eq!(v["objective"].as_f64().unwrap(), 9.0);
}

fn expect_bad(f: &Files, revenue: &str, extra: &[&str], file: &str, needles: &[&str]) {
    let err = bad(&f.run(revenue, extra));
    assert!(err.contains(file), "names the file {file}: {err}");
    for n in needles {
        assert!(err.contains(n), "mentions `{n}`: {err}");
    }
}

#[test]
fn bad_customers_and_funds_files() {
    let f = Files::new();
    f.write("customers.csv", "customer_id,risk\nc1,5\n");
    expect_bad(&f, "E.csv", &[], "customers.csv", &[":1:", "header"]);
    f.write(
        "customers.csv",
        "customer_id,risk_tolerance\nc1,5\nc2,high\nc3,1\n",
    );
    expect_bad(&f, "E.csv", &[], "customers.csv", &[":3:", "high"]);
    f.write(
        "customers.csv",
        "customer_id,risk_tolerance\nc1,5\nc1,5\nc3,1\n",
    );
    expect_bad(&f, "E.csv", &[], "customers.csv", &[":3:", "duplicate"]);
    f.write("customers.csv", "customer_id,risk_tolerance\nc1,5,9\n");
    expect_bad(&f, "E.csv", &[], "customers.csv", &[":2:", "malformed"]);
    let f = Files::new();
    f.write(
        "funds.csv",
        "fund_id,risk_level,exposure\nsafe,1,-2\nbold,4,1\n",
    );
    expect_bad(&f, "E.csv", &[], "funds.csv", &[":2:", "exposure"]);
    f.write("funds.csv", "fund_id,risk_level,exposure\n");
    expect_bad(&f, "E.csv", &[], "funds.csv", &["no funds"]);
    let f = Files::new();
    let err = bad(&f.run("missing.csv", &[]));
    assert!(
        err.contains("missing.csv") && err.contains("cannot open"),
        "{err}"
    );
    expect_bad(
        &f,
        "E.csv",
        &["--solver", "manual", "--priority", "safe,nope"],
        "--priority",
        &["nope"],
    );
}

#[test]
fn bad_revenue_files() {
    let f = Files::new();
    f.write("E.csv", "customer_id,safe,bold\nc1,5,4\nc2,x,0\nc3,2,1\n");
    expect_bad(&f, "E.csv", &[], "E.csv", &[":3:", "`x`"]);
    f.write("E.csv", "customer_id,safe,bold\nc1,5,4\nc2,-3,0\nc3,2,1\n");
    expect_bad(&f, "E.csv", &[], "E.csv", &[":3:", "negative"]);
    f.write("E.csv", "customer_id,safe,bold\nc1,5,4\nc2,NaN,0\nc3,2,1\n");
    expect_bad(&f, "E.csv", &[], "E.csv", &[":3:", "non-finite"]);
    f.write("E.csv", "customer_id,safe,other\nc1,5,4\n");
    expect_bad(&f, "E.csv", &[], "E.csv", &[":1:", "other"]);
    f.write("E.csv", "customer_id,safe,bold\nc1,5,4\nc9,3,0\nc3,2,1\n");
    expect_bad(&f, "E.csv", &[], "E.csv", &[":3:", "c9"]);
    f.write("E.csv", "customer_id,safe,bold\nc1,5,4\nc3,2,1\n");
    expect_bad(&f, "E.csv", &[], "E.csv", &["no row for customer `c2`"]);
    // npy: wrong shape, dtype, truncation, NaN.
    let data: Vec<u8> = [1.0f64; 6].iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(f.path("E.npy"), npy_bytes("<f8", "(2, 3)", &data)).unwrap();
    expect_bad(&f, "E.npy", &[], "E.npy", &["shape 2×3"]);
    std::fs::write(f.path("E.npy"), npy_bytes("<i8", "(3, 2)", &data)).unwrap();
    expect_bad(&f, "E.npy", &[], "E.npy", &["dtype"]);
    std::fs::write(f.path("E.npy"), npy_bytes("<f8", "(3, 2)", &data[..40])).unwrap();
    expect_bad(&f, "E.npy", &[], "E.npy", &["truncated"]);
    let mut nan = data.clone();
    nan[16..24].copy_from_slice(&f64::NAN.to_le_bytes());
    std::fs::write(f.path("E.npy"), npy_bytes("<f8", "(3, 2)", &nan)).unwrap();
    expect_bad(
        &f,
        "E.npy",
        &[],
        "E.npy",
        &["non-finite", "row 1, column 0"],
    );
    std::fs::write(f.path("E.npy"), b"not numpy at all").unwrap();
    expect_bad(&f, "E.npy", &[], "E.npy", &["magic"]);
}

#[test]
fn infeasible_problems_say_which_condition_fails() {
    let f = Files::new();
    f.write(
        "funds.csv",
        "fund_id,risk_level,exposure\nsafe,1,1\nbold,4,2\n",
    );
    // bold needs 2 but only c1, c2 tolerate it: fine; safe 1 + bold 2 = 3 = K·U: fine;
    // now make c2 cautious: bold needs 2, only 1 tolerates.
    f.write(
        "customers.csv",
        "customer_id,risk_tolerance\nc1,5\nc2,1\nc3,1\n",
    );
    let err = bad(&f.run("E.csv", &[]));
    assert!(
        err.contains("fund 1") && err.contains("short by 1"),
        "{err}"
    );
    let f = Files::new();
    let err = bad(&f.run("E.csv", &["--k", "2"]));
    assert!(err.contains("exposures"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_fundalloc"))
        .args(["allocate", "--solver", "simplex"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let _ = Path::new(".");
}

/// Rows in the customers file's order are matched by position, any other order by id: both
/// must give the same allocation, and ids that do not match are still reported.
#[test]
fn csv_revenue_rows_in_any_order_are_matched_by_id() {
    let f = Files::new();
    let (pa, pb) = (f.path("a.csv"), f.path("b.csv"));
    let in_order = json(&f.run("E.csv", &["--out", pa.to_str().unwrap()]));
    let a = std::fs::read_to_string(&pa).unwrap();
    // Same data, rows shuffled (first row in place, then out of order).
    f.write("E2.csv", "customer_id,bold,safe\nc1,4,5\nc3,1,2\nc2,0,3\n");
    let shuffled = json(&f.run("E2.csv", &["--out", pb.to_str().unwrap()]));
    let b = std::fs::read_to_string(&pb).unwrap();
    assert_eq!(in_order["objective"], shuffled["objective"]);
    assert_eq!(a, b);
    assert!(a.contains("c1,") && a.contains("c3,"), "{a}");
    // An unknown id after an in-order prefix, and a missing customer.
    f.write("E2.csv", "customer_id,safe,bold\nc1,5,4\nc9,3,0\nc3,2,1\n");
    expect_bad(&f, "E2.csv", &[], "E2.csv", &[":3:", "`c9`"]);
    f.write("E2.csv", "customer_id,safe,bold\nc1,5,4\nc3,2,1\n");
    expect_bad(&f, "E2.csv", &[], "E2.csv", &["no row", "`c2`"]);
    // A duplicate customer id far from its first occurrence names both lines.
    f.write(
        "customers.csv",
        "customer_id,risk_tolerance\nc1,5\nc2,5\nc3,1\nc2,4\n",
    );
    expect_bad(
        &f,
        "E.csv",
        &[],
        "customers.csv",
        &[":5:", "duplicate id `c2` (first on line 3)"],
    );
}

/// The customers and funds files may carry other columns (the model's features, for
/// `fundalloc predict`) in any order: the allocation is the same, and a missing required
/// column is named.
#[test]
fn extra_columns_in_any_order_are_ignored() {
    let f = Files::new();
    let plain = json(&f.run("E.csv", &[]));
    f.write(
        "customers.csv",
        "age_band,risk_tolerance,assets,customer_id\n1,5,10.5,c1\n0,R5,3,c2\n2,1,0,c3\n",
    );
    f.write(
        "funds.csv",
        "fund_type,exposure,fund_id,fund_return,risk_level\n0,2,safe,0.01,1\n3,1,bold,0.05,4\n",
    );
    let out = f.path("assignment.csv");
    let extra = json(&f.run("E.csv", &["--out", out.to_str().unwrap()]));
    assert_eq!(plain["objective"], extra["objective"]);
    assert_eq!(extra["objective"].as_f64().unwrap(), 9.0);
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text, "customer_id,fund_id\nc1,bold\nc2,safe\nc3,safe\n");
    // Cells are still checked in the right column.
    f.write(
        "customers.csv",
        "age_band,risk_tolerance,customer_id\n1,5,c1\n0,high,c2\n2,1,c3\n",
    );
    expect_bad(&f, "E.csv", &[], "customers.csv", &[":3:", "`high`"]);
    let f = Files::new();
    f.write(
        "funds.csv",
        "fund_type,fund_id,risk_level\n0,safe,1\n3,bold,4\n",
    );
    expect_bad(
        &f,
        "E.csv",
        &[],
        "funds.csv",
        &[":1:", "no column `exposure`"],
    );
}

/// Issue 14: a time limit of −1, NaN, ∞ or 0 is a one-line error with exit 2 before any input
/// is read (it panicked with exit 101: `cannot convert float seconds to Duration`).
#[test]
fn bad_time_limits_exit_2_with_one_line() {
    let f = Files::new();
    for solver in ["lp", "mip"] {
        for t in ["-1", "NaN", "inf", "-inf", "0", "1e30"] {
            let flag = format!("--time-limit={t}");
            let err = bad(&f.run("E.csv", &["--solver", solver, &flag]));
            assert!(
                err.contains("invalid argument") && err.contains("time_limit"),
                "{solver} {t}: {err}"
            );
        }
    }
    // Also as a separate argument, and a good limit still solves.
    let err = bad(&f.run("E.csv", &["--solver", "lp", "--time-limit", "-1"]));
    assert!(err.contains("time_limit"), "{err}");
    let v = json(&f.run("E.csv", &["--solver", "lp", "--time-limit", "30"]));
    assert_eq!(v["objective"].as_f64().unwrap(), 9.0);
    assert_eq!(v["solver"], "lp");
}

/// Issue 14: ids are written with the `csv` writer, so an id holding a comma or a quote (legal,
/// quoted, on input) reads back as the same id (it was written unescaped: `c,1,bold`).
#[test]
fn assignment_output_quotes_ids_that_need_it() {
    let f = Files::new();
    f.write(
        "customers.csv",
        "customer_id,risk_tolerance\n\"c,1\",5\n\"c\"\"2\",R5\nc3,1\n",
    );
    f.write(
        "funds.csv",
        "fund_id,risk_level,exposure\n\"safe, cash\",1,2\nbold,4,1\n",
    );
    f.write(
        "E.csv",
        "customer_id,\"safe, cash\",bold\n\"c,1\",5,4\n\"c\"\"2\",3,0\nc3,2,1\n",
    );
    let out = f.path("assignment.csv");
    json(&f.run("E.csv", &["--out", out.to_str().unwrap()]));
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        text,
        "customer_id,fund_id\n\"c,1\",bold\n\"c\"\"2\",\"safe, cash\"\nc3,\"safe, cash\"\n"
    );
    let mut r = csv::Reader::from_path(&out).unwrap();
    let rows: Vec<(String, String)> = r
        .records()
        .map(|rec| {
            let rec = rec.unwrap();
            (rec[0].to_string(), rec[1].to_string())
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("c,1".into(), "bold".into()),
            ("c\"2".into(), "safe, cash".into()),
            ("c3".into(), "safe, cash".into())
        ]
    );
}

/// Issue 14: the U × F matrix implied by the customers and funds files is checked against the
/// revenue file's length before it is allocated (it was allocated first, then the rows read).
#[test]
fn a_revenue_csv_too_small_for_customers_times_funds_is_refused_before_allocating() {
    let f = Files::new();
    let (u, n_f) = (20_000, 100);
    let mut customers = String::from("customer_id,risk_tolerance\n");
    for i in 0..u {
        customers.push_str(&format!("c{i},5\n"));
    }
    f.write("customers.csv", &customers);
    let mut funds = String::from("fund_id,risk_level,exposure\n");
    let mut header = String::from("customer_id");
    for j in 0..n_f {
        funds.push_str(&format!("f{j},1,{}\n", u / n_f));
        header.push_str(&format!(",f{j}"));
    }
    f.write("funds.csv", &funds);
    f.write("E.csv", &format!("{header}\nc0{}\n", ",1".repeat(n_f)));
    let err = bad(&f.run("E.csv", &[]));
    assert!(
        err.contains("E.csv") && err.contains("revenue cells") && err.contains("2000000"),
        "{err}"
    );
}

/// Issue 14: minimum exposures whose sum overflows `u64` are a typed error with exit 2 (the sum
/// panicked in debug builds, exit 101).
#[test]
fn exposures_summing_past_u64_exit_2() {
    let f = Files::new();
    f.write(
        "funds.csv",
        "fund_id,risk_level,exposure\nsafe,1,18446744073709551615\nbold,4,2\n",
    );
    let err = bad(&f.run("E.csv", &[]));
    assert!(
        err.contains("sum of minimum exposures") && err.contains("more than the limit"),
        "{err}"
    );
}

/// Issue 14: `--out` replaces its file atomically; a failed run leaves the old file as it was,
/// and no temporary file stays beside it.
#[test]
fn out_files_are_replaced_whole_or_not_at_all() {
    let f = Files::new();
    let out = f.path("assignment.csv");
    std::fs::write(&out, "old\n").unwrap();
    // Infeasible: the run fails after reading, the old file survives.
    f.write(
        "funds.csv",
        "fund_id,risk_level,exposure\nsafe,1,1\nbold,4,1\n",
    );
    bad(&f.run("E.csv", &["--out", out.to_str().unwrap()]));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "old\n");
    let f2 = Files::new();
    json(&f2.run("E.csv", &["--out", out.to_str().unwrap()]));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "customer_id,fund_id\nc1,bold\nc2,safe\nc3,safe\n"
    );
    let stray: Vec<_> = std::fs::read_dir(f.dir.path())
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.ends_with(".tmp").then_some(name)
        })
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}
