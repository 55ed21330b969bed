//! The `explore:` section: a fault *space* instead of a fault schedule. A space is a list of
//! fault templates — an ordinary fault entry without `name` and `at`, whose quantities may be
//! ranges (`duration: [1s, 6s]`) and whose other fields may be lists of choices (`service:
//! [marketdata-a, marketdata-b]`) — plus how many faults a schedule has and when they may
//! start. `chaosgate explore` draws concrete schedules from it; each becomes an ordinary
//! scenario (the file with `faults:` filled in and `explore:` removed) that is validated and
//! run like any other. This module is the space's one vocabulary: parsing and checking it,
//! rendering a pick as a fault entry, and building the concrete scenario text.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_saphyr::Spanned;

use super::diagnostic::{ScenarioError, ScenarioErrors, SourceSpan};
use crate::units;

/// Most faults one schedule may hold.
pub const MAX_FAULTS: u32 = 10;

/// Fields of a fault entry (and of its `target:`) that are quantities: in a template each takes
/// one value or a `[low, high]` range. Every other field takes one value or a list of choices.
const DURATION_FIELDS: &[&str] = &["duration", "latency", "jitter", "delay"];
const NUMBER_FIELDS: &[&str] = &[
    "rate", "percent", "toxicity", "cores", "size", "replicas", "count",
];
/// Fields a template may not set: the schedule sets them.
const SCHEDULED_FIELDS: &[&str] = &["name", "at"];

/// `explore:` as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Explore")]
pub struct RawExplore {
    /// How many faults each drawn schedule has (default `{ min: 1, max: 3 }`; at most 10).
    #[serde(default)]
    pub faults: Option<RawFaultCount>,
    /// `[earliest, latest]`: when a fault may start, from the start of the load (e.g.
    /// `[5s, 25s]`); inside the run.
    #[schemars(with = "Vec<String>")]
    pub window: Spanned<Vec<Spanned<String>>>,
    /// Fault templates: a fault entry without `name` and `at`. Quantities (`duration`,
    /// `latency`, `jitter`, `delay`, `rate`, `percent`, `toxicity`, `cores`, `size`,
    /// `replicas`, `target.count`, `target.percent`) take a value or a `[low, high]` range;
    /// every other field a value or a list of choices (a field whose value is itself a list,
    /// such as `to`, is written as a list of such lists: `to: [[a:8081, b:8081]]` keeps both
    /// destinations in every draw).
    #[schemars(with = "Vec<serde_json::Map<String, Value>>")]
    pub space: Vec<Spanned<Value>>,
}

/// `explore.faults`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ExploreFaultCount")]
pub struct RawFaultCount {
    /// Fewest faults in a schedule (at least 1).
    #[schemars(with = "u32")]
    pub min: Spanned<u32>,
    /// Most faults in a schedule (at most 10).
    #[schemars(with = "u32")]
    pub max: Spanned<u32>,
}

/// The checked fault space of a scenario (`Scenario::explore`).
#[derive(Debug, Clone, Serialize)]
pub struct ExploreSpace {
    /// Fewest faults per schedule.
    pub min_faults: u32,
    /// Most faults per schedule.
    pub max_faults: u32,
    /// When a fault may start (inclusive), from the start of the load.
    pub window: (Duration, Duration),
    /// The templates, in file order.
    pub templates: Vec<Template>,
    /// The scenario document with `explore:` removed: what a schedule is put into.
    #[serde(skip)]
    pub document: serde_json::Map<String, Value>,
}

/// One entry of `explore.space`.
#[derive(Debug, Clone, Serialize)]
pub struct Template {
    /// The fault's `action`.
    pub action: String,
    /// The entry as written (ranges and choices included).
    pub entry: serde_json::Map<String, Value>,
    /// Its varying fields, in a fixed order (top-level fields, then `target`'s).
    pub dims: Vec<Dim>,
    /// Where the entry is in the file.
    #[serde(skip)]
    pub span: Option<SourceSpan>,
}

/// One varying field of a template.
#[derive(Debug, Clone, Serialize)]
pub struct Dim {
    /// The field's path in the fault entry, e.g. `["duration"]` or `["target", "service"]`.
    pub path: Vec<String>,
    /// The values it takes.
    pub domain: Domain,
}

