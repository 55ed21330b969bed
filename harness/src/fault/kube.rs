//! Kubernetes faults: pod-delete, crash (SIGKILL of a pod container's main process, so the
//! kubelet restarts it), scale, rollout-restart. Each is proven from the API (the pod gone or
//! terminating, the restart count up, the workload's observed spec) and ends with the
//! workload whole again (`Completed`, or `Reverted` for a scale), bounded by the run's end.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{KillContainerOptionsBuilder, ListContainersOptionsBuilder};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::lifecycle::{
    Back, Hold, HoldFrom, Lifecycle, Outcome, Proof, Reverted, Stamp, Window, drive,
};
use super::{Evidence, FaultRecord, VERIFY_TIMEOUT};
use crate::stack::ContainerInfo;
use crate::stack::kube::{KubeStack, Workload, pod_ready, restarts};
use crate::timeline::EventSink;

/// What a Kubernetes fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KubeAction {
    /// Delete the target pods; `force` = grace period 0.
    PodDelete {
        /// Delete with grace period 0 (no SIGTERM wait).
        force: bool,
    },
    /// SIGKILL of each target pod's first container's main process, through the node's Docker
    /// runtime (dockershim), or through the node agent when the run has one: the kubelet sees a
    /// crash and restarts it.
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
/// holds, and waits (until `run_end`) for the workload to be whole again; see [`drive`] for
/// what is recorded and when.
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
    let mut fault = KubeFault {
        env,
        action,
        workload,
        pods: targets,
        hold,
        before: None,
        existing: BTreeSet::new(),
        old_pods: BTreeSet::new(),
        killed: Vec::new(),
        gone_at: Vec::new(),
        since: String::new(),
        verify_by: run_end,
        proven: false,
    };
    drive(&mut fault, record, env.sink, run_end, cancel).await;
}

/// A Kubernetes fault going through its [`Lifecycle`]. Only a scale is held and reverted; the
/// others run their course, and their end (`Completed`) is the workload whole again.
struct KubeFault<'a> {
    env: &'a KubeFaultEnv<'a>,
    action: KubeAction,
    workload: &'a str,
    pods: &'a [ContainerInfo],
    hold: Duration,
    /// The workload before the fault; `None` until looked up, or when that failed.
    before: Option<Workload>,
    /// pod-delete: the pods there before, so that only new ones count as replacements.
    existing: BTreeSet<String>,
    /// rollout-restart: the UIDs of the workload's pods before it, whose exit ends the fault.
    old_pods: BTreeSet<String>,
    /// crash: each target pod, its first container's runtime ID, and (through the agent) the
    /// node it runs on.
    killed: Vec<(ContainerInfo, String, Option<String>)>,
    /// crash through the agent: when each agent's answer that its process was gone came (run
    /// clock, ns; the agent watched it go, so the death was before then).
    gone_at: Vec<u64>,
    /// crash: Docker's `die` events from this time (Unix seconds) on prove the kill.
    since: String,
    /// crash: the proof's deadline, which the kubelet's account of the restart is waited for
    /// until too.
    verify_by: tokio::time::Instant,
    /// Whether the proof came: a fault that runs its course is only followed to its end then.
    proven: bool,
}

fn outcome(result: Result<(), String>) -> Outcome<()> {
    match result {
        Ok(()) => Outcome::Done(()),
        Err(error) => Outcome::Failed { error, acted: None },
    }
}

