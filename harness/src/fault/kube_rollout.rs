//! `rollout` on Kubernetes: a deploy under load. The target Deployment's pod template gets the
//! new version (`set`: its containers' declared environment changed, as `kubectl set env` does)
//! and the Deployment controller replaces the pods by `strategy`:
//!
//! * `rolling`: `RollingUpdate` with `maxSurge: 1, maxUnavailable: 0`: one new pod at a time,
//!   an old one removed once it is Ready (as compose's rolling);
//! * `recreate`: `Recreate`: every old pod removed before the new set starts;
//! * `blue-green`: `RollingUpdate` with `maxSurge: 100%, maxUnavailable: 0`: a full new set
//!   started at once, old pods removed as new ones become available (the controller's nearest
//!   to compose's blue-green, which waits for the whole new set first).
//!
//! With `then: rollback`, the template read before the deploy is put back once the new
//! version is out, as `kubectl rollout undo` does (it copies the previous ReplicaSet's
//! template), and rolled out the same way. The Deployment's own strategy is restored at the
//! end (a strategy change starts no rollout).
//!
//! Proven from the API, as compose's rollout is proven from Docker's events: each rollout
//! observed by the controller and complete (every replica at the new template, available, no
//! old pod left), with every pod there before gone. A deploy still rolling when the run ends
//! is not proven (its SLOs are inconclusive). Its `during=` window runs from the patch to the
//! last rollout's end (`Completed`). Never reverted: a deploy runs its course.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::kube::{rollout_ended, still_running, workload_pods};
use super::lifecycle::{Back, Hold, Lifecycle, Outcome, Proof, Reverted, Stamp, Window, drive};
use super::rollout::Strategy;
use super::{Evidence, FaultRecord};
use crate::stack::kube::KubeStack;
use crate::timeline::EventSink;

/// How often the API is polled while a rollout runs.
const POLL: Duration = Duration::from_millis(200);

/// What a Kubernetes rollout deploys, and how.
#[derive(Debug, Clone, Copy)]
pub struct KubeRolloutPlan<'a> {
    /// How old pods are replaced.
    pub strategy: Strategy,
    /// Declared environment variables of the new version, name → value.
    pub set: &'a BTreeMap<String, String>,
    /// Then put the previous template back, the same way.
    pub rollback: bool,
}

/// Deploys `plan` to the Deployment `workload` of `stack` under the run's load; see the module
/// documentation for what is recorded. Errors are recorded in `record`, never returned.
pub async fn run_kube_rollout(
    stack: &KubeStack,
    sink: &EventSink,
    record: &mut FaultRecord,
    plan: &KubeRolloutPlan<'_>,
    workload: &str,
    run_end: tokio::time::Instant,
    cancel: &CancellationToken,
) {
    let mut fault = KubeRollout {
        stack,
        sink,
        plan: *plan,
        workload,
        before: None,
        done_ns: None,
    };
    drive(&mut fault, record, sink, run_end, cancel).await;
}

/// The Deployment as it was before the deploy.
struct Before {
    template: Value,
    strategy: Value,
    /// `metadata.generation`: the deploy's spec is the first above it.
    generation: i64,
    /// Its pods, UID → name.
    pods: BTreeMap<String, String>,
}

struct KubeRollout<'a> {
    stack: &'a KubeStack,
    sink: &'a EventSink,
    plan: KubeRolloutPlan<'a>,
    workload: &'a str,
    before: Option<Before>,
    /// When the last rollout was seen complete (run clock, ns).
    done_ns: Option<u64>,
}

/// The `spec.strategy` that replaces pods as `strategy` says.
fn strategy_spec(strategy: Strategy) -> Value {
    match strategy {
        Strategy::Recreate => json!({ "type": "Recreate", "rollingUpdate": null }),
        Strategy::Rolling => json!({
            "type": "RollingUpdate",
            "rollingUpdate": { "maxSurge": 1, "maxUnavailable": 0 }
        }),
        Strategy::BlueGreen => json!({
            "type": "RollingUpdate",
            "rollingUpdate": { "maxSurge": "100%", "maxUnavailable": 0 }
        }),
    }
}

