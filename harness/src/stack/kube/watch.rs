//! Pod changes onto the run's timeline, from a watch on the run's namespace: scheduled,
//! Ready, unready, restarted, terminating, deleted. The watch is re-established (after a list)
//! whenever the API server ends it.

use std::collections::HashMap;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use kube::{Client, ResourceExt};
use tokio_util::sync::CancellationToken;

use super::{pod_ready, restarts};
use crate::timeline::{EventKind, EventSink, PodChange};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Seen {
    scheduled: bool,
    ready: bool,
    restarts: i64,
    terminating: bool,
}

fn seen(p: &Pod) -> Seen {
    Seen {
        scheduled: p.spec.as_ref().is_some_and(|s| s.node_name.is_some()),
        ready: pod_ready(p),
        restarts: restarts(p),
        terminating: p.metadata.deletion_timestamp.is_some(),
    }
}

/// The changes from `before` (`None`: a new pod) to `now`.
fn changes(before: Option<Seen>, now: Seen) -> Vec<(PodChange, Option<String>)> {
    let mut out = Vec::new();
    let was = before.unwrap_or_default();
    if before.is_none() {
        out.push((PodChange::Added, None));
    }
    if now.scheduled && !was.scheduled {
        out.push((PodChange::Scheduled, None));
    }
    if now.restarts > was.restarts && before.is_some() {
        out.push((
            PodChange::Restarted,
            Some(format!("restart count {}", now.restarts)),
        ));
    }
    if now.ready != was.ready {
        out.push((
            if now.ready {
                PodChange::Ready
            } else {
                PodChange::Unready
            },
            None,
        ));
    }
    if now.terminating && !was.terminating {
        out.push((PodChange::Terminating, None));
    }
    out
}

/// Records pod changes in `namespace` until `cancel`.
pub fn start(
    client: Client,
    namespace: String,
    sink: EventSink,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let pods: Api<Pod> = Api::namespaced(client, &namespace);
        let mut known: HashMap<String, Seen> = HashMap::new();
        let record = |sink: &EventSink, pod: &str, change: PodChange, detail: Option<String>| {
            sink.record(EventKind::Pod {
                pod: pod.to_string(),
                change,
                detail,
            });
        };
        // The run's node agents are the harness's, not the stack's.
        let lp = ListParams::default().labels(&format!("!{}", crate::agent::AGENT_LABEL));
        while !cancel.is_cancelled() {
            let list = tokio::select! {
                l = pods.list(&lp) => l,
                _ = cancel.cancelled() => return,
            };
            let Ok(list) = list else {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                continue;
            };
            let version = list.metadata.resource_version.clone().unwrap_or_default();
            let mut present = std::collections::HashSet::new();
            for p in &list.items {
                let name = p.name_any();
                present.insert(name.clone());
                for (c, d) in changes(known.get(&name).copied(), seen(p)) {
                    record(&sink, &name, c, d);
                }
                known.insert(name, seen(p));
            }
            for gone in known
                .keys()
                .filter(|k| !present.contains(*k))
                .cloned()
                .collect::<Vec<_>>()
            {
                known.remove(&gone);
                record(&sink, &gone, PodChange::Deleted, None);
            }
            let stream = match pods
                .watch(
                    &WatchParams::default()
                        .labels(&format!("!{}", crate::agent::AGENT_LABEL))
                        .timeout(290),
                    &version,
                )
                .await
            {
                Ok(s) => s,
                Err(_) => continue,
            };
            let mut stream = stream.boxed();
            loop {
                let next = tokio::select! {
                    n = stream.try_next() => n,
                    _ = cancel.cancelled() => return,
                };
                match next {
                    Ok(Some(WatchEvent::Added(p) | WatchEvent::Modified(p))) => {
                        let name = p.name_any();
                        for (c, d) in changes(known.get(&name).copied(), seen(&p)) {
                            record(&sink, &name, c, d);
                        }
                        known.insert(name, seen(&p));
                    }
                    Ok(Some(WatchEvent::Deleted(p))) => {
                        let name = p.name_any();
                        known.remove(&name);
                        record(&sink, &name, PodChange::Deleted, None);
                    }
                    Ok(Some(WatchEvent::Bookmark(_))) => {}
                    // Expired (410) or any error: list again.
                    Ok(Some(WatchEvent::Error(_))) | Ok(None) | Err(_) => break,
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_and_readiness_flips_are_changes() {
        let up = Seen {
            scheduled: true,
            ready: true,
            restarts: 0,
            terminating: false,
        };
        assert_eq!(
            changes(None, up).iter().map(|c| c.0).collect::<Vec<_>>(),
            vec![PodChange::Added, PodChange::Scheduled, PodChange::Ready]
        );
        let crashed = Seen {
            ready: false,
            restarts: 1,
            ..up
        };
        assert_eq!(
            changes(Some(up), crashed)
                .iter()
                .map(|c| c.0)
                .collect::<Vec<_>>(),
            vec![PodChange::Restarted, PodChange::Unready]
        );
        assert!(changes(Some(up), up).is_empty());
        let deleting = Seen {
            terminating: true,
            ..up
        };
        assert_eq!(changes(Some(up), deleting)[0].0, PodChange::Terminating);
    }
}