/// The values a varying field takes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Domain {
    /// A duration range, in milliseconds (inclusive).
    Millis {
        /// Low end.
        low: u64,
        /// High end.
        high: u64,
    },
    /// A number range with a unit (`10%`, `64MiB`, `1mbit`, or none), inclusive; drawn with
    /// `decimals` decimal places (0: whole numbers).
    Number {
        /// Low end.
        low: f64,
        /// High end.
        high: f64,
        /// Written after the number (`%`, `MiB`, ...); empty for a bare number.
        unit: String,
        /// Decimal places kept.
        decimals: u32,
    },
    /// One of these values, the first being the simplest.
    Choice(Vec<Value>),
}

/// A varying field's value in one schedule: a number in the range's unit (milliseconds for
/// durations), or the index of a choice.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Pick {
    /// A point of a range.
    Value(f64),
    /// The index of a choice.
    Choice(usize),
}

impl Domain {
    /// The simplest value: a range's low end, the first choice.
    pub fn lowest(&self) -> Pick {
        match self {
            Self::Millis { low, .. } => Pick::Value(*low as f64),
            Self::Number { low, .. } => Pick::Value(*low),
            Self::Choice(_) => Pick::Choice(0),
        }
    }

    /// The most severe value: a range's high end, the last choice.
    pub fn highest(&self) -> Pick {
        match self {
            Self::Millis { high, .. } => Pick::Value(*high as f64),
            Self::Number { high, .. } => Pick::Value(*high),
            Self::Choice(c) => Pick::Choice(c.len().saturating_sub(1)),
        }
    }

    /// How many choices (1 for a range: it has no list to walk).
    pub fn choices(&self) -> usize {
        match self {
            Self::Choice(c) => c.len(),
            _ => 1,
        }
    }

    /// `x` rounded to the grid values of this range are drawn on: durations to 100 ms when the
    /// range spans a second or more (10 ms from 100 ms, else 1 ms), numbers to their decimals.
    pub fn round(&self, x: f64) -> f64 {
        match self {
            Self::Millis { low, high } => {
                let step = millis_step(*high - *low) as f64;
                let v = (x / step).round() * step;
                v.clamp(*low as f64, *high as f64)
            }
            Self::Number {
                low,
                high,
                decimals,
                ..
            } => {
                let scale = 10f64.powi(*decimals as i32);
                ((x * scale).round() / scale).clamp(*low, *high)
            }
            Self::Choice(_) => x,
        }
    }

    /// The value written into the fault entry.
    pub fn render(&self, pick: Pick) -> Value {
        match (self, pick) {
            (Self::Millis { .. }, Pick::Value(ms)) => {
                Value::String(render_millis(ms.round().max(0.0) as u64))
            }
            (Self::Number { unit, decimals, .. }, Pick::Value(x)) => {
                let number = format!("{x:.prec$}", prec = *decimals as usize);
                if unit.is_empty() {
                    serde_json::from_str(&number).unwrap_or(Value::String(number))
                } else {
                    Value::String(format!("{number}{unit}"))
                }
            }
            (Self::Choice(c), Pick::Choice(i)) => c.get(i).cloned().unwrap_or(Value::Null),
            // A pick of the wrong shape never comes out of this module's draws; render the
            // simplest value rather than a wrong one.
            (d, _) => d.render(d.lowest()),
        }
    }
}

/// The grid durations are drawn on for a range `span` wide, in milliseconds.
pub fn millis_step(span: u64) -> u64 {
    match span {
        1_000.. => 100,
        100.. => 10,
        _ => 1,
    }
}

/// A duration as a scenario writes it: `6s`, `6.3s`, `250ms`.
pub fn render_millis(ms: u64) -> String {
    if ms >= 1_000 && ms.is_multiple_of(1_000) {
        format!("{}s", ms / 1_000)
    } else if ms >= 1_000 {
        let text = format!("{:.3}", ms as f64 / 1_000.0);
        format!("{}s", text.trim_end_matches('0').trim_end_matches('.'))
    } else {
        format!("{ms}ms")
    }
}

