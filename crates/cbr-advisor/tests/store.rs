//! The case store (issue 15): exact JSON round trips, Retain, bad databases (each a typed
//! error naming the table and row), two writers on one SQLite file. The same suite runs on
//! PostgreSQL when `FUNDALLOC_TEST_POSTGRES` is set (feature `postgres`).
#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use fundalloc_cbr_advisor::*;
use rusqlite::Connection;

fn generated(n: usize, seed: u64) -> CaseBase {
    generate_case_base(GeneratorParams::new(n, 30, seed).missing(0.1)).unwrap()
}

/// A valid record with 3 portfolios of 4 holdings on the generated catalogue.
pub fn record(i: usize, cat: &Catalogue) -> CustomerRecord {
    let p = |k: usize| cat.products()[(i * 7 + k) % cat.len()].id.to_string();
    let mut r = CustomerRecord::new(format!("R{i:06}"))
        .num("age", 20.0 + (i % 60) as f64)
        .num("available_capital", 1000.0 + 17.5 * i as f64)
        .num("adequacy", 1.0 + (i % 5) as f64)
        .cat("sex", if i.is_multiple_of(2) { "F" } else { "M" })
        .cat("employment", "employee");
    for pf in 0..3 {
        let ids: Vec<String> = (0..4).map(|k| p(pf * 4 + k)).collect();
        let hs: Vec<(&str, f64)> = ids
            .iter()
            .enumerate()
            .map(|(k, id)| (id.as_str(), 0.1 + k as f64 / 3.0))
            .collect();
        r = r.portfolio(&format!("pf{pf}"), &hs);
    }
    r
}

fn json(data: &CaseBaseData) -> String {
    serde_json::to_string(data).unwrap()
}

/// Equal texts, or a panic showing the first difference (not megabytes of bytes).
#[track_caller]
pub fn same(a: &str, b: &str, what: &str) {
    if a != b {
        let i = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
        let at = |s: &str| {
            s.get(i.saturating_sub(80)..(i + 80).min(s.len()))
                .unwrap_or("")
                .to_owned()
        };
        panic!("{what}: differ at byte {i}:\n{}\n{}", at(a), at(b));
    }
}

/// The backend-independent suite: round trip, load = in-memory, Retain, duplicate Retain.
pub fn suite(store: &mut dyn CaseStore) {
    // JSON -> store -> JSON is byte-identical (floats bit-exact, order kept).
    let cb = generated(400, 5);
    let mut text = Vec::new();
    cb.to_json(&mut text).unwrap();
    let data: CaseBaseData = serde_json::from_slice(&text).unwrap();
    assert_eq!(store.import(&data).unwrap(), 400);
    let back = store.export().unwrap();
    same(
        &json(&back),
        std::str::from_utf8(&text).unwrap(),
        "export vs imported JSON",
    );
    // Loading builds the same index as reading the JSON (every distance bit-exact).
    let loaded = store.load().unwrap();
    let direct = CaseBase::from_json(text.as_slice()).unwrap();
    assert_eq!(loaded.len(), direct.len());
    same(
        &json(&loaded.to_data()),
        &json(&direct.to_data()),
        "load vs JSON",
    );
    for (a, b) in [(0u32, 1u32), (5, 399), (17, 230)] {
        assert_eq!(
            loaded.distance(a, b).unwrap().to_bits(),
            direct.distance(a, b).unwrap().to_bits()
        );
    }
    // Shares as given (not normalised) and zero shares survive the round trip.
    let mut data2 = data.clone();
    data2.customers[0].portfolios.push(PortfolioRecord {
        id: "raw".into(),
        holdings: vec![
            Holding {
                product: cb.catalogue().products()[0].id.clone(),
                share: 3.0,
            },
            Holding {
                product: cb.catalogue().products()[1].id.clone(),
                share: 0.0,
            },
            Holding {
                product: cb.catalogue().products()[0].id.clone(),
                share: 0.1 + 0.2,
            },
        ],
    });
    store.import(&data2).unwrap();
    same(&json(&store.export().unwrap()), &json(&data2), "raw shares");

    // Retain: stored in one transaction, reloaded identically; a duplicate is refused.
    let cb = store.load().unwrap();
    let r = record(1, cb.catalogue());
    store.retain(&cb, &r).unwrap();
    let after = store.load().unwrap();
    assert_eq!(after.len(), cb.len() + 1);
    let i = after.index_of(&r.id).unwrap();
    assert_eq!(i as usize, cb.len(), "retained cases come last");
    let exported = store.export().unwrap();
    assert_eq!(exported.customers.last().unwrap().portfolios, r.portfolios);
    let err = store.retain(&after, &r).unwrap_err();
    assert!(
        matches!(
            &err,
            CbrError::Store {
                problem: StoreProblem::DuplicateId,
                table,
                ..
            } if table == "customers"
        ),
        "{err}"
    );
    assert_eq!(store.load().unwrap().len(), cb.len() + 1);
    // An invalid record is refused before anything is written.
    let mut bad = record(2, cb.catalogue());
    bad.portfolios[0].holdings[0].share = f64::NAN;
    assert!(matches!(
        store.retain(&after, &bad),
        Err(CbrError::InvalidShare { .. })
    ));
    // Import validates first: an invalid data set writes nothing.
    let mut invalid = data.clone();
    invalid.customers[3].portfolios[0].holdings[0].share = -1.0;
    assert!(store.import(&invalid).is_err());
    assert_eq!(store.load().unwrap().len(), cb.len() + 1);
}

