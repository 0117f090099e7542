//! This OSD's space, as it reports it to the monitors: its capacity is
//! `osd_capacity_bytes` when set (a share of a filesystem other daemons
//! use too, or a test's small disk), else its filesystem's size; its use
//! is the space its data directory takes (allocated blocks, so sparse
//! and preallocated files count as the disk sees them) or, on a whole
//! filesystem, what that filesystem has in use.

use std::path::{Path, PathBuf};

use cluster::msg::mon::OsdStat;

#[derive(Clone, Debug)]
pub struct Usage {
    pub data: PathBuf,
    /// 0: the filesystem's size.
    pub capacity: u64,
}

impl Usage {
    /// Total and used bytes now (zeros if the filesystem cannot be read).
    pub fn measure(&self) -> (u64, u64) {
        if self.capacity > 0 {
            return (self.capacity, dir_bytes(&self.data));
        }
        match rustix::fs::statvfs(&self.data) {
            Ok(s) => {
                let total = s.f_blocks.saturating_mul(s.f_frsize);
                let free = s.f_bfree.saturating_mul(s.f_frsize);
                (total, total.saturating_sub(free))
            }
            Err(e) => {
                tracing::warn!("statvfs {}: {e}", self.data.display());
                (0, 0)
            }
        }
    }

    pub fn stat(&self, num_pgs: u32) -> OsdStat {
        let (total_bytes, used_bytes) = self.measure();
        OsdStat {
            total_bytes,
            used_bytes,
            num_pgs,
        }
    }
}

/// Bytes allocated to the files under `p`.
fn dir_bytes(p: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.blocks() * 512,
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_capacity_counts_what_the_directory_holds() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("sub/a"), vec![7u8; 1 << 20]).unwrap();
        let u = Usage {
            data: d.path().to_path_buf(),
            capacity: 10 << 20,
        };
        let (total, used) = u.measure();
        assert_eq!(total, 10 << 20);
        assert!((1 << 20..2 << 20).contains(&used), "{used}");
        let whole = Usage {
            data: d.path().to_path_buf(),
            capacity: 0,
        };
        let (total, used) = whole.measure();
        assert!(total > 0 && used <= total);
    }
}
