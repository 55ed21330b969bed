//! One fault's life, the same for every kind: apply → prove → hold → revert → record. A kind
//! (container, network, Kubernetes) says how to act on its targets through [`Lifecycle`];
//! [`drive`] owns the order of the steps, the timeline's stages, the hold and its cancellation,
//! the promise that what was applied is reverted, and the record's times and error.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Evidence, FaultRecord};
use crate::timeline::{EventKind, EventSink, FaultStage};

/// Records the `Applied` stage when the kind says the fault is applied: just before acting
/// ([`Stamp::now`]), so that the stage precedes everything acting causes on the timeline, or at
/// the time the first target was acted on ([`Stamp::at`]), when acting on several targets at once
/// is measured per target.
pub struct Stamp<'a> {
    sink: &'a EventSink,
    fault: &'a str,
    targets: &'a [String],
    applied_ns: &'a mut Option<u64>,
}

impl Stamp<'_> {
    /// Applied now, with `detail` said with the stage (`grace period 0`, `3 -> 1 replicas`).
    pub fn now(&mut self, detail: Option<String>) {
        self.at(self.sink.clock().now_ns(), detail);
    }

    /// Applied at run-clock time `t`.
    pub fn at(&mut self, t: u64, detail: Option<String>) {
        *self.applied_ns = Some(t);
        self.sink.record_at(
            t,
            EventKind::Fault {
                fault: self.fault.to_string(),
                stage: FaultStage::Applied,
                targets: self.targets.to_vec(),
                detail,
            },
        );
    }
}

/// How applying ended.
pub enum Outcome<U> {
    /// Applied to every target; this undoes it.
    Done(U),
    /// Stopped at `error`. `acted` undoes what was acted on before it (`None`: nothing, or the
    /// kind cleaned up itself); a failed fault holds nothing, so that is reverted at once.
    Failed {
        /// Why, in words: the record's error and the `Failed` stage's detail.
        error: String,
        /// What was applied before the error, to revert.
        acted: Option<U>,
    },
}

/// What the evidence says about the fault having taken effect.
pub enum Proof {
    /// It did, at `at_ns` (a Docker event's own time, or when it was seen).
    Verified {
        /// Run-clock ns of the proof.
        at_ns: u64,
        /// Said with the `Verified` stage (which evidence proved it).
        detail: Option<String>,
    },
    /// No proof came in time: the fault is still held and reverted, but not counted as applied.
    Unverified {
        /// Said with the `Unverified` stage: what was missing.
        detail: String,
    },
}

/// How long a fault that is undone stays applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hold {
    /// For how long (cut at the run's end, or short by cancellation).
    pub duration: Duration,
    /// When the hold starts counting.
    pub from: HoldFrom,
}

/// When a hold starts counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldFrom {
    /// From the `Applied` stage: the proof's wait is part of it (a scale, whose proof is the
    /// controller's work and can take seconds of the fault's planned duration).
    Applied,
    /// From the proof: the fault is held its full duration once it has taken effect.
    Proven,
}

/// How reverting ended.
pub enum Reverted {
    /// Undone.
    Done,
    /// Every step was tried and some failed: undone as far as it could be, at that time. The
    /// error is the record's; the `Failed` stage says `reverting: <error>`.
    WithErrors(String),
    /// Stopped at an error: not undone, and nothing after it is waited for. Record and stage
    /// both say `reverting: <error>`.
    Failed(String),
}

/// The target back to normal after the fault, by itself or after the revert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Back {
    /// Seen back at this time (the record's `target_back_ns`).
    Seen(u64),
    /// Back, and the fault has run its course at this time: a `Completed` stage ends its
    /// window (Kubernetes faults: the workload whole again).
    Completed(u64),
}

/// The bounds every step of a fault runs within.
pub struct Window<'a> {
    /// The run's end: holds and waits for the target end there.
    pub run_end: Instant,
    /// Cancelled when the run stops early: a hold ends at once.
    pub cancel: &'a CancellationToken,
    /// When the hold ends, once known: from the `Applied` stage on with [`HoldFrom::Applied`].
    pub hold_until: Option<Instant>,
}

