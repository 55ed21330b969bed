//! One run of one scenario, judged and reported: the plan executed on a fresh stack, its
//! absolute SLOs decided, every report file written. `chaosgate run` is one of these; the
//! gate (`--repeat`, `ab`) is several.

use std::collections::BTreeMap;
use std::path::Path;

use tokio_util::sync::CancellationToken;

use crate::exit_codes;
use crate::run::{self, Progress, RunOptions};

/// One finished run of one scenario, for `run` and for the gate (`--repeat`, `ab`).
pub struct SingleRun {
    /// The run's exit code (`exit_codes`: 0 pass, 1 breached, 3 infrastructure, 4 inconclusive).
    pub exit_code: i32,
    /// The written report; `None` when the run failed before a verdict.
    pub report: Option<crate::report::Report>,
    /// Each absolute SLO's typed result (its index in the scenario's `slos`), as the run
    /// judged it: what the gate's samples are made of.
    pub absolute: Vec<(usize, crate::verdict::SloResult)>,
    /// Each relative SLO's figure (its index in the scenario's `slos`, and the unjudged
    /// measurement), for `ab`.
    pub relative: Vec<(usize, crate::verdict::SloResult)>,
    /// Why the run as a whole could not pass (typed), whatever its SLO rows say.
    pub issues: Vec<crate::verdict::RunIssue>,
    /// Why there is no report.
    pub error: Option<String>,
    /// With `--keep`: the command that removes the stack left running.
    pub kept_stack: Option<String>,
}

impl SingleRun {
    /// The run's typed result of the absolute SLO at `slo_index` in the scenario's `slos`.
    pub fn result(&self, slo_index: usize) -> Option<&crate::verdict::SloResult> {
        self.absolute
            .iter()
            .find(|(i, _)| *i == slo_index)
            .map(|(_, r)| r)
    }
}

/// Runs `spec` once into `dir`: executes it, decides the absolute SLOs (relative ones are
/// listed as needing a baseline and do not change the verdict), writes the reports. Prints
/// nothing: the caller (`cli/`) shows the report, the error or the kept stack.
pub async fn run_single(
    spec: &crate::plan::RunSpec,
    dir: &Path,
    set: &[(String, String)],
    keep: bool,
    cancel: CancellationToken,
    progress: Progress,
) -> SingleRun {
    let failed = |exit_code, e: String| SingleRun {
        exit_code,
        report: None,
        absolute: Vec::new(),
        relative: Vec::new(),
        issues: Vec::new(),
        error: Some(e),
        kept_stack: None,
    };
    let opts = RunOptions {
        dir: dir.to_path_buf(),
        keep,
        cancel,
        progress,
    };
    let started = std::time::Instant::now();
    match run::execute(spec, opts).await {
        Ok(artifacts) => {
            let absolute = spec.absolute_slos();
            let inputs = |slos| crate::verdict::Inputs {
                slos,
                analysis: &artifacts.analysis,
                faults: &artifacts.faults,
                writes: artifacts.writes.as_ref(),
                steady_state: &spec.steady_state,
            };
            let mut decision = crate::verdict::decide(&inputs(&absolute));
            if let Some(stop) = &artifacts.stopped_early {
                crate::verdict::early::settle(&mut decision, stop);
            }
            let relative = crate::verdict::relative::measure(&inputs(&spec.slos));
            let exit_code = exit_codes::of_decision(&decision);
            let indexed: Vec<usize> = spec
                .slos
                .iter()
                .enumerate()
                .filter(|(_, s)| !s.is_relative())
                .map(|(i, _)| i)
                .collect();
            let absolute: Vec<(usize, crate::verdict::SloResult)> = indexed
                .into_iter()
                .zip(decision.results.iter().cloned())
                .collect();
            let issues = decision.issues.clone();
            let mut report =
                crate::report::assemble(spec, &artifacts, started.elapsed(), decision, exit_code);
            for slo in spec.slos.iter().filter(|x| x.is_relative()) {
                report.notes.push(format!(
                    "`{}` {}: not judged by a single run",
                    slo.expression,
                    crate::verdict::NEEDS_BASELINE
                ));
            }
            report.provenance = Some(provenance(spec, &artifacts, set).await);
            report.stopped_early =
                artifacts
                    .stopped_early
                    .as_ref()
                    .map(|stop| crate::report::StoppedEarly {
                        at_ms: stop.at_ns as f64 / 1e6,
                        planned_ms: spec.duration.as_secs_f64() * 1e3,
                        slo: stop.slo.clone(),
                        reason: stop.reason.clone(),
                    });
            if let Err(e) = crate::report::write_all(&report, dir) {
                return failed(
                    exit_codes::INFRASTRUCTURE,
                    format!("writing reports to {}: {e}", dir.display()),
                );
            }
            SingleRun {
                exit_code,
                report: Some(report),
                absolute,
                relative,
                issues,
                error: None,
                kept_stack: artifacts.kept_stack.clone(),
            }
        }
        Err(e) => {
            // A run that failed before writing anything leaves no empty run directory behind
            // (a CI step uploading "the newest run" would pick an empty one); one with events
            // or logs keeps them, for the post-mortem.
            let _ = std::fs::remove_dir(dir);
            failed(exit_codes::of_run_error(&e), format!("{}: {e}", spec.name))
        }
    }
}

/// What this run tested, for the report (best effort: what cannot be read is left out).
async fn provenance(
    spec: &crate::plan::RunSpec,
    artifacts: &crate::artifacts::RunArtifacts,
    set: &[(String, String)],
) -> crate::provenance::Provenance {
    let images: BTreeMap<String, String> = artifacts
        .containers
        .iter()
        .map(|c| (c.service.clone(), c.image.clone()))
        .collect();
    let images: Vec<(String, String)> = images.into_iter().collect();
    let set: Vec<String> = set.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let p = crate::provenance::gather(&spec.file, &spec.compose_files, &images, &set);
    match crate::stack::docker::connect().await {
        Ok(docker) => crate::provenance::with_docker(p, &docker).await,
        Err(_) => p,
    }
}
