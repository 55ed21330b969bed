//! Prometheus as a source of the run's record: the alert rules the stack ships and, all
//! through the run, each watched alert's state read from the server's HTTP API
//! (`GET /api/v1/rules?type=alert`: every alerting rule with its `for:`, its group's
//! evaluation interval and its active instances' state and `activeAt`). Each reading is an
//! `alert` event of the run's log; `detect_time` and `clear_time` are measured from those
//! events only.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::stack::AddressBook;
use crate::timeline::{EventKind, EventSink};

/// Where the stack's Prometheus answers and which alerts a run watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrometheusPlan {
    /// The service (compose service or Kubernetes Service) Prometheus runs as.
    pub service: String,
    /// Its HTTP port (9090 by convention).
    pub port: u16,
    /// How often the alerts are read.
    pub every: Duration,
    /// The alert names the SLOs name, sorted, deduplicated.
    pub alerts: Vec<String>,
    /// The PromQL queries of the `prom(...)` SLOs, sorted, deduplicated.
    pub queries: Vec<String>,
}

impl PrometheusPlan {
    /// Whether the run reads anything from Prometheus while it runs.
    pub fn watches(&self) -> bool {
        !self.alerts.is_empty() || !self.queries.is_empty()
    }
}

/// One alerting rule as the server reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    /// The rule's `for:` (how long its condition must hold before it fires).
    pub hold: Duration,
    /// Its group's evaluation interval.
    pub evaluation: Duration,
    /// The state of its most advanced instance (`inactive`, `pending`, `firing`).
    pub state: AlertState,
    /// When that state's earliest instance became active, Unix ns; `None` when inactive.
    pub active_unix_ns: Option<i128>,
}

/// An alert's state, ordered from least to most advanced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// Its condition does not hold.
    Inactive,
    /// Its condition holds, for less than `for:`.
    Pending,
    /// Its condition has held for `for:`: the alert is sent.
    Firing,
}

impl AlertState {
    /// As Prometheus and the event log spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inactive => "inactive",
            Self::Pending => "pending",
            Self::Firing => "firing",
        }
    }

    /// From the event log's spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "inactive" => Some(Self::Inactive),
            "pending" => Some(Self::Pending),
            "firing" => Some(Self::Firing),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
struct RulesResponse {
    status: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    data: Option<RulesData>,
}

#[derive(Deserialize)]
struct RulesData {
    groups: Vec<RuleGroup>,
}

#[derive(Deserialize)]
struct RuleGroup {
    /// Seconds.
    interval: f64,
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
struct Rule {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    /// `for:` in seconds.
    #[serde(default)]
    duration: f64,
    #[serde(default)]
    alerts: Vec<Instance>,
}

#[derive(Deserialize)]
struct Instance {
    state: String,
    #[serde(rename = "activeAt", default)]
    active_at: Option<String>,
}

/// Every alerting rule of a `/api/v1/rules` answer by name. Errors: the answer is not the
/// API's (an error status, or not JSON of that shape).
pub fn parse_rules(body: &[u8]) -> Result<BTreeMap<String, AlertRule>, String> {
    let r: RulesResponse = serde_json::from_slice(body)
        .map_err(|e| format!("not a Prometheus /api/v1/rules answer: {e}"))?;
    if r.status != "success" {
        return Err(format!(
            "Prometheus answered {}: {}",
            r.status,
            r.error.unwrap_or_default()
        ));
    }
    let mut out = BTreeMap::new();
    for g in r.data.map(|d| d.groups).unwrap_or_default() {
        for rule in g.rules.into_iter().filter(|r| r.kind == "alerting") {
            let mut state = AlertState::Inactive;
            let mut active: Option<i128> = None;
            for a in &rule.alerts {
                let s = AlertState::parse(&a.state).unwrap_or(AlertState::Inactive);
                let at = a.active_at.as_deref().and_then(unix_ns);
                if s > state {
                    state = s;
                    active = at;
                } else if s == state && s != AlertState::Inactive {
                    active = match (active, at) {
                        (Some(x), Some(y)) => Some(x.min(y)),
                        (x, y) => x.or(y),
                    };
                }
            }
            out.insert(
                rule.name,
                AlertRule {
                    hold: Duration::from_secs_f64(rule.duration.max(0.0)),
                    evaluation: Duration::from_secs_f64(g.interval.max(0.0)),
                    state,
                    active_unix_ns: active,
                },
            );
        }
    }
    Ok(out)
}

fn unix_ns(rfc3339: &str) -> Option<i128> {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp_nanos())
}

