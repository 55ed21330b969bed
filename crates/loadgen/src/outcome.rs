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
    /// No complete response within the per-request timeout (connecting included).
    Timeout,
    /// The TCP connect was actively refused: nothing listens on the port.
    ConnectRefused,
    /// The TCP connect failed for another reason (unreachable, name not resolved, ...).
    Connect,
    /// The connection was reset or closed before the response was complete.
    Reset,
    /// Never sent: the in-flight bound was reached at the request's intended time.
    Dropped,
    /// Anything else (malformed response, request could not be built, ...).
    Other,
}

impl ErrorKind {
    /// Every kind, in the order reports list them.
    pub const ALL: [ErrorKind; 6] = [
        ErrorKind::Timeout,
        ErrorKind::ConnectRefused,
        ErrorKind::Connect,
        ErrorKind::Reset,
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
            ErrorKind::Dropped => 4,
            ErrorKind::Other => 5,
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
    /// From `intended` to the complete response or to the error being known; zero for
    /// Dropped requests, which are decided at their intended time.
    pub latency: Duration,
    /// From `intended` to the moment the generator itself began the request (or decided to
    /// drop it): the generator's own lateness, never the system's. Near zero when the
    /// machine keeps up; large when the scheduler thread or the runtime was starved of
    /// CPU, and then `latency` overstates what the system did.
    pub send_lag: Duration,
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
    fn resolve(&self, host: &str, port: u16) -> Option<SocketAddr>;
}

/// Called once per scheduled request (including Dropped ones), from the task that finished
/// it; must be cheap. The harness uses it to split outcomes into phases and write events.
pub trait Observer: Send + Sync + 'static {
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
