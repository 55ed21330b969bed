//! `report.json`: the machine-readable report, pretty-printed.

use std::io;
use std::path::{Path, PathBuf};

use super::model::Report;

/// File name of a run's machine-readable report in its directory (schema:
/// [`super::json_schema`], version [`super::SCHEMA_VERSION`]).
pub const FILE_NAME: &str = "report.json";

/// `report.json`'s text: the report as pretty-printed JSON with a trailing newline.
pub fn render(report: &Report) -> io::Result<String> {
    let mut text = serde_json::to_string_pretty(report).map_err(io::Error::other)?;
    text.push('\n');
    Ok(text)
}

/// Writes [`render`]'s text to `dir/report.json`; returns that path.
pub fn write(report: &Report, dir: &Path) -> io::Result<PathBuf> {
    let path = dir.join(FILE_NAME);
    std::fs::write(&path, render(report)?)?;
    Ok(path)
}

/// Reads a report back (for `chaosgate compare`).
pub fn read(path: &Path) -> io::Result<Report> {
    let text = std::fs::read_to_string(path)?;
    serde_json::from_str(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}
