//! TLS for `https://` targets: the client configuration (rustls, ring provider) built once
//! per run from a [`TlsPlan`], the connector every new connection goes through, and how a
//! failed handshake is named ([`ErrorKind::TlsHandshake`] or [`ErrorKind::Certificate`]).
//!
//! The handshake is part of opening a connection, so its time is inside the latency of the
//! request that opened it (as for the TCP connect): a client sees it too.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use serde::{Deserialize, Serialize};

use crate::error::LoadError;
use crate::outcome::ErrorKind;

/// How `https://` targets are verified and who the client says it is. The default trusts
/// the system's roots (`/etc/ssl/certs` and the like, read once per run) and sends no client
/// certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsPlan {
    /// PEM file of the CA certificates to trust instead of the system's roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<PathBuf>,
    /// PEM file of the client certificate chain (mutual TLS); needs `key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<PathBuf>,
    /// PEM file of the client certificate's private key (PKCS#8, PKCS#1 or SEC1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// Accept any server certificate, unverified (the handshake's signatures are still
    /// checked). Only when asked: reports say so.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
    /// The name sent as SNI and verified in the certificate, instead of the URL's host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
}

/// ALPN protocols offered by the load generator: HTTP/2 where the server takes it.
pub(crate) const LOAD_ALPN: &[&[u8]] = &[b"h2", b"http/1.1"];

impl TlsPlan {
    /// No CA, client certificate, override or `insecure`: the system's roots.
    pub fn is_default(&self) -> bool {
        *self == TlsPlan::default()
    }

    /// The rustls client configuration, offering `alpn` (empty: no ALPN, HTTP/1.1).
    ///
    /// # Errors
    /// [`LoadError::Tls`] (bad input, exit 2) when a file cannot be read, holds no
    /// certificate or key, `cert` and `key` are not given together, the key does not fit the
    /// certificate, or `server_name` is not a DNS name or IP address.
    pub fn client_config(&self, alpn: &[&[u8]]) -> Result<Arc<ClientConfig>, LoadError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error(None, format!("the TLS provider: {e}")))?;
        let builder = if self.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
        } else {
            builder.with_root_certificates(self.roots()?)
        };
        let mut config = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                let chain = read_certificates(cert, "cert")?;
                let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                    tls_error(Some("key"), format!("client key {}: {e}", key.display()))
                })?;
                builder.with_client_auth_cert(chain, key).map_err(|e| {
                    tls_error(
                        Some("cert"),
                        format!("client certificate {}: {e}", cert.display()),
                    )
                })?
            }
            (None, None) => builder.with_no_client_auth(),
            (Some(_), None) => {
                return Err(tls_error(
                    Some("cert"),
                    "a client `cert` needs its `key`".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(tls_error(
                    Some("key"),
                    "a client `key` needs its `cert`".into(),
                ));
            }
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        if let Some(name) = &self.server_name {
            ServerName::try_from(name.as_str()).map_err(|e| {
                tls_error(Some("server_name"), format!("server_name {name:?}: {e}"))
            })?;
        }
        Ok(Arc::new(config))
    }

    /// The name to send as SNI and verify for a URL whose host is `host`.
    pub fn server_name_for(&self, host: &str) -> Result<ServerName<'static>, ErrorKind> {
        let name = self.server_name.as_deref().unwrap_or(host);
        ServerName::try_from(name.to_string()).map_err(|_| ErrorKind::TlsHandshake)
    }

    fn roots(&self) -> Result<RootCertStore, LoadError> {
        let mut roots = RootCertStore::empty();
        match &self.ca {
            Some(ca) => {
                for cert in read_certificates(ca, "ca")? {
                    roots.add(cert).map_err(|e| {
                        tls_error(Some("ca"), format!("CA file {}: {e}", ca.display()))
                    })?;
                }
            }
            None => {
                // Unreadable entries of the system store are skipped, as every client does;
                // an empty store fails each handshake with a `certificate` error, which says
                // what to give (`ca:`).
                let found = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(found.certs);
            }
        }
        Ok(roots)
    }
}

/// What a new `https://` connection needs: the configuration built once per run and the
/// name override.
#[derive(Clone)]
pub(crate) struct TlsConnect {
    connector: tokio_rustls::TlsConnector,
    plan: TlsPlan,
}

impl std::fmt::Debug for TlsConnect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConnect")
            .field("plan", &self.plan)
            .finish()
    }
}

impl TlsConnect {
    pub fn new(plan: &TlsPlan) -> Result<Self, LoadError> {
        Ok(TlsConnect {
            connector: tokio_rustls::TlsConnector::from(plan.client_config(LOAD_ALPN)?),
            plan: plan.clone(),
        })
    }

    /// The TLS handshake over `stream` for a URL whose host is `host`; whether the server
    /// chose HTTP/2 by ALPN.
    pub async fn handshake(
        &self,
        host: &str,
        stream: tokio::net::TcpStream,
    ) -> Result<(tokio_rustls::client::TlsStream<tokio::net::TcpStream>, bool), ErrorKind> {
        let name = self.plan.server_name_for(host)?;
        let tls = self
            .connector
            .connect(name, stream)
            .await
            .map_err(|e| handshake_error_kind(&e))?;
        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
        Ok((tls, h2))
    }
}

