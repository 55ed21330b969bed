//! What the runner does for a fault: the executor family a kind runs on and its instruction
//! there. A kind (fault/kinds/) turns its parameters into one of these; the scheduler
//! (fault/dispatch.rs) runs each family's lifecycle.

use std::collections::BTreeMap;

use super::container::ContainerAction;
use super::kube::KubeAction;
use super::network::NetworkAction;
use super::resource::ResourceAction;
use super::rollout::Strategy;

/// A fault's instruction to its executor.
#[derive(Debug, Clone)]
pub enum Exec {
    /// A Docker-level fault on the targets' containers (fault/container.rs).
    Container(ContainerAction),
    /// A network fault: the fault proxy or iptables rules in the targets' namespaces
    /// (fault/network.rs), on either backend.
    Network(NetworkAction),
    /// A fault through the Kubernetes API or the node (fault/kube.rs).
    Kube(KubeAction),
    /// CPU or memory stress in the targets' cgroups, or a disk filled inside them
    /// (fault/resource/).
    Resource(ResourceAction),
    /// A deploy under load (fault/rollout.rs): one-shot, never reverted.
    Rollout {
        /// How the old containers are replaced.
        strategy: Strategy,
        /// Compose variables changed for the new version (`set:`).
        set: BTreeMap<String, String>,
        /// Once the new version is in, roll back to the previous one the same way
        /// (`then: rollback`).
        rollback: bool,
    },
}

impl Exec {
    /// Whether the fault is held for its `duration` and then reverted (crash, restart and the
    /// deploys are one-shot: the stack's own recovery ends them).
    pub fn holds(&self) -> bool {
        match self {
            Self::Container(a) => !matches!(a, ContainerAction::Crash | ContainerAction::Restart),
            Self::Network(_) | Self::Resource(_) => true,
            Self::Kube(a) => a.holds(),
            Self::Rollout { .. } => false,
        }
    }

    /// The services whose network paths it intercepts or rewires around `target`: a proxy
    /// link's ends, loss and partition's peers, an isolated target. Empty for the others.
    pub fn wired(&self, target: &str) -> Vec<String> {
        let peers = |peers: &[String]| {
            std::iter::once(target.to_string())
                .chain(peers.iter().cloned())
                .collect()
        };
        match self {
            Self::Network(NetworkAction::Proxy { link, .. }) => match link {
                super::network::Link::Egress { service, .. } => {
                    vec![target.to_string(), service.clone()]
                }
                super::network::Link::Ingress { .. } => vec![target.to_string()],
            },
            Self::Network(NetworkAction::Loss { peers: p, .. })
            | Self::Network(NetworkAction::Partition { peers: p, .. }) => peers(p),
            Self::Network(NetworkAction::Isolate | NetworkAction::Dns { .. }) => {
                vec![target.to_string()]
            }
            Self::Container(_) | Self::Kube(_) | Self::Resource(_) | Self::Rollout { .. } => {
                Vec::new()
            }
        }
    }

    /// Whether it goes through the fault proxy (its paths are wired at bring-up).
    pub fn is_proxy(&self) -> bool {
        matches!(self, Self::Network(NetworkAction::Proxy { .. }))
    }

    /// Whether it runs in the harness's own process inside the targets' namespaces or cgroups:
    /// the fault proxy, a DNS fault's rules with its resolver and canary, the resource helpers.
    /// On Kubernetes that needs the harness on the targets' node (the local cluster), so none
    /// of these runs through the node agent.
    pub fn in_harness(&self) -> bool {
        matches!(
            self,
            Self::Network(NetworkAction::Proxy { .. } | NetworkAction::Dns { .. })
                | Self::Resource(_)
        )
    }

    /// Whether it acts on a Kubernetes node (crash, loss, partition): what the node agent is
    /// deployed for.
    pub fn on_node(&self) -> bool {
        matches!(
            self,
            Self::Kube(KubeAction::Crash)
                | Self::Network(NetworkAction::Loss { .. } | NetworkAction::Partition { .. })
        )
    }
}
