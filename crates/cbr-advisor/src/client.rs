//! A small blocking client of the line protocol.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::error::ProtocolProblem;
use crate::protocol::{Request, Response, parse_response};
use crate::{CbrError, Result};

/// Largest response the client accepts (16 MiB).
const MAX_RESPONSE: usize = 16 << 20;

/// A connection to a recommendation server. Requests on one connection are answered in order.
#[derive(Debug)]
pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    /// Connects with a timeout used for connecting, reading and writing.
    pub fn connect(addr: impl ToSocketAddrs, timeout: Duration) -> Result<Self> {
        let mut last = None;
        for a in addr.to_socket_addrs()? {
            match TcpStream::connect_timeout(&a, timeout) {
                Ok(s) => {
                    s.set_read_timeout(Some(timeout))?;
                    s.set_write_timeout(Some(timeout))?;
                    s.set_nodelay(true)?;
                    return Ok(Self {
                        writer: s.try_clone()?,
                        reader: BufReader::new(s),
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

    /// Sends a request and waits for its answer or error answer.
    pub fn query(&mut self, request: &Request) -> Result<Response> {
        self.send_raw(request.encode().as_bytes())
    }

    /// Sends raw bytes (for tests of malformed input) and reads one response.
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<Response> {
        self.writer.write_all(bytes)?;
        self.read_response()
    }

    /// Closes the sending direction (the server sees end of input).
    pub fn finish_sending(&self) -> Result<()> {
        Ok(self.writer.shutdown(std::net::Shutdown::Write)?)
    }

    /// Reads one response (up to its `.` line).
    pub fn read_response(&mut self) -> Result<Response> {
        let mut msg = String::new();
        loop {
            let before = msg.len();
            let limit = (MAX_RESPONSE - msg.len()) as u64 + 1;
            let n = std::io::Read::take(&mut self.reader, limit).read_line(&mut msg)?;
            if n == 0 {
                return Err(CbrError::Protocol(ProtocolProblem::Closed));
            }
            if msg.len() > MAX_RESPONSE {
                return Err(CbrError::Protocol(ProtocolProblem::ResponseTooLarge));
            }
            let line = msg[before..].trim_end_matches(['\n', '\r']);
            if line == "." {
                return parse_response(&msg)
                    .map_err(|p| CbrError::Protocol(ProtocolProblem::Malformed(p)));
            }
        }
    }
}