/// How one kind of fault acts on its targets. The kind keeps what it needs between the steps
/// (events subscribed to before acting, the time the revert began); [`drive`] calls the steps in
/// order and records what they return.
pub trait Lifecycle {
    /// What a successful apply leaves for [`Lifecycle::revert`] to undo.
    type Undo: Send;

    /// What the fault acts on, as the record and the timeline name it; asked after
    /// [`Lifecycle::prepare`] (a Kubernetes workload's kind is only known then).
    fn targets(&self) -> Vec<String>;

    /// For how long the fault is held before it is reverted; `None`: it is not reverted (a
    /// crash runs its course, and a kill without a duration stays).
    fn hold(&self) -> Option<Hold>;

    /// Looks up what acting needs; an error fails the fault before anything was applied.
    fn prepare(
        &mut self,
        _evidence: &mut Evidence,
    ) -> impl Future<Output = Result<(), String>> + Send {
        async { Ok(()) }
    }

    /// Acts on every target, and says through `stamp` when the fault counts as applied (never,
    /// when nothing was acted on).
    fn apply(
        &mut self,
        evidence: &mut Evidence,
        stamp: &mut Stamp<'_>,
    ) -> impl Future<Output = Outcome<Self::Undo>> + Send;

    /// Waits for the evidence that the fault took effect.
    fn prove(
        &mut self,
        evidence: &mut Evidence,
        window: &Window<'_>,
    ) -> impl Future<Output = Proof> + Send;

    /// Undoes what `undo` says was applied.
    fn revert(
        &mut self,
        evidence: &mut Evidence,
        undo: Self::Undo,
    ) -> impl Future<Output = Reverted> + Send;

    /// Why, judged from what reverting found, the fault's proof no longer stands: it touched
    /// nothing (its counters say so), or it stopped acting before the revert (a helper killed,
    /// a filled file removed), so the run did not hold what it asked for its whole duration.
    /// The proof is withdrawn then (the run cannot pass); `None` when it stands or the kind
    /// cannot tell.
    fn proof_withdrawn(&self) -> Option<String> {
        None
    }

    /// How, judged from what reverting found, the fault stopped acting before the revert (a
    /// helper killed, a filled file removed): it held only part of its duration. The proof
    /// stands (a breach it caused is real), but the run cannot pass; `None` when it held.
    fn ended_early(&self) -> Option<String> {
        None
    }

    /// Waits for the target to be back: after the revert, or, for a fault that is not reverted,
    /// by itself. `None`: not back in time, or nothing to wait for.
    fn back(
        &mut self,
        evidence: &mut Evidence,
        window: &Window<'_>,
    ) -> impl Future<Output = Option<Back>> + Send;
}

