//! The server binary stops gracefully on SIGTERM and SIGINT (issue 14): a heavy query in flight
//! and an idle client do not keep it alive; it exits 0 within 2 s, on an IPv4 and an IPv6 bind.
//! Unix only (signals are sent with the `kill` command).
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Starts the binary on `bind` (port 0) and returns it with the address it printed.
fn start(bind: &str) -> (Child, SocketAddr, BufReader<std::process::ChildStderr>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fundalloc-cbr-server"))
        .args(["--generate", "20000", "--products", "10", "--workers", "1"])
        .args(["--deadline-ms", "60000", "--bind", bind])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .rsplit(' ')
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line `{line}`"));
    (child, addr, err)
}

fn wait_exit(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let t0 = Instant::now();
    while t0.elapsed() < within {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

fn stops_on(signal: &str, bind: &str) {
    let (mut child, addr, mut err) = start(bind);
    // A heavy query (N = every customer, K = 1000: minutes of Step 3 work) in flight, and an
    // idle connection.
    let mut heavy = TcpStream::connect(addr).unwrap();
    heavy
        .write_all(b"01\nQHEAVY\nC0000003\nNULL\nA\n20000\nNULL\n1000\n.\n")
        .unwrap();
    let _idle = TcpStream::connect(addr).unwrap();
    std::thread::sleep(Duration::from_millis(300));

    let t0 = Instant::now();
    let killed = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = wait_exit(&mut child, Duration::from_secs(5));
    let took = t0.elapsed();
    let Some(status) = status else {
        child.kill().unwrap();
        panic!("{signal} on {bind}: still running after 5 s");
    };
    let mut rest = String::new();
    for l in (&mut err).lines() {
        rest.push_str(&l.unwrap());
        rest.push('\n');
    }
    assert!(
        status.success(),
        "{signal} on {bind}: {status}; stderr: {rest}"
    );
    assert!(
        took < Duration::from_secs(2),
        "{signal} on {bind}: took {took:?}"
    );
    assert!(rest.contains("stopped"), "stderr: {rest}");
}

#[test]
fn sigterm_stops_the_server_gracefully_on_ipv4() {
    stops_on("-TERM", "127.0.0.1:0");
}

#[test]
fn sigint_stops_the_server_gracefully_on_ipv6() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: no IPv6 loopback on this machine");
        return;
    }
    stops_on("-INT", "[::1]:0");
}
