//! `fundalloc-cbr-server`: the SMARTFASI recommendation server on the line protocol.
//!
//! ```text
//! fundalloc-cbr-server [--case-base FILE.json | --generate CUSTOMERS] [--products P] [--seed S]
//!                      [--bind 127.0.0.1:7878] [--workers W] [--deadline-ms MS]
//!                      [--read-timeout-ms MS] [--idle-timeout-ms MS] [--write-timeout-ms MS]
//!                      [--max-connections C] [--max-per-peer C] [--max-message-bytes B]
//!                      [--stop-on-stdin-eof]
//! ```
//!
//! Binds the loopback interface by default. SIGTERM and SIGINT (Ctrl-C) stop it gracefully:
//! no new connections, queries in flight answered within the shutdown grace, then exit 0. With
//! `--stop-on-stdin-eof` it also stops when its standard input is closed (or a line `quit` is
//! read).

use std::io::BufRead;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use fundalloc_cbr_advisor::{CaseBase, GeneratorParams, Server, ServerParams, generate_case_base};

const USAGE: &str = "usage: fundalloc-cbr-server [--case-base FILE.json | --generate CUSTOMERS] \
[--products P] [--seed S] [--bind 127.0.0.1:7878] [--workers W] [--deadline-ms MS] \
[--read-timeout-ms MS] [--idle-timeout-ms MS] [--write-timeout-ms MS] [--max-connections C] \
[--max-per-peer C] [--max-message-bytes B] [--stop-on-stdin-eof]";

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
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
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument `{other}` (try --help)")),
        }
    }
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
    let n = cb.len();
    let server = Server::start(Arc::new(cb), config).map_err(|e| e.to_string())?;
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