#[test]
fn sqlite_suite() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(dir.path().join("cases.sqlite")).unwrap();
    assert_eq!(store.schema_version().unwrap(), STORE_SCHEMA_VERSION);
    suite(&mut store);
    // `open_store` picks SQLite for a path and reopens the same data.
    let mut again = open_store(dir.path().join("cases.sqlite").to_str().unwrap()).unwrap();
    assert_eq!(again.load().unwrap().len(), 401);
}

#[test]
fn csv_import_round_trips_through_the_store() {
    let cb = generated(120, 9);
    let (mut c, mut h, mut p) = (Vec::new(), Vec::new(), Vec::new());
    cb.to_csv(&mut c, &mut h).unwrap();
    cb.catalogue().to_csv(&mut p).unwrap();
    let cat = Catalogue::from_csv(p.as_slice()).unwrap();
    let from_csv =
        CaseBase::from_csv(Schema::smartfasi(), cat, c.as_slice(), h.as_slice()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(dir.path().join("c.sqlite")).unwrap();
    store.import(&from_csv.to_data()).unwrap();
    same(
        &json(&store.export().unwrap()),
        &json(&from_csv.to_data()),
        "csv",
    );
}

#[test]
fn an_empty_store_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(dir.path().join("e.sqlite")).unwrap();
    assert!(matches!(
        store.load(),
        Err(CbrError::Store {
            problem: StoreProblem::NoCaseBase,
            ..
        })
    ));
}

/// A store with 50 imported customers and a raw connection (foreign keys off) to damage it.
fn damaged(path: &Path, damage: &str) -> Result<CaseBase> {
    {
        let mut store = SqliteStore::open(path).unwrap();
        store.import(&generated(50, 3).to_data()).unwrap();
    }
    let raw = Connection::open(path).unwrap();
    raw.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    raw.execute_batch(damage).unwrap();
    drop(raw);
    SqliteStore::open(path)?.load()
}

fn store_error(r: Result<CaseBase>) -> (String, Option<String>, StoreProblem) {
    match r {
        Err(CbrError::Store {
            table,
            row,
            problem,
        }) => (table, row, problem),
        Err(e) => panic!("not a store error: {e}"),
        Ok(_) => panic!("a damaged database loaded"),
    }
}

