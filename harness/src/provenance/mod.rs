//! Provenance: what exactly a run tested, so an auditor can tie a verdict to the images that
//! shipped — each service's image tag and ID, the scenario's and compose files' SHA-256, the
//! scenario's git commit (and whether its tree was dirty), the harness version, the host.
//!
//! Gathering is best effort: a fact that cannot be read (no git, an image removed) is left
//! out, never guessed; it never fails a run.

use std::collections::BTreeMap;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What was tested. Part of `report.json` (schema `schemas/report.schema.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// `chaosgate` version (the crate's).
    pub harness_version: String,
    /// The scenario file.
    pub scenario: FileProvenance,
    /// The compose files of the stack, in the order given (empty for a Kubernetes stack).
    pub compose_files: Vec<FileProvenance>,
    /// Service → the image its containers ran.
    pub images: BTreeMap<String, ImageProvenance>,
    /// `KEY=VALUE` variables passed with `--set`, in the order given.
    pub set: Vec<String>,
    /// The machine the harness ran on.
    pub host: HostProvenance,
}

/// A file the run read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileProvenance {
    /// The path as the run was given it (relative to the working directory, or absolute).
    pub path: String,
    /// Hex SHA-256 of its bytes; absent when it could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The commit of the git repository holding it, when it is in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    /// Whether the file differs from that commit (uncommitted changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_dirty: Option<bool>,
}

/// An image the stack's containers ran.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageProvenance {
    /// As the compose file names it (`chaosgate/trading:0.1.0`).
    pub tag: String,
    /// Docker's content-addressed ID (`sha256:…`); absent when it could not be inspected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// The machine a run measured on: its figures depend on it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostProvenance {
    /// `uname -r`.
    pub kernel: String,
    /// CPUs this process may use.
    pub cores: usize,
    /// The Docker daemon's version; absent when it could not be asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_version: Option<String>,
}

/// Hex SHA-256 of a file's bytes.
pub fn sha256_file(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    Some(hex(&Sha256::digest(&bytes)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A file's hash and, when it sits in a git work tree, the commit and its dirtiness.
pub fn file(path: &Path) -> FileProvenance {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let git = |args: &[&str]| -> Option<String> {
        let out = std::process::Command::new("git")
            .args(["-C", &dir.unwrap_or(Path::new(".")).display().to_string()])
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let commit = git(&["rev-parse", "HEAD"]).filter(|c| !c.is_empty());
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dirty = commit.as_ref().and_then(|_| {
        // Untracked counts as dirty: the commit does not hold what was run.
        git(&["status", "--porcelain", "--", &name]).map(|s| !s.is_empty())
    });
    FileProvenance {
        path: path.display().to_string(),
        sha256: sha256_file(path),
        git_commit: commit,
        git_dirty: dirty,
    }
}

/// The host's kernel release and usable cores.
pub fn host(docker_version: Option<String>) -> HostProvenance {
    HostProvenance {
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        docker_version,
    }
}

/// Everything but the images' IDs and Docker's version, which need the daemon
/// ([`with_docker`] adds them).
pub fn gather(
    scenario: &Path,
    compose_files: &[std::path::PathBuf],
    images: &[(String, String)],
    set: &[String],
) -> Provenance {
    Provenance {
        harness_version: env!("CARGO_PKG_VERSION").to_string(),
        scenario: file(scenario),
        compose_files: compose_files.iter().map(|p| file(p)).collect(),
        images: images
            .iter()
            .map(|(service, tag)| {
                (
                    service.clone(),
                    ImageProvenance {
                        tag: tag.clone(),
                        id: None,
                    },
                )
            })
            .collect(),
        set: set.to_vec(),
        host: host(None),
    }
}

/// Adds what only the Docker daemon knows: each image's ID and the engine's version.
pub async fn with_docker(mut p: Provenance, docker: &bollard::Docker) -> Provenance {
    for image in p.images.values_mut() {
        if let Ok(i) = docker.inspect_image(&image.tag).await {
            image.id = i.id;
        }
    }
    if let Ok(v) = docker.version().await {
        p.host.docker_version = v.version;
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_hashed_and_placed_in_its_repository() {
        let dir = std::env::temp_dir().join(format!("cg-prov-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("s.yaml");
        std::fs::write(&f, "abc").unwrap();
        let p = file(&f);
        // SHA-256("abc"), the FIPS 180-2 test vector.
        assert_eq!(
            p.sha256.as_deref(),
            Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        // A temp dir is in no repository: no commit, no dirtiness claimed.
        assert_eq!(p.git_commit, None);
        assert_eq!(p.git_dirty, None);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(file(&dir.join("gone.yaml")).sha256, None);
    }

    #[test]
    fn a_bundled_scenario_carries_its_commit() {
        let s = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/smoke.yaml");
        let p = file(&s);
        assert_eq!(p.sha256.as_ref().map(String::len), Some(64));
        // The repository may be a plain copy (no .git): then no commit is claimed.
        if let Some(c) = p.git_commit {
            assert_eq!(c.len(), 40, "{c}");
            assert!(p.git_dirty.is_some());
        }
    }
}
