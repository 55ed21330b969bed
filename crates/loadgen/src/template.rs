//! Request templates as the caller writes them, and their validated, ready-to-send form.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HOST, HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Uri};
use serde::{Deserialize, Serialize};

use crate::error::LoadError;
use crate::method::Method;
use crate::outcome::ErrorKind;
use crate::placeholder::IdText;

/// One kind of request in the load. `{{id}}` in the URL, a header value or the body is
/// replaced by the request's unique id (`LoadPlan::id_prefix` + sequence number).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RequestTemplate {
    /// The HTTP method sent.
    pub method: Method,
    /// Absolute `http://` or `https://host[:port]/path[?query]` URL; may hold `{{id}}`.
    pub url: String,
    /// Extra headers as (name, value) pairs, sent in this order; values may hold `{{id}}`.
    pub headers: Vec<(String, String)>,
    /// Request body, sent as is (`Content-Type: application/json` unless a header sets one);
    /// `None` sends no body. May hold `{{id}}`.
    pub body: Option<String>,
    /// Share of the mix relative to the other templates' weights.
    pub weight: u32,
}

impl RequestTemplate {
    /// A GET of `url` with weight 1.
    pub fn get(url: impl Into<String>) -> Self {
        RequestTemplate {
            method: Method::Get,
            url: url.into(),
            headers: Vec::new(),
            body: None,
            weight: 1,
        }
    }
}

/// A sample id used to check, up front, that every filled-in template is a valid request.
const SAMPLE_ID: &str = "sample-0";

/// A template checked and split so that building each request costs little.
#[derive(Debug, Clone)]
pub(crate) struct PreparedTemplate {
    method: hyper::Method,
    /// As written in the URL; the resolver may map it elsewhere.
    pub host: String,
    pub port: u16,
    /// `https://`: connections are TLS ones (HTTP/2 where the server offers it).
    pub https: bool,
    /// `host[:port]` as written: the `Host` header, and the authority of HTTP/2 requests.
    pub authority: http::uri::Authority,
    /// The origin-form target (path and query) when it has no `{{id}}`.
    fixed_target: Option<Uri>,
    target: IdText,
    fixed_headers: HeaderMap,
    id_headers: Vec<(HeaderName, IdText)>,
    body: Option<IdText>,
    fixed_body: Bytes,
    pub has_id: bool,
}

impl PreparedTemplate {
    pub fn prepare(index: usize, template: &RequestTemplate) -> Result<Self, LoadError> {
        let invalid_url = |reason: String| LoadError::InvalidUrl {
            index,
            url: template.url.clone(),
            reason,
        };
        let target_text = IdText::parse(&template.url);
        let sample_url = target_text.render(SAMPLE_ID);
        let uri: Uri = sample_url
            .parse()
            .map_err(|e| invalid_url(format!("{e}")))?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            Some(other) => {
                return Err(LoadError::UnsupportedScheme {
                    index,
                    url: template.url.clone(),
                    scheme: other.to_string(),
                });
            }
            None => {
                return Err(invalid_url(
                    "it has no scheme; write http://host:port/path".into(),
                ));
            }
        };
        let authority = uri
            .authority()
            .ok_or_else(|| invalid_url("it has no host".into()))?;
        if authority.as_str().contains('@') {
            return Err(invalid_url("user info in URLs is not supported".into()));
        }
        let (written_authority, written_target) = split_written_url(&template.url);
        // `{{id}}` in the host would change where requests go; only the target may vary.
        if written_authority.contains(crate::placeholder::ID_PLACEHOLDER) {
            return Err(invalid_url(
                "{{id}} may only appear in the path or query".into(),
            ));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if host.is_empty() {
            return Err(invalid_url("it has no host".into()));
        }
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let host_header =
            HeaderValue::from_str(authority.as_str()).map_err(|e| invalid_url(format!("{e}")))?;

        let target = IdText::parse(&match written_target.chars().next() {
            None => "/".to_string(),
            Some('?') => format!("/{written_target}"),
            Some(_) => written_target.to_string(),
        });
        let sample_target: Uri = target
            .render(SAMPLE_ID)
            .parse()
            .map_err(|e| invalid_url(format!("{e}")))?;
        let fixed_target = (!target.has_id()).then_some(sample_target);

        let mut fixed_headers = HeaderMap::new();
        fixed_headers.insert(HOST, host_header);
        let mut id_headers = Vec::new();
        for (name, value) in &template.headers {
            let invalid_header = |reason: String| LoadError::InvalidHeader {
                index,
                name: name.clone(),
                reason,
            };
            let header_name = HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|e| invalid_header(format!("{e}")))?;
            let value_text = IdText::parse(value.trim());
            let sample = HeaderValue::from_str(&value_text.render(SAMPLE_ID))
                .map_err(|e| invalid_header(format!("{e}")))?;
            if value_text.has_id() {
                id_headers.push((header_name, value_text));
            } else {
                fixed_headers.append(header_name, sample);
            }
        }
        let body = template.body.as_deref().map(IdText::parse);
        if body.is_some() && !fixed_headers.contains_key(CONTENT_TYPE) {
            fixed_headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        let fixed_body = match &body {
            Some(b) => b
                .literal()
                .map(|l| Bytes::from(l.to_string()))
                .unwrap_or_default(),
            None => Bytes::new(),
        };
        let has_id =
            target.has_id() || !id_headers.is_empty() || body.as_ref().is_some_and(IdText::has_id);
        Ok(PreparedTemplate {
            method: template.method.to_hyper(),
            host: host.to_string(),
            port,
            https,
            authority: authority.clone(),
            fixed_target,
            target,
            fixed_headers,
            id_headers,
            body,
            fixed_body,
            has_id,
        })
    }

