//! Resource faults on a container: CPU and memory stress inside its cgroups (helpers of
//! chaosgate's own moved there, [`helper`]), and a disk filled inside it ([`disk`]). Each is
//! proven by the kernel's own counters (the cgroup's CPU usage, the held mapping's resident
//! size, the file system's use) and reverted by killing the helpers or removing the file.

pub mod cgroup;
pub mod disk;
pub mod helper;

use std::time::Duration;

use bollard::Docker;
use serde_json::json;

use super::lifecycle::{
    Back, Hold, HoldFrom, Lifecycle, Outcome, Proof, Reverted, Stamp, Window, drive,
};
use super::{Evidence, FaultRecord};
use crate::stack::ContainerInfo;
use crate::timeline::EventSink;
use cgroup::Cgroups;
use disk::FillTo;
use helper::{Helper, Work};

/// A resource fault's instruction.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum ResourceAction {
    /// `cores` helpers spinning in each target's cgroups.
    Cpu {
        /// One core's worth each.
        cores: u32,
    },
    /// One helper holding `bytes` of locked memory in each target's cgroups.
    Memory {
        /// Held, touched and locked.
        bytes: u64,
    },
    /// A file filling the file system of `dir` inside each target.
    Disk {
        /// Absolute, inside the container.
        dir: String,
        /// How full.
        fill: FillTo,
    },
}

/// How long the proof of a CPU stress watches the counters.
const CPU_PROOF_WINDOW: Duration = Duration::from_millis(500);

/// How long a memory holder may take to map, lock and touch its bytes (a cgroup near its limit
/// reclaims first; a stalled one never finishes).
const MEMORY_PROOF_TIMEOUT: Duration = Duration::from_secs(10);

/// A resource fault's share of the run.
pub struct ResourceFaultEnv<'a> {
    /// To find a restarted target's process again at revert.
    pub docker: &'a Docker,
    /// Where each stage is recorded.
    pub sink: &'a EventSink,
}

/// Applies `action` to `targets`, proves it from the kernel's counters, holds it for `hold`,
/// reverts it; see [`drive`] for what is recorded when.
#[allow(clippy::too_many_arguments)]
pub async fn run_resource_fault(
    env: &ResourceFaultEnv<'_>,
    record: &mut FaultRecord,
    action: &ResourceAction,
    targets: &[ContainerInfo],
    hold: Duration,
    run_end: tokio::time::Instant,
    cancel: &tokio_util::sync::CancellationToken,
) {
    let file_name = format!(
        ".chaosgate-disk-fill-{}",
        record
            .name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            })
            .collect::<String>()
    );
    let mut fault = ResourceFault {
        env,
        action: action.clone(),
        targets,
        hold,
        file_name,
        cgroups: Vec::new(),
        applied: Vec::new(),
        effects: Vec::new(),
        ended_early: Vec::new(),
    };
    drive(&mut fault, record, env.sink, run_end, cancel).await;
}

struct ResourceFault<'a> {
    env: &'a ResourceFaultEnv<'a>,
    action: ResourceAction,
    targets: &'a [ContainerInfo],
    hold: Duration,
    /// The disk fill's file, in `dir`.
    file_name: String,
    /// Each target's cgroups (stress), found before acting.
    cgroups: Vec<Cgroups>,
    /// What was applied, per target, in target order: what the proof reads and the revert
    /// undoes.
    applied: Vec<Applied>,
    /// Per target, what the fault measurably did (the evidence's `effect` line).
    effects: Vec<String>,
    /// Per target, how the fault stopped acting before the revert (a helper gone, the file
    /// removed): found at revert, the run cannot pass.
    ended_early: Vec<String>,
}