#[test]
fn a_corrupt_file_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk.sqlite");
    std::fs::write(&path, vec![0x5a; 8192]).unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(
        matches!(
            err,
            CbrError::Store {
                problem: StoreProblem::Corrupt(_),
                ..
            }
        ),
        "{err}"
    );
    // A real database with its pages overwritten in the middle.
    let path = dir.path().join("damaged.sqlite");
    {
        let mut store = SqliteStore::open(&path).unwrap();
        store.import(&generated(3000, 3).to_data()).unwrap();
        // Fold the WAL into the main file so the damage below hits the data.
        let raw = Connection::open(&path).unwrap();
        raw.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .unwrap();
    }
    let mut bytes = std::fs::read(&path).unwrap();
    let len = bytes.len();
    for b in &mut bytes[4096..len - 4096] {
        *b = 0xa5;
    }
    std::fs::write(&path, bytes).unwrap();
    let r = SqliteStore::open(&path).and_then(|mut s| s.load());
    let (table, _, problem) = store_error(r);
    assert!(
        matches!(problem, StoreProblem::Corrupt(_)),
        "{table}: {problem}"
    );
}

#[test]
fn a_missing_table_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (table, _, problem) =
        store_error(damaged(&dir.path().join("m.sqlite"), "DROP TABLE holdings"));
    assert_eq!(
        (table.as_str(), problem),
        ("holdings", StoreProblem::MissingTable)
    );
}

#[test]
fn a_newer_schema_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("n.sqlite");
    let (table, row, problem) = store_error(damaged(
        &path,
        "INSERT INTO schema_migrations(version, name) VALUES (99, 'from the future')",
    ));
    assert_eq!(table, "schema_migrations");
    assert_eq!(row.as_deref(), Some("version=99"));
    assert_eq!(
        problem,
        StoreProblem::NewerSchema {
            found: 99,
            supported: STORE_SCHEMA_VERSION
        }
    );
    let raw = Connection::open(&path).unwrap();
    let n: i64 = raw
        .query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2, "the newer database was not modified");
}

#[test]
fn a_duplicate_customer_id_is_named() {
    let dir = tempfile::tempdir().unwrap();
    // Rebuild `customers` without its UNIQUE constraint, as a foreign tool might, and copy a row.
    let (table, row, problem) = store_error(damaged(
        &dir.path().join("d.sqlite"),
        "CREATE TABLE c2 AS SELECT * FROM customers; DROP TABLE customers;
         ALTER TABLE c2 RENAME TO customers;
         INSERT INTO customers SELECT seq + 1000, id, f0, f1, f2, f3, f4, f5, f6, f7
             FROM customers WHERE seq = 7;",
    ));
    assert_eq!(table, "customers");
    assert_eq!(row.as_deref(), Some("id=C0000006"));
    assert_eq!(problem, StoreProblem::DuplicateId);
}

#[test]
fn a_nan_or_negative_share_is_named() {
    let dir = tempfile::tempdir().unwrap();
    for (k, (value, nan)) in [("'NaN'", true), ("-0.25", false)].into_iter().enumerate() {
        let (table, row, problem) = store_error(damaged(
            &dir.path().join(format!("s{k}.sqlite")),
            &format!(
                "UPDATE holdings SET share = {value} WHERE portfolio_seq = 3 AND position = 0"
            ),
        ));
        assert_eq!(table, "holdings");
        assert_eq!(row.as_deref(), Some("portfolio_seq=3, position=0"));
        match problem {
            StoreProblem::InvalidShare(s) if nan => assert!(s.is_nan()),
            StoreProblem::InvalidShare(s) => assert_eq!(s, -0.25),
            p => panic!("{p}"),
        }
    }
}

