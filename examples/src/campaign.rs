//! Helpers of the `campaign` example (the main job): the allocation constraints of a synthetic
//! campaign, constraint-satisfaction counts, conversion-probability matrices, and reading or
//! writing a campaign as CSV files.
//!
//! CSV layout (header row, any column order, other columns ignored):
//!
//! * history: one row per past exposure, every feature column of the schema (customer and
//!   fund side) plus a conversion flag and a revenue (read by
//!   [`fundalloc::revenue_model::load_csv`]);
//! * customers: one row per customer, the customer-side feature columns plus an integer
//!   `risk_tolerance` column (t_u);
//! * funds: one row per fund, the fund-side feature columns plus integer `risk_level` (r_f) and
//!   `exposure` (d_f) columns.
//!
//! A customer may hold a fund when `t_u ≥ r_f` (the levels are compared as integers 0–255).

use std::error::Error;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use fundalloc::allocator::{Allocation, RiskLevel};
use fundalloc::revenue_model::{
    CodeLookup, ExposureDataset, FeatureSchema, FeatureTable, Side, SyntheticCampaign,
};
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, LogNormal};

/// Boxed error of the example helpers.
pub type BoxError = Box<dyn Error + Send + Sync>;

/// The constraints of a campaign: tolerance t_u of every customer, risk level r_f and exact
/// exposure d_f of every fund (PTOFA Eq. 1–3 with `Σ_f X_uf = K`, `Σ_u X_uf = d_f`,
/// `X_uf = 1 ⇒ t_u ≥ r_f`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraints {
    /// t_u.
    pub tolerance: Vec<RiskLevel>,
    /// r_f.
    pub fund_risk: Vec<RiskLevel>,
    /// d_f.
    pub exposure: Vec<u64>,
}

/// The constraints of a synthetic campaign, deterministic per `seed`.
///
/// Levels are the world's own feature codes (customer `risk_tolerance`, fund `fund_risk`,
/// 0–4, shown as R0–R4). A customer whose tolerance admits fewer than K funds is raised to the
/// K-th lowest fund level (as `fundalloc_allocator::LctLike` does), so every customer can be
/// served. Exposures follow `LctLike`'s witness draw: funds get weights `w_f ~ LogNormal(0, 0.5)`
/// and every customer draws K distinct eligible funds with probability ∝ `w_f`; `d_f` counts
/// the draws, so `Σ d_f = K·U` and the problem is feasible by construction.
pub fn synthetic_constraints(
    world: &SyntheticCampaign,
    k: usize,
    seed: u64,
) -> Result<Constraints, BoxError> {
    let schema = world.schema();
    let t_col = side_column(schema, Side::Customer, "risk_tolerance")?;
    let r_col = side_column(schema, Side::Fund, "fund_risk")?;
    let fund_risk: Vec<RiskLevel> = world
        .funds()
        .categorical
        .column(r_col)
        .iter()
        .map(|&c| level(c))
        .collect::<Result<_, _>>()?;
    let f_n = fund_risk.len();
    if k == 0 || k > f_n {
        return Err(format!("K = {k} must be between 1 and the number of funds ({f_n})").into());
    }
    let mut sorted: Vec<RiskLevel> = fund_risk.clone();
    sorted.sort_unstable();
    let floor = sorted[k - 1];
    let tolerance: Vec<RiskLevel> = world
        .customers()
        .categorical
        .column(t_col)
        .iter()
        .map(|&c| level(c).map(|t| t.max(floor)))
        .collect::<Result<_, _>>()?;
    let mut rng = StdRng::seed_from_u64(seed);
    let weight_dist = LogNormal::new(0.0, 0.5)?;
    let weight: Vec<f64> = (0..f_n).map(|_| weight_dist.sample(&mut rng)).collect();
    let mut exposure = vec![0u64; f_n];
    let mut picked: Vec<usize> = Vec::with_capacity(k);
    for &t in &tolerance {
        picked.clear();
        for _ in 0..k {
            let open = |f: &usize| t.permits(fund_risk[*f]) && !picked.contains(f);
            let total: f64 = (0..f_n).filter(open).map(|f| weight[f]).sum();
            let mut x = rng.random::<f64>() * total;
            let mut choice = None;
            for f in (0..f_n).filter(open) {
                choice = Some(f);
                x -= weight[f];
                if x <= 0.0 {
                    break;
                }
            }
            let f = choice.ok_or("internal: a customer has fewer than K eligible funds")?;
            picked.push(f);
            exposure[f] += 1;
        }
    }
    Ok(Constraints {
        tolerance,
        fund_risk,
        exposure,
    })
}

