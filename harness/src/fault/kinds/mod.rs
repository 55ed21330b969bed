//! The fault kinds, one file each: a kind's name as scenario files spell it, its help, the
//! fields it takes and how it reads them, the backends it runs on, and what the runner does
//! for it ([`Exec`]). The list in [`kinds!`] below is the only one: the scenario parser's
//! action names, the JSON Schema's, the help texts and the dispatch are all generated from it,
//! and a kind's parameters are one type from validation through the plan to execution.
//!
//! Adding a kind is a file here and a line in the list (`docs/extending.md`).

use std::collections::BTreeMap;
use std::time::Duration;

pub use super::exec::Exec;
pub use super::link::{Direction, LinkSide, ProxyLink};
use super::rollout::Strategy;

/// One kind's row of the table: what validation, the help texts and the schema need to know.
#[derive(Debug, Clone, Copy)]
pub struct KindInfo {
    /// As scenario files spell it (`action: NAME`).
    pub name: &'static str,
    /// One line for help texts and the schema.
    pub help: &'static str,
    /// The fields it takes beside `name`, `at`, `duration` and `target`.
    pub fields: &'static [&'static str],
    /// Whether it takes a `duration` (held, then reverted).
    pub duration: Takes,
    /// Runs on a compose stack.
    pub compose: bool,
    /// Runs on a Kubernetes stack.
    pub kube: bool,
    /// Acts on the whole workload or service, never on picked replicas: it takes no `count`,
    /// `percent` or `labels`.
    pub whole_workload: bool,
    /// Replaces the target's containers (compose) or pods (Kubernetes) on the backend it runs
    /// on: a network fault's path wired before it would miss the replacements.
    pub replaces: bool,
}

/// Whether a kind takes a `duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takes {
    /// It must be given one (held, then reverted).
    Required,
    /// It may be given one (e.g. `kill`: started again after it).
    Optional,
    /// It takes none (a deploy is never reverted); the text says why.
    Never(&'static str),
}

/// The stack a fault runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A docker-compose project.
    Compose,
    /// A Kubernetes namespace.
    Kube,
}

/// A field's problem was reported where the file has it (exit 2); the kind stops reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reported;

/// A read field: `Ok(None)` when the file does not have it.
pub type Read<T> = Result<Option<T>, Reported>;

