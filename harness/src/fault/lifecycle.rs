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

/// What applying did.
pub struct Applied<U> {
    /// When the fault counts as applied (the first target acted on, or the moment before acting,
    /// as the kind measures it); `None`: nothing was acted on, and no `Applied` stage is recorded.
    pub at_ns: Option<u64>,
    /// Said with the `Applied` stage (`grace period 0`, `3 -> 1 replicas`).
    pub detail: Option<String>,
    /// Whether it worked, and what is to be undone.
    pub outcome: Outcome<U>,
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
    /// When the hold ends, once known (from the start with [`HoldFrom::Applied`]).
    pub hold_until: Option<Instant>,
}

/// How one kind of fault acts on its targets. The kind keeps what it needs between the steps
/// (events subscribed to before acting, the time the revert began); [`drive`] calls the steps in
/// order and records what they return.
pub trait Lifecycle {
    /// What a successful apply leaves for [`Lifecycle::revert`] to undo.
    type Undo: Send;

    /// What the fault acts on, as the record and the timeline name it; asked after applying
    /// (a Kubernetes workload's name is only known then).
    fn targets(&self) -> Vec<String>;

    /// For how long the fault is held before it is reverted; `None`: it is not reverted (a
    /// crash runs its course, and a kill without a duration stays).
    fn hold(&self) -> Option<Hold>;

    /// Acts on every target.
    fn apply(
        &mut self,
        evidence: &mut Evidence,
    ) -> impl Future<Output = Applied<Self::Undo>> + Send;

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

    /// Why, judged from what reverting counted, the fault touched nothing (its proof is
    /// withdrawn then); `None` when it did or the kind cannot tell.
    fn touched_nothing(&self) -> Option<String> {
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
    let applied = fault.apply(&mut record.evidence).await;
    record.targets = fault.targets();
    if let Some(t) = applied.at_ns {
        record.applied_ns = Some(t);
        stage_at(sink, record, FaultStage::Applied, applied.detail, t);
        if let Some(Hold {
            duration,
            from: HoldFrom::Applied,
        }) = hold
        {
            let applied_at = Instant::from_std(sink.clock().instant_at(t));
            window.hold_until = Some((applied_at + duration).min(run_end));
        }
    }
    let undo = match applied.outcome {
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
            record.reverted_ns = Some(sink.clock().now_ns());
            record.error = Some(e.clone());
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
    if let Some(why) = fault.touched_nothing() {
        record.verified_ns = None;
        record.error.get_or_insert_with(|| why.clone());
        stage(sink, record, FaultStage::Unverified, Some(why));
    }
    let back = fault.back(&mut record.evidence, window).await;
    came_back(sink, record, back);
}

fn came_back(sink: &EventSink, record: &mut FaultRecord, back: Option<Back>) {
    match back {
        Some(Back::Seen(t)) => record.target_back_ns = Some(t),
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
