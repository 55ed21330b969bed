//! HTTP/1.x request framing on a proxied client → server stream, shared by the L7 toxics
//! (`http_abort`, `http_delay`): where each request starts and ends across chunks, on
//! keep-alive connections and pipelined ones, and whether a request matches the fault.
//!
//! A request's head (request line and headers) is held until it is complete, since what it
//! matches is only known then; its body is framed by `Content-Length` or chunked coding and
//! passes (or is dropped, when the request is aborted) as it comes. A stream that is not
//! HTTP/1 (an HTTP/2 preface, TLS, a protocol upgrade, a head that does not parse or is
//! longer than [`MAX_HEAD`]) is passed through untouched from there on and counted, never
//! rewritten: a fault that cannot read a stream leaves it alone and says so.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use globset::{GlobBuilder, GlobMatcher};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::Cx;
use crate::counters::bump;
use crate::toxic::Flow;

/// The longest request head the toxics wait for before treating the stream as not HTTP.
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// The most headers a request may have to be framed (more: passed through).
const MAX_HEADERS: usize = 128;
/// The longest chunk-size or trailer line of a chunked body.
const MAX_LINE: usize = 8 * 1024;

/// Which requests an L7 toxic acts on: every condition given must hold; with none given,
/// every request matches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpMatch {
    /// The method, exactly as sent (`GET`; methods are case-sensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The path of the request target, without its query string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathMatch>,
    /// A header the request carries, by name (any case) and exact value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<HeaderMatch>,
}

/// How a request's path is matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PathMatch {
    /// The whole path (`/quote`).
    Exact(String),
    /// The path starts with this (`/api/`).
    Prefix(String),
    /// A glob: `*` and `?` within one segment, `**` across segments, `[ab]`, `{a,b}`.
    Glob(PathGlob),
}

/// A compiled path glob; compared and serialised as its pattern.
#[derive(Debug, Clone)]
pub struct PathGlob {
    pattern: String,
    // Boxed: a compiled glob is large, and every toxic's parameters travel in one enum.
    matcher: Box<GlobMatcher>,
}

impl PathGlob {
    /// Compiles `pattern` (`*` does not cross `/`); the error says what is wrong with it.
    pub fn new(pattern: &str) -> Result<Self, String> {
        let glob = GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(PathGlob {
            pattern: pattern.to_owned(),
            matcher: Box::new(glob.compile_matcher()),
        })
    }

    /// The pattern as given.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }
}

impl PartialEq for PathGlob {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

impl Eq for PathGlob {}

impl Serialize for PathGlob {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.pattern)
    }
}

impl<'de> Deserialize<'de> for PathGlob {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let pattern = String::deserialize(d)?;
        PathGlob::new(&pattern).map_err(serde::de::Error::custom)
    }
}

/// A header a request must carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderMatch {
    /// Its name, compared without regard to case.
    pub name: String,
    /// Its value, compared exactly (surrounding whitespace aside).
    pub value: String,
}

/// One request's head, as a toxic's decision sees it.
pub(crate) struct RequestView<'a> {
    pub method: &'a str,
    /// The path of the target (before `?`).
    pub path: &'a str,
    pub headers: &'a [httparse::Header<'a>],
}

impl HttpMatch {
    /// Whether `request` is one the toxic acts on.
    pub(crate) fn matches(&self, request: &RequestView<'_>) -> bool {
        let method = self.method.as_deref().is_none_or(|m| m == request.method);
        let path = self.path.as_ref().is_none_or(|p| match p {
            PathMatch::Exact(exact) => request.path == exact,
            PathMatch::Prefix(prefix) => request.path.starts_with(prefix.as_str()),
            PathMatch::Glob(glob) => glob.matcher.is_match(request.path),
        });
        let header = self.header.as_ref().is_none_or(|h| {
            request.headers.iter().any(|have| {
                have.name.eq_ignore_ascii_case(&h.name)
                    && std::str::from_utf8(have.value).is_ok_and(|v| v.trim() == h.value.trim())
            })
        });
        method && path && header
    }

    /// Why the match cannot work, if it cannot.
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        if self.method.as_deref().is_some_and(str::is_empty) {
            return Err("the method to match is empty");
        }
        match &self.path {
            Some(PathMatch::Exact(p) | PathMatch::Prefix(p)) if !p.starts_with('/') => {
                Err("a path to match starts with `/`")
            }
            _ if self.header.as_ref().is_some_and(|h| h.name.is_empty()) => {
                Err("the header name to match is empty")
            }
            _ => Ok(()),
        }
    }
}