#[test]
fn a_dangling_product_or_portfolio_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (table, row, problem) = store_error(damaged(
        &dir.path().join("p.sqlite"),
        "UPDATE holdings SET product = 'NO-SUCH' WHERE portfolio_seq = 2 AND position = 0",
    ));
    assert_eq!(table, "holdings");
    assert_eq!(row.as_deref(), Some("portfolio_seq=2, position=0"));
    assert_eq!(
        problem,
        StoreProblem::DanglingReference {
            to: "products".into(),
            key: "code=NO-SUCH".into()
        }
    );
    // A portfolio whose customer is gone.
    let (table, row, problem) = store_error(damaged(
        &dir.path().join("q.sqlite"),
        "DELETE FROM customers WHERE seq = (SELECT customer_seq FROM portfolios WHERE seq = 5)",
    ));
    // The customer's first portfolio is reported (seq 4 or 5, both are that customer's).
    assert_eq!(table, "portfolios");
    assert!(row.unwrap().starts_with("seq="));
    assert!(matches!(problem, StoreProblem::DanglingReference { to, .. } if to == "customers"));
    // A nominal code outside the categories.
    let (table, _, problem) = store_error(damaged(
        &dir.path().join("r.sqlite"),
        "UPDATE customers SET f6 = 9 WHERE seq = 1",
    ));
    assert_eq!(table, "customers");
    assert!(matches!(problem, StoreProblem::InvalidValue(_)));
}

#[test]
fn two_writers_on_one_file_get_busy_never_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.sqlite");
    let mut a = SqliteStore::open(&path).unwrap();
    a.import(&generated(200, 4).to_data()).unwrap();
    let cb = a.load().unwrap();
    // Another process holds the write lock: the second writer waits, then gets Busy.
    let holder = Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut b = SqliteStore::open(&path).unwrap();
    b.set_busy_timeout(Duration::from_millis(200)).unwrap();
    let t0 = std::time::Instant::now();
    let err = b.retain(&cb, &record(1, cb.catalogue())).unwrap_err();
    assert!(
        matches!(
            err,
            CbrError::Store {
                problem: StoreProblem::Busy,
                ..
            }
        ),
        "{err}"
    );
    assert!(t0.elapsed() >= Duration::from_millis(150));
    // Readers are not blocked by the writer (WAL).
    assert_eq!(b.load().unwrap().len(), 200);
    holder.execute_batch("ROLLBACK").unwrap();
    // Two writers and an importer-like reader in parallel: every Retain lands once.
    std::thread::scope(|s| {
        for w in 0..2usize {
            let (path, cb) = (&path, &cb);
            s.spawn(move || {
                let mut st = SqliteStore::open(path).unwrap();
                for i in 0..40 {
                    st.retain(cb, &record(1000 * (w + 1) + i, cb.catalogue()))
                        .unwrap();
                }
            });
        }
        let path = &path;
        s.spawn(move || {
            let mut st = SqliteStore::open(path).unwrap();
            for _ in 0..10 {
                let n = st.load().unwrap().len();
                assert!((200..=280).contains(&n));
            }
        });
    });
    let raw = Connection::open(&path).unwrap();
    let ok: String = raw
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    assert_eq!(a.load().unwrap().len(), 280);
}

