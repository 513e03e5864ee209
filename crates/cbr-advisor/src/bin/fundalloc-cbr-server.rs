//! `fundalloc-cbr-server`: the SMARTFASI recommendation server on the line protocol.
//!
//! ```text
//! fundalloc-cbr-server [--case-base FILE.json | --generate CUSTOMERS] [--products P] [--seed S]
//!                      [--bind 127.0.0.1:7878] [--workers W] [--deadline-ms MS]
//!                      [--read-timeout-ms MS] [--idle-timeout-ms MS] [--write-timeout-ms MS]
//!                      [--max-connections C] [--max-per-peer C] [--max-message-bytes B]
//!                      [--stop-on-stdin-eof] [--db cases.sqlite | --db postgres://…]
//! fundalloc-cbr-server import --db DB (--case-base FILE.json | --generate CUSTOMERS
//!                      [--products P] [--seed S] | --customers-csv C --holdings-csv H
//!                      --products-csv P [--schema SCHEMA.json])
//! fundalloc-cbr-server export --db DB --out FILE.json
//! ```
//!
//! With `--db` the case base is loaded from the case store (SQLite file, created when
//! missing, or PostgreSQL with the `postgres` feature) and Retain requests are written
//! through to it; an empty store is first filled from `--case-base`/`--generate` (default: a
//! generated 10,000-customer case base). `import` replaces the store's content, `export`
//! writes it back as JSON (atomically), exactly as imported.
//!
//! Binds the loopback interface by default. SIGTERM and SIGINT (Ctrl-C) stop it gracefully:
//! no new connections, queries in flight answered within the shutdown grace, then exit 0. With
//! `--stop-on-stdin-eof` it also stops when its standard input is closed (or a line `quit` is
//! read).

use std::io::BufRead;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use fundalloc_cbr_advisor::{
    CaseBase, CaseBaseData, Catalogue, CbrError, GeneratorParams, Schema, Server, ServerParams,
    StoreProblem, generate_case_base, open_store,
};

const USAGE: &str = "usage: fundalloc-cbr-server [--case-base FILE.json | --generate CUSTOMERS] \
[--products P] [--seed S] [--bind 127.0.0.1:7878] [--workers W] [--deadline-ms MS] \
[--read-timeout-ms MS] [--idle-timeout-ms MS] [--write-timeout-ms MS] [--max-connections C] \
[--max-per-peer C] [--max-message-bytes B] [--stop-on-stdin-eof] [--db DB]
       fundalloc-cbr-server import --db DB (--case-base FILE.json | --generate N [--products P] \
[--seed S] | --customers-csv C --holdings-csv H --products-csv P [--schema SCHEMA.json])
       fundalloc-cbr-server export --db DB --out FILE.json";

