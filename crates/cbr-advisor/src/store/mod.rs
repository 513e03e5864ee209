//! The case store: the durable data tier of SMARTFASI (the paper's client/server RDBMS, §4)
//! behind one small trait, [`CaseStore`], with two backends: SQLite embedded
//! ([`SqliteStore`], feature `sqlite`, on by default) and PostgreSQL ([`PostgresStore`],
//! feature `postgres`).
//!
//! The in-memory [`CaseBase`] stays the query index; the store holds the schema (features,
//! kinds, weights, categories, distance matrices), the products, the customers (one column
//! per feature), their portfolios (first level: the 6 class shares) and holdings (second
//! level: product and share as given), and the schema version. The tables are described in
//! `docs/cbr-advisor.md` ("Storing the case base").
//!
//! * [`CaseStore::load`] streams the three big tables in key order and builds the case base
//!   without materialising the rows (memory ≈ the case base itself);
//! * [`CaseStore::retain`] writes one case in one transaction: after a crash the case is
//!   either wholly there or not at all;
//! * [`CaseStore::export`] returns the data exactly as imported (holdings in their order,
//!   shares as given, bit-exact floats), so JSON → store → JSON round-trips;
//! * migrations are versioned (table `schema_migrations`); a database written by a newer
//!   version is refused ([`StoreProblem::NewerSchema`]) and never modified.
//!
//! Every bad row (a NaN or negative share, a dangling product, a duplicate id, an unknown
//! category code…) is a [`CbrError::Store`] naming the table and the row.
// Built without any backend (the facade's default), only the trait and `open_store` are used.
#![cfg_attr(
    not(any(feature = "sqlite", feature = "postgres")),
    allow(dead_code, unused_imports)
)]

use std::collections::{BTreeMap, HashMap, HashSet};

use fundalloc_core_types::{CustomerId, FundId, RiskLevel};

use crate::casebase::{EncodedPortfolio, MISSING};
use crate::error::StoreProblem;
use crate::product::{Catalogue, Issuer, N_CLASSES, Product, RateType};
use crate::schema::{Column, FeatureKind, FeatureSpec, Schema, SchemaSpec};
use crate::{CaseBase, CaseBaseData, CbrError, CustomerRecord, Holding, PortfolioRecord, Result};
use crate::{PortfolioId, Value};

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "postgres")]
pub use self::postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use self::sqlite::SqliteStore;

/// The newest schema version of the store's tables that this code knows (and creates).
/// A database with a higher version is refused with [`StoreProblem::NewerSchema`].
pub const STORE_SCHEMA_VERSION: u32 = 1;

/// The durable layer of the case base. The server and the import/export commands use only
/// this trait, so they do not depend on the backend.
///
/// Implementations serialise their own access (`&mut self`): the server wraps the store in a
/// mutex and holds it only while writing a retained case.
pub trait CaseStore: Send {
    /// A description of the store for logs (`sqlite:cases.sqlite`, `postgres://host/db`;
    /// never a password).
    fn describe(&self) -> String;

    /// Loads the whole case base, streaming the rows in key order (customers in the order
    /// they were stored), validating every row.
    ///
    /// # Errors
    /// [`CbrError::Store`] naming the table and row of the first bad row, or
    /// [`StoreProblem::NoCaseBase`] when nothing was imported; backend errors as
    /// [`CbrError::Store`]. Complexity: O(customers + portfolios + holdings).
    fn load(&mut self) -> Result<CaseBase>;

    /// The stored data exactly as imported and retained (shares as given, holdings in their
    /// order): `export(import(d)) == d` for data whose records name every feature.
    ///
    /// # Errors
    /// As [`CaseStore::load`].
    fn export(&mut self) -> Result<CaseBaseData>;

    /// Replaces everything stored by `data`, in one transaction (validated first: nothing is
    /// written when a record is invalid). Returns the number of customers written.
    ///
    /// # Errors
    /// The validation errors of [`CaseBase::add`] (an invalid record), [`CbrError::Store`]
    /// ([`StoreProblem::Busy`] when another writer holds the database).
    fn import(&mut self, data: &CaseBaseData) -> Result<usize>;

