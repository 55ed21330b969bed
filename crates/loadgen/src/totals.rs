//! Run-wide counters and histograms: what every outcome adds to, whatever its second.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::outcome::{ErrorKind, is_success};
use crate::recorder::LatencyRecorder;

/// Status codes are three digits (100..=999 in `http`), so a flat table indexes them.
const STATUS_SLOTS: usize = 1000;

/// Everything a run's summary needs except the per-second series.
#[derive(Debug, Clone)]
pub(crate) struct RunTotals {
    /// From intended start to the response or the error, every outcome exactly once:
    /// non-2xx, errors, timeouts (at the timeout) and Dropped requests (at the timeout).
    pub latency: LatencyRecorder,
    /// From the moment the request was handed to a connection to its response or error:
    /// what a closed-loop tool would report; requests never sent have none. Empty in the
    /// closed model, where the two are equal.
    pub service: LatencyRecorder,
    statuses: Vec<u64>,
    errors: [u64; ErrorKind::ALL.len()],
    pub scheduled: u64,
    pub sent: u64,
    pub responses: u64,
    pub ok: u64,
}

impl RunTotals {
    pub fn new() -> Self {
        RunTotals {
            latency: LatencyRecorder::new(),
            service: LatencyRecorder::new(),
            statuses: vec![0; STATUS_SLOTS],
            errors: [0; ErrorKind::ALL.len()],
            scheduled: 0,
            sent: 0,
            responses: 0,
            ok: 0,
        }
    }

    /// One outcome. `service` is the latency from the actual send, when it differs; `sent`
    /// whether it reached a connection at all.
    pub fn record(
        &mut self,
        result: &Result<u16, ErrorKind>,
        latency: Duration,
        service: Option<Duration>,
        sent: bool,
    ) {
        self.scheduled += 1;
        if sent {
            self.sent += 1;
        }
        self.latency.record(latency);
        if let Some(service) = service {
            self.service.record(service);
        }
        match result {
            Ok(status) => {
                self.responses += 1;
                if let Some(slot) = self.statuses.get_mut(usize::from(*status)) {
                    *slot += 1;
                }
            }
            Err(kind) => self.errors[kind.index()] += 1,
        }
        if is_success(result) {
            self.ok += 1;
        }
    }

    pub fn merge(&mut self, other: &RunTotals) {
        self.latency.merge(&other.latency);
        self.service.merge(&other.service);
        for (mine, theirs) in self.statuses.iter_mut().zip(&other.statuses) {
            *mine += theirs;
        }
        for (mine, theirs) in self.errors.iter_mut().zip(&other.errors) {
            *mine += theirs;
        }
        self.scheduled += other.scheduled;
        self.sent += other.sent;
        self.responses += other.responses;
        self.ok += other.ok;
    }

    /// Responses per status code, only codes that occurred.
    pub fn status_counts(&self) -> BTreeMap<u16, u64> {
        self.statuses
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .filter_map(|(code, n)| u16::try_from(code).ok().map(|code| (code, *n)))
            .collect()
    }

    /// Errors per kind, every kind listed (0 when it did not occur) so the shape is stable.
    pub fn error_counts(&self) -> BTreeMap<ErrorKind, u64> {
        ErrorKind::ALL
            .iter()
            .map(|kind| (*kind, self.errors[kind.index()]))
            .collect()
    }

    #[cfg(test)]
    pub fn error_count(&self, kind: ErrorKind) -> u64 {
        self.errors[kind.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_status_and_kind() {
        let mut t = RunTotals::new();
        let ms = Duration::from_millis;
        t.record(&Ok(200), ms(1), Some(ms(1)), true);
        t.record(&Ok(503), ms(2), Some(ms(2)), true);
        t.record(&Err(ErrorKind::Timeout), ms(1000), Some(ms(1000)), true);
        t.record(&Err(ErrorKind::Dropped), ms(1000), None, false);
        assert_eq!((t.scheduled, t.sent, t.responses, t.ok), (4, 3, 2, 1));
        assert_eq!(t.status_counts(), BTreeMap::from([(200, 1), (503, 1)]));
        assert_eq!(t.error_count(ErrorKind::Timeout), 1);
        assert_eq!(t.error_count(ErrorKind::Dropped), 1);
        assert_eq!(t.error_counts().len(), ErrorKind::ALL.len());
        // Every outcome is in the latency exactly once, at its latency: the timeout and the
        // dropped request at the 1 s timeout, so half of these four took 1 s.
        assert_eq!(t.latency.count(), t.scheduled);
        assert_eq!(t.latency.count_at_most(ms(2)), 2);
        assert!(t.latency.quantile(0.75) >= ms(999));
        // Only what was sent has a time from the send.
        assert_eq!(t.service.count(), 3);
    }

    #[test]
    fn merge_is_a_sum() {
        let mut a = RunTotals::new();
        let mut b = RunTotals::new();
        a.record(&Ok(200), Duration::from_millis(1), None, true);
        b.record(&Ok(200), Duration::from_millis(1), None, true);
        b.record(&Err(ErrorKind::Reset), Duration::from_millis(1), None, true);
        a.merge(&b);
        assert_eq!((a.scheduled, a.ok), (3, 2));
        assert_eq!(a.status_counts()[&200], 2);
        assert_eq!(a.error_count(ErrorKind::Reset), 1);
    }
}
