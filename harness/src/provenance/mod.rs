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
    /// The commit checked out in the git repository holding the file (for a file inside a
    /// submodule, the submodule's own commit), when that repository has one. Whether the
    /// commit holds the file as it was run is `git_state`'s to say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    /// Whether the file as run is anything but what `git_commit` holds: true for every
    /// `git_state` but `clean` (an untracked or ignored file is not in the commit at all);
    /// absent when the file is in no repository or its state could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_dirty: Option<bool>,
    /// The file's state in git. Absent only in reports written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_state: Option<GitState>,
    /// When the repository holding the file is a submodule: its superproject, and whether
    /// the superproject's commit records the submodule at `git_commit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_superproject: Option<Superproject>,
}

/// Where a file stands against the commit of the repository holding it, compared by content
/// (git's blob IDs of the commit's, the index's and the work tree's version), so neither a
/// stale stat cache nor `assume-unchanged` can make a changed file read clean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GitState {
    /// Tracked, and the work tree, the index and the commit hold the same content: the
    /// commit is what was run.
    Clean,
    /// Tracked, and the work tree differs from the index (changes not staged; staged ones may
    /// come on top): the commit is not what was run.
    Modified,
    /// The work tree matches the index, but the index differs from the commit (a staged
    /// change, a newly added file, a repository with no commit yet, or a staged removal of a
    /// file still on disk): the commit is not what was run.
    Staged,
    /// In the work tree but not in the index: no commit holds it.
    Untracked,
    /// Matched by a `.gitignore` (or `info/exclude`) and not tracked: no commit holds it.
    Ignored,
    /// In no git work tree: nothing to tie it to.
    OutsideRepository,
    /// git could not say (not installed, a repository it refuses to read, an unreadable
    /// file): nothing is claimed.
    Unknown,
}

impl GitState {
    /// Whether the commit holds the file exactly as it was run.
    pub fn is_clean(self) -> bool {
        self == Self::Clean
    }

    /// The state in words, for the Markdown, HTML and terminal reports.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Clean => "committed, unchanged",
            Self::Modified => "with uncommitted changes",
            Self::Staged => "with staged, uncommitted changes",
            Self::Untracked => "untracked: not in that commit",
            Self::Ignored => "ignored by git: not in that commit",
            Self::OutsideRepository => "in no git repository",
            Self::Unknown => "git state unknown",
        }
    }
}

/// The superproject of a submodule holding a file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Superproject {
    /// The submodule's path inside the superproject.
    pub submodule_path: String,
    /// The superproject's commit; absent when it has none yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Whether that commit records the submodule at the file's `git_commit`. False when the
    /// submodule is checked out at another commit, or was added but not yet committed: the
    /// superproject's commit then does not describe what was run.
    pub records_submodule_commit: bool,
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

/// A file's hash and its state in git: the commit of the repository holding it, and whether
/// that commit holds the file as it was run. Read-only on the repository: git is asked not to
/// refresh the index (the harness runs as root, and must not leave root-owned files in a
/// user's `.git`).
pub fn file(path: &Path) -> FileProvenance {
    let sha256 = sha256_file(path);
    // A file that could not be read was not run as any commit holds it.
    let facts = if sha256.is_some() {
        git_facts(path)
    } else {
        Err(GitState::Unknown)
    };
    let (git_commit, git_state, git_superproject) = match facts {
        Ok(facts) => facts,
        Err(state) => (None, state, None),
    };
    FileProvenance {
        path: path.display().to_string(),
        sha256,
        git_commit,
        git_dirty: match git_state {
            GitState::OutsideRepository | GitState::Unknown => None,
            s => Some(!s.is_clean()),
        },
        git_state: Some(git_state),
        git_superproject,
    }
}

/// What git answered: stdout on success, stderr otherwise (`None`: git could not be run).
type GitAnswer = Result<String, Option<String>>;

/// Runs git in `dir`, isolated from the caller's git environment (a hook's `GIT_DIR` would
/// point it at another repository) and with pathspecs taken literally (a file named `*.yaml`
/// is that file, not a glob).
fn git(dir: &Path, args: &[&str]) -> GitAnswer {
    // check-ignore takes plain paths and refuses the literal-pathspec switch.
    let literal = args.first() != Some(&"check-ignore");
    let mut cmd = std::process::Command::new("git");
    if literal {
        cmd.env("GIT_LITERAL_PATHSPECS", "1");
    } else {
        cmd.env_remove("GIT_LITERAL_PATHSPECS");
    }
    let out = cmd
        .arg("-C")
        .arg(dir)
        .args(args)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_OBJECT_DIRECTORY")
        .env_remove("GIT_COMMON_DIR")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|_| None)?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(Some(String::from_utf8_lossy(&out.stderr).into_owned()))
    }
}

/// An object ID git printed, or `None` when it printed none (`--verify -q` of a missing
/// object fails quietly).
fn object_id(answer: GitAnswer) -> Option<String> {
    answer.ok().filter(|s| !s.is_empty())
}