/// One fault of a schedule: which template, when, and the pick of each of its varying fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScheduledFault {
    /// The fault's name in the concrete scenario (`<action>-<n>`).
    pub name: String,
    /// Index of its template in `explore.space`.
    pub template: usize,
    /// Start, in milliseconds from the start of the load.
    pub at_ms: u64,
    /// One pick per varying field of the template, in its order.
    pub picks: Vec<Pick>,
}

impl ExploreSpace {
    /// The fault entry `fault` stands for: its template with every range and choice replaced
    /// by the pick, plus its name and start.
    pub fn fault_entry(&self, fault: &ScheduledFault) -> serde_json::Map<String, Value> {
        let template = &self.templates[fault.template];
        let mut entry = serde_json::Map::new();
        entry.insert("name".into(), Value::String(fault.name.clone()));
        entry.insert("at".into(), Value::String(render_millis(fault.at_ms)));
        for (k, v) in &template.entry {
            entry.insert(k.clone(), v.clone());
        }
        for (dim, pick) in template.dims.iter().zip(&fault.picks) {
            set_path(&mut entry, &dim.path, dim.domain.render(*pick));
        }
        entry
    }

    /// The concrete scenario of `faults` run with `seed`: the file's document with `explore:`
    /// removed, `seed:` set and the faults appended to its own `faults:`, as YAML text (keys
    /// in the usual order of a scenario file).
    pub fn scenario_text(&self, faults: &[ScheduledFault], seed: u64) -> String {
        let mut doc = self.document.clone();
        doc.insert("seed".into(), Value::from(seed));
        let mut list = match doc.remove("faults") {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        };
        list.extend(faults.iter().map(|f| Value::Object(self.fault_entry(f))));
        doc.insert("faults".into(), Value::Array(list));
        to_yaml(&doc)
    }

    /// The concrete scenario of `faults`, parsed and validated as if it were the file at
    /// `origin` (relative paths resolve from its directory). Errors: what makes the schedule
    /// invalid (e.g. two faults on one service overlapping).
    pub fn scenario(
        &self,
        faults: &[ScheduledFault],
        seed: u64,
        origin: &Path,
    ) -> Result<super::Scenario, ScenarioErrors> {
        super::parse_str(&self.scenario_text(faults, seed), origin)
    }
}

/// The top-level keys of a scenario file in the order they are written.
const KEY_ORDER: &[&str] = &[
    "name",
    "description",
    "seed",
    "stack",
    "duration",
    "load",
    "recovery",
    "probes",
    "faults",
    "steady_state",
    "slos",
    "fail_fast",
];

/// `doc` as YAML, top-level keys in scenario order (then any others, sorted).
pub fn to_yaml(doc: &serde_json::Map<String, Value>) -> String {
    let mut out = String::new();
    let mut keys: Vec<&String> = doc.keys().collect();
    keys.sort_by_key(|k| {
        (
            KEY_ORDER
                .iter()
                .position(|o| o == k)
                .unwrap_or(KEY_ORDER.len()),
            k.to_string(),
        )
    });
    for key in keys {
        let one: BTreeMap<&str, &Value> = [(key.as_str(), &doc[key])].into();
        match serde_saphyr::to_string(&one) {
            Ok(text) => out.push_str(&text),
            Err(e) => out.push_str(&format!("# {key}: not serializable: {e}\n")),
        }
    }
    out
}

fn set_path(entry: &mut serde_json::Map<String, Value>, path: &[String], value: Value) {
    match path {
        [] => {}
        [last] => {
            entry.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            if let Some(Value::Object(inner)) = entry.get_mut(first) {
                set_path(inner, rest, value);
            }
        }
    }
}

