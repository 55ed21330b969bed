//! The run's single source of truth: one monotonic clock, typed events, and the JSONL log
//! every figure in a report can be recomputed from.

mod clock;
mod event;
mod log;

pub use clock::RunClock;
pub use event::{DockerAction, Event, EventKind, FaultStage, PodChange, SkippedTicks};
pub use log::{EventLog, EventSink, read_events};
