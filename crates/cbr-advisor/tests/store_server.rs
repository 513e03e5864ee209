//! The server on a case store (issue 15): Retain over the wire, queries served during a
//! Retain, all-or-nothing Retains under `kill -9`, a lost PostgreSQL connection answered
//! with `51` and reconnected.
#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fundalloc_cbr_advisor::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const T: Duration = Duration::from_secs(20);

fn generated(n: usize) -> CaseBase {
    generate_case_base(GeneratorParams::new(n, 30, 6)).unwrap()
}

/// A valid record with 3 portfolios of 4 holdings.
fn record(i: usize, cat: &Catalogue) -> CustomerRecord {
    let p = |k: usize| cat.products()[(i * 7 + k) % cat.len()].id.to_string();
    let mut r = CustomerRecord::new(format!("R{i:06}"))
        .num("age", 20.0 + (i % 60) as f64)
        .num("available_capital", 1000.0 + 17.5 * i as f64)
        .num("adequacy", 1.0 + (i % 5) as f64)
        .cat("sex", if i.is_multiple_of(2) { "F" } else { "M" });
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

fn code(r: &Response) -> Option<ErrorCode> {
    match r {
        Response::Error(e) => Some(e.code),
        Response::Answer(_) => None,
    }
}

fn sqlite_store(path: &std::path::Path, n: usize) -> (CaseBase, SqliteStore) {
    let mut store = SqliteStore::open(path).unwrap();
    store.import(&generated(n).to_data()).unwrap();
    (store.load().unwrap(), store)
}

#[test]
fn retain_over_the_wire_is_durable_and_indexed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cases.sqlite");
    let (cb, store) = sqlite_store(&path, 100);
    let cat = cb.catalogue().clone();
    let server = Server::start_with_store(
        cb,
        Box::new(store),
        ServerParams::loopback_ephemeral().workers(2),
    )
    .unwrap();
    let mut c = Client::connect(server.local_addr(), T).unwrap();
    let r = record(1, &cat);
    let ack = c.retain(&RetainRequest::new("R1", r.clone())).unwrap();
    assert!(matches!(&ack, Response::Answer(a) if a.items.is_empty() && a.query_code == "R1"));
    // Indexed at once: the retained customer can be queried.
    let q = c.query(&Request::new("Q1", r.id.clone(), 5)).unwrap();
    assert_eq!(code(&q), None, "{q:?}");
    // A duplicate, an invalid case and malformed JSON are 33; nothing is stored.
    let dup = c.retain(&RetainRequest::new("R2", r.clone())).unwrap();
    assert_eq!(code(&dup), Some(ErrorCode::InvalidCase));
    let mut bad = record(2, &cat);
    bad.portfolios[1].holdings[2].share = -3.0;
    let bad = c.retain(&RetainRequest::new("R3", bad)).unwrap();
    assert_eq!(code(&bad), Some(ErrorCode::InvalidCase));
    let junk = c.send_raw(b"02\nR4\n{\"id\": 3\n.\n").unwrap();
    assert_eq!(code(&junk), Some(ErrorCode::InvalidCase));
    let structure = c.send_raw(b"02\nR5\n{}\n{}\n.\n").unwrap();
    assert_eq!(code(&structure), Some(ErrorCode::BadStructure));
    server.shutdown();
    let mut again = SqliteStore::open(&path).unwrap();
    let loaded = again.load().unwrap();
    assert_eq!(loaded.len(), 101);
    assert_eq!(loaded.record(100), {
        let mut x = CaseBase::new(loaded.schema().clone(), cat.clone());
        x.add(r).unwrap();
        x.record(0)
    });
}

#[test]
fn a_server_without_a_store_answers_34() {
    let server =
        Server::start(Arc::new(generated(20)), ServerParams::loopback_ephemeral()).unwrap();
    let mut c = Client::connect(server.local_addr(), T).unwrap();
    let cat = generated(1).catalogue().clone();
    let r = c.retain(&RetainRequest::new("R", record(1, &cat))).unwrap();
    assert_eq!(code(&r), Some(ErrorCode::RetainUnavailable));
}

/// A store whose Retain takes `delay` (a slow disk or a remote database).
struct SlowStore {
    inner: SqliteStore,
    delay: Duration,
}

