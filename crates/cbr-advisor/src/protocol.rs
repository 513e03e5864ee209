//! The SMARTFASI line protocol (Section 4 of the paper), encoded and parsed.
//!
//! Every message is a sequence of `\n`-terminated lines (a `\r` before the `\n` is ignored)
//! ending with a line holding a single `.`.
//!
//! **Request** (client → server):
//!
//! ```text
//! 01            command code: Request
//! Q42           query code (1–64 printable ASCII characters, no `;`)
//! C0000017      target customer ids, one per line (1–128 characters, no control chars, no `;`)
//! C0000018
//! NULL          end of the customer list
//! A             A = most frequently used products first, D = least frequently used first
//! 50            N (positive integer or NULL = default)
//! NULL          J (positive integer or NULL = no cut)
//! 10            K (positive integer)
//! .
//! ```
//!
//! **Answer** (server → client): `A1`, the query code, up to K lines `asset;F,AP,ADC,ADP`
//! (numbers in Rust's shortest round-trip form, `NULL` for a statistic that is not computed),
//! `.`.
//!
//! **Retain** (client → server; an addition to the paper's protocol, see
//! `docs/cbr-advisor.md`): `02`, the query code, the solved case as one line of JSON (a
//! [`CustomerRecord`]), `.`. It is acknowledged by an answer `A1`, the query code, `.` (no
//! asset lines) once the case is committed to the case store and indexed.
//!
//! **Error answer**: `E1`, the query code (or `NULL` when it could not be read), one line
//! `code;message`, `.`. The codes are the [`ErrorCode`] values.

use fundalloc_core_types::CustomerId;

use crate::CustomerRecord;
use crate::error::ResponseProblem;
use crate::retrieval::{AssetStats, Order};

/// Command code of a request.
pub(crate) const REQUEST: &str = "01";
/// Command code of a Retain request.
pub(crate) const RETAIN: &str = "02";
/// Command code of an answer.
pub(crate) const ANSWER: &str = "A1";
/// Command code of an error answer.
pub(crate) const ERROR: &str = "E1";
/// The null string (end of the customer list, absent N or J, statistic not computed).
pub(crate) const NULL: &str = "NULL";
/// The end-of-message line.
pub(crate) const END: &str = ".";

/// Error codes of error answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 10: the first line is not `01`.
    BadCommand,
    /// 11: the query code is missing, empty, too long or has forbidden characters.
    BadQueryCode,
    /// 12: the customer list is empty (`NULL` right after the query code).
    NoCustomers,
    /// 13: a customer id is empty, too long or has forbidden characters.
    BadCustomerId,
    /// 14: more customer ids than the server accepts.
    TooManyCustomers,
    /// 15: the order field is missing or not `A`/`D`.
    BadOrder,
    /// 16: N is missing, not a positive integer, or above the server's maximum.
    BadN,
    /// 17: J is missing, not a positive integer, or above the server's maximum.
    BadJ,
    /// 18: K is missing, not a positive integer, or above the server's maximum.
    BadK,
    /// 19: the message structure is wrong (customer list without `NULL`, lines after K).
    BadStructure,
    /// 20: the message is not UTF-8.
    BadEncoding,
    /// 21: the message exceeds the maximum size (the connection is then closed).
    MessageTooLarge,
    /// 22: the connection was closed in the middle of a message.
    Truncated,
    /// 23: the message did not arrive within the read timeout (the connection is closed).
    ReadTimeout,
    /// 30: a customer id is not in the case base.
    UnknownCustomer,
    /// 31: a target has no adequacy level, so the MiFID filter cannot run.
    MissingAdequacy,
    /// 32: the query was rejected by the recommender.
    InvalidQuery,
    /// 33: a retained case is malformed (not one line of JSON) or rejected (duplicate id,
    /// unknown feature, category or product, a share NaN or negative…); nothing was stored.
    InvalidCase,
    /// 34: this server has no case store, so it cannot retain cases.
    RetainUnavailable,
    /// 40: the query ran past its deadline.
    DeadlineExceeded,
    /// 41: the query queue is full; retry later.
    Busy,
    /// 42: too many open connections.
    TooManyConnections,
    /// 43: the server is shutting down.
    ShuttingDown,
    /// 50: an unexpected failure while computing the query.
    Internal,
    /// 51: the case store cannot be written now (database connection lost and being
    /// re-established with backoff, or locked by another writer past the busy timeout);
    /// nothing was stored, retry later.
    StoreUnavailable,
}