/// Runs `fault` through its life and records each step on the timeline and in `record`.
/// Errors are recorded, never returned, so one failed fault never stops the run's cleanup;
/// whatever was applied is reverted, also when the proof failed or the run was cut short.
pub async fn drive<L: Lifecycle>(
    fault: &mut L,
    record: &mut FaultRecord,
    sink: &EventSink,
    run_end: Instant,
    cancel: &CancellationToken,
) {
    let hold = fault.hold();
    let mut window = Window {
        run_end,
        cancel,
        hold_until: None,
    };
    let prepared = fault.prepare(&mut record.evidence).await;
    record.targets = fault.targets();
    if let Err(error) = prepared {
        record.error = Some(error.clone());
        stage(sink, record, FaultStage::Failed, Some(error));
        return;
    }
    let mut stamp = Stamp {
        sink,
        fault: &record.name,
        targets: &record.targets,
        applied_ns: &mut record.applied_ns,
    };
    let outcome = fault.apply(&mut record.evidence, &mut stamp).await;
    if let (
        Some(t),
        Some(Hold {
            duration,
            from: HoldFrom::Applied,
        }),
    ) = (record.applied_ns, hold)
    {
        let applied_at = Instant::from_std(sink.clock().instant_at(t));
        window.hold_until = Some((applied_at + duration).min(run_end));
    }
    let undo = match outcome {
        Outcome::Done(undo) => undo,
        Outcome::Failed { error, acted } => {
            record.error = Some(error.clone());
            stage(sink, record, FaultStage::Failed, Some(error));
            if let Some(acted) = acted {
                revert(fault, record, sink, acted, &window).await;
            }
            return;
        }
    };
    match fault.prove(&mut record.evidence, &window).await {
        Proof::Verified { at_ns, detail } => {
            record.verified_ns = Some(at_ns);
            stage_at(sink, record, FaultStage::Verified, detail, at_ns);
        }
        Proof::Unverified { detail } => {
            stage(sink, record, FaultStage::Unverified, Some(detail));
        }
    }
    let Some(hold) = hold else {
        let back = fault.back(&mut record.evidence, &window).await;
        came_back(sink, record, back);
        return;
    };
    let until = window
        .hold_until
        .unwrap_or_else(|| (Instant::now() + hold.duration).min(run_end));
    tokio::select! {
        _ = tokio::time::sleep_until(until) => {}
        // Cut short (the run's end, fail-fast, Ctrl-C): revert now, never leave it applied.
        _ = cancel.cancelled() => {}
    }
    revert(fault, record, sink, undo, &window).await;
}

/// Reverts, records it, and waits for the target to be back.
async fn revert<L: Lifecycle>(
    fault: &mut L,
    record: &mut FaultRecord,
    sink: &EventSink,
    undo: L::Undo,
    window: &Window<'_>,
) {
    match fault.revert(&mut record.evidence, undo).await {
        Reverted::Done => {
            let t = sink.clock().now_ns();
            record.reverted_ns = Some(t);
            stage_at(sink, record, FaultStage::Reverted, None, t);
        }
        Reverted::WithErrors(e) => {
            let t = sink.clock().now_ns();
            record.reverted_ns = Some(t);
            record.error = Some(e.clone());
            stage_at(sink, record, FaultStage::Reverted, None, t);
            stage(
                sink,
                record,
                FaultStage::Failed,
                Some(format!("reverting: {e}")),
            );
        }
        Reverted::Failed(e) => {
            let message = format!("reverting: {e}");
            record.error = Some(message.clone());
            stage(sink, record, FaultStage::Failed, Some(message));
            return;
        }
    }
    if let Some(why) = fault.proof_withdrawn() {
        record.verified_ns = None;
        record.error.get_or_insert_with(|| why.clone());
        stage(sink, record, FaultStage::Unverified, Some(why));
    } else if let Some(why) = fault.ended_early() {
        record.ended_early = Some(why.clone());
        stage(sink, record, FaultStage::EndedEarly, Some(why));
    }
    let back = fault.back(&mut record.evidence, window).await;
    came_back(sink, record, back);
}

fn came_back(sink: &EventSink, record: &mut FaultRecord, back: Option<Back>) {
    match back {
        Some(Back::Seen(t)) => {
            record.target_back_ns = Some(t);
            stage_at(sink, record, FaultStage::Back, None, t);
        }
        Some(Back::Completed(t)) => {
            record.target_back_ns = Some(t);
            stage_at(sink, record, FaultStage::Completed, None, t);
        }
        None => {}
    }
}

fn stage(sink: &EventSink, record: &FaultRecord, stage: FaultStage, detail: Option<String>) {
    stage_at(sink, record, stage, detail, sink.clock().now_ns());
}