    /// Retain: stores one new case (customer, portfolios, holdings) in ONE transaction.
    /// `cb` is the case base the record was validated against (schema and catalogue).
    ///
    /// # Errors
    /// [`CbrError::Store`] with [`StoreProblem::DuplicateId`] for a stored id,
    /// [`StoreProblem::Busy`] / [`StoreProblem::Unavailable`] when the database cannot be
    /// written now (nothing was written; retry), and the validation errors of
    /// [`CaseBase::add`].
    fn retain(&mut self, cb: &CaseBase, record: &CustomerRecord) -> Result<()>;
}

/// Opens the store a `--db` argument names: `postgres://…` / `postgresql://…` (feature
/// `postgres`), otherwise a SQLite file path (optionally prefixed `sqlite:`; created when
/// missing).
///
/// # Errors
/// [`CbrError::Store`] when the database cannot be opened or migrated (corrupt file, newer
/// schema, unreachable server), [`CbrError::InvalidParameter`] for a backend this build lacks.
pub fn open_store(url: &str) -> Result<Box<dyn CaseStore>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        {
            return Ok(Box::new(PostgresStore::connect(url)?));
        }
        #[cfg(not(feature = "postgres"))]
        {
            return Err(fundalloc_core_types::InvalidParameter::new(
                "db",
                url.len() as f64,
                "this build has no PostgreSQL backend (feature `postgres`)",
            )
            .into());
        }
    }
    let path = url.strip_prefix("sqlite:").unwrap_or(url);
    #[cfg(feature = "sqlite")]
    {
        Ok(Box::new(SqliteStore::open(path)?))
    }
    #[cfg(not(feature = "sqlite"))]
    {
        Err(fundalloc_core_types::InvalidParameter::new(
            "db",
            path.len() as f64,
            "this build has no SQLite backend (feature `sqlite`)",
        )
        .into())
    }
}

// ---------------------------------------------------------------------------------------------
// Backend-independent row model.

/// A store error naming its table and row.
pub(crate) fn store_err(table: &str, row: Option<String>, problem: StoreProblem) -> CbrError {
    CbrError::Store {
        table: table.to_owned(),
        row,
        problem,
    }
}

/// The error for a database whose schema version is newer than this code's.
pub(crate) fn newer_schema(found: u32) -> CbrError {
    store_err(
        "schema_migrations",
        Some(format!("version={found}")),
        StoreProblem::NewerSchema {
            found,
            supported: STORE_SCHEMA_VERSION,
        },
    )
}

/// One cell of a customer's feature column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Cell {
    Null,
    Num(f64),
    Code(i64),
}

/// The column of feature `position` in table `customers`.
pub(crate) fn feature_column(position: usize) -> String {
    format!("f{position}")
}

#[derive(Debug, Clone)]
pub(crate) struct CustomerRow {
    pub(crate) seq: i64,
    pub(crate) id: String,
    pub(crate) cells: Vec<Cell>,
}

#[derive(Debug, Clone)]
pub(crate) struct PortfolioRow {
    pub(crate) seq: i64,
    pub(crate) customer_seq: i64,
    pub(crate) id: String,
}

#[derive(Debug, Clone)]
pub(crate) struct HoldingRow {
    pub(crate) portfolio_seq: i64,
    pub(crate) position: i64,
    pub(crate) product: String,
    pub(crate) share: f64,
}

/// The schema tables' rows.
#[derive(Debug, Clone, Default)]
pub(crate) struct SchemaRows {
    /// (position, name, kind, weight, has_matrix)
    pub(crate) features: Vec<(i64, String, String, i64, bool)>,
    /// (feature position, code, name)
    pub(crate) categories: Vec<(i64, i64, String)>,
    /// (feature position, row code, column code, value)
    pub(crate) distances: Vec<(i64, i64, i64, f64)>,
    /// `meta` rows: `portfolio_weight`, `adequacy_feature`.
    pub(crate) meta: Vec<(String, String)>,
}

/// A product row: (position, code, class, risk level, issuer, rate).
pub(crate) type ProductRow = (i64, String, i64, i64, String, String);