/// `GET` of `path` (with `params`) on the stack's Prometheus, its body. `timeout`: the
/// reading's own bound (a watch must not fall behind); `None` for the client's. Errors:
/// unreachable, said with the server's address.
async fn get(
    http: &reqwest::Client,
    book: &AddressBook,
    plan: &PrometheusPlan,
    path: &str,
    params: &[(&str, &str)],
    timeout: Option<Duration>,
) -> Result<Vec<u8>, String> {
    let url = book.rewrite_url(&format!("http://{}:{}{path}", plan.service, plan.port));
    let mut request = http.get(&url).query(params);
    if let Some(t) = timeout {
        request = request.timeout(t);
    }
    let failed = |e: reqwest::Error| format!("Prometheus at {}:{}: {e}", plan.service, plan.port);
    let body = request
        .send()
        .await
        .map_err(failed)?
        .bytes()
        .await
        .map_err(failed)?;
    Ok(body.to_vec())
}

/// A reading's bound: its interval, at least a second.
fn reading_timeout(plan: &PrometheusPlan) -> Option<Duration> {
    Some(plan.every.max(Duration::from_secs(1)))
}

/// Reads the server's alerting rules once. Errors: unreachable, or not the API's answer.
pub async fn rules(
    http: &reqwest::Client,
    book: &AddressBook,
    plan: &PrometheusPlan,
) -> Result<BTreeMap<String, AlertRule>, String> {
    let body = get(
        http,
        book,
        plan,
        "/api/v1/rules",
        &[("type", "alert")],
        reading_timeout(plan),
    )
    .await?;
    parse_rules(&body)
}

/// Checks at bring-up that every alert the SLOs name is one of the server's rules (`have`,
/// as [`rules`] read them). Errors: a name it does not have (with the names it has).
pub fn check_alerts(
    have: &BTreeMap<String, AlertRule>,
    plan: &PrometheusPlan,
) -> Result<(), String> {
    let missing: Vec<&String> = plan
        .alerts
        .iter()
        .filter(|a| !have.contains_key(*a))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "Prometheus at {}:{} has no alerting rule named {} (it has: {})",
        plan.service,
        plan.port,
        missing
            .iter()
            .map(|m| format!("`{m}`"))
            .collect::<Vec<_>>()
            .join(", "),
        have.keys().cloned().collect::<Vec<_>>().join(", ")
    ))
}

/// Checks at bring-up that Prometheus parses `query` (a probe's): a query it rejects is the
/// scenario's mistake, said with Prometheus's message, not a probe that fails all run long.
pub async fn check_query(
    http: &reqwest::Client,
    book: &AddressBook,
    plan: &PrometheusPlan,
    query: &str,
) -> Result<(), String> {
    #[derive(Deserialize)]
    struct Answer {
        status: String,
        #[serde(default, rename = "errorType")]
        error_type: Option<String>,
        #[serde(default)]
        error: Option<String>,
    }
    let body = get(http, book, plan, "/api/v1/query", &[("query", query)], None).await?;
    let a: Answer = serde_json::from_slice(&body)
        .map_err(|e| format!("Prometheus at {}:{}: {e}", plan.service, plan.port))?;
    match (a.status.as_str(), a.error_type.as_deref()) {
        ("success", _) => Ok(()),
        (_, Some("bad_data")) => Err(format!(
            "Prometheus rejects the query `{query}`: {}",
            a.error.unwrap_or_default()
        )),
        // Timeouts and the like say nothing about the query itself.
        _ => Ok(()),
    }
}

/// Evaluates `query` at this moment (`GET /api/v1/query`). `Ok(None)`: no series, or NaN
/// (a ratio of two zero rates). Errors: unreachable, Prometheus's own error, or more than one
/// series (the SLO must aggregate to one: `sum(...)`, `max(...)`).
pub async fn query_value(
    http: &reqwest::Client,
    book: &AddressBook,
    plan: &PrometheusPlan,
    query: &str,
) -> Result<Option<f64>, String> {
    let body = get(
        http,
        book,
        plan,
        "/api/v1/query",
        &[("query", query)],
        reading_timeout(plan),
    )
    .await?;
    parse_query_value(&body)
}

