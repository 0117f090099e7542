//! Blob files: where objects larger than the inline limit keep their bytes,
//! one file per object generation, under `blobs/XX/` (XX = low byte of the
//! id, so no directory grows huge).
//!
//! A blob is written once: a transaction writes a new blob (or appends past
//! the committed end of the object's current one), fdatasyncs it, and only
//! then commits the RocksDB batch that points at it. Committed bytes are
//! never overwritten in place, so a crash can only leave unreferenced files
//! or unreferenced bytes past an object's end, both harmless.
//!
//! A new blob's bytes go to the disk with direct I/O (`O_DIRECT`, as
//! BlueStore writes data): copying them into the page cache costs more CPU
//! than the rest of a large write (measured: buffered writes of fresh 4 MiB
//! files at 0.45 GiB/s, direct ones at 2.5 GiB/s), and a copy written for
//! recovery or by a client is seldom read back at once. The bytes pass
//! through one reused aligned buffer. A filesystem without direct I/O
//! (tmpfs) gets buffered writes.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::sync_dir;
use crate::store::error::StoreError;
use crate::store::Result;

pub(crate) struct BlobDir {
    root: PathBuf,
    next_id: AtomicU64,
    /// The aligned staging buffer of direct writes; `None` when the
    /// filesystem refuses direct I/O.
    direct: Option<Mutex<AlignedBuf>>,
}

/// Direct I/O writes whole blocks of this size from buffers aligned to it.
const ALIGN: usize = 4096;
/// Bytes per direct write.
const CHUNK: usize = 1 << 20;

/// A `CHUNK`-byte buffer at an `ALIGN`-aligned address inside a vector.
struct AlignedBuf {
    raw: Vec<u8>,
    start: usize,
}

impl AlignedBuf {
    fn new() -> AlignedBuf {
        let raw = vec![0u8; CHUNK + ALIGN];
        let start = raw.as_ptr().align_offset(ALIGN);
        AlignedBuf { raw, start }
    }

    fn chunk(&mut self) -> &mut [u8] {
        &mut self.raw[self.start..self.start + CHUNK]
    }
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
        let mut dir = BlobDir {
            root: root.to_path_buf(),
            next_id: AtomicU64::new(1),
            direct: None,
        };
        let max = dir.list()?.into_iter().max().unwrap_or(0);
        dir.next_id.store(max + 1, Ordering::Relaxed);
        if dir.supports_direct()? {
            dir.direct = Some(Mutex::new(AlignedBuf::new()));
        }
        Ok(dir)
    }

    /// Whether files here can be opened for direct I/O (a probe file is
    /// made and removed).
    fn supports_direct(&self) -> Result<bool> {
        let p = self.root.join("direct-io-probe");
        let r = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(libc::O_DIRECT)
            .open(&p);
        let _ = std::fs::remove_file(&p);
        match r {
            Ok(_) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(false),
            Err(e) => Err(StoreError::io(p.display(), e)),
        }
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

    /// A new blob holding `data`; the file returned (for reads and the
    /// sync) is an ordinary one.
    pub fn create_with(&self, data: &[u8]) -> Result<(u64, File)> {
        let (id, f) = self.create_blob()?;
        match &self.direct {
            Some(buf) if data.len() >= ALIGN => {
                let mut buf = buf.lock().unwrap_or_else(|p| p.into_inner());
                self.write_direct(id, data, &mut buf)?;
            }
            _ => self.write_at(id, &f, data, 0)?,
        }
        Ok((id, f))
    }

    /// Writes `data` from offset 0 of blob `id` in aligned chunks; the last
    /// block is zero-padded, then the file is cut to `data`'s length.
    fn write_direct(&self, id: u64, data: &[u8], buf: &mut AlignedBuf) -> Result<()> {
        let p = self.path(id);
        let io = |e| StoreError::io(p.display(), e);
        let f = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_DIRECT)
            .open(&p)
            .map_err(io)?;
        let mut off = 0usize;
        while off < data.len() {
            let n = (data.len() - off).min(CHUNK);
            let padded = n.div_ceil(ALIGN) * ALIGN;
            let chunk = buf.chunk();
            chunk[..n].copy_from_slice(&data[off..off + n]);
            chunk[n..padded].fill(0);
            f.write_all_at(&chunk[..padded], off as u64).map_err(io)?;
            off += n;
        }
        if !data.len().is_multiple_of(ALIGN) {
            f.set_len(data.len() as u64).map_err(io)?;
        }
        Ok(())
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
