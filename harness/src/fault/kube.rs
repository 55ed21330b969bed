//! Kubernetes faults: pod-delete, crash (SIGKILL of a pod container's main process, so the
//! kubelet restarts it), scale, rollout-restart. Each is proven from the API (the pod gone or
//! terminating, the restart count up, the workload's observed spec) and ends with the
//! workload whole again (`Completed`, or `Reverted` for a scale), bounded by the run's end.

use std::collections::BTreeSet;
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{KillContainerOptionsBuilder, ListContainersOptionsBuilder};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::{FaultRecord, VERIFY_TIMEOUT};
use crate::stack::ContainerInfo;
use crate::stack::kube::{KubeStack, Workload, pod_ready, restarts};
use crate::timeline::{EventKind, EventSink, FaultStage};

/// What a Kubernetes fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KubeAction {
    /// Delete the target pods; `force` = grace period 0.
    PodDelete {
        /// Delete with grace period 0 (no SIGTERM wait).
        force: bool,
    },
    /// SIGKILL of each target pod's first container's main process, through the node's Docker
    /// runtime (dockershim): the kubelet sees a crash and restarts it.
    Crash,
    /// Scale the workload to `replicas` for the fault's duration, then back.
    Scale {
        /// Replica count held for the fault's duration.
        replicas: u32,
    },
    /// Restart every pod of the workload by a rolling update (the pod template's
    /// `kubectl.kubernetes.io/restartedAt` annotation, as `kubectl rollout restart`).
    RolloutRestart,
}

impl KubeAction {
    /// The action as scenario files spell it (`pod-delete`, `crash`, `scale`, `rollout-restart`).
    pub fn name(self) -> &'static str {
        match self {
            Self::PodDelete { .. } => "pod-delete",
            Self::Crash => "crash",
            Self::Scale { .. } => "scale",
            Self::RolloutRestart => "rollout-restart",
        }
    }

    /// Held for a duration and reverted (scale); the others run their course.
    pub fn holds(self) -> bool {
        matches!(self, Self::Scale { .. })
    }

    /// Acts on the whole workload rather than on picked pods.
    pub fn on_workload(self) -> bool {
        matches!(self, Self::Scale { .. } | Self::RolloutRestart)
    }
}

/// How often the API is polled for a fault's proof and end.
const POLL: Duration = Duration::from_millis(100);

/// Everything a Kubernetes fault needs to act and to see its effect.
pub struct KubeFaultEnv<'a> {
    /// The run's stack: API client, namespace and its workloads.
    pub stack: &'a KubeStack,
    /// The node's Docker daemon, through which `crash` signals a pod's container process.
    pub docker: &'a Docker,
    /// Where each fault stage is recorded on the timeline.
    pub sink: &'a EventSink,
}

fn stage(
    sink: &EventSink,
    record: &mut FaultRecord,
    stage: FaultStage,
    detail: Option<String>,
) -> u64 {
    let t = sink.clock().now_ns();
    stage_at(sink, record, stage, detail, t)
}

/// [`stage`] at run-clock time `t` (a Docker event's own time).
fn stage_at(
    sink: &EventSink,
    record: &mut FaultRecord,
    stage: FaultStage,
    detail: Option<String>,
    t: u64,
) -> u64 {
    match stage {
        FaultStage::Applied => record.applied_ns = Some(t),
        FaultStage::Verified => record.verified_ns = Some(t),
        FaultStage::Reverted => record.reverted_ns = Some(t),
        FaultStage::Completed => record.target_back_ns = Some(t),
        FaultStage::Failed => record.error = detail.clone(),
        FaultStage::Unverified => {}
    }
    sink.record_at(
        t,
        EventKind::Fault {
            fault: record.name.clone(),
            stage,
            targets: record.targets.clone(),
            detail,
        },
    );
    t
}

