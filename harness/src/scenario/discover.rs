//! Finding scenario files in a directory (`chaosgate list`).

use std::path::{Path, PathBuf};

use super::diagnostic::ScenarioErrors;
use super::model::Scenario;

/// Every `*.yaml` / `*.yml` file directly in `dir`, sorted by name, each loaded and
/// validated. An unreadable directory yields one entry carrying that error.
pub fn discover(dir: &Path) -> Vec<(PathBuf, Result<Scenario, ScenarioErrors>)> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            let err = ScenarioErrors::whole_file(dir, format!("cannot read directory: {e}"));
            return vec![(dir.to_path_buf(), Err(err))];
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|ext| ext == "yaml" || ext == "yml")
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let loaded = super::load(&p);
            (p, loaded)
        })
        .collect()
}
