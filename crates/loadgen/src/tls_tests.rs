//! `https://` load against TLS servers in this process (rustls, certificates made by rcgen):
//! HTTP/2 chosen by ALPN, HTTP/1.1 where the server offers only that, a CA that did not sign
//! the server's certificate, `insecure`, mutual TLS, a plain-HTTP server behind an https URL.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper::{Response, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{
    BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio_util::sync::CancellationToken;

use crate::outcome::{AsWritten, ErrorKind, IgnoreOutcomes};
use crate::plan::LoadPlan;
use crate::tls::TlsPlan;

/// A CA, a server certificate it signed (for 127.0.0.1 and `localhost`), a client one, and
/// a second CA that signed nothing here; the PEM files in a directory removed on drop.
struct Pki {
    dir: PathBuf,
    ca: rcgen::Certificate,
    server: (Vec<CertificateDer<'static>>, Vec<u8>),
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Pki {
    fn new(tag: &str) -> Pki {
        let dir =
            std::env::temp_dir().join(format!("chaosgate-load-tls-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let leaf = |names: Vec<String>, usage: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(names).unwrap();
            params.extended_key_usages = vec![usage];
            let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
            (cert, key)
        };
        let (server, server_key) = leaf(
            vec!["127.0.0.1".into(), "localhost".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let (client, client_key) = leaf(
            vec!["chaosgate-client".into()],
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        let other_key = KeyPair::generate().unwrap();
        let mut other = CertificateParams::new(Vec::<String>::new()).unwrap();
        other.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let other = other.self_signed(&other_key).unwrap();
        let write = |name: &str, text: String| std::fs::write(dir.join(name), text).unwrap();
        write("ca.pem", ca.pem());
        write("other-ca.pem", other.pem());
        write("client.pem", client.pem());
        write("client.key", client_key.serialize_pem());
        Pki {
            server: (vec![server.der().clone()], server_key.serialize_der()),
            ca,
            dir,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn server_config(&self, alpn: &[&[u8]], client_auth: bool) -> Arc<ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = if client_auth {
            let mut roots = RootCertStore::empty();
            roots.add(self.ca.der().clone()).unwrap();
            builder.with_client_cert_verifier(
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                    .build()
                    .unwrap(),
            )
        } else {
            builder.with_no_client_auth()
        };
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server.1.clone()));
        let mut config = builder
            .with_single_cert(self.server.0.clone(), key)
            .unwrap();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }
}

/// An HTTPS server answering 200 to everything, HTTP/2 when ALPN chose it; the versions of
/// the requests it answered.
async fn serve(config: Arc<ServerConfig>) -> (SocketAddr, Arc<Mutex<Vec<Version>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let versions = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let versions = versions.clone();
            tokio::spawn(async move {
                let tls = match acceptor.accept(tcp).into_fallible().await {
                    Ok(tls) => tls,
                    Err((_, tcp)) => return lingering_close(tcp).await,
                };
                let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
                let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    versions.lock().unwrap().push(request.version());
                    async { Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::from("ok")))) }
                });
                let io = TokioIo::new(tls);
                let _ = if h2 {
                    http2::Builder::new(TokioExecutor::new())
                        .serve_connection(io, service)
                        .await
                } else {
                    http1::Builder::new().serve_connection(io, service).await
                };
            });
        }
    });
    (addr, seen)
}

/// Closes a connection whose handshake failed as a careful server does: its alert sent, the
/// write side shut, what the client still sends read and dropped until it closes (bounded).
/// Closing with the client's request unread made the kernel answer with a reset, which could
/// overtake the alert (1 refused client of 20 was seen as reset instead of `certificate`).
async fn lingering_close(mut tcp: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = tcp.shutdown().await;
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
}

