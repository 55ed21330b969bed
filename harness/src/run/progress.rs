//! The live progress line: phase, elapsed, requests/errors and the current fault; redrawn in
//! place on a terminal, plain periodic lines in CI, nothing with `--quiet`.

use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::timeline::RunClock;

/// How the run's progress is shown on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A line redrawn in place every 500 ms (stderr is a terminal, not CI).
    Terminal,
    /// A plain line every 5 s (CI logs, pipes).
    Plain,
    /// Nothing but errors (`--quiet`).
    Quiet,
}

impl Progress {
    /// A terminal on stderr gets the redrawn line; anything else (CI logs) plain lines.
    pub fn detect(quiet: bool) -> Self {
        use std::io::IsTerminal;
        if quiet {
            Self::Quiet
        } else if std::io::stderr().is_terminal() && std::env::var_os("CI").is_none() {
            Self::Terminal
        } else {
            Self::Plain
        }
    }

    /// Prints `chaosgate: <msg>` on stderr, unless quiet.
    pub fn line(&self, msg: &str) {
        if *self != Self::Quiet {
            eprintln!("chaosgate: {msg}");
        }
    }

    /// Starts the task that draws `state` every 500 ms (terminal) or 5 s (plain) until `stop`;
    /// `total` is the planned run length, for the elapsed/total figure. `None` when quiet.
    pub fn spawn(
        &self,
        state: std::sync::Arc<ProgressState>,
        clock: RunClock,
        total: Duration,
        stop: CancellationToken,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let mode = *self;
        let every = match mode {
            Self::Quiet => return None,
            Self::Terminal => Duration::from_millis(500),
            Self::Plain => Duration::from_secs(5),
        };
        Some(tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            ticker.tick().await;
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = ticker.tick() => {}
                }
                let line = state.render(clock.elapsed(), total);
                if mode == Self::Terminal {
                    eprint!("\r\x1b[2K{line}");
                    let _ = std::io::stderr().flush();
                } else {
                    eprintln!("{line}");
                }
            }
            if mode == Self::Terminal {
                eprintln!();
            }
        }))
    }
}

/// Counters the run's tasks update and the progress line reads.
#[derive(Debug, Default)]
pub struct ProgressState {
    pub requests: AtomicU64,
    pub errors: AtomicU64,
    fault: Mutex<Option<String>>,
}

impl ProgressState {
    pub fn set_fault(&self, fault: Option<String>) {
        if let Ok(mut f) = self.fault.lock() {
            *f = fault;
        }
    }

    fn render(&self, elapsed: Duration, total: Duration) -> String {
        let fault = self.fault.lock().ok().and_then(|f| f.clone());
        format!(
            "[{}] {:>5.1}s/{:.0}s  requests {}  errors {}",
            fault
                .map(|f| format!("fault {f}"))
                .unwrap_or_else(|| "steady".into()),
            elapsed.as_secs_f64(),
            total.as_secs_f64(),
            self.requests.load(Ordering::Relaxed),
            self.errors.load(Ordering::Relaxed),
        )
    }
}