fn level(code: u32) -> Result<RiskLevel, BoxError> {
    u8::try_from(code)
        .map(RiskLevel::new)
        .map_err(|_| format!("risk level {code} does not fit in 0..=255").into())
}

/// Index of feature `name` among the categorical columns of `side` (the column of that side's
/// [`FeatureTable`]).
fn side_column(schema: &FeatureSchema, side: Side, name: &str) -> Result<usize, BoxError> {
    schema
        .categorical()
        .iter()
        .filter(|c| c.side == side)
        .position(|c| c.name == name)
        .ok_or_else(|| format!("the schema has no {side:?}-side categorical `{name}`").into())
}

/// How many of an allocation's constraints hold, counted from the allocation itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Satisfaction {
    /// Customers holding exactly K funds.
    pub customers_ok: usize,
    /// Customers.
    pub customers: usize,
    /// Funds shown to exactly d_f customers.
    pub funds_ok: usize,
    /// Funds.
    pub funds: usize,
    /// Assignments with `t_u ≥ r_f`.
    pub assignments_ok: usize,
    /// Assignments.
    pub assignments: usize,
}

impl Satisfaction {
    /// Counts, for `allocation`, the customers with exactly `k` funds, the funds at their exact
    /// exposure and the risk-eligible assignments.
    pub fn of(allocation: &Allocation, constraints: &Constraints, k: usize) -> Self {
        let counts = allocation.exposure_counts();
        let mut s = Self {
            customers_ok: 0,
            customers: allocation.n_customers(),
            funds_ok: counts
                .iter()
                .zip(&constraints.exposure)
                .filter(|(got, d)| got == d)
                .count(),
            funds: constraints.exposure.len(),
            assignments_ok: 0,
            assignments: 0,
        };
        for (u, funds) in allocation.iter() {
            s.customers_ok += usize::from(funds.len() == k);
            for &f in funds {
                s.assignments += 1;
                let ok = constraints
                    .tolerance
                    .get(u)
                    .zip(constraints.fund_risk.get(f as usize))
                    .is_some_and(|(t, r)| t.permits(*r));
                s.assignments_ok += usize::from(ok);
            }
        }
        s
    }

    /// Whether every constraint holds.
    pub fn all(&self) -> bool {
        self.customers_ok == self.customers
            && self.funds_ok == self.funds
            && self.assignments_ok == self.assignments
    }
}

/// `100·part/whole` as a percentage string with two decimals (`–` for an empty whole).
pub fn percent(part: usize, whole: usize) -> String {
    if whole == 0 {
        return "–".into();
    }
    format!("{:.2} %", 100.0 * part as f64 / whole as f64)
}

/// One side's table read from a CSV file: the schema's features of `side` plus integer columns.
#[derive(Debug, Clone)]
pub struct SideCsv {
    /// The features, in schema order.
    pub table: FeatureTable,
    /// One vector per requested integer column, in the order asked.
    pub integers: Vec<Vec<u64>>,
}

