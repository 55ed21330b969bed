//! `load:`: request targets checked against the services, rates and durations parsed.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_saphyr::Spanned;

use super::context::{Bounds, Ctx};
use crate::scenario::diagnostic::ScenarioError;
use crate::scenario::model::{HttpTarget, LoadSpec, RateSpec, RequestSpec};
use crate::scenario::raw::{RawLoad, RawRequest};
use crate::scenario::shapes::ScalarOr;
use crate::units;

const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(1);
const DEFAULT_MAX_IN_FLIGHT: u32 = 512;
const DURATION_BOUNDS: Bounds = (Duration::from_millis(1), units::MAX_DURATION);
const TIMEOUT_BOUNDS: Bounds = (Duration::from_millis(1), Duration::from_secs(600));
const MAX_WEIGHT: u32 = 1_000_000;

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
        (Some(target), None) => match cx
            .http_target(target, "load.target")
            .filter(|_| request_is_sendable(cx, target, &BTreeMap::new(), None))
        {
            Some(t) => requests.push(RequestSpec {
                method: "GET".into(),
                target: t,
                body: None,
                headers: BTreeMap::new(),
                weight: 1,
                write: false,
                read_back: None,
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
                let method = r
                    .method
                    .as_ref()
                    .map_or_else(|| "GET".into(), |m| m.value.clone());
                if let Err(e) = method.parse::<chaosgate_load::Method>() {
                    // At the method itself (it used to point at the url, a line off).
                    let span = r.method.as_ref().and_then(|m| cx.span(m));
                    cx.error(e.to_string(), span);
                    ok = false;
                }
                if let Some(w) = &r.weight {
                    ok &= cx.number_in(w, "a request's weight", 1, MAX_WEIGHT);
                }
                let Some(target) = cx.http_target(&r.url, "load.requests") else {
                    ok = false;
                    continue;
                };
                ok &= request_is_sendable(cx, &r.url, &r.headers, r.body.as_ref());
                let write = r.write.unwrap_or(matches!(
                    method.to_ascii_uppercase().as_str(),
                    "POST" | "PUT" | "PATCH" | "DELETE"
                ));
                let read_back = match read_back(cx, r, &method, &target, write) {
                    Ok(rb) => rb,
                    Err(()) => {
                        ok = false;
                        None
                    }
                };
                requests.push(RequestSpec {
                    method,
                    target,
                    body: r.body.clone(),
                    headers: r.headers.clone(),
                    weight: r.weight.as_ref().map_or(1, |w| w.value),
                    write,
                    read_back,
                });
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
    let duration = cx.duration(&raw.duration, "load.duration", DURATION_BOUNDS);
    let timeout = cx.duration_or(
        raw.timeout.as_ref(),
        DEFAULT_REQUEST_TIMEOUT,
        "load.timeout",
        TIMEOUT_BOUNDS,
    );
    let max_in_flight = match &raw.max_in_flight {
        Some(m) => {
            let max = u32::try_from(chaosgate_load::MAX_IN_FLIGHT).unwrap_or(u32::MAX);
            ok &= cx.number_in(m, "load.max_in_flight", 1, max);
            m.value
        }
        None => DEFAULT_MAX_IN_FLIGHT,
    };
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

/// The checks the load generator makes before it sends anything (URL, `{{id}}` placement,
/// header names and values, with a sample id filled in), so that a file `validate` accepts
/// never fails when the run starts. The method is not the generator's to judge here.
fn request_is_sendable(
    cx: &mut Ctx<'_>,
    url: &Spanned<String>,
    headers: &BTreeMap<String, String>,
    body: Option<&String>,
) -> bool {
    let plan = chaosgate_load::LoadPlan {
        requests: vec![chaosgate_load::RequestTemplate {
            method: chaosgate_load::Method::Get,
            url: url.value.trim().to_string(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            body: body.cloned(),
            weight: 1,
        }],
        ..chaosgate_load::LoadPlan::get("http://localhost/", 1.0, Duration::from_secs(1))
    };
    match plan.validate() {
        Ok(()) => true,
        Err(e) => {
            let span = cx.span(url);
            let message = e.to_string();
            let message = message
                .strip_prefix("request template 0: ")
                .unwrap_or(&message);
            cx.error(format!("this request cannot be sent: {message}"), span);
            false
        }
    }
}

/// Where a write is read back after the run (see `RequestSpec::read_back`), or `Err` when an
/// error was reported. Reads are never read back; a write without `{{id}}` has no id to read.
fn read_back(
    cx: &mut Ctx<'_>,
    r: &RawRequest,
    method: &str,
    target: &HttpTarget,
    write: bool,
) -> Result<Option<String>, ()> {
    let id = chaosgate_load::ID_PLACEHOLDER;
    let carries_id = r.url.value.contains(id)
        || r.body.as_deref().is_some_and(|b| b.contains(id))
        || r.headers.values().any(|v| v.contains(id));
    let Some(explicit) = &r.read_back else {
        if !write || !carries_id {
            return Ok(None);
        }
        if method.eq_ignore_ascii_case("DELETE") {
            let span = cx.span(&r.url);
            cx.push(
                ScenarioError::new(
                    "a DELETE carrying `{{id}}` is a write, but reading it back by the REST \
                     convention would find it gone",
                    span,
                )
                .with_help(
                    "say how its effect is read back (`read_back: http://SERVICE:PORT/...{id}`, \
                     2xx = kept), or mark it `write: false`",
                ),
            );
            return Err(());
        }
        // The REST convention: the resource the write created, under the collection it was
        // sent to, or the URL itself when the id is already in it.
        let url = target.url.split('?').next().unwrap_or(&target.url);
        return Ok(Some(if url.contains(id) {
            url.replace(id, "{id}")
        } else {
            format!("{}/{{id}}", url.trim_end_matches('/'))
        }));
    };
    let span = cx.span(explicit);
    if !write {
        cx.push(
            ScenarioError::new("`read_back` is for writes; this request is a read", span)
                .with_help("reads are never read back; mark it `write: true` if it changes state"),
        );
        return Err(());
    }
    if !carries_id {
        cx.push(ScenarioError::new(
            "`read_back` needs `{{id}}` in the request (URL, a header or the body), so each \
                 write has an id to read back",
            span,
        ));
        return Err(());
    }
    if !explicit.value.contains("{id}") {
        cx.push(
            ScenarioError::new(
                format!(
                    "`read_back` URL `{}` has no `{{id}}`",
                    explicit.value.trim()
                ),
                span,
            )
            .with_help("e.g. `read_back: http://gateway:8080/orders/{id}`"),
        );
        return Err(());
    }
    let parts = cx.http_target(explicit, "read_back").ok_or(())?;
    Ok(Some(parts.url))
}
