//! The whole pipeline from the shell: `fundalloc train` → `fundalloc predict` →
//! `fundalloc allocate`, on the committed fixtures of `tests/fixtures/` (a tiny synthetic
//! campaign, see [`fixtures`]), and each kind of bad input of `train` and `predict`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fundalloc_revenue_model::{RevenueModel, SyntheticCampaign, SyntheticParams};

mod common;
use common::json;

/// The fixtures' campaign: customers, funds, funds shown per customer, selection bias, seeds.
const CUSTOMERS: usize = 400;
const FUNDS: usize = 4;
const PER_CUSTOMER: usize = 3;
const WORLD_SEED: u64 = 11;
const EXPOSE_SEED: u64 = 12;

/// The three fixture files, generated from [`SyntheticCampaign`]:
///
/// - `exposures.csv`: the training log, one row per shown customer–fund pair
///   (`world.expose(PER_CUSTOMER, 1.0, EXPOSE_SEED)`), with ids, the schema's ten feature
///   columns and the labels `converted,revenue`;
/// - `customers.csv`: `customer_id,risk_tolerance` for `allocate` plus the customer features,
///   in another column order than the schema's (columns are found by name);
/// - `funds.csv`: `fund_id,risk_level,exposure` for `allocate` plus the fund features.
///   `fund_id` is the model's fund code; `risk_level` is the fund's `fund_risk`, except that
///   the safest fund is open to everyone (level 0) so every customer has an eligible fund; the
///   exposures come from a feasible assignment (each customer to one eligible fund, in turn).
///
/// `FUNDALLOC_BLESS=1 cargo test -p fundalloc-cli --test pipeline fixtures` rewrites them.
fn fixtures() -> [(&'static str, String); 3] {
    let world = SyntheticCampaign::generate(
        SyntheticParams::default()
            .n_customers(CUSTOMERS)
            .n_funds(FUNDS)
            .seed(WORLD_SEED),
    )
    .unwrap();
    let data = world.expose(PER_CUSTOMER, 1.0, EXPOSE_SEED).unwrap();
    let schema = data.schema();
    let mut exposures = String::from("customer_id");
    for c in schema.categorical() {
        write!(exposures, ",{}", c.name).unwrap();
    }
    for n in schema.numeric() {
        write!(exposures, ",{}", n.name).unwrap();
    }
    exposures.push_str(",converted,revenue\n");
    for i in 0..data.len() {
        // Exposure rows are customer-major: PER_CUSTOMER rows per customer.
        write!(exposures, "c{}", i / PER_CUSTOMER).unwrap();
        for v in data.categorical().row(i) {
            write!(exposures, ",{v}").unwrap();
        }
        for v in data.numeric().row(i) {
            write!(exposures, ",{v}").unwrap();
        }
        let converted = u8::from(data.converted()[i]);
        writeln!(exposures, ",{converted},{}", data.revenue()[i]).unwrap();
    }

    // Customer table columns: age_band, region, risk_tolerance | assets, activity, tenure.
    let (cc, cn) = (&world.customers().categorical, &world.customers().numeric);
    let mut customers =
        String::from("customer_id,assets,risk_tolerance,age_band,tenure,region,activity\n");
    for u in 0..CUSTOMERS {
        writeln!(
            customers,
            "c{u},{},{},{},{},{},{}",
            cn[[u, 0]],
            cc[[u, 2]],
            cc[[u, 0]],
            cn[[u, 2]],
            cc[[u, 1]],
            cn[[u, 1]]
        )
        .unwrap();
    }
    // Fund table columns: fund_id, fund_type, fund_risk | fund_return.
    let (fc, fnum) = (&world.funds().categorical, &world.funds().numeric);
    let mut level: Vec<u32> = (0..FUNDS).map(|f| fc[[f, 2]]).collect();
    let safest = (0..FUNDS).min_by_key(|&f| level[f]).unwrap();
    level[safest] = 0;
    let mut exposure = [0u64; FUNDS];
    for u in 0..CUSTOMERS {
        let eligible: Vec<usize> = (0..FUNDS).filter(|&f| level[f] <= cc[[u, 2]]).collect();
        exposure[eligible[u % eligible.len()]] += 1;
    }
    let mut funds = String::from("fund_id,risk_level,exposure,fund_type,fund_risk,fund_return\n");
    for f in 0..FUNDS {
        writeln!(
            funds,
            "{},{},{},{},{},{}",
            fc[[f, 0]],
            level[f],
            exposure[f],
            fc[[f, 1]],
            fc[[f, 2]],
            fnum[[f, 0]]
        )
        .unwrap();
    }
    [
        ("exposures.csv", exposures),
        ("customers.csv", customers),
        ("funds.csv", funds),
    ]
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The flags that declare the fixtures' schema (the synthetic campaign's).
const SCHEMA_FLAGS: &[&str] = &[
    "--customer-categorical",
    "age_band:6,region:12,risk_tolerance:5",
    "--customer-numeric",
    "assets:log,activity,tenure",
    "--fund-categorical",
    "fund_id:4,fund_type:4,fund_risk:5",
    "--fund-numeric",
    "fund_return",
];

/// A tiny training configuration: a few seconds in debug builds.
const TINY: &[&str] = &[
    "--epochs",
    "2",
    "--hidden",
    "8",
    "--embedding-dim",
    "4",
    "--batch",
    "128",
    "--seed",
    "3",
];

fn fundalloc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fundalloc"))
        .args(args)
        .output()
        .unwrap()
}