impl ErrorCode {
    /// All codes.
    pub const ALL: [ErrorCode; 25] = [
        Self::BadCommand,
        Self::BadQueryCode,
        Self::NoCustomers,
        Self::BadCustomerId,
        Self::TooManyCustomers,
        Self::BadOrder,
        Self::BadN,
        Self::BadJ,
        Self::BadK,
        Self::BadStructure,
        Self::BadEncoding,
        Self::MessageTooLarge,
        Self::Truncated,
        Self::ReadTimeout,
        Self::UnknownCustomer,
        Self::MissingAdequacy,
        Self::InvalidQuery,
        Self::InvalidCase,
        Self::RetainUnavailable,
        Self::DeadlineExceeded,
        Self::Busy,
        Self::TooManyConnections,
        Self::ShuttingDown,
        Self::Internal,
        Self::StoreUnavailable,
    ];

    /// The numeric code on the wire.
    pub fn code(self) -> u16 {
        match self {
            Self::BadCommand => 10,
            Self::BadQueryCode => 11,
            Self::NoCustomers => 12,
            Self::BadCustomerId => 13,
            Self::TooManyCustomers => 14,
            Self::BadOrder => 15,
            Self::BadN => 16,
            Self::BadJ => 17,
            Self::BadK => 18,
            Self::BadStructure => 19,
            Self::BadEncoding => 20,
            Self::MessageTooLarge => 21,
            Self::Truncated => 22,
            Self::ReadTimeout => 23,
            Self::UnknownCustomer => 30,
            Self::MissingAdequacy => 31,
            Self::InvalidQuery => 32,
            Self::InvalidCase => 33,
            Self::RetainUnavailable => 34,
            Self::DeadlineExceeded => 40,
            Self::Busy => 41,
            Self::TooManyConnections => 42,
            Self::ShuttingDown => 43,
            Self::Internal => 50,
            Self::StoreUnavailable => 51,
        }
    }

    /// The code with this number.
    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }
}

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The query code echoed in the answer.
    pub query_code: String,
    /// The target customers (one = single query, several = group query).
    pub customers: Vec<CustomerId>,
    /// `A` or `D`.
    pub order: Order,
    /// N, or `None` for the default.
    pub n: Option<usize>,
    /// J, or `None` for no cut.
    pub j: Option<usize>,
    /// K.
    pub k: usize,
}

impl Request {
    /// A request for one customer with default N and no J cut.
    pub fn new(query_code: impl Into<String>, customer: impl Into<CustomerId>, k: usize) -> Self {
        Self {
            query_code: query_code.into(),
            customers: vec![customer.into()],
            order: Order::MostFrequentFirst,
            n: None,
            j: None,
            k,
        }
    }

    /// The wire form.
    pub fn encode(&self) -> String {
        let mut s = format!("{REQUEST}\n{}\n", self.query_code);
        for c in &self.customers {
            s.push_str(c.as_str());
            s.push('\n');
        }
        let opt = |x: Option<usize>| x.map_or_else(|| NULL.to_owned(), |v| v.to_string());
        let order = match self.order {
            Order::MostFrequentFirst => "A",
            Order::LeastFrequentFirst => "D",
        };
        s.push_str(&format!(
            "{NULL}\n{order}\n{}\n{}\n{}\n{END}\n",
            opt(self.n),
            opt(self.j),
            self.k
        ));
        s
    }
}

/// A Retain request: store a solved case (the 4th R of the CBR cycle) in the case base and
/// its case store.
#[derive(Debug, Clone, PartialEq)]
pub struct RetainRequest {
    /// The query code echoed in the answer.
    pub query_code: String,
    /// The case to retain.
    pub record: CustomerRecord,
}

