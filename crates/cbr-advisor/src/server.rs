//! The recommendation TCP server (Section 4 of the paper): one thread per connection reads
//! requests, each query runs on a worker from a bounded pool, the answer goes back on the same
//! connection.
//!
//! Robustness (the threat model is a hostile peer on the network):
//!
//! * **queries** run under a [`CancelToken`] with the query deadline that every retrieval step
//!   checks in its inner loops, so a heavy query stops (and frees its worker) within
//!   milliseconds of its deadline (`40`); a query's memory is bounded by `max_neighbours`;
//!   panics in a query are caught (`50`); the queue is bounded (`41 Busy` when full);
//! * **connections**: at most `max_connections` in all and `max_connections_per_peer` per
//!   peer address (`42` is answered, then the connection is closed without a reset); a read
//!   timeout (silence) and a per-message time limit (slow-loris, `23`); an idle timeout that
//!   only a *valid* request resets (a peer sending garbage cannot hold a slot); a maximum
//!   message size (`21`); an overall deadline to write each answer (a peer that never reads
//!   is dropped); each slot is released by a guard on every exit path, panics included;
//! * **shutdown** ([`ServerHandle`]): stop accepting, close idle connections, give queries in
//!   flight `shutdown_grace` to finish, then cancel them (`43`) and close every connection:
//!   bounded by about `shutdown_grace` + 0.5 s whatever the load. The listener is polled, so no
//!   wake-up connection is needed (binds to `[::]` shut down like `127.0.0.1` ones).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{
    Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError, sync_channel,
};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fundalloc_core_types::{CancelToken, ParamGuard, check};

use crate::error::{ProtocolProblem, StoreProblem};
use crate::protocol::{
    Answer, AnswerItem, ErrorAnswer, ErrorCode, Limits, Message, Request, Response, RetainRequest,
    parse_message,
};
use crate::retrieval::{DEFAULT_MAX_NEIGHBOURS, QueryParams};
use crate::store::CaseStore;
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
    max_neighbours: usize,
    max_connections_per_peer: usize,
    idle_timeout: Duration,
    shutdown_grace: Duration,
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
            max_neighbours: DEFAULT_MAX_NEIGHBOURS,
            max_connections_per_peer: 64,
            idle_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(1),
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
    /// Overall deadline to write one answer (default 5 s): a peer that does not read it in
    /// time is disconnected.
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
    /// The most neighbours one query may retrieve, N × customers (≥ 1, default
    /// [`DEFAULT_MAX_NEIGHBOURS`]); a larger query gets `32`.
    max_neighbours: usize;
    /// Open connections per peer IP address before new ones get `42` (≥ 1, default 64).
    max_connections_per_peer: usize;
    /// Longest time a connection stays open without a valid request (default 30 s); invalid
    /// messages do not reset it.
    idle_timeout: Duration;
    /// How long queries in flight may still finish on shutdown before they are cancelled
    /// (default 1 s).
    shutdown_grace: Duration;
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
        check::duration("idle_timeout", p.idle_timeout)?;
        check::duration("shutdown_grace", p.shutdown_grace)?;
        check::at_least("max_connections_per_peer", p.max_connections_per_peer, 1)?;
        check::at_least("limits.max_customers", p.limits.max_customers, 1)?;
        check::at_least("limits.max_n", p.limits.max_n, 1)?;
        check::at_least("limits.max_j", p.limits.max_j, 1)?;
        check::at_least("limits.max_k", p.limits.max_k, 1)?;
        QueryParams::new(1)
            .default_n_fraction(p.default_n_fraction)
            .default_n_max(p.default_n_max)
            .max_neighbours(p.max_neighbours)
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

/// Open connections: by id (to shut them down) and by peer address (the per-peer cap).
#[derive(Default)]
struct Connections {
    streams: HashMap<u64, TcpStream>,
    per_peer: HashMap<IpAddr, usize>,
}

