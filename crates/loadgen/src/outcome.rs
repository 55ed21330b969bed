//! What one scheduled request came to, and the two hooks through which the harness steers
//! the load (`Resolver`) and sees every outcome (`Observer`).

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Why a request got no HTTP response.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No complete response within the per-request timeout, counted from when the generator
    /// got to the request: waiting for an in-flight slot and connecting use it up. Recorded
    /// at the timeout (latency = timeout, plus the generator's own lateness), sent or not.
    Timeout,
    /// The TCP connect was actively refused: nothing listens on the port.
    ConnectRefused,
    /// The TCP connect failed for another reason (unreachable, name not resolved, ...).
    Connect,
    /// The connection was reset or closed before the response was complete.
    Reset,
    /// The TLS handshake of an `https://` connection failed for a reason other than a
    /// certificate: no common protocol or cipher, a plain-HTTP server, a close during it.
    TlsHandshake,
    /// A certificate was refused: the server's (unknown issuer, wrong name, expired) or,
    /// with mutual TLS, ours by the server (its alert).
    Certificate,
    /// Never sent: the in-flight bound was reached and the queue of requests waiting for a
    /// slot was full (`LoadPlan::max_queued`). Recorded with the timeout as its latency, so
    /// a drop never lowers a percentile.
    Dropped,
    /// Anything else (malformed response, request could not be built, ...).
    Other,
}

impl ErrorKind {
    /// Every kind, in the order reports list them.
    pub const ALL: [ErrorKind; 8] = [
        ErrorKind::Timeout,
        ErrorKind::ConnectRefused,
        ErrorKind::Connect,
        ErrorKind::Reset,
        ErrorKind::TlsHandshake,
        ErrorKind::Certificate,
        ErrorKind::Dropped,
        ErrorKind::Other,
    ];

    /// The stable machine name (the same as its serde form).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::ConnectRefused => "connect_refused",
            ErrorKind::Connect => "connect",
            ErrorKind::Reset => "reset",
            ErrorKind::TlsHandshake => "tls_handshake",
            ErrorKind::Certificate => "certificate",
            ErrorKind::Dropped => "dropped",
            ErrorKind::Other => "other",
        }
    }

    /// Position in [`ErrorKind::ALL`], used to index per-kind counters.
    pub(crate) fn index(self) -> usize {
        match self {
            ErrorKind::Timeout => 0,
            ErrorKind::ConnectRefused => 1,
            ErrorKind::Connect => 2,
            ErrorKind::Reset => 3,
            ErrorKind::TlsHandshake => 4,
            ErrorKind::Certificate => 5,
            ErrorKind::Dropped => 6,
            ErrorKind::Other => 7,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fate of one scheduled request, reported exactly once per scheduled request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestOutcome {
    /// Position in the schedule (0-based, gap-free over a run, Dropped ones included).
    pub seq: u64,
    /// Index of the template in `LoadPlan::requests`.
    pub template: usize,
    /// The id substituted for `{{id}}`, when the template has one.
    pub id: Option<String>,
    /// When the schedule meant the request to start.
    pub intended: Instant,
    /// From `intended` to the complete response or to the error being known, for every
    /// outcome: a wait for an in-flight slot is included, and a timeout or a Dropped request
    /// is recorded at the timeout (`send_lag` + the timeout).
    pub latency: Duration,
    /// The generator's own lateness, never the system's: from `intended` to the moment the
    /// scheduler got to the request, plus, once it had a slot, the runtime's delay in
    /// starting it. Waiting for a slot is not in it (see `queued`). Near zero when the
    /// machine keeps up; large when the scheduler thread or the runtime was starved of
    /// CPU, and then `latency` overstates what the system did.
    pub send_lag: Duration,
    /// How long it waited for an in-flight slot, all of them held by earlier requests the
    /// system had not answered yet: the system's slowness, part of `latency`. Zero when a
    /// slot was free; the timeout when it waited until its timeout without one.
    pub queued: Duration,
    /// Whether it was handed to a connection (false for Dropped requests and for those
    /// whose timeout passed while they waited for a slot).
    pub sent: bool,
    /// The HTTP status, or why there was none.
    pub result: Result<u16, ErrorKind>,
}

impl RequestOutcome {
    /// A 2xx response. Anything else counts against the error rate.
    pub fn is_success(&self) -> bool {
        is_success(&self.result)
    }
}

pub(crate) fn is_success(result: &Result<u16, ErrorKind>) -> bool {
    matches!(result, Ok(status) if (200..300).contains(status))
}

/// Maps the URL's host:port to the address to connect to, per new connection. The harness
/// uses it because a container's published port changes when it restarts; `None` means
/// connect to the URL's host:port as written.
pub trait Resolver: Send + Sync + 'static {
    /// The address to connect to for the URL's `host` and `port`, or `None` to connect to
    /// them as written. Called once per new connection, not per request.
    fn resolve(&self, host: &str, port: u16) -> Option<SocketAddr>;
}

/// Called once per scheduled request (including Dropped ones and those that timed out
/// waiting for a slot), from the thread or task that decided it; must be cheap. The harness uses it to split outcomes into phases and write events.
pub trait Observer: Send + Sync + 'static {
    /// Receives one scheduled request's outcome (latency, status or [`ErrorKind`]).
    fn on_outcome(&self, outcome: &RequestOutcome);
}

/// Connects to every URL's host:port as written.
#[derive(Debug, Clone, Copy, Default)]
pub struct AsWritten;

impl Resolver for AsWritten {
    fn resolve(&self, _host: &str, _port: u16) -> Option<SocketAddr> {
        None
    }
}

/// Ignores outcomes, for callers that only want the summary.
#[derive(Debug, Clone, Copy, Default)]
pub struct IgnoreOutcomes;

impl Observer for IgnoreOutcomes {
    fn on_outcome(&self, _outcome: &RequestOutcome) {}
}
