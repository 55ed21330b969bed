//! Disk fill: one file of the asked size in a directory inside the target, written through the
//! container's root as the host sees it (`/proc/PID/root/DIR`, so no tool in the image), and
//! measured with `statvfs` before and after (the proof). Removed at revert.

use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// How full the fault makes the file system.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FillTo {
    /// Write this many bytes.
    Bytes(u64),
    /// Write until this share (0.0 – 1.0) of the file system's size is in use.
    Share(f64),
}

/// A file system's size and use, in bytes (`statvfs`, as root sees it: reserved blocks count
/// as free, since the harness writes as root).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Its size.
    pub total: u64,
    /// In use.
    pub used: u64,
}

impl Usage {
    /// Free bytes.
    pub fn free(&self) -> u64 {
        self.total.saturating_sub(self.used)
    }

    /// The share in use, 0.0 – 1.0.
    pub fn share(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.used as f64 / self.total as f64
        }
    }
}

/// The use of the file system `path` is on.
pub fn usage(path: &Path) -> io::Result<Usage> {
    let s = nix::sys::statvfs::statvfs(path).map_err(io::Error::from)?;
    let unit = s.fragment_size().max(1);
    let total = s.blocks() * unit;
    Ok(Usage {
        total,
        used: total.saturating_sub(s.blocks_free() * unit),
    })
}

/// How many bytes `fill` asks for on a file system in use as `now`. Errors, in words: more
/// than is free, or a share already reached.
pub fn to_write(fill: FillTo, now: Usage) -> Result<u64, String> {
    match fill {
        FillTo::Bytes(b) if b > now.free() => {
            Err(format!("{} asked, only {} free", mib(b), mib(now.free())))
        }
        FillTo::Bytes(b) => Ok(b),
        FillTo::Share(p) => {
            let goal = (p * now.total as f64).round() as u64;
            if goal <= now.used {
                Err(format!(
                    "already {:.1}% in use, at or above the {:.1}% asked",
                    now.share() * 100.0,
                    p * 100.0
                ))
            } else {
                Ok((goal - now.used).min(now.free()))
            }
        }
    }
}

/// `n` bytes in MiB, for messages and evidence.
pub fn mib(n: u64) -> String {
    format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
}

/// The directory `dir` (absolute, inside the container) as the host reaches it through the
/// container's init process `pid`.
pub fn in_container(pid: u32, dir: &str) -> PathBuf {
    Path::new(&format!("/proc/{pid}/root")).join(dir.trim_start_matches('/'))
}

/// Creates `file` (which must not exist) and gives it `bytes`: allocated at once where the file
/// system can (`fallocate`), else written as zeros; on a file system that runs out first, as
/// much as fits. Returns the bytes it got. Errors: the file cannot be created or written at all.
pub fn fill(file: &Path, bytes: u64) -> io::Result<u64> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(file)?;
    let len = i64::try_from(bytes).unwrap_or(i64::MAX);
    // SAFETY: an owned, open descriptor; fallocate changes only the file's size.
    if unsafe { libc::fallocate(f.as_raw_fd(), 0, 0, len) } == 0 {
        return Ok(bytes);
    }
    // Not supported here, or not all of it fits: zeros, 1 MiB at a time, then in pages once
    // the file system is nearly full.
    f.set_len(0)?;
    let block = vec![0u8; 1 << 20];
    let mut written = 0u64;
    for step in [block.len() as u64, 4096] {
        while written < bytes {
            let n = step.min(bytes - written) as usize;
            match f.write(&block[..n]) {
                Ok(0) => break,
                Ok(k) => written += k as u64,
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => return Err(e),
            }
        }
    }
    f.sync_all().or_else(|e| {
        if e.raw_os_error() == Some(libc::ENOSPC) {
            Ok(())
        } else {
            Err(e)
        }
    })?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    #[test]
    fn a_share_is_what_is_missing_to_reach_it() {
        let now = Usage {
            total: 10 * GIB,
            used: 4 * GIB,
        };
        assert_eq!(to_write(FillTo::Share(0.9), now), Ok(5 * GIB));
        assert_eq!(to_write(FillTo::Share(1.0), now), Ok(6 * GIB));
        let err = to_write(FillTo::Share(0.3), now).unwrap_err();
        assert!(err.contains("already 40.0% in use"), "{err}");
    }

    #[test]
    fn a_size_must_fit() {
        let now = Usage {
            total: 10 * GIB,
            used: 9 * GIB,
        };
        assert_eq!(to_write(FillTo::Bytes(GIB / 2), now), Ok(GIB / 2));
        let err = to_write(FillTo::Bytes(2 * GIB), now).unwrap_err();
        assert_eq!(err, "2048.0 MiB asked, only 1024.0 MiB free");
    }

    #[test]
    fn the_container_s_directory_through_its_root() {
        assert_eq!(
            in_container(42, "/data/x"),
            PathBuf::from("/proc/42/root/data/x")
        );
    }

    /// On this machine's temporary directory: the file gets exactly its size.
    #[test]
    fn a_fill_file_gets_its_bytes() {
        let dir = std::env::temp_dir().join(format!("chaosgate-fill-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("fill");
        let got = fill(&file, 3 << 20).unwrap();
        assert_eq!(got, 3 << 20);
        assert_eq!(std::fs::metadata(&file).unwrap().len(), 3 << 20);
        // It never overwrites: a second fill of the same name fails.
        assert!(fill(&file, 1).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
