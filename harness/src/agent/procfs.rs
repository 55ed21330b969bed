//! Finding a pod's and a container's processes on the node from `/proc` (the agent runs with
//! `hostPID`): each process's cgroup paths name the pod (`pod<uid>`, or `pod<uid_with_underscores>`
//! under the systemd driver) and the container (its runtime ID) it belongs to, with cgroup v1
//! and v2 alike.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One process as `/proc` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proc {
    /// Its PID.
    pub pid: u32,
    /// Its parent's PID.
    pub ppid: u32,
    /// Its command name (`comm`).
    pub comm: String,
    /// Its state letter (`R`, `S`, `Z`, ...).
    pub state: char,
    /// Every cgroup path it is in (one per hierarchy).
    pub cgroups: Vec<String>,
}

/// Every process under `root` (normally `/proc`); processes that vanish while read are left out.
pub fn processes(root: &Path) -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| read_proc(root, pid))
        .collect()
}

/// The process `pid` under `root`, `None` once it is gone.
pub fn read_proc(root: &Path, pid: u32) -> Option<Proc> {
    let base: PathBuf = root.join(pid.to_string());
    let stat = std::fs::read_to_string(base.join("stat")).ok()?;
    // `pid (comm) state ppid ...`: comm may hold spaces and parentheses, so split at the last `)`.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_string();
    let mut rest = stat.get(close + 1..)?.split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    let cgroups = std::fs::read_to_string(base.join("cgroup"))
        .ok()?
        .lines()
        // `hierarchy-id:controllers:path`
        .filter_map(|l| l.splitn(3, ':').nth(2).map(str::to_string))
        .collect();
    Some(Proc {
        pid,
        ppid,
        comm,
        state,
        cgroups,
    })
}

/// Whether one of the process's cgroup paths has a segment holding `needle`.
fn in_cgroup(p: &Proc, needle: &str) -> bool {
    p.cgroups
        .iter()
        .any(|path| path.split('/').any(|segment| segment.contains(needle)))
}

/// A process of the pod with uid `pod_uid`: its sandbox's `pause` process when there is one
/// (it outlives the pod's containers, and holds the pod's network namespace), else its
/// lowest PID. `None` when no process of this node belongs to the pod.
pub fn pod_sandbox_pid(procs: &[Proc], pod_uid: &str) -> Option<u32> {
    let dashed = format!("pod{pod_uid}");
    let underscored = format!("pod{}", pod_uid.replace('-', "_"));
    let mut in_pod: Vec<&Proc> = procs
        .iter()
        .filter(|p| p.state != 'Z' && (in_cgroup(p, &dashed) || in_cgroup(p, &underscored)))
        .collect();
    in_pod.sort_by_key(|p| p.pid);
    in_pod
        .iter()
        .find(|p| p.comm == "pause")
        .or_else(|| in_pod.first())
        .map(|p| p.pid)
}

/// The main process of the container with runtime ID `container_id` (at least 12 hex digits):
/// the one of its processes whose parent is not in it (the runtime's shim started it). `None`
/// when the container has no live process on this node.
pub fn container_main_pid(procs: &[Proc], container_id: &str) -> Option<u32> {
    if container_id.len() < 12 || !container_id.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let members: BTreeMap<u32, &Proc> = procs
        .iter()
        .filter(|p| p.state != 'Z' && in_cgroup(p, container_id))
        .map(|p| (p.pid, p))
        .collect();
    members
        .values()
        .find(|p| !members.contains_key(&p.ppid))
        .map(|p| p.pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc_(pid: u32, ppid: u32, comm: &str, cgroup: &str) -> Proc {
        Proc {
            pid,
            ppid,
            comm: comm.into(),
            state: 'S',
            cgroups: vec![cgroup.into()],
        }
    }

    const UID: &str = "0b6e7a2c-1111-4a4a-9c9c-123456789abc";
    const APP: &str = "4f1d2c3b4a5968778695a4b3c2d1e0f00112233445566778899aabbccddeeff0";

    fn node() -> Vec<Proc> {
        vec![
            proc_(1, 0, "systemd", "/"),
            proc_(900, 1, "containerd-shim", "/system.slice/docker.service"),
            proc_(
                1200,
                900,
                "pause",
                &format!("/kubepods/besteffort/pod{UID}/aaaaaaaaaaaaaaaa"),
            ),
            proc_(
                1300,
                900,
                "trading",
                &format!("/kubepods/besteffort/pod{UID}/{APP}"),
            ),
            proc_(
                1301,
                1300,
                "worker",
                &format!("/kubepods/besteffort/pod{UID}/{APP}"),
            ),
            proc_(
                2000,
                900,
                "redis-server",
                "/kubepods/besteffort/podother/bbbb",
            ),
        ]
    }

    #[test]
    fn a_pods_sandbox_is_its_pause_process() {
        assert_eq!(pod_sandbox_pid(&node(), UID), Some(1200));
        assert_eq!(pod_sandbox_pid(&node(), "not-a-pod-here"), None);
    }

    #[test]
    fn the_systemd_drivers_slice_names_are_found_too() {
        let slice = format!(
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{}.slice/docker-{APP}.scope",
            UID.replace('-', "_")
        );
        let procs = vec![proc_(77, 1, "trading", &slice)];
        assert_eq!(pod_sandbox_pid(&procs, UID), Some(77));
        assert_eq!(container_main_pid(&procs, APP), Some(77));
    }

    #[test]
    fn a_containers_main_process_is_the_one_its_shim_started() {
        assert_eq!(container_main_pid(&node(), APP), Some(1300));
        // Its child, alone, would be the main one: its parent is gone from the container.
        let mut procs = node();
        procs.retain(|p| p.pid != 1300);
        assert_eq!(container_main_pid(&procs, APP), Some(1301));
    }

    #[test]
    fn a_short_or_non_hex_id_matches_nothing() {
        assert_eq!(container_main_pid(&node(), "4f1d"), None);
        assert_eq!(container_main_pid(&node(), "kubepods/besteffort"), None);
    }

    #[test]
    fn zombies_are_gone() {
        let mut procs = node();
        procs[3].state = 'Z';
        procs.retain(|p| p.pid != 1301);
        assert_eq!(container_main_pid(&procs, APP), None);
    }

    #[test]
    fn this_process_reads_from_proc() {
        let me = read_proc(Path::new("/proc"), std::process::id()).expect("own /proc entry");
        assert_eq!(me.pid, std::process::id());
        assert!(!me.cgroups.is_empty());
        assert!(
            processes(Path::new("/proc"))
                .iter()
                .any(|p| p.pid == me.pid)
        );
    }
}
