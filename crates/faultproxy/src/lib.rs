//! Transparent L4 (TCP) fault proxy with runtime-configurable toxics, and the iptables/tc
//! rules that steer a container's traffic through it or drop it (`netns_rules`).
//!
//! A proxy forwards each accepted connection to a fixed address or, in transparent mode, to
//! the destination an iptables REDIRECT hid (SO_ORIGINAL_DST), applying the installed toxics
//! per stream. Toxics change at run time without dropping connections; every random choice
//! comes from the run's seed; counters prove what the toxics did.

mod conn;
mod counters;
mod draw;
mod error;
mod intercept;
mod netns;
pub mod netns_rules;
mod proxy;
mod pump;
mod registry;
mod slicer;
mod socket_io;
mod toxic;
mod upstream;

pub use counters::{ProxyCounters, ToxicCounters};
pub use error::ProxyError;
pub use intercept::{
    InterceptDirection, InterceptError, InterceptSpec, Interception, InterceptionReport,
};
pub use netns::{
    NetnsThread, enter_netns, netns_path_of, spawn_in_netns, spawn_in_netns_path,
    spawn_thread_in_netns,
};
pub use proxy::{ProxyConfig, ProxyHandle, spawn};
pub use toxic::{Direction, Toxic, ToxicKind};
pub use upstream::Upstream;
