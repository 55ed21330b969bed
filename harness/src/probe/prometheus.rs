//! The `prometheus` probe: an instant PromQL query against the stack's Prometheus
//! (`GET /api/v1/query`) passes when its result is truthy — a vector or matrix with at least
//! one sample, and every sample's value non-zero; a scalar non-zero. An empty result (the
//! usual PromQL way of saying "no": `up{job="gateway"} == 1` matching nothing) fails, and so
//! does an error answer, with Prometheus's own message.

use serde::Deserialize;

use super::ProbeEnv;

#[derive(Deserialize)]
struct QueryResponse {
    status: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    data: Option<QueryData>,
}

#[derive(Deserialize)]
struct QueryData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

pub(super) async fn check(
    env: &ProbeEnv,
    service: &str,
    port: u16,
    query: &str,
) -> Result<(), String> {
    let url = env
        .book
        .rewrite_url(&format!("http://{service}:{port}/api/v1/query"));
    let resp = env
        .http
        .plain()
        .get(&url)
        .query(&[("query", query)])
        .send()
        .await
        .map_err(|e| super::describe_reqwest(&e))?;
    let body = resp
        .bytes()
        .await
        .map_err(|e| super::describe_reqwest(&e))?;
    judge(&body)
}

/// The verdict on one `/api/v1/query` answer.
pub fn judge(body: &[u8]) -> Result<(), String> {
    let r: QueryResponse =
        serde_json::from_slice(body).map_err(|e| format!("not a Prometheus query answer: {e}"))?;
    if r.status != "success" {
        return Err(format!("Prometheus: {}", r.error.unwrap_or(r.status)));
    }
    let data = r.data.ok_or("Prometheus answered no data")?;
    let value = |v: &serde_json::Value| -> Option<f64> { v.get(1)?.as_str()?.parse().ok() };
    match data.result_type.as_str() {
        "scalar" => match value(&data.result) {
            Some(x) if x != 0.0 && !x.is_nan() => Ok(()),
            Some(x) => Err(format!("the query's value is {x}")),
            None => Err("the query's scalar has no value".into()),
        },
        "vector" | "matrix" => {
            let samples = data.result.as_array().cloned().unwrap_or_default();
            if samples.is_empty() {
                return Err("the query matched nothing".into());
            }
            for s in &samples {
                let v = s
                    .get("value")
                    .and_then(value)
                    .or_else(|| s.get("values")?.as_array()?.last().and_then(value));
                match v {
                    Some(x) if x != 0.0 && !x.is_nan() => {}
                    other => {
                        return Err(format!(
                            "{} is {}",
                            s.get("metric").map(|m| m.to_string()).unwrap_or_default(),
                            other.map_or("without a value".to_string(), |x| x.to_string())
                        ));
                    }
                }
            }
            Ok(())
        }
        other => Err(format!("the query gives a {other}, not a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_truthy_when_it_matches_and_every_value_is_non_zero() {
        let ok = br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"gateway"},"value":[1733400000.1,"1"]}]}}"#;
        assert_eq!(judge(ok), Ok(()));
        let empty = br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert_eq!(judge(empty), Err("the query matched nothing".into()));
        let zero = br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"gateway"},"value":[1.0,"0"]}]}}"#;
        assert_eq!(judge(zero), Err(r#"{"job":"gateway"} is 0"#.into()));
        let scalar = br#"{"status":"success","data":{"resultType":"scalar","result":[1.0,"2.5"]}}"#;
        assert_eq!(judge(scalar), Ok(()));
        let bad = br#"{"status":"error","errorType":"bad_data","error":"parse error at char 5"}"#;
        assert_eq!(judge(bad), Err("Prometheus: parse error at char 5".into()));
    }
}