/// What a toxic does with one matched request's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    /// They go to the server.
    Forward,
    /// They are dropped (the toxic answers the client itself, or resets it).
    Drop,
}

/// What one chunk became.
#[derive(Debug, Default)]
pub(crate) struct Fed {
    /// The bytes to send on now.
    pub forward: BytesMut,
    /// The stream turned out not to be HTTP/1 in this chunk (it passes untouched from now).
    pub passed_through: bool,
}

#[derive(Debug, Default)]
enum Phase {
    /// Reading a request head (held in `RequestStream::head`).
    #[default]
    Head,
    /// A body of this many bytes still to come.
    Body(u64),
    /// A chunked body.
    Chunked(Chunked),
    /// Not HTTP/1 (or upgraded to another protocol): every byte passes untouched.
    Passthrough,
}

#[derive(Debug)]
enum Chunked {
    /// A chunk-size line, read so far.
    Size(Vec<u8>),
    /// Chunk data and its closing CRLF still to come.
    Data(u64),
    /// The trailer section (the current line, read so far); an empty line ends the body.
    Trailers(Vec<u8>),
}

/// How a request's body is framed.
enum Framing {
    None,
    Length(u64),
    Chunked,
}

/// One client → server stream, as an L7 toxic follows it.
#[derive(Debug, Default)]
pub(crate) struct RequestStream {
    phase: Phase,
    /// The head being read; bytes after a complete head are processed at once.
    head: BytesMut,
    /// The current request's bytes are dropped.
    dropping: bool,
    /// After the current request the stream speaks another protocol (`Upgrade`, `CONNECT`).
    opaque_after: bool,
    /// The server → client byte count when a request was last forwarded: that request's
    /// response has started once the count has moved past it.
    forwarded_at: Option<u64>,
    /// The delay the chunk being processed carries (the toxics' delay stage reads it).
    pub chunk_delay: Duration,
}

impl RequestStream {
    /// Whether the toxic holds nothing and is between requests: a removed toxic may let go.
    pub fn idle(&self) -> bool {
        matches!(self.phase, Phase::Head | Phase::Passthrough) && self.head.is_empty()
    }

    /// The bytes held (an incomplete head), taken: the stream ends, or the toxic lets go.
    pub fn take_held(&mut self) -> Bytes {
        self.head.split().freeze()
    }

