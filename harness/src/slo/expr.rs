//! What an SLO says: a metric, a comparison and a typed threshold, plus where in the
//! expression each fault/probe name sits (for "unknown fault" errors with a column).

use std::fmt;
use std::ops::Range;
use std::time::Duration;

use serde::{Serialize, Serializer};

pub use crate::metric::Metric;

/// One parsed SLO, e.g. `p95(latency, during=crash-primary) < 100ms`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Slo {
    /// The expression as written (trimmed).
    pub expression: String,
    /// What is measured, and over which part of the run.
    pub metric: Metric,
    /// How the measured figure is compared with the target (`measured OP threshold`).
    pub op: Comparison,
    /// The absolute target; for a relative SLO (`relative` set) the offset, or zero of the
    /// metric's unit, and never compared with on its own.
    pub threshold: Quantity,
    /// Set when the target is relative to a baseline build (`<= baseline * 1.2`,
    /// `<= baseline + 20ms`): judged only by `chaosgate ab`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relative: Option<Relative>,
    /// Names of faults and probes the expression refers to, with their byte range in
    /// `expression`.
    #[serde(skip)]
    pub references: Vec<NameRef>,
    /// Whether the SLO gates (the default) or is only advisory: judged and reported as every
    /// SLO, annotated as a warning, but never changing a verdict or an exit code.
    #[serde(skip_serializing_if = "Severity::is_gating")]
    pub severity: Severity,
}

/// Whether an SLO's verdict counts (as Kayenta's critical metrics, or Argo Rollouts'
/// analysis without `dryRun`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The SLO gates: its breach fails the run, its inconclusive makes the run inconclusive.
    #[default]
    Gating,
    /// `severity: advisory`: judged and reported, annotated as a warning, never gating.
    Advisory,
}

impl Severity {
    /// True for the default, gating severity.
    pub fn is_gating(&self) -> bool {
        *self == Self::Gating
    }
}

impl Slo {
    /// `< 100ms`: the target as shown in reports.
    pub fn target_text(&self) -> String {
        match &self.relative {
            Some(r) => format!("{} {r}", self.op),
            None => format!("{} {}", self.op, self.threshold),
        }
    }

    /// True for a target relative to the baseline build (`baseline ...`), judged only by `ab`.
    pub fn is_relative(&self) -> bool {
        self.relative.is_some()
    }

    /// True when the SLO's verdict counts towards the run's (not `severity: advisory`).
    pub fn gates(&self) -> bool {
        self.severity.is_gating()
    }
}

/// A target relative to the baseline build's figure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Relative {
    /// `baseline`: no worse than the baseline.
    Same,
    /// `baseline * k` (k > 0).
    Scaled {
        /// The factor k applied to the baseline's figure.
        factor: f64,
    },
    /// `baseline + q` or `baseline - q`, `q` in the metric's unit.
    Offset {
        /// The offset q, in the metric's unit.
        by: Quantity,
        /// True for `baseline - q`, false for `baseline + q`.
        minus: bool,
    },
}

impl Relative {
    /// The bound the candidate's figure is compared with, from the baseline's figure (both
    /// in the unit's base: seconds, ratio, count).
    pub fn bound(&self, baseline: f64) -> f64 {
        match *self {
            Self::Same => baseline,
            Self::Scaled { factor } => baseline * factor,
            Self::Offset { by, minus: false } => baseline + by.as_f64(),
            Self::Offset { by, minus: true } => baseline - by.as_f64(),
        }
    }
}

impl fmt::Display for Relative {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Same => f.write_str("baseline"),
            Self::Scaled { factor } => write!(f, "baseline * {factor}"),
            Self::Offset { by, minus } => {
                write!(f, "baseline {} {by}", if *minus { '-' } else { '+' })
            }
        }
    }
}

/// A fault or probe name inside an SLO expression, so an unknown name is reported at its column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameRef {
    /// Whether the name must be a fault or a probe of the scenario.
    pub kind: RefKind,
    /// The name as written.
    pub name: String,
    /// Byte range of the name inside `Slo::expression`.
    pub at: Range<usize>,
}

/// What kind of scenario item an SLO name refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    /// A fault's `name:` (`during=F`, `recovery_time(F)`, `failover_time(F)`).
    Fault,
    /// A probe's `name:` (`probe=P`, `probe_success(P)`).
    Probe,
}

/// The comparison operator of an SLO (`<`, `<=`, `>`, `>=`; there is no `==`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Comparison {
    /// `<`: the figure must be strictly below the threshold.
    #[serde(rename = "<")]
    Less,
    /// `<=`: the figure must not exceed the threshold (equal within a relative 1e-9 holds).
    #[serde(rename = "<=")]
    LessOrEqual,
    /// `>`: the figure must be strictly above the threshold.
    #[serde(rename = ">")]
    Greater,
    /// `>=`: the figure must reach the threshold (equal within a relative 1e-9 holds).
    #[serde(rename = ">=")]
    GreaterOrEqual,
}