/// Polls `check` every [`POLL`] until it returns `Some`, `deadline` passes or `cancel` fires.
async fn poll_until<T, F, Fut>(
    deadline: tokio::time::Instant,
    cancel: Option<&CancellationToken>,
    mut check: F,
) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= deadline || cancel.is_some_and(|c| c.is_cancelled()) {
            return None;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Applies `action` to `targets` (pods of `workload`), proves it, holds and reverts it when it
/// holds, and waits (until `run_end`) for the workload to be whole again. Errors are recorded,
/// never returned, so a failed fault never stops the run's cleanup.
#[allow(clippy::too_many_arguments)]
pub async fn run_kube_fault(
    env: &KubeFaultEnv<'_>,
    record: &mut FaultRecord,
    action: KubeAction,
    workload: &str,
    targets: &[ContainerInfo],
    hold: Duration,
    run_end: tokio::time::Instant,
    cancel: &CancellationToken,
) {
    let before = match env.stack.workload(workload).await {
        Ok(w) => w,
        Err(e) => {
            stage(env.sink, record, FaultStage::Failed, Some(e.to_string()));
            return;
        }
    };
    record.targets = if action.on_workload() {
        vec![format!("{}/{}", before.kind.to_lowercase(), before.name)]
    } else {
        targets.iter().map(|c| c.name.clone()).collect()
    };
    record
        .evidence
        .insert("replicas_before".into(), json!(before.replicas));
    match action {
        KubeAction::PodDelete { force } => {
            pod_delete(env, record, force, &before, targets, run_end).await
        }
        KubeAction::Crash => crash(env, record, targets, run_end).await,
        KubeAction::Scale { replicas } => {
            scale(env, record, replicas, &before, hold, run_end, cancel).await
        }
        KubeAction::RolloutRestart => rollout_restart(env, record, &before, run_end).await,
    }
}

async fn pod_delete(
    env: &KubeFaultEnv<'_>,
    record: &mut FaultRecord,
    force: bool,
    before: &Workload,
    targets: &[ContainerInfo],
    run_end: tokio::time::Instant,
) {
    let pods: Api<Pod> = Api::namespaced(env.stack.client().clone(), env.stack.namespace());
    let dp = DeleteParams {
        grace_period_seconds: force.then_some(0),
        ..DeleteParams::default()
    };
    // The pods there before, so that only new ones count as replacements.
    let existing: BTreeSet<String> = env
        .stack
        .containers()
        .await
        .map(|c| c.into_iter().map(|c| c.name).collect())
        .unwrap_or_default();
    stage(
        env.sink,
        record,
        FaultStage::Applied,
        force.then(|| "grace period 0".to_string()),
    );
    for t in targets {
        if let Err(e) = pods.delete(&t.name, &dp).await {
            stage(
                env.sink,
                record,
                FaultStage::Failed,
                Some(format!("deleting pod {}: {e}", t.name)),
            );
            return;
        }
    }
    // Proof: each target is gone from the API or marked for deletion (its uid, so a
    // replacement of the same name, as a StatefulSet makes, does not count).
    let names: Vec<(String, String)> = targets
        .iter()
        .map(|t| (t.name.clone(), t.id.clone()))
        .collect();
    let verify_by = tokio::time::Instant::now() + VERIFY_TIMEOUT;
    let proven = poll_until(verify_by.min(run_end), None, || {
        let pods = pods.clone();
        let names = names.clone();
        async move {
            for (name, uid) in &names {
                match pods.get_opt(name).await {
                    Ok(Some(p))
                        if p.metadata.uid.as_deref() == Some(uid)
                            && p.metadata.deletion_timestamp.is_none() =>
                    {
                        return None;
                    }
                    Ok(_) => {}
                    Err(_) => return None,
                }
            }
            Some(())
        }
    })
    .await;
    if proven.is_none() {
        stage(
            env.sink,
            record,
            FaultStage::Unverified,
            Some("no target pod was marked for deletion in time".into()),
        );
        return;
    }
    stage(env.sink, record, FaultStage::Verified, None);
    // The end: as many Ready pods as before, none of them a deleted one.
    let gone: BTreeSet<String> = targets.iter().map(|t| t.id.clone()).collect();
    let want = before.replicas;
    let service = before.name.clone();
    let back = poll_until(run_end, None, || {
        let gone = gone.clone();
        let service = service.clone();
        async move {
            let pods = env.stack.containers().await.ok()?;
            let ready: Vec<&ContainerInfo> = pods
                .iter()
                .filter(|p| {
                    p.service == service && p.running && p.is_ready() && !gone.contains(&p.id)
                })
                .collect();
            (ready.len() as i32 >= want)
                .then(|| ready.iter().map(|p| p.name.clone()).collect::<Vec<_>>())
        }
    })
    .await;
    match back {
        Some(replacements) => {
            stage(env.sink, record, FaultStage::Completed, None);
            // The API's own account, for comparison: the replacements' Ready condition times
            // (RFC 3339 with whole seconds: the API server truncates them).
            let mut condition_at = Vec::new();
            for name in &replacements {
                if existing.contains(name) {
                    continue;
                }
                if let Ok(p) = pods.get(name).await
                    && let Some(at) = ready_since(&p)
                {
                    condition_at.push(json!({ "pod": name, "ready_condition_at": at }));
                }
            }
            record
                .evidence
                .insert("ready_pods_after".into(), json!(replacements));
            record
                .evidence
                .insert("replacements_ready_condition".into(), json!(condition_at));
        }
        None => {
            record
                .evidence
                .insert("replacement_ready".into(), json!(false));
        }
    }
}

/// When the pod's Ready condition last turned True, as the API states it (RFC 3339).
fn ready_since(p: &Pod) -> Option<String> {
    p.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready" && c.status == "True")?
        .last_transition_time
        .as_ref()
        .map(|t| t.0.to_string())
}

/// The Docker container of the pod's first container (dockershim names and labels it).
async fn pod_container(
    docker: &Docker,
    namespace: &str,
    pod: &ContainerInfo,
) -> Result<String, String> {
    let filters = std::collections::HashMap::from([(
        "label".to_string(),
        vec![
            format!("io.kubernetes.pod.uid={}", pod.id),
            format!("io.kubernetes.pod.namespace={namespace}"),
            "io.kubernetes.docker.type=container".to_string(),
        ],
    )]);
    let list = docker
        .list_containers(Some(ListContainersOptionsBuilder::default().filters(&filters).build()))
        .await
        .map_err(|e| format!(
            "crash on Kubernetes needs the node's Docker runtime (dockershim, as the local cluster of scripts/local-kube.sh has), and Docker did not answer: {e}; use pod-delete on other clusters"
        ))?;
    list.into_iter()
        .min_by_key(|c| c.created.unwrap_or(0))
        .and_then(|c| c.id)
        .ok_or_else(|| format!(
            "no Docker container of pod {} on this host: crash on Kubernetes needs the node's Docker runtime (dockershim, the local cluster); use pod-delete on other clusters",
            pod.name
        ))
}

async fn crash(
    env: &KubeFaultEnv<'_>,
    record: &mut FaultRecord,
    targets: &[ContainerInfo],
    run_end: tokio::time::Instant,
) {
    let pods: Api<Pod> = Api::namespaced(env.stack.client().clone(), env.stack.namespace());
    let mut found = Vec::new();
    for t in targets {
        match pod_container(env.docker, env.stack.namespace(), t).await {
            Ok(id) => found.push((t, id)),
            Err(e) => {
                stage(env.sink, record, FaultStage::Failed, Some(e));
                return;
            }
        }
    }
    let opts = KillContainerOptionsBuilder::default()
        .signal("SIGKILL")
        .build();
    // Docker's `die` event of each killed container is the proof, at its own time (the
    // kubelet's restart count, polled from the API, lags it by its ~1 s relist). The event
    // stream is opened after the kill and replays from before it (`since`): a stream opened
    // earlier only subscribes when first polled, which would miss a fast death.
    let since = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        .saturating_sub(2))
    .to_string();
    stage(env.sink, record, FaultStage::Applied, None);
    for (t, id) in &found {
        if let Err(e) = env.docker.kill_container(id, Some(opts.clone())).await {
            stage(
                env.sink,
                record,
                FaultStage::Failed,
                Some(format!("SIGKILL of pod {}'s container: {e}", t.name)),
            );
            return;
        }
        record.evidence.insert(
            format!("{}.container_killed", t.name),
            json!(&id[..12.min(id.len())]),
        );
    }
    let die_filters = std::collections::HashMap::from([
        ("type", vec!["container".to_string()]),
        ("event", vec!["die".to_string()]),
        (
            "container",
            found.iter().map(|(_, id)| id.clone()).collect::<Vec<_>>(),
        ),
    ]);
    let mut dies = Box::pin(
        env.docker.events(Some(
            bollard::query_parameters::EventsOptionsBuilder::new()
                .since(&since)
                .filters(&die_filters)
                .build(),
        )),
    );
    let verify_by = (tokio::time::Instant::now() + VERIFY_TIMEOUT).min(run_end);
    let mut died: Vec<u64> = Vec::new();
    while died.len() < found.len() {
        let next = tokio::time::timeout_at(verify_by, futures::StreamExt::next(&mut dies)).await;
        match next {
            Ok(Some(Ok(e))) => {
                if let Some(t) = e
                    .time_nano
                    .and_then(|ns| env.sink.clock().ns_from_unix_nanos(ns))
                {
                    died.push(t);
                }
            }
            Ok(Some(Err(_))) | Ok(None) | Err(_) => break,
        }
    }
    drop(dies);
    if died.len() < found.len() {
        stage(
            env.sink,
            record,
            FaultStage::Unverified,
            Some(format!(
                "Docker reported {} of {} killed containers dead in time",
                died.len(),
                found.len()
            )),
        );
        return;
    }
    let died_at = died.iter().copied().max().unwrap_or_default();
    stage_at(
        env.sink,
        record,
        FaultStage::Verified,
        Some("Docker's die event".into()),
        died_at,
    );
    // Then the kubelet's account: a restart counted for each target (or it shows it
    // terminated), as evidence; the fault's end waits for the restart anyway.
    let targets_before: Vec<(String, i64)> = targets
        .iter()
        .map(|t| (t.name.clone(), t.restart_count))
        .collect();
    let proven = poll_until(verify_by, None, || {
        let pods = pods.clone();
        let targets_before = targets_before.clone();
        async move {
            let mut counts = Vec::new();
            for (name, before) in &targets_before {
                let p = pods.get(name).await.ok()?;
                let terminated = p
                    .status
                    .as_ref()
                    .and_then(|s| s.container_statuses.as_ref())
                    .is_some_and(|cs| {
                        cs.iter()
                            .any(|c| c.state.as_ref().is_some_and(|s| s.terminated.is_some()))
                    });
                if restarts(&p) <= *before && !terminated {
                    return None;
                }
                counts.push((name.clone(), restarts(&p)));
            }
            Some(counts)
        }
    })
    .await;
    match proven {
        Some(counts) => {
            for (name, n) in counts {
                record
                    .evidence
                    .insert(format!("{name}.restart_count"), json!(n));
            }
        }
        None => {
            record
                .evidence
                .insert("kubelet_restart_seen".into(), json!(false));
        }
    }
    // The end: every target Ready again after its restart.
    let names: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
    let back = poll_until(run_end, None, || {
        let pods = pods.clone();
        let names = names.clone();
        let before = targets_before.clone();
        async move {
            for (name, (_, n0)) in names.iter().zip(&before) {
                let p = pods.get(name).await.ok()?;
                if !(pod_ready(&p) && restarts(&p) > *n0) {
                    return None;
                }
            }
            Some(())
        }
    })
    .await;
    if back.is_some() {
        stage(env.sink, record, FaultStage::Completed, None);
    }
}

