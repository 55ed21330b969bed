//! Reading a Kubernetes stack's manifests: the documents to apply (folders expanded in
//! file-name order, as `kubectl apply -f DIR` does, or a kustomization rendered by `kubectl
//! kustomize`), the names a scenario may use (Services
//! with their ports, Deployments and StatefulSets), and the `--set`/`env` overrides of the
//! containers' declared environment.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Workload kinds whose pods a fault can target and whose readiness bring-up waits for.
pub const WORKLOAD_KINDS: [&str; 2] = ["Deployment", "StatefulSet"];

/// The file names a kustomization can have; never applied as manifests (they are
/// kustomize's input, not objects: a folder may hold both, for `kubectl apply -k`).
pub const KUSTOMIZATION_FILES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The manifest files named by `path`: the file itself, or a folder's `.yaml`, `.yml` and
/// `.json` files sorted by name (not recursive; a kustomization file is skipped). Errors say
/// which path and why.
pub fn expand(path: &Path) -> Result<Vec<PathBuf>, String> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    if !path.is_dir() {
        return Err(format!("manifest path {} not found", path.display()));
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| format!("reading {}: {e}", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
                && !p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| KUSTOMIZATION_FILES.contains(&n))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!(
            "folder {} holds no .yaml, .yml or .json file",
            path.display()
        ));
    }
    Ok(files)
}

/// Every object of the stack, in apply order: the kustomization rendered when `spec` names
/// one, else the manifest files. Errors say which file or folder and why (exit 2 when met
/// while validating, 3 when met bringing the stack up).
pub fn load(spec: &super::KubeStackSpec) -> Result<Vec<Value>, String> {
    match &spec.kustomize {
        Some(dir) => render_kustomization(dir),
        None => read(&spec.manifests),
    }
}

/// Every object in `files`, in order (multi-document YAML; empty documents skipped). Each must
/// have `apiVersion`, `kind` and `metadata.name`; none may name a namespace (the run picks it).
pub fn read(files: &[PathBuf]) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("reading {}: {e}", file.display()))?;
        out.extend(parse(&text, &file.display().to_string())?);
    }
    Ok(out)
}

/// The objects `kubectl kustomize DIR` renders, checked as [`read`] checks files. kubectl
/// (Debian's `kubernetes-client`) must be on `PATH`: kustomize has no Rust implementation,
/// and kubectl's built-in one is what `kubectl apply -k` users already trust.
pub fn render_kustomization(dir: &Path) -> Result<Vec<Value>, String> {
    if !KUSTOMIZATION_FILES.iter().any(|f| dir.join(f).is_file()) {
        return Err(format!("{} holds no kustomization.yaml", dir.display()));
    }
    let out = std::process::Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .map_err(|e| {
            format!(
                "rendering the kustomization {} needs kubectl on PATH (`kubectl kustomize`): {e}",
                dir.display()
            )
        })?;
    if !out.status.success() {
        return Err(format!(
            "kubectl kustomize {}: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    parse(&text, &format!("kustomization {}", dir.display()))
}

/// The objects of one multi-document YAML text from `origin` (a file, a kustomization).
fn parse(text: &str, origin: &str) -> Result<Vec<Value>, String> {
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(text).map_err(|e| format!("{origin}: {e}"))?;
    let mut out = Vec::new();
    for (i, doc) in docs.into_iter().enumerate() {
        if doc.is_null() {
            continue;
        }
        let what = format!("{origin} (document {})", i + 1);
        for field in ["apiVersion", "kind"] {
            if !doc.get(field).is_some_and(Value::is_string) {
                return Err(format!("{what}: no `{field}`"));
            }
        }
        if name_of(&doc).is_none() {
            return Err(format!("{what}: no `metadata.name`"));
        }
        if doc.pointer("/metadata/namespace").is_some() {
            return Err(format!(
                "{what}: `metadata.namespace` is set; leave it out (a kustomization: no `namespace:`), the run chooses the namespace"
            ));
        }
        if doc["kind"] == "List" {
            return Err(format!(
                "{what}: a `List` is not supported; one object per document"
            ));
        }
        out.push(doc);
    }
    Ok(out)
}

fn name_of(doc: &Value) -> Option<&str> {
    doc.pointer("/metadata/name").and_then(Value::as_str)
}

/// What the manifests declare, for checking a scenario's names before anything starts.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Declared {
    /// Service name → its ports (`spec.ports[].port`).
    pub services: BTreeMap<String, BTreeSet<u16>>,
    /// Deployment/StatefulSet name → its containers' ports.
    pub workloads: BTreeMap<String, BTreeSet<u16>>,
    /// Environment variable names declared by any workload container.
    pub env: BTreeSet<String>,
    /// Deployment/StatefulSet name → the environment variable names its containers declare.
    pub workload_env: BTreeMap<String, BTreeSet<String>>,
    /// Deployment/StatefulSet name → its pod template's labels (`spec.template.metadata.labels`).
    pub pod_labels: BTreeMap<String, BTreeMap<String, String>>,
}

/// The names and ports `docs` declare.
pub fn declared(docs: &[Value]) -> Declared {
    let mut d = Declared::default();
    for doc in docs {
        let Some(name) = name_of(doc) else { continue };
        let kind = doc["kind"].as_str().unwrap_or_default();
        if kind == "Service" {
            let ports = doc
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|p| p.get("port").and_then(Value::as_u64))
                .filter_map(|p| u16::try_from(p).ok())
                .collect();
            d.services.insert(name.to_string(), ports);
        } else if WORKLOAD_KINDS.contains(&kind) {
            let mut ports = BTreeSet::new();
            for c in containers(doc) {
                ports.extend(
                    c.get("ports")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|p| p.get("containerPort").and_then(Value::as_u64))
                        .filter_map(|p| u16::try_from(p).ok()),
                );
                let names: Vec<String> = c
                    .get("env")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e.get("name").and_then(Value::as_str))
                    .map(str::to_string)
                    .collect();
                d.env.extend(names.iter().cloned());
                d.workload_env
                    .entry(name.to_string())
                    .or_default()
                    .extend(names);
            }
            d.workloads.insert(name.to_string(), ports);
            let labels = doc
                .pointer("/spec/template/metadata/labels")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect();
            d.pod_labels.insert(name.to_string(), labels);
        }
    }
    d
}