impl RetainRequest {
    /// A Retain request.
    pub fn new(query_code: impl Into<String>, record: CustomerRecord) -> Self {
        Self {
            query_code: query_code.into(),
            record,
        }
    }

    /// The wire form: `02`, the query code, the record as one line of JSON, `.`.
    ///
    /// # Errors
    /// [`CbrError::Io`](crate::CbrError::Io) when the record cannot be serialised.
    pub fn encode(&self) -> crate::Result<String> {
        let json = serde_json::to_string(&self.record)
            .map_err(|e| crate::CbrError::Io(std::io::Error::other(e)))?;
        Ok(format!("{RETAIN}\n{}\n{json}\n{END}\n", self.query_code))
    }
}

/// A parsed message: a query or a Retain.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Message {
    /// A recommendation query (`01`).
    Query(Request),
    /// A Retain (`02`).
    Retain(RetainRequest),
}

/// Parses a complete message of either kind (ending with the `.` line). Never panics: any
/// input gives a message or an [`ErrorAnswer`] with the first problem found (a Retain whose
/// JSON does not parse gets `33`).
pub fn parse_message(msg: &[u8], limits: &Limits) -> Result<Message, ErrorAnswer> {
    if !(msg.starts_with(RETAIN.as_bytes()) && matches!(msg.get(RETAIN.len()), Some(b'\n' | b'\r')))
    {
        return parse_request(msg, limits).map(Message::Query);
    }
    let Ok(text) = std::str::from_utf8(msg) else {
        return Err(ErrorAnswer::new(
            None,
            ErrorCode::BadEncoding,
            "message is not UTF-8",
        ));
    };
    let ls = lines(text);
    let Some(q) = ls.get(1).copied().filter(|q| valid_query_code(q)) else {
        return Err(ErrorAnswer::new(
            None,
            ErrorCode::BadQueryCode,
            "query code must be 1-64 printable ASCII characters without ';'",
        ));
    };
    let qc = || Some(q.to_owned());
    if ls.len() != 4 || ls[3] != END {
        return Err(ErrorAnswer::new(
            qc(),
            ErrorCode::BadStructure,
            "a Retain is 02, the query code, one line of JSON and '.'",
        ));
    }
    match serde_json::from_str::<CustomerRecord>(ls[2]) {
        Ok(record) => Ok(Message::Retain(RetainRequest {
            query_code: q.to_owned(),
            record,
        })),
        Err(e) => Err(ErrorAnswer::new(
            qc(),
            ErrorCode::InvalidCase,
            format!("case record: {e}"),
        )),
    }
}

/// One line of an answer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AnswerItem {
    /// The product code.
    pub asset: String,
    /// F.
    pub frequency: f64,
    /// AP (a fraction in `[0, 1]`).
    pub average_share: f64,
    /// ADC (`NULL` on the wire when not computed).
    pub adc: Option<f64>,
    /// ADP (`NULL` on the wire when not computed).
    pub adp: Option<f64>,
}

impl From<&AssetStats> for AnswerItem {
    fn from(a: &AssetStats) -> Self {
        Self {
            asset: a.product.to_string(),
            frequency: a.frequency,
            average_share: a.average_share,
            adc: a.adc,
            adp: a.adp,
        }
    }
}

/// A successful answer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Answer {
    /// The request's query code.
    pub query_code: String,
    /// The recommended products, in order.
    pub items: Vec<AnswerItem>,
}

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorAnswer {
    /// The request's query code, when it could be read.
    pub query_code: Option<String>,
    /// The error code.
    pub code: ErrorCode,
    /// A human-readable message (one line).
    pub message: String,
}

impl ErrorAnswer {
    /// An error answer.
    pub fn new(query_code: Option<String>, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            query_code,
            code,
            message: message.into(),
        }
    }
}

/// What a server sends back.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// `A1`.
    Answer(Answer),
    /// `E1`.
    Error(ErrorAnswer),
}

fn fmt_f64(x: f64) -> String {
    x.to_string()
}

