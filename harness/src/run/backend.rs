//! The stacks a run executes on, behind one trait: what each phase of a run
//! ([`super::execute`]) needs from a compose project, a Kubernetes namespace, or a scripted
//! fake (run/fake.rs: whole plans run on it without Docker, in paused time). It is the one
//! backend trait: the stacks in `stack/` are its parts, not trait objects of their own.

use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::fault::dispatch::{ComposeFaults, KubeFaults};
use crate::fault::schedule::FaultBackend;
use crate::plan::RunSpec;
use crate::stack::compose::ComposeStack;
use crate::stack::docker::project_containers;
use crate::stack::events::{ContainerEvent, start_recorder};
use crate::stack::kube::KubeStack;
use crate::stack::{AddressBook, ContainerInfo, StackError};
use crate::timeline::EventSink;

/// What a run needs from the stack it runs on, phase by phase. Errors are infrastructure
/// errors (exit 3); the stack is torn down whatever a phase returns.
#[allow(async_fn_in_trait)]
pub trait RunBackend {
    /// How the run schedules faults on this stack.
    type Faults: FaultBackend + Send + Sync + 'static;
    /// Held while the run's work goes on (the proxy faults' interceptions); dropped before the
    /// stack goes down.
    type Wiring: Send;

    /// The compose project, or the namespace: unique to the run.
    fn project(&self) -> &str;
    /// What its members are called in progress lines (`containers`, `pods`).
    fn members(&self) -> &'static str;
    /// Brings it up; does not wait for readiness.
    async fn up(&mut self) -> Result<(), StackError>;
    /// Waits until everything is ready; the members then.
    async fn wait_ready(&self, timeout: Duration) -> Result<Vec<ContainerInfo>, StackError>;
    /// Routes the proxy faults' paths through their interception (fault/network/wiring.rs).
    async fn wire(
        &self,
        spec: &RunSpec,
        ready: &[ContainerInfo],
        run_id: &str,
    ) -> Result<Self::Wiring, StackError>;
    /// Addresses that do not come from the members (a Kubernetes Service's NodePort).
    async fn fixed_addresses(&self, book: &AddressBook) -> Result<(), StackError>;
    /// Checks what the members listen on against what the scenario connects to, within
    /// `bound`; notes for the timeline.
    async fn check_listening(
        &self,
        spec: &RunSpec,
        bound: Duration,
    ) -> Result<Vec<String>, StackError>;
    /// Starts recording the stack's own events (Docker's, the pods') on the timeline until
    /// `cancel`; the sender feeds the fault kinds that wait for container events.
    async fn record_events(
        &self,
        sink: &EventSink,
        book: Arc<AddressBook>,
        cancel: CancellationToken,
    ) -> (broadcast::Sender<ContainerEvent>, JoinHandle<()>);
    /// Whether the run waits for the probes' steady state before the load starts (Ready pods
    /// are not yet a usable stack on Kubernetes).
    fn waits_for_steady_state(&self) -> bool;
    /// The Docker client and Kubernetes API the probes use.
    fn probe_clients(&self) -> (Docker, Option<(kube::Client, String)>);
    /// The fault scheduler's view of this stack for one run.
    fn faults(&self, events: broadcast::Sender<ContainerEvent>, run: (String, u64))
    -> Self::Faults;
    /// The members as they are now.
    async fn containers(&self) -> Result<Vec<ContainerInfo>, StackError>;
    /// Removes everything it created; safe to call more than once.
    async fn down(&mut self) -> Result<(), StackError>;
    /// Leaves it up; the command that removes it.
    async fn keep(&mut self) -> String;
    /// Said before [`Self::down`] when it may take a while.
    fn down_line(&self) -> Option<String> {
        None
    }
}

/// A compose project through Docker.
pub struct Compose {
    /// The project.
    pub stack: ComposeStack,
    /// The Docker daemon.
    pub docker: Docker,
}

impl RunBackend for Compose {
    type Faults = ComposeFaults;
    type Wiring = crate::fault::network::Interceptions;

    fn project(&self) -> &str {
        self.stack.project()
    }

