//! `fundalloc allocate` on a revenue larger than its memory budget: one `.npy` file or a folder
//! of row shards, solved out of core; the optimum equals the in-memory one, and every bad shard,
//! customers file or option is a one-line error with exit 2 that leaves `--out` untouched.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fundalloc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fundalloc"))
        .args(args)
        .output()
        .unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Writes `values` as a `rows × cols` `.npy` of `descr` (`<f4`, `>f4`, `<f8` or `>f8`).
fn npy(path: &Path, descr: &str, rows: usize, cols: usize, values: &[f64]) {
    let data: Vec<u8> = values
        .iter()
        .flat_map(|&v| match descr {
            "<f4" => (v as f32).to_le_bytes().to_vec(),
            ">f4" => (v as f32).to_be_bytes().to_vec(),
            "<f8" => v.to_le_bytes().to_vec(),
            ">f8" => v.to_be_bytes().to_vec(),
            _ => unreachable!(),
        })
        .collect();
    let shape = format!("({rows}, {cols})");
    std::fs::write(path, common::npy_bytes(descr, &shape, &data)).unwrap();
}

const U: usize = 20_000;
const F: usize = 4;

/// A seeded instance (a small LCG, so the values are fixed): revenue, tolerances 1–3, funds of
/// risk 1, 1, 2, 3 with exposures adding up to U.
struct Instance {
    values: Vec<f64>,
    customers: PathBuf,
    funds: PathBuf,
}

fn instance(dir: &Path) -> Instance {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut values = Vec::with_capacity(U * F);
    let mut customers = String::from("customer_id,risk_tolerance\n");
    for u in 0..U {
        let activity = 0.5 + next();
        for f in 0..F {
            // Quarter-units in f32 are exact, so f4 and f8 files hold the same numbers.
            values.push(((activity * (1.0 + f as f64) * next() * 40.0).round()) / 4.0);
        }
        let tol = 1 + (next() * 3.0) as u8;
        customers.push_str(&format!("u{u},{tol}\n"));
    }
    let customers_path = dir.join("customers.csv");
    std::fs::write(&customers_path, customers).unwrap();
    let funds = dir.join("funds.csv");
    std::fs::write(
        &funds,
        format!(
            "fund_id,risk_level,exposure\nsafe,1,{}\nbond,1,{}\nmixed,2,{}\nequity,3,{}\n",
            U / 2,
            U / 4,
            U / 8,
            U - U / 2 - U / 4 - U / 8
        ),
    )
    .unwrap();
    Instance {
        values,
        customers: customers_path,
        funds,
    }
}

fn allocate(inst: &Instance, revenue: &Path, extra: &[&str]) -> Output {
    allocate_with(revenue, &inst.customers, &inst.funds, extra)
}

fn allocate_with(revenue: &Path, customers: &Path, funds: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "allocate",
        "--revenue",
        s(revenue),
        "--customers",
        s(customers),
        "--funds",
        s(funds),
    ];
    args.extend_from_slice(extra);
    fundalloc(&args)
}

/// The objective an `--out` file implies, after checking it is a feasible allocation: every
/// customer once, every fund's exact exposure, every fund within the customer's tolerance.
fn check_out(inst: &Instance, out: &Path) -> f64 {
    let text = std::fs::read_to_string(out).unwrap();
    let risk: HashMap<&str, (usize, u8)> = [
        ("safe", (0, 1)),
        ("bond", (1, 1)),
        ("mixed", (2, 2)),
        ("equity", (3, 3)),
    ]
    .into_iter()
    .collect();
    let tolerance: Vec<u8> = std::fs::read_to_string(&inst.customers)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    let mut seen = vec![false; U];
    let mut loads = [0u64; F];
    let mut total = 0.0;
    for line in text.lines().skip(1) {
        let (c, f) = line.split_once(',').unwrap();
        let u: usize = c[1..].parse().unwrap();
        assert!(!std::mem::replace(&mut seen[u], true), "{c} twice");
        let (f, level) = risk[f];
        assert!(level <= tolerance[u], "{c} above its tolerance");
        loads[f] += 1;
        total += inst.values[u * F + f];
    }
    assert!(seen.iter().all(|&s| s), "every customer assigned");
    assert_eq!(
        loads,
        [
            U as u64 / 2,
            U as u64 / 4,
            U as u64 / 8,
            (U - U / 2 - U / 4 - U / 8) as u64
        ]
    );
    total
}

