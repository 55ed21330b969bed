//! `chaosgate explore`: nightly chaos that searches. Schedules are drawn from a scenario's
//! fault space (`explore:`) under one seed, each run on a fresh stack and judged like any run;
//! a failing one is confirmed and shrunk, one reproducible step at a time, to a minimal
//! schedule written as an ordinary scenario (`minimal.yaml`).

pub mod campaign;
pub mod draw;
pub mod shrink;

pub use campaign::{Finished, Outcome, Runner, Settings, describe, run_campaign};
