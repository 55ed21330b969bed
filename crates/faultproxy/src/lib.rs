#![warn(missing_docs)]
//! Transparent L4 (TCP) fault proxy with runtime-configurable toxics, and the iptables/tc
//! rules that steer a container's traffic through it or drop it (`netns_rules`).
//!
//! A proxy forwards each accepted connection to a fixed address or, in transparent mode, to
//! the destination an iptables REDIRECT hid (SO_ORIGINAL_DST), applying the installed toxics
//! per stream. Toxics change at run time without dropping connections; every random choice
//! comes from the run's seed; counters prove what the toxics did.
//!
//! Per chunk, whatever order toxics were added in: a `timeout` swallows it; `limit_data`
//! truncates it (and closes after); `latency` holds it until arrival + delay (pipelined);
//! `slicer` cuts it; `bandwidth` paces the writes. `reset_peer` and the closing deadline of
//! `timeout` act on the whole connection at `max(connection start, toxic added) + after`.
//! Each toxic is one file under [`toxics`], implementing one hook per stage; the pump
//! (`pump.rs`) and the connection's supervisor (`conn.rs`) ask every toxic that applies.
//! Toxicity is drawn once per (connection, toxic) from the seed, the connection's accept
//! number and the toxic's install number, so the same run replays the same choices.
//!
//! [`Interception`] bundles the usual fault: a proxy inside a container's network namespace
//! plus the REDIRECT rule that feeds it.

mod conn;
mod conn_state;
mod counters;
mod draw;
mod error;
mod intercept;
mod netns;
pub mod netns_rules;
mod proxy;
mod pump;
mod registry;
mod socket_io;
mod toxic;
pub mod toxics;
mod upstream;

pub use counters::{ProxyCounters, RequestCounters, ToxicCounters};
pub use error::ProxyError;
pub use intercept::{
    InterceptDirection, InterceptError, InterceptSpec, Interception, InterceptionReport,
};
pub use netns::{
    NetnsThread, enter_netns, netns_path_of, spawn_in_netns, spawn_in_netns_path,
    spawn_thread_in_netns,
};
pub use proxy::{ProxyConfig, ProxyHandle, spawn};
pub use toxic::{Direction, Toxic};
pub use toxics::{HeaderMatch, HttpMatch, PathGlob, PathMatch, ToxicKind};
pub use upstream::Upstream;

#[cfg(test)]
mod tests {
    /// The runner keeps handles in shared state and moves them across tasks.
    #[test]
    fn handles_are_send_and_sync() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<crate::ProxyHandle>();
        send_sync::<crate::Interception>();
        send_sync::<crate::netns_rules::AppliedRules>();
        send_sync::<crate::ProxyCounters>();
    }
}
