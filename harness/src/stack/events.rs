//! Records the stack's container events from the Docker daemon onto the run's timeline, and
//! keeps the address book current: a container's IP and published ports change when it starts
//! again, and its IP when it is reconnected to a network (`isolate`).

use std::collections::HashMap;
use std::sync::Arc;

use bollard::Docker;
use bollard::query_parameters::EventsOptionsBuilder;
use futures::StreamExt;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::AddressBook;
use super::docker::{PROJECT_LABEL, SERVICE_LABEL, container_info, inspect};
use crate::timeline::{DockerAction, EventKind, EventSink};

/// One container event, as fault executors wait for them.
#[derive(Debug, Clone)]
pub struct ContainerEvent {
    /// When Docker reported it, in run-clock ns (the timeline's clock).
    pub t: u64,
    /// Full Docker container ID.
    pub container_id: String,
    /// Container name as Docker reports it (no leading `/`).
    pub container: String,
    /// Compose service the container belongs to.
    pub service: String,
    /// What happened to it (start, die, kill, pause, ...).
    pub action: DockerAction,
}

/// Subscribes to the project's container events. The subscription is live when this returns,
/// so events caused by anything done afterwards are not missed.
pub async fn start_recorder(
    docker: Docker,
    project: String,
    sink: EventSink,
    book: Arc<AddressBook>,
    cancel: CancellationToken,
) -> (
    broadcast::Sender<ContainerEvent>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, _) = broadcast::channel(1024);
    let out = tx.clone();
    let filters = HashMap::from([
        ("type", vec!["container".to_string()]),
        ("label", vec![format!("{PROJECT_LABEL}={project}")]),
    ]);
    let mut stream =
        Box::pin(docker.events(Some(EventsOptionsBuilder::new().filters(&filters).build())));
    // Network events carry the network's name and the container's id, not the container's
    // labels, so they cannot be filtered by project here; `handle_network` checks the project.
    let network_filters = HashMap::from([
        ("type", vec!["network".to_string()]),
        (
            "event",
            vec!["connect".to_string(), "disconnect".to_string()],
        ),
    ]);
    let mut network_stream = Box::pin(
        docker.events(Some(
            EventsOptionsBuilder::new()
                .filters(&network_filters)
                .build(),
        )),
    );
    // The daemon sends the response headers when the subscription is registered; polling once
    // with a short timeout makes sure we are subscribed before the first fault.
    let wait = std::time::Duration::from_millis(200);
    let (first, first_network) = tokio::join!(
        tokio::time::timeout(wait, stream.next()),
        tokio::time::timeout(wait, network_stream.next()),
    );
    let handle = tokio::spawn(async move {
        if let Ok(Some(item)) = first {
            handle_item(item, &docker, &sink, &book, &out).await;
        }
        if let Ok(Some(item)) = first_network {
            handle_network(item, &docker, &project, &sink, &book).await;
        }
        let mut networks_open = true;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                item = stream.next() => match item {
                    Some(item) => handle_item(item, &docker, &sink, &book, &out).await,
                    None => {
                        sink.note("docker event stream ended early");
                        break;
                    }
                },
                item = network_stream.next(), if networks_open => match item {
                    Some(item) => handle_network(item, &docker, &project, &sink, &book).await,
                    None => {
                        sink.note("docker network event stream ended early");
                        networks_open = false;
                    }
                },
            }
        }
    });
    (tx, handle)
}

async fn handle_item(
    item: Result<bollard::models::EventMessage, bollard::errors::Error>,
    docker: &Docker,
    sink: &EventSink,
    book: &AddressBook,
    out: &broadcast::Sender<ContainerEvent>,
) {
    let msg = match item {
        Ok(m) => m,
        Err(e) => {
            sink.note(format!("docker event stream error: {e}"));
            return;
        }
    };
    let Some(action) = msg.action.as_deref().and_then(DockerAction::from_docker) else {
        return;
    };
    let actor = msg.actor.unwrap_or_default();
    let attrs = actor.attributes.unwrap_or_default();
    let id = actor.id.unwrap_or_default();
    let container = attrs.get("name").cloned().unwrap_or_else(|| id.clone());
    let service = attrs.get(SERVICE_LABEL).cloned().unwrap_or_default();
    let exit_code = attrs.get("exitCode").and_then(|c| c.parse().ok());
    let clock = sink.clock();
    let t = msg
        .time_nano
        .and_then(|n| clock.ns_from_unix_nanos(n))
        .unwrap_or_else(|| clock.now_ns());
    sink.record_at(
        t,
        EventKind::Docker {
            container: container.clone(),
            service: service.clone(),
            action,
            exit_code,
        },
    );
    // `start`: new IP and published ports; `die`: no longer running, so a running replica of
    // the same service is preferred.
    if matches!(action, DockerAction::Start | DockerAction::Die)
        && let Ok(info) = inspect(docker, &id).await
        && let Some(change) = book.update_container(&info)
    {
        sink.note(format!(
            "{container} is now reached at a new address: {change}"
        ));
    }
    // No receiver is fine: nobody is waiting for this container right now.
    let _ = out.send(ContainerEvent {
        t,
        container_id: id,
        container,
        service,
        action,
    });
}

/// A container of the project joined or left a network: its address changed.
async fn handle_network(
    item: Result<bollard::models::EventMessage, bollard::errors::Error>,
    docker: &Docker,
    project: &str,
    sink: &EventSink,
    book: &AddressBook,
) {
    let msg = match item {
        Ok(m) => m,
        Err(e) => {
            sink.note(format!("docker network event stream error: {e}"));
            return;
        }
    };
    let attrs = msg.actor.and_then(|a| a.attributes).unwrap_or_default();
    let Some(id) = attrs.get("container") else {
        return;
    };
    let Ok(raw) = docker
        .inspect_container(
            id,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await
    else {
        return;
    };
    let ours = raw
        .config
        .as_ref()
        .and_then(|c| c.labels.as_ref())
        .and_then(|l| l.get(PROJECT_LABEL))
        .is_some_and(|p| p == project);
    if !ours {
        return;
    }
    let info = container_info(raw);
    if let Some(change) = book.update_container(&info) {
        let action = msg.action.as_deref().unwrap_or("network change");
        sink.note(format!(
            "{} is now reached at a new address after a network {action}: {change}",
            info.name
        ));
    }
}
