//! `stack:`: compose files found (relative to the scenario) and their services read, or a
//! Kubernetes stack's manifests read (their Services, workloads and environment knobs).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use serde_saphyr::Spanned;

use super::context::Ctx;
use crate::scenario::compose::ServicePorts;
use crate::scenario::diagnostic::{ScenarioError, SourceSpan};
use crate::scenario::model::StackSpec;
use crate::scenario::raw::{RawKubernetes, RawStack};
use crate::scenario::shapes::OneOrList;
use crate::stack::kube::manifests;
use crate::stack::kube::{KubeStackSpec, NodeAgentSpec};

const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(60);
const READY_TIMEOUT_RANGE: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(3600));
/// Where NodePort Services are reached when the scenario does not say.
pub const DEFAULT_NODE_ADDRESS: &str = "127.0.0.1";

pub(super) fn stack(cx: &mut Ctx<'_>, raw: &Spanned<RawStack>) -> Option<StackSpec> {
    let whole = cx.span(raw);
    let raw = &raw.value;
    let ready_timeout = cx.duration_or(
        raw.ready_timeout.as_ref(),
        DEFAULT_READY_TIMEOUT,
        "stack.ready_timeout",
        READY_TIMEOUT_RANGE,
    );
    match (&raw.compose, &raw.kubernetes) {
        (Some(compose), None) => compose_stack(cx, compose, raw, ready_timeout),
        (None, Some(kube)) => kube_stack(cx, kube, raw, ready_timeout),
        (Some(_), Some(_)) => {
            cx.error(
                "`stack` takes one of `compose` and `kubernetes`, not both",
                whole,
            );
            None
        }
        (None, None) => {
            cx.push(
                ScenarioError::new("`stack` needs `compose` or `kubernetes`", whole)
                    .with_help("e.g. `compose: ../compose/trading.yml` or `kubernetes: { manifests: ../deploy/kubernetes }`"),
            );
            None
        }
    }
}

/// `existing: PROJECT`: a compose project name (what `docker compose -p` takes). A running
/// project is used as it is, so nothing can set its variables.
fn existing_project(cx: &mut Ctx<'_>, name: &Spanned<String>, raw: &RawStack) -> Option<String> {
    let project = name.value.trim();
    let valid = project
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && project
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        let span = cx.span(name);
        cx.push(
            ScenarioError::new(format!("invalid compose project name `{project}`"), span)
                .with_help("the name `docker compose -p NAME` ran the stack with ([a-z0-9][a-z0-9_-]*; `docker compose ls` lists them)"),
        );
        return None;
    }
    if !raw.env.is_empty() {
        let span = cx.span(name);
        cx.push(
            ScenarioError::new(
                "`stack.env` cannot change a running project: `existing` attaches to it as it is",
                span,
            )
            .with_help("remove `env`, or bring the stack up with those variables yourself"),
        );
    }
    Some(project.to_string())
}

fn entries(
    cx: &Ctx<'_>,
    list: &Spanned<OneOrList<Spanned<String>>>,
) -> Vec<(String, Option<SourceSpan>)> {
    match &list.value {
        OneOrList::One(p) => vec![(p.clone(), cx.span(list))],
        OneOrList::List(items) => items
            .iter()
            .map(|p| (p.value.clone(), cx.span(p).or_else(|| cx.span(list))))
            .collect(),
    }
}

