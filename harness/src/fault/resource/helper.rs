//! The stress helpers: processes of chaosgate's own, forked from the harness and moved into a
//! target container's cgroups before they start working, so the container is charged for what
//! they burn or hold, with no tool in its image (Chaos Mesh's StressChaos needs stress-ng in
//! its daemon; Litmus' hogs run inside the target).
//!
//! A helper is forked, not executed: it runs a few system calls and never returns to Rust's
//! runtime (no allocation, no lock: the harness is multi-threaded). It waits on a pipe until
//! the harness has moved it into the cgroups and checked it is there, then works: a CPU worker
//! spins; a memory holder maps, locks and touches its bytes, says where they are, and sleeps.
//! It dies with the fault (SIGKILL at revert, or when the [`Helper`] is dropped) and with the
//! harness however that ends (`PR_SET_PDEATHSIG`: the kernel kills it when the thread that
//! forked it exits, so it is forked from a runtime worker thread, which lives as long as the
//! run).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// What a helper does once started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Spins on one core.
    Burn,
    /// Holds this many bytes of locked, touched anonymous memory.
    Hold(usize),
}

/// A forked helper, waiting or working. Dropping it kills it.
#[derive(Debug)]
pub struct Helper {
    pid: libc::pid_t,
    go: Option<OwnedFd>,
    ready: OwnedFd,
    reaped: bool,
}

/// What a memory holder reported once its bytes were in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    /// The mapping's start address in the helper.
    pub address: u64,
    /// Whether `mlock` succeeded (else the bytes are touched but may be swapped out).
    pub locked: bool,
}

impl Helper {
    /// Forks a helper that waits for [`Helper::start`].
    ///
    /// Errors: no pipe or no fork (the process limit).
    pub fn spawn(work: Work) -> io::Result<Self> {
        let (go_r, go_w) = pipe()?;
        let (ready_r, ready_w) = pipe()?;
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: the child only makes async-signal-safe system calls and never returns (see
        // `child`); the parent goes on as usual.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            // SAFETY: in the forked child, which must not return.
            unsafe { child(parent, go_r.as_raw_fd(), ready_w.as_raw_fd(), work) }
        }
        drop((go_r, ready_w));
        Ok(Self {
            pid,
            go: Some(go_w),
            ready: ready_r,
            reaped: false,
        })
    }

    /// The helper's host PID.
    pub fn pid(&self) -> u32 {
        self.pid as u32
    }

