//! A container's cgroups, found from its init process: where a helper is moved so that its
//! work is charged to the container, and the container's own usage counters, which prove it.
//!
//! Both layouts are read: cgroup v1 (one hierarchy per controller, `id:cpu,cpuacct:/docker/ID`)
//! and v2 (`0::/system.slice/docker-ID.scope`), under any mount point (`/proc/self/mountinfo`).

use std::io;
use std::path::{Path, PathBuf};

/// The cgroups a process is in, as directories of the mounted hierarchies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroups {
    /// The process's `/proc/PID/cgroup` lines, sorted: another process is in the same cgroups
    /// when its lines are these.
    lines: Vec<String>,
    /// Each hierarchy's directory, with its controllers (`["cpu", "cpuacct"]`; empty on v2).
    dirs: Vec<(Vec<String>, PathBuf)>,
    /// Whether it is the unified (v2) hierarchy.
    unified: bool,
}

impl Cgroups {
    /// The cgroups of host process `pid`. Errors: the process is gone, or a hierarchy it is in
    /// is not mounted here (the harness must see the host's cgroup file system).
    pub fn of(pid: u32) -> io::Result<Self> {
        let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?;
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")?;
        Self::parse(&cgroup, &mountinfo)
            .map_err(|e| io::Error::other(format!("process {pid}: {e}")))
    }

    /// [`Cgroups::of`] from the two files' text.
    pub fn parse(cgroup: &str, mountinfo: &str) -> Result<Self, String> {
        let mounts: Vec<Mount> = mountinfo.lines().filter_map(Mount::parse).collect();
        let mut lines: Vec<String> = cgroup
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect();
        lines.sort();
        let unified = lines.len() == 1 && lines[0].starts_with("0::");
        let mut dirs = Vec::new();
        for line in &lines {
            let mut parts = line.splitn(3, ':');
            let (Some(id), Some(controllers), Some(path)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err(format!("unreadable cgroup line `{line}`"));
            };
            let controllers: Vec<String> = controllers
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect();
            let mount = if id == "0" && controllers.is_empty() {
                mounts.iter().find(|m| m.fstype == "cgroup2")
            } else {
                mounts.iter().find(|m| {
                    m.fstype == "cgroup"
                        && controllers.iter().all(|c| m.options.iter().any(|o| o == c))
                })
            };
            let Some(mount) = mount else {
                // A v1 hierarchy nobody mounted (e.g. `net_cls` on some hosts) limits nothing.
                if unified {
                    return Err("the cgroup2 file system is not mounted".into());
                }
                continue;
            };
            let relative = path
                .strip_prefix(mount.root.as_str())
                .unwrap_or(path)
                .trim_start_matches('/');
            dirs.push((controllers, Path::new(&mount.point).join(relative)));
        }
        if dirs.is_empty() {
            return Err("no mounted cgroup hierarchy".into());
        }
        Ok(Self {
            lines,
            dirs,
            unified,
        })
    }

    /// Moves host process `pid` into every one of these cgroups (it is charged there from its
    /// next allocation and CPU tick on).
    pub fn join(&self, pid: u32) -> io::Result<()> {
        for (_, dir) in &self.dirs {
            let procs = dir.join("cgroup.procs");
            std::fs::write(&procs, pid.to_string())
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", procs.display())))?;
        }
        Ok(())
    }

