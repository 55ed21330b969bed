//! The campaign: draw schedules from the seed and run each until one fails (or the run count
//! or the budget ends), confirm the failure, then shrink it one accepted step at a time. Runs
//! go through a [`Runner`], so the whole search is tested without containers.

use std::collections::BTreeSet;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::exit_codes;
use crate::report::campaign::{
    CampaignReport, CampaignRun, CampaignVerdict, FailingSchedule, RunRole, ShrinkStep, StepOutcome,
};
use crate::scenario::Scenario;
use crate::scenario::explore::{ExploreSpace, ScheduledFault, compact, render_millis};

/// What one run of a concrete scenario came to.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The run's exit code (0 pass, 1 breached, 2 bad input, 3 infrastructure, 4 inconclusive).
    pub exit_code: i32,
    /// The SLOs it breached, as written.
    pub breached: Vec<String>,
    /// Its directory.
    pub dir: Option<PathBuf>,
    /// Why it has no verdict.
    pub error: Option<String>,
    /// Its wall time.
    pub elapsed: Duration,
}

/// Runs one concrete scenario on a fresh stack and judges it (the real one brings a stack
/// up; tests script outcomes).
pub trait Runner {
    /// Runs `scenario` (its seed set) as the campaign's run number `index` for `role`;
    /// `faults` is its schedule, one line per fault, for progress output.
    fn run(
        &mut self,
        scenario: &Scenario,
        index: usize,
        role: RunRole,
        faults: &[String],
    ) -> impl Future<Output = Outcome>;
    /// Whether the campaign was asked to stop (Ctrl-C).
    fn cancelled(&self) -> bool;
}

/// The campaign's flags.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The campaign's seed: schedule i is drawn (and run) with the i-th seed derived from it.
    pub seed: u64,
    /// Most schedules explored.
    pub runs: usize,
    /// Wall-clock budget for exploring and shrinking; a run that would not finish inside it
    /// is not started.
    pub budget: Duration,
    /// Explore on after a failing schedule (the first found is shrunk).
    pub keep_going: bool,
    /// `--set` values, for the record.
    pub set: Vec<(String, String)>,
}

/// A campaign's outcome: its report, and the minimal scenario's text when one was found.
pub struct Finished {
    /// The report (`campaign.json`).
    pub report: CampaignReport,
    /// `minimal.yaml`'s text, when a failing schedule was found.
    pub minimal_yaml: Option<String>,
}

struct State<'a, R: Runner> {
    space: &'a ExploreSpace,
    scenario: &'a Scenario,
    runner: R,
    settings: &'a Settings,
    runs: Vec<CampaignRun>,
    notes: Vec<String>,
    /// Wall time of the runs so far (what the budget is spent on).
    spent: Duration,
    /// The longest run so far (before any, a guess): what the next one is assumed to need.
    longest: Duration,
    /// Whether `longest` was measured yet.
    measured: bool,
    infrastructure: bool,
    interrupted: bool,
}