fn stage_at(
    sink: &EventSink,
    record: &FaultRecord,
    stage: FaultStage,
    detail: Option<String>,
    t: u64,
) {
    sink.record_at(
        t,
        EventKind::Fault {
            fault: record.name.clone(),
            stage,
            targets: record.targets.clone(),
            detail,
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::test_log::TestLog;
    use crate::timeline::Event;

    /// How the fake's revert ends.
    #[derive(Clone)]
    enum RevertEnds {
        Done,
        WithErrors(&'static str),
        Failed(&'static str),
    }

    /// A fault kind that does what it is told and notes when (in paused tokio time) each step
    /// was called.
    struct Fake {
        hold: Option<Hold>,
        /// `at_ns` and detail of the `Applied` stage.
        applied: (Option<u64>, Option<String>),
        /// Preparing fails with this error.
        prepare_fails: Option<&'static str>,
        /// Apply fails with this error, having acted on these targets.
        apply_fails: Option<(&'static str, Vec<String>)>,
        /// The proof takes this long, and is verified at this run-clock time (or not).
        proof: (Duration, Option<u64>),
        reverts: RevertEnds,
        touched_nothing: Option<&'static str>,
        ended_early: Option<&'static str>,
        back: Option<Back>,
        calls: Vec<(&'static str, Instant)>,
        reverted: Option<Vec<String>>,
        hold_until_seen: Option<Instant>,
    }

    impl Fake {
        fn new(hold: Option<Hold>) -> Self {
            Self {
                hold,
                applied: (Some(1_000), Some("how".into())),
                prepare_fails: None,
                apply_fails: None,
                proof: (Duration::ZERO, Some(2_000)),
                reverts: RevertEnds::Done,
                touched_nothing: None,
                ended_early: None,
                back: Some(Back::Seen(3_000)),
                calls: Vec::new(),
                reverted: None,
                hold_until_seen: None,
            }
        }

        fn called(&self, step: &str) -> Option<Instant> {
            self.calls.iter().find(|(s, _)| *s == step).map(|(_, t)| *t)
        }
    }

    impl Lifecycle for Fake {
        type Undo = Vec<String>;

        fn targets(&self) -> Vec<String> {
            vec!["a".into(), "b".into()]
        }

        fn hold(&self) -> Option<Hold> {
            self.hold
        }

        async fn prepare(&mut self, _: &mut Evidence) -> Result<(), String> {
            self.calls.push(("prepare", Instant::now()));
            self.prepare_fails.map_or(Ok(()), |e| Err(e.into()))
        }

        async fn apply(
            &mut self,
            evidence: &mut Evidence,
            stamp: &mut Stamp<'_>,
        ) -> Outcome<Vec<String>> {
            self.calls.push(("apply", Instant::now()));
            evidence.insert("applied".into(), true.into());
            if let (Some(t), detail) = self.applied.clone() {
                stamp.at(t, detail);
            }
            match self.apply_fails.clone() {
                None => Outcome::Done(self.targets()),
                Some((error, acted)) => Outcome::Failed {
                    error: error.into(),
                    acted: (!acted.is_empty()).then_some(acted),
                },
            }
        }

        async fn prove(&mut self, _: &mut Evidence, window: &Window<'_>) -> Proof {
            self.calls.push(("prove", Instant::now()));
            self.hold_until_seen = window.hold_until;
            tokio::time::sleep(self.proof.0).await;
            match self.proof.1 {
                Some(at_ns) => Proof::Verified {
                    at_ns,
                    detail: Some("seen".into()),
                },
                None => Proof::Unverified {
                    detail: "not seen".into(),
                },
            }
        }

        async fn revert(&mut self, _: &mut Evidence, undo: Vec<String>) -> Reverted {
            self.calls.push(("revert", Instant::now()));
            self.reverted = Some(undo);
            match self.reverts {
                RevertEnds::Done => Reverted::Done,
                RevertEnds::WithErrors(e) => Reverted::WithErrors(e.into()),
                RevertEnds::Failed(e) => Reverted::Failed(e.into()),
            }
        }

        fn proof_withdrawn(&self) -> Option<String> {
            self.touched_nothing.map(String::from)
        }

        fn ended_early(&self) -> Option<String> {
            self.ended_early.map(String::from)
        }

        async fn back(&mut self, _: &mut Evidence, _: &Window<'_>) -> Option<Back> {
            self.calls.push(("back", Instant::now()));
            self.back
        }
    }

    fn held(secs: u64, from: HoldFrom) -> Option<Hold> {
        Some(Hold {
            duration: Duration::from_secs(secs),
            from,
        })
    }

    /// Drives `fake` in a run ending after `run_s`, cancelled after `cancel_after` when set;
    /// returns the record, the stages (time, stage, detail) and when the drive started.
    async fn run(
        fake: &mut Fake,
        run_s: u64,
        cancel_after: Option<Duration>,
    ) -> (FaultRecord, Vec<(u64, FaultStage, Option<String>)>, Instant) {
        let (log, sink) = TestLog::start();
        let start = Instant::now();
        let cancel = CancellationToken::new();
        if let Some(after) = cancel_after {
            let cancel = cancel.clone();
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                cancel.cancel();
            });
        }
        let mut record = FaultRecord {
            name: "f".into(),
            ..Default::default()
        };
        let run_end = start + Duration::from_secs(run_s);
        drive(fake, &mut record, &sink, run_end, &cancel).await;
        drop(sink);
        let stages = log
            .events()
            .await
            .into_iter()
            .map(|Event { t, kind }| match kind {
                EventKind::Fault {
                    fault,
                    stage,
                    targets,
                    detail,
                } => {
                    assert_eq!(fault, "f");
                    assert_eq!(targets, record.targets);
                    (t, stage, detail)
                }
                other => panic!("{other:?}"),
            })
            .collect();
        (record, stages, start)
    }

    fn kinds(stages: &[(u64, FaultStage, Option<String>)]) -> Vec<FaultStage> {
        stages.iter().map(|(_, s, _)| *s).collect()
    }

    /// Within a few ms: paused time jumps to a timer's deadline, rounded to the millisecond.
    fn after(from: Instant, secs: f64, at: Option<Instant>) -> bool {
        let want = from + Duration::from_secs_f64(secs);
        at.is_some_and(|at| at.max(want) - at.min(want) < Duration::from_millis(5))
    }

    #[tokio::test(start_paused = true)]
    async fn a_held_fault_goes_through_every_stage_in_order_at_its_times() {
        let mut fake = Fake::new(held(10, HoldFrom::Proven));
        fake.proof.0 = Duration::from_secs(2);
        let (record, stages, start) = run(&mut fake, 60, None).await;
        use FaultStage::*;
        assert_eq!(kinds(&stages), [Applied, Verified, Reverted, Back]);
        assert_eq!(stages[0], (1_000, Applied, Some("how".into())));
        assert_eq!(stages[1], (2_000, Verified, Some("seen".into())));
        assert_eq!(record.targets, ["a", "b"]);
        assert_eq!(record.applied_ns, Some(1_000));
        assert_eq!(record.verified_ns, Some(2_000));
        assert_eq!(record.reverted_ns, Some(stages[2].0));
        assert_eq!(record.target_back_ns, Some(3_000));
        assert!(record.error.is_none());
        assert_eq!(record.evidence["applied"], true);
        // Held its full duration from the proof on.
        assert!(after(start, 12.0, fake.called("revert")));
        assert!(after(start, 12.0, fake.called("back")));
        assert_eq!(
            fake.reverted.as_deref(),
            Some(&["a".into(), "b".into()][..])
        );
        assert!(fake.hold_until_seen.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_hold_from_the_applied_stage_counts_the_proofs_wait() {
        let mut fake = Fake::new(held(10, HoldFrom::Applied));
        let (log, sink) = TestLog::start();
        // Applied at `start` exactly (the run clock is the test's paused one).
        let start = Instant::now();
        fake.applied.0 = Some(sink.clock().ns_at(start.into_std()));
        fake.proof.0 = Duration::from_secs(4);
        let mut record = FaultRecord::default();
        drive(
            &mut fake,
            &mut record,
            &sink,
            start + Duration::from_secs(60),
            &CancellationToken::new(),
        )
        .await;
        drop(sink);
        log.events().await;
        assert!(after(start, 10.0, fake.called("revert")));
        assert!(after(start, 10.0, fake.hold_until_seen));
    }

    #[tokio::test(start_paused = true)]
    async fn an_unproven_fault_is_still_held_and_reverted() {
        let mut fake = Fake::new(held(5, HoldFrom::Proven));
        fake.proof.1 = None;
        let (record, stages, start) = run(&mut fake, 60, None).await;
        use FaultStage::*;
        assert_eq!(kinds(&stages), [Applied, Unverified, Reverted, Back]);
        assert_eq!(stages[1].2.as_deref(), Some("not seen"));
        assert!(record.verified_ns.is_none());
        assert!(record.reverted_ns.is_some());
        assert!(after(start, 5.0, fake.called("revert")));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_apply_reverts_only_what_it_acted_on_at_once() {
        let mut fake = Fake::new(held(30, HoldFrom::Proven));
        fake.apply_fails = Some(("b: no such container", vec!["a".into()]));
        let (record, stages, start) = run(&mut fake, 60, None).await;
        use FaultStage::*;
        assert_eq!(kinds(&stages), [Applied, Failed, Reverted, Back]);
        assert_eq!(stages[1].2.as_deref(), Some("b: no such container"));
        assert_eq!(record.error.as_deref(), Some("b: no such container"));
        assert_eq!(fake.reverted.as_deref(), Some(&["a".to_string()][..]));
        assert!(
            fake.called("prove").is_none(),
            "a failed fault is not proven"
        );
        assert!(after(start, 0.0, fake.called("revert")), "nor held");
        assert!(record.reverted_ns.is_some());
        assert!(record.verified_ns.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_fault_that_acted_on_nothing_only_fails() {
        let mut fake = Fake::new(held(30, HoldFrom::Proven));
        fake.applied = (None, None);
        fake.apply_fails = Some(("workload gone", vec![]));
        let (record, stages, _) = run(&mut fake, 60, None).await;
        assert_eq!(kinds(&stages), [FaultStage::Failed]);
        assert!(record.applied_ns.is_none());
        assert_eq!(record.error.as_deref(), Some("workload gone"));
        assert!(fake.called("revert").is_none() && fake.called("back").is_none());
        // Failing to get ready is the same, and nothing is tried.
        let mut fake = Fake::new(held(30, HoldFrom::Proven));
        fake.prepare_fails = Some("workload gone");
        let (record, stages, _) = run(&mut fake, 60, None).await;
        assert_eq!(kinds(&stages), [FaultStage::Failed]);
        assert_eq!(stages[0].2.as_deref(), Some("workload gone"));
        assert_eq!(record.error.as_deref(), Some("workload gone"));
        assert!(record.applied_ns.is_none());
        assert!(fake.called("apply").is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_hold_ends_at_once_when_the_run_is_cancelled_or_ends() {
        let mut fake = Fake::new(held(60, HoldFrom::Proven));
        let (record, stages, start) = run(&mut fake, 600, Some(Duration::from_secs(3))).await;
        assert!(kinds(&stages).contains(&FaultStage::Reverted));
        assert!(record.reverted_ns.is_some());
        assert!(after(start, 3.0, fake.called("revert")));
        let mut fake = Fake::new(held(60, HoldFrom::Proven));
        let (_, _, start) = run(&mut fake, 7, None).await;
        assert!(after(start, 7.0, fake.called("revert")));
    }

    #[tokio::test(start_paused = true)]
    async fn a_one_shot_fault_is_not_reverted_and_its_end_is_recorded() {
        let mut fake = Fake::new(None);
        fake.back = Some(Back::Seen(9_000));
        let (record, stages, _) = run(&mut fake, 60, None).await;
        assert_eq!(
            kinds(&stages),
            [FaultStage::Applied, FaultStage::Verified, FaultStage::Back]
        );
        assert_eq!(record.target_back_ns, Some(9_000));
        assert!(record.reverted_ns.is_none());
        assert!(fake.called("revert").is_none());
        // One that runs its course to a `Completed` stage (a Kubernetes pod-delete).
        let mut fake = Fake::new(None);
        fake.back = Some(Back::Completed(9_500));
        let (record, stages, _) = run(&mut fake, 60, None).await;
        assert_eq!(
            kinds(&stages),
            [
                FaultStage::Applied,
                FaultStage::Verified,
                FaultStage::Completed
            ]
        );
        assert_eq!(stages[2].0, 9_500);
        assert_eq!(record.target_back_ns, Some(9_500));
        // Not back in time: nothing recorded.
        let mut fake = Fake::new(None);
        fake.back = None;
        let (record, _, _) = run(&mut fake, 60, None).await;
        assert!(record.target_back_ns.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_revert_is_the_faults_error() {
        let mut fake = Fake::new(held(1, HoldFrom::Proven));
        fake.reverts = RevertEnds::Failed("starting a: gone");
        let (record, stages, _) = run(&mut fake, 60, None).await;
        use FaultStage::*;
        assert_eq!(kinds(&stages), [Applied, Verified, Failed]);
        assert_eq!(stages[2].2.as_deref(), Some("reverting: starting a: gone"));
        assert_eq!(record.error.as_deref(), Some("reverting: starting a: gone"));
        assert!(record.reverted_ns.is_none(), "not undone");
        assert!(fake.called("back").is_none());
        assert!(record.target_back_ns.is_none());
        // Every step tried, some failed: undone as far as it could be, at that time.
        let mut fake = Fake::new(held(1, HoldFrom::Proven));
        fake.reverts = RevertEnds::WithErrors("removing rules: busy");
        let (record, stages, _) = run(&mut fake, 60, None).await;
        // Reverted (the window ends there), with what went wrong said after it.
        assert_eq!(kinds(&stages), [Applied, Verified, Reverted, Failed, Back]);
        assert_eq!(
            stages[3].2.as_deref(),
            Some("reverting: removing rules: busy")
        );
        assert_eq!(record.error.as_deref(), Some("removing rules: busy"));
        assert!(record.reverted_ns.is_some());
        assert!(fake.called("back").is_some());
    }

    /// A fault that stopped acting before its revert keeps its proof (what it caused is real)
    /// and says so in the log, where the verdict reads it.
    #[tokio::test(start_paused = true)]
    async fn a_fault_that_ended_early_keeps_its_proof_and_says_so() {
        let mut fake = Fake::new(held(1, HoldFrom::Proven));
        fake.ended_early = Some("1 of 6 helpers ended before the revert");
        let (record, stages, _) = run(&mut fake, 60, None).await;
        use FaultStage::*;
        assert_eq!(
            kinds(&stages),
            [Applied, Verified, Reverted, EndedEarly, Back]
        );
        assert!(record.verified_ns.is_some());
        assert_eq!(
            record.ended_early.as_deref(),
            Some("1 of 6 helpers ended before the revert")
        );
        assert_eq!(stages[3].2.as_deref(), record.ended_early.as_deref());
    }

    #[tokio::test(start_paused = true)]
    async fn a_fault_that_touched_nothing_loses_its_proof() {
        let mut fake = Fake::new(held(1, HoldFrom::Proven));
        fake.touched_nothing = Some("its counters show it touched no traffic");
        let (record, stages, _) = run(&mut fake, 60, None).await;
        use FaultStage::*;
        assert_eq!(
            kinds(&stages),
            [Applied, Verified, Reverted, Unverified, Back]
        );
        assert!(record.verified_ns.is_none());
        assert!(record.reverted_ns.is_some());
        assert_eq!(
            record.error.as_deref(),
            Some("its counters show it touched no traffic")
        );
    }
}
