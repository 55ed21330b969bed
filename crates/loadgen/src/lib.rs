#![warn(missing_docs)]
//! Open-model HTTP load generation: requests scheduled at an arrival rate, latency measured from each request's intended start.
//!
//! - [`run_open`]: the open model the harness drives (constant rate or ramp, weighted mix
//!   of templates, in-flight bound with a queue of waiting requests behind it, per-request
//!   timeout, every outcome to an [`Observer`]). Every scheduled request is in the latency
//!   figures exactly once, timed from its intended start: one that waits for a slot counts
//!   its wait, one past its timeout (waiting or in flight) is a timeout recorded at the
//!   timeout, one dropped because the queue overflowed is recorded at the timeout too.
//! - [`run_closed`]: N connections as fast as the server answers, for benchmarks.
//! - [`LatencyRecorder`]: the HdrHistogram bounds every chaosgate latency uses.

mod admission;
mod closed;
mod connection;
mod error;
mod exchange;
mod flags;
mod method;
mod mix;
mod open;
mod outcome;
mod placeholder;
mod plan;
mod pool;
mod rate;
mod recorder;
mod run_recorder;
mod series;
mod summary;
mod template;
mod tls;
#[cfg(test)]
mod tls_tests;
mod totals;

pub use closed::{run_closed, run_closed_until};
pub use error::LoadError;
pub use flags::{parse_duration, parse_header};
pub use method::{Method, UnknownMethod};
pub use mix::WeightedMix;
pub use open::run_open;
pub use outcome::{AsWritten, ErrorKind, IgnoreOutcomes, Observer, RequestOutcome, Resolver};
pub use placeholder::{ID_PLACEHOLDER, request_id};
pub use plan::{DEFAULT_MAX_QUEUED, LoadPlan, MAX_IN_FLIGHT, MAX_QUEUED};
pub use rate::{Rate, Schedule};
pub use recorder::{LatencyRecorder, LatencySummary};
pub use run_recorder::RunRecorder;
pub use series::SecondStats;
pub use summary::{LoadMode, LoadSummary};
pub use template::RequestTemplate;
pub use tls::{TlsPlan, rustls_error_in, rustls_error_kind};
