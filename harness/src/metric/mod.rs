//! The metrics of the SLO language, one file each: a metric's name and the arguments it
//! takes (how a call `name(args)` is typed), how it is measured from the run's analysis, the
//! demotion rules that read it specially, its fail-fast rule, its resolution warning before
//! the run, and how its figures are trusted across runs. The list in [`metrics!`] below is
//! the only one: the parser's names, the help texts, the enum and the dispatch come from it.
//!
//! The generic machinery stays where it was: the expression and its comparison (`slo`), the
//! verdict floor, the order of the demotion rules, fail-fast's settling and the interval maths
//! (`verdict`). Each asks the metric through [`MetricKind`]; a metric never imports `verdict`.
//!
//! Adding a metric is a file here, a line in the list, and its tests.

use std::time::Duration;

use crate::slo::{Call, Phase, Quantity, Slo, SloParseError, Unit};

mod facts;
pub mod live;
mod measured;
mod measurement;
mod planned;
mod zero_target;

pub use facts::{Facts, STARVED_LAG_P99};
pub use measured::RunMetrics;
pub use measurement::{Evidence, Measurement};
pub use planned::{Planned, PlannedProbe};
pub use zero_target::{ZERO_TARGET_SPACING, admits_no_failure, zero_target_spacing};

/// One metric's row of the table: what the parser and the help texts need to know.
#[derive(Debug, Clone, Copy)]
pub struct MetricInfo {
    /// As written in an expression; `pNN` stands for every percentile (`p95`, `p99.9`).
    pub name: &'static str,
    /// The call as documented, e.g. `recovery_time(FAULT, probe=NAME)`.
    pub call: &'static str,
    /// The named arguments it accepts (`during=`, `phase=`, `probe=`).
    pub named: &'static [&'static str],
    /// What it measures, one line.
    pub measures: &'static str,
}

/// How a metric is written: its row, and how a call of it is typed.
pub trait Written: MetricKind + Sized {
    /// The metric's row of the table.
    const INFO: MetricInfo;

    /// Whether a call named `name` is this metric's.
    fn writes(name: &str) -> bool {
        name == Self::INFO.name
    }

    /// Types a call of this metric: its arguments, in the metric's words; the fault and probe
    /// names it refers to go to `call.refs`.
    fn from_call(call: &mut Call) -> Result<Self, SloParseError>;
}

/// What a metric is once typed. Every method but the first three has the answer of a metric
/// that takes no part in that rule.
pub trait MetricKind {
    /// The unit its figures and thresholds are in.
    fn unit(&self) -> Unit;

    /// The name as written (`p95`, `error_rate`, ...).
    fn name(&self) -> String;

    /// The figure from a finished run's analysis, or why there is none (no data, or
    /// inconclusive when a fault was not proven): never a guess.
    fn measure(&self, run: &RunMetrics<'_>) -> Measurement;

    /// Told the SLO's comparison once it is parsed (a metric whose figure depends on it, as
    /// `prom`'s default aggregation does, settles it here).
    fn compared_with(&mut self, _op: crate::slo::Comparison) {}

    // ---- validation

    /// The phase of the load's requests it covers, for metrics of the load's requests (a
    /// steady state is stated with these, moved to `before`).
    fn load_phase_mut(&mut self) -> Option<&mut Phase> {
        None
    }

    /// Whether it is measured on the load's requests (the scenario needs a `load`).
    fn needs_load(&self) -> bool {
        false
    }

    /// Whether it is measured with every probe (the scenario needs one).
    fn needs_probes(&self) -> bool {
        false
    }

    /// The alert it reads from the stack's Prometheus (the scenario needs `prometheus:`),
    /// watched all through the run; `None` for metrics measured at the client.
    fn needs_prometheus(&self) -> Option<&str> {
        None
    }

    /// The PromQL query it reads from the stack's Prometheus (the scenario needs
    /// `prometheus:`), evaluated all through the run; `None` for every other metric.
    fn prometheus_query(&self) -> Option<&str> {
        None
    }

    // ---- the demotion rules (`verdict::rules`), in their order

    /// `dropped requests`: why a pass of a window where `dropped` requests were never sent
    /// cannot stand (`measured` is the figure as shown).
    fn unmeasured_drops(&self, _measured: &str, _dropped: u64) -> Option<String> {
        None
    }

    /// `too few samples`: why `samples` cannot decide the figure either way.
    fn too_few_samples(&self, _measured: &str, _samples: u64) -> Option<String> {
        None
    }

    /// `late harness`: whether a breach may be put down to a late harness at all (lost
    /// writes never are).
    fn excused_by_late_harness(&self) -> bool {
        true
    }

    /// `late harness`: why a breach would hold had the harness been punctual (the figure
    /// from its facts is within the target); `lag` is ` (p99 X)` or empty.
    fn punctual(&self, _slo: &Slo, _measured: &str, _lag: &str, _f: &Facts) -> Option<String> {
        None
    }

    /// `coarse resolution`: the interval the true outage time lies in, from the figure
    /// `measured` and its samples; `None` when the figure is exact or not an outage time.
    fn outage_bounds(
        &self,
        _slo: &Slo,
        _measured: Duration,
        _f: &Facts,
    ) -> Option<(Duration, Duration)> {
        None
    }

    /// `zero target`: whether one failed sample among `samples` (unknown: `None`) would
    /// already breach `slo` ([`admits_no_failure`]).
    fn admits_no_failure(&self, _slo: &Slo, _samples: Option<u64>) -> bool {
        false
    }

    /// What its samples are, in words (`requests`, `probe checks`).
    fn sampled_by(&self) -> &'static str {
        "requests"
    }