impl CaseStore for SlowStore {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn load(&mut self) -> Result<CaseBase> {
        self.inner.load()
    }
    fn export(&mut self) -> Result<CaseBaseData> {
        self.inner.export()
    }
    fn import(&mut self, data: &CaseBaseData) -> Result<usize> {
        self.inner.import(data)
    }
    fn retain(&mut self, cb: &CaseBase, record: &CustomerRecord) -> Result<()> {
        std::thread::sleep(self.delay);
        self.inner.retain(cb, record)
    }
}

#[test]
fn queries_are_served_during_a_retain() {
    let dir = tempfile::tempdir().unwrap();
    let (cb, inner) = sqlite_store(&dir.path().join("slow.sqlite"), 300);
    let cat = cb.catalogue().clone();
    let target = cb.ids()[7].clone();
    let store = SlowStore {
        inner,
        delay: Duration::from_millis(1500),
    };
    let server = Server::start_with_store(
        cb,
        Box::new(store),
        ServerParams::loopback_ephemeral().workers(2),
    )
    .unwrap();
    let addr = server.local_addr();
    let t0 = Instant::now();
    let retainer = std::thread::spawn(move || {
        let mut c = Client::connect(addr, T).unwrap();
        let r = c.retain(&RetainRequest::new("R", record(9, &cat))).unwrap();
        (r, t0.elapsed())
    });
    std::thread::sleep(Duration::from_millis(200));
    let mut c = Client::connect(addr, T).unwrap();
    for k in 0..10 {
        let q0 = Instant::now();
        let r = c
            .query(&Request::new(format!("Q{k}"), target.clone(), 5))
            .unwrap();
        assert_eq!(code(&r), None);
        assert!(
            q0.elapsed() < Duration::from_millis(500),
            "query {k} waited {:?} for the Retain",
            q0.elapsed()
        );
    }
    assert!(
        t0.elapsed() < Duration::from_millis(1500),
        "the queries ran while the Retain was writing"
    );
    let (ack, took) = retainer.join().unwrap();
    assert_eq!(code(&ack), None);
    assert!(took >= Duration::from_millis(1500));
}

/// Starts the server binary on `db` and returns it with its address and case count (the
/// caller kills and waits for it).
#[allow(clippy::zombie_processes)]
fn spawn_server(db: &std::path::Path) -> (std::process::Child, SocketAddr, usize) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fundalloc-cbr-server"))
        .args(["--db", db.to_str().unwrap(), "--bind", "127.0.0.1:0"])
        .args(["--workers", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "server exited before serving"
        );
        if let Some(rest) = line.trim().strip_prefix("serving ") {
            let (n, addr) = rest.split_once(" cases on ").unwrap();
            // Keep draining stderr so the server never blocks on a full pipe.
            std::thread::spawn(move || for _ in err.lines() {});
            return (child, addr.parse().unwrap(), n.parse().unwrap());
        }
    }
}

