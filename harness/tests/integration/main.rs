//! The chaosgate crate's Docker-free integration tests, as one test binary: each module is one
//! area, so a test is named `module::test`, e.g. `verdict_fast::...` or
//! `action_steps::inputs_become_the_command_line`. Nothing here starts a container or a network
//! namespace, or asserts timings under load (a load here is a second long against a server on
//! 127.0.0.1, judged by counts): the whole binary needs no Docker and runs in parallel, in
//! seconds, in the fast tier (`cargo nextest run --workspace --profile fast`,
//! `.config/nextest.toml`).
//!
//! The tests that start the reference stack (real containers, real faults, timed load; a real
//! Kubernetes cluster) are the other binary, `tests/docker/`, built with the `docker-tests`
//! feature. An area with tests in both tiers has a module of the same name in each (e.g.
//! `action_steps`, `run_errors`), so a test keeps its name whichever binary it is in.
//!
//! Paths: tests run in `harness/` (data under `tests/data/`), `common::repo_root()` is the
//! repository; `common/` (shared with `tests/docker/`) holds the helpers that need no Docker.
//! Insta keeps snapshots in `snapshots/` beside this file, named
//! `integration__<module>__<test>.snap`.

#[path = "../common/mod.rs"]
mod common;

mod action_steps;
mod fuzz_parsers;
mod report_writers;
mod run_errors;
mod run_rollout;
mod run_verdicts_load;
mod scenario_errors;
mod scenario_files;
mod verdict_fast;
