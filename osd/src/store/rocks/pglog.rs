//! Keeping each PG log at its configured length.

use rocksdb::WriteBatch;

use super::{RocksStore, CF_INFO, CF_LOG};
use crate::store::codec::{decode, encode};
use crate::store::keys::{self, prefix_end};
use crate::store::transaction::Transaction;
use crate::store::types::PgLogEntry;
use crate::store::Result;

impl RocksStore {
    /// Keeps the PG log at `pg_log_max_entries`: when `t` appends past it,
    /// the oldest entries are deleted in the same batch and the PG info's
    /// `log_tail` moves to the newest one deleted. Returns the log's new
    /// length, or `None` when it is not known cheaply (an explicit trim).
    pub(super) fn trim_log(&self, batch: &mut WriteBatch, t: &Transaction) -> Result<Option<u64>> {
        let max = self.opts.pg_log_max_entries;
        if t.trim_log_to.is_some() {
            return Ok(None);
        }
        let cached = self
            .log_counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&t.coll)
            .copied();
        if t.log.is_empty() {
            return Ok(cached);
        }
        let prefix = keys::coll_prefix(&t.coll);
        let end = prefix_end(&prefix).expect("collection prefixes are not all 0xff");
        let count = match cached {
            Some(n) => n,
            None => {
                let mut ro = rocksdb::ReadOptions::default();
                ro.set_iterate_upper_bound(end.clone());
                let it = self.db.iterator_cf_opt(
                    self.cf(CF_LOG),
                    ro,
                    rocksdb::IteratorMode::From(&prefix[..], rocksdb::Direction::Forward),
                );
                let mut n = 0u64;
                for item in it {
                    item?;
                    n += 1;
                }
                n
            }
        };
        let mut total = count + t.log.len() as u64;
        if max == 0 || total <= max {
            return Ok(Some(total));
        }
        let mut ro = rocksdb::ReadOptions::default();
        ro.set_iterate_upper_bound(end);
        let it = self.db.iterator_cf_opt(
            self.cf(CF_LOG),
            ro,
            rocksdb::IteratorMode::From(&prefix[..], rocksdb::Direction::Forward),
        );
        let mut tail = None;
        for item in it.take((total - max) as usize) {
            let (k, v) = item?;
            batch.delete_cf(self.cf(CF_LOG), &k);
            tail = Some(decode::<PgLogEntry>("PG log entry", &v)?.version);
            total -= 1;
        }
        if let Some(tail) = tail {
            let mut info = match &t.info {
                Some(i) => Some(i.clone()),
                None => self.pg_info_impl(&t.coll)?,
            };
            if let Some(i) = info.as_mut() {
                i.log_tail = i.log_tail.max(tail);
                batch.put_cf(self.cf(CF_INFO), prefix, encode(&*i));
            }
        }
        Ok(Some(total))
    }
}