    /// The request for one scheduled send; `id` fills the placeholders.
    pub fn build(&self, id: Option<&str>) -> Result<Request<Full<Bytes>>, ErrorKind> {
        let id = id.unwrap_or_default();
        let uri = match &self.fixed_target {
            Some(uri) => uri.clone(),
            None => self
                .target
                .render(id)
                .parse()
                .map_err(|_| ErrorKind::Other)?,
        };
        let body = match &self.body {
            Some(text) if text.has_id() => Bytes::from(text.render(id)),
            _ => self.fixed_body.clone(),
        };
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = uri;
        let mut headers = self.fixed_headers.clone();
        for (name, text) in &self.id_headers {
            let value = HeaderValue::from_str(&text.render(id)).map_err(|_| ErrorKind::Other)?;
            headers.append(name.clone(), value);
        }
        *request.headers_mut() = headers;
        Ok(request)
    }
}

/// The authority and the target (path and query) of a URL as written, placeholders
/// included; the fragment is never sent.
fn split_written_url(url: &str) -> (&str, &str) {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    rest.split_at(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(url: &str) -> RequestTemplate {
        RequestTemplate::get(url)
    }

    #[test]
    fn prepares_a_plain_get() {
        let p = PreparedTemplate::prepare(0, &template("http://127.0.0.1:8080/quote?symbol=BTC"))
            .unwrap();
        assert_eq!((p.host.as_str(), p.port), ("127.0.0.1", 8080));
        assert!(!p.has_id);
        let req = p.build(None).unwrap();
        assert_eq!(req.uri(), "/quote?symbol=BTC");
        assert_eq!(req.headers()[HOST], "127.0.0.1:8080");
        assert_eq!(req.method(), hyper::Method::GET);
    }

    #[test]
    fn default_port_and_path() {
        let p = PreparedTemplate::prepare(0, &template("http://localhost")).unwrap();
        assert_eq!((p.host.as_str(), p.port), ("localhost", 80));
        assert_eq!(p.build(None).unwrap().uri(), "/");
    }

    #[test]
    fn fills_the_id_in_target_headers_and_body() {
        let t = RequestTemplate {
            method: Method::Post,
            url: "http://127.0.0.1:9/orders/{{id}}?x=1".into(),
            headers: vec![("Idempotency-Key".into(), "k-{{id}}".into())],
            body: Some(r#"{"id":"{{id}}"}"#.into()),
            weight: 1,
        };
        let p = PreparedTemplate::prepare(0, &t).unwrap();
        assert!(p.has_id);
        let req = p.build(Some("run-5")).unwrap();
        assert_eq!(req.uri(), "/orders/run-5?x=1");
        assert_eq!(req.headers()["idempotency-key"], "k-run-5");
        assert_eq!(req.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(req.method(), hyper::Method::POST);
        let body = req.into_body();
        let bytes = futures_lite_collect(body);
        assert_eq!(bytes, r#"{"id":"run-5"}"#);
    }

    fn futures_lite_collect(body: Full<Bytes>) -> String {
        use http_body_util::BodyExt;
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let bytes = rt.block_on(body.collect()).unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn an_explicit_content_type_is_kept() {
        let t = RequestTemplate {
            method: Method::Put,
            url: "http://127.0.0.1:9/x".into(),
            headers: vec![("content-type".into(), "text/plain".into())],
            body: Some("hello".into()),
            weight: 1,
        };
        let req = PreparedTemplate::prepare(0, &t)
            .unwrap()
            .build(None)
            .unwrap();
        assert_eq!(req.headers().get_all(CONTENT_TYPE).iter().count(), 1);
        assert_eq!(req.headers()[CONTENT_TYPE], "text/plain");
    }

    #[test]
    fn takes_https_with_its_default_port() {
        let p = PreparedTemplate::prepare(0, &template("https://edge/quote")).unwrap();
        assert_eq!((p.host.as_str(), p.port, p.https), ("edge", 443, true));
        assert_eq!(p.authority.as_str(), "edge");
        let p = PreparedTemplate::prepare(0, &template("http://edge:8443/")).unwrap();
        assert_eq!((p.port, p.https), (8443, false));
    }

    #[test]
    fn rejects_other_schemes() {
        for url in ["ftp://127.0.0.1/", "ws://127.0.0.1/"] {
            assert!(matches!(
                PreparedTemplate::prepare(3, &template(url)),
                Err(LoadError::UnsupportedScheme { index: 3, .. })
            ));
        }
    }

    #[test]
    fn rejects_bad_urls() {
        for url in [
            "",
            "127.0.0.1:8080/x",
            "http://",
            "http://a b/",
            "http://{{id}}.example/",
            "http://u:p@h/",
        ] {
            let r = PreparedTemplate::prepare(0, &template(url));
            assert!(
                matches!(r, Err(LoadError::InvalidUrl { .. })),
                "{url:?} gave {r:?}"
            );
        }
    }

    #[test]
    fn rejects_bad_headers() {
        let mut t = template("http://127.0.0.1/");
        t.headers = vec![("bad header".into(), "v".into())];
        assert!(matches!(
            PreparedTemplate::prepare(0, &t),
            Err(LoadError::InvalidHeader { .. })
        ));
        t.headers = vec![("x-ok".into(), "line\nbreak".into())];
        assert!(matches!(
            PreparedTemplate::prepare(0, &t),
            Err(LoadError::InvalidHeader { .. })
        ));
    }

    #[test]
    fn every_method_reaches_the_request() {
        for method in Method::ALL {
            let t = RequestTemplate {
                method,
                ..template("http://127.0.0.1:9/x")
            };
            let req = PreparedTemplate::prepare(0, &t)
                .unwrap()
                .build(None)
                .unwrap();
            assert_eq!(req.method().as_str(), method.as_str());
        }
    }
}