impl KubeFault<'_> {
    fn pods_api(&self) -> Api<Pod> {
        Api::namespaced(self.env.stack.client().clone(), self.env.stack.namespace())
    }

    async fn delete_pods(&self, force: bool, stamp: &mut Stamp<'_>) -> Outcome<()> {
        let pods = self.pods_api();
        let dp = DeleteParams {
            grace_period_seconds: force.then_some(0),
            ..DeleteParams::default()
        };
        stamp.now(force.then(|| "grace period 0".to_string()));
        for t in self.pods {
            if let Err(e) = pods.delete(&t.name, &dp).await {
                return outcome(Err(format!("deleting pod {}: {e}", t.name)));
            }
        }
        outcome(Ok(()))
    }

    /// The Docker container of each target pod, and since when their `die` events count; with
    /// the agent, each pod's first container ID and node from the API.
    async fn find_containers(&mut self) -> Result<(), String> {
        if self.env.stack.agents().is_some() {
            let pods = self.pods_api();
            for t in self.pods {
                let p = pods
                    .get(&t.name)
                    .await
                    .map_err(|e| format!("reading pod {}: {e}", t.name))?;
                let (id, node) = container_and_node(&p)
                    .ok_or_else(|| format!("pod {} has no running container on a node", t.name))?;
                self.killed.push((t.clone(), id, Some(node)));
            }
            return Ok(());
        }
        for t in self.pods {
            let id = pod_container(self.env.docker, self.env.stack.namespace(), t).await?;
            self.killed.push((t.clone(), id, None));
        }
        // Docker's `die` event of each killed container is the proof, at its own time (the
        // kubelet's restart count, polled from the API, lags it by its ~1 s relist). The event
        // stream is opened after the kill and replays from before it (`since`): a stream opened
        // earlier only subscribes when first polled, which would miss a fast death.
        self.since = (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            .saturating_sub(2))
        .to_string();
        Ok(())
    }

    async fn kill_containers(
        &mut self,
        evidence: &mut Evidence,
        stamp: &mut Stamp<'_>,
    ) -> Outcome<()> {
        let opts = KillContainerOptionsBuilder::default()
            .signal("SIGKILL")
            .build();
        stamp.now(None);
        for (t, id, node) in &self.killed {
            if let (Some(agents), Some(node)) = (self.env.stack.agents(), node) {
                let reply = match agents.kill(node, id).await {
                    Ok(r) => r,
                    Err(e) => {
                        return outcome(Err(format!("SIGKILL of pod {}'s container: {e}", t.name)));
                    }
                };
                if reply.gone {
                    self.gone_at.push(self.env.sink.clock().now_ns());
                }
                evidence.insert(format!("{}.killed_pid", t.name), json!(reply.pid));
                if let Some(ms) = reply.gone_after_ms {
                    evidence.insert(format!("{}.gone_after_ms", t.name), json!(ms));
                }
                evidence.insert(format!("{}.node", t.name), json!(node));
            } else if let Err(e) = self.env.docker.kill_container(id, Some(opts.clone())).await {
                return outcome(Err(format!("SIGKILL of pod {}'s container: {e}", t.name)));
            }
            evidence.insert(
                format!("{}.container_killed", t.name),
                json!(&id[..12.min(id.len())]),
            );
        }
        outcome(Ok(()))
    }

    async fn patch(&self, patch: serde_json::Value) -> Result<(), String> {
        match &self.before {
            Some(w) => patch_workload(self.env, w, patch).await,
            None => Err(format!("workload {} not looked up", self.workload)),
        }
    }

    /// Proof of a pod-delete: each target is gone from the API or marked for deletion (its
    /// uid, so a replacement of the same name, as a StatefulSet makes, does not count).
    async fn prove_deleted(&self, window: &Window<'_>) -> Proof {
        let pods = self.pods_api();
        let names: Vec<(String, String)> = self
            .pods
            .iter()
            .map(|t| (t.name.clone(), t.id.clone()))
            .collect();
        let verify_by = tokio::time::Instant::now() + VERIFY_TIMEOUT;
        let proven = poll_until(verify_by.min(window.run_end), None, || {
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
        match proven {
            Some(()) => now_verified(self.env.sink, None),
            None => Proof::Unverified {
                detail: "no target pod was marked for deletion in time".into(),
            },
        }
    }

    async fn prove_killed(&mut self, window: &Window<'_>) -> Proof {
        if self.env.stack.agents().is_some() {
            // The kubelet's account of the restart is waited for until then too.
            self.verify_by = (tokio::time::Instant::now() + VERIFY_TIMEOUT).min(window.run_end);
            return if self.gone_at.len() == self.killed.len() {
                Proof::Verified {
                    at_ns: self.gone_at.iter().copied().max().unwrap_or_default(),
                    detail: Some("the node agent saw the process gone".into()),
                }
            } else {
                Proof::Unverified {
                    detail: format!(
                        "the node agents saw {} of {} killed processes gone within 5 s",
                        self.gone_at.len(),
                        self.killed.len()
                    ),
                }
            };
        }
        let die_filters = std::collections::HashMap::from([
            ("type", vec!["container".to_string()]),
            ("event", vec!["die".to_string()]),
            (
                "container",
                self.killed
                    .iter()
                    .map(|(_, id, _)| id.clone())
                    .collect::<Vec<_>>(),
            ),
        ]);
        let mut dies = Box::pin(
            self.env.docker.events(Some(
                bollard::query_parameters::EventsOptionsBuilder::new()
                    .since(&self.since)
                    .filters(&die_filters)
                    .build(),
            )),
        );
        self.verify_by = (tokio::time::Instant::now() + VERIFY_TIMEOUT).min(window.run_end);
        let mut died: Vec<u64> = Vec::new();
        while died.len() < self.killed.len() {
            let next =
                tokio::time::timeout_at(self.verify_by, futures::StreamExt::next(&mut dies)).await;
            match next {
                Ok(Some(Ok(e))) => {
                    if let Some(t) = e
                        .time_nano
                        .and_then(|ns| self.env.sink.clock().ns_from_unix_nanos(ns))
                    {
                        died.push(t);
                    }
                }
                Ok(Some(Err(_))) | Ok(None) | Err(_) => break,
            }
        }
        drop(dies);
        if died.len() < self.killed.len() {
            return Proof::Unverified {
                detail: format!(
                    "Docker reported {} of {} killed containers dead in time",
                    died.len(),
                    self.killed.len()
                ),
            };
        }
        Proof::Verified {
            at_ns: died.iter().copied().max().unwrap_or_default(),
            detail: Some("Docker's die event".into()),
        }
    }

    /// Proof of a scale: the controller observed the new spec, and (scaling down) no more Ready
    /// pods than asked for remain. Waited for within the hold.
    async fn prove_scaled(
        &self,
        evidence: &mut Evidence,
        replicas: u32,
        window: &Window<'_>,
    ) -> Proof {
        let Some(before) = &self.before else {
            return Proof::Unverified {
                detail: format!("the workload did not reach {replicas} replicas in time"),
            };
        };
        let env = self.env;
        let want = replicas as i32;
        let hold_until = window.hold_until.unwrap_or(window.run_end);
        let proven = poll_until(
            (tokio::time::Instant::now() + VERIFY_TIMEOUT).min(hold_until),
            Some(window.cancel),
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
                evidence.insert("ready_when_proven".into(), json!(ready));
                now_verified(env.sink, None)
            }
            None => Proof::Unverified {
                detail: format!("the workload did not reach {replicas} replicas in time"),
            },
        }
    }

    async fn prove_rolled(&self, window: &Window<'_>) -> Proof {
        let unverified = || Proof::Unverified {
            detail: "the controller did not take the new template in time".into(),
        };
        let Some(before) = &self.before else {
            return unverified();
        };
        let env = self.env;
        let generation = before.generation;
        let proven = poll_until(
            (tokio::time::Instant::now() + VERIFY_TIMEOUT).min(window.run_end),
            None,
            || async {
                let w = env.stack.workload(&before.name).await.ok()?;
                (w.generation > generation && w.observed_generation >= w.generation).then_some(())
            },
        )
        .await;
        match proven {
            Some(()) => now_verified(env.sink, None),
            None => unverified(),
        }
    }

    /// The end of a pod-delete: as many Ready pods as before, none of them a deleted one, and
    /// the deleted ones' containers exited.
    async fn replaced(
        &self,
        evidence: &mut Evidence,
        run_end: tokio::time::Instant,
    ) -> Option<Back> {
        let before = self.before.as_ref()?;
        let env = self.env;
        let gone: BTreeSet<String> = self.pods.iter().map(|t| t.id.clone()).collect();
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
        let Some(replacements) = back else {
            evidence.insert("replacement_ready".into(), json!(false));
            return None;
        };
        let t = env.sink.clock().now_ns();
        evidence.insert("replacement_ready_ms".into(), json!(t as f64 / 1e6));
        // The API's own account, for comparison: the replacements' Ready condition times
        // (RFC 3339 with whole seconds: the API server truncates them).
        let pods = self.pods_api();
        let mut condition_at = Vec::new();
        for name in &replacements {
            if self.existing.contains(name) {
                continue;
            }
            if let Ok(p) = pods.get(name).await
                && let Some(at) = ready_since(&p)
            {
                condition_at.push(json!({ "pod": name, "ready_condition_at": at }));
            }
        }
        evidence.insert("ready_pods_after".into(), json!(replacements));
        evidence.insert("replacements_ready_condition".into(), json!(condition_at));
        // The fault ends when the deleted pods are gone too: a graceful deletion keeps a pod
        // (preStop, then SIGTERM and its drain) after its replacement is Ready, and what it
        // fails on its way out belongs to the fault's window.
        let gone_at = poll_until(run_end, None, || async {
            still_running(env.stack, &gone)
                .await
                .ok()?
                .is_empty()
                .then_some(())
        })
        .await;
        match gone_at {
            Some(()) => Some(Back::Completed(t.max(env.sink.clock().now_ns()))),
            None => {
                evidence.insert("deleted_pods_gone".into(), json!(false));
                None
            }
        }
    }

    /// The end of a crash: every target Ready again after its restart. The kubelet's account
    /// of the restart (a restart counted, or the container shown terminated) is evidence first.
    async fn restarted(
        &self,
        evidence: &mut Evidence,
        run_end: tokio::time::Instant,
    ) -> Option<Back> {
        let pods = self.pods_api();
        let targets_before: Vec<(String, i64)> = self
            .pods
            .iter()
            .map(|t| (t.name.clone(), t.restart_count))
            .collect();
        let proven = poll_until(self.verify_by, None, || {
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
                    counts.push((name.clone(), terminated));
                }
                Some(counts)
            }
        })
        .await;
        match proven {
            // What the kubelet said first: the container terminated, or already restarted (its
            // count, once the pod is Ready again, is recorded below).
            Some(seen) => {
                for (name, terminated) in seen {
                    evidence.insert(format!("{name}.kubelet_saw_terminated"), json!(terminated));
                }
            }
            None => {
                evidence.insert("kubelet_restart_seen".into(), json!(false));
            }
        }
        let back = poll_until(run_end, None, || {
            let pods = pods.clone();
            let before = targets_before.clone();
            async move {
                let mut counts = Vec::new();
                for (name, n0) in &before {
                    let p = pods.get(name).await.ok()?;
                    if !(pod_ready(&p) && restarts(&p) > *n0) {
                        return None;
                    }
                    counts.push((name.clone(), restarts(&p)));
                }
                Some(counts)
            }
        })
        .await;
        back.map(|counts| {
            for (name, n) in counts {
                evidence.insert(format!("{name}.restart_count"), json!(n));
            }
            Back::Completed(self.env.sink.clock().now_ns())
        })
    }

    /// The end of a rollout restart: every pod at the new template and available, and every
    /// pod there before exited ([`rollout_ended`]).
    async fn rolled_out(&self, run_end: tokio::time::Instant) -> Option<Back> {
        let before = self.before.as_ref()?;
        let env = self.env;
        let old = &self.old_pods;
        poll_until(run_end, None, || async {
            let w = env.stack.workload(&before.name).await.ok()?;
            if !w.rolled_out() {
                return None;
            }
            let left = still_running(env.stack, old).await.ok()?;
            rollout_ended(&w, &left).then_some(())
        })
        .await
        .map(|()| Back::Completed(env.sink.clock().now_ns()))
    }

    /// Back after a scale's revert: as many Ready replicas as before (bounded: the run's end or
    /// [`VERIFY_TIMEOUT`] after the revert, whichever is later).
    async fn scaled_back(&self, run_end: tokio::time::Instant) -> Option<Back> {
        let before = self.before.as_ref()?;
        let env = self.env;
        let bound = run_end.max(tokio::time::Instant::now() + VERIFY_TIMEOUT);
        poll_until(bound, None, || async {
            let w = env.stack.workload(&before.name).await.ok()?;
            (w.ready >= before.replicas).then_some(())
        })
        .await
        .map(|()| Back::Seen(env.sink.clock().now_ns()))
    }
}

