//! Blob files: where objects larger than the inline limit keep their bytes,
//! one file per object generation, under `blobs/XX/` (XX = low byte of the
//! id, so no directory grows huge).
//!
//! A blob is written once: a transaction writes a new blob (or appends past
//! the committed end of the object's current one), fdatasyncs it, and only
//! then commits the RocksDB batch that points at it. Committed bytes are
//! never overwritten in place, so a crash can only leave unreferenced files
//! or unreferenced bytes past an object's end, both harmless.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::sync_dir;
use crate::store::error::StoreError;
use crate::store::Result;

pub(crate) struct BlobDir {
    root: PathBuf,
    next_id: AtomicU64,
}

impl BlobDir {
    pub fn create(root: &Path) -> Result<()> {
        for i in 0..=255u8 {
            let d = root.join(format!("{i:02x}"));
            std::fs::create_dir_all(&d).map_err(|e| StoreError::io(d.display(), e))?;
        }
        sync_dir(root)
    }

    pub fn open(root: &Path) -> Result<BlobDir> {
        let dir = BlobDir {
            root: root.to_path_buf(),
            next_id: AtomicU64::new(1),
        };
        let max = dir.list()?.into_iter().max().unwrap_or(0);
        dir.next_id.store(max + 1, Ordering::Relaxed);
        Ok(dir)
    }

    fn dir_of(&self, id: u64) -> PathBuf {
        self.root.join(format!("{:02x}", id & 0xff))
    }

    pub fn path(&self, id: u64) -> PathBuf {
        self.dir_of(id).join(format!("{id:016x}"))
    }

    /// Every blob file present, by id.
    pub fn list(&self) -> Result<Vec<u64>> {
        let mut ids = Vec::new();
        for i in 0..=255u8 {
            let d = self.root.join(format!("{i:02x}"));
            let entries = std::fs::read_dir(&d).map_err(|e| StoreError::io(d.display(), e))?;
            for e in entries {
                let e = e.map_err(|e| StoreError::io(d.display(), e))?;
                if let Some(id) = e
                    .file_name()
                    .to_str()
                    .and_then(|n| u64::from_str_radix(n, 16).ok())
                {
                    ids.push(id);
                }
            }
        }
        Ok(ids)
    }

    /// A new, empty blob file with a fresh id.
    pub fn create_blob(&self) -> Result<(u64, File)> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let p = self.path(id);
        let f = OpenOptions::new()
            .write(true)
            .read(true)
            .create_new(true)
            .open(&p)
            .map_err(|e| StoreError::io(p.display(), e))?;
        Ok((id, f))
    }

    pub fn open_write(&self, id: u64) -> Result<File> {
        let p = self.path(id);
        OpenOptions::new()
            .write(true)
            .read(true)
            .open(&p)
            .map_err(|e| StoreError::io(p.display(), e))
    }

    /// Opens for reading; `Ok(None)` if the file is gone (replaced meanwhile).
    pub fn open_read(&self, id: u64) -> Result<Option<File>> {
        let p = self.path(id);
        match File::open(&p) {
            Ok(f) => Ok(Some(f)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(p.display(), e)),
        }
    }

    pub fn write_at(&self, id: u64, f: &File, data: &[u8], offset: u64) -> Result<()> {
        f.write_all_at(data, offset)
            .map_err(|e| StoreError::io(self.path(id).display(), e))
    }

    /// Makes a blob's data, and for a new blob its directory entry, durable.
    pub fn sync(&self, id: u64, f: &File, new: bool) -> Result<()> {
        f.sync_data()
            .map_err(|e| StoreError::io(self.path(id).display(), e))?;
        if new {
            sync_dir(&self.dir_of(id))?;
        }
        Ok(())
    }

    /// Deletes a blob file; a failure only leaks space until the next open.
    pub fn remove(&self, id: u64) {
        let _ = std::fs::remove_file(self.path(id));
    }

    pub fn len(&self, id: u64) -> Result<Option<u64>> {
        match std::fs::metadata(self.path(id)) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(self.path(id).display(), e)),
        }
    }
}
