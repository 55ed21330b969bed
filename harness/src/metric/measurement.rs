//! One metric's measurement: a figure with its evidence and the typed facts the demotion
//! rules read, or why there is none.

use std::collections::BTreeMap;

use super::Facts;
use crate::slo::Quantity;

/// One metric's measurement: a figure with its evidence, or why there is none. `NoData` and
/// `Inconclusive` both make the SLO inconclusive (exit 4), never a pass.
#[derive(Debug, Clone, PartialEq)]
pub enum Measurement {
    /// A figure was measured.
    Value {
        /// The figure, in the metric's unit (duration, ratio or count).
        value: Quantity,
        /// Boxed: the typed facts make it large, and measurements travel in `Result`s.
        evidence: Box<Evidence>,
    },
    /// Nothing to measure (no requests in the window, probe never ran, fault never applied).
    NoData {
        /// What was missing, in words for the report.
        reason: String,
    },
    /// Something was measured but cannot be trusted (fault not proven applied, ...).
    Inconclusive {
        /// Why the figure cannot be trusted, in words for the report.
        reason: String,
    },
}

/// What a figure was computed from, so a reader can check it against the event log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evidence {
    /// The window on the run clock (ns) the figure covers.
    pub window_ns: Option<(u64, u64)>,
    /// What the rules read (typed).
    pub facts: Facts,
    /// Everything else a reader may want (counts, timestamps), for the report only.
    pub details: BTreeMap<String, serde_json::Value>,
    /// For a figure that is only a lower bound because what it waits for had not happened
    /// when the watch ended (`facts.recovered == Some(false)`): what had not, in words
    /// ("alert `X` never fired"). A breach's reason says it, on every report.
    pub unfinished: Option<String>,
}

impl Evidence {
    /// The details with the facts merged in under their report keys.
    pub fn report_details(&self) -> BTreeMap<String, serde_json::Value> {
        let mut d = self.details.clone();
        for (k, v) in self.facts.to_details() {
            d.insert(k.to_string(), v);
        }
        d
    }
}
