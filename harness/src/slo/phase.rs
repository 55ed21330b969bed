//! The phases of a run a request-based figure covers: the whole load, before the first fault,
//! inside one fault's window, after the last fault. Spelled once, here: SLO expressions name
//! them (`phase=before`, `during=F`), the analysis splits requests by them and reports write
//! them as `whole`, `before`, `during:<fault>` and `after`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A part of the run.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Phase {
    /// The whole load.
    Whole,
    /// Before the first fault starts.
    Before,
    /// After the last fault has ended.
    After,
    /// Inside the named fault's window.
    During(String),
}

/// How reports and SLO expressions spell the phases without a fault.
const WHOLE: &str = "whole";
const BEFORE: &str = "before";
const AFTER: &str = "after";
/// The prefix of a fault's phase in reports (`during:crash-primary`).
const DURING: &str = "during:";

impl Phase {
    /// The phase `phase=NAME` names in an SLO (`before`, `after`, `whole`); `None` for
    /// anything else (a fault's window is written `during=F`).
    pub fn named(name: &str) -> Option<Self> {
        match name {
            WHOLE => Some(Self::Whole),
            BEFORE => Some(Self::Before),
            AFTER => Some(Self::After),
            _ => None,
        }
    }

    /// The phase of the fault called `fault`.
    pub fn during(fault: impl Into<String>) -> Self {
        Self::During(fault.into())
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Whole => f.write_str(WHOLE),
            Self::Before => f.write_str(BEFORE),
            Self::After => f.write_str(AFTER),
            Self::During(fault) => write!(f, "{DURING}{fault}"),
        }
    }
}

/// Reads a phase as reports write it (`whole`, `before`, `after`, `during:<fault>`).
impl FromStr for Phase {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(fault) = s.strip_prefix(DURING) {
            return Ok(Self::During(fault.to_string()));
        }
        Self::named(s).ok_or_else(|| {
            format!("unknown phase `{s}`, expected `{WHOLE}`, `{BEFORE}`, `{AFTER}` or `{DURING}<fault>`")
        })
    }
}

/// Written as reports always have: one string.
impl Serialize for Phase {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Phase {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A string in the schema, as it always was.
impl schemars::JsonSchema for Phase {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Phase".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        String::json_schema(generator)
    }
}

/// A metric's phase as a parsed SLO serializes it (`"whole"`, `{"during": "f"}`), which is
/// serde's spelling of an enum and differs from the reports' one-string spelling.
pub fn serialize_in_slo<S: Serializer>(phase: &Phase, s: S) -> Result<S::Ok, S::Error> {
    match phase {
        Phase::Whole => s.serialize_unit_variant("Phase", 0, WHOLE),
        Phase::Before => s.serialize_unit_variant("Phase", 1, BEFORE),
        Phase::After => s.serialize_unit_variant("Phase", 2, AFTER),
        Phase::During(fault) => s.serialize_newtype_variant("Phase", 3, "during", fault),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_read_back_as_written() {
        for p in [
            Phase::Whole,
            Phase::Before,
            Phase::After,
            Phase::during("crash-primary"),
        ] {
            let text = p.to_string();
            assert_eq!(text.parse::<Phase>(), Ok(p.clone()));
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<Phase>(&json).unwrap(), p);
        }
        assert_eq!(Phase::during("f").to_string(), "during:f");
        assert!("middle".parse::<Phase>().is_err());
        assert_eq!(Phase::named("during"), None);
    }
}
