//! Issue 14's latency target for the advisor server: a small query answers in < 50 ms while
//! heavy queries (N = every customer, K = 1000: minutes of Step 3 work each) keep the other
//! workers busy until their deadline cancels them.
//!
//! ```sh
//! cargo run --release -p fundalloc-examples --example cbr_latency
//! ```
//!
//! Prints the latency distribution of 300 small queries (N = 5, K = 3) sent one after the
//! other, first on an idle server, then with 3 of the 4 workers on heavy queries that are
//! resubmitted as soon as their 2 s deadline cancels them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fundalloc_cbr_advisor::{
    CaseBase, Client, GeneratorParams, Request, Response, Server, ServerParams, generate_case_base,
};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn small_queries(addr: std::net::SocketAddr, cb: &CaseBase) -> Vec<Duration> {
    let mut client = Client::connect(addr, Duration::from_secs(10)).expect("connect");
    let mut times: Vec<Duration> = (0..300)
        .map(|q| {
            let request = Request {
                n: Some(5),
                ..Request::new(format!("S{q}"), cb.ids()[(q * 37) % cb.len()].clone(), 3)
            };
            let t0 = Instant::now();
            let answer = client.query(&request).expect("answer");
            let took = t0.elapsed();
            assert!(matches!(answer, Response::Answer(_)), "{answer:?}");
            took
        })
        .collect();
    times.sort();
    times
}

fn main() {
    let cb = Arc::new(generate_case_base(GeneratorParams::new(20_000, 10, 3)).expect("case base"));
    let params = ServerParams::loopback_ephemeral()
        .workers(4)
        .query_deadline(Duration::from_secs(2));
    let server = Server::start(Arc::clone(&cb), params).expect("server");
    let addr = server.local_addr();

    let idle = small_queries(addr, &cb);

    let stop = Arc::new(AtomicBool::new(false));
    let heavy: Vec<_> = (0..3)
        .map(|h| {
            let (stop, cb) = (Arc::clone(&stop), Arc::clone(&cb));
            std::thread::spawn(move || {
                let request = Request {
                    n: Some(cb.len()),
                    j: None,
                    ..Request::new(format!("H{h}"), cb.ids()[h].clone(), 1000)
                };
                let mut client = Client::connect(addr, Duration::from_secs(10)).expect("connect");
                let mut cancelled = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(Response::Error(_)) = client.query(&request) {
                        cancelled += 1;
                    }
                }
                cancelled
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let loaded = small_queries(addr, &cb);
    stop.store(true, Ordering::Relaxed);
    let cancelled: u32 = heavy.into_iter().map(|h| h.join().expect("heavy")).sum();
    server.shutdown();

    println!("small query latency, 20,000 customers, 4 workers, release build");
    println!("| server | queries | median | p99 | max |");
    println!("|---|---|---|---|---|");
    for (name, t) in [("idle", &idle), ("3 workers on heavy queries", &loaded)] {
        println!(
            "| {name} | {} | {:.2} ms | {:.2} ms | {:.2} ms |",
            t.len(),
            percentile(t, 0.5).as_secs_f64() * 1e3,
            percentile(t, 0.99).as_secs_f64() * 1e3,
            t[t.len() - 1].as_secs_f64() * 1e3
        );
    }
    println!("heavy queries cancelled at their deadline meanwhile: {cancelled}");
}
