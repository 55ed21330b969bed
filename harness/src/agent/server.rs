//! `chaosgate agent`: the HTTP side of the node agent ([`super`] has the API).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chaosgate_proxy::netns_rules::{CommandOutput, CommandRunner, SystemRunner};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio_util::sync::CancellationToken;

use super::procfs::{container_main_pid, pod_sandbox_pid, processes, read_proc};
use super::{
    ExecRequest, Health, KillReply, KillRequest, PodPidReply, PodPidRequest, TOKEN_HEADER,
};

/// The programs `/v1/exec` runs in a pod's network namespace: what the rules of `loss` and
/// `partition` need (`iptables`), their counters, and the diagnostics the rule code reads.
const ALLOWED_PROGRAMS: [&str; 4] = ["iptables", "tc", "ip", "ss"];

/// How long a kill waits for the process to be gone.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// Why the agent could not serve. Exit code 3 (infrastructure) at the CLI edge.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listening address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The server stopped with an I/O error.
    #[error("serving: {0}")]
    Serve(std::io::Error),
}

struct Agent {
    token: String,
    proc_root: PathBuf,
    runner: SystemRunner,
}

/// A refused or failed request: its status and plain-text reason.
struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, self.1).into_response()
    }
}

/// Whether `program args` is a command the agent runs: `nsenter -t PID -n P ...` with `P` one
/// of [`ALLOWED_PROGRAMS`]. Errors: why not, for a 400 answer.
pub fn allowed_command(program: &str, args: &[String]) -> Result<(), String> {
    let shape = "only `nsenter -t PID -n (iptables|tc|ip|ss) ...` is run";
    if program != "nsenter" {
        return Err(format!("`{program}` is not run here: {shape}"));
    }
    match args {
        [t, pid, n, inner, ..]
            if t == "-t"
                && n == "-n"
                && pid.parse::<u32>().is_ok_and(|p| p > 1)
                && ALLOWED_PROGRAMS.contains(&inner.as_str()) =>
        {
            Ok(())
        }
        _ => Err(format!(
            "`nsenter {}` is not run here: {shape}",
            args.join(" ")
        )),
    }
}

/// Serves the agent API on `listen` until `cancel`, answering only requests that carry
/// `token`; `/proc` is read from `proc_root` (the node's, with `hostPID`).
pub async fn serve(
    listen: SocketAddr,
    token: String,
    proc_root: PathBuf,
    cancel: CancellationToken,
) -> Result<(), ServeError> {
    let agent = Arc::new(Agent {
        token,
        proc_root,
        runner: SystemRunner::default(),
    });
    let app = Router::new()
        .route("/v1/health", get(health))
        .route("/v1/pod-pid", post(pod_pid))
        .route("/v1/exec", post(exec))
        .route("/v1/kill", post(kill_container))
        .route_layer(middleware::from_fn_with_state(agent.clone(), authorize))
        .with_state(agent);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: listen,
            source,
        })?;
    tracing::info!("chaosgate agent listening on {listen}");
    axum::serve(listener, app)
        .with_graceful_shutdown(cancel.cancelled_owned())
        .await
        .map_err(ServeError::Serve)
}

async fn authorize(State(agent): State<Arc<Agent>>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok());
    if given != Some(agent.token.as_str()) {
        return Refusal(
            StatusCode::UNAUTHORIZED,
            format!("missing or wrong {TOKEN_HEADER}"),
        )
        .into_response();
    }
    next.run(request).await
}

async fn health() -> Json<Health> {
    Json(Health {
        version: env!("CARGO_PKG_VERSION").to_string(),
    })
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Refusal> + Send + 'static,
) -> Result<T, Refusal> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Refusal(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}

async fn pod_pid(
    State(agent): State<Arc<Agent>>,
    Json(req): Json<PodPidRequest>,
) -> Result<Json<PodPidReply>, Refusal> {
    blocking(move || {
        pod_sandbox_pid(&processes(&agent.proc_root), &req.pod_uid)
            .map(|pid| Json(PodPidReply { pid }))
            .ok_or_else(|| {
                Refusal(
                    StatusCode::NOT_FOUND,
                    format!("no process of pod {} on this node", req.pod_uid),
                )
            })
    })
    .await
}

