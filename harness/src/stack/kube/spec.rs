//! A Kubernetes stack as a run needs it: where its manifests are, which namespace and cluster,
//! and the node agent. Checked from a scenario's `stack.kubernetes` (scenario/validate/stack.rs);
//! defined here so the stack below the scenario format never reads it.

use std::path::PathBuf;

use serde::Serialize;

/// `stack.kubernetes`, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KubeStackSpec {
    /// Manifest files (absolute; folders expanded in name order), applied in this order;
    /// empty with `kustomize` or `existing`.
    pub manifests: Vec<PathBuf>,
    /// A kustomization folder (absolute), rendered by `kubectl kustomize` instead of
    /// `manifests`.
    pub kustomize: Option<PathBuf>,
    /// `None`: a fresh namespace per run.
    pub namespace: Option<String>,
    /// Attach to `namespace`: nothing applied, nothing deleted.
    pub existing: bool,
    /// Kubeconfig file; `None`: `$KUBECONFIG`, then `~/.kube/config`, as kubectl.
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context; `None`: the kubeconfig's current context.
    pub context: Option<String>,
    /// Where NodePort Services are reached from the harness.
    pub node_address: String,
    /// The node agent the node-side faults go through, when the scenario asks for one.
    pub agent: Option<NodeAgentSpec>,
}

/// `stack.kubernetes.agent`, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeAgentSpec {
    /// The agent's image reference.
    pub image: String,
}