    /// Whether host process `pid` is in exactly these cgroups (read back from the kernel).
    pub fn holds(&self, pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/cgroup")).is_ok_and(|text| {
            let mut lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            lines.sort_unstable();
            lines == self.lines.iter().map(String::as_str).collect::<Vec<_>>()
        })
    }

    fn dir_of(&self, controller: &str) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|(c, _)| {
                if self.unified {
                    c.is_empty()
                } else {
                    c.iter().any(|c| c == controller)
                }
            })
            .map(|(_, d)| d.as_path())
    }

    /// CPU time used by the cgroup's processes so far, in ns (v1 `cpuacct.usage`, v2
    /// `cpu.stat`'s `usage_usec`).
    pub fn cpu_ns(&self) -> Option<u64> {
        if self.unified {
            let text = std::fs::read_to_string(self.dir_of("")?.join("cpu.stat")).ok()?;
            stat_field(&text, "usage_usec").map(|us| us * 1000)
        } else {
            read_number(&self.dir_of("cpuacct")?.join("cpuacct.usage"))
        }
    }

    /// The CPU the cgroup may use, in cores: its CFS quota over its period (v1
    /// `cpu.cfs_quota_us`/`cpu.cfs_period_us`, v2 `cpu.max`), and the CPUs its cpuset allows
    /// (v1 `cpuset.cpus`, v2 `cpuset.cpus.effective`), whichever is less; `None` when neither
    /// limits it (the machine's CPUs do).
    pub fn cpu_limit_cores(&self) -> Option<f64> {
        let quota = if self.unified {
            std::fs::read_to_string(self.dir_of("")?.join("cpu.max"))
                .ok()
                .and_then(|t| quota_v2(&t))
        } else {
            self.dir_of("cpu").and_then(|d| {
                let quota = std::fs::read_to_string(d.join("cpu.cfs_quota_us")).ok()?;
                let period = std::fs::read_to_string(d.join("cpu.cfs_period_us")).ok()?;
                quota_v1(&quota, &period)
            })
        };
        let set = if self.unified {
            self.dir_of("").map(|d| d.join("cpuset.cpus.effective"))
        } else {
            self.dir_of("cpuset").map(|d| d.join("cpuset.cpus"))
        }
        .and_then(|f| std::fs::read_to_string(f).ok())
        .and_then(|t| cpu_list_len(&t))
        .map(|n| n as f64);
        match (quota, set) {
            (Some(q), Some(s)) => Some(q.min(s)),
            (q, s) => q.or(s),
        }
    }

    /// Memory charged to the cgroup, in bytes (v1 `memory.usage_in_bytes`, v2
    /// `memory.current`).
    pub fn memory_bytes(&self) -> Option<u64> {
        let (dir, file) = if self.unified {
            (self.dir_of("")?, "memory.current")
        } else {
            (self.dir_of("memory")?, "memory.usage_in_bytes")
        };
        read_number(&dir.join(file))
    }

    /// How many times the cgroup's memory use met its limit so far (v1 `memory.failcnt`, v2
    /// `memory.events`'s `max`): each is a charge the kernel had to reclaim or OOM-kill for.
    pub fn memory_limit_hits(&self) -> Option<u64> {
        if self.unified {
            let text = std::fs::read_to_string(self.dir_of("")?.join("memory.events")).ok()?;
            stat_field(&text, "max ")
        } else {
            read_number(&self.dir_of("memory")?.join("memory.failcnt"))
        }
    }

    /// The processes in the cgroup (its memory controller's, the one the OOM killer acts in).
    pub fn processes(&self) -> Vec<u32> {
        let dir = if self.unified {
            self.dir_of("")
        } else {
            self.dir_of("memory")
        };
        dir.and_then(|d| std::fs::read_to_string(d.join("cgroup.procs")).ok())
            .map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// The cgroup's memory limit in bytes; `None` when it has none.
    pub fn memory_limit(&self) -> Option<u64> {
        let (dir, file) = if self.unified {
            (self.dir_of("")?, "memory.max")
        } else {
            (self.dir_of("memory")?, "memory.limit_in_bytes")
        };
        // v1 says "no limit" with a page-rounded i64::MAX, v2 with `max`.
        read_number(&dir.join(file)).filter(|&b| b < 1 << 60)
    }
}

/// A line of `/proc/self/mountinfo`: `ID PARENT MAJ:MIN ROOT POINT OPTS [TAGS] - TYPE SRC SUPER`.
struct Mount {
    root: String,
    point: String,
    fstype: String,
    /// The super options (a v1 hierarchy's controllers are there: `rw,cpu,cpuacct`).
    options: Vec<String>,
}

impl Mount {
    fn parse(line: &str) -> Option<Self> {
        let (left, right) = line.split_once(" - ")?;
        let mut l = left.split(' ');
        let root = l.nth(3)?.to_string();
        let point = l.next()?.to_string();
        let mut r = right.split(' ');
        let fstype = r.next()?.to_string();
        let options = r
            .nth(1)
            .unwrap_or("")
            .split(',')
            .map(str::to_string)
            .collect();
        Some(Self {
            root,
            point,
            fstype,
            options,
        })
    }
}

