//! Reading the service names a compose file declares (the keys of `services:`), so a
//! scenario naming a service the stack does not have is rejected before anything starts.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde::de::IgnoredAny;

#[derive(Deserialize)]
struct ComposeFile {
    #[serde(default)]
    services: Option<BTreeMap<String, IgnoredAny>>,
}

/// The service names in the compose file at `path`, or a message saying why they could not
/// be read.
pub fn service_names(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read compose file {}: {e}", path.display()))?;
    let file: ComposeFile = serde_saphyr::from_str(&text).map_err(|e| {
        let msg = super::parse_error_message(&e);
        match e.location() {
            Some(loc) => format!(
                "compose file {}:{}:{} is not valid YAML: {msg}",
                path.display(),
                loc.line(),
                loc.column()
            ),
            None => format!("compose file {} is not valid YAML: {msg}", path.display()),
        }
    })?;
    Ok(file.services.unwrap_or_default().into_keys().collect())
}
