//! Probes: small checks run at their own interval all through a run (http, tcp, exec in a
//! container, container health), each result placed on the timeline.
//!
//! A check decides recovery, so it must reach the service itself and nothing that answers in
//! its place: `http` and `tcp` connect to the container's own address (see
//! [`AddressBook`]), not to Docker's proxy on the published port; a `tcp` check also proves the
//! service *accepted* the connection, since the kernel completes the handshake for a frozen
//! (paused) process; a `health` check does not trust Docker's `healthy` until Docker has run
//! a health check since the container was last seen paused or stopped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::Docker;
use tokio_util::sync::CancellationToken;

use crate::stack::AddressBook;
use crate::timeline::{EventKind, EventSink, SkippedTicks};

mod accepted;
mod exec;
mod health;
pub mod http;
mod kubernetes;
pub mod prometheus;
mod tcp;

use health::Seen;

/// A probe ready to run: names resolved against the stack.
#[derive(Debug, Clone)]
pub struct Probe {
    /// The probe's name from the scenario (key of recovery and the timeline's probe events).
    pub name: String,
    /// The service (Kubernetes: workload) it watches; an `http` probe's is its URL's host.
    pub service: String,
    /// What each check does.
    pub check: Check,
    /// Interval between check starts (a fixed grid; a tick that falls due while a check
    /// still runs is skipped, and recorded with that check).
    pub every: Duration,
    /// How long one check may take before it counts as failed.
    pub timeout: Duration,
}

/// What one probe check does; success is stated per variant.
#[derive(Debug, Clone)]
pub enum Check {
    /// GET `url` (`http://service:port/...`, resolved through the address book on every
    /// check) and expect `status` (any 2xx when `None`) and what `expect` asks of the answer.
    Http {
        /// The URL as written in the scenario, `service:port` as its host.
        url: String,
        /// The HTTP status expected; `None` = any 2xx.
        status: Option<u16>,
        /// Headers sent; body, JSON and latency checks.
        expect: http::HttpExpect,
    },
    /// Connect to `service:port`, and see the service accept the connection.
    Tcp {
        /// Compose service to connect to.
        service: String,
        /// Its container port.
        port: u16,
    },
    /// Run `command` in the service's first container; exit 0 is success.
    Exec {
        /// Compose service to run it in.
        service: String,
        /// The command and its arguments (no shell unless given one).
        command: Vec<String>,
    },
    /// The service's first container reports `healthy`, from a health check Docker ran since
    /// the probe last saw it paused or not running.
    Health {
        /// Compose service whose first container is looked at.
        service: String,
    },
    /// An instant PromQL query against the stack's Prometheus is truthy (matches, and every
    /// value is non-zero).
    Prometheus {
        /// The service Prometheus runs as.
        service: String,
        /// Its HTTP port.
        port: u16,
        /// The PromQL expression.
        query: String,
    },
    /// Kubernetes: the workload (Deployment or StatefulSet) has at least `ready` Ready
    /// replicas (its desired count when `None`), as the API reports it.
    Kubernetes {
        /// The Deployment or StatefulSet name in the run's namespace.
        workload: String,
        /// Ready replicas needed; `None` = the workload's desired count.
        ready: Option<u32>,
    },
}

impl Check {
    /// The kind as scenario files spell it (`http`, `tcp`, `exec`, `health`, `kubernetes`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Http { .. } => "http",
            Self::Tcp { .. } => "tcp",
            Self::Exec { .. } => "exec",
            Self::Health { .. } => "health",
            Self::Kubernetes { .. } => "kubernetes",
            Self::Prometheus { .. } => "prometheus",
        }
    }
}

/// What a probe needs from the run.
#[derive(Clone)]
pub struct ProbeEnv {
    /// HTTP client for `http` checks (`https://` too), and Prometheus's plain one.
    pub http: crate::stack::http_client::StackHttp,
    /// Docker API client for `exec` and `health` checks.
    pub docker: Docker,
    /// The compose project name whose containers `exec` and `health` look up.
    pub project: String,
    /// Where `service:port` is reached (the container's own address).
    pub book: Arc<AddressBook>,
    /// Where each check's result is recorded on the timeline.
    pub sink: EventSink,
    /// The API client and namespace of a Kubernetes stack (`kubernetes` checks).
    pub kube: Option<(kube::Client, String)>,
}

