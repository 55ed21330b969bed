//! Admission to the in-flight bound: a request scheduled while the bound is reached waits
//! in a FIFO of *intended times* (a few numbers, not a built request) until a slot frees,
//! or until its timeout passes; only an overflow of that queue drops a request.
//!
//! This is what keeps latency honest when the system stalls: the requests that cannot be
//! sent on time are exactly the slow ones, so they must stay in the figures, timed from when
//! they were meant to start (wrk2's rule), and a wait longer than the timeout is a timeout.
//! The logic is pure (no clock of its own, no I/O) so it is tested without a network.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// One scheduled request that has not been handed to a connection yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pending {
    pub seq: u64,
    pub template: usize,
    /// When the schedule meant it to start.
    pub intended: Instant,
    /// How late the generator itself got to it (intended → the scheduler's decision): the
    /// harness's lateness, which the timeout budget does not charge to the system.
    pub lag: Duration,
}

impl Pending {
    /// When the scheduler got to it: its timeout counts from here (the queue wait included).
    pub fn dispatched(&self) -> Instant {
        self.intended + self.lag
    }

    /// The moment it becomes a timeout, sent or not.
    pub fn deadline(&self, timeout: Duration) -> Instant {
        self.dispatched() + timeout
    }
}

/// What to do with a request the schedule just reached.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// A slot was free: send it now (the slot is taken).
    Send(Pending),
    /// Every slot is busy: it waits for one.
    Queued,
    /// Every slot is busy and the queue is full.
    Dropped(Pending),
}

/// What a freed slot (or the passing of time) decided.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Released {
    /// Waited past their deadline without a slot: timeouts, never sent.
    pub expired: Vec<Pending>,
    /// The oldest waiting request, which now owns the freed slot.
    pub next: Option<Pending>,
}

/// The in-flight count and the queue behind it.
#[derive(Debug)]
pub(crate) struct Admission {
    max_in_flight: usize,
    max_queued: usize,
    timeout: Duration,
    in_flight: usize,
    waiting: VecDeque<Pending>,
    /// The most requests that ever waited at once (for the summary).
    pub peak_waiting: usize,
}

impl Admission {
    pub fn new(max_in_flight: usize, max_queued: usize, timeout: Duration) -> Self {
        Admission {
            max_in_flight,
            max_queued,
            timeout,
            in_flight: 0,
            waiting: VecDeque::new(),
            peak_waiting: 0,
        }
    }

    /// The schedule reached `p`. A free slot goes to it only when nobody waits (FIFO).
    pub fn arrive(&mut self, p: Pending) -> Arrival {
        if self.in_flight < self.max_in_flight && self.waiting.is_empty() {
            self.in_flight += 1;
            Arrival::Send(p)
        } else if self.waiting.len() < self.max_queued {
            self.waiting.push_back(p);
            self.peak_waiting = self.peak_waiting.max(self.waiting.len());
            Arrival::Queued
        } else {
            Arrival::Dropped(p)
        }
    }

    /// A request in flight ended at `now`: its slot passes to the oldest waiting request
    /// still within its deadline; those past it are handed back as timeouts.
    pub fn release(&mut self, now: Instant) -> Released {
        let expired = self.expire(now);
        let next = self.waiting.pop_front();
        if next.is_none() {
            self.in_flight = self.in_flight.saturating_sub(1);
        }
        Released { expired, next }
    }

    /// Takes the waiting requests whose deadline has passed at `now`. The queue is in
    /// dispatch order and every deadline is dispatch + timeout, so they are at its front.
    pub fn expire(&mut self, now: Instant) -> Vec<Pending> {
        let mut expired = Vec::new();
        while let Some(front) = self.waiting.front() {
            if front.deadline(self.timeout) > now {
                break;
            }
            expired.extend(self.waiting.pop_front());
        }
        expired
    }

    /// Nothing in flight and nobody waiting.
    pub fn is_idle(&self) -> bool {
        self.in_flight == 0 && self.waiting.is_empty()
    }

    /// Empties the queue whatever the deadlines (the run is over); the caller records them.
    pub fn take_waiting(&mut self) -> Vec<Pending> {
        self.waiting.drain(..).collect()
    }

