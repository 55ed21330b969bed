//! SLO expressions: parsing with column-precise errors, and evaluation into verdicts.

mod evaluate;
mod expr;
mod parse;

pub use evaluate::{Evidence, Measurement, MetricSource, SloResult, Verdict, evaluate, overall};
pub use expr::{Comparison, Metric, NameRef, Quantity, RefKind, Scope, Slo, Unit};
pub use parse::{SloParseError, parse};