fn assert_same_optimum(a: &serde_json::Value, b: &serde_json::Value) {
    let (x, y) = (
        a["objective"].as_f64().unwrap(),
        b["objective"].as_f64().unwrap(),
    );
    assert!((x - y).abs() <= 1e-9 * x.abs(), "{x} vs {y}");
    for v in [a, b] {
        let gap = v["gap"].as_f64().unwrap();
        assert!(gap.abs() <= 1e-9 * x.abs(), "gap {gap}");
    }
}

#[test]
fn out_of_core_file_and_shards_give_the_in_memory_optimum() {
    let dir = tempfile::tempdir().unwrap();
    let inst = instance(dir.path());
    let whole = dir.path().join("E.npy");
    npy(&whole, "<f4", U, F, &inst.values);
    let out_mem = dir.path().join("mem.csv");
    let mem = common::json(&allocate(&inst, &whole, &["--out", s(&out_mem)]));
    assert!(mem.get("out_of_core").is_none(), "fits: solved in memory");
    let objective = mem["objective"].as_f64().unwrap();
    assert!((check_out(&inst, &out_mem) - objective).abs() <= 1e-9 * objective);

    // 1 MiB holds 8192 of the 20,000 rows: out of core.
    let out_ooc = dir.path().join("ooc.csv");
    let prices = dir.path().join("prices.json");
    let ooc = common::json(&allocate(
        &inst,
        &whole,
        &[
            "--memory-budget",
            "1",
            "--out",
            s(&out_ooc),
            "--prices-out",
            s(&prices),
        ],
    ));
    assert!(ooc["out_of_core"]["passes"].as_u64().unwrap() >= 3);
    assert_eq!(ooc["out_of_core"]["budget_rows"], 8192);
    assert_same_optimum(&mem, &ooc);
    assert!((check_out(&inst, &out_ooc) - objective).abs() <= 1e-9 * objective);

    // The prices serve arriving customers.
    let arrivals = dir.path().join("arrivals.csv");
    std::fs::write(
        &arrivals,
        "customer_id,risk_tolerance,safe,bond,mixed,equity\nz,3,1,2,3,4\n",
    )
    .unwrap();
    let assigned = dir.path().join("assigned.csv");
    common::json(&fundalloc(&[
        "assign",
        "--prices",
        s(&prices),
        "--customers",
        s(&arrivals),
        "--out",
        s(&assigned),
    ]));
    assert!(std::fs::read_to_string(&assigned).unwrap().contains("z,"));

    // The same matrix in three shards (one of a single row), in other dtypes and byte orders;
    // a folder is read in name order and other files in it are ignored.
    for (n, descr) in ["<f8", ">f8", ">f4"].into_iter().enumerate() {
        let shards = dir.path().join(format!("shards{n}"));
        std::fs::create_dir_all(&shards).unwrap();
        let cuts = [0, 7_001, 7_002, U];
        for (i, w) in cuts.windows(2).enumerate() {
            npy(
                &shards.join(format!("part_{i:03}.npy")),
                descr,
                w[1] - w[0],
                F,
                &inst.values[w[0] * F..w[1] * F],
            );
        }
        // Not a shard: ignored.
        std::fs::write(shards.join("README.txt"), "shards of E").unwrap();
        let got = common::json(&allocate(&inst, &shards, &[]));
        assert!(
            got["out_of_core"]["passes"].as_u64().unwrap() >= 3,
            "{descr}"
        );
        assert_same_optimum(&mem, &got);
    }
}

fn fails(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(needle), "`{needle}` not in: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
}

