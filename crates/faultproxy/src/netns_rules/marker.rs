//! The comment every chaosgate rule carries: `chaosgate:<run_id>:<fault>:<index>`.

use super::error::RuleError;

/// Every chaosgate rule comment starts with this; a host-wide sweep looks for it.
pub const MARKER_PREFIX: &str = "chaosgate:";

/// Names the run and the fault a rule belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    run_id: String,
    fault: String,
}

impl Marker {
    /// Both parts must be non-empty and use only `[A-Za-z0-9._-]`, so a comment never needs
    /// quoting and one run's prefix is never a prefix of another run's fault.
    pub fn new(run_id: &str, fault: &str) -> Result<Self, RuleError> {
        for (what, value) in [("run id", run_id), ("fault name", fault)] {
            let plain = !value.is_empty()
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if !plain {
                return Err(RuleError::Invalid(format!(
                    "{what} {value:?} must be non-empty and use only letters, digits, '.', '_', '-'"
                )));
            }
        }
        // iptables caps comments at 256 bytes; leave room for the index.
        if run_id.len() + fault.len() > 200 {
            return Err(RuleError::Invalid(
                "run id and fault name are too long".to_owned(),
            ));
        }
        Ok(Marker {
            run_id: run_id.to_owned(),
            fault: fault.to_owned(),
        })
    }

    /// `chaosgate:<run_id>:` — the prefix that finds every rule of the run.
    pub fn run_prefix(&self) -> String {
        format!("{MARKER_PREFIX}{}:", self.run_id)
    }

    /// `chaosgate:<run_id>:<fault>:` — the prefix that finds every rule of this fault.
    pub fn fault_prefix(&self) -> String {
        format!("{}{}:", self.run_prefix(), self.fault)
    }

    /// A conntrack zone (1..=65535; 0 is every packet's default) of this fault's own, drawn
    /// from its prefix (FNV-1a): two faults of a run, or two runs, share one only by a
    /// 1-in-65535 chance.
    pub(crate) fn conntrack_zone(&self) -> u16 {
        let hash = self.fault_prefix().bytes().fold(0x811c_9dc5_u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        (hash % 65535) as u16 + 1
    }

    pub(crate) fn comment(&self, index: usize) -> String {
        format!("{}{index}", self.fault_prefix())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_prefixes() {
        let marker = Marker::new("run-42", "partition_db").expect("valid");
        assert_eq!(marker.comment(3), "chaosgate:run-42:partition_db:3");
        assert!(marker.comment(3).starts_with(&marker.fault_prefix()));
        assert!(marker.fault_prefix().starts_with(&marker.run_prefix()));
    }

    #[test]
    fn refuses_names_needing_quotes() {
        assert!(Marker::new("run 1", "x").is_err());
        assert!(Marker::new("r", "").is_err());
        assert!(Marker::new("r", "a:b").is_err());
        assert!(Marker::new("r", "a\"b").is_err());
    }
}
