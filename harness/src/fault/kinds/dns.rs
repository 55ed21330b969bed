//! `dns`: the target's DNS lookups fail, for every name or for the stack services named in
//! `to:` — refused at once (`mode: refused`) or never answered (`mode: timeout`, the
//! default) — by iptables rules in its network namespace. Connections already open are
//! untouched: what the fault finds is whatever resolves names while it lasts (a new
//! connection per request, a reconnect, a cache that expired). Proven by a canary lookup the
//! harness makes from inside the namespace, which must fail as asked, and by the rules'
//! counters.

use super::{Backend, Exec, Fields, Kind, KindInfo, Reported, Takes};
use crate::fault::network::NetworkAction;

/// `action: dns`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Dns {
    /// Only lookups of these services' names (every lookup when empty).
    pub names: Vec<String>,
    /// Refused at once (`true`) or dropped, so that the lookup times out.
    pub refuse: bool,
}

impl Kind for Dns {
    const INFO: KindInfo = KindInfo {
        name: "dns",
        help: "the target's DNS lookups fail, refused or timing out (`mode`, `to`: only these services' names)",
        fields: &["mode", "to"],
        duration: Takes::Required,
        compose: true,
        kube: false,
        whole_workload: false,
        replaces: false,
    };

    fn read(fields: &mut dyn Fields) -> Result<Self, Reported> {
        let mode = fields.word("mode");
        let names = fields.services("to");
        let refuse = match mode?.as_deref() {
            None | Some("timeout") => false,
            Some("refused") => true,
            Some(other) => {
                return Err(fields.invalid(
                    "mode",
                    format!("`{other}`: a DNS failure is `refused` or `timeout`"),
                ));
            }
        };
        Ok(Self {
            names: names?.unwrap_or_default(),
            refuse,
        })
    }

    fn exec(&self, _: Backend) -> Exec {
        Exec::Network(NetworkAction::Dns {
            names: self.names.clone(),
            refuse: self.refuse,
        })
    }
}