async fn load(url: String, tls: TlsPlan) -> crate::summary::LoadSummary {
    let mut plan = LoadPlan::get(url, 40.0, Duration::from_millis(500));
    plan.tls = tls;
    crate::open::run_open(
        plan,
        Arc::new(AsWritten),
        Arc::new(IgnoreOutcomes),
        CancellationToken::new(),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_load_speaks_http2_when_the_server_chooses_it_by_alpn() {
    let pki = Pki::new("h2");
    let (addr, seen) = serve(pki.server_config(&[b"h2", b"http/1.1"], false)).await;
    let tls = TlsPlan {
        ca: Some(pki.path("ca.pem")),
        ..TlsPlan::default()
    };
    let summary = load(format!("https://{addr}/quote"), tls).await;
    assert_eq!((summary.scheduled, summary.ok), (20, 20), "{summary:#?}");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 20);
    assert!(seen.iter().all(|v| *v == Version::HTTP_2), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_load_falls_back_to_http1_and_sends_the_server_name_asked() {
    let pki = Pki::new("h1");
    let (addr, seen) = serve(pki.server_config(&[b"http/1.1"], false)).await;
    // Connects to 127.0.0.1, verifies the certificate for `localhost`.
    let tls = TlsPlan {
        ca: Some(pki.path("ca.pem")),
        server_name: Some("localhost".into()),
        ..TlsPlan::default()
    };
    let summary = load(format!("https://127.0.0.1:{}/", addr.port()), tls).await;
    assert_eq!(summary.ok, 20, "{summary:#?}");
    assert!(seen.lock().unwrap().iter().all(|v| *v == Version::HTTP_11));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_that_did_not_sign_the_server_fails_every_request_as_certificate_unless_insecure() {
    let pki = Pki::new("wrong-ca");
    let (addr, seen) = serve(pki.server_config(&[b"h2", b"http/1.1"], false)).await;
    let url = format!("https://{addr}/");
    let wrong = TlsPlan {
        ca: Some(pki.path("other-ca.pem")),
        ..TlsPlan::default()
    };
    let summary = load(url.clone(), wrong.clone()).await;
    assert_eq!(summary.responses, 0, "{summary:#?}");
    assert_eq!(
        summary.errors_of(ErrorKind::Certificate),
        20,
        "{summary:#?}"
    );
    assert!(seen.lock().unwrap().is_empty());

    let insecure = TlsPlan {
        insecure: true,
        ..wrong
    };
    let summary = load(url, insecure).await;
    assert_eq!(summary.ok, 20, "{summary:#?}");
}

/// A TLS 1.3 server refuses a missing client certificate after the handshake, with an alert
/// the client's first read meets: named `certificate` over HTTP/2 (whose errors keep only an
/// I/O error's text) and HTTP/1.1 alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_asks_for_a_client_certificate_gets_it_or_refuses_the_client() {
    let pki = Pki::new("mtls");
    for alpn in [&[b"h2".as_slice(), b"http/1.1"][..], &[b"http/1.1"]] {
        let (addr, _) = serve(pki.server_config(alpn, true)).await;
        let url = format!("https://{addr}/");
        let anonymous = TlsPlan {
            ca: Some(pki.path("ca.pem")),
            ..TlsPlan::default()
        };
        let summary = load(url.clone(), anonymous.clone()).await;
        assert_eq!(summary.responses, 0, "{alpn:?}: {summary:#?}");
        assert_eq!(
            summary.errors_of(ErrorKind::Certificate),
            20,
            "{alpn:?}: {summary:#?}"
        );

        let with_certificate = TlsPlan {
            cert: Some(pki.path("client.pem")),
            key: Some(pki.path("client.key")),
            ..anonymous
        };
        let summary = load(url, with_certificate).await;
        assert_eq!(summary.ok, 20, "{alpn:?}: {summary:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_http_server_behind_an_https_url_is_a_tls_handshake_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = service_fn(|_| async {
                    Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::from("plain"))))
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    let summary = load(format!("https://{addr}/"), TlsPlan::default()).await;
    assert_eq!(summary.responses, 0, "{summary:#?}");
    assert_eq!(
        summary.errors_of(ErrorKind::TlsHandshake),
        20,
        "{summary:#?}"
    );
}
