//! Recovery time: fault start → the first of N consecutive successful probe checks.

use serde::Serialize;

/// One probe check, as recovery sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Check {
    /// When the check began, run-clock ns.
    pub t: u64,
    /// Whether the probe passed.
    pub ok: bool,
    /// How late the harness began the check (its due time on the probe's grid → `t`).
    pub lag_ns: u64,
}

/// How long one probe took to see the service back after one fault: from the fault's start to the
/// first of `consecutive` successful checks in a row. Times are run-clock ns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recovery {
    /// Fault start (ns on the run clock).
    pub from_ns: u64,
    /// Start of the first run of `consecutive` successes at or after `from_ns`; `None` when
    /// the probe never had that many successes in a row before the run ended.
    pub recovered_ns: Option<u64>,
    /// The last check before the run ended or recovery was declared.
    pub observed_until_ns: u64,
    /// The first failed check at or after `from_ns`; `None` when none failed.
    pub first_failure_ns: Option<u64>,
    /// The last failed check before recovery (or the run's end).
    pub last_failure_ns: Option<u64>,
    /// Failed checks from `from_ns` to recovery.
    pub failed_checks: u64,
    /// All checks from `from_ns` to recovery.
    pub checks: u64,
    /// N: successes in a row that count as recovered (the scenario's setting).
    pub consecutive: u32,
    /// How late the harness began the check that opened the successful run, and when the
    /// check before it ran: together they bound what a punctual harness would have measured.
    pub recovered_check_lag_ns: u64,
    /// When the check before the one that opened the successful run began (run-clock ns); `None`
    /// when that was the first check after `from_ns`.
    pub check_before_ns: Option<u64>,
}

impl Recovery {
    /// `recovered_ns - from_ns` in ns; `None` when it never recovered.
    pub fn duration_ns(&self) -> Option<u64> {
        self.recovered_ns.map(|r| r - self.from_ns)
    }

    /// Whether the probe saw the fault: a check failed once it was in effect, or it never
    /// had N successes in a row. A probe that never failed has nothing to recover from; its
    /// `duration_ns` is only how long its first N checks took.
    pub fn saw_the_fault(&self) -> bool {
        self.failed_checks > 0 || self.recovered_ns.is_none()
    }

    /// The shortest recovery a punctual harness could have measured: the check that first
    /// saw the service back was due `recovered_check_lag_ns` earlier, but the service was not
    /// back before the check preceding it. Equal to `duration_ns` when the harness was on time.
    pub fn punctual_duration_ns(&self) -> Option<u64> {
        let recovered = self.recovered_ns?;
        let due = recovered.saturating_sub(self.recovered_check_lag_ns);
        let earliest = self.check_before_ns.map_or(due, |before| due.max(before));
        Some(earliest.max(self.from_ns).min(recovered) - self.from_ns)
    }
}

/// `checks` must be sorted by time. Recovery is timed from `from` (the fault's start), but
/// only checks made once the fault was in effect (`effective`, e.g. Docker's `die` after a
/// SIGKILL) can count as recovered: a check that passed in the milliseconds before the
/// process actually died says nothing about recovery.
pub fn recovery(checks: &[Check], from: u64, effective: u64, consecutive: u32) -> Option<Recovery> {
    let consecutive = consecutive.max(1);
    let effective = effective.max(from);
    let after: Vec<&Check> = checks.iter().filter(|c| c.t >= effective).collect();
    let last = after.last()?;
    let mut r = Recovery {
        from_ns: from,
        recovered_ns: None,
        observed_until_ns: last.t,
        first_failure_ns: None,
        last_failure_ns: None,
        failed_checks: 0,
        checks: 0,
        consecutive,
        recovered_check_lag_ns: 0,
        check_before_ns: None,
    };
    // Index in `after` of the first check of the current run of successes.
    let mut run_start: Option<usize> = None;
    for (i, c) in after.iter().enumerate() {
        r.checks += 1;
        if c.ok {
            let opened = *run_start.get_or_insert(i);
            if i - opened + 1 >= consecutive as usize {
                r.recovered_ns = Some(after[opened].t);
                r.recovered_check_lag_ns = after[opened].lag_ns;
                r.check_before_ns = opened.checked_sub(1).map(|before| after[before].t);
                r.observed_until_ns = c.t;
                return Some(r);
            }
        } else {
            r.failed_checks += 1;
            r.first_failure_ns.get_or_insert(c.t);
            r.last_failure_ns = Some(c.t);
            run_start = None;
        }
    }
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checks(pattern: &str, every: u64) -> Vec<Check> {
        pattern
            .chars()
            .enumerate()
            .map(|(i, ch)| Check {
                t: i as u64 * every,
                ok: ch == '+',
                lag_ns: 0,
            })
            .collect()
    }

    #[test]
    fn recovery_is_the_start_of_the_first_run_of_n_successes() {
        // fault at 100; failures at 100..300, a lone success at 400 does not count.
        let c = checks("+-----+--+++++", 50);
        let r = recovery(&c, 100, 100, 3).unwrap();
        assert_eq!(r.recovered_ns, Some(450));
        assert_eq!(r.duration_ns(), Some(350));
        assert_eq!(r.first_failure_ns, Some(100));
        assert_eq!(r.last_failure_ns, Some(400));
        assert_eq!(r.failed_checks, 6);
    }

    #[test]
    fn never_failing_probe_recovers_at_once() {
        let r = recovery(&checks("++++++", 50), 120, 120, 3).unwrap();
        assert_eq!(r.recovered_ns, Some(150));
        assert_eq!(r.failed_checks, 0);
        assert!(!r.saw_the_fault());
        assert!(
            recovery(&checks("+-+++", 50), 0, 0, 3)
                .unwrap()
                .saw_the_fault()
        );
        // Too few checks for N in a row: not known to be back, so not "never failed".
        assert!(
            recovery(&checks("++", 50), 0, 0, 3)
                .unwrap()
                .saw_the_fault()
        );
    }

    #[test]
    fn checks_before_the_fault_took_effect_do_not_count() {
        // Fault applied at 100, in effect (process died) at 150: the success at 100 is stale.
        let r = recovery(&checks("+++-----+", 50), 100, 150, 1).unwrap();
        assert_eq!(r.recovered_ns, Some(400));
        assert_eq!(r.duration_ns(), Some(300));
    }

    #[test]
    fn no_run_of_n_means_not_recovered() {
        let r = recovery(&checks("+--++-++", 10), 10, 10, 3).unwrap();
        assert_eq!(r.recovered_ns, None);
        assert_eq!(r.observed_until_ns, 70);
    }

    #[test]
    fn a_late_check_bounds_what_a_punctual_harness_would_have_seen() {
        // Checks every 50 on time, failing until 300; the next one, due at 350, ran 400 late.
        let mut c = checks("-------", 50);
        c.push(Check {
            t: 750,
            ok: true,
            lag_ns: 400,
        });
        let r = recovery(&c, 0, 0, 1).unwrap();
        assert_eq!(r.duration_ns(), Some(750));
        assert_eq!(r.punctual_duration_ns(), Some(350));
        // On time, the two agree.
        let r = recovery(&checks("---+", 50), 0, 0, 1).unwrap();
        assert_eq!(r.punctual_duration_ns(), r.duration_ns());
    }

    #[test]
    fn no_checks_after_the_fault_is_no_data() {
        assert!(recovery(&checks("+++", 10), 100, 100, 3).is_none());
    }
}
