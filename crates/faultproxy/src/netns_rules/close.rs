//! Closing a namespace's established TCP connections on one path (`ss -K`), once, when an
//! interception is wired: NAT only steers new connections, so connections opened before the
//! REDIRECT would bypass the proxy for their whole life.

use std::net::Ipv4Addr;
use std::sync::Arc;

use super::command::{CommandRunner, in_netns, run_checked};
use super::error::RuleError;

/// Which established connections of a namespace to close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionsOn {
    /// Connections the namespace opened to `dest:port`, except those marked `spare` (the
    /// proxy's own).
    Egress {
        /// Peer IPv4 address of the connections.
        dest: Ipv4Addr,
        /// Peer TCP port of the connections.
        port: u16,
        /// SO_MARK of the connections to keep open (the proxy's upstream ones).
        spare: u32,
    },
    /// Connections the namespace accepted on `port` from another host (loopback ones never
    /// cross PREROUTING, so an ingress REDIRECT would not steer them anyway).
    Ingress {
        /// Local TCP port the connections were accepted on.
        port: u16,
    },
}

impl ConnectionsOn {
    /// The `ss` filter words selecting these connections.
    fn filter(self) -> Vec<String> {
        let mut words: Vec<String> = ["-K", "-H", "-t", "-n", "state", "established"]
            .map(str::to_owned)
            .to_vec();
        match self {
            ConnectionsOn::Egress { dest, port, spare } => {
                words.extend(["dst".to_owned(), dest.to_string()]);
                words.extend(["dport".to_owned(), "=".to_owned(), format!(":{port}")]);
                words.extend(["and", "not", "fwmark", "="].map(str::to_owned));
                words.push(format!("{spare:#x}/0xffffffff"));
            }
            ConnectionsOn::Ingress { port } => {
                words.extend(["sport".to_owned(), "=".to_owned(), format!(":{port}")]);
                words.extend(["and", "not", "dst", "127.0.0.0/8"].map(str::to_owned));
            }
        }
        words
    }
}

/// Closes, in the namespace of `pid`, the established connections `on` selects: the local
/// socket is aborted (its owner sees ECONNABORTED at once) and the peer gets a RST. Needs a
/// kernel with `CONFIG_INET_DIAG_DESTROY`. Returns how many connections were closed.
pub fn close_established(
    runner: &Arc<dyn CommandRunner>,
    pid: u32,
    on: ConnectionsOn,
) -> Result<usize, RuleError> {
    let (program, args) = in_netns(Some(pid), "ss", &on.filter());
    let output = run_checked(runner.as_ref(), &program, &args)?;
    Ok(output
        .stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::netns_rules::CommandOutput;

    #[derive(Debug, Default)]
    struct Recorder {
        seen: Mutex<Vec<String>>,
    }

    impl CommandRunner for Recorder {
        fn run(&self, program: &str, args: &[String]) -> Result<CommandOutput, RuleError> {
            self.seen
                .lock()
                .expect("lock")
                .push(format!("{program} {}", args.join(" ")));
            Ok(CommandOutput {
                success: true,
                code: Some(0),
                stdout: "ESTAB 0 0 10.0.0.3:40000 10.0.0.2:5432\n\
                         ESTAB 0 0 10.0.0.3:40002 10.0.0.2:5432\n"
                    .to_owned(),
                stderr: String::new(),
            })
        }
    }

    #[test]
    fn closes_the_named_path_only_and_counts_what_it_closed() {
        let recorder = Arc::new(Recorder::default());
        let runner: Arc<dyn CommandRunner> = recorder.clone();
        let dest = Ipv4Addr::new(10, 0, 0, 2);
        let closed = close_established(
            &runner,
            7,
            ConnectionsOn::Egress {
                dest,
                port: 5432,
                spare: 0x6367,
            },
        )
        .expect("runs");
        assert_eq!(closed, 2);
        let closed =
            close_established(&runner, 7, ConnectionsOn::Ingress { port: 8080 }).expect("runs");
        assert_eq!(closed, 2);
        assert_eq!(
            *recorder.seen.lock().expect("lock"),
            [
                "nsenter -t 7 -n ss -K -H -t -n state established dst 10.0.0.2 dport = :5432 \
                 and not fwmark = 0x6367/0xffffffff",
                "nsenter -t 7 -n ss -K -H -t -n state established sport = :8080 and not dst 127.0.0.0/8",
            ]
        );
    }
}