    /// Frames `input` (the next bytes of the stream); `decide` is asked once per complete
    /// request head, with whether an earlier forwarded request still awaits the start of its
    /// response (`pending`: answering this one now would overtake it). `downstream` is the
    /// connection's server → client byte count now.
    pub fn feed(
        &mut self,
        mut input: Bytes,
        downstream: u64,
        decide: &mut dyn FnMut(&RequestView<'_>, bool) -> Fate,
    ) -> Fed {
        let mut fed = Fed::default();
        loop {
            match &mut self.phase {
                Phase::Passthrough => {
                    fed.forward.extend_from_slice(&self.head.split());
                    fed.forward.extend_from_slice(&input);
                    return fed;
                }
                Phase::Head => {
                    self.head.extend_from_slice(&input);
                    if self.head.is_empty() {
                        return fed;
                    }
                    input = Bytes::new();
                    let pending = self.forwarded_at.is_some_and(|at| downstream <= at);
                    match self.read_head(pending, decide) {
                        HeadRead::Partial => return fed,
                        HeadRead::NotHttp => {
                            self.phase = Phase::Passthrough;
                            fed.passed_through = true;
                        }
                        HeadRead::Complete { len, framing, fate } => {
                            let head = self.head.split_to(len);
                            input = self.head.split().freeze();
                            self.dropping = fate == Fate::Drop;
                            if !self.dropping {
                                fed.forward.extend_from_slice(&head);
                                self.forwarded_at = Some(downstream);
                            }
                            self.phase = match framing {
                                Framing::None | Framing::Length(0) => Phase::Head,
                                Framing::Length(n) => Phase::Body(n),
                                Framing::Chunked => Phase::Chunked(Chunked::Size(Vec::new())),
                            };
                            if matches!(self.phase, Phase::Head) {
                                self.end_request();
                            }
                        }
                    }
                }
                Phase::Body(remaining) => {
                    if input.is_empty() {
                        return fed;
                    }
                    let take = (*remaining).min(input.len() as u64);
                    *remaining -= take;
                    let done = *remaining == 0;
                    let part = input.split_to(take as usize);
                    self.emit(&mut fed, &part);
                    if done {
                        self.end_request();
                    }
                }
                Phase::Chunked(chunked) => {
                    if input.is_empty() {
                        return fed;
                    }
                    let (part, next) = chunked_step(chunked, &mut input);
                    self.emit(&mut fed, &part);
                    match next {
                        ChunkedNext::Continue => {}
                        ChunkedNext::BodyEnd => self.end_request(),
                        ChunkedNext::Malformed => {
                            // Framing is lost: nothing after this can be attributed to a
                            // request, so it all passes as it comes.
                            self.dropping = false;
                            self.phase = Phase::Passthrough;
                            fed.passed_through = true;
                        }
                    }
                }
            }
        }
    }

    fn emit(&self, fed: &mut Fed, part: &[u8]) {
        if !self.dropping {
            fed.forward.extend_from_slice(part);
        }
    }

    fn end_request(&mut self) {
        self.dropping = false;
        self.phase = if self.opaque_after {
            Phase::Passthrough
        } else {
            Phase::Head
        };
    }

    /// Parses the held head; asks `decide` when it is complete.
    fn read_head(
        &mut self,
        pending: bool,
        decide: &mut dyn FnMut(&RequestView<'_>, bool) -> Fate,
    ) -> HeadRead {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        let len = match request.parse(&self.head) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) if self.head.len() <= MAX_HEAD => {
                return HeadRead::Partial;
            }
            // Too long, not HTTP/1 (an HTTP/2 preface fails on its version), too many
            // headers: not a stream these toxics can follow.
            Ok(httparse::Status::Partial) | Err(_) => return HeadRead::NotHttp,
        };
        let (Some(method), Some(target)) = (request.method, request.path) else {
            return HeadRead::NotHttp;
        };
        let Some(framing) = body_framing(request.headers) else {
            return HeadRead::NotHttp;
        };
        self.opaque_after = method == "CONNECT"
            || request
                .headers
                .iter()
                .any(|h| h.name.eq_ignore_ascii_case("upgrade"));
        let path = target.split(['?', '#']).next().unwrap_or(target);
        let view = RequestView {
            method,
            path,
            headers: request.headers,
        };
        let fate = decide(&view, pending);
        HeadRead::Complete { len, framing, fate }
    }
}

enum HeadRead {
    Partial,
    NotHttp,
    Complete {
        len: usize,
        framing: Framing,
        fate: Fate,
    },
}

enum ChunkedNext {
    Continue,
    BodyEnd,
    Malformed,
}

/// A request's body framing (RFC 9112 §6.3): chunked when the last transfer coding is
/// `chunked`, else `Content-Length`, else none. `None` for what cannot be framed (another
/// transfer coding, a bad or conflicting length).
fn body_framing(headers: &[httparse::Header<'_>]) -> Option<Framing> {
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut coded = false;
    for h in headers {
        let value = std::str::from_utf8(h.value).ok()?.trim();
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            coded = true;
            chunked = value
                .rsplit(',')
                .next()
                .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
        } else if h.name.eq_ignore_ascii_case("content-length") {
            let n: u64 = value.parse().ok()?;
            if length.is_some_and(|l| l != n) {
                return None;
            }
            length = Some(n);
        }
    }
    match (coded, chunked, length) {
        (true, true, _) => Some(Framing::Chunked),
        (true, false, _) => None,
        (false, _, Some(n)) => Some(Framing::Length(n)),
        (false, _, None) => Some(Framing::None),
    }
}

/// One step through a chunked body: the bytes consumed from `input` and where that leaves
/// the body.
fn chunked_step(state: &mut Chunked, input: &mut Bytes) -> (Bytes, ChunkedNext) {
    match state {
        Chunked::Data(remaining) => {
            let take = (*remaining).min(input.len() as u64);
            *remaining -= take;
            let part = input.split_to(take as usize);
            if *remaining == 0 {
                *state = Chunked::Size(Vec::new());
            }
            (part, ChunkedNext::Continue)
        }
        Chunked::Size(line) | Chunked::Trailers(line) => {
            let end = input.iter().position(|&b| b == b'\n');
            let take = end.map_or(input.len(), |i| i + 1);
            let part = input.split_to(take);
            line.extend_from_slice(&part);
            if line.len() > MAX_LINE {
                return (part, ChunkedNext::Malformed);
            }
            if end.is_none() {
                return (part, ChunkedNext::Continue);
            }
            let next = match state {
                Chunked::Size(line) => match httparse::parse_chunk_size(line) {
                    Ok(httparse::Status::Complete((_, 0))) => {
                        *state = Chunked::Trailers(Vec::new());
                        ChunkedNext::Continue
                    }
                    Ok(httparse::Status::Complete((_, size))) => {
                        // The data, then its CRLF.
                        *state = Chunked::Data(size.saturating_add(2));
                        ChunkedNext::Continue
                    }
                    Ok(httparse::Status::Partial) | Err(_) => ChunkedNext::Malformed,
                },
                Chunked::Trailers(line) => {
                    if line.as_slice() == b"\r\n" || line.as_slice() == b"\n" {
                        ChunkedNext::BodyEnd
                    } else {
                        line.clear();
                        ChunkedNext::Continue
                    }
                }
                Chunked::Data(_) => unreachable!("matched above"),
            };
            (part, next)
        }
    }
}