/// The pod template of the new version: each container's declared variable of `set` given its
/// new value. Errors: a variable no container of the template declares (the new version would
/// be the old one, and a zero-downtime gate would pass a deploy that never happened). With no
/// `set`, the template is marked restarted (as `kubectl rollout restart`): the same version,
/// new pods.
fn new_template(template: &Value, set: &BTreeMap<String, String>) -> Result<Value, String> {
    let mut t = template.clone();
    let mut used = BTreeSet::new();
    if let Some(containers) = t
        .pointer_mut("/spec/containers")
        .and_then(Value::as_array_mut)
    {
        for c in containers {
            let Some(env) = c.get_mut("env").and_then(Value::as_array_mut) else {
                continue;
            };
            for var in env {
                let Some(name) = var.get("name").and_then(Value::as_str).map(str::to_string) else {
                    continue;
                };
                if let Some(value) = set.get(&name) {
                    *var = json!({ "name": name, "value": value });
                    used.insert(name);
                }
            }
        }
    }
    let unknown: Vec<&str> = set
        .keys()
        .filter(|k| !used.contains(*k))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "set {}: no container of the Deployment declares {}: the new version would be the old one",
            unknown.join(", "),
            if unknown.len() == 1 { "it" } else { "them" }
        ));
    }
    if set.is_empty() {
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        t["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] = json!(now);
    }
    Ok(t)
}

