//! The recommendation TCP server (Section 4 of the paper): one thread per connection reads
//! requests, each query runs on a worker from a bounded pool, the answer goes back on the same
//! connection.
//!
//! Robustness: per-connection read timeout and per-message time limit, maximum message size
//! (the connection is closed after an oversized message), maximum number of connections,
//! bounded query queue (`41 Busy` when full), a deadline per query (`40`), panics in a query
//! caught (`50`), loopback bind by default, graceful shutdown through [`ServerHandle`].

use std::collections::HashMap;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fundalloc_core_types::{CancelToken, ParamGuard, check};

use crate::error::ProtocolProblem;
use crate::protocol::{
    Answer, AnswerItem, ErrorAnswer, ErrorCode, Limits, Request, Response, parse_request,
};
use crate::retrieval::QueryParams;
use crate::{CaseBase, CbrError, Result};

/// Unchecked server parameters: [`ServerParams::default`] binds `127.0.0.1:7878`,
/// [`ServerParams::loopback_ephemeral`] an ephemeral loopback port; change them with the
/// setters. [`Server::start`] checks them ([`ParamGuard`]).
///
/// ```
/// use std::time::Duration;
/// use fundalloc_cbr_advisor::ServerParams;
/// use fundalloc_core_types::ParamGuard;
///
/// let p = ServerParams::loopback_ephemeral().workers(2).query_deadline(Duration::from_secs(2));
/// assert_eq!(p.check()?.workers(), 2);
/// assert!(ServerParams::default().query_deadline(Duration::ZERO).check().is_err());
/// assert!(ServerParams::default().query_deadline(Duration::MAX).check().is_err());
/// # Ok::<(), fundalloc_cbr_advisor::CbrError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ServerParams(ServerValidParams);

/// Checked server parameters: made by [`ParamGuard::check`] on [`ServerParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct ServerValidParams {
    bind: SocketAddr,
    workers: usize,
    queue_capacity: usize,
    max_connections: usize,
    read_timeout: Duration,
    message_timeout: Duration,
    write_timeout: Duration,
    query_deadline: Duration,
    max_message_bytes: usize,
    limits: Limits,
    default_n_fraction: f64,
    default_n_max: usize,
}

