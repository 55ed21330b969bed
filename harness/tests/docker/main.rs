//! The chaosgate crate's Docker tier, as one test binary: the tests that start the reference
//! stack through the real binary (real containers, real faults, timed load) and, in `run_kube`,
//! a real Kubernetes cluster. Built only with the `docker-tests` feature
//! (`harness/Cargo.toml`), so `cargo test` and `cargo nextest run` without it build and run the
//! Docker-free tiers alone; `scripts/test.sh` builds it (`--all-features`) and runs it after the
//! image build, one test at a time (`.config/nextest.toml`, group `serial`): latency SLOs then
//! measure the system, not contention. Requirements: Docker, the images
//! (`bash compose/build-images.sh`), root for network faults.
//!
//! Each module is one area (`module::test`, e.g. `run_ab::good_against_good_passes_twice`); an
//! area with Docker-free tests too has a module of the same name in `tests/integration/`.
//! `run_kube` runs only with `CHAOSGATE_KUBE_TESTS=1` and `KUBECONFIG` (scripts/test.sh brings
//! a local cluster up for it); without them its tests say they were not run and pass.
//!
//! Helpers: `common/` (shared with `tests/integration/`, no Docker) and `stack` (runs scenarios
//! against the reference stack and checks what a run left on the host).

#[path = "../common/mod.rs"]
mod common;
mod stack;

mod action_steps;
mod run_ab;
mod run_accuracy;
mod run_addresses;
mod run_alerts;
mod run_attach;
mod run_errors;
mod run_explore;
mod run_fail_fast;
mod run_kube;
mod run_l7;
mod run_lifecycle;
mod run_listening;
mod run_network;
mod run_network_faults;
mod run_resources;
mod run_rollout;
mod run_scenarios;
mod run_tls;
mod run_verdicts;
mod run_verdicts_load;
mod run_verdicts_writes;
