//! Recovery time: fault start → the first of N consecutive successful probe checks.

use serde::Serialize;

/// One probe check, as recovery sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Check {
    pub t: u64,
    pub ok: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recovery {
    /// Fault start (ns on the run clock).
    pub from_ns: u64,
    /// Start of the first run of `consecutive` successes at or after `from_ns`; `None` when
    /// the probe never had that many successes in a row before the run ended.
    pub recovered_ns: Option<u64>,
    /// The last check before the run ended or recovery was declared.
    pub observed_until_ns: u64,
    pub first_failure_ns: Option<u64>,
    pub last_failure_ns: Option<u64>,
    pub failed_checks: u64,
    pub checks: u64,
    pub consecutive: u32,
}

impl Recovery {
    pub fn duration_ns(&self) -> Option<u64> {
        self.recovered_ns.map(|r| r - self.from_ns)
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
    };
    let mut run_start: Option<u64> = None;
    let mut run_len = 0u32;
    for c in after {
        r.checks += 1;
        if c.ok {
            run_start.get_or_insert(c.t);
            run_len += 1;
            if run_len >= consecutive {
                r.recovered_ns = run_start;
                r.observed_until_ns = c.t;
                return Some(r);
            }
        } else {
            r.failed_checks += 1;
            r.first_failure_ns.get_or_insert(c.t);
            r.last_failure_ns = Some(c.t);
            run_start = None;
            run_len = 0;
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
    fn no_checks_after_the_fault_is_no_data() {
        assert!(recovery(&checks("+++", 10), 100, 100, 3).is_none());
    }
}