impl Default for ServerParams {
    fn default() -> Self {
        Self(ServerValidParams {
            bind: SocketAddr::from(([127, 0, 0, 1], 7878)),
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            queue_capacity: 64,
            max_connections: 256,
            read_timeout: Duration::from_secs(5),
            message_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(5),
            query_deadline: Duration::from_secs(10),
            max_message_bytes: 64 * 1024,
            limits: Limits::default(),
            default_n_fraction: 0.01,
            default_n_max: 50,
        })
    }
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty;)*) => {
        impl ServerParams {
            $(
                $(#[$doc])*
                #[must_use]
                pub fn $name(mut self, $name: $ty) -> Self {
                    self.0.$name = $name;
                    self
                }
            )*
        }
        impl ServerValidParams {
            $(
                $(#[$doc])*
                pub fn $name(&self) -> $ty {
                    self.$name.clone()
                }
            )*
        }
    };
}

setters! {
    /// Address to bind (default `127.0.0.1:7878`; port 0 for an ephemeral port).
    bind: SocketAddr;
    /// Number of query workers (≥ 1; default: available parallelism).
    workers: usize;
    /// Queries waiting for a worker before new ones get `41 Busy` (≥ 1; default 64).
    queue_capacity: usize;
    /// Open connections before new ones get `42` and are closed (≥ 1; default 256).
    max_connections: usize;
    /// Longest silence tolerated on a connection (default 5 s). An idle connection is
    /// closed; one in the middle of a message gets `23` and is closed.
    read_timeout: Duration;
    /// Longest time a message may take to arrive from its first byte (default 10 s).
    message_timeout: Duration;
    /// Write timeout for answers (default 5 s).
    write_timeout: Duration;
    /// Deadline of a query from its arrival (default 10 s): the query's cancel token.
    query_deadline: Duration;
    /// Maximum request size in bytes (≥ 16; default 64 KiB).
    max_message_bytes: usize;
    /// Limits on request fields.
    limits: Limits;
    /// Default N as a fraction of the case base when a request's N is `NULL` (in (0, 1],
    /// default 0.01).
    default_n_fraction: f64;
    /// Upper bound of the default N (≥ 1, default 50).
    default_n_max: usize;
}

impl ServerParams {
    /// The default parameters on an ephemeral loopback port (`127.0.0.1:0`).
    pub fn loopback_ephemeral() -> Self {
        Self::default().bind(SocketAddr::from(([127, 0, 0, 1], 0)))
    }
}

impl ParamGuard for ServerParams {
    type Checked = ServerValidParams;
    type Error = CbrError;

    fn check_ref(&self) -> Result<&ServerValidParams> {
        let p = &self.0;
        check::at_least("workers", p.workers, 1)?;
        check::at_least("queue_capacity", p.queue_capacity, 1)?;
        check::at_least("max_connections", p.max_connections, 1)?;
        check::at_least("max_message_bytes", p.max_message_bytes, 16)?;
        check::duration("read_timeout", p.read_timeout)?;
        check::duration("message_timeout", p.message_timeout)?;
        check::duration("write_timeout", p.write_timeout)?;
        check::duration("query_deadline", p.query_deadline)?;
        check::at_least("limits.max_customers", p.limits.max_customers, 1)?;
        check::at_least("limits.max_n", p.limits.max_n, 1)?;
        check::at_least("limits.max_j", p.limits.max_j, 1)?;
        check::at_least("limits.max_k", p.limits.max_k, 1)?;
        QueryParams::new(1)
            .default_n_fraction(p.default_n_fraction)
            .default_n_max(p.default_n_max)
            .check_ref()?;
        Ok(p)
    }

    fn check(self) -> Result<ServerValidParams> {
        self.check_ref()?;
        Ok(self.0)
    }
}

fundalloc_core_types::checked_params!(ServerValidParams, CbrError);

struct Job {
    request: Request,
    deadline: Instant,
    reply: SyncSender<Response>,
}

struct Shared {
    config: ServerValidParams,
    stop: AtomicBool,
    jobs: Mutex<Option<SyncSender<Job>>>,
    conns: Mutex<HashMap<u64, TcpStream>>,
    active: AtomicUsize,
    next_id: AtomicU64,
}

/// Entry point: [`Server::start`].
#[derive(Debug, Clone, Copy)]
pub struct Server;

/// A running server. Dropping it shuts it down (and waits).
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    shared: Arc<SharedDebug>,
    acceptor: Option<JoinHandle<()>>,
    workers: Vec<JoinHandle<()>>,
    conn_threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

/// A cloneable handle that only asks the server to stop (e.g. from a signal handler thread).
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    shared: Arc<SharedDebug>,
    addr: SocketAddr,
}

/// `Shared` behind a Debug-able wrapper.
struct SharedDebug(Shared);
impl std::fmt::Debug for SharedDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("stop", &self.0.stop)
            .field("active", &self.0.active)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ShutdownHandle {
    /// Asks the server to stop: no new connections, idle connections closed, queries in
    /// flight finish and are answered.
    pub fn shutdown(&self) {
        signal_stop(&self.shared.0, self.addr);
    }
}

fn signal_stop(s: &Shared, addr: SocketAddr) {
    if s.stop.swap(true, Ordering::SeqCst) {
        return;
    }
    // Wake the acceptor blocked in accept().
    let _ = TcpStream::connect_timeout(&addr, Duration::from_millis(200));
    // Unblock connection threads waiting for input; they can still write answers.
    for c in lock(&s.conns).values() {
        let _ = c.shutdown(Shutdown::Read);
    }
}

