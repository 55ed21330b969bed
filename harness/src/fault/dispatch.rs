//! The two stacks a fault is scheduled on ([`super::schedule`]): how each lists targets, and
//! which fault kind runs which action there.

use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use chaosgate_proxy::netns_rules::SystemRunner;
use tokio::sync::broadcast;

use super::FaultRecord;
use super::container::{ContainerFaultEnv, run_container_fault};
use super::exec::Exec;
use super::kube::{KubeAction, KubeFaultEnv, run_kube_fault};
use super::kube_rollout::{KubeRolloutPlan, run_kube_rollout};
use super::network::{NetworkAction, NetworkFaultEnv, Runners, run_network_fault};
use super::resource::{ResourceAction, ResourceFaultEnv, run_resource_fault};
use super::rollout::{RolloutEnv, RolloutPlan, run_rollout};
use super::schedule::{FaultBackend, RunWindow, pick_targets};
use crate::plan::PlannedFault;
use crate::stack::ContainerInfo;
use crate::stack::compose::ComposeScaler;
use crate::stack::docker::project_containers;
use crate::stack::events::ContainerEvent;
use crate::stack::kube::KubeStack;
use crate::timeline::{EventKind, FaultStage};

/// A compose project: containers listed and acted on through Docker.
pub struct ComposeFaults {
    /// The Docker API client.
    pub docker: Docker,
    /// The compose project name.
    pub project: String,
    /// The project's Docker events, which prove container faults and rollouts.
    pub events: broadcast::Sender<ContainerEvent>,
    /// The run's ID and seed: network faults name their proxies and rules by the one and draw
    /// from the other.
    pub run: (String, u64),
    /// Runs compose for a rollout's new containers.
    pub scaler: ComposeScaler,
}

impl FaultBackend for ComposeFaults {
    fn refuses(&self, _: &PlannedFault) -> Option<String> {
        None
    }

    async fn look_up(&self) -> Result<Vec<ContainerInfo>, String> {
        project_containers(&self.docker, &self.project)
            .await
            .map_err(|e| e.to_string())
    }

    fn times_look_up(&self) -> bool {
        true
    }

    fn still_current(
        &self,
        f: &PlannedFault,
        looked_up: &Result<Vec<ContainerInfo>, String>,
    ) -> bool {
        let Ok(containers) = looked_up else {
            return false;
        };
        match f.action {
            Exec::Container(_) | Exec::Rollout { .. } | Exec::Kube(_) | Exec::Resource(_) => {
                super::still_current(&pick_targets(containers, &f.service, &f.labels, f.pick))
            }
            // Peers' addresses come from the listing too.
            Exec::Network(_) => super::still_current(containers),
        }
    }

    fn no_target(&self, f: &PlannedFault) -> Option<String> {
        Some(format!(
            "{} has no running container",
            f.target_text("service")
        ))
    }

    async fn act(
        &self,
        f: &PlannedFault,
        record: &mut FaultRecord,
        targets: Vec<ContainerInfo>,
        containers: Vec<ContainerInfo>,
        hold: Duration,
        run: &RunWindow,
    ) {
        let (run_id, seed) = &self.run;
        match &f.action {
            Exec::Container(action) => {
                let env = ContainerFaultEnv {
                    docker: &self.docker,
                    sink: &run.sink,
                    events: &self.events,
                };
                run_container_fault(
                    &env,
                    record,
                    *action,
                    &targets,
                    f.duration,
                    run.run_end,
                    &run.cancel,
                )
                .await;
            }
            Exec::Network(action) => {
                network_fault(
                    &self.docker,
                    (run_id, *seed),
                    run,
                    record,
                    action,
                    (&targets, &containers),
                    Runners::Here(Arc::new(SystemRunner::default())),
                    hold,
                )
                .await;
            }
            Exec::Resource(action) => {
                resource_fault(&self.docker, run, record, action, &targets, hold).await;
            }
            Exec::Kube(_) => {
                record.error = Some(format!(
                    "action `{}` needs a Kubernetes stack",
                    f.kind.name()
                ));
            }
            Exec::Rollout {
                strategy,
                set,
                rollback,
            } => {
                let env = RolloutEnv {
                    docker: &self.docker,
                    project: &self.project,
                    sink: &run.sink,
                    events: &self.events,
                    scaler: &self.scaler,
                };
                let plan = RolloutPlan {
                    strategy: *strategy,
                    set,
                    rollback: *rollback,
                };
                run_rollout(&env, record, &plan, &targets, &run.cancel).await;
            }
        }
    }
}