/// Runs a campaign over `scenario`'s `explore:` space (which it must have).
pub async fn run_campaign<R: Runner>(
    scenario: &Scenario,
    runner: R,
    settings: &Settings,
    started_at: String,
) -> Finished {
    let space = scenario
        .explore
        .as_ref()
        .expect("explore campaigns run scenarios with an explore: section");
    let mut st = State {
        space,
        scenario,
        runner,
        settings,
        runs: Vec::new(),
        notes: Vec::new(),
        spent: Duration::ZERO,
        // Before any run: the run itself plus the longest bring-up it may take.
        longest: scenario.duration + scenario.stack.ready_timeout,
        measured: false,
        infrastructure: false,
        interrupted: false,
    };
    let seeds = crate::seed::derive(settings.seed, settings.runs.max(1));
    let mut found: Option<FailingSchedule> = None;
    let mut explored = 0;
    let mut inconclusive = 0;
    for (i, &seed) in seeds.iter().enumerate().take(settings.runs) {
        if !st.may_start(&format!("schedule {}", i + 1)) {
            break;
        }
        let Some(faults) = super::draw::draw(space, seed, |f| {
            space.scenario(f, seed, &scenario.path).is_ok()
        }) else {
            st.notes.push(format!(
                "no valid schedule in {} draws from seed {seed}: the space's faults keep overlapping on one service",
                super::draw::MAX_DRAWS
            ));
            st.infrastructure = true;
            break;
        };
        explored += 1;
        let run = st.run(&faults, seed, RunRole::Explore).await;
        match run.exit_code {
            exit_codes::SLO_BREACHED => {
                if found.is_none() {
                    found = Some(failing(&run));
                }
                if !settings.keep_going {
                    break;
                }
            }
            exit_codes::INCONCLUSIVE => inconclusive += 1,
            exit_codes::PASS => {}
            _ if st.runner.cancelled() => {
                st.interrupted = true;
                st.notes.push(format!(
                    "interrupted during run {}: the campaign stopped",
                    run.index
                ));
                break;
            }
            _ => {
                st.infrastructure = true;
                st.notes.push(format!(
                    "run {} failed around the system (exit {}): {}; the campaign stopped",
                    run.index,
                    run.exit_code,
                    run.error.as_deref().unwrap_or("see its directory")
                ));
                break;
            }
        }
    }
    let explore_s = st.spent.as_secs_f64();
    let mut shrink = Vec::new();
    let mut minimal = None;
    if let Some(first) = &mut found {
        let mut current = first.clone();
        let confirm = st.run(&first.schedule, first.seed, RunRole::Confirm).await;
        first.reproduced = confirm.exit_code == exit_codes::SLO_BREACHED;
        current.reproduced = first.reproduced;
        if first.reproduced {
            shrink = st.shrink(&mut current).await;
        } else if !st.interrupted {
            st.notes.push(format!(
                "the failing schedule of run {} passed when run again (run {}, exit {}): it fails, but not reproducibly; it was not shrunk",
                first.run, confirm.index, confirm.exit_code
            ));
        }
        minimal = Some(current);
    }
    let shrink_s = st.spent.as_secs_f64() - explore_s;
    let (verdict, exit_code) = if found.is_some() {
        (CampaignVerdict::Found, exit_codes::SLO_BREACHED)
    } else if st.infrastructure || st.interrupted {
        (CampaignVerdict::Infrastructure, exit_codes::INFRASTRUCTURE)
    } else if explored == 0 || inconclusive == explored {
        if explored == 0 {
            st.notes
                .push("nothing was explored: the budget does not fit one run".into());
        }
        (CampaignVerdict::Inconclusive, exit_codes::INCONCLUSIVE)
    } else {
        if inconclusive > 0 {
            st.notes.push(format!(
                "{inconclusive} of {explored} schedules were inconclusive (not counted as passing)"
            ));
        }
        (CampaignVerdict::NoneFound, exit_codes::PASS)
    };
    let minimal_yaml = minimal.as_ref().map(|m| {
        minimal_text(
            scenario,
            space,
            m,
            settings,
            first_run_dir(&st.runs, m.run).as_deref(),
        )
    });
    let report = CampaignReport {
        schema_version: "1".into(),
        scenario: scenario.name.clone(),
        scenario_path: scenario.path.display().to_string(),
        seed: settings.seed,
        set: settings
            .set
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        runs_limit: settings.runs,
        budget_s: settings.budget.as_secs_f64(),
        keep_going: settings.keep_going,
        started_at,
        elapsed_s: st.spent.as_secs_f64(),
        explore_s,
        shrink_s,
        verdict,
        exit_code,
        explored,
        runs: st.runs,
        found,
        shrink,
        minimal,
        notes: st.notes,
    };
    Finished {
        report,
        minimal_yaml,
    }
}

