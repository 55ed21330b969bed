//! `http_delay`: a share of the requests that match are held `delay` before they go on to
//! the server, on live keep-alive connections. The rest of the stream is untouched: a
//! request that does not match, or was not drawn, passes at once (unless it shares a chunk
//! with a delayed one: a stream keeps its order).

use std::time::Duration;

use bytes::Bytes;

use super::http::{Fate, HttpMatch, RequestStream, act_on_requests, flush_requests, retire_requests};
use super::{Cx, Kind};
use crate::counters::bump;

/// Holds `probability` of the requests `matcher` selects `delay` before forwarding them,
/// drawn per request from the seed.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpDelay {
    /// Which requests.
    pub matcher: HttpMatch,
    /// Share of the matching requests delayed, 0.0 – 1.0.
    pub probability: f64,
    /// How long each is held, from when its head was complete.
    pub delay: Duration,
}

impl Kind for HttpDelay {
    fn check(&self) -> Result<(), &'static str> {
        if !(0.0..=1.0).contains(&self.probability) {
            return Err("probability must be within [0, 1]");
        }
        self.matcher.check()
    }

    fn counts_requests(&self) -> bool {
        true
    }

    fn swallow(&self, cx: &mut Cx<'_>, data: &mut Bytes) {
        let delayed = act_on_requests(cx, data, &self.matcher, self.probability, Fate::Forward);
        if delayed > 0 {
            cx.state::<RequestStream>().chunk_delay = self.delay;
        }
    }

    fn delay(&self, cx: &mut Cx<'_>, counted: Option<usize>) -> Duration {
        let delay = cx.state::<RequestStream>().chunk_delay;
        if let Some(len) = counted.filter(|_| !delay.is_zero()) {
            bump(&cx.stats.chunks_delayed, 1);
            bump(&cx.stats.bytes_affected, len as u64);
        }
        delay
    }

    fn retire(&self, cx: &mut Cx<'_>, data: &mut Bytes) -> bool {
        retire_requests(cx, data)
    }

    fn flush(&self, cx: &mut Cx<'_>) -> Bytes {
        flush_requests(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toxic::{Direction, Flow};
    use crate::toxics::TestStream;
    use crate::toxics::http::PathMatch;

    #[test]
    fn only_matching_requests_carry_the_delay() {
        let toxic = HttpDelay {
            matcher: HttpMatch {
                method: Some("GET".into()),
                path: Some(PathMatch::Prefix("/quote".into())),
                header: None,
            },
            probability: 1.0,
            delay: Duration::from_millis(200),
        };
        let mut stream = TestStream::new(Flow::Upstream, Direction::Upstream);
        let mut quote = Bytes::from_static(b"GET /quote HTTP/1.1\r\n\r\n");
        toxic.swallow(&mut stream.cx(1), &mut quote);
        assert_eq!(toxic.delay(&mut stream.cx(1), Some(quote.len())), Duration::from_millis(200));
        let mut health = Bytes::from_static(b"GET /health HTTP/1.1\r\n\r\n");
        toxic.swallow(&mut stream.cx(1), &mut health);
        assert_eq!(toxic.delay(&mut stream.cx(1), Some(health.len())), Duration::ZERO);
        assert_eq!(&health[..], b"GET /health HTTP/1.1\r\n\r\n");
    }
}
