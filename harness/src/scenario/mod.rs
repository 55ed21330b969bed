//! Scenario files: the serde model, validation with file/line/column errors and the JSON Schema (a scenario and a seed become a run's plan in `plan/`).

pub(crate) mod compose;
mod diagnostic;
mod discover;
pub mod explore;
mod model;
mod raw;
mod shapes;
mod suggest;
mod validate;

use std::path::Path;

use serde_saphyr::MessageFormatter;

pub use crate::stack::kube::{KubeStackSpec, NodeAgentSpec};
pub use diagnostic::{ScenarioError, ScenarioErrors, SourceSpan};
pub use discover::{discover, files_in};
pub use model::{
    AtSpec, BlastSize, FaultSpec, HttpTarget, LoadSpec, Pick, ProbeKind, ProbeSpec, PrometheusSpec,
    RateSpec, RequestSpec, Scenario, StackSpec, TargetSpec,
};

/// Reads, parses and validates the scenario file at `path`.
pub fn load(path: &Path) -> Result<Scenario, ScenarioErrors> {
    let src = std::fs::read_to_string(path)
        .map_err(|e| ScenarioErrors::whole_file(path, format!("cannot read scenario: {e}")))?;
    parse_str(&src, path)
}

/// Parses and validates scenario text; `origin` is the file it came from (messages name it,
/// and relative paths resolve from its directory).
pub fn parse_str(src: &str, origin: &Path) -> Result<Scenario, ScenarioErrors> {
    let raw: raw::RawScenario = serde_saphyr::from_str(src).map_err(|e| {
        let span = e.location().and_then(|loc| {
            let span = loc.span();
            let start = span.byte_offset().unwrap_or(span.offset());
            let len = span.byte_len().unwrap_or(span.len()).max(1);
            (loc.line() > 0).then(|| {
                SourceSpan::at(
                    src,
                    usize::try_from(start).unwrap_or(usize::MAX),
                    usize::try_from(len).unwrap_or(1),
                )
            })
        });
        ScenarioErrors::new(
            origin,
            src,
            vec![ScenarioError::new(parse_error_message(&e), span)],
        )
    })?;
    let mut scenario = validate::validate(raw, src, origin)
        .map_err(|errors| ScenarioErrors::new(origin, src, errors))?;
    if let Some(space) = &mut scenario.explore {
        explore::attach_document(space, src, origin)
            .map_err(|errors| ScenarioErrors::new(origin, src, errors))?;
    }
    Ok(scenario)
}

/// serde-saphyr's message without its own location and snippet (ours are added uniformly).
pub(crate) fn parse_error_message(e: &serde_saphyr::Error) -> String {
    serde_saphyr::UserMessageFormatter
        .format_message(e.without_snippet())
        .into_owned()
}

/// The JSON Schema of scenario files (`chaosgate schema`; checked in as
/// `schemas/scenario.schema.json`).
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(raw::RawScenario))
        .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }))
}