pub(crate) fn schema_rows(schema: &Schema) -> SchemaRows {
    let mut r = SchemaRows::default();
    for (pos, f) in schema.features().iter().enumerate() {
        let pos = pos as i64;
        match &f.kind {
            FeatureKind::Linear => {
                r.features
                    .push((pos, f.name.clone(), "linear".into(), f.weight.into(), false));
            }
            FeatureKind::Nominal {
                categories,
                distances,
            } => {
                r.features.push((
                    pos,
                    f.name.clone(),
                    "nominal".into(),
                    f.weight.into(),
                    distances.is_some(),
                ));
                for (k, c) in categories.iter().enumerate() {
                    r.categories.push((pos, k as i64, c.clone()));
                }
                for (i, row) in distances.iter().flatten().enumerate() {
                    for (j, &v) in row.iter().enumerate() {
                        r.distances.push((pos, i as i64, j as i64, v));
                    }
                }
            }
        }
    }
    r.meta.push((
        "portfolio_weight".into(),
        schema.portfolio_weight().to_string(),
    ));
    if let Some(a) = &schema.spec().adequacy_feature {
        r.meta.push(("adequacy_feature".into(), a.clone()));
    }
    r
}

pub(crate) fn schema_from_rows(rows: SchemaRows) -> Result<Schema> {
    let bad = |table: &str, row: String, m: String| {
        store_err(table, Some(row), StoreProblem::InvalidValue(m))
    };
    let meta: HashMap<String, String> = rows.meta.into_iter().collect();
    let Some(pw) = meta.get("portfolio_weight") else {
        return Err(store_err("meta", None, StoreProblem::NoCaseBase));
    };
    let portfolio_weight: u8 = pw.parse().map_err(|_| {
        bad(
            "meta",
            "portfolio_weight".into(),
            format!("`{pw}` is not a weight"),
        )
    })?;
    let mut cats: BTreeMap<i64, Vec<(i64, String)>> = BTreeMap::new();
    for (f, code, name) in rows.categories {
        cats.entry(f).or_default().push((code, name));
    }
    let mut dists: BTreeMap<i64, Vec<(i64, i64, f64)>> = BTreeMap::new();
    for (f, i, j, v) in rows.distances {
        dists.entry(f).or_default().push((i, j, v));
    }
    let mut features = Vec::with_capacity(rows.features.len());
    for (k, (pos, name, kind, weight, has_matrix)) in rows.features.into_iter().enumerate() {
        let row = || format!("position={pos}");
        if pos != k as i64 {
            return Err(bad(
                "features",
                row(),
                format!("positions must be 0..n, expected {k}"),
            ));
        }
        let weight =
            u8::try_from(weight).map_err(|_| bad("features", row(), format!("weight {weight}")))?;
        let kind = match kind.as_str() {
            "linear" => FeatureKind::Linear,
            "nominal" => {
                let mut list = cats.remove(&pos).unwrap_or_default();
                list.sort_by_key(|c| c.0);
                for (i, (code, _)) in list.iter().enumerate() {
                    if *code != i as i64 {
                        return Err(bad(
                            "categories",
                            format!("feature={pos}, code={code}"),
                            format!("codes must be 0..n, expected {i}"),
                        ));
                    }
                }
                let n = list.len();
                let distances = if has_matrix {
                    fundalloc_core_types::TooLarge::check(
                        "nominal distance matrix cells",
                        (n as u128) * (n as u128),
                        crate::MAX_MATRIX_CELLS as u128,
                    )?;
                    let mut m = vec![vec![f64::NAN; n]; n];
                    for (i, j, v) in dists.remove(&pos).unwrap_or_default() {
                        let cell = usize::try_from(i)
                            .ok()
                            .zip(usize::try_from(j).ok())
                            .and_then(|(i, j)| m.get_mut(i)?.get_mut(j));
                        match cell {
                            Some(c) => *c = v,
                            None => {
                                return Err(bad(
                                    "distances",
                                    format!("feature={pos}, row_code={i}, col_code={j}"),
                                    format!("code outside 0..{n}"),
                                ));
                            }
                        }
                    }
                    Some(m)
                } else {
                    None
                };
                FeatureKind::Nominal {
                    categories: list.into_iter().map(|c| c.1).collect(),
                    distances,
                }
            }
            other => return Err(bad("features", row(), format!("kind `{other}`"))),
        };
        features.push(FeatureSpec { name, kind, weight });
    }
    if let Some((&f, _)) = cats.iter().next() {
        return Err(store_err(
            "categories",
            Some(format!("feature={f}")),
            StoreProblem::DanglingReference {
                to: "features".into(),
                key: format!("position={f} (nominal)"),
            },
        ));
    }
    SchemaSpec {
        features,
        portfolio_weight,
        adequacy_feature: meta.get("adequacy_feature").cloned(),
    }
    .check()
    .map_err(|e| store_err("features", None, StoreProblem::InvalidValue(e.to_string())))
}

