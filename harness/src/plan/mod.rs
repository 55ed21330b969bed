//! The plan of one run: a validated scenario and a seed turned into what the runner executes,
//! with every name resolved and every random choice made. Everything that reads a run's
//! intent (the runner, the fault scheduler, the verdict, the reports) reads this, never the
//! scenario file.

mod draw;
mod from_scenario;
mod listen;
mod spec;

pub use crate::measure::lost_writes::WriteReadBack;
pub use crate::scenario::BlastSize;
pub use from_scenario::{PlanError, from_scenario};
pub(crate) use listen::{listen_checks, load_targets};
pub use spec::{Pick, PlannedFault, RunSpec};