fn now_verified(sink: &EventSink, detail: Option<String>) -> Proof {
    Proof::Verified {
        at_ns: sink.clock().now_ns(),
        detail,
    }
}

impl Lifecycle for KubeFault<'_> {
    /// Nothing: a scale is reverted to the replica count read before it.
    type Undo = ();

    /// The pods, or `kind/name` of a workload acted on as a whole; none before the workload was
    /// read.
    fn targets(&self) -> Vec<String> {
        match &self.before {
            None => vec![],
            Some(w) if self.action.on_workload() => {
                vec![format!("{}/{}", w.kind.to_lowercase(), w.name)]
            }
            Some(_) => self.pods.iter().map(|c| c.name.clone()).collect(),
        }
    }

    /// A scale's hold counts from its `Applied` stage, so the controller's work proving it is
    /// part of the planned duration.
    fn hold(&self) -> Option<Hold> {
        self.action.holds().then_some(Hold {
            duration: self.hold,
            from: HoldFrom::Applied,
        })
    }

    /// Reads the workload as it is before the fault; for a pod-delete, lists the pods there
    /// before, and for a crash, finds each target's Docker container.
    async fn prepare(&mut self, evidence: &mut Evidence) -> Result<(), String> {
        let before = self
            .env
            .stack
            .workload(self.workload)
            .await
            .map_err(|e| e.to_string())?;
        evidence.insert("replicas_before".into(), json!(before.replicas));
        self.before = Some(before);
        match self.action {
            KubeAction::PodDelete { .. } => {
                self.existing = self
                    .env
                    .stack
                    .containers()
                    .await
                    .map(|c| c.into_iter().map(|c| c.name).collect())
                    .unwrap_or_default();
                Ok(())
            }
            KubeAction::Crash => self.find_containers().await,
            // Its end waits for these to be gone.
            KubeAction::RolloutRestart => {
                self.old_pods = self
                    .env
                    .stack
                    .containers()
                    .await
                    .map(|c| workload_pods(&c, self.workload).into_keys().collect())
                    .map_err(|e| e.to_string())?;
                Ok(())
            }
            KubeAction::Scale { .. } => Ok(()),
        }
    }

    async fn apply(&mut self, evidence: &mut Evidence, stamp: &mut Stamp<'_>) -> Outcome<()> {
        match self.action {
            KubeAction::PodDelete { force } => self.delete_pods(force, stamp).await,
            KubeAction::Crash => self.kill_containers(evidence, stamp).await,
            KubeAction::Scale { replicas } => {
                let was = self.before.as_ref().map_or(0, |w| w.replicas);
                stamp.now(Some(format!("{was} -> {replicas} replicas")));
                outcome(
                    self.patch(json!({ "spec": { "replicas": replicas } }))
                        .await,
                )
            }
            KubeAction::RolloutRestart => {
                let restarted_at = time::OffsetDateTime::now_utc()
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default();
                stamp.now(None);
                let patch = json!({ "spec": { "template": { "metadata": { "annotations": { "kubectl.kubernetes.io/restartedAt": restarted_at } } } } });
                outcome(self.patch(patch).await)
            }
        }
    }

    async fn prove(&mut self, evidence: &mut Evidence, window: &Window<'_>) -> Proof {
        let proof = match self.action {
            KubeAction::PodDelete { .. } => self.prove_deleted(window).await,
            KubeAction::Crash => self.prove_killed(window).await,
            KubeAction::Scale { replicas } => self.prove_scaled(evidence, replicas, window).await,
            KubeAction::RolloutRestart => self.prove_rolled(window).await,
        };
        self.proven = matches!(proof, Proof::Verified { .. });
        proof
    }

    async fn revert(&mut self, _: &mut Evidence, (): ()) -> Reverted {
        let Some(replicas) = self.before.as_ref().map(|w| w.replicas) else {
            return Reverted::Done;
        };
        match self
            .patch(json!({ "spec": { "replicas": replicas } }))
            .await
        {
            Ok(()) => Reverted::Done,
            Err(e) => Reverted::Failed(e),
        }
    }

    async fn back(&mut self, evidence: &mut Evidence, window: &Window<'_>) -> Option<Back> {
        match self.action {
            KubeAction::Scale { .. } => self.scaled_back(window.run_end).await,
            _ if !self.proven => None,
            KubeAction::PodDelete { .. } => self.replaced(evidence, window.run_end).await,
            KubeAction::Crash => self.restarted(evidence, window.run_end).await,
            KubeAction::RolloutRestart => self.rolled_out(window.run_end).await,
        }
    }
}

