//! The `http` probe: GET a URL on the stack and judge the answer — its status, and optionally
//! its body (a substring, a regular expression, JSON values at JSON pointers), how long it took
//! (`max_latency`), with request headers of the scenario's.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::{Serialize, Serializer};

/// Most of a body a check reads (the rest is not judged; a health endpoint's body is small).
pub const MAX_BODY: usize = 1 << 20;

/// What an `http` check expects beyond its status, and the headers it sends.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HttpExpect {
    /// Request headers, name → value (`Host` included, sent as given).
    pub headers: BTreeMap<String, String>,
    /// The body must contain this text.
    pub contains: Option<String>,
    /// The body must match this regular expression.
    pub matches: Option<Pattern>,
    /// The body must be JSON holding exactly this value at each JSON pointer (RFC 6901).
    pub json: Vec<(String, serde_json::Value)>,
    /// An answer slower than this (from sending to the last byte read) fails the check.
    pub max_latency: Option<Duration>,
}

/// A compiled regular expression that serializes as its source.
#[derive(Debug, Clone)]
pub struct Pattern(pub regex::Regex);

impl Serialize for Pattern {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_str())
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Eq for Pattern {}

impl PartialEq for HttpExpect {
    fn eq(&self, other: &Self) -> bool {
        self.headers == other.headers
            && self.contains == other.contains
            && self.matches == other.matches
            && self.json == other.json
            && self.max_latency == other.max_latency
    }
}

impl Eq for HttpExpect {}

/// One check: GET `url` with the expected headers and judge the answer. `Err` says why it
/// failed (`status 503`, `answered in 312 ms, over max_latency 200ms`, `/status is "degraded",
/// expected "ok"`).
pub async fn check(
    client: &crate::stack::http_client::StackHttp,
    url: &str,
    status: Option<u16>,
    expect: &HttpExpect,
) -> Result<(), String> {
    let mut request = client.get(url);
    for (name, value) in &expect.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let started = Instant::now();
    let mut resp = request
        .send()
        .await
        .map_err(|e| super::describe_reqwest(&e))?;
    let code = resp.status().as_u16();
    let mut body = Vec::new();
    if expect.needs_body() {
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| super::describe_reqwest(&e))?
        {
            let room = MAX_BODY.saturating_sub(body.len());
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() >= MAX_BODY {
                break;
            }
        }
    }
    judge(status, expect, code, started.elapsed(), &body)
}

impl HttpExpect {
    /// Whether a check must read the body.
    pub fn needs_body(&self) -> bool {
        self.contains.is_some() || self.matches.is_some() || !self.json.is_empty()
    }
}