/// A fault's entry in a scenario file, as a kind reads it. The scenario validator implements
/// it (scenario/validate/faults.rs): it knows where each field is written, so every problem is
/// reported at its line and column, and the kinds never see the file format.
pub trait Fields {
    /// The fault's `name`.
    fn fault(&self) -> &str;
    /// Whether its target has a `pick` other than `all`.
    fn picks_some(&self) -> bool;
    /// A duration within `bounds` (`300ms`).
    fn duration(&mut self, field: &'static str, bounds: (Duration, Duration)) -> Read<Duration>;
    /// A byte rate (`64KB/s`), in bytes per second.
    fn byte_rate(&mut self, field: &'static str) -> Read<u64>;
    /// A share (`30%`), 0.0 – 1.0.
    fn percent(&mut self, field: &'static str) -> Read<f64>;
    /// A size (`256MiB`), in bytes.
    fn bytes(&mut self, field: &'static str) -> Read<u64>;
    /// A word or line as written (`GET`, `/quote`, `x-user: bob`).
    fn word(&mut self, field: &'static str) -> Read<String>;
    /// A whole number within `lo..=hi`.
    fn count(&mut self, field: &'static str, lo: u32, hi: u32) -> Read<u32>;
    /// `true` / `false`.
    fn flag(&mut self, field: &'static str) -> Read<bool>;
    /// One or more services of the stack.
    fn services(&mut self, field: &'static str) -> Read<Vec<String>>;
    /// `direction:`.
    fn direction(&mut self) -> Read<Direction>;
    /// `strategy:` of a rollout.
    fn strategy(&mut self) -> Read<Strategy>;
    /// Compose variables a new version of the target sets (checked against what the target's
    /// compose configuration reads).
    fn settings(&mut self, field: &'static str) -> Read<BTreeMap<String, String>>;
    /// The connections a proxy fault intercepts: `to: service:port` (egress) or `port:`
    /// (ingress), with `direction` and `toxicity`.
    fn proxy_link(&mut self) -> Result<ProxyLink, Reported>;
    /// Reports that the kind needs `field`, with an example.
    fn missing(&mut self, field: &'static str, help: Option<&str>) -> Reported;
    /// Reports a problem of `field`'s value.
    fn invalid(&mut self, field: &'static str, message: String) -> Reported;
    /// Reports a problem of the fault as a whole (at its `action`, or at `field` when given).
    fn refuse(&mut self, at: Option<&'static str>, message: String, help: &str) -> Reported;
}

/// What every kind is: its row, how it reads its fields, and how it runs.
pub trait Kind: Sized {
    /// The kind's row of the table.
    const INFO: KindInfo;
    /// Reads the kind's own fields (those of [`KindInfo::fields`]); problems go to `fields`.
    fn read(fields: &mut dyn Fields) -> Result<Self, Reported>;
    /// What the runner does for it on `backend` (one of the backends its row names). Whether
    /// it goes through the fault proxy and which network paths it touches are read from this
    /// ([`Exec::is_proxy`], [`Exec::wired`]), never declared a second time.
    fn exec(&self, backend: Backend) -> Exec;
}

/// The list: `Variant => module::Type`. Everything about the set of kinds is generated here.
macro_rules! kinds {
    ($($variant:ident => $module:ident :: $ty:ident),+ $(,)?) => {
        $(mod $module;)+
        $(pub use $module::$ty;)+

        /// Which kind a fault is, without its parameters: what scenario files name in
        /// `action:` (parsed from the names of the table, so the parser, the schema and the
        /// table cannot disagree).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum KindId {
            $(
                #[doc = concat!("`", stringify!($module), "`: see [`", stringify!($ty), "`].")]
                $variant,
            )+
        }

        /// A fault of one kind, with its parameters: what validation produced, what the plan
        /// holds and what is executed.
        #[derive(Debug, Clone, PartialEq, serde::Serialize)]
        pub enum FaultKind {
            $(
                #[doc = concat!("See [`", stringify!($ty), "`].")]
                $variant($ty),
            )+
        }

        /// Every kind, in the order the documentation lists them.
        pub const ALL: &[KindId] = &[$(KindId::$variant),+];

        /// Every kind's name, in table order.
        pub const NAMES: &[&str] = &[$(<$ty as Kind>::INFO.name),+];

        impl KindId {
            /// This kind's row.
            pub fn info(self) -> &'static KindInfo {
                match self {
                    $(Self::$variant => &<$ty as Kind>::INFO,)+
                }
            }

            /// Reads a fault of this kind from its entry.
            pub fn read(self, fields: &mut dyn Fields) -> Result<FaultKind, Reported> {
                match self {
                    $(Self::$variant => <$ty as Kind>::read(fields).map(FaultKind::$variant),)+
                }
            }
        }

        impl FaultKind {
            /// Which kind it is.
            pub fn id(&self) -> KindId {
                match self {
                    $(Self::$variant(_) => KindId::$variant,)+
                }
            }

            /// What the runner does for it on `backend`.
            pub fn exec(&self, backend: Backend) -> Exec {
                match self {
                    $(Self::$variant(k) => k.exec(backend),)+
                }
            }

        }
    };
}

kinds! {
    Crash => crash::Crash,
    Kill => kill::Kill,
    Stop => stop::Stop,
    Restart => restart::Restart,
    Pause => pause::Pause,
    Latency => latency::Latency,
    Bandwidth => bandwidth::Bandwidth,
    ResetPeer => reset_peer::ResetPeer,
    Timeout => timeout::Timeout,
    Loss => loss::Loss,
    Partition => partition::Partition,
    Isolate => isolate::Isolate,
    Rollout => rollout::Rollout,
    PodDelete => pod_delete::PodDelete,
    Scale => scale::Scale,
    RolloutRestart => rollout_restart::RolloutRestart,
    HttpAbort => http_abort::HttpAbort,
    HttpDelay => http_delay::HttpDelay,
    Dns => dns::Dns,
    CpuStress => cpu_stress::CpuStress,
    MemoryStress => memory_stress::MemoryStress,
    DiskFill => disk_fill::DiskFill,
}

impl KindId {
    /// The kind as scenario files spell it.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// Whether it runs on `backend`.
    pub fn runs_on(self, backend: Backend) -> bool {
        match backend {
            Backend::Compose => self.info().compose,
            Backend::Kube => self.info().kube,
        }
    }
}

impl FaultKind {
    /// The kind as scenario files spell it (`crash`, `latency`, ...).
    pub fn name(&self) -> &'static str {
        self.id().name()
    }

    /// This kind's row.
    pub fn info(&self) -> &'static KindInfo {
        self.id().info()
    }

    /// Services whose network paths it intercepts or rewires on compose (wired at bring-up):
    /// its target and peers; empty for faults that are not network faults.
    pub fn wired(&self, target: &str) -> Vec<String> {
        self.exec(Backend::Compose).wired(target)
    }

    /// Whether, on Kubernetes, it runs in the harness's own process inside the target pods
    /// ([`Exec::in_harness`]): never through the node agent.
    pub fn in_harness(&self) -> bool {
        self.exec(Backend::Kube).in_harness()
    }

    /// Whether it goes through chaosgate's fault proxy (toxics on a link), on either backend.
    pub fn proxied(&self) -> bool {
        self.exec(Backend::Compose).is_proxy() || self.exec(Backend::Kube).is_proxy()
    }
}

/// The names of the kinds `backend` runs, `, `-separated, in table order (for help texts).
pub fn names_on(backend: Backend) -> String {
    ALL.iter()
        .filter(|k| k.runs_on(backend))
        .map(|k| k.name())
        .collect::<Vec<_>>()
        .join(", ")
}

impl std::str::FromStr for KindId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ALL.iter()
            .copied()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown action `{s}`, expected one of {}", NAMES.join(", ")))
    }
}

/// Parsed as serde's derive parses a unit enum (an enum whose variants are the table's
/// names), so that an unknown name is reported at the name itself, with the list.
impl<'de> serde::Deserialize<'de> for KindId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{EnumAccess, Error, VariantAccess, Visitor};
        struct Tag(KindId);
        impl<'de> serde::Deserialize<'de> for Tag {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Name;
                impl Visitor<'_> for Name {
                    type Value = Tag;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str("a fault action")
                    }
                    fn visit_str<E: Error>(self, name: &str) -> Result<Tag, E> {
                        ALL.iter()
                            .copied()
                            .find(|k| k.name() == name)
                            .map(Tag)
                            .ok_or_else(|| E::unknown_variant(name, NAMES))
                    }
                }
                d.deserialize_identifier(Name)
            }
        }
        struct Kinds;
        impl<'de> Visitor<'de> for Kinds {
            type Value = KindId;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a fault action")
            }
            fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<KindId, A::Error> {
                let (Tag(id), variant) = data.variant::<Tag>()?;
                variant.unit_variant()?;
                Ok(id)
            }
        }
        d.deserialize_enum("Action", NAMES, Kinds)
    }
}

