//! `prom("QUERY", during=FAULT | phase=PHASE, agg=max|min|avg|last)`: a PromQL query's value
//! as the stack's own Prometheus computes it, aggregated over a window of the run — what the
//! operators' dashboards showed while the fault held (`sum(rate(...errors...[5s]))`, a
//! replica's `up`, a queue depth). The run evaluates each query every `prometheus.every`
//! (`query` events of the log); the figure is measured from those readings only.
//!
//! - **Aggregation**: `agg=` says which; without it the one that is strictest for the
//!   comparison: `max` for `<`/`<=` (never above), `min` for `>`/`>=` (never below). The
//!   report names it.
//! - **No data**: no reading with a value in the window (no series, NaN, every reading
//!   failed) is inconclusive, never a pass.
//! - **Gaps**: readings in the window without a value were not measured: a pass of the rest
//!   cannot stand (the missing one could have been the extreme); a breach seen stands.
//! - **Resolution**: a window shorter than Prometheus's scrape interval (the longest among
//!   its targets, read at the start of the run) saw its inputs change at most once: the figure
//!   decides neither way. So does a window with fewer than two readings.

use std::time::Duration;

use serde_json::json;

use super::{Evidence, Measurement, MetricInfo, MetricKind, RunMetrics, Written};
use crate::measure::alerts::QueryReading;
use crate::slo::{Call, Comparison, Phase, Quantity, SloParseError, Unit};

/// How a window's readings become one figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    /// The largest reading.
    Max,
    /// The smallest reading.
    Min,
    /// The mean of the readings.
    Avg,
    /// The window's last reading.
    Last,
}

impl Aggregate {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "max" => Self::Max,
            "min" => Self::Min,
            "avg" => Self::Avg,
            "last" => Self::Last,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Max => "max",
            Self::Min => "min",
            Self::Avg => "avg",
            Self::Last => "last",
        }
    }

    /// The figure of `values` (in time order, not empty).
    fn of(self, values: &[f64]) -> f64 {
        match self {
            Self::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            Self::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
            Self::Avg => values.iter().sum::<f64>() / values.len() as f64,
            Self::Last => values.last().copied().unwrap_or(f64::NAN),
        }
    }
}

/// `prom(...)`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Prom {
    /// The PromQL query, as Prometheus evaluates it; it must return one series or a scalar.
    pub query: String,
    /// The part of the run whose readings count.
    #[serde(rename = "scope", serialize_with = "crate::slo::phase::serialize_in_slo")]
    pub phase: Phase,
    /// How the readings become one figure; settled from the comparison when not written.
    pub aggregate: Option<Aggregate>,
}

impl Written for Prom {
    const INFO: MetricInfo = MetricInfo {
        name: "prom",
        call: "prom(\"QUERY\", during=FAULT | phase=PHASE, agg=AGG)",
        named: &["during", "phase", "agg"],
        measures: "a PromQL query's value from the stack's Prometheus, aggregated over the window",
    };

    fn from_call(call: &mut Call) -> Result<Self, SloParseError> {
        let mut args = call.args(Self::INFO.named)?;
        let query = args.required("the PromQL query, in quotes")?;
        args.no_more_positionals(1)?;
        if query.value.trim().is_empty() {
            return Err(SloParseError::new("the query is empty", query.at));
        }
        let aggregate = match args.take("agg") {
            Some(a) => Some(Aggregate::parse(&a.value).ok_or_else(|| {
                SloParseError::new(format!("unknown aggregation `{}`", a.value), a.at)
                    .help("agg: max, min, avg or last")
            })?),
            None => None,
        };
        let phase = call.phase(&mut args)?;
        Ok(Self {
            query: query.value,
            phase,
            aggregate,
        })
    }
}

impl Prom {
    /// The aggregation used: the written one, else the strictest for the comparison.
    fn aggregate(&self) -> Aggregate {
        self.aggregate.unwrap_or(Aggregate::Max)
    }

    /// The window of the run clock (ns) the phase covers, or why there is none.
    fn window(&self, run: &RunMetrics<'_>) -> Result<(u64, u64), Measurement> {
        let a = run.analysis;
        let end = a.run_end_ns;
        let first = a.faults.iter().map(|f| f.applied_ns).min();
        let last = a.faults.iter().map(|f| f.end_ns).max();
        Ok(match &self.phase {
            Phase::Whole => (0, end),
            Phase::Before => (0, first.unwrap_or(end)),
            Phase::After => (last.map_or(0, |l| l.min(end)), end),
            Phase::During(fault) => {
                run.fault(fault)?;
                let w = a.fault(fault).ok_or_else(|| Measurement::NoData {
                    reason: format!("fault `{fault}` has no window"),
                })?;
                (w.applied_ns, w.end_ns.max(w.applied_ns))
            }
        })
    }
}

impl MetricKind for Prom {
    fn unit(&self) -> Unit {
        Unit::Number
    }

    fn name(&self) -> String {
        Self::INFO.name.into()
    }