struct Shared {
    config: ServerValidParams,
    /// The query index. Queries hold a read guard while they run; a Retain takes the write
    /// guard only to append the committed case.
    cases: RwLock<Arc<CaseBase>>,
    /// The durable layer (`None`: Retain is refused with `34`). Its mutex serialises Retains.
    store: Option<Mutex<Box<dyn CaseStore>>>,
    stop: AtomicBool,
    /// Cancelled after the shutdown grace: every query in flight or queued stops.
    cancel: CancelToken,
    jobs: Mutex<Option<SyncSender<Job>>>,
    conns: Mutex<Connections>,
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
    reaper: Option<JoinHandle<()>>,
    workers: Vec<JoinHandle<()>>,
    conn_threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

/// A cloneable handle that only asks the server to stop (e.g. from a signal handler thread).
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    shared: Arc<SharedDebug>,
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

fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(PoisonError::into_inner)
}

impl ShutdownHandle {
    /// Asks the server to stop: no new connections, idle connections closed, queries in
    /// flight get the shutdown grace to finish and be answered.
    pub fn shutdown(&self) {
        signal_stop(&self.shared.0);
    }
}

fn signal_stop(s: &Shared) {
    if s.stop.swap(true, Ordering::SeqCst) {
        return;
    }
    // Unblock connection threads waiting for input; they can still write answers.
    for c in lock(&s.conns).streams.values() {
        let _ = c.shutdown(Shutdown::Read);
    }
}

/// The address a client on this machine reaches a listener bound to `bound` at: the loopback
/// address of the same family when bound to the unspecified address.
fn reachable(bound: SocketAddr) -> SocketAddr {
    let mut addr = bound;
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => addr.set_ip(Ipv4Addr::LOCALHOST.into()),
        IpAddr::V6(ip) if ip.is_unspecified() => addr.set_ip(Ipv6Addr::LOCALHOST.into()),
        _ => {}
    }
    addr
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
        Self::start_inner(cb, None, params)
    }

    /// Like [`Server::start`], with a case store: Retain requests (`02`) are written through
    /// to `store` in one transaction, and the case is added to the in-memory index only after
    /// the commit. Queries go on being answered while a Retain writes (they only wait for the
    /// short in-memory append). `cb` is usually [`CaseStore::load`]'s result.
    ///
    /// # Errors
    /// As [`Server::start`].
    pub fn start_with_store(
        cb: CaseBase,
        store: Box<dyn CaseStore>,
        params: impl ParamGuard<Checked = ServerValidParams, Error = CbrError>,
    ) -> Result<ServerHandle> {
        Self::start_inner(Arc::new(cb), Some(Mutex::new(store)), params)
    }

    fn start_inner(
        cb: Arc<CaseBase>,
        store: Option<Mutex<Box<dyn CaseStore>>>,
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
        // Polled, so that shutdown needs no wake-up connection.
        listener.set_nonblocking(true)?;
        let addr = reachable(listener.local_addr()?);
        let (tx, rx) = sync_channel::<Job>(config.queue_capacity);
        let rx = Arc::new(Mutex::new(rx));
        let shared = Arc::new(SharedDebug(Shared {
            config: config.clone(),
            cases: RwLock::new(cb),
            store,
            stop: AtomicBool::new(false),
            cancel: CancelToken::new(),
            jobs: Mutex::new(Some(tx)),
            conns: Mutex::new(Connections::default()),
            active: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
        }));
        let workers = (0..config.workers)
            .map(|w| {
                let rx = Arc::clone(&rx);
                let shared = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("cbr-worker-{w}"))
                    .spawn(move || worker(&rx, &shared.0))
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        let (reject_tx, reject_rx) = sync_channel::<TcpStream>(REAPER_QUEUE);
        let reaper = std::thread::Builder::new()
            .name("cbr-reaper".into())
            .spawn(move || reaper(&reject_rx))?;
        let conn_threads = Arc::new(Mutex::new(Vec::new()));
        let acceptor = {
            let shared = Arc::clone(&shared);
            let threads = Arc::clone(&conn_threads);
            std::thread::Builder::new()
                .name("cbr-acceptor".into())
                .spawn(move || accept_loop(&listener, &shared, &threads, &reject_tx))?
        };
        Ok(ServerHandle {
            addr,
            shared,
            acceptor: Some(acceptor),
            reaper: Some(reaper),
            workers,
            conn_threads,
        })
    }
}