/// Reads the `side` features of `schema` and the integer columns `extra` from a CSV file with a
/// header row. Categorical cells must be the feature's level names or, without levels, codes
/// below the cardinality; numeric cells finite. Errors name the file, the line and the column.
pub fn read_side_csv(
    path: &Path,
    schema: &FeatureSchema,
    side: Side,
    extra: &[&str],
) -> Result<SideCsv, BoxError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let header = reader.headers()?.clone();
    let find = |name: &str| -> Result<usize, BoxError> {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("{}: no column `{name}` in the header", path.display()).into())
    };
    let cats: Vec<(usize, CodeLookup<'_>)> = schema
        .categorical()
        .iter()
        .filter(|c| c.side == side)
        .map(|c| Ok((find(&c.name)?, c.lookup())))
        .collect::<Result<_, BoxError>>()?;
    let nums: Vec<usize> = schema
        .numeric()
        .iter()
        .filter(|n| n.side == side)
        .map(|n| find(&n.name))
        .collect::<Result<_, _>>()?;
    let extra_cols: Vec<usize> = extra.iter().map(|n| find(n)).collect::<Result<_, _>>()?;
    let (mut cat, mut num) = (Vec::new(), Vec::new());
    let mut integers = vec![Vec::new(); extra.len()];
    let mut rows = 0;
    for record in reader.records() {
        let record = record.map_err(|e| format!("{}: {e}", path.display()))?;
        let line = record.position().map_or(0, |p| p.line());
        let bad = |col: usize, what: &str| -> BoxError {
            format!(
                "{}: line {line}, column `{}`: cannot read {:?} as {what}",
                path.display(),
                header.get(col).unwrap_or("?"),
                record.get(col).unwrap_or("")
            )
            .into()
        };
        let cell = |col: usize| record.get(col).unwrap_or("");
        for (col, lookup) in &cats {
            cat.push(
                lookup
                    .code(cell(*col))
                    .map_err(|e| bad(*col, e.expected()))?,
            );
        }
        for &col in &nums {
            let v: f32 = cell(col).parse().map_err(|_| bad(col, "a number"))?;
            if !v.is_finite() {
                return Err(bad(col, "a finite number"));
            }
            num.push(v);
        }
        for (i, &col) in extra_cols.iter().enumerate() {
            let v: u64 = cell(col)
                .parse()
                .map_err(|_| bad(col, "a non-negative integer"))?;
            integers[i].push(v);
        }
        rows += 1;
    }
    if rows == 0 {
        return Err(format!("{}: no data rows", path.display()).into());
    }
    Ok(SideCsv {
        table: FeatureTable {
            categorical: Array2::from_shape_vec((rows, cats.len()), cat)?,
            numeric: Array2::from_shape_vec((rows, nums.len()), num)?,
        },
        integers,
    })
}

/// Risk levels from integer CSV values (0–255).
pub fn levels(values: &[u64], what: &str) -> Result<Vec<RiskLevel>, BoxError> {
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            u8::try_from(v)
                .map(RiskLevel::new)
                .map_err(|_| format!("{what} of row {i}: {v} is above 255").into())
        })
        .collect()
}

