//! The run's node agents ([`crate::agent`]): a DaemonSet in the run's namespace, applied with
//! the stack, waited for with it, and deleted with it (also from an existing namespace).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

use super::{FIELD_MANAGER, RUN_LABEL, kube_err, pod_ready};
use crate::agent::{AGENT_LABEL, AgentClient, PORT, TOKEN_ENV};
use crate::stack::StackError;

/// The agents a run deploys: their DaemonSet's name, image and token.
#[derive(Debug, Clone)]
pub struct AgentDeploy {
    /// The DaemonSet's name (`chaosgate-agent-<run id>`).
    pub name: String,
    /// The image (the chaosgate binary; `scripts/agent-image.sh` builds it).
    pub image: String,
    /// The token the agents answer to, fresh per run.
    pub token: String,
    /// The run id, on the DaemonSet and its pods.
    pub run_id: String,
}

impl AgentDeploy {
    /// The agents of run `run_id`, running `image`, with a fresh random token.
    pub fn new(image: &str, run_id: &str) -> Self {
        use rand::Rng;
        let token: String = (0..32)
            .map(|_| format!("{:x}", rand::rng().random_range(0..16u8)))
            .collect();
        let short: String = run_id
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(20)
            .collect::<String>()
            .to_ascii_lowercase();
        Self {
            name: format!("chaosgate-agent-{short}"),
            image: image.to_string(),
            token,
            run_id: run_id.to_string(),
        }
    }

    /// The DaemonSet: in the node's PID namespace (to find a pod's processes and enter its
    /// network namespace) with the capabilities that takes, tolerating every taint (a target
    /// may run on any node).
    pub fn daemonset(&self) -> Value {
        let labels = json!({
            AGENT_LABEL: "true",
            RUN_LABEL: self.run_id,
            "app.kubernetes.io/name": "chaosgate-agent",
            "app.kubernetes.io/managed-by": "chaosgate",
        });
        json!({
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": { "name": self.name, "labels": labels },
            "spec": {
                "selector": { "matchLabels": { AGENT_LABEL: "true", RUN_LABEL: self.run_id } },
                "template": {
                    "metadata": { "labels": labels },
                    "spec": {
                        "hostPID": true,
                        "automountServiceAccountToken": false,
                        "enableServiceLinks": false,
                        "terminationGracePeriodSeconds": 1,
                        "tolerations": [{ "operator": "Exists" }],
                        "containers": [{
                            "name": "agent",
                            "image": self.image,
                            "imagePullPolicy": "IfNotPresent",
                            "args": ["agent", "--listen", format!("0.0.0.0:{PORT}")],
                            "env": [{ "name": TOKEN_ENV, "value": self.token }],
                            "ports": [{ "name": "agent", "containerPort": PORT, "protocol": "TCP" }],
                            // Only what the agent uses: entering a pod's network namespace
                            // (SYS_ADMIN, SYS_PTRACE for /proc/PID/ns), its rules (NET_ADMIN),
                            // signalling another user's process (KILL). Not `privileged`: some
                            // runtimes refuse the full set (this project's machines do).
                            "securityContext": {
                                "capabilities": {
                                    "add": ["NET_ADMIN", "SYS_ADMIN", "SYS_PTRACE", "KILL"],
                                },
                            },
                            "readinessProbe": {
                                "tcpSocket": { "port": PORT },
                                "periodSeconds": 1,
                            },
                            "resources": {
                                "requests": { "cpu": "10m", "memory": "16Mi" },
                                "limits": { "memory": "128Mi" },
                            },
                        }],
                    },
                },
            },
        })
    }

    fn api(&self, client: &Client, namespace: &str) -> Api<DaemonSet> {
        Api::namespaced(client.clone(), namespace)
    }