fn fmt_opt(x: Option<f64>) -> String {
    x.map_or_else(|| NULL.to_owned(), fmt_f64)
}

/// Replaces anything that would break the line structure.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

impl Response {
    /// The wire form.
    pub fn encode(&self) -> String {
        match self {
            Response::Answer(a) => {
                let mut s = format!("{ANSWER}\n{}\n", one_line(&a.query_code));
                for it in &a.items {
                    s.push_str(&format!(
                        "{};{},{},{},{}\n",
                        one_line(&it.asset),
                        fmt_f64(it.frequency),
                        fmt_f64(it.average_share),
                        fmt_opt(it.adc),
                        fmt_opt(it.adp)
                    ));
                }
                s.push_str(END);
                s.push('\n');
                s
            }
            Response::Error(e) => format!(
                "{ERROR}\n{}\n{};{}\n{END}\n",
                e.query_code.as_deref().map_or(NULL.to_owned(), one_line),
                e.code.code(),
                one_line(&e.message)
            ),
        }
    }
}

/// Limits a server puts on the fields of a request (each at least 1, checked with the
/// server's parameters). Change a field of [`Limits::default`]:
///
/// ```
/// use fundalloc_cbr_advisor::Limits;
///
/// let mut limits = Limits::default();
/// limits.max_k = 50;
/// assert_eq!((limits.max_k, limits.max_customers), (50, 100));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Maximum number of target customers in one request (default 100).
    pub max_customers: usize,
    /// Maximum N (default 100,000).
    pub max_n: usize,
    /// Maximum J (default 1,000,000).
    pub max_j: usize,
    /// Maximum K (default 1,000).
    pub max_k: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_customers: 100,
            max_n: 100_000,
            max_j: 1_000_000,
            max_k: 1_000,
        }
    }
}

fn valid_query_code(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_graphic() && b != b';')
        && s != NULL
        && s != END
}

fn valid_customer_id(s: &str) -> bool {
    (1..=128).contains(&s.len()) && !s.chars().any(|c| c.is_control() || c == ';') && s != END
}

fn parse_count(s: &str, max: usize) -> Option<usize> {
    if s.is_empty() || s.len() > 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<usize>().ok().filter(|&v| v >= 1 && v <= max)
}

/// Splits a message into lines without their `\n` / `\r\n` terminators.
fn lines(msg: &str) -> Vec<&str> {
    let body = msg.strip_suffix('\n').unwrap_or(msg);
    body.split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect()
}