    fn compared_with(&mut self, op: Comparison) {
        if self.aggregate.is_none() {
            self.aggregate = Some(match op {
                Comparison::Less | Comparison::LessOrEqual => Aggregate::Max,
                Comparison::Greater | Comparison::GreaterOrEqual => Aggregate::Min,
            });
        }
    }

    fn prometheus_query(&self) -> Option<&str> {
        Some(&self.query)
    }

    fn measure(&self, run: &RunMetrics<'_>) -> Measurement {
        let (from, to) = match self.window(run) {
            Ok(w) => w,
            Err(m) => return m,
        };
        let readings: Vec<&QueryReading> = run
            .analysis
            .queries
            .get(&self.query)
            .map(|r| r.iter().filter(|r| r.t >= from && r.t < to).collect())
            .unwrap_or_default();
        measure_readings(&readings, (from, to), self.aggregate(), &self.phase)
    }

    /// Readings without a value are readings never made: the rest's pass cannot stand.
    fn unmeasured_drops(&self, measured: &str, dropped: u64) -> Option<String> {
        Some(format!(
            "measured {measured}, but {dropped} of the window's readings had no value (the \
             query failed or returned no series): the {} of the rest cannot pass",
            self.aggregate().as_str()
        ))
    }

    fn too_few_samples(&self, measured: &str, samples: u64) -> Option<String> {
        (samples < 2).then(|| {
            format!(
                "measured {measured} from {samples} reading: one value cannot show a window's {}; \
                 read more often (`prometheus.every`) or judge a longer window",
                self.aggregate().as_str()
            )
        })
    }

    /// A pass measured late still reads the same Prometheus values.
    fn excused_by_late_harness(&self) -> bool {
        false
    }

    fn sampled_by(&self) -> &'static str {
        "Prometheus readings"
    }
}

