//! iptables and tc rules applied inside a network namespace (`nsenter -t PID -n`): steering a
//! port to the fault proxy (REDIRECT), packet loss, partitions, bandwidth caps (tc tbf), and
//! the netem probe. Every rule carries a `chaosgate:<run_id>:<fault>` comment so a killed
//! run's leftovers can be found and removed.
//!
//! Commands go through [`CommandRunner`], so the rule logic is tested without root and the
//! same code runs for real against the host's `iptables`, `tc` and `nsenter`.

mod applied;
mod close;
mod command;
mod error;
mod listing;
mod marker;
mod netem;
mod rule;
mod ruleset;
mod sweep;

pub use applied::{AppliedRules, QdiscCounter, RuleCounter, RuleCounters};
pub use close::{ConnectionsOn, close_established};
pub use command::{CommandOutput, CommandRunner, SystemRunner};
pub use error::RuleError;
pub use marker::{MARKER_PREFIX, Marker};
pub use netem::{NetemSupport, netem_available};
pub use ruleset::{PacketDirection, RuleSet};
pub use sweep::{SweepReport, sweep_host, sweep_leftovers};

#[cfg(test)]
mod ruleset_tests;
#[cfg(test)]
mod simulated;
