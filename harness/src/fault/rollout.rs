//! `rollout`: a deploy under load. A compose service's containers are replaced by a new version
//! (the service's configuration with variables changed) while the load runs:
//!
//! * `recreate`: stop every old container, then start the new set;
//! * `rolling`: one replica at a time: start a new one, wait until Docker reports it healthy,
//!   stop an old one (its stop signal and grace period), remove it;
//! * `blue-green`: start a full new set, wait until all are healthy, then stop (drain) and
//!   remove the old set.
//!
//! New containers come from `compose up -d --no-deps --no-recreate --scale SERVICE=N SERVICE`
//! with the changed variables (compose v1 and v2 both create the missing containers from the
//! current configuration and leave existing ones alone); old ones are stopped and removed
//! through the Docker API, so compose never picks which to remove. Proof is Docker's events:
//! every new container `start` + `healthy`, every old one `die`. The `during=` window runs from
//! the first step to the last old container gone ([`FaultStage::Completed`]). A rollout is not
//! reverted: it is a deploy (like a crash, it is one-shot).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{RemoveContainerOptionsBuilder, StopContainerOptions};
use serde_json::json;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::FaultRecord;
use crate::stack::ContainerInfo;
use crate::stack::compose::ComposeScaler;
use crate::stack::docker::{api_error, project_containers};
use crate::stack::events::ContainerEvent;
use crate::timeline::{DockerAction, EventKind, EventSink, FaultStage};

/// How long a new container may take to report healthy (its image's health check, with the
/// stack's start period) before the rollout is declared failed.
pub const HEALTHY_TIMEOUT: Duration = Duration::from_secs(60);

/// How a rollout replaces the old containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Stop every old container, then start the new set.
    Recreate,
    /// One replica at a time: start a new one, wait until it is healthy, stop and remove an old
    /// one.
    Rolling,
    /// Start a full new set, wait until all are healthy, then stop and remove the old set.
    BlueGreen,
}

impl Strategy {
    /// The strategy as scenario files spell it (`recreate`, `rolling`, `blue-green`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Recreate => "recreate",
            Self::Rolling => "rolling",
            Self::BlueGreen => "blue-green",
        }
    }
}

/// Everything a rollout needs.
pub struct RolloutEnv<'a> {
    /// The Docker API client.
    pub docker: &'a Docker,
    /// The compose project name whose service is rolled out.
    pub project: &'a str,
    /// Where each rollout stage is recorded on the timeline.
    pub sink: &'a EventSink,
    /// The stack's Docker event stream, subscribed to for the new containers' start and health.
    pub events: &'a broadcast::Sender<ContainerEvent>,
    /// Runs compose to create the new version's containers.
    pub scaler: &'a ComposeScaler,
}

#[derive(Debug, thiserror::Error)]
enum RolloutError {
    #[error(transparent)]
    Stack(#[from] crate::stack::StackError),
    #[error("{0}")]
    Step(String),
    #[error("interrupted")]
    Cancelled,
}

/// What a rollout deploys, and how.
#[derive(Debug, Clone, Copy)]
pub struct RolloutPlan<'a> {
    /// How old containers are replaced.
    pub strategy: Strategy,
    /// Compose variables of the new version.
    pub set: &'a BTreeMap<String, String>,
    /// Then deploy the previous version back, the same way.
    pub rollback: bool,
}

/// The previous version: the stack's own variables, nothing changed.
static PREVIOUS_VERSION: BTreeMap<String, String> = BTreeMap::new();