/// A fresh database on the test server, or `None` (with a printed reason) when
/// `FUNDALLOC_TEST_POSTGRES` is not set.
#[cfg(feature = "postgres")]
pub fn pg_database(name: &str) -> Option<String> {
    let Ok(url) = std::env::var("FUNDALLOC_TEST_POSTGRES") else {
        println!(
            "SKIPPED {name}: set FUNDALLOC_TEST_POSTGRES=postgres://user@host:port/db (a server \
             where the test may create databases; .ci/with-postgres.sh starts one) to run it"
        );
        return None;
    };
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let db = format!("fundalloc_{name}_{}", std::process::id());
    c.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .unwrap();
    c.batch_execute(&format!("CREATE DATABASE {db}")).unwrap();
    let base = url.split('?').next().unwrap().rsplit_once('/').unwrap().0;
    Some(format!("{base}/{db}"))
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_suite() {
    let Some(url) = pg_database("suite") else {
        return;
    };
    let mut store = PostgresStore::connect(&url).unwrap();
    assert_eq!(store.schema_version().unwrap(), STORE_SCHEMA_VERSION);
    suite(&mut store);
    let mut again = open_store(&url).unwrap();
    assert_eq!(again.load().unwrap().len(), 401);
    // Importing again replaces everything (the feature columns included).
    let cb = generated(30, 8);
    again.import(&cb.to_data()).unwrap();
    same(
        &json(&again.export().unwrap()),
        &json(&cb.to_data()),
        "re-import",
    );
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_bad_databases_are_typed_errors() {
    let Some(url) = pg_database("bad") else {
        return;
    };
    let damaged = |damage: &str| -> (String, Option<String>, StoreProblem) {
        let mut store = PostgresStore::connect(&url).unwrap();
        store.import(&generated(50, 3).to_data()).unwrap();
        let mut raw = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        raw.batch_execute(damage).unwrap();
        let r = PostgresStore::connect(&url).and_then(|mut s| s.load());
        raw.batch_execute("DELETE FROM schema_migrations WHERE version > 1")
            .unwrap();
        store_error(r)
    };
    let (t, _, p) = damaged(
        "ALTER TABLE holdings DROP CONSTRAINT holdings_product_fkey;
         UPDATE holdings SET product = 'NO-SUCH' WHERE portfolio_seq = 2 AND position = 0",
    );
    assert_eq!(t, "holdings");
    assert!(matches!(p, StoreProblem::DanglingReference { to, .. } if to == "products"));
    let (t, row, p) =
        damaged("UPDATE holdings SET share = 'NaN' WHERE portfolio_seq = 3 AND position = 0");
    assert_eq!(t, "holdings");
    assert_eq!(row.as_deref(), Some("portfolio_seq=3, position=0"));
    assert!(matches!(p, StoreProblem::InvalidShare(s) if s.is_nan()));
    let (t, _, p) =
        damaged("UPDATE holdings SET share = -1 WHERE portfolio_seq = 3 AND position = 0");
    assert_eq!(
        (t.as_str(), p),
        ("holdings", StoreProblem::InvalidShare(-1.0))
    );
    let (t, row, p) = damaged(
        "ALTER TABLE customers DROP CONSTRAINT customers_id_key;
         UPDATE customers SET id = 'C0000001' WHERE seq = 3",
    );
    assert_eq!(
        (t.as_str(), row.as_deref()),
        ("customers", Some("id=C0000001"))
    );
    assert_eq!(p, StoreProblem::DuplicateId);
    let (t, row, p) = damaged("INSERT INTO schema_migrations(version, name) VALUES (7, 'future')");
    assert_eq!(
        (t.as_str(), row.as_deref()),
        ("schema_migrations", Some("version=7"))
    );
    assert!(matches!(p, StoreProblem::NewerSchema { found: 7, .. }));
    let (t, _, p) = damaged("DROP TABLE holdings CASCADE");
    assert_eq!((t.as_str(), p), ("holdings", StoreProblem::MissingTable));
}

#[cfg(feature = "postgres")]
#[test]
fn a_lost_postgres_connection_is_unavailable_then_reconnects() {
    let Some(url) = pg_database("reconnect") else {
        return;
    };
    let mut store = PostgresStore::connect(&url).unwrap();
    store.import(&generated(40, 2).to_data()).unwrap();
    let cb = store.load().unwrap();
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    admin
        .batch_execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .unwrap();
    let err = store.retain(&cb, &record(1, cb.catalogue())).unwrap_err();
    assert!(
        matches!(
            err,
            CbrError::Store {
                problem: StoreProblem::Unavailable(_),
                ..
            }
        ),
        "{err}"
    );
    // Reconnects with backoff: within a few attempts the Retain lands, exactly once.
    let t0 = std::time::Instant::now();
    loop {
        match store.retain(&cb, &record(1, cb.catalogue())) {
            Ok(()) => break,
            Err(CbrError::Store {
                problem: StoreProblem::Unavailable(_),
                ..
            }) if t0.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(store.load().unwrap().len(), 41);
}