fn first_run_dir(runs: &[CampaignRun], index: usize) -> Option<String> {
    runs.iter()
        .find(|r| r.index == index)
        .and_then(|r| r.dir.clone())
}

fn failing(run: &CampaignRun) -> FailingSchedule {
    FailingSchedule {
        run: run.index,
        seed: run.seed,
        faults: run.faults.clone(),
        schedule: run.schedule.clone(),
        breached: run.breached.clone(),
        reproduced: false,
    }
}

impl<R: Runner> State<'_, R> {
    /// Whether a run may start: not interrupted, and the budget holds the longest run seen.
    fn may_start(&mut self, what: &str) -> bool {
        if self.runner.cancelled() {
            self.interrupted = true;
            return false;
        }
        if self.spent + self.longest > self.settings.budget {
            self.notes.push(format!(
                "budget reached: {what} not started ({} spent of {}, a run takes up to {})",
                crate::units::format_duration(secs(self.spent)),
                crate::units::format_duration(self.settings.budget),
                crate::units::format_duration(secs(self.longest))
            ));
            return false;
        }
        true
    }

    async fn run(&mut self, faults: &[ScheduledFault], seed: u64, role: RunRole) -> CampaignRun {
        let index = self.runs.len() + 1;
        let described = describe(self.space, faults);
        let outcome = match self.space.scenario(faults, seed, &self.scenario.path) {
            Ok(concrete) => self.runner.run(&concrete, index, role, &described).await,
            // Drawn and shrunk schedules are validated before they are run: this is a bug.
            Err(e) => Outcome {
                exit_code: exit_codes::BAD_INPUT,
                breached: Vec::new(),
                dir: None,
                error: Some(e.to_string()),
                elapsed: Duration::ZERO,
            },
        };
        self.spent += outcome.elapsed;
        // The first measured run replaces the bring-up-timeout guess.
        self.longest = if self.measured {
            self.longest.max(outcome.elapsed)
        } else {
            outcome.elapsed
        };
        self.measured = true;
        if self.runner.cancelled() {
            self.interrupted = true;
        }
        let run = CampaignRun {
            index,
            role,
            seed,
            faults: described,
            schedule: faults.to_vec(),
            exit_code: outcome.exit_code,
            breached: outcome.breached,
            dir: outcome.dir.map(|d| d.display().to_string()),
            error: outcome.error,
            elapsed_s: outcome.elapsed.as_secs_f64(),
        };
        self.runs.push(run.clone());
        run
    }

    /// Shrinks `current` (a reproducible failure) in place; returns the trace.
    async fn shrink(&mut self, current: &mut FailingSchedule) -> Vec<ShrinkStep> {
        let mut trace = Vec::new();
        let mut tried: BTreeSet<String> = BTreeSet::new();
        tried.insert(key(&current.schedule));
        'outer: loop {
            for c in super::shrink::candidates(self.space, &current.schedule) {
                if !tried.insert(key(&c.faults)) {
                    continue;
                }
                let faults = describe(self.space, &c.faults);
                if self
                    .space
                    .scenario(&c.faults, current.seed, &self.scenario.path)
                    .is_err()
                {
                    trace.push(ShrinkStep {
                        step: c.step,
                        outcome: StepOutcome::Invalid,
                        runs: Vec::new(),
                        faults,
                    });
                    continue;
                }
                if !self.may_start(&format!("shrink step `{}`", c.step)) {
                    break 'outer;
                }
                let first = self.run(&c.faults, current.seed, RunRole::Shrink).await;
                let mut runs = vec![first.index];
                let outcome = match first.exit_code {
                    exit_codes::SLO_BREACHED => {
                        if !self.may_start(&format!("confirming shrink step `{}`", c.step)) {
                            trace.push(ShrinkStep {
                                step: c.step,
                                outcome: StepOutcome::Flaky,
                                runs,
                                faults,
                            });
                            self.notes.push(
                                "the last failing shrink step could not be confirmed inside the budget; it was not taken".into(),
                            );
                            break 'outer;
                        }
                        let again = self
                            .run(&c.faults, current.seed, RunRole::ShrinkConfirm)
                            .await;
                        runs.push(again.index);
                        if again.exit_code == exit_codes::SLO_BREACHED {
                            StepOutcome::Accepted
                        } else {
                            StepOutcome::Flaky
                        }
                    }
                    exit_codes::PASS => StepOutcome::Rejected,
                    exit_codes::INCONCLUSIVE => StepOutcome::Inconclusive,
                    code => {
                        self.notes.push(format!(
                            "shrinking stopped: run {} failed around the system (exit {code}): {}",
                            first.index,
                            first.error.as_deref().unwrap_or("see its directory")
                        ));
                        trace.push(ShrinkStep {
                            step: c.step,
                            outcome: StepOutcome::Inconclusive,
                            runs,
                            faults,
                        });
                        break 'outer;
                    }
                };
                if outcome == StepOutcome::Flaky {
                    self.notes.push(format!(
                        "shrink step `{}` failed once and then passed: not taken",
                        c.step
                    ));
                }
                let accepted = outcome == StepOutcome::Accepted;
                trace.push(ShrinkStep {
                    step: c.step,
                    outcome,
                    runs,
                    faults: faults.clone(),
                });
                if self.interrupted {
                    break 'outer;
                }
                if accepted {
                    *current = FailingSchedule {
                        run: first.index,
                        seed: current.seed,
                        faults,
                        schedule: c.faults,
                        breached: first.breached,
                        reproduced: true,
                    };
                    continue 'outer;
                }
            }
            break;
        }
        trace
    }
}