/// Exit code 2, nothing on stdout, one line on stderr containing every needle.
fn bad(out: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(out.stdout.is_empty());
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    for n in needles {
        assert!(err.contains(n), "`{n}` not in: {err}");
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn train_tiny(out: &Path, extra: &[&str]) -> Output {
    let data = fixture("exposures.csv");
    let mut args = vec!["train", "--data", s(&data), "--out", s(out)];
    args.extend_from_slice(SCHEMA_FLAGS);
    // TINY's settings, except those `extra` sets.
    for pair in TINY.chunks(2) {
        if !extra.contains(&pair[0]) {
            args.extend_from_slice(pair);
        }
    }
    args.extend_from_slice(extra);
    fundalloc(&args)
}

fn predict(model: &Path, customers: &Path, funds: &Path, out: &Path) -> Output {
    predict_with(model, customers, funds, out, &[])
}

/// `fundalloc predict` with `extra` flags after the four paths.
fn predict_with(
    model: &Path,
    customers: &Path,
    funds: &Path,
    out: &Path,
    extra: &[&str],
) -> Output {
    let mut args = vec!["predict", "--model", s(model), "--customers", s(customers)];
    args.extend_from_slice(&["--funds", s(funds), "--out", s(out)]);
    args.extend_from_slice(extra);
    fundalloc(&args)
}

/// Reads a `<f4` `.npy` (the layout `predict` writes): shape and values.
fn read_npy_f32(path: &Path) -> ((usize, usize), Vec<f32>) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
    let len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + len) % 64, 0, "data 64-byte aligned");
    let header = std::str::from_utf8(&bytes[10..10 + len]).unwrap();
    assert!(header.contains("'descr': '<f4'"), "{header}");
    assert!(header.contains("'fortran_order': False"), "{header}");
    let shape = header.split("'shape': (").nth(1).unwrap();
    let shape: Vec<usize> = shape
        .split(')')
        .next()
        .unwrap()
        .split(',')
        .map(|d| d.trim().parse().unwrap())
        .collect();
    let values = bytes[10 + len..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    ((shape[0], shape[1]), values)
}

#[test]
fn fixtures_are_what_the_generator_writes() {
    let bless = std::env::var_os("FUNDALLOC_BLESS").is_some();
    for (name, text) in fixtures() {
        let path = fixture(name);
        if bless {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &text).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap();
        assert!(
            committed == text,
            "{name} differs from the generator (FUNDALLOC_BLESS=1 rewrites it)"
        );
    }
}