impl ServerHandle {
    /// The address to reach the server at (the actual port when port 0 was asked; the
    /// loopback address of the bound family when bound to `0.0.0.0` or `[::]`).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle that can stop the server from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// The number of open connections.
    pub fn connections(&self) -> usize {
        self.shared.0.active.load(Ordering::SeqCst)
    }

    /// Stops the server gracefully and waits for every thread to finish (about
    /// `shutdown_grace` + 0.5 s at most).
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
        let s = &self.shared.0;
        signal_stop(s);
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
        // Queries in flight get the grace period to be answered…
        let grace_end = Instant::now() + s.config.shutdown_grace;
        while Instant::now() < grace_end
            && lock(&self.conn_threads).iter().any(|t| !t.is_finished())
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        // …then every query is cancelled and every connection closed.
        s.cancel.cancel();
        for c in lock(&s.conns).streams.values() {
            let _ = c.shutdown(Shutdown::Both);
        }
        let threads: Vec<_> = lock(&self.conn_threads).drain(..).collect();
        for t in threads {
            let _ = t.join();
        }
        // Closing the queue lets the workers drain it (cancelled queries end at once) and exit.
        lock(&s.jobs).take();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        if let Some(r) = self.reaper.take() {
            let _ = r.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// A connection slot: counted in `active` and in its peer's count, its stream registered for
/// shutdown. Dropping it (on every exit path of the connection thread, a panic included, or
/// when the thread cannot be spawned) releases all three.
struct Slot {
    shared: Arc<SharedDebug>,
    id: u64,
    peer: IpAddr,
}

impl Slot {
    /// Takes a slot for `stream` from `peer`, or `None` when the server or the peer is full.
    fn take(shared: &Arc<SharedDebug>, peer: IpAddr, stream: &TcpStream) -> Option<Self> {
        let s = &shared.0;
        let clone = stream.try_clone().ok()?;
        let mut conns = lock(&s.conns);
        let of_peer = conns.per_peer.get(&peer).copied().unwrap_or(0);
        if s.active.load(Ordering::SeqCst) >= s.config.max_connections
            || of_peer >= s.config.max_connections_per_peer
        {
            return None;
        }
        let id = s.next_id.fetch_add(1, Ordering::SeqCst);
        conns.per_peer.insert(peer, of_peer + 1);
        conns.streams.insert(id, clone);
        s.active.fetch_add(1, Ordering::SeqCst);
        Some(Self {
            shared: Arc::clone(shared),
            id,
            peer,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let s = &self.shared.0;
        let mut conns = lock(&s.conns);
        conns.streams.remove(&self.id);
        match conns.per_peer.get(&self.peer).copied() {
            Some(n) if n > 1 => {
                conns.per_peer.insert(self.peer, n - 1);
            }
            _ => {
                conns.per_peer.remove(&self.peer);
            }
        }
        s.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Refused connections waiting to be drained by the reaper.
const REAPER_QUEUE: usize = 256;
/// How long a refused connection is drained before it is closed.
const REAPER_LINGER: Duration = Duration::from_millis(300);

fn accept_loop(
    listener: &TcpListener,
    shared: &Arc<SharedDebug>,
    threads: &Mutex<Vec<JoinHandle<()>>>,
    reject: &SyncSender<TcpStream>,
) {
    let s = &shared.0;
    while !s.stop.load(Ordering::SeqCst) {
        let (stream, peer) = match listener.accept() {
            Ok(x) => x,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            Err(_) => {
                // e.g. out of file descriptors: back off instead of spinning.
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
        };
        if stream.set_nonblocking(false).is_err() {
            continue;
        }
        lock(threads).retain(|t| !t.is_finished());
        let Some(slot) = Slot::take(shared, peer.ip(), &stream) else {
            refuse(stream, reject);
            continue;
        };
        let id = slot.id;
        let sh = Arc::clone(shared);
        let spawned = std::thread::Builder::new()
            .name(format!("cbr-conn-{id}"))
            .spawn(move || {
                let _slot = slot;
                connection(&sh.0, stream);
            });
        // A failed spawn drops the closure, and with it the slot.
        if let Ok(t) = spawned {
            lock(threads).push(t);
        }
    }
}

/// Answers `42` and hands the connection to the reaper, which drains what the peer sent so
/// that closing it does not reset the connection (and destroy the answer in flight).
fn refuse(stream: TcpStream, reaper: &SyncSender<TcpStream>) {
    let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
    let e = ErrorAnswer::new(None, ErrorCode::TooManyConnections, "too many connections");
    let _ = (&stream).write_all(Response::Error(e).encode().as_bytes());
    let _ = stream.shutdown(Shutdown::Write);
    // A full reaper (a connection flood) just closes the connection.
    let _ = reaper.try_send(stream);
}

/// Drains refused connections (non-blocking reads) for [`REAPER_LINGER`] each, then closes
/// them. Exits when the acceptor is gone and nothing is left.
fn reaper(rx: &Receiver<TcpStream>) {
    let mut lingering: Vec<(TcpStream, Instant)> = Vec::new();
    let mut sink = [0u8; 4096];
    loop {
        loop {
            match rx.try_recv() {
                Ok(s) => {
                    if s.set_nonblocking(true).is_ok() {
                        lingering.push((s, Instant::now() + REAPER_LINGER));
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    if lingering.is_empty() {
                        return;
                    }
                    break;
                }
            }
        }
        let now = Instant::now();
        lingering.retain_mut(|(s, until)| {
            if now >= *until {
                return false;
            }
            for _ in 0..16 {
                match s.read(&mut sink) {
                    Ok(0) => return false,
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                    Err(_) => return false,
                }
            }
            true
        });
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn worker(rx: &Mutex<Receiver<Job>>, s: &Shared) {
    loop {
        let job = { lock(rx).recv() };
        let Ok(job) = job else { return };
        let q = job.request.query_code.clone();
        let cancel = s.cancel.child_with_deadline(job.deadline);
        let response = catch_unwind(AssertUnwindSafe(|| {
            let cb = read(&s.cases);
            Server::answer(&cb, &job.request, &s.config, &cancel)
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
    /// does (`params` gives the default N and the neighbour cap), stopping when `cancel`
    /// stops: `40` past its deadline, `43` when cancelled.
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
            .default_n_max(params.default_n_max)
            .max_neighbours(params.max_neighbours);
        match cb.recommend_group(&targets, query, cancel) {
            Ok(rec) => Response::Answer(Answer {
                query_code: r.query_code.clone(),
                items: rec.assets.iter().map(AnswerItem::from).collect(),
            }),
            Err(e) => {
                let code = match e {
                    CbrError::MissingAdequacy { .. } => ErrorCode::MissingAdequacy,
                    CbrError::Cancelled(c) if c.deadline => ErrorCode::DeadlineExceeded,
                    CbrError::Cancelled(_) => ErrorCode::ShuttingDown,
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
    /// Clean end of input between messages (EOF, silence or the idle timeout).
    Closed,
    /// A problem that ends the connection after an error answer.
    Fatal(ErrorCode, &'static str),
}

/// Reads one message (up to and including its `.` line) within the size and time limits;
/// between messages, waits at most until `idle_until`.
fn read_frame(
    reader: &mut BufReader<TcpStream>,
    c: &ServerValidParams,
    stop: &AtomicBool,
    idle_until: Instant,
) -> Frame {
    let mut buf: Vec<u8> = Vec::new();
    let mut line_start = 0;
    let mut started: Option<Instant> = None;
    loop {
        let timeout = match started {
            None => {
                let left = idle_until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Frame::Closed;
                }
                left.min(c.read_timeout)
            }
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

/// Writes all of `bytes` before `deadline` (not per write: a peer that reads a byte now and
/// then cannot hold the connection thread).
fn write_all_by(w: &mut TcpStream, mut bytes: &[u8], deadline: Instant) -> std::io::Result<()> {
    while !bytes.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ErrorKind::TimedOut.into());
        }
        w.set_write_timeout(Some(left))?;
        match w.write(bytes) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn connection(s: &Shared, stream: TcpStream) {
    let c = &s.config;
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::with_capacity(8 * 1024, stream);
    // Only a valid request moves the idle deadline.
    let mut idle_until = Instant::now() + c.idle_timeout;
    loop {
        if s.stop.load(Ordering::SeqCst) {
            break;
        }
        let msg = match read_frame(&mut reader, c, &s.stop, idle_until) {
            Frame::Message(m) => m,
            Frame::Closed => break,
            Frame::Fatal(code, text) => {
                let e = ErrorAnswer::new(None, code, text);
                let deadline = Instant::now() + c.write_timeout;
                let _ = write_all_by(
                    &mut writer,
                    Response::Error(e).encode().as_bytes(),
                    deadline,
                );
                // Closing with unread input would reset the connection and could destroy the
                // error answer in flight: half-close, then discard a bounded amount of input.
                let _ = writer.shutdown(Shutdown::Write);
                drain(&mut reader);
                break;
            }
        };
        let arrived = Instant::now();
        let response = match parse_message(&msg, &c.limits) {
            Err(e) => Response::Error(e),
            Ok(Message::Query(req)) => {
                let r = dispatch(s, req, arrived + c.query_deadline);
                idle_until = Instant::now() + c.idle_timeout;
                r
            }
            Ok(Message::Retain(req)) => {
                let r = retain(s, req);
                idle_until = Instant::now() + c.idle_timeout;
                r
            }
        };
        let deadline = Instant::now() + c.write_timeout;
        if write_all_by(&mut writer, response.encode().as_bytes(), deadline).is_err() {
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
        match reader.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
}

/// Retain: validate against the index, write through to the store in one transaction, and
/// only after the commit append to the index. Retains are serialised by the store's mutex
/// (so the validation stays true until the append); queries keep their read guards
/// meanwhile and wait only for the append.
fn retain(s: &Shared, r: RetainRequest) -> Response {
    let q = || Some(r.query_code.clone());
    let fail = |code, e: &dyn std::fmt::Display| {
        Response::Error(ErrorAnswer::new(q(), code, e.to_string()))
    };
    if s.stop.load(Ordering::SeqCst) {
        return fail(ErrorCode::ShuttingDown, &"server shutting down");
    }
    let Some(store) = &s.store else {
        return fail(
            ErrorCode::RetainUnavailable,
            &"this server has no case store (start it with --db)",
        );
    };
    let mut store = lock(store);
    let prepared = match read(&s.cases).prepare_case(&r.record) {
        Ok(p) => p,
        Err(e) => return fail(ErrorCode::InvalidCase, &e),
    };
    let written = {
        let cb = read(&s.cases);
        catch_unwind(AssertUnwindSafe(|| store.retain(&cb, &r.record)))
    };
    match written {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            let code = match &e {
                CbrError::Store {
                    problem: StoreProblem::Busy | StoreProblem::Unavailable(_),
                    ..
                } => ErrorCode::StoreUnavailable,
                CbrError::Store {
                    problem: StoreProblem::DuplicateId,
                    ..
                } => ErrorCode::InvalidCase,
                CbrError::Store { .. } | CbrError::Io(_) => ErrorCode::Internal,
                _ => ErrorCode::InvalidCase,
            };
            return fail(code, &e);
        }
        Err(_) => return fail(ErrorCode::Internal, &"case store failed"),
    }
    let mut cb = write(&s.cases);
    match Arc::make_mut(&mut cb).push_prepared(prepared) {
        Ok(_) => Response::Answer(Answer {
            query_code: r.query_code.clone(),
            items: Vec::new(),
        }),
        Err(e) => fail(ErrorCode::Internal, &e),
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
    // Wait in slices, so that a cancelled server (shutdown) is noticed even if a worker were
    // slow to answer.
    let mut cancelled_at: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Response::Error(ErrorAnswer::new(
                q,
                ErrorCode::DeadlineExceeded,
                "query deadline exceeded",
            ));
        }
        if s.cancel.is_cancelled() {
            let since = *cancelled_at.get_or_insert(now);
            if now.duration_since(since) > Duration::from_millis(200) {
                return Response::Error(ErrorAnswer::new(
                    q,
                    ErrorCode::ShuttingDown,
                    "server shutting down",
                ));
            }
        }
        let slice = (deadline - now).min(Duration::from_millis(50));
        match rx.recv_timeout(slice) {
            Ok(r) => return r,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                return Response::Error(ErrorAnswer::new(q, ErrorCode::Internal, "worker lost"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(max_connections: usize, per_peer: usize) -> Arc<SharedDebug> {
        let config = ServerParams::loopback_ephemeral()
            .max_connections(max_connections)
            .max_connections_per_peer(per_peer)
            .check()
            .unwrap();
        Arc::new(SharedDebug(Shared {
            config,
            cases: RwLock::new(Arc::new(
                crate::generate_case_base(crate::GeneratorParams::new(1, 1, 1)).unwrap(),
            )),
            store: None,
            stop: AtomicBool::new(false),
            cancel: CancelToken::new(),
            jobs: Mutex::new(None),
            conns: Mutex::new(Connections::default()),
            active: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
        }))
    }

    #[test]
    fn slots_are_capped_per_peer_and_released_even_by_a_panicking_thread() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let sh = shared(3, 2);
        let a: IpAddr = Ipv4Addr::new(10, 0, 0, 1).into();
        let b: IpAddr = Ipv4Addr::new(10, 0, 0, 2).into();
        let s1 = Slot::take(&sh, a, &stream).unwrap();
        let s2 = Slot::take(&sh, a, &stream).unwrap();
        assert!(Slot::take(&sh, a, &stream).is_none(), "per-peer cap");
        let s3 = Slot::take(&sh, b, &stream).unwrap();
        assert!(Slot::take(&sh, b, &stream).is_none(), "global cap");
        assert_eq!(sh.0.active.load(Ordering::SeqCst), 3);
        // A connection thread that panics still releases its slot.
        let t = std::thread::spawn(move || {
            let _slot = s1;
            panic!("connection thread fails");
        });
        assert!(t.join().is_err());
        assert_eq!(sh.0.active.load(Ordering::SeqCst), 2);
        assert_eq!(lock(&sh.0.conns).per_peer.get(&a), Some(&1));
        drop((s2, s3));
        assert_eq!(sh.0.active.load(Ordering::SeqCst), 0);
        let conns = lock(&sh.0.conns);
        assert!(conns.per_peer.is_empty() && conns.streams.is_empty());
    }

    #[test]
    fn an_answer_has_one_overall_write_deadline_against_a_trickling_reader() {
        // The peer reads 64 bytes every 20 ms: every single write makes progress, so the old
        // per-write timeout never fired and such a peer held the connection forever.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let finished = Arc::clone(&done);
        let reader = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 64];
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(5) && !finished.load(Ordering::SeqCst) {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        let mut w = TcpStream::connect(addr).unwrap();
        let big = vec![b'x'; 64 << 20];
        let t0 = Instant::now();
        let r = write_all_by(&mut w, &big, Instant::now() + Duration::from_millis(500));
        assert_eq!(r.unwrap_err().kind(), ErrorKind::TimedOut);
        assert!(
            t0.elapsed() < Duration::from_millis(1500),
            "{:?}",
            t0.elapsed()
        );
        done.store(true, Ordering::SeqCst);
        drop(w);
        reader.join().unwrap();
    }

    #[test]
    fn the_reachable_address_keeps_the_bound_family() {
        let v4: SocketAddr = "0.0.0.0:80".parse().unwrap();
        let v6: SocketAddr = "[::]:80".parse().unwrap();
        assert_eq!(reachable(v4), "127.0.0.1:80".parse().unwrap());
        assert_eq!(reachable(v6), "[::1]:80".parse().unwrap());
    }
}
