//! Container faults: crash (SIGKILL of the host PID, so the restart policy fires), kill,
//! stop, restart and pause, each verified from Docker's events.

use std::os::fd::{AsRawFd, FromRawFd};
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{
    KillContainerOptionsBuilder, RestartContainerOptionsBuilder, StartContainerOptions,
    StopContainerOptionsBuilder,
};
use serde_json::json;
use tokio::sync::broadcast;

use super::lifecycle::{
    Back, Hold, HoldFrom, Lifecycle, Outcome, Proof, Reverted, Stamp, Window, drive,
};
use super::{Evidence, FaultError, FaultRecord, VERIFY_TIMEOUT};
use crate::stack::ContainerInfo;
use crate::stack::docker::api_error;
use crate::stack::events::ContainerEvent;
use crate::timeline::{DockerAction, EventSink, RunClock};

/// A Docker-level fault on a service's containers; which Docker event proves each one is in
/// `proof`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerAction {
    /// A real crash: SIGKILL to the container's process from outside Docker. `docker kill`
    /// marks the container manually stopped, so `restart: always` would not fire.
    Crash,
    /// `docker kill`: the container stays down (until `duration`, when it is started again).
    Kill,
    /// `docker stop`, then `docker start` after `duration`.
    Stop,
    /// `docker restart`.
    Restart,
    /// `docker pause`, then unpause after `duration`.
    Pause,
}

impl ContainerAction {
    /// The Docker event that proves the fault took effect on a container.
    fn proof(self) -> DockerAction {
        match self {
            Self::Crash | Self::Kill | Self::Stop => DockerAction::Die,
            Self::Restart => DockerAction::Start,
            Self::Pause => DockerAction::Pause,
        }
    }
}

/// Everything a container fault needs to act and to see its effect.
pub struct ContainerFaultEnv<'a> {
    /// The Docker API client, to act on containers and inspect them.
    pub docker: &'a Docker,
    /// Where each fault stage is recorded on the timeline.
    pub sink: &'a EventSink,
    /// The stack's Docker event stream, subscribed to for proof (die, start, pause).
    pub events: &'a broadcast::Sender<ContainerEvent>,
}

/// Applies `action` to `targets`, waits for proof, holds it for `duration` when the action has
/// one, reverts it, and (for crashes) waits for the container to come back by itself; see
/// [`drive`] for what is recorded and when.
pub async fn run_container_fault(
    env: &ContainerFaultEnv<'_>,
    record: &mut FaultRecord,
    action: ContainerAction,
    targets: &[ContainerInfo],
    duration: Option<Duration>,
    run_end: tokio::time::Instant,
    cancel: &tokio_util::sync::CancellationToken,
) {
    let mut fault = ContainerFault {
        env,
        action,
        targets,
        duration,
        // Subscribed before acting so the proving event cannot slip past.
        rx: env.events.subscribe(),
        applied_ns: 0,
        proofs: Vec::new(),
        verified_ns: None,
        reverting: None,
        ended_early: Vec::new(),
    };
    drive(&mut fault, record, env.sink, run_end, cancel).await;
}

/// A container fault going through its [`Lifecycle`].
struct ContainerFault<'a> {
    env: &'a ContainerFaultEnv<'a>,
    action: ContainerAction,
    targets: &'a [ContainerInfo],
    duration: Option<Duration>,
    rx: broadcast::Receiver<ContainerEvent>,
    /// When the first target was acted on.
    applied_ns: u64,
    /// Each target's proving event, in order.
    proofs: Vec<Option<u64>>,
    verified_ns: Option<u64>,
    /// Set by the revert: what is waited for to be back.
    reverting: Option<Reverting>,
    /// Targets found no longer paused at the revert (unpaused or restarted by something
    /// else): the pause did not hold its whole duration.
    ended_early: Vec<String>,
}

/// A revert under way: its targets are back with their `start` (`unpause`) events since
/// `started`.
struct Reverting {
    rx: broadcast::Receiver<ContainerEvent>,
    started: u64,
    targets: Vec<ContainerInfo>,
}

