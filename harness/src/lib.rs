//! chaosgate: bring a stack up, drive traffic, inject faults, measure what clients saw,
//! judge it against SLOs and write reports a CI gate can trust.
//!
//! The binary is a thin shell over this library (see `cli`); everything else is usable and
//! testable without a process. Data flows one way:
//! scenario → plan → stack → (load ‖ probes ‖ faults ‖ docker events) → timeline → measure →
//! verdict → report.
#![warn(missing_docs)]

pub mod agent;
pub mod artifacts;
pub mod cli;
pub mod exit_codes;
pub mod explore;
pub mod fault;
pub mod gate;
pub mod measure;
pub mod metric;
pub mod plan;
pub mod probe;
pub mod prometheus;
pub mod provenance;
pub mod report;
pub mod run;
pub mod scenario;
pub mod seed;
pub mod slo;
pub mod stack;
pub mod timeline;
pub mod units;
pub mod verdict;