pub(crate) fn product_rows(cat: &Catalogue) -> Vec<ProductRow> {
    cat.products()
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let issuer = match p.issuer {
                Issuer::Corporate => "C",
                Issuer::Government => "G",
            };
            let rate = match p.rate {
                RateType::Fixed => "F",
                RateType::Variable => "V",
                RateType::FloatingCap => "C",
            };
            (
                i as i64,
                p.id.to_string(),
                p.class() as i64,
                i64::from(p.risk_level.get()),
                issuer.into(),
                rate.into(),
            )
        })
        .collect()
}

pub(crate) fn catalogue_from_rows(rows: Vec<ProductRow>) -> Result<Catalogue> {
    let mut products = Vec::with_capacity(rows.len());
    for (k, (pos, code, _class, risk, issuer, rate)) in rows.into_iter().enumerate() {
        let bad = |m: String| {
            store_err(
                "products",
                Some(format!("code={code}")),
                StoreProblem::InvalidValue(m),
            )
        };
        if pos != k as i64 {
            return Err(bad(format!("positions must be 0..n, expected {k}")));
        }
        let risk = u8::try_from(risk).map_err(|_| bad(format!("risk level {risk}")))?;
        let issuer = match issuer.as_str() {
            "C" => Issuer::Corporate,
            "G" => Issuer::Government,
            _ => return Err(bad(format!("issuer `{issuer}`"))),
        };
        let rate = match rate.as_str() {
            "F" => RateType::Fixed,
            "V" => RateType::Variable,
            "C" => RateType::FloatingCap,
            _ => return Err(bad(format!("rate `{rate}`"))),
        };
        products.push(Product {
            id: FundId::new(code.as_str()),
            risk_level: RiskLevel::new(risk),
            issuer,
            rate,
        });
    }
    Catalogue::new(products).map_err(|e| match e {
        CbrError::DuplicateId { id, .. } => store_err(
            "products",
            Some(format!("code={id}")),
            StoreProblem::DuplicateId,
        ),
        e => e,
    })
}

/// What a backend writes for one customer: its feature cells and its portfolios (first-level
/// classes from the validated encoding, holdings as given).
pub(crate) struct CaseRows<'a> {
    pub(crate) id: &'a str,
    pub(crate) cells: Vec<Cell>,
    pub(crate) portfolios: Vec<(&'a PortfolioRecord, [f64; N_CLASSES])>,
}

/// Validates `record` against `cb` (as [`CaseBase::add`] does, without the duplicate check)
/// and returns the rows to write.
pub(crate) fn case_rows<'a>(cb: &CaseBase, record: &'a CustomerRecord) -> Result<CaseRows<'a>> {
    let t = cb.target_from_record(record)?;
    let mut cells = Vec::with_capacity(cb.schema().features().len());
    for col in cb.schema().columns() {
        cells.push(match col {
            Column::Linear(c) => match t.lin.get(*c) {
                Some(x) if !x.is_nan() => Cell::Num(*x),
                _ => Cell::Null,
            },
            Column::Nominal(c, _, _) => match t.nom.get(*c) {
                Some(&x) if x != MISSING => Cell::Code(i64::from(x)),
                _ => Cell::Null,
            },
        });
    }
    let portfolios = record
        .portfolios
        .iter()
        .zip(&t.pfs)
        .map(|(p, e): (&PortfolioRecord, &EncodedPortfolio)| (p, e.classes))
        .collect();
    Ok(CaseRows {
        id: record.id.as_str(),
        cells,
        portfolios,
    })
}

/// Validates a whole data set before an import: every record as [`CaseBase::add`] would, and
/// unique customer ids. Memory: the ids only.
pub(crate) fn validate_data(data: &CaseBaseData) -> Result<CaseBase> {
    let empty = CaseBase::new(data.schema.clone(), data.products.clone());
    let mut seen = HashSet::with_capacity(data.customers.len());
    for r in &data.customers {
        if !seen.insert(r.id.as_str()) {
            return Err(CbrError::DuplicateId {
                what: crate::IdKind::Customer,
                id: r.id.to_string(),
            });
        }
        empty.target_from_record(r)?;
    }
    Ok(empty)
}

