//! A Kubernetes stack (kube-rs): manifests server-side applied into a namespace of the run's
//! own (labelled with the run id, deleted at the end, swept after a killed run), or an
//! existing namespace attached to as it is. Pods stand in for containers ([`ContainerInfo`]):
//! a workload (Deployment or StatefulSet) is a "service", its pods the replicas. Services are
//! reached at their NodePort on the node address, or at their ClusterIP (only from a node),
//! never through the API server's port-forward (it caps throughput and adds its own latency).

pub mod agent;
pub mod manifests;
#[cfg(test)]
mod recorded;
pub mod spec;
pub mod watch;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use kube::api::{
    Api, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::Scope;
use kube::{Client, Config, ResourceExt};
use serde_json::Value;

use self::agent::AgentDeploy;
use super::{ContainerInfo, StackError};
use crate::agent::{AGENT_LABEL, AgentClient};
pub use spec::{KubeStackSpec, NodeAgentSpec};

/// The label every namespace chaosgate creates carries: the run id.
pub const RUN_LABEL: &str = "chaosgate.io/run";
/// The PID of the chaosgate process that created the namespace: a namespace whose process is
/// gone (killed before its teardown) is swept by the next run on this host.
pub const PID_LABEL: &str = "chaosgate.io/pid";
/// The host the creating process ran on: only namespaces of this host are swept (a PID means
/// nothing on another machine sharing the cluster).
pub const HOST_LABEL: &str = "chaosgate.io/host";
/// Set on a namespace left up with `--keep`: never swept.
pub const KEPT_LABEL: &str = "chaosgate.io/kept";
/// Field manager of chaosgate's server-side applies and patches.
pub const FIELD_MANAGER: &str = "chaosgate";
/// How long teardown waits for the namespace's pods to go and then for the namespace itself.
/// The 1.20 kubelet leaves deleted pods Terminating 10-70 s (measured on the local cluster),
/// and a namespace deleted while pods remain is retried with a doubling backoff.
pub const TEARDOWN_BOUND: Duration = Duration::from_secs(120);

/// A Kubernetes stack of one run. Clones share the client and act on the same namespace.
#[derive(Clone)]
pub struct KubeStack {
    client: Client,
    namespace: String,
    /// Created by this run (and so deleted by it).
    owned: bool,
    run_id: String,
    docs: Vec<Value>,
    node_address: IpAddr,
    /// ` --kubeconfig F --context C` as the scenario set them, for the commands printed.
    kubectl_flags: String,
    /// The node agents the scenario asked for (`stack.kubernetes.agent`).
    agent: Option<AgentDeploy>,
    /// The agents, once Ready ([`Self::wait_ready`]).
    agents: Arc<OnceLock<AgentClient>>,
}

/// A workload's selector and desired replica count, read from the API.
#[derive(Debug, Clone)]
pub struct Workload {
    /// `Deployment` or `StatefulSet`.
    pub kind: &'static str,
    /// The workload's `metadata.name` in the run's namespace.
    pub name: String,
    /// `spec.selector.matchLabels`: label → value its pods carry.
    pub selector: BTreeMap<String, String>,
    /// Desired replica count (`spec.replicas`).
    pub replicas: i32,
    /// Pods Ready (`status.readyReplicas`, 0 when absent).
    pub ready: i32,
    /// Pods available (`status.availableReplicas`, 0 when absent).
    pub available: i32,
    /// Pods at the current template (`status.updatedReplicas`, 0 when absent).
    pub updated: i32,
    /// Pods the workload owns, counting terminating ones (`status.replicas`).
    pub current: i32,
    /// `metadata.generation`: bumped by each spec change.
    pub generation: i64,
    /// `status.observedGeneration`: the generation the controller has acted on; status counts are
    /// stale while it is below `generation`.
    pub observed_generation: i64,
}

impl Workload {
    /// Its rollout is done: the spec observed, every replica updated, available, no old one
    /// left.
    pub fn rolled_out(&self) -> bool {
        self.observed_generation >= self.generation
            && self.updated == self.replicas
            && self.available >= self.replicas
            && self.current == self.replicas
            && self.ready >= self.replicas
    }
}

fn kube_err(doing: impl Into<String>) -> impl FnOnce(kube::Error) -> StackError {
    let doing = doing.into();
    move |e| StackError::Kube {
        doing,
        detail: e.to_string(),
    }
}

/// A client for the kubeconfig (file or `$KUBECONFIG` / `~/.kube/config`) and context.
pub async fn client(spec: &KubeStackSpec) -> Result<Client, StackError> {
    let options = KubeConfigOptions {
        context: spec.context.clone(),
        ..Default::default()
    };
    let config = match &spec.kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path).map_err(|e| StackError::KubeConfig(format!(
                "{}: {e}",
                path.display()
            )))?;
            Config::from_custom_kubeconfig(kc, &options).await
        }
        None => Config::from_kubeconfig(&options).await,
    }
    .map_err(|e| {
        let hint = match (&spec.kubeconfig, std::env::var_os("KUBECONFIG")) {
            (Some(_), _) => "hint: `stack.kubernetes.kubeconfig` names it, relative to the scenario".to_string(),
            (None, Some(k)) => format!(
                "hint: KUBECONFIG is {}; is that the right file? (the local cluster's: `sudo bash scripts/local-kube.sh up` prints it)",
                k.to_string_lossy()
            ),
            (None, None) => "hint: set KUBECONFIG (the local cluster: `export KUBECONFIG=$(sudo bash scripts/local-kube.sh up)`) or `stack.kubernetes.kubeconfig`".to_string(),
        };
        StackError::KubeConfig(format!("{e}\n  {hint}"))
    })?;
    let client = Client::try_from(config).map_err(|e| StackError::KubeConfig(e.to_string()))?;
    // One cheap call, so an unreachable cluster is reported before anything is planned on it.
    client
        .apiserver_version()
        .await
        .map_err(|e| StackError::KubeUnreachable(e.to_string()))?;
    Ok(client)
}

