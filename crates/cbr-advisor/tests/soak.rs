//! Soak test of the advisor server: well-behaved clients next to hostile ones (heavy queries,
//! slow-loris, never-reading clients, garbage, a connection flood), loopback only.
//!
//! Every well-behaved query must be answered exactly as the library answers it, within its
//! deadline; afterwards no connection slot may be left, shutdown (under load) must take less
//! than 2 s and the server's threads must be gone. `CBR_SOAK_SECS` sets the duration (default
//! 15 s; `.ci/run` sets 60 s); the peak RSS is printed.
//!
//! Well-behaved clients connect over IPv4 and hostile ones over IPv6 to a dual-stack `[::]`
//! bind, so they are different peers for the per-peer cap (with IPv4 only, both share
//! 127.0.0.1 and the per-peer cap is raised to the global one).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fundalloc_cbr_advisor::*;
use fundalloc_core_types::{CancelToken, ParamGuard};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

fn proc_status(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn dual_stack() -> bool {
    // `[::]` accepting IPv4 too (bindv6only = 0) and a working ::1.
    let Ok(l) = TcpListener::bind("[::]:0") else {
        return false;
    };
    let port = l.local_addr().unwrap().port();
    TcpStream::connect(("127.0.0.1", port)).is_ok() && TcpStream::connect(("::1", port)).is_ok()
}

/// Well-behaved clients, each with its own connection.
const GOOD: u64 = 64;

#[test]
fn well_behaved_clients_are_served_correctly_among_hostile_ones() {
    let secs: u64 = std::env::var("CBR_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let cb = Arc::new(generate_case_base(GeneratorParams::new(2000, 10, 21)).unwrap());
    let v6 = dual_stack();
    let deadline = Duration::from_secs(5);
    let mut params = ServerParams::loopback_ephemeral()
        .workers(4)
        .query_deadline(deadline)
        .max_connections(200)
        .max_connections_per_peer(if v6 { GOOD as usize + 8 } else { 200 })
        .queue_capacity(256)
        .idle_timeout(Duration::from_secs(2))
        .read_timeout(Duration::from_secs(1))
        .message_timeout(Duration::from_millis(1500))
        .write_timeout(Duration::from_secs(1));
    if v6 {
        params = params.bind("[::]:0".parse().unwrap());
    }
    let checked = params.clone().check().unwrap();

    // The well-behaved requests and their library answers.
    let mut rng = StdRng::seed_from_u64(5);
    let requests: Vec<Request> = (0..30)
        .map(|q| Request {
            n: Some(rng.random_range(1..=20usize)),
            j: rng.random_bool(0.5).then(|| rng.random_range(1..=10usize)),
            ..Request::new(
                format!("G{q}"),
                cb.ids()[rng.random_range(0..cb.len())].clone(),
                rng.random_range(1..=6usize),
            )
        })
        .collect();
    let far = CancelToken::with_timeout(Duration::from_secs(3600));
    let expected: Vec<Response> = requests
        .iter()
        .map(|r| Server::answer(&cb, r, &checked, &far))
        .collect();
    let requests = Arc::new(requests);
    let expected = Arc::new(expected);
    // After the library answers (rayon's pool is started), before the server's threads.
    let threads_before = proc_status("Threads:");
    let server = Server::start(Arc::clone(&cb), params).unwrap();
    let port = server.local_addr().port();
    let good_addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let bad_addr: SocketAddr = if v6 {
        format!("[::1]:{port}").parse().unwrap()
    } else {
        good_addr
    };

    let stop = Arc::new(AtomicBool::new(false));
    let stop_heavy = Arc::new(AtomicBool::new(false));
    let mut heavy_clients = Vec::new();
    let end = Instant::now() + Duration::from_secs(secs);
    let answered = Arc::new(AtomicUsize::new(0));
    let mut hostile = Vec::new();

    // Heavy queries (2 of the 4 workers at most: each client waits for its answer).
    for h in 0..2 {
        let (stop, cb) = (Arc::clone(&stop_heavy), Arc::clone(&cb));
        heavy_clients.push(std::thread::spawn(move || {
            let heavy = Request {
                n: Some(cb.len()),
                ..Request::new(format!("H{h}"), cb.ids()[h].clone(), 1000)
            };
            while !stop.load(Ordering::Relaxed) {
                if let Ok(mut c) = Client::connect(bad_addr, Duration::from_secs(10)) {
                    let _ = c.query(&heavy);
                } else {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }));
    }
    // Slow-loris: a byte every 150 ms.
    for _ in 0..4 {
        let stop = Arc::clone(&stop);
        hostile.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let Ok(mut s) = TcpStream::connect(bad_addr) else {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                };
                for b in b"01\nSLOW\nC0000001\nNULL\nA\n" {
                    if stop.load(Ordering::Relaxed) || s.write_all(&[*b]).is_err() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(150));
                }
            }
        }));
    }
    // Never-reading clients: pipelined requests whose answers are never read.
    for _ in 0..4 {
        let stop = Arc::clone(&stop);
        let req = requests[0].encode().repeat(20);
        hostile.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let Ok(mut s) = TcpStream::connect(bad_addr) else {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                };
                let _ = s.set_write_timeout(Some(Duration::from_millis(200)));
                let t0 = Instant::now();
                while !stop.load(Ordering::Relaxed) && t0.elapsed() < Duration::from_secs(3) {
                    if s.write_all(req.as_bytes()).is_err() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }));
    }
    // Garbage: random bytes, framed or not.
    for g in 0..2u64 {
        let stop = Arc::clone(&stop);
        hostile.push(std::thread::spawn(move || {
            let mut rng = StdRng::seed_from_u64(g);
            let mut sink = [0u8; 4096];
            while !stop.load(Ordering::Relaxed) {
                let Ok(mut s) = TcpStream::connect(bad_addr) else {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                };
                let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
                for _ in 0..50 {
                    let len = rng.random_range(1..200);
                    let mut msg: Vec<u8> = (0..len).map(|_| rng.random::<u8>()).collect();
                    if rng.random_bool(0.8) {
                        msg.extend_from_slice(b"\n.\n");
                    }
                    if stop.load(Ordering::Relaxed) || s.write_all(&msg).is_err() {
                        break;
                    }
                    let _ = s.read(&mut sink);
                }
            }
        }));
    }
    // A connection flood: hold up to 100 connections, replace them constantly.
    {
        let stop = Arc::clone(&stop);
        hostile.push(std::thread::spawn(move || {
            let mut held = std::collections::VecDeque::new();
            while !stop.load(Ordering::Relaxed) {
                if let Ok(s) = TcpStream::connect(bad_addr) {
                    held.push_back(s);
                }
                if held.len() > 100 {
                    held.pop_front();
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }));
    }

    // Well-behaved clients.
    let good: Vec<_> = (0..GOOD)
        .map(|c| {
            let (requests, expected) = (Arc::clone(&requests), Arc::clone(&expected));
            let answered = Arc::clone(&answered);
            std::thread::spawn(move || {
                let mut rng = StdRng::seed_from_u64(100 + c);
                let mut client = Client::connect(good_addr, deadline * 2).unwrap();
                let mut slowest = Duration::ZERO;
                while Instant::now() < end {
                    let i = rng.random_range(0..requests.len());
                    let t0 = Instant::now();
                    let got = client.query(&requests[i]).unwrap();
                    slowest = slowest.max(t0.elapsed());
                    assert_eq!(got, expected[i], "client {c}, request {i}");
                    assert!(t0.elapsed() < deadline);
                    answered.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(rng.random_range(0..50)));
                }
                slowest
            })
        })
        .collect();
    let slowest = good.into_iter().map(|h| h.join().unwrap()).max().unwrap();
    let n = answered.load(Ordering::Relaxed);
    assert!(n > GOOD as usize, "only {n} well-behaved queries answered");

    // The hostile peers leave (heavy queries go on): no slot is leaked.
    stop.store(true, Ordering::Relaxed);
    for h in hostile {
        h.join().unwrap();
    }
    let t0 = Instant::now();
    while server.connections() > 2 && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        server.connections() <= 2,
        "{} slots left",
        server.connections()
    );
    // Shutdown with heavy queries in flight.
    let t0 = Instant::now();
    server.shutdown();
    let took = t0.elapsed();
    stop_heavy.store(true, Ordering::Relaxed);
    for h in heavy_clients {
        h.join().unwrap();
    }
    println!(
        "soak {secs} s (IPv6 hostile peers: {v6}): {GOOD} clients, {n} well-behaved queries answered, slowest \
         {slowest:?}; shutdown {took:?}; peak RSS {} kB",
        proc_status("VmHWM:").unwrap_or(0)
    );
    assert!(took < Duration::from_secs(2), "shutdown took {took:?}");
    // Every server thread is gone (the test's own threads have been joined).
    if let (Some(before), Some(after)) = (threads_before, proc_status("Threads:")) {
        assert!(after <= before, "threads: {before} before, {after} after");
    }
}