impl Lifecycle for ContainerFault<'_> {
    /// The containers acted on.
    type Undo = Vec<ContainerInfo>;

    fn targets(&self) -> Vec<String> {
        self.targets.iter().map(|c| c.name.clone()).collect()
    }

    fn hold(&self) -> Option<Hold> {
        match self.action {
            // Nothing to revert: the restart policy (or docker restart) brings it back.
            ContainerAction::Crash | ContainerAction::Restart => None,
            // Without a duration a kill (stop, pause) stays.
            ContainerAction::Kill | ContainerAction::Stop | ContainerAction::Pause => {
                self.duration.map(|duration| Hold {
                    duration,
                    from: HoldFrom::Proven,
                })
            }
        }
    }

    async fn apply(
        &mut self,
        evidence: &mut Evidence,
        stamp: &mut Stamp<'_>,
    ) -> Outcome<Self::Undo> {
        // All targets at once: one after another, a `stop` (which returns when the container
        // has stopped) would delay the next target by seconds.
        let clock = *self.env.sink.clock();
        let issued = futures::future::join_all(
            self.targets
                .iter()
                .map(|c| apply_one(self.env.docker, clock, self.action, c)),
        )
        .await;
        // Applied = when the first target was acted on; what came before (looking up, checking
        // the PID) is the harness's own lateness and shows as applied - scheduled.
        let first = issued
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .map(|i| i.at_ns)
            .min();
        let mut failure = None;
        let mut acted = Vec::new();
        for (c, r) in self.targets.iter().zip(issued) {
            match r {
                Ok(i) => {
                    if let Some(pid) = i.pid {
                        evidence.insert(format!("{}.pid_killed", c.name), json!(pid));
                    }
                    acted.push(c.clone());
                }
                Err(e) => {
                    failure.get_or_insert(e.to_string());
                }
            }
        }
        if let Some(t) = first {
            stamp.at(t, None);
        }
        self.applied_ns = first.unwrap_or_else(|| clock.now_ns());
        match failure {
            None => Outcome::Done(acted),
            Some(error) => Outcome::Failed {
                error,
                acted: (!acted.is_empty()).then_some(acted),
            },
        }
    }

    async fn prove(&mut self, evidence: &mut Evidence, _: &Window<'_>) -> Proof {
        let proof = self.action.proof();
        let proofs = wait_for_each(
            &mut self.rx,
            self.targets,
            proof,
            self.applied_ns,
            VERIFY_TIMEOUT,
        )
        .await;
        for (c, t) in self.targets.iter().zip(&proofs) {
            if let Some(t) = t {
                evidence.insert(
                    format!("{}.{proof:?}_event_ns", c.name).to_lowercase(),
                    json!(t),
                );
            }
        }
        let all = proofs.iter().all(Option::is_some);
        let last = proofs.iter().flatten().copied().max();
        self.proofs = proofs;
        if all {
            let at_ns = last.unwrap_or(self.applied_ns);
            self.verified_ns = Some(at_ns);
            Proof::Verified {
                at_ns,
                detail: Some(format!("docker {proof:?} event").to_lowercase()),
            }
        } else {
            Proof::Unverified {
                detail: format!(
                    "no docker {proof:?} event within {VERIFY_TIMEOUT:?} for some targets"
                )
                .to_lowercase(),
            }
        }
    }

    /// Starts a killed or stopped container again, unpauses a paused one; a crash or restart
    /// reverted after a failed apply has nothing to undo.
    async fn revert(&mut self, _: &mut Evidence, undo: Self::Undo) -> Reverted {
        let rx = self.env.events.subscribe();
        let started = self.env.sink.clock().now_ns();
        let mut no_longer_paused = Vec::new();
        for c in &undo {
            let result = match self.action {
                ContainerAction::Pause => match self.env.docker.unpause_container(&c.id).await {
                    // Docker's 409 "is not paused": something else ended the pause first.
                    Err(bollard::errors::Error::DockerResponseServerError {
                        status_code: 409,
                        message,
                    }) if message.contains("not paused") => {
                        self.ended_early.push(format!(
                            "{} was no longer paused at the revert (unpaused or restarted by \
                             something else), so the pause did not hold its whole duration",
                            c.name
                        ));
                        no_longer_paused.push(c.id.clone());
                        Ok(())
                    }
                    r => r.map_err(api_error(format!("unpausing {}", c.name))),
                },
                ContainerAction::Kill | ContainerAction::Stop => self
                    .env
                    .docker
                    .start_container(&c.id, None::<StartContainerOptions>)
                    .await
                    .map_err(api_error(format!("starting {}", c.name))),
                ContainerAction::Crash | ContainerAction::Restart => Ok(()),
            };
            if let Err(e) = result {
                return Reverted::Failed(e.to_string());
            }
        }
        self.reverting = Some(Reverting {
            rx,
            started,
            // No unpause event will come for one that was no longer paused.
            targets: undo
                .into_iter()
                .filter(|c| !no_longer_paused.contains(&c.id))
                .collect(),
        });
        Reverted::Done
    }

    fn ended_early(&self) -> Option<String> {
        (!self.ended_early.is_empty()).then(|| self.ended_early.join("; "))
    }

    /// After a revert: every target's `start` (`unpause`) event. A crash: every target started
    /// again by its restart policy, the ground truth for recovery; a restart: its own proof.
    async fn back(&mut self, _: &mut Evidence, window: &Window<'_>) -> Option<Back> {
        let seen = if let Some(mut r) = self.reverting.take() {
            let back = match self.action {
                ContainerAction::Pause => DockerAction::Unpause,
                _ => DockerAction::Start,
            };
            wait_for_each(
                &mut r.rx,
                &r.targets,
                back,
                r.started,
                Duration::from_secs(10),
            )
            .await
        } else {
            match self.action {
                ContainerAction::Crash => {
                    let since = self.verified_ns.unwrap_or(self.applied_ns);
                    let limit = window
                        .run_end
                        .saturating_duration_since(tokio::time::Instant::now());
                    tokio::select! {
                        s = wait_for_each(&mut self.rx, self.targets, DockerAction::Start, since, limit) => s,
                        _ = window.cancel.cancelled() => return None,
                    }
                }
                ContainerAction::Restart => self.proofs.clone(),
                ContainerAction::Kill | ContainerAction::Stop | ContainerAction::Pause => {
                    return None;
                }
            }
        };
        if seen.iter().all(Option::is_some) {
            seen.iter().flatten().copied().max().map(Back::Seen)
        } else {
            None
        }
    }
}