/// train → predict → allocate, each through the binary, on the same customers/funds files.
#[test]
fn train_predict_allocate_from_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.bin");
    let t = json(&train_tiny(&model, &["--valid-fraction", "0.2"]));
    assert_eq!(t["model"], "Ours");
    assert_eq!(t["rows"], CUSTOMERS * PER_CUSTOMER);
    assert_eq!(t["valid_rows"], CUSTOMERS * PER_CUSTOMER / 5);
    assert_eq!(t["train_rows"], CUSTOMERS * PER_CUSTOMER * 4 / 5);
    assert_eq!(t["epochs"], 2);
    assert_eq!(t["history"].as_array().unwrap().len(), 2);
    assert!(t["best_valid_loss"].as_f64().unwrap().is_finite());
    assert!(t["samples_per_second"].as_f64().unwrap() > 0.0);
    assert_eq!(t["fund_features"].as_array().unwrap().len(), 4);
    assert_eq!(t["out"], s(&model));

    let (customers, funds) = (fixture("customers.csv"), fixture("funds.csv"));
    let e = dir.path().join("E.npy");
    let p = json(&predict(&model, &customers, &funds, &e));
    assert_eq!(
        (p["customers"].as_u64(), p["funds"].as_u64()),
        (Some(400), Some(4))
    );
    assert!(p["min"].as_f64().unwrap() >= 0.0);
    assert!(p["conversion"].is_null());

    // The file holds what the library predicts on the generator's own feature tables: the CSV
    // columns were found by name and rows / columns kept in file order.
    let ((rows, cols), values) = read_npy_f32(&e);
    assert_eq!((rows, cols), (CUSTOMERS, FUNDS));
    let world = SyntheticCampaign::generate(
        SyntheticParams::default()
            .n_customers(CUSTOMERS)
            .n_funds(FUNDS)
            .seed(WORLD_SEED),
    )
    .unwrap();
    let loaded = RevenueModel::load(&model).unwrap();
    let want = loaded
        .predict_matrix(world.customers(), world.funds())
        .unwrap();
    assert_eq!(values, want.as_slice());

    // `--conversion-out` adds P(convert) in the same layout; E.npy is unchanged.
    let pc = dir.path().join("Pc.npy");
    let e2 = dir.path().join("E2.npy");
    let p = json(&predict_with(
        &model,
        &customers,
        &funds,
        &e2,
        &["--conversion-out", s(&pc)],
    ));
    assert_eq!(p["conversion"]["out"], s(&pc));
    assert_eq!(read_npy_f32(&e2).1, values);
    let ((rows, cols), conversion) = read_npy_f32(&pc);
    assert_eq!((rows, cols), (CUSTOMERS, FUNDS));
    let want = loaded
        .predict_conversion_matrix(world.customers(), world.funds())
        .unwrap();
    assert_eq!(conversion, want.as_slice());
    assert!(conversion.iter().all(|p| (0.0..=1.0).contains(p)));
    let mean = conversion.iter().map(|&p| f64::from(p)).sum::<f64>() / conversion.len() as f64;
    assert!((p["conversion"]["mean"].as_f64().unwrap() - mean).abs() < 1e-9);

    let assignment = dir.path().join("assignment.csv");
    let a = json(&fundalloc(&[
        "allocate",
        "--revenue",
        s(&e),
        "--customers",
        s(&customers),
        "--funds",
        s(&funds),
        "--out",
        s(&assignment),
    ]));
    assert_eq!(a["solver"], "exact");
    assert_eq!(a["feasible"], true);
    assert!(a["gap"].as_f64().unwrap() < 1e-6);
    // Check the assignment against the files themselves: one fund per customer, each fund's
    // exact exposure, risk levels respected, objective = sum of the predicted revenues.
    let tolerance: HashMap<String, u32> = std::fs::read_to_string(&customers)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[2].parse().unwrap())
        })
        .collect();
    let fund_rows: Vec<(u32, u64)> = std::fs::read_to_string(&funds)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[1].parse().unwrap(), f[2].parse().unwrap())
        })
        .collect();
    let mut count = vec![0u64; FUNDS];
    let mut seen = std::collections::HashSet::new();
    let mut objective = 0.0f64;
    let text = std::fs::read_to_string(&assignment).unwrap();
    for line in text.lines().skip(1) {
        let (c, f) = line.split_once(',').unwrap();
        let f: usize = f.parse().unwrap();
        assert!(seen.insert(c.to_string()), "{c} twice");
        assert!(
            fund_rows[f].0 <= tolerance[c],
            "{c} → {f} breaks its risk level"
        );
        count[f] += 1;
        let u: usize = c[1..].parse().unwrap();
        objective += f64::from(values[u * FUNDS + f]);
    }
    assert_eq!(seen.len(), CUSTOMERS);
    assert_eq!(count, fund_rows.iter().map(|r| r.1).collect::<Vec<_>>());
    let reported = a["objective"].as_f64().unwrap();
    assert!((objective - reported).abs() <= 1e-6 * reported.abs().max(1.0));
}

