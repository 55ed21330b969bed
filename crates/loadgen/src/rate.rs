//! Arrival rates (constant or a linear ramp), their text form ("500/s", "100/s..1000/s"),
//! and the schedule of intended start times they produce.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::LoadError;

/// How many requests per second the open model starts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rate {
    /// The same arrival rate for the whole run, per second.
    Constant(f64),
    /// Rises (or falls) linearly from `from` at the start to `to` at the end, per second.
    Ramp {
        /// Requests/s at the run's start.
        from: f64,
        /// Requests/s at the run's planned end.
        to: f64,
    },
}

/// Above this a schedule is almost certainly a typo (and would not fit the run anyway).
const MAX_RATE_PER_SECOND: f64 = 10_000_000.0;

impl Rate {
    /// Rejects rates that cannot produce a schedule: negative, not finite, absurdly large,
    /// or zero everywhere.
    pub fn validate(&self) -> Result<(), LoadError> {
        let bad = |reason: &str| LoadError::InvalidRate {
            input: self.to_string(),
            reason: reason.to_string(),
        };
        let (from, to) = self.ends();
        for r in [from, to] {
            if !r.is_finite() || r < 0.0 {
                return Err(bad("a rate must be a finite number of at least 0"));
            }
            if r > MAX_RATE_PER_SECOND {
                return Err(bad("a rate above 10,000,000/s is not supported"));
            }
        }
        match self {
            Rate::Constant(r) if *r <= 0.0 => Err(bad("a constant rate must be above 0")),
            Rate::Ramp { from, to } if *from <= 0.0 && *to <= 0.0 => {
                Err(bad("a ramp must be above 0 at one end at least"))
            }
            _ => Ok(()),
        }
    }

    /// The average rate over the run, per second.
    pub fn mean(&self) -> f64 {
        let (from, to) = self.ends();
        (from + to) / 2.0
    }

    fn ends(&self) -> (f64, f64) {
        match *self {
            Rate::Constant(r) => (r, r),
            Rate::Ramp { from, to } => (from, to),
        }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rate::Constant(r) => write!(f, "{r}/s"),
            Rate::Ramp { from, to } => write!(f, "{from}/s..{to}/s"),
        }
    }
}

impl FromStr for Rate {
    type Err = LoadError;

    /// `N`, `N/s`, `N/m`, `N/min`, `N/h`, or a ramp `A..B` of two such rates.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let rate = match input.split_once("..") {
            Some((from, to)) => Rate::Ramp {
                from: parse_per_second(input, from)?,
                to: parse_per_second(input, to)?,
            },
            None => Rate::Constant(parse_per_second(input, input)?),
        };
        rate.validate()?;
        Ok(rate)
    }
}

fn parse_per_second(whole: &str, part: &str) -> Result<f64, LoadError> {
    let bad = |reason: String| LoadError::InvalidRate {
        input: whole.to_string(),
        reason,
    };
    let part = part.trim();
    let (count, per) = part.split_once('/').unwrap_or((part, "s"));
    let seconds = match per.trim() {
        "s" | "sec" | "second" => 1.0,
        "m" | "min" | "minute" => 60.0,
        "h" | "hour" => 3600.0,
        other => {
            return Err(bad(format!(
                "unknown time unit {other:?}; use /s, /m or /h"
            )));
        }
    };
    let count: f64 = count
        .trim()
        .parse()
        .map_err(|_| bad(format!("{:?} is not a number", count.trim())))?;
    Ok(count / seconds)
}

/// The intended start offsets of a run's requests, from the run's start.
///
/// Request `i` starts when the integral of the rate reaches `i`, so a constant rate gives
/// `i / r` and a ramp solves `from·t + k·t²/2 = i` with `k = (to - from) / duration`. Each
/// offset is computed from `i` directly rather than accumulated, so there is no drift
/// however long the run is.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    from: f64,
    slope: f64,
    duration_s: f64,
    total: u64,
}

impl Schedule {
    /// The arrival times of `rate` over `duration`: requests whose offset lies in
    /// `[0, duration)`. Errors: [`LoadError::InvalidRate`], [`LoadError::ZeroDuration`],
    /// [`LoadError::ScheduleTooLarge`].
    pub fn new(rate: Rate, duration: Duration) -> Result<Self, LoadError> {
        rate.validate()?;
        if duration.is_zero() {
            return Err(LoadError::ZeroDuration);
        }
        let duration_s = duration.as_secs_f64();
        let (from, to) = rate.ends();
        let expected = rate.mean() * duration_s;
        // 2^53: beyond it, offsets computed in f64 stop being distinct.
        if expected > 9_007_199_254_740_992.0 {
            return Err(LoadError::ScheduleTooLarge {
                requests: expected,
                duration,
            });
        }
        // Requests whose offset is strictly inside [0, duration); the epsilon keeps
        // 500/s × 4 s at exactly 2000 despite rounding.
        let total = (expected - 1e-9).ceil().max(0.0) as u64;
        Ok(Schedule {
            from,
            slope: (to - from) / duration_s,
            duration_s,
            total,
        })
    }

