//! Failover time: the longest window in which client requests failed, inside a fault window.
//!
//! An outage starts at a failed request and ends at the first of N consecutive successful ones
//! (N as for recovery): a lone success in the middle of an outage (a cache hit, one lucky
//! retry) does not end it, so the figure is what a client retrying would have lived through.

use serde::Serialize;

/// The longest client-visible outage inside one fault's window (see the module docs for where it
/// starts and ends). Times are run-clock ns, on requests' intended send times.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failover {
    /// Longest outage: from its first failed request to the first of N consecutive
    /// successful requests after it (intended send times). 0 when no request failed.
    pub duration_ns: u64,
    /// Intended send time of the longest outage's first failed request; `None` when no request
    /// failed.
    pub start_ns: Option<u64>,
    /// Intended send time of the first of the N successes that ended it; `None` when none failed,
    /// or when it never ended (`unterminated`).
    pub end_ns: Option<u64>,
    /// Failed requests in that longest outage.
    pub failed_in_window: u64,
    /// Failed requests anywhere in the fault window.
    pub failed_total: u64,
    /// Requests scheduled in the fault window, failed or not.
    pub requests: u64,
    /// Median gap between scheduled requests: the resolution of this measurement.
    pub resolution_ns: u64,
    /// The run of failures reached the end of the load without a success after it.
    pub unterminated: bool,
}

/// `requests` are (intended time, ok), sorted by time, covering at least the fault window
/// and ideally what follows it (so a run of failures at the window's end finds its end).
pub fn failover(
    requests: &[(u64, bool)],
    window: (u64, u64),
    consecutive: u32,
) -> Option<Failover> {
    let consecutive = consecutive.max(1) as usize;
    let (from, to) = window;
    let inside: Vec<usize> = (0..requests.len())
        .filter(|&i| requests[i].0 >= from && requests[i].0 <= to)
        .collect();
    let (&first, &last) = (inside.first()?, inside.last()?);
    let mut gaps: Vec<u64> = inside
        .windows(2)
        .map(|w| requests[w[1]].0 - requests[w[0]].0)
        .collect();
    gaps.sort_unstable();
    let mut best = Failover {
        duration_ns: 0,
        start_ns: None,
        end_ns: None,
        failed_in_window: 0,
        failed_total: inside.iter().filter(|&&i| !requests[i].1).count() as u64,
        requests: inside.len() as u64,
        resolution_ns: gaps.get(gaps.len() / 2).copied().unwrap_or(0),
        unterminated: false,
    };
    let mut i = first;
    while i <= last {
        if requests[i].1 {
            i += 1;
            continue;
        }
        let start = requests[i].0;
        // Walk until `consecutive` successes in a row; the outage ends at the first of them.
        let mut j = i;
        let mut failed = 0u64;
        let mut streak = 0usize;
        let mut streak_start = None;
        while j < requests.len() && streak < consecutive {
            if requests[j].1 {
                streak += 1;
                streak_start.get_or_insert(j);
            } else {
                failed += 1;
                streak = 0;
                streak_start = None;
            }
            j += 1;
        }
        let (end, unterminated, next) = match (streak >= consecutive, streak_start) {
            (true, Some(s)) => (requests[s].0, false, j),
            // Failing (or flapping) until the load stopped: at least until the last request.
            _ => (requests[requests.len() - 1].0, true, requests.len()),
        };
        if end - start > best.duration_ns || best.start_ns.is_none() {
            best.duration_ns = end - start;
            best.start_ns = Some(start);
            best.end_ns = Some(end);
            best.failed_in_window = failed;
            best.unterminated = unterminated;
        }
        i = next;
    }
    Some(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reqs(pattern: &str, every: u64) -> Vec<(u64, bool)> {
        pattern
            .chars()
            .enumerate()
            .map(|(i, c)| (i as u64 * every, c == '+'))
            .collect()
    }

    #[test]
    fn longest_run_of_failures_wins() {
        let r = reqs("++-+---++--+", 5);
        let f = failover(&r, (0, 55), 1).unwrap();
        assert_eq!(f.start_ns, Some(20));
        assert_eq!(f.end_ns, Some(35));
        assert_eq!(f.duration_ns, 15);
        assert_eq!(f.failed_in_window, 3);
        assert_eq!(f.failed_total, 6);
        assert_eq!(f.resolution_ns, 5);
    }

    #[test]
    fn a_lone_success_does_not_end_an_outage() {
        // Failures from 10, a cache hit at 40, more failures, then three successes from 70.
        let r = reqs("+---+--+++", 10);
        let f = failover(&r, (0, 90), 3).unwrap();
        assert_eq!((f.start_ns, f.end_ns), (Some(10), Some(70)));
        assert_eq!(f.failed_in_window, 5);
        // With N = 1 the same history reads as two short outages.
        assert_eq!(failover(&r, (0, 90), 1).unwrap().duration_ns, 30);
    }

    #[test]
    fn a_run_crossing_the_window_end_is_measured_to_the_next_success() {
        let r = reqs("++++----++", 10);
        let f = failover(&r, (0, 50), 1).unwrap();
        assert_eq!((f.start_ns, f.end_ns), (Some(40), Some(80)));
        assert!(!f.unterminated);
    }

    #[test]
    fn no_failures_is_zero() {
        let f = failover(&reqs("+++++", 10), (0, 40), 3).unwrap();
        assert_eq!(f.duration_ns, 0);
        assert_eq!(f.start_ns, None);
    }

    #[test]
    fn failing_to_the_end_is_flagged() {
        let f = failover(&reqs("++---", 10), (0, 40), 3).unwrap();
        assert!(f.unterminated);
        assert_eq!(f.duration_ns, 20);
    }

    #[test]
    fn empty_window_is_no_data() {
        assert!(failover(&reqs("+++", 10), (100, 200), 3).is_none());
    }
}