    // ---- fail fast (`verdict::early`)

    /// Why `slo` is certainly breached whatever the rest of the run brings, or `None`. Each
    /// rule carries its proof; one that cannot prove it stays silent.
    fn certain_breach(&self, _slo: &Slo, _live: &live::Live<'_>) -> Option<String> {
        None
    }

    // ---- before the run (`verdict::resolution`)

    /// Why the plan cannot resolve `slo` (one warning each), or nothing.
    fn resolution_warnings(&self, _slo: &Slo, _plan: &Planned<'_>) -> Vec<String> {
        Vec::new()
    }

    // ---- across runs (`verdict::relative`, `verdict::interval`)

    /// Why a run's figure cannot be trusted whatever the target (its facts say it was not
    /// fully measured), beyond what every metric checks.
    fn untrusted_figure(&self, _f: &Facts) -> Option<String> {
        None
    }

    /// Whether its figure is a time a late harness only ever lengthens.
    fn timing(&self) -> bool {
        self.unit() == Unit::Duration
    }

    /// Whether one run's breach is a breach whatever the other runs say (never noise).
    fn never_noise(&self) -> bool {
        false
    }
}

/// Whether the figure `d` meets `slo`'s target.
pub fn holds(slo: &Slo, d: Duration) -> bool {
    slo.op
        .holds(Quantity::Duration(d).as_f64(), slo.threshold.as_f64())
}

/// The list: `Variant => module::Type`. Everything about the set of metrics is generated here.
macro_rules! metrics {
    ($($variant:ident => $module:ident :: $ty:ident),+ $(,)?) => {
        $(mod $module;)+
        $(pub use $module::$ty;)+

        /// What an SLO measures: one metric with its arguments. Serialized as before the
        /// metrics had their own files (`{"metric": "latency", "percentile": 95.0, ...}`).
        #[derive(Debug, Clone, PartialEq, serde::Serialize)]
        #[serde(tag = "metric", rename_all = "snake_case")]
        pub enum Metric {
            $(
                #[doc = concat!("`", stringify!($module), "`: see [`", stringify!($ty), "`].")]
                $variant($ty),
            )+
        }

        /// Every metric's row, in the order help texts list them.
        pub const METRICS: &[MetricInfo] = &[$(<$ty as Written>::INFO),+];

        impl Metric {
            /// Types a call: the metric it names reads its arguments.
            pub fn from_call(call: &mut Call) -> Result<Self, SloParseError> {
                $(
                    if <$ty as Written>::writes(&call.name) {
                        return <$ty as Written>::from_call(call).map(Self::$variant);
                    }
                )+
                Err(SloParseError::new(format!("unknown metric `{}`", call.name), call.name_at.clone())
                    .help(format!("metrics: {}", names())))
            }

            /// The metric itself, for everything else.
            pub fn kind(&self) -> &dyn MetricKind {
                match self {
                    $(Self::$variant(m) => m,)+
                }
            }

            /// The metric itself, to change its arguments.
            pub fn kind_mut(&mut self) -> &mut dyn MetricKind {
                match self {
                    $(Self::$variant(m) => m,)+
                }
            }

            /// This metric's row.
            pub fn info(&self) -> &'static MetricInfo {
                match self {
                    $(Self::$variant(_) => &<$ty as Written>::INFO,)+
                }
            }
        }

        /// The row of the metric written `name` (`p95` finds `pNN`); `None` for an unknown one.
        pub fn info(name: &str) -> Option<&'static MetricInfo> {
            $(
                if <$ty as Written>::writes(name) {
                    return Some(&<$ty as Written>::INFO);
                }
            )+
            None
        }
    };
}

