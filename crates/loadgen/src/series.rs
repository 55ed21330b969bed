//! The per-second series (requests, successes, errors, p50, p99 for each second of a run)
//! kept in bounded memory: only a short window of seconds holds a histogram; older seconds
//! are reduced to a few numbers.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::outcome::{ErrorKind, is_success};
use crate::recorder::LatencyRecorder;

/// The figures of one second of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SecondStats {
    /// Seconds since the run's start: of the intended start time in the open model, of the
    /// completion time in the closed model.
    pub second: u64,
    /// Requests actually handed to a connection (not the Dropped ones, nor those whose
    /// timeout passed while they waited for an in-flight slot).
    pub sent: u64,
    /// 2xx responses.
    pub ok: u64,
    /// Everything else: non-2xx responses and errors of every kind, Dropped included.
    pub errors: u64,
    /// Median latency of the second's requests, every outcome at its latency (errors,
    /// timeouts and Dropped requests at the timeout); `None` when the second had none.
    pub p50_us: Option<u64>,
    /// 99th percentile latency of the second's requests, counted as for `p50_us`; `None` when
    /// the second had none.
    pub p99_us: Option<u64>,
}

/// Counts and latencies of one second still open to late outcomes.
#[derive(Debug, Clone)]
pub(crate) struct SecondPartial {
    pub sent: u64,
    pub ok: u64,
    pub errors: u64,
    pub latency: LatencyRecorder,
}

/// Per-second precision: 1 % is plenty for a timeline, and 7× smaller than 3 digits.
const SERIES_DIGITS: u8 = 2;

impl SecondPartial {
    pub fn new() -> Self {
        SecondPartial {
            sent: 0,
            ok: 0,
            errors: 0,
            latency: LatencyRecorder::with_significant_digits(SERIES_DIGITS),
        }
    }

    pub fn record(&mut self, result: &Result<u16, ErrorKind>, latency: Duration, sent: bool) {
        if sent {
            self.sent += 1;
        }
        if is_success(result) {
            self.ok += 1;
        } else {
            self.errors += 1;
        }
        self.latency.record(latency);
    }

    pub fn is_empty(&self) -> bool {
        self.sent == 0 && self.ok == 0 && self.errors == 0
    }

    fn clear(&mut self) {
        self.sent = 0;
        self.ok = 0;
        self.errors = 0;
        self.latency.reset();
    }

    fn close(&self, second: u64) -> SecondStats {
        let has_latency = !self.latency.is_empty();
        let us = |q: f64| {
            has_latency
                .then(|| u64::try_from(self.latency.quantile(q).as_micros()).unwrap_or(u64::MAX))
        };
        SecondStats {
            second,
            sent: self.sent,
            ok: self.ok,
            errors: self.errors,
            p50_us: us(0.50),
            p99_us: us(0.99),
        }
    }
}

/// The series of a run. Outcomes may arrive out of order (a slow request of second 4 ends
/// after fast ones of second 5); seconds within `open_window` of the newest one still take
/// latencies, older ones only counts.
#[derive(Debug)]
pub(crate) struct SecondSeries {
    open_window: usize,
    /// The second number of `open[0]`; every second before it is in `closed`.
    first_open: u64,
    open: VecDeque<SecondPartial>,
    spare: Vec<SecondPartial>,
    closed: Vec<SecondStats>,
}

impl SecondSeries {
    pub fn new(open_window: usize) -> Self {
        SecondSeries {
            open_window: open_window.max(1),
            first_open: 0,
            open: VecDeque::new(),
            spare: Vec::new(),
            closed: Vec::new(),
        }
    }

    /// Seconds to keep open so that no outcome misses its second's percentiles: those
    /// arrive at most `timeout` (plus scheduling slack) after their second.
    pub fn window_for_timeout(timeout: Duration) -> usize {
        usize::try_from(timeout.as_secs())
            .unwrap_or(usize::MAX)
            .saturating_add(3)
    }

    /// One outcome of `second`; `sent` whether it reached a connection.
    pub fn record(
        &mut self,
        second: u64,
        result: &Result<u16, ErrorKind>,
        latency: Duration,
        sent: bool,
    ) {
        match self.slot(second) {
            Some(partial) => partial.record(result, latency, sent),
            None => {
                let mut late = SecondPartial::new();
                late.record(result, latency, sent);
                self.add_to_closed(second, &late);
            }
        }
    }

    /// Adds a partial second gathered elsewhere (one closed-model thread's share).
    pub fn merge(&mut self, second: u64, partial: &SecondPartial) {
        match self.slot(second) {
            Some(open) => {
                open.sent += partial.sent;
                open.ok += partial.ok;
                open.errors += partial.errors;
                open.latency.merge(&partial.latency);
            }
            None => self.add_to_closed(second, partial),
        }
    }

