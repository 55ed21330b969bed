//! The closed model, for benchmarking: a fixed number of connections, each sending its
//! next request as soon as the previous one ended. Latency is from the actual send, so it
//! hides stalls (coordinated omission); use the open model to judge latency.
//!
//! As oha does, connections are spread over one single-threaded runtime per CPU: no work
//! stealing, and each thread records into its own totals, merged once at the end.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::error::LoadError;
use crate::exchange::{Route, exchange};
use crate::outcome::{AsWritten, ErrorKind};
use crate::plan::{PreparedTemplates, check_in_flight, check_timeout};
use crate::pool::ConnectionPool;
use crate::series::{SecondPartial, SecondSeries};
use crate::summary::{LoadMode, LoadSummary, RunTiming};
use crate::template::RequestTemplate;
use crate::tls::TlsPlan;
use crate::totals::RunTotals;

/// Sends `template` on `connections` connections for `duration`, as fast as the server
/// answers. Id placeholders are filled with the sequence number of each connection's
/// requests prefixed by the connection number (`c3-17`).
pub async fn run_closed(
    template: RequestTemplate,
    connections: usize,
    duration: Duration,
    timeout: Duration,
    tls: &TlsPlan,
) -> Result<LoadSummary, LoadError> {
    run_closed_until(
        template,
        connections,
        duration,
        timeout,
        tls,
        CancellationToken::new(),
    )
    .await
}

/// [`run_closed`] that stops early when `cancel` fires.
pub async fn run_closed_until(
    template: RequestTemplate,
    connections: usize,
    duration: Duration,
    timeout: Duration,
    tls: &TlsPlan,
    cancel: CancellationToken,
) -> Result<LoadSummary, LoadError> {
    check_in_flight(connections)?;
    check_timeout(timeout)?;
    if duration.is_zero() {
        return Err(LoadError::ZeroDuration);
    }
    let templates = Arc::new(PreparedTemplates::new(
        std::slice::from_ref(&template),
        1,
        tls,
    )?);
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(connections);
    let start = Instant::now();
    let deadline = start + duration;
    let series = Arc::new(Mutex::new(SecondSeries::new(
        SecondSeries::window_for_timeout(timeout),
    )));

    let mut finished = Vec::with_capacity(threads);
    for thread_index in 0..threads {
        // Spread the connections evenly: the first `connections % threads` get one more.
        let share = connections / threads + usize::from(thread_index < connections % threads);
        let first_connection =
            thread_index * (connections / threads) + thread_index.min(connections % threads);
        let (done_tx, done_rx) = oneshot::channel();
        let worker = Worker {
            templates: templates.clone(),
            series: series.clone(),
            start,
            deadline,
            timeout,
            cancel: cancel.clone(),
        };
        std::thread::Builder::new()
            .name(format!("chaosgate-load-{thread_index}"))
            .spawn(move || {
                let _ = done_tx.send(worker.run(first_connection, share));
            })
            .map_err(LoadError::Runtime)?;
        finished.push(done_rx);
    }

    let mut totals = RunTotals::new();
    for done in finished {
        let thread_totals = done
            .await
            .map_err(|_| LoadError::TaskFailed("a load thread stopped without its results".into()))?
            .map_err(LoadError::Runtime)?;
        totals.merge(&thread_totals);
    }
    let elapsed = start.elapsed();
    let series = Arc::try_unwrap(series)
        .map_err(|_| LoadError::TaskFailed("a load thread still holds the series".into()))?
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .finish();
    let cancelled = cancel.is_cancelled() && elapsed < duration;
    let timing = RunTiming {
        mode: LoadMode::Closed,
        rate: None,
        concurrency: connections,
        planned: duration,
        elapsed,
        sending: if cancelled { elapsed } else { duration },
        cancelled,
        peak_waiting: 0,
    };
    Ok(LoadSummary::build(timing, &totals, series))
}

/// One thread's share of the connections.
struct Worker {
    templates: Arc<PreparedTemplates>,
    series: Arc<Mutex<SecondSeries>>,
    start: Instant,
    deadline: Instant,
    timeout: Duration,
    cancel: CancellationToken,
}

/// A thread's records: its totals, and the second it is filling before handing it to the
/// shared series (one lock per thread per second, not per request).
struct ThreadRecords {
    totals: RunTotals,
    second: u64,
    partial: SecondPartial,
    series: Arc<Mutex<SecondSeries>>,
}

impl ThreadRecords {
    fn record(&mut self, second: u64, result: &Result<u16, ErrorKind>, latency: Duration) {
        self.totals.record(result, latency, None, true);
        if second != self.second {
            self.flush();
            self.second = second;
        }
        self.partial.record(result, latency, true);
    }

    fn flush(&mut self) {
        if self.partial.is_empty() {
            return;
        }
        self.series
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .merge(self.second, &self.partial);
        self.partial = SecondPartial::new();
    }
}

impl Worker {
    fn run(self, first_connection: usize, connections: usize) -> std::io::Result<RunTotals> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let records = Rc::new(RefCell::new(ThreadRecords {
            totals: RunTotals::new(),
            second: 0,
            partial: SecondPartial::new(),
            series: self.series.clone(),
        }));
        let worker = Rc::new(self);
        let local = tokio::task::LocalSet::new();
        for connection in first_connection..first_connection + connections {
            local.spawn_local(worker.clone().connection_loop(connection, records.clone()));
        }
        runtime.block_on(local);
        let mut records = Rc::try_unwrap(records)
            .map_err(|_| std::io::Error::other("connection tasks outlived their runtime"))?
            .into_inner();
        records.flush();
        Ok(records.totals)
    }

    async fn connection_loop(
        self: Rc<Self>,
        connection: usize,
        records: Rc<RefCell<ThreadRecords>>,
    ) {
        let pool = ConnectionPool::new(1);
        let template = self.templates.template(0);
        let route = Route {
            pool: &pool,
            ..self.templates.route(0, &AsWritten)
        };
        let mut seq = 0u64;
        while Instant::now() < self.deadline && !self.cancel.is_cancelled() {
            let id = template.has_id.then(|| format!("c{connection}-{seq}"));
            seq += 1;
            let sent_at = Instant::now();
            let result = match template.build(id.as_deref()) {
                Ok(request) => tokio::select! {
                    r = tokio::time::timeout(self.timeout, exchange(&route, request)) => {
                        r.unwrap_or(Err(ErrorKind::Timeout))
                    }
                    _ = self.cancel.cancelled() => break,
                },
                Err(kind) => Err(kind),
            };
            let finished = Instant::now();
            let second = finished.saturating_duration_since(self.start).as_secs();
            records.borrow_mut().record(
                second,
                &result,
                finished.saturating_duration_since(sent_at),
            );
        }
    }
}