/// Checks `explore:` and builds the space (without its document, added by
/// [`attach_document`]). Errors point at the offending part of the section.
pub(super) fn section(
    raw: &RawExplore,
    span: impl Fn(&serde_saphyr::Location) -> Option<SourceSpan>,
    errors: &mut Vec<ScenarioError>,
    run_length: Option<Duration>,
) -> Option<ExploreSpace> {
    let before = errors.len();
    let (min_faults, max_faults) = match &raw.faults {
        None => (1, 3),
        Some(c) => {
            if c.min.value < 1 || c.min.value > MAX_FAULTS {
                errors.push(ScenarioError::new(
                    format!(
                        "explore.faults.min is {}; it is 1 to {MAX_FAULTS}",
                        c.min.value
                    ),
                    span(&c.min.referenced),
                ));
            }
            if c.max.value < c.min.value || c.max.value > MAX_FAULTS {
                errors.push(ScenarioError::new(
                    format!(
                        "explore.faults.max is {}; it is from min ({}) to {MAX_FAULTS}",
                        c.max.value, c.min.value
                    ),
                    span(&c.max.referenced),
                ));
            }
            (c.min.value, c.max.value)
        }
    };
    let window = match raw.window.value.as_slice() {
        [a, b] => {
            let parse =
                |s: &Spanned<String>, errors: &mut Vec<ScenarioError>| match units::parse_duration(
                    &s.value,
                ) {
                    Ok(d) => Some(d),
                    Err(e) => {
                        errors.push(ScenarioError::new(
                            format!("explore.window: {e}"),
                            span(&s.referenced),
                        ));
                        None
                    }
                };
            match (parse(a, errors), parse(b, errors)) {
                (Some(a), Some(b)) if a > b => {
                    errors.push(ScenarioError::new(
                        "explore.window: the earliest start is after the latest",
                        span(&raw.window.referenced),
                    ));
                    None
                }
                (Some(a), Some(b)) => {
                    if let Some(total) = run_length
                        && b >= total
                    {
                        errors.push(ScenarioError::new(
                            format!(
                                "explore.window ends at {}, at or after the run's end ({})",
                                units::format_duration(b),
                                units::format_duration(total)
                            ),
                            span(&raw.window.referenced),
                        ));
                    }
                    Some((a, b))
                }
                _ => None,
            }
        }
        _ => {
            errors.push(
                ScenarioError::new(
                    "explore.window is `[earliest, latest]`",
                    span(&raw.window.referenced),
                )
                .with_help("e.g. `window: [5s, 25s]`"),
            );
            None
        }
    };
    if raw.space.is_empty() {
        errors.push(ScenarioError::new(
            "explore.space is empty: give at least one fault template",
            span(&raw.window.referenced),
        ));
    }
    let mut templates = Vec::new();
    for (i, entry) in raw.space.iter().enumerate() {
        let at = span(&entry.referenced);
        match template(&entry.value) {
            Ok(mut t) => {
                t.span = at;
                templates.push(t);
            }
            Err(e) => errors.push(ScenarioError::new(format!("explore.space[{i}]: {e}"), at)),
        }
    }
    (errors.len() == before).then(|| ExploreSpace {
        min_faults,
        max_faults,
        window: window.unwrap_or_default(),
        templates,
        document: serde_json::Map::new(),
    })
}

/// One template from its entry as written.
fn template(value: &Value) -> Result<Template, String> {
    let Value::Object(entry) = value else {
        return Err("a fault template is a mapping (a fault entry without `name` and `at`)".into());
    };
    for f in SCHEDULED_FIELDS {
        if entry.contains_key(*f) {
            return Err(format!(
                "`{f}` is set by each drawn schedule; leave it out of the template"
            ));
        }
    }
    let action = match entry.get("action") {
        Some(Value::String(a)) => a.clone(),
        _ => return Err("`action` is required, one fault action (e.g. `crash`)".into()),
    };
    let mut dims = Vec::new();
    for (k, v) in entry {
        if k == "action" || k == "target" {
            continue;
        }
        if let Some(domain) = domain(k, v)? {
            dims.push(Dim {
                path: vec![k.clone()],
                domain,
            });
        }
    }
    match entry.get("target") {
        Some(Value::Object(target)) => {
            for (k, v) in target {
                if let Some(domain) = domain(k, v).map_err(|e| format!("target: {e}"))? {
                    dims.push(Dim {
                        path: vec!["target".into(), k.clone()],
                        domain,
                    });
                }
            }
        }
        _ => return Err("`target` is required, e.g. `target: { service: [a, b] }`".into()),
    }
    Ok(Template {
        action,
        entry: entry.clone(),
        dims,
        span: None,
    })
}

