//! The `--dry-run` listing: a plan (`RunSpec`) as people read it, with every fault's drawn time,
//! target and pick, before anything starts.

use std::fmt::Write as _;

use crate::plan::{Pick, RunSpec};
use crate::scenario::BlastSize;

/// The `--dry-run` view: what would run, when, against what.
pub fn render(spec: &RunSpec) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "scenario {} (seed {})", spec.name, spec.seed);
    for f in &spec.compose_files {
        let _ = writeln!(out, "  compose  {}", f.display());
    }
    if let Some(project) = &spec.existing {
        let _ = writeln!(
            out,
            "  attach   running project {project} (nothing brought up or torn down)"
        );
    }
    if let Some(k) = &spec.kube {
        let what = match (&k.kustomize, k.existing) {
            (_, true) => format!(
                "existing namespace {}",
                k.namespace.as_deref().unwrap_or("?")
            ),
            (Some(dir), _) => format!("kustomize {}", dir.display()),
            (None, _) => format!("{} manifest file(s), a fresh namespace", k.manifests.len()),
        };
        let _ = writeln!(out, "  kube     {what}");
        if let Some(a) = &k.agent {
            let _ = if spec.needs_node_agent() {
                writeln!(
                    out,
                    "  agent    DaemonSet of {} (crash, loss and partition go through it)",
                    a.image
                )
            } else {
                writeln!(
                    out,
                    "  agent    not deployed: no crash, loss or partition fault needs it"
                )
            };
        }
    }
    for (k, v) in &spec.env {
        let _ = writeln!(out, "  env      {k}={v}");
    }
    let _ = writeln!(out, "  duration {:?}", spec.duration);
    if let Some(l) = &spec.load {
        let _ = writeln!(
            out,
            "  load     {} request template(s), {}, for {:?}, timeout {:?}",
            l.requests.len(),
            l.rate,
            l.duration,
            l.timeout
        );
    }
    for p in &spec.probes {
        let _ = writeln!(out, "  probe    {} every {:?}", p.name, p.every);
    }
    for f in &spec.faults {
        let _ = writeln!(
            out,
            "  fault    {} at {:?}: {} {}{}{}",
            f.name,
            f.at,
            f.kind.name(),
            match f.labels_text() {
                Some(labels) => format!("{}[{labels}]", f.service),
                None => f.service.clone(),
            },
            match f.pick {
                Pick::All => " (all replicas)".to_string(),
                Pick::First => " (first replica)".to_string(),
                Pick::Random { draw } => format!(" (replica draw {draw})"),
                Pick::FirstN { size } => format!(" (first {})", replicas(size)),
                Pick::Sample { draw, size } => {
                    format!(" ({} drawn with {draw})", replicas(size))
                }
            },
            f.duration
                .filter(|_| f.action.holds())
                .map(|d| format!(", held {d:?}"))
                .unwrap_or_default()
        );
    }
    out
}

/// A blast radius as the scenario says it: `2 replicas`, `50 % of the replicas`.
fn replicas(size: BlastSize) -> String {
    match size {
        BlastSize::Count(1) => "1 replica".to_string(),
        BlastSize::Count(n) => format!("{n} replicas"),
        BlastSize::Permille(p) => format!("{} % of the replicas", f64::from(p) / 10.0),
    }
}