/// Parses a complete request message (ending with the `.` line). Never panics: any input gives
/// a request or an [`ErrorAnswer`] with the first problem found.
pub fn parse_request(msg: &[u8], limits: &Limits) -> Result<Request, ErrorAnswer> {
    let Ok(text) = std::str::from_utf8(msg) else {
        return Err(ErrorAnswer::new(
            None,
            ErrorCode::BadEncoding,
            "message is not UTF-8",
        ));
    };
    let ls = lines(text);
    let mut it = ls.iter().copied().peekable();
    let err =
        |q: Option<&str>, code, m: String| Err(ErrorAnswer::new(q.map(str::to_owned), code, m));
    match it.next() {
        Some(REQUEST) => {}
        _ => return err(None, ErrorCode::BadCommand, "first line must be 01".into()),
    }
    let q = match it.next() {
        Some(q) if valid_query_code(q) => q,
        _ => {
            return err(
                None,
                ErrorCode::BadQueryCode,
                "query code must be 1-64 printable ASCII characters without ';'".into(),
            );
        }
    };
    let qc = Some(q);
    let mut customers = Vec::new();
    loop {
        match it.next() {
            None | Some(END) => {
                return err(
                    qc,
                    ErrorCode::BadStructure,
                    "customer list must end with NULL".into(),
                );
            }
            Some(NULL) => break,
            Some(id) => {
                if !valid_customer_id(id) {
                    return err(
                        qc,
                        ErrorCode::BadCustomerId,
                        "customer id must be 1-128 characters without control characters or ';'"
                            .into(),
                    );
                }
                if customers.len() == limits.max_customers {
                    return err(
                        qc,
                        ErrorCode::TooManyCustomers,
                        format!("at most {} customers per request", limits.max_customers),
                    );
                }
                customers.push(CustomerId::new(id));
            }
        }
    }
    if customers.is_empty() {
        return err(qc, ErrorCode::NoCustomers, "no target customer id".into());
    }
    let order = match it.next() {
        Some("A") => Order::MostFrequentFirst,
        Some("D") => Order::LeastFrequentFirst,
        _ => return err(qc, ErrorCode::BadOrder, "order must be A or D".into()),
    };
    let mut nullable = |code, name: &str, max: usize| match it.next() {
        Some(NULL) => Ok(None),
        Some(s) => parse_count(s, max).map(Some).ok_or_else(|| {
            ErrorAnswer::new(
                qc.map(str::to_owned),
                code,
                format!("{name} must be NULL or an integer in 1..={max}"),
            )
        }),
        None => Err(ErrorAnswer::new(
            qc.map(str::to_owned),
            code,
            format!("{name} is missing"),
        )),
    };
    let n = nullable(ErrorCode::BadN, "N", limits.max_n)?;
    let j = nullable(ErrorCode::BadJ, "J", limits.max_j)?;
    let k = match it.next().and_then(|s| parse_count(s, limits.max_k)) {
        Some(k) => k,
        None => {
            return err(
                qc,
                ErrorCode::BadK,
                format!("K must be an integer in 1..={}", limits.max_k),
            );
        }
    };
    if it.next() != Some(END) || it.next().is_some() {
        return err(
            qc,
            ErrorCode::BadStructure,
            "K must be followed by the final '.'".into(),
        );
    }
    Ok(Request {
        query_code: q.to_owned(),
        customers,
        order,
        n,
        j,
        k,
    })
}

fn parse_num(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|x| x.is_finite())
}

fn parse_opt(s: &str) -> Option<Option<f64>> {
    if s == NULL {
        Some(None)
    } else {
        parse_num(s).map(Some)
    }
}