fn compose_stack(
    cx: &mut Ctx<'_>,
    compose: &Spanned<OneOrList<Spanned<String>>>,
    raw: &RawStack,
    ready_timeout: Duration,
) -> Option<StackSpec> {
    let entries = entries(cx, compose);
    if entries.is_empty() {
        let span = cx.span(compose);
        cx.error("stack.compose names no file", span);
    }
    let mut files = Vec::new();
    let mut services = BTreeMap::new();
    let mut variables = Vec::new();
    let mut all_read = !entries.is_empty();
    for (rel, span) in entries {
        let file: PathBuf = cx.base_dir.join(&rel);
        let file = std::path::absolute(&file).unwrap_or(file);
        if !file.is_file() {
            cx.push(
                ScenarioError::new(format!("compose file `{rel}` not found"), span)
                    .with_label(format!("looked for {}", file.display()))
                    .with_help("compose paths are relative to the scenario file's directory"),
            );
            all_read = false;
            continue;
        }
        let read = crate::scenario::compose::services(&file)
            .and_then(|found| Ok((found, crate::scenario::compose::variables(&file)?)));
        match read {
            Ok((found, vars)) => {
                crate::scenario::compose::merge(&mut services, found);
                variables.push((rel.clone(), vars));
            }
            Err(e) => {
                cx.error(e, span);
                all_read = false;
            }
        }
        files.push(file);
    }
    if all_read {
        if services.is_empty() {
            let span = cx.span(compose);
            cx.error("the compose files declare no services", span);
        }
        cx.services = Some(services.clone());
        // A variable no file reads sets nothing: the run would test the stack as it is
        // while the scenario says otherwise.
        if let Some(unread) = crate::scenario::compose::unread_settings(
            &variables,
            raw.env.keys().map(String::as_str),
        ) {
            cx.push(
                ScenarioError::new(
                    format!(
                        "stack.env sets {} that no compose file reads: it would change nothing",
                        unread.keys()
                    ),
                    None,
                )
                .with_help(unread.help()),
            );
        }
        cx.compose_variables = Some(variables.clone());
    }
    let existing = raw
        .existing
        .as_ref()
        .and_then(|e| existing_project(cx, e, raw));
    all_read.then(|| StackSpec {
        compose_files: files,
        kubernetes: None,
        env: raw.env.clone(),
        ready_timeout,
        services: services.into_keys().collect(),
        compose_variables: variables,
        existing,
    })
}

