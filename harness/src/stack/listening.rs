//! What the stack's containers really listen on, checked once the stack is healthy and before
//! any load: most compose files declare only the ports they publish, so `validate` accepts a
//! port no file declares (with a warning), and this check is where a port nothing listens on
//! (a typo, a service configured differently) stops the run, naming the ports that do listen,
//! instead of a run measuring connection errors against a port that was never there.
//!
//! The sockets are read from the container's network namespace through its init process,
//! `/proc/<pid>/net/tcp{,6}` (the harness runs as root on the host, as it does for faults).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bollard::Docker;

use super::{ContainerInfo, StackError};

/// The least time the check waits for a port to be listened on, whatever is left of the
/// ready timeout: a service with no healthcheck counts as ready when its process starts, a
/// moment before it binds its ports.
pub const MIN_WAIT: Duration = Duration::from_secs(5);

/// How often the sockets are read again while some port is missing.
const POLL: Duration = Duration::from_millis(200);

/// A port a scenario connects to: `service` must listen on `port` (TCP).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Wanted {
    /// The compose service.
    pub service: String,
    /// The container port.
    pub port: u16,
    /// Where the scenario uses it (`load.target`, `probe \`db\``), for the message.
    pub used_as: String,
}

/// Docker's embedded DNS server, which listens on a random port of this address inside
/// every container on a user-defined network: not the service's.
const DOCKER_DNS: [u8; 4] = [127, 0, 0, 11];

/// The ports in LISTEN state in one `/proc/net/tcp` or `/proc/net/tcp6` table, leaving out
/// Docker's embedded DNS server.
pub fn listening_ports(table: &str) -> BTreeSet<u16> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st ...; 0A is TCP_LISTEN.
            let (ip, port) = fields.get(1)?.rsplit_once(':')?;
            // An IPv4 address is one 32-bit word in the kernel's byte order.
            let docker_dns = ip.len() == 8
                && u32::from_str_radix(ip, 16).is_ok_and(|w| w.to_ne_bytes() == DOCKER_DNS);
            (*fields.get(3)? == "0A" && !docker_dns).then(|| u16::from_str_radix(port, 16).ok())?
        })
        .collect()
}

/// The TCP ports something listens on in the network namespace of host process `pid`.
pub fn container_ports(pid: u32) -> std::io::Result<BTreeSet<u16>> {
    let mut ports = BTreeSet::new();
    for file in ["tcp", "tcp6"] {
        match std::fs::read_to_string(format!("/proc/{pid}/net/{file}")) {
            Ok(table) => ports.extend(listening_ports(&table)),
            // tcp6 is absent when IPv6 is disabled.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && file == "tcp6" => {}
            Err(e) => return Err(e),
        }
    }
    Ok(ports)
}

/// (container, service, port) → where the scenario uses the port, and the ports that
/// container does listen on.
type Missing = BTreeMap<(String, String, u16), (Vec<String>, BTreeSet<u16>)>;

/// What one look at the containers found: each wanted port some running container of its
/// service does not listen on (with what that container does listen on), and the
/// containers whose sockets could not be read.
#[derive(Debug, Default, PartialEq)]
struct Look {
    /// Each wanted port a container of its service does not listen on.
    missing: Missing,
    /// Notes: containers whose sockets could not be read (not checked, not failed).
    unreadable: Vec<String>,
}

fn look(
    wanted: &[Wanted],
    containers: &[ContainerInfo],
    read: &dyn Fn(u32) -> std::io::Result<BTreeSet<u16>>,
) -> Look {
    let mut out = Look::default();
    let mut ports_of: BTreeMap<&str, Option<BTreeSet<u16>>> = BTreeMap::new();
    for w in wanted {
        for c in containers
            .iter()
            .filter(|c| c.service == w.service && c.running && c.pid != 0)
        {
            let ports = ports_of.entry(&c.id).or_insert_with(|| match read(c.pid) {
                Ok(p) => Some(p),
                Err(e) => {
                    out.unreadable.push(format!(
                        "not checked which ports {} ({}) listens on: reading /proc/{}/net/tcp: {e}",
                        c.name, c.service, c.pid
                    ));
                    None
                }
            });
            if let Some(ports) = ports
                && !ports.contains(&w.port)
            {
                out.missing
                    .entry((c.name.clone(), w.service.clone(), w.port))
                    .or_insert_with(|| (Vec::new(), ports.clone()))
                    .0
                    .push(w.used_as.clone());
            }
        }
    }
    out
}

