//! Lost writes, Jepsen-style: every write the system acknowledged (2xx to a request of a
//! write template carrying a unique `{{id}}`) is read back after the run; acknowledged but
//! absent, on two reads that agree, is lost.
//!
//! Only requests of the templates the run spec lists as writes are read back: which requests
//! are writes is decided by the scenario (POST/PUT/PATCH/DELETE unless it says `write:`),
//! and a read carrying `{{id}}` (say, in an `x-request-id` header) is never taken for one.
//! Each write template has its read-back URL, `{id}` standing for the id (by default the REST
//! convention `GET <write URL without query>/<id>`): 2xx = present, 404 = absent, anything
//! else is retried and, if it never answers, counted as unconfirmed (which makes the result
//! inconclusive, never "no loss").

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use serde::Serialize;

use crate::timeline::{Event, EventKind, read_events};

/// One request template whose acknowledged requests are writes to read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteReadBack {
    /// Index of the template in the load plan's `requests` (what each request event
    /// records as its `template`).
    pub template: usize,
    /// The read-back URL as written in the scenario, `{id}` standing for the write's id.
    pub url: String,
}

/// The lost-writes check: every acknowledged (2xx) write read back after the run; a write not found
/// (404) is lost. Jepsen's "lost write" anomaly, checked for acknowledged writes only.
#[derive(Debug, Clone, Serialize)]
pub struct WriteCheck {
    /// The read-back URL templates (`, `-separated), `{id}` standing for each write's id.
    pub read_url: String,
    /// Writes the system acknowledged with a 2xx (each one read back).
    pub acknowledged: u64,
    /// Acknowledged writes whose read-back answered 404.
    pub lost: u64,
    /// Reads that never got a clear answer (2xx or 404).
    pub unconfirmed: u64,
    /// Up to 20 lost ids, for the report.
    pub lost_ids: Vec<String>,
}

/// What it takes to read the writes back.
pub struct ReadBack<'a> {
    /// The write templates and their read-back URLs.
    pub writes: &'a [WriteReadBack],
    /// The client the reads go through (to where `service:port` lives now; `https://` too).
    pub http: &'a crate::stack::http_client::StackHttp,
}

/// The acknowledged writes among `events`: id → the URL it is read back from. A request
/// counts only when its template is one of `writes` and it got a 2xx.
pub fn acknowledged_writes(
    events: impl IntoIterator<Item = Event>,
    writes: &[WriteReadBack],
) -> BTreeMap<String, String> {
    let url_of: BTreeMap<usize, &str> = writes
        .iter()
        .map(|w| (w.template, w.url.as_str()))
        .collect();
    let mut acked = BTreeMap::new();
    for event in events {
        if let EventKind::Request {
            template,
            id: Some(id),
            status: Some(s),
            ..
        } = event.kind
            && (200..300).contains(&s)
            && let Some(url) = url_of.get(&template)
        {
            let read = url.replace("{id}", &id);
            acked.insert(id, read);
        }
    }
    acked
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Seen {
    Present,
    Absent,
    Unknown,
}

/// Reads every acknowledged write in the `events` file back, twice for the absent ones.
pub async fn check(events: &Path, rb: ReadBack<'_>) -> std::io::Result<WriteCheck> {
    let events = read_events(events)?.collect::<std::io::Result<Vec<Event>>>()?;
    let acked = acknowledged_writes(events, rb.writes);
    let first = read_all(&rb, acked.iter().collect()).await;
    // Absent ones are read again after a pause: a write may still be in flight, and "lost"
    // must be a stable answer.
    let absent: Vec<(&String, &String)> = first
        .iter()
        .filter(|(_, s)| *s == Seen::Absent)
        .map(|(w, _)| *w)
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let second = read_all(&rb, absent).await;
    let lost: Vec<String> = second
        .iter()
        .filter(|(_, s)| *s == Seen::Absent)
        .map(|((id, _), _)| (*id).clone())
        .collect();
    let unconfirmed = first.iter().filter(|(_, s)| *s == Seen::Unknown).count()
        + second.iter().filter(|(_, s)| *s == Seen::Unknown).count();
    let urls: BTreeSet<&str> = rb.writes.iter().map(|w| w.url.as_str()).collect();
    Ok(WriteCheck {
        read_url: urls.into_iter().collect::<Vec<_>>().join(", "),
        acknowledged: acked.len() as u64,
        lost: lost.len() as u64,
        unconfirmed: unconfirmed as u64,
        lost_ids: lost.into_iter().take(20).collect(),
    })
}

/// Each (id, read URL) with what a read found.
async fn read_all<'w>(
    rb: &ReadBack<'_>,
    writes: Vec<(&'w String, &'w String)>,
) -> Vec<((&'w String, &'w String), Seen)> {
    futures::stream::iter(writes)
        .map(|w| async move {
            let seen = read_one(rb, w.1).await;
            (w, seen)
        })
        .buffer_unordered(16)
        .collect()
        .await
}

async fn read_one(rb: &ReadBack<'_>, read_url: &str) -> Seen {
    for attempt in 0..3 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        match rb
            .http
            .get(read_url)
            .timeout(Duration::from_secs(2))
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => return Seen::Present,
            Ok(r) if r.status().as_u16() == 404 => return Seen::Absent,
            _ => {}
        }
    }
    Seen::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(template: usize, id: &str, status: u16) -> Event {
        Event {
            t: 0,
            kind: EventKind::Request {
                seq: 0,
                template,
                id: Some(id.to_string()),
                latency_ns: 1,
                lag_ns: 0,
                status: Some(status),
                error: None,
            },
        }
    }

    #[test]
    fn only_acknowledged_requests_of_write_templates_are_read_back() {
        // Template 0: POST /orders with `{{id}}` in the body; template 1: GET /quote with
        // `x-request-id: {{id}}`. The quote's ids were read back as orders before (and, never
        // found, counted as lost writes on a healthy stack).
        let writes = [WriteReadBack {
            template: 0,
            url: "http://gateway:8080/orders/{id}".into(),
        }];
        let events = vec![
            request(0, "o-1", 201),
            request(1, "q-2", 200),
            request(1, "q-3", 200),
            request(0, "o-4", 503),
            request(0, "o-5", 200),
        ];
        let acked = acknowledged_writes(events, &writes);
        assert_eq!(
            acked,
            BTreeMap::from([
                (
                    "o-1".to_string(),
                    "http://gateway:8080/orders/o-1".to_string()
                ),
                (
                    "o-5".to_string(),
                    "http://gateway:8080/orders/o-5".to_string()
                ),
            ])
        );
        assert!(acknowledged_writes(vec![request(1, "q", 200)], &[]).is_empty());
    }

    #[test]
    fn each_write_template_has_its_own_read_back() {
        let writes = [
            WriteReadBack {
                template: 0,
                url: "http://gateway:8080/orders/{id}".into(),
            },
            WriteReadBack {
                template: 2,
                url: "http://gateway:8080/ledger?entry={id}".into(),
            },
        ];
        let acked = acknowledged_writes(vec![request(0, "a", 200), request(2, "b", 204)], &writes);
        assert_eq!(acked["a"], "http://gateway:8080/orders/a");
        assert_eq!(acked["b"], "http://gateway:8080/ledger?entry=b");
    }
}
