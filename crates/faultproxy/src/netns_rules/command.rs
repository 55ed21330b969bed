//! Running host commands (`iptables`, `tc`, `nsenter`, ...) behind a trait, with a time bound.

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::error::RuleError;

/// What a finished command printed and how it exited (also the JSON answer of chaosgate's node
/// agent, which runs these commands on a node for the harness).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CommandOutput {
    /// Whether it exited with status 0.
    pub success: bool,
    /// The exit code, `None` if a signal ended the command.
    pub code: Option<i32>,
    /// Everything it wrote to stdout, as UTF-8 (lossy).
    pub stdout: String,
    /// Everything it wrote to stderr, as UTF-8 (lossy).
    pub stderr: String,
}

/// Runs a program to completion. A non-zero exit is an `Ok` output (callers such as
/// `iptables -C` use it as an answer); failing to start or finish in time is an error.
pub trait CommandRunner: Send + Sync + std::fmt::Debug {
    /// Runs `program` with `args` to completion. Errors: [`RuleError::Spawn`] when it cannot
    /// start, [`RuleError::TimedOut`] when it does not finish in time; a non-zero exit is `Ok`.
    fn run(&self, program: &str, args: &[String]) -> Result<CommandOutput, RuleError>;
}

pub(crate) fn display(program: &str, args: &[String]) -> String {
    std::iter::once(program)
        .chain(args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `program args` and turns a non-zero exit into [`RuleError::Failed`].
pub(crate) fn run_checked(
    runner: &dyn CommandRunner,
    program: &str,
    args: &[String],
) -> Result<CommandOutput, RuleError> {
    let output = runner.run(program, args)?;
    if output.success {
        return Ok(output);
    }
    Err(RuleError::Failed {
        command: display(program, args),
        status: output
            .code
            .map_or_else(|| "killed by a signal".to_owned(), |c| format!("exit {c}")),
        stderr: output.stderr.trim().to_owned(),
    })
}

/// Prefixes a command so it runs in the network namespace of process `pid`.
pub(crate) fn in_netns(pid: Option<u32>, program: &str, args: &[String]) -> (String, Vec<String>) {
    match pid {
        None => (program.to_owned(), args.to_vec()),
        Some(pid) => {
            let mut full = vec![
                "-t".to_owned(),
                pid.to_string(),
                "-n".to_owned(),
                program.to_owned(),
            ];
            full.extend_from_slice(args);
            ("nsenter".to_owned(), full)
        }
    }
}

/// Runs commands on this host, killing any that outlive `timeout`.
#[derive(Debug, Clone)]
pub struct SystemRunner {
    /// How long a command may run before it is killed; 10 s by default.
    pub timeout: Duration,
}

impl Default for SystemRunner {
    fn default() -> Self {
        SystemRunner {
            timeout: Duration::from_secs(10),
        }
    }
}

impl CommandRunner for SystemRunner {
    fn run(&self, program: &str, args: &[String]) -> Result<CommandOutput, RuleError> {
        let command = display(program, args);
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| RuleError::Spawn {
                command: command.clone(),
                source,
            })?;
        let pid = i32::try_from(child.id()).ok().map(Pid::from_raw);
        // Reading both pipes to the end needs its own thread; the caller waits with a bound.
        let (done_tx, done_rx) = mpsc::sync_channel(1);
        let waiter = std::thread::spawn(move || {
            let _ = done_tx.send(child.wait_with_output());
        });
        let finished = match done_rx.recv_timeout(self.timeout) {
            Ok(finished) => finished,
            Err(_) => {
                // Not reaped yet, so the pid still names our child.
                if let Some(pid) = pid {
                    let _ = kill(pid, Signal::SIGKILL);
                }
                let _ = waiter.join();
                return Err(RuleError::TimedOut {
                    command,
                    after: self.timeout,
                });
            }
        };
        let _ = waiter.join();
        let output = finished.map_err(|source| RuleError::Spawn { command, source })?;
        Ok(CommandOutput {
            success: output.status.success(),
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }
}
