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

/// The most requests that may be in flight (each holds a connection and a socket).
pub const MAX_IN_FLIGHT: usize = 100_000;

/// An open-model run: what to send, how often, for how long.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoadPlan {
    pub requests: Vec<RequestTemplate>,
    pub rate: Rate,
    pub duration: Duration,
    /// Per request, from its actual start (connecting included).
    pub timeout: Duration,
    /// Requests in flight at once; one scheduled while at the bound is recorded as Dropped.
    pub max_in_flight: usize,
    /// Ids are this prefix followed by the request's sequence number.
    pub id_prefix: String,
}

impl LoadPlan {
    /// A plan of one GET at a constant rate, with a 1 s timeout and 1000 in flight at most.
    pub fn get(url: impl Into<String>, rate_per_second: f64, duration: Duration) -> Self {
        LoadPlan {
            requests: vec![RequestTemplate::get(url)],
            rate: Rate::Constant(rate_per_second),
            duration,
            timeout: Duration::from_secs(1),
            max_in_flight: 1000,
            id_prefix: String::new(),
        }
    }

    /// Every check `run_open` makes before it starts.
    pub fn validate(&self) -> Result<(), LoadError> {
        PreparedPlan::new(self).map(|_| ())
    }
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
}

impl PreparedTemplates {
    pub fn new(requests: &[RequestTemplate], pool_capacity: usize) -> Result<Self, LoadError> {
        if requests.is_empty() {
            return Err(LoadError::NoTemplates);
        }
        let templates = requests
            .iter()
            .enumerate()
            .map(|(i, t)| PreparedTemplate::prepare(i, t))
            .collect::<Result<Vec<_>, _>>()?;
        let mut endpoints: Vec<(&str, u16)> = Vec::new();
        let pool_of = templates
            .iter()
            .map(|t| {
                let endpoint = (t.host.as_str(), t.port);
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
        Ok(PreparedTemplates {
            templates,
            pool_of,
            pools,
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
            pool: &self.pools[self.pool_of[index]],
            resolver,
        }
    }
}

/// A plan whose every part was checked.
#[derive(Debug)]
pub(crate) struct PreparedPlan {
    pub templates: PreparedTemplates,
    pub mix: WeightedMix,
    pub schedule: Schedule,
}

impl PreparedPlan {
    pub fn new(plan: &LoadPlan) -> Result<Self, LoadError> {
        check_in_flight(plan.max_in_flight)?;
        check_timeout(plan.timeout)?;
        if !is_valid_id_prefix(&plan.id_prefix) {
            return Err(LoadError::InvalidIdPrefix(plan.id_prefix.clone()));
        }
        let templates = PreparedTemplates::new(&plan.requests, plan.max_in_flight)?;
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
        p.requests[0].url = "https://127.0.0.1/".into();
        assert!(matches!(
            p.validate(),
            Err(LoadError::UnsupportedScheme { .. })
        ));
    }

    #[test]
    fn templates_to_the_same_endpoint_share_a_pool() {
        let requests = vec![
            RequestTemplate::get("http://127.0.0.1:8080/a"),
            RequestTemplate::get("http://127.0.0.1:9090/b"),
            RequestTemplate::get("http://127.0.0.1:8080/c"),
        ];
        let t = PreparedTemplates::new(&requests, 4).unwrap();
        assert_eq!(t.pool_of, vec![0, 1, 0]);
        assert_eq!(t.pools.len(), 2);
    }
}
