//! Open-model HTTP load generation: requests scheduled at an arrival rate, latency measured from each request's intended start.
//!
//! - [`run_open`]: the open model the harness drives (constant rate or ramp, weighted mix
//!   of templates, in-flight bound, per-request timeout, every outcome to an [`Observer`]).
//! - [`run_closed`]: N connections as fast as the server answers, for benchmarks.
//! - [`LatencyRecorder`]: the HdrHistogram bounds every chaosgate latency uses.

mod closed;
mod connection;
mod error;
mod exchange;
mod flags;
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
mod totals;

pub use closed::{run_closed, run_closed_until};
pub use error::LoadError;
pub use flags::{parse_duration, parse_header};
pub use mix::WeightedMix;
pub use open::run_open;
pub use outcome::{AsWritten, ErrorKind, IgnoreOutcomes, Observer, RequestOutcome, Resolver};
pub use placeholder::{ID_PLACEHOLDER, request_id};
pub use plan::{LoadPlan, MAX_IN_FLIGHT};
pub use rate::{Rate, Schedule};
pub use recorder::{LatencyRecorder, LatencySummary};
pub use run_recorder::RunRecorder;
pub use series::SecondStats;
pub use summary::{LoadMode, LoadSummary};
pub use template::{Method, RequestTemplate};