    /// How many requests the schedule starts.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The planned length of the run.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration_s)
    }

    /// When request `i` is meant to start, from the run's start.
    pub fn offset(&self, i: u64) -> Duration {
        let n = i as f64;
        let t = if self.slope.abs() < 1e-12 {
            n / self.from
        } else {
            // The root of k/2·t² + a·t - n = 0 written as 2n / (a + sqrt(a² + 2kn)): stable
            // when k is small, and defined when a is 0.
            let discriminant = (self.from * self.from + 2.0 * self.slope * n).max(0.0);
            let denominator = self.from + discriminant.sqrt();
            if denominator <= 0.0 {
                0.0
            } else {
                2.0 * n / denominator
            }
        };
        Duration::from_secs_f64(t.clamp(0.0, self.duration_s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_constant_rates_in_several_units() {
        assert_eq!("500/s".parse::<Rate>().ok(), Some(Rate::Constant(500.0)));
        assert_eq!("500".parse::<Rate>().ok(), Some(Rate::Constant(500.0)));
        assert_eq!("120/m".parse::<Rate>().ok(), Some(Rate::Constant(2.0)));
        assert_eq!("7200/h".parse::<Rate>().ok(), Some(Rate::Constant(2.0)));
        assert_eq!("2.5/s".parse::<Rate>().ok(), Some(Rate::Constant(2.5)));
    }

    #[test]
    fn parses_a_ramp() {
        assert_eq!(
            "100/s..1000/s".parse::<Rate>().ok(),
            Some(Rate::Ramp {
                from: 100.0,
                to: 1000.0
            })
        );
        assert_eq!(
            "0..60/m".parse::<Rate>().ok(),
            Some(Rate::Ramp { from: 0.0, to: 1.0 })
        );
    }

    #[test]
    fn rejects_bad_rates() {
        for input in [
            "",
            "abc/s",
            "10/fortnight",
            "-5/s",
            "0/s",
            "0..0",
            "inf",
            "NaN/s",
        ] {
            let err = input.parse::<Rate>();
            assert!(
                matches!(err, Err(LoadError::InvalidRate { .. })),
                "{input:?} gave {err:?}"
            );
        }
    }

    #[test]
    fn constant_schedule_is_evenly_spaced_and_has_rate_times_duration_requests() {
        let s = Schedule::new(Rate::Constant(500.0), Duration::from_secs(4)).unwrap();
        assert_eq!(s.total(), 2000);
        assert_eq!(s.offset(0), Duration::ZERO);
        assert_eq!(s.offset(1), Duration::from_millis(2));
        assert_eq!(s.offset(1999), Duration::from_millis(3998));
    }

    #[test]
    fn fractional_schedules_round_up_to_cover_the_duration() {
        let s = Schedule::new(Rate::Constant(3.0), Duration::from_millis(1500)).unwrap();
        // offsets 0, 0.333, 0.667, 1.0, 1.333: five start before 1.5 s
        assert_eq!(s.total(), 5);
        assert!(s.offset(4) < Duration::from_millis(1500));
    }

    #[test]
    fn ramp_schedule_has_the_area_under_the_rate_and_speeds_up() {
        let s = Schedule::new(
            Rate::Ramp {
                from: 100.0,
                to: 300.0,
            },
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(s.total(), 2000);
        // Requests in the first and last second: 100→120 averages 110, 280→300 averages 290.
        let in_window = |a: f64, b: f64| {
            (0..s.total())
                .filter(|&i| {
                    let t = s.offset(i).as_secs_f64();
                    t >= a && t < b
                })
                .count()
        };
        assert!((in_window(0.0, 1.0) as i64 - 110).abs() <= 1);
        assert!((in_window(9.0, 10.0) as i64 - 290).abs() <= 1);
        let offsets: Vec<_> = (0..s.total()).map(|i| s.offset(i)).collect();
        assert!(offsets.windows(2).all(|w| w[0] <= w[1]));
        assert!(offsets.iter().all(|o| *o < Duration::from_secs(10)));
    }

    #[test]
    fn ramp_down_to_zero_and_up_from_zero_stay_inside_the_run() {
        for rate in [
            Rate::Ramp {
                from: 0.0,
                to: 200.0,
            },
            Rate::Ramp {
                from: 200.0,
                to: 0.0,
            },
        ] {
            let s = Schedule::new(rate, Duration::from_secs(5)).unwrap();
            assert_eq!(s.total(), 500);
            let last = s.offset(s.total() - 1);
            assert!(last < Duration::from_secs(5), "{rate}: last at {last:?}");
            let offsets: Vec<_> = (0..s.total()).map(|i| s.offset(i)).collect();
            assert!(offsets.windows(2).all(|w| w[0] <= w[1]), "{rate}");
        }
    }

    #[test]
    fn zero_duration_is_rejected() {
        assert!(matches!(
            Schedule::new(Rate::Constant(1.0), Duration::ZERO),
            Err(LoadError::ZeroDuration)
        ));
    }
}
