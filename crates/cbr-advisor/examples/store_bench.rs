//! Case store benchmark (issue 15): load time, peak RSS and Retain latency of the SQLite and
//! PostgreSQL stores against the in-memory case base built from the generator (and from
//! JSON at the smaller sizes) in the same run. Each measured load runs in a fresh child
//! process, so its peak RSS (`VmHWM`) is its own.
//!
//! ```text
//! cargo run --release -p fundalloc-cbr-advisor --features postgres --example store_bench -- \
//!     [--sizes 100000,1000000] [--postgres postgres://user@host:port/db] [--retains 200]
//! ```
//!
//! Without `--postgres` (or `FUNDALLOC_TEST_POSTGRES`) only SQLite is measured.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Instant;

use fundalloc_cbr_advisor::*;

const PRODUCTS: usize = 200;
const SEED: u64 = 42;

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// A valid new customer with 2 portfolios of 3 holdings.
fn record(i: usize, cat: &Catalogue) -> CustomerRecord {
    let p = |k: usize| cat.products()[(i * 5 + k) % cat.len()].id.to_string();
    let mut r = CustomerRecord::new(format!("NEW{i:07}"))
        .num("age", 30.0 + (i % 40) as f64)
        .num("available_capital", 5000.0 + i as f64)
        .num("adequacy", 1.0 + (i % 5) as f64)
        .cat("sex", "F");
    for pf in 0..2 {
        let ids: Vec<String> = (0..3).map(|k| p(pf * 3 + k)).collect();
        let hs: Vec<(&str, f64)> = ids.iter().map(|id| (id.as_str(), 1.0)).collect();
        r = r.portfolio(&format!("p{pf}"), &hs);
    }
    r
}

/// Child process: one measurement, printed as `key=value` pairs.
fn child(kind: &str, arg: &str, n: usize, retains: usize, offset: usize) {
    let t0 = Instant::now();
    let (cb, mut store): (CaseBase, Option<Box<dyn CaseStore>>) = match kind {
        "generate" => (
            generate_case_base(GeneratorParams::new(n, PRODUCTS, SEED)).unwrap(),
            None,
        ),
        "json" => {
            let f = std::fs::File::open(arg).unwrap();
            (
                CaseBase::from_json(std::io::BufReader::new(f)).unwrap(),
                None,
            )
        }
        _ => {
            let mut s = open_store(arg).unwrap();
            (s.load().unwrap(), Some(s))
        }
    };
    let load = t0.elapsed().as_secs_f64();
    let rss = peak_rss_mib();
    assert_eq!(cb.len(), n);
    let mut lat = Vec::new();
    if let Some(s) = store.as_mut() {
        let mut cb = cb;
        for k in 0..retains {
            let r = record(offset + k, cb.catalogue());
            let t = Instant::now();
            s.retain(&cb, &r).unwrap();
            cb.add(r).unwrap();
            lat.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    lat.sort_by(f64::total_cmp);
    let q = |p: f64| lat.get(((lat.len() as f64 - 1.0) * p) as usize).copied();
    println!(
        "load_s={load:.3} rss_mib={rss:.1} retain_p50_ms={} retain_p99_ms={}",
        q(0.5).map_or("-".into(), |x| format!("{x:.2}")),
        q(0.99).map_or("-".into(), |x| format!("{x:.2}")),
    );
}

fn run_child(kind: &str, arg: &str, n: usize, retains: usize, offset: usize) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--child", kind, arg])
        .args([n.to_string(), retains.to_string(), offset.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{kind}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn field(line: &str, key: &str) -> String {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or("-")
        .to_owned()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        let num = |i: usize| args[i].parse::<usize>().unwrap();
        child(&args[2], &args[3], num(4), num(5), num(6));
        return;
    }
    let mut sizes = vec![100_000usize, 1_000_000];
    let mut pg = std::env::var("FUNDALLOC_TEST_POSTGRES").ok();
    let mut retains = 200usize;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--sizes" => {
                sizes = it
                    .next()
                    .unwrap()
                    .split(',')
                    .map(|s| s.parse().unwrap())
                    .collect();
            }
            "--postgres" => pg = it.next().cloned(),
            "--retains" => retains = it.next().unwrap().parse().unwrap(),
            other => panic!("unknown argument {other}"),
        }
    }
    let dir = tempfile::tempdir().unwrap();
    println!(
        "| customers | source | import s | load s | load / peer | peak RSS MiB | RSS / peer | Retain p50 ms | Retain p99 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for &n in &sizes {
        let generated = generate_case_base(GeneratorParams::new(n, PRODUCTS, SEED)).unwrap();
        let data = generated.to_data();
        drop(generated);
        let peer = run_child("generate", "-", n, 0, 0);
        let (peer_load, peer_rss): (f64, f64) = (
            field(&peer, "load_s").parse().unwrap(),
            field(&peer, "rss_mib").parse().unwrap(),
        );
        println!(
            "| {n} | generator (in-memory peer) | - | {peer_load:.2} | 1.00 | {peer_rss:.0} | 1.00 | - | - |"
        );
        if n <= 100_000 {
            let path = dir.path().join(format!("cb{n}.json"));
            let f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
            serde_json::to_writer(f, &data).unwrap();
            let line = run_child("json", path.to_str().unwrap(), n, 0, 0);
            let (l, r): (f64, f64) = (
                field(&line, "load_s").parse().unwrap(),
                field(&line, "rss_mib").parse().unwrap(),
            );
            println!(
                "| {n} | JSON file (in-memory peer) | - | {l:.2} | {:.2} | {r:.0} | {:.2} | - | - |",
                l / peer_load,
                r / peer_rss
            );
        }
        let mut backends = vec![(
            "SQLite",
            dir.path()
                .join(format!("cb{n}.sqlite"))
                .display()
                .to_string(),
        )];
        if let Some(url) = &pg {
            backends.push(("PostgreSQL", url.clone()));
        }
        for (name, url) in backends {
            let mut store = open_store(&url).unwrap();
            let t0 = Instant::now();
            store.import(&data).unwrap();
            let import = t0.elapsed().as_secs_f64();
            drop(store);
            let line = run_child("store", &url, n, retains, n);
            let (l, r): (f64, f64) = (
                field(&line, "load_s").parse().unwrap(),
                field(&line, "rss_mib").parse().unwrap(),
            );
            println!(
                "| {n} | {name} | {import:.1} | {l:.2} | {:.2} | {r:.0} | {:.2} | {} | {} |",
                l / peer_load,
                r / peer_rss,
                field(&line, "retain_p50_ms"),
                field(&line, "retain_p99_ms"),
            );
        }
    }
}