/// What was applied to one target.
enum Applied {
    Stress {
        target: ContainerInfo,
        helpers: Vec<Helper>,
        /// The container's processes made the OOM killer's first choice, with the
        /// `oom_score_adj` each had (memory stress), restored at revert.
        raised: Vec<(u32, String)>,
        /// The cgroup's CPU counter and the wall time when the proof ended (CPU stress).
        proven_cpu: Option<(u64, std::time::Instant)>,
    },
    Disk {
        target: ContainerInfo,
        /// Asked for.
        bytes: u64,
        /// Got.
        written: u64,
    },
}

fn key(c: &ContainerInfo, what: &str) -> String {
    format!("{}.{what}", c.name)
}

impl Lifecycle for ResourceFault<'_> {
    /// What was applied is kept in `applied`.
    type Undo = ();

    fn targets(&self) -> Vec<String> {
        self.targets.iter().map(|c| c.name.clone()).collect()
    }

    fn hold(&self) -> Option<Hold> {
        Some(Hold {
            duration: self.hold,
            from: HoldFrom::Proven,
        })
    }

    async fn prepare(&mut self, _: &mut Evidence) -> Result<(), String> {
        for c in self.targets {
            if c.pid == 0 {
                return Err(format!("{} is not running", c.name));
            }
            match &self.action {
                ResourceAction::Cpu { .. } | ResourceAction::Memory { .. } => {
                    let cg = Cgroups::of(c.pid)
                        .map_err(|e| format!("finding the cgroups of {}: {e}", c.name))?;
                    self.cgroups.push(cg);
                }
                ResourceAction::Disk { dir, fill } => {
                    let path = disk::in_container(c.pid, dir);
                    if !path.is_dir() {
                        return Err(format!("{} has no directory {dir}", c.name));
                    }
                    let now = disk::usage(&path)
                        .map_err(|e| format!("statvfs of {dir} in {}: {e}", c.name))?;
                    disk::to_write(*fill, now)
                        .map_err(|e| format!("filling {dir} in {}: {e}", c.name))?;
                }
            }
        }
        Ok(())
    }

    async fn apply(&mut self, evidence: &mut Evidence, stamp: &mut Stamp<'_>) -> Outcome<()> {
        let mut stamped = false;
        for (i, c) in self.targets.iter().enumerate() {
            let result = match &self.action {
                ResourceAction::Cpu { cores } => {
                    let work = vec![Work::Burn; *cores as usize];
                    start_helpers(&self.cgroups[i], c, &work, evidence, stamp, &mut stamped).map(
                        |helpers| Applied::Stress {
                            target: c.clone(),
                            helpers,
                            raised: Vec::new(),
                            proven_cpu: None,
                        },
                    )
                }
                ResourceAction::Memory { bytes } => {
                    let cg = &self.cgroups[i];
                    if let Some(limit) = cg.memory_limit() {
                        evidence.insert(key(c, "memory_limit_bytes"), json!(limit));
                    }
                    if let Some(used) = cg.memory_bytes() {
                        evidence.insert(key(c, "memory_before_bytes"), json!(used));
                    }
                    if let Some(hits) = cg.memory_limit_hits() {
                        evidence.insert(key(c, "memory_limit_hits_before"), json!(hits));
                    }
                    // The squeeze must land on the container's own processes, not on a helper
                    // (the OOM killer would pick it and so end the fault). Shielding the helpers
                    // needs CAP_SYS_RESOURCE, which a harness in a container often lacks;
                    // raising theirs needs nothing. Raised to 1000, a process's badness gains
                    // the cgroup's limit rounded down to a thousand pages (`adj *= totalpages /
                    // 1000`): a single holder of nearly the whole limit still outscored the
                    // gateway by 140 pages (192 MiB under 196 MiB, measured). Held in pieces of
                    // at most an eighth, no holder comes near it.
                    let raised = raise_oom_scores(cg);
                    evidence.insert(
                        key(c, "oom_first_pids"),
                        json!(raised.iter().map(|(p, _)| p).collect::<Vec<_>>()),
                    );
                    let work = holders(*bytes);
                    match start_helpers(cg, c, &work, evidence, stamp, &mut stamped) {
                        Ok(helpers) => Ok(Applied::Stress {
                            target: c.clone(),
                            helpers,
                            raised,
                            proven_cpu: None,
                        }),
                        Err(e) => {
                            restore_oom_scores(&raised);
                            Err(e)
                        }
                    }
                }
                ResourceAction::Disk { dir, fill } => {
                    let path = disk::in_container(c.pid, dir);
                    let file = path.join(&self.file_name);
                    let fill = *fill;
                    if !stamped {
                        stamp.now(None);
                        stamped = true;
                    }
                    let filled = tokio::task::spawn_blocking(move || {
                        let before = disk::usage(&path)?;
                        let bytes = disk::to_write(fill, before).map_err(std::io::Error::other)?;
                        let written = disk::fill(&file, bytes)?;
                        let after = disk::usage(&path)?;
                        Ok::<_, std::io::Error>((before, bytes, written, after))
                    })
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r.map_err(|e| format!("filling {dir} in {}: {e}", c.name)));
                    filled.map(|(before, bytes, written, after)| {
                        evidence.insert(key(c, "disk_total_bytes"), json!(before.total));
                        evidence.insert(key(c, "disk_used_before_bytes"), json!(before.used));
                        evidence.insert(key(c, "disk_filled_bytes"), json!(written));
                        evidence.insert(key(c, "disk_used_after_bytes"), json!(after.used));
                        self.effects.push(format!(
                            "{}: {} filled, {:.1} % of {} in use",
                            c.name,
                            disk::mib(written),
                            after.share() * 100.0,
                            disk::mib(after.total)
                        ));
                        evidence
                            .insert(key(c, "disk_used_share_after"), json!(round(after.share())));
                        Applied::Disk {
                            target: c.clone(),
                            bytes,
                            written,
                        }
                    })
                }
            };
            match result {
                Ok(a) => self.applied.push(a),
                Err(error) => {
                    return Outcome::Failed {
                        error,
                        acted: (!self.applied.is_empty()).then_some(()),
                    };
                }
            }
        }
        Outcome::Done(())
    }

    async fn prove(&mut self, evidence: &mut Evidence, _: &Window<'_>) -> Proof {
        let clock = *self.env.sink.clock();
        let mut short = Vec::new();
        match &self.action {
            ResourceAction::Cpu { cores } => {
                let before: Vec<Option<u64>> = self.cgroups.iter().map(Cgroups::cpu_ns).collect();
                let helpers_before: Vec<Option<u64>> =
                    self.applied.iter().map(helpers_cpu_ns).collect();
                let start = std::time::Instant::now();
                tokio::time::sleep(CPU_PROOF_WINDOW).await;
                let elapsed = start.elapsed().as_nanos().max(1) as f64;
                let machine = online_cpus();
                for (((a, cg), b), hb) in self
                    .applied
                    .iter_mut()
                    .zip(&self.cgroups)
                    .zip(before)
                    .zip(helpers_before)
                {
                    let helpers_now = helpers_cpu_ns(a);
                    let Applied::Stress {
                        target, proven_cpu, ..
                    } = a
                    else {
                        continue;
                    };
                    let (Some(b), Some(after)) = (b, cg.cpu_ns()) else {
                        short.push(format!("{}: no CPU counter", target.name));
                        continue;
                    };
                    *proven_cpu = Some((after, std::time::Instant::now()));
                    let used = after.saturating_sub(b) as f64 / elapsed;
                    evidence.insert(key(target, "cgroup_cpu_cores_at_proof"), json!(round(used)));
                    let limit = cg.cpu_limit_cores();
                    if let Some(limit) = limit {
                        evidence.insert(key(target, "cgroup_cpu_limit_cores"), json!(round(limit)));
                    }
                    let (Some(hb), Some(ha)) = (hb, helpers_now) else {
                        short.push(format!("{}: no CPU counter of its helpers", target.name));
                        continue;
                    };
                    let helpers = ha.saturating_sub(hb) as f64 / elapsed;
                    evidence.insert(
                        key(target, "helper_cpu_cores_at_proof"),
                        json!(round(helpers)),
                    );
                    if let Some(why) = cpu_shortfall(*cores, limit, machine, helpers) {
                        short.push(format!("{}: {why}", target.name));
                    }
                }
            }
            ResourceAction::Memory { bytes } => {
                // Stress targets were applied in the order their cgroups were found.
                for (a, cg) in self.applied.iter().zip(&self.cgroups) {
                    let Applied::Stress {
                        target, helpers, ..
                    } = a
                    else {
                        continue;
                    };
                    // Every holder reports once its piece is mapped, touched and locked; the
                    // wait is one timeout for them all.
                    let deadline = std::time::Instant::now() + MEMORY_PROOF_TIMEOUT;
                    let mut addresses = Vec::new();
                    let mut locked = true;
                    let mut failed = None;
                    for h in helpers {
                        let within = deadline.saturating_duration_since(std::time::Instant::now());
                        let held = match h.report() {
                            Ok(fd) => {
                                tokio::task::spawn_blocking(move || helper::wait_held(&fd, within))
                                    .await
                                    .unwrap_or_else(|e| Err(e.to_string()))
                            }
                            Err(e) => Err(e.to_string()),
                        };
                        match held {
                            Ok(held) => {
                                addresses.push(held.address);
                                locked &= held.locked;
                            }
                            Err(e) => {
                                failed = Some(e);
                                break;
                            }
                        }
                    }
                    // Read once all have reported: a holder killed after its report holds
                    // nothing (summed as each reported, a squeeze of 192 MiB read as held
                    // whole under a 128 MiB limit).
                    let resident: u64 = helpers
                        .iter()
                        .zip(&addresses)
                        .filter(|(h, _)| h.alive())
                        .filter_map(|(h, a)| h.resident_at(*a))
                        .sum();
                    // Why the squeeze is not held whole, if it is not.
                    let shortfall = match failed {
                        None => {
                            evidence.insert(key(target, "memory_held_bytes"), json!(resident));
                            evidence.insert(key(target, "memory_locked"), json!(locked));
                            // Mapped, touched and (unless mlock was refused) locked: all of it
                            // is resident, page rounding aside.
                            ((resident as f64) < 0.99 * *bytes as f64).then(|| {
                                format!("{} of {} resident", disk::mib(resident), disk::mib(*bytes))
                            })
                        }
                        Some(e) => Some(e),
                    };
                    if let Some(used) = cg.memory_bytes() {
                        evidence.insert(key(target, "memory_after_bytes"), json!(used));
                    }
                    let hits = cg.memory_limit_hits();
                    if let Some(hits) = hits {
                        evidence.insert(key(target, "memory_limit_hits_after"), json!(hits));
                    }
                    let number = |what| evidence.get(&key(target, what)).and_then(|v| v.as_u64());
                    let limit = number("memory_limit_bytes");
                    match shortfall {
                        None => self.effects.push(format!(
                            "{}: {} held ({}, {} holders) under {}",
                            target.name,
                            disk::mib(resident),
                            if locked { "locked" } else { "not locked" },
                            helpers.len(),
                            limit.map_or("no limit".to_string(), |l| {
                                format!("a {} limit", disk::mib(l))
                            })
                        )),
                        // A squeeze larger than the room under the limit cannot be held
                        // whole (its holders are reclaimed from or killed, in either order);
                        // that it took the cgroup to its limit is its effect.
                        Some(why) => match squeeze_met_the_limit(
                            *bytes,
                            number("memory_before_bytes"),
                            limit,
                            number("memory_limit_hits_before").zip(hits),
                        ) {
                            Some(effect) => {
                                evidence.insert(key(target, "memory_limit_met"), json!(true));
                                self.effects.push(format!("{}: {effect}", target.name));
                            }
                            None => short.push(format!("{}: {why}", target.name)),
                        },
                    }
                }
            }
            ResourceAction::Disk { .. } => {
                for a in &self.applied {
                    if let Applied::Disk {
                        target,
                        bytes,
                        written,
                    } = a
                        && (*written as f64) < 0.99 * *bytes as f64
                    {
                        short.push(format!(
                            "{}: {} of {} written (the file system ran out)",
                            target.name,
                            disk::mib(*written),
                            disk::mib(*bytes)
                        ));
                    }
                }
            }
        }
        if short.is_empty() {
            Proof::Verified {
                at_ns: clock.now_ns(),
                detail: Some(
                    match self.action {
                        ResourceAction::Cpu { .. } => {
                            "helpers in the target's cgroups, using its CPU"
                        }
                        ResourceAction::Memory { .. } => {
                            "held in the target's cgroups: resident and locked"
                        }
                        ResourceAction::Disk { .. } => "the file system's use grew by the size",
                    }
                    .into(),
                ),
            }
        } else {
            Proof::Unverified {
                detail: short.join("; "),
            }
        }
    }

    async fn revert(&mut self, evidence: &mut Evidence, (): ()) -> Reverted {
        let mut errors = Vec::new();
        for (i, a) in std::mem::take(&mut self.applied).into_iter().enumerate() {
            match a {
                Applied::Stress {
                    target,
                    mut helpers,
                    raised,
                    proven_cpu,
                } => {
                    if let Some((from, at)) = proven_cpu
                        && let Some(now) = self.cgroups.get(i).and_then(Cgroups::cpu_ns)
                    {
                        let cores =
                            now.saturating_sub(from) as f64 / at.elapsed().as_nanos().max(1) as f64;
                        evidence.insert(key(&target, "cgroup_cpu_cores_held"), json!(round(cores)));
                        if let ResourceAction::Cpu { cores: asked } = self.action {
                            let limit = evidence
                                .get(&key(&target, "cgroup_cpu_limit_cores"))
                                .and_then(|v| v.as_f64())
                                .map_or(String::new(), |l| format!(", its limit {l:.2}"));
                            self.effects.push(format!(
                                "{}: {cores:.2} cores used by its cgroup over the hold ({asked} \
                                 asked{limit})",
                                target.name
                            ));
                        }
                    }
                    if matches!(self.action, ResourceAction::Cpu { .. }) {
                        let burned: u64 = helpers.iter().filter_map(Helper::cpu_ns).sum();
                        evidence.insert(
                            key(&target, "helper_cpu_seconds"),
                            json!(round(burned as f64 / 1e9)),
                        );
                    }
                    let died = helpers.iter().filter(|h| !h.alive()).count();
                    if died > 0 {
                        evidence.insert(key(&target, "helpers_ended_early"), json!(died));
                        // Killed from outside (the OOM killer, an operator): the container
                        // had its resources back before the revert, so a run that held up
                        // proves nothing about the whole duration.
                        self.ended_early.push(format!(
                            "{}: {died} of {} helpers ended before the revert (killed: the OOM \
                             killer?), so the fault did not hold its whole duration",
                            target.name,
                            helpers.len()
                        ));
                    }
                    restore_oom_scores(&raised);
                    for h in &mut helpers {
                        if let Err(e) = h.stop() {
                            errors.push(format!(
                                "stopping helper {} of {}: {e}",
                                h.pid(),
                                target.name
                            ));
                        }
                    }
                }
                Applied::Disk { target, .. } => {
                    let ResourceAction::Disk { dir, .. } = &self.action else {
                        continue;
                    };
                    // A target restarted during the fault has a new process: find it again (its
                    // file system, and the file, may have outlived the old one).
                    let pid = match crate::stack::docker::inspect(self.env.docker, &target.id).await
                    {
                        Ok(c) if c.running && c.pid != 0 => c.pid,
                        Ok(_) => target.pid,
                        // Removed: its file system went with it.
                        Err(_) => continue,
                    };
                    let same_process =
                        pid == target.pid && std::path::Path::new(&format!("/proc/{pid}")).exists();
                    let path = disk::in_container(pid, dir);
                    let file = path.join(&self.file_name);
                    match std::fs::remove_file(&file) {
                        Ok(()) => {}
                        // Gone while the same process ran: something removed the fill, and
                        // the file system had its room back before the revert.
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound && same_process => {
                            self.ended_early.push(format!(
                                "{}: the fill file in {dir} was removed before the revert, so \
                                 the fault did not hold its whole duration",
                                target.name
                            ));
                        }
                        // A restarted container's tmpfs starts empty.
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => errors.push(format!(
                            "removing {} in {}: {e}",
                            file.display(),
                            target.name
                        )),
                    }
                    if let Ok(after) = disk::usage(&path) {
                        evidence.insert(
                            key(&target, "disk_used_after_revert_bytes"),
                            json!(after.used),
                        );
                    }
                }
            }
        }
        if !self.effects.is_empty() {
            evidence.insert("effect".into(), json!(self.effects.join("; ")));
        }
        if errors.is_empty() {
            Reverted::Done
        } else {
            Reverted::WithErrors(errors.join("; "))
        }
    }

    fn ended_early(&self) -> Option<String> {
        (!self.ended_early.is_empty()).then(|| self.ended_early.join("; "))
    }

    async fn back(&mut self, _: &mut Evidence, _: &Window<'_>) -> Option<Back> {
        // The helpers were reaped, the file removed: the resource is free once the revert
        // returns.
        Some(Back::Seen(self.env.sink.clock().now_ns()))
    }
}