/// Walks the three big tables in key order and hands each customer with its portfolios and
/// their holdings to `each`. Rows of portfolios or holdings whose owner does not exist are
/// dangling references.
pub(crate) fn merge<C, P, H>(
    customers: C,
    portfolios: P,
    holdings: H,
    mut each: impl FnMut(CustomerRow, Vec<(PortfolioRow, Vec<HoldingRow>)>) -> Result<()>,
) -> Result<()>
where
    C: Iterator<Item = Result<CustomerRow>>,
    P: Iterator<Item = Result<PortfolioRow>>,
    H: Iterator<Item = Result<HoldingRow>>,
{
    let mut portfolios = portfolios.peekable();
    let mut holdings = holdings.peekable();
    let dangling_pf = |p: &PortfolioRow| {
        store_err(
            "portfolios",
            Some(format!("seq={}", p.seq)),
            StoreProblem::DanglingReference {
                to: "customers".into(),
                key: format!("seq={}", p.customer_seq),
            },
        )
    };
    let dangling_h = |h: &HoldingRow| {
        store_err(
            "holdings",
            Some(format!(
                "portfolio_seq={}, position={}",
                h.portfolio_seq, h.position
            )),
            StoreProblem::DanglingReference {
                to: "portfolios".into(),
                key: format!("seq={}", h.portfolio_seq),
            },
        )
    };
    for c in customers {
        let c = c?;
        let mut pfs = Vec::new();
        loop {
            match portfolios.peek() {
                Some(Ok(p)) if p.customer_seq < c.seq => return Err(dangling_pf(p)),
                Some(Ok(p)) if p.customer_seq == c.seq => {}
                Some(Err(_)) => {
                    if let Some(Err(e)) = portfolios.next() {
                        return Err(e);
                    }
                }
                _ => break,
            }
            let Some(Ok(p)) = portfolios.next() else {
                break;
            };
            let mut hs = Vec::new();
            loop {
                match holdings.peek() {
                    Some(Ok(h)) if h.portfolio_seq < p.seq => return Err(dangling_h(h)),
                    Some(Ok(h)) if h.portfolio_seq == p.seq => {}
                    Some(Err(_)) => {
                        if let Some(Err(e)) = holdings.next() {
                            return Err(e);
                        }
                    }
                    _ => break,
                }
                if let Some(Ok(h)) = holdings.next() {
                    hs.push(h);
                }
            }
            pfs.push((p, hs));
        }
        each(c, pfs)?;
    }
    if let Some(p) = portfolios.next() {
        return Err(dangling_pf(&p?));
    }
    if let Some(h) = holdings.next() {
        return Err(dangling_h(&h?));
    }
    Ok(())
}

/// Builds the case base from the streamed rows (the fast path: no intermediate records).
pub(crate) struct Assembler {
    cb: CaseBase,
    products: HashMap<String, u32>,
}