/// A Kubernetes namespace: pods listed and acted on through the API (and, for `crash`, loss
/// and partition, through the node's Docker runtime on this host, or the run's node agents).
pub struct KubeFaults {
    /// The run's stack.
    pub stack: KubeStack,
    /// The node's Docker daemon.
    pub docker: Docker,
    /// The run's ID and seed, as for [`ComposeFaults::run`].
    pub run: (String, u64),
}

/// The Kubernetes fault `action` is, `None` for the faults that run on Kubernetes as on compose
/// (proxy faults, loss, partition and DNS failures in the pods' network namespaces; resource
/// faults in their containers' cgroups), or why it does not run there.
fn kube_action(f: &PlannedFault) -> Result<Option<KubeAction>, String> {
    match &f.action {
        Exec::Kube(a) => Ok(Some(*a)),
        Exec::Network(
            NetworkAction::Proxy { .. }
            | NetworkAction::Loss { .. }
            | NetworkAction::Partition { .. }
            | NetworkAction::Dns { .. },
        ) => Ok(None),
        Exec::Resource(_) | Exec::Rollout { .. } => Ok(None),
        Exec::Network(NetworkAction::Isolate) | Exec::Container(_) => Err(format!(
            "action `{}` does not run on Kubernetes",
            f.kind.name()
        )),
    }
}

impl FaultBackend for KubeFaults {
    /// Also a fault that runs in the harness's process ([`Exec::in_harness`]) on a run with
    /// the node agent (validation refuses it first; this stands for plans made otherwise).
    fn refuses(&self, f: &PlannedFault) -> Option<String> {
        if let Err(e) = kube_action(f) {
            return Some(e);
        }
        (self.stack.agents().is_some() && f.action.in_harness()).then(|| {
            format!(
                "action `{}` runs inside the harness, in the pods' namespaces, and not through the node agent: run it on the local cluster (the node's Docker runtime), without `agent`",
                f.kind.name()
            )
        })
    }

    async fn look_up(&self) -> Result<Vec<ContainerInfo>, String> {
        self.stack.containers().await.map_err(|e| e.to_string())
    }

    fn times_look_up(&self) -> bool {
        false
    }

    /// Always: a pod has no host PID to check, and a pod replaced since is the fault's own
    /// steps' business (they look pods up by name and uid).
    fn still_current(&self, _: &PlannedFault, _: &Result<Vec<ContainerInfo>, String>) -> bool {
        true
    }

    fn no_target(&self, f: &PlannedFault) -> Option<String> {
        let on_workload = matches!(kube_action(f), Ok(Some(a)) if a.on_workload())
            || matches!(f.action, Exec::Rollout { .. });
        (!on_workload).then(|| format!("{} has no running pod", f.target_text("workload")))
    }

    async fn act(
        &self,
        f: &PlannedFault,
        record: &mut FaultRecord,
        mut targets: Vec<ContainerInfo>,
        _: Vec<ContainerInfo>,
        hold: Duration,
        run: &RunWindow,
    ) {
        let (run_id, seed) = &self.run;
        match (kube_action(f), &f.action) {
            (Ok(Some(action)), _) => {
                let env = KubeFaultEnv {
                    stack: &self.stack,
                    docker: &self.docker,
                    sink: &run.sink,
                };
                run_kube_fault(
                    &env,
                    record,
                    action,
                    &f.service,
                    &targets,
                    hold,
                    run.run_end,
                    &run.cancel,
                )
                .await;
            }
            // Proxy faults, loss, partition and DNS failures: in the target pods' network
            // namespaces (their sandboxes', through the node's Docker runtime, whose
            // resolv.conf the kubelet writes), matching the peers' pod IPs and their Services'
            // ClusterIPs (a proxy fault's path was wired at bring-up).
            (Ok(None), Exec::Network(action)) => {
                let stack = &self.stack;
                let peers = async {
                    let runners = match stack.agents() {
                        Some(agents) => agent_pids(stack, agents, &mut targets).await?,
                        None => {
                            stack.with_sandbox_pids(&self.docker, &mut targets).await?;
                            Runners::Here(Arc::new(SystemRunner::default()))
                        }
                    };
                    let mut all = stack.containers().await.map_err(|e| e.to_string())?;
                    all.extend(stack.service_peers().await.map_err(|e| e.to_string())?);
                    Ok::<_, String>((all, runners))
                }
                .await;
                match peers {
                    Ok((all, runners)) => {
                        network_fault(
                            &self.docker,
                            (run_id, *seed),
                            run,
                            record,
                            action,
                            (&targets, &all),
                            runners,
                            hold,
                        )
                        .await;
                    }
                    Err(e) => {
                        record.error = Some(e.clone());
                        run.sink.record(EventKind::Fault {
                            fault: f.name.clone(),
                            stage: FaultStage::Failed,
                            targets: targets.iter().map(|t| t.name.clone()).collect(),
                            detail: Some(e),
                        });
                    }
                }
            }
            // In the app container of each pod, found through the node's Docker runtime (the
            // local cluster; refused with the node agent).
            (Ok(None), Exec::Resource(action)) => {
                let found = self
                    .stack
                    .with_container_pids(&self.docker, &mut targets)
                    .await;
                match found {
                    Ok(()) => {
                        resource_fault(&self.docker, run, record, action, &targets, hold).await;
                    }
                    Err(e) => {
                        record.error = Some(e.clone());
                        run.sink.record(EventKind::Fault {
                            fault: f.name.clone(),
                            stage: FaultStage::Failed,
                            targets: targets.iter().map(|t| t.name.clone()).collect(),
                            detail: Some(e),
                        });
                    }
                }
            }
            // A deploy of the Deployment's new version (fault/kube_rollout.rs).
            (
                Ok(None),
                Exec::Rollout {
                    strategy,
                    set,
                    rollback,
                },
            ) => {
                let plan = KubeRolloutPlan {
                    strategy: *strategy,
                    set,
                    rollback: *rollback,
                };
                run_kube_rollout(
                    &self.stack,
                    &run.sink,
                    record,
                    &plan,
                    &f.service,
                    run.run_end,
                    &run.cancel,
                )
                .await;
            }
            // Refused before it was scheduled.
            _ => {}
        }
    }
}

