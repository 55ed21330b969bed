//! The docker-compose backend: `up`/`down` through the compose tool (v2 plugin or v1
//! binary), everything else through the Docker API, found by compose's labels.

mod tool;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::Docker;

use super::docker::{OWNER_PID_LABEL, RUN_LABEL, project_containers};
use super::reaper::Reaper;
use super::{ContainerInfo, StackError};
pub use tool::ComposeTool;

/// A compose project owned by one chaosgate run, or a running one it attached to.
pub struct ComposeStack {
    docker: Docker,
    tool: ComposeTool,
    project: String,
    files: Vec<PathBuf>,
    env: BTreeMap<String, String>,
    /// Services the compose files declare; `wait_ready` waits for each.
    services: Vec<String>,
    /// Our own override file (run labels), kept in the run's work dir.
    labels_file: PathBuf,
    up_called: bool,
    /// Removes the stack if this process dies before [`Stack::down`] or [`Self::keep`].
    reaper: Option<Reaper>,
    reaper_log: PathBuf,
    /// A running project attached to (`stack.existing`): never brought up or torn down.
    attached: bool,
}

impl ComposeStack {
    /// A stack to be brought up by `tool` from the given compose files, under the compose project
    /// name `project`; nothing is started until [`Stack::up`]. `attached`: `project` is already
    /// running (`stack.existing`); `up` only checks that it is, `down` does nothing.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        docker: Docker,
        tool: ComposeTool,
        project: String,
        run_id: &str,
        files: Vec<PathBuf>,
        env: BTreeMap<String, String>,
        services: Vec<String>,
        work_dir: &Path,
        attached: bool,
    ) -> Result<Self, StackError> {
        let labels_file = work_dir.join("chaosgate-labels.yml");
        std::fs::write(
            &labels_file,
            labels_override(files.first().map(PathBuf::as_path), &services, run_id)?,
        )?;
        Ok(Self {
            docker,
            tool,
            project,
            files,
            env,
            services,
            labels_file,
            up_called: false,
            reaper: None,
            reaper_log: super::reaper::log_path(work_dir),
            attached,
        })
    }

    fn file_args(&self) -> Vec<String> {
        let mut args = vec!["-p".to_string(), self.project.clone()];
        for f in self.files.iter().chain(std::iter::once(&self.labels_file)) {
            args.push("-f".into());
            args.push(f.display().to_string());
        }
        args
    }

    /// The command a user can run to tear the stack down by hand (`--keep`).
    pub fn down_command(&self) -> String {
        let mut parts = vec![self.tool.display()];
        parts.extend(self.file_args());
        parts.extend(["down", "-v", "--remove-orphans"].map(String::from));
        parts.join(" ")
    }

    /// Leaves the stack up for the user (`--keep`): its reaper is told to stand down, and the
    /// command that removes the stack is returned.
    pub fn keep(&mut self) -> String {
        if self.attached {
            return format!(
                "nothing: the run attached to the running compose project `{}` and leaves it as it was",
                self.project
            );
        }
        if let Some(r) = self.reaper.take() {
            r.disarm();
        }
        self.down_command()
    }

    /// The Docker API client the stack was built with.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// What a rollout needs to add containers to this project with compose (the same files,
    /// labels and variables as `up`).
    pub fn scaler(&self) -> ComposeScaler {
        ComposeScaler {
            tool: self.tool.clone(),
            file_args: self.file_args(),
            env: self.env.clone(),
        }
    }
}

/// Runs `up --no-deps --no-recreate --scale` for one service of a project, with variables
/// changed (a new version): compose creates the missing containers from the changed
/// configuration and leaves the existing ones alone.
#[derive(Debug, Clone)]
pub struct ComposeScaler {
    tool: ComposeTool,
    file_args: Vec<String>,
    env: BTreeMap<String, String>,
}

impl ComposeScaler {
    /// The arguments of the scale-up (for the record).
    pub fn scale_args(&self, service: &str, replicas: usize) -> Vec<String> {
        let mut args = self.file_args.clone();
        args.extend(["up", "-d", "--no-build", "--no-deps", "--no-recreate"].map(String::from));
        if self.tool.is_v2() {
            args.extend(["--pull", "never"].map(String::from));
        }
        args.extend(["--scale".to_string(), format!("{service}={replicas}")]);
        args.push(service.to_string());
        args
    }

