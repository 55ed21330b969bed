//! Whether this kernel can do `tc netem` (many CI kernels lack sch_netem), so the runner can
//! refuse netem-only faults with a clear message instead of failing mid-run.

use std::path::Path;

use serde::Serialize;

use super::command::CommandRunner;
use super::error::RuleError;

/// Whether this kernel can run `tc netem` qdiscs, and how that was found out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetemSupport {
    /// `true` when a netem qdisc could be added in a throwaway namespace.
    pub available: bool,
    /// How the answer was found, or what the kernel said.
    pub detail: String,
}

/// Tries a netem qdisc on the loopback of a throwaway namespace (`unshare --net`, gone when
/// the command exits), so nothing on the host is touched. Needs root.
pub fn netem_available(runner: &dyn CommandRunner) -> Result<NetemSupport, RuleError> {
    if Path::new("/sys/module/sch_netem").exists() {
        return Ok(NetemSupport {
            available: true,
            detail: "sch_netem module is loaded".to_owned(),
        });
    }
    let args = [
        "--net", "--", "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms",
    ]
    .map(str::to_owned)
    .to_vec();
    let output = runner.run("unshare", &args)?;
    if output.success {
        return Ok(NetemSupport {
            available: true,
            detail: "a netem qdisc could be added (module loads on demand)".to_owned(),
        });
    }
    let stderr = output.stderr.trim().to_owned();
    // tc's answer when the kernel has no such qdisc; anything else is a failed probe.
    if stderr.contains("qdisc kind is unknown") || stderr.contains("No such file or directory") {
        return Ok(NetemSupport {
            available: false,
            detail: format!("kernel has no sch_netem: {stderr}"),
        });
    }
    Err(RuleError::Failed {
        command: format!("unshare {}", args.join(" ")),
        status: output
            .code
            .map_or_else(|| "killed by a signal".to_owned(), |c| format!("exit {c}")),
        stderr,
    })
}
