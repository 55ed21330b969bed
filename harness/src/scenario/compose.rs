//! Reading what a scenario checks against the compose files: the service names (the keys of
//! `services:`), the container ports each service publishes (`ports:`) or exposes
//! (`expose:`), and the variables the files interpolate (`${VAR}`), so a scenario naming a
//! service the stack does not have, or setting a variable no file reads, is rejected before
//! anything starts (and a port no file declares is warned about).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use serde::Deserialize;

#[derive(Deserialize)]
struct ComposeFile {
    #[serde(default)]
    services: Option<BTreeMap<String, Option<ComposeService>>>,
}

#[derive(Deserialize, Default)]
struct ComposeService {
    #[serde(default)]
    ports: Option<Vec<PortEntry>>,
    #[serde(default)]
    expose: Option<Vec<NumberOrText>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Number(u64),
    Text(String),
}

/// `- "127.0.0.1::8080"`, `- 8080`, or the long form `- { target: 8080, published: "8080" }`.
#[derive(Deserialize)]
#[serde(untagged)]
enum PortEntry {
    Short(NumberOrText),
    Long { target: NumberOrText },
}

/// The container ports a service can be reached on, from its compose definition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServicePorts {
    /// Container ports of `ports:` entries (the side the service listens on).
    pub published: BTreeSet<u16>,
    /// Ports of `expose:` entries.
    pub exposed: BTreeSet<u16>,
    /// Some entry could not be read without the run's environment (`${PORT}`), so the
    /// ports above may be incomplete and a port not in them is not an error.
    pub incomplete: bool,
}

impl ServicePorts {
    /// Whether a connection to `port` may reach the service; `true` when the file leaves it
    /// open (an entry with a `${VAR}`).
    pub fn admits(&self, port: u16) -> bool {
        self.incomplete || self.published.contains(&port) || self.exposed.contains(&port)
    }

    fn merge(&mut self, other: ServicePorts) {
        self.published.extend(other.published);
        self.exposed.extend(other.exposed);
        self.incomplete |= other.incomplete;
    }
}

/// `8080 (published), 9000 (exposed)`, or `none` when the service declares no port.
impl fmt::Display for ServicePorts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let all: BTreeSet<u16> = self.published.union(&self.exposed).copied().collect();
        if all.is_empty() {
            return f.write_str("none");
        }
        for (i, p) in all.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            let how = match (self.published.contains(p), self.exposed.contains(p)) {
                (true, true) => "published, exposed",
                (true, false) => "published",
                _ => "exposed",
            };
            write!(f, "{p} ({how})")?;
        }
        Ok(())
    }
}

/// The most ports a range entry (`8000-8100`) is expanded to; a wider range is taken as
/// "any port" rather than allocated.
const MAX_RANGE: u32 = 4096;

/// Ports named by `text` (`8080`, `8080/tcp`, `8000-8010`); `None` when they cannot be known
/// without the environment or are not ports at all.
fn port_spec(text: &str) -> Option<Vec<u16>> {
    let text = text.trim();
    let text = text.split('/').next().unwrap_or(text);
    if text.contains('$') || text.is_empty() {
        return None;
    }
    let (lo, hi) = match text.split_once('-') {
        Some((lo, hi)) => (
            lo.trim().parse::<u16>().ok()?,
            hi.trim().parse::<u16>().ok()?,
        ),
        None => {
            let p = text.parse::<u16>().ok()?;
            (p, p)
        }
    };
    if lo > hi || u32::from(hi - lo) >= MAX_RANGE {
        return None;
    }
    Some((lo..=hi).collect())
}

/// The container side of a short `ports:` entry: `[[HOST_IP:]HOST_PORT:]CONTAINER_PORT[/PROTO]`.
fn container_side(entry: &str) -> &str {
    entry.rsplit_once(':').map_or(entry, |(_, c)| c)
}

