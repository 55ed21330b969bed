//! `tls:`: the files resolved from the scenario's directory and read now, so that a missing
//! file, a file without a PEM certificate or a key that does not fit is a bad scenario (exit
//! 2) with its place, not a run whose every request fails.

use std::path::PathBuf;

use chaosgate_load::{LoadError, TlsPlan};
use serde_saphyr::Spanned;

use super::context::Ctx;
use crate::scenario::diagnostic::ScenarioError;
use crate::scenario::raw::RawTls;

pub(super) fn tls(cx: &mut Ctx<'_>, raw: Option<&RawTls>) -> TlsPlan {
    let Some(raw) = raw else {
        return TlsPlan::default();
    };
    let file = |cx: &mut Ctx<'_>, sp: Option<&Spanned<String>>, what: &str| {
        let sp = sp?;
        let rel = sp.value.trim();
        let path: PathBuf = cx.base_dir.join(rel);
        let path = std::path::absolute(&path).unwrap_or(path);
        if path.is_file() {
            return Some(path);
        }
        let span = cx.span(sp);
        cx.push(
            ScenarioError::new(format!("tls.{what}: file `{rel}` not found"), span)
                .with_label(format!("looked for {}", path.display()))
                .with_help("paths are relative to the scenario file's directory"),
        );
        None
    };
    let plan = TlsPlan {
        ca: file(cx, raw.ca.as_ref(), "ca"),
        cert: file(cx, raw.cert.as_ref(), "cert"),
        key: file(cx, raw.key.as_ref(), "key"),
        insecure: raw.insecure,
        server_name: raw.server_name.as_ref().map(|s| s.value.trim().to_string()),
    };
    let found = |sp: &Option<Spanned<String>>, got: &Option<PathBuf>| sp.is_none() || got.is_some();
    // Told at the field that is there, and even when a file is missing (client_config below
    // only reads files that were found).
    let lone = match (&raw.cert, &raw.key) {
        (Some(cert), None) => Some((cert, "tls.cert needs its private key: `key: FILE`")),
        (None, Some(key)) => Some((key, "tls.key is a client key: it goes with `cert: FILE`")),
        _ => None,
    };
    if let Some((at, message)) = lone {
        let span = cx.span(at);
        cx.push(
            ScenarioError::new(message, span)
                .with_help("a client certificate (mutual TLS) is a `cert` and its `key`, both PEM"),
        );
    } else if found(&raw.ca, &plan.ca) && found(&raw.cert, &plan.cert) && found(&raw.key, &plan.key)
    {
        // The files as the run will read them: a CA file without a certificate, a key that
        // does not fit, a `cert` without `key` or a bad server name are told here.
        if let Err(e) = plan.client_config(&[]) {
            // At the setting the error is about (a key that does not fit: `key`; a bad
            // server name: `server_name`), else at the first one written.
            let setting = match &e {
                LoadError::Tls { setting, .. } => *setting,
                _ => None,
            };
            let at = match setting {
                Some("ca") => raw.ca.as_ref(),
                Some("cert") => raw.cert.as_ref(),
                Some("key") => raw.key.as_ref(),
                Some("server_name") => raw.server_name.as_ref(),
                _ => None,
            }
            .or(raw.ca.as_ref())
            .or(raw.cert.as_ref())
            .or(raw.key.as_ref())
            .or(raw.server_name.as_ref());
            let span = at.and_then(|sp| cx.span(sp));
            cx.push(ScenarioError::new(e.to_string(), span).with_help(
                "tls: { ca: CA.pem } trusts a CA; cert and key (PEM) go together; \
                 insecure: true skips verification",
            ));
        }
    }
    if let Some(ca) = raw.ca.as_ref().filter(|_| raw.insecure) {
        let span = cx.span(ca);
        cx.warnings.push(ScenarioError::new(
            "tls.ca is not used: `insecure: true` accepts any certificate",
            span,
        ));
    }
    plan
}