impl Server {
    /// Binds `params.bind`, starts the worker pool and the acceptor, and returns at once.
    ///
    /// # Errors
    /// [`CbrError::InvalidParameter`] for bad parameters,
    /// [`CbrError::Protocol`] ([`ProtocolProblem::UnsendableProduct`]) for a product code
    /// that cannot be sent on the wire, [`CbrError::Io`] when binding or spawning fails.
    pub fn start(
        cb: Arc<CaseBase>,
        params: impl ParamGuard<Checked = ServerValidParams, Error = CbrError>,
    ) -> Result<ServerHandle> {
        let config = params.check()?;
        for p in cb.catalogue().products() {
            let id = p.id.as_str();
            if id.is_empty() || id.chars().any(|c| c.is_control() || c == ';') {
                return Err(CbrError::Protocol(ProtocolProblem::UnsendableProduct(
                    p.id.clone(),
                )));
            }
        }
        let listener = TcpListener::bind(config.bind)?;
        let mut addr = listener.local_addr()?;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let (tx, rx) = sync_channel::<Job>(config.queue_capacity);
        let rx = Arc::new(Mutex::new(rx));
        let workers = (0..config.workers)
            .map(|w| {
                let rx = Arc::clone(&rx);
                let cb = Arc::clone(&cb);
                let params = config.clone();
                std::thread::Builder::new()
                    .name(format!("cbr-worker-{w}"))
                    .spawn(move || worker(&cb, &rx, &params))
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        let shared = Arc::new(SharedDebug(Shared {
            config,
            stop: AtomicBool::new(false),
            jobs: Mutex::new(Some(tx)),
            conns: Mutex::new(HashMap::new()),
            active: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
        }));
        let conn_threads = Arc::new(Mutex::new(Vec::new()));
        let acceptor = {
            let shared = Arc::clone(&shared);
            let threads = Arc::clone(&conn_threads);
            std::thread::Builder::new()
                .name("cbr-acceptor".into())
                .spawn(move || accept_loop(&listener, &shared, &threads))?
        };
        Ok(ServerHandle {
            addr,
            shared,
            acceptor: Some(acceptor),
            workers,
            conn_threads,
        })
    }
}

impl ServerHandle {
    /// The bound address (with the actual port when port 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle that can stop the server from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            shared: Arc::clone(&self.shared),
            addr: self.addr,
        }
    }

    /// The number of open connections.
    pub fn connections(&self) -> usize {
        self.shared.0.active.load(Ordering::SeqCst)
    }

