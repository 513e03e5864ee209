//! Loopback tests of the TCP server (127.0.0.1, ephemeral ports only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fundalloc_cbr_advisor::*;
use fundalloc_core_types::{CancelToken, InvalidParameter, ParamGuard};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const T: Duration = Duration::from_secs(10);

fn case_base() -> Arc<CaseBase> {
    Arc::new(generate_case_base(GeneratorParams::new(150, 40, 11)).unwrap())
}

fn config() -> ServerParams {
    // The idle timeout (only valid requests reset it) is raised so that the 2,450 malformed
    // messages of one connection below never reach it on a slow machine.
    ServerParams::loopback_ephemeral()
        .workers(2)
        .read_timeout(Duration::from_secs(3))
        .idle_timeout(Duration::from_secs(600))
}

fn requests(cb: &CaseBase, count: usize, seed: u64) -> Vec<Request> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|q| {
            let group = rng.random_range(1..=2usize);
            Request {
                query_code: format!("Q{q}"),
                customers: (0..group)
                    .map(|_| cb.ids()[rng.random_range(0..cb.len())].clone())
                    .collect(),
                order: if rng.random_bool(0.5) {
                    Order::MostFrequentFirst
                } else {
                    Order::LeastFrequentFirst
                },
                n: rng.random_bool(0.8).then(|| rng.random_range(1..=12usize)),
                j: rng.random_bool(0.5).then(|| rng.random_range(1..=10usize)),
                k: rng.random_range(1..=8usize),
            }
        })
        .collect()
}

