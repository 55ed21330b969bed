//! `chaosgate agent`: the node agent of Kubernetes runs ([`crate::agent`]), as the DaemonSet a
//! run deploys starts it.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use super::error::{CommandError, CommandResult};
use super::runtime::{OnSignal, with_runtime};
use crate::agent::{PORT, TOKEN_ENV, serve};
use crate::exit_codes;

/// Arguments of `chaosgate agent`.
#[derive(Debug, Args)]
#[command(after_help = "\
The token every request must carry is read from CHAOSGATE_AGENT_TOKEN (a run puts a fresh one
in the DaemonSet it deploys). Needs the node's PID namespace (hostPID) and the privileges to
enter a pod's network namespace and signal its processes.

Exit codes:
  0  stopped by a signal
  2  no token in CHAOSGATE_AGENT_TOKEN
  3  the address could not be bound, or serving failed")]
pub struct AgentArgs {
    /// Address to listen on.
    #[arg(long, default_value_t = SocketAddr::from(([0, 0, 0, 0], PORT)))]
    pub listen: SocketAddr,
    /// Where the node's process table is mounted.
    #[arg(long = "proc", default_value = "/proc")]
    pub proc_root: PathBuf,
}

/// Serves until SIGINT/SIGTERM; returns the exit code.
pub fn run(args: AgentArgs) -> CommandResult {
    let token = match std::env::var(TOKEN_ENV) {
        Ok(t) if !t.trim().is_empty() => t,
        _ => {
            return Err(CommandError::BadInput(format!(
                "the agent needs its token in {TOKEN_ENV} (a run's DaemonSet sets it)"
            )));
        }
    };
    with_runtime(OnSignal::StopAgent, |cancel| async move {
        match serve(args.listen, token, args.proc_root, cancel).await {
            Ok(()) => Ok(exit_codes::PASS),
            Err(e) => Err(CommandError::Infrastructure(e.to_string())),
        }
    })
}
