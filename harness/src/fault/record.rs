//! A fault's record: what happened to it, as the verdict and the reports read it. Written
//! along the fault's life by the lifecycle and the scheduler, and also on the timeline, stage by
//! stage ([`EventKind::Fault`]) and at its end ([`EventKind::FaultClosed`]); the run's record
//! is the one [`FaultRecord::from_log`] reads back from `events.jsonl`, so there is one story.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::Evidence;
use crate::timeline::{EventKind, FaultStage, read_events};

/// What happened to one fault, as the report shows it. Times are run-clock nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FaultRecord {
    /// The fault's `name` from the scenario file (unique within it).
    pub name: String,
    /// The action as scenario files spell it (`crash`, `latency`, `pod-delete`, ...).
    pub action: String,
    /// Names of the containers (Kubernetes: pods) it acted on.
    pub targets: Vec<String>,
    /// When the scenario planned it (`at:`).
    pub scheduled_ns: u64,
    /// When the action was issued; `None` = never applied (no target, or the run ended first).
    pub applied_ns: Option<u64>,
    /// When evidence showed the fault took effect; `None` = not proven applied.
    pub verified_ns: Option<u64>,
    /// When it was undone (unpause, start, proxy removed, rules deleted); `None` when it was not,
    /// or has nothing to undo.
    pub reverted_ns: Option<u64>,
    /// When the target was back by itself (a crashed container restarted), if it was.
    pub target_back_ns: Option<u64>,
    /// What went wrong applying, proving or reverting it, in words; set errors are why a fault is
    /// not proven applied (an inconclusive verdict, exit 4).
    pub error: Option<String>,
    /// Set when it stopped acting before its revert (the `ended_early` stage): how. The run
    /// cannot pass then (exit 4), though a breach it caused stands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_early: Option<String>,
    /// The proof and counters gathered for the report (Docker events, proxy or rule counters, pod
    /// states), by name.
    pub evidence: Evidence,
}

impl FaultRecord {
    /// Every fault's record from a run's `events.jsonl`, in the order of `planned` (the plan's
    /// fault names); a planned fault the log has no closing event for is recorded as never
    /// applied, with that said. Errors: the log cannot be read.
    pub fn from_log(path: &Path, planned: &[&str]) -> std::io::Result<Vec<Self>> {
        let mut by_name: BTreeMap<String, Self> = BTreeMap::new();
        for event in read_events(path)? {
            let event = event?;
            let t = event.t;
            match event.kind {
                EventKind::Fault {
                    fault,
                    stage,
                    detail,
                    ..
                } => {
                    let r = by_name.entry(fault.clone()).or_default();
                    r.name = fault;
                    match stage {
                        FaultStage::Applied => r.applied_ns = Some(t),
                        FaultStage::Verified => r.verified_ns = Some(t),
                        // Before a proof: none came; after a revert: it touched nothing.
                        FaultStage::Unverified => r.verified_ns = None,
                        FaultStage::Reverted => r.reverted_ns = Some(t),
                        FaultStage::EndedEarly => {
                            r.ended_early =
                                Some(detail.unwrap_or_else(|| "it stopped acting early".into()));
                        }
                        FaultStage::Completed | FaultStage::Back => r.target_back_ns = Some(t),
                        FaultStage::Failed => {}
                    }
                }
                EventKind::FaultClosed {
                    fault,
                    action,
                    scheduled_ns,
                    targets,
                    error,
                    evidence,
                } => {
                    let r = by_name.entry(fault.clone()).or_default();
                    r.name = fault;
                    r.action = action;
                    r.scheduled_ns = scheduled_ns;
                    r.targets = targets;
                    r.error = error;
                    r.evidence = evidence;
                }
                _ => {}
            }
        }
        Ok(planned
            .iter()
            .map(|name| {
                by_name.remove(*name).unwrap_or_else(|| Self {
                    name: name.to_string(),
                    error: Some("the event log has no record of this fault".into()),
                    ..Default::default()
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::{EventLog, RunClock};

    /// The story the lifecycle writes (timed stages, then the closing event) is read back as
    /// the record: a revert that touched nothing unproves the fault; a fault the log never
    /// closed is not applied, and says so.
    #[tokio::test]
    async fn a_record_is_read_back_from_the_log() {
        let path = std::env::temp_dir().join(format!("cg-record-{}.jsonl", std::process::id()));
        let (log, sink) = EventLog::create(&path, RunClock::start()).unwrap();
        let stage = |t, fault: &str, stage| {
            sink.record_at(
                t,
                EventKind::Fault {
                    fault: fault.into(),
                    stage,
                    targets: vec!["web-1".into()],
                    detail: None,
                },
            )
        };
        stage(1_000, "stop", FaultStage::Applied);
        stage(2_000, "stop", FaultStage::Verified);
        stage(9_000, "stop", FaultStage::Reverted);
        stage(9_500, "stop", FaultStage::Back);
        stage(3_000, "iso", FaultStage::Applied);
        stage(4_000, "iso", FaultStage::Verified);
        stage(5_000, "iso", FaultStage::Reverted);
        stage(5_001, "iso", FaultStage::Unverified);
        let mut evidence = Evidence::new();
        evidence.insert("die_events".into(), 1.into());
        // A measured figure reads back as the same f64.
        evidence.insert("targets_lookup_took_ms".into(), (0.1f64 + 0.2).into());
        sink.record(EventKind::FaultClosed {
            fault: "stop".into(),
            action: "stop".into(),
            scheduled_ns: 1_000,
            targets: vec!["web-1".into()],
            error: None,
            evidence: evidence.clone(),
        });
        sink.record(EventKind::FaultClosed {
            fault: "iso".into(),
            action: "isolate".into(),
            scheduled_ns: 3_000,
            targets: vec!["web-1".into()],
            error: Some("nothing was disconnected".into()),
            evidence: Evidence::new(),
        });
        drop(sink);
        log.finish().await.unwrap();
        let records = FaultRecord::from_log(&path, &["iso", "stop", "never"]).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            records[1],
            FaultRecord {
                name: "stop".into(),
                action: "stop".into(),
                targets: vec!["web-1".into()],
                scheduled_ns: 1_000,
                applied_ns: Some(1_000),
                verified_ns: Some(2_000),
                reverted_ns: Some(9_000),
                target_back_ns: Some(9_500),
                error: None,
                ended_early: None,
                evidence,
            }
        );
        assert_eq!(records[0].verified_ns, None, "touched nothing: not proven");
        assert_eq!(records[0].reverted_ns, Some(5_000));
        assert_eq!(records[2].applied_ns, None);
        assert!(records[2].error.as_deref().unwrap().contains("no record"));
    }
}