impl Comparison {
    /// Values within a relative 1e-9 count as equal: `99.9%` parses to 0.9990000000000001
    /// and 999 of 1000 requests is 0.999, which must satisfy `>= 99.9%`.
    pub fn holds(self, measured: f64, threshold: f64) -> bool {
        let equal = (measured - threshold).abs() <= 1e-9 * threshold.abs().max(1e-12);
        match self {
            Self::LessOrEqual | Self::GreaterOrEqual if equal => true,
            Self::Less | Self::Greater if equal => false,
            Self::Less => measured < threshold,
            Self::LessOrEqual => measured <= threshold,
            Self::Greater => measured > threshold,
            Self::GreaterOrEqual => measured >= threshold,
        }
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Less => "<",
            Self::LessOrEqual => "<=",
            Self::Greater => ">",
            Self::GreaterOrEqual => ">=",
        })
    }
}

/// The unit of a metric or threshold; an SLO threshold in another unit is a parse error (exit 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A time span (latency, recovery, failover), compared in seconds.
    Duration,
    /// A share from 0.0 to 1.0, written as a percentage (`0.1%`).
    Ratio,
    /// A whole number (lost writes).
    Count,
    /// A plain number with no unit of chaosgate's: a PromQL query's value (`prom(...)`), in
    /// whatever unit the query yields (requests per second, bytes, a ratio from 0 to 1).
    Number,
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Duration => "a duration (e.g. `100ms`)",
            Self::Ratio => "a percentage (e.g. `0.1%`)",
            Self::Count => "a whole number (e.g. `0`)",
            Self::Number => "a number (e.g. `0.5`)",
        })
    }
}

/// A measured value or a threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Quantity {
    /// A time span (shown in ms below 1 s, else in s).
    Duration(Duration),
    /// 0.0–1.0.
    Ratio(f64),
    /// A whole number.
    Count(u64),
    /// A plain number (finite).
    Number(f64),
}

impl Quantity {
    /// Zero in `unit`.
    pub fn zero(unit: Unit) -> Self {
        match unit {
            Unit::Duration => Self::Duration(Duration::ZERO),
            Unit::Ratio => Self::Ratio(0.0),
            Unit::Count => Self::Count(0),
            Unit::Number => Self::Number(0.0),
        }
    }

    /// A value in the unit's base (seconds, ratio, count, number) back as a quantity of
    /// `unit`; a negative or non-finite value is clamped to zero (a bound below zero cannot be
    /// met by a duration, ratio or count anyway), a plain number keeps its sign.
    pub fn from_f64(unit: Unit, v: f64) -> Self {
        if unit == Unit::Number {
            return Self::Number(if v.is_finite() { v } else { 0.0 });
        }
        let v = if v.is_finite() { v.max(0.0) } else { 0.0 };
        match unit {
            Unit::Duration => Self::Duration(Duration::from_secs_f64(v.min(1e9))),
            Unit::Ratio => Self::Ratio(v),
            Unit::Count => Self::Count(v.round() as u64),
            Unit::Number => Self::Number(v),
        }
    }

    /// The unit this quantity is in.
    pub fn unit(&self) -> Unit {
        match self {
            Self::Duration(_) => Unit::Duration,
            Self::Ratio(_) => Unit::Ratio,
            Self::Count(_) => Unit::Count,
            Self::Number(_) => Unit::Number,
        }
    }

    /// The value in the unit's base (seconds, ratio, count) for comparisons.
    pub fn as_f64(&self) -> f64 {
        match *self {
            Self::Duration(d) => d.as_secs_f64(),
            Self::Ratio(r) => r,
            Self::Count(c) => c as f64,
            Self::Number(n) => n,
        }
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Duration(d) => {
                let ms = d.as_secs_f64() * 1000.0;
                if ms < 1000.0 {
                    f.write_str(&trimmed(ms, 1))?;
                    f.write_str("ms")
                } else {
                    f.write_str(&trimmed(ms / 1000.0, 2))?;
                    f.write_str("s")
                }
            }
            Self::Ratio(r) => {
                // Small rates need the decimals (0.05% vs a 0.1% target); large ones do not.
                let pct = r * 100.0;
                let decimals = if pct.abs() >= 1.0 { 2 } else { 3 };
                f.write_str(&trimmed(pct, decimals))?;
                f.write_str("%")
            }
            Self::Count(c) => write!(f, "{c}"),
            // Four significant digits: PromQL rates and ratios (0.01234, 48.37, 1250).
            Self::Number(n) => {
                let decimals = if n == 0.0 || !n.is_finite() {
                    0
                } else {
                    (3 - n.abs().log10().floor() as i64).clamp(0, 12) as usize
                };
                f.write_str(&trimmed(n, decimals))
            }
        }
    }
}