async fn patch_workload(
    env: &KubeFaultEnv<'_>,
    w: &Workload,
    patch: serde_json::Value,
) -> Result<(), String> {
    let params = PatchParams::default();
    let client = env.stack.client().clone();
    let ns = env.stack.namespace();
    let r = if w.kind == "StatefulSet" {
        Api::<StatefulSet>::namespaced(client, ns)
            .patch(&w.name, &params, &Patch::Merge(&patch))
            .await
            .map(|_| ())
    } else {
        Api::<Deployment>::namespaced(client, ns)
            .patch(&w.name, &params, &Patch::Merge(&patch))
            .await
            .map(|_| ())
    };
    r.map_err(|e| format!("patching {} {}: {e}", w.kind, w.name))
}

async fn scale(
    env: &KubeFaultEnv<'_>,
    record: &mut FaultRecord,
    replicas: u32,
    before: &Workload,
    hold: Duration,
    run_end: tokio::time::Instant,
    cancel: &CancellationToken,
) {
    stage(
        env.sink,
        record,
        FaultStage::Applied,
        Some(format!("{} -> {replicas} replicas", before.replicas)),
    );
    let hold_until = (tokio::time::Instant::now() + hold).min(run_end);
    if let Err(e) = patch_workload(env, before, json!({ "spec": { "replicas": replicas } })).await {
        stage(env.sink, record, FaultStage::Failed, Some(e));
        return;
    }
    // Proof: the controller observed the new spec, and (scaling down) no more Ready pods than
    // asked for remain.
    let want = replicas as i32;
    let proven = poll_until(
        (tokio::time::Instant::now() + VERIFY_TIMEOUT).min(hold_until),
        Some(cancel),
        || async {
            let w = env.stack.workload(&before.name).await.ok()?;
            let observed = w.replicas == want && w.observed_generation >= w.generation;
            let shrunk = want >= before.replicas || w.ready <= want;
            (observed && shrunk).then_some(w.ready)
        },
    )
    .await;
    match proven {
        Some(ready) => {
            record
                .evidence
                .insert("ready_when_proven".into(), json!(ready));
            stage(env.sink, record, FaultStage::Verified, None);
        }
        None => {
            stage(
                env.sink,
                record,
                FaultStage::Unverified,
                Some(format!(
                    "the workload did not reach {replicas} replicas in time"
                )),
            );
        }
    }
    tokio::select! {
        _ = tokio::time::sleep_until(hold_until) => {}
        _ = cancel.cancelled() => {}
    }
    match patch_workload(
        env,
        before,
        json!({ "spec": { "replicas": before.replicas } }),
    )
    .await
    {
        Ok(()) => {
            stage(env.sink, record, FaultStage::Reverted, None);
        }
        Err(e) => {
            stage(
                env.sink,
                record,
                FaultStage::Failed,
                Some(format!("reverting: {e}")),
            );
            return;
        }
    }
    // Back: as many Ready replicas as before (bounded: the run's end or VERIFY_TIMEOUT after it).
    let bound = run_end.max(tokio::time::Instant::now() + VERIFY_TIMEOUT);
    let back = poll_until(bound, None, || async {
        let w = env.stack.workload(&before.name).await.ok()?;
        (w.ready >= before.replicas).then_some(())
    })
    .await;
    if back.is_some() {
        record.target_back_ns = Some(env.sink.clock().now_ns());
    }
}