/// The certificates of `path`, the file of `setting` (`ca` or `cert`).
fn read_certificates(
    path: &Path,
    setting: &'static str,
) -> Result<Vec<CertificateDer<'static>>, LoadError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| tls_error(Some(setting), format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(tls_error(
            Some(setting),
            format!("{}: no PEM certificate in it", path.display()),
        ));
    }
    Ok(certs)
}

fn tls_error(setting: Option<&'static str>, reason: String) -> LoadError {
    LoadError::Tls { setting, reason }
}

/// The kind of a failed TLS handshake: the peer's certificate (or ours, refused by it) is a
/// [`ErrorKind::Certificate`]; a connection reset during it stays a reset; anything else
/// (protocol mismatch, a plain-HTTP server, an unexpected close) is
/// [`ErrorKind::TlsHandshake`].
pub(crate) fn handshake_error_kind(error: &io::Error) -> ErrorKind {
    if let Some(kind) = tls_error_kind(error) {
        return kind;
    }
    match error.kind() {
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => ErrorKind::Reset,
        io::ErrorKind::TimedOut => ErrorKind::Timeout,
        _ => ErrorKind::TlsHandshake,
    }
}

/// The kind of a TLS error carried by `error`, if it carries one.
pub(crate) fn tls_error_kind(error: &io::Error) -> Option<ErrorKind> {
    rustls_error_in(error).map(rustls_error_kind)
}

/// The rustls error `e` is or wraps: hyper's connector nests it in an I/O error inside another
/// (measured: `Custom { kind: Other, error: Custom { kind: InvalidData, error:
/// InvalidCertificate(UnknownIssuer) } }`), and an I/O error's `source()` skips the error it
/// wraps, so each layer is opened with `get_ref`.
pub fn rustls_error_in<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = e.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    let io = e.downcast_ref::<std::io::Error>()?;
    rustls_error_in(io.get_ref()?)
}

/// The kind of a rustls error: [`ErrorKind::Certificate`] when a certificate was refused (the
/// server's by us, or ours by the server), else [`ErrorKind::TlsHandshake`]. Probes and
/// read-back name their TLS failures with it too, so every client of a run says the same.
pub fn rustls_error_kind(tls: &rustls::Error) -> ErrorKind {
    match tls {
        rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented => {
            ErrorKind::Certificate
        }
        rustls::Error::AlertReceived(alert) if certificate_alert(*alert) => ErrorKind::Certificate,
        _ => ErrorKind::TlsHandshake,
    }
}

/// Alerts a server sends when it refuses the client's certificate (or asks for one).
fn certificate_alert(alert: AlertDescription) -> bool {
    matches!(
        alert,
        AlertDescription::BadCertificate
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateRevoked
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateRequired
    )
}

/// `insecure: true`: every certificate is accepted; the handshake's signatures are still
/// verified with the provider's algorithms, so the connection is a working TLS one.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str, text: &str) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("chaosgate-load-tls-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn the_default_plan_builds_with_the_system_roots() {
        let config = TlsPlan::default().client_config(LOAD_ALPN).unwrap();
        assert_eq!(
            config.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }

    #[test]
    fn a_ca_file_without_a_certificate_is_bad_input_naming_the_file() {
        let path = temp_file("empty.pem", "not a certificate\n");
        let plan = TlsPlan {
            ca: Some(path.clone()),
            ..TlsPlan::default()
        };
        let error = plan.client_config(&[]).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert!(error.is_bad_input());
        let text = error.to_string();
        assert!(text.contains("no PEM certificate"), "{text}");
        assert!(text.contains(&path.display().to_string()), "{text}");
    }

    #[test]
    fn a_missing_ca_file_is_bad_input() {
        let plan = TlsPlan {
            ca: Some(PathBuf::from("/nonexistent/ca.pem")),
            ..TlsPlan::default()
        };
        let text = plan.client_config(&[]).unwrap_err().to_string();
        assert!(text.contains("/nonexistent/ca.pem"), "{text}");
    }

    #[test]
    fn a_client_certificate_needs_its_key() {
        let plan = TlsPlan {
            cert: Some(PathBuf::from("/x/cert.pem")),
            ..TlsPlan::default()
        };
        let text = plan.client_config(&[]).unwrap_err().to_string();
        assert!(text.contains("needs its `key`"), "{text}");
    }

    #[test]
    fn handshake_failures_are_named_by_what_failed() {
        let certificate = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        assert_eq!(handshake_error_kind(&certificate), ErrorKind::Certificate);
        let refused = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(AlertDescription::CertificateRequired),
        );
        assert_eq!(handshake_error_kind(&refused), ErrorKind::Certificate);
        let plain = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
        );
        assert_eq!(handshake_error_kind(&plain), ErrorKind::TlsHandshake);
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(handshake_error_kind(&reset), ErrorKind::Reset);
        let closed = io::Error::from(io::ErrorKind::UnexpectedEof);
        assert_eq!(handshake_error_kind(&closed), ErrorKind::TlsHandshake);
    }

    #[test]
    fn a_server_name_override_is_used_for_sni() {
        let plan = TlsPlan {
            server_name: Some("edge.example".into()),
            ..TlsPlan::default()
        };
        assert_eq!(
            plan.server_name_for("127.0.0.1").unwrap(),
            ServerName::try_from("edge.example").unwrap()
        );
        assert_eq!(
            TlsPlan::default().server_name_for("edge").unwrap(),
            ServerName::try_from("edge").unwrap()
        );
    }
}