fn secs(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs())
}

/// A schedule's identity, for not trying one twice.
fn key(faults: &[ScheduledFault]) -> String {
    serde_json::to_string(faults).unwrap_or_default()
}

/// One line per fault: `pause-2 at 5s: pause redis, duration 3.5s`.
pub fn describe(space: &ExploreSpace, faults: &[ScheduledFault]) -> Vec<String> {
    faults
        .iter()
        .map(|f| {
            let t = &space.templates[f.template];
            let entry = space.fault_entry(f);
            let service = entry
                .get("target")
                .and_then(|t| t.get("service"))
                .map(compact)
                .unwrap_or_default();
            let mut line = format!(
                "{} at {}: {} {service}",
                f.name,
                render_millis(f.at_ms),
                t.action
            );
            // Every field, drawn or fixed: a line must tell two schedules apart.
            for (k, v) in &entry {
                if matches!(k.as_str(), "name" | "at" | "action" | "target") {
                    continue;
                }
                line.push_str(&format!(", {k} {}", compact(v)));
            }
            if let Some(serde_json::Value::Object(target)) = entry.get("target") {
                for (k, v) in target.iter().filter(|(k, _)| k.as_str() != "service") {
                    line.push_str(&format!(", target.{k} {}", compact(v)));
                }
            }
            line
        })
        .collect()
}