fn ports_text(ports: &BTreeSet<u16>) -> String {
    if ports.is_empty() {
        return "on no TCP port".into();
    }
    let list: Vec<String> = ports.iter().map(u16::to_string).collect();
    format!("on {}", list.join(", "))
}

fn describe(missing: &Missing) -> String {
    missing
        .iter()
        .map(|((container, service, port), (used_as, ports))| {
            format!(
                "  `{service}` ({container}): nothing listens on port {port} (in {}); it listens {}",
                used_as.join(", "),
                ports_text(ports)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Waits until every running container of each wanted service listens on its port, for at
/// most `bound` (at least [`MIN_WAIT`]). Returns notes for containers whose sockets could not
/// be read (those are not checked: a check that cannot look must not fail the run).
/// Errors: [`StackError::NotListening`] naming each missing port and the ports its container
/// does listen on.
pub async fn verify(
    docker: &Docker,
    project: &str,
    wanted: &[Wanted],
    bound: Duration,
) -> Result<Vec<String>, StackError> {
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let bound = bound.max(MIN_WAIT);
    let started = Instant::now();
    loop {
        let containers = super::docker::project_containers(docker, project).await?;
        let found = look(wanted, &containers, &container_ports);
        if found.missing.is_empty() {
            return Ok(found.unreadable);
        }
        if started.elapsed() >= bound {
            return Err(StackError::NotListening {
                waited: started.elapsed(),
                detail: describe(&found.missing),
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0000000000000000 100 0 0 10 0
   1: 0100007F:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1002 1 0000000000000000 100 0 0 10 0
   2: 0200A8C0:1F90 0300A8C0:D431 01 00000000:00000000 00:00000000 00000000     0        0 1003 1 0000000000000000 20 4 30 10 -1
   3: 0200A8C0:2382 0300A8C0:1F40 06 00000000:00000000 00:00000000 00000000     0        0 0 1 0000000000000000 20 4 30 10 -1
   4: 0B00007F:ACE7 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1004 1 0000000000000000 100 0 0 10 0
";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:2328 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2001 1 0000000000000000 100 0 0 10 0
";

    #[test]
    fn only_listening_sockets_count() {
        // 8080 on any address, 6379 on loopback; an established 8080, a TIME_WAIT 9090 and
        // Docker's DNS on 127.0.0.11 add nothing.
        assert_eq!(listening_ports(TCP), BTreeSet::from([8080, 6379]));
        assert_eq!(listening_ports(TCP6), BTreeSet::from([9000]));
        assert!(listening_ports("header only\n").is_empty());
        assert!(listening_ports("").is_empty());
    }

    fn container(name: &str, service: &str, pid: u32) -> ContainerInfo {
        ContainerInfo {
            id: format!("id-{name}"),
            name: name.into(),
            service: service.into(),
            number: 1,
            running: true,
            paused: false,
            health: None,
            last_health_check: None,
            pid,
            restart_count: 0,
            published: Vec::new(),
            networks: Vec::new(),
            aliases: Vec::new(),
            image: "img:1".into(),
            labels: BTreeMap::new(),
        }
    }

    fn wanted(service: &str, port: u16, used_as: &str) -> Wanted {
        Wanted {
            service: service.into(),
            port,
            used_as: used_as.into(),
        }
    }

    #[test]
    fn a_port_nothing_listens_on_is_named_with_the_ports_that_do() {
        let containers = [
            container("p_a_1", "a", 10),
            container("p_b_1", "b", 20),
            container("p_c_1", "c", 30),
        ];
        let read = |pid: u32| match pid {
            10 => Ok(BTreeSet::from([8000, 9100])),
            20 => Ok(BTreeSet::new()),
            _ => Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied)),
        };
        let all_there = look(&[wanted("a", 8000, "load.target")], &containers, &read);
        assert_eq!(all_there, Look::default());
        let found = look(
            &[
                wanted("a", 8000, "load.target"),
                wanted("a", 8001, "probe `a`"),
                wanted("a", 8001, "load.requests[1]"),
                wanted("b", 80, "probe `b`"),
                wanted("c", 1, "probe `c`"),
            ],
            &containers,
            &read,
        );
        insta::assert_snapshot!(describe(&found.missing), @r"
          `a` (p_a_1): nothing listens on port 8001 (in probe `a`, load.requests[1]); it listens on 8000, 9100
          `b` (p_b_1): nothing listens on port 80 (in probe `b`); it listens on no TCP port
        ");
        assert_eq!(found.unreadable.len(), 1, "{:?}", found.unreadable);
        assert!(
            found.unreadable[0].contains("p_c_1"),
            "{:?}",
            found.unreadable
        );
    }
}