/// When a target was acted on, and (for a crash) which process was killed.
struct Issued {
    /// Run-clock ns just before the signal or the Docker request went out.
    at_ns: u64,
    pid: Option<u32>,
}

async fn apply_one(
    docker: &Docker,
    clock: RunClock,
    action: ContainerAction,
    c: &ContainerInfo,
) -> Result<Issued, FaultError> {
    let api = |at_ns| Issued { at_ns, pid: None };
    match action {
        ContainerAction::Crash => crash(docker, clock, c).await,
        ContainerAction::Kill => {
            let at = clock.now_ns();
            docker
                .kill_container(
                    &c.id,
                    Some(KillContainerOptionsBuilder::new().signal("SIGKILL").build()),
                )
                .await
                .map_err(api_error(format!("killing {}", c.name)))?;
            Ok(api(at))
        }
        ContainerAction::Stop => {
            let at = clock.now_ns();
            docker
                .stop_container(
                    &c.id,
                    Some(StopContainerOptionsBuilder::new().t(10).build()),
                )
                .await
                .map_err(api_error(format!("stopping {}", c.name)))?;
            Ok(api(at))
        }
        ContainerAction::Restart => {
            let at = clock.now_ns();
            docker
                .restart_container(
                    &c.id,
                    Some(RestartContainerOptionsBuilder::new().t(10).build()),
                )
                .await
                .map_err(api_error(format!("restarting {}", c.name)))?;
            Ok(api(at))
        }
        ContainerAction::Pause => {
            let at = clock.now_ns();
            docker
                .pause_container(&c.id)
                .await
                .map_err(api_error(format!("pausing {}", c.name)))?;
            Ok(api(at))
        }
    }
}

/// SIGKILL of the container's host PID. As root on the host this is a direct signal to the PID
/// looked up ahead of time, when it is still the container's (a restart since gives it a new
/// one: then it is looked up again); otherwise a short-lived helper container with
/// `--pid=host` (from the target's own image, the only image we know is present) sends it.
async fn crash(docker: &Docker, clock: RunClock, c: &ContainerInfo) -> Result<Issued, FaultError> {
    let signal_error = |pid: u32, reason: String| FaultError::Signal {
        container: c.name.clone(),
        pid,
        reason,
    };
    if nix::unistd::geteuid().is_root() {
        match kill_container_process(c.pid, &c.id, clock) {
            Ok(at_ns) => {
                return Ok(Issued {
                    at_ns,
                    pid: Some(c.pid),
                });
            }
            Err(KillError::NotItsProcess) => {}
            Err(KillError::Failed(e)) => return Err(signal_error(c.pid, e.to_string())),
        }
    }
    let fresh = crate::stack::docker::inspect(docker, &c.id).await?;
    if !fresh.running || fresh.pid == 0 {
        return Err(FaultError::NotRunning {
            container: c.name.clone(),
        });
    }
    if nix::unistd::geteuid().is_root() {
        match kill_container_process(fresh.pid, &c.id, clock) {
            Ok(at_ns) => Ok(Issued {
                at_ns,
                pid: Some(fresh.pid),
            }),
            // Its process vanished again within the lookup: it is not running now.
            Err(KillError::NotItsProcess) => Err(FaultError::NotRunning {
                container: c.name.clone(),
            }),
            Err(KillError::Failed(e)) => Err(signal_error(fresh.pid, e.to_string())),
        }
    } else {
        let at_ns = clock.now_ns();
        crash_via_helper(docker, &fresh).await?;
        Ok(Issued {
            at_ns,
            pid: Some(fresh.pid),
        })
    }
}