/// The CPU time the helpers of a stress have used so far, in ns; `None` when one's counter
/// is unreadable.
fn helpers_cpu_ns(applied: &Applied) -> Option<u64> {
    match applied {
        Applied::Stress { helpers, .. } => helpers.iter().map(Helper::cpu_ns).sum(),
        Applied::Disk { .. } => None,
    }
}

/// The machine's online CPUs.
fn online_cpus() -> f64 {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as f64
}

/// Why a CPU stress of `asked` cores is not shown applied by its helpers having used
/// `helpers` cores (their scheduler time over the proof window, all of it charged to the
/// target's cgroups they are in); `None` when it is.
///
/// What they can get is capped by the cgroup's own limit (`limit`, quota or cpuset, in cores)
/// and the machine's CPUs, and shared with the container's own work and the machine's other
/// load, so the rule asks a twentieth of what they could get at most. A fixed share of
/// `asked` would fail every stress of a container limited below a twentieth of it: 2 cores
/// asked of a 0.1-core gateway is exactly the build the stress must fail, and its counter sat
/// at the limit, 0.10 cores, on the wrong side of a 0.1 threshold (CI, 2026-12-07).
fn cpu_shortfall(asked: u32, limit: Option<f64>, machine: f64, helpers: f64) -> Option<String> {
    let can = f64::from(asked)
        .min(machine)
        .min(limit.unwrap_or(f64::INFINITY));
    (helpers < 0.05 * can).then(|| {
        format!(
            "its helpers used {helpers:.3} cores of the {can:.2} they could get{}",
            limit.map_or(String::new(), |l| format!(
                " (the cgroup is limited to {l:.2})"
            ))
        )
    })
}

