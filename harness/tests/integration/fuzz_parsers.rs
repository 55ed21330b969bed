//! Fuzzing the scenario parser, the SLO parser, the units parsers and the planner (issue 11,
//! kind 8): no input may panic, and whatever validation accepts, planning (`from_scenario`,
//! which runs the load generator's own checks) must accept too, for any seed.
//!
//! Inputs are generated from the scenario grammar with values drawn from pools that mix
//! sound values with absurd ones (huge numbers, zero, NaN, unknown units, months), plus
//! byte-level mutations of the bundled scenarios. Seeded (ChaCha8), so a failure replays.
//! By default a short run (3000 cases, seconds; CI); for a long one use cargo test, whose
//! runner has no timeout (nextest's profile stops a test at 10 minutes):
//! `CHAOSGATE_FUZZ_SECS=610 CHAOSGATE_FUZZ_SEED=42 nice -n 10 cargo test -p chaosgate --test
//! integration fuzz_parsers:: -- --nocapture`.
//! Inputs that once failed live in `tests/data/fuzz/` and are replayed first on every run;
//! a new failure writes its input to `target/fuzz-failures/` to be added there.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chaosgate::plan::from_scenario;
use chaosgate::report::plan_text;
use chaosgate::{scenario, slo, units};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

static DURATIONS: &[&str] = &[
    "0s",
    "1ms",
    "250ms",
    "1s",
    "5s",
    "10s",
    "30s",
    "2m",
    "1h",
    "24h",
    "25h",
    "1m30s",
    "1.5s",
    "10",
    "0",
    "1M",
    "1y",
    "2d",
    "-1s",
    "18446744073709551615s",
    "18446744073709551615ns",
    "99999999999h",
    "1e9s",
    "nan",
    "",
    "5x",
    "1h 30m",
    "500us",
    "500µs",
    ".5s",
    "1.s",
    "340282366920938463463374607431768211455s",
];
static RATES: &[&str] = &[
    "1/s",
    "200/s",
    "120/m",
    "3600/h",
    "200",
    "0/s",
    "-5/s",
    "1e300/s",
    "10000000/s",
    "10000001/s",
    "NaN/s",
    "inf/s",
    "5/fortnight",
    "/s",
    "0.0001/s",
    "1e-300/s",
];
static PERCENTS: &[&str] = &[
    "30%", "0%", "100%", "101%", "-1%", "NaN%", "0.5", "%", "1e2%",
];
static BYTE_RATES: &[&str] = &[
    "64KB/s", "1B/s", "0B/s", "1000GB/s", "64KB", "64000", "1.5MiB/s",
];
static NUMBERS: &[&str] = &[
    "0",
    "1",
    "3",
    "512",
    "65535",
    "65536",
    "100000",
    "100001",
    "4294967295",
    "4294967296",
    "-1",
    "1e30",
    ".nan",
    "1.5",
    "99999999999999999999999",
];
static SERVICES: &[&str] = &[
    "gateway",
    "marketdata-a",
    "marketdata-b",
    "postgres",
    "redis",
    "nope",
];
static PORTS: &[&str] = &[
    "8080", "8081", "5432", "6379", "0", "9090", "65535", "70000", "x",
];
/// Every kind of the table (the one list, fault/kinds/mod.rs) and one that is not.
static ACTIONS: &[&str] = &{
    const N: usize = chaosgate::fault::kinds::NAMES.len() + 1;
    let mut all = ["explode"; N];
    let mut i = 0;
    while i < N - 1 {
        all[i] = chaosgate::fault::kinds::NAMES[i];
        i += 1;
    }
    all
};
static METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "FETCH"];
static SLO_METRICS: &[&str] = &[
    "p95(latency)",
    "p99.9(latency, during=f0)",
    "p0(latency)",
    "p101(latency)",
    "error_rate()",
    "error_rate(phase=after)",
    "availability(during=f1)",
    "recovery_time(f0)",
    "recovery_time(f0, probe=p0)",
    "failover_time(f1)",
    "lost_writes()",
    "probe_success(p0)",
    "probe_success(p1, during=f0)",
    "nope()",
    "p95(",
    "p95(latency,,)",
];
static OPS: &[&str] = &["<", "<=", ">", ">=", "==", "!", ""];

