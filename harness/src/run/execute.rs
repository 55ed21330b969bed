//! Executing a [`RunSpec`]: the one place that owns the stack's lifetime.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bollard::Docker;
use futures::FutureExt;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::RunError;
use super::backend::{Compose, Kube, RunBackend};
use super::progress::{Progress, ProgressState};
use crate::artifacts::RunArtifacts;
use crate::fault::schedule::{RunWindow, fault_task};
use crate::measure;
use crate::plan::RunSpec;
use crate::probe::{ProbeEnv, run_probe};
use crate::stack::compose::{ComposeStack, ComposeTool};
use crate::stack::docker::connect;
use crate::stack::kube::KubeStack;
use crate::stack::{AddressBook, ContainerInfo, sweep};
use crate::timeline::{EventKind, EventLog, EventSink, RunClock};

/// How to run, beyond what the [`RunSpec`] says.
pub struct RunOptions {
    /// This run's own directory (created by the caller).
    pub dir: PathBuf,
    /// Leave the stack up at the end (and print how to remove it).
    pub keep: bool,
    /// Cancelled on Ctrl-C / SIGTERM.
    pub cancel: CancellationToken,
    /// How progress is shown on stderr.
    pub progress: Progress,
}

/// Brings the stack up, runs everything, and tears the stack down whatever happens: a
/// returned error, a Ctrl-C (`opts.cancel`) or a panic inside the run.
pub async fn execute(spec: &RunSpec, opts: RunOptions) -> Result<RunArtifacts, RunError> {
    let mut notes = Vec::new();
    if spec.tls.insecure {
        // In the report, where a reader of a passing run must see it.
        notes.push(
            "TLS: insecure — the certificates of the https:// URLs were not verified \
             (`tls: { insecure: true }` or --insecure)"
                .to_string(),
        );
    }
    let run_id = run_id(spec.seed);
    let project = spec
        .existing
        .clone()
        .unwrap_or_else(|| project_name(&spec.name, &run_id));
    match &spec.kube {
        None => {
            let docker = connect().await?;
            let tool = ComposeTool::detect().await?;
            for p in sweep::sweep_leftovers(&docker).await? {
                notes.push(format!(
                    "removed leftovers of an earlier run that did not clean up: {p}"
                ));
            }
            if let Some(existing) = &spec.existing {
                // The report must not read as a run on a stack built from its files.
                notes.push(format!(
                    "attached to the running compose project `{existing}` (stack.existing): \
                     nothing was brought up or torn down (network faults wire its paths \
                     first, closing the connections open on them once)"
                ));
            }
            let stack = ComposeStack::new(
                docker.clone(),
                tool,
                project.clone(),
                &run_id,
                spec.compose_files.clone(),
                spec.env.clone(),
                spec.services.clone(),
                &opts.dir,
                spec.existing.is_some(),
            )?;
            let backend = Compose { stack, docker };
            run_on(spec, &opts, backend, run_id, notes).await
        }
        Some(kube) => {
            // Docker only serves `crash` (the node's runtime, on the local cluster); a cluster
            // elsewhere runs without it.
            let docker = Docker::connect_with_local_defaults()
                .map_err(|e| crate::stack::StackError::DockerUnreachable(e.to_string()))?;
            // The node agent only for the faults that act on a node.
            let mut kube = kube.clone();
            if !spec.needs_node_agent() {
                kube.agent = None;
            }
            let stack = KubeStack::new(&kube, &spec.env, &project, &run_id).await?;
            // Listing namespaces takes a cluster-wide right a namespaced Role (`existing: true`
            // on a shared cluster) does not give: without it, nothing is swept and the run goes on.
            match crate::stack::kube::sweep(stack.client(), stack.namespace()).await {
                Ok(swept) => {
                    for ns in swept {
                        notes.push(format!(
                            "deleting namespace {ns}, left by an earlier run that did not clean up"
                        ));
                    }
                }
                Err(e) => notes.push(format!(
                    "not looking for namespaces left by earlier runs: {e}"
                )),
            }
            run_on(spec, &opts, Kube { stack, docker }, run_id, notes).await
        }
    }
}