fn kube_stack(
    cx: &mut Ctx<'_>,
    kube: &RawKubernetes,
    raw: &RawStack,
    ready_timeout: Duration,
) -> Option<StackSpec> {
    let existing = kube.existing.as_ref().is_some_and(|e| e.value);
    let mut ok = true;
    if let Some(e) = &raw.existing {
        let span = cx.span(e);
        cx.push(
            ScenarioError::new("`stack.existing` names a compose project", span)
                .with_help("on Kubernetes, `kubernetes: { existing: true, namespace: NS }` attaches to a namespace"),
        );
        ok = false;
    }
    let namespace = kube.namespace.as_ref().map(|n| n.value.trim().to_string());
    if let (Some(ns), Some(sp)) = (&namespace, &kube.namespace)
        && !is_dns_label(ns)
    {
        let span = cx.span(sp);
        cx.push(
            ScenarioError::new(format!("invalid namespace `{ns}`"), span)
                .with_help("a namespace is a DNS label: lowercase letters, digits and `-`, at most 63, starting and ending with a letter or digit"),
        );
        ok = false;
    }
    if existing && namespace.is_none() {
        let span = kube.existing.as_ref().and_then(|e| cx.span(e));
        cx.push(
            ScenarioError::new("`existing: true` needs the `namespace` to attach to", span)
                .with_help("add `namespace: NAME`"),
        );
        ok = false;
    }
    let mut files = Vec::new();
    let mut kustomize = None;
    let mut declared = None;
    match (&kube.manifests, &kube.kustomize, existing) {
        (Some(_), Some(k), _) => {
            let span = cx.span(k);
            cx.push(
                ScenarioError::new("`manifests` and `kustomize` both name what to apply", span)
                    .with_help("keep one: a kustomization lists its resources itself"),
            );
            ok = false;
        }
        (Some(m), None, true) => {
            let span = cx.span(m);
            cx.push(
                ScenarioError::new("`existing: true` applies nothing; remove `manifests`", span)
                    .with_help("an existing namespace is attached to as it is"),
            );
            ok = false;
        }
        (None, Some(k), true) => {
            let span = cx.span(k);
            cx.push(
                ScenarioError::new("`existing: true` applies nothing; remove `kustomize`", span)
                    .with_help("an existing namespace is attached to as it is"),
            );
            ok = false;
        }
        (None, None, false) => {
            cx.push(
                ScenarioError::new(
                    "`stack.kubernetes` needs `manifests` or `kustomize` (or `existing: true`)",
                    None,
                )
                .with_help("e.g. `manifests: ../deploy/kubernetes`"),
            );
            ok = false;
        }
        (None, Some(k), false) => {
            let span = cx.span(k);
            let dir = cx.base_dir.join(k.value.trim());
            let dir = std::path::absolute(&dir).unwrap_or(dir);
            match manifests::render_kustomization(&dir) {
                Ok(docs) => declared = Some(manifests::declared(&docs)),
                Err(e) => cx.push(
                    ScenarioError::new(format!("kustomize `{}`: {e}", k.value.trim()), span)
                        .with_help(
                            "a kustomization folder is relative to the scenario file's directory",
                        ),
                ),
            }
            kustomize = Some(dir);
            ok &= declared.is_some();
        }
        (Some(m), None, false) => {
            let mut read_all = true;
            for (rel, span) in entries(cx, m) {
                let path = cx.base_dir.join(&rel);
                let path = std::path::absolute(&path).unwrap_or(path);
                match manifests::expand(&path) {
                    Ok(found) => files.extend(found),
                    Err(e) => {
                        cx.push(
                            ScenarioError::new(format!("manifests `{rel}`: {e}"), span).with_help(
                                "manifest paths are relative to the scenario file's directory",
                            ),
                        );
                        read_all = false;
                    }
                }
            }
            if read_all {
                match manifests::read(&files) {
                    Ok(docs) => declared = Some(manifests::declared(&docs)),
                    Err(e) => {
                        let span = cx.span(m);
                        cx.error(e, span);
                    }
                }
            }
            ok &= declared.is_some();
        }
        (None, None, true) => {}
    }
    if let Some(d) = &declared {
        let unknown: Vec<&String> = raw.env.keys().filter(|k| !d.env.contains(*k)).collect();
        if !unknown.is_empty() {
            cx.push(
                ScenarioError::new(
                    format!(
                        "stack.env sets {} that no container of the manifests declares",
                        unknown
                            .iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    None,
                )
                .with_help(format!(
                    "on Kubernetes, env sets the containers' declared variables: {}",
                    d.env.iter().cloned().collect::<Vec<_>>().join(", ")
                )),
            );
            ok = false;
        }
        let mut services: BTreeMap<String, ServicePorts> = BTreeMap::new();
        for (name, ports) in &d.services {
            services
                .entry(name.clone())
                .or_default()
                .published
                .extend(ports);
        }
        for (name, ports) in &d.workloads {
            services
                .entry(name.clone())
                .or_default()
                .exposed
                .extend(ports);
        }
        if d.workloads.is_empty() {
            cx.error("the manifests declare no Deployment or StatefulSet", None);
            ok = false;
        }
        cx.services = Some(services);
        cx.pod_labels = Some(d.pod_labels.clone());
        cx.workload_env = Some(d.workload_env.clone());
    }
    let node_address = match &kube.node_address {
        Some(sp) if sp.value.trim().parse::<std::net::IpAddr>().is_err() => {
            let span = cx.span(sp);
            cx.error(
                format!("node_address `{}` is not an IP address", sp.value.trim()),
                span,
            );
            ok = false;
            String::new()
        }
        Some(sp) => sp.value.trim().to_string(),
        None => DEFAULT_NODE_ADDRESS.to_string(),
    };
    let image = kube
        .agent
        .as_ref()
        .and_then(|a| a.value.as_ref())
        .and_then(|a| a.image.as_ref());
    if let Some(image) = image
        && let Err(why) = check_image_reference(image.value.trim())
    {
        let span = cx.span(image);
        cx.push(
            ScenarioError::new(
                if image.value.trim().is_empty() {
                    format!("agent.image {why}")
                } else {
                    format!("agent.image `{}` {why}", image.value)
                },
                span,
            )
            .with_help(
                "an image reference as Docker writes it: [REGISTRY[:PORT]/]NAME[:TAG][@DIGEST], e.g. chaosgate/agent:0.1.0",
            ),
        );
        ok = false;
    }
    let services: BTreeSet<String> = cx
        .services
        .as_ref()
        .map(|s| s.keys().cloned().collect())
        .unwrap_or_default();
    ok.then(|| StackSpec {
        compose_files: Vec::new(),
        kubernetes: Some(KubeStackSpec {
            manifests: files,
            kustomize,
            namespace,
            existing,
            kubeconfig: kube.kubeconfig.as_ref().map(|k| {
                let p = cx.base_dir.join(k);
                std::path::absolute(&p).unwrap_or(p)
            }),
            context: kube.context.clone(),
            node_address,
            agent: kube.agent.as_ref().map(|_| NodeAgentSpec {
                image: image.map_or_else(
                    || crate::agent::DEFAULT_IMAGE.to_string(),
                    |i| i.value.trim().to_string(),
                ),
            }),
        }),
        env: raw.env.clone(),
        ready_timeout,
        services: services.into_iter().collect(),
        compose_variables: Vec::new(),
        existing: None,
    })
}

/// Whether `r` is an image reference Docker and the kubelet accept (the grammar of
/// distribution/reference, loosely): `[HOST[:PORT]/]PATH[:TAG][@ALGO:HEX]`, PATH lower case.
/// Errors: what is wrong, to follow the reference in a message.
fn check_image_reference(r: &str) -> Result<(), &'static str> {
    if r.is_empty() {
        return Err("is empty");
    }
    if r.chars().any(char::is_whitespace) {
        return Err("holds whitespace");
    }
    let (name, digest) = match r.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (r, None),
    };
    if let Some(d) = digest {
        let ok = d.split_once(':').is_some_and(|(algo, hex)| {
            !algo.is_empty()
                && algo
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+._-".contains(c))
                && hex.len() >= 32
                && hex.chars().all(|c| c.is_ascii_hexdigit())
        });
        if !ok {
            return Err("has a malformed digest (after `@`: ALGORITHM:HEX)");
        }
    }
    // A tag is after the last `:` that follows the last `/` (a registry port is before it).
    let (path, tag) = match name.rfind(':') {
        Some(i) if !name[i..].contains('/') => (&name[..i], Some(&name[i + 1..])),
        _ => (name, None),
    };
    if let Some(t) = tag {
        let ok = !t.is_empty()
            && t.len() <= 128
            && t.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !ok {
            return Err("has a malformed tag (letters, digits, `_`, `.`, `-`; at most 128)");
        }
    }
    let mut parts: Vec<&str> = path.split('/').collect();
    // A first part with a `.` or `:`, or `localhost`, is a registry host.
    if parts.len() > 1 && (parts[0].contains(['.', ':']) || parts[0] == "localhost") {
        let host = parts.remove(0);
        let hostname = host.split(':').next().unwrap_or_default();
        if hostname.is_empty()
            || !hostname
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-".contains(c))
            || host
                .split_once(':')
                .is_some_and(|(_, p)| p.parse::<u16>().is_err())
        {
            return Err("has a malformed registry host");
        }
    }
    let component_ok = |c: &str| {
        !c.is_empty()
            && c.starts_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
            && c.ends_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
            && c.chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
    };
    if parts.is_empty() || !parts.iter().all(|c| component_ok(c)) {
        return Err("has a malformed name (lower-case letters, digits and `._-` between `/`)");
    }
    Ok(())
}

/// RFC 1123 label, what Kubernetes requires of a namespace name.
pub(crate) fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::check_image_reference;

    #[test]
    fn image_references_as_docker_takes_them() {
        for ok in [
            "chaosgate/agent:0.1.0",
            "agent",
            "registry.example:5000/team/chaosgate-agent:v1.2_3",
            "localhost/agent@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "ghcr.io/org/agent",
        ] {
            assert_eq!(check_image_reference(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("", "is empty"),
            ("Not A Valid/Ref::", "holds whitespace"),
            ("chaosgate/Agent:1", "malformed name"),
            ("chaosgate/agent:", "malformed tag"),
            ("chaosgate/agent::1", "malformed name"),
            ("chaosgate//agent", "malformed name"),
            ("reg.example:port/agent", "malformed registry host"),
            ("agent@sha256:xyz", "malformed digest"),
        ] {
            let e = check_image_reference(bad).expect_err(bad);
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
