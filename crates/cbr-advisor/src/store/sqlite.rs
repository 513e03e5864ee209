//! The SQLite backend: an embedded database file (bundled SQLite, no system library) in WAL
//! mode with `synchronous = FULL`, a busy timeout and foreign keys on.
//!
//! Several processes may open one file: readers never block the writer (WAL); a writer that
//! finds the database locked waits up to the busy timeout, then gets
//! [`StoreProblem::Busy`]. Every write is one transaction, so a process killed in the middle
//! of one leaves the previous state.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode as SqlCode, OptionalExtension, TransactionBehavior, params};

use super::{
    Assembler, CaseRows, CaseStore, Cell, CustomerRow, HoldingRow, PortfolioRow, ProductRow,
    STORE_SCHEMA_VERSION, SchemaRows, case_rows, catalogue_from_rows, feature_column, merge,
    newer_schema, product_rows, record_from_rows, schema_from_rows, schema_rows, store_err,
    validate_data,
};
use crate::error::StoreProblem;
use crate::product::Catalogue;
use crate::schema::{FeatureKind, Schema};
use crate::{CaseBase, CaseBaseData, CbrError, CustomerRecord, Result};

/// The migrations, in order: (version, name, SQL). Version 1 creates every table.
const MIGRATIONS: &[(u32, &str, &str)] = &[(
    1,
    "case base tables",
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE features(position INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
         kind TEXT NOT NULL CHECK (kind IN ('linear', 'nominal')),
         weight INTEGER NOT NULL CHECK (weight BETWEEN 1 AND 3),
         has_matrix INTEGER NOT NULL DEFAULT 0);
     CREATE TABLE categories(feature INTEGER NOT NULL REFERENCES features(position),
         code INTEGER NOT NULL, name TEXT NOT NULL, PRIMARY KEY (feature, code));
     CREATE TABLE distances(feature INTEGER NOT NULL REFERENCES features(position),
         row_code INTEGER NOT NULL, col_code INTEGER NOT NULL, value REAL NOT NULL,
         PRIMARY KEY (feature, row_code, col_code));
     CREATE TABLE products(position INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE,
         asset_class INTEGER NOT NULL, risk_level INTEGER NOT NULL,
         issuer TEXT NOT NULL, rate TEXT NOT NULL);
     CREATE TABLE customers(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE);
     CREATE TABLE portfolios(seq INTEGER PRIMARY KEY,
         customer_seq INTEGER NOT NULL REFERENCES customers(seq), id TEXT NOT NULL,
         cf REAL NOT NULL, cv REAL NOT NULL, cc REAL NOT NULL,
         gf REAL NOT NULL, gv REAL NOT NULL, gc REAL NOT NULL,
         UNIQUE (customer_seq, id));
     CREATE TABLE holdings(portfolio_seq INTEGER NOT NULL REFERENCES portfolios(seq),
         position INTEGER NOT NULL, product TEXT NOT NULL REFERENCES products(code),
         share REAL NOT NULL, PRIMARY KEY (portfolio_seq, position)) WITHOUT ROWID;
     CREATE INDEX holdings_by_product ON holdings(product);
     CREATE VIEW product_stats AS
         SELECT p.code, p.asset_class, p.risk_level, COUNT(h.product) AS holdings,
                COALESCE(SUM(h.share), 0.0) AS total_share
         FROM products p LEFT JOIN holdings h ON h.product = p.code GROUP BY p.code;",
)];

/// A case store in a SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
}

/// Maps a SQLite error to a typed store error about `table` (and `row`).
pub(crate) fn sql_err(table: &str, row: Option<String>, e: &rusqlite::Error) -> CbrError {
    let problem = match e {
        rusqlite::Error::SqliteFailure(f, msg) => {
            let text = msg.clone().unwrap_or_else(|| e.to_string());
            match f.code {
                SqlCode::NotADatabase | SqlCode::DatabaseCorrupt => StoreProblem::Corrupt(text),
                SqlCode::DatabaseBusy | SqlCode::DatabaseLocked => StoreProblem::Busy,
                SqlCode::ConstraintViolation
                    if text.contains("UNIQUE") || text.contains("PRIMARY KEY") =>
                {
                    StoreProblem::DuplicateId
                }
                _ if text.contains("no such table") => {
                    let t = text.rsplit(':').next().unwrap_or(table).trim();
                    let t = t.strip_prefix("main.").unwrap_or(t);
                    return store_err(t, row, StoreProblem::MissingTable);
                }
                _ => StoreProblem::Backend(text),
            }
        }
        _ => StoreProblem::Backend(e.to_string()),
    };
    store_err(table, row, problem)
}