/// Runs `spec` on `stack` and tears it down (or keeps it) whatever the run did.
pub(super) async fn run_on<B: RunBackend>(
    spec: &RunSpec,
    opts: &RunOptions,
    mut stack: B,
    run_id: String,
    notes: Vec<String>,
) -> Result<RunArtifacts, RunError> {
    let body = std::panic::AssertUnwindSafe(run_with_stack(spec, opts, &mut stack, &run_id))
        .catch_unwind()
        .await;
    let down_started = Instant::now();
    let kept = if opts.keep && !matches!(body, Err(_) | Ok(Err(_))) {
        Some(stack.keep().await)
    } else {
        let line = stack.down_line();
        if let Some(line) = &line {
            opts.progress.line(line);
        }
        if let Err(e) = stack.down().await {
            tracing::error!("tearing the stack down: {e}");
        }
        if line.is_some() {
            opts.progress.line(&format!(
                "namespace deleted in {:.1}s",
                down_started.elapsed().as_secs_f64()
            ));
        }
        None
    };
    let teardown_took = down_started.elapsed();
    match body {
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(RunError::Panicked(msg))
        }
        Ok(Err(e)) => Err(e),
        Ok(Ok(mut body)) => {
            body.teardown_took = teardown_took;
            body.kept_stack = kept;
            body.run_id = run_id;
            body.notes.splice(0..0, notes);
            Ok(body)
        }
    }
}

fn run_id(seed: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!(
        "{:x}{:04x}",
        now % 0xffff_ffff,
        (seed ^ std::process::id() as u64) & 0xffff
    )
}

/// `^[a-z0-9][a-z0-9_-]*$`, unique per run, recognisably ours.
fn project_name(scenario: &str, run_id: &str) -> String {
    let clean: String = scenario
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(30)
        .collect();
    format!("cg-{clean}-{run_id}")
}

async fn cancellable<T>(
    cancel: &CancellationToken,
    fut: impl std::future::Future<Output = T>,
) -> Result<T, RunError> {
    tokio::select! {
        r = fut => Ok(r),
        _ = cancel.cancelled() => Err(RunError::Interrupted),
    }
}