/// The seed fixes the whole run: two processes write the same model file, with or without
/// `--progress`, which only writes to stderr (epoch lines, as stderr is not a terminal here).
#[test]
fn training_is_deterministic_per_seed() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.bin"), dir.path().join("b.bin"));
    let quiet = train_tiny(&a, &["--model", "esmm", "--epochs", "1"]);
    let loud = train_tiny(&b, &["--model", "esmm", "--epochs", "1", "--progress"]);
    assert!(quiet.stderr.is_empty());
    let log = String::from_utf8_lossy(&loud.stderr);
    assert!(log.starts_with("epoch   1: train loss "), "{log}");
    assert_eq!(log.lines().count(), 1, "{log}");
    let (ja, jb) = (json(&quiet), json(&loud));
    assert_eq!(ja["model"], "ESMM");
    assert_eq!(ja["best_valid_loss"], jb["best_valid_loss"]);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}

#[test]
fn train_rejects_bad_data_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.bin");
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let run_to = |data: &Path, out: &Path, extra: &[&str]| {
        let mut args = vec![
            "train",
            "--data",
            s(data),
            "--out",
            s(out),
            "--customer-categorical",
            "age:3",
            "--fund-numeric",
            "ret",
            "--epochs",
            "1",
            "--hidden",
            "4",
        ];
        args.extend_from_slice(extra);
        fundalloc(&args)
    };
    let run = |data: &Path, extra: &[&str]| run_to(data, &out, extra);
    let ok = "age,ret,converted,revenue\n0,0.1,0,0\n1,0.2,1,5\n2,0.3,0,0\n1,0.1,1,2\n";
    // Missing column.
    let p = write("missing.csv", "age,converted,revenue\n0,0,0\n");
    bad(&run(&p, &[]), &["missing.csv", "column `ret`"]);
    // A code at or above the declared cardinality.
    let p = write("code.csv", &ok.replace("2,0.3", "3,0.3"));
    bad(
        &run(&p, &[]),
        &["code.csv", "line 4", "`age`", "\"3\"", "cardinality"],
    );
    // NaN in a numeric column.
    let p = write("nan.csv", &ok.replace("0.2", "NaN"));
    bad(&run(&p, &[]), &["nan.csv", "line 3", "`ret`", "finite"]);
    // Labels: revenue without conversion.
    let p = write("label.csv", &ok.replace("1,0.1,1,2", "1,0.1,0,2"));
    bad(&run(&p, &[]), &["label.csv", "line 5", "did not convert"]);
    // Too few rows for the validation split, bad hyper-parameters, no features at all.
    let p = write("ok.csv", ok);
    bad(&run(&p, &["--valid-fraction", "0.01"]), &["split"]);
    bad(&run(&p, &["--hidden", "0"]), &["hidden"]);
    bad(
        &run(&p, &["--valid-fraction", "1.5"]),
        &["validation_fraction"],
    );
    bad(&run(&p, &["--lr", "0"]), &["learning_rate"]);
    bad(&run(&p, &["--embedding-dim", "0"]), &["embedding_dim"]);
    bad(
        &fundalloc(&["train", "--data", s(&p), "--out", s(&out)]),
        &["feature schema"],
    );
    bad(&run(&p, &["--customer-numeric", "age"]), &["unique"]);
    // Unwritable output: refused before training.
    let nowhere = dir.path().join("no/such/m.bin");
    bad(
        &run_to(&p, &nowhere, &[]),
        &["m.bin", "cannot write", "does not exist"],
    );
    // Usage errors (clap): exit 2 as well.
    for extra in [
        &["--model", "dnn-c"][..],
        &["--customer-categorical", "age"],
        &["--customer-categorical", "age:0"],
        &["--fund-numeric", "ret:sqrt"],
    ] {
        assert_eq!(run(&p, extra).status.code(), Some(2), "{extra:?}");
    }
    assert!(!out.exists(), "no model written by a failed run");
    // The good file trains.
    let j = json(&run(&p, &["--valid-fraction", "0.25"]));
    assert_eq!(j["rows"], 4);
    assert!(out.exists());
}

