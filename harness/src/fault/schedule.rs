//! One fault's schedule, the same on every stack: its targets looked up shortly before its
//! time, checked again at its time, picked, and handed to the fault kind that acts on them.
//! What differs between a compose project and a Kubernetes namespace (how targets are listed,
//! whether a listing can go stale, which kind runs which action) is a [`FaultBackend`].

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{FaultRecord, RESOLVE_AHEAD};
use crate::plan::{Pick, PlannedFault};
use crate::stack::ContainerInfo;
use crate::timeline::{EventKind, EventSink, FaultStage};

/// What every fault task of a run shares: the timeline, the run's end and its cancellation.
#[derive(Clone)]
pub struct RunWindow {
    /// Where faults' stages are recorded; its clock is the run's.
    pub sink: EventSink,
    /// When the run's measured part ends: holds and waits are cut there.
    pub run_end: Instant,
    /// Cancelled when the run stops early (its end, `--fail-fast`, Ctrl-C): a fault not yet due
    /// is dropped, one being held is reverted at once.
    pub cancel: CancellationToken,
}

/// What a fault's schedule needs from the stack it runs on.
pub trait FaultBackend {
    /// Why this stack cannot run `fault` at all; checked before anything is looked up.
    fn refuses(&self, fault: &PlannedFault) -> Option<String>;

    /// The stack's containers (Kubernetes: pods), which targets are picked from; errors in words.
    fn look_up(&self) -> impl Future<Output = Result<Vec<ContainerInfo>, String>> + Send;

    /// Whether the look-up's duration goes into the fault's evidence
    /// (`targets_lookup_took_ms`): on a compose project it is a list and an inspect per
    /// container, which could make faults late. Kubernetes faults never carried it.
    fn times_look_up(&self) -> bool;

    /// Whether what the look-up ahead gave (the containers, or its error) still stands at the
    /// fault's planned time; when not, it is looked up again then, and the fault fires that late.
    fn still_current(
        &self,
        fault: &PlannedFault,
        looked_up: &Result<Vec<ContainerInfo>, String>,
    ) -> bool;

    /// The error when no target was picked; `None` when the action needs none (it acts on the
    /// whole workload).
    fn no_target(&self, fault: &PlannedFault) -> Option<String>;

    /// Runs the fault on `targets` (picked from `listing`, the whole look-up). `hold` is the
    /// fault's duration, or what is left of the run when it has none. Everything that happens
    /// goes into `record`.
    fn act(
        &self,
        fault: &PlannedFault,
        record: &mut FaultRecord,
        targets: Vec<ContainerInfo>,
        listing: Vec<ContainerInfo>,
        hold: Duration,
        run: &RunWindow,
    ) -> impl Future<Output = ()> + Send;
}

/// One planned fault, from waiting for its time to its record. `showing` is told which fault
/// is running (for the progress line), and `None` when it is over. The record's last word goes
/// to the log too ([`EventKind::FaultClosed`]): what the verdict reads is derived from there.
pub async fn fault_task<B: FaultBackend>(
    backend: B,
    f: PlannedFault,
    run: RunWindow,
    showing: impl Fn(Option<String>),
) -> FaultRecord {
    let sink = run.sink.clone();
    let record = schedule(backend, f, run, showing).await;
    sink.record(EventKind::FaultClosed {
        fault: record.name.clone(),
        action: record.action.clone(),
        scheduled_ns: record.scheduled_ns,
        targets: record.targets.clone(),
        error: record.error.clone(),
        evidence: record.evidence.clone(),
    });
    record
}

