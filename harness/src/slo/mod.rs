//! SLO expressions: the language (metrics, phases, targets) and its parser with
//! column-precise errors. Judging them is `verdict`'s job.

mod expr;
pub mod metrics;
mod parse;
pub mod phase;

pub use expr::{Comparison, Metric, NameRef, Quantity, RefKind, Relative, Severity, Slo, Unit};
pub use parse::{SloParseError, parse};
pub use phase::Phase;