fn containers(doc: &Value) -> impl Iterator<Item = &Value> {
    ["containers", "initContainers"]
        .into_iter()
        .flat_map(move |k| {
            doc.pointer(&format!("/spec/template/spec/{k}"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
}

/// Sets each `env` entry on every workload container that declares that variable, as
/// compose's `${VAR}` does for the compose path: the manifests say which knobs exist, `env`
/// and `--set` turn them. Returns the keys no container declares (an error for the caller:
/// a misspelt knob would otherwise run the default build and pass).
pub fn apply_env(docs: &mut [Value], env: &BTreeMap<String, String>) -> Vec<String> {
    let mut used = BTreeSet::new();
    for doc in docs.iter_mut() {
        let kind = doc["kind"].as_str().unwrap_or_default().to_string();
        if !WORKLOAD_KINDS.contains(&kind.as_str()) {
            continue;
        }
        for k in ["containers", "initContainers"] {
            let Some(list) = doc
                .pointer_mut(&format!("/spec/template/spec/{k}"))
                .and_then(Value::as_array_mut)
            else {
                continue;
            };
            for c in list {
                let Some(vars) = c.get_mut("env").and_then(Value::as_array_mut) else {
                    continue;
                };
                for var in vars {
                    let Some(name) = var.get("name").and_then(Value::as_str) else {
                        continue;
                    };
                    if let Some(v) = env.get(name) {
                        used.insert(name.to_string());
                        var["value"] = Value::String(v.clone());
                    }
                }
            }
        }
    }
    env.keys().filter(|k| !used.contains(*k)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STACK: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: { name: gateway }
spec:
  template:
    spec:
      containers:
        - name: gateway
          ports: [{ containerPort: 8080, protocol: TCP }]
          env:
            - { name: GATEWAY_FAILOVER, value: "on" }
---
apiVersion: v1
kind: Service
metadata: { name: gateway }
spec:
  type: NodePort
  ports: [{ port: 8080, targetPort: 8080, protocol: TCP }]
---
"#;

    #[test]
    fn a_folder_without_a_kustomization_is_refused_before_kubectl_runs() {
        let dir = std::env::temp_dir().join(format!("cg-kustomize-none-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.yaml"), STACK).unwrap();
        let e = render_kustomization(&dir).unwrap_err();
        assert!(e.ends_with("holds no kustomization.yaml"), "{e}");
        // Its manifests expand without the kustomization file, which is no object.
        std::fs::write(dir.join("kustomization.yaml"), "resources: [a.yaml]\n").unwrap();
        assert_eq!(expand(&dir).unwrap(), vec![dir.join("a.yaml")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn docs() -> Vec<Value> {
        let dir = std::env::temp_dir().join(format!("cg-manifests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("b.yaml"), STACK).unwrap();
        std::fs::write(dir.join("a.txt"), "not a manifest").unwrap();
        let files = expand(&dir).unwrap();
        assert_eq!(files, vec![dir.join("b.yaml")]);
        let docs = read(&files).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        docs
    }

    #[test]
    fn names_ports_and_env_knobs_are_read() {
        let d = declared(&docs());
        assert_eq!(d.services["gateway"], BTreeSet::from([8080]));
        assert_eq!(d.workloads["gateway"], BTreeSet::from([8080]));
        assert_eq!(d.env, BTreeSet::from(["GATEWAY_FAILOVER".to_string()]));
    }

    #[test]
    fn env_sets_declared_variables_and_reports_unknown_ones() {
        let mut docs = docs();
        let env = BTreeMap::from([
            ("GATEWAY_FAILOVER".to_string(), "off".to_string()),
            ("GATEWAY_FAILOVR".to_string(), "off".to_string()),
        ]);
        assert_eq!(apply_env(&mut docs, &env), vec!["GATEWAY_FAILOVR"]);
        assert_eq!(
            docs[0].pointer("/spec/template/spec/containers/0/env/0/value"),
            Some(&Value::String("off".into()))
        );
    }

    #[test]
    fn a_namespaced_object_is_refused() {
        let dir = std::env::temp_dir().join(format!("cg-manifests-ns-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("x.yaml");
        std::fs::write(
            &f,
            "apiVersion: v1\nkind: Service\nmetadata: { name: a, namespace: prod }\n",
        )
        .unwrap();
        let e = read(std::slice::from_ref(&f)).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(e.contains("metadata.namespace"), "{e}");
    }
}