async fn schedule<B: FaultBackend>(
    backend: B,
    f: PlannedFault,
    run: RunWindow,
    showing: impl Fn(Option<String>),
) -> FaultRecord {
    let mut record = FaultRecord {
        name: f.name.clone(),
        action: f.kind.name().to_string(),
        scheduled_ns: f.at.as_nanos() as u64,
        ..Default::default()
    };
    if let Some(why) = backend.refuses(&f) {
        record.error = Some(why);
        return record;
    }
    let fire_at = Instant::from_std(run.sink.clock().instant_at(record.scheduled_ns));
    let due = |at| {
        let cancel = run.cancel.clone();
        async move {
            tokio::select! {
                _ = tokio::time::sleep_until(at) => true,
                _ = cancel.cancelled() => false,
            }
        }
    };
    // Targets are looked up ahead, so that at the planned time only a check that they still
    // run the same processes (a /proc read) stands between the timer and the fault.
    let look_up_at = fire_at.checked_sub(RESOLVE_AHEAD).unwrap_or(fire_at);
    let looked_up = if due(look_up_at).await {
        let started = std::time::Instant::now();
        let r = backend.look_up().await;
        if backend.times_look_up() {
            // A look-up slower than the lead time makes the fault late: the report should say so.
            record.evidence.insert(
                "targets_lookup_took_ms".into(),
                (started.elapsed().as_secs_f64() * 1e3).into(),
            );
        }
        Some(r)
    } else {
        None
    };
    if !due(fire_at).await {
        record.error = Some("the run ended before the fault was due".into());
        return record;
    }
    let listing = match looked_up {
        Some(r) if backend.still_current(&f, &r) => r,
        _ => {
            // A target restarted since (new PID), or was down: look again, and fire that late.
            record
                .evidence
                .insert("targets_looked_up_again".into(), true.into());
            backend.look_up().await
        }
    };
    let listing = match listing {
        Ok(l) => l,
        Err(e) => {
            record.error = Some(e);
            return record;
        }
    };
    let targets = pick_targets(&listing, &f.service, &f.labels, f.pick);
    if targets.is_empty()
        && let Some(error) = backend.no_target(&f)
    {
        record.error = Some(error);
        run.sink.record(EventKind::Fault {
            fault: f.name.clone(),
            stage: FaultStage::Failed,
            targets: vec![],
            detail: record.error.clone(),
        });
        return record;
    }
    showing(Some(f.name.clone()));
    let hold = f.duration.unwrap_or_else(|| {
        run.run_end
            .saturating_duration_since(tokio::time::Instant::now())
    });
    backend
        .act(&f, &mut record, targets, listing, hold, &run)
        .await;
    showing(None);
    record
}