impl Assembler {
    pub(crate) fn new(schema: Schema, catalogue: Catalogue) -> Self {
        let products = catalogue
            .products()
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.to_string(), i as u32))
            .collect();
        Self {
            cb: CaseBase::new(schema, catalogue),
            products,
        }
    }

    pub(crate) fn finish(self) -> CaseBase {
        self.cb
    }

    pub(crate) fn push(
        &mut self,
        c: CustomerRow,
        pfs: Vec<(PortfolioRow, Vec<HoldingRow>)>,
    ) -> Result<()> {
        let schema = self.cb.schema();
        let row = || Some(format!("id={}", c.id));
        let bad = |m: String| store_err("customers", row(), StoreProblem::InvalidValue(m));
        if c.cells.len() != schema.features().len() {
            return Err(bad(format!(
                "{} feature columns, the schema has {}",
                c.cells.len(),
                schema.features().len()
            )));
        }
        let mut lin = vec![f64::NAN; schema.n_linear()];
        let mut nom = vec![MISSING; schema.n_nominal()];
        for ((f, col), cell) in schema.features().iter().zip(schema.columns()).zip(&c.cells) {
            match (col, *cell) {
                (_, Cell::Null) => {}
                (Column::Linear(k), Cell::Num(x)) if x.is_finite() => lin[*k] = x,
                (Column::Nominal(k, n, _), Cell::Code(x)) if x >= 0 && x < *n as i64 => {
                    nom[*k] = x as u16;
                }
                (_, v) => return Err(bad(format!("feature `{}` = {v:?}", f.name))),
            }
        }
        let mut encoded = Vec::with_capacity(pfs.len());
        let mut seen = HashSet::new();
        for (p, hs) in pfs {
            let prow = || Some(format!("seq={}", p.seq));
            if !seen.insert(p.id.clone()) {
                return Err(store_err("portfolios", prow(), StoreProblem::DuplicateId));
            }
            let mut by_asset: BTreeMap<u32, f64> = BTreeMap::new();
            for h in &hs {
                let hrow = || {
                    Some(format!(
                        "portfolio_seq={}, position={}",
                        h.portfolio_seq, h.position
                    ))
                };
                if !h.share.is_finite() || h.share < 0.0 {
                    return Err(store_err(
                        "holdings",
                        hrow(),
                        StoreProblem::InvalidShare(h.share),
                    ));
                }
                let Some(&a) = self.products.get(&h.product) else {
                    return Err(store_err(
                        "holdings",
                        hrow(),
                        StoreProblem::DanglingReference {
                            to: "products".into(),
                            key: format!("code={}", h.product),
                        },
                    ));
                };
                if h.share > 0.0 {
                    *by_asset.entry(a).or_insert(0.0) += h.share;
                }
            }
            let e = self.cb.normalise_portfolio(p.id, by_asset).ok_or_else(|| {
                store_err(
                    "portfolios",
                    prow(),
                    StoreProblem::InvalidValue("no holding with a positive share".into()),
                )
            })?;
            encoded.push(e);
        }
        let id = CustomerId::new(c.id.as_str());
        match self.cb.add_encoded(id, lin, nom, encoded) {
            Ok(_) => Ok(()),
            Err(CbrError::DuplicateId { .. }) => {
                Err(store_err("customers", row(), StoreProblem::DuplicateId))
            }
            Err(CbrError::RangeOverflow { feature, value, .. }) => Err(bad(format!(
                "feature `{feature}` = {value} makes its range infinite"
            ))),
            Err(e) => Err(e),
        }
    }
}

/// Decodes the streamed rows into a record exactly as stored.
pub(crate) fn record_from_rows(
    schema: &Schema,
    c: CustomerRow,
    pfs: Vec<(PortfolioRow, Vec<HoldingRow>)>,
) -> Result<CustomerRecord> {
    let mut rec = CustomerRecord::new(c.id.as_str());
    for (f, cell) in schema.features().iter().zip(&c.cells) {
        let v = match (&f.kind, *cell) {
            (_, Cell::Null) => None,
            (FeatureKind::Linear, Cell::Num(x)) => Some(Value::Num(x)),
            (FeatureKind::Nominal { categories, .. }, Cell::Code(k)) => Some(Value::Text(
                usize::try_from(k)
                    .ok()
                    .and_then(|k| categories.get(k))
                    .cloned()
                    .ok_or_else(|| {
                        store_err(
                            "customers",
                            Some(format!("id={}", c.id)),
                            StoreProblem::InvalidValue(format!(
                                "feature `{}` has no category {k}",
                                f.name
                            )),
                        )
                    })?,
            )),
            (_, v) => {
                return Err(store_err(
                    "customers",
                    Some(format!("id={}", c.id)),
                    StoreProblem::InvalidValue(format!("feature `{}` = {v:?}", f.name)),
                ));
            }
        };
        rec.features.insert(f.name.clone(), v);
    }
    for (p, hs) in pfs {
        rec.portfolios.push(PortfolioRecord {
            id: PortfolioId::new(p.id),
            holdings: hs
                .into_iter()
                .map(|h| Holding {
                    product: FundId::new(h.product.as_str()),
                    share: h.share,
                })
                .collect(),
        });
    }
    Ok(rec)
}

/// Reconnection delays of a lost database server: 50 ms doubling to 5 s.
#[cfg(feature = "postgres")]
pub(crate) fn next_backoff(prev: std::time::Duration) -> std::time::Duration {
    (prev * 2).clamp(
        std::time::Duration::from_millis(50),
        std::time::Duration::from_secs(5),
    )
}
