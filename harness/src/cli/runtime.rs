//! One async runtime with the terminating signals installed, shared by `run`, `ab`, `load`
//! and `agent`: the first SIGINT, SIGTERM, SIGHUP or SIGQUIT cancels the command's token, so it can
//! stop cleanly (revert faults, tear the stack down, or summarise what ran).

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio_util::sync::CancellationToken;

use super::error::{CommandError, CommandResult};
use crate::exit_codes::{self, worse};

/// What a command does when a terminating signal stops it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnSignal {
    /// `run`, `ab`: revert the faults and tear the stack down; exit 3 at least (a verdict cut
    /// short is no pass).
    StopRun,
    /// `load`: stop sending and summarise what ran; the exit code is the summary's, as for a
    /// load that ran its course (as oha and wrk do).
    StopLoad,
    /// `agent`: stop serving; exit 0.
    StopAgent,
}

impl OnSignal {
    fn doing(self) -> &'static str {
        match self {
            Self::StopRun => "reverting faults and tearing the stack down",
            Self::StopLoad => "stopping the load and summarising what ran",
            Self::StopAgent => "stopping the agent",
        }
    }
}

/// Runs `f` on a multi-threaded runtime with the terminating signals installed; its token is
/// cancelled on the first one, and `on_signal` says what the command then does (printed with the
/// signal) and whether being interrupted fails it. Exit 3 when the runtime or the signal
/// handlers cannot be set up.
pub fn with_runtime<F, Fut>(on_signal: OnSignal, f: F) -> CommandResult
where
    F: FnOnce(CancellationToken) -> Fut,
    Fut: std::future::Future<Output = CommandResult>,
{
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return Err(CommandError::Infrastructure(format!(
                "starting the async runtime: {e}"
            )));
        }
    };
    rt.block_on(async move {
        let cancel = CancellationToken::new();
        // Installed before anything starts: from here on no terminating signal takes the
        // default action (dying with the stack still up).
        let signals = match TerminationSignals::install() {
            Ok(s) => s,
            Err(e) => {
                return Err(CommandError::Infrastructure(format!(
                    "installing signal handlers: {e}"
                )));
            }
        };
        tokio::spawn(signals.cancel_on_first(cancel.clone(), on_signal.doing()));
        let code = f(cancel.clone()).await?;
        // A signal that came after a verdict (while reports were written or the stack
        // removed) still stopped the command: as a whole it was interrupted.
        Ok(if cancel.is_cancelled() && on_signal == OnSignal::StopRun {
            worse(code, exit_codes::INFRASTRUCTURE)
        } else {
            code
        })
    })
}

/// The signals that end a run from outside: Ctrl-C, a supervisor's or CI runner's stop, a
/// closed terminal or SSH session, Ctrl-\\. Each one makes the run revert its faults, remove
/// its stack and exit 3. SIGKILL cannot be caught: the stack's reaper handles that.
const TERMINATING: [(SignalKind, &str); 4] = [
    (SignalKind::interrupt(), "SIGINT"),
    (SignalKind::terminate(), "SIGTERM"),
    (SignalKind::hangup(), "SIGHUP"),
    (SignalKind::quit(), "SIGQUIT"),
];

pub(crate) struct TerminationSignals(Vec<(Signal, &'static str)>);

impl TerminationSignals {
    pub(crate) fn install() -> std::io::Result<Self> {
        TERMINATING
            .iter()
            .map(|(kind, name)| signal(*kind).map(|s| (s, *name)))
            .collect::<std::io::Result<_>>()
            .map(Self)
    }

    /// The name of the next signal that arrives.
    async fn next(&mut self) -> &'static str {
        let waits = self.0.iter_mut().map(|(s, name)| {
            Box::pin(async move {
                s.recv().await;
                *name
            })
        });
        futures::future::select_all(waits).await.0
    }

    /// Cancels the run on the first signal. Later ones cannot make it stop sooner (half-removed
    /// faults help nobody); they are answered with what is going on.
    pub(crate) async fn cancel_on_first(mut self, cancel: CancellationToken, stopping: &str) {
        let first = self.next().await;
        // Cancel before printing: nothing may delay or prevent the teardown.
        cancel.cancel();
        if first == "SIGHUP" {
            detach_dead_terminal();
        }
        say(&format!("\nchaosgate: {first}: interrupted; {stopping}"));
        loop {
            let again = self.next().await;
            if again == "SIGHUP" {
                detach_dead_terminal();
            }
            say(&format!(
                "chaosgate: {again}: still {stopping} (`kill -9` is safe too: a run's reaper \
                 then removes its stack)"
            ));
        }
    }
}

/// A line on stderr that cannot panic: stderr may be a terminal that is gone.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// After a hangup the terminal is gone, and every later write to it fails (EIO), which
/// `println!`/`eprintln!` turn into a panic (exit 101, not 3). Output that has nowhere to go
/// goes to /dev/null instead; pipes and files (CI logs) are left alone.
fn detach_dead_terminal() {
    use std::io::IsTerminal;
    use std::os::fd::AsRawFd;
    let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") else {
        return;
    };
    let ttys = [
        (libc::STDOUT_FILENO, std::io::stdout().is_terminal()),
        (libc::STDERR_FILENO, std::io::stderr().is_terminal()),
    ];
    for (fd, _) in ttys.into_iter().filter(|(_, tty)| *tty) {
        // SAFETY: dup2 onto a standard descriptor; both descriptors are valid and open.
        unsafe { libc::dup2(null.as_raw_fd(), fd) };
    }
}
