//! The Kubernetes stack against API objects as a 1.20 API server returns them (the reference
//! stack of deploy/kubernetes: a gateway Deployment of two replicas, one of them terminating
//! and replaced, a market-data StatefulSet, a NodePort and a headless Service), served to a
//! real kube client through an in-process service: what the stack reads of pods, workloads
//! and Services is tested without a cluster.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use serde_json::{Value, json};

use super::KubeStack;
use crate::stack::StackError;

const NS: &str = "cg-test";

fn list(kind: &str, items: Vec<Value>) -> Value {
    json!({ "kind": format!("{kind}List"), "apiVersion": "v1", "metadata": { "resourceVersion": "1" }, "items": items })
}

fn deployment(name: &str, replicas: i32, ready: i32) -> Value {
    json!({
        "metadata": { "name": name, "namespace": NS, "generation": 1 },
        "spec": { "replicas": replicas, "selector": { "matchLabels": { "app": name } },
                  "template": { "metadata": { "labels": { "app": name } }, "spec": { "containers": [] } } },
        "status": { "replicas": replicas, "readyReplicas": ready, "availableReplicas": ready,
                    "updatedReplicas": replicas, "observedGeneration": 1 }
    })
}

fn statefulset(name: &str, replicas: i32, ready: i32) -> Value {
    json!({
        "metadata": { "name": name, "namespace": NS, "generation": 2 },
        "spec": { "replicas": replicas, "serviceName": name, "selector": { "matchLabels": { "app": name } },
                  "template": { "metadata": { "labels": { "app": name } }, "spec": { "containers": [] } } },
        "status": { "replicas": replicas, "readyReplicas": ready, "currentReplicas": replicas,
                    "updatedReplicas": replicas, "observedGeneration": 2 }
    })
}

fn pod(name: &str, app: &str, created: &str, ip: &str, ready: bool, terminating: bool) -> Value {
    let mut p = json!({
        "metadata": { "name": name, "namespace": NS, "uid": format!("uid-{name}"),
                      "creationTimestamp": created, "labels": { "app": app, "track": "stable" } },
        "spec": { "containers": [ { "name": app, "image": format!("chaosgate/{app}:0.1.0") } ], "nodeName": "node-1" },
        "status": { "phase": "Running", "podIP": ip,
                    "conditions": [ { "type": "Ready", "status": if ready { "True" } else { "False" } } ],
                    "containerStatuses": [ { "name": app, "ready": ready, "restartCount": 2, "image": "x", "imageID": "x" } ] }
    });
    if terminating {
        p["metadata"]["deletionTimestamp"] = json!("2026-12-05T08:00:05Z");
    }
    p
}

fn service(name: &str, app: &str, cluster_ip: &str, port: u16, node_port: Option<u16>) -> Value {
    let mut port = json!({ "port": port, "targetPort": port, "protocol": "TCP" });
    if let Some(n) = node_port {
        port["nodePort"] = json!(n);
    }
    json!({
        "metadata": { "name": name, "namespace": NS },
        "spec": { "clusterIP": cluster_ip, "selector": { "app": app }, "ports": [port],
                  "type": if node_port.is_some() { "NodePort" } else { "ClusterIP" } }
    })
}

/// The API: a list per resource path; every request's path and query are kept.
#[derive(Clone)]
struct Api {
    pods: Value,
    deployments: Value,
    statefulsets: Value,
    services: Value,
    asked: Arc<Mutex<Vec<String>>>,
}

impl Api {
    /// The reference stack; its gateway's second replica Ready or not, its first terminating
    /// (replaced) or gone.
    fn reference(gateway_ready: bool, replaced: bool) -> Self {
        let mut pods = vec![
            pod(
                "gateway-7d9-b",
                "gateway",
                "2026-12-05T08:00:03Z",
                "10.244.0.12",
                gateway_ready,
                false,
            ),
            pod(
                "gateway-7d9-a",
                "gateway",
                "2026-12-05T08:00:01Z",
                "10.244.0.11",
                true,
                true,
            ),
            pod(
                "marketdata-0",
                "marketdata",
                "2026-12-05T08:00:00Z",
                "10.244.0.20",
                true,
                false,
            ),
        ];
        if !replaced {
            pods.remove(1);
        }
        Self {
            // Listed out of creation order: the stack numbers replicas by creation.
            pods: list("Pod", pods),
            deployments: list(
                "Deployment",
                vec![deployment("gateway", 2, if gateway_ready { 2 } else { 1 })],
            ),
            statefulsets: list("StatefulSet", vec![statefulset("marketdata", 1, 1)]),
            services: list(
                "Service",
                vec![
                    service("gateway", "gateway", "10.96.0.10", 8080, Some(30080)),
                    service("marketdata", "marketdata", "10.96.0.20", 8081, None),
                    service("marketdata-headless", "marketdata", "None", 8081, None),
                ],
            ),
            asked: Arc::default(),
        }
    }