metrics! {
    Latency => latency::Latency,
    ErrorRate => error_rate::ErrorRate,
    Availability => availability::Availability,
    RecoveryTime => recovery_time::RecoveryTime,
    FailoverTime => failover_time::FailoverTime,
    LostWrites => lost_writes::LostWrites,
    ProbeSuccess => probe_success::ProbeSuccess,
    DetectTime => detect_time::DetectTime,
    ClearTime => clear_time::ClearTime,
    Prom => prom::Prom,
}

pub use latency::samples_needed;

impl Metric {
    /// The unit the metric's figures and thresholds are in.
    pub fn unit(&self) -> Unit {
        self.kind().unit()
    }

    /// The metric's name as written (`p95`, `error_rate`, ...).
    pub fn name(&self) -> String {
        self.kind().name()
    }
}

/// The metrics' names for help texts: `pNN (p50, p90, p95, p99, p99.9), error_rate, ...`.
pub fn names() -> String {
    METRICS
        .iter()
        .map(|m| {
            if m.name == "pNN" {
                "pNN (p50, p90, p95, p99, p99.9)"
            } else {
                m.name
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row parses as documented and names itself back; every named argument in a call is
    /// one the row accepts.
    #[test]
    fn every_row_parses_and_names_itself() {
        for m in METRICS {
            let call = m
                .call
                .replace("pNN", "p95")
                .replace(" | phase=PHASE", "")
                .replace("FAULT", "f")
                .replace("PROBE", "pr")
                .replace("NAME", "pr")
                .replace("AGG", "max");
            // Units differ by metric; the call itself must parse with one of them.
            let slo = ["1s", "1%", "1"]
                .iter()
                .find_map(|t| crate::slo::parse(&format!("{call} < {t}")).ok())
                .unwrap_or_else(|| panic!("`{call}` does not parse"));
            let named = slo.metric.name();
            assert_eq!(info(&named).map(|i| i.name), Some(m.name), "{call}");
            assert_eq!(slo.metric.info().name, m.name, "{call}");
            for arg in m.named {
                assert!(m.call.contains(&format!("{arg}=")), "{}: {arg}", m.name);
            }
        }
        assert!(info("nope").is_none());
        assert_eq!(info("p99.9").unwrap().name, "pNN");
    }

    /// The README's SLO section lists exactly these metrics.
    #[test]
    fn the_readme_lists_every_metric() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
        for m in METRICS {
            let shown = m.name.replace("pNN", "p95");
            assert!(readme.contains(&shown), "README does not mention `{shown}`");
        }
    }

    /// What validation, the demotion rules and the comparisons across runs read of each
    /// metric, pinned as it was when these answers were `match`es spread over six files.
    #[test]
    fn each_metric_answers_as_it_always_has() {
        // (expression, needs load, needs probes, has a load phase, excused by a late
        // harness, a timing, never noise, sampled by)
        let table = [
            (
                "p95(latency) < 1s",
                true,
                false,
                true,
                true,
                true,
                false,
                "requests",
            ),
            (
                "error_rate() < 1%",
                true,
                false,
                true,
                true,
                false,
                false,
                "requests",
            ),
            (
                "availability() > 1%",
                true,
                false,
                true,
                true,
                false,
                false,
                "requests",
            ),
            (
                "recovery_time(f) < 1s",
                false,
                true,
                false,
                true,
                true,
                false,
                "requests",
            ),
            (
                "recovery_time(f, probe=p) < 1s",
                false,
                false,
                false,
                true,
                true,
                false,
                "requests",
            ),
            (
                "failover_time(f) < 1s",
                true,
                false,
                false,
                true,
                true,
                false,
                "requests",
            ),
            (
                "lost_writes() <= 0",
                true,
                false,
                false,
                false,
                false,
                true,
                "requests",
            ),
            (
                "probe_success(p) > 1%",
                false,
                false,
                false,
                true,
                false,
                false,
                "probe checks",
            ),
        ];
        for (expr, load, probes, phase, excused, timing, never_noise, sampled) in table {
            let mut slo = crate::slo::parse(expr).unwrap();
            let m = slo.metric.kind();
            assert_eq!(m.needs_load(), load, "{expr}");
            assert_eq!(m.needs_probes(), probes, "{expr}");
            assert_eq!(m.excused_by_late_harness(), excused, "{expr}");
            assert_eq!(m.timing(), timing, "{expr}");
            assert_eq!(m.never_noise(), never_noise, "{expr}");
            assert_eq!(m.sampled_by(), sampled, "{expr}");
            assert_eq!(
                slo.metric.kind_mut().load_phase_mut().is_some(),
                phase,
                "{expr}"
            );
        }
    }
}
