//! `disk-fill`: one file in `dir` inside the target, of `size` bytes or as large as it takes
//! for `percent` of the file system to be in use, for `duration`; written through the
//! container's root as the host sees it (no tool in the image), removed at revert. Proven by
//! the file system's use (`statvfs`) before and after.
//!
//! The file system is whatever holds `dir`: a tmpfs or volume of the container's, or the
//! container's writable layer, which is the Docker host's disk; filling that fills the host's.

use super::{Backend, Exec, Fields, Kind, KindInfo, Reported, Takes};
use crate::fault::resource::ResourceAction;
use crate::fault::resource::disk::FillTo;

/// `action: disk-fill`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DiskFill {
    /// Absolute, inside the target.
    pub dir: String,
    /// How full.
    pub fill: FillTo,
}

impl Kind for DiskFill {
    const INFO: KindInfo = KindInfo {
        name: "disk-fill",
        help: "a file fills the file system of `dir` inside the target (`size`, or `percent` in use) for `duration`",
        fields: &["dir", "size", "percent"],
        duration: Takes::Required,
        compose: true,
        kube: true,
        whole_workload: false,
        replaces: false,
    };

    fn read(fields: &mut dyn Fields) -> Result<Self, Reported> {
        let dir = fields.word("dir");
        let size = fields.bytes("size");
        let percent = fields.percent("percent");
        let dir = match dir? {
            Some(d) if d.starts_with('/') && !d.split('/').any(|p| p == "..") => d,
            Some(d) => {
                return Err(fields.invalid(
                    "dir",
                    format!("`{d}`: an absolute directory inside the target, without `..`"),
                ));
            }
            None => return Err(fields.missing("dir", Some("e.g. `dir: /data`"))),
        };
        let fill = match (size?, percent?) {
            (Some(b), None) => FillTo::Bytes(b),
            (None, Some(p)) if p > 0.0 => FillTo::Share(p),
            (None, Some(_)) => {
                return Err(fields.invalid("percent", "a fill to 0% fills nothing".into()));
            }
            (Some(_), Some(_)) => {
                return Err(fields.refuse(
                    Some("percent"),
                    "`size` and `percent` both given".into(),
                    "give one: `size: 64MiB` writes that much, `percent: 95%` fills the file system until that share is in use",
                ));
            }
            (None, None) => {
                return Err(fields.missing("size", Some("`size: 64MiB`, or `percent: 95%`")));
            }
        };
        Ok(Self { dir, fill })
    }

    fn exec(&self, _: Backend) -> Exec {
        Exec::Resource(ResourceAction::Disk {
            dir: self.dir.clone(),
            fill: self.fill,
        })
    }
}
