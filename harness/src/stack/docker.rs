//! The Docker API client and the container views built from it.

use std::collections::HashMap;
use std::net::SocketAddr;

use bollard::Docker;
use bollard::models::{ContainerInspectResponse, HealthStatusEnum};
use bollard::query_parameters::ListContainersOptionsBuilder;

use super::{ContainerInfo, HealthCheck, StackError};

/// Label compose puts on each container: its compose project name.
pub const PROJECT_LABEL: &str = "com.docker.compose.project";
/// Label compose puts on each container: its service name.
pub const SERVICE_LABEL: &str = "com.docker.compose.service";
/// Label compose puts on each container: its replica number (1-based, as a decimal string).
pub const NUMBER_LABEL: &str = "com.docker.compose.container-number";
/// Put on every container a chaosgate run creates, so a killed run's leftovers are found.
pub const RUN_LABEL: &str = "io.chaosgate.run";
/// The PID of the chaosgate process that owns the run.
pub const OWNER_PID_LABEL: &str = "io.chaosgate.owner-pid";

/// Connects to the local daemon and agrees on an API version (the engine here is 20.10,
/// older than bollard's default version).
pub async fn connect() -> Result<Docker, StackError> {
    let docker = Docker::connect_with_local_defaults()
        .map_err(|e| StackError::DockerUnreachable(e.to_string()))?;
    let docker = docker
        .negotiate_version()
        .await
        .map_err(|e| StackError::DockerUnreachable(e.to_string()))?;
    docker
        .ping()
        .await
        .map_err(|e| StackError::DockerUnreachable(e.to_string()))?;
    Ok(docker)
}

/// Maps a bollard error to [`StackError::Docker`] (exit 3), `doing` saying what was attempted
/// ("inspecting container ID").
pub fn api_error(doing: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> StackError {
    let doing = doing.into();
    move |source| StackError::Docker { doing, source }
}

/// Every container (running or not) carrying `label` (`key` or `key=value`).
pub async fn labelled_containers(
    docker: &Docker,
    label: String,
    doing: String,
) -> Result<Vec<bollard::models::ContainerSummary>, StackError> {
    let filters = HashMap::from([("label", vec![label])]);
    docker
        .list_containers(Some(
            ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(api_error(doing))
}

/// Every container (running or not) of a compose project.
pub async fn project_containers(
    docker: &Docker,
    project: &str,
) -> Result<Vec<ContainerInfo>, StackError> {
    let list = labelled_containers(
        docker,
        format!("{PROJECT_LABEL}={project}"),
        format!("listing the containers of {project}"),
    )
    .await?;
    let mut out = Vec::with_capacity(list.len());
    for summary in list {
        let Some(id) = summary.id else { continue };
        match inspect(docker, &id).await {
            Ok(info) => out.push(info),
            // Removed between list and inspect: it is simply not part of the stack any more.
            Err(StackError::Docker { source, .. }) if is_not_found(&source) => {}
            Err(e) => return Err(e),
        }
    }
    out.sort_by(|a, b| (&a.service, a.number).cmp(&(&b.service, b.number)));
    Ok(out)
}

/// Whether the Docker API answered 404 (the container, network or volume is already gone).
pub fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// Inspects one container by ID or name; an API error (including not found) is
/// [`StackError::Docker`].
pub async fn inspect(docker: &Docker, id: &str) -> Result<ContainerInfo, StackError> {
    let r = docker
        .inspect_container(
            id,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await
        .map_err(api_error(format!("inspecting container {id}")))?;
    Ok(container_info(r))
}

/// The [`ContainerInfo`] view of an inspect response (labels, state, health, ports, networks).
pub fn container_info(r: ContainerInspectResponse) -> ContainerInfo {
    let labels = r
        .config
        .as_ref()
        .and_then(|c| c.labels.clone())
        .unwrap_or_default();
    let state = r.state.unwrap_or_default();
    let health = state.health.as_ref().and_then(|h| match h.status {
        Some(HealthStatusEnum::HEALTHY) => Some("healthy".to_string()),
        Some(HealthStatusEnum::UNHEALTHY) => Some("unhealthy".to_string()),
        Some(HealthStatusEnum::STARTING) => Some("starting".to_string()),
        _ => None,
    });
    let last_health_check = state
        .health
        .as_ref()
        .and_then(|h| h.log.as_ref())
        .and_then(|log| log.last())
        .and_then(|entry| {
            let started = entry.start.as_deref()?;
            let started = time::OffsetDateTime::parse(
                started,
                &time::format_description::well_known::Rfc3339,
            )
            .ok()?;
            Some(HealthCheck {
                started_unix_ns: started.unix_timestamp_nanos(),
                exit_code: entry.exit_code?,
            })
        });
    let mut published = Vec::new();
    let mut networks = Vec::new();
    let mut aliases = Vec::new();
    if let Some(ns) = r.network_settings {
        for (key, bindings) in ns.ports.unwrap_or_default() {
            let Some(port) = key.strip_suffix("/tcp").and_then(|p| p.parse::<u16>().ok()) else {
                continue;
            };
            for b in bindings.unwrap_or_default() {
                let ip = b.host_ip.as_deref().unwrap_or("127.0.0.1");
                // Traffic from the harness goes only to loopback; a wildcard binding is
                // reachable there too.
                let ip = if ip.is_empty() || ip == "0.0.0.0" {
                    "127.0.0.1"
                } else {
                    ip
                };
                let addr = b
                    .host_port
                    .as_deref()
                    .and_then(|p| format!("{ip}:{p}").parse::<SocketAddr>().ok());
                if let Some(addr) = addr.filter(|a| a.ip().is_loopback()) {
                    published.push((port, addr));
                }
            }
        }
        for (name, ep) in ns.networks.unwrap_or_default() {
            aliases.push((name.clone(), ep.aliases.unwrap_or_default()));
            if let Some(ip) = ep.ip_address.filter(|ip| !ip.is_empty()) {
                networks.push((name, ip));
            }
        }
    }
    published.sort();
    networks.sort();
    aliases.sort();
    ContainerInfo {
        id: r.id.unwrap_or_default(),
        name: r
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        service: labels.get(SERVICE_LABEL).cloned().unwrap_or_default(),
        number: labels
            .get(NUMBER_LABEL)
            .and_then(|n| n.parse().ok())
            .unwrap_or(1),
        running: state.running.unwrap_or(false),
        paused: state.paused.unwrap_or(false),
        health,
        last_health_check,
        pid: state.pid.unwrap_or(0).max(0) as u32,
        restart_count: r.restart_count.unwrap_or(0),
        published,
        networks,
        aliases,
        labels: labels.into_iter().collect(),
        image: r.config.and_then(|c| c.image).unwrap_or_default(),
    }
}
