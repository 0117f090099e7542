//! Keeping each PG log at its configured length.
//!
//! Trimming deletes the oldest entries in the transaction's batch and moves
//! the PG info's `log_tail`. It runs in batches (when the log is a sixteenth
//! over its limit) and seeks past where it last trimmed, so it never walks
//! the tombstones of earlier trims.

use rocksdb::WriteBatch;

use super::read::KeyValue;
use super::{RocksStore, CF_INFO, CF_LOG};
use crate::store::codec::{decode, encode};
use crate::store::keys;
use crate::store::transaction::Transaction;
use crate::store::types::{CollectionId, PgLogEntry, Version};
use crate::store::Result;

/// What the store knows about one PG's log.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LogState {
    pub entries: u64,
    /// Every entry up to this version has been trimmed.
    pub trimmed_to: Option<Version>,
}

impl RocksStore {
    /// Records a PG's log state after a commit (`None`: unknown, relearn).
    pub(super) fn set_log_state(&self, c: &CollectionId, s: Option<LogState>) {
        let mut states = self.log_states.lock().unwrap_or_else(|p| p.into_inner());
        match s {
            Some(s) => states.insert(*c, s),
            None => states.remove(c),
        };
    }

    /// Iterates the PG's log from just after `after` (or its start).
    fn log_from(
        &self,
        c: &CollectionId,
        after: Option<Version>,
    ) -> impl Iterator<Item = Result<KeyValue>> + '_ {
        let prefix = keys::coll_prefix(c);
        let start = match after {
            Some(v) => [keys::log_key(c, v).as_slice(), &[0]].concat(),
            None => prefix.to_vec(),
        };
        self.scan(CF_LOG, &prefix, &start)
    }

    /// Keeps the PG log near `pg_log_max_entries`: when `t` appends past it
    /// by a sixteenth, the oldest entries are deleted in the same batch and
    /// the PG info's `log_tail` moves to the newest one deleted. Returns the
    /// log's state after the commit, or `None` after an explicit trim.
    pub(super) fn trim_log(
        &self,
        batch: &mut WriteBatch,
        t: &Transaction,
    ) -> Result<Option<LogState>> {
        if t.trim_log_to.is_some() {
            return Ok(None);
        }
        let known = self
            .log_states
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&t.coll)
            .copied();
        if t.log.is_empty() {
            return Ok(known);
        }
        let mut state = match known {
            Some(s) => s,
            None => {
                let mut n = 0u64;
                for item in self.log_from(&t.coll, None) {
                    item?;
                    n += 1;
                }
                LogState {
                    entries: n,
                    trimmed_to: None,
                }
            }
        };
        state.entries += t.log.len() as u64;
        let max = self.opts.pg_log_max_entries;
        if max == 0 || state.entries <= max + max / 16 {
            return Ok(Some(state));
        }
        let mut tail = None;
        for item in self
            .log_from(&t.coll, state.trimmed_to)
            .take((state.entries - max) as usize)
        {
            let (k, v) = item?;
            batch.delete_cf(self.cf(CF_LOG), &k);
            tail = Some(decode::<PgLogEntry>("PG log entry", &v)?.version);
            state.entries -= 1;
        }
        if let Some(tail) = tail {
            state.trimmed_to = Some(tail);
            let info = match &t.info {
                Some(i) => Some(i.clone()),
                None => self.pg_info_impl(&t.coll)?,
            };
            if let Some(mut i) = info {
                i.log_tail = i.log_tail.max(tail);
                batch.put_cf(self.cf(CF_INFO), keys::coll_prefix(&t.coll), encode(&i));
            }
        }
        Ok(Some(state))
    }
}
