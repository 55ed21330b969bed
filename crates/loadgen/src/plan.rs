//! `LoadPlan`, the open-model run as the harness describes it, and its validated form.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::LoadError;
use crate::exchange::Route;
use crate::mix::WeightedMix;
use crate::outcome::Resolver;
use crate::placeholder::is_valid_id_prefix;
use crate::pool::ConnectionPool;
use crate::rate::{Rate, Schedule};
use crate::template::{PreparedTemplate, RequestTemplate};
use crate::tls::{TlsConnect, TlsPlan};

/// The most requests that may be in flight (each holds a connection and a socket).
pub const MAX_IN_FLIGHT: usize = 100_000;

/// How many requests may wait for an in-flight slot unless the plan says otherwise. A
/// waiting request costs ~40 bytes (its intended time, not a built request) and leaves the
/// queue at its timeout at the latest, so the queue never holds more than about
/// rate × timeout: this bound is only reached above 1,000,000 requests per timeout (e.g.
/// 100,000/s with a 10 s timeout), where it caps the memory at ~40 MB.
pub const DEFAULT_MAX_QUEUED: usize = 1_000_000;

/// The largest `max_queued` accepted (~400 MB of waiting requests).
pub const MAX_QUEUED: usize = 10_000_000;

/// An open-model run: what to send, how often, for how long.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoadPlan {
    /// The request kinds to send, picked per request by their `weight`; at least one.
    pub requests: Vec<RequestTemplate>,
    /// Arrivals per second over the run (constant or ramp).
    pub rate: Rate,
    /// How long requests are scheduled for; the run also waits for those in flight.
    pub duration: Duration,
    /// Per request, from its actual start (connecting included).
    pub timeout: Duration,
    /// Requests in flight at once. One scheduled while at the bound waits for a slot (its
    /// latency still counts from its intended time; waiting uses up its timeout).
    pub max_in_flight: usize,
    /// How many requests may wait for an in-flight slot at once ([`DEFAULT_MAX_QUEUED`]);
    /// one scheduled while the queue is full is recorded as Dropped, with the timeout as
    /// its latency. 1 ..= [`MAX_QUEUED`].
    #[serde(default = "default_max_queued")]
    pub max_queued: usize,
    /// Ids are this prefix followed by the request's sequence number.
    pub id_prefix: String,
    /// How `https://` targets are verified (the system's roots by default).
    #[serde(default, skip_serializing_if = "crate::tls::TlsPlan::is_default")]
    pub tls: TlsPlan,
}

impl LoadPlan {
    /// A plan of one GET at a constant rate, with a 1 s timeout, 1000 in flight at most and
    /// [`DEFAULT_MAX_QUEUED`] waiting.
    pub fn get(url: impl Into<String>, rate_per_second: f64, duration: Duration) -> Self {
        LoadPlan {
            requests: vec![RequestTemplate::get(url)],
            rate: Rate::Constant(rate_per_second),
            duration,
            timeout: Duration::from_secs(1),
            max_in_flight: 1000,
            max_queued: DEFAULT_MAX_QUEUED,
            id_prefix: String::new(),
            tls: TlsPlan::default(),
        }
    }

    /// Every check `run_open` makes before it starts.
    pub fn validate(&self) -> Result<(), LoadError> {
        PreparedPlan::new(self).map(|_| ())
    }
}

fn default_max_queued() -> usize {
    DEFAULT_MAX_QUEUED
}

pub(crate) fn check_in_flight(got: usize) -> Result<(), LoadError> {
    if (1..=MAX_IN_FLIGHT).contains(&got) {
        Ok(())
    } else {
        Err(LoadError::InFlightOutOfRange {
            got,
            max: MAX_IN_FLIGHT,
        })
    }
}

pub(crate) fn check_timeout(timeout: Duration) -> Result<(), LoadError> {
    if timeout.is_zero() {
        Err(LoadError::ZeroTimeout)
    } else {
        Ok(())
    }
}

/// Templates ready to build, each with the pool of its host:port.
#[derive(Debug)]
pub(crate) struct PreparedTemplates {
    templates: Vec<PreparedTemplate>,
    pool_of: Vec<usize>,
    pools: Vec<ConnectionPool>,
    /// Built when a template is `https://`.
    tls: Option<TlsConnect>,
}

impl PreparedTemplates {
    pub fn new(
        requests: &[RequestTemplate],
        pool_capacity: usize,
        tls: &TlsPlan,
    ) -> Result<Self, LoadError> {
        if requests.is_empty() {
            return Err(LoadError::NoTemplates);
        }
        let templates = requests
            .iter()
            .enumerate()
            .map(|(i, t)| PreparedTemplate::prepare(i, t))
            .collect::<Result<Vec<_>, _>>()?;
        let mut endpoints: Vec<(&str, u16, bool)> = Vec::new();
        let pool_of = templates
            .iter()
            .map(|t| {
                let endpoint = (t.host.as_str(), t.port, t.https);
                endpoints
                    .iter()
                    .position(|e| *e == endpoint)
                    .unwrap_or_else(|| {
                        endpoints.push(endpoint);
                        endpoints.len() - 1
                    })
            })
            .collect();
        let pools = endpoints
            .iter()
            .map(|_| ConnectionPool::new(pool_capacity))
            .collect();
        let tls = if templates.iter().any(|t| t.https) {
            Some(TlsConnect::new(tls)?)
        } else {
            None
        };
        Ok(PreparedTemplates {
            templates,
            pool_of,
            pools,
            tls,
        })
    }

