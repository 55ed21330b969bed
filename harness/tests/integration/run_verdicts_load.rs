//! The load's own figures without a stack: the shared HTTP method type (validate and run accept
//! the same methods) and `chaosgate load --json` against a server on 127.0.0.1 that never
//! answers (timeouts are in its latency; it follows its published schema). The paused gateway
//! under a small in-flight bound, on the real stack, is `tests/docker/run_verdicts_load.rs`.

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use crate::common::*;

/// Writes a scenario whose one request uses `method` and returns its path.
fn scenario_with_method(dir: &Path, method: &str) -> std::path::PathBuf {
    let compose = repo_root().join("compose/trading.yml");
    let text = format!(
        "name: method-{m}\nstack:\n  compose: {c}\nload:\n  requests:\n    - {{ method: {method}, url: http://gateway:8080/orders }}\n  rate: 10/s\n  duration: 5s\nslos:\n  - error_rate() < 10%\n",
        m = method.to_ascii_lowercase(),
        c = compose.display()
    );
    let path = dir.join(format!("method-{}.yaml", method.to_ascii_lowercase()));
    std::fs::write(&path, text).expect("write scenario");
    path
}

#[test]
fn validate_and_run_accept_the_same_methods() {
    let dir = TempDir::new("methods");
    for method in ["PATCH", "HEAD", "OPTIONS", "delete"] {
        let path = scenario_with_method(&dir.0, method);
        let out = chaosgate()
            .arg("validate")
            .arg(&path)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(0), "{method}: {}", text(&out));
        // The plan the runner builds takes it too (this failed with exit 2 for PATCH).
        let out = chaosgate()
            .arg("run")
            .arg(&path)
            .arg("--dry-run")
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(0), "{method}: {}", text(&out));
    }
    let path = scenario_with_method(&dir.0, "FETCH");
    let out = chaosgate()
        .arg("validate")
        .arg(&path)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "unknown HTTP method `FETCH` (expected one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS)"
        ),
        "{stderr}"
    );
    // Where: the request's line and column in the file.
    assert!(stderr.contains("method-fetch.yaml:6:"), "{stderr}");
}

/// A server that accepts connections and reads, but never answers.
fn silent_server() -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    let handle = std::thread::spawn(move || {
        listener.set_nonblocking(false).ok();
        let mut held = Vec::new();
        // Enough for the test's load; the thread ends with the test process.
        for stream in listener.incoming().take(64) {
            let Ok(mut stream) = stream else { break };
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            held.push(stream);
        }
        std::thread::sleep(Duration::from_secs(5));
    });
    (url, handle)
}

fn load_schema_path() -> std::path::PathBuf {
    repo_root().join("schemas/load.schema.json")
}

#[test]
fn load_json_counts_timeouts_in_its_latency_and_follows_its_schema() {
    let (url, _server) = silent_server();
    let out = chaosgate()
        .args(["load", &url, "--rate", "20/s", "--duration", "1s"])
        .args(["--timeout", "300ms", "--connections", "2", "--json"])
        .output()
        .expect("runs");
    // Nothing answered: exit 3, the summary is still printed.
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(summary["scheduled"], 20, "{summary:#}");
    assert_eq!(summary["error_counts"]["timeout"], 20, "{summary:#}");
    assert_eq!(summary["error_counts"]["dropped"], 0, "{summary:#}");
    // Formerly `latency.count` was 0 here (responses only) and every percentile 0.
    assert_eq!(summary["latency"]["count"], 20, "{summary:#}");
    let p50 = summary["latency"]["p50_us"].as_u64().unwrap_or(0);
    assert!(p50 >= 299_000, "{summary:#}");
    assert!(
        summary["peak_waiting"].as_u64().unwrap_or(0) >= 1,
        "{summary:#}"
    );

    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(load_schema_path()).expect("schema"))
            .expect("schema parses");
    let validator = jsonschema::validator_for(&schema).expect("valid schema");
    let errors: Vec<String> = validator
        .iter_errors(&summary)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let mut broken = summary.clone();
    broken.as_object_mut().map(|o| o.remove("latency"));
    assert!(!validator.is_valid(&broken));
}

#[test]
fn published_load_schema_is_current() {
    crate::common::assert_schema_current(
        "load.schema.json",
        &schemars::schema_for!(chaosgate_load::LoadSummary),
        "run_verdicts_load::published_load_schema_is_current",
    );
}

/// `chaosgate load https://…` with TLS settings it cannot use: bad input (exit 2), the file
/// named, nothing sent; a plain-HTTP server behind an https:// URL: every request a
/// `tls_handshake` error, nothing answered (exit 3).
#[test]
fn load_over_https_names_a_bad_ca_file_and_a_failed_handshake() {
    let out = chaosgate()
        .args([
            "load",
            "https://127.0.0.1:9/",
            "--cacert",
            "/nonexistent/ca.pem",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("/nonexistent/ca.pem"), "{}", text(&out));

    let out = chaosgate()
        .args(["load", "https://127.0.0.1:9/", "--cert", "client.pem"])
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(2),
        "--cert needs --key: {}",
        text(&out)
    );

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("https://{}/", listener.local_addr().expect("addr"));
    // Answers every connection with a plain HTTP response, as a server without TLS would.
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        listener.set_nonblocking(false).ok();
        for stream in listener.incoming().take(10) {
            let Ok(mut s) = stream else { break };
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
        }
    });
    let out = chaosgate()
        .args([
            "load",
            &url,
            "--rate",
            "10/s",
            "--duration",
            "500ms",
            "--json",
        ])
        .args(["--insecure"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(summary["error_counts"]["tls_handshake"], 5, "{summary:#}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--insecure"),
        "insecure is said: {}",
        text(&out)
    );
    // Unblock the accept loop if fewer than 10 connections came.
    for _ in 0..10 {
        let _ =
            std::net::TcpStream::connect(url.trim_start_matches("https://").trim_end_matches('/'));
    }
    server.join().expect("server thread");
}