/// The figure of `readings` (those in `window`, in time order).
fn measure_readings(
    readings: &[&QueryReading],
    window: (u64, u64),
    aggregate: Aggregate,
    phase: &Phase,
) -> Measurement {
    let (from, to) = window;
    let span = Duration::from_nanos(to.saturating_sub(from));
    let scrape = readings
        .iter()
        .map(|r| r.scrape_ns)
        .max()
        .filter(|s| *s > 0)
        .map(Duration::from_nanos);
    let values: Vec<f64> = readings.iter().filter_map(|r| r.value).collect();
    if values.is_empty() {
        let failed = readings.iter().filter(|r| r.failed).count();
        return Measurement::NoData {
            reason: if readings.is_empty() {
                format!("the query was never read from Prometheus in phase `{phase}`")
            } else {
                format!(
                    "the query had no value in phase `{phase}`: {} readings, {failed} failed, the \
                     rest returned no series (or NaN)",
                    readings.len()
                )
            },
        };
    }
    if let Some(s) = scrape.filter(|s| *s > span) {
        return Measurement::Inconclusive {
            reason: format!(
                "phase `{phase}` lasted {}, less than Prometheus's scrape interval ({}): the \
                 query's inputs changed at most once in it",
                Quantity::Duration(span),
                Quantity::Duration(s)
            ),
        };
    }
    let figure = aggregate.of(&values);
    let mut e = Evidence {
        window_ns: Some(window),
        ..Default::default()
    };
    e.facts.samples = Some(values.len() as u64);
    e.facts.dropped = Some((readings.len() - values.len()) as u64);
    e.facts.resolution = scrape;
    e.details.insert("aggregate".into(), json!(aggregate.as_str()));
    e.details.insert("readings".into(), json!(readings.len()));
    e.details.insert(
        "min".into(),
        json!(Aggregate::Min.of(&values)),
    );
    e.details.insert(
        "max".into(),
        json!(Aggregate::Max.of(&values)),
    );
    Measurement::Value {
        value: Quantity::Number(figure),
        evidence: Box::new(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slo::parse;

    fn reading(t_ms: u64, value: Option<f64>) -> QueryReading {
        QueryReading {
            t: t_ms * 1_000_000,
            value,
            scrape_ns: 1_000_000_000,
            failed: value.is_none(),
        }
    }

    fn judge(readings: &[QueryReading], window_ms: (u64, u64), agg: Aggregate) -> Measurement {
        let refs: Vec<&QueryReading> = readings.iter().collect();
        measure_readings(
            &refs,
            (window_ms.0 * 1_000_000, window_ms.1 * 1_000_000),
            agg,
            &Phase::during("f"),
        )
    }

    #[test]
    fn a_quoted_query_parses_with_its_own_parentheses_commas_and_quotes() {
        let slo = parse(
            r#"prom("sum(rate(gateway_http_errors_total{route=\"/quote\", code=~'5..'}[5s]))", during=f) > 10"#,
        )
        .unwrap();
        let crate::metric::Metric::Prom(p) = &slo.metric else {
            panic!("{slo:?}")
        };
        assert_eq!(
            p.query,
            r#"sum(rate(gateway_http_errors_total{route="/quote", code=~'5..'}[5s]))"#
        );
        assert_eq!(p.phase, Phase::during("f"));
        // `>`: never below the target, so the window's minimum is judged.
        assert_eq!(p.aggregate, Some(Aggregate::Min));
        assert_eq!(slo.threshold, Quantity::Number(10.0));
        let slo = parse(r#"prom('up{job="gateway"}', phase=whole) <= 0.5"#).unwrap();
        let crate::metric::Metric::Prom(p) = &slo.metric else {
            panic!()
        };
        assert_eq!(p.aggregate, Some(Aggregate::Max));
        let slo = parse(r#"prom("x", agg=avg) < 1"#).unwrap();
        let crate::metric::Metric::Prom(p) = &slo.metric else {
            panic!()
        };
        assert_eq!(p.aggregate, Some(Aggregate::Avg));
    }

    #[test]
    fn bad_calls_say_what_and_where() {
        let e = parse(r#"prom("x) < 1"#).unwrap_err();
        assert!(e.message.contains("unterminated string"), "{e:?}");
        let e = parse(r#"prom("x", agg=median) < 1"#).unwrap_err();
        assert_eq!(e.message, "unknown aggregation `median`");
        let e = parse(r#"prom() < 1"#).unwrap_err();
        assert!(e.message.contains("the PromQL query"), "{e:?}");
        let e = parse(r#"prom("x") < 10%"#).unwrap_err();
        assert!(e.message.contains("measured as a number"), "{e:?}");
    }

    #[test]
    fn each_aggregation_reads_the_window_it_is_given() {
        let r = [
            reading(1000, Some(3.0)),
            reading(2000, Some(9.0)),
            reading(3000, Some(6.0)),
        ];
        let figure = |agg| match judge(&r, (0, 4000), agg) {
            Measurement::Value {
                value: Quantity::Number(n),
                ..
            } => n,
            other => panic!("{other:?}"),
        };
        assert_eq!(figure(Aggregate::Max), 9.0);
        assert_eq!(figure(Aggregate::Min), 3.0);
        assert_eq!(figure(Aggregate::Avg), 6.0);
        assert_eq!(figure(Aggregate::Last), 6.0);
    }

    #[test]
    fn no_value_in_the_window_is_no_data_never_a_figure() {
        let r = [reading(1000, None), reading(2000, None)];
        assert!(matches!(
            judge(&r, (0, 4000), Aggregate::Max),
            Measurement::NoData { .. }
        ));
        assert!(matches!(
            judge(&[], (0, 4000), Aggregate::Max),
            Measurement::NoData { .. }
        ));
    }

    #[test]
    fn a_window_shorter_than_the_scrape_interval_decides_neither_way() {
        let r = [reading(100, Some(1.0)), reading(600, Some(1.0))];
        match judge(&r, (0, 800), Aggregate::Max) {
            Measurement::Inconclusive { reason } => {
                assert!(reason.contains("scrape interval"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }

    /// Through the whole verdict: a gap makes a pass inconclusive, a breach seen stands, one
    /// reading decides nothing.
    #[test]
    fn gaps_withdraw_a_pass_but_not_a_breach() {
        use crate::slo::Metric;
        use crate::verdict::{MetricSource, SloResult, Verdict, evaluate, rules};
        struct Readings<'a>(&'a [QueryReading]);
        impl MetricSource for Readings<'_> {
            fn measure(&self, metric: &Metric) -> Measurement {
                let Metric::Prom(p) = metric else { panic!() };
                let refs: Vec<&QueryReading> = self.0.iter().collect();
                measure_readings(&refs, (0, 4_000_000_000), p.aggregate(), &p.phase)
            }
        }
        let judge_slo = |expr: &str, r: &[QueryReading]| -> SloResult {
            let slo = parse(expr).unwrap();
            let mut result = evaluate(std::slice::from_ref(&slo), &Readings(r)).remove(0);
            rules::apply(&slo, &mut result);
            result
        };
        let gap = [
            reading(1000, Some(2.0)),
            reading(2000, None),
            reading(3000, Some(2.0)),
        ];
        let r = judge_slo(r#"prom("x") < 5"#, &gap);
        assert_eq!(r.verdict, Verdict::Inconclusive, "{r:?}");
        assert!(r.reason.unwrap().contains("1 of the window's readings had no value"));
        let r = judge_slo(r#"prom("x") < 1"#, &gap);
        assert_eq!(r.verdict, Verdict::Breached, "{r:?}");
        let full = [reading(1000, Some(2.0)), reading(3000, Some(2.0))];
        assert_eq!(judge_slo(r#"prom("x") < 5"#, &full).verdict, Verdict::Pass);
        let one = [reading(1000, Some(2.0))];
        assert_eq!(
            judge_slo(r#"prom("x") < 5"#, &one).verdict,
            Verdict::Inconclusive
        );
    }
}
