//! `http_abort`: a share of the requests that match is answered by the proxy itself with an
//! HTTP error status (or the connection is reset), and never reaches the server.
//!
//! It acts on live keep-alive connections: the request's head and body are taken out of the
//! stream (`http.rs` frames them) and the answer goes back on the same connection, which
//! stays usable. A request that an earlier one's response has not yet started for
//! (pipelining) is spared and counted: answering it first would overtake that response.

use bytes::Bytes;

use super::http::{Fate, HttpMatch, act_on_requests, flush_requests, retire_requests};
use super::{Cx, Kind};

/// Answers `status` (or resets the connection when `None`) for `probability` of the
/// requests `matcher` selects, drawn per request from the seed.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpAbort {
    /// Which requests.
    pub matcher: HttpMatch,
    /// Share of the matching requests aborted, 0.0 – 1.0.
    pub probability: f64,
    /// The status answered (400 – 599); `None` resets the connection instead.
    pub status: Option<u16>,
}

impl Kind for HttpAbort {
    fn check(&self) -> Result<(), &'static str> {
        if !(0.0..=1.0).contains(&self.probability) {
            return Err("probability must be within [0, 1]");
        }
        if self.status.is_some_and(|s| !(400..=599).contains(&s)) {
            return Err("an abort answers an error status, 400 to 599");
        }
        self.matcher.check()
    }

    fn counts_requests(&self) -> bool {
        true
    }

    fn swallow(&self, cx: &mut Cx<'_>, data: &mut Bytes) {
        let aborted = act_on_requests(cx, data, &self.matcher, self.probability, Fate::Drop);
        for _ in 0..aborted {
            match self.status {
                Some(status) => cx.reply(answer(status)),
                None => cx.reset(),
            }
        }
    }

    fn retire(&self, cx: &mut Cx<'_>, data: &mut Bytes) -> bool {
        retire_requests(cx, data)
    }

    fn flush(&self, cx: &mut Cx<'_>) -> Bytes {
        flush_requests(cx)
    }
}

/// A complete HTTP/1.1 response with `status`, a body saying who answered (so a person
/// reading a client's log sees it was the fault), and a length (the connection stays open).
fn answer(status: u16) -> Bytes {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let body = format!("chaosgate http_abort: {status}\n");
    Bytes::from(format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nx-chaosgate-fault: http_abort\r\n\r\n{body}",
        body.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toxic::{Direction, Flow};
    use crate::toxics::TestStream;
    use crate::toxics::http::PathMatch;

    const QUOTE: &[u8] = b"GET /quote?s=X HTTP/1.1\r\nhost: m\r\n\r\n";
    const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nhost: m\r\n\r\n";

    fn quote_abort(probability: f64, status: Option<u16>) -> HttpAbort {
        HttpAbort {
            matcher: HttpMatch {
                path: Some(PathMatch::Exact("/quote".into())),
                ..HttpMatch::default()
            },
            probability,
            status,
        }
    }

    #[test]
    fn a_matching_request_is_answered_and_never_forwarded() {
        let toxic = quote_abort(1.0, Some(503));
        let mut stream = TestStream::new(Flow::Upstream, Direction::Upstream);
        let mut data = Bytes::from([HEALTH, QUOTE].concat());
        // The health check's response has started, so the quote may be answered.
        stream.downstream = 0;
        toxic.swallow(&mut stream.cx(1), &mut data);
        // The health request was forwarded in this chunk: the quote would overtake its
        // response, so it is spared.
        assert_eq!(&data[..], [HEALTH, QUOTE].concat());
        assert!(stream.effects.replies.is_empty());

        stream.downstream = 100;
        let mut data = Bytes::from_static(QUOTE);
        toxic.swallow(&mut stream.cx(1), &mut data);
        assert!(data.is_empty());
        let reply = String::from_utf8(stream.effects.replies.concat()).expect("text");
        assert!(reply.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{reply}");
        let (matched, acted, spared) = (
            stream.stats.requests_matched.load(std::sync::atomic::Ordering::Relaxed),
            stream.stats.requests_acted.load(std::sync::atomic::Ordering::Relaxed),
            stream.stats.requests_spared.load(std::sync::atomic::Ordering::Relaxed),
        );
        assert_eq!((matched, acted, spared), (2, 1, 1));
    }

    #[test]
    fn a_reset_abort_asks_for_the_connection_to_be_reset() {
        let toxic = quote_abort(1.0, None);
        let mut stream = TestStream::new(Flow::Upstream, Direction::Upstream);
        let mut data = Bytes::from_static(QUOTE);
        toxic.swallow(&mut stream.cx(1), &mut data);
        assert!(data.is_empty() && stream.effects.reset);
    }

    #[test]
    fn the_share_aborted_follows_the_probability() {
        let toxic = quote_abort(0.3, Some(500));
        let mut stream = TestStream::new(Flow::Upstream, Direction::Upstream);
        let mut aborted = 0;
        for n in 0..10_000u64 {
            // Each request after the previous one's response started, as a client that
            // does not pipeline sends them.
            stream.downstream = n + 1;
            let mut data = Bytes::from_static(QUOTE);
            toxic.swallow(&mut stream.cx(1), &mut data);
            aborted += usize::from(data.is_empty());
        }
        assert!((2_800..=3_200).contains(&aborted), "{aborted} of 10000");
    }

    #[test]
    fn the_response_stream_is_left_alone() {
        let toxic = quote_abort(1.0, Some(503));
        let mut stream = TestStream::new(Flow::Downstream, Direction::Both);
        let mut data = Bytes::from_static(QUOTE);
        toxic.swallow(&mut stream.cx(1), &mut data);
        assert_eq!(&data[..], QUOTE);
    }

    #[test]
    fn statuses_outside_the_errors_are_refused() {
        assert!(quote_abort(1.0, Some(200)).check().is_err());
        assert!(quote_abort(1.5, Some(503)).check().is_err());
        assert!(quote_abort(0.5, Some(429)).check().is_ok());
    }
}