    fn members(&self) -> &'static str {
        "containers"
    }

    async fn up(&mut self) -> Result<(), StackError> {
        self.stack.up().await
    }

    async fn wait_ready(&self, timeout: Duration) -> Result<Vec<ContainerInfo>, StackError> {
        self.stack.wait_ready(timeout).await
    }

    async fn wire(
        &self,
        spec: &RunSpec,
        ready: &[ContainerInfo],
        run_id: &str,
    ) -> Result<Self::Wiring, StackError> {
        Ok(crate::fault::network::wire_interceptions(
            spec,
            &self.docker,
            Some(self.stack.project()),
            ready,
            run_id,
        )
        .await)
    }

    async fn fixed_addresses(&self, _: &AddressBook) -> Result<(), StackError> {
        Ok(())
    }

    async fn check_listening(
        &self,
        spec: &RunSpec,
        bound: Duration,
    ) -> Result<Vec<String>, StackError> {
        let wanted = crate::plan::listen_checks(spec);
        crate::stack::listening::verify(&self.docker, self.stack.project(), &wanted, bound).await
    }

    async fn record_events(
        &self,
        sink: &EventSink,
        book: Arc<AddressBook>,
        cancel: CancellationToken,
    ) -> (broadcast::Sender<ContainerEvent>, JoinHandle<()>) {
        start_recorder(
            self.docker.clone(),
            self.stack.project().to_string(),
            sink.clone(),
            book,
            cancel,
        )
        .await
    }

    fn waits_for_steady_state(&self) -> bool {
        false
    }

    fn probe_clients(&self) -> (Docker, Option<(kube::Client, String)>) {
        (self.docker.clone(), None)
    }

    fn faults(
        &self,
        events: broadcast::Sender<ContainerEvent>,
        run: (String, u64),
    ) -> ComposeFaults {
        ComposeFaults {
            docker: self.docker.clone(),
            project: self.stack.project().to_string(),
            events,
            run,
            scaler: self.stack.scaler(),
        }
    }

    async fn containers(&self) -> Result<Vec<ContainerInfo>, StackError> {
        project_containers(&self.docker, self.stack.project()).await
    }

    async fn down(&mut self) -> Result<(), StackError> {
        self.stack.down().await
    }

    async fn keep(&mut self) -> String {
        self.stack.keep()
    }
}

/// A Kubernetes namespace through the API (and the node's Docker runtime for node faults).
pub struct Kube {
    /// The namespace and its workloads.
    pub stack: KubeStack,
    /// The node's Docker daemon (`crash`, and the pods' sandboxes for network faults).
    pub docker: Docker,
}

impl RunBackend for Kube {
    type Faults = KubeFaults;
    type Wiring = crate::fault::network::Interceptions;

    fn project(&self) -> &str {
        self.stack.namespace()
    }

    fn members(&self) -> &'static str {
        "pods"
    }

    async fn up(&mut self) -> Result<(), StackError> {
        self.stack.up().await
    }

    async fn wait_ready(&self, timeout: Duration) -> Result<Vec<ContainerInfo>, StackError> {
        self.stack.wait_ready(timeout).await
    }

    /// Pods are wired in their sandboxes' namespaces; a path's peers are the peer workload's
    /// pods and its Services' ClusterIPs (what a pod connects to by name).
    async fn wire(
        &self,
        spec: &RunSpec,
        ready: &[ContainerInfo],
        run_id: &str,
    ) -> Result<Self::Wiring, StackError> {
        let mut pods = Vec::new();
        if spec.has_proxy_faults() {
            pods = ready.to_vec();
            if let Err(e) = self.stack.with_sandbox_pids(&self.docker, &mut pods).await {
                tracing::warn!("finding the pods' sandboxes to wire proxy faults: {e}");
            }
            pods.extend(self.stack.service_peers().await?);
        }
        Ok(
            crate::fault::network::wire_interceptions(spec, &self.docker, None, &pods, run_id)
                .await,
        )
    }

    async fn fixed_addresses(&self, book: &AddressBook) -> Result<(), StackError> {
        for (service, port, addr) in self.stack.service_addresses().await? {
            book.set_fixed(&service, port, addr);
        }
        Ok(())
    }

    /// Ports are declared by the manifests (validated), and the probes must pass before the
    /// run starts ([`Self::waits_for_steady_state`]).
    async fn check_listening(&self, _: &RunSpec, _: Duration) -> Result<Vec<String>, StackError> {
        Ok(Vec::new())
    }

    async fn record_events(
        &self,
        sink: &EventSink,
        _: Arc<AddressBook>,
        cancel: CancellationToken,
    ) -> (broadcast::Sender<ContainerEvent>, JoinHandle<()>) {
        (
            broadcast::channel(16).0,
            crate::stack::kube::watch::start(
                self.stack.client().clone(),
                self.stack.namespace().to_string(),
                sink.clone(),
                cancel,
            ),
        )
    }

    fn waits_for_steady_state(&self) -> bool {
        true
    }

    fn probe_clients(&self) -> (Docker, Option<(kube::Client, String)>) {
        (
            self.docker.clone(),
            Some((
                self.stack.client().clone(),
                self.stack.namespace().to_string(),
            )),
        )
    }

    fn faults(&self, _: broadcast::Sender<ContainerEvent>, run: (String, u64)) -> KubeFaults {
        KubeFaults {
            stack: self.stack.clone(),
            docker: self.docker.clone(),
            run,
        }
    }

    async fn containers(&self) -> Result<Vec<ContainerInfo>, StackError> {
        self.stack.containers().await
    }

    async fn down(&mut self) -> Result<(), StackError> {
        self.stack.down().await
    }

    async fn keep(&mut self) -> String {
        self.stack.keep().await
    }

    fn down_line(&self) -> Option<String> {
        Some(format!(
            "deleting namespace {} (its workloads and pods first; at most {}s)",
            self.stack.namespace(),
            crate::stack::kube::TEARDOWN_BOUND.as_secs()
        ))
    }
}
