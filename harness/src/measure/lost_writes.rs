//! Lost writes, Jepsen-style: every write the system acknowledged (2xx to a request carrying a
//! unique `{{id}}`) is read back after the run; acknowledged but absent, on two reads that
//! agree, is lost.
//!
//! Reads follow the REST convention `GET <write URL without query>/<id>`: 2xx = present,
//! 404 = absent, anything else is retried and, if it never answers, counted as unconfirmed
//! (which makes the result inconclusive, never "no loss").

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use serde::Serialize;

use crate::stack::AddressBook;
use crate::timeline::{EventKind, read_events};

#[derive(Debug, Clone, Serialize)]
pub struct WriteCheck {
    /// The read-back URL template, `{id}` standing for each write's id.
    pub read_url: String,
    pub acknowledged: u64,
    pub lost: u64,
    /// Reads that never got a clear answer (2xx or 404).
    pub unconfirmed: u64,
    /// Up to 20 lost ids, for the report.
    pub lost_ids: Vec<String>,
}

/// What it takes to read a write back.
pub struct ReadBack<'a> {
    pub base_url: String,
    pub book: &'a AddressBook,
    pub http: &'a reqwest::Client,
}

/// The read-back base for a write template: its URL without the query string.
pub fn read_base(write_url: &str) -> String {
    write_url
        .split('?')
        .next()
        .unwrap_or(write_url)
        .trim_end_matches('/')
        .to_string()
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Seen {
    Present,
    Absent,
    Unknown,
}

pub async fn check(events: &Path, rb: ReadBack<'_>) -> std::io::Result<WriteCheck> {
    let mut acked = BTreeSet::new();
    for event in read_events(events)? {
        if let EventKind::Request {
            id: Some(id),
            status: Some(s),
            ..
        } = event?.kind
            && (200..300).contains(&s)
        {
            acked.insert(id);
        }
    }
    let first = read_all(&rb, acked.iter().cloned().collect()).await;
    // Absent ones are read again after a pause: a write may still be in flight, and "lost"
    // must be a stable answer.
    let absent: Vec<String> = first
        .iter()
        .filter(|(_, s)| *s == Seen::Absent)
        .map(|(id, _)| id.clone())
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let second = read_all(&rb, absent).await;
    let lost: Vec<String> = second
        .iter()
        .filter(|(_, s)| *s == Seen::Absent)
        .map(|(id, _)| id.clone())
        .collect();
    let unconfirmed = first.iter().filter(|(_, s)| *s == Seen::Unknown).count()
        + second.iter().filter(|(_, s)| *s == Seen::Unknown).count();
    Ok(WriteCheck {
        read_url: format!("{}/{{id}}", rb.base_url),
        acknowledged: acked.len() as u64,
        lost: lost.len() as u64,
        unconfirmed: unconfirmed as u64,
        lost_ids: lost.into_iter().take(20).collect(),
    })
}

async fn read_all(rb: &ReadBack<'_>, ids: Vec<String>) -> Vec<(String, Seen)> {
    futures::stream::iter(ids)
        .map(|id| async move {
            let seen = read_one(rb, &id).await;
            (id, seen)
        })
        .buffer_unordered(16)
        .collect()
        .await
}

async fn read_one(rb: &ReadBack<'_>, id: &str) -> Seen {
    for attempt in 0..3 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let url = rb.book.rewrite_url(&format!("{}/{id}", rb.base_url));
        match rb
            .http
            .get(&url)
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

    #[test]
    fn read_base_drops_query_and_trailing_slash() {
        assert_eq!(
            read_base("http://gateway:8080/orders/?x=1"),
            "http://gateway:8080/orders"
        );
        assert_eq!(
            read_base("http://gateway:8080/orders"),
            "http://gateway:8080/orders"
        );
    }
}