/// The running replicas of `service` carrying every one of `labels` (an equality selector, as
/// Kubernetes' `matchLabels`; empty = all of them) that `pick` selects, in replica-number order
/// (a [`Pick::Random`] one alone). The blast radius is taken of the replicas the labels select.
/// The same listing and draw always give the same replicas, so a replayed seed hits the same
/// ones.
pub fn pick_targets(
    containers: &[ContainerInfo],
    service: &str,
    labels: &BTreeMap<String, String>,
    pick: Pick,
) -> Vec<ContainerInfo> {
    let mut of_service: Vec<ContainerInfo> = containers
        .iter()
        .filter(|c| c.service == service && c.running)
        .filter(|c| labels.iter().all(|(k, v)| c.labels.get(k) == Some(v)))
        .cloned()
        .collect();
    of_service.sort_by_key(|c| c.number);
    match pick {
        Pick::All => of_service,
        Pick::First => of_service.into_iter().take(1).collect(),
        Pick::Random { draw } => {
            let n = of_service.len() as u64;
            if n == 0 {
                vec![]
            } else {
                vec![of_service.swap_remove((draw % n) as usize)]
            }
        }
        Pick::FirstN { size } => {
            let n = size.of(of_service.len());
            of_service.into_iter().take(n).collect()
        }
        Pick::Sample { draw, size } => {
            use rand::SeedableRng;
            use rand::seq::SliceRandom;
            let n = size.of(of_service.len());
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(draw);
            of_service.shuffle(&mut rng);
            let mut picked: Vec<ContainerInfo> = of_service.into_iter().take(n).collect();
            picked.sort_by_key(|c| c.number);
            picked
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::fault::kinds::{Backend, FaultKind, Kill};
    use crate::fault::test_log::TestLog;
    use crate::plan::BlastSize;
    use crate::timeline::Event;

    fn replicas(n: u32) -> Vec<ContainerInfo> {
        (1..=n)
            .map(|number| ContainerInfo {
                id: format!("id{number}"),
                name: format!("gateway-{number}"),
                service: "gateway".into(),
                number,
                running: true,
                paused: false,
                health: None,
                last_health_check: None,
                pid: 0,
                restart_count: 0,
                published: vec![],
                networks: vec![],
                aliases: vec![],
                image: String::new(),
                labels: Default::default(),
            })
            .collect()
    }

    #[test]
    fn a_label_selector_narrows_the_replicas_before_the_pick() {
        let mut all = replicas(4);
        for c in &mut all {
            let track = if c.number % 2 == 0 {
                "canary"
            } else {
                "stable"
            };
            c.labels.insert("track".into(), track.into());
            c.labels.insert("app".into(), "gateway".into());
        }
        let selector = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let names = |labels: &BTreeMap<String, String>, p: Pick| -> Vec<String> {
            pick_targets(&all, "gateway", labels, p)
                .into_iter()
                .map(|c| c.name)
                .collect()
        };
        let canary = selector(&[("track", "canary")]);
        assert_eq!(names(&canary, Pick::All), ["gateway-2", "gateway-4"]);
        assert_eq!(names(&canary, Pick::First), ["gateway-2"]);
        // Every label must match (AND), as matchLabels.
        let both = selector(&[("track", "canary"), ("app", "gateway")]);
        assert_eq!(names(&both, Pick::All), ["gateway-2", "gateway-4"]);
        let wrong = selector(&[("track", "canary"), ("app", "db")]);
        assert!(names(&wrong, Pick::All).is_empty());
        // A random pick never leaves the selected replicas, for any draw.
        for draw in 0..20 {
            let picked = names(&canary, Pick::Random { draw });
            assert!(
                picked == ["gateway-2"] || picked == ["gateway-4"],
                "{picked:?}"
            );
        }
        // The blast radius is a share of the selected replicas, not of the service's.
        let half = Pick::FirstN {
            size: BlastSize::Permille(500),
        };
        assert_eq!(names(&canary, half), ["gateway-2"]);
        assert_eq!(names(&BTreeMap::new(), half), ["gateway-1", "gateway-2"]);
    }

    #[test]
    fn a_blast_radius_takes_that_many_replicas_the_same_ones_for_the_same_draw() {
        let all = replicas(10);
        let names = |p: Pick| -> Vec<String> {
            pick_targets(&all, "gateway", &BTreeMap::new(), p)
                .into_iter()
                .map(|c| c.name)
                .collect()
        };
        let three = names(Pick::Sample {
            draw: 7,
            size: BlastSize::Count(3),
        });
        assert_eq!(three.len(), 3);
        assert_eq!(
            three,
            names(Pick::Sample {
                draw: 7,
                size: BlastSize::Count(3)
            })
        );
        assert_ne!(
            three,
            names(Pick::Sample {
                draw: 8,
                size: BlastSize::Count(3)
            })
        );
        // 25 % of 10 rounds up to 3; 1 % of 10 is still one; a count above the replicas is all.
        assert_eq!(
            names(Pick::Sample {
                draw: 1,
                size: BlastSize::Permille(250)
            })
            .len(),
            3
        );
        assert_eq!(
            names(Pick::Sample {
                draw: 1,
                size: BlastSize::Permille(10)
            })
            .len(),
            1
        );
        assert_eq!(
            names(Pick::FirstN {
                size: BlastSize::Count(20)
            })
            .len(),
            10
        );
        assert_eq!(
            names(Pick::FirstN {
                size: BlastSize::Count(2)
            }),
            vec!["gateway-1", "gateway-2"]
        );
        // A single random pick keeps its old rule (replayed seeds hit the same replica).
        assert_eq!(names(Pick::Random { draw: 13 }), vec!["gateway-4"]);
    }

    #[test]
    fn stopped_replicas_and_other_services_are_never_picked() {
        let mut all = replicas(3);
        all[0].running = false;
        all[2].service = "db".into();
        let picked = pick_targets(&all, "gateway", &BTreeMap::new(), Pick::All);
        assert_eq!(
            picked.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["gateway-2"]
        );
        assert!(
            pick_targets(&all, "gateway", &BTreeMap::new(), Pick::Random { draw: 5 }).len() == 1
        );
        assert!(pick_targets(&all, "cache", &BTreeMap::new(), Pick::Random { draw: 5 }).is_empty());
    }

    /// What the fake stack saw and did, in tokio's (paused) time.
    #[derive(Default)]
    struct Seen {
        looked_up_at: Vec<Instant>,
        /// (targets, listing size, hold, when)
        acted: Option<(Vec<String>, usize, Duration, Instant)>,
    }

    /// A stack whose look-ups answer from `answers`, in turn (the last one again when they run
    /// out).
    struct Fake {
        answers: Vec<Result<Vec<ContainerInfo>, String>>,
        current: bool,
        refuse: Option<String>,
        seen: Mutex<Seen>,
    }

    impl Fake {
        fn new(answers: Vec<Result<Vec<ContainerInfo>, String>>) -> Self {
            Self {
                answers,
                current: true,
                refuse: None,
                seen: Mutex::default(),
            }
        }
    }

    impl FaultBackend for &Fake {
        fn refuses(&self, _: &PlannedFault) -> Option<String> {
            self.refuse.clone()
        }

        async fn look_up(&self) -> Result<Vec<ContainerInfo>, String> {
            let mut seen = self.seen.lock().unwrap();
            let n = seen.looked_up_at.len().min(self.answers.len() - 1);
            seen.looked_up_at.push(Instant::now());
            self.answers[n].clone()
        }

        fn times_look_up(&self) -> bool {
            true
        }

        fn still_current(&self, _: &PlannedFault, _: &Result<Vec<ContainerInfo>, String>) -> bool {
            self.current
        }

        fn no_target(&self, f: &PlannedFault) -> Option<String> {
            Some(format!("service `{}` has no running container", f.service))
        }

        async fn act(
            &self,
            _: &PlannedFault,
            _: &mut FaultRecord,
            targets: Vec<ContainerInfo>,
            listing: Vec<ContainerInfo>,
            hold: Duration,
            _: &RunWindow,
        ) {
            self.seen.lock().unwrap().acted = Some((
                targets.into_iter().map(|c| c.name).collect(),
                listing.len(),
                hold,
                Instant::now(),
            ));
        }
    }

    fn fault(at_s: u64, duration: Option<Duration>, pick: Pick) -> PlannedFault {
        PlannedFault {
            at: Duration::from_secs(at_s),
            duration,
            pick,
            ..PlannedFault::new(
                "kill-gw",
                "gateway",
                FaultKind::Kill(Kill),
                Backend::Compose,
            )
        }
    }

    /// Runs `f` on `fake` in a run of `run_s` seconds, cancelled after `cancel_after` when set;
    /// returns the record, the fault's events and when the fault was due.
    async fn schedule(
        fake: &Fake,
        f: PlannedFault,
        run_s: u64,
        cancel_after: Option<Duration>,
    ) -> (FaultRecord, Vec<Event>, Instant, Vec<Option<String>>) {
        let (log, sink) = TestLog::start();
        let clock = *sink.clock();
        let zero = Instant::from_std(clock.instant_at(0));
        let cancel = CancellationToken::new();
        if let Some(after) = cancel_after {
            let cancel = cancel.clone();
            tokio::spawn(async move {
                tokio::time::sleep_until(zero + after).await;
                cancel.cancel();
            });
        }
        let run = RunWindow {
            sink,
            run_end: zero + Duration::from_secs(run_s),
            cancel,
        };
        let shown = Mutex::new(Vec::new());
        let due = zero + f.at;
        let record = fault_task(fake, f, run, |s| shown.lock().unwrap().push(s)).await;
        // Every fault closes on the log with its record's last word, whatever happened.
        let (closed, events): (Vec<Event>, Vec<Event>) = log
            .events()
            .await
            .into_iter()
            .partition(|e| matches!(e.kind, EventKind::FaultClosed { .. }));
        assert_eq!(closed.len(), 1, "{closed:?}");
        match &closed[0].kind {
            EventKind::FaultClosed {
                fault,
                action,
                scheduled_ns,
                error,
                evidence,
                ..
            } => {
                assert_eq!(
                    (fault, action, *scheduled_ns, error, evidence),
                    (
                        &record.name,
                        &record.action,
                        record.scheduled_ns,
                        &record.error,
                        &record.evidence
                    )
                );
            }
            _ => unreachable!(),
        }
        (record, events, due, shown.into_inner().unwrap())
    }

    fn near(a: Instant, b: Instant) -> bool {
        a.max(b) - a.min(b) < Duration::from_millis(5)
    }

    #[tokio::test(start_paused = true)]
    async fn targets_are_looked_up_ahead_and_the_picked_ones_acted_on_at_the_planned_time() {
        let fake = Fake::new(vec![Ok(replicas(5))]);
        let pick = Pick::Sample {
            draw: 3,
            size: BlastSize::Count(2),
        };
        let f = fault(10, Some(Duration::from_secs(4)), pick);
        let (record, events, due, shown) = schedule(&fake, f, 60, None).await;
        let seen = fake.seen.lock().unwrap();
        assert_eq!(seen.looked_up_at.len(), 1);
        assert!(near(seen.looked_up_at[0], due - RESOLVE_AHEAD));
        let (targets, listing, hold, at) = seen.acted.clone().expect("acted");
        let expected: Vec<String> = pick_targets(&replicas(5), "gateway", &BTreeMap::new(), pick)
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(targets, expected);
        assert_eq!(listing, 5, "the whole listing goes along (network peers)");
        assert_eq!(hold, Duration::from_secs(4));
        assert!(near(at, due));
        assert_eq!(record.name, "kill-gw");
        assert_eq!(record.action, "kill");
        assert_eq!(record.scheduled_ns, 10_000_000_000);
        assert!(record.error.is_none());
        assert!(record.evidence["targets_lookup_took_ms"].is_number());
        assert!(!record.evidence.contains_key("targets_looked_up_again"));
        assert!(events.is_empty(), "the fault kind records the stages");
        assert_eq!(shown, [Some("kill-gw".to_string()), None]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_fault_without_a_duration_is_held_until_the_run_ends() {
        let fake = Fake::new(vec![Ok(replicas(1))]);
        let (_, _, _, _) = schedule(&fake, fault(10, None, Pick::First), 25, None).await;
        let (_, _, hold, _) = fake.seen.lock().unwrap().acted.clone().expect("acted");
        assert!(
            hold.abs_diff(Duration::from_secs(15)) < Duration::from_millis(5),
            "{hold:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_stale_look_up_is_repeated_at_the_planned_time() {
        let mut restarted = replicas(3);
        restarted[0].id = "id1-new".into();
        let mut fake = Fake::new(vec![Ok(replicas(3)), Ok(restarted)]);
        fake.current = false;
        let (record, _, due, _) = schedule(&fake, fault(5, None, Pick::First), 30, None).await;
        let seen = fake.seen.lock().unwrap();
        assert_eq!(seen.looked_up_at.len(), 2);
        assert!(near(seen.looked_up_at[0], due - RESOLVE_AHEAD));
        assert!(near(seen.looked_up_at[1], due));
        assert_eq!(record.evidence["targets_looked_up_again"], true);
        assert!(seen.acted.is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_look_up_is_the_faults_error_unless_it_is_looked_up_again() {
        // A stack that lets the error stand (Kubernetes).
        let fake = Fake::new(vec![Err("the API is down".into())]);
        let (record, events, _, shown) = schedule(&fake, fault(5, None, Pick::All), 30, None).await;
        assert_eq!(record.error.as_deref(), Some("the API is down"));
        assert!(fake.seen.lock().unwrap().acted.is_none());
        assert!(events.is_empty());
        assert!(shown.is_empty());
        // One that looks again (compose): the second answer counts.
        let mut fake = Fake::new(vec![Err("busy".into()), Ok(replicas(2))]);
        fake.current = false;
        let (record, _, _, _) = schedule(&fake, fault(5, None, Pick::All), 30, None).await;
        assert!(record.error.is_none());
        assert_eq!(fake.seen.lock().unwrap().acted.as_ref().unwrap().0.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_that_ends_before_the_fault_is_due_drops_it() {
        for cancel_at in [Duration::from_secs(2), Duration::from_millis(9_500)] {
            let fake = Fake::new(vec![Ok(replicas(2))]);
            let f = fault(10, Some(Duration::from_secs(3)), Pick::All);
            let (record, events, _, shown) = schedule(&fake, f, 60, Some(cancel_at)).await;
            assert_eq!(
                record.error.as_deref(),
                Some("the run ended before the fault was due")
            );
            let seen = fake.seen.lock().unwrap();
            assert!(seen.acted.is_none());
            // Cancelled before the look-up time: nothing was looked up either.
            assert_eq!(
                seen.looked_up_at.len(),
                usize::from(cancel_at > Duration::from_secs(9))
            );
            assert!(events.is_empty());
            assert!(shown.is_empty());
            assert!(record.applied_ns.is_none());
        }
    }

    #[tokio::test(start_paused = true)]
    async fn no_running_target_is_a_failed_fault_that_never_acts() {
        let mut all = replicas(2);
        all[0].running = false;
        all[1].service = "db".into();
        let fake = Fake::new(vec![Ok(all)]);
        let (record, events, _, shown) = schedule(&fake, fault(3, None, Pick::All), 30, None).await;
        let error = "service `gateway` has no running container";
        assert_eq!(record.error.as_deref(), Some(error));
        assert!(fake.seen.lock().unwrap().acted.is_none());
        assert!(shown.is_empty());
        assert_eq!(events.len(), 1);
        match &events[0].kind {
            EventKind::Fault {
                fault,
                stage,
                targets,
                detail,
            } => {
                assert_eq!(fault, "kill-gw");
                assert_eq!(*stage, FaultStage::Failed);
                assert!(targets.is_empty());
                assert_eq!(detail.as_deref(), Some(error));
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_action_is_never_scheduled() {
        let mut fake = Fake::new(vec![Ok(replicas(2))]);
        fake.refuse = Some("action `kill` does not run on Kubernetes".into());
        let (record, events, _, _) = schedule(&fake, fault(3, None, Pick::All), 30, None).await;
        assert_eq!(
            record.error.as_deref(),
            Some("action `kill` does not run on Kubernetes")
        );
        let seen = fake.seen.lock().unwrap();
        assert!(seen.looked_up_at.is_empty() && seen.acted.is_none());
        assert!(events.is_empty());
    }
}