#[test]
fn many_concurrent_clients_get_the_library_answers() {
    let cb = case_base();
    let server = Server::start(Arc::clone(&cb), config()).unwrap();
    let addr = server.local_addr();
    assert!(addr.ip().is_loopback());
    let reqs = requests(&cb, 40, 1);
    let far = CancelToken::with_timeout(Duration::from_secs(3600));
    let params = config().check().unwrap();
    let expected: Vec<Response> = reqs
        .iter()
        .map(|r| Server::answer(&cb, r, &params, &far))
        .collect();
    assert!(
        expected
            .iter()
            .filter(|r| matches!(r, Response::Answer(a) if !a.items.is_empty()))
            .count()
            > 30
    );
    let reqs = Arc::new(reqs);
    let expected = Arc::new(expected);
    let handles: Vec<_> = (0..64u64)
        .map(|c| {
            let (reqs, expected) = (Arc::clone(&reqs), Arc::clone(&expected));
            std::thread::spawn(move || {
                let mut client = Client::connect(addr, T).unwrap();
                let mut rng = StdRng::seed_from_u64(c);
                for _ in 0..200 {
                    let i = rng.random_range(0..reqs.len());
                    let got = client.query(&reqs[i]).unwrap();
                    assert_eq!(got, expected[i], "client {c}, request {i}");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    server.shutdown();
}

/// A valid request mutated so that it is malformed, still framed by a final `.` line.
fn malformed(rng: &mut StdRng, base: &Request) -> Vec<u8> {
    loop {
        let wire = base.encode();
        let mut lines: Vec<Vec<u8>> = wire.lines().map(|l| l.as_bytes().to_vec()).collect();
        lines.pop(); // the final "."
        match rng.random_range(0..6) {
            0 => {
                let i = rng.random_range(0..lines.len());
                lines.remove(i);
            }
            1 => {
                let i = rng.random_range(0..lines.len());
                let len = rng.random_range(0..12);
                lines[i] = (0..len)
                    .map(|_| rng.random_range(0..=255u8))
                    .filter(|&b| b != b'\n')
                    .collect();
            }
            2 => {
                let i = rng.random_range(0..lines.len());
                let l = lines[i].clone();
                lines.insert(i, l);
            }
            3 => {
                let i = rng.random_range(0..lines.len());
                let j = rng.random_range(0..lines.len());
                lines.swap(i, j);
            }
            4 => {
                let i = rng.random_range(0..lines.len());
                lines[i] = ["0", "-3", "99999999999999", "NULL", "", "A", "1.5", "x"]
                    [rng.random_range(0..8)]
                .as_bytes()
                .to_vec();
            }
            _ => {
                let keep = rng.random_range(0..lines.len());
                lines.truncate(keep);
            }
        }
        lines.retain(|l| l != b"." && l != b".\r");
        let mut msg: Vec<u8> = lines.join(&b'\n');
        if !msg.is_empty() {
            msg.push(b'\n');
        }
        msg.extend_from_slice(b".\n");
        if parse_request(&msg, &Limits::default()).is_err() {
            return msg;
        }
    }
}

#[test]
fn ten_thousand_malformed_or_truncated_requests_get_error_answers() {
    let cb = case_base();
    let server = Server::start(Arc::clone(&cb), config()).unwrap();
    let addr = server.local_addr();
    let base = requests(&cb, 1, 5).remove(0);
    let handles: Vec<_> = (0..4u64)
        .map(|c| {
            let base = base.clone();
            std::thread::spawn(move || {
                let mut rng = StdRng::seed_from_u64(100 + c);
                let mut client = Client::connect(addr, T).unwrap();
                let mut count = 0;
                // 2,450 framed malformed messages on one connection…
                for _ in 0..2450 {
                    let msg = malformed(&mut rng, &base);
                    let want = parse_request(&msg, &Limits::default()).unwrap_err();
                    match client.send_raw(&msg).unwrap() {
                        Response::Error(e) => {
                            assert_eq!((e.code, e.query_code), (want.code, want.query_code))
                        }
                        other => panic!("{other:?}"),
                    }
                    count += 1;
                }
                // …and 50 truncated ones, each on its own connection.
                for _ in 0..50 {
                    let wire = base.encode();
                    let cut = rng.random_range(1..wire.len() - 2);
                    let mut s = TcpStream::connect(addr).unwrap();
                    s.write_all(&wire.as_bytes()[..cut]).unwrap();
                    s.shutdown(std::net::Shutdown::Write).unwrap();
                    let mut out = String::new();
                    s.set_read_timeout(Some(T)).unwrap();
                    s.read_to_string(&mut out).unwrap();
                    assert!(out.starts_with("E1\nNULL\n22;"), "{out:?}");
                    count += 1;
                }
                count
            })
        })
        .collect();
    let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, 10_000);
    // Still serving.
    let mut client = Client::connect(addr, T).unwrap();
    assert!(matches!(client.query(&base).unwrap(), Response::Answer(_)));
    server.shutdown();
}

#[test]
fn oversized_messages_are_refused_and_memory_stays_bounded() {
    let cb = case_base();
    let cfg = config().max_message_bytes(1024).max_connections(4);
    let server = Server::start(Arc::clone(&cb), cfg).unwrap();
    let addr = server.local_addr();
    // A line longer than the limit, never terminated.
    let mut s = TcpStream::connect(addr).unwrap();
    let _ = s.write_all(&vec![b'x'; 4096]);
    let mut out = String::new();
    s.set_read_timeout(Some(T)).unwrap();
    let _ = s.read_to_string(&mut out);
    assert!(out.starts_with("E1\nNULL\n21;"), "{out:?}");
    // Too many customer ids (a long but small-enough message) → 14.
    let mut c = Client::connect(addr, T).unwrap();
    let many = format!("01\nQ\n{}NULL\nA\nNULL\nNULL\n3\n.\n", "C1\n".repeat(101));
    assert!(
        matches!(c.send_raw(many.as_bytes()).unwrap(), Response::Error(e) if e.code == ErrorCode::TooManyCustomers)
    );
    // Connection cap: 4 open (c + 3 idle), the 5th is told and closed.
    let idle: Vec<_> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let t0 = Instant::now();
    while server.connections() < 4 && t0.elapsed() < T {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut extra = TcpStream::connect(addr).unwrap();
    let mut out = String::new();
    extra.set_read_timeout(Some(T)).unwrap();
    let _ = extra.read_to_string(&mut out);
    assert!(out.starts_with("E1\nNULL\n42;"), "{out:?}");
    drop(idle);
    let base = requests(&cb, 1, 9).remove(0);
    assert!(matches!(c.query(&base).unwrap(), Response::Answer(_)));
    server.shutdown();
}

#[test]
fn a_stalled_client_does_not_block_others_and_times_out() {
    let cb = case_base();
    let cfg = config()
        .read_timeout(Duration::from_millis(1500))
        .message_timeout(Duration::from_millis(2500));
    let server = Server::start(Arc::clone(&cb), cfg).unwrap();
    let addr = server.local_addr();
    let base = requests(&cb, 1, 3).remove(0);
    let wire = base.encode();
    let mut staller = TcpStream::connect(addr).unwrap();
    staller
        .write_all(&wire.as_bytes()[..wire.len() / 2])
        .unwrap();
    let t0 = Instant::now();
    let mut c = Client::connect(addr, T).unwrap();
    for _ in 0..20 {
        assert!(matches!(c.query(&base).unwrap(), Response::Answer(_)));
    }
    assert!(
        t0.elapsed() < Duration::from_millis(1500),
        "others were blocked: {:?}",
        t0.elapsed()
    );
    let mut out = String::new();
    staller.set_read_timeout(Some(T)).unwrap();
    let _ = staller.read_to_string(&mut out);
    assert!(out.starts_with("E1\nNULL\n23;"), "{out:?}");
    // A slow-loris that keeps sending a byte at a time hits the message time limit.
    let mut loris = TcpStream::connect(addr).unwrap();
    let t1 = Instant::now();
    for b in wire.as_bytes().iter().take(40) {
        if loris.write_all(&[*b]).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut out = String::new();
    loris.set_read_timeout(Some(T)).unwrap();
    let _ = loris.read_to_string(&mut out);
    assert!(out.starts_with("E1\nNULL\n23;"), "{out:?}");
    assert!(t1.elapsed() < Duration::from_millis(3800));
    server.shutdown();
}

#[test]
fn deadline_unknown_customer_and_graceful_shutdown() {
    let cb = case_base();
    // A zero (or endless) deadline is refused; a deadline of 1 ns is always past.
    for bad in [Duration::ZERO, Duration::MAX] {
        assert!(matches!(
            Server::start(Arc::clone(&cb), config().query_deadline(bad)),
            Err(CbrError::InvalidParameter(InvalidParameter {
                name: "query_deadline",
                ..
            }))
        ));
    }
    let server = Server::start(
        Arc::clone(&cb),
        config().query_deadline(Duration::from_nanos(1)),
    )
    .unwrap();
    let mut c = Client::connect(server.local_addr(), T).unwrap();
    let base = requests(&cb, 1, 4).remove(0);
    assert!(
        matches!(c.query(&base).unwrap(), Response::Error(e) if e.code == ErrorCode::DeadlineExceeded)
    );
    server.shutdown();

    let server = Server::start(Arc::clone(&cb), config()).unwrap();
    let addr = server.local_addr();
    let mut c = Client::connect(addr, T).unwrap();
    let unknown = Request::new("Q9", "nobody", 3);
    assert!(
        matches!(c.query(&unknown).unwrap(), Response::Error(e) if e.code == ErrorCode::UnknownCustomer && e.query_code.as_deref() == Some("Q9"))
    );
    assert!(matches!(c.query(&base).unwrap(), Response::Answer(_)));
    // An idle open connection (read timeout 3 s) must not delay shutdown.
    let stop = server.shutdown_handle();
    let t0 = Instant::now();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        stop.shutdown();
    });
    server.join();
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "shutdown took {:?}",
        t0.elapsed()
    );
    // The connection is closed and the port no longer accepts queries.
    assert!(c.query(&base).is_err());
    assert!(
        Client::connect(addr, Duration::from_millis(300))
            .and_then(|mut c| c.query(&base))
            .is_err()
    );
}

#[test]
fn a_full_queue_answers_busy_and_deadlines_stop_slow_queries() {
    // 20,000 customers; a 100-customer group query with N = 3,000 takes seconds in a debug
    // build, so with one worker and a queue of one the third query finds the queue full.
    let cb = Arc::new(generate_case_base(GeneratorParams::new(20_000, 100, 5)).unwrap());
    let cfg = config()
        .workers(1)
        .queue_capacity(1)
        .query_deadline(Duration::from_millis(700));
    let server = Server::start(Arc::clone(&cb), cfg).unwrap();
    let addr = server.local_addr();
    let slow = Request {
        query_code: "SLOW".into(),
        customers: cb.ids()[..100].to_vec(),
        order: Order::MostFrequentFirst,
        n: Some(3000),
        j: None,
        k: 10,
    };
    let spawn = |r: Request| {
        std::thread::spawn(move || Client::connect(addr, T).unwrap().query(&r).unwrap())
    };
    let a = spawn(slow.clone());
    std::thread::sleep(Duration::from_millis(100));
    let b = spawn(slow.clone());
    std::thread::sleep(Duration::from_millis(100));
    let c = Client::connect(addr, T).unwrap().query(&slow).unwrap();
    assert!(
        matches!(&c, Response::Error(e) if e.code == ErrorCode::Busy),
        "{c:?}"
    );
    let t0 = Instant::now();
    for h in [a, b] {
        let r = h.join().unwrap();
        assert!(
            matches!(&r, Response::Error(e) if e.code == ErrorCode::DeadlineExceeded),
            "{r:?}"
        );
    }
    assert!(t0.elapsed() < Duration::from_secs(5));
    server.shutdown();
}
