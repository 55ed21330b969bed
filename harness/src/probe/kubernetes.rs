//! The `kubernetes` probe: a workload (Deployment or StatefulSet) has at least `ready` Ready
//! replicas (its desired count when unset), as the API reports it.

use super::ProbeEnv;

pub(super) async fn check(
    env: &ProbeEnv,
    workload: &str,
    ready: Option<u32>,
) -> Result<(), String> {
    let Some((client, namespace)) = &env.kube else {
        return Err("a kubernetes probe needs a Kubernetes stack".into());
    };
    let (have, want) = workload_ready(client, namespace, workload).await?;
    let want = ready.map_or(want, i64::from);
    if have >= want {
        Ok(())
    } else {
        Err(format!("{workload}: {have} of {want} replicas Ready"))
    }
}

/// Ready and desired replicas of a Deployment or StatefulSet named `name`.
async fn workload_ready(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<(i64, i64), String> {
    use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
    let deployments: kube::Api<Deployment> = kube::Api::namespaced(client.clone(), namespace);
    if let Some(d) = deployments.get_opt(name).await.map_err(|e| e.to_string())? {
        let want = d.spec.and_then(|s| s.replicas).unwrap_or(1);
        let have = d.status.and_then(|s| s.ready_replicas).unwrap_or(0);
        return Ok((i64::from(have), i64::from(want)));
    }
    let sets: kube::Api<StatefulSet> = kube::Api::namespaced(client.clone(), namespace);
    match sets.get_opt(name).await.map_err(|e| e.to_string())? {
        Some(s) => Ok((
            i64::from(s.status.and_then(|s| s.ready_replicas).unwrap_or(0)),
            i64::from(s.spec.and_then(|s| s.replicas).unwrap_or(1)),
        )),
        None => Err(format!("no Deployment or StatefulSet `{name}`")),
    }
}