/// `minimal.yaml`: the concrete scenario of the minimal schedule, with the file's relative
/// paths made absolute (it is written in the campaign's directory) and a header saying where
/// it came from and how to replay it.
fn minimal_text(
    scenario: &Scenario,
    space: &ExploreSpace,
    m: &FailingSchedule,
    settings: &Settings,
    run_dir: Option<&str>,
) -> String {
    let mut absolute = space.clone();
    let base = scenario.path.parent().unwrap_or(Path::new("."));
    absolutize(&mut absolute.document, base);
    // The campaign's --set values are part of what failed: kept in stack.env, so that
    // `chaosgate run minimal.yaml` alone replays the same build.
    if !settings.set.is_empty()
        && let Some(serde_json::Value::Object(stack)) = absolute.document.get_mut("stack")
    {
        let env = stack
            .entry("env")
            .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
        if let serde_json::Value::Object(env) = env {
            for (k, v) in &settings.set {
                env.insert(k.clone(), serde_json::Value::String(v.clone()));
            }
        }
    }
    let set: Vec<String> = settings
        .set
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mut text = format!(
        "# The minimal failing schedule chaosgate explore found in {} (campaign seed {}).\n\
         # It breached: {}.\n\
         # Replay: chaosgate run minimal.yaml\n",
        scenario.path.display(),
        settings.seed,
        m.breached.join(", "),
    );
    if !set.is_empty() {
        text.push_str(&format!(
            "# The campaign's --set values are in stack.env: {}\n",
            set.join(" ")
        ));
    }
    text.push_str(&format!(
        "# Paths are absolute; to keep it as a pre-merge test, copy it beside {} and write\n\
         # them as that file does.\n",
        scenario.path.display()
    ));
    if let Some(dir) = run_dir {
        text.push_str(&format!(
            "# This schedule failed in {dir}{}.\n",
            if m.reproduced {
                " and again in the run after it"
            } else {
                "; it passed when run again (not reproducible)"
            }
        ));
    }
    text.push_str(&absolute.scenario_text(&m.schedule, m.seed));
    text
}

