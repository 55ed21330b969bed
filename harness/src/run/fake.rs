//! A scripted stack for tests of the runner: members with names and addresses, faults that
//! go through the real lifecycle ([`crate::fault::lifecycle::drive`]) and leave Docker-like
//! events on the timeline after scripted delays. No Docker, no network: a whole plan runs in
//! paused time, so its schedule is exact and a 20 s run takes milliseconds.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::Docker;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::backend::RunBackend;
use crate::fault::FaultRecord;
use crate::fault::exec::Exec;
use crate::fault::lifecycle::{
    Back, Hold, HoldFrom, Lifecycle, Outcome, Proof, Reverted, Stamp, Window, drive,
};
use crate::fault::schedule::{FaultBackend, RunWindow};
use crate::plan::{PlannedFault, RunSpec};
use crate::stack::events::ContainerEvent;
use crate::stack::{AddressBook, ContainerInfo, StackError};
use crate::timeline::{DockerAction, EventKind, EventSink};

/// How long the fake's faults take to show (the proof) and a one-shot fault's target to come
/// back: what a real stack's events would say, fixed so that tests can assert the figures.
#[derive(Debug, Clone, Copy)]
pub struct Script {
    /// Apply → proof.
    pub proof_after: Duration,
    /// Apply → a crashed container (deleted pod) back and healthy.
    pub back_after: Duration,
}

/// What happened to the fake, for assertions.
#[derive(Debug, Default)]
pub struct Seen {
    /// `up` was called.
    pub up: bool,
    /// `down` was called (how many times).
    pub downs: u32,
    /// The wiring was dropped before `down`.
    pub unwired_before_down: bool,
    wired: bool,
}

/// A stack of named members, one per service given.
pub struct FakeStack {
    members: Vec<ContainerInfo>,
    script: Script,
    /// What the runner did to it.
    pub seen: Arc<Mutex<Seen>>,
}

impl FakeStack {
    /// One running, healthy member `<service>-1` per service.
    pub fn new(services: &[&str], script: Script) -> Self {
        let members = services
            .iter()
            .enumerate()
            .map(|(i, s)| ContainerInfo {
                id: format!("{:064x}", i + 1),
                name: format!("{s}-1"),
                service: s.to_string(),
                number: 1,
                running: true,
                paused: false,
                health: Some("healthy".into()),
                pid: 0,
                restart_count: 0,
                published: vec![],
                networks: vec![("fake".into(), format!("10.9.0.{}", i + 2))],
                last_health_check: None,
                aliases: vec![],
                image: "fake".into(),
                labels: Default::default(),
            })
            .collect();
        Self {
            members,
            script,
            seen: Arc::default(),
        }
    }
}

/// Held while the run goes; records that it was dropped before the stack went down.
pub struct FakeWiring(Arc<Mutex<Seen>>);

impl Drop for FakeWiring {
    fn drop(&mut self) {
        let mut seen = self.0.lock().unwrap();
        seen.wired = false;
        seen.unwired_before_down = seen.downs == 0;
    }
}

impl RunBackend for FakeStack {
    type Faults = FakeFaults;
    type Wiring = FakeWiring;

    fn project(&self) -> &str {
        "cg-fake"
    }