/// Sound values only, used for half the generated scenarios so that the planner sees many
/// valid ones (indexes into the pools above would drift; these are spelled out).
const SANE: &[(&str, &[&str])] = &[
    (
        "DURATIONS",
        &[
            "1ms", "250ms", "1s", "5s", "10s", "30s", "2m", "1.5s", "1m30s", "24h",
        ],
    ),
    (
        "RATES",
        &["1/s", "200/s", "120/m", "3600/h", "10000000/s", "0.0001/s"],
    ),
    ("PERCENTS", &["30%", "0%", "100%"]),
    ("BYTE_RATES", &["64KB/s", "1B/s", "1.5MiB/s"]),
    ("NUMBERS", &["1", "3", "512", "1000"]),
    ("SERVICES", &["gateway"]),
    ("PORTS", &["8080"]),
    ("ACTIONS", &["crash", "kill", "restart"]),
    ("METHODS", &["GET", "POST", "PUT"]),
    (
        "SLO_METRICS",
        &[
            "p95(latency)",
            "error_rate()",
            "lost_writes()",
            "recovery_time(f0)",
        ],
    ),
    ("OPS", &["<", "<=", ">", ">="]),
];

thread_local! {
    static SANE_MODE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn pick<'a>(rng: &mut ChaCha8Rng, pool: &[&'a str]) -> &'a str {
    if SANE_MODE.with(|m| m.get()) {
        let all: [&[&str]; 11] = [
            DURATIONS,
            RATES,
            PERCENTS,
            BYTE_RATES,
            NUMBERS,
            SERVICES,
            PORTS,
            ACTIONS,
            METHODS,
            SLO_METRICS,
            OPS,
        ];
        if let Some(i) = all.iter().position(|p| std::ptr::eq(*p, pool)) {
            return SANE[i].1.choose(rng).copied().unwrap_or("");
        }
    }
    pool.choose(rng).copied().unwrap_or("")
}

/// Optional fields: rarer in sane mode, where most of them would not apply.
fn maybe(rng: &mut ChaCha8Rng, p: f64) -> bool {
    let p = if SANE_MODE.with(|m| m.get()) {
        p / 4.0
    } else {
        p
    };
    rng.random_bool(p)
}

fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn slo_text(rng: &mut ChaCha8Rng) -> String {
    let kinds = if SANE_MODE.with(|m| m.get()) { 3 } else { 4 };
    let threshold = match rng.random_range(0..kinds) {
        0 => pick(rng, DURATIONS).to_string(),
        1 => pick(rng, PERCENTS).to_string(),
        2 => pick(rng, NUMBERS).to_string(),
        _ => pick(rng, RATES).to_string(),
    };
    format!("{} {} {threshold}", pick(rng, SLO_METRICS), pick(rng, OPS))
}

