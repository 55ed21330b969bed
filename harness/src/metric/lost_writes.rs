//! `lost_writes()`: acknowledged writes missing when read back after the run (the load wrote
//! with unique ids). Data loss is never excused by a late harness and never noise.

use serde_json::json;

use super::{Evidence, Measurement, MetricInfo, MetricKind, RunMetrics, Written};
use crate::slo::{Call, Quantity, SloParseError, Unit};

/// `lost_writes()`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LostWrites;

impl Written for LostWrites {
    const INFO: MetricInfo = MetricInfo {
        name: "lost_writes",
        call: "lost_writes()",
        named: &[],
        measures: "acknowledged writes missing when read back after the run",
    };

    fn from_call(call: &mut Call) -> Result<Self, SloParseError> {
        let args = call.args(Self::INFO.named)?;
        args.no_more_positionals(0)?;
        Ok(Self)
    }
}

impl MetricKind for LostWrites {
    fn unit(&self) -> Unit {
        Unit::Count
    }

    fn name(&self) -> String {
        Self::INFO.name.into()
    }

    fn measure(&self, run: &RunMetrics<'_>) -> Measurement {
        lost_writes(run).unwrap_or_else(|m| m)
    }

    fn needs_load(&self) -> bool {
        true
    }

    /// A lost write is lost whoever was late.
    fn excused_by_late_harness(&self) -> bool {
        false
    }

    /// One run that lost writes breaches, whatever the other runs say.
    fn never_noise(&self) -> bool {
        true
    }

    // No fail-fast rule: the read-back needs the system healed, after the run.
}

fn lost_writes(run: &RunMetrics<'_>) -> Result<Measurement, Measurement> {
    let w = run.writes.ok_or_else(|| Measurement::NoData {
        reason: "the load has no write carrying a unique `{{id}}` to read back".into(),
    })?;
    if w.acknowledged == 0 {
        return Err(Measurement::NoData {
            reason: "no write was acknowledged".into(),
        });
    }
    if w.unconfirmed > 0 {
        return Err(Measurement::Inconclusive {
            reason: format!(
                "{} acknowledged write(s) could not be read back from {}",
                w.unconfirmed, w.read_url
            ),
        });
    }
    let mut e = Evidence::default();
    e.details
        .insert("acknowledged".into(), json!(w.acknowledged));
    e.details.insert("lost".into(), json!(w.lost));
    e.details.insert("read_url".into(), json!(w.read_url));
    if !w.lost_ids.is_empty() {
        e.details.insert("lost_ids".into(), json!(w.lost_ids));
    }
    Ok(Measurement::Value {
        value: Quantity::Count(w.lost),
        evidence: Box::new(e),
    })
}
