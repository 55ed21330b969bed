//! One request/response exchange over a pooled keep-alive connection.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;

use crate::connection::connect;
use crate::outcome::{ErrorKind, Resolver};
use crate::pool::ConnectionPool;
use crate::tls::TlsConnect;

/// Where an exchange goes: the written host:port (and authority), TLS for `https://`, its
/// pool and the resolver.
pub(crate) struct Route<'a> {
    pub host: &'a str,
    pub port: u16,
    pub authority: &'a http::uri::Authority,
    pub tls: Option<&'a TlsConnect>,
    pub pool: &'a ConnectionPool,
    pub resolver: &'a dyn Resolver,
}

/// Sends `request` and reads the whole response, returning its status.
///
/// A pooled connection may have been closed by the server while idle. If hyper hands the
/// request back unsent, it is sent once more on a fresh connection; a request that may
/// have reached the server is never sent twice (that would fake a duplicate write).
pub(crate) async fn exchange(
    route: &Route<'_>,
    mut request: Request<Full<Bytes>>,
) -> Result<u16, ErrorKind> {
    for attempt in 0..2 {
        let pooled = if attempt == 0 {
            route.pool.take()
        } else {
            None
        };
        let reused = pooled.is_some();
        let mut sender = match pooled {
            Some(sender) => sender,
            None => connect(route.host, route.port, route.tls, route.resolver).await?,
        };
        if sender.is_http2() && request.uri().authority().is_none() {
            // HTTP/2 carries the scheme and authority as pseudo-headers: the origin-form
            // target of HTTP/1.1 becomes the absolute one.
            let mut parts = std::mem::take(request.uri_mut()).into_parts();
            parts.scheme = Some(http::uri::Scheme::HTTPS);
            parts.authority = Some(route.authority.clone());
            *request.uri_mut() = http::Uri::from_parts(parts).map_err(|_| ErrorKind::Other)?;
            request.headers_mut().remove(hyper::header::HOST);
        }
        if let Err(kind) = sender.ready().await {
            if reused {
                continue;
            }
            return Err(kind);
        }
        match sender.try_send_request(request).await {
            Ok(response) => {
                let status = response.status().as_u16();
                let mut body = response.into_body();
                while let Some(frame) = body.frame().await {
                    frame.map_err(|e| sender.failure(&e))?;
                }
                route.pool.put(sender);
                return Ok(status);
            }
            Err(mut failed) => match failed.take_message() {
                Some(unsent) if reused => request = unsent,
                _ => return Err(sender.failure(failed.error())),
            },
        }
    }
    Err(ErrorKind::Reset)
}
