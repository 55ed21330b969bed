//! Removing what a run created: its own project at the end, and the leftovers of runs that
//! were killed before they could clean up (found by chaosgate's run label).

use std::collections::{BTreeSet, HashMap};

use bollard::Docker;
use bollard::query_parameters::{
    ListNetworksOptionsBuilder, ListVolumesOptionsBuilder, RemoveContainerOptionsBuilder,
};

use super::StackError;
use super::docker::{
    OWNER_PID_LABEL, PROJECT_LABEL, RUN_LABEL, api_error, is_not_found, labelled_containers,
};

/// What [`remove_project`] found and removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Removed {
    /// Containers removed.
    pub containers: usize,
    /// Networks removed.
    pub networks: usize,
    /// Volumes removed.
    pub volumes: usize,
}

impl Removed {
    /// Whether nothing was found to remove.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl std::fmt::Display for Removed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} containers, {} networks, {} volumes",
            self.containers, self.networks, self.volumes
        )
    }
}

/// Force-removes every container, network and volume labelled with `project`. Containers go
/// in parallel (one by one took seconds for a five-container stack on a busy machine, and the
/// reaper has 10 s); everything is attempted even after a failure, and the first failure is
/// returned after that.
pub async fn remove_project(docker: &Docker, project: &str) -> Result<Removed, StackError> {
    let label = format!("{PROJECT_LABEL}={project}");
    let filters = HashMap::from([("label", vec![label.clone()])]);
    let mut removed = Removed::default();
    let mut first_error = None;
    let containers =
        labelled_containers(docker, label, "listing leftover containers".into()).await?;
    let results = futures::future::join_all(containers.into_iter().filter_map(|c| c.id).map(
        |c| async move {
            let r = docker
                .remove_container(
                    &c,
                    Some(
                        RemoveContainerOptionsBuilder::new()
                            .force(true)
                            .v(true)
                            .build(),
                    ),
                )
                .await;
            (c, r)
        },
    ))
    .await;
    for (c, r) in results {
        match r {
            Ok(()) => removed.containers += 1,
            Err(e) if is_not_found(&e) => {}
            Err(e) => {
                first_error.get_or_insert(api_error(format!("removing container {c}"))(e));
            }
        }
    }
    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::new().filters(&filters).build(),
        ))
        .await
        .map_err(api_error("listing leftover networks"))?;
    for n in networks.into_iter().filter_map(|n| n.id) {
        match docker.remove_network(&n).await {
            Ok(()) => removed.networks += 1,
            Err(e) if is_not_found(&e) => {}
            Err(e) => {
                first_error.get_or_insert(api_error(format!("removing network {n}"))(e));
            }
        }
    }
    let volumes = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::new().filters(&filters).build(),
        ))
        .await
        .map_err(api_error("listing leftover volumes"))?;
    for v in volumes.volumes.unwrap_or_default() {
        match docker
            .remove_volume(
                &v.name,
                None::<bollard::query_parameters::RemoveVolumeOptions>,
            )
            .await
        {
            Ok(()) => removed.volumes += 1,
            Err(e) if is_not_found(&e) => {}
            Err(e) => {
                first_error.get_or_insert(api_error(format!("removing volume {}", v.name))(e));
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(removed),
    }
}

/// Finds projects left by chaosgate runs whose process is gone, and removes them.
/// Runs of live processes (parallel runs, parallel tests) are left alone.
pub async fn sweep_leftovers(docker: &Docker) -> Result<Vec<String>, StackError> {
    let containers = labelled_containers(
        docker,
        RUN_LABEL.to_string(),
        "listing chaosgate containers".into(),
    )
    .await?;
    let mut dead_projects = BTreeSet::new();
    for c in containers {
        let labels = c.labels.unwrap_or_default();
        let owner_alive = labels
            .get(OWNER_PID_LABEL)
            .and_then(|p| p.parse::<u32>().ok())
            .is_some_and(process_alive);
        if !owner_alive && let Some(p) = labels.get(PROJECT_LABEL) {
            dead_projects.insert(p.clone());
        }
    }
    for p in &dead_projects {
        tracing::warn!(project = %p, "removing leftovers of a chaosgate run that did not clean up");
        remove_project(docker, p).await?;
    }
    Ok(dead_projects.into_iter().collect())
}

fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}