/// The node of each target pod. Errors: a pod on the node's own network (`hostNetwork`): its
/// sandbox's namespace is the node's, and a rule there would cut the whole node, far beyond
/// the fault's blast radius.
async fn target_nodes(stack: &KubeStack, targets: &[ContainerInfo]) -> Result<Vec<String>, String> {
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(stack.client().clone(), stack.namespace());
    let mut nodes = Vec::new();
    for t in targets {
        let spec = pods
            .get(&t.name)
            .await
            .map_err(|e| format!("reading pod {}: {e}", t.name))?
            .spec
            .unwrap_or_default();
        if spec.host_network == Some(true) {
            return Err(format!(
                "pod {} uses the node's network (hostNetwork): a network fault in it would cut the whole node",
                t.name
            ));
        }
        nodes.push(
            spec.node_name
                .ok_or_else(|| format!("pod {} is on no node", t.name))?,
        );
    }
    Ok(nodes)
}

/// Each target pod's sandbox PID on its node and the runner of its node's agent.
async fn agent_pids(
    stack: &KubeStack,
    agents: &crate::agent::AgentClient,
    targets: &mut [ContainerInfo],
) -> Result<Runners, String> {
    let nodes = target_nodes(stack, targets).await?;
    let mut runners = std::collections::HashMap::new();
    for (t, node) in targets.iter_mut().zip(nodes) {
        t.pid = agents.pod_pid(&node, &t.id).await?;
        runners.insert(t.id.clone(), agents.runner(&node));
    }
    Ok(Runners::ByTarget(runners))
}

/// A network fault (`fault/network.rs`) on `targets`, the same on both backends; only where the
/// peers' addresses come from differs: `peers` is the compose project's containers, or a
/// Kubernetes run's pods and its Services' ClusterIPs.
#[allow(clippy::too_many_arguments)]
async fn network_fault(
    docker: &Docker,
    (run_id, seed): (&str, u64),
    run: &RunWindow,
    record: &mut FaultRecord,
    action: &NetworkAction,
    (targets, peers): (&[ContainerInfo], &[ContainerInfo]),
    runners: Runners,
    hold: Duration,
) {
    let env = NetworkFaultEnv {
        docker,
        sink: &run.sink,
        run_id,
        seed,
        runners,
        containers: peers,
    };
    run_network_fault(
        &env,
        record,
        action,
        targets,
        hold,
        run.run_end,
        &run.cancel,
    )
    .await;
}

/// A resource fault (`fault/resource/`) on `targets`, the same on both backends: compose
/// containers, or the app containers of Kubernetes pods found through the node's Docker.
async fn resource_fault(
    docker: &Docker,
    run: &RunWindow,
    record: &mut FaultRecord,
    action: &ResourceAction,
    targets: &[ContainerInfo],
    hold: Duration,
) {
    let env = ResourceFaultEnv {
        docker,
        sink: &run.sink,
    };
    run_resource_fault(
        &env,
        record,
        action,
        targets,
        hold,
        run.run_end,
        &run.cancel,
    )
    .await;
}
