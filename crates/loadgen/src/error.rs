//! Errors that stop a load run before or while it starts (bad plan, no runtime resources).
//! Per-request failures are not errors of the run: they are `ErrorKind`s in the outcomes.

use std::time::Duration;

/// Why a load run could not be started or finished.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("the load plan has no request templates")]
    NoTemplates,
    #[error("every request template has weight 0, so none could ever be sent")]
    AllWeightsZero,
    #[error("request template {index}: URL {url:?} is not valid: {reason}")]
    InvalidUrl {
        index: usize,
        url: String,
        reason: String,
    },
    #[error("request template {index}: URL {url:?} uses scheme {scheme:?}; only http is supported")]
    UnsupportedScheme {
        index: usize,
        url: String,
        scheme: String,
    },
    #[error("request template {index}: header {name:?} is not valid: {reason}")]
    InvalidHeader {
        index: usize,
        name: String,
        reason: String,
    },
    #[error("invalid rate {input:?}: {reason}")]
    InvalidRate { input: String, reason: String },
    #[error("the load duration must be longer than zero")]
    ZeroDuration,
    #[error("the per-request timeout must be longer than zero")]
    ZeroTimeout,
    #[error("max_in_flight (or connections) must be between 1 and {max}, got {got}")]
    InFlightOutOfRange { got: usize, max: usize },
    #[error(
        "max_queued (requests waiting for an in-flight slot) must be between 1 and {max}, got {got}"
    )]
    QueueOutOfRange { got: usize, max: usize },
    #[error("id prefix {0:?} may only hold ASCII letters, digits and . _ ~ -")]
    InvalidIdPrefix(String),
    #[error("the schedule of {requests} requests in {duration:?} is too large to run")]
    ScheduleTooLarge { requests: f64, duration: Duration },
    #[error("could not start the load threads: {0}")]
    Runtime(#[source] std::io::Error),
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