impl schemars::JsonSchema for KindId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Action".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let one_of: Vec<serde_json::Value> = ALL
            .iter()
            .map(|k| serde_json::json!({ "const": k.name(), "description": k.info().help }))
            .collect();
        schemars::json_schema!({ "type": "string", "oneOf": one_of })
    }
}

/// The fields of a proxy fault's link.
const PROXY: &[&str] = &["to", "port", "direction", "toxicity"];

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind has one row, its name parses back to it, and the schema lists exactly these.
    #[test]
    fn the_table_is_the_parser_and_the_schema() {
        for &k in ALL {
            let parsed: KindId = serde_saphyr::from_str(k.name()).unwrap();
            assert_eq!(parsed, k);
            assert_eq!(ALL.iter().filter(|j| j.name() == k.name()).count(), 1);
        }
        let schema = serde_json::to_string(&schemars::schema_for!(KindId)).unwrap();
        for name in NAMES {
            assert!(schema.contains(&format!("\"{name}\"")), "{name}");
        }
        let err = serde_saphyr::from_str::<KindId>("explode")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown variant `explode`"), "{err}");
    }

    #[test]
    fn each_backend_lists_its_kinds() {
        assert_eq!(
            names_on(Backend::Kube),
            "crash, latency, bandwidth, reset_peer, timeout, loss, partition, rollout, pod-delete, scale, rollout-restart, http-abort, http-delay, dns, cpu-stress, memory-stress, disk-fill"
        );
        assert!(
            names_on(Backend::Compose).starts_with("crash, kill, stop, restart, pause, latency")
        );
        assert!(!names_on(Backend::Compose).contains(PodDelete::INFO.name));
    }

    /// Every kind runs on some backend and has a help line for the schema and help texts.
    #[test]
    fn every_kind_runs_somewhere_and_says_what_it_does() {
        for &k in ALL {
            let i = k.info();
            assert!(i.compose || i.kube, "{} runs nowhere", i.name);
            assert!(!i.help.is_empty() && !i.help.ends_with('.'), "{}", i.name);
        }
    }
}