    fn client(&self) -> kube::Client {
        let api = self.clone();
        let svc = tower::service_fn(move |req: http::Request<kube::client::Body>| {
            let api = api.clone();
            async move {
                let uri = req.uri().clone();
                api.asked.lock().unwrap().push(uri.to_string());
                let body = match uri.path() {
                    p if p == format!("/api/v1/namespaces/{NS}/pods") => &api.pods,
                    p if p == format!("/apis/apps/v1/namespaces/{NS}/deployments") => {
                        &api.deployments
                    }
                    p if p == format!("/apis/apps/v1/namespaces/{NS}/statefulsets") => {
                        &api.statefulsets
                    }
                    p if p == format!("/api/v1/namespaces/{NS}/services") => &api.services,
                    other => panic!("the stack asked for {other}, which this test does not serve"),
                };
                Ok::<_, std::convert::Infallible>(
                    http::Response::builder()
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from(body.to_string())))
                        .unwrap(),
                )
            }
        });
        kube::Client::new(svc, NS)
    }
}

const NODE: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 49, 2));

#[tokio::test]
async fn pods_are_the_workloads_replicas_numbered_by_creation() {
    let api = Api::reference(true, true);
    let stack = KubeStack::attached(api.client(), NS, NODE);
    let pods = stack.containers().await.unwrap();
    let got: Vec<(&str, &str, u32, bool, Option<&str>)> = pods
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.service.as_str(),
                p.number,
                p.running,
                p.health.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("marketdata-0", "marketdata", 1, true, Some("healthy")),
            // The terminating pod is the gateway's first by creation, and no longer running.
            ("gateway-7d9-a", "gateway", 1, false, Some("healthy")),
            ("gateway-7d9-b", "gateway", 2, true, Some("healthy")),
        ]
    );
    assert_eq!(
        pods[2].networks,
        [("pod".to_string(), "10.244.0.12".to_string())]
    );
    assert_eq!(pods[2].restart_count, 2);
    assert_eq!(
        pods[2].labels.get("track").map(String::as_str),
        Some("stable")
    );
    // The node agent's pods are never the stack's.
    let asked = api.asked.lock().unwrap();
    let pod_lists: Vec<&String> = asked.iter().filter(|u| u.contains("/pods")).collect();
    assert!(
        pod_lists.iter().all(|u| u.contains("labelSelector=%21")),
        "{pod_lists:?}"
    );
}

#[tokio::test]
async fn services_are_reached_at_their_node_port_or_cluster_ip() {
    let stack = KubeStack::attached(Api::reference(true, true).client(), NS, NODE);
    let addrs = stack.service_addresses().await.unwrap();
    assert_eq!(
        addrs,
        [
            ("gateway".to_string(), 8080, SocketAddr::new(NODE, 30080)),
            (
                "marketdata".to_string(),
                8081,
                "10.96.0.20:8081".parse().unwrap()
            ),
        ],
        "a headless Service has no address of its own"
    );
    // Inside a pod a Service is its ClusterIP: a peer of the workloads it selects.
    let peers = stack.service_peers().await.unwrap();
    let got: Vec<(&str, &str, &str)> = peers
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.service.as_str(),
                p.networks[0].1.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("service/gateway", "gateway", "10.96.0.10"),
            ("service/marketdata", "marketdata", "10.96.0.20"),
        ]
    );
}

#[tokio::test]
async fn a_workload_named_is_found_and_a_missing_one_is_a_manifest_error() {
    let stack = KubeStack::attached(Api::reference(true, true).client(), NS, NODE);
    let md = stack.workload("marketdata").await.unwrap();
    assert_eq!((md.kind, md.replicas, md.ready), ("StatefulSet", 1, 1));
    match stack.workload("nope").await {
        Err(StackError::Manifests(m)) => {
            assert!(
                m.contains("no Deployment or StatefulSet `nope` in namespace `cg-test`"),
                "{m}"
            )
        }
        other => panic!("{other:?}"),
    }
}

/// A workload short of Ready replicas is waited for, and named when the wait runs out (exit
/// 3), with each pod that is not Ready.
#[tokio::test(start_paused = true)]
async fn an_unready_workload_is_named_when_the_wait_runs_out() {
    let stack = KubeStack::attached(Api::reference(false, false).client(), NS, NODE);
    match stack.wait_ready(Duration::from_secs(5)).await {
        Err(StackError::NeverHealthy { detail, .. }) => {
            assert!(detail.contains("Deployment gateway: 1/2 ready"), "{detail}");
            assert!(
                detail.contains("pod gateway-7d9-b (gateway): not Ready"),
                "{detail}"
            );
            assert!(!detail.contains("marketdata"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    // A replaced pod still terminating is waited for too: the stack is not steady yet.
    let replacing = KubeStack::attached(Api::reference(true, true).client(), NS, NODE);
    match replacing.wait_ready(Duration::from_secs(5)).await {
        Err(StackError::NeverHealthy { detail, .. }) => {
            assert_eq!(detail, "  pod gateway-7d9-a (gateway): not Ready")
        }
        other => panic!("{other:?}"),
    }
    let ready = KubeStack::attached(Api::reference(true, false).client(), NS, NODE);
    assert_eq!(
        ready
            .wait_ready(Duration::from_secs(5))
            .await
            .unwrap()
            .len(),
        2
    );
}
