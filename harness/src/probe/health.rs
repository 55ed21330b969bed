//! The `health` probe: the service's first container reports Docker's `healthy`, from a
//! health check Docker ran since the probe last saw it paused, stopped or replaced (Docker
//! stops checking a paused container and keeps its last status).

use super::ProbeEnv;

pub(super) async fn check(env: &ProbeEnv, service: &str, seen: &mut Seen) -> Result<(), String> {
    let c = first_container(env, service).await?;
    judge_health(&c, seen, unix_now_ns())
}

/// The first container of `service` in the run's project (also where `exec` runs).
pub(super) async fn first_container(
    env: &ProbeEnv,
    service: &str,
) -> Result<crate::stack::ContainerInfo, String> {
    crate::stack::docker::project_containers(&env.docker, &env.project)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|c| c.service == service)
        .ok_or_else(|| format!("service {service} has no container"))
}

/// What a probe remembers between its checks.
#[derive(Debug, Default)]
pub(super) struct Seen {
    /// The container a `health` probe looked at last, and the last time (ns since the Unix
    /// epoch) it saw it paused, stopped or replaced.
    container: Option<String>,
    down_unix_ns: Option<i128>,
}

fn unix_now_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// Judges one `health` check of `c` made at `now_unix_ns`.
fn judge_health(
    c: &crate::stack::ContainerInfo,
    seen: &mut Seen,
    now_unix_ns: i128,
) -> Result<(), String> {
    let replaced = seen.container.as_deref().is_some_and(|id| id != c.id);
    seen.container = Some(c.id.clone());
    if !c.running || c.paused || replaced {
        seen.down_unix_ns = Some(now_unix_ns);
    }
    if !c.running {
        return Err(format!("{} is not running", c.name));
    }
    if c.paused {
        return Err(format!("{} is paused", c.name));
    }
    match c.health.as_deref() {
        Some("healthy") => {}
        Some(h) => return Err(format!("{} is {h}", c.name)),
        None => return Err(format!("{} has no healthcheck", c.name)),
    }
    // Docker stops health checks while a container is paused and keeps its last status, so
    // right after an unpause "healthy" is a leftover; only a check begun since is evidence.
    if let Some(down) = seen.down_unix_ns {
        match c.last_health_check {
            Some(h) if h.started_unix_ns >= down && h.exit_code == 0 => {}
            _ => {
                return Err(format!(
                    "{} reports healthy, but Docker has not run a passing health check since \
                     it was last seen down",
                    c.name
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::{ContainerInfo, HealthCheck};

    fn redis(paused: bool, health: &str, last_check_ns: Option<i128>) -> ContainerInfo {
        ContainerInfo {
            id: "abc".into(),
            name: "p-redis-1".into(),
            service: "redis".into(),
            number: 1,
            running: true,
            paused,
            health: Some(health.into()),
            last_health_check: last_check_ns.map(|t| HealthCheck {
                started_unix_ns: t,
                exit_code: 0,
            }),
            pid: 7,
            restart_count: 0,
            published: vec![],
            networks: vec![],
            aliases: vec![],
            image: "redis".into(),
            labels: Default::default(),
        }
    }

    #[test]
    fn healthy_left_over_from_before_a_pause_is_not_trusted() {
        let mut seen = Seen::default();
        assert_eq!(
            judge_health(&redis(false, "healthy", Some(100)), &mut seen, 1_000),
            Ok(())
        );
        // Paused: Docker stops checking and keeps saying healthy.
        assert!(judge_health(&redis(true, "healthy", Some(100)), &mut seen, 2_000).is_err());
        // Unpaused, but the newest check is the one from before the pause.
        let r = judge_health(&redis(false, "healthy", Some(100)), &mut seen, 3_000);
        assert!(r.is_err_and(|e| e.contains("has not run a passing health check")));
        // A check begun after the pause was seen passes.
        assert_eq!(
            judge_health(&redis(false, "healthy", Some(2_500)), &mut seen, 4_000),
            Ok(())
        );
        // A failing newest check does not count, whatever the status says.
        let mut failing = redis(false, "healthy", Some(3_500));
        if let Some(h) = failing.last_health_check.as_mut() {
            h.exit_code = 1;
        }
        assert!(judge_health(&failing, &mut seen, 5_000).is_err());
    }

    #[test]
    fn a_replaced_container_needs_a_fresh_check_too() {
        let mut seen = Seen::default();
        assert!(judge_health(&redis(false, "healthy", Some(100)), &mut seen, 1_000).is_ok());
        let mut other = redis(false, "healthy", Some(100));
        other.id = "def".into();
        assert!(judge_health(&other, &mut seen, 2_000).is_err());
        other.last_health_check = Some(HealthCheck {
            started_unix_ns: 2_100,
            exit_code: 0,
        });
        assert!(judge_health(&other, &mut seen, 3_000).is_ok());
    }
}