/// (commit, state, superproject) of the file, or the state alone when there is no
/// repository to speak of.
fn git_facts(path: &Path) -> Result<(Option<String>, GitState, Option<Superproject>), GitState> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or(GitState::Unknown)?;
    match git(dir, &["rev-parse", "--show-toplevel"]) {
        Ok(_) => {}
        Err(Some(e)) if e.contains("not a git repository") => {
            return Err(GitState::OutsideRepository);
        }
        Err(_) => return Err(GitState::Unknown),
    }
    let commit = object_id(git(dir, &["rev-parse", "--verify", "-q", "HEAD^{commit}"]));
    let in_commit = commit.as_ref().and_then(|_| {
        object_id(git(
            dir,
            &["rev-parse", "--verify", "-q", &format!("HEAD:./{name}")],
        ))
    });
    // `ls-files -s`: "<mode> <blob> <stage>\t<path>", one line per stage (several while a
    // merge conflict is unresolved).
    let staged = git(dir, &["ls-files", "-s", "--", &name]).map_err(|_| GitState::Unknown)?;
    let in_index: Vec<&str> = staged
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    let state = match in_index.as_slice() {
        [] if in_commit.is_some() => GitState::Staged,
        [] => match git(dir, &["check-ignore", "-q", "--", &name]) {
            Ok(_) => GitState::Ignored,
            // check-ignore exits 1 for "not ignored", with nothing on stderr.
            Err(Some(e)) if e.trim().is_empty() => GitState::Untracked,
            Err(_) => GitState::Unknown,
        },
        [index] => {
            let on_disk =
                object_id(git(dir, &["hash-object", "--", &name])).ok_or(GitState::Unknown)?;
            if on_disk != *index {
                GitState::Modified
            } else if in_commit.as_deref() != Some(*index) {
                GitState::Staged
            } else {
                GitState::Clean
            }
        }
        // Unmerged: the work tree is whatever the merge left there.
        _ => GitState::Modified,
    };
    Ok((commit.clone(), state, superproject(dir, commit.as_deref())))
}

