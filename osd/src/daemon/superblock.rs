//! An OSD's data directory and its superblock: which cluster and which
//! OSD this disk belongs to.
//!
//! ```text
//! DIR/superblock  fsid, OSD id, uuid (versioned encoding)
//! DIR/keyring     osd.N's certificate and key
//! DIR/store/      the object store
//! ```

use std::path::{Path, PathBuf};

use rkyv::{Archive, Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct Superblock {
    pub fsid: String,
    pub osd_id: u32,
    pub uuid: String,
}

pub struct OsdDir {
    pub dir: PathBuf,
}

impl OsdDir {
    pub fn new(dir: &Path) -> OsdDir {
        OsdDir {
            dir: dir.to_path_buf(),
        }
    }

    pub fn superblock_path(&self) -> PathBuf {
        self.dir.join("superblock")
    }

    pub fn keyring_path(&self) -> PathBuf {
        self.dir.join("keyring")
    }

    pub fn store_path(&self) -> PathBuf {
        self.dir.join("store")
    }

    pub fn read_superblock(&self) -> Result<Superblock, String> {
        let p = self.superblock_path();
        let bytes = std::fs::read(&p).map_err(|e| {
            format!(
                "{}: {e} (is this an OSD data directory? create one with strata-osd --mkfs)",
                p.display()
            )
        })?;
        cluster::codec::decode("OSD superblock", &bytes)
            .map_err(|e| format!("{}: {e}", p.display()))
    }

    pub fn write_superblock(&self, sb: &Superblock) -> Result<(), String> {
        use std::io::Write;
        let p = self.superblock_path();
        let tmp = self.dir.join("superblock.tmp");
        let mut f = std::fs::File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
        f.write_all(&cluster::codec::encode(sb))
            .and_then(|_| f.sync_all())
            .map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &p).map_err(|e| format!("{}: {e}", p.display()))?;
        std::fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| format!("{}: {e}", self.dir.display()))
    }
}