/// Whether a memory squeeze of `asked` bytes that could not be held whole took the target's
/// cgroup to its limit: more was asked than the room the limit left (`limit - before`), and
/// the kernel counted the cgroup meeting its limit since the squeeze began (`hits`, before and
/// after). Then the fault did what it names (the container ran out of memory: its processes,
/// made the OOM killer's first choice, are the ones killed), and the effect is said.
fn squeeze_met_the_limit(
    asked: u64,
    before: Option<u64>,
    limit: Option<u64>,
    hits: Option<(u64, u64)>,
) -> Option<String> {
    let (before, limit, (from, to)) = (before?, limit?, hits?);
    (before.saturating_add(asked) > limit && to > from).then(|| {
        format!(
            "{} asked, more than the {} its {} limit left: the cgroup met its limit {} times",
            disk::mib(asked),
            disk::mib(limit.saturating_sub(before)),
            disk::mib(limit),
            to - from
        )
    })
}

/// Forks `work`'s helpers for target `c`, moves each into its cgroups `cg`, checks it is there,
/// and starts them all (the fault counts as applied at the first start).
fn start_helpers(
    cg: &Cgroups,
    c: &ContainerInfo,
    work: &[Work],
    evidence: &mut Evidence,
    stamp: &mut Stamp<'_>,
    stamped: &mut bool,
) -> Result<Vec<Helper>, String> {
    let mut helpers = Vec::with_capacity(work.len());
    for &w in work {
        let h = Helper::spawn(w).map_err(|e| format!("starting a helper for {}: {e}", c.name))?;
        cg.join(h.pid())
            .map_err(|e| format!("moving helper {} into {}'s cgroups: {e}", h.pid(), c.name))?;
        if !cg.holds(h.pid()) {
            return Err(format!(
                "helper {} is not in {}'s cgroups after moving it",
                h.pid(),
                c.name
            ));
        }
        if matches!(w, Work::Hold(_)) {
            // A memory holder is the largest process in the cgroup: unshielded, the OOM
            // killer picks it and the squeeze ends itself. Needs CAP_SYS_RESOURCE; without it
            // a killed holder withdraws the proof at revert instead.
            let shielded = shield_from_oom(h.pid());
            evidence.insert(key(c, "helper_oom_shielded"), json!(shielded));
        }
        helpers.push(h);
    }
    evidence.insert(
        format!("{}.helper_pids", c.name),
        json!(helpers.iter().map(Helper::pid).collect::<Vec<_>>()),
    );
    if !*stamped {
        stamp.now(None);
        *stamped = true;
    }
    for h in &mut helpers {
        h.start()
            .map_err(|e| format!("starting helper {} in {}: {e}", h.pid(), c.name))?;
    }
    Ok(helpers)
}