#[test]
fn predict_rejects_bad_models_and_tables() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.bin");
    json(&train_tiny(&model, &["--epochs", "1"]));
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let customers_text = std::fs::read_to_string(fixture("customers.csv")).unwrap();
    let funds_text = std::fs::read_to_string(fixture("funds.csv")).unwrap();
    let customers = write("customers.csv", &customers_text);
    let funds = write("funds.csv", &funds_text);
    let e = dir.path().join("E.npy");
    json(&predict(&model, &customers, &funds, &e));

    // Corrupt, truncated, foreign and missing model files.
    let bytes = std::fs::read(&model).unwrap();
    let truncated = write("truncated.bin", "");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    bad(
        &predict(&truncated, &customers, &funds, &e),
        &["truncated.bin", "corrupt model file"],
    );
    let mut flipped = bytes.clone();
    let mid = bytes.len() / 2;
    flipped[mid] ^= 0x55;
    let corrupt = write("corrupt.bin", "");
    std::fs::write(&corrupt, &flipped).unwrap();
    bad(
        &predict(&corrupt, &customers, &funds, &e),
        &["corrupt.bin", "corrupt model file"],
    );
    let foreign = write("foreign.bin", "customer_id,x\n");
    bad(
        &predict(&foreign, &customers, &funds, &e),
        &["foreign.bin", "corrupt model file"],
    );
    let missing = dir.path().join("missing.bin");
    bad(
        &predict(&missing, &customers, &funds, &e),
        &["missing.bin", "cannot read"],
    );

    // `--conversion-out`: not a .npy path; a model without a conversion head (DNN-R), which
    // writes neither file.
    let with_pc = |model: &Path, pc: &Path, out: &Path| {
        predict_with(model, &customers, &funds, out, &["--conversion-out", s(pc)])
    };
    bad(
        &with_pc(&model, &dir.path().join("pc.csv"), &e),
        &["pc.csv", "--conversion-out", ".npy"],
    );
    let dnn_r = dir.path().join("dnn-r.bin");
    json(&train_tiny(&dnn_r, &["--epochs", "1", "--model", "dnn-r"]));
    let (pc, e_r) = (dir.path().join("pc.npy"), dir.path().join("E-r.npy"));
    bad(&with_pc(&dnn_r, &pc, &e_r), &["DNN-R", "conversion"]);
    assert!(!pc.exists() && !e_r.exists());

    // Missing feature column, unknown code, NaN, non-number, empty table.
    let p = write(
        "c1.csv",
        &customers_text.replace(",tenure,", ",tenure_years,"),
    );
    bad(
        &predict(&model, &p, &funds, &e),
        &["c1.csv", ":1:", "`tenure`"],
    );
    let mut lines: Vec<String> = funds_text.lines().map(String::from).collect();
    lines.push("4,0,0,1,1,0.02".into());
    let p = write("f5.csv", &(lines.join("\n") + "\n"));
    bad(
        &predict(&model, &customers, &p, &e),
        &["f5.csv", ":6:", "`fund_id`", "code 4", "0–3"],
    );
    let mut lines: Vec<String> = customers_text.lines().map(String::from).collect();
    let mut cells: Vec<String> = lines[3].split(',').map(String::from).collect();
    cells[1] = "NaN".into();
    lines[3] = cells.join(",");
    let p = write("c2.csv", &(lines.join("\n") + "\n"));
    bad(
        &predict(&model, &p, &funds, &e),
        &["c2.csv", ":4:", "`assets`", "non-finite"],
    );
    cells[1] = "many".into();
    lines[3] = cells.join(",");
    let p = write("c3.csv", &(lines.join("\n") + "\n"));
    bad(
        &predict(&model, &p, &funds, &e),
        &["c3.csv", ":4:", "`many`"],
    );
    let p = write("c4.csv", customers_text.lines().next().unwrap());
    bad(&predict(&model, &p, &funds, &e), &["c4.csv", "no rows"]);
    bad(
        &predict(&model, &customers, &funds, &dir.path().join("E.csv")),
        &["E.csv", ".npy"],
    );

    // Shape mismatch: E was predicted for 4 funds; allocate with a 3-fund file refuses it.
    let three: Vec<&str> = funds_text.lines().take(4).collect();
    let p = write("f3.csv", &(three.join("\n") + "\n"));
    bad(
        &fundalloc(&[
            "allocate",
            "--revenue",
            s(&e),
            "--customers",
            s(&customers),
            "--funds",
            s(&p),
        ]),
        &["E.npy", "shape 400×4", "3 funds"],
    );
}

