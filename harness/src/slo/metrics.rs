//! The metrics, once: each one's name, the arguments it takes and what it measures. The
//! parser reads the arguments from here, its error help and `Metric::name` read the names, and
//! a test keeps the README's list equal to this one.

/// One metric of the SLO language.
#[derive(Debug, Clone, Copy)]
pub struct MetricInfo {
    /// As written in an expression; `pNN` stands for every percentile (`p95`, `p99.9`).
    pub name: &'static str,
    /// The call as documented, e.g. `recovery_time(FAULT, probe=NAME)`.
    pub call: &'static str,
    /// The named arguments it accepts (`during=`, `phase=`, `probe=`).
    pub named: &'static [&'static str],
    /// What it measures, one line.
    pub measures: &'static str,
}

/// Every metric, in the order help texts list them.
pub const METRICS: [MetricInfo; 7] = [
    MetricInfo {
        name: "pNN",
        call: "pNN(latency, during=FAULT | phase=PHASE)",
        named: &["during", "phase"],
        measures: "a latency percentile of the load's requests, from their intended send times",
    },
    MetricInfo {
        name: "error_rate",
        call: "error_rate(during=FAULT | phase=PHASE)",
        named: &["during", "phase"],
        measures: "failed / scheduled requests",
    },
    MetricInfo {
        name: "availability",
        call: "availability(during=FAULT | phase=PHASE)",
        named: &["during", "phase"],
        measures: "successful / scheduled requests",
    },
    MetricInfo {
        name: "recovery_time",
        call: "recovery_time(FAULT, probe=NAME)",
        named: &["probe"],
        measures: "fault start to the first of N consecutive successful probe checks",
    },
    MetricInfo {
        name: "failover_time",
        call: "failover_time(FAULT)",
        named: &[],
        measures: "the longest window of failing client requests inside the fault's window",
    },
    MetricInfo {
        name: "lost_writes",
        call: "lost_writes()",
        named: &[],
        measures: "acknowledged writes missing when read back after the run",
    },
    MetricInfo {
        name: "probe_success",
        call: "probe_success(PROBE, during=FAULT)",
        named: &["during"],
        measures: "successful / total checks of a probe",
    },
];

/// The row of the metric written `name` (`p95` finds `pNN`); `None` for an unknown one.
pub fn info(name: &str) -> Option<&'static MetricInfo> {
    let key = if name.starts_with('p') && name[1..].starts_with(|c: char| c.is_ascii_digit()) {
        "pNN"
    } else {
        name
    };
    METRICS.iter().find(|m| m.name == key)
}

/// The metrics' names for help texts: `pNN (p50, p90, p95, p99, p99.9), error_rate, ...`.
pub fn names() -> String {
    METRICS
        .iter()
        .map(|m| {
            if m.name == "pNN" {
                "pNN (p50, p90, p95, p99, p99.9)"
            } else {
                m.name
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row parses as documented and names itself back; every named argument in a call is
    /// one the row accepts.
    #[test]
    fn every_row_parses_and_names_itself() {
        for m in METRICS {
            let call = m
                .call
                .replace("pNN", "p95")
                .replace(" | phase=PHASE", "")
                .replace("FAULT", "f")
                .replace("PROBE", "pr")
                .replace("NAME", "pr");
            // Units differ by metric; the call itself must parse with one of them.
            let slo = ["1s", "1%", "1"]
                .iter()
                .find_map(|t| crate::slo::parse(&format!("{call} < {t}")).ok())
                .unwrap_or_else(|| panic!("`{call}` does not parse"));
            let named = slo.metric.name();
            assert_eq!(info(&named).map(|i| i.name), Some(m.name), "{call}");
            for arg in m.named {
                assert!(m.call.contains(&format!("{arg}=")), "{}: {arg}", m.name);
            }
        }
        assert!(info("nope").is_none());
        assert_eq!(info("p99.9").unwrap().name, "pNN");
    }

    /// The README's SLO section lists exactly these metrics.
    #[test]
    fn the_readme_lists_every_metric() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
        for m in METRICS {
            let shown = m.name.replace("pNN", "p95");
            assert!(readme.contains(&shown), "README does not mention `{shown}`");
        }
    }
}