impl KubeStack {
    /// Reads the manifests (with `env` applied to the containers' declared variables) and
    /// connects. `namespace`: the scenario's, else `cg-<scenario>-<run id>`.
    pub async fn new(
        spec: &KubeStackSpec,
        env: &BTreeMap<String, String>,
        project: &str,
        run_id: &str,
    ) -> Result<Self, StackError> {
        let mut docs = manifests::load(spec).map_err(StackError::Manifests)?;
        let unknown = manifests::apply_env(&mut docs, env);
        if !spec.existing && !unknown.is_empty() {
            return Err(StackError::Manifests(format!(
                "no container of the manifests declares {}",
                unknown.join(", ")
            )));
        }
        let node_address = std::env::var("CHAOSGATE_KUBE_NODE_ADDRESS")
            .ok()
            .unwrap_or_else(|| spec.node_address.clone());
        let node_address: IpAddr = node_address.trim().parse().map_err(|_| {
            StackError::KubeConfig(format!(
                "node address `{node_address}` is not an IP address"
            ))
        })?;
        let client = client(spec).await?;
        let namespace = spec
            .namespace
            .clone()
            .unwrap_or_else(|| project.chars().take(63).collect::<String>());
        let mut kubectl_flags = String::new();
        if let Some(k) = &spec.kubeconfig {
            kubectl_flags.push_str(&format!(" --kubeconfig {}", k.display()));
        }
        if let Some(c) = &spec.context {
            kubectl_flags.push_str(&format!(" --context {c}"));
        }
        Ok(Self {
            kubectl_flags,
            client,
            namespace: namespace.trim_end_matches('-').to_string(),
            owned: !spec.existing,
            run_id: run_id.to_string(),
            docs,
            node_address,
            agent: spec
                .agent
                .as_ref()
                .map(|a| AgentDeploy::new(&a.image, run_id)),
            agents: Arc::new(OnceLock::new()),
        })
    }

