//! SLO expressions: the language (metrics, scopes, targets) and its parser with
//! column-precise errors. Judging them is `verdict`'s job.

mod expr;
pub mod metrics;
mod parse;

pub use expr::{
    Comparison, Metric, NameRef, Quantity, RefKind, Relative, Scope, Severity, Slo, Unit,
};
pub use parse::{SloParseError, parse};
