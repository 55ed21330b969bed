//! `RunRecorder`: where every outcome of a run is counted, in memory that does not grow
//! with the number of requests (only by a few numbers per second of run).

use std::time::Duration;

use crate::outcome::ErrorKind;
use crate::series::{SecondSeries, SecondStats};
use crate::totals::RunTotals;

/// Run-wide totals and the per-second series together.
#[derive(Debug)]
pub struct RunRecorder {
    pub(crate) totals: RunTotals,
    series: SecondSeries,
}

impl RunRecorder {
    /// `timeout` bounds how late an outcome can arrive after its second, which sets how
    /// many seconds stay open.
    pub fn new(timeout: Duration) -> Self {
        RunRecorder {
            totals: RunTotals::new(),
            series: SecondSeries::new(SecondSeries::window_for_timeout(timeout)),
        }
    }

    /// One outcome: `second` of the run it belongs to, its result, its latency from the
    /// intended start and its latency from the actual send (`None`: it was never sent,
    /// being Dropped or timed out while waiting for an in-flight slot).
    pub fn record(
        &mut self,
        second: u64,
        result: &Result<u16, ErrorKind>,
        latency: Duration,
        service: Option<Duration>,
    ) {
        let sent = service.is_some();
        self.totals.record(result, latency, service, sent);
        self.series.record(second, result, latency, sent);
    }

    pub(crate) fn finish(self) -> (RunTotals, Vec<SecondStats>) {
        (self.totals, self.series.finish())
    }
}