/// Fixed decimals with trailing zeros removed: 87.30 → "87.3", 2.00 → "2".
fn trimmed(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Reports carry the quantity as `{ "unit": "ms" | "ratio" | "count" | "number", "value": n }` so a
/// consumer needs no Rust to read it.
impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Quantity", 3)?;
        match *self {
            Self::Duration(d) => {
                s.serialize_field("unit", "ms")?;
                s.serialize_field("value", &(d.as_secs_f64() * 1000.0))?;
            }
            Self::Ratio(r) => {
                s.serialize_field("unit", "ratio")?;
                s.serialize_field("value", &r)?;
            }
            Self::Count(c) => {
                s.serialize_field("unit", "count")?;
                s.serialize_field("value", &c)?;
            }
            Self::Number(n) => {
                s.serialize_field("unit", "number")?;
                s.serialize_field("value", &n)?;
            }
        }
        s.serialize_field("text", &self.to_string())?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_render_for_people() {
        assert_eq!(
            Quantity::Duration(Duration::from_micros(87_300)).to_string(),
            "87.3ms"
        );
        assert_eq!(
            Quantity::Duration(Duration::from_millis(1420)).to_string(),
            "1.42s"
        );
        assert_eq!(
            Quantity::Duration(Duration::from_secs(30)).to_string(),
            "30s"
        );
        assert_eq!(Quantity::Ratio(0.001).to_string(), "0.1%");
        assert_eq!(Quantity::Ratio(0.999).to_string(), "99.9%");
        assert_eq!(Quantity::Ratio(0.23662).to_string(), "23.66%");
        assert_eq!(Quantity::Ratio(0.00049).to_string(), "0.049%");
        assert_eq!(Quantity::Count(3).to_string(), "3");
        assert_eq!(Quantity::Number(48.3712).to_string(), "48.37");
        assert_eq!(Quantity::Number(0.012341).to_string(), "0.01234");
        assert_eq!(Quantity::Number(-2.5).to_string(), "-2.5");
        assert_eq!(Quantity::Number(0.0).to_string(), "0");
        assert_eq!(Quantity::Number(1250.0).to_string(), "1250");
    }

    #[test]
    fn comparisons() {
        assert!(Comparison::Less.holds(1.0, 2.0));
        assert!(!Comparison::Less.holds(2.0, 2.0));
        assert!(Comparison::LessOrEqual.holds(2.0, 2.0));
        assert!(Comparison::GreaterOrEqual.holds(0.999, 0.999));
        assert!(!Comparison::Greater.holds(0.5, 0.999));
        assert!(Comparison::GreaterOrEqual.holds(999.0 / 1000.0, 99.9 / 100.0));
        assert!(!Comparison::Less.holds(0.001, 0.1 / 100.0));
    }

    /// A parsed SLO serializes its metric exactly as before the metrics had their own files.
    #[test]
    fn parsed_slos_serialize_as_they_always_have() {
        let cases = [
            (
                "p95(latency, during=crash-primary) < 100ms",
                r#"{"metric":"latency","percentile":95.0,"scope":{"during":"crash-primary"}}"#,
            ),
            (
                "p99.9(latency, phase=after) <= baseline * 1.2",
                r#"{"metric":"latency","percentile":99.9,"scope":"after"}"#,
            ),
            (
                "p50(latency) < 1s",
                r#"{"metric":"latency","percentile":50.0,"scope":"whole"}"#,
            ),
            (
                "error_rate(phase=before) < 0.1%",
                r#"{"metric":"error_rate","scope":"before"}"#,
            ),
            (
                "availability(phase=whole) >= 99.9%",
                r#"{"metric":"availability","scope":"whole"}"#,
            ),
            (
                "recovery_time(f, probe=p) < 30s",
                r#"{"metric":"recovery_time","fault":"f","probe":"p"}"#,
            ),
            (
                "recovery_time(f) <= baseline + 2s",
                r#"{"metric":"recovery_time","fault":"f","probe":null}"#,
            ),
            (
                "failover_time(f) < 2s",
                r#"{"metric":"failover_time","fault":"f"}"#,
            ),
            ("lost_writes() <= 0", r#"{"metric":"lost_writes"}"#),
            (
                "probe_success(p, during=f) >= 99%",
                r#"{"metric":"probe_success","probe":"p","during":"f"}"#,
            ),
            (
                "probe_success(p) >= 99%",
                r#"{"metric":"probe_success","probe":"p","during":null}"#,
            ),
        ];
        for (expr, metric) in cases {
            let slo = crate::slo::parse(expr).unwrap();
            assert_eq!(
                serde_json::to_string(&slo.metric).unwrap(),
                metric,
                "{expr}"
            );
        }
    }
}
