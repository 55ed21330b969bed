//! The open model: requests start on a schedule (constant rate or ramp) whatever the
//! responses do, and each latency counts from the intended start, so a stall of the system
//! shows in the percentiles instead of silently slowing the load down (coordinated
//! omission, as wrk2 corrects it).
//!
//! A dedicated thread keeps the schedule: it sleeps until each intended time with the OS
//! timer (tens of µs late, where tokio's timer wheel rounds up to 1 ms) and hands the
//! request to the runtime. Every request is a task on its own connection from the pool,
//! so a slow response never delays the next start. At the in-flight bound a request waits
//! for a slot in a queue of intended times ([`crate::admission`]); its latency still counts
//! from its intended time, and a wait past its timeout makes it a timeout recorded at the
//! timeout. Only an overflow of that queue drops a request, and a dropped request is
//! recorded at the timeout too, so nothing unsent can lower a percentile.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

use crate::admission::{Admission, Arrival, Pending};
use crate::error::LoadError;
use crate::exchange::exchange;
use crate::mix::WeightedMix;
use crate::outcome::{ErrorKind, Observer, RequestOutcome, Resolver};
use crate::placeholder::request_id;
use crate::plan::{LoadPlan, PreparedPlan, PreparedTemplates};
use crate::rate::Schedule;
use crate::run_recorder::RunRecorder;
use crate::summary::{LoadMode, LoadSummary, RunTiming};

/// The scheduler never sleeps longer than this, so it notices cancellation promptly and
/// turns requests that waited past their timeout into timeouts close to on time.
const LONGEST_NAP: Duration = Duration::from_millis(20);
/// How often the end of a run looks whether everything has finished.
const DRAIN_POLL: Duration = Duration::from_millis(5);
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
    runtime: Handle,
    recorder: Mutex<RunRecorder>,
    admission: Mutex<Admission>,
}

impl OpenRun {
    /// `service` is the time from the actual send; `None` for a request never sent.
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

    fn admission(&self) -> MutexGuard<'_, Admission> {
        self.admission
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn id_for(&self, template: usize, seq: u64) -> Option<String> {
        self.templates
            .template(template)
            .has_id
            .then(|| request_id(&self.id_prefix, seq))
    }

    /// A request that never reached a connection, recorded at its timeout: it waited that
    /// long for a slot (`Timeout`), or found even the queue full (`Dropped`).
    fn unsent(&self, p: Pending, kind: ErrorKind) {
        let outcome = RequestOutcome {
            seq: p.seq,
            template: p.template,
            id: self.id_for(p.template, p.seq),
            intended: p.intended,
            latency: p.lag + self.timeout,
            send_lag: p.lag,
            queued: if kind == ErrorKind::Timeout {
                self.timeout
            } else {
                Duration::ZERO
            },
            sent: false,
            result: Err(kind),
        };
        self.finish(&outcome, None);
    }

    fn expired(&self, expired: Vec<Pending>) {
        for p in expired {
            self.unsent(p, ErrorKind::Timeout);
        }
    }

    /// Records the requests that waited too long, at `now`.
    fn sweep(&self, now: Instant) {
        let expired = self.admission().expire(now);
        self.expired(expired);
    }

    /// Starts `p` on the runtime; `granted` is when it got its slot.
    fn spawn(self: &Arc<Self>, p: Pending, granted: Instant) {
        self.runtime.spawn(send_one(self.clone(), p, granted));
    }

    /// A request ended: its slot goes to the oldest waiting request, if any.
    fn release_slot(self: &Arc<Self>) {
        let now = Instant::now();
        let released = self.admission().release(now);
        self.expired(released.expired);
        if let Some(next) = released.next {
            self.spawn(next, now);
        }
    }
}

/// Runs `plan` until its duration has passed or `cancel` fires, then waits (at most the
/// timeout) for the requests in flight or waiting for a slot. Every scheduled request
/// reaches `observer` once.
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
    let start = Instant::now();
    let run = Arc::new(OpenRun {
        templates,
        resolver,
        observer,
        timeout: plan.timeout,
        id_prefix: plan.id_prefix.clone(),
        start,
        runtime: Handle::current(),
        recorder: Mutex::new(RunRecorder::new(plan.timeout)),
        admission: Mutex::new(Admission::new(
            plan.max_in_flight,
            plan.max_queued,
            plan.timeout,
        )),
    });

    let scheduler = Scheduler {
        run: run.clone(),
        schedule,
        mix,
        cancel,
    };
    let sent = tokio::task::spawn_blocking(move || scheduler.run())
        .await
        .map_err(|e| LoadError::TaskFailed(e.to_string()))?;

    let elapsed = start.elapsed();
    let recorder = std::mem::replace(
        &mut *run.recorder.lock().unwrap_or_else(PoisonError::into_inner),
        RunRecorder::new(plan.timeout),
    );
    let peak_waiting = run.admission().peak_waiting;
    let (totals, series) = recorder.finish();
    let timing = RunTiming {
        mode: LoadMode::Open,
        rate: Some(plan.rate),
        concurrency: plan.max_in_flight,
        planned: plan.duration,
        elapsed,
        sending: sent.window,
        cancelled: sent.cancelled,
        peak_waiting: peak_waiting as u64,
    };
    Ok(LoadSummary::build(timing, &totals, series))
}

