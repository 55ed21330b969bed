//! `LoadSummary`: what a run reports, for people (via the CLI) and machines (serde).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::outcome::ErrorKind;
use crate::rate::Rate;
use crate::recorder::LatencySummary;
use crate::series::SecondStats;
use crate::totals::RunTotals;

/// How the load was driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LoadMode {
    /// Requests started on a schedule, whatever the responses do.
    Open,
    /// A fixed number of connections, each sending its next request when the last ended.
    Closed,
}

/// The result of a load run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoadSummary {
    /// Which model ran: open (scheduled) or closed (connections as fast as answered).
    pub mode: LoadMode,
    /// The planned rate (open model only).
    pub rate: Option<Rate>,
    /// Connections (closed) or the in-flight bound (open).
    pub concurrency: usize,
    /// The planned duration, in seconds.
    pub planned_duration_s: f64,
    /// From start until the last request ended, in seconds.
    pub elapsed_s: f64,
    /// Whether the run was cancelled before its planned end.
    pub cancelled: bool,
    /// Requests the schedule started (open) or attempted (closed), Dropped ones included.
    pub scheduled: u64,
    /// Requests handed to a connection: not the Dropped ones, nor those whose timeout
    /// passed while they waited for an in-flight slot.
    pub sent: u64,
    /// Requests that got an HTTP response, whatever its status.
    pub responses: u64,
    /// 2xx responses.
    pub ok: u64,
    /// `1 - ok / scheduled`: non-2xx responses and errors of every kind.
    pub error_rate: f64,
    /// Requests sent per second of the sending window: equals the planned rate when the
    /// generator kept up with its schedule.
    pub achieved_rate: f64,
    /// Responses per second of `elapsed_s`.
    pub throughput: f64,
    /// From each request's intended start to its complete response or its error: every
    /// scheduled request exactly once (`latency.count == scheduled`), responses of any
    /// status, errors with their latency, timeouts and Dropped requests at the timeout.
    pub latency: LatencySummary,
    /// From the actual send to the response or error, requests that were sent only: what a
    /// closed-loop tool would report. Only in the open model, where a gap between the two
    /// shows requests waiting for an in-flight slot, or the generator falling behind.
    pub service_latency: Option<LatencySummary>,
    /// The most requests that waited for an in-flight slot at once (open model; 0 when the
    /// bound was never reached).
    #[serde(default)]
    pub peak_waiting: u64,
    /// Responses per HTTP status code (every status, 2xx included).
    pub status_counts: BTreeMap<u16, u64>,
    /// Requests that ended without a response, per kind of error (Dropped and timeouts
    /// included).
    pub error_counts: BTreeMap<ErrorKind, u64>,
    /// Counts and latencies per second of the run, in order, starting at second 0.
    pub series: Vec<SecondStats>,
}

/// The timing of a finished run, as the drivers measured it.
pub(crate) struct RunTiming {
    pub mode: LoadMode,
    pub rate: Option<Rate>,
    pub concurrency: usize,
    pub planned: Duration,
    pub elapsed: Duration,
    /// From start until sending stopped (the last scheduled send, or the deadline).
    pub sending: Duration,
    pub cancelled: bool,
    /// The most requests waiting for an in-flight slot at once.
    pub peak_waiting: u64,
}

impl LoadSummary {
    pub(crate) fn build(timing: RunTiming, totals: &RunTotals, series: Vec<SecondStats>) -> Self {
        let per_second = |n: u64, d: Duration| {
            if d.is_zero() {
                0.0
            } else {
                n as f64 / d.as_secs_f64()
            }
        };
        let error_rate = if totals.scheduled == 0 {
            0.0
        } else {
            1.0 - totals.ok as f64 / totals.scheduled as f64
        };
        LoadSummary {
            mode: timing.mode,
            rate: timing.rate,
            concurrency: timing.concurrency,
            planned_duration_s: timing.planned.as_secs_f64(),
            elapsed_s: timing.elapsed.as_secs_f64(),
            cancelled: timing.cancelled,
            scheduled: totals.scheduled,
            sent: totals.sent,
            responses: totals.responses,
            ok: totals.ok,
            error_rate,
            achieved_rate: per_second(totals.sent, timing.sending),
            throughput: per_second(totals.responses, timing.elapsed),
            latency: totals.latency.summary(),
            service_latency: (timing.mode == LoadMode::Open).then(|| totals.service.summary()),
            peak_waiting: timing.peak_waiting,
            status_counts: totals.status_counts(),
            error_counts: totals.error_counts(),
            series,
        }
    }

    /// Errors of one kind.
    pub fn errors_of(&self, kind: ErrorKind) -> u64 {
        self.error_counts.get(&kind).copied().unwrap_or(0)
    }

    /// Requests that got no HTTP response, all kinds together.
    pub fn total_errors(&self) -> u64 {
        self.error_counts.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run_recorder::RunRecorder;

    fn summary() -> LoadSummary {
        let mut recorder = RunRecorder::new(Duration::from_secs(1));
        recorder.record(
            0,
            &Ok(200),
            Duration::from_millis(3),
            Some(Duration::from_millis(2)),
        );
        recorder.record(1, &Err(ErrorKind::Dropped), Duration::from_secs(1), None);
        let (totals, series) = recorder.finish();
        let timing = RunTiming {
            mode: LoadMode::Open,
            rate: Some(Rate::Constant(1.0)),
            concurrency: 10,
            planned: Duration::from_secs(2),
            elapsed: Duration::from_secs(2),
            sending: Duration::from_secs(2),
            cancelled: false,
            peak_waiting: 7,
        };
        LoadSummary::build(timing, &totals, series)
    }

    #[test]
    fn figures_follow_from_the_outcomes() {
        let s = summary();
        assert_eq!((s.scheduled, s.sent, s.responses, s.ok), (2, 1, 1, 1));
        assert_eq!(s.error_rate, 0.5);
        assert_eq!(s.achieved_rate, 0.5);
        assert_eq!(s.errors_of(ErrorKind::Dropped), 1);
        assert_eq!(s.series.len(), 2);
        // The dropped request is in the latency, at the 1 s timeout.
        assert_eq!(s.latency.count, s.scheduled);
        assert!(s.latency.max_us >= 999_000, "{:?}", s.latency);
        assert_eq!(s.service_latency.map(|l| l.count), Some(1));
        assert_eq!(s.peak_waiting, 7);
    }

    #[test]
    fn json_round_trips_with_stable_names() {
        let s = summary();
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["mode"], "open");
        assert_eq!(json["rate"], serde_json::json!({"constant": 1.0}));
        assert_eq!(json["status_counts"]["200"], 1);
        assert_eq!(json["error_counts"]["dropped"], 1);
        assert_eq!(
            json["series"][0]["p50_us"].as_u64().map(|p| p / 100),
            Some(30)
        );
        let back: LoadSummary = serde_json::from_value(json).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn has_a_json_schema_naming_every_field() {
        let schema = serde_json::to_value(schemars::schema_for!(LoadSummary)).unwrap();
        let properties = schema["properties"].as_object().unwrap();
        for field in [
            "latency",
            "service_latency",
            "error_counts",
            "series",
            "achieved_rate",
        ] {
            assert!(properties.contains_key(field), "{field}");
        }
    }
}