    /// Closes every second and returns the series in order.
    pub fn finish(mut self) -> Vec<SecondStats> {
        while !self.open.is_empty() {
            self.close_oldest();
        }
        self.closed
    }

    fn slot(&mut self, second: u64) -> Option<&mut SecondPartial> {
        if second < self.first_open {
            return None;
        }
        while second >= self.first_open + self.open.len() as u64 {
            if self.open.len() == self.open_window {
                self.close_oldest();
            }
            let fresh = self.spare.pop().unwrap_or_else(SecondPartial::new);
            self.open.push_back(fresh);
        }
        let index = usize::try_from(second - self.first_open).ok()?;
        self.open.get_mut(index)
    }

    fn close_oldest(&mut self) {
        if let Some(mut oldest) = self.open.pop_front() {
            self.closed.push(oldest.close(self.first_open));
            self.first_open += 1;
            oldest.clear();
            self.spare.push(oldest);
        }
    }

    // Too late for its percentiles, which are already computed; the counts still matter.
    fn add_to_closed(&mut self, second: u64, partial: &SecondPartial) {
        if let Some(stats) = usize::try_from(second)
            .ok()
            .and_then(|i| self.closed.get_mut(i))
        {
            stats.sent += partial.sent;
            stats.ok += partial.ok;
            stats.errors += partial.errors;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: Result<u16, ErrorKind> = Ok(200);

    #[test]
    fn one_entry_per_second_with_its_percentiles() {
        let mut s = SecondSeries::new(3);
        s.record(0, &OK, Duration::from_millis(1), true);
        s.record(1, &OK, Duration::from_millis(10), true);
        s.record(1, &Ok(503), Duration::from_millis(30), true);
        s.record(3, &Err(ErrorKind::Timeout), Duration::from_secs(1), true);
        s.record(3, &Err(ErrorKind::Dropped), Duration::from_secs(1), false);
        let series = s.finish();
        assert_eq!(series.len(), 4);
        assert_eq!(
            series.iter().map(|x| x.second).collect::<Vec<_>>(),
            vec![0, 1, 2, 3]
        );
        assert_eq!((series[1].sent, series[1].ok, series[1].errors), (2, 1, 1));
        assert!(
            series[1]
                .p99_us
                .is_some_and(|p| (29_000..=31_000).contains(&p))
        );
        assert_eq!(series[2].p50_us, None);
        // A timeout and a dropped request are errors at the timeout, not missing samples
        // (nor ~0 ones); the dropped one was not sent.
        assert_eq!((series[3].sent, series[3].errors), (1, 2));
        assert!(
            series[3]
                .p50_us
                .is_some_and(|p| (990_000..=1_010_000).contains(&p)),
            "{:?}",
            series[3]
        );
    }

    #[test]
    fn late_outcomes_inside_the_window_keep_their_percentiles() {
        let mut s = SecondSeries::new(3);
        s.record(5, &OK, Duration::from_millis(1), true);
        s.record(3, &OK, Duration::from_millis(700), true);
        let series = s.finish();
        assert_eq!(series[3].p50_us.map(|p| p / 10_000), Some(70));
    }

    #[test]
    fn outcomes_older_than_the_window_still_count() {
        let mut s = SecondSeries::new(2);
        s.record(0, &OK, Duration::from_millis(1), true);
        s.record(9, &OK, Duration::from_millis(1), true);
        s.record(0, &Ok(500), Duration::from_millis(900), true);
        let series = s.finish();
        assert_eq!(series.len(), 10);
        assert_eq!((series[0].ok, series[0].errors), (1, 1));
        // Its percentiles were closed before the late one came.
        assert!(series[0].p99_us.is_some_and(|p| p < 2_000));
    }

    #[test]
    fn memory_is_bounded_by_the_window() {
        let mut s = SecondSeries::new(4);
        for second in 0..10_000 {
            s.record(second, &OK, Duration::from_millis(1), true);
            assert!(s.open.len() + s.spare.len() <= 5);
        }
        assert_eq!(s.finish().len(), 10_000);
    }

    #[test]
    fn merged_partials_add_up() {
        let mut s = SecondSeries::new(3);
        let mut a = SecondPartial::new();
        a.record(&OK, Duration::from_millis(2), true);
        let mut b = SecondPartial::new();
        b.record(&Err(ErrorKind::Reset), Duration::from_millis(2), true);
        s.merge(0, &a);
        s.merge(0, &b);
        let series = s.finish();
        assert_eq!((series[0].sent, series[0].ok, series[0].errors), (2, 1, 1));
    }
}