#[derive(Debug)]
enum KillError {
    /// The PID is gone or belongs to something else now.
    NotItsProcess,
    Failed(nix::Error),
}

/// SIGKILL to `pid` only if it is a process of container `id`; returns the run time just
/// before the signal. A pidfd pins the process from the check to the signal, so a PID that is
/// freed and reused in between is never hit (kill(2) with the bare PID could hit a stranger).
fn kill_container_process(pid: u32, id: &str, clock: RunClock) -> Result<u64, KillError> {
    use nix::errno::Errno;
    if pid == 0 {
        return Err(KillError::NotItsProcess);
    }
    // SAFETY: pidfd_open(2) takes a PID and flags, and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return match Errno::last() {
            Errno::ESRCH => Err(KillError::NotItsProcess),
            // A kernel older than 5.3: check, then signal the bare PID.
            Errno::ENOSYS => {
                if !super::is_process_of(std::path::Path::new("/proc"), pid, id) {
                    return Err(KillError::NotItsProcess);
                }
                let at = clock.now_ns();
                nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                )
                .map_err(|e| match e {
                    Errno::ESRCH => KillError::NotItsProcess,
                    e => KillError::Failed(e),
                })?;
                Ok(at)
            }
            e => Err(KillError::Failed(e)),
        };
    }
    // SAFETY: a descriptor pidfd_open just returned, owned by nothing else.
    let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) };
    if !super::is_process_of(std::path::Path::new("/proc"), pid, id) {
        return Err(KillError::NotItsProcess);
    }
    let at = clock.now_ns();
    // SAFETY: pidfd_send_signal(2) with a valid pidfd, no siginfo, no flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if r < 0 {
        return Err(match Errno::last() {
            Errno::ESRCH => KillError::NotItsProcess,
            e => KillError::Failed(e),
        });
    }
    Ok(at)
}

async fn crash_via_helper(docker: &Docker, c: &ContainerInfo) -> Result<(), FaultError> {
    use bollard::models::{ContainerCreateBody, HostConfig};
    use bollard::query_parameters::CreateContainerOptionsBuilder;
    let name = format!("chaosgate-crash-{}-{}", std::process::id(), c.pid);
    let body = ContainerCreateBody {
        image: Some(c.image.clone()),
        entrypoint: Some(vec!["kill".into()]),
        cmd: Some(vec!["-9".into(), c.pid.to_string()]),
        labels: Some(
            [(
                crate::stack::docker::RUN_LABEL.to_string(),
                "crash-helper".to_string(),
            )]
            .into(),
        ),
        host_config: Some(HostConfig {
            pid_mode: Some("host".into()),
            auto_remove: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    };
    docker
        .create_container(
            Some(CreateContainerOptionsBuilder::new().name(&name).build()),
            body,
        )
        .await
        .map_err(api_error("creating the crash helper container"))?;
    docker
        .start_container(&name, None::<StartContainerOptions>)
        .await
        .map_err(|e| FaultError::Signal {
            container: c.name.clone(),
            pid: c.pid,
            reason: format!("helper container failed to start: {e}"),
        })?;
    Ok(())
}

/// For each target, the run time of the first `action` event at or after `since`, waiting at
/// most `limit` in all.
async fn wait_for_each(
    rx: &mut broadcast::Receiver<ContainerEvent>,
    targets: &[ContainerInfo],
    action: DockerAction,
    since: u64,
    limit: Duration,
) -> Vec<Option<u64>> {
    let mut seen: Vec<Option<u64>> = vec![None; targets.len()];
    let deadline = tokio::time::Instant::now() + limit;
    while seen.iter().any(Option::is_none) {
        let event = match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(e)) => e,
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
            Ok(Err(broadcast::error::RecvError::Closed)) | Err(_) => break,
        };
        if event.action != action || event.t < since.saturating_sub(1_000_000) {
            continue;
        }
        for (i, c) in targets.iter().enumerate() {
            if seen[i].is_none() && c.id == event.container_id {
                seen[i] = Some(event.t);
            }
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_outside_the_container_is_never_signalled() {
        // A PID that is not (or no longer) the container's: a restarted container's old PID
        // reused by a host process looks exactly like this.
        let mut stranger = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("sleep starts");
        let id = "3f4e1c0b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";
        let r = kill_container_process(stranger.id(), id, RunClock::start());
        let alive = stranger.try_wait().expect("try_wait").is_none();
        let _ = stranger.kill();
        let _ = stranger.wait();
        assert!(matches!(r, Err(KillError::NotItsProcess)), "{r:?}");
        assert!(alive, "the stranger was killed");
        assert!(matches!(
            kill_container_process(0, id, RunClock::start()),
            Err(KillError::NotItsProcess)
        ));
    }
}