/// Writes `data` as JSON atomically: a temporary file in the same folder, fsynced, renamed
/// over the target.
fn write_json_atomic(out: &std::path::Path, data: &CaseBaseData) -> Result<(), String> {
    use std::io::Write;
    let name = out.file_name().ok_or("--out needs a file name")?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = out.with_file_name(tmp_name);
    let result = (|| -> std::io::Result<()> {
        let f = std::fs::File::create(&tmp)?;
        let mut w = std::io::BufWriter::new(f);
        serde_json::to_writer(&mut w, data).map_err(std::io::Error::other)?;
        w.flush()?;
        w.get_ref().sync_all()?;
        std::fs::rename(&tmp, out)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| format!("{}: {e}", out.display()))
}

/// `import` / `export`: fill the case store from JSON, CSV or the generator; write it back.
fn admin(command: &str, mut args: impl Iterator<Item = String>) -> Result<(), String> {
    let mut opt: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    while let Some(a) = args.next() {
        let v = args.next().ok_or_else(|| format!("{a} needs a value"))?;
        opt.insert(a, v);
    }
    let get = |k: &str| opt.get(k).cloned();
    let db = get("--db").ok_or("--db is required")?;
    let mut store = open_store(&db).map_err(|e| e.to_string())?;
    let read = |path: &str| {
        std::fs::File::open(path)
            .map(std::io::BufReader::new)
            .map_err(|e| format!("{path}: {e}"))
    };
    if command == "export" {
        let out = std::path::PathBuf::from(get("--out").ok_or("--out is required")?);
        let data = store.export().map_err(|e| e.to_string())?;
        write_json_atomic(&out, &data)?;
        eprintln!(
            "exported {} customers to {}",
            data.customers.len(),
            out.display()
        );
        return Ok(());
    }
    let data: CaseBaseData = if let Some(path) = get("--case-base") {
        serde_json::from_reader(read(&path)?).map_err(|e| format!("{path}: {e}"))?
    } else if let Some(n) = get("--generate") {
        let n = n.parse().map_err(|_| "--generate needs a number")?;
        let products = get("--products").map_or(Ok(200), |v| v.parse());
        let seed = get("--seed").map_or(Ok(42), |v| v.parse());
        let (products, seed) = products
            .ok()
            .zip(seed.ok())
            .ok_or("--products/--seed need numbers")?;
        generate_case_base(GeneratorParams::new(n, products, seed))
            .map_err(|e| e.to_string())?
            .to_data()
    } else if let Some(c) = get("--customers-csv") {
        let h = get("--holdings-csv").ok_or("--holdings-csv is required with CSV")?;
        let p = get("--products-csv").ok_or("--products-csv is required with CSV")?;
        let schema = match get("--schema") {
            Some(f) => {
                serde_json::from_reader::<_, Schema>(read(&f)?).map_err(|e| format!("{f}: {e}"))?
            }
            None => Schema::smartfasi(),
        };
        let catalogue = Catalogue::from_csv(read(&p)?).map_err(|e| e.to_string())?;
        CaseBase::from_csv(schema, catalogue, read(&c)?, read(&h)?)
            .map_err(|e| e.to_string())?
            .to_data()
    } else {
        return Err("import needs --case-base, --generate or --customers-csv".into());
    };
    let t0 = std::time::Instant::now();
    let n = store.import(&data).map_err(|e| e.to_string())?;
    eprintln!(
        "imported {n} customers into {} in {:.2} s",
        store.describe(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1).peekable();
    if let Some(cmd) = args.next_if(|a| a == "import" || a == "export") {
        return admin(&cmd, args);
    }
    let mut db: Option<String> = None;
    let mut config = ServerParams::default();
    let mut case_base: Option<String> = None;
    let (mut generate, mut products, mut seed) = (None, 200usize, 42u64);
    let mut stop_on_eof = false;
    fn num<T: std::str::FromStr>(flag: &str, v: Option<String>) -> Result<T, String> {
        v.and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{flag} needs a numeric value"))
    }
    while let Some(a) = args.next() {
        match a.as_str() {
            "--case-base" => case_base = Some(args.next().ok_or("--case-base needs a file")?),
            "--generate" => generate = Some(num::<usize>(&a, args.next())?),
            "--products" => products = num(&a, args.next())?,
            "--seed" => seed = num(&a, args.next())?,
            "--bind" => {
                config = config.bind(
                    args.next()
                        .and_then(|v| v.parse().ok())
                        .ok_or("--bind needs ADDRESS:PORT")?,
                );
            }
            "--workers" => config = config.workers(num(&a, args.next())?),
            "--deadline-ms" => {
                config = config.query_deadline(Duration::from_millis(num(&a, args.next())?));
            }
            "--read-timeout-ms" => {
                config = config.read_timeout(Duration::from_millis(num(&a, args.next())?));
            }
            "--idle-timeout-ms" => {
                config = config.idle_timeout(Duration::from_millis(num(&a, args.next())?));
            }
            "--write-timeout-ms" => {
                config = config.write_timeout(Duration::from_millis(num(&a, args.next())?));
            }
            "--max-connections" => config = config.max_connections(num(&a, args.next())?),
            "--max-per-peer" => config = config.max_connections_per_peer(num(&a, args.next())?),
            "--max-message-bytes" => config = config.max_message_bytes(num(&a, args.next())?),
            "--stop-on-stdin-eof" => stop_on_eof = true,
            "--db" => db = Some(args.next().ok_or("--db needs a file or postgres:// URL")?),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument `{other}` (try --help)")),
        }
    }
    let explicit = case_base.is_some() || generate.is_some();
    let cb = match (case_base, generate) {
        (Some(path), None) => {
            let f = std::fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
            CaseBase::from_json(std::io::BufReader::new(f)).map_err(|e| e.to_string())?
        }
        (None, Some(n)) => generate_case_base(GeneratorParams::new(n, products, seed))
            .map_err(|e| e.to_string())?,
        (None, None) => generate_case_base(GeneratorParams::new(10_000, products, seed))
            .map_err(|e| e.to_string())?,
        (Some(_), Some(_)) => return Err("give either --case-base or --generate".into()),
    };
    let (n, server) = match db {
        None => (
            cb.len(),
            Server::start(Arc::new(cb), config).map_err(|e| e.to_string())?,
        ),
        Some(url) => {
            let mut store = open_store(&url).map_err(|e| e.to_string())?;
            let t0 = std::time::Instant::now();
            let stored = match store.load() {
                Ok(stored) if explicit => {
                    return Err(format!(
                        "{} already holds {} cases: use `import` to replace them",
                        store.describe(),
                        stored.len()
                    ));
                }
                Ok(stored) => stored,
                Err(CbrError::Store {
                    problem: StoreProblem::NoCaseBase,
                    ..
                }) => {
                    store.import(&cb.to_data()).map_err(|e| e.to_string())?;
                    store.load().map_err(|e| e.to_string())?
                }
                Err(e) => return Err(e.to_string()),
            };
            drop(cb);
            eprintln!(
                "loaded {} cases from {} in {:.2} s",
                stored.len(),
                store.describe(),
                t0.elapsed().as_secs_f64()
            );
            let n = stored.len();
            (
                n,
                Server::start_with_store(stored, store, config).map_err(|e| e.to_string())?,
            )
        }
    };
    eprintln!("serving {n} cases on {}", server.local_addr());
    let stop = server.shutdown_handle();
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])
            .map_err(|e| format!("cannot handle SIGTERM/SIGINT: {e}"))?;
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("cbr-signals".into())
            .spawn(move || {
                if let Some(signal) = signals.forever().next() {
                    eprintln!("signal {signal}: stopping");
                    stop.shutdown();
                }
            })
            .map_err(|e| e.to_string())?;
    }
    if stop_on_eof {
        std::thread::Builder::new()
            .name("cbr-stdin".into())
            .spawn(move || {
                for line in std::io::stdin().lock().lines() {
                    match line {
                        Ok(l) if l.trim() == "quit" => break,
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
                stop.shutdown();
            })
            .map_err(|e| e.to_string())?;
    }
    server.join();
    eprintln!("stopped");
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fundalloc-cbr-server: {e}");
            ExitCode::FAILURE
        }
    }
}