fn cell(v: ValueRef<'_>, kind: &FeatureKind) -> Cell {
    match (v, kind) {
        (ValueRef::Null, _) => Cell::Null,
        (ValueRef::Real(x), FeatureKind::Linear) => Cell::Num(x),
        (ValueRef::Integer(i), FeatureKind::Linear) => Cell::Num(i as f64),
        (ValueRef::Integer(i), FeatureKind::Nominal { .. }) => Cell::Code(i),
        // Anything else (text, blobs, a real in a nominal column) is an invalid cell: a NaN
        // number for a linear feature, a negative code for a nominal one.
        (_, FeatureKind::Linear) => Cell::Num(f64::NAN),
        (_, FeatureKind::Nominal { .. }) => Cell::Code(-1),
    }
}

fn share(v: ValueRef<'_>) -> f64 {
    match v {
        ValueRef::Real(x) => x,
        ValueRef::Integer(i) => i as f64,
        // SQLite stores a NaN as NULL; text such as 'NaN' or '-1' is read as that number.
        ValueRef::Text(t) => std::str::from_utf8(t)
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

impl SqliteStore {
    /// Opens (creating when missing) the database file at `path`, sets WAL mode,
    /// `synchronous = FULL`, foreign keys and a 5 s busy timeout, and applies the missing
    /// migrations.
    ///
    /// # Errors
    /// [`StoreProblem::Corrupt`] for a file that is not a SQLite database,
    /// [`StoreProblem::NewerSchema`] for a database written by a newer version (left
    /// untouched), [`StoreProblem::Busy`] when another process holds the write lock past the
    /// busy timeout while migrating.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let conn = Connection::open(&path).map_err(|e| sql_err("sqlite_master", None, &e))?;
        let e = |e: rusqlite::Error| sql_err("sqlite_master", None, &e);
        conn.busy_timeout(Duration::from_secs(5)).map_err(e)?;
        // Reads the header: a file that is not a database fails here.
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(e)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(e)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(store_err(
                "sqlite_master",
                None,
                StoreProblem::Backend(format!("journal mode `{mode}`, WAL expected")),
            ));
        }
        conn.pragma_update(None, "synchronous", "FULL").map_err(e)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(e)?;
        let mut store = Self { conn, path };
        store.migrate()?;
        Ok(store)
    }

    /// Sets how long a writer waits for another one's lock before [`StoreProblem::Busy`]
    /// (default 5 s).
    ///
    /// # Errors
    /// A backend error.
    pub fn set_busy_timeout(&mut self, timeout: Duration) -> Result<()> {
        self.conn
            .busy_timeout(timeout)
            .map_err(|e| sql_err("sqlite_master", None, &e))
    }

    /// The schema version of the database (0 before the first migration).
    ///
    /// # Errors
    /// A backend error.
    pub fn schema_version(&self) -> Result<u32> {
        version(&self.conn)
    }

    fn migrate(&mut self) -> Result<()> {
        let found = version(&self.conn)?;
        if found > STORE_SCHEMA_VERSION {
            return Err(newer_schema(found));
        }
        if found == STORE_SCHEMA_VERSION {
            return Ok(());
        }
        let e = |e: rusqlite::Error| sql_err("schema_migrations", None, &e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(e)?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations(version INTEGER PRIMARY KEY,
                 name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)",
        )
        .map_err(e)?;
        // Another process may have migrated between the check and the lock.
        let found = version(&tx)?;
        if found > STORE_SCHEMA_VERSION {
            return Err(newer_schema(found));
        }
        for &(v, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > found) {
            tx.execute_batch(sql).map_err(e)?;
            tx.execute(
                "INSERT INTO schema_migrations(version, name) VALUES (?1, ?2)",
                params![v, name],
            )
            .map_err(e)?;
        }
        tx.commit().map_err(e)
    }

    fn schema_and_catalogue(&self) -> Result<(Schema, Catalogue)> {
        let c = &self.conn;
        let mut rows = SchemaRows::default();
        let e = |t: &'static str| move |e: rusqlite::Error| sql_err(t, None, &e);
        let mut st = c
            .prepare("SELECT key, value FROM meta")
            .map_err(e("meta"))?;
        rows.meta = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(Iterator::collect)
            .map_err(e("meta"))?;
        let mut st = c
            .prepare(
                "SELECT position, name, kind, weight, has_matrix FROM features ORDER BY position",
            )
            .map_err(e("features"))?;
        rows.features = st
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .and_then(Iterator::collect)
            .map_err(e("features"))?;
        let mut st = c
            .prepare("SELECT feature, code, name FROM categories ORDER BY feature, code")
            .map_err(e("categories"))?;
        rows.categories = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .and_then(Iterator::collect)
            .map_err(e("categories"))?;
        let mut st = c
            .prepare("SELECT feature, row_code, col_code, value FROM distances")
            .map_err(e("distances"))?;
        rows.distances = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .and_then(Iterator::collect)
            .map_err(e("distances"))?;
        let schema = schema_from_rows(rows)?;
        let mut st = c
            .prepare(
                "SELECT position, code, asset_class, risk_level, issuer, rate FROM products
                 ORDER BY position",
            )
            .map_err(e("products"))?;
        let products: Vec<ProductRow> = st
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .and_then(Iterator::collect)
            .map_err(e("products"))?;
        Ok((schema, catalogue_from_rows(products)?))
    }

    /// Streams customers, portfolios and holdings in key order into `each`, in one read
    /// transaction (a consistent snapshot while writers go on).
    fn walk(
        &mut self,
        schema: &Schema,
        each: impl FnMut(CustomerRow, Vec<(PortfolioRow, Vec<HoldingRow>)>) -> Result<()>,
    ) -> Result<()> {
        let e = |t: &'static str| move |e: rusqlite::Error| sql_err(t, None, &e);
        let tx = self.conn.transaction().map_err(e("customers"))?;
        let cols: Vec<String> = (0..schema.features().len())
            .map(|k| format!(", \"{}\"", feature_column(k)))
            .collect();
        let mut cst = tx
            .prepare(&format!(
                "SELECT seq, id{} FROM customers ORDER BY seq",
                cols.concat()
            ))
            .map_err(e("customers"))?;
        let mut pst = tx
            .prepare("SELECT seq, customer_seq, id FROM portfolios ORDER BY seq")
            .map_err(e("portfolios"))?;
        let mut hst = tx
            .prepare(
                "SELECT portfolio_seq, position, product, share FROM holdings
                 ORDER BY portfolio_seq, position",
            )
            .map_err(e("holdings"))?;
        let kinds: Vec<&FeatureKind> = schema.features().iter().map(|f| &f.kind).collect();
        let customers = cst
            .query_map([], |r| {
                let mut cells = Vec::with_capacity(kinds.len());
                for (k, kind) in kinds.iter().enumerate() {
                    cells.push(cell(r.get_ref(k + 2)?, kind));
                }
                Ok(CustomerRow {
                    seq: r.get(0)?,
                    id: r.get(1)?,
                    cells,
                })
            })
            .map_err(e("customers"))?
            .map(|r| r.map_err(|x| sql_err("customers", None, &x)));
        let portfolios = pst
            .query_map([], |r| {
                Ok(PortfolioRow {
                    seq: r.get(0)?,
                    customer_seq: r.get(1)?,
                    id: r.get(2)?,
                })
            })
            .map_err(e("portfolios"))?
            .map(|r| r.map_err(|x| sql_err("portfolios", None, &x)));
        let holdings = hst
            .query_map([], |r| {
                Ok(HoldingRow {
                    portfolio_seq: r.get(0)?,
                    position: r.get(1)?,
                    product: r.get(2)?,
                    share: share(r.get_ref(3)?),
                })
            })
            .map_err(e("holdings"))?
            .map(|r| r.map_err(|x| sql_err("holdings", None, &x)));
        merge(customers, portfolios, holdings, each)
    }
}