/// `workload`'s pods in `listed`, UID → name (terminating ones included: the API lists a pod
/// until the kubelet deletes it).
pub fn workload_pods(listed: &[ContainerInfo], workload: &str) -> BTreeMap<String, String> {
    listed
        .iter()
        .filter(|p| p.service == workload)
        .map(|p| (p.id.clone(), p.name.clone()))
        .collect()
}

/// A rollout's end: the controller reports it done (every replica at the template, available,
/// no more than asked) and none of the workload's pods before it is still running
/// (`left_running`, from [`still_running`]). The controller counts a rollout done while old
/// pods still terminate (a preStop hook, then SIGTERM and their drain); requests they fail on
/// their way out belong to the rollout.
pub fn rollout_ended(w: &Workload, left_running: &BTreeSet<String>) -> bool {
    w.rolled_out() && left_running.is_empty()
}

/// Whether every container of the pod has exited: it serves nothing any more. The API keeps
/// listing such a pod until the kubelet's next housekeeping deletes it (up to 10 s later on
/// the local cluster), which is not part of a fault's effect.
///
/// A pod being deleted also counts once none of its containers is running (each terminated
/// or waiting): the kubelet removes a deleted pod's containers as soon as they exit, and when
/// it removed one before it had recorded the exit, the 1.20 kubelet reports the container as
/// waiting (`ContainerCreating`) until the pod leaves the API (25 s later in one run seen). A
/// deleted pod's containers are never started again.
pub fn exited(p: &Pod) -> bool {
    let deleted = p.metadata.deletion_timestamp.is_some();
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .is_some_and(|cs| {
            !cs.is_empty()
                && cs.iter().all(|c| {
                    c.state
                        .as_ref()
                        .is_some_and(|s| s.terminated.is_some() || (deleted && s.running.is_none()))
                })
        })
}