/// Runs a chunk of a request stream through an L7 toxic (its swallow stage): counts the
/// requests that match, draws `probability` for each from the stream's seeded generator,
/// and gives the drawn ones `fate` (`Fate::Drop` is refused, and the request spared and
/// counted, while an earlier request still awaits its response: answering now would
/// overtake it). Returns how many requests were acted on. Only the client → server stream
/// carries requests: on the other, nothing happens.
pub(crate) fn act_on_requests(
    cx: &mut Cx<'_>,
    data: &mut Bytes,
    matcher: &HttpMatch,
    probability: f64,
    fate: Fate,
) -> u32 {
    if cx.flow != Flow::Upstream {
        return 0;
    }
    let mut stream = std::mem::take(cx.state::<RequestStream>());
    stream.chunk_delay = Duration::ZERO;
    let (rng, stats) = (&mut *cx.rng, cx.stats);
    let mut acted = 0;
    let fed = stream.feed(
        std::mem::take(data),
        cx.downstream,
        &mut |request, pending| {
            if !matcher.matches(request) {
                return Fate::Forward;
            }
            bump(&stats.requests_matched, 1);
            let drawn = probability >= 1.0 || rng.random_bool(probability.clamp(0.0, 1.0));
            if !drawn || (fate == Fate::Drop && pending) {
                bump(&stats.requests_spared, 1);
                return Fate::Forward;
            }
            bump(&stats.requests_acted, 1);
            acted += 1;
            fate
        },
    );
    if fed.passed_through {
        bump(&stats.streams_passed_through, 1);
    }
    *data = fed.forward.freeze();
    *cx.state::<RequestStream>() = stream;
    acted
}

/// [`super::Kind::retire`] for the L7 toxics: passes `data` on while finishing the request
/// the toxic holds, acting on nothing new; `true` once it holds nothing.
pub(crate) fn retire_requests(cx: &mut Cx<'_>, data: &mut Bytes) -> bool {
    let downstream = cx.downstream;
    let stream = cx.state::<RequestStream>();
    if stream.idle() {
        return true;
    }
    let fed = stream.feed(std::mem::take(data), downstream, &mut |_, _| Fate::Forward);
    *data = fed.forward.freeze();
    stream.idle()
}

