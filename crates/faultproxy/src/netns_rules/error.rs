//! Errors of building, applying, reading and removing netns rules.

use std::time::Duration;

/// Why building, applying, reading or removing namespace rules failed. The crate maps no
/// exit codes: in a chaosgate run a fault failing with one is recorded with its error and not
/// proven applied (verdict inconclusive, exit 4).
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// The program (`iptables`, `tc`, `nsenter`, `ss`, ...) could not be started.
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        /// The whole command line, space-separated.
        command: String,
        /// The OS error (ENOENT: the program is not installed).
        #[source]
        source: std::io::Error,
    },
    /// The command outlived the runner's timeout and was killed.
    #[error("`{command}` did not finish within {after:?}")]
    TimedOut {
        /// The whole command line, space-separated.
        command: String,
        /// The timeout it exceeded (`SystemRunner::timeout`).
        after: Duration,
    },
    /// The command exited non-zero or was killed by a signal.
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        /// The whole command line, space-separated.
        command: String,
        /// `exit N`, or `killed by a signal`.
        status: String,
        /// What the command wrote to stderr, trimmed.
        stderr: String,
    },
    /// A rule, marker or sweep prefix was refused before running anything (held: why).
    #[error("invalid rule: {0}")]
    Invalid(String),
    /// An applied rule or qdisc is missing when listed back (held: its comment or
    /// description).
    #[error("rule `{0}` is not present after applying it")]
    NotPresent(String),
    /// A listing command (iptables rules, tc qdisc statistics) printed something this crate
    /// cannot read.
    #[error("cannot read the output of `{command}`: {reason}")]
    Parse {
        /// The whole command line, space-separated.
        command: String,
        /// What could not be read.
        reason: String,
    },
}
