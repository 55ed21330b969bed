//! Finding scenario files in a directory (`chaosgate list`, `chaosgate validate DIR`).

use std::path::{Path, PathBuf};

use super::diagnostic::ScenarioErrors;
use super::model::Scenario;

/// Every `*.yaml` / `*.yml` file directly in `dir`, sorted by name, each loaded and
/// validated. An unreadable directory yields one entry carrying that error.
pub fn discover(dir: &Path) -> Vec<(PathBuf, Result<Scenario, ScenarioErrors>)> {
    match files_in(dir) {
        Ok(files) => files
            .into_iter()
            .map(|p| {
                let loaded = super::load(&p);
                (p, loaded)
            })
            .collect(),
        Err(e) => {
            let err = ScenarioErrors::whole_file(dir, format!("cannot read directory: {e}"));
            vec![(dir.to_path_buf(), Err(err))]
        }
    }
}

/// The scenario files directly in `dir` (`*.yaml`, `*.yml`; subdirectories are not entered),
/// sorted by name. Errors: the directory cannot be read.
pub fn files_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|ext| ext == "yaml" || ext == "yml")
        })
        .collect();
    files.sort();
    Ok(files)
}