    /// Stops the server gracefully and waits for every thread to finish.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    /// Waits until the server stops (after [`ShutdownHandle::shutdown`]).
    pub fn join(mut self) {
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        signal_stop(&self.shared.0, self.addr);
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
        let threads: Vec<_> = lock(&self.conn_threads).drain(..).collect();
        for t in threads {
            let _ = t.join();
        }
        // Closing the queue lets the workers drain it and exit.
        lock(&self.shared.0.jobs).take();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

fn accept_loop(
    listener: &TcpListener,
    shared: &Arc<SharedDebug>,
    threads: &Mutex<Vec<JoinHandle<()>>>,
) {
    let s = &shared.0;
    for stream in listener.incoming() {
        if s.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else {
            // e.g. out of file descriptors: back off instead of spinning.
            std::thread::sleep(Duration::from_millis(5));
            continue;
        };
        lock(threads).retain(|t| !t.is_finished());
        if s.active.load(Ordering::SeqCst) >= s.config.max_connections {
            let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
            let e = ErrorAnswer::new(None, ErrorCode::TooManyConnections, "too many connections");
            let _ = (&stream).write_all(Response::Error(e).encode().as_bytes());
            continue;
        }
        let id = s.next_id.fetch_add(1, Ordering::SeqCst);
        let Ok(clone) = stream.try_clone() else {
            continue;
        };
        lock(&s.conns).insert(id, clone);
        s.active.fetch_add(1, Ordering::SeqCst);
        let sh = Arc::clone(shared);
        let spawned = std::thread::Builder::new()
            .name(format!("cbr-conn-{id}"))
            .spawn(move || {
                connection(&sh.0, stream);
                lock(&sh.0.conns).remove(&id);
                sh.0.active.fetch_sub(1, Ordering::SeqCst);
            });
        match spawned {
            Ok(t) => lock(threads).push(t),
            Err(_) => {
                lock(&s.conns).remove(&id);
                s.active.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
}

fn worker(cb: &CaseBase, rx: &Mutex<Receiver<Job>>, params: &ServerValidParams) {
    loop {
        let job = { lock(rx).recv() };
        let Ok(job) = job else { return };
        let q = job.request.query_code.clone();
        let cancel = CancelToken::with_deadline(job.deadline);
        let response = catch_unwind(AssertUnwindSafe(|| {
            Server::answer(cb, &job.request, params, &cancel)
        }))
        .unwrap_or_else(|_| {
            Response::Error(ErrorAnswer::new(
                Some(q),
                ErrorCode::Internal,
                "query failed",
            ))
        });
        let _ = job.reply.send(response);
    }
}

impl Server {
    /// Answers one request against the case base, as a worker of a server with `params`
    /// does (`params` gives the default N), stopping when `cancel` stops.
    pub fn answer(
        cb: &CaseBase,
        r: &Request,
        params: &ServerValidParams,
        cancel: &CancelToken,
    ) -> Response {
        let q = || Some(r.query_code.clone());
        let mut targets = Vec::with_capacity(r.customers.len());
        for id in &r.customers {
            match cb.target(id) {
                Ok(t) => targets.push(t),
                Err(_) => {
                    return Response::Error(ErrorAnswer::new(
                        q(),
                        ErrorCode::UnknownCustomer,
                        format!("unknown customer {id}"),
                    ));
                }
            }
        }
        let query = QueryParams::new(r.k)
            .n(r.n)
            .j(r.j)
            .order(r.order)
            .default_n_fraction(params.default_n_fraction)
            .default_n_max(params.default_n_max);
        match cb.recommend_group(&targets, query, cancel) {
            Ok(rec) => Response::Answer(Answer {
                query_code: r.query_code.clone(),
                items: rec.assets.iter().map(AnswerItem::from).collect(),
            }),
            Err(e) => {
                let code = match e {
                    CbrError::MissingAdequacy { .. } => ErrorCode::MissingAdequacy,
                    CbrError::Cancelled(_) => ErrorCode::DeadlineExceeded,
                    CbrError::InvalidParameter(_) | CbrError::TooLarge(_) | CbrError::Empty(_) => {
                        ErrorCode::InvalidQuery
                    }
                    CbrError::UnknownCustomer { .. } => ErrorCode::UnknownCustomer,
                    _ => ErrorCode::Internal,
                };
                Response::Error(ErrorAnswer::new(q(), code, e.to_string()))
            }
        }
    }
}

enum Frame {
    Message(Vec<u8>),
    /// Clean end of input between messages (EOF or idle timeout).
    Closed,
    /// A problem that ends the connection after an error answer.
    Fatal(ErrorCode, &'static str),
}

/// Reads one message (up to and including its `.` line) within the size and time limits.
fn read_frame(
    reader: &mut BufReader<TcpStream>,
    c: &ServerValidParams,
    stop: &AtomicBool,
) -> Frame {
    let mut buf: Vec<u8> = Vec::new();
    let mut line_start = 0;
    let mut started: Option<Instant> = None;
    loop {
        let timeout = match started {
            None => c.read_timeout,
            Some(t0) => {
                let left = c.message_timeout.saturating_sub(t0.elapsed());
                if left.is_zero() {
                    return Frame::Fatal(ErrorCode::ReadTimeout, "message took too long");
                }
                left.min(c.read_timeout)
            }
        };
        if reader.get_ref().set_read_timeout(Some(timeout)).is_err() {
            return Frame::Closed;
        }
        let avail = match reader.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return if buf.is_empty() {
                    Frame::Closed
                } else {
                    Frame::Fatal(
                        ErrorCode::ReadTimeout,
                        "read timeout in the middle of a message",
                    )
                };
            }
            Err(_) => return Frame::Closed,
        };
        if avail.is_empty() {
            return if buf.is_empty() {
                Frame::Closed
            } else if stop.load(Ordering::SeqCst) {
                Frame::Fatal(ErrorCode::ShuttingDown, "server shutting down")
            } else {
                Frame::Fatal(
                    ErrorCode::Truncated,
                    "connection closed in the middle of a message",
                )
            };
        }
        started.get_or_insert_with(Instant::now);
        let (take, newline) = match avail.iter().position(|&b| b == b'\n') {
            Some(p) => (p + 1, true),
            None => (avail.len(), false),
        };
        if buf.len() + take > c.max_message_bytes {
            return Frame::Fatal(
                ErrorCode::MessageTooLarge,
                "message exceeds the maximum size",
            );
        }
        buf.extend_from_slice(&avail[..take]);
        reader.consume(take);
        if newline {
            let line = &buf[line_start..];
            let line = line.strip_suffix(b"\n").unwrap_or(line);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line == b"." {
                return Frame::Message(buf);
            }
            line_start = buf.len();
        }
    }
}

fn connection(s: &Shared, stream: TcpStream) {
    let c = &s.config;
    let _ = stream.set_write_timeout(Some(c.write_timeout));
    let _ = stream.set_nodelay(true);
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let mut writer = write_half;
    let mut reader = BufReader::with_capacity(8 * 1024, stream);
    loop {
        if s.stop.load(Ordering::SeqCst) {
            break;
        }
        let msg = match read_frame(&mut reader, c, &s.stop) {
            Frame::Message(m) => m,
            Frame::Closed => break,
            Frame::Fatal(code, text) => {
                let e = ErrorAnswer::new(None, code, text);
                let _ = writer.write_all(Response::Error(e).encode().as_bytes());
                // Closing with unread input would reset the connection and could destroy the
                // error answer in flight: half-close, then discard a bounded amount of input.
                let _ = writer.shutdown(Shutdown::Write);
                drain(&mut reader);
                break;
            }
        };
        let arrived = Instant::now();
        let response = match parse_request(&msg, &c.limits) {
            Err(e) => Response::Error(e),
            Ok(req) => dispatch(s, req, arrived + c.query_deadline),
        };
        if writer.write_all(response.encode().as_bytes()).is_err() {
            break;
        }
    }
    let _ = writer.shutdown(Shutdown::Both);
}

/// Discards pending input for at most 200 ms or 1 MiB.
fn drain(reader: &mut BufReader<TcpStream>) {
    let t0 = Instant::now();
    let mut total = 0usize;
    let mut sink = [0u8; 8192];
    while t0.elapsed() < Duration::from_millis(200) && total < (1 << 20) {
        let _ = reader
            .get_ref()
            .set_read_timeout(Some(Duration::from_millis(50)));
        match std::io::Read::read(reader, &mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
}

fn dispatch(s: &Shared, request: Request, deadline: Instant) -> Response {
    let q = Some(request.query_code.clone());
    let (reply, rx) = sync_channel(1);
    let sent = match lock(&s.jobs).as_ref() {
        None => Err(ErrorCode::ShuttingDown),
        Some(tx) => match tx.try_send(Job {
            request,
            deadline,
            reply,
        }) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(ErrorCode::Busy),
            Err(TrySendError::Disconnected(_)) => Err(ErrorCode::ShuttingDown),
        },
    };
    if let Err(code) = sent {
        return Response::Error(ErrorAnswer::new(q, code, "query not accepted"));
    }
    match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(r) => r,
        Err(RecvTimeoutError::Timeout) => Response::Error(ErrorAnswer::new(
            q,
            ErrorCode::DeadlineExceeded,
            "query deadline exceeded",
        )),
        Err(RecvTimeoutError::Disconnected) => {
            Response::Error(ErrorAnswer::new(q, ErrorCode::Internal, "worker lost"))
        }
    }
}
