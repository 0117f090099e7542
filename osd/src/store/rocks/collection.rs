//! Creating and removing collections (PGs).

use rocksdb::WriteBatch;

use super::{
    CollMeta, DataLoc, ObjectMeta, RocksStore, CF_BLOBS, CF_COLLS, CF_DATA, CF_META, CF_OMAP,
    CF_PGMETA, CF_XATTR,
};
use crate::store::codec::encode;
use crate::store::error::StoreError;
use crate::store::keys::{self, prefix_end};
use crate::store::types::CollectionId;
use crate::store::Result;

impl RocksStore {
    pub(crate) fn create_collection_impl(&self, c: &CollectionId, importing: bool) -> Result<()> {
        let _g = self.lock(c);
        if self.coll_meta(c)?.is_some() {
            return Err(StoreError::CollectionExists(*c));
        }
        self.write_synced(|b| {
            b.put_cf(
                self.cf(CF_COLLS),
                keys::coll_prefix(c),
                encode(&CollMeta { importing }),
            )
        })
    }

    pub(crate) fn finish_import(&self, c: &CollectionId) -> Result<()> {
        let _g = self.lock(c);
        self.write_synced(|b| {
            b.put_cf(
                self.cf(CF_COLLS),
                keys::coll_prefix(c),
                encode(&CollMeta { importing: false }),
            )
        })
    }

    pub(crate) fn remove_collection_impl(&self, c: &CollectionId) -> Result<()> {
        let _g = self.lock(c);
        if self.coll_meta(c)?.is_none() {
            return Err(StoreError::NoSuchCollection(*c));
        }
        let prefix = keys::coll_prefix(c);
        let end = prefix_end(&prefix).expect("collection prefixes are not all 0xff");
        let mut blobs = Vec::new();
        for item in self.db.iterator_cf(
            self.cf(CF_META),
            rocksdb::IteratorMode::From(&prefix[..], rocksdb::Direction::Forward),
        ) {
            let (k, v) = item?;
            if k.as_ref() >= end.as_slice() {
                break;
            }
            if let Ok(m) = crate::store::codec::decode::<ObjectMeta>("object metadata", &v) {
                if let DataLoc::Blob(id) = m.loc {
                    blobs.push(id);
                }
            }
        }
        self.write_synced(|b| {
            for cf in [CF_META, CF_DATA, CF_XATTR, CF_OMAP, CF_PGMETA] {
                b.delete_range_cf(self.cf(cf), &prefix[..], &end[..]);
            }
            b.delete_cf(self.cf(CF_COLLS), prefix);
            for id in &blobs {
                b.delete_cf(self.cf(CF_BLOBS), id.to_be_bytes());
            }
        })?;
        for id in blobs {
            self.blobs.remove(id);
        }
        Ok(())
    }

    fn write_synced(&self, fill: impl FnOnce(&mut WriteBatch)) -> Result<()> {
        let mut b = WriteBatch::default();
        fill(&mut b);
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(true);
        self.db.write_opt(b, &wo)?;
        Ok(())
    }
}