/// Makes the document's file paths (compose files, Kubernetes manifests, kustomize,
/// kubeconfig) absolute from `base`.
fn absolutize(doc: &mut serde_json::Map<String, serde_json::Value>, base: &Path) {
    use serde_json::Value;
    let fix = |v: &mut Value| {
        let one = |s: &mut String| {
            let p = Path::new(s.as_str());
            if p.is_relative() {
                *s = base.join(p).display().to_string();
            }
        };
        match v {
            Value::String(s) => one(s),
            Value::Array(a) => {
                for item in a {
                    if let Value::String(s) = item {
                        one(s);
                    }
                }
            }
            _ => {}
        }
    };
    // `tls:` files (a CA, a client certificate) are the scenario's too.
    if let Some(Value::Object(tls)) = doc.get_mut("tls") {
        for key in ["ca", "cert", "key"] {
            if let Some(v) = tls.get_mut(key) {
                fix(v);
            }
        }
    }
    let Some(Value::Object(stack)) = doc.get_mut("stack") else {
        return;
    };
    if let Some(v) = stack.get_mut("compose") {
        fix(v);
    }
    if let Some(Value::Object(k)) = stack.get_mut("kubernetes") {
        for key in ["manifests", "kustomize", "kubeconfig"] {
            if let Some(v) = k.get_mut(key) {
                fix(v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    #[test]
    fn minimal_yaml_makes_the_tls_files_absolute_too() {
        let mut doc = serde_json::json!({
            "stack": { "compose": "../compose/trading.yml" },
            "tls": { "ca": "../compose/tls/ca.pem", "cert": "/etc/c.pem", "insecure": false }
        });
        let serde_json::Value::Object(map) = &mut doc else {
            unreachable!()
        };
        absolutize(map, Path::new("/repo/scenarios"));
        assert_eq!(doc["tls"]["ca"], "/repo/scenarios/../compose/tls/ca.pem");
        assert_eq!(doc["tls"]["cert"], "/etc/c.pem");
        assert_eq!(doc["tls"]["insecure"], false);
        assert_eq!(
            doc["stack"]["compose"],
            "/repo/scenarios/../compose/trading.yml"
        );
    }

    /// Outcomes decided by a rule over the concrete scenario: the fake system under test.
    struct Scripted<F: FnMut(&Scenario) -> i32> {
        rule: F,
        elapsed: Duration,
        runs: usize,
        flaky: VecDeque<i32>,
    }

    impl<F: FnMut(&Scenario) -> i32> Runner for Scripted<F> {
        async fn run(
            &mut self,
            scenario: &Scenario,
            _index: usize,
            _role: RunRole,
            _faults: &[String],
        ) -> Outcome {
            self.runs += 1;
            let exit_code = self
                .flaky
                .pop_front()
                .unwrap_or_else(|| (self.rule)(scenario));
            Outcome {
                exit_code,
                breached: if exit_code == 1 {
                    vec!["error_rate(phase=whole) < 1%".into()]
                } else {
                    Vec::new()
                },
                dir: None,
                error: None,
                elapsed: self.elapsed,
            }
        }
        fn cancelled(&self) -> bool {
            false
        }
    }

    /// The interaction bug: fails only when a crash of `a` starts while `r` is paused.
    fn interaction(s: &Scenario) -> i32 {
        let crash_a: Vec<u128> = s
            .faults
            .iter()
            .filter(|f| f.action.name() == "crash" && f.target.service == "a")
            .map(|f| f.at.earliest().as_millis())
            .collect();
        let overlaps = s.faults.iter().any(|f| {
            f.action.name() == "pause"
                && crash_a.iter().any(|&c| {
                    let start = f.at.earliest().as_millis();
                    let end = start + f.duration.unwrap_or_default().as_millis();
                    (start..=end).contains(&c)
                })
        });
        if overlaps { 1 } else { 0 }
    }

    fn settings(runs: usize, budget_s: u64) -> Settings {
        Settings {
            seed: 11,
            runs,
            budget: Duration::from_secs(budget_s),
            keep_going: false,
            set: Vec::new(),
        }
    }

    fn block_on<T>(f: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn finds_the_interaction_and_shrinks_it_to_exactly_its_two_faults() {
        let (s, dir) = super::super::draw::tests::space();
        let runner = Scripted {
            rule: interaction,
            elapsed: Duration::from_secs(30),
            runs: 0,
            flaky: VecDeque::new(),
        };
        let mut with_set = settings(200, 36_000);
        with_set.set = vec![("GATEWAY_FAILOVER".into(), "lease".into())];
        let done = block_on(run_campaign(&s, runner, &with_set, "t".into()));
        let r = &done.report;
        assert_eq!(r.verdict, CampaignVerdict::Found, "{:#?}", r.notes);
        assert_eq!(r.exit_code, 1);
        let m = r.minimal.as_ref().unwrap();
        assert!(m.reproduced);
        assert_eq!(m.schedule.len(), 2, "{:?}", m.faults);
        let space = s.explore.as_ref().unwrap();
        let actions: BTreeSet<&str> = m
            .schedule
            .iter()
            .map(|f| space.templates[f.template].action.as_str())
            .collect();
        assert_eq!(actions, BTreeSet::from(["crash", "pause"]));
        // Shrunk as far as it goes: the pause at its shortest and the whole schedule at the
        // window's start.
        let pause = m.schedule.iter().find(|f| f.template == 1).unwrap();
        assert_eq!(
            pause.picks[0],
            crate::scenario::explore::Pick::Value(1000.0)
        );
        assert_eq!(m.schedule[0].at_ms, 2000);
        // Every accepted step took two failing runs.
        for step in r
            .shrink
            .iter()
            .filter(|s| s.outcome == StepOutcome::Accepted)
        {
            assert_eq!(step.runs.len(), 2);
        }
        // The minimal scenario is an ordinary one that parses, with the seed fixed.
        let text = done.minimal_yaml.unwrap();
        let replay = crate::scenario::parse_str(&text, &dir.join("minimal.yaml")).unwrap();
        assert!(replay.explore.is_none());
        // The campaign's --set is part of what failed: `run minimal.yaml` alone replays it.
        assert_eq!(
            replay.stack.env.get("GATEWAY_FAILOVER").map(String::as_str),
            Some("lease")
        );
        assert!(
            text.contains("# Replay: chaosgate run minimal.yaml\n"),
            "{text}"
        );
        // Every field of a fault is in its line, fixed ones too.
        assert!(
            m.faults.iter().any(|f| f.contains("duration 1s")),
            "{:?}",
            m.faults
        );
        assert_eq!(replay.seed, Some(m.seed));
        assert_eq!(interaction(&replay), 1);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_same_seed_gives_the_same_campaign() {
        let (s, dir) = super::super::draw::tests::space();
        let go = || {
            let runner = Scripted {
                rule: |_: &Scenario| 0,
                elapsed: Duration::from_secs(30),
                runs: 0,
                flaky: VecDeque::new(),
            };
            block_on(run_campaign(&s, runner, &settings(5, 36_000), "t".into())).report
        };
        let (a, b) = (go(), go());
        assert_eq!(a.verdict, CampaignVerdict::NoneFound);
        assert_eq!(a.exit_code, 0);
        assert_eq!(a.explored, 5);
        let schedules = |r: &CampaignReport| {
            r.runs
                .iter()
                .map(|x| (x.seed, x.faults.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(schedules(&a), schedules(&b));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_budget_stops_runs_that_would_not_fit() {
        let (s, dir) = super::super::draw::tests::space();
        let runner = Scripted {
            rule: |_: &Scenario| 0,
            elapsed: Duration::from_secs(100),
            runs: 0,
            flaky: VecDeque::new(),
        };
        // The first run is assumed to need duration + ready_timeout (20 s + 60 s); then 100 s.
        let r = block_on(run_campaign(&s, runner, &settings(50, 350), "t".into())).report;
        assert_eq!(r.explored, 3, "{:?}", r.notes);
        assert!(r.notes.iter().any(|n| n.starts_with("budget reached")));
        assert!(r.elapsed_s <= 350.0);
        // A budget smaller than one run explores nothing: inconclusive, never a pass.
        let runner = Scripted {
            rule: |_: &Scenario| 0,
            elapsed: Duration::from_secs(100),
            runs: 0,
            flaky: VecDeque::new(),
        };
        let r = block_on(run_campaign(&s, runner, &settings(50, 10), "t".into())).report;
        assert_eq!(r.explored, 0);
        assert_eq!(r.verdict, CampaignVerdict::Inconclusive);
        assert_eq!(r.exit_code, 4);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_failure_that_does_not_reproduce_still_fails_the_campaign_unshrunk() {
        let (s, dir) = super::super::draw::tests::space();
        let runner = Scripted {
            rule: |_: &Scenario| 0,
            elapsed: Duration::from_secs(30),
            runs: 0,
            flaky: VecDeque::from([1]),
        };
        let r = block_on(run_campaign(&s, runner, &settings(10, 36_000), "t".into())).report;
        assert_eq!(r.verdict, CampaignVerdict::Found);
        assert_eq!(r.exit_code, 1);
        let m = r.minimal.as_ref().unwrap();
        assert!(!m.reproduced);
        assert!(r.shrink.is_empty());
        assert!(r.notes.iter().any(|n| n.contains("not reproducibly")));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn all_inconclusive_is_inconclusive_and_an_infrastructure_error_stops() {
        let (s, dir) = super::super::draw::tests::space();
        let runner = Scripted {
            rule: |_: &Scenario| 4,
            elapsed: Duration::from_secs(30),
            runs: 0,
            flaky: VecDeque::new(),
        };
        let r = block_on(run_campaign(&s, runner, &settings(3, 36_000), "t".into())).report;
        assert_eq!((r.verdict, r.exit_code), (CampaignVerdict::Inconclusive, 4));
        let runner = Scripted {
            rule: |_: &Scenario| 3,
            elapsed: Duration::from_secs(30),
            runs: 0,
            flaky: VecDeque::new(),
        };
        let r = block_on(run_campaign(&s, runner, &settings(3, 36_000), "t".into())).report;
        assert_eq!(
            (r.verdict, r.exit_code),
            (CampaignVerdict::Infrastructure, 3)
        );
        assert_eq!(r.runs.len(), 1);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
