//! Every process exit code chaosgate returns, in one place: `--help`, the README and CI
//! scripts all refer to these, and every report records the one its run or gate returned
//! (`exit_code` in report.json and gate.json), which is why they live beside the verdict and
//! not inside `cli/`. Only `cli/` ends the process with one.

/// Every SLO passed and every fault was proven applied.
pub const PASS: i32 = 0;
/// At least one SLO was breached.
pub const SLO_BREACHED: i32 = 1;
/// The scenario file or the command line is wrong; nothing was started.
pub const BAD_INPUT: i32 = 2;
/// The harness or its infrastructure failed: docker unreachable, stack never healthy, ...
pub const INFRASTRUCTURE: i32 = 3;
/// No SLO was breached, but at least one could not be judged: a fault was not proven
/// applied, or an SLO had no data. Never reported as a pass.
pub const INCONCLUSIVE: i32 = 4;

/// The exit code of a decided run: the verdict's, made worse by each run-level issue's own
/// code (a target that never answered or a failed steady state is an infrastructure error:
/// the run measured something other than the system under test).
pub fn of_decision(d: &crate::verdict::Decision) -> i32 {
    d.issues
        .iter()
        .map(|i| i.exit_code())
        .fold(of_verdict(d.verdict), worse)
}

/// The exit code of a verdict.
pub fn of_verdict(v: crate::verdict::Verdict) -> i32 {
    use crate::verdict::Verdict;
    match v {
        Verdict::Pass => PASS,
        Verdict::Breached => SLO_BREACHED,
        Verdict::Inconclusive => INCONCLUSIVE,
    }
}

/// Every way a run can fail around the system under test (Docker, the stack, files, a
/// signal, a panic) is an infrastructure error.
pub fn of_run_error(_: &crate::run::RunError) -> i32 {
    INFRASTRUCTURE
}

/// Combining exit codes of several scenarios: bad input and infrastructure errors first, then a
/// breach, then inconclusive.
pub fn worse(a: i32, b: i32) -> i32 {
    let rank = |c: i32| match c {
        BAD_INPUT => 4,
        INFRASTRUCTURE => 3,
        SLO_BREACHED => 2,
        INCONCLUSIVE => 1,
        _ => 0,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// What each code means, as `--help` prints it and the README's table states it (a test
/// keeps the two equal).
pub const MEANINGS: [(i32, &str); 5] = [
    (PASS, "every SLO passed and every fault was proven applied"),
    (SLO_BREACHED, "an SLO was breached"),
    (
        BAD_INPUT,
        "bad scenario file or usage (nothing was started)",
    ),
    (
        INFRASTRUCTURE,
        "harness or infrastructure error (docker unreachable, stack never healthy, interrupted, \
         or the load target or a probe never answered before the first fault, or the steady \
         state did not hold before it)",
    ),
    (
        INCONCLUSIVE,
        "inconclusive: a fault could not be proven applied, an SLO had no data or too coarse a \
         resolution, or a timing breach happened while the harness itself ran late \
         (CPU-starved machine; rerun)",
    ),
];

/// The table printed at the end of `--help`, made from [`MEANINGS`].
pub fn help_table() -> String {
    let mut out = String::from("Exit codes:");
    for (code, meaning) in MEANINGS {
        out.push_str(&format!("\n  {code}  {meaning}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's exit-code table says exactly what `--help` says.
    #[test]
    fn the_readme_table_matches_the_codes() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
        let rows: Vec<(i32, String)> = readme
            .lines()
            .filter_map(|l| {
                let cells: Vec<&str> = l.trim().trim_matches('|').split('|').collect();
                let [code, meaning] = cells.as_slice() else {
                    return None;
                };
                Some((code.trim().parse().ok()?, meaning.trim().to_string()))
            })
            .collect();
        let expected: Vec<(i32, String)> =
            MEANINGS.iter().map(|(c, m)| (*c, m.to_string())).collect();
        assert_eq!(rows, expected);
    }

    #[test]
    fn help_lists_every_code_once() {
        let help = help_table();
        for (code, _) in MEANINGS {
            assert_eq!(help.matches(&format!("\n  {code}  ")).count(), 1);
        }
    }
}