    #[cfg(test)]
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    #[cfg(test)]
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn pending(seq: u64, start: Instant, at_ms: u64) -> Pending {
        Pending {
            seq,
            template: 0,
            intended: start + MS * at_ms as u32,
            lag: Duration::ZERO,
        }
    }

    #[test]
    fn at_the_bound_requests_wait_in_order_instead_of_being_dropped() {
        let t0 = Instant::now();
        let mut a = Admission::new(2, 100, 1000 * MS);
        assert!(matches!(a.arrive(pending(0, t0, 0)), Arrival::Send(_)));
        assert!(matches!(a.arrive(pending(1, t0, 5)), Arrival::Send(_)));
        assert_eq!(a.arrive(pending(2, t0, 10)), Arrival::Queued);
        assert_eq!(a.arrive(pending(3, t0, 15)), Arrival::Queued);
        assert_eq!((a.in_flight(), a.waiting()), (2, 2));
        // A slot frees: the oldest waiting request takes it, the count stays at the bound.
        let r = a.release(t0 + 300 * MS);
        assert_eq!(r.next.map(|p| p.seq), Some(2));
        assert!(r.expired.is_empty());
        assert_eq!((a.in_flight(), a.waiting()), (2, 1));
        // A newcomer may not jump the queue even when a slot would be free.
        let r = a.release(t0 + 310 * MS);
        assert_eq!(r.next.map(|p| p.seq), Some(3));
        let r = a.release(t0 + 320 * MS);
        assert_eq!(r, Released::default());
        assert_eq!(a.in_flight(), 1);
        assert!(matches!(a.arrive(pending(4, t0, 330)), Arrival::Send(_)));
        assert_eq!(a.peak_waiting, 2);
    }

    #[test]
    fn a_wait_past_the_timeout_is_a_timeout_and_frees_no_slot() {
        let t0 = Instant::now();
        let mut a = Admission::new(1, 100, 100 * MS);
        assert!(matches!(a.arrive(pending(0, t0, 0)), Arrival::Send(_)));
        for seq in 1..=5 {
            assert_eq!(
                a.arrive(pending(seq, t0, 20 * seq)),
                Arrival::Queued,
                "{seq}"
            );
        }
        // At 145 ms the ones meant for 20 and 40 ms have waited past 100 ms.
        let gone = a.expire(t0 + 145 * MS);
        assert_eq!(gone.iter().map(|p| p.seq).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(a.in_flight(), 1);
        // The slot frees at 170 ms: seq 3 (deadline 160 ms) expired too, seq 4 gets it.
        let r = a.release(t0 + 170 * MS);
        assert_eq!(r.expired.iter().map(|p| p.seq).collect::<Vec<_>>(), vec![3]);
        assert_eq!(r.next.map(|p| p.seq), Some(4));
        assert_eq!(
            a.take_waiting().iter().map(|p| p.seq).collect::<Vec<_>>(),
            vec![5]
        );
    }

    #[test]
    fn the_generators_own_lateness_is_not_charged_to_the_timeout() {
        let t0 = Instant::now();
        let mut a = Admission::new(1, 100, 100 * MS);
        let _ = a.arrive(pending(0, t0, 0));
        // Reached 50 ms late: it times out 100 ms after the scheduler got to it.
        let late = Pending {
            lag: 50 * MS,
            ..pending(1, t0, 10)
        };
        assert_eq!(late.deadline(100 * MS), t0 + 160 * MS);
        assert_eq!(a.arrive(late), Arrival::Queued);
        assert!(a.expire(t0 + 150 * MS).is_empty());
        assert_eq!(a.expire(t0 + 160 * MS).len(), 1);
    }

    #[test]
    fn only_an_overflow_of_the_queue_drops() {
        let t0 = Instant::now();
        let mut a = Admission::new(1, 2, 1000 * MS);
        let _ = a.arrive(pending(0, t0, 0));
        assert_eq!(a.arrive(pending(1, t0, 1)), Arrival::Queued);
        assert_eq!(a.arrive(pending(2, t0, 2)), Arrival::Queued);
        assert!(matches!(a.arrive(pending(3, t0, 3)), Arrival::Dropped(p) if p.seq == 3));
        assert!(!a.is_idle());
        let _ = a.release(t0 + 10 * MS);
        let _ = a.release(t0 + 20 * MS);
        let _ = a.release(t0 + 30 * MS);
        assert!(a.is_idle());
    }
}