/// The names of the pods with these UIDs that are still listed with a container not exited
/// (by UID: a StatefulSet's replacement takes the old pod's name). One list of the namespace.
pub async fn still_running(
    stack: &KubeStack,
    uids: &BTreeSet<String>,
) -> Result<BTreeSet<String>, String> {
    let pods: Api<Pod> = Api::namespaced(stack.client().clone(), stack.namespace());
    let listed = pods
        .list(&Default::default())
        .await
        .map_err(|e| format!("listing pods: {e}"))?;
    Ok(listed
        .items
        .iter()
        .filter(|p| p.metadata.uid.as_ref().is_some_and(|u| uids.contains(u)) && !exited(p))
        .map(|p| p.metadata.name.clone().unwrap_or_default())
        .collect())
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

/// The runtime ID of the pod's first container (`docker://ID` → `ID`) and its node, from the
/// API; `None` until it runs on a node.
fn container_and_node(p: &Pod) -> Option<(String, String)> {
    let node = p.spec.as_ref()?.node_name.clone()?;
    let first = &p.spec.as_ref()?.containers.first()?.name;
    let id = p
        .status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|c| &c.name == first)?
        .container_id
        .as_ref()?;
    let id = id.split_once("://").map_or(id.as_str(), |(_, id)| id);
    Some((id.to_string(), node))
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
            "crash on Kubernetes needs the node's Docker runtime (dockershim, as the local cluster of scripts/local-kube.sh has), and Docker did not answer: {e}; on other clusters run it through the node agent (`stack.kubernetes.agent`), or use pod-delete"
        ))?;
    list.into_iter()
        .min_by_key(|c| c.created.unwrap_or(0))
        .and_then(|c| c.id)
        .ok_or_else(|| format!(
            "no Docker container of pod {} on this host: crash on Kubernetes needs the node's Docker runtime (dockershim, the local cluster); on other clusters run it through the node agent (`stack.kubernetes.agent`), or use pod-delete",
            pod.name
        ))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway(updated: i32, current: i32) -> Workload {
        Workload {
            kind: "Deployment",
            name: "gateway".into(),
            selector: Default::default(),
            replicas: 2,
            ready: 2,
            available: 2,
            updated,
            current,
            generation: 3,
            observed_generation: 3,
        }
    }

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// The Deployment's status says done (2 of 2 updated and available) while old pod `a`
    /// still runs its preStop hook or drain: the rollout has not ended, so its window still
    /// covers what `a` fails on SIGTERM.
    #[test]
    fn a_rollout_ends_only_when_the_old_pods_have_exited() {
        assert!(!rollout_ended(&gateway(1, 3), &names(&["gw-a"])));
        assert!(!rollout_ended(&gateway(2, 2), &names(&["gw-a"])));
        assert!(rollout_ended(&gateway(2, 2), &names(&[])));
    }

    /// A pod as the API lists it: containers in `states` (`terminated`, `running` or
    /// `waiting`), deleted or not.
    fn pod(states: &[&str], deleted: bool) -> Pod {
        let statuses: Vec<serde_json::Value> = states
            .iter()
            .map(|state| {
                let state = match *state {
                    "terminated" => json!({ "terminated": { "exitCode": 0 } }),
                    "running" => json!({ "running": {} }),
                    _ => json!({ "waiting": { "reason": "ContainerCreating" } }),
                };
                json!({ "name": "c", "image": "i", "imageID": "", "ready": false,
                        "restartCount": 0, "state": state })
            })
            .collect();
        let mut metadata = json!({ "name": "gw-a" });
        if deleted {
            metadata["deletionTimestamp"] = json!("2026-12-07T06:31:15Z");
        }
        serde_json::from_value(json!({
            "metadata": metadata,
            "status": { "containerStatuses": statuses }
        }))
        .unwrap()
    }

    #[test]
    fn a_pod_has_exited_when_every_container_has_terminated() {
        for deleted in [false, true] {
            assert!(exited(&pod(&["terminated", "terminated"], deleted)));
            assert!(!exited(&pod(&["terminated", "running"], deleted)));
            assert!(!exited(&pod(&[], deleted)), "no container yet: not exited");
        }
    }

    /// The 1.20 kubelet's report of a deleted pod whose container it removed before it had
    /// recorded the exit (seen on the local cluster: a new-version gateway pod replaced by the
    /// rollback was listed `waiting: ContainerCreating`, deleted, for 25 s after its container
    /// exited, and under the old rule the rollout's window ran on past the load: exit 4 in 3
    /// of 11 runs). Not running, never started again: exited. A pod not being deleted whose
    /// container waits (starting, or in a crash loop) is another matter: it may run.
    #[test]
    fn a_deleted_pod_whose_containers_wait_has_exited() {
        assert!(exited(&pod(&["waiting"], true)));
        assert!(exited(&pod(&["terminated", "waiting"], true)));
        assert!(!exited(&pod(&["waiting", "running"], true)));
        assert!(!exited(&pod(&["waiting"], false)));
    }
}