fn service_ports(service: &ComposeService) -> ServicePorts {
    let mut out = ServicePorts::default();
    let add = |set: &mut BTreeSet<u16>, ports: Option<Vec<u16>>, incomplete: &mut bool| match ports
    {
        Some(p) => set.extend(p),
        None => *incomplete = true,
    };
    for entry in service.ports.iter().flatten() {
        let ports = match entry {
            PortEntry::Short(NumberOrText::Number(n))
            | PortEntry::Long {
                target: NumberOrText::Number(n),
            } => u16::try_from(*n).ok().map(|p| vec![p]),
            PortEntry::Short(NumberOrText::Text(t)) => port_spec(container_side(t)),
            PortEntry::Long {
                target: NumberOrText::Text(t),
            } => port_spec(t),
        };
        add(&mut out.published, ports, &mut out.incomplete);
    }
    for entry in service.expose.iter().flatten() {
        let ports = match entry {
            NumberOrText::Number(n) => u16::try_from(*n).ok().map(|p| vec![p]),
            NumberOrText::Text(t) => port_spec(t),
        };
        add(&mut out.exposed, ports, &mut out.incomplete);
    }
    out
}

/// Each service in the compose file at `path` with its ports, or a message saying why the
/// file could not be read.
pub fn services(path: &Path) -> Result<BTreeMap<String, ServicePorts>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read compose file {}: {e}", path.display()))?;
    services_in(&text, path)
}

fn services_in(text: &str, path: &Path) -> Result<BTreeMap<String, ServicePorts>, String> {
    let file: ComposeFile = serde_saphyr::from_str(text).map_err(|e| {
        let msg = super::parse_error_message(&e);
        match e.location() {
            Some(loc) => format!(
                "compose file {}:{}:{} is not valid YAML: {msg}",
                path.display(),
                loc.line(),
                loc.column()
            ),
            None => format!("compose file {} is not valid YAML: {msg}", path.display()),
        }
    })?;
    Ok(file
        .services
        .unwrap_or_default()
        .into_iter()
        .map(|(name, s)| (name, service_ports(&s.unwrap_or_default())))
        .collect())
}

/// Merges the services of several compose files (later files add to earlier ones, as
/// compose's own merge does for `ports` and `expose`).
pub fn merge(into: &mut BTreeMap<String, ServicePorts>, more: BTreeMap<String, ServicePorts>) {
    for (name, ports) in more {
        into.entry(name).or_default().merge(ports);
    }
}

/// The variables one compose file reads, each with the services whose configuration reads it
/// (`""` for a part of the file outside `services:`, such as a network's name).
pub type Variables = BTreeMap<String, BTreeSet<String>>;

/// How deep `extends: { file: ... }` is followed (a loop of files stops here).
const MAX_EXTENDS_DEPTH: usize = 8;

/// The variables the compose file at `path` reads from the environment compose runs in: every
/// name it interpolates (`$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
/// `${VAR:?err}`, `${VAR?err}`; `$$` is a literal dollar) in any value, and every
/// `environment:` entry given without a value (compose passes its own variable of that name
/// to the container). Not counted, as compose v1 does not interpolate them: keys, a
/// service's `build:` (runs never build: `up --no-build`), top-level `x-` extension fields
/// (they reach a service only through an anchor, where they are counted), `env_file:`
/// contents and `.env` (which give values, not read them).
pub fn variables(path: &Path) -> Result<Variables, String> {
    variables_at(path, 0)
}

fn variables_at(path: &Path, depth: usize) -> Result<Variables, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read compose file {}: {e}", path.display()))?;
    let doc: serde_json::Value = serde_saphyr::from_str(&text).map_err(|e| {
        format!(
            "compose file {} is not valid YAML: {}",
            path.display(),
            super::parse_error_message(&e)
        )
    })?;
    let mut out = Variables::new();
    let Some(top) = doc.as_object() else {
        return Ok(out);
    };
    let mut extends_same_file = Vec::new();
    for (key, value) in top {
        if key.starts_with("x-") {
            continue;
        }
        if key != "services" {
            read_value(value, "", &mut out);
            continue;
        }
        for (name, service) in value.as_object().into_iter().flatten() {
            for (field, v) in service.as_object().into_iter().flatten() {
                match field.as_str() {
                    "build" => {}
                    "environment" => {
                        read_value(v, name, &mut out);
                        for bare in passed_through(v) {
                            add(&mut out, bare, name);
                        }
                    }
                    "extends" => {
                        let (file, base) = match v {
                            serde_json::Value::String(base) => (None, Some(base.as_str())),
                            v => (
                                v.get("file").and_then(serde_json::Value::as_str),
                                v.get("service").and_then(serde_json::Value::as_str),
                            ),
                        };
                        read_value(v, name, &mut out);
                        match (file, base) {
                            (Some(file), Some(base)) if depth < MAX_EXTENDS_DEPTH => {
                                let file = path.parent().unwrap_or(Path::new(".")).join(file);
                                for (var, services) in variables_at(&file, depth + 1)? {
                                    if services.contains(base) {
                                        add(&mut out, &var, name);
                                    }
                                }
                            }
                            (None, Some(base)) => {
                                extends_same_file.push((name.clone(), base.to_string()));
                            }
                            _ => {}
                        }
                    }
                    _ => read_value(v, name, &mut out),
                }
            }
        }
    }
    // One level is enough for the files compose v1 accepts in practice; a chain inside one
    // file is followed as far as its length.
    for _ in 0..extends_same_file.len() {
        for (name, base) in &extends_same_file {
            let inherited: Vec<String> = out
                .iter()
                .filter(|(_, services)| services.contains(base))
                .map(|(var, _)| var.clone())
                .collect();
            for var in inherited {
                add(&mut out, &var, name);
            }
        }
    }
    Ok(out)
}