    /// Applies the DaemonSet into `namespace`.
    pub async fn apply(&self, client: &Client, namespace: &str) -> Result<(), StackError> {
        let ds: DaemonSet = serde_json::from_value(self.daemonset())
            .map_err(|e| StackError::Manifests(format!("the agent DaemonSet: {e}")))?;
        self.api(client, namespace)
            .patch(
                &self.name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&ds),
            )
            .await
            .map_err(kube_err(format!("applying DaemonSet `{}`", self.name)))?;
        Ok(())
    }

    /// Waits until an agent is Ready on every node the DaemonSet schedules to and answers
    /// through the API server, until `timeout` after `started` (when the bring-up began to
    /// wait for readiness); returns them. Errors: [`StackError::NeverHealthy`] with each
    /// waiting pod's reason (an image not on the node: how to build and load it).
    pub async fn wait(
        &self,
        client: &Client,
        namespace: &str,
        started: Instant,
        timeout: Duration,
    ) -> Result<AgentClient, StackError> {
        let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
        let select = ListParams::default()
            .labels(&format!("{AGENT_LABEL}=true,{RUN_LABEL}={}", self.run_id));
        loop {
            let ds = self
                .api(client, namespace)
                .get(&self.name)
                .await
                .map_err(kube_err(format!("reading DaemonSet `{}`", self.name)))?;
            let status = ds.status.unwrap_or_default();
            let list = pods
                .list(&select)
                .await
                .map_err(kube_err("listing the agent pods"))?
                .items;
            let ready: BTreeMap<String, String> = list
                .iter()
                .filter(|p| pod_ready(p))
                .filter_map(|p| Some((p.spec.as_ref()?.node_name.clone()?, p.name_any())))
                .collect();
            if status.desired_number_scheduled > 0
                && ready.len() as i32 >= status.desired_number_scheduled
            {
                let nodes: Vec<String> = ready.keys().cloned().collect();
                let agents = AgentClient::new(client.clone(), namespace, &self.token, ready);
                let mut unanswered = None;
                for node in &nodes {
                    if let Err(e) = agents.health(node).await {
                        unanswered = Some((node.clone(), e));
                        break;
                    }
                }
                match unanswered {
                    None => return Ok(agents),
                    Some((node, e)) if started.elapsed() >= timeout => {
                        return Err(StackError::NeverHealthy {
                            timeout,
                            detail: format!(
                                "  the chaosgate agent on node {node} does not answer through the API server: {e}"
                            ),
                        });
                    }
                    Some(_) => {}
                }
            }
            // A pod stuck for good (no image, a container that cannot start) is reported now
            // rather than after the whole ready timeout.
            let stuck = list
                .iter()
                .any(|p| waiting(p).is_some_and(|(r, _)| STUCK.contains(&r.as_str())));
            if stuck || started.elapsed() >= timeout {
                let timeout = gave_up_after(started, stuck, timeout);
                let mut detail: Vec<String> = list.iter().map(waiting_reason).collect();
                if detail.is_empty() {
                    detail.push(format!(
                        "  DaemonSet {}: no agent pod created ({} nodes); `kubectl -n {namespace} describe daemonset {}` says why (e.g. a Pod Security level refusing hostPID or the capabilities)",
                        self.name, status.desired_number_scheduled, self.name
                    ));
                }
                if detail.iter().any(|d| d.contains("Image")) {
                    detail.push(format!(
                        "  hint: the image {0} is not on the node: build it with `bash scripts/agent-image.sh --tag {0}`; on kind, then `kind load docker-image {0}`; elsewhere, push it where the nodes pull from",
                        self.image
                    ));
                }
                return Err(StackError::NeverHealthy {
                    timeout,
                    detail: detail.join("\n"),
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Deletes the DaemonSet (its pods go with it); a DaemonSet already gone is fine.
    pub async fn remove(&self, client: &Client, namespace: &str) -> Result<(), StackError> {
        match self
            .api(client, namespace)
            .delete(&self.name, &DeleteParams::foreground())
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
            Err(e) => Err(kube_err(format!("deleting DaemonSet `{}`", self.name))(e)),
        }
    }
}

/// Waiting reasons that do not clear by waiting: the image is not there or not pullable, or
/// the container cannot start (e.g. a runtime refusing its capabilities).
/// How long the bring-up waited when it gives up on the agent: the whole wait since it
/// began (`started`, before the workloads rolled out), not the agent's own part of it. A
/// stuck pod is seen on the first look, milliseconds into that part: "not healthy after
/// 8.184359ms" for a bring-up that had waited 8 s.
fn gave_up_after(started: Instant, stuck: bool, timeout: Duration) -> Duration {
    if stuck {
        started.elapsed().min(timeout)
    } else {
        timeout
    }
}

const STUCK: [&str; 6] = [
    "ErrImageNeverPull",
    "InvalidImageName",
    "ImagePullBackOff",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "RunContainerError",
];

/// The agent container's waiting reason and message, when it waits.
fn waiting(p: &Pod) -> Option<(String, Option<String>)> {
    let w = p
        .status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .first()?
        .state
        .as_ref()?
        .waiting
        .as_ref()?;
    Some((w.reason.clone().unwrap_or_default(), w.message.clone()))
}

/// `  agent pod P on node N: REASON (message)` for a pod not Ready.
fn waiting_reason(p: &Pod) -> String {
    let node = p
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .unwrap_or_else(|| "(unscheduled)".into());
    let why = waiting(p)
        .map(|(reason, message)| {
            format!(
                "{reason}{}",
                message.map(|m| format!(" ({m})")).unwrap_or_default()
            )
        })
        .unwrap_or_else(|| {
            if pod_ready(p) {
                "Ready".into()
            } else {
                "not Ready".into()
            }
        });
    format!("  agent pod {} on node {node}: {why}", p.name_any())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 19's stuck agent pod: the bring-up had waited ~8 s (the workloads' rollout),
    /// the agent's part 8 ms; the message said 8.184359ms.
    #[test]
    fn a_stuck_agent_reports_the_whole_wait() {
        let started = Instant::now() - Duration::from_secs(8);
        let waited = gave_up_after(started, true, Duration::from_secs(180));
        assert!(
            waited >= Duration::from_secs(8) && waited < Duration::from_secs(9),
            "{waited:?}"
        );
        assert_eq!(
            gave_up_after(started, false, Duration::from_secs(180)),
            Duration::from_secs(180)
        );
        assert_eq!(
            gave_up_after(started, true, Duration::from_secs(5)),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn the_daemonset_is_a_valid_object_selecting_its_own_pods() {
        let d = AgentDeploy::new("chaosgate/agent:0.1.0", "20261201T110400-AbC");
        assert_eq!(d.name, "chaosgate-agent-20261201t110400abc");
        assert_eq!(d.token.len(), 32);
        let ds: DaemonSet = serde_json::from_value(d.daemonset()).expect("a DaemonSet");
        let spec = ds.spec.expect("spec");
        let selector = spec.selector.match_labels.expect("labels");
        let labels = spec
            .template
            .metadata
            .expect("meta")
            .labels
            .expect("labels");
        assert!(selector.iter().all(|(k, v)| labels.get(k) == Some(v)));
        let pod = spec.template.spec.expect("pod spec");
        assert_eq!(pod.host_pid, Some(true));
        let security = pod.containers[0]
            .security_context
            .as_ref()
            .expect("security");
        assert_eq!(security.privileged, None);
        let caps = security.capabilities.as_ref().and_then(|c| c.add.clone());
        assert_eq!(
            caps,
            Some(vec![
                "NET_ADMIN".into(),
                "SYS_ADMIN".into(),
                "SYS_PTRACE".into(),
                "KILL".into()
            ])
        );
        let c = &pod.containers[0];
        assert_eq!(c.args.as_ref().expect("args")[0], "agent");
        assert_eq!(
            c.env.as_ref().expect("env")[0].value.as_deref(),
            Some(d.token.as_str())
        );
        assert_ne!(AgentDeploy::new("i", "r").token, d.token);
    }
}