/// The values field `key` takes when written as `value`: `None` when it is one fixed value.
fn domain(key: &str, value: &Value) -> Result<Option<Domain>, String> {
    let Value::Array(items) = value else {
        return Ok(None);
    };
    if items.is_empty() {
        return Err(format!("`{key}` is an empty list; give a value or choices"));
    }
    if DURATION_FIELDS.contains(&key) || NUMBER_FIELDS.contains(&key) {
        let [low, high] = items.as_slice() else {
            return Err(format!(
                "`{key}` is a quantity: one value or a range `[low, high]` (found {} items)",
                items.len()
            ));
        };
        return if DURATION_FIELDS.contains(&key) {
            millis_range(key, low, high).map(Some)
        } else {
            number_range(key, low, high).map(Some)
        };
    }
    if key == "labels" || key == "set" {
        return Err(format!(
            "`{key}` takes one mapping in a template, not choices"
        ));
    }
    Ok(Some(Domain::Choice(items.clone())))
}

fn millis_range(key: &str, low: &Value, high: &Value) -> Result<Domain, String> {
    let parse = |v: &Value| match v {
        Value::String(s) => units::parse_duration(s)
            .map(|d| d.as_millis() as u64)
            .map_err(|e| format!("`{key}`: {e}")),
        other => Err(format!(
            "`{key}`: expected a duration like `2s`, found {other}"
        )),
    };
    let (low, high) = (parse(low)?, parse(high)?);
    if low > high {
        return Err(format!(
            "`{key}`: the range's low end is above its high end"
        ));
    }
    Ok(Domain::Millis { low, high })
}

fn number_range(key: &str, low: &Value, high: &Value) -> Result<Domain, String> {
    let split = |v: &Value| -> Result<(f64, String, u32), String> {
        let text = match v {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.trim().to_string(),
            other => return Err(format!("`{key}`: expected a number, found {other}")),
        };
        let end = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(end);
        let x: f64 = number
            .parse()
            .map_err(|_| format!("`{key}`: `{text}` does not start with a number"))?;
        let decimals = number.split_once('.').map_or(0, |(_, d)| d.len() as u32);
        Ok((x, unit.trim().to_string(), decimals))
    };
    let (lo, lu, ld) = split(low)?;
    let (hi, hu, hd) = split(high)?;
    if lu != hu {
        return Err(format!(
            "`{key}`: both ends of a range take the same unit (`{lu}` and `{hu}`)"
        ));
    }
    if lo > hi {
        return Err(format!(
            "`{key}`: the range's low end is above its high end"
        ));
    }
    Ok(Domain::Number {
        low: lo,
        high: hi,
        unit: lu,
        decimals: ld.max(hd),
    })
}

