//! Errors that stop a load run before or while it starts (bad plan, no runtime resources).
//! Per-request failures are not errors of the run: they are `ErrorKind`s in the outcomes.

use std::time::Duration;

/// Why a load run could not be started or finished. `chaosgate load` exits with 2
/// (`BAD_INPUT`) for every variant but [`LoadError::Runtime`] and [`LoadError::TaskFailed`],
/// which exit with 3 (`INFRASTRUCTURE`); see [`LoadError::is_bad_input`].
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// `LoadPlan::requests` is empty (bad input, exit 2).
    #[error("the load plan has no request templates")]
    NoTemplates,
    /// Every template's `weight` is 0, so the mix can pick none (bad input, exit 2).
    #[error("every request template has weight 0, so none could ever be sent")]
    AllWeightsZero,
    /// A template's URL does not parse as a URI or lacks a host (bad input, exit 2).
    #[error("request template {index}: URL {url:?} is not valid: {reason}")]
    InvalidUrl {
        /// Zero-based position of the template in `LoadPlan::requests`.
        index: usize,
        /// The URL as written in the template, `{{id}}` not yet replaced.
        url: String,
        /// The parser's message, or which part (host) is missing.
        reason: String,
    },
    /// A template's URL is neither `http://` nor `https://` (bad input, exit 2).
    #[error(
        "request template {index}: URL {url:?} uses scheme {scheme:?}; only http and https are supported"
    )]
    UnsupportedScheme {
        /// Zero-based position of the template in `LoadPlan::requests`.
        index: usize,
        /// The URL as written in the template.
        url: String,
        /// The scheme found, e.g. `https`.
        scheme: String,
    },
    /// A template's header name or value is not valid HTTP (bad input, exit 2).
    #[error("request template {index}: header {name:?} is not valid: {reason}")]
    InvalidHeader {
        /// Zero-based position of the template in `LoadPlan::requests`.
        index: usize,
        /// The header name as written.
        name: String,
        /// Whether the name or the value was refused, and why.
        reason: String,
    },
    /// A rate is negative, not finite, above 10,000,000/s, zero throughout, or (from text)
    /// unparsable (bad input, exit 2).
    #[error("invalid rate {input:?}: {reason}")]
    InvalidRate {
        /// The rate as given: the text, or the number(s) formatted, in requests/s.
        input: String,
        /// Which bound it broke.
        reason: String,
    },
    /// `LoadPlan::duration` is zero (bad input, exit 2).
    #[error("the load duration must be longer than zero")]
    ZeroDuration,
    /// `LoadPlan::timeout` is zero (bad input, exit 2).
    #[error("the per-request timeout must be longer than zero")]
    ZeroTimeout,
    /// `max_in_flight` (open) or the connection count (closed) is 0 or above
    /// [`crate::MAX_IN_FLIGHT`] (bad input, exit 2).
    #[error("max_in_flight (or connections) must be between 1 and {max}, got {got}")]
    InFlightOutOfRange {
        /// The value given.
        got: usize,
        /// The largest accepted, [`crate::MAX_IN_FLIGHT`].
        max: usize,
    },
    /// `max_queued` is 0 or above [`crate::MAX_QUEUED`] (bad input, exit 2).
    #[error(
        "max_queued (requests waiting for an in-flight slot) must be between 1 and {max}, got {got}"
    )]
    QueueOutOfRange {
        /// The value given.
        got: usize,
        /// The largest accepted, [`crate::MAX_QUEUED`].
        max: usize,
    },
    /// `LoadPlan::id_prefix` (held here) has a character that is not URL-safe unreserved
    /// (bad input, exit 2).
    #[error("id prefix {0:?} may only hold ASCII letters, digits and . _ ~ -")]
    InvalidIdPrefix(String),
    /// Rate × duration exceeds 2^53 requests, beyond which f64 offsets stop being distinct
    /// (bad input, exit 2).
    #[error("the schedule of {requests} requests in {duration:?} is too large to run")]
    ScheduleTooLarge {
        /// The number of requests the rate and duration add up to.
        requests: f64,
        /// The planned duration.
        duration: Duration,
    },
    /// The TLS settings cannot be used (held: which file or setting, and why): a file that
    /// cannot be read or holds no PEM certificate or key, a `cert` without its `key`, a key
    /// that does not fit the certificate (bad input, exit 2).
    #[error("TLS: {reason}")]
    Tls {
        /// The `tls:` setting at fault (`ca`, `cert`, `key`, `server_name`), so a scenario's
        /// error points at its line; `None` when none is (the TLS provider itself).
        setting: Option<&'static str>,
        /// Which file or value, and why.
        reason: String,
    },
    /// The Tokio runtime or its threads could not be created (held: the OS error);
    /// infrastructure, exit 3.
    #[error("could not start the load threads: {0}")]
    Runtime(#[source] std::io::Error),
    /// A load task or thread panicked or stopped without handing back its results (held:
    /// what failed, as text); infrastructure, exit 3.
    #[error("a load task failed: {0}")]
    TaskFailed(String),
}

impl LoadError {
    /// The plan or its parameters are wrong (the caller's input); otherwise the machine
    /// could not run it.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, LoadError::Runtime(_) | LoadError::TaskFailed(_))
    }
}
