//! The chaosgate crate's integration tests, as one test binary: each module is one area (the
//! former `tests/*.rs` files, one binary each, every one of them linking the whole crate and
//! its dependencies again), so a test is named `module::test`, e.g.
//! `run_ab::good_against_good_passes_twice`.
//!
//! Two kinds of module, told apart by name in `.config/nextest.toml` and `scripts/test.sh`:
//! - `run_*` and `action_steps` start the reference stack (real containers, real faults, timed
//!   load; `run_kube` a real Kubernetes cluster): nextest runs them one at a time;
//! - the others (`verdict_fast`, `report_writers`, `scenario_errors`, `scenario_files`,
//!   `fuzz_parsers`) need no Docker and run in parallel, in seconds:
//!   `cargo nextest run -p chaosgate --lib --test integration -E 'not test(/^(run_|action_steps::)/)'`.
//!
//! Paths: tests run in `harness/` (data under `tests/data/`), `common::repo_root()` is the
//! repository; insta keeps snapshots in `snapshots/` beside this file, named
//! `integration__<module>__<test>.snap`.

mod common;

mod action_steps;
mod fuzz_parsers;
mod report_writers;
mod run_ab;
mod run_accuracy;
mod run_addresses;
mod run_errors;
mod run_fail_fast;
mod run_kube;
mod run_lifecycle;
mod run_listening;
mod run_network;
mod run_network_faults;
mod run_rollout;
mod run_scenarios;
mod run_verdicts;
mod run_verdicts_load;
mod run_verdicts_writes;
mod scenario_errors;
mod scenario_files;
mod verdict_fast;