/// Runs `probe` until `cancel`; one check at a time, started on a fixed grid. A check still
/// running (or begun late) when later ticks fall due holds them: they get no check of their
/// own and are recorded with it ([`SkippedTicks`]), so probe success is judged over every
/// scheduled tick. Left out, an outage whose checks hang to their timeout would count a few
/// failures against a healthy tail of many successes (coordinated omission).
pub async fn run_probe(probe: Probe, env: ProbeEnv, cancel: CancellationToken) {
    let mut grid = Grid::new(tokio::time::Instant::now(), probe.every);
    let mut seen = Seen::default();
    loop {
        let due = grid.due();
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep_until(due) => {}
        }
        let t_started = env.sink.clock().now_ns();
        let started = Instant::now();
        let lag = started.saturating_duration_since(due.into_std());
        let result =
            tokio::time::timeout(probe.timeout, check_once(&probe.check, &env, &mut seen)).await;
        let (ok, detail) = match result {
            Ok(Ok(())) => (true, None),
            Ok(Err(e)) => (false, Some(e)),
            Err(_) => (false, Some(format!("timed out after {:?}", probe.timeout))),
        };
        let held = grid.finished(tokio::time::Instant::now());
        let due_ns = t_started.saturating_sub(lag.as_nanos() as u64);
        // A success is placed when its answer came back, a failure when the check began. A
        // check begun while the service was still down can succeed once it is back (a
        // connection queued by a paused container's kernel is accepted on unpause): placed
        // at its start it would end the outage up to a probe timeout too early.
        let t = if ok {
            env.sink.clock().now_ns()
        } else {
            t_started
        };
        env.sink.record_at(
            t,
            EventKind::Probe {
                probe: probe.name.clone(),
                ok,
                latency_ns: started.elapsed().as_nanos() as u64,
                lag_ns: lag.as_nanos() as u64,
                detail,
                skipped: skipped_ticks(due_ns, probe.every, held),
            },
        );
    }
}

/// The ticks after a check due at `due_ns` that it held, as the event records them.
fn skipped_ticks(due_ns: u64, every: Duration, held: u64) -> Option<SkippedTicks> {
    let every_ns = every.as_nanos() as u64;
    (held > 0).then(|| SkippedTicks {
        first_ns: due_ns.saturating_add(every_ns),
        every_ns,
        count: held,
    })
}

/// A probe's schedule: tick `k` is due at `origin + k * every`. The harness's own lateness
/// stays in each check's `lag_ns`; a check never inherits the one before it's overrun
/// (a check begun at once for a tick missed long ago would look late by that overrun, and a
/// recovery it saw would be excused as the harness's lateness).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grid {
    origin: tokio::time::Instant,
    every: Duration,
    next: u64,
}

impl Grid {
    /// A grid whose first tick is due at `origin`.
    pub(crate) fn new(origin: tokio::time::Instant, every: Duration) -> Self {
        Self {
            origin,
            every: every.max(Duration::from_nanos(1)),
            next: 0,
        }
    }

    /// When the next check is due.
    pub(crate) fn due(&self) -> tokio::time::Instant {
        self.origin + self.tick_offset(self.next)
    }

    /// The check due at [`Self::due`] finished at `now`: returns how many later ticks fell due
    /// by then (they get no check), and moves on to the first tick after `now`.
    pub(crate) fn finished(&mut self, now: tokio::time::Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.origin).as_nanos();
        let last_due = (elapsed / self.every.as_nanos()) as u64;
        let held = last_due.saturating_sub(self.next);
        self.next = self.next.max(last_due) + 1;
        held
    }

    fn tick_offset(&self, k: u64) -> Duration {
        Duration::from_nanos((self.every.as_nanos() as u64).saturating_mul(k))
    }
}

