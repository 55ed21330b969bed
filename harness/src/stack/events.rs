//! Records the stack's container events from the Docker daemon onto the run's timeline, and
//! re-resolves published ports when a container starts again.

use std::collections::HashMap;
use std::sync::Arc;

use bollard::Docker;
use bollard::query_parameters::EventsOptionsBuilder;
use futures::StreamExt;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::AddressBook;
use super::docker::{PROJECT_LABEL, SERVICE_LABEL, inspect};
use crate::timeline::{DockerAction, EventKind, EventSink};

/// One container event, as fault executors wait for them.
#[derive(Debug, Clone)]
pub struct ContainerEvent {
    pub t: u64,
    pub container_id: String,
    pub container: String,
    pub service: String,
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
    // The daemon sends the response headers when the subscription is registered; polling once
    // with a short timeout makes sure we are subscribed before the first fault.
    let first = tokio::time::timeout(std::time::Duration::from_millis(200), stream.next()).await;
    let handle = tokio::spawn(async move {
        if let Ok(Some(item)) = first {
            handle_item(item, &docker, &sink, &book, &out).await;
        }
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                item = stream.next() => match item {
                    Some(item) => handle_item(item, &docker, &sink, &book, &out).await,
                    None => {
                        sink.note("docker event stream ended early");
                        break;
                    }
                }
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
    if action == DockerAction::Start
        && let Ok(info) = inspect(docker, &id).await
    {
        book.update_container(&info);
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
