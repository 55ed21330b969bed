//! Which compose tool this machine has, and running it with a time limit.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use crate::stack::StackError;

/// The compose CLI that brings the stack up; [`StackError::NoComposeTool`] (exit 3) when neither
/// runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComposeTool {
    /// `docker compose` (the v2 plugin).
    V2,
    /// `docker-compose` (the v1 Python tool, what these machines have).
    V1,
}

impl ComposeTool {
    /// `CHAOSGATE_COMPOSE=docker-compose|docker compose` forces one; otherwise v2 when the
    /// plugin answers, else v1.
    pub async fn detect() -> Result<Self, StackError> {
        match std::env::var("CHAOSGATE_COMPOSE").ok().as_deref() {
            Some("docker-compose") => return Ok(Self::V1),
            Some("docker compose") => return Ok(Self::V2),
            _ => {}
        }
        if answers("docker", &["compose", "version"]).await {
            Ok(Self::V2)
        } else if answers("docker-compose", &["version"]).await {
            Ok(Self::V1)
        } else {
            Err(StackError::NoComposeTool)
        }
    }

    /// Whether this is the `docker compose` plugin (v2).
    pub fn is_v2(&self) -> bool {
        *self == Self::V2
    }

    /// The command as a user would type it: `docker compose` or `docker-compose`.
    pub fn display(&self) -> String {
        match self {
            Self::V2 => "docker compose".into(),
            Self::V1 => "docker-compose".into(),
        }
    }

    fn command(&self) -> Command {
        match self {
            Self::V2 => {
                let mut c = Command::new("docker");
                c.arg("compose");
                c
            }
            Self::V1 => Command::new("docker-compose"),
        }
    }

    /// Runs the tool; a non-zero exit is an error carrying its stderr.
    pub async fn run(
        &self,
        args: &[String],
        env: &BTreeMap<String, String>,
        limit: Duration,
    ) -> Result<(), StackError> {
        let mut cmd = self.command();
        cmd.args(args)
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        detach_from_terminal_signals(&mut cmd);
        tracing::debug!(tool = %self.display(), ?args, "compose");
        let shown = format!("{} {}", self.display(), args.join(" "));
        let child = cmd.spawn().map_err(|e| StackError::ComposeFailed {
            command: shown.clone(),
            code: None,
            stderr: e.to_string(),
        })?;
        let output = match tokio::time::timeout(limit, child.wait_with_output()).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(StackError::ComposeFailed {
                    command: shown,
                    code: None,
                    stderr: format!("did not finish within {limit:?}"),
                });
            }
        };
        if output.status.success() {
            Ok(())
        } else {
            Err(StackError::ComposeFailed {
                command: shown,
                code: output.status.code(),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            })
        }
    }
}

/// Compose runs in its own process group, so a Ctrl-C (which the terminal sends to the whole
/// foreground group) reaches only chaosgate, which then lets `up` stop and `down` finish;
/// killing `down` half-way would leave the stack to the API sweep. And it dies with chaosgate:
/// a `compose up` outliving a killed harness would create containers behind the reaper's back.
/// (The death signal follows the spawning *thread*; compose is started from the run's own task,
/// on the main or a runtime worker thread, which live as long as the process.)
fn detach_from_terminal_signals(cmd: &mut Command) {
    let parent = std::process::id() as i32;
    cmd.process_group(0);
    // SAFETY: prctl(2) and getppid(2) are async-signal-safe and allocate nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The harness died before the request took effect: nobody would kill us later.
            if libc::getppid() != parent {
                return Err(std::io::Error::other("chaosgate exited"));
            }
            Ok(())
        });
    }
}

async fn answers(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .map(|s| s.success())
        .unwrap_or(false)
}