/// A scenario from the grammar, every value drawn from sound-or-absurd pools.
fn scenario_text(rng: &mut ChaCha8Rng) -> String {
    let mut s = String::from("name: fuzz\nstack:\n  compose: compose/trading.yml\n");
    if maybe(rng, 0.2) {
        s += &format!("  ready_timeout: {}\n", quoted(pick(rng, DURATIONS)));
    }
    if maybe(rng, 0.2) {
        s += &format!("seed: {}\n", pick(rng, NUMBERS));
    }
    if SANE_MODE.with(|m| m.get()) || maybe(rng, 0.7) {
        s += "load:\n";
        if maybe(rng, 0.4) {
            s += &format!(
                "  target: http://{}:{}/quote\n",
                pick(rng, SERVICES),
                pick(rng, PORTS)
            );
        } else {
            let requests = rng.random_range(1..4);
            s += "  requests:\n";
            for _ in 0..requests {
                let id_at = rng.random_range(0..4);
                let url = format!(
                    "http://{}:{}/orders{}",
                    pick(rng, SERVICES),
                    pick(rng, PORTS),
                    if id_at == 0 { "/{{id}}" } else { "" }
                );
                s += &format!(
                    "    - method: {}\n      url: {}\n",
                    pick(rng, METHODS),
                    quoted(&url)
                );
                if id_at == 1 {
                    s += "      body: '{\"id\":\"{{id}}\"}'\n";
                }
                if id_at == 2 {
                    s += "      headers: { x-request-id: '{{id}}' }\n";
                }
                if maybe(rng, 0.3) {
                    s += &format!("      weight: {}\n", pick(rng, NUMBERS));
                }
                if maybe(rng, 0.3) {
                    s += &format!("      write: {}\n", maybe(rng, 0.5));
                }
                if maybe(rng, 0.3) {
                    s += &format!(
                        "      read_back: 'http://{}:{}/orders/{{id}}'\n",
                        pick(rng, SERVICES),
                        pick(rng, PORTS)
                    );
                }
            }
        }
        if maybe(rng, 0.2) {
            s += &format!(
                "  rate: {{ from: {}, to: {} }}\n",
                quoted(pick(rng, RATES)),
                quoted(pick(rng, RATES))
            );
        } else {
            s += &format!("  rate: {}\n", quoted(pick(rng, RATES)));
        }
        s += &format!("  duration: {}\n", quoted(pick(rng, DURATIONS)));
        if maybe(rng, 0.3) {
            s += &format!("  timeout: {}\n", quoted(pick(rng, DURATIONS)));
        }
        if maybe(rng, 0.3) {
            s += &format!("  max_in_flight: {}\n", pick(rng, NUMBERS));
        }
    }
    if maybe(rng, 0.3) {
        s += &format!("duration: {}\n", quoted(pick(rng, DURATIONS)));
    }
    if maybe(rng, 0.2) {
        s += &format!("recovery: {{ consecutive: {} }}\n", pick(rng, NUMBERS));
    }
    let probes = rng.random_range(0..3);
    s += if probes == 0 {
        "probes: []\n"
    } else {
        "probes:\n"
    };
    for i in 0..probes {
        s += &format!("  - name: p{i}\n");
        match rng.random_range(0..4) {
            0 => {
                s += &format!(
                    "    http: {{ url: 'http://{}:{}/health'",
                    pick(rng, SERVICES),
                    pick(rng, PORTS)
                );
                if maybe(rng, 0.3) {
                    s += &format!(", status: {}", pick(rng, NUMBERS));
                }
                s += " }\n";
            }
            1 => {
                s += &format!(
                    "    tcp: {{ address: '{}:{}' }}\n",
                    pick(rng, SERVICES),
                    pick(rng, PORTS)
                )
            }
            2 => {
                s += &format!(
                    "    exec: {{ service: {}, command: [true] }}\n",
                    pick(rng, SERVICES)
                )
            }
            _ => s += &format!("    health: {{ service: {} }}\n", pick(rng, SERVICES)),
        }
        if maybe(rng, 0.4) {
            s += &format!("    every: {}\n", quoted(pick(rng, DURATIONS)));
        }
        if maybe(rng, 0.3) {
            s += &format!("    timeout: {}\n", quoted(pick(rng, DURATIONS)));
        }
    }
    let faults = rng.random_range(0..4);
    s += if faults == 0 {
        "faults: []\n"
    } else {
        "faults:\n"
    };
    for i in 0..faults {
        s += &format!("  - name: f{i}\n");
        if maybe(rng, 0.3) {
            s += &format!(
                "    at: {{ between: [{}, {}] }}\n",
                quoted(pick(rng, DURATIONS)),
                quoted(pick(rng, DURATIONS))
            );
        } else {
            s += &format!("    at: {}\n", quoted(pick(rng, DURATIONS)));
        }
        s += &format!("    action: {}\n", pick(rng, ACTIONS));
        s += &format!(
            "    target: {{ service: {}, pick: {} }}\n",
            pick(rng, SERVICES),
            pick(rng, &["all", "random", "first"])
        );
        if maybe(rng, 0.7) {
            s += &format!("    duration: {}\n", quoted(pick(rng, DURATIONS)));
        }
        if maybe(rng, 0.3) {
            s += &format!("    latency: {}\n", quoted(pick(rng, DURATIONS)));
        }
        if maybe(rng, 0.2) {
            s += &format!("    jitter: {}\n", quoted(pick(rng, DURATIONS)));
        }
        if maybe(rng, 0.2) {
            s += &format!("    rate: {}\n", quoted(pick(rng, BYTE_RATES)));
        }
        if maybe(rng, 0.2) {
            s += &format!("    percent: {}\n", quoted(pick(rng, PERCENTS)));
        }
        let sides = if SANE_MODE.with(|m| m.get()) { 0 } else { 4 };
        match rng.random_range(0..=sides) {
            0 => s += &format!("    to: '{}:{}'\n", pick(rng, SERVICES), pick(rng, PORTS)),
            1 => {
                s += &format!(
                    "    to: [{}, {}]\n",
                    pick(rng, SERVICES),
                    pick(rng, SERVICES)
                )
            }
            2 => s += &format!("    port: {}\n", pick(rng, NUMBERS)),
            _ => {}
        }
        if maybe(rng, 0.2) {
            s += &format!("    toxicity: {}\n", pick(rng, NUMBERS));
        }
        if maybe(rng, 0.2) {
            s += &format!(
                "    direction: {}\n",
                pick(
                    rng,
                    &["upstream", "downstream", "both", "one-way", "sideways"]
                )
            );
        }
    }
    let slos = rng.random_range(1..4);
    s += "slos:\n";
    for _ in 0..slos {
        s += &format!("  - {}\n", quoted(&slo_text(rng)));
    }
    s
}