/// Replaces `old` (the service's running containers) by the new version, and with
/// `rollback` the new containers by the previous version once they are all in. Every step is
/// a note on the timeline and in the record's evidence; errors are recorded, not returned.
pub async fn run_rollout(
    env: &RolloutEnv<'_>,
    record: &mut FaultRecord,
    plan: &RolloutPlan<'_>,
    old: &[ContainerInfo],
    cancel: &CancellationToken,
) {
    let (strategy, set) = (plan.strategy, plan.set);
    let mut old = old.to_vec();
    old.sort_by_key(|c| c.number);
    let service = old.first().map(|c| c.service.clone()).unwrap_or_default();
    record.targets = old.iter().map(|c| c.name.clone()).collect();
    record
        .evidence
        .insert("strategy".into(), json!(strategy.name()));
    record.evidence.insert("set".into(), json!(set));
    record.evidence.insert(
        "compose".into(),
        json!(format!(
            "{} {}",
            env.scaler.display(),
            env.scaler.scale_args(&service, 0).join(" ")
        )),
    );
    let mut run = Rollout {
        env,
        record,
        service,
        set,
        proofs: Vec::new(),
        new_names: Vec::new(),
    };
    let applied = env.sink.clock().now_ns();
    run.record.applied_ns = Some(applied);
    env.sink.record_at(
        applied,
        EventKind::Fault {
            fault: run.record.name.clone(),
            stage: FaultStage::Applied,
            targets: run.record.targets.clone(),
            detail: Some(format!(
                "{} rollout of {} container(s)",
                strategy.name(),
                old.len()
            )),
        },
    );
    // Docker events that prove the deploy: each new container started and healthy, each
    // old one died (counted per direction with a rollback).
    let mut expected = 0;
    let steps = async {
        run.deploy(strategy, &old).await?;
        expected += 2 * run.new_names.len() + old.len();
        if plan.rollback {
            let deployed = run.service_containers().await?;
            run.note(format!(
                "rolling back: {} container(s) of the previous version replace {}",
                deployed.len(),
                deployed
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            run.record.evidence.insert(
                "rolled_back".into(),
                json!(deployed.iter().map(|c| &c.name).collect::<Vec<_>>()),
            );
            let forward = run.new_names.len();
            run.set = &PREVIOUS_VERSION;
            run.deploy(strategy, &deployed).await?;
            expected += 2 * (run.new_names.len() - forward) + deployed.len();
        }
        Ok(())
    };
    let outcome = tokio::select! {
        r = steps => r,
        _ = cancel.cancelled() => Err(RolloutError::Cancelled),
    };
    let Rollout {
        proofs, new_names, ..
    } = run;
    record
        .evidence
        .insert("new_containers".into(), json!(new_names));
    if let Err(e) = outcome {
        let message = match e {
            RolloutError::Cancelled => {
                "the run ended during the rollout (the stack is torn down as usual)".to_string()
            }
            e => format!("rollout: {e}"),
        };
        env.sink.record(EventKind::Fault {
            fault: record.name.clone(),
            stage: FaultStage::Failed,
            targets: record.targets.clone(),
            detail: Some(message.clone()),
        });
        record.error = Some(message);
        return;
    }
    let done = env.sink.clock().now_ns();
    // Proven by Docker's events: each new container started and healthy, each old one died.
    if proofs.len() == expected && !new_names.is_empty() {
        let t = proofs.iter().copied().max().unwrap_or(done);
        record.verified_ns = Some(t);
        env.sink.record_at(
            t,
            EventKind::Fault {
                fault: record.name.clone(),
                stage: FaultStage::Verified,
                targets: record.targets.clone(),
                detail: Some(format!(
                    "docker events: {} new container(s) started and healthy, {} old one(s) died",
                    new_names.len(),
                    old.len()
                )),
            },
        );
    } else {
        env.sink.record(EventKind::Fault {
            fault: record.name.clone(),
            stage: FaultStage::Unverified,
            targets: record.targets.clone(),
            detail: Some(format!(
                "{} of {expected} docker events proving the rollout were seen",
                proofs.len()
            )),
        });
    }
    record.target_back_ns = Some(done);
    record.evidence.insert("completed_ns".into(), json!(done));
    env.sink.record_at(
        done,
        EventKind::Fault {
            fault: record.name.clone(),
            stage: FaultStage::Completed,
            targets: record.targets.clone(),
            detail: Some(format!(
                "the last old container is gone; new: {}",
                new_names.join(", ")
            )),
        },
    );
}

struct Rollout<'e, 'r> {
    env: &'e RolloutEnv<'e>,
    record: &'r mut FaultRecord,
    service: String,
    set: &'e BTreeMap<String, String>,
    /// Run times of the proving Docker events seen so far.
    proofs: Vec<u64>,
    new_names: Vec<String>,
}

impl Rollout<'_, '_> {
    /// Replaces `old` by containers of the version `self.set` describes.
    async fn deploy(
        &mut self,
        strategy: Strategy,
        old: &[ContainerInfo],
    ) -> Result<(), RolloutError> {
        match strategy {
            Strategy::Recreate => self.recreate(old).await,
            Strategy::Rolling => self.rolling(old).await,
            Strategy::BlueGreen => self.blue_green(old).await,
        }
    }

    fn note(&self, message: String) {
        self.env
            .sink
            .note(format!("{}: {message}", self.record.name));
    }

    async fn service_containers(&self) -> Result<Vec<ContainerInfo>, RolloutError> {
        let all = project_containers(self.env.docker, self.env.project).await?;
        Ok(all
            .into_iter()
            .filter(|c| c.service == self.service)
            .collect())
    }

    /// Adds `count` containers of the new version and waits until Docker reports each healthy
    /// (`start`, then `healthy`, or `start` alone for a service without a health check).
    async fn add_new(&mut self, count: usize) -> Result<Vec<ContainerInfo>, RolloutError> {
        let before = self.service_containers().await?;
        let known: BTreeSet<String> = before.iter().map(|c| c.id.clone()).collect();
        let target = before.len() + count;
        // Subscribed before compose runs, so no event of the new containers can slip past.
        let mut rx = self.env.events.subscribe();
        let asked = self.env.sink.clock().now_ns();
        self.note(format!(
            "compose up --scale {}={target} ({count} new)",
            self.service
        ));
        self.env
            .scaler
            .scale_to(&self.service, target, self.set)
            .await?;
        let after = self.service_containers().await?;
        let new: Vec<ContainerInfo> = after
            .into_iter()
            .filter(|c| !known.contains(&c.id))
            .collect();
        if new.len() != count {
            return Err(RolloutError::Step(format!(
                "compose created {} container(s) of `{}`, expected {count}",
                new.len(),
                self.service
            )));
        }
        let names: Vec<String> = new.iter().map(|c| c.name.clone()).collect();
        self.note(format!("created {}; waiting for healthy", names.join(", ")));
        let has_health = new.iter().all(|c| c.health.is_some());
        let mut wanted = vec![DockerAction::Start];
        if has_health {
            wanted.push(DockerAction::Healthy);
        }
        let seen = wait_for(&mut rx, &new, &wanted, asked, HEALTHY_TIMEOUT).await;
        for (c, times) in new.iter().zip(&seen) {
            for (action, t) in wanted.iter().zip(times) {
                match t {
                    Some(t) => {
                        self.record.evidence.insert(
                            format!("{}.{action:?}_event_ns", c.name).to_lowercase(),
                            json!(t),
                        );
                        self.proofs.push(*t);
                    }
                    None => {
                        return Err(RolloutError::Step(
                            format!(
                                "no docker {action:?} event for {} within {HEALTHY_TIMEOUT:?}",
                                c.name
                            )
                            .to_lowercase(),
                        ));
                    }
                }
            }
        }
        if !has_health {
            // Without a health check, `start` is all there is: it counts as both proofs.
            self.proofs.extend(seen.iter().filter_map(|t| t[0]));
        }
        self.note(format!("{} healthy", names.join(", ")));
        self.new_names.extend(names);
        Ok(new)
    }

    /// Stops `old` (all at once: each with its own stop signal and grace period, compose's
    /// `stop_grace_period`), proves each died, and removes them.
    async fn retire(&mut self, old: &[ContainerInfo]) -> Result<(), RolloutError> {
        let names: Vec<String> = old.iter().map(|c| c.name.clone()).collect();
        let mut rx = self.env.events.subscribe();
        let asked = self.env.sink.clock().now_ns();
        self.note(format!("stopping {}", names.join(", ")));
        let docker = self.env.docker;
        let stops = futures::future::join_all(old.iter().map(|c| async move {
            // No `t`: Docker uses the container's own stop timeout (stop_grace_period).
            docker
                .stop_container(&c.id, None::<StopContainerOptions>)
                .await
                .map_err(api_error(format!("stopping {}", c.name)))
        }))
        .await;
        for r in stops {
            r?;
        }
        let died = wait_for(
            &mut rx,
            old,
            &[DockerAction::Die],
            asked,
            Duration::from_secs(5),
        )
        .await;
        for (c, t) in old.iter().zip(&died) {
            if let Some(t) = t[0] {
                self.record
                    .evidence
                    .insert(format!("{}.die_event_ns", c.name), json!(t));
                self.proofs.push(t);
            }
        }
        for c in old {
            docker
                .remove_container(
                    &c.id,
                    Some(RemoveContainerOptionsBuilder::new().v(true).build()),
                )
                .await
                .map_err(api_error(format!("removing {}", c.name)))?;
        }
        self.note(format!("stopped and removed {}", names.join(", ")));
        Ok(())
    }

    async fn recreate(&mut self, old: &[ContainerInfo]) -> Result<(), RolloutError> {
        self.retire(old).await?;
        self.add_new(old.len()).await?;
        Ok(())
    }

    async fn rolling(&mut self, old: &[ContainerInfo]) -> Result<(), RolloutError> {
        for c in old {
            self.add_new(1).await?;
            self.retire(std::slice::from_ref(c)).await?;
        }
        Ok(())
    }

    async fn blue_green(&mut self, old: &[ContainerInfo]) -> Result<(), RolloutError> {
        self.add_new(old.len()).await?;
        self.retire(old).await?;
        Ok(())
    }
}

/// For each container and each of `actions`, the run time of its first such event at or after
/// `since`, waiting at most `limit` in all. One pass over the events, so that an event of one
/// kind is never consumed while waiting for another.
async fn wait_for(
    rx: &mut broadcast::Receiver<ContainerEvent>,
    containers: &[ContainerInfo],
    actions: &[DockerAction],
    since: u64,
    limit: Duration,
) -> Vec<Vec<Option<u64>>> {
    let mut seen: Vec<Vec<Option<u64>>> = vec![vec![None; actions.len()]; containers.len()];
    let deadline = tokio::time::Instant::now() + limit;
    while seen.iter().flatten().any(Option::is_none) {
        let event = match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(e)) => e,
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
            Ok(Err(broadcast::error::RecvError::Closed)) | Err(_) => break,
        };
        if event.t < since.saturating_sub(1_000_000) {
            continue;
        }
        let Some(a) = actions.iter().position(|a| *a == event.action) else {
            continue;
        };
        for (i, c) in containers.iter().enumerate() {
            if seen[i][a].is_none() && c.id == event.container_id {
                seen[i][a] = Some(event.t);
            }
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategies_are_named_as_in_scenario_files() {
        assert_eq!(Strategy::Recreate.name(), "recreate");
        assert_eq!(Strategy::Rolling.name(), "rolling");
        assert_eq!(Strategy::BlueGreen.name(), "blue-green");
        assert_eq!(
            serde_json::to_value(Strategy::BlueGreen).unwrap(),
            "blue-green"
        );
    }
}