/// The verdict on one answer: status, latency, then the body's checks, first failure said.
pub fn judge(
    status: Option<u16>,
    expect: &HttpExpect,
    code: u16,
    elapsed: Duration,
    body: &[u8],
) -> Result<(), String> {
    let status_ok = match status {
        Some(want) => code == want,
        None => (200..300).contains(&code),
    };
    if !status_ok {
        return Err(format!("status {code}"));
    }
    if let Some(max) = expect.max_latency
        && elapsed > max
    {
        return Err(format!(
            "answered in {:.0} ms, over max_latency {}",
            elapsed.as_secs_f64() * 1000.0,
            crate::units::format_duration(max)
        ));
    }
    let text = String::from_utf8_lossy(body);
    if let Some(want) = &expect.contains
        && !text.contains(want.as_str())
    {
        return Err(format!("body does not contain {want:?}"));
    }
    if let Some(Pattern(re)) = &expect.matches
        && !re.is_match(&text)
    {
        return Err(format!("body does not match /{}/", re.as_str()));
    }
    if !expect.json.is_empty() {
        let doc: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| format!("body is not JSON: {e}"))?;
        for (pointer, want) in &expect.json {
            match doc.pointer(pointer) {
                None => return Err(format!("body has no {pointer}")),
                Some(got) if !same(got, want) => {
                    return Err(format!("{pointer} is {got}, expected {want}"));
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

/// JSON equality, numbers by value (`1` equals `1.0`: YAML and a server may write either).
fn same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) if a.is_number() && b.is_number() => x == y,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn status_first_then_latency_then_body() {
        let e = HttpExpect {
            max_latency: Some(ms(200)),
            contains: Some("ok".into()),
            ..HttpExpect::default()
        };
        assert_eq!(judge(None, &e, 503, ms(1), b"ok"), Err("status 503".into()));
        assert_eq!(
            judge(None, &e, 200, ms(312), b"ok"),
            Err("answered in 312 ms, over max_latency 200ms".into())
        );
        assert_eq!(
            judge(None, &e, 200, ms(10), b"degraded"),
            Err("body does not contain \"ok\"".into())
        );
        assert_eq!(judge(None, &e, 200, ms(200), b"all ok"), Ok(()));
        assert_eq!(
            judge(Some(503), &HttpExpect::default(), 503, ms(1), b""),
            Ok(())
        );
    }

    #[test]
    fn json_pointers_compare_values_and_numbers_by_value() {
        let e = HttpExpect {
            json: vec![
                ("/status".into(), json!("ok")),
                ("/replicas/up".into(), json!(2)),
            ],
            ..HttpExpect::default()
        };
        let good = br#"{"status":"ok","replicas":{"up":2.0}}"#;
        assert_eq!(judge(None, &e, 200, ms(1), good), Ok(()));
        let degraded = br#"{"status":"degraded","replicas":{"up":1}}"#;
        assert_eq!(
            judge(None, &e, 200, ms(1), degraded),
            Err("/status is \"degraded\", expected \"ok\"".into())
        );
        assert_eq!(
            judge(None, &e, 200, ms(1), br#"{"status":"ok"}"#),
            Err("body has no /replicas/up".into())
        );
        assert!(
            judge(None, &e, 200, ms(1), b"<html>")
                .unwrap_err()
                .starts_with("body is not JSON")
        );
    }

    /// A one-connection HTTP/1.1 server on 127.0.0.1: answers `body` after `delay`, and hands
    /// back the request it read.
    async fn serve_once(
        body: &'static str,
        delay: Duration,
    ) -> (String, tokio::task::JoinHandle<String>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/health", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = conn.read(&mut buf).await.unwrap();
            tokio::time::sleep(delay).await;
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            conn.write_all(answer.as_bytes()).await.unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        (url, task)
    }

    #[tokio::test]
    async fn a_check_sends_its_headers_and_judges_the_body_it_reads() {
        let client = crate::stack::http_client::StackHttp::new(
            std::sync::Arc::new(crate::stack::address_book::AddressBook::new()),
            &chaosgate_load::TlsPlan::default(),
            1,
        )
        .unwrap();
        let expect = HttpExpect {
            headers: BTreeMap::from([("host".into(), "edge.example".into())]),
            json: vec![("/status".into(), json!("ok"))],
            ..HttpExpect::default()
        };
        let (url, server) = serve_once(r#"{"status":"ok"}"#, Duration::ZERO).await;
        assert_eq!(check(&client, &url, None, &expect).await, Ok(()));
        let request = server.await.unwrap().to_ascii_lowercase();
        assert!(request.contains("host: edge.example"), "{request}");

        let (url, server) = serve_once(r#"{"status":"degraded"}"#, Duration::ZERO).await;
        assert_eq!(
            check(&client, &url, None, &expect).await,
            Err("/status is \"degraded\", expected \"ok\"".into())
        );
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_slow_answer_fails_max_latency() {
        let client = crate::stack::http_client::StackHttp::new(
            std::sync::Arc::new(crate::stack::address_book::AddressBook::new()),
            &chaosgate_load::TlsPlan::default(),
            1,
        )
        .unwrap();
        let expect = HttpExpect {
            max_latency: Some(ms(50)),
            ..HttpExpect::default()
        };
        let (url, server) = serve_once("{}", ms(120)).await;
        let e = check(&client, &url, None, &expect).await.unwrap_err();
        assert!(e.contains("over max_latency 50ms"), "{e}");
        server.await.unwrap();
    }

    #[test]
    fn a_pattern_must_match() {
        let e = HttpExpect {
            matches: Some(Pattern(regex::Regex::new(r#""version":\s*"2""#).unwrap())),
            ..HttpExpect::default()
        };
        assert_eq!(judge(None, &e, 200, ms(1), br#"{"version": "2"}"#), Ok(()));
        assert!(judge(None, &e, 200, ms(1), br#"{"version": "1"}"#).is_err());
    }
}