async fn rollout_restart(
    env: &KubeFaultEnv<'_>,
    record: &mut FaultRecord,
    before: &Workload,
    run_end: tokio::time::Instant,
) {
    let stamp = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    stage(env.sink, record, FaultStage::Applied, None);
    let patch = json!({ "spec": { "template": { "metadata": { "annotations": { "kubectl.kubernetes.io/restartedAt": stamp } } } } });
    if let Err(e) = patch_workload(env, before, patch).await {
        stage(env.sink, record, FaultStage::Failed, Some(e));
        return;
    }
    let generation = before.generation;
    let proven = poll_until(
        (tokio::time::Instant::now() + VERIFY_TIMEOUT).min(run_end),
        None,
        || async {
            let w = env.stack.workload(&before.name).await.ok()?;
            (w.generation > generation && w.observed_generation >= w.generation).then_some(())
        },
    )
    .await;
    if proven.is_none() {
        stage(
            env.sink,
            record,
            FaultStage::Unverified,
            Some("the controller did not take the new template in time".into()),
        );
        return;
    }
    stage(env.sink, record, FaultStage::Verified, None);
    let done = poll_until(run_end, None, || async {
        let w = env.stack.workload(&before.name).await.ok()?;
        w.rolled_out().then_some(())
    })
    .await;
    if done.is_some() {
        stage(env.sink, record, FaultStage::Completed, None);
    }
}