/// The thread that keeps the schedule.
struct Scheduler {
    run: Arc<OpenRun>,
    schedule: Schedule,
    mix: WeightedMix,
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
        let sent = self.schedule_all();
        self.drain();
        sent
    }

    fn schedule_all(&mut self) -> SendWindow {
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
            let now = Instant::now();
            let p = Pending {
                seq,
                template,
                intended,
                lag: now.saturating_duration_since(intended),
            };
            let (expired, arrival) = {
                let mut admission = self.run.admission();
                (admission.expire(now), admission.arrive(p))
            };
            self.run.expired(expired);
            match arrival {
                Arrival::Send(p) => self.run.spawn(p, now),
                Arrival::Queued => {}
                Arrival::Dropped(p) => self.run.unsent(p, ErrorKind::Dropped),
            }
        }
        SendWindow {
            window: start.elapsed().max(self.schedule.duration()),
            cancelled: false,
        }
    }

    /// Waits until nothing is in flight or waiting. Every waiting request's deadline is at
    /// most a timeout away, and so is every in-flight request's, so this ends within the
    /// timeout unless the machine is starved; then what is left misses the summary.
    fn drain(&self) {
        let give_up = Instant::now() + self.run.timeout + DRAIN_MARGIN;
        loop {
            let now = Instant::now();
            self.run.sweep(now);
            if self.run.admission().is_idle() {
                return;
            }
            if now >= give_up {
                let left = self.run.admission().take_waiting();
                self.run.expired(left);
                if !self.run.admission().is_idle() {
                    tracing::warn!(
                        "requests still in flight after the drain time; the summary misses them"
                    );
                }
                return;
            }
            std::thread::sleep(DRAIN_POLL);
        }
    }

    /// False when cancelled first. Requests that waited past their timeout are recorded
    /// on the way, so they are not held back until a slot frees.
    fn sleep_until(&self, deadline: Instant) -> bool {
        loop {
            if self.cancel.is_cancelled() {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            self.run.sweep(now);
            std::thread::sleep((deadline - now).min(LONGEST_NAP));
        }
    }
}

/// Sends one request that holds a slot since `granted`. Its timeout counts from when the
/// generator got to it (`Pending::dispatched`), so a wait for the slot uses it up; the
/// runtime's own delay in starting this task is the generator's lateness and extends it.
async fn send_one(run: Arc<OpenRun>, mut p: Pending, granted: Instant) {
    let started = Instant::now();
    let queued = granted.saturating_duration_since(p.dispatched());
    p.lag += started.saturating_duration_since(granted);
    // The slot was granted before the deadline (`Admission::release` hands out no expired
    // request), so the deadline is not in the past; `max` only guards against a clock quirk.
    let deadline = p.deadline(run.timeout).max(started);
    let id = run.id_for(p.template, p.seq);
    let result = match run.templates.template(p.template).build(id.as_deref()) {
        Ok(request) => {
            let route = run.templates.route(p.template, &*run.resolver);
            tokio::time::timeout_at(deadline.into(), exchange(&route, request))
                .await
                .unwrap_or(Err(ErrorKind::Timeout))
        }
        Err(kind) => Err(kind),
    };
    // A timeout is recorded at the timeout, not when the timer happened to fire.
    let finished = if result == Err(ErrorKind::Timeout) {
        Instant::now().min(deadline)
    } else {
        Instant::now()
    };
    let outcome = RequestOutcome {
        seq: p.seq,
        template: p.template,
        id,
        intended: p.intended,
        latency: finished.saturating_duration_since(p.intended),
        send_lag: p.lag,
        queued,
        sent: true,
        result,
    };
    run.finish(&outcome, Some(finished.saturating_duration_since(started)));
    run.release_slot();
}
