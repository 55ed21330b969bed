//! Every process exit code chaosgate returns, in one place: `--help`, the README and CI
//! scripts all refer to these.

/// Every SLO passed and every fault was proven applied.
pub const PASS: i32 = 0;
/// At least one SLO was breached.
pub const SLO_BREACHED: i32 = 1;
/// The scenario file or the command line is wrong; nothing was started.
pub const BAD_INPUT: i32 = 2;
/// The harness or its infrastructure failed: docker unreachable, stack never healthy, ...
pub const INFRASTRUCTURE: i32 = 3;
/// No SLO was breached, but at least one could not be judged: a fault was not proven
/// applied, or an SLO had no data. Never reported as a pass.
pub const INCONCLUSIVE: i32 = 4;

/// The table printed at the end of `--help`.
pub const HELP_TABLE: &str = "\
Exit codes:
  0  every SLO passed
  1  an SLO was breached
  2  bad scenario file or usage (nothing was started)
  3  harness or infrastructure error (docker unreachable, stack never healthy)
  4  inconclusive (a fault could not be proven applied, or an SLO had no data)";
