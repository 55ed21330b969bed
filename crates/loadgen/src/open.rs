//! The open model: requests start on a schedule (constant rate or ramp) whatever the
//! responses do, and each latency counts from the intended start, so a stall of the system
//! shows in the percentiles instead of silently slowing the load down (coordinated
//! omission, as wrk2 corrects it).
//!
//! A dedicated thread keeps the schedule: it sleeps until each intended time with the OS
//! timer (tens of µs late, where tokio's timer wheel rounds up to 1 ms) and hands the
//! request to the runtime. Every request is a task on its own connection from the pool,
//! so a slow response never delays the next start; the in-flight bound is a semaphore,
//! and a request that finds it exhausted is recorded as Dropped at its intended time.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::error::LoadError;
use crate::exchange::exchange;
use crate::mix::WeightedMix;
use crate::outcome::{ErrorKind, Observer, RequestOutcome, Resolver};
use crate::placeholder::request_id;
use crate::plan::{LoadPlan, PreparedPlan, PreparedTemplates};
use crate::rate::Schedule;
use crate::run_recorder::RunRecorder;
use crate::summary::{LoadMode, LoadSummary, RunTiming};

/// The scheduler never sleeps longer than this, so it notices cancellation promptly.
const LONGEST_NAP: Duration = Duration::from_millis(20);
/// Beyond the per-request timeout, how long to wait for in-flight requests at the end.
const DRAIN_MARGIN: Duration = Duration::from_secs(1);

/// What every request task needs.
struct OpenRun {
    templates: PreparedTemplates,
    resolver: Arc<dyn Resolver>,
    observer: Arc<dyn Observer>,
    timeout: Duration,
    id_prefix: String,
    start: Instant,
    recorder: Mutex<RunRecorder>,
}

impl OpenRun {
    fn finish(&self, outcome: &RequestOutcome, service: Option<Duration>) {
        let second = outcome
            .intended
            .saturating_duration_since(self.start)
            .as_secs();
        self.recorder
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .record(second, &outcome.result, outcome.latency, service);
        self.observer.on_outcome(outcome);
    }

    fn id_for(&self, template: usize, seq: u64) -> Option<String> {
        self.templates
            .template(template)
            .has_id
            .then(|| request_id(&self.id_prefix, seq))
    }
}

/// Runs `plan` until its duration has passed or `cancel` fires, then waits (at most the
/// timeout) for the requests in flight. Every scheduled request reaches `observer` once.
pub async fn run_open(
    plan: LoadPlan,
    resolver: Arc<dyn Resolver>,
    observer: Arc<dyn Observer>,
    cancel: CancellationToken,
) -> Result<LoadSummary, LoadError> {
    let PreparedPlan {
        templates,
        mix,
        schedule,
    } = PreparedPlan::new(&plan)?;
    let permits_total =
        u32::try_from(plan.max_in_flight).map_err(|_| LoadError::InFlightOutOfRange {
            got: plan.max_in_flight,
            max: crate::plan::MAX_IN_FLIGHT,
        })?;
    let permits = Arc::new(Semaphore::new(plan.max_in_flight));
    let start = Instant::now();
    let run = Arc::new(OpenRun {
        templates,
        resolver,
        observer,
        timeout: plan.timeout,
        id_prefix: plan.id_prefix.clone(),
        start,
        recorder: Mutex::new(RunRecorder::new(plan.timeout)),
    });

    let scheduler = Scheduler {
        run: run.clone(),
        permits: permits.clone(),
        schedule,
        mix,
        runtime: Handle::current(),
        cancel,
    };
    let sent = tokio::task::spawn_blocking(move || scheduler.run())
        .await
        .map_err(|e| LoadError::TaskFailed(e.to_string()))?;

    let drained = tokio::time::timeout(
        plan.timeout + DRAIN_MARGIN,
        permits.acquire_many(permits_total),
    )
    .await;
    if drained.is_err() {
        tracing::warn!("requests still in flight after the drain time; the summary misses them");
    }
    let elapsed = start.elapsed();
    let recorder = std::mem::replace(
        &mut *run.recorder.lock().unwrap_or_else(PoisonError::into_inner),
        RunRecorder::new(plan.timeout),
    );
    let (totals, series) = recorder.finish();
    let timing = RunTiming {
        mode: LoadMode::Open,
        rate: Some(plan.rate),
        concurrency: plan.max_in_flight,
        planned: plan.duration,
        elapsed,
        sending: sent.window,
        cancelled: sent.cancelled,
    };
    Ok(LoadSummary::build(timing, &totals, series))
}

/// The thread that keeps the schedule.
struct Scheduler {
    run: Arc<OpenRun>,
    permits: Arc<Semaphore>,
    schedule: Schedule,
    mix: WeightedMix,
    runtime: Handle,
    cancel: CancellationToken,
}

/// How the sending went.
struct SendWindow {
    /// From start until sending stopped: the planned duration when the scheduler kept up,
    /// longer when it fell behind, shorter when cancelled.
    window: Duration,
    cancelled: bool,
}

impl Scheduler {
    fn run(mut self) -> SendWindow {
        let start = self.run.start;
        for seq in 0..self.schedule.total() {
            let intended = start + self.schedule.offset(seq);
            if !self.sleep_until(intended) {
                return SendWindow {
                    window: start.elapsed(),
                    cancelled: true,
                };
            }
            let template = self.mix.next_index();
            match self.permits.clone().try_acquire_owned() {
                Ok(permit) => {
                    self.runtime
                        .spawn(send_one(self.run.clone(), seq, template, intended, permit));
                }
                Err(_) => {
                    let outcome = RequestOutcome {
                        seq,
                        template,
                        id: self.run.id_for(template, seq),
                        intended,
                        latency: Duration::ZERO,
                        send_lag: Instant::now().saturating_duration_since(intended),
                        result: Err(ErrorKind::Dropped),
                    };
                    self.run.finish(&outcome, None);
                }
            }
        }
        SendWindow {
            window: start.elapsed().max(self.schedule.duration()),
            cancelled: false,
        }
    }

    /// False when cancelled first.
    fn sleep_until(&self, deadline: Instant) -> bool {
        loop {
            if self.cancel.is_cancelled() {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            std::thread::sleep((deadline - now).min(LONGEST_NAP));
        }
    }
}

async fn send_one(
    run: Arc<OpenRun>,
    seq: u64,
    template: usize,
    intended: Instant,
    permit: OwnedSemaphorePermit,
) {
    let started = Instant::now();
    let id = run.id_for(template, seq);
    let result = match run.templates.template(template).build(id.as_deref()) {
        Ok(request) => {
            let route = run.templates.route(template, &*run.resolver);
            tokio::time::timeout(run.timeout, exchange(&route, request))
                .await
                .unwrap_or(Err(ErrorKind::Timeout))
        }
        Err(kind) => Err(kind),
    };
    let finished = Instant::now();
    let outcome = RequestOutcome {
        seq,
        template,
        id,
        intended,
        latency: finished.saturating_duration_since(intended),
        send_lag: started.saturating_duration_since(intended),
        result,
    };
    run.finish(&outcome, Some(finished.saturating_duration_since(started)));
    drop(permit);
}
