//! `dns`: the target's DNS lookups fail, for every name or for the stack services named in
//! `to:` — refused at once (`mode: refused`) or never answered (`mode: timeout`, the
//! default) by iptables rules in its network namespace, or answered NXDOMAIN / SERVFAIL
//! (`mode: nxdomain | servfail`) by a resolver of chaosgate's in the namespace that the
//! matching queries are redirected to. Connections already open are untouched: what the fault
//! finds is whatever resolves names while it lasts (a new connection per request, a reconnect,
//! a cache that expired). Proven by a canary lookup the harness makes from inside the
//! namespace, which must fail as asked; the rules' counters and, for the answering modes, the
//! queries answered with the failure are evidence, and none answered leaves it unproven.

use super::{Backend, Exec, Fields, Kind, KindInfo, Reported, Takes};
use crate::fault::network::NetworkAction;
use crate::fault::network::dns::DnsMode;

/// `action: dns`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Dns {
    /// Only lookups of these services' names (every lookup when empty).
    pub names: Vec<String>,
    /// How they fail.
    pub mode: DnsMode,
}

impl Kind for Dns {
    const INFO: KindInfo = KindInfo {
        name: "dns",
        help: "the target's DNS lookups fail: refused, timing out, NXDOMAIN or SERVFAIL (`mode`; `to`: only these services' names)",
        fields: &["mode", "to"],
        duration: Takes::Required,
        compose: true,
        kube: true,
        whole_workload: false,
        replaces: false,
    };

    fn read(fields: &mut dyn Fields) -> Result<Self, Reported> {
        let mode = fields.word("mode");
        let names = fields.services("to");
        let mode = match mode?.as_deref() {
            None => DnsMode::Timeout,
            Some(word) => match DnsMode::parse(word) {
                Some(m) => m,
                None => {
                    return Err(fields.invalid(
                        "mode",
                        format!(
                            "`{word}`: a DNS failure is one of {}",
                            DnsMode::NAMES.join(", ")
                        ),
                    ));
                }
            },
        };
        Ok(Self {
            names: names?.unwrap_or_default(),
            mode,
        })
    }

    fn exec(&self, _: Backend) -> Exec {
        Exec::Network(NetworkAction::Dns {
            names: self.names.clone(),
            mode: self.mode,
        })
    }
}
