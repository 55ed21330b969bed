//! `stack:`: compose files found (relative to the scenario) and their services read.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::context::Ctx;
use crate::scenario::diagnostic::{ScenarioError, SourceSpan};
use crate::scenario::model::StackSpec;
use crate::scenario::raw::RawStack;
use crate::scenario::shapes::OneOrList;

const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(60);
const READY_TIMEOUT_RANGE: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(3600));

pub(super) fn stack(cx: &mut Ctx<'_>, raw: &RawStack) -> Option<StackSpec> {
    let entries: Vec<(String, Option<SourceSpan>)> = match &raw.compose.value {
        OneOrList::One(p) => vec![(p.clone(), cx.span(&raw.compose))],
        OneOrList::List(list) => list
            .iter()
            .map(|p| {
                (
                    p.value.clone(),
                    cx.span(p).or_else(|| cx.span(&raw.compose)),
                )
            })
            .collect(),
    };
    if entries.is_empty() {
        let span = cx.span(&raw.compose);
        cx.error("stack.compose names no file", span);
    }
    let mut files = Vec::new();
    let mut services = BTreeMap::new();
    let mut all_read = !entries.is_empty();
    for (rel, span) in entries {
        let file: PathBuf = cx.base_dir.join(&rel);
        let file = std::path::absolute(&file).unwrap_or(file);
        if !file.is_file() {
            cx.push(
                ScenarioError::new(format!("compose file `{rel}` not found"), span)
                    .with_label(format!("looked for {}", file.display()))
                    .with_help("compose paths are relative to the scenario file's directory"),
            );
            all_read = false;
            continue;
        }
        match crate::scenario::compose::services(&file) {
            Ok(found) => crate::scenario::compose::merge(&mut services, found),
            Err(e) => {
                cx.error(e, span);
                all_read = false;
            }
        }
        files.push(file);
    }
    if all_read {
        if services.is_empty() {
            let span = cx.span(&raw.compose);
            cx.error("the compose files declare no services", span);
        }
        cx.services = Some(services.clone());
    }
    let ready_timeout = cx.duration_or(
        raw.ready_timeout.as_ref(),
        DEFAULT_READY_TIMEOUT,
        "stack.ready_timeout",
        READY_TIMEOUT_RANGE,
    );
    all_read.then(|| StackSpec {
        compose_files: files,
        env: raw.env.clone(),
        ready_timeout,
        services: services.into_keys().collect(),
    })
}