/// The superproject of the repository holding `dir`, when that repository is a submodule.
fn superproject(dir: &Path, commit: Option<&str>) -> Option<Superproject> {
    let top = object_id(git(dir, &["rev-parse", "--show-superproject-working-tree"]))?;
    let own = object_id(git(dir, &["rev-parse", "--show-toplevel"]))?;
    let top = Path::new(&top);
    let submodule_path = Path::new(&own)
        .strip_prefix(top)
        .ok()?
        .to_string_lossy()
        .into_owned();
    let super_commit = object_id(git(top, &["rev-parse", "--verify", "-q", "HEAD^{commit}"]));
    // A gitlink's "blob" is the commit the superproject records for the submodule.
    let recorded = super_commit.as_ref().and_then(|_| {
        object_id(git(
            top,
            &[
                "rev-parse",
                "--verify",
                "-q",
                &format!("HEAD:{submodule_path}"),
            ],
        ))
    });
    Some(Superproject {
        records_submodule_commit: recorded.is_some() && recorded.as_deref() == commit,
        submodule_path,
        commit: super_commit,
    })
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
        assert_eq!(p.git_state, Some(GitState::OutsideRepository));
        let _ = std::fs::remove_dir_all(&dir);
        let gone = file(&dir.join("gone.yaml"));
        assert_eq!(gone.sha256, None);
        assert_eq!(gone.git_state, Some(GitState::Unknown));
    }

    /// A scratch directory under the system's temp dir, removed on drop.
    struct Scratch(std::path::PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Self {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let dir = std::env::temp_dir().join(format!(
                "cg-prov-{tag}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Runs git in `dir` with a fixed identity and no user or system configuration, so the
    /// test sees the same git wherever it runs; panics with git's words on failure.
    fn sh(dir: &Path, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args([
                "-c",
                "init.defaultBranch=main",
                "-c",
                "protocol.file.allow=always",
            ])
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_INDEX_FILE")
            .output()
            .expect("git is installed");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Issue 19, kind 7: every state git can report for a hashed file is recorded as what it
    /// is, and only a file the commit holds unchanged reads clean.
    #[test]
    fn each_git_state_of_a_file_is_recorded_as_it_is() {
        let scratch = Scratch::new("states");
        let repo = scratch.0.join("repo");
        std::fs::create_dir_all(&repo).unwrap();
        sh(&repo, &["init", "-q"]);
        for f in ["clean", "modified", "staged", "sneaky"] {
            write(&repo, &format!("{f}.yaml"), "name: a\n");
        }
        write(&repo, ".gitignore", "ignored.yaml\nbuild/\n");
        sh(&repo, &["add", "."]);
        sh(&repo, &["commit", "-q", "-m", "one"]);
        let head = sh(&repo, &["rev-parse", "HEAD"]);

        write(&repo, "modified.yaml", "name: b\n");
        write(&repo, "staged.yaml", "name: b\n");
        sh(&repo, &["add", "staged.yaml"]);
        let added = write(&repo, "added.yaml", "name: a\n");
        sh(&repo, &["add", "added.yaml"]);
        write(&repo, "untracked.yaml", "name: a\n");
        write(&repo, "ignored.yaml", "name: a\n");
        write(&repo, "build/deep.yaml", "name: a\n");
        write(&repo, "we*ird.yaml", "name: a\n");
        // Told to look away: git status calls it clean, its content says otherwise.
        write(&repo, "sneaky.yaml", "name: b\n");
        sh(
            &repo,
            &["update-index", "--assume-unchanged", "sneaky.yaml"],
        );

        let state = |p: &Path| {
            let f = file(p);
            (f.git_state.unwrap(), f.git_dirty, f.git_commit)
        };
        let at_head = Some(head.clone());
        for (name, want) in [
            ("clean.yaml", GitState::Clean),
            ("modified.yaml", GitState::Modified),
            ("sneaky.yaml", GitState::Modified),
            ("staged.yaml", GitState::Staged),
            ("added.yaml", GitState::Staged),
            ("untracked.yaml", GitState::Untracked),
            ("we*ird.yaml", GitState::Untracked),
            ("ignored.yaml", GitState::Ignored),
            ("build/deep.yaml", GitState::Ignored),
        ] {
            let got = state(&repo.join(name));
            let dirty = Some(want != GitState::Clean);
            assert_eq!(got, (want, dirty, at_head.clone()), "{name}");
        }
        assert_eq!(file(&added).git_superproject, None);

        // A repository with no commit yet: nothing to name, nothing clean.
        let fresh = scratch.0.join("fresh");
        std::fs::create_dir_all(&fresh).unwrap();
        sh(&fresh, &["init", "-q"]);
        let f = write(&fresh, "s.yaml", "name: a\n");
        assert_eq!(state(&f), (GitState::Untracked, Some(true), None));
        sh(&fresh, &["add", "s.yaml"]);
        assert_eq!(state(&f), (GitState::Staged, Some(true), None));

        // Outside any repository.
        let loose = write(&scratch.0, "loose.yaml", "name: a\n");
        assert_eq!(state(&loose), (GitState::OutsideRepository, None, None));
    }

    /// A file inside a submodule is tied to the submodule's commit, and the report says
    /// whether the superproject's commit records that submodule commit.
    #[test]
    fn a_file_in_a_submodule_names_the_submodules_commit_and_its_superproject() {
        let scratch = Scratch::new("sub");
        let lib = scratch.0.join("lib");
        std::fs::create_dir_all(&lib).unwrap();
        sh(&lib, &["init", "-q"]);
        write(&lib, "scenario.yaml", "name: a\n");
        sh(&lib, &["add", "."]);
        sh(&lib, &["commit", "-q", "-m", "lib"]);
        let lib_head = sh(&lib, &["rev-parse", "HEAD"]);

        let top = scratch.0.join("top");
        std::fs::create_dir_all(&top).unwrap();
        sh(&top, &["init", "-q"]);
        write(&top, "README", "top\n");
        sh(&top, &["add", "."]);
        sh(&top, &["commit", "-q", "-m", "top"]);
        sh(
            &top,
            &[
                "submodule",
                "add",
                "-q",
                lib.to_str().unwrap(),
                "vendor/lib",
            ],
        );
        let inner = top.join("vendor/lib/scenario.yaml");

        // Added, not committed: the superproject's commit does not hold the submodule.
        let f = file(&inner);
        assert_eq!(f.git_state, Some(GitState::Clean));
        assert_eq!(f.git_dirty, Some(false));
        assert_eq!(f.git_commit.as_deref(), Some(lib_head.as_str()));
        let sp = f.git_superproject.expect("in a submodule");
        assert_eq!(sp.submodule_path, "vendor/lib");
        assert!(!sp.records_submodule_commit, "{sp:?}");

        sh(&top, &["commit", "-q", "-m", "add lib"]);
        let top_head = sh(&top, &["rev-parse", "HEAD"]);
        let sp = file(&inner).git_superproject.unwrap();
        assert_eq!(sp.commit.as_deref(), Some(top_head.as_str()));
        assert!(sp.records_submodule_commit, "{sp:?}");

        // The submodule moved on without the superproject: its commit no longer matches.
        let sub = top.join("vendor/lib");
        write(&sub, "other.yaml", "name: b\n");
        sh(&sub, &["add", "."]);
        sh(&sub, &["commit", "-q", "-m", "more"]);
        let f = file(&inner);
        assert_eq!(f.git_state, Some(GitState::Clean));
        assert!(!f.git_superproject.unwrap().records_submodule_commit);

        // Changed inside the submodule: dirty against the submodule's commit.
        write(&sub, "scenario.yaml", "name: c\n");
        let f = file(&inner);
        assert_eq!(f.git_state, Some(GitState::Modified));
        assert_eq!(f.git_dirty, Some(true));
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