    fn members(&self) -> &'static str {
        "members"
    }

    async fn up(&mut self) -> Result<(), StackError> {
        self.seen.lock().unwrap().up = true;
        Ok(())
    }

    async fn wait_ready(&self, _: Duration) -> Result<Vec<ContainerInfo>, StackError> {
        Ok(self.members.clone())
    }

    async fn wire(
        &self,
        _: &RunSpec,
        _: &[ContainerInfo],
        _: &str,
    ) -> Result<FakeWiring, StackError> {
        self.seen.lock().unwrap().wired = true;
        Ok(FakeWiring(self.seen.clone()))
    }

    async fn fixed_addresses(&self, _: &AddressBook) -> Result<(), StackError> {
        Ok(())
    }

    async fn check_listening(&self, _: &RunSpec, _: Duration) -> Result<Vec<String>, StackError> {
        Ok(Vec::new())
    }

    async fn record_events(
        &self,
        _: &EventSink,
        _: Arc<AddressBook>,
        cancel: CancellationToken,
    ) -> (broadcast::Sender<ContainerEvent>, JoinHandle<()>) {
        // The fake's faults write their own events; the recorder only waits for its end.
        let task = tokio::spawn(async move { cancel.cancelled().await });
        (broadcast::channel(16).0, task)
    }

    fn waits_for_steady_state(&self) -> bool {
        false
    }

    fn probe_clients(&self) -> (Docker, Option<(kube::Client, String)>) {
        // Never called on: the fake's plans have no exec or health probes. Making a client
        // connects to nothing.
        let docker =
            Docker::connect_with_http("http://127.0.0.1:9", 1, bollard::API_DEFAULT_VERSION)
                .expect("a client is made without connecting");
        (docker, None)
    }

    fn faults(&self, _: broadcast::Sender<ContainerEvent>, _: (String, u64)) -> FakeFaults {
        FakeFaults {
            members: self.members.clone(),
            script: self.script,
        }
    }

    async fn containers(&self) -> Result<Vec<ContainerInfo>, StackError> {
        Ok(self.members.clone())
    }

    async fn down(&mut self) -> Result<(), StackError> {
        let mut seen = self.seen.lock().unwrap();
        assert!(
            !seen.wired,
            "the stack went down with its paths still wired"
        );
        seen.downs += 1;
        Ok(())
    }

    async fn keep(&mut self) -> String {
        "true".into()
    }
}

/// The fake's fault scheduler view: every executor family, on its members.
pub struct FakeFaults {
    members: Vec<ContainerInfo>,
    script: Script,
}

impl FaultBackend for FakeFaults {
    fn refuses(&self, _: &PlannedFault) -> Option<String> {
        None
    }

    async fn look_up(&self) -> Result<Vec<ContainerInfo>, String> {
        Ok(self.members.clone())
    }

    fn times_look_up(&self) -> bool {
        false
    }

    fn still_current(&self, _: &PlannedFault, _: &Result<Vec<ContainerInfo>, String>) -> bool {
        true
    }

    fn no_target(&self, f: &PlannedFault) -> Option<String> {
        Some(format!("{} has no member", f.target_text("service")))
    }

    async fn act(
        &self,
        f: &PlannedFault,
        record: &mut FaultRecord,
        targets: Vec<ContainerInfo>,
        _: Vec<ContainerInfo>,
        hold: Duration,
        run: &RunWindow,
    ) {
        let one_shot = !f.action.holds();
        let mut fault = FakeFault {
            targets: targets.iter().map(|t| t.name.clone()).collect(),
            services: targets.iter().map(|t| t.service.clone()).collect(),
            sink: run.sink.clone(),
            hold: (!one_shot).then_some(Hold {
                duration: hold,
                from: HoldFrom::Applied,
            }),
            downs: matches!(
                f.action,
                Exec::Container(_) | Exec::Kube(_) | Exec::Rollout { .. }
            ),
            script: self.script,
            applied_ns: 0,
        };
        drive(&mut fault, record, &run.sink, run.run_end, &run.cancel).await;
    }
}

/// One fault on the fake: applied at once, proven after the script's delay; a fault that
/// takes its targets down (container, Kubernetes) leaves `die` and, when one-shot, `start`
/// and `healthy` events as Docker would.
struct FakeFault {
    targets: Vec<String>,
    services: Vec<String>,
    sink: EventSink,
    hold: Option<Hold>,
    downs: bool,
    script: Script,
    applied_ns: u64,
}

impl FakeFault {
    fn docker(&self, t: u64, action: DockerAction) {
        for (container, service) in self.targets.iter().zip(&self.services) {
            self.sink.record_at(
                t,
                EventKind::Docker {
                    container: container.clone(),
                    service: service.clone(),
                    action,
                    exit_code: (action == DockerAction::Die).then_some(137),
                },
            );
        }
    }
}

