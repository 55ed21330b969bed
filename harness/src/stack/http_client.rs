//! The HTTP client of probes and read-back: `http://service:port/…` and
//! `https://service:port/…` URLs as written in the scenario, sent to the address the
//! [`AddressBook`] gives for that service and port now (a container's address changes when it
//! restarts).
//!
//! A plain URL is rewritten to the address. An `https://` one keeps its host, so the TLS
//! server name (SNI) and the certificate checked are the service's name as written; a client
//! per (host, address) resolves that host to the address (reqwest's `resolve`), so a
//! keep-alive connection is reused while the address holds and a restarted container gets a
//! new one. The `Host` header is always the authority as written.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use chaosgate_load::TlsPlan;

use super::address_book::AddressBook;

/// ALPN of probes and read-back: reqwest speaks HTTP/1.1 here.
const ALPN: &[&[u8]] = &[b"http/1.1"];

/// Clients for the stack's URLs (cheap to clone: shared).
#[derive(Clone)]
pub struct StackHttp {
    inner: Arc<Inner>,
}

struct Inner {
    book: Arc<AddressBook>,
    /// Idle connections kept per host (probes: 1).
    idle_per_host: usize,
    plain: reqwest::Client,
    tls: rustls::ClientConfig,
    /// `https://` clients by (host as written, address it resolves to).
    by_target: Mutex<HashMap<(String, SocketAddr), reqwest::Client>>,
    /// For an `https://` host the book does not know (reached by DNS as written).
    tls_as_written: reqwest::Client,
}

impl StackHttp {
    /// # Errors
    /// The TLS settings cannot be used (a bad file; validation reads them first, so this is
    /// a file changed since) or the client cannot be built: the message, for exit 3.
    pub fn new(
        book: Arc<AddressBook>,
        tls: &TlsPlan,
        idle_per_host: usize,
    ) -> Result<Self, String> {
        let tls = (*tls.client_config(ALPN).map_err(|e| e.to_string())?).clone();
        let plain = builder(idle_per_host)
            .build()
            .map_err(|e| format!("the HTTP client: {e}"))?;
        let tls_as_written = builder(idle_per_host)
            .use_preconfigured_tls(tls.clone())
            .build()
            .map_err(|e| format!("the HTTPS client: {e}"))?;
        Ok(StackHttp {
            inner: Arc::new(Inner {
                book,
                idle_per_host,
                plain,
                tls,
                by_target: Mutex::new(HashMap::new()),
                tls_as_written,
            }),
        })
    }

    /// The plain-HTTP client, for URLs built from the book's addresses (Prometheus).
    pub fn plain(&self) -> &reqwest::Client {
        &self.inner.plain
    }

    /// A GET of `url` (as written in the scenario) to where its service lives now.
    pub fn get(&self, url: &str) -> reqwest::RequestBuilder {
        let inner = &*self.inner;
        let Some(https) = parse_https(url) else {
            return inner.plain.get(inner.book.rewrite_url(url));
        };
        let Some(addr) = inner.book.lookup(&https.host, https.port) else {
            return inner.tls_as_written.get(url);
        };
        let client = {
            let mut clients = inner
                .by_target
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            // One address per host is live at a time; the ones a restart left behind go.
            clients.retain(|(host, at), _| host != &https.host || *at == addr);
            clients
                .entry((https.host.clone(), addr))
                .or_insert_with(|| {
                    builder(inner.idle_per_host)
                        .resolve(&https.host, addr)
                        .use_preconfigured_tls(inner.tls.clone())
                        .build()
                        // Building with a configuration that built once does not fail; if it
                        // did, the request goes by DNS as written and fails visibly there.
                        .unwrap_or_else(|_| inner.tls_as_written.clone())
                })
                .clone()
        };
        if addr.port() == https.port {
            client.get(url)
        } else {
            // Reached through a published port: the URL carries it (reqwest connects to the
            // URL's port), the Host header stays as written.
            let moved = format!(
                "https://{}:{}{}",
                https.host_in_url,
                addr.port(),
                https.path
            );
            client
                .get(moved)
                .header(reqwest::header::HOST, https.authority)
        }
    }
}

fn builder(idle_per_host: usize) -> reqwest::ClientBuilder {
    // An HTTP_PROXY from the environment would stand between the check and the service.
    reqwest::Client::builder()
        .pool_max_idle_per_host(idle_per_host)
        .no_proxy()
}

/// The parts of an `https://host[:port]/path` URL.
#[derive(Debug, PartialEq)]
struct HttpsUrl {
    /// The host without brackets (as looked up and resolved).
    host: String,
    /// The host as it appears in the URL (an IPv6 address in brackets).
    host_in_url: String,
    port: u16,
    /// `host[:port]` as written.
    authority: String,
    /// From the first `/` on (empty when there is none).
    path: String,
}

fn parse_https(url: &str) -> Option<HttpsUrl> {
    let rest = url.strip_prefix("https://")?;
    let (authority, path) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let (host_in_url, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => (h, p.parse().ok()?),
        _ => (authority, 443),
    };
    Some(HttpsUrl {
        host: host_in_url
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        host_in_url: host_in_url.to_string(),
        port,
        authority: authority.to_string(),
        path: path.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_urls_split_into_what_the_book_and_the_client_need() {
        assert_eq!(
            parse_https("https://edge:8443/quote?symbol=BTC"),
            Some(HttpsUrl {
                host: "edge".into(),
                host_in_url: "edge".into(),
                port: 8443,
                authority: "edge:8443".into(),
                path: "/quote?symbol=BTC".into(),
            })
        );
        let default_port = parse_https("https://edge").unwrap();
        assert_eq!((default_port.port, default_port.path.as_str()), (443, ""));
        let v6 = parse_https("https://[::1]:9443/x").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 9443));
        assert_eq!(parse_https("http://edge:8080/"), None);
    }
}