    /// Brings `service` to `replicas` containers, creating new ones with `set` applied over
    /// the stack's variables.
    pub async fn scale_to(
        &self,
        service: &str,
        replicas: usize,
        set: &BTreeMap<String, String>,
    ) -> Result<(), StackError> {
        let mut env = self.env.clone();
        env.extend(set.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.tool
            .run(
                &self.scale_args(service, replicas),
                &env,
                Duration::from_secs(120),
            )
            .await
    }

    /// The compose command in use, as a user would type it (`docker compose` or `docker-compose`).
    pub fn display(&self) -> String {
        self.tool.display()
    }
}

/// An override file that adds chaosgate's labels to every service: compose merges labels,
/// so the user's file stays untouched. It repeats the main file's `version:` because
/// docker-compose v1 refuses to merge files of different versions.
fn labels_override(
    main: Option<&Path>,
    services: &[String],
    run_id: &str,
) -> std::io::Result<String> {
    let version = match main {
        Some(p) => std::fs::read_to_string(p)?
            .lines()
            .find_map(|l| l.strip_prefix("version:").map(|v| v.trim().to_string())),
        None => None,
    };
    let mut out = String::new();
    if let Some(v) = version {
        out.push_str(&format!("version: {v}\n"));
    }
    out.push_str("services:\n");
    for s in services {
        out.push_str(&format!(
            "  {s}:\n    labels:\n      {RUN_LABEL}: \"{run_id}\"\n      {OWNER_PID_LABEL}: \"{}\"\n",
            std::process::id()
        ));
    }
    Ok(out)
}

/// What a run does with the project (run/backend.rs drives it).
impl ComposeStack {
    /// The compose project name, unique to the run.
    pub fn project(&self) -> &str {
        &self.project
    }

    /// `compose up -d` (the reaper armed first); does not wait for readiness.
    pub async fn up(&mut self) -> Result<(), StackError> {
        if self.attached {
            // Nothing is started: a project that is not running is the user's to bring up.
            let running = project_containers(&self.docker, &self.project)
                .await?
                .iter()
                .filter(|c| c.running)
                .count();
            if running == 0 {
                return Err(StackError::NotRunning {
                    project: self.project.clone(),
                    compose: self.tool.display(),
                });
            }
            return Ok(());
        }
        // Armed before anything exists, so a harness killed during `up` leaves nothing either.
        if self.reaper.is_none() {
            self.reaper = Some(Reaper::spawn(&self.project, &self.reaper_log)?);
        }
        self.up_called = true;
        let mut args = self.file_args();
        args.extend(["up", "-d", "--no-build"].map(String::from));
        if self.tool.is_v2() {
            args.extend(["--pull", "never"].map(String::from));
        }
        self.tool
            .run(&args, &self.env, Duration::from_secs(300))
            .await
    }

    /// Waits until every service has a container and every container is ready.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<Vec<ContainerInfo>, StackError> {
        let deadline = Instant::now() + timeout;
        loop {
            let containers = project_containers(&self.docker, &self.project).await?;
            let missing: Vec<&String> = self
                .services
                .iter()
                .filter(|s| !containers.iter().any(|c| &c.service == *s))
                .collect();
            let not_ready: Vec<&ContainerInfo> =
                containers.iter().filter(|c| !c.is_ready()).collect();
            if missing.is_empty() && not_ready.is_empty() && !containers.is_empty() {
                return Ok(containers);
            }
            if Instant::now() >= deadline {
                let mut detail = String::new();
                for s in missing {
                    detail.push_str(&format!("  {s}: no container\n"));
                }
                for c in not_ready {
                    detail.push_str(&format!(
                        "  {} ({}): running={} health={}{}\n",
                        c.name,
                        c.service,
                        c.running,
                        c.health.as_deref().unwrap_or("none"),
                        last_health_output(&self.docker, &c.id)
                            .await
                            .map(|o| format!(", last check: {o}"))
                            .unwrap_or_default()
                    ));
                }
                return Err(StackError::NeverHealthy { timeout, detail });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The project's containers, sorted by service then replica number.
    pub async fn containers(&self) -> Result<Vec<ContainerInfo>, StackError> {
        project_containers(&self.docker, &self.project).await
    }

    /// Removes everything the project created. Safe to call more than once.
    pub async fn down(&mut self) -> Result<(), StackError> {
        if !self.up_called {
            return Ok(());
        }
        let mut args = self.file_args();
        args.extend(["down", "-v", "--remove-orphans", "-t", "2"].map(String::from));
        let result = self
            .tool
            .run(&args, &self.env, Duration::from_secs(120))
            .await;
        // Whatever compose managed, make sure nothing of the project is left. Should that fail,
        // the reaper stays armed and tries again when this handle goes.
        super::sweep::remove_project(&self.docker, &self.project).await?;
        self.up_called = false;
        if let Some(r) = self.reaper.take() {
            r.disarm();
        }
        result
    }
}

async fn last_health_output(docker: &Docker, id: &str) -> Option<String> {
    let r = docker
        .inspect_container(
            id,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await
        .ok()?;
    let log = r.state?.health?.log?;
    let last = log.last()?;
    Some(
        last.output
            .as_deref()
            .unwrap_or("")
            .trim()
            .chars()
            .take(200)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_repeats_version_and_labels_every_service() {
        let dir = std::env::temp_dir().join(format!("cg-ovr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let main = dir.join("c.yml");
        std::fs::write(&main, "version: \"3.8\"\nservices:\n  a: {}\n").unwrap();
        let out = labels_override(Some(&main), &["a".into(), "b".into()], "r1").unwrap();
        assert!(out.starts_with("version: \"3.8\"\nservices:\n  a:\n    labels:\n"));
        assert!(out.contains("  b:\n    labels:\n      io.chaosgate.run: \"r1\"\n"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