/// Adds the document (the file without `explore:`) to a checked space, and checks every
/// template by validating the scenario made of it alone at its extremes (every range at its
/// low and at its high end, every choice): a template no schedule could use is an error at its
/// entry, with the validator's message.
pub(super) fn attach_document(
    space: &mut ExploreSpace,
    src: &str,
    origin: &Path,
) -> Result<(), Vec<ScenarioError>> {
    let mut doc: serde_json::Map<String, Value> = serde_saphyr::from_str(src).map_err(|e| {
        vec![ScenarioError::new(
            format!("explore: cannot read the file as a document: {e}"),
            None,
        )]
    })?;
    doc.remove("explore");
    space.document = doc;
    let fixed: Vec<String> = match space.document.get("faults") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|f| f.get("name").and_then(Value::as_str).map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    let mut errors = Vec::new();
    for (i, t) in space.templates.iter().enumerate() {
        let clash = (1..=space.max_faults)
            .map(|n| format!("{}-{n}", t.action))
            .find(|n| fixed.contains(n));
        if let Some(name) = clash {
            errors.push(ScenarioError::new(
                format!(
                    "explore.space[{i}]: a fixed fault is named `{name}`, the name drawn faults of this template take; rename it"
                ),
                t.span.clone(),
            ));
            continue;
        }
        for picks in extremes(t) {
            let fault = ScheduledFault {
                name: format!("{}-1", t.action),
                template: i,
                at_ms: space.window.0.as_millis() as u64,
                picks,
            };
            if let Err(e) = space.scenario(std::slice::from_ref(&fault), 0, origin) {
                let shown: Vec<String> = t
                    .dims
                    .iter()
                    .zip(&fault.picks)
                    .map(|(d, p)| {
                        format!("{}: {}", d.path.join("."), compact(&d.domain.render(*p)))
                    })
                    .collect();
                let with = if shown.is_empty() {
                    String::new()
                } else {
                    format!(" (with {})", shown.join(", "))
                };
                let reasons: Vec<String> = e.errors.iter().map(|x| x.message.clone()).collect();
                errors.push(ScenarioError::new(
                    format!("explore.space[{i}]{with}: {}", reasons.join("; ")),
                    t.span.clone(),
                ));
                break;
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// A value as one line of text.
pub fn compact(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The picks a template is checked at: all lowest, all highest, then each choice of each
/// field (others lowest).
fn extremes(t: &Template) -> Vec<Vec<Pick>> {
    let lowest: Vec<Pick> = t.dims.iter().map(|d| d.domain.lowest()).collect();
    let mut out = vec![lowest.clone()];
    let highest: Vec<Pick> = t.dims.iter().map(|d| d.domain.highest()).collect();
    if highest != lowest {
        out.push(highest);
    }
    for (k, d) in t.dims.iter().enumerate() {
        for c in 1..d.domain.choices().saturating_sub(1) {
            let mut p = lowest.clone();
            p[k] = Pick::Choice(c);
            out.push(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(yaml: &str) -> Result<Template, String> {
        template(&serde_saphyr::from_str::<Value>(yaml).unwrap())
    }

    #[test]
    fn quantities_take_ranges_and_other_fields_choices() {
        let t = t("{ action: pause, duration: [1s, 6s], target: { service: [a, b] } }").unwrap();
        assert_eq!(t.dims.len(), 2);
        assert_eq!(t.dims[0].path, ["duration"]);
        assert_eq!(
            t.dims[0].domain,
            Domain::Millis {
                low: 1000,
                high: 6000
            }
        );
        assert_eq!(t.dims[1].path, ["target", "service"]);
        assert_eq!(t.dims[1].domain.choices(), 2);
    }

    #[test]
    fn a_quantity_list_that_is_not_a_range_is_refused() {
        let e = t("{ action: pause, duration: [1s, 2s, 3s], target: { service: a } }").unwrap_err();
        assert!(e.contains("range `[low, high]`"), "{e}");
        let e = t("{ action: loss, percent: [10%, 2mbit], target: { service: a } }").unwrap_err();
        assert!(e.contains("same unit"), "{e}");
        let e = t("{ name: x, action: crash, target: { service: a } }").unwrap_err();
        assert!(e.contains("`name` is set by each drawn schedule"), "{e}");
    }

    #[test]
    fn numbers_keep_their_unit_and_decimals() {
        let d = number_range("percent", &Value::from("10%"), &Value::from("50%")).unwrap();
        assert_eq!(d.render(Pick::Value(d.round(23.4))), Value::from("23%"));
        let d = number_range("toxicity", &Value::from(0.25), &Value::from(1.0)).unwrap();
        assert_eq!(d.render(Pick::Value(d.round(0.333))), Value::from(0.33));
        let d = number_range("cores", &Value::from(1), &Value::from(2)).unwrap();
        assert_eq!(d.render(Pick::Value(2.0)), Value::from(2));
    }

    #[test]
    fn durations_render_as_a_scenario_writes_them() {
        assert_eq!(render_millis(6000), "6s");
        assert_eq!(render_millis(6300), "6.3s");
        assert_eq!(render_millis(1250), "1.25s");
        assert_eq!(render_millis(250), "250ms");
        let d = Domain::Millis {
            low: 1000,
            high: 6000,
        };
        assert_eq!(d.round(3456.0), 3500.0);
        assert_eq!(d.round(100.0), 1000.0);
    }

    #[test]
    fn yaml_keeps_the_scenario_key_order() {
        let doc: serde_json::Map<String, Value> =
            serde_saphyr::from_str("slos: [x]\nname: n\nseed: 3\nstack: { compose: a.yml }\n")
                .unwrap();
        let text = to_yaml(&doc);
        let name = text.find("name:").unwrap();
        let seed = text.find("seed:").unwrap();
        let slos = text.find("slos:").unwrap();
        assert!(name < seed && seed < slos, "{text}");
        let back: serde_json::Map<String, Value> = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(back, doc);
    }
}