/// The smallest piece one memory holder takes (fewer processes for small squeezes).
const MIN_HOLDER_BYTES: u64 = 32 << 20;

/// `bytes` split among memory holders: at most eight, none under [`MIN_HOLDER_BYTES`] unless
/// the whole is, page-aligned, summing to `bytes` rounded up to a page.
fn holders(bytes: u64) -> Vec<Work> {
    const PAGE: u64 = 4096;
    let total = bytes.div_ceil(PAGE) * PAGE;
    let piece = (total.div_ceil(8).div_ceil(PAGE) * PAGE).max(MIN_HOLDER_BYTES);
    let mut out = Vec::new();
    let mut left = total;
    while left > 0 {
        let n = left.min(piece);
        out.push(Work::Hold(n as usize));
        left -= n;
    }
    out
}

/// Sets `oom_score_adj` to -1000 for `pid` (the OOM killer never picks it); whether it took.
fn shield_from_oom(pid: u32) -> bool {
    let file = format!("/proc/{pid}/oom_score_adj");
    std::fs::write(&file, "-1000").is_ok()
        && std::fs::read_to_string(&file).is_ok_and(|v| v.trim() == "-1000")
}

/// Sets `oom_score_adj` to 1000 for every process in `cg`'s memory cgroup; returns each one's
/// previous value. A process that is gone, or refuses, is left out.
fn raise_oom_scores(cg: &Cgroups) -> Vec<(u32, String)> {
    cg.processes()
        .into_iter()
        .filter_map(|pid| {
            let file = format!("/proc/{pid}/oom_score_adj");
            let before = std::fs::read_to_string(&file).ok()?;
            std::fs::write(&file, "1000").ok()?;
            Some((pid, before.trim().to_string()))
        })
        .collect()
}