/// A column and how its codes become names.
type Naming = (&'static str, fn(&str) -> String);

/// `text` (a CSV file) with the cells of each named column it has replaced by `name(code)`.
fn codes_to_names(text: &str, columns: &[Naming]) -> String {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let mut out = header.join(",") + "\n";
    for line in lines {
        let mut cells: Vec<String> = line.split(',').map(str::to_string).collect();
        for (column, name) in columns {
            if let Some(i) = header.iter().position(|h| h == column) {
                cells[i] = name(&cells[i]);
            }
        }
        out.push_str(&(cells.join(",") + "\n"));
    }
    out
}

/// Categorical columns may hold names (`--customer-categorical region`, no cardinality): the
/// levels are the training file's distinct values in sorted order, saved in the model, and
/// `predict` maps the tables' names through them. Names that sort like their codes give the
/// very model the codes give, so the two `.npy` files are equal bit for bit.
#[test]
fn named_categories_give_the_model_their_codes_give() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let names: &[Naming] = &[
        ("age_band", |c| format!("band-{c}")),
        ("region", |c| format!("R{:02}", c.parse::<u32>().unwrap())),
        ("fund_type", |c| format!("type {c}")),
    ];
    let read = |name: &str| std::fs::read_to_string(fixture(name)).unwrap();
    let exposures = write(
        "exposures.csv",
        &codes_to_names(&read("exposures.csv"), names),
    );
    let customers = write(
        "customers.csv",
        &codes_to_names(&read("customers.csv"), names),
    );
    let funds = write("funds.csv", &codes_to_names(&read("funds.csv"), names));

    let coded = dir.path().join("coded.bin");
    json(&train_tiny(&coded, &[]));
    let named = dir.path().join("named.bin");
    let mut args = vec!["train", "--data", s(&exposures), "--out", s(&named)];
    args.extend_from_slice(&[
        "--customer-categorical",
        "age_band,region,risk_tolerance:5",
        "--customer-numeric",
        "assets:log,activity,tenure",
        "--fund-categorical",
        "fund_id:4,fund_type,fund_risk:5",
        "--fund-numeric",
        "fund_return",
    ]);
    args.extend_from_slice(TINY);
    let t = json(&fundalloc(&args));
    assert_eq!(
        t["levels"],
        serde_json::json!({"age_band": 6, "region": 12, "fund_type": 4})
    );
    let model = RevenueModel::load(&named).unwrap();
    let region = &model.schema().categorical()[1];
    assert_eq!(
        (region.levels[0].as_str(), region.levels[11].as_str()),
        ("R00", "R11")
    );

    let (e_coded, e_named) = (dir.path().join("coded.npy"), dir.path().join("named.npy"));
    json(&predict(
        &coded,
        &fixture("customers.csv"),
        &fixture("funds.csv"),
        &e_coded,
    ));
    json(&predict(&named, &customers, &funds, &e_named));
    assert_eq!(read_npy_f32(&e_named), read_npy_f32(&e_coded));

    // A name the model never saw, and a code where it expects a name.
    let text = std::fs::read_to_string(&customers).unwrap();
    let p = write("unknown.csv", &text.replacen("band-", "band-x", 1));
    bad(
        &predict(&named, &p, &funds, &e_named),
        &[
            "unknown.csv",
            ":2:",
            "`age_band`",
            "not a category",
            "band-0, band-1",
        ],
    );
    let p = write(
        "code.csv",
        &codes_to_names(&read("customers.csv"), &names[1..]),
    );
    bad(
        &predict(&named, &p, &funds, &e_named),
        &["code.csv", ":2:", "`age_band`"],
    );
    // An empty cell in a name-valued training column.
    let text = std::fs::read_to_string(&exposures).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut cells: Vec<&str> = lines[3].split(',').collect();
    assert!(cells[1].starts_with("band-"));
    cells[1] = "";
    lines[3] = cells.join(",");
    let p = write("empty.csv", &(lines.join("\n") + "\n"));
    let mut args = vec!["train", "--data", s(&p), "--out", s(&named)];
    args.extend_from_slice(&["--customer-categorical", "age_band", "--epochs", "1"]);
    bad(
        &fundalloc(&args),
        &["empty.csv", "line 4", "`age_band`", "non-empty"],
    );
}
