//! Reports: the versioned JSON model and its writers (JSON, JUnit, Markdown, HTML, terminal).

mod assemble;
pub mod campaign;
mod chart;
mod compare;
pub mod format;
pub mod gate;
pub mod gate_render;
pub mod github;
pub mod html;
pub mod json;
pub mod junit;
pub mod load_text;
pub mod markdown;
mod model;
pub mod plan_text;
mod rows;
mod terminal;

use std::io;
use std::path::{Path, PathBuf};

pub use assemble::assemble;
pub use compare::{Change, ReportComparison, compare};
pub use model::{
    EvidenceReport, FailoverReport, FaultReport, LatencySummary, MeasuredValue, PhaseReport,
    ProbeReport, RecoveryReport, Report, SCHEMA_VERSION, ScenarioInfo, SecondPoint, ServiceInfo,
    SloReport, StackInfo, StoppedEarly, json_schema,
};
pub use terminal::render_terminal;

/// Writes every file report (JSON, JUnit, Markdown, HTML) into `dir`; returns their paths.
pub fn write_all(report: &Report, dir: &Path) -> io::Result<Vec<PathBuf>> {
    Ok(vec![
        json::write(report, dir)?,
        junit::write(report, dir)?,
        markdown::write(report, dir)?,
        html::write(report, dir)?,
    ])
}
