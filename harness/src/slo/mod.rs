//! SLO expressions: the language (a metric call, a comparison, a typed target; the phases of
//! a run) and its parser with column-precise errors. Which metrics exist and what their
//! arguments are is `crate::metric`'s (the parser reads a generic call and asks the metric
//! table to type it); judging them is `verdict`'s job.

pub mod call;
mod expr;
mod parse;
pub mod phase;

pub use call::{Arg, Args, Call, SloParseError};
pub use expr::{Comparison, Metric, NameRef, Quantity, RefKind, Relative, Severity, Slo, Unit};
pub use parse::parse;
pub use phase::Phase;
