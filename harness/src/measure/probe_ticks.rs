//! Probe success over the probe's *scheduled* ticks. One check runs at a time, so a check that
//! hangs to its timeout holds the ticks that fall due meanwhile; counted as checks made, an
//! outage would be a few failures against a healthy tail of many successes (a 6 s pause under
//! a 100 ms probe with a 500 ms timeout read 54 % while the service answered ~15 % of the
//! window). Each held tick counts with the outcome of the check that held it, at its own time:
//! a check that timed out says the service did not answer through those ticks; one that
//! answered late says a check begun at any of them would have been answered within its timeout
//! too (the answer came sooner after it).
//!
//! Held ticks are not evidence of their own: recovery (`recovery.rs`) reads only the checks
//! made, so its bounds rest on real checks.

use crate::timeline::SkippedTicks;

/// One check as the success figures read it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TickedCheck {
    /// Where the log placed the check (its start if it failed, its answer if it succeeded).
    pub t: u64,
    /// Whether it succeeded.
    pub ok: bool,
    /// The ticks it held, each counted with `ok` at its own time.
    pub skipped: Option<SkippedTicks>,
}

/// (scheduled ticks, successful ticks) of `checks` whose time lies in `from..=to` (run-clock
/// ns): each check at its place, each tick it held at the tick's time.
pub fn tally(checks: &[TickedCheck], from: u64, to: u64) -> (u64, u64) {
    let mut n = 0;
    let mut ok = 0;
    for c in checks {
        let held = c.skipped.map_or(0, |s| s.count_within(from, to));
        let own = u64::from((from..=to).contains(&c.t));
        n += own + held;
        if c.ok {
            ok += own + held;
        }
    }
    (n, ok)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::probe::Grid;

    const MS: u64 = 1_000_000;

    /// A service that answers a check `LATENCY` after it begins when up, and holds a check
    /// begun while it is down until it is up again (a paused container's kernel queues the
    /// connection). Returns whether a check begun at `start` succeeds, and when it ends.
    fn check_at(start: u64, timeout: u64, down: (u64, u64)) -> (bool, u64) {
        const LATENCY: u64 = 2 * MS;
        let answered = if (down.0..down.1).contains(&start) {
            down.1 + LATENCY
        } else {
            start + LATENCY
        };
        if answered - start <= timeout {
            (true, answered)
        } else {
            (false, start + timeout)
        }
    }

    /// What `run_probe` logs against that service: one check at a time on its grid.
    fn probe_a_service(
        every_ms: u64,
        timeout_ms: u64,
        until_ms: u64,
        down_ms: (u64, u64),
    ) -> Vec<TickedCheck> {
        let origin = tokio::time::Instant::now();
        let ns = |i: tokio::time::Instant| i.duration_since(origin).as_nanos() as u64;
        let mut grid = Grid::new(origin, Duration::from_millis(every_ms));
        let down = (down_ms.0 * MS, down_ms.1 * MS);
        let mut out = Vec::new();
        while ns(grid.due()) < until_ms * MS {
            let start = ns(grid.due());
            let (ok, end) = check_at(start, timeout_ms * MS, down);
            let held = grid.finished(origin + Duration::from_nanos(end));
            out.push(TickedCheck {
                t: if ok { end } else { start },
                ok,
                skipped: (held > 0).then_some(SkippedTicks {
                    first_ns: start + every_ms * MS,
                    every_ns: every_ms * MS,
                    count: held,
                }),
            });
        }
        out
    }

    /// The example: a `tcp` probe every 100 ms (timeout 500 ms) of redis paused for
    /// 6 s; the fault's window runs on to about 1 s after the unpause. Probe success in the
    /// window must be what a check begun at every scheduled tick would have measured (no
    /// coordinated omission) — short of it by at most the ticks the last hanging check held
    /// — which is the share of the window the service answered, give or take one timeout;
    /// not the share of the checks one-at-a-time made (54 % in the issue).
    #[test]
    fn probe_success_of_a_paused_service_is_judged_over_every_scheduled_tick() {
        let (every, timeout) = (100, 500);
        let pause = 4_000;
        // Every phase of the probe's grid against the unpause.
        for unpause in (10_000..10_600).step_by(20) {
            let window_end = unpause + 1_050;
            let checks = probe_a_service(every, timeout, 20_000, (pause, unpause));
            let (n, ok) = tally(&checks, pause * MS, window_end * MS);

            let ticks: Vec<u64> = (pause / every..=window_end / every)
                .map(|k| k * every * MS)
                .collect();
            let open_ok = ticks
                .iter()
                .filter(|&&t| check_at(t, timeout * MS, (pause * MS, unpause * MS)).0)
                .count() as u64;
            assert_eq!(n, ticks.len() as u64, "every tick once (unpause {unpause})");
            assert!(
                ok <= open_ok && open_ok - ok <= timeout / every,
                "{ok} successes, {open_ok} a check per tick would have seen (unpause {unpause})"
            );

            let success = ok as f64 / n as f64;
            let window = (window_end - pause) as f64;
            let answered = (window_end - unpause) as f64 / window;
            // One timeout of checks answered on the unpause, and one tick of grid rounding.
            let slack = (timeout + every) as f64 / window;
            assert!(
                (success - answered).abs() <= slack,
                "success {success:.3} over {n} ticks, answered {answered:.3} (unpause {unpause})"
            );
            // Counted as checks made, the same log reads as the issue reported it.
            let made = checks
                .iter()
                .filter(|c| (pause * MS..=window_end * MS).contains(&c.t));
            let (made_n, made_ok) = made.fold((0, 0), |(n, k), c| (n + 1, k + u64::from(c.ok)));
            assert!(made_ok as f64 / made_n as f64 > 0.4, "{made_ok}/{made_n}");
        }
    }

    #[test]
    fn a_probe_that_never_hangs_counts_each_check_once() {
        let checks = probe_a_service(100, 500, 5_000, (0, 0));
        assert!(checks.iter().all(|c| c.skipped.is_none()));
        assert_eq!(tally(&checks, 0, 5_000 * MS), (50, 50));
    }

    #[test]
    fn a_slow_answer_within_the_timeout_holds_successes() {
        // Down 250 ms from 1 s: the check due at 1.0 s is answered at 1.252 s, within its
        // 500 ms timeout; the ticks at 1.1 and 1.2 s would have been answered by then too.
        let checks = probe_a_service(100, 500, 3_000, (1_000, 1_250));
        let (n, ok) = tally(&checks, 0, 3_000 * MS);
        assert_eq!((n, ok), (30, 30));
    }
}
