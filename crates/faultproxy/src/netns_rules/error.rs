//! Errors of building, applying, reading and removing netns rules.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` did not finish within {after:?}")]
    TimedOut { command: String, after: Duration },
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("invalid rule: {0}")]
    Invalid(String),
    #[error("rule `{0}` is not present after applying it")]
    NotPresent(String),
    #[error("cannot read the output of `{command}`: {reason}")]
    Parse { command: String, reason: String },
}