fn read_number(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Cores from v2 `cpu.max` (`QUOTA PERIOD`, `max PERIOD` for none).
fn quota_v2(text: &str) -> Option<f64> {
    let mut parts = text.split_whitespace();
    let quota: f64 = parts.next()?.parse().ok()?;
    let period: f64 = parts.next()?.parse().ok()?;
    (period > 0.0).then(|| quota / period)
}

/// Cores from v1 `cpu.cfs_quota_us` (`-1` for none) and `cpu.cfs_period_us`.
fn quota_v1(quota: &str, period: &str) -> Option<f64> {
    let quota: i64 = quota.trim().parse().ok()?;
    let period: f64 = period.trim().parse().ok()?;
    (quota > 0 && period > 0.0).then(|| quota as f64 / period)
}

/// How many CPUs a cpuset list names (`0-1,3` is 3); `None` for an empty or unreadable one.
fn cpu_list_len(text: &str) -> Option<usize> {
    let mut n = 0;
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        n += match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.parse().ok()?, b.parse().ok()?);
                b.checked_sub(a)? + 1
            }
            None => {
                part.parse::<usize>().ok()?;
                1
            }
        };
    }
    (n > 0).then_some(n)
}

fn stat_field(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTS_V1: &str = "\
25 30 0:21 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
26 25 0:22 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
27 25 0:23 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
28 25 0:24 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
29 25 0:25 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
";

    #[test]
    fn v1_finds_each_controller_s_directory() {
        let cg = Cgroups::parse(
            "3:memory:/docker/abc\n2:cpuacct:/docker/abc\n1:cpu:/docker/abc\n0::/\n9:name=systemd:/docker/abc\n8:net_cls:/\n",
            MOUNTS_V1,
        )
        .unwrap();
        assert!(!cg.unified);
        assert_eq!(
            cg.dir_of("memory"),
            Some(Path::new("/sys/fs/cgroup/memory/docker/abc"))
        );
        assert_eq!(
            cg.dir_of("cpuacct"),
            Some(Path::new("/sys/fs/cgroup/cpuacct/docker/abc"))
        );
        // Unmounted hierarchies (net_cls, the empty v2 one of a hybrid host) are skipped.
        assert_eq!(cg.dirs.len(), 4);
    }

    #[test]
    fn v2_is_one_directory_under_the_cgroup2_mount() {
        let cg = Cgroups::parse(
            "0::/system.slice/docker-abc.scope\n",
            "35 25 0:30 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n",
        )
        .unwrap();
        assert!(cg.unified);
        assert_eq!(
            cg.dir_of("memory"),
            Some(Path::new("/sys/fs/cgroup/system.slice/docker-abc.scope"))
        );
    }

    #[test]
    fn a_mount_of_a_sub_tree_is_followed() {
        let cg = Cgroups::parse(
            "0::/kubepods/pod1/c1\n",
            "35 25 0:30 /kubepods /mnt/cg rw - cgroup2 cgroup2 rw\n",
        )
        .unwrap();
        assert_eq!(cg.dir_of(""), Some(Path::new("/mnt/cg/pod1/c1")));
    }

    #[test]
    fn nothing_mounted_is_an_error() {
        assert!(Cgroups::parse("0::/x\n", "").is_err());
        assert!(Cgroups::parse("1:cpu:/x\n", "").is_err());
    }

    #[test]
    fn cpu_stat_usage() {
        assert_eq!(
            stat_field("usage_usec 1234\nuser_usec 1000\n", "usage_usec"),
            Some(1234)
        );
        let events = "low 0\nhigh 0\nmax 17\noom 2\noom_kill 2\n";
        assert_eq!(stat_field(events, "max "), Some(17));
    }

    #[test]
    fn cpu_limits_in_both_layouts() {
        assert_eq!(quota_v2("10000 100000\n"), Some(0.1));
        assert_eq!(quota_v2("max 100000\n"), None);
        assert_eq!(quota_v1("10000\n", "100000\n"), Some(0.1));
        assert_eq!(quota_v1("-1\n", "100000\n"), None);
        assert_eq!(cpu_list_len("0-1,3\n"), Some(3));
        assert_eq!(cpu_list_len("0\n"), Some(1));
        assert_eq!(cpu_list_len("\n"), None);
        assert_eq!(cpu_list_len("3-1"), None);
    }
}