/// The value of an instant query's answer; see [`query_value`].
pub fn parse_query_value(body: &[u8]) -> Result<Option<f64>, String> {
    #[derive(Deserialize)]
    struct Answer {
        status: String,
        #[serde(default)]
        error: Option<String>,
        #[serde(default)]
        data: Option<Data>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Data {
        result_type: String,
        result: serde_json::Value,
    }
    let a: Answer = serde_json::from_slice(body)
        .map_err(|e| format!("not an answer of Prometheus's query API: {e}"))?;
    if a.status != "success" {
        return Err(format!(
            "Prometheus answered error: {}",
            a.error.unwrap_or_default()
        ));
    }
    let data = a.data.ok_or("Prometheus answered no data")?;
    // `[unix seconds, "value"]`.
    let sample = |v: &serde_json::Value| -> Result<Option<f64>, String> {
        let text = v
            .get(1)
            .and_then(|x| x.as_str())
            .ok_or_else(|| format!("not a sample: {v}"))?;
        let n: f64 = text.parse().map_err(|_| format!("not a number: {text}"))?;
        Ok(n.is_finite().then_some(n))
    };
    match data.result_type.as_str() {
        "scalar" => sample(&data.result),
        "vector" => {
            let series = data.result.as_array().cloned().unwrap_or_default();
            match series.as_slice() {
                [] => Ok(None),
                [one] => sample(one.get("value").unwrap_or(&serde_json::Value::Null)),
                many => Err(format!(
                    "the query returns {} series; aggregate it to one (`sum(...)`, `max(...)`)",
                    many.len()
                )),
            }
        }
        other => Err(format!(
            "the query returns a {other}; it must return one series or a scalar"
        )),
    }
}

/// The longest scrape interval among Prometheus's active targets (`GET /api/v1/targets`):
/// how often a query's inputs can change. `None` when it cannot be read.
pub async fn scrape_interval(
    http: &reqwest::Client,
    book: &AddressBook,
    plan: &PrometheusPlan,
) -> Option<Duration> {
    let body = get(
        http,
        book,
        plan,
        "/api/v1/targets",
        &[("state", "active")],
        None,
    )
    .await
    .ok()?;
    parse_scrape_interval(&body)
}

/// The longest `scrapeInterval` of a targets answer; see [`scrape_interval`].
pub fn parse_scrape_interval(body: &[u8]) -> Option<Duration> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.pointer("/data/activeTargets")?
        .as_array()?
        .iter()
        .filter_map(|t| t.get("scrapeInterval")?.as_str())
        .filter_map(|s| crate::units::parse_duration(s).ok())
        .max()
}

/// Reads the watched alerts and evaluates the SLOs' queries every `plan.every` until
/// `cancel`: one `alert` event per alert and one `query` event per query per reading (a failed
/// reading is an event too, with its error: a gap is never silent).
pub async fn watch(
    http: reqwest::Client,
    book: Arc<AddressBook>,
    plan: PrometheusPlan,
    sink: EventSink,
    cancel: CancellationToken,
) {
    let scrape_ns = if plan.queries.is_empty() {
        0
    } else {
        scrape_interval(&http, &book, &plan)
            .await
            .map_or(0, |d| d.as_nanos() as u64)
    };
    let mut tick = tokio::time::interval(plan.every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        for query in &plan.queries {
            let asked = sink.clock().now_ns();
            let (value, error) = match query_value(&http, &book, &plan, query).await {
                Ok(v) => (v, None),
                Err(e) => (None, Some(e)),
            };
            sink.record_at(
                asked,
                EventKind::Query {
                    query: query.clone(),
                    value,
                    scrape_ns,
                    error,
                },
            );
        }
        if plan.alerts.is_empty() {
            continue;
        }
        let asked = sink.clock().now_ns();
        let read = rules(&http, &book, &plan).await;
        let clock = sink.clock();
        for alert in &plan.alerts {
            let kind = match &read {
                Ok(rules) => match rules.get(alert) {
                    Some(r) => EventKind::Alert {
                        alert: alert.clone(),
                        state: r.state.as_str().into(),
                        active_ns: r.active_unix_ns.map(|u| {
                            let delta = u - clock.origin_unix_ns();
                            i64::try_from(delta).unwrap_or(i64::MIN)
                        }),
                        hold_ns: r.hold.as_nanos() as u64,
                        evaluation_ns: r.evaluation.as_nanos() as u64,
                        error: None,
                    },
                    None => alert_error(alert, format!("no alerting rule `{alert}` any more")),
                },
                Err(e) => alert_error(alert, e.clone()),
            };
            // Placed when the question was asked: the state is at least that old.
            sink.record_at(asked, kind);
        }
    }
}

