//! The harness's side of the node agent: requests through the API server's pod proxy to the
//! agent pod on the node a target runs on.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chaosgate_proxy::netns_rules::{CommandOutput, CommandRunner, RuleError};
use kube::Client;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{
    ExecRequest, Health, KillReply, KillRequest, PORT, PodPidReply, PodPidRequest, TOKEN_HEADER,
};

/// A bound on one agent request: above the agent's own 10 s command timeout and 5 s kill wait.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// The agents of one run: one pod per node, reached through the API server.
#[derive(Clone)]
pub struct AgentClient {
    client: Client,
    namespace: String,
    token: String,
    /// Node name → the agent pod on it.
    by_node: Arc<BTreeMap<String, String>>,
}

impl std::fmt::Debug for AgentClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentClient")
            .field("namespace", &self.namespace)
            .field("by_node", &self.by_node)
            .finish_non_exhaustive()
    }
}

impl AgentClient {
    /// Agents in `namespace` answering with `token`; `by_node` maps each node to its agent pod.
    pub fn new(
        client: Client,
        namespace: &str,
        token: &str,
        by_node: BTreeMap<String, String>,
    ) -> Self {
        Self {
            client,
            namespace: namespace.to_string(),
            token: token.to_string(),
            by_node: Arc::new(by_node),
        }
    }

    fn pod_on(&self, node: &str) -> Result<&str, String> {
        self.by_node.get(node).map(String::as_str).ok_or_else(|| {
            format!(
                "no chaosgate agent runs on node {node} (agents on: {})",
                self.by_node.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })
    }

    async fn call<Q: Serialize, A: DeserializeOwned>(
        &self,
        node: &str,
        path: &str,
        body: Option<&Q>,
    ) -> Result<A, String> {
        let pod = self.pod_on(node)?;
        let uri = format!(
            "/api/v1/namespaces/{}/pods/{pod}:{PORT}/proxy{path}",
            self.namespace
        );
        let builder = http::Request::builder()
            .uri(&uri)
            .header(TOKEN_HEADER, &self.token)
            .header(http::header::CONTENT_TYPE, "application/json");
        let request = match body {
            Some(b) => builder
                .method(http::Method::POST)
                .body(serde_json::to_vec(b).map_err(|e| e.to_string())?),
            None => builder.method(http::Method::GET).body(Vec::new()),
        }
        .map_err(|e| e.to_string())?;
        let text = tokio::time::timeout(REQUEST_TIMEOUT, self.client.request_text(request))
            .await
            .map_err(|_| {
                format!("the agent on node {node} did not answer {path} within {REQUEST_TIMEOUT:?}")
            })?
            .map_err(|e| format!("the agent on node {node} ({pod}), {path}: {e}"))?;
        serde_json::from_str(&text)
            .map_err(|e| format!("the agent on node {node} answered {path} with `{text}`: {e}"))
    }

    /// The agent's version on `node`. Errors: the agent is not reachable.
    pub async fn health(&self, node: &str) -> Result<Health, String> {
        self.call::<(), Health>(node, "/v1/health", None).await
    }

    /// A process of the pod's sandbox on `node` (its network namespace).
    pub async fn pod_pid(&self, node: &str, pod_uid: &str) -> Result<u32, String> {
        let body = PodPidRequest {
            pod_uid: pod_uid.to_string(),
        };
        let reply: PodPidReply = self.call(node, "/v1/pod-pid", Some(&body)).await?;
        Ok(reply.pid)
    }

    /// SIGKILL of a container's main process on `node`; the reply says whether it was gone in
    /// time.
    pub async fn kill(&self, node: &str, container_id: &str) -> Result<KillReply, String> {
        let body = KillRequest {
            container_id: container_id.to_string(),
        };
        self.call(node, "/v1/kill", Some(&body)).await
    }

    /// Runs rule commands on `node` through its agent. Must be created inside the runtime; its
    /// commands block their (blocking-pool) thread on it, as the rule code expects.
    pub fn runner(&self, node: &str) -> Arc<dyn CommandRunner> {
        Arc::new(AgentRunner {
            agents: self.clone(),
            node: node.to_string(),
            runtime: tokio::runtime::Handle::current(),
        })
    }
}

/// A [`CommandRunner`] whose commands run on a node, through its agent.
pub struct AgentRunner {
    agents: AgentClient,
    node: String,
    runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for AgentRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentRunner")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl CommandRunner for AgentRunner {
    fn run(&self, program: &str, args: &[String]) -> Result<CommandOutput, RuleError> {
        let body = ExecRequest {
            program: program.to_string(),
            args: args.to_vec(),
        };
        self.runtime
            .block_on(self.agents.call(&self.node, "/v1/exec", Some(&body)))
            .map_err(|e| RuleError::Spawn {
                command: format!("{program} {}", args.join(" ")),
                source: std::io::Error::other(e),
            })
    }
}