async fn exec(
    State(agent): State<Arc<Agent>>,
    Json(req): Json<ExecRequest>,
) -> Result<Json<CommandOutput>, Refusal> {
    allowed_command(&req.program, &req.args).map_err(|e| Refusal(StatusCode::BAD_REQUEST, e))?;
    blocking(move || {
        // `allowed_command` checked the shape: args[1] is the PID.
        let pid: u32 = req.args[1].parse().unwrap_or_default();
        if in_node_netns(&agent.proc_root, pid) {
            return Err(Refusal(
                StatusCode::BAD_REQUEST,
                format!("pid {pid} is in the node's network namespace: a rule there would hit the whole node"),
            ));
        }
        let out = agent
            .runner
            .run(&req.program, &req.args)
            .map_err(|e| Refusal(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        tracing::info!("{} {} → {:?}", req.program, req.args.join(" "), out.code);
        Ok(Json(out))
    })
    .await
}

/// Whether process `pid` shares the network namespace of the node's init (PID 1 with
/// `hostPID`): a pod on the host network, or no pod at all.
fn in_node_netns(proc_root: &std::path::Path, pid: u32) -> bool {
    let ns = |p: u32| std::fs::read_link(proc_root.join(p.to_string()).join("ns/net")).ok();
    matches!((ns(pid), ns(1)), (Some(a), Some(b)) if a == b)
}

async fn kill_container(
    State(agent): State<Arc<Agent>>,
    Json(req): Json<KillRequest>,
) -> Result<Json<KillReply>, Refusal> {
    blocking(move || {
        let pid = container_main_pid(&processes(&agent.proc_root), &req.container_id).ok_or_else(
            || {
                Refusal(
                    StatusCode::NOT_FOUND,
                    format!(
                        "no live process of container {} on this node",
                        req.container_id
                    ),
                )
            },
        )?;
        let raw = i32::try_from(pid)
            .map_err(|e| Refusal(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        kill(Pid::from_raw(raw), Signal::SIGKILL).map_err(|e| {
            Refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("SIGKILL of pid {pid}: {e}"),
            )
        })?;
        let sent = Instant::now();
        // Gone means exited or a zombie: the shim reaps it on its own time.
        let mut gone_after = None;
        while sent.elapsed() < KILL_WAIT {
            if read_proc(&agent.proc_root, pid).is_none_or(|p| p.state == 'Z') {
                gone_after = Some(sent.elapsed());
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        tracing::info!("SIGKILL of container {} (pid {pid})", req.container_id);
        Ok(Json(KillReply {
            pid,
            gone: gone_after.is_some(),
            gone_after_ms: gone_after.map(|d| d.as_millis() as u64),
        }))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn only_rule_commands_in_a_namespace_are_run() {
        assert!(allowed_command("nsenter", &args("-t 1234 -n iptables -w -A OUTPUT")).is_ok());
        assert!(allowed_command("nsenter", &args("-t 1234 -n ss -K dst 10.0.0.1")).is_ok());
        for (program, a) in [
            ("iptables", "-F"),
            ("sh", "-c reboot"),
            ("nsenter", "-t 1234 -n sh -c id"),
            ("nsenter", "-t 1234 -m -n iptables -F"),
            ("nsenter", "-t 1 -n iptables -F"),
            ("nsenter", "-t self -n iptables -F"),
            ("nsenter", "-t 1234 -n"),
        ] {
            let e = allowed_command(program, &args(a)).expect_err(a);
            assert!(e.contains("only `nsenter -t PID -n"), "{e}");
        }
    }

    /// The HTTP surface on a real socket: the token is required, and a command, pod or
    /// container outside what the agent serves is refused with its status and reason.
    #[tokio::test]
    async fn requests_without_the_token_or_outside_the_api_are_refused() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let cancel = CancellationToken::new();
        let server = tokio::spawn(serve(addr, "s3cret".into(), "/proc".into(), cancel.clone()));
        let http = reqwest::Client::new();
        let url = |p: &str| format!("http://{addr}{p}");
        let mut health = None;
        for _ in 0..100 {
            match http.get(url("/v1/health")).send().await {
                Ok(r) => {
                    health = Some(r);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        assert_eq!(health.expect("the agent answers").status(), 401);
        let authed = |r: reqwest::RequestBuilder| r.header(TOKEN_HEADER, "s3cret");
        let ok = authed(http.get(url("/v1/health")))
            .send()
            .await
            .expect("health");
        assert_eq!(ok.status(), 200);
        let h: Health = ok.json().await.expect("json");
        assert_eq!(h.version, env!("CARGO_PKG_VERSION"));

        let sh = authed(http.post(url("/v1/exec")))
            .json(&ExecRequest {
                program: "sh".into(),
                args: vec!["-c".into(), "id".into()],
            })
            .send()
            .await
            .expect("exec");
        assert_eq!(sh.status(), 400);
        assert!(sh.text().await.expect("text").contains("only `nsenter"));

        // This test runs in the node's network namespace (PID 1's) here: a rule command aimed
        // at it is refused before it runs.
        let me = std::process::id();
        let ns = |p: &str| std::fs::read_link(format!("/proc/{p}/ns/net")).ok();
        if ns("self").is_some() && ns("self") == ns("1") {
            let host = authed(http.post(url("/v1/exec")))
                .json(&ExecRequest {
                    program: "nsenter".into(),
                    args: args(&format!("-t {me} -n iptables -S")),
                })
                .send()
                .await
                .expect("exec");
            assert_eq!(host.status(), 400);
            assert!(
                host.text()
                    .await
                    .expect("text")
                    .contains("node's network namespace")
            );
        }

        let pod = authed(http.post(url("/v1/pod-pid")))
            .json(&PodPidRequest {
                pod_uid: "00000000-0000-0000-0000-000000000000".into(),
            })
            .send()
            .await
            .expect("pod-pid");
        assert_eq!(pod.status(), 404);
        let kill = authed(http.post(url("/v1/kill")))
            .json(&KillRequest {
                container_id: "0123456789abcdef0123".into(),
            })
            .send()
            .await
            .expect("kill");
        assert_eq!(kill.status(), 404);

        cancel.cancel();
        server.await.expect("joined").expect("served");
    }
}