/// Parses a complete answer or error answer (client side). Never panics.
///
/// # Errors
/// The first [`ResponseProblem`] found.
pub fn parse_response(msg: &str) -> Result<Response, ResponseProblem> {
    let ls = lines(msg);
    if ls.len() < 3 || ls[ls.len() - 1] != END {
        return Err(ResponseProblem::TooShort);
    }
    let body = &ls[2..ls.len() - 1];
    match ls[0] {
        ANSWER => {
            let mut items = Vec::with_capacity(body.len());
            for l in body {
                let bad = || ResponseProblem::BadAnswerLine((*l).to_owned());
                let (asset, stats) = l.rsplit_once(';').ok_or_else(bad)?;
                let f: Vec<&str> = stats.split(',').collect();
                let [fr, ap, adc, adp] = f[..] else {
                    return Err(bad());
                };
                items.push(AnswerItem {
                    asset: asset.to_owned(),
                    frequency: parse_num(fr).ok_or_else(bad)?,
                    average_share: parse_num(ap).ok_or_else(bad)?,
                    adc: parse_opt(adc).ok_or_else(bad)?,
                    adp: parse_opt(adp).ok_or_else(bad)?,
                });
            }
            Ok(Response::Answer(Answer {
                query_code: ls[1].to_owned(),
                items,
            }))
        }
        ERROR => {
            let [line] = body else {
                return Err(ResponseProblem::BadErrorLine);
            };
            let (code, message) = line.split_once(';').ok_or(ResponseProblem::BadErrorLine)?;
            let code = code
                .parse::<u16>()
                .ok()
                .and_then(ErrorCode::from_code)
                .ok_or_else(|| ResponseProblem::UnknownErrorCode(code.to_owned()))?;
            Ok(Response::Error(ErrorAnswer {
                query_code: (ls[1] != NULL).then(|| ls[1].to_owned()),
                code,
                message: message.to_owned(),
            }))
        }
        other => Err(ResponseProblem::UnknownCommand(other.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn req() -> Request {
        Request {
            query_code: "Q1".into(),
            customers: vec!["C1".into(), "C 2".into()],
            order: Order::LeastFrequentFirst,
            n: Some(50),
            j: None,
            k: 10,
        }
    }

    #[test]
    fn request_round_trip_and_exact_wire_form() {
        let r = req();
        assert_eq!(r.encode(), "01\nQ1\nC1\nC 2\nNULL\nD\n50\nNULL\n10\n.\n");
        assert_eq!(
            parse_request(r.encode().as_bytes(), &Limits::default()),
            Ok(r.clone())
        );
        let crlf = r.encode().replace('\n', "\r\n");
        assert_eq!(parse_request(crlf.as_bytes(), &Limits::default()), Ok(r));
    }

    #[test]
    fn each_malformation_has_its_code() {
        let l = Limits::default();
        let code = |m: &str| parse_request(m.as_bytes(), &l).unwrap_err().code;
        assert_eq!(
            code("02\nQ\nC\nNULL\nA\nNULL\nNULL\n3\n.\n"),
            ErrorCode::BadCommand
        );
        assert_eq!(
            code("01\nQ;1\nC\nNULL\nA\nNULL\nNULL\n3\n.\n"),
            ErrorCode::BadQueryCode
        );
        assert_eq!(code("01\n.\n"), ErrorCode::BadQueryCode);
        assert_eq!(
            code("01\nQ\nNULL\nA\nNULL\nNULL\n3\n.\n"),
            ErrorCode::NoCustomers
        );
        assert_eq!(
            code("01\nQ\nC\u{7}\nNULL\nA\nNULL\nNULL\n3\n.\n"),
            ErrorCode::BadCustomerId
        );
        assert_eq!(code("01\nQ\nC\nC2\n.\n"), ErrorCode::BadStructure);
        assert_eq!(
            code("01\nQ\nC\nNULL\nX\nNULL\nNULL\n3\n.\n"),
            ErrorCode::BadOrder
        );
        assert_eq!(code("01\nQ\nC\nNULL\nA\n0\nNULL\n3\n.\n"), ErrorCode::BadN);
        assert_eq!(code("01\nQ\nC\nNULL\nA\n-1\nNULL\n3\n.\n"), ErrorCode::BadN);
        assert_eq!(
            code("01\nQ\nC\nNULL\nA\nNULL\n1e3\n3\n.\n"),
            ErrorCode::BadJ
        );
        assert_eq!(
            code("01\nQ\nC\nNULL\nA\nNULL\nNULL\nNULL\n.\n"),
            ErrorCode::BadK
        );
        assert_eq!(
            code("01\nQ\nC\nNULL\nA\nNULL\nNULL\n1001\n.\n"),
            ErrorCode::BadK
        );
        assert_eq!(
            code("01\nQ\nC\nNULL\nA\nNULL\nNULL\n3\n4\n.\n"),
            ErrorCode::BadStructure
        );
        assert_eq!(code("01\nQ\nC\nNULL\nA\n.\n"), ErrorCode::BadN);
        let many = format!("01\nQ\n{}NULL\nA\nNULL\nNULL\n3\n.\n", "C\n".repeat(101));
        assert_eq!(code(&many), ErrorCode::TooManyCustomers);
        assert_eq!(
            parse_request(b"01\nQ\n\xff\n", &l).unwrap_err().code,
            ErrorCode::BadEncoding
        );
        // The query code is echoed once it has been read.
        let e = parse_request(b"01\nQ7\nC\nNULL\nZ\n", &l).unwrap_err();
        assert_eq!(e.query_code.as_deref(), Some("Q7"));
    }

    #[test]
    fn responses_round_trip_exactly() {
        let a = Response::Answer(Answer {
            query_code: "Q1".into(),
            items: vec![AnswerItem {
                asset: "P0001".into(),
                frequency: 0.4,
                average_share: 1.0 / 3.0,
                adc: Some(0.2928932188134524),
                adp: None,
            }],
        });
        let wire = a.encode();
        assert_eq!(
            wire,
            "A1\nQ1\nP0001;0.4,0.3333333333333333,0.2928932188134524,NULL\n.\n"
        );
        assert_eq!(parse_response(&wire), Ok(a));
        let e = Response::Error(ErrorAnswer::new(None, ErrorCode::Busy, "queue\nfull"));
        assert_eq!(e.encode(), "E1\nNULL\n41;queue full\n.\n");
        assert_eq!(
            parse_response(&e.encode()).unwrap(),
            Response::Error(ErrorAnswer::new(None, ErrorCode::Busy, "queue full"))
        );
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(c.code()), Some(c));
        }
        assert!(parse_response("A1\nQ\nx;1,2\n.\n").is_err());
        assert!(parse_response("Z1\nQ\n.\n").is_err());
    }

    #[test]
    fn retains_round_trip_and_malformed_ones_have_their_codes() {
        let rec = CustomerRecord::new("C9\nx")
            .num("age", 0.1 + 0.2)
            .cat("sex", "F")
            .portfolio("p;1", &[("P0001", 1e-300), ("P0002", 0.5)]);
        let r = RetainRequest::new("R7", rec);
        let wire = r.encode().unwrap();
        assert_eq!(wire.lines().count(), 4, "the record is one line: {wire}");
        let l = Limits::default();
        assert_eq!(
            parse_message(wire.as_bytes(), &l),
            Ok(Message::Retain(r.clone()))
        );
        assert_eq!(
            parse_message(wire.replace('\n', "\r\n").as_bytes(), &l),
            Ok(Message::Retain(r))
        );
        let code = |m: &str| parse_message(m.as_bytes(), &l).unwrap_err().code;
        assert_eq!(code("02\nR\n{\"id\":1}\n.\n"), ErrorCode::InvalidCase);
        assert_eq!(code("02\nR\n.\n"), ErrorCode::BadStructure);
        assert_eq!(code("02\n\n{}\n.\n"), ErrorCode::BadQueryCode);
        assert_eq!(code("02\nR\n{}\n"), ErrorCode::BadStructure);
        // Queries still parse through parse_message; parse_request refuses a Retain.
        assert!(matches!(
            parse_message(req().encode().as_bytes(), &l),
            Ok(Message::Query(_))
        ));
        assert_eq!(
            parse_request(b"02\nR\n{}\n.\n", &l).unwrap_err().code,
            ErrorCode::BadCommand
        );
    }

    proptest! {
        #[test]
        fn parser_never_panics_and_errors_are_well_formed(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            match parse_request(&bytes, &Limits::default()) {
                Ok(r) => prop_assert_eq!(parse_request(r.encode().as_bytes(), &Limits::default()), Ok(r)),
                Err(e) => {
                    let parsed = parse_response(&Response::Error(e.clone()).encode());
                    prop_assert!(matches!(parsed, Ok(Response::Error(x)) if x.code == e.code));
                }
            }
        }

        #[test]
        fn message_parser_never_panics_on_retains(tail in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut bytes = b"02\n".to_vec();
            bytes.extend(tail);
            match parse_message(&bytes, &Limits::default()) {
                Ok(Message::Retain(r)) => prop_assert_eq!(
                    parse_message(r.encode().unwrap().as_bytes(), &Limits::default()),
                    Ok(Message::Retain(r))
                ),
                Ok(Message::Query(_)) => prop_assert!(false, "a 02 message parsed as a query"),
                Err(e) => {
                    let parsed = parse_response(&Response::Error(e.clone()).encode());
                    prop_assert!(matches!(parsed, Ok(Response::Error(x)) if x.code == e.code));
                }
            }
        }

        #[test]
        fn mutated_valid_requests_never_panic(
            cut in 0usize..40, pos in 0usize..40, byte in any::<u8>(),
        ) {
            let mut m = req().encode().into_bytes();
            if pos < m.len() { m[pos] = byte; }
            m.truncate(m.len().saturating_sub(cut));
            let r = parse_request(&m, &Limits::default());
            if let Err(e) = r {
                prop_assert!(parse_response(&Response::Error(e).encode()).is_ok());
            }
        }
    }
}
