//! A small blocking client of the line protocol.

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use fundalloc_core_types::check;

use crate::error::ProtocolProblem;
use crate::protocol::{Request, Response, RetainRequest, parse_response};
use crate::{CbrError, Result};

/// Largest response the client accepts (16 MiB).
const MAX_RESPONSE: usize = 16 << 20;

/// A connection to a recommendation server. Requests on one connection are answered in order.
///
/// Every exchange has an overall deadline (the `timeout` given to [`Client::connect`]): a
/// server that answers late or drips bytes cannot hold the caller longer. After a timeout, an
/// I/O error or a malformed or mismatched response, the connection is closed and every later
/// call fails with [`ProtocolProblem::Unusable`]: a late answer can never be taken for the
/// answer to the next query. Connect again to go on.
#[derive(Debug)]
pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    timeout: Duration,
    broken: bool,
}

fn timed_out(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

impl Client {
    /// Connects with a timeout used for connecting and as the overall deadline of each
    /// exchange (writing a request and reading its response).
    ///
    /// # Errors
    /// [`CbrError::InvalidParameter`] for a zero or endless `timeout`, [`CbrError::Io`] when
    /// no address accepts the connection, [`CbrError::Protocol`] when `addr` resolves to
    /// nothing.
    pub fn connect(addr: impl ToSocketAddrs, timeout: Duration) -> Result<Self> {
        check::duration("timeout", timeout)?;
        let mut last = None;
        for a in addr.to_socket_addrs()? {
            match TcpStream::connect_timeout(&a, timeout) {
                Ok(s) => {
                    s.set_nodelay(true)?;
                    return Ok(Self {
                        writer: s.try_clone()?,
                        reader: BufReader::new(s),
                        timeout,
                        broken: false,
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.map_or_else(
            || CbrError::Protocol(ProtocolProblem::NoAddress),
            CbrError::Io,
        ))
    }

    /// Whether the client was closed by an earlier failure (every call then fails).
    pub fn is_usable(&self) -> bool {
        !self.broken
    }

    /// Sends a request and waits for its answer or error answer, checking that it answers
    /// this request's query code (an error answer without a query code, for a problem of the
    /// connection itself, is returned as is).
    ///
    /// # Errors
    /// [`ProtocolProblem::WrongQueryCode`], [`ProtocolProblem::Timeout`],
    /// [`ProtocolProblem::Unusable`] and the errors of [`Client::read_response`].
    pub fn query(&mut self, request: &Request) -> Result<Response> {
        let response = self.send_raw(request.encode().as_bytes())?;
        self.check_query_code(response, &request.query_code)
    }

    /// Sends a Retain (`02`) and waits for its acknowledgement (an answer without asset
    /// lines) or error answer (`33` rejected case, `34` no case store, `51` store
    /// unavailable: retry), checking the query code as [`Client::query`] does.
    ///
    /// # Errors
    /// As [`Client::query`]; [`CbrError::Io`] when the record cannot be serialised.
    pub fn retain(&mut self, request: &RetainRequest) -> Result<Response> {
        let response = self.send_raw(request.encode()?.as_bytes())?;
        self.check_query_code(response, &request.query_code)
    }

    fn check_query_code(&mut self, response: Response, sent: &str) -> Result<Response> {
        let received = match &response {
            Response::Answer(a) => Some(&a.query_code),
            Response::Error(e) => e.query_code.as_ref(),
        };
        match received {
            Some(q) if *q != sent => {
                let received = Some(q.clone());
                self.close();
                Err(CbrError::Protocol(ProtocolProblem::WrongQueryCode {
                    sent: sent.to_owned(),
                    received,
                }))
            }
            _ => Ok(response),
        }
    }

    /// Sends raw bytes (for tests of malformed input) and reads one response, within the
    /// overall deadline.
    ///
    /// # Errors
    /// As [`Client::read_response`].
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<Response> {
        let deadline = self.deadline()?;
        if let Err(e) = self.write_by(bytes, deadline) {
            self.close();
            return Err(if timed_out(&e) {
                CbrError::Protocol(ProtocolProblem::Timeout)
            } else {
                CbrError::Io(e)
            });
        }
        self.read_by(deadline)
    }

    /// Closes the sending direction (the server sees end of input).
    ///
    /// # Errors
    /// [`CbrError::Io`].
    pub fn finish_sending(&self) -> Result<()> {
        Ok(self.writer.shutdown(Shutdown::Write)?)
    }

    /// Reads one response (up to its `.` line) within the overall deadline.
    ///
    /// # Errors
    /// [`ProtocolProblem::Timeout`] past the deadline, [`ProtocolProblem::Closed`],
    /// [`ProtocolProblem::ResponseTooLarge`], [`ProtocolProblem::Malformed`],
    /// [`ProtocolProblem::Unusable`] after an earlier failure, [`CbrError::Io`]; each closes
    /// the client.
    pub fn read_response(&mut self) -> Result<Response> {
        let deadline = self.deadline()?;
        self.read_by(deadline)
    }

    fn deadline(&self) -> Result<Instant> {
        if self.broken {
            return Err(CbrError::Protocol(ProtocolProblem::Unusable));
        }
        Instant::now()
            .checked_add(self.timeout)
            .ok_or(CbrError::Protocol(ProtocolProblem::Timeout))
    }

    fn close(&mut self) {
        self.broken = true;
        let _ = self.writer.shutdown(Shutdown::Both);
    }

    fn write_by(&mut self, mut bytes: &[u8], deadline: Instant) -> std::io::Result<()> {
        while !bytes.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ErrorKind::TimedOut.into());
            }
            self.writer.set_write_timeout(Some(left))?;
            match self.writer.write(bytes) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn read_by(&mut self, deadline: Instant) -> Result<Response> {
        let r = self.read_until(deadline);
        if r.is_err() {
            self.close();
        }
        r
    }

    fn read_until(&mut self, deadline: Instant) -> Result<Response> {
        let mut msg = String::new();
        let mut line_start = 0;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(CbrError::Protocol(ProtocolProblem::Timeout));
            }
            self.reader.get_ref().set_read_timeout(Some(left))?;
            let limit = (MAX_RESPONSE - msg.len()) as u64 + 1;
            let n = match std::io::Read::take(&mut self.reader, limit).read_line(&mut msg) {
                Ok(n) => n,
                Err(e) if timed_out(&e) => {
                    return Err(CbrError::Protocol(ProtocolProblem::Timeout));
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(CbrError::Io(e)),
            };
            if n == 0 {
                return Err(CbrError::Protocol(ProtocolProblem::Closed));
            }
            if msg.len() > MAX_RESPONSE {
                return Err(CbrError::Protocol(ProtocolProblem::ResponseTooLarge));
            }
            if !msg.ends_with('\n') {
                // A partial line: keep reading (end of input is reported by the next read).
                continue;
            }
            let line = msg[line_start..].trim_end_matches(['\n', '\r']);
            line_start = msg.len();
            if line == "." {
                return parse_response(&msg)
                    .map_err(|p| CbrError::Protocol(ProtocolProblem::Malformed(p)));
            }
        }
    }
}
