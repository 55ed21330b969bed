//! A port of a namespace's traffic steered through a fault proxy: the proxy inside the
//! namespace and the REDIRECT rule that feeds it, started and stopped as one fault.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use serde::Serialize;

use crate::counters::ProxyCounters;
use crate::error::ProxyError;
use crate::netns::spawn_in_netns;
use crate::netns_rules::{AppliedRules, CommandRunner, Marker, RuleCounters, RuleError, RuleSet};
use crate::proxy::{ProxyConfig, ProxyHandle};
use crate::upstream::Upstream;

/// Why an interception could not start or report. In a chaosgate run the fault is then
/// recorded with this error and not proven applied (verdict inconclusive, exit 4).
#[derive(Debug, thiserror::Error)]
pub enum InterceptError {
    /// The proxy could not start in the namespace, or its thread failed.
    #[error("fault proxy: {0}")]
    Proxy(#[from] ProxyError),
    /// The REDIRECT rule could not be applied, verified or read.
    #[error("redirect rule: {0}")]
    Rules(#[from] RuleError),
}

/// Which connections of the namespace go through the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InterceptDirection {
    /// Connections the namespace makes to `port` (a client's view of a dependency).
    Egress {
        /// Only connections to this IPv4 address; `None` = to any address on `port`.
        dest: Option<Ipv4Addr>,
    },
    /// Connections the namespace accepts on `port` (every client of a server).
    Ingress,
}

/// What to intercept, in which namespace, and how the run is identified.
#[derive(Debug, Clone)]
pub struct InterceptSpec {
    /// A process in the namespace (a container's `State.Pid`).
    pub pid: u32,
    /// TCP port intercepted: the destination port (egress) or the local port (ingress).
    pub port: u16,
    /// Outgoing or incoming connections.
    pub direction: InterceptDirection,
    /// SO_MARK of the proxy's own connections, exempt from the redirect.
    pub mark: u32,
    /// The run's seed, for the proxy's random draws.
    pub seed: u64,
    /// Names the run and fault in the rule's comment, so a sweep finds leftovers.
    pub marker: Marker,
}

/// A running interception; install toxics through `proxy()`.
#[derive(Debug)]
pub struct Interception {
    proxy: ProxyHandle,
    rules: AppliedRules,
}

/// The evidence an interception leaves: what the proxy and the redirect rule counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InterceptionReport {
    /// The proxy's connection, byte and toxic counters.
    pub proxy: ProxyCounters,
    /// Packets and bytes the REDIRECT rule matched (its iptables counters).
    pub rules: RuleCounters,
}

impl Interception {
    /// Starts the proxy in the namespace, then redirects the port to it (and checks the rule
    /// is in force). If the rule cannot be applied, the proxy is stopped again.
    pub fn start(
        spec: InterceptSpec,
        runner: Arc<dyn CommandRunner>,
    ) -> Result<Self, InterceptError> {
        let listen: SocketAddr = match spec.direction {
            // REDIRECT from OUTPUT rewrites the destination to 127.0.0.1.
            InterceptDirection::Egress { .. } => SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            // REDIRECT from PREROUTING rewrites it to the incoming interface's address.
            InterceptDirection::Ingress => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
        };
        let proxy = spawn_in_netns(
            spec.pid,
            ProxyConfig {
                listen,
                upstream: Upstream::OriginalDst { mark: spec.mark },
                seed: spec.seed,
            },
        )?;
        let proxy_port = proxy.local_addr().port();
        let rules = RuleSet::new(spec.marker);
        let rules = match spec.direction {
            InterceptDirection::Egress { dest } => {
                rules.redirect_egress(spec.port, dest, spec.mark, proxy_port)
            }
            InterceptDirection::Ingress => rules.redirect_ingress(spec.port, proxy_port),
        };
        // On error the proxy handle drops here, which stops the proxy.
        let rules = rules.apply(runner, spec.pid)?;
        Ok(Interception { proxy, rules })
    }

    /// The proxy's handle: install or remove toxics, read counters.
    pub fn proxy(&self) -> &ProxyHandle {
        &self.proxy
    }

    /// The REDIRECT rule as applied in the namespace.
    pub fn rules(&self) -> &AppliedRules {
        &self.rules
    }

    /// Counters of the proxy and the redirect rule so far.
    pub fn report(&self) -> Result<InterceptionReport, InterceptError> {
        Ok(InterceptionReport {
            proxy: self.proxy.counters(),
            rules: self.rules.counters()?,
        })
    }

    /// Removes the redirect first (new connections go direct again), then stops the proxy,
    /// which closes the connections it still carries. Returns the final counters.
    pub async fn stop(self) -> Result<InterceptionReport, InterceptError> {
        let rules = self.rules.counters();
        let removed = self.rules.remove();
        let proxy = self.proxy.shutdown().await?;
        removed?;
        Ok(InterceptionReport {
            proxy,
            rules: rules?,
        })
    }
}
