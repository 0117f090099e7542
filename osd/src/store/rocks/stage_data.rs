//! Staging data ops of a transaction: inline objects are edited in memory;
//! a blob is extended past its committed end in place, and otherwise copied,
//! so committed bytes are never overwritten. Bytes already on disk are
//! verified before any checksum is recomputed over them.

use std::os::unix::fs::FileExt;

use super::write::Txn;
use super::{DataLoc, CF_DATA};
use crate::store::checksum::{block_crcs, verify, CSUM_BLOCK};
use crate::store::types::ObjectId;
use crate::store::Result;

impl Txn<'_> {
    /// Reads `[from, to)` of a blob this transaction may also have written.
    pub(super) fn read_blob(
        &mut self,
        obj: &ObjectId,
        id: u64,
        from: u64,
        to: u64,
    ) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; (to - from) as usize];
        let res = match self.files.get(&id) {
            Some((f, _)) => f.read_exact_at(&mut buf, from),
            None => match self.store.blobs.open_read(id)? {
                Some(f) => f.read_exact_at(&mut buf, from),
                None => {
                    return Err(self.corruption(obj, from, &format!("blob {id:016x} is missing")))
                }
            },
        };
        res.map_err(|e| self.corruption(obj, from, &format!("blob {id:016x} unreadable: {e}")))?;
        Ok(buf)
    }

    /// Verified bytes `[0, upto)` of the object's current content.
    pub(super) fn load(&mut self, obj: &ObjectId, upto: u64) -> Result<Vec<u8>> {
        let s = self.staged(obj)?;
        let meta = s.meta.clone().expect("caller touched the object");
        let upto = upto.min(meta.size);
        let whole = match meta.loc {
            DataLoc::Inline => {
                if let Some(v) = &s.inline {
                    return Ok(v[..upto as usize].to_vec());
                }
                let key = s.key.clone();
                let v = self
                    .store
                    .db
                    .get_cf(self.store.cf(CF_DATA), &key)?
                    .unwrap_or_default();
                if v.len() as u64 != meta.size {
                    return Err(self.corruption(
                        obj,
                        0,
                        &format!(
                            "inline data is {} bytes, metadata says {}",
                            v.len(),
                            meta.size
                        ),
                    ));
                }
                v
            }
            DataLoc::Blob(id) => {
                let end = upto
                    .div_ceil(CSUM_BLOCK)
                    .saturating_mul(CSUM_BLOCK)
                    .min(meta.size);
                self.read_blob(obj, id, 0, end)?
            }
        };
        if let Err(at) = verify(&whole, 0, &meta.crcs) {
            return Err(self.corruption(obj, at, "checksum mismatch"));
        }
        if meta.loc == DataLoc::Inline {
            let s = self.staged(obj)?;
            s.inline = Some(whole.clone());
        }
        Ok(whole[..upto as usize].to_vec())
    }

    /// Replaces the whole content: inline if small, else a new blob.
    pub(super) fn set_content(&mut self, obj: &ObjectId, data: Vec<u8>) -> Result<()> {
        let inline_max = self.store.opts.inline_max;
        let crcs = block_crcs(&data);
        let size = data.len() as u64;
        let loc = if size <= inline_max {
            DataLoc::Inline
        } else {
            let (id, f) = self.store.blobs.create_with(&data)?;
            self.files.insert(id, (f, true));
            DataLoc::Blob(id)
        };
        let s = self.staged(obj)?;
        let m = s.meta.as_mut().expect("caller touched the object");
        m.size = size;
        m.crcs = crcs;
        m.loc = loc;
        if loc == DataLoc::Inline {
            s.inline = Some(data);
            s.inline_dirty = true;
        } else {
            s.inline = None;
        }
        Ok(())
    }

    /// Writes into a blob past the object's committed end (never over
    /// committed bytes), then recomputes the checksums from the block that
    /// held the old end, after verifying what that block already held.
    pub(super) fn write_blob_tail(
        &mut self,
        obj: &ObjectId,
        id: u64,
        offset: u64,
        data: &[u8],
    ) -> Result<()> {
        let meta = self.staged(obj)?.meta.clone().expect("touched");
        let old = meta.size;
        let first_block = old / CSUM_BLOCK;
        let block_start = first_block * CSUM_BLOCK;
        let existing = self.read_blob(obj, id, block_start, old)?;
        if verify(&existing, first_block, &meta.crcs).is_err() {
            return Err(self.corruption(obj, block_start, "checksum mismatch"));
        }
        if !self.files.contains_key(&id) {
            let f = self.store.blobs.open_write(id)?;
            self.files.insert(id, (f, false));
        }
        let f = &self.files[&id].0;
        if offset > old {
            self.store
                .blobs
                .write_at(id, f, &vec![0u8; (offset - old) as usize], old)?;
        }
        self.store.blobs.write_at(id, f, data, offset)?;
        let new_size = old.max(offset + data.len() as u64);
        let tail = self.read_blob(obj, id, block_start, new_size)?;
        let m = self.staged(obj)?.meta.as_mut().expect("touched");
        m.crcs.truncate(first_block as usize);
        m.crcs.extend(block_crcs(&tail));
        m.size = new_size;
        Ok(())
    }

    /// Writes `data` at `offset`: inline objects are patched in memory;
    /// blobs are extended in place past their end, and otherwise copied
    /// (committed bytes are never overwritten).
    pub(super) fn write(&mut self, obj: &ObjectId, offset: u64, data: &[u8]) -> Result<()> {
        self.touch(obj)?;
        let meta = self.staged(obj)?.meta.clone().expect("touched");
        let new_size = meta.size.max(offset + data.len() as u64);
        match meta.loc {
            DataLoc::Blob(id) if new_size > self.store.opts.inline_max && offset >= meta.size => {
                self.write_blob_tail(obj, id, offset, data)
            }
            _ => {
                let mut full = self.load(obj, meta.size)?;
                full.resize(new_size as usize, 0);
                full[offset as usize..offset as usize + data.len()].copy_from_slice(data);
                self.set_content(obj, full)
            }
        }
    }

    pub(super) fn truncate(&mut self, obj: &ObjectId, size: u64) -> Result<()> {
        self.touch(obj)?;
        let meta = self.staged(obj)?.meta.clone().expect("touched");
        match meta.loc {
            DataLoc::Blob(id) if size > self.store.opts.inline_max => {
                if size > meta.size {
                    return self.write_blob_tail(
                        obj,
                        id,
                        meta.size,
                        &vec![0u8; (size - meta.size) as usize],
                    );
                }
                // Shrinking a blob: only metadata changes; the last kept
                // block's checksum now covers a prefix of what it held.
                let last = size.div_ceil(CSUM_BLOCK);
                let block_start = (last.saturating_sub(1)) * CSUM_BLOCK;
                let block_end = (block_start + CSUM_BLOCK).min(meta.size);
                let bytes = self.read_blob(obj, id, block_start, block_end)?;
                if verify(&bytes, block_start / CSUM_BLOCK, &meta.crcs).is_err() {
                    return Err(self.corruption(obj, block_start, "checksum mismatch"));
                }
                let m = self.staged(obj)?.meta.as_mut().expect("touched");
                m.crcs.truncate(last as usize);
                if let Some(c) = m.crcs.last_mut() {
                    *c = crc32c::crc32c(&bytes[..(size - block_start) as usize]);
                }
                m.size = size;
                Ok(())
            }
            _ => {
                let mut full = self.load(obj, size)?;
                full.resize(size as usize, 0);
                self.set_content(obj, full)
            }
        }
    }

    pub(super) fn zero(&mut self, obj: &ObjectId, offset: u64, len: u64) -> Result<()> {
        self.touch(obj)?;
        let size = self.staged(obj)?.meta.as_ref().expect("touched").size;
        let end = offset.saturating_add(len).min(size);
        if offset >= end {
            return Ok(());
        }
        let mut full = self.load(obj, size)?;
        full[offset as usize..end as usize].fill(0);
        self.set_content(obj, full)
    }
}