/// [`super::Kind::flush`] for the L7 toxics: the incomplete head held at end of stream.
pub(crate) fn flush_requests(cx: &mut Cx<'_>) -> Bytes {
    cx.state::<RequestStream>().take_held()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `chunks` one after another; returns what was forwarded and the paths seen.
    fn run(
        stream: &mut RequestStream,
        chunks: &[&[u8]],
        mut fate: impl FnMut(&str) -> Fate,
    ) -> (Vec<u8>, Vec<String>, bool) {
        let mut out = Vec::new();
        let mut seen = Vec::new();
        let mut passed = false;
        for chunk in chunks {
            let fed = stream.feed(Bytes::copy_from_slice(chunk), 0, &mut |r, _| {
                seen.push(r.path.to_owned());
                fate(r.path)
            });
            passed |= fed.passed_through;
            out.extend_from_slice(&fed.forward);
        }
        (out, seen, passed)
    }

    const GET_A: &[u8] = b"GET /a?x=1 HTTP/1.1\r\nhost: s\r\n\r\n";
    const POST_B: &[u8] = b"POST /b HTTP/1.1\r\ncontent-length: 5\r\n\r\nhello";
    const CHUNKED_C: &[u8] =
        b"POST /c HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nx-t: 1\r\n\r\n";

    #[test]
    fn pipelined_requests_are_framed_across_any_chunking() {
        let whole = [GET_A, POST_B, CHUNKED_C, GET_A].concat();
        for cut in 1..whole.len() {
            let mut stream = RequestStream::default();
            let (a, b) = whole.split_at(cut);
            let (out, seen, passed) = run(&mut stream, &[a, b], |_| Fate::Forward);
            assert_eq!(out, whole, "cut at {cut}");
            assert_eq!(seen, ["/a", "/b", "/c", "/a"], "cut at {cut}");
            assert!(!passed && stream.idle());
        }
    }

    #[test]
    fn a_dropped_request_takes_its_body_and_only_it() {
        let whole = [GET_A, POST_B, CHUNKED_C, GET_A].concat();
        for drop in ["/b", "/c"] {
            for cut in 1..whole.len() {
                let mut stream = RequestStream::default();
                let (a, b) = whole.split_at(cut);
                let (out, _, _) = run(&mut stream, &[a, b], |p| {
                    if p == drop { Fate::Drop } else { Fate::Forward }
                });
                let kept: Vec<&[u8]> = [GET_A, POST_B, CHUNKED_C, GET_A]
                    .into_iter()
                    .filter(|r| !r.starts_with(format!("POST {drop} ").as_bytes()))
                    .collect();
                assert_eq!(out, kept.concat(), "dropping {drop}, cut at {cut}");
            }
        }
    }

    #[test]
    fn an_incomplete_head_is_held_until_it_completes() {
        let mut stream = RequestStream::default();
        let (out, seen, _) = run(&mut stream, &[b"GET /a HTTP/1.1\r\nho"], |_| Fate::Forward);
        assert!(out.is_empty() && seen.is_empty() && !stream.idle());
        assert_eq!(&stream.take_held()[..], b"GET /a HTTP/1.1\r\nho");
    }

    #[test]
    fn what_is_not_http1_passes_untouched_and_is_said() {
        let h2 = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04";
        let tls = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
        for stream_bytes in [&h2[..], &tls[..]] {
            let mut stream = RequestStream::default();
            let (out, seen, passed) = run(&mut stream, &[stream_bytes, b"more"], |_| Fate::Drop);
            assert_eq!(out, [stream_bytes, b"more"].concat());
            assert!(seen.is_empty() && passed);
        }
        // An upgrade: the request is framed, what follows is another protocol.
        let upgrade = b"GET /ws HTTP/1.1\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n";
        let mut stream = RequestStream::default();
        let (out, seen, _) = run(&mut stream, &[upgrade, GET_A], |_| Fate::Forward);
        assert_eq!(out, [&upgrade[..], GET_A].concat());
        assert_eq!(seen, ["/ws"]);
    }

    #[test]
    fn a_request_is_pending_until_its_response_starts() {
        let mut stream = RequestStream::default();
        let mut pendings = Vec::new();
        let mut decide = |_: &RequestView<'_>, pending: bool| {
            pendings.push(pending);
            Fate::Forward
        };
        stream.feed(Bytes::from_static(GET_A), 10, &mut decide);
        // The next request before any response byte: pipelined.
        stream.feed(Bytes::from_static(GET_A), 10, &mut decide);
        // After the response started.
        stream.feed(Bytes::from_static(GET_A), 11, &mut decide);
        assert_eq!(pendings, [false, true, false]);
    }

    #[test]
    fn matching_by_method_path_and_header() {
        let headers = [httparse::Header {
            name: "X-User",
            value: b" bob ",
        }];
        let view = RequestView {
            method: "GET",
            path: "/api/v1/quote",
            headers: &headers,
        };
        let m = |method: Option<&str>, path: Option<PathMatch>, header: Option<(&str, &str)>| {
            HttpMatch {
                method: method.map(str::to_owned),
                path,
                header: header.map(|(n, v)| HeaderMatch {
                    name: n.into(),
                    value: v.into(),
                }),
            }
            .matches(&view)
        };
        let glob = |p: &str| Some(PathMatch::Glob(PathGlob::new(p).expect("a glob")));
        assert!(m(None, None, None));
        assert!(m(Some("GET"), None, Some(("x-user", "bob"))));
        assert!(!m(Some("get"), None, None));
        assert!(!m(None, None, Some(("x-user", "alice"))));
        assert!(m(None, Some(PathMatch::Prefix("/api/".into())), None));
        assert!(!m(None, Some(PathMatch::Exact("/api".into())), None));
        assert!(m(None, glob("/api/*/quote"), None));
        assert!(!m(None, glob("/api/*"), None));
        assert!(m(None, glob("/api/**"), None));
        assert!(PathGlob::new("/a/[").is_err());
    }
}