/// Writes a synthetic campaign as the three CSV files the example reads with `--history`,
/// `--customers-csv` and `--funds-csv`: `history.csv` (the exposure log with `converted` and
/// `revenue`), `customers.csv` (customer features + `risk_tolerance`) and `funds.csv` (fund
/// features + `risk_level` + `exposure`). The customer feature `risk_tolerance` doubles as the
/// constraint column, so customers.csv holds the raised tolerance of
/// [`synthetic_constraints`].
pub fn write_campaign_csv(
    dir: &Path,
    world: &SyntheticCampaign,
    history: &ExposureDataset,
    constraints: &Constraints,
) -> Result<(), BoxError> {
    std::fs::create_dir_all(dir)?;
    let schema = world.schema();
    let names = |side: Option<Side>| -> Vec<String> {
        let cat = schema
            .categorical()
            .iter()
            .filter(|c| side.is_none_or(|s| c.side == s));
        let num = schema
            .numeric()
            .iter()
            .filter(|n| side.is_none_or(|s| n.side == s));
        cat.map(|c| c.name.clone())
            .chain(num.map(|n| n.name.clone()))
            .collect()
    };
    let row = |cat: ndarray::ArrayView1<u32>, num: ndarray::ArrayView1<f32>| -> Vec<String> {
        cat.iter()
            .map(|c| c.to_string())
            .chain(num.iter().map(|v| v.to_string()))
            .collect()
    };
    let mut w = BufWriter::new(File::create(dir.join("history.csv"))?);
    writeln!(w, "{},converted,revenue", names(None).join(","))?;
    for i in 0..history.len() {
        let cells = row(history.categorical().row(i), history.numeric().row(i));
        let conv = u8::from(history.converted()[i]);
        writeln!(w, "{},{conv},{}", cells.join(","), history.revenue()[i])?;
    }
    w.flush()?;

    let t_col = side_column(schema, Side::Customer, "risk_tolerance")?;
    let mut w = BufWriter::new(File::create(dir.join("customers.csv"))?);
    writeln!(w, "customer,{}", names(Some(Side::Customer)).join(","))?;
    let customers = world.customers();
    for u in 0..customers.len() {
        let mut cat = customers.categorical.row(u).to_owned();
        cat[t_col] = u32::from(constraints.tolerance[u].get());
        let cells = row(cat.view(), customers.numeric.row(u));
        writeln!(w, "{u},{}", cells.join(","))?;
    }
    w.flush()?;

    let mut w = BufWriter::new(File::create(dir.join("funds.csv"))?);
    writeln!(
        w,
        "fund,{},risk_level,exposure",
        names(Some(Side::Fund)).join(",")
    )?;
    let funds = world.funds();
    for f in 0..funds.len() {
        let cells = row(funds.categorical.row(f), funds.numeric.row(f));
        writeln!(
            w,
            "{f},{},{},{}",
            cells.join(","),
            constraints.fund_risk[f].get(),
            constraints.exposure[f]
        )?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use fundalloc::allocator::{AllocationProblem, Heuristic, Solver};
    use fundalloc::revenue_model::SyntheticParams;

    fn world(n: usize, seed: u64) -> SyntheticCampaign {
        SyntheticCampaign::generate(
            SyntheticParams::default()
                .n_customers(n)
                .n_funds(8)
                .seed(seed),
        )
        .unwrap()
    }

    #[test]
    fn synthetic_constraints_are_feasible_and_seeded() {
        for seed in 0..6 {
            let w = world(500, seed);
            let c = synthetic_constraints(&w, 1, seed).unwrap();
            assert_eq!(c, synthetic_constraints(&w, 1, seed).unwrap());
            assert_eq!(c.exposure.iter().sum::<u64>(), 500);
            let p = AllocationProblem::builder(w.expected().clone())
                .exactly(1)
                .exposures(c.exposure.clone())
                .customer_tolerance(c.tolerance.clone())
                .fund_risk(c.fund_risk.clone())
                .build()
                .unwrap();
            let s = Heuristic::new().solve(&p).unwrap();
            assert!(Satisfaction::of(&s.allocation, &c, 1).all());
        }
        assert!(synthetic_constraints(&world(10, 0), 0, 0).is_err());
        assert!(synthetic_constraints(&world(10, 0), 9, 0).is_err());
    }

    #[test]
    fn satisfaction_counts_each_broken_constraint() {
        let c = Constraints {
            tolerance: vec![RiskLevel::new(1), RiskLevel::new(3), RiskLevel::new(3)],
            fund_risk: vec![RiskLevel::new(1), RiskLevel::new(2)],
            exposure: vec![2, 1],
        };
        let good = Allocation::from_rows(2, [vec![0], vec![1], vec![0]]).unwrap();
        let s = Satisfaction::of(&good, &c, 1);
        assert!(s.all());
        // Customer 0 (R1) gets fund 1 (R2); customer 2 gets two funds; fund counts are off.
        let bad = Allocation::from_rows(2, [vec![1], vec![0], vec![0, 1]]).unwrap();
        let s = Satisfaction::of(&bad, &c, 1);
        assert_eq!((s.customers_ok, s.customers), (2, 3));
        assert_eq!((s.funds_ok, s.funds), (1, 2)); // fund 0: 2 = d_0, fund 1: 2 ≠ 1
        assert_eq!((s.assignments_ok, s.assignments), (3, 4));
        assert!(!s.all());
        assert_eq!(percent(2, 3), "66.67 %");
    }

    #[test]
    fn campaign_csv_round_trip() {
        let w = world(30, 4);
        let c = synthetic_constraints(&w, 1, 4).unwrap();
        let h = w.expose(2, 1.0, 5).unwrap();
        let dir = std::env::temp_dir().join(format!("fundalloc-campaign-{}", std::process::id()));
        write_campaign_csv(&dir, &w, &h, &c).unwrap();
        let cust = read_side_csv(
            &dir.join("customers.csv"),
            w.schema(),
            Side::Customer,
            &["risk_tolerance"],
        )
        .unwrap();
        let funds = read_side_csv(
            &dir.join("funds.csv"),
            w.schema(),
            Side::Fund,
            &["risk_level", "exposure"],
        )
        .unwrap();
        assert_eq!(levels(&cust.integers[0], "t").unwrap(), c.tolerance);
        assert_eq!(levels(&funds.integers[0], "r").unwrap(), c.fund_risk);
        assert_eq!(funds.integers[1], c.exposure);
        assert_eq!(funds.table, *w.funds());
        assert_eq!(cust.table.numeric, w.customers().numeric);
        let labels = fundalloc::revenue_model::LabelColumns::new("converted", "revenue");
        let back = fundalloc::revenue_model::load_csv(dir.join("history.csv"), w.schema(), &labels)
            .unwrap();
        assert_eq!(back.categorical(), h.categorical());
        assert_eq!(back.converted(), h.converted());
        // A missing column and a bad code are errors naming the file.
        let e = read_side_csv(&dir.join("funds.csv"), w.schema(), Side::Fund, &["nope"]);
        assert!(e.unwrap_err().to_string().contains("`nope`"));
        std::fs::write(
            dir.join("bad.csv"),
            "fund_id,fund_type,fund_risk,fund_return\n0,9,0,0.1\n",
        )
        .unwrap();
        let e = read_side_csv(&dir.join("bad.csv"), w.schema(), Side::Fund, &[]);
        assert!(e.unwrap_err().to_string().contains("line 2"));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn named_categories_are_read_through_the_schema_levels() {
        let schema = FeatureSchema::builder()
            .categorical_levels("fund_type", ["bond", "equity"], Side::Fund)
            .numeric("fund_return", Side::Fund, false)
            .build()
            .unwrap();
        let dir = std::env::temp_dir().join(format!("fundalloc-named-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("funds.csv");
        std::fs::write(
            &path,
            "fund_type,fund_return,exposure\nequity,0.1,3\nbond,0.2,4\n",
        )
        .unwrap();
        let funds = read_side_csv(&path, &schema, Side::Fund, &["exposure"]).unwrap();
        assert_eq!(funds.table.categorical.column(0).to_vec(), [1, 0]);
        assert_eq!(funds.integers[0], [3, 4]);
        std::fs::write(
            &path,
            "fund_type,fund_return,exposure\nequity,0.1,3\ngold,0.2,4\n",
        )
        .unwrap();
        let e = read_side_csv(&path, &schema, Side::Fund, &["exposure"]).unwrap_err();
        let e = e.to_string();
        assert!(
            e.contains("line 3") && e.contains("\"gold\"") && e.contains("levels"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