/// One check of `probe` now, outside the timeline (the steady-state wait before a run's load).
pub async fn check_now(probe: &Probe, env: &ProbeEnv) -> Result<(), String> {
    let mut seen = Seen::default();
    match tokio::time::timeout(probe.timeout, check_once(&probe.check, env, &mut seen)).await {
        Ok(r) => r,
        Err(_) => Err(format!("timed out after {:?}", probe.timeout)),
    }
}

async fn check_once(check: &Check, env: &ProbeEnv, seen: &mut Seen) -> Result<(), String> {
    match check {
        Check::Http {
            url,
            status,
            expect,
        } => http::check(&env.http, url, *status, expect).await,
        Check::Tcp { service, port } => tcp::check(env, service, *port).await,
        Check::Exec { service, command } => exec::check(env, service, command).await,
        Check::Health { service } => health::check(env, service, seen).await,
        Check::Kubernetes { workload, ready } => kubernetes::check(env, workload, *ready).await,
        Check::Prometheus {
            service,
            port,
            query,
        } => prometheus::check(env, service, *port, query).await,
    }
}

/// A reqwest error in a few words (`timeout`, a TLS failure named as the load generator names
/// it — `certificate: invalid peer certificate: UnknownIssuer` —, `connect error`, else its
/// chain of causes).
fn describe_reqwest(e: &reqwest::Error) -> String {
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        if let Some(tls) = chaosgate_load::rustls_error_in(inner) {
            return format!("{}: {tls}", chaosgate_load::rustls_error_kind(tls).as_str());
        }
        src = inner.source();
    }
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "connect error".into()
    } else {
        let mut s = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(inner) = src {
            s = format!("{s}: {inner}");
            src = inner.source();
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_refused_inside_nested_io_errors_is_named() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let inner = std::io::Error::new(std::io::ErrorKind::InvalidData, tls);
        let outer = std::io::Error::other(inner);
        let found = chaosgate_load::rustls_error_in(&outer).expect("found");
        assert_eq!(
            chaosgate_load::rustls_error_kind(found).as_str(),
            "certificate"
        );
        assert!(chaosgate_load::rustls_error_in(&std::io::Error::other("plain")).is_none());
    }

    fn at(origin: tokio::time::Instant, ms: u64) -> tokio::time::Instant {
        origin + Duration::from_millis(ms)
    }

    #[test]
    fn a_check_that_hangs_holds_the_ticks_that_fall_due_and_the_next_is_on_the_grid() {
        let o = tokio::time::Instant::now();
        let mut g = Grid::new(o, Duration::from_millis(100));
        assert_eq!(g.due(), o);
        // A quick check: nothing held, the next tick is the next one.
        assert_eq!(g.finished(at(o, 3)), 0);
        assert_eq!(g.due(), at(o, 100));
        // Due at 100, hangs to its 500 ms timeout: 200..=600 fell due meanwhile.
        assert_eq!(g.finished(at(o, 600)), 5);
        assert_eq!(g.due(), at(o, 700));
        // Overran by less than a tick: the tick at 800 was held, the next is on time at 900,
        // not begun at once for 800 (it would look 50 ms late through no fault of the harness).
        assert_eq!(g.finished(at(o, 850)), 1);
        assert_eq!(g.due(), at(o, 900));
        // Begun late by the harness and finished before the next tick: nothing held.
        assert_eq!(g.finished(at(o, 960)), 0);
        assert_eq!(g.due(), at(o, 1000));
    }

    #[test]
    fn skipped_ticks_follow_the_check_due_time() {
        assert_eq!(skipped_ticks(1_000, Duration::from_nanos(100), 0), None);
        assert_eq!(
            skipped_ticks(1_000, Duration::from_nanos(100), 4),
            Some(SkippedTicks {
                first_ns: 1_100,
                every_ns: 100,
                count: 4
            })
        );
    }
}