/// Puts back what [`raise_oom_scores`] changed, for the processes still there (a restarted
/// container's new ones start from Docker's setting anyway).
fn restore_oom_scores(raised: &[(u32, String)]) {
    for (pid, before) in raised {
        let _ = std::fs::write(format!("/proc/{pid}/oom_score_adj"), before);
    }
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(bytes: u64) -> Vec<usize> {
        holders(bytes)
            .into_iter()
            .map(|w| match w {
                Work::Hold(n) => n,
                Work::Burn => panic!("a burner"),
            })
            .collect()
    }

    #[test]
    fn a_cpu_stress_is_judged_against_what_the_cgroup_can_give() {
        // The CI case: 2 cores asked of a 0.1-core gateway, its helpers got 0.08.
        assert_eq!(cpu_shortfall(2, Some(0.1), 2.0, 0.08), None);
        assert!(cpu_shortfall(2, Some(0.1), 2.0, 0.0).is_some());
        // Unlimited: a tenth of the machine's 2 cores is the least.
        assert_eq!(cpu_shortfall(2, None, 2.0, 0.1), None);
        let why = cpu_shortfall(2, None, 2.0, 0.09).unwrap();
        assert_eq!(
            why,
            "its helpers used 0.090 cores of the 2.00 they could get"
        );
        // More asked than the machine has: capped at the machine.
        assert_eq!(cpu_shortfall(8, None, 2.0, 0.1), None);
        assert!(
            cpu_shortfall(2, Some(0.5), 2.0, 0.01)
                .unwrap()
                .ends_with("(the cgroup is limited to 0.50)")
        );
    }

    #[test]
    fn a_squeeze_larger_than_the_room_is_proven_by_the_limit_it_meets() {
        const MIB: u64 = 1 << 20;
        // 192 MiB asked of a gateway using 15 MiB under 128 MiB: the limit was met 40 times.
        assert_eq!(
            squeeze_met_the_limit(192 * MIB, Some(15 * MIB), Some(128 * MIB), Some((0, 40)))
                .as_deref(),
            Some(
                "192.0 MiB asked, more than the 113.0 MiB its 128.0 MiB limit left: the cgroup met its limit 40 times"
            )
        );
        // The limit never met since the squeeze began: not its effect.
        assert_eq!(
            squeeze_met_the_limit(192 * MIB, Some(15 * MIB), Some(128 * MIB), Some((3, 3))),
            None
        );
        // Room enough: a squeeze not held whole there is a failure of the squeeze.
        assert_eq!(
            squeeze_met_the_limit(64 * MIB, Some(15 * MIB), Some(128 * MIB), Some((0, 9))),
            None
        );
        // No limit, or no counter: nothing to show.
        assert_eq!(
            squeeze_met_the_limit(192 * MIB, Some(0), None, Some((0, 9))),
            None
        );
        assert_eq!(
            squeeze_met_the_limit(192 * MIB, Some(0), Some(MIB), None),
            None
        );
    }

    /// No holder comes near the limit it squeezes (an eighth at most, 32 MiB at least), and
    /// the pieces add up to the size asked, page-rounded.
    #[test]
    fn a_squeeze_is_held_in_pieces_that_sum_to_it() {
        let mib = 1usize << 20;
        assert_eq!(sizes(192 << 20), vec![32 * mib; 6]);
        assert_eq!(sizes(16 << 20), vec![16 * mib]);
        assert_eq!(sizes(1 << 30), vec![128 * mib; 8]);
        let odd = sizes(100_000_001);
        assert_eq!(odd.iter().sum::<usize>(), 100_003_840);
        assert!(odd.iter().all(|n| n % 4096 == 0), "{odd:?}");
    }
}