#[test]
fn bad_shards_customers_and_options_are_one_line_errors_that_keep_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let inst = instance(dir.path());
    let whole = dir.path().join("E.npy");
    npy(&whole, "<f4", U, F, &inst.values);
    let out = dir.path().join("out.csv");
    std::fs::write(&out, "previous\n").unwrap();
    let small = ["--memory-budget", "1", "--out", s(&out)];
    let shards = |name: &str, parts: &[(&str, usize, usize, Vec<f64>)]| {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        for (i, (descr, rows, cols, v)) in parts.iter().enumerate() {
            npy(&d.join(format!("{i}.npy")), descr, *rows, *cols, v);
        }
        d
    };
    let half = |lo: usize, hi: usize| inst.values[lo * F..hi * F].to_vec();

    // Other solvers and warm starts cannot run out of core.
    fails(
        &allocate(&inst, &whole, &["--memory-budget", "1", "--solver", "ha"]),
        "out of core",
    );
    fails(
        &allocate(
            &inst,
            &whole,
            &["--memory-budget", "1", "--warm-prices", "p.json"],
        ),
        "out of core",
    );
    fails(
        &allocate(&inst, &whole, &["--memory-budget", "0"]),
        "at least 1 MiB",
    );
    // 1024 rows of 64 f64 funds need 2.1 MB: 1 MiB is refused as too small, before reading.
    let wide = dir.path().join("wide.npy");
    npy(&wide, "<f8", 2000, 64, &vec![1.0; 2000 * 64]);
    let funds64 = dir.path().join("funds64.csv");
    let mut text = String::from("fund_id,risk_level,exposure\n");
    for f in 0..64 {
        text.push_str(&format!("f{f},1,{}\n", if f == 0 { U } else { 0 }));
    }
    std::fs::write(&funds64, text).unwrap();
    let got = allocate_with(&wide, &inst.customers, &funds64, &["--memory-budget", "1"]);
    fails(&got, "--memory-budget");
    fails(
        &allocate(&inst, &wide, &[]),
        "has 64 columns, the funds file lists 4",
    );

    // Folder problems.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    fails(&allocate(&inst, &empty, &[]), "no .npy shard");
    let d = shards(
        "mixed",
        &[
            ("<f4", 10_000, F, half(0, 10_000)),
            ("<f8", 10_000, F, half(10_000, U)),
        ],
    );
    fails(&allocate(&inst, &d, &[]), "dtype differs");
    let d = shards(
        "cols",
        &[
            ("<f4", 10_000, F, half(0, 10_000)),
            ("<f4", 5_000, 8, half(10_000, U)),
        ],
    );
    fails(&allocate(&inst, &d, &[]), "has 8 columns");
    // A truncated shard: the header promises more than the file holds.
    let d = shards("cut", &[("<f4", 10_000, F, half(0, 10_000))]);
    let bytes = std::fs::read(d.join("0.npy")).unwrap();
    std::fs::write(d.join("0.npy"), &bytes[..bytes.len() - 3]).unwrap();
    fails(&allocate(&inst, &d, &[]), "data bytes");
    // A garbage header and a deeply nested one (the fuzz-found hang) are refused.
    std::fs::write(d.join("0.npy"), b"PK\x03\x04 not an npy file").unwrap();
    fails(&allocate(&inst, &d, &[]), "magic");

    // Bad values name the shard, the row and the column; the output is untouched.
    let mut bad = half(10_000, U);
    bad[3 * F + 2] = f64::NAN;
    let d = shards(
        "nan",
        &[("<f4", 10_000, F, half(0, 10_000)), ("<f4", 10_000, F, bad)],
    );
    fails(
        &allocate(&inst, &d, &small),
        "non-finite revenue NaN at row 3, column 2",
    );
    let mut neg = inst.values.clone();
    neg[19_999 * F] = -1.0;
    let negative = dir.path().join("neg.npy");
    npy(&negative, "<f4", U, F, &neg);
    fails(
        &allocate(&inst, &negative, &small),
        "negative revenue -1 at row 19999",
    );
    // More or fewer customers than rows.
    let all = std::fs::read_to_string(&inst.customers).unwrap();
    let longer = dir.path().join("customers_long.csv");
    std::fs::write(&longer, format!("{all}u{U},1\n")).unwrap();
    let shorter = dir.path().join("customers_short.csv");
    std::fs::write(&shorter, &all[..all.trim_end().rfind('\n').unwrap() + 1]).unwrap();
    for (customers, needle) in [
        (&longer, "has more customers than the revenue's 20000 rows"),
        (&shorter, "has 19999 customers, the revenue has 20000 rows"),
    ] {
        let got = allocate_with(
            &whole,
            customers,
            &inst.funds,
            &["--memory-budget", "1", "--out", s(&out)],
        );
        fails(&got, needle);
    }
    // Exposures that cannot be met.
    let funds = dir.path().join("funds_bad.csv");
    std::fs::write(
        &funds,
        "fund_id,risk_level,exposure\na,1,1\nb,1,1\nc,2,1\nd,3,1\n",
    )
    .unwrap();
    let out_args = allocate_with(&whole, &inst.customers, &funds, &["--memory-budget", "1"]);
    fails(&out_args, "4 in all, customers × K = 20000");
    // A bad tolerance deep in the customers file.
    let customers = std::fs::read_to_string(&inst.customers)
        .unwrap()
        .replace("\nu15000,", "\nu15000,x");
    let bad_customers = dir.path().join("customers_bad.csv");
    std::fs::write(&bad_customers, customers).unwrap();
    let got = allocate_with(
        &whole,
        &bad_customers,
        &inst.funds,
        &["--memory-budget", "1", "--out", s(&out)],
    );
    fails(&got, "customers_bad.csv:15002: risk_tolerance");

    assert_eq!(std::fs::read_to_string(&out).unwrap(), "previous\n");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}