impl KubeRollout<'_> {
    fn api(&self) -> Api<Deployment> {
        Api::namespaced(self.stack.client().clone(), self.stack.namespace())
    }

    async fn patch(&self, patch: Value) -> Result<(), String> {
        self.api()
            .patch(
                self.workload,
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
            .map(|_| ())
            .map_err(|e| format!("patching Deployment {}: {e}", self.workload))
    }

    /// The Deployment's pods, UID → name.
    async fn pods(&self) -> Result<BTreeMap<String, String>, String> {
        let listed = self.stack.containers().await.map_err(|e| e.to_string())?;
        Ok(workload_pods(&listed, self.workload))
    }

    /// Waits (until `until`) for the rollout of the spec just patched, whose generation is
    /// above `generation`: complete, and none of `gone` (pods, UID → name) still running.
    /// Returns the other pods then (the new version's).
    async fn rolled_out(
        &self,
        generation: i64,
        gone: &BTreeMap<String, String>,
        until: tokio::time::Instant,
        cancel: &CancellationToken,
    ) -> Result<BTreeMap<String, String>, String> {
        let gone_uids: BTreeSet<String> = gone.keys().cloned().collect();
        loop {
            let w = self
                .stack
                .workload(self.workload)
                .await
                .map_err(|e| e.to_string())?;
            let left = still_running(self.stack, &gone_uids).await?;
            if w.generation > generation && rollout_ended(&w, &left) {
                let mut pods = self.pods().await?;
                pods.retain(|uid, _| !gone.contains_key(uid));
                return Ok(pods);
            }
            if tokio::time::Instant::now() >= until || cancel.is_cancelled() {
                return Err(format!(
                    "the rollout was not complete when the run ended (generation {} of {} observed, above {generation} asked; {} of {} pods at the new template, {} available, {} ready, {} in all; still running from before: {})",
                    w.observed_generation,
                    w.generation,
                    w.updated,
                    w.replicas,
                    w.available,
                    w.ready,
                    w.current,
                    if left.is_empty() {
                        "none".to_string()
                    } else {
                        left.iter().cloned().collect::<Vec<_>>().join(", ")
                    }
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The deploy (and the rollback) followed to the end; the error says where it stopped.
    async fn follow(&mut self, evidence: &mut Evidence, window: &Window<'_>) -> Result<(), String> {
        let before = self.before.as_ref().ok_or("the Deployment was not read")?;
        let (template, strategy, generation, old) = (
            before.template.clone(),
            before.strategy.clone(),
            before.generation,
            before.pods.clone(),
        );
        let new = self
            .rolled_out(generation, &old, window.run_end, window.cancel)
            .await?;
        evidence.insert("new_pods".into(), json!(new.values().collect::<Vec<_>>()));
        if self.plan.rollback {
            let w = self
                .stack
                .workload(self.workload)
                .await
                .map_err(|e| e.to_string())?;
            self.sink.note(format!(
                "{}: rolling back: the previous template replaces pods {}",
                self.workload,
                new.values().cloned().collect::<Vec<_>>().join(", ")
            ));
            // Every pod listed now is the previous rollout's: the new version's, and old ones
            // the API still lists after their containers exited.
            let listed = self.pods().await?;
            self.patch(json!({ "spec": { "template": undo_patch(&template) } }))
                .await?;
            let back = self
                .rolled_out(w.generation, &listed, window.run_end, window.cancel)
                .await?;
            evidence.insert(
                "rolled_back_pods".into(),
                json!(back.values().collect::<Vec<_>>()),
            );
        }
        self.done_ns = Some(self.sink.clock().now_ns());
        // The Deployment's own strategy again; a strategy change starts no rollout.
        self.patch(json!({ "spec": { "strategy": restore_strategy(&strategy) } }))
            .await
    }
}

/// A merge patch that puts `template` back over the deployed one: the deploy only changed
/// environment values (arrays, which a merge patch replaces whole) and may have added the
/// restart annotation, which is removed unless the template had it.
fn undo_patch(template: &Value) -> Value {
    let mut t = template.clone();
    if t.pointer("/metadata/annotations/kubectl.kubernetes.io~1restartedAt")
        .is_none()
    {
        t["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] = Value::Null;
    }
    t
}

/// A merge patch that puts `strategy` back: a `Recreate` strategy must have no
/// `rollingUpdate`, which the deploy may have set.
fn restore_strategy(strategy: &Value) -> Value {
    let mut s = strategy.clone();
    if s.get("rollingUpdate").is_none() {
        s["rollingUpdate"] = Value::Null;
    }
    s
}

impl Lifecycle for KubeRollout<'_> {
    /// Nothing: a deploy is never reverted.
    type Undo = ();

    fn targets(&self) -> Vec<String> {
        vec![format!("deployment/{}", self.workload)]
    }

    fn hold(&self) -> Option<Hold> {
        None
    }

    /// Reads the Deployment's template, strategy and pods. Errors: the workload is not a
    /// Deployment (a StatefulSet rolls its pods in order and has no surge), or cannot be read.
    async fn prepare(&mut self, evidence: &mut Evidence) -> Result<(), String> {
        let d = self
            .api()
            .get_opt(self.workload)
            .await
            .map_err(|e| format!("reading Deployment {}: {e}", self.workload))?;
        let Some(d) = d else {
            return Err(format!(
                "`{}` is not a Deployment: a rollout on Kubernetes deploys a Deployment",
                self.workload
            ));
        };
        let spec = d.spec.unwrap_or_default();
        let template = serde_json::to_value(&spec.template).map_err(|e| e.to_string())?;
        let strategy =
            serde_json::to_value(spec.strategy.unwrap_or_default()).map_err(|e| e.to_string())?;
        let pods = self.pods().await?;
        evidence.insert("strategy".into(), json!(self.plan.strategy.name()));
        evidence.insert("set".into(), json!(self.plan.set));
        evidence.insert("replicas_before".into(), json!(spec.replicas.unwrap_or(1)));
        evidence.insert("old_pods".into(), json!(pods.values().collect::<Vec<_>>()));
        self.before = Some(Before {
            template,
            strategy,
            generation: d.metadata.generation.unwrap_or(0),
            pods,
        });
        Ok(())
    }

    async fn apply(&mut self, evidence: &mut Evidence, stamp: &mut Stamp<'_>) -> Outcome<()> {
        let Some(before) = &self.before else {
            return Outcome::Failed {
                error: "the Deployment was not read".into(),
                acted: None,
            };
        };
        let template = match new_template(&before.template, self.plan.set) {
            Ok(t) => t,
            Err(error) => return Outcome::Failed { error, acted: None },
        };
        let strategy = strategy_spec(self.plan.strategy);
        evidence.insert("deployment_strategy".into(), strategy.clone());
        stamp.now(Some(format!(
            "{} rollout of {} pod(s)",
            self.plan.strategy.name(),
            before.pods.len()
        )));
        match self
            .patch(json!({ "spec": { "strategy": strategy, "template": template } }))
            .await
        {
            Ok(()) => Outcome::Done(()),
            Err(error) => Outcome::Failed { error, acted: None },
        }
    }

    /// The deploy (and its rollback) complete, every pod there before gone; waited for until
    /// the run's end.
    async fn prove(&mut self, evidence: &mut Evidence, window: &Window<'_>) -> Proof {
        match self.follow(evidence, window).await {
            Ok(()) => Proof::Verified {
                at_ns: self.done_ns.unwrap_or_else(|| self.sink.clock().now_ns()),
                detail: Some(format!(
                    "the controller rolled every pod out{}; none of the old ones is left",
                    if self.plan.rollback { ", and back" } else { "" }
                )),
            },
            Err(detail) => {
                evidence.insert("rollout_error".into(), json!(detail));
                Proof::Unverified { detail }
            }
        }
    }

    async fn revert(&mut self, _: &mut Evidence, (): ()) -> Reverted {
        Reverted::Done
    }

    async fn back(&mut self, _: &mut Evidence, _: &Window<'_>) -> Option<Back> {
        self.done_ns.map(Back::Completed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> Value {
        json!({
            "metadata": { "labels": { "app": "gateway" } },
            "spec": { "containers": [{
                "name": "gateway",
                "env": [
                    { "name": "GATEWAY_VERSION", "value": "1" },
                    { "name": "GATEWAY_GRACEFUL_SHUTDOWN", "value": "on" }
                ]
            }]}
        })
    }

    #[test]
    fn the_new_template_changes_only_the_declared_variables_it_sets() {
        let set = BTreeMap::from([("GATEWAY_VERSION".to_string(), "2".to_string())]);
        let t = new_template(&template(), &set).unwrap();
        assert_eq!(t["spec"]["containers"][0]["env"][0]["value"], "2");
        assert_eq!(t["spec"]["containers"][0]["env"][1]["value"], "on");
        assert!(t.pointer("/metadata/annotations").is_none(), "{t}");
        let unknown = BTreeMap::from([("GATEWAY_VERSON".to_string(), "2".to_string())]);
        let e = new_template(&template(), &unknown).unwrap_err();
        assert!(
            e.contains("GATEWAY_VERSON") && e.contains("declares it"),
            "{e}"
        );
    }

    #[test]
    fn an_empty_set_restarts_the_pods_and_the_rollback_removes_the_mark() {
        let t = new_template(&template(), &BTreeMap::new()).unwrap();
        assert!(
            t.pointer("/metadata/annotations/kubectl.kubernetes.io~1restartedAt")
                .is_some()
        );
        let undo = undo_patch(&template());
        assert_eq!(
            undo["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"],
            Value::Null
        );
    }

    #[test]
    fn strategies_map_onto_the_deployment_controller() {
        assert_eq!(strategy_spec(Strategy::Recreate)["type"], "Recreate");
        assert_eq!(
            strategy_spec(Strategy::Rolling)["rollingUpdate"],
            json!({ "maxSurge": 1, "maxUnavailable": 0 })
        );
        assert_eq!(
            strategy_spec(Strategy::BlueGreen)["rollingUpdate"]["maxSurge"],
            "100%"
        );
        let recreate = json!({ "type": "Recreate" });
        assert_eq!(restore_strategy(&recreate)["rollingUpdate"], Value::Null);
    }
}
