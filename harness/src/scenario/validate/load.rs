//! `load:`: request targets checked against the services, rates and durations parsed.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_saphyr::Spanned;

use super::context::Ctx;
use crate::scenario::model::{LoadSpec, RateSpec, RequestSpec};
use crate::scenario::raw::RawLoad;
use crate::scenario::shapes::ScalarOr;
use crate::scenario::units;

const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(1);
const DEFAULT_MAX_IN_FLIGHT: u32 = 512;

pub(super) fn load(cx: &mut Ctx<'_>, raw: &RawLoad) -> Option<LoadSpec> {
    let mut requests = Vec::new();
    let mut ok = true;
    match (&raw.target, &raw.requests) {
        (Some(_), Some(_)) | (None, None) => {
            let span = raw
                .target
                .as_ref()
                .and_then(|t| cx.span(t))
                .or_else(|| cx.span(&raw.rate));
            cx.error("load needs exactly one of `target` or `requests`", span);
            ok = false;
        }
        (Some(target), None) => match cx.http_target(target, "load.target") {
            Some(t) => requests.push(RequestSpec {
                method: "GET".into(),
                target: t,
                body: None,
                headers: BTreeMap::new(),
                weight: 1,
            }),
            None => ok = false,
        },
        (None, Some(list)) => {
            if list.is_empty() {
                let span = cx.span(&raw.rate);
                cx.error("load.requests is empty", span);
                ok = false;
            }
            for r in list {
                let method = r.method.clone().unwrap_or_else(|| "GET".into());
                if let Err(e) = method.parse::<chaosgate_load::Method>() {
                    let span = cx.span(&r.url);
                    cx.error(e.to_string(), span);
                    ok = false;
                }
                if r.weight == Some(0) {
                    let span = cx.span(&r.url);
                    cx.error("a request's weight must be at least 1", span);
                    ok = false;
                }
                match cx.http_target(&r.url, "load.requests") {
                    Some(t) => requests.push(RequestSpec {
                        method,
                        target: t,
                        body: r.body.clone(),
                        headers: r.headers.clone(),
                        weight: r.weight.unwrap_or(1),
                    }),
                    None => ok = false,
                }
            }
        }
    }
    let rate_span = cx.span(&raw.rate);
    let rate = match &raw.rate.value {
        ScalarOr::Scalar(text) => match units::parse_rate(text) {
            Ok(r) => Some(RateSpec::Constant(r)),
            Err(e) => {
                cx.error(e, rate_span);
                None
            }
        },
        ScalarOr::Map(ramp) => {
            let mut one = |sp: &Spanned<String>| match units::parse_rate(&sp.value) {
                Ok(r) => Some(r),
                Err(e) => {
                    let span = cx.span(sp);
                    cx.error(e, span);
                    None
                }
            };
            match (one(&ramp.from), one(&ramp.to)) {
                (Some(from), Some(to)) => Some(RateSpec::Ramp { from, to }),
                _ => None,
            }
        }
    };
    let duration = cx.duration(&raw.duration);
    let timeout = cx.duration_or(raw.timeout.as_ref(), DEFAULT_REQUEST_TIMEOUT);
    let max_in_flight = raw.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT);
    if max_in_flight == 0 {
        let span = cx.span(&raw.rate);
        cx.error("load.max_in_flight must be at least 1", span);
        ok = false;
    }
    match (ok, rate, duration) {
        (true, Some(rate), Some(duration)) => Some(LoadSpec {
            requests,
            rate,
            duration,
            timeout,
            max_in_flight,
        }),
        _ => None,
    }
}