fn add(out: &mut Variables, var: &str, service: &str) {
    out.entry(var.to_string())
        .or_default()
        .insert(service.to_string());
}

fn read_value(v: &serde_json::Value, service: &str, out: &mut Variables) {
    match v {
        serde_json::Value::String(s) => {
            for var in interpolated(s) {
                add(out, &var, service);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| read_value(i, service, out)),
        serde_json::Value::Object(map) => map.values().for_each(|i| read_value(i, service, out)),
        _ => {}
    }
}

/// `environment:` entries with no value (`- NAME`, or `NAME:` with nothing after it): compose
/// gives the container its own environment's value of `NAME`.
fn passed_through(env: &serde_json::Value) -> Vec<&str> {
    match env {
        serde_json::Value::Array(items) => items
            .iter()
            .filter_map(serde_json::Value::as_str)
            .filter(|e| !e.contains('='))
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect(),
        serde_json::Value::Object(map) => map
            .iter()
            .filter(|(_, v)| v.is_null())
            .map(|(k, _)| k.as_str())
            .collect(),
        _ => Vec::new(),
    }
}

/// The variable names `text` interpolates, in order (repeats kept). A default, an error
/// message or an alternative after the name (`${A:-${B}}`) may interpolate again, as compose
/// v2 reads it (v1 takes such a default literally; counting `B` there only ever accepts a
/// setting, never refuses one). `$$` is a literal `$`; a `$` not followed by a name or `{`,
/// or a `${` never closed, is no variable.
pub fn interpolated(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    scan(text.as_bytes(), &mut out);
    out
}

fn scan(b: &[u8], out: &mut Vec<String>) {
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'$' {
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some(b'$') => i += 2,
            Some(b'{') => {
                let start = i + 2;
                let Some(end) = closing_brace(b, start) else {
                    i = start;
                    continue;
                };
                let inner = &b[start..end];
                let n = name_len(inner);
                if n > 0 {
                    out.push(String::from_utf8_lossy(&inner[..n]).into_owned());
                    let rest = &inner[n..];
                    let rest = rest.strip_prefix(b":").unwrap_or(rest);
                    if let Some((op, tail)) = rest.split_first()
                        && matches!(op, b'-' | b'?' | b'+')
                    {
                        scan(tail, out);
                    }
                }
                i = end + 1;
            }
            _ => {
                let n = name_len(&b[i + 1..]);
                if n > 0 {
                    out.push(String::from_utf8_lossy(&b[i + 1..i + 1 + n]).into_owned());
                }
                i += 1 + n;
            }
        }
    }
}