    pub fn template(&self, index: usize) -> &PreparedTemplate {
        &self.templates[index]
    }

    pub fn route<'a>(&'a self, index: usize, resolver: &'a dyn Resolver) -> Route<'a> {
        let template = &self.templates[index];
        Route {
            host: &template.host,
            port: template.port,
            authority: &template.authority,
            tls: if template.https {
                self.tls.as_ref()
            } else {
                None
            },
            pool: &self.pools[self.pool_of[index]],
            resolver,
        }
    }
}

#[derive(Debug)]
pub(crate) struct PreparedPlan {
    pub templates: PreparedTemplates,
    pub mix: WeightedMix,
    pub schedule: Schedule,
}

impl PreparedPlan {
    pub fn new(plan: &LoadPlan) -> Result<Self, LoadError> {
        check_in_flight(plan.max_in_flight)?;
        if !(1..=MAX_QUEUED).contains(&plan.max_queued) {
            return Err(LoadError::QueueOutOfRange {
                got: plan.max_queued,
                max: MAX_QUEUED,
            });
        }
        check_timeout(plan.timeout)?;
        if !is_valid_id_prefix(&plan.id_prefix) {
            return Err(LoadError::InvalidIdPrefix(plan.id_prefix.clone()));
        }
        let templates = PreparedTemplates::new(&plan.requests, plan.max_in_flight, &plan.tls)?;
        let weights: Vec<u32> = plan.requests.iter().map(|t| t.weight).collect();
        let mix = WeightedMix::new(&weights).ok_or(LoadError::AllWeightsZero)?;
        let schedule = Schedule::new(plan.rate, plan.duration)?;
        Ok(PreparedPlan {
            templates,
            mix,
            schedule,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> LoadPlan {
        LoadPlan::get("http://127.0.0.1:1/", 10.0, Duration::from_secs(1))
    }

    #[test]
    fn a_sound_plan_validates() {
        assert!(plan().validate().is_ok());
    }

    #[test]
    fn each_bad_part_has_its_error() {
        let mut p = plan();
        p.requests.clear();
        assert!(matches!(p.validate(), Err(LoadError::NoTemplates)));

        let mut p = plan();
        p.requests[0].weight = 0;
        assert!(matches!(p.validate(), Err(LoadError::AllWeightsZero)));

        let mut p = plan();
        p.max_in_flight = 0;
        assert!(matches!(
            p.validate(),
            Err(LoadError::InFlightOutOfRange { got: 0, .. })
        ));

        let mut p = plan();
        p.max_queued = 0;
        assert!(matches!(
            p.validate(),
            Err(LoadError::QueueOutOfRange { got: 0, .. })
        ));

        let mut p = plan();
        p.timeout = Duration::ZERO;
        assert!(matches!(p.validate(), Err(LoadError::ZeroTimeout)));

        let mut p = plan();
        p.duration = Duration::ZERO;
        assert!(matches!(p.validate(), Err(LoadError::ZeroDuration)));

        let mut p = plan();
        p.rate = Rate::Constant(-1.0);
        assert!(matches!(p.validate(), Err(LoadError::InvalidRate { .. })));

        let mut p = plan();
        p.id_prefix = "has space".into();
        assert!(matches!(p.validate(), Err(LoadError::InvalidIdPrefix(_))));

        let mut p = plan();
        p.requests[0].url = "ftp://127.0.0.1/".into();
        assert!(matches!(
            p.validate(),
            Err(LoadError::UnsupportedScheme { .. })
        ));
    }

    #[test]
    fn a_plan_written_before_max_queued_still_reads() {
        let mut json = serde_json::to_value(plan()).unwrap();
        json.as_object_mut().unwrap().remove("max_queued");
        let back: LoadPlan = serde_json::from_value(json).unwrap();
        assert_eq!(back.max_queued, DEFAULT_MAX_QUEUED);
    }

    #[test]
    fn templates_to_the_same_endpoint_share_a_pool() {
        let requests = vec![
            RequestTemplate::get("http://127.0.0.1:8080/a"),
            RequestTemplate::get("http://127.0.0.1:9090/b"),
            RequestTemplate::get("http://127.0.0.1:8080/c"),
        ];
        let t = PreparedTemplates::new(&requests, 4, &TlsPlan::default()).unwrap();
        assert_eq!(t.pool_of, vec![0, 1, 0]);
        assert_eq!(t.pools.len(), 2);
    }
}