    /// A stack on `client` in `namespace` with no manifests of its own (attached, as with
    /// `existing: true`): for tests that serve the API.
    #[cfg(test)]
    pub(crate) fn attached(client: Client, namespace: &str, node_address: IpAddr) -> Self {
        Self {
            kubectl_flags: String::new(),
            client,
            namespace: namespace.to_string(),
            owned: false,
            run_id: "test".into(),
            docs: Vec::new(),
            node_address,
            agent: None,
            agents: Arc::new(OnceLock::new()),
        }
    }

    /// The kube-rs client for the cluster.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The namespace the stack lives in (one per run, or the existing one).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Creates the namespace (unless attached to an existing one) and server-side applies
    /// every manifest into it, in order.
    pub async fn up(&mut self) -> Result<(), StackError> {
        if !self.owned {
            // A namespaced Role cannot grant reading the Namespace object itself (it is
            // cluster-scoped): forbidden is no answer, and the namespace's own objects tell.
            let ns: Api<Namespace> = Api::all(self.client.clone());
            match ns.get(&self.namespace).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 403 => {}
                Err(e) => {
                    return Err(kube_err(format!(
                        "looking up the existing namespace `{}`",
                        self.namespace
                    ))(e));
                }
            }
            return self.apply_agent().await;
        }
        let ns: Api<Namespace> = Api::all(self.client.clone());
        let object: Namespace = serde_json::from_value(serde_json::json!({
            "metadata": {
                "name": self.namespace,
                "labels": {
                    RUN_LABEL: self.run_id,
                    PID_LABEL: std::process::id().to_string(),
                    HOST_LABEL: host_label(),
                    "app.kubernetes.io/managed-by": "chaosgate",
                },
            }
        }))
        .expect("a namespace object");
        ns.create(&PostParams::default(), &object)
            .await
            .map_err(kube_err(format!("creating namespace `{}`", self.namespace)))?;
        let params = PatchParams::apply(FIELD_MANAGER).force();
        for doc in &self.docs {
            let (group, version) = match doc["apiVersion"]
                .as_str()
                .unwrap_or_default()
                .split_once('/')
            {
                Some((g, v)) => (g.to_string(), v.to_string()),
                None => (
                    String::new(),
                    doc["apiVersion"].as_str().unwrap_or_default().to_string(),
                ),
            };
            let kind = doc["kind"].as_str().unwrap_or_default();
            let name = doc
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let gvk = GroupVersionKind::gvk(&group, &version, kind);
            let what = format!("{kind} `{name}`");
            let (resource, caps) = kube::discovery::pinned_kind(&self.client, &gvk)
                .await
                .map_err(kube_err(format!("finding the API of {what}")))?;
            let api: Api<DynamicObject> = if caps.scope == Scope::Namespaced {
                Api::namespaced_with(self.client.clone(), &self.namespace, &resource)
            } else {
                return Err(StackError::Manifests(format!(
                    "{what} is cluster-scoped; the manifests may only hold namespaced objects (the run deletes what it applies)"
                )));
            };
            api.patch(name, &params, &Patch::Apply(doc))
                .await
                .map_err(kube_err(format!("applying {what}")))?;
        }
        self.apply_agent().await
    }

    async fn apply_agent(&self) -> Result<(), StackError> {
        match &self.agent {
            Some(a) => a.apply(&self.client, &self.namespace).await,
            None => Ok(()),
        }
    }

    /// The run's node agents, once Ready; `None` when the scenario asked for none.
    pub fn agents(&self) -> Option<&AgentClient> {
        self.agents.get()
    }

    /// Removes the node agents (a DaemonSet that can enter pods is never left behind, not even in a
    /// kept or existing namespace).
    async fn remove_agent(&self) -> Result<(), StackError> {
        match &self.agent {
            Some(a) => a.remove(&self.client, &self.namespace).await,
            None => Ok(()),
        }
    }

    /// The namespace's Deployments and StatefulSets.
    pub async fn workloads(&self) -> Result<Vec<Workload>, StackError> {
        let mut out = Vec::new();
        let deployments: Api<Deployment> = Api::namespaced(self.client.clone(), &self.namespace);
        for d in deployments
            .list(&ListParams::default())
            .await
            .map_err(kube_err("listing Deployments"))?
        {
            let spec = d.spec.clone().unwrap_or_default();
            let status = d.status.clone().unwrap_or_default();
            out.push(Workload {
                kind: "Deployment",
                name: d.name_any(),
                selector: spec.selector.match_labels.clone().unwrap_or_default(),
                replicas: spec.replicas.unwrap_or(1),
                ready: status.ready_replicas.unwrap_or(0),
                available: status.available_replicas.unwrap_or(0),
                updated: status.updated_replicas.unwrap_or(0),
                current: status.replicas.unwrap_or(0),
                generation: d.metadata.generation.unwrap_or(0),
                observed_generation: status.observed_generation.unwrap_or(0),
            });
        }
        let sets: Api<StatefulSet> = Api::namespaced(self.client.clone(), &self.namespace);
        for s in sets
            .list(&ListParams::default())
            .await
            .map_err(kube_err("listing StatefulSets"))?
        {
            let spec = s.spec.clone().unwrap_or_default();
            let status = s.status.clone().unwrap_or_default();
            out.push(Workload {
                kind: "StatefulSet",
                name: s.name_any(),
                selector: spec.selector.match_labels.clone().unwrap_or_default(),
                replicas: spec.replicas.unwrap_or(1),
                ready: status.ready_replicas.unwrap_or(0),
                available: status
                    .available_replicas
                    .unwrap_or(status.ready_replicas.unwrap_or(0)),
                updated: status.updated_replicas.unwrap_or(0),
                current: status.replicas,
                generation: s.metadata.generation.unwrap_or(0),
                observed_generation: status.observed_generation.unwrap_or(0),
            });
        }
        Ok(out)
    }

    /// The Deployment or StatefulSet called `name`; [`StackError::Manifests`] (exit 3) when there
    /// is none, [`StackError::Kube`] when the API fails.
    pub async fn workload(&self, name: &str) -> Result<Workload, StackError> {
        self.workloads()
            .await?
            .into_iter()
            .find(|w| w.name == name)
            .ok_or_else(|| {
                StackError::Manifests(format!(
                    "no Deployment or StatefulSet `{name}` in namespace `{}`",
                    self.namespace
                ))
            })
    }

    /// Waits until every workload has rolled out and every pod is Ready.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<Vec<ContainerInfo>, StackError> {
        // Tokio's clock: the system's, or a test's paused one.
        let started = tokio::time::Instant::now();
        loop {
            let workloads = self.workloads().await?;
            let pods = pod_infos(&self.pods().await?, &workloads);
            let waiting: Vec<String> = workloads
                .iter()
                .filter(|w| !w.rolled_out())
                .map(|w| {
                    format!(
                        "  {} {}: {}/{} ready, {} updated, {} pods",
                        w.kind, w.name, w.ready, w.replicas, w.updated, w.current
                    )
                })
                .chain(
                    pods.iter()
                        .filter(|p| !p.is_ready())
                        .map(|p| format!("  pod {} ({}): not Ready", p.name, p.service)),
                )
                .collect();
            if waiting.is_empty() && !workloads.is_empty() {
                if let Some(a) = &self.agent {
                    let agents = a
                        .wait(&self.client, &self.namespace, started.into_std(), timeout)
                        .await?;
                    let _ = self.agents.set(agents);
                }
                return Ok(pods);
            }
            if started.elapsed() >= timeout {
                return Err(StackError::NeverHealthy {
                    timeout,
                    detail: if workloads.is_empty() {
                        format!(
                            "  no Deployment or StatefulSet in namespace `{}`",
                            self.namespace
                        )
                    } else {
                        waiting.join("\n")
                    },
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The namespace's pods as [`ContainerInfo`]: `service` is the owning workload (the one
    /// whose selector the pod's labels match), `number` the pod's rank by creation within it,
    /// `health` its Ready condition, `networks` its pod IP. Terminating pods count as not
    /// running.
    pub async fn containers(&self) -> Result<Vec<ContainerInfo>, StackError> {
        let workloads = self.workloads().await?;
        Ok(pod_infos(&self.pods().await?, &workloads))
    }

    /// The namespace's pods, by creation time (then name): the order replicas are numbered in.
    async fn pods(&self) -> Result<Vec<Pod>, StackError> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
        let mut list = pods
            .list(&ListParams::default().labels(&format!("!{AGENT_LABEL}")))
            .await
            .map_err(kube_err("listing pods"))?
            .items;
        list.sort_by(|a, b| {
            (a.metadata.creation_timestamp.clone(), a.name_any())
                .cmp(&(b.metadata.creation_timestamp.clone(), b.name_any()))
        });
        Ok(list)
    }

    /// Where each Service's ports are reached: NodePort → node address, else ClusterIP.
    pub async fn service_addresses(&self) -> Result<Vec<(String, u16, SocketAddr)>, StackError> {
        let services: Api<Service> = Api::namespaced(self.client.clone(), &self.namespace);
        let mut out = Vec::new();
        for s in services
            .list(&ListParams::default())
            .await
            .map_err(kube_err("listing Services"))?
        {
            let spec = s.spec.clone().unwrap_or_default();
            let cluster_ip = spec
                .cluster_ip
                .as_deref()
                .and_then(|ip| ip.parse::<IpAddr>().ok());
            for port in spec.ports.unwrap_or_default() {
                let Ok(p) = u16::try_from(port.port) else {
                    continue;
                };
                let addr = match port.node_port.and_then(|n| u16::try_from(n).ok()) {
                    Some(node_port) => SocketAddr::new(self.node_address, node_port),
                    None => match cluster_ip {
                        Some(ip) => SocketAddr::new(ip, p),
                        None => continue,
                    },
                };
                out.push((s.name_any(), p, addr));
            }
        }
        Ok(out)
    }

    /// Each Service's ClusterIP as a pseudo-replica of every workload whose pods it selects
    /// (`networks: [("pod", ClusterIP)]`): inside a pod, traffic to a Service carries the
    /// ClusterIP both ways (kube-proxy translates it on the node), so a partition or loss rule
    /// in the pod's namespace must match it besides the peers' pod IPs.
    pub async fn service_peers(&self) -> Result<Vec<ContainerInfo>, StackError> {
        let raw = self.pods().await?;
        let pods = pod_infos(&raw, &self.workloads().await?);
        let services: Api<Service> = Api::namespaced(self.client.clone(), &self.namespace);
        let mut out = Vec::new();
        for s in services
            .list(&ListParams::default())
            .await
            .map_err(kube_err("listing Services"))?
        {
            let spec = s.spec.clone().unwrap_or_default();
            let (Some(ip), Some(selector)) = (spec.cluster_ip.clone(), spec.selector.clone())
            else {
                continue;
            };
            if ip == "None" || selector.is_empty() {
                continue;
            }
            let mut workloads: Vec<&str> = raw
                .iter()
                .zip(&pods)
                .filter(|(p, _)| {
                    p.metadata
                        .labels
                        .as_ref()
                        .is_some_and(|l| selector.iter().all(|(k, v)| l.get(k) == Some(v)))
                })
                .map(|(_, info)| info.service.as_str())
                .collect();
            workloads.sort();
            workloads.dedup();
            for w in workloads {
                out.push(ContainerInfo {
                    id: format!("service/{}", s.name_any()),
                    name: format!("service/{}", s.name_any()),
                    service: w.to_string(),
                    number: 0,
                    running: false,
                    paused: false,
                    health: None,
                    last_health_check: None,
                    pid: 0,
                    restart_count: 0,
                    published: Vec::new(),
                    networks: vec![("pod".to_string(), ip.clone())],
                    aliases: Vec::new(),
                    image: String::new(),
                    labels: BTreeMap::new(),
                });
            }
        }
        Ok(out)
    }

    /// Sets each pod's `pid` to its sandbox's (the pause container holding the pod's network
    /// namespace), from the node's Docker runtime (dockershim): network rules go there.
    pub async fn with_sandbox_pids(
        &self,
        docker: &bollard::Docker,
        pods: &mut [ContainerInfo],
    ) -> Result<(), String> {
        for p in pods.iter_mut() {
            let list = pod_docker_containers(docker, &p.id, "podsandbox")
                .await
                .map_err(|e| format!("network faults on Kubernetes need the node's Docker runtime (dockershim, the local cluster) or the node agent (`stack.kubernetes.agent`): {e}"))?;
            let id = list
                .into_iter()
                .max_by_key(|c| c.created.unwrap_or(0))
                .and_then(|c| c.id)
                .ok_or_else(|| format!("no pod sandbox of {} in this host's Docker: network faults on Kubernetes need the node's Docker runtime (dockershim, the local cluster) or the node agent (`stack.kubernetes.agent`)", p.name))?;
            let info = docker
                .inspect_container(
                    &id,
                    None::<bollard::query_parameters::InspectContainerOptions>,
                )
                .await
                .map_err(|e| format!("inspecting {}'s sandbox: {e}", p.name))?;
            if info
                .host_config
                .as_ref()
                .and_then(|h| h.network_mode.as_deref())
                == Some("host")
            {
                return Err(format!(
                    "pod {} uses the node's network (hostNetwork): a network fault in it would cut the whole node",
                    p.name
                ));
            }
            p.pid = info
                .state
                .and_then(|s| s.pid)
                .and_then(|pid| u32::try_from(pid).ok())
                .filter(|pid| *pid != 0)
                .ok_or_else(|| format!("{}'s sandbox has no process", p.name))?;
        }
        Ok(())
    }

    /// Each pod's first app container as the node's Docker runtime sees it (dockershim, the
    /// local cluster): `id` becomes the Docker container's ID and `pid` its main process, the
    /// one whose cgroups and root a resource fault acts in. Errors, in words: no such container
    /// in this host's Docker (another runtime, or a remote node).
    pub async fn with_container_pids(
        &self,
        docker: &bollard::Docker,
        pods: &mut [ContainerInfo],
    ) -> Result<(), String> {
        for p in pods.iter_mut() {
            let list = pod_docker_containers(docker, &p.id, "container")
                .await
                .map_err(|e| format!("resource faults on Kubernetes need the node's Docker runtime (dockershim, the local cluster): {e}"))?;
            // The newest running one: a container the kubelet restarted leaves its old one
            // exited beside it.
            let c = list
                .into_iter()
                .filter(|c| {
                    c.state == Some(bollard::models::ContainerSummaryStateEnum::RUNNING)
                })
                .max_by_key(|c| c.created.unwrap_or(0))
                .ok_or_else(|| format!("no running container of pod {} in this host's Docker: resource faults on Kubernetes need the node's Docker runtime (dockershim, the local cluster)", p.name))?;
            let id =
                c.id.ok_or_else(|| format!("{}'s container has no ID", p.name))?;
            let info = crate::stack::docker::inspect(docker, &id)
                .await
                .map_err(|e| format!("inspecting {}'s container: {e}", p.name))?;
            if info.pid == 0 {
                return Err(format!("{}'s container has no process", p.name));
            }
            p.id = id;
            p.pid = info.pid;
        }
        Ok(())
    }

    /// Deletes the namespace this run created (nothing, for an existing one): its workloads
    /// first and the namespace once their pods are gone (see [`TEARDOWN_BOUND`]). Safe to
    /// call more than once.
    pub async fn down(&mut self) -> Result<(), StackError> {
        if !self.owned {
            return self.remove_agent().await;
        }
        delete_namespace(&self.client, &self.namespace, TEARDOWN_BOUND).await?;
        self.owned = false;
        Ok(())
    }

    /// Leaves the namespace (`--keep`), labelled so that no later run sweeps it; returns the
    /// command that removes it.
    pub async fn keep(&mut self) -> String {
        if let Err(e) = self.remove_agent().await {
            tracing::warn!("removing the node agents: {e}");
        }
        if self.owned {
            let ns: Api<Namespace> = Api::all(self.client.clone());
            let patch = serde_json::json!({ "metadata": { "labels": { KEPT_LABEL: "true" } } });
            if let Err(e) = ns
                .patch(
                    &self.namespace,
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await
            {
                tracing::warn!("labelling the kept namespace: {e}");
            }
        }
        self.owned = false;
        format!(
            "kubectl{} delete namespace {}",
            self.kubectl_flags, self.namespace
        )
    }
}

/// Deletes `namespace`: its workloads, ReplicaSets and pods first (the pods with a one-second
/// grace period), then the namespace, waiting up to `bound` in all for it to be gone.
pub async fn delete_namespace(
    client: &Client,
    namespace: &str,
    bound: Duration,
) -> Result<(), StackError> {
    let started = Instant::now();
    let dp = DeleteParams::foreground();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let _ = deployments
        .delete_collection(&dp, &ListParams::default())
        .await;
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
    let _ = sets.delete_collection(&dp, &ListParams::default()).await;
    // A DaemonSet (the run's node agents, or one of the manifests') would put back every pod
    // of it deleted below until the namespace goes.
    let daemons: Api<DaemonSet> = Api::namespaced(client.clone(), namespace);
    let _ = daemons.delete_collection(&dp, &ListParams::default()).await;
    // The garbage collector marks a Deployment's ReplicaSets deleted only later; one not yet
    // marked would put back every pod deleted below (each then started and stopped once more:
    // seen as a second set of pods, and 14 s per teardown).
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), namespace);
    let _ = sets.delete_collection(&dp, &ListParams::default()).await;
    // The run is over: its pods need no graceful stop (a gateway's preStop hook alone waits
    // 3 s). One second, the least a pod is given: the kubelet still stops each container
    // (SIGTERM, then SIGKILL), and the loop below waits for that.
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let quick = DeleteParams {
        grace_period_seconds: Some(1),
        ..DeleteParams::default()
    };
    let _ = pods.delete_collection(&quick, &ListParams::default()).await;
    // A 1.20 kubelet leaves a deleted pod Terminating in the API for 10-70 s after its
    // containers stopped; once every container of it has terminated, nothing of it runs, so
    // its API object is removed at once (grace period 0) rather than waited for.
    let now = DeleteParams {
        grace_period_seconds: Some(0),
        ..DeleteParams::default()
    };
    while started.elapsed() < bound / 2 {
        match pods.list(&ListParams::default()).await {
            Ok(l) if l.items.is_empty() => break,
            Err(_) => break,
            Ok(l) => {
                for p in l.items.iter().filter(|p| all_terminated(p)) {
                    let _ = pods.delete(&p.name_any(), &now).await;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    tracing::debug!(elapsed = ?started.elapsed(), "teardown: pods of {namespace} gone");
    let ns: Api<Namespace> = Api::all(client.clone());
    match ns.delete(namespace, &DeleteParams::default()).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
        Err(e) => return Err(kube_err(format!("deleting namespace `{namespace}`"))(e)),
    }
    while started.elapsed() < bound {
        match ns.get_opt(namespace).await {
            Ok(None) => {
                tracing::debug!(elapsed = ?started.elapsed(), "teardown: namespace {namespace} gone");
                return Ok(());
            }
            Ok(Some(_)) | Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
    Err(StackError::Kube {
        doing: format!("deleting namespace `{namespace}`"),
        detail: format!(
            "still there after {}s (it is being deleted; `kubectl get namespace {namespace}` shows when it is gone)",
            bound.as_secs()
        ),
    })
}

/// Whether the pod is being deleted and none of its containers runs any more.
fn all_terminated(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_some()
        && p.status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .is_some_and(|cs| {
                cs.iter()
                    .all(|c| c.state.as_ref().is_some_and(|s| s.running.is_none()))
            })
}

/// Deletes namespaces of earlier runs that were killed before their teardown: labelled with a
/// run id, and not this process's. Returns their names.
pub async fn sweep(client: &Client, keep: &str) -> Result<Vec<String>, StackError> {
    let ns: Api<Namespace> = Api::all(client.clone());
    let list = ns
        .list(&ListParams::default().labels(RUN_LABEL))
        .await
        .map_err(kube_err("listing chaosgate's namespaces"))?;
    let mut swept = Vec::new();
    for n in list {
        let name = n.name_any();
        let terminating = n.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Terminating");
        if name == keep || terminating {
            continue;
        }
        // Kept with --keep, or its run still going (a process alive on this host)?
        let alive = n
            .labels()
            .get(PID_LABEL)
            .and_then(|p| p.parse::<u32>().ok())
            .is_none_or(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists());
        let other_host = n.labels().get(HOST_LABEL) != Some(&host_label());
        if n.labels().contains_key(KEPT_LABEL) || alive || other_host {
            continue;
        }
        let _ = ns.delete(&name, &DeleteParams::default()).await;
        swept.push(name);
    }
    Ok(swept)
}

/// This host's name as a label value (at most 63 of `[a-z0-9.-]`, ends alphanumeric).
fn host_label() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let clean: String = raw
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    let clean = clean
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string();
    if clean.is_empty() {
        "unknown".to_string()
    } else {
        clean
    }
}

/// `pods` (in [`KubeStack::pods`] order) as [`ContainerInfo`], each numbered within the
/// workload that owns it.
fn pod_infos(pods: &[Pod], workloads: &[Workload]) -> Vec<ContainerInfo> {
    let mut counters: HashMap<String, u32> = HashMap::new();
    pods.iter()
        .map(|p| {
            let service = owner_of(p, workloads).unwrap_or_else(|| p.name_any());
            let n = counters.entry(service.clone()).or_default();
            *n += 1;
            pod_info(p, service, *n)
        })
        .collect()
}

fn owner_of(p: &Pod, workloads: &[Workload]) -> Option<String> {
    let labels = p.metadata.labels.as_ref()?;
    workloads
        .iter()
        .find(|w| {
            !w.selector.is_empty() && w.selector.iter().all(|(k, v)| labels.get(k) == Some(v))
        })
        .map(|w| w.name.clone())
}

/// Whether the pod's Ready condition is True.
pub fn pod_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The sum of the pod's containers' restart counts.
pub fn restarts(p: &Pod) -> i64 {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map_or(0, |cs| cs.iter().map(|c| i64::from(c.restart_count)).sum())
}

fn pod_info(p: &Pod, service: String, number: u32) -> ContainerInfo {
    let status = p.status.clone().unwrap_or_default();
    let running =
        status.phase.as_deref() == Some("Running") && p.metadata.deletion_timestamp.is_none();
    ContainerInfo {
        id: p.metadata.uid.clone().unwrap_or_default(),
        name: p.name_any(),
        service,
        number,
        running,
        paused: false,
        health: Some(if pod_ready(p) { "healthy" } else { "unhealthy" }.to_string()),
        last_health_check: None,
        pid: 0,
        restart_count: restarts(p),
        published: Vec::new(),
        networks: status
            .pod_ip
            .map(|ip| vec![("pod".to_string(), ip)])
            .unwrap_or_default(),
        aliases: Vec::new(),
        labels: p.metadata.labels.clone().unwrap_or_default(),
        image: p
            .spec
            .as_ref()
            .and_then(|s| s.containers.first())
            .and_then(|c| c.image.clone())
            .unwrap_or_default(),
    }
}

/// The node's Docker containers of the pod with UID `pod_uid` whose dockershim type is `kind`
/// (`podsandbox`: the pause container; `container`: the app containers).
async fn pod_docker_containers(
    docker: &bollard::Docker,
    pod_uid: &str,
    kind: &str,
) -> Result<Vec<bollard::models::ContainerSummary>, bollard::errors::Error> {
    use bollard::query_parameters::ListContainersOptionsBuilder;
    let filters = HashMap::from([(
        "label".to_string(),
        vec![
            format!("io.kubernetes.pod.uid={pod_uid}"),
            format!("io.kubernetes.docker.type={kind}"),
        ],
    )]);
    docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
}