/// A bundled scenario with a few bytes replaced, inserted or removed.
fn mutated(rng: &mut ChaCha8Rng, seeds: &[String]) -> String {
    let mut bytes = seeds.choose(rng).cloned().unwrap_or_default().into_bytes();
    for _ in 0..rng.random_range(1..6) {
        if bytes.is_empty() {
            break;
        }
        let at = rng.random_range(0..bytes.len());
        let byte = *b"0123456789 :-{}[],'\"%/smhM.\nx9"
            .choose(rng)
            .unwrap_or(&b'9');
        match rng.random_range(0..3) {
            0 => bytes[at] = byte,
            1 => bytes.insert(at, byte),
            _ => {
                bytes.remove(at);
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Everything one input goes through; `Err` says which property broke.
fn check_input(src: &str, origin: &Path) -> Result<(), String> {
    let Ok(s) = scenario::parse_str(src, origin) else {
        return Ok(());
    };
    for seed in [0, 1, u64::MAX] {
        let spec = from_scenario(&s, seed, &BTreeMap::new()).map_err(|e| {
            format!("validation accepted it, but planning (seed {seed}) failed: {e}")
        })?;
        let _ = plan_text::render(&spec);
    }
    Ok(())
}

fn check_text(text: &str) {
    let _ = slo::parse(text);
    let _ = units::parse_duration(text);
    let _ = units::parse_rate(text);
    let _ = units::parse_percent(text);
    let _ = units::parse_byte_rate(text);
}

fn report_failure(kind: &str, input: &str, why: &str) -> ! {
    let dir = manifest().join("../target/fuzz-failures");
    let _ = std::fs::create_dir_all(&dir);
    let file = dir.join(format!("{kind}-{:016x}.txt", fxhash(input)));
    let _ = std::fs::write(&file, input);
    panic!("{why}\ninput saved to {}:\n{input}", file.display());
}

fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn run_one(kind: &str, input: &str, origin: &Path) {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        if kind == "text" {
            check_text(input);
            Ok(())
        } else {
            check_input(input, origin)
        }
    }));
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(why)) => report_failure(kind, input, &why),
        Err(_) => report_failure(kind, input, "panicked"),
    }
}

#[test]
fn parsers_and_planner_never_panic_and_agree() {
    let origin = manifest().join("tests/data/scenario/fuzz.yaml");
    // Regressions first.
    let mut regressions: Vec<PathBuf> = std::fs::read_dir(manifest().join("tests/data/fuzz"))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    regressions.sort();
    for path in &regressions {
        let input = std::fs::read_to_string(path).unwrap_or_default();
        let kind = if path.extension().is_some_and(|e| e == "txt") {
            "text"
        } else {
            "scenario"
        };
        run_one(kind, &input, &origin);
    }
    let seeds: Vec<String> = scenario::discover(&manifest().join("../scenarios"))
        .into_iter()
        .filter_map(|(p, _)| std::fs::read_to_string(p).ok())
        .map(|s| s.replace("../compose/trading.yml", "compose/trading.yml"))
        .collect();
    let budget = std::env::var("CHAOSGATE_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs);
    let seed = std::env::var("CHAOSGATE_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let started = Instant::now();
    let mut cases: u64 = 0;
    let mut accepted: u64 = 0;
    loop {
        match budget {
            Some(b) if started.elapsed() >= b => break,
            None if cases >= 3000 => break,
            _ => {}
        }
        cases += 1;
        match rng.random_range(0..3) {
            0 => {
                let sane = rng.random_bool(0.5);
                SANE_MODE.with(|m| m.set(sane));
                let text = scenario_text(&mut rng);
                SANE_MODE.with(|m| m.set(false));
                match scenario::parse_str(&text, &origin) {
                    Ok(_) => accepted += 1,
                    Err(e) if sane && std::env::var_os("CHAOSGATE_FUZZ_DEBUG").is_some() => {
                        eprintln!("{e}")
                    }
                    Err(_) => {}
                }
                run_one("scenario", &text, &origin);
            }
            1 => run_one("scenario", &mutated(&mut rng, &seeds), &origin),
            _ => run_one("text", &slo_text(&mut rng), &origin),
        }
    }
    eprintln!(
        "fuzz: {cases} cases in {:.0?} (seed {seed}), {accepted} generated scenarios valid, {} regressions replayed, 0 panics",
        started.elapsed(),
        regressions.len()
    );
}