fn version(c: &Connection) -> Result<u32> {
    let e = |e: rusqlite::Error| sql_err("schema_migrations", None, &e);
    let exists: Option<i64> = c
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(e)?;
    if exists.is_none() {
        return Ok(0);
    }
    let v: i64 = c
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )
        .map_err(e)?;
    Ok(u32::try_from(v).unwrap_or(u32::MAX))
}

fn to_sql(c: &Cell) -> rusqlite::types::Value {
    match *c {
        Cell::Null => rusqlite::types::Value::Null,
        Cell::Num(x) => rusqlite::types::Value::Real(x),
        Cell::Code(k) => rusqlite::types::Value::Integer(k),
    }
}

/// Inserts one case; the statements are prepared (cached) on the transaction's connection.
fn insert_case(tx: &Connection, n_features: usize, case: &CaseRows<'_>) -> Result<()> {
    let row = || Some(format!("id={}", case.id));
    let cols: String = (0..n_features)
        .map(|k| format!(", \"{}\"", feature_column(k)))
        .collect();
    let marks: String = (0..n_features).map(|k| format!(", ?{}", k + 2)).collect();
    let mut st = tx
        .prepare_cached(&format!(
            "INSERT INTO customers(id{cols}) VALUES (?1{marks})"
        ))
        .map_err(|e| sql_err("customers", row(), &e))?;
    let mut values = vec![rusqlite::types::Value::Text(case.id.to_owned())];
    values.extend(case.cells.iter().map(to_sql));
    st.execute(rusqlite::params_from_iter(values))
        .map_err(|e| sql_err("customers", row(), &e))?;
    let cseq = tx.last_insert_rowid();
    let mut pst = tx
        .prepare_cached(
            "INSERT INTO portfolios(customer_seq, id, cf, cv, cc, gf, gv, gc)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .map_err(|e| sql_err("portfolios", row(), &e))?;
    let mut hst = tx
        .prepare_cached(
            "INSERT INTO holdings(portfolio_seq, position, product, share)
             VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(|e| sql_err("holdings", row(), &e))?;
    for (p, cl) in &case.portfolios {
        let prow = || Some(format!("customer={}, id={}", case.id, p.id));
        pst.execute(params![
            cseq,
            p.id.as_str(),
            cl[0],
            cl[1],
            cl[2],
            cl[3],
            cl[4],
            cl[5]
        ])
        .map_err(|e| sql_err("portfolios", prow(), &e))?;
        let pseq = tx.last_insert_rowid();
        for (k, h) in p.holdings.iter().enumerate() {
            hst.execute(params![pseq, k as i64, h.product.as_str(), h.share])
                .map_err(|e| sql_err("holdings", prow(), &e))?;
        }
    }
    Ok(())
}

impl CaseStore for SqliteStore {
    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }

    fn load(&mut self) -> Result<CaseBase> {
        let (schema, catalogue) = self.schema_and_catalogue()?;
        let mut asm = Assembler::new(schema.clone(), catalogue);
        self.walk(&schema, |c, pfs| asm.push(c, pfs))?;
        Ok(asm.finish())
    }

    fn export(&mut self) -> Result<CaseBaseData> {
        let (schema, products) = self.schema_and_catalogue()?;
        let mut customers = Vec::new();
        self.walk(&schema, |c, pfs| {
            customers.push(record_from_rows(&schema, c, pfs)?);
            Ok(())
        })?;
        Ok(CaseBaseData {
            schema,
            products,
            customers,
        })
    }

    fn import(&mut self, data: &CaseBaseData) -> Result<usize> {
        let empty = validate_data(data)?;
        let e = |t: &'static str| move |e: rusqlite::Error| sql_err(t, None, &e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(e("customers"))?;
        let schema = &data.schema;
        let cols: String = schema
            .features()
            .iter()
            .enumerate()
            .map(|(k, f)| {
                let ty = match f.kind {
                    FeatureKind::Linear => "REAL",
                    FeatureKind::Nominal { .. } => "INTEGER",
                };
                format!(", \"{}\" {ty}", feature_column(k))
            })
            .collect();
        tx.execute_batch(&format!(
            "DELETE FROM holdings; DELETE FROM portfolios; DROP TABLE customers;
             CREATE TABLE customers(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE{cols});
             DELETE FROM distances; DELETE FROM categories; DELETE FROM features;
             DELETE FROM products; DELETE FROM meta;"
        ))
        .map_err(e("customers"))?;
        let rows = schema_rows(schema);
        for (k, v) in &rows.meta {
            tx.execute(
                "INSERT INTO meta(key, value) VALUES (?1, ?2)",
                params![k, v],
            )
            .map_err(e("meta"))?;
        }
        for (p, name, kind, w, m) in &rows.features {
            tx.execute(
                "INSERT INTO features(position, name, kind, weight, has_matrix)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![p, name, kind, w, m],
            )
            .map_err(e("features"))?;
        }
        for (f, code, name) in &rows.categories {
            tx.execute(
                "INSERT INTO categories(feature, code, name) VALUES (?1, ?2, ?3)",
                params![f, code, name],
            )
            .map_err(e("categories"))?;
        }
        for (f, i, j, v) in &rows.distances {
            tx.execute(
                "INSERT INTO distances(feature, row_code, col_code, value)
                 VALUES (?1, ?2, ?3, ?4)",
                params![f, i, j, v],
            )
            .map_err(e("distances"))?;
        }
        for (p, code, class, risk, issuer, rate) in product_rows(&data.products) {
            tx.execute(
                "INSERT INTO products(position, code, asset_class, risk_level, issuer, rate)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![p, code, class, risk, issuer, rate],
            )
            .map_err(e("products"))?;
        }
        let n = schema.features().len();
        for r in &data.customers {
            insert_case(&tx, n, &case_rows(&empty, r)?)?;
        }
        tx.commit().map_err(e("customers"))?;
        Ok(data.customers.len())
    }

    fn retain(&mut self, cb: &CaseBase, record: &CustomerRecord) -> Result<()> {
        let rows = case_rows(cb, record)?;
        let e = |e: rusqlite::Error| sql_err("customers", Some(format!("id={}", record.id)), &e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(e)?;
        insert_case(&tx, cb.schema().features().len(), &rows)?;
        tx.commit().map_err(e)
    }
}