impl Lifecycle for FakeFault {
    type Undo = ();

    fn targets(&self) -> Vec<String> {
        self.targets.clone()
    }

    fn hold(&self) -> Option<Hold> {
        self.hold
    }

    async fn apply(
        &mut self,
        _: &mut crate::fault::Evidence,
        stamp: &mut Stamp<'_>,
    ) -> Outcome<()> {
        stamp.now(None);
        self.applied_ns = self.sink.clock().now_ns();
        Outcome::Done(())
    }

    async fn prove(&mut self, evidence: &mut crate::fault::Evidence, _: &Window<'_>) -> Proof {
        tokio::time::sleep(self.script.proof_after).await;
        let at_ns = self.sink.clock().now_ns();
        if self.downs {
            self.docker(at_ns, DockerAction::Die);
        }
        evidence.insert("fake".into(), true.into());
        Proof::Verified {
            at_ns,
            detail: None,
        }
    }

    async fn revert(&mut self, _: &mut crate::fault::Evidence, _: ()) -> Reverted {
        Reverted::Done
    }

    async fn back(&mut self, _: &mut crate::fault::Evidence, window: &Window<'_>) -> Option<Back> {
        if !self.downs || self.hold.is_some() {
            return None;
        }
        let at = tokio::time::Instant::from_std(
            self.sink
                .clock()
                .instant_at(self.applied_ns + self.script.back_after.as_nanos() as u64),
        );
        tokio::select! {
            _ = tokio::time::sleep_until(at.min(window.run_end)) => {}
            _ = window.cancel.cancelled() => return None,
        }
        let t = self.sink.clock().now_ns();
        self.docker(t, DockerAction::Start);
        self.docker(t, DockerAction::Healthy);
        Some(Back::Seen(t))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use super::*;
    use crate::fault::kinds::{self, Backend, FaultKind, LinkSide, PodDelete, ProxyLink};
    use crate::run::{Progress, RunOptions};
    use crate::timeline::FaultStage;

    const S: u64 = 1_000_000_000;
    const MS: u64 = 1_000_000;

    fn at(f: PlannedFault, at_s: u64, duration_s: Option<u64>) -> PlannedFault {
        PlannedFault {
            at: Duration::from_secs(at_s),
            duration: duration_s.map(Duration::from_secs),
            ..f
        }
    }

    fn plan(faults: Vec<PlannedFault>) -> RunSpec {
        RunSpec {
            name: "fake".into(),
            file: PathBuf::from("fake.yaml"),
            description: String::new(),
            seed: 7,
            compose_files: vec![],
            existing: None,
            kube: None,
            env: BTreeMap::new(),
            services: vec!["gateway".into(), "redis".into(), "marketdata".into()],
            ready_timeout: Duration::from_secs(30),
            load: None,
            writes: vec![],
            duration: Duration::from_secs(20),
            probes: vec![],
            faults,
            recovery_consecutive: 3,
            slos: vec![],
            steady_state: vec![],
            fail_fast: None,
            prometheus: None,
            tls: Default::default(),
        }
    }

    /// Issue 20: a whole plan (a container crash, a proxy fault held for its duration and a
    /// Kubernetes pod deletion) through every phase of the runner, on the fake, in paused time:
    /// each fault fires at its planned time to the nanosecond, is proven, held, reverted or
    /// waited back through the real lifecycle; the log holds every stage; the measured windows
    /// are the scripted ones; the wiring is gone before the stack goes down, once.
    #[tokio::test(start_paused = true)]
    async fn a_whole_plan_runs_on_the_fake_in_paused_time() {
        let latency = FaultKind::Latency(kinds::Latency {
            latency: Duration::from_millis(300),
            jitter: Duration::ZERO,
            link: ProxyLink {
                side: LinkSide::Egress {
                    service: "redis".into(),
                    port: 6379,
                },
                direction: kinds::Direction::Both,
                toxicity_permille: 1000,
            },
        });
        let spec = plan(vec![
            at(
                PlannedFault::new(
                    "crash-redis",
                    "redis",
                    FaultKind::Crash(kinds::Crash),
                    Backend::Compose,
                ),
                2,
                None,
            ),
            at(
                PlannedFault::new("slow-redis", "gateway", latency, Backend::Compose),
                5,
                Some(4),
            ),
            at(
                PlannedFault::new(
                    "delete-md",
                    "marketdata",
                    FaultKind::PodDelete(PodDelete { force: true }),
                    Backend::Kube,
                ),
                12,
                None,
            ),
        ]);
        /// Removes the run's directory however the test ends.
        struct Dir(PathBuf);
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
        let dir = Dir(std::env::temp_dir().join(format!("cg-fake-run-{}", std::process::id())));
        std::fs::create_dir_all(&dir.0).unwrap();
        let script = Script {
            proof_after: Duration::from_millis(50),
            back_after: Duration::from_secs(3),
        };
        let fake = FakeStack::new(&["gateway", "redis", "marketdata"], script);
        let seen = fake.seen.clone();
        let opts = RunOptions {
            dir: dir.0.clone(),
            keep: false,
            cancel: CancellationToken::new(),
            progress: Progress::Quiet,
        };
        let run = super::super::execute::run_on(&spec, &opts, fake, "r1".into(), vec![])
            .await
            .expect("the run completes");

        let by_name = |n: &str| run.faults.iter().find(|f| f.name == n).unwrap();
        let crash = by_name("crash-redis");
        assert_eq!(crash.applied_ns, Some(2 * S));
        assert_eq!(crash.verified_ns, Some(2 * S + 50 * MS));
        assert_eq!(crash.target_back_ns, Some(5 * S));
        assert_eq!(crash.reverted_ns, None, "a crash has nothing to undo");
        let slow = by_name("slow-redis");
        assert_eq!(slow.applied_ns, Some(5 * S));
        assert_eq!(
            slow.reverted_ns,
            Some(9 * S),
            "held for its 4 s, then reverted"
        );
        let delete = by_name("delete-md");
        assert_eq!(delete.applied_ns, Some(12 * S));
        assert_eq!(delete.target_back_ns, Some(15 * S));
        for f in &run.faults {
            assert_eq!(f.error, None, "{}", f.name);
            assert_eq!(f.targets.len(), 1, "{}", f.name);
        }

        // The same story, measured from the log alone.
        let w = |n: &str| run.analysis.faults.iter().find(|w| w.fault == n).unwrap();
        assert_eq!(w("crash-redis").settled_ns, Some(5 * S));
        assert_eq!(w("slow-redis").reverted_ns, Some(9 * S));
        assert_eq!(w("delete-md").verified_ns, Some(12 * S + 50 * MS));
        let log = std::fs::read_to_string(&run.events_path).unwrap();
        let stages: Vec<FaultStage> = log
            .lines()
            .filter_map(|l| serde_json::from_str::<crate::timeline::Event>(l).ok())
            .filter_map(|e| match e.kind {
                EventKind::Fault { fault, stage, .. } if fault == "slow-redis" => Some(stage),
                _ => None,
            })
            .collect();
        assert_eq!(
            stages,
            [
                FaultStage::Applied,
                FaultStage::Verified,
                FaultStage::Reverted
            ]
        );
        assert!(run.measured_for >= Duration::from_secs(20));
        assert!(
            run.measured_for < Duration::from_secs(21),
            "{:?}",
            run.measured_for
        );

        // The records are read back from the log, and the fault tasks' own agree with them.
        assert!(
            !run.notes.iter().any(|n| n.contains("disagree")),
            "{:?}",
            run.notes
        );
        assert!(log.contains(r#""type":"fault_closed""#), "{log}");
        assert!(crash.evidence.contains_key("fake"));

        let seen = seen.lock().unwrap();
        assert!(seen.up);
        assert_eq!(seen.downs, 1);
        assert!(seen.unwired_before_down);
    }
}