    /// Lets it work.
    pub fn start(&mut self) -> io::Result<()> {
        let go = self
            .go
            .take()
            .ok_or_else(|| io::Error::other("already started"))?;
        // SAFETY: writing one byte from a live buffer to an owned descriptor.
        let n = unsafe { libc::write(go.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
        if n == 1 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Where a memory holder reports, for [`wait_held`] off the runtime.
    pub fn report(&self) -> io::Result<OwnedFd> {
        self.ready.try_clone()
    }

    /// Whether it is still running (not exited, not a zombie).
    pub fn alive(&self) -> bool {
        if self.reaped {
            return false;
        }
        std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).is_ok_and(|s| {
            s.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_some_and(|state| state != "Z" && state != "X")
        })
    }

    /// CPU time it has used, in ns: the scheduler's own sum (`/proc/PID/schedstat`, exact),
    /// else user + system time from `/proc/PID/stat` (in clock ticks, 10 ms apart).
    pub fn cpu_ns(&self) -> Option<u64> {
        if let Some(ns) = std::fs::read_to_string(format!("/proc/{}/schedstat", self.pid))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok())
        {
            return Some(ns);
        }
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        let rest = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // After the command: state is field 3, utime 14 and stime 15 (1-based, proc(5)).
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        Some(ticks * 1_000_000_000 / hz)
    }

    /// The resident bytes of the mapping at `address` (`/proc/PID/smaps`): what a memory
    /// holder really holds.
    pub fn resident_at(&self, address: u64) -> Option<u64> {
        let smaps = std::fs::read_to_string(format!("/proc/{}/smaps", self.pid)).ok()?;
        resident_in(&smaps, address)
    }

    /// Kills it (SIGKILL) and reaps it. Errors: it could not be reaped.
    pub fn stop(&mut self) -> io::Result<()> {
        if self.reaped {
            return Ok(());
        }
        // SAFETY: signalling and reaping our own child.
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
        let mut status = 0;
        // SAFETY: as above; blocks only until the kernel has torn the process down.
        let r = unsafe { libc::waitpid(self.pid, &mut status, 0) };
        self.reaped = true;
        if r == self.pid {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// Waits up to `within` for a memory holder's report on `ready` ([`Helper::report`]); blocking,
/// so called off the runtime. Errors, in words: it failed to map its bytes, it died (e.g.
/// killed by the OOM killer), or it said nothing in time (its allocation is stalled by the
/// cgroup's limit).
pub fn wait_held(ready: &OwnedFd, within: Duration) -> Result<Held, String> {
    let mut pfd = libc::pollfd {
        fd: ready.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = within.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: one pollfd on the stack, an owned descriptor.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    if n == 0 {
        return Err(format!(
            "the memory was not all held after {within:?} (its allocation is stalled: the container's limit leaves no room)"
        ));
    }
    let mut report = [0u8; 9];
    let mut got = 0;
    while got < report.len() {
        // SAFETY: reading into the rest of a stack buffer from an owned descriptor.
        let r = unsafe {
            libc::read(
                ready.as_raw_fd(),
                report[got..].as_mut_ptr().cast(),
                report.len() - got,
            )
        };
        if r <= 0 {
            return Err("the helper died before it held the memory (the OOM killer?)".into());
        }
        got += r as usize;
    }
    match report[0] {
        0 | 1 => Ok(Held {
            address: u64::from_le_bytes(report[1..].try_into().expect("8 bytes")),
            locked: report[0] == 0,
        }),
        _ => Err("the helper could not map the memory".into()),
    }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds is a 2-element array; close-on-exec keeps the ends out of anything the
    // harness executes later.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned here.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The forked child. It closes every descriptor but its two pipe ends first: a copy of one of
/// the harness's sockets held open here would keep a connection the harness closed alive (a
/// fault changes only what it names).
///
/// # Safety
/// Called once, in the child of `fork`, which must not return to Rust's runtime.
unsafe fn child(parent: libc::pid_t, go: i32, ready: i32, work: Work) -> ! {
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() != parent {
            libc::_exit(1);
        }
        close_all_but(go, ready);
        let mut byte = 0u8;
        if libc::read(go, (&raw mut byte).cast(), 1) != 1 {
            // The harness dropped the helper before starting it.
            libc::_exit(0);
        }
        match work {
            Work::Burn => {
                let mut x: u64 = 1;
                loop {
                    x = x
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    std::hint::black_box(x);
                }
            }
            Work::Hold(bytes) => {
                let p = libc::mmap(
                    std::ptr::null_mut(),
                    bytes,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                );
                let mut report = [0u8; 9];
                if p == libc::MAP_FAILED {
                    report[0] = 2;
                    libc::write(ready, report.as_ptr().cast(), report.len());
                    libc::_exit(2);
                }
                // Locked so that swap cannot quietly give the container its memory back.
                let locked = libc::mlock(p, bytes) == 0;
                let page = 4096;
                let mut offset = 0;
                while offset < bytes {
                    std::ptr::write_volatile(p.cast::<u8>().add(offset), 1);
                    offset += page;
                }
                report[0] = u8::from(!locked);
                report[1..].copy_from_slice(&(p as u64).to_le_bytes());
                libc::write(ready, report.as_ptr().cast(), report.len());
                loop {
                    libc::pause();
                }
            }
        }
    }
}

/// Closes every descriptor from 3 up except `a` and `b`.
///
/// # Safety
/// Only in the forked child: it closes descriptors the rest of the process may be using.
unsafe fn close_all_but(a: i32, b: i32) {
    let (lo, hi) = (a.min(b), a.max(b));
    let close_range = |first: i32, last: u32| unsafe {
        if (first as u32) <= last {
            libc::syscall(libc::SYS_close_range, first as u32, last, 0) == 0
        } else {
            true
        }
    };
    let done = close_range(3, (lo - 1).max(0) as u32)
        && close_range(lo + 1, (hi - 1) as u32)
        && close_range(hi + 1, u32::MAX);
    if !done {
        // Before Linux 5.9: one by one, up to the descriptor limit.
        let max = unsafe { libc::sysconf(libc::_SC_OPEN_MAX) }.clamp(1024, 1 << 16) as i32;
        for fd in 3..max {
            if fd != a && fd != b {
                unsafe { libc::close(fd) };
            }
        }
    }
}

/// The `Rss:` of the mapping starting at `address` in an `smaps` text, in bytes.
fn resident_in(smaps: &str, address: u64) -> Option<u64> {
    let start = format!("{address:x}-");
    let mut lines = smaps.lines().skip_while(|l| !l.starts_with(&start));
    lines.next()?;
    // The mapping's fields, up to the next mapping's header (whose first word is a range).
    lines
        .take_while(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.ends_with(':'))
        })
        .find_map(|l| {
            let kb = l.strip_prefix("Rss:")?.trim().strip_suffix("kB")?.trim();
            kb.parse::<u64>().ok().map(|kb| kb * 1024)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapping_s_resident_size() {
        let smaps = "\
7f0000000000-7f0000100000 rw-p 00000000 00:00 0 
Size:               1024 kB
Rss:                1020 kB
7f0000200000-7f0008200000 rw-p 00000000 00:00 0 
Size:             131072 kB
Rss:              131072 kB
Locked:           131072 kB
";
        assert_eq!(resident_in(smaps, 0x7f0000200000), Some(128 << 20));
        assert_eq!(resident_in(smaps, 0x7f0000000000), Some(1020 * 1024));
        assert_eq!(resident_in(smaps, 0x1000), None);
    }

    /// A real helper, in this test's own cgroup: it holds what it was asked to, locked, and is
    /// gone (reaped) once stopped.
    #[test]
    fn a_memory_holder_holds_its_bytes_and_dies_when_stopped() {
        let mut h = Helper::spawn(Work::Hold(8 << 20)).unwrap();
        assert!(h.alive());
        h.start().unwrap();
        let held = wait_held(&h.report().unwrap(), Duration::from_secs(10)).unwrap();
        let rss = h.resident_at(held.address).unwrap();
        assert_eq!(rss, 8 << 20, "resident {rss}");
        h.stop().unwrap();
        assert!(!h.alive());
    }

    #[test]
    fn a_cpu_worker_burns_cpu_until_dropped() {
        let pid;
        {
            let mut h = Helper::spawn(Work::Burn).unwrap();
            pid = h.pid();
            h.start().unwrap();
            std::thread::sleep(Duration::from_millis(300));
            assert!(h.cpu_ns().unwrap() > 0);
        }
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    }

    #[test]
    fn a_helper_never_started_exits_when_dropped() {
        let h = Helper::spawn(Work::Burn).unwrap();
        let pid = h.pid();
        drop(h);
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    }
}
