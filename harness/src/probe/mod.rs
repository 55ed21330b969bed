//! Probes: small checks run at their own interval all through a run (http, tcp, exec in a
//! container, container health), each result placed on the timeline.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::Docker;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::stack::AddressBook;
use crate::timeline::{EventKind, EventSink};

/// A probe ready to run: names resolved against the stack.
#[derive(Debug, Clone)]
pub struct Probe {
    pub name: String,
    pub check: Check,
    pub every: Duration,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub enum Check {
    /// GET `url` (`http://service:port/...`, resolved through the address book on every
    /// check) and expect `status` (any 2xx when `None`).
    Http { url: String, status: Option<u16> },
    /// Connect to `service:port`.
    Tcp { service: String, port: u16 },
    /// Run `command` in the service's first container; exit 0 is success.
    Exec {
        service: String,
        command: Vec<String>,
    },
    /// The service's first container reports `healthy`.
    Health { service: String },
}

/// What a probe needs from the run.
#[derive(Clone)]
pub struct ProbeEnv {
    pub http: reqwest::Client,
    pub docker: Docker,
    pub project: String,
    pub book: Arc<AddressBook>,
    pub sink: EventSink,
}

/// Runs `probe` until `cancel`; one check at a time, started on a fixed grid (a slow check
/// delays only itself: missed ticks are skipped, never bunched).
pub async fn run_probe(probe: Probe, env: ProbeEnv, cancel: CancellationToken) {
    let mut ticker = tokio::time::interval(probe.every);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        let due = tokio::select! {
            _ = cancel.cancelled() => return,
            due = ticker.tick() => due,
        };
        let t = env.sink.clock().now_ns();
        let started = Instant::now();
        let lag = started.saturating_duration_since(due.into_std());
        let result = tokio::time::timeout(probe.timeout, check_once(&probe.check, &env)).await;
        let (ok, detail) = match result {
            Ok(Ok(())) => (true, None),
            Ok(Err(e)) => (false, Some(e)),
            Err(_) => (false, Some(format!("timed out after {:?}", probe.timeout))),
        };
        env.sink.record_at(
            t,
            EventKind::Probe {
                probe: probe.name.clone(),
                ok,
                latency_ns: started.elapsed().as_nanos() as u64,
                lag_ns: lag.as_nanos() as u64,
                detail,
            },
        );
    }
}

async fn check_once(check: &Check, env: &ProbeEnv) -> Result<(), String> {
    match check {
        Check::Http { url, status } => {
            let resolved = env.book.rewrite_url(url);
            let resp = env
                .http
                .get(&resolved)
                .send()
                .await
                .map_err(|e| describe_reqwest(&e))?;
            let code = resp.status().as_u16();
            let ok = match status {
                Some(want) => code == *want,
                None => resp.status().is_success(),
            };
            if ok {
                Ok(())
            } else {
                Err(format!("status {code}"))
            }
        }
        Check::Tcp { service, port } => {
            let addr = env
                .book
                .lookup(service, *port)
                .ok_or_else(|| format!("{service}:{port} is not published on 127.0.0.1"))?;
            tokio::net::TcpStream::connect(addr)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        Check::Exec { service, command } => exec::run(env, service, command).await,
        Check::Health { service } => {
            let c = first_container(env, service).await?;
            match c.health.as_deref() {
                Some("healthy") if c.running && !c.paused => Ok(()),
                Some(h) => Err(format!("{} is {h}", c.name)),
                None if c.running => Err(format!("{} has no healthcheck", c.name)),
                None => Err(format!("{} is not running", c.name)),
            }
        }
    }
}

async fn first_container(
    env: &ProbeEnv,
    service: &str,
) -> Result<crate::stack::ContainerInfo, String> {
    crate::stack::docker::project_containers(&env.docker, &env.project)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|c| c.service == service)
        .ok_or_else(|| format!("service {service} has no container"))
}

fn describe_reqwest(e: &reqwest::Error) -> String {
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

mod exec {
    //! `exec` probes: a command inside a container through the Docker API.

    use bollard::exec::StartExecResults;
    use bollard::models::ExecConfig;
    use futures::StreamExt;

    use super::{ProbeEnv, first_container};

    pub async fn run(env: &ProbeEnv, service: &str, command: &[String]) -> Result<(), String> {
        let c = first_container(env, service).await?;
        let exec = env
            .docker
            .create_exec(
                &c.id,
                ExecConfig {
                    cmd: Some(command.to_vec()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| e.to_string())?;
        let mut output = String::new();
        if let StartExecResults::Attached {
            output: mut stream, ..
        } = env
            .docker
            .start_exec(&exec.id, None)
            .await
            .map_err(|e| e.to_string())?
        {
            while let Some(Ok(chunk)) = stream.next().await {
                if output.len() < 512 {
                    output.push_str(&chunk.to_string());
                }
            }
        }
        let inspect = env
            .docker
            .inspect_exec(&exec.id)
            .await
            .map_err(|e| e.to_string())?;
        match inspect.exit_code {
            Some(0) => Ok(()),
            code => Err(format!(
                "exit {} {}",
                code.map(|c| c.to_string()).unwrap_or_else(|| "?".into()),
                output.trim()
            )),
        }
    }
}