/// The index of the `}` closing a `${` whose contents begin at `start`, counting nested `${`.
fn closing_brace(b: &[u8], start: usize) -> Option<usize> {
    let mut depth = 1usize;
    let mut i = start;
    while i < b.len() {
        match (b[i], b.get(i + 1)) {
            (b'$', Some(b'$')) => i += 2,
            (b'$', Some(b'{')) => {
                depth += 1;
                i += 2;
            }
            (b'}', _) => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

/// Length of the variable name at the start of `b`: `[_A-Za-z][_A-Za-z0-9]*`, as compose reads it.
fn name_len(b: &[u8]) -> usize {
    match b.first() {
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' => b
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
            .count(),
        _ => 0,
    }
}

/// Why setting `keys` would change nothing: no compose file reads them. `files` are the
/// stack's compose files as the scenario names them, with what each reads; `None` when every
/// key is read by some file.
pub fn unread_settings<'a>(
    files: &[(String, Variables)],
    keys: impl IntoIterator<Item = &'a str>,
) -> Option<UnreadSettings> {
    let read: BTreeSet<&str> = files
        .iter()
        .flat_map(|(_, vars)| vars.keys().map(String::as_str))
        .collect();
    let unread: Vec<String> = keys
        .into_iter()
        .filter(|k| !read.contains(k))
        .map(str::to_string)
        .collect();
    if unread.is_empty() {
        return None;
    }
    let suggestions = unread
        .iter()
        .filter_map(|k| {
            super::suggest::closest(k, read.iter().copied()).map(|s| (k.clone(), s.to_string()))
        })
        .collect();
    let reads = files
        .iter()
        .map(|(file, vars)| {
            let names: Vec<&str> = vars.keys().map(String::as_str).collect();
            if names.is_empty() {
                format!("{file} reads no variable")
            } else {
                format!("{file} reads {}", names.join(", "))
            }
        })
        .collect();
    Some(UnreadSettings {
        unread,
        suggestions,
        reads,
    })
}

/// Variables a run would set that no compose file reads (see [`unread_settings`]): such a
/// run tests the unchanged stack while claiming otherwise (`ab` would compare a build with
/// itself and pass).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadSettings {
    /// The keys no file reads, in the order given.
    pub unread: Vec<String>,
    /// An unread key → the variable a file does read that it is probably a misspelling of.
    pub suggestions: Vec<(String, String)>,
    /// One line per compose file: `FILE reads A, B, C`.
    pub reads: Vec<String>,
}

impl UnreadSettings {
    /// `` `A`, `B` `` for a message.
    pub fn keys(&self) -> String {
        self.unread
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `did you mean ...?` and what each file reads, one clause per line.
    pub fn help(&self) -> String {
        let mut lines: Vec<String> = self
            .suggestions
            .iter()
            .map(|(k, s)| format!("did you mean `{s}` (for `{k}`)?"))
            .collect();
        lines.extend(self.reads.iter().cloned());
        lines.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(yaml: &str) -> BTreeMap<String, ServicePorts> {
        services_in(yaml, Path::new("c.yml")).unwrap()
    }

    #[test]
    fn ports_in_every_form() {
        let s = read(
            r#"
x-common: &common
  expose: ["9000"]
services:
  gateway:
    <<: *common
    ports: ["127.0.0.1::8080", "9090:80/tcp", 7000, { target: 7100, published: "7101" }]
  ranged:
    ports: ["8000-8002:9000-9002"]
    expose: [5432, "6000-6001"]
  bare: {}
  empty:
  templated:
    ports: ["${PORT}:${PORT}"]
"#,
        );
        let gw = &s["gateway"];
        assert_eq!(
            gw.published,
            BTreeSet::from([80, 7000, 7100, 8080]),
            "{gw:?}"
        );
        assert_eq!(gw.exposed, BTreeSet::from([9000]));
        assert!(gw.admits(8080) && gw.admits(9000) && !gw.admits(9090));
        assert_eq!(s["ranged"].published, BTreeSet::from([9000, 9001, 9002]));
        assert_eq!(s["ranged"].exposed, BTreeSet::from([5432, 6000, 6001]));
        assert!(!s["bare"].admits(80));
        assert_eq!(s["bare"].to_string(), "none");
        assert!(!s["empty"].admits(80));
        assert!(s["templated"].admits(1234));
        assert_eq!(
            s["ranged"].to_string(),
            "5432 (exposed), 6000 (exposed), 6001 (exposed), 9000 (published), 9001 (published), 9002 (published)"
        );
    }

    #[test]
    fn interpolation_as_compose_reads_it() {
        let names = |t: &str| interpolated(t);
        assert_eq!(
            names("$A ${B} ${C:-x} ${D-x} ${E:?no} ${F?no}"),
            ["A", "B", "C", "D", "E", "F"]
        );
        // `$$` is a literal dollar, also right before a name or a brace.
        assert_eq!(names("$$A $${B} cost: 5$$ $$$C"), ["C"]);
        assert!(names("echo $$HOME").is_empty());
        // Defaults interpolate again (compose v2); a `}` inside a nested one closes it only.
        assert_eq!(names("${A:-${B:-${C}}}/$D"), ["A", "B", "C", "D"]);
        assert_eq!(names("${A:+${B}}"), ["A", "B"]);
        // A default that only looks like a variable is text.
        assert_eq!(names("${A:-{B}}"), ["A"]);
        // Names: letters, digits, `_`, not starting with a digit; what follows ends them.
        assert_eq!(
            names("$_X1-$2 ${3} $ {A} $A.b ${A_B}c"),
            ["_X1", "A", "A_B"]
        );
        // An unclosed `${` is no variable; one after it still is.
        assert_eq!(names("${A ${B}"), ["B"]);
        assert!(names("${").is_empty() && names("$").is_empty() && names("${}").is_empty());
        assert_eq!(names("é$VAR€"), ["VAR"]);
    }

    fn vars_of(yaml: &str) -> Variables {
        let dir =
            std::env::temp_dir().join(format!("cg-vars-{}-{}", std::process::id(), yaml.len()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.yml");
        std::fs::write(&path, yaml).unwrap();
        std::fs::write(
            dir.join("base.yml"),
            "services:\n  base:\n    image: \"img:${BASE_TAG}\"\n  other:\n    image: \"${OTHER}\"\n",
        )
        .unwrap();
        let v = variables(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        v
    }

    #[test]
    fn variables_read_by_each_service() {
        let v = vars_of(
            r#"
# ${IN_A_COMMENT} is not read
x-env: &env
  SHARED: "${SHARED:-1}"
x-unused:
  X: "${ONLY_IN_EXTENSION}"
services:
  gateway:
    image: "gw:${TAG:-1}"
    build: { context: ., args: { V: "${BUILD_ONLY}" } }
    environment:
      <<: *env
      FLAG: "${FLAG}"
      FROM_SHELL:
      "${NOT_A_KEY}": x
    command: ["sh", "-c", "echo $$HOME"]
  worker:
    environment: ["MODE=${MODE-fast}", "PASSED", "LITERAL=$$X"]
    extends: { file: base.yml, service: base }
  child:
    extends: worker
volumes:
  data: { name: "${VOLUME_NAME}" }
"#,
        );
        let who = |var: &str| -> Vec<&str> {
            v.get(var)
                .map(|s| s.iter().map(String::as_str).collect())
                .unwrap_or_default()
        };
        assert_eq!(who("TAG"), ["gateway"]);
        assert_eq!(who("SHARED"), ["gateway"]);
        assert_eq!(who("FLAG"), ["gateway"]);
        assert_eq!(who("FROM_SHELL"), ["gateway"]);
        assert_eq!(who("MODE"), ["child", "worker"]);
        assert_eq!(who("PASSED"), ["child", "worker"]);
        assert_eq!(who("BASE_TAG"), ["child", "worker"]);
        assert_eq!(who("VOLUME_NAME"), [""]);
        for never in [
            "IN_A_COMMENT",
            "ONLY_IN_EXTENSION",
            "BUILD_ONLY",
            "NOT_A_KEY",
            "HOME",
            "X",
            "OTHER",
            "LITERAL",
        ] {
            assert!(who(never).is_empty(), "{never}: {v:?}");
        }
    }

    #[test]
    fn an_unread_setting_is_named_with_what_the_files_read() {
        let files = vec![
            (
                "a.yml".to_string(),
                Variables::from([
                    (
                        "GATEWAY_FAILOVER".into(),
                        BTreeSet::from(["gateway".into()]),
                    ),
                    ("GATEWAY_LOG".into(), BTreeSet::from(["gateway".into()])),
                ]),
            ),
            ("b.yml".to_string(), Variables::new()),
        ];
        assert_eq!(unread_settings(&files, ["GATEWAY_LOG"]), None);
        let u = unread_settings(&files, ["GATEWAY_FAILOVR", "GATEWAY_LOG", "TYPO"]).unwrap();
        assert_eq!(u.keys(), "`GATEWAY_FAILOVR`, `TYPO`");
        assert_eq!(
            u.help(),
            "did you mean `GATEWAY_FAILOVER` (for `GATEWAY_FAILOVR`)?\na.yml reads GATEWAY_FAILOVER, GATEWAY_LOG\nb.yml reads no variable"
        );
    }
}