/// Waits (up to `bound`) until the stack's Prometheus answers with its rules, then checks
/// that it parses every `prometheus` probe's and `prom` SLO's query and has every alert the SLOs name. Errors: never answered (its last error), or an
/// alert it does not have (a scenario naming a rule the stack does not ship).
async fn wait_prometheus(
    env: &ProbeEnv,
    plan: &crate::prometheus::PrometheusPlan,
    queries: &[&str],
    bound: Duration,
) -> Result<(), String> {
    let until = tokio::time::Instant::now() + bound;
    loop {
        match crate::prometheus::rules(env.http.plain(), &env.book, plan).await {
            Ok(have) => {
                for q in queries {
                    crate::prometheus::check_query(env.http.plain(), &env.book, plan, q).await?;
                }
                return crate::prometheus::check_alerts(&have, plan);
            }
            Err(e) if tokio::time::Instant::now() >= until => {
                return Err(format!(
                    "the stack's Prometheus never answered within the ready timeout: {e}"
                ));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// On Kubernetes, Ready pods are not yet a usable stack (the reference gateway is Ready
/// before its first database connection; a Service's node port rejects connections until
/// kube-proxy has programmed its endpoints): the load starts once every http/tcp probe has
/// passed, and every address the load connects to has accepted a connection,
/// [`STEADY_CHECKS`] times in a row (the steady state), or after `bound` with a note.
const STEADY_CHECKS: u32 = 3;

/// How long one connection to a load target may take in [`wait_steady`].
const STEADY_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

async fn wait_steady(
    spec: &RunSpec,
    probe_env: &ProbeEnv,
    bound: Duration,
) -> Result<Duration, String> {
    let started = Instant::now();
    let mut streak = 0;
    let mut last = String::new();
    let checks: Vec<_> = spec
        .probes
        .iter()
        .filter(|p| {
            matches!(
                p.check,
                crate::probe::Check::Http { .. } | crate::probe::Check::Tcp { .. }
            )
        })
        .collect();
    let load_targets = crate::plan::load_targets(spec);
    while streak < STEADY_CHECKS {
        let mut all = true;
        for p in &checks {
            if let Err(e) = crate::probe::check_now(p, probe_env).await {
                all = false;
                last = format!("probe `{}`: {e}", p.name);
            }
        }
        for t in &load_targets {
            if let Err(e) = accepts_connection(&probe_env.book, &t.service, t.port).await {
                all = false;
                last = format!("{} {}:{}: {e}", t.used_as, t.service, t.port);
            }
        }
        streak = if all { streak + 1 } else { 0 };
        if started.elapsed() >= bound {
            return Err(last);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(started.elapsed())
}

/// Whether `service:port`, at the address the load uses, accepts a TCP connection within
/// [`STEADY_CONNECT_TIMEOUT`].
async fn accepts_connection(
    book: &crate::stack::AddressBook,
    service: &str,
    port: u16,
) -> Result<(), String> {
    let target = book
        .target(service, port)
        .ok_or_else(|| "no known address".to_string())?;
    match tokio::time::timeout(
        STEADY_CONNECT_TIMEOUT,
        tokio::net::TcpStream::connect(target.addr),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("{} ({})", e, target.addr)),
        Err(_) => Err(format!(
            "no connection within {STEADY_CONNECT_TIMEOUT:?} ({})",
            target.addr
        )),
    }
}

/// A run on a stack that is being brought up, phase by phase: bring up, wire, start the
/// sources (timeline, probes, load, faults), hold until the end, settle, measure. Returns
/// with the stack still up; [`run_on`] tears it down.
async fn run_with_stack<B: RunBackend>(
    spec: &RunSpec,
    opts: &RunOptions,
    stack: &mut B,
    run_id: &str,
) -> Result<RunArtifacts, RunError> {
    let up = bring_up(spec, opts, stack).await?;
    // Proxy faults' paths go through their interception from now until the end of this
    // function (fault/network/wiring.rs): a fault then only adds and removes its toxic.
    let _wiring = cancellable(&opts.cancel, stack.wire(spec, &up.containers, run_id)).await??;
    let timeline = open_timeline(spec, opts, &*stack, &up).await?;
    let sources = start_sources(spec, opts, &*stack, &timeline, run_id)?;
    let held = hold(spec, opts, sources, &timeline.sink).await;
    let settled = settle(spec, stack, up, timeline, held).await?;
    measure_run(spec, opts, &*stack, settled).await
}

/// What [`bring_up`] leaves: the ready stack's members and how long it took.
struct Ready {
    containers: Vec<ContainerInfo>,
    ready_after: Duration,
}

/// Phase 1: the stack up and ready (`stack.ready_timeout`, exit 3 after).
async fn bring_up<B: RunBackend>(
    spec: &RunSpec,
    opts: &RunOptions,
    stack: &mut B,
) -> Result<Ready, RunError> {
    let up_started = Instant::now();
    let doing = if spec.existing.is_some() {
        "attaching to the running project"
    } else {
        "bringing up"
    };
    opts.progress
        .line(&format!("{doing} {} ({})", spec.name, stack.project()));
    cancellable(&opts.cancel, stack.up()).await??;
    let containers = cancellable(&opts.cancel, stack.wait_ready(spec.ready_timeout)).await??;
    let ready_after = up_started.elapsed();
    opts.progress.line(&format!(
        "stack ready after {:.1}s: {} {}",
        ready_after.as_secs_f64(),
        containers.len(),
        stack.members()
    ));
    Ok(Ready {
        containers,
        ready_after,
    })
}

/// The run's one clock and what records onto it: the event log, the address book, the
/// stack's own events, and the probes' environment.
struct Timeline {
    events_path: PathBuf,
    clock: RunClock,
    log: EventLog,
    sink: EventSink,
    book: Arc<AddressBook>,
    events_tx: broadcast::Sender<crate::stack::events::ContainerEvent>,
    recorder: tokio::task::JoinHandle<()>,
    recorder_cancel: CancellationToken,
    probe_env: ProbeEnv,
}

/// Phase 2: the clock starts; addresses are known and checked, the stack's events recorded,
/// and (Kubernetes) the probes' steady state reached before anything is measured.
async fn open_timeline<B: RunBackend>(
    spec: &RunSpec,
    opts: &RunOptions,
    stack: &B,
    up: &Ready,
) -> Result<Timeline, RunError> {
    let events_path = opts.dir.join("events.jsonl");
    let clock = RunClock::start();
    let (log, sink) = EventLog::create(&events_path, clock).map_err(|source| RunError::Io {
        path: events_path.clone(),
        source,
    })?;
    let book = Arc::new(AddressBook::new());
    book.refresh(&up.containers);
    stack.fixed_addresses(&book).await?;
    if let Some(note) = book.check_direct(Duration::from_millis(500)).await {
        sink.note(note);
    }
    // What the containers really listen on, before any load: a port the scenario names that
    // nothing listens on ends the bring-up here (exit 3, the stack torn down as always).
    let bound = spec.ready_timeout.saturating_sub(up.ready_after);
    for note in cancellable(&opts.cancel, stack.check_listening(spec, bound)).await?? {
        sink.note(note);
    }
    // The recorder outlives the work: reverting faults at the end still needs its events.
    let recorder_cancel = CancellationToken::new();
    let (events_tx, recorder) = stack
        .record_events(&sink, book.clone(), recorder_cancel.clone())
        .await;
    let (docker, kube) = stack.probe_clients();
    let probe_env = ProbeEnv {
        http: crate::stack::http_client::StackHttp::new(book.clone(), &spec.tls, 1)
            .map_err(RunError::Load)?,
        docker,
        project: stack.project().to_string(),
        book: book.clone(),
        sink: sink.clone(),
        kube,
    };
    if let Some(p) = &spec.prometheus {
        let queries: Vec<&str> = spec
            .probes
            .iter()
            .filter_map(|p| match &p.check {
                crate::probe::Check::Prometheus { query, .. } => Some(query.as_str()),
                _ => None,
            })
            .chain(p.queries.iter().map(String::as_str))
            .collect();
        cancellable(
            &opts.cancel,
            wait_prometheus(&probe_env, p, &queries, bound),
        )
        .await?
        .map_err(RunError::Prometheus)?;
    }
    if stack.waits_for_steady_state() {
        match cancellable(&opts.cancel, wait_steady(spec, &probe_env, bound)).await? {
            Ok(took) => opts.progress.line(&format!(
                "steady state after {:.1}s more (every http/tcp probe and load target passed {STEADY_CHECKS} times in a row)",
                took.as_secs_f64()
            )),
            Err(last) => {
                return Err(RunError::Stack(crate::stack::StackError::NeverHealthy {
                    timeout: spec.ready_timeout,
                    detail: format!(
                        "  pods Ready, but the probes and load targets never passed {STEADY_CHECKS} times in a row; last failure: {last}"
                    ),
                }));
            }
        }
    }
    Ok(Timeline {
        events_path,
        clock,
        log,
        sink,
        book,
        events_tx,
        recorder,
        recorder_cancel,
        probe_env,
    })
}

type LoadTask =
    tokio::task::JoinHandle<Result<chaosgate_load::LoadSummary, chaosgate_load::LoadError>>;

/// Everything that runs during the measured part, started on the run clock.
struct Sources {
    /// Cancelled at the run's end (or earlier): probes, faults and progress stop.
    work: CancellationToken,
    run_end: tokio::time::Instant,
    progress_task: Option<tokio::task::JoinHandle<()>>,
    probe_tasks: Vec<tokio::task::JoinHandle<()>>,
    load_stop: CancellationToken,
    load_task: Option<LoadTask>,
    fault_tasks: Vec<tokio::task::JoinHandle<crate::fault::FaultRecord>>,
    fail_fast: Option<tokio::sync::oneshot::Receiver<crate::verdict::early::EarlyStop>>,
}

/// Phase 3: probes, the load, every fault's schedule and the fail-fast monitor start.
fn start_sources<B: RunBackend>(
    spec: &RunSpec,
    opts: &RunOptions,
    stack: &B,
    t: &Timeline,
    run_id: &str,
) -> Result<Sources, RunError> {
    let work = opts.cancel.child_token();
    let run_end = tokio::time::Instant::from_std(t.clock.instant_at(0)) + spec.duration;
    let state = Arc::new(ProgressState::default());
    let progress_task = opts
        .progress
        .spawn(state.clone(), t.clock, spec.duration, work.clone());
    let mut probe_tasks: Vec<_> = spec
        .probes
        .iter()
        .map(|p| tokio::spawn(run_probe(p.clone(), t.probe_env.clone(), work.clone())))
        .collect();
    if let Some(p) = spec.prometheus.clone().filter(|p| p.watches()) {
        probe_tasks.push(tokio::spawn(crate::prometheus::watch(
            t.probe_env.http.plain().clone(),
            t.book.clone(),
            p,
            t.sink.clone(),
            work.clone(),
        )));
    }

    // The load's schedule counts from its own start, a moment after the run clock's (the
    // probes, the recorder and the address checks start first: ~0.2 s measured). Cut at the
    // run's end, it lost that moment's worth of requests (1980 of `rate: 100/s` for 20 s), so
    // the run's end does not stop it: only an interrupt or fail-fast does, and the run waits
    // for its schedule to run out.
    let load_stop = opts.cancel.child_token();
    let load_task = spec.load.clone().map(|plan| {
        let observer = Arc::new(RequestRecorder {
            sink: t.sink.clone(),
            state: state.clone(),
        });
        let resolver: Arc<dyn chaosgate_load::Resolver> = t.book.clone();
        let stop = load_stop.clone();
        let sink = t.sink.clone();
        tokio::spawn(async move {
            sink.record(EventKind::Load { started: true });
            let r = chaosgate_load::run_open(plan, resolver, observer, stop).await;
            sink.record(EventKind::Load { started: false });
            r
        })
    });

    let fault_tasks: Vec<_> = spec
        .faults
        .iter()
        .map(|f| {
            let state = state.clone();
            let showing = move |fault| state.set_fault(fault);
            // Each task owns its sink clone: the log is only finished once every one is gone.
            let window = RunWindow {
                sink: t.sink.clone(),
                run_end,
                cancel: work.clone(),
            };
            let backend = stack.faults(t.events_tx.clone(), (run_id.to_string(), spec.seed));
            tokio::spawn(fault_task(backend, f.clone(), window, showing))
        })
        .collect();

    let fail_fast = spec.fail_fast.as_ref().map(|slos| {
        super::fail_fast::spawn(
            super::fail_fast::plan(spec, slos),
            t.events_path.clone(),
            t.clock,
            work.clone(),
        )
    });
    Ok(Sources {
        work,
        run_end,
        progress_task,
        probe_tasks,
        load_stop,
        load_task,
        fault_tasks,
        fail_fast,
    })
}

/// What [`hold`] saw: how the measured part ended.
struct Held {
    sources: Sources,
    interrupted: bool,
    stopped_early: Option<crate::verdict::early::EarlyStop>,
    load_result: Option<
        Result<
            Result<chaosgate_load::LoadSummary, chaosgate_load::LoadError>,
            tokio::task::JoinError,
        >,
    >,
}

/// Phase 4: until the run's end and the load's schedule have run out, or Ctrl-C, or
/// fail-fast finds an SLO certainly breached.
async fn hold(spec: &RunSpec, opts: &RunOptions, mut s: Sources, sink: &EventSink) -> Held {
    let stopped = super::fail_fast::stopped(s.fail_fast.take());
    tokio::pin!(stopped);
    let (mut interrupted, mut stopped_early) = tokio::select! {
        _ = tokio::time::sleep_until(s.run_end) => (false, None),
        _ = opts.cancel.cancelled() => (true, None),
        stop = &mut stopped => (false, Some(stop)),
    };
    let mut load_result = None;
    if !interrupted
        && stopped_early.is_none()
        && let Some(task) = s.load_task.as_mut()
    {
        tokio::select! {
            r = task => load_result = Some(r),
            _ = opts.cancel.cancelled() => interrupted = true,
            stop = &mut stopped => stopped_early = Some(stop),
        }
    }
    s.load_stop.cancel();
    if let Some(stop) = &stopped_early {
        let line = format!(
            "fail-fast: stopping at {:.1}s of {:.0}s: `{}` is certainly breached: {}",
            stop.at_ns as f64 / 1e9,
            spec.duration.as_secs_f64(),
            stop.slo,
            stop.reason
        );
        sink.note(line.clone());
        opts.progress.line(&line);
    }
    s.work.cancel();
    Held {
        sources: s,
        interrupted,
        stopped_early,
        load_result,
    }
}

/// What [`settle`] leaves: every source stopped and joined, the log complete on disk.
struct Settled {
    /// Remarks on how the run went, for the report.
    notes: Vec<String>,
    up: Ready,
    events_path: PathBuf,
    clock: RunClock,
    book: Arc<AddressBook>,
    faults: Vec<crate::fault::FaultRecord>,
    load: Option<chaosgate_load::LoadSummary>,
    measured_for: Duration,
    run_end_ns: u64,
    final_containers: Vec<ContainerInfo>,
    stopped_early: Option<crate::verdict::early::EarlyStop>,
}

/// Phase 5: faults reverted and their records in, the load and probes joined, the stack's
/// last events recorded, the log finished. A panic in a task is the run's panic.
async fn settle<B: RunBackend>(
    spec: &RunSpec,
    stack: &B,
    up: Ready,
    t: Timeline,
    held: Held,
) -> Result<Settled, RunError> {
    let Held {
        sources: s,
        interrupted,
        stopped_early,
        load_result,
    } = held;
    let mut written = Vec::new();
    for task in s.fault_tasks {
        match task.await {
            Ok(r) => written.push(r),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => {}
        }
    }
    let measured_for = t.clock.elapsed();
    let run_end_ns = t.clock.now_ns();
    let load_result = match (load_result, s.load_task) {
        (Some(r), _) => Some(r),
        (None, Some(task)) => Some(task.await),
        (None, None) => None,
    };
    let load = match load_result {
        Some(r) => match r {
            Ok(Ok(summary)) => Some(summary),
            Ok(Err(e)) => return Err(RunError::Load(e.to_string())),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => return Err(RunError::Load(e.to_string())),
        },
        None => None,
    };
    for task in s.probe_tasks {
        let _ = task.await;
    }
    if let Some(task) = s.progress_task {
        let _ = task.await;
    }
    // Give Docker's last events (a restart after the final fault) a moment to arrive.
    tokio::time::sleep(Duration::from_millis(300)).await;
    t.recorder_cancel.cancel();
    let _ = t.recorder.await;
    let final_containers = match stack.containers().await {
        Ok(c) => c,
        Err(_) => up.containers.clone(),
    };
    drop(t.probe_env);
    drop(t.events_tx);
    drop(t.sink);
    t.log.finish().await.map_err(|source| RunError::Io {
        path: t.events_path.clone(),
        source,
    })?;
    if interrupted {
        return Err(RunError::Interrupted);
    }
    // The log is the one story of every fault: the records the verdict and the reports read
    // are read back from it. The fault tasks' own records must tell the same one.
    let planned: Vec<&str> = spec.faults.iter().map(|f| f.name.as_str()).collect();
    let faults =
        crate::fault::FaultRecord::from_log(&t.events_path, &planned).map_err(|source| {
            RunError::Io {
                path: t.events_path.clone(),
                source,
            }
        })?;
    let mut notes = Vec::new();
    for w in &written {
        if faults.iter().find(|r| r.name == w.name) != Some(w) {
            tracing::error!(fault = %w.name, "the fault's record and its events disagree: {w:?}");
            notes.push(format!(
                "harness error: fault `{}`'s record in memory and in events.jsonl disagree; the report shows the log's",
                w.name
            ));
        }
    }
    Ok(Settled {
        notes,
        up,
        events_path: t.events_path,
        clock: t.clock,
        book: t.book,
        faults,
        load,
        measured_for,
        run_end_ns,
        final_containers,
        stopped_early,
    })
}

/// Phase 6: acknowledged writes read back, and every figure measured from the event log.
async fn measure_run<B: RunBackend>(
    spec: &RunSpec,
    opts: &RunOptions,
    stack: &B,
    s: Settled,
) -> Result<RunArtifacts, RunError> {
    let io = |source| RunError::Io {
        path: s.events_path.clone(),
        source,
    };
    let writes = if spec.writes.is_empty() {
        None
    } else {
        opts.progress.line("reading acknowledged writes back");
        let http = crate::stack::http_client::StackHttp::new(s.book.clone(), &spec.tls, 16)
            .map_err(RunError::Load)?;
        let rb = crate::measure::lost_writes::ReadBack {
            writes: &spec.writes,
            http: &http,
        };
        Some(
            crate::measure::lost_writes::check(&s.events_path, rb)
                .await
                .map_err(io)?,
        )
    };
    let analysis =
        measure::analyze(&s.events_path, s.run_end_ns, spec.recovery_consecutive).map_err(io)?;
    Ok(RunArtifacts {
        project: stack.project().to_string(),
        run_id: String::new(),
        started_unix_ns: s.clock.origin_unix_ns(),
        events_path: s.events_path.clone(),
        faults: s.faults,
        writes,
        containers: s.final_containers,
        load: s.load,
        ready_after: s.up.ready_after,
        measured_for: s.measured_for,
        teardown_took: Duration::ZERO,
        kept_stack: None,
        notes: s
            .notes
            .into_iter()
            .chain(late_revert_notes(&spec.faults, &analysis.faults))
            .collect(),
        analysis,
        stopped_early: s.stopped_early,
    })
}

/// A note for each fault undone later than its `duration` after it was applied (beyond
/// [`crate::verdict::LATE_FAULT`]): a stop's hold counts from its proof, which can take the
/// container's grace time, and undoing takes its own time. Its window (`during:`, recovery,
/// failover) already runs to the real revert; the reader must not take the planned length
/// for the fault's.
fn late_revert_notes(
    planned: &[crate::plan::PlannedFault],
    windows: &[measure::FaultWindow],
) -> Vec<String> {
    let secs = |ns: u64| format!("{:.3}s", ns as f64 / 1e9);
    windows
        .iter()
        .filter_map(|w| {
            let duration = planned.iter().find(|p| p.name == w.fault)?.duration?;
            let reverted = w.reverted_ns?;
            let planned_end = w.applied_ns.saturating_add(duration.as_nanos() as u64);
            let late = reverted.saturating_sub(planned_end);
            if Duration::from_nanos(late) <= crate::verdict::LATE_FAULT {
                return None;
            }
            let proof = w
                .verified_ns
                .filter(|v| *v > w.applied_ns)
                .map(|v| format!("; its proof came {} after applying", secs(v - w.applied_ns)))
                .unwrap_or_default();
            Some(format!(
                "fault `{}` (duration {}) was applied at {} and reverted at {}, {} later than \
                 planned{proof}: its window, recovery and failover run to the real revert",
                w.fault,
                crate::units::format_duration(duration),
                secs(w.applied_ns),
                secs(reverted),
                secs(late),
            ))
        })
        .collect()
}

/// Feeds each request's outcome onto the timeline at its *intended* send time.
struct RequestRecorder {
    sink: EventSink,
    state: Arc<ProgressState>,
}

impl chaosgate_load::Observer for RequestRecorder {
    fn on_outcome(&self, o: &chaosgate_load::RequestOutcome) {
        let (status, error) = match &o.result {
            Ok(s) => (Some(*s), None),
            Err(kind) => (None, Some(kind.as_str().to_string())),
        };
        let ok = status.is_some_and(|s| (200..300).contains(&s));
        self.state.requests.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.state.errors.fetch_add(1, Ordering::Relaxed);
        }
        let t = self.sink.clock().ns_at(o.intended);
        self.sink.record_at(
            t,
            EventKind::Request {
                seq: o.seq,
                template: o.template,
                id: o.id.clone(),
                latency_ns: o.latency.as_nanos() as u64,
                lag_ns: o.send_lag.as_nanos() as u64,
                status,
                error,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The steady state's load-target check: an address that accepts counts, one that refuses
    /// (a node port kube-proxy still rejects) or that nothing maps does not, and says why.
    #[tokio::test]
    async fn a_load_target_counts_only_once_it_accepts_connections() {
        let book = crate::stack::AddressBook::new();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        book.set_fixed("gateway", 8080, addr);
        assert_eq!(accepts_connection(&book, "gateway", 8080).await, Ok(()));
        drop(listener);
        let refused = accepts_connection(&book, "gateway", 8080)
            .await
            .unwrap_err();
        assert!(refused.contains(&addr.to_string()), "{refused}");
        assert_eq!(
            accepts_connection(&book, "gateway", 9090).await,
            Err("no known address".to_string())
        );
    }

    const S: u64 = 1_000_000_000;

    /// The example: a `stop` with `duration: 8s`, applied at 2 s, its proof 4.3 s
    /// later, reverted at 14.381 s. The revert is noted with its real time; the fault's
    /// window (what `during:`, recovery and failover read) runs to it.
    #[test]
    fn a_late_revert_is_noted_and_its_window_runs_to_it() {
        let stage = |t: u64, stage| (t, "stop".to_string(), stage, vec!["web-1".into()], None);
        let events = [
            stage(2 * S, crate::timeline::FaultStage::Applied),
            stage(6_300_000_000, crate::timeline::FaultStage::Verified),
            stage(14_381_000_000, crate::timeline::FaultStage::Reverted),
        ];
        let windows = measure::fault_windows(&events, &[], 30 * S);
        assert_eq!(windows[0].end_ns, 14_381_000_000);
        let eight = [planned("stop", Some(Duration::from_secs(8)))];
        let notes = late_revert_notes(&eight, &windows);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].contains("reverted at 14.381s, 4.381s later than planned"),
            "{}",
            notes[0]
        );
        assert!(notes[0].contains("proof came 4.300s"), "{}", notes[0]);

        // Reverted within the tolerance of its planned end, or never planned to be: no note.
        let on_time = [
            stage(2 * S, crate::timeline::FaultStage::Applied),
            stage(10 * S + 20_000_000, crate::timeline::FaultStage::Reverted),
        ];
        let windows = measure::fault_windows(&on_time, &[], 30 * S);
        assert!(late_revert_notes(&eight, &windows).is_empty());
        assert!(late_revert_notes(&[planned("stop", None)], &windows).is_empty());
    }

    fn planned(name: &str, duration: Option<Duration>) -> crate::plan::PlannedFault {
        use crate::fault::kinds::{Backend, FaultKind, Stop};
        crate::plan::PlannedFault {
            at: Duration::from_secs(2),
            duration,
            pick: crate::plan::Pick::First,
            ..crate::plan::PlannedFault::new(name, "web", FaultKind::Stop(Stop), Backend::Compose)
        }
    }

    #[test]
    fn project_names_are_valid_compose_names() {
        let p = project_name("Replica Crash!", "abc");
        assert_eq!(p, "cg-replica-crash--abc");
        let re_ok = p
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        assert!(re_ok);
    }
}
