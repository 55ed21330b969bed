//! The reaper: a watcher process that removes a run's stack when the harness dies without
//! cleaning up (`kill -9`, the OOM killer, a runner that kills the whole process group), in the
//! manner of testcontainers' Ryuk.
//!
//! The harness starts it (this same binary, hidden subcommand [`SUBCOMMAND`]) before the stack
//! comes up, with a pipe on its stdin. The reaper leaves the harness's session and process tree
//! (so neither a terminal's nor a process-group kill, nor a killer walking the harness's
//! children reaches it) and blocks reading the pipe: while the harness lives it does nothing.
//! The kernel closes the pipe however the harness ends. When the harness wrote [`DONE`] first
//! (the stack was removed, or kept with `--keep`) the reaper just exits; otherwise it removes
//! the project's containers, networks and volumes (iptables rules live in the containers'
//! network namespaces and go with them) and says what it did in its log file.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::time::Duration;

use super::StackError;

/// The hidden subcommand that runs the reaper.
pub const SUBCOMMAND: &str = "reaper";

/// What the harness writes when the reaper has nothing to do.
const DONE: &[u8] = b"done\n";

/// How many removal passes the reaper makes at most, [`PASS_GAP`] apart, until one finds
/// nothing: a `compose up` killed with the harness may have left the daemon creating a
/// container after the first pass listed the project.
const MAX_PASSES: usize = 5;
const PASS_GAP: Duration = Duration::from_millis(1000);

/// The harness's end of its connection to a reaper. Dropping it without [`Reaper::disarm`]
/// closes the pipe, and the reaper removes the stack: that is what happens when the harness
/// is killed, and also when it gives up on a stack it could not remove.
#[derive(Debug)]
pub struct Reaper {
    pipe: Option<ChildStdin>,
}

impl Reaper {
    /// Starts a reaper for compose project `project`. It writes `log` only if it has to act.
    ///
    /// Errors: the harness's own executable cannot be found or started.
    pub fn spawn(project: &str, log: &Path) -> Result<Self, StackError> {
        use std::os::unix::process::CommandExt;
        // /proc/self/exe still runs when the file was replaced since (a rebuild mid-run).
        let shown = std::env::current_exe()?;
        let exe = Path::new("/proc/self/exe");
        let mut cmd = Command::new(if exe.exists() { exe } else { &shown });
        cmd.arg0(&shown)
            .arg(SUBCOMMAND)
            .arg("--project")
            .arg(project)
            .arg("--log")
            .arg(log)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: setsid(2) is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid()
                    .map(drop)
                    .map_err(std::io::Error::from)
            });
        }
        let mut child = cmd.spawn()?;
        let pipe = child.stdin.take();
        // The started process forks the real reaper away and exits at once; collect it so it
        // does not stay a zombie for the rest of a long batch.
        std::thread::spawn(move || child.wait());
        Ok(Self { pipe })
    }

    /// Tells the reaper the stack needs nothing from it (removed, or deliberately kept); it
    /// exits. Writing a few bytes to an empty pipe never blocks.
    pub fn disarm(mut self) {
        if let Some(mut pipe) = self.pipe.take() {
            let _ = pipe.write_all(DONE);
        }
    }
}

/// The reaper process: detaches, waits for the harness to go, and removes `project` unless the
/// harness said it was done. Returns the process exit code. Must be called before any thread
/// is started (it forks).
pub fn watch(project: &str, log: &Path) -> i32 {
    // Leave the harness's process tree: the started process exits, its child is re-parented.
    // SAFETY: no other thread exists yet (called first thing by the CLI, before any runtime).
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Parent { .. }) => return 0,
        Ok(nix::unistd::ForkResult::Child) => {
            let _ = nix::unistd::setsid();
        }
        // Still detached from the harness's session; only a tree walk would find it.
        Err(_) => {}
    }
    ignore_stray_signals();
    let mut said = Vec::new();
    // Blocks until every writer is gone: the harness's end is its only one (close-on-exec keeps
    // it out of everything else the harness starts).
    let _ = std::io::stdin().lock().read_to_end(&mut said);
    if said == DONE {
        return 0;
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            log_line(log, &format!("cannot start: {e}"));
            return 1;
        }
    };
    rt.block_on(reap(project, log))
}

/// Without a terminal (it left the session) a SIGINT or SIGHUP can only be stray; it must not
/// stop the one process that cleans up after a killed harness. SIGTERM still ends it.
fn ignore_stray_signals() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    for s in [Signal::SIGINT, Signal::SIGHUP, Signal::SIGQUIT] {
        // SAFETY: setting SIG_IGN installs no handler code.
        let _ = unsafe { signal(s, SigHandler::SigIgn) };
    }
}

async fn reap(project: &str, log: &Path) -> i32 {
    log_line(
        log,
        &format!("the harness ended without removing its stack; removing project {project}"),
    );
    let docker = match super::docker::connect().await {
        Ok(d) => d,
        Err(e) => {
            log_line(log, &format!("cannot reach docker: {e}"));
            return 1;
        }
    };
    let mut failed = false;
    for pass in 1..=MAX_PASSES {
        match super::sweep::remove_project(&docker, project).await {
            Ok(r) if r.is_empty() => {
                log_line(log, &format!("pass {pass}: nothing left"));
                return i32::from(failed);
            }
            Ok(r) => {
                failed = false;
                log_line(log, &format!("pass {pass}: removed {r}"));
            }
            Err(e) => {
                failed = true;
                log_line(log, &format!("pass {pass}: {e}"));
            }
        }
        tokio::time::sleep(PASS_GAP).await;
    }
    i32::from(failed)
}

fn log_line(log: &Path, line: &str) {
    let stamp = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
    {
        let _ = writeln!(f, "{stamp} reaper[{}]: {line}", std::process::id());
    }
}

/// Where a run's reaper writes, beside the run's other files.
pub fn log_path(run_dir: &Path) -> PathBuf {
    run_dir.join("reaper.log")
}