#[test]
fn a_server_killed_during_retains_keeps_each_case_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kill.sqlite");
    let (base, store) = sqlite_store(&db, 200);
    drop(store);
    let cat = base.catalogue().clone();
    let mut rng = StdRng::seed_from_u64(15);
    let mut acked_all: Vec<usize> = Vec::new();
    let mut expected_len = 200;
    for round in 0..6usize {
        let (mut child, addr, n) = spawn_server(&db);
        assert_eq!(
            n, expected_len,
            "round {round}: restarted with every stored case"
        );
        let acked = Arc::new(Mutex::new(Vec::new()));
        let client = {
            let (acked, cat) = (Arc::clone(&acked), cat.clone());
            std::thread::spawn(move || {
                let Ok(mut c) = Client::connect(addr, Duration::from_secs(5)) else {
                    return;
                };
                for k in 0..100_000usize {
                    let i = round * 100_000 + k;
                    match c.retain(&RetainRequest::new(format!("K{i}"), record(i, &cat))) {
                        Ok(Response::Answer(_)) => acked.lock().unwrap().push(i),
                        _ => return,
                    }
                }
            })
        };
        std::thread::sleep(Duration::from_millis(rng.random_range(20..250u64)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        client.join().unwrap();
        acked_all.extend(acked.lock().unwrap().iter().copied());
        // Every retained customer is whole (3 portfolios x 4 holdings, exact shares), every
        // acknowledged one is there, and the database loads.
        let mut store = SqliteStore::open(&db).unwrap();
        let data = store.export().unwrap();
        let stored: Vec<&CustomerRecord> = data
            .customers
            .iter()
            .filter(|c| c.id.as_str().starts_with('R'))
            .collect();
        for c in &stored {
            let i: usize = c.id.as_str()[1..].parse().unwrap();
            assert_eq!(
                c.portfolios,
                record(i, &cat).portfolios,
                "customer {}",
                c.id
            );
        }
        let ids: std::collections::HashSet<&str> = stored.iter().map(|c| c.id.as_str()).collect();
        for &i in &acked_all {
            assert!(
                ids.contains(format!("R{i:06}").as_str()),
                "acked R{i:06} lost"
            );
        }
        assert!(stored.len() >= acked_all.len());
        assert!(stored.len() <= acked_all.len() + round + 1);
        assert_eq!(store.load().unwrap().len(), 200 + stored.len());
        expected_len = 200 + stored.len();
    }
    assert!(!acked_all.is_empty(), "no Retain got through in any round");
}

#[cfg(feature = "postgres")]
#[test]
fn a_lost_postgres_connection_answers_51_then_recovers() {
    let Ok(url) = std::env::var("FUNDALLOC_TEST_POSTGRES") else {
        println!(
            "SKIPPED a_lost_postgres_connection_answers_51_then_recovers: set FUNDALLOC_TEST_POSTGRES"
        );
        return;
    };
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let db = format!("fundalloc_server51_{}", std::process::id());
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .unwrap();
    let base = url.split('?').next().unwrap().rsplit_once('/').unwrap().0;
    let url = format!("{base}/{db}");
    let mut store = PostgresStore::connect(&url).unwrap();
    store.import(&generated(80).to_data()).unwrap();
    let cb = store.load().unwrap();
    let (cat, target) = (cb.catalogue().clone(), cb.ids()[3].clone());
    let server =
        Server::start_with_store(cb, Box::new(store), ServerParams::loopback_ephemeral()).unwrap();
    let mut c = Client::connect(server.local_addr(), T).unwrap();
    assert_eq!(
        code(&c.retain(&RetainRequest::new("A", record(1, &cat))).unwrap()),
        None
    );
    let kill = |admin: &mut postgres::Client| {
        admin
            .batch_execute(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'"
            ))
            .unwrap();
    };
    kill(&mut admin);
    let r = c.retain(&RetainRequest::new("B", record(2, &cat))).unwrap();
    assert_eq!(code(&r), Some(ErrorCode::StoreUnavailable), "{r:?}");
    // Queries never touch the database: served meanwhile.
    assert_eq!(code(&c.query(&Request::new("Q", target, 3)).unwrap()), None);
    let t0 = Instant::now();
    loop {
        let r = c.retain(&RetainRequest::new("C", record(2, &cat))).unwrap();
        match code(&r) {
            None => break,
            Some(ErrorCode::StoreUnavailable) if t0.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(50));
            }
            other => panic!("{other:?}"),
        }
    }
    server.shutdown();
    let mut again = PostgresStore::connect(&url).unwrap();
    assert_eq!(again.load().unwrap().len(), 82);
    drop(again);
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .unwrap();
}

#[test]
fn two_servers_on_one_sqlite_file_both_write_and_nothing_is_corrupted() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("two.sqlite");
    let (base, store) = sqlite_store(&db, 150);
    drop(store);
    let cat = base.catalogue().clone();
    let (mut a, addr_a, _) = spawn_server(&db);
    let (mut b, addr_b, _) = spawn_server(&db);
    let acked = std::thread::scope(|s| {
        let hs: Vec<_> = [(addr_a, 0usize), (addr_b, 1)]
            .into_iter()
            .map(|(addr, w)| {
                let cat = &cat;
                s.spawn(move || {
                    let mut c = Client::connect(addr, T).unwrap();
                    let mut ok = Vec::new();
                    for k in 0..25 {
                        let i = 500_000 + w * 1000 + k;
                        let r = c.retain(&RetainRequest::new("R", record(i, cat))).unwrap();
                        match code(&r) {
                            None => ok.push(i),
                            // Locked past the busy timeout: typed, nothing stored.
                            Some(ErrorCode::StoreUnavailable) => {}
                            other => panic!("{other:?}"),
                        }
                    }
                    ok
                })
            })
            .collect();
        hs.into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    for child in [&mut a, &mut b] {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert!(
        acked.len() >= 25,
        "only {} Retains acknowledged",
        acked.len()
    );
    let raw = rusqlite::Connection::open(&db).unwrap();
    let ok: String = raw
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let mut store = SqliteStore::open(&db).unwrap();
    let loaded = store.load().unwrap();
    assert_eq!(loaded.len(), 150 + acked.len());
    for i in acked {
        assert!(loaded.index_of(&format!("R{i:06}").into()).is_some());
    }
}