fn alert_error(alert: &str, error: String) -> EventKind {
    EventKind::Alert {
        alert: alert.into(),
        state: "unknown".into(),
        active_ns: None,
        hold_ns: 0,
        evaluation_ns: 0,
        error: Some(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Trimmed from a Prometheus 2.42 answer.
    const RULES: &str = r#"{"status":"success","data":{"groups":[{"name":"trading","file":"/etc/prometheus/alerts.yml","interval":1,"limit":0,"rules":[
      {"state":"firing","name":"QuoteErrorRatioHigh","query":"x > 0.05","duration":2,"labels":{"severity":"page"},"annotations":{},
       "alerts":[{"labels":{"alertname":"QuoteErrorRatioHigh"},"annotations":{},"state":"firing","activeAt":"2026-12-05T10:00:03.5Z","value":"1e+00"},
                 {"labels":{"alertname":"QuoteErrorRatioHigh","route":"b"},"annotations":{},"state":"pending","activeAt":"2026-12-05T10:00:01Z","value":"1e+00"}],
       "health":"ok","evaluationTime":0.001,"lastEvaluation":"2026-12-05T10:00:06Z","type":"alerting"},
      {"state":"inactive","name":"MarketDataReplicaDown","query":"y","duration":5,"labels":{},"annotations":{},"alerts":[],"health":"ok","type":"alerting"},
      {"name":"job:rate","query":"z","health":"ok","type":"recording"}]}]}}"#;

    #[test]
    fn rules_give_each_alerts_most_advanced_state_and_its_start() {
        let r = parse_rules(RULES.as_bytes()).unwrap();
        assert_eq!(r.len(), 2, "recording rules are not alerts");
        let q = &r["QuoteErrorRatioHigh"];
        assert_eq!(q.state, AlertState::Firing);
        assert_eq!(q.hold, Duration::from_secs(2));
        assert_eq!(q.evaluation, Duration::from_secs(1));
        // The firing instance's activeAt, not the pending one's earlier start.
        assert_eq!(q.active_unix_ns, unix_ns("2026-12-05T10:00:03.5Z"));
        let m = &r["MarketDataReplicaDown"];
        assert_eq!((m.state, m.active_unix_ns), (AlertState::Inactive, None));
        assert_eq!(m.hold, Duration::from_secs(5));
    }

    #[test]
    fn a_query_answer_gives_one_value_or_says_why_not() {
        let one = br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1733400000.5,"52.75"]}]}}"#;
        assert_eq!(parse_query_value(one), Ok(Some(52.75)));
        let scalar =
            br#"{"status":"success","data":{"resultType":"scalar","result":[1733400000.5,"1"]}}"#;
        assert_eq!(parse_query_value(scalar), Ok(Some(1.0)));
        let none = br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert_eq!(parse_query_value(none), Ok(None));
        // A ratio of two zero rates: no value, never a figure.
        let nan = br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]}}"#;
        assert_eq!(parse_query_value(nan), Ok(None));
        let two = br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"1"},"value":[1,"1"]},{"metric":{"a":"2"},"value":[1,"2"]}]}}"#;
        assert!(
            parse_query_value(two)
                .unwrap_err()
                .contains("returns 2 series")
        );
        let bad = br#"{"status":"error","errorType":"bad_data","error":"parse error"}"#;
        assert_eq!(
            parse_query_value(bad),
            Err("Prometheus answered error: parse error".into())
        );
    }

    #[test]
    fn the_longest_scrape_interval_of_the_targets() {
        let body = br#"{"status":"success","data":{"activeTargets":[{"scrapeInterval":"1s"},{"scrapeInterval":"15s"},{"scrapeInterval":"5s"}]}}"#;
        assert_eq!(parse_scrape_interval(body), Some(Duration::from_secs(15)));
        assert_eq!(parse_scrape_interval(b"{}"), None);
    }

    #[test]
    fn an_error_answer_is_said() {
        let e = parse_rules(br#"{"status":"error","errorType":"bad_data","error":"boom"}"#)
            .unwrap_err();
        assert_eq!(e, "Prometheus answered error: boom");
        assert!(parse_rules(b"<html>").is_err());
    }
}
