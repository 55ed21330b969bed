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
    /// Each relative SLO's figure (its index in the scenario's `slos`, and the unjudged
    /// measurement), for `ab`.
    pub relative: Vec<(usize, crate::verdict::SloResult)>,
    /// Why there is no report.
    pub error: Option<String>,
}

/// Runs `spec` once into `dir`: executes it, decides the absolute SLOs (relative ones are
/// listed as needing a baseline and do not change the verdict), writes the reports.
#[allow(clippy::too_many_arguments)]
pub async fn run_single(
    spec: &run::RunSpec,
    dir: &Path,
    set: &[(String, String)],
    keep: bool,
    cancel: CancellationToken,
    progress: Progress,
    quiet: bool,
) -> SingleRun {
    let failed = |exit_code, e: String| SingleRun {
        exit_code,
        report: None,
        relative: Vec::new(),
        error: Some(e),
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
            };
            let mut decision = crate::verdict::decide(&inputs(&absolute));
            if let Some(stop) = &artifacts.stopped_early {
                crate::verdict::early::settle(&mut decision, stop);
            }
            let relative = crate::verdict::relative::measure(&inputs(&spec.slos));
            let exit_code = exit_codes::of_decision(&decision);
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
            if let Err(e) = run::write_reports(&report, dir) {
                eprintln!("error: writing reports to {}: {e}", dir.display());
                return failed(exit_codes::INFRASTRUCTURE, e.to_string());
            }
            if !quiet {
                eprintln!("{}", crate::report::render_terminal(&report));
            }
            if let Some(cmd) = &artifacts.kept_stack {
                eprintln!("chaosgate: the stack is still up (--keep); remove it with:\n  {cmd}");
            }
            SingleRun {
                exit_code,
                report: Some(report),
                relative,
                error: None,
            }
        }
        Err(e) => {
            eprintln!("error: {}: {e}", spec.name);
            // A run that failed before writing anything leaves no empty run directory behind
            // (a CI step uploading "the newest run" would pick an empty one); one with events
            // or logs keeps them, for the post-mortem.
            let _ = std::fs::remove_dir(dir);
            failed(exit_codes::of_run_error(&e), e.to_string())
        }
    }
}

/// What this run tested, for the report (best effort: what cannot be read is left out).
async fn provenance(
    spec: &run::RunSpec,
    artifacts: &run::RunArtifacts,
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
