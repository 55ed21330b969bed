//! From the file as written to the validated `Scenario`: units parsed, names checked against
//! the compose files and each other, windows checked for overlap. Every problem is collected
//! with its place in the file; nothing stops at the first.

mod context;
mod faults;
mod load;
mod probes;
mod slos;
mod stack;
mod tls;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use serde_saphyr::Spanned;

use super::diagnostic::ScenarioError;
use super::model::{FaultSpec, LoadSpec, Scenario};
use super::raw::RawScenario;
use crate::units;
use context::Ctx;

const DEFAULT_RECOVERY_CONSECUTIVE: u32 = 3;
/// More checks in a row than a run can hold at any sensible probe interval.
const MAX_CONSECUTIVE: u32 = 1000;
/// The run's total length, from the load's start.
const RUN_BOUNDS: context::Bounds = (Duration::from_millis(1), units::MAX_DURATION);
/// Without a load or an explicit duration, the run lasts until this long after the last fault
/// ends, so recovery has time to show.
const TAIL_AFTER_LAST_FAULT: Duration = Duration::from_secs(10);

fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Validates a parsed file. `path` is the scenario file (absolute or relative to the current
/// directory); relative paths inside it resolve from its directory.
pub fn validate(raw: RawScenario, src: &str, path: &Path) -> Result<Scenario, Vec<ScenarioError>> {
    let base_dir = path.parent().unwrap_or(Path::new("."));
    let mut cx = Ctx {
        src,
        base_dir,
        errors: Vec::new(),
        services: None,
        pod_labels: None,
        workload_env: None,
        compose_variables: None,
        warnings: Vec::new(),
        kube: raw.stack.value.kubernetes.is_some(),
        agent: raw
            .stack
            .value
            .kubernetes
            .as_ref()
            .is_some_and(|k| k.agent.is_some()),
    };
    if !is_valid_name(&raw.name.value) {
        let span = cx.span(&raw.name);
        cx.push(
            ScenarioError::new(format!("invalid scenario name `{}`", raw.name.value), span)
                .with_help("names match ^[a-z0-9][a-z0-9_-]*$ (they become compose project and directory names)"),
        );
    }
    let stack = stack::stack(&mut cx, &raw.stack);
    let load = raw.load.as_ref().and_then(|l| load::load(&mut cx, l));
    let recovery_consecutive = match &raw.recovery {
        Some(r) if !cx.number_in(&r.consecutive, "recovery.consecutive", 1, MAX_CONSECUTIVE) => {
            DEFAULT_RECOVERY_CONSECUTIVE
        }
        Some(r) => r.consecutive.value,
        None => DEFAULT_RECOVERY_CONSECUTIVE,
    };
    let prometheus = raw.prometheus.as_ref().and_then(|p| {
        let every = cx.duration_or(
            p.every.as_ref(),
            Duration::from_secs(1),
            "prometheus.every",
            (Duration::from_millis(100), Duration::from_secs(60)),
        );
        cx.service_port(&p.address, "prometheus.address")
            .map(|(service, port)| super::model::PrometheusSpec {
                service,
                port,
                every,
            })
    });
    let tls = tls::tls(&mut cx, raw.tls.as_ref());
    let probes = probes::probes(&mut cx, &raw.probes, prometheus.as_ref());
    let faults = faults::faults(&mut cx, &raw.faults);
    faults::check_overlaps(&mut cx, &raw.faults, &faults);
    faults::check_replaced_paths(&mut cx, &raw.faults, &faults);
    faults::check_agent(&mut cx, &raw.faults, &faults);
    let duration = total_duration(&mut cx, &raw, load.as_ref(), &faults);
    if let Some(total) = duration {
        for (rf, f) in raw.faults.iter().zip(&faults) {
            if let Some(f) = f
                && f.at.latest() >= total
            {
                let span = cx.span(&rf.at);
                cx.error(
                    format!(
                        "fault `{}` starts at {} or later, after the run ends ({})",
                        f.name,
                        units::format_duration(f.at.latest()),
                        units::format_duration(total)
                    ),
                    span,
                );
            }
        }
    }
    let slos = slos::slos(&mut cx, &raw, load.is_some());
    let steady_state = slos::steady_state(&mut cx, &raw, load.is_some());
    let explore = raw.explore.as_ref().and_then(|e| {
        let mut errors = Vec::new();
        let space = super::explore::section(e, |loc| cx.span_of(loc), &mut errors, duration);
        cx.errors.extend(errors);
        space
    });
    if cx.errors.is_empty()
        && let (Some(stack), Some(duration)) = (stack, duration)
    {
        return Ok(Scenario {
            name: raw.name.value,
            description: raw.description.unwrap_or_default(),
            seed: raw.seed,
            fail_fast: raw.fail_fast,
            stack,
            load,
            duration,
            recovery_consecutive,
            probes: probes.into_iter().flatten().collect(),
            faults: faults.into_iter().flatten().collect(),
            slos,
            steady_state,
            explore,
            prometheus,
            tls,
            path: std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
            warnings: super::diagnostic::ScenarioErrors::new(path, src, cx.warnings).as_warnings(),
        });
    }
    Err(cx.errors)
}

fn check_name(
    cx: &mut Ctx<'_>,
    name: &Spanned<String>,
    what: &str,
    seen: &mut BTreeSet<String>,
) -> bool {
    let span = cx.span(name);
    if !is_valid_name(&name.value) {
        cx.push(
            ScenarioError::new(format!("invalid {what} name `{}`", name.value), span)
                .with_help("names match ^[a-z0-9][a-z0-9_-]*$"),
        );
        return false;
    }
    if !seen.insert(name.value.clone()) {
        cx.error(format!("{what} `{}` is defined twice", name.value), span);
        return false;
    }
    true
}

/// Fields that only some actions take, with the actions that take them.
fn total_duration(
    cx: &mut Ctx<'_>,
    raw: &RawScenario,
    load: Option<&LoadSpec>,
    faults: &[Option<FaultSpec>],
) -> Option<Duration> {
    if let Some(sp) = &raw.duration {
        let total = cx.duration(sp, "the run's duration", RUN_BOUNDS)?;
        if let Some(load) = load
            && total < load.duration
        {
            let span = cx.span(sp);
            cx.error(
                format!(
                    "the run ({}) is shorter than its load ({}); the load would be cut off",
                    units::format_duration(total),
                    units::format_duration(load.duration)
                ),
                span,
            );
            return None;
        }
        return Some(total);
    }
    if let Some(load) = load {
        return Some(load.duration);
    }
    if raw.load.is_some() {
        // The load had errors of its own; they are already reported.
        return None;
    }
    let last_end = faults
        .iter()
        .flatten()
        .map(|f| f.at.latest() + f.duration.unwrap_or(Duration::ZERO))
        .max();
    match last_end {
        Some(end) => Some(end + TAIL_AFTER_LAST_FAULT),
        None if raw.faults.is_empty() => {
            let span = cx.span(&raw.name);
            cx.error(
                "the scenario has no load and no faults; set `duration:` for how long probes run",
                span,
            );
            None
        }
        None => None,
    }
}
