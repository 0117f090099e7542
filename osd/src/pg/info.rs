//! A PG's summary as one member holds it (Ceph's `pg_info_t`), exchanged
//! while peering and persisted with every change, and how a PG's state
//! lies in the store's per-PG metadata keys.

use std::collections::BTreeMap;

use cluster::{ReqId, Version};
use rkyv::{Archive, Deserialize, Serialize};

use super::interval::PastIntervals;
use super::log::{LogEntry, PgLog};
use crate::store::{CollectionId, MetaOp, ObjectId, ObjectStore, StoreError};

/// Epochs that every member of the PG agrees on once it has peered.
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// The epoch the pool (so the PG) was created in.
    pub epoch_created: u32,
    /// The newest activation every acting member recorded.
    pub last_epoch_started: u32,
    /// The newest epoch at which the PG was clean.
    pub last_epoch_clean: u32,
    /// Where the current interval began.
    pub same_interval_since: u32,
}

impl History {
    /// Takes the newer of each epoch another member knows.
    pub fn merge(&mut self, o: &History) {
        self.last_epoch_started = self.last_epoch_started.max(o.last_epoch_started);
        self.last_epoch_clean = self.last_epoch_clean.max(o.last_epoch_clean);
        self.epoch_created = self.epoch_created.max(o.epoch_created);
    }
}

#[derive(Archive, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct PgInfo {
    /// The newest entry in this member's log.
    pub last_update: Version,
    /// Up to here every object is present and current (= last_update
    /// when nothing is missing).
    pub last_complete: Version,
    /// The log holds entries after this version.
    pub log_tail: Version,
    /// When this member last activated (its log became authoritative).
    pub last_epoch_started: u32,
    pub history: History,
    /// `None`: this copy holds every object (Ceph's `last_backfill` MAX).
    /// `Some(k)`: it is being backfilled, and only the objects whose
    /// [`ObjectId::sort_key`] is at most `k` are whole here (`k` empty:
    /// none are); the rest are copied by a primary's backfill.
    pub last_backfill: Option<Vec<u8>>,
}

impl PgInfo {
    /// As `pg query` and the objectstore tool show it (Ceph's names).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "last_update": self.last_update.to_string(),
            "last_complete": self.last_complete.to_string(),
            "log_tail": self.log_tail.to_string(),
            "last_epoch_started": self.last_epoch_started,
            "last_backfill": match &self.last_backfill {
                None => "MAX".to_string(),
                Some(k) => hex::encode(k),
            },
            "history": {
                "epoch_created": self.history.epoch_created,
                "last_epoch_started": self.history.last_epoch_started,
                "last_epoch_clean": self.history.last_epoch_clean,
                "same_interval_since": self.history.same_interval_since,
            },
        })
    }

    /// A member that holds nothing of the PG.
    pub fn is_empty(&self) -> bool {
        self.last_update == Version::ZERO && self.log_tail == Version::ZERO
    }

    /// Whether the member holds a copy at all (an OSD without the PG
    /// answers a query with the default info).
    pub fn holds_copy(&self) -> bool {
        self.history.epoch_created != 0
    }

    /// Whether every object is here (not in the middle of a backfill).
    pub fn is_complete(&self) -> bool {
        self.last_backfill.is_none()
    }

    /// Whether `obj` is whole here as of `last_update` (as far as
    /// backfill goes: it may still be in the missing set).
    pub fn backfilled(&self, obj: &ObjectId) -> bool {
        self.last_backfill
            .as_ref()
            .is_none_or(|k| obj.sort_key() <= *k)
    }
}

// The PG's keys in the store's per-collection metadata.
const KEY_INFO: &[u8] = b"i";
const KEY_PAST: &[u8] = b"p";
const LOG: u8 = b'l';
const DUP: u8 = b'd';
const MISSING: u8 = b'm';
/// Present while the OSD removes the PG's copy (see the daemon's removal).
const KEY_REMOVING: &[u8] = b"x";
/// The pool's PG count this copy's objects are split for.
const KEY_PG_NUM: &[u8] = b"n";

fn versioned(tag: u8, v: Version) -> Vec<u8> {
    let mut k = Vec::with_capacity(13);
    k.push(tag);
    k.extend_from_slice(&v.epoch.to_be_bytes());
    k.extend_from_slice(&v.counter.to_be_bytes());
    k
}

fn missing_key(o: &ObjectId) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + o.ns.len() + o.name.len());
    k.push(MISSING);
    k.extend_from_slice(o.ns.as_bytes());
    k.push(0);
    k.extend_from_slice(o.name.as_bytes());
    k
}

fn enc<T>(v: &T) -> Vec<u8>
where
    T: for<'a> rkyv::Serialize<
        rkyv::api::high::HighSerializer<
            rkyv::util::AlignedVec,
            rkyv::ser::allocator::ArenaHandle<'a>,
            rkyv::rancor::Error,
        >,
    >,
{
    cluster::codec::encode(v)
}

fn bad(c: &CollectionId, what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::BadMetadata {
        what: format!("{what} of PG {c}"),
        detail: e.to_string(),
    }
}

/// Metadata changes, to go into a store transaction.
pub mod meta {
    use super::*;

    pub fn info(i: &PgInfo) -> MetaOp {
        MetaOp::Put {
            key: KEY_INFO.to_vec(),
            value: enc(i),
        }
    }
    pub fn past(p: &PastIntervals) -> MetaOp {
        MetaOp::Put {
            key: KEY_PAST.to_vec(),
            value: enc(p),
        }
    }
    pub fn entry(e: &LogEntry) -> MetaOp {
        MetaOp::Put {
            key: versioned(LOG, e.version),
            value: enc(e),
        }
    }
    /// Deletes log entries in `(after, upto]`.
    pub fn drop_entries(after: Version, upto: Version) -> MetaOp {
        let mut start = versioned(LOG, after);
        start.push(0);
        let mut end = versioned(LOG, upto);
        end.push(0);
        MetaOp::DeleteRange { start, end }
    }
    pub fn clear_log() -> Vec<MetaOp> {
        vec![MetaOp::DeleteRange {
            start: vec![LOG],
            end: vec![LOG + 1],
        }]
    }
    pub fn dup(r: &ReqId, v: Version) -> MetaOp {
        MetaOp::Put {
            key: versioned(DUP, v),
            value: enc(r),
        }
    }
    pub fn drop_dup(v: Version) -> MetaOp {
        MetaOp::Delete {
            key: versioned(DUP, v),
        }
    }
    pub fn missing(o: &ObjectId, need: Version) -> MetaOp {
        MetaOp::Put {
            key: missing_key(o),
            value: enc(&need),
        }
    }
    pub fn found(o: &ObjectId) -> MetaOp {
        MetaOp::Delete {
            key: missing_key(o),
        }
    }
    /// Marks the copy as being removed: it is never loaded as a PG again.
    pub fn removing() -> MetaOp {
        MetaOp::Put {
            key: KEY_REMOVING.to_vec(),
            value: vec![1],
        }
    }
    /// Deletes the log entry at `v`.
    pub fn drop_entry(v: Version) -> MetaOp {
        MetaOp::Delete {
            key: versioned(LOG, v),
        }
    }
    /// Records the pool's PG count the copy's objects are split for.
    pub fn pg_num(n: u32) -> MetaOp {
        MetaOp::Put {
            key: KEY_PG_NUM.to_vec(),
            value: n.to_be_bytes().to_vec(),
        }
    }
    /// Everything of `st`, for a collection that holds nothing yet.
    pub fn whole(st: &PgState) -> Vec<MetaOp> {
        let mut out = vec![info(&st.info), past(&st.past), pg_num(st.pg_num)];
        out.extend(st.log.entries().map(entry));
        out.extend(st.log.dups().map(|(r, v)| dup(r, *v)));
        out.extend(st.missing.iter().map(|(o, v)| missing(o, *v)));
        out
    }
    pub fn clear_missing() -> MetaOp {
        MetaOp::DeleteRange {
            start: vec![MISSING],
            end: vec![MISSING + 1],
        }
    }
}

/// Everything a member keeps of a PG besides its objects.
#[derive(Clone, Debug, Default)]
pub struct PgState {
    pub info: PgInfo,
    pub past: PastIntervals,
    pub log: PgLog,
    pub missing: BTreeMap<ObjectId, Version>,
    /// The pool's PG count the objects here are split for (0: not
    /// recorded, from before PGs could split: the pool's count then).
    pub pg_num: u32,
}

const SCAN: usize = 4096;

fn scan_all(
    store: &dyn ObjectStore,
    c: &CollectionId,
    tag: u8,
) -> Result<crate::store::MetaEntries, StoreError> {
    let mut out = Vec::new();
    let mut start = vec![tag];
    loop {
        let page = store.meta_scan(c, &start, Some(&[tag + 1]), SCAN)?;
        let done = page.len() < SCAN;
        if let Some((k, _)) = page.last() {
            start = k.clone();
            start.push(0);
        }
        out.extend(page);
        if done {
            return Ok(out);
        }
    }
}

/// Whether the OSD was removing this copy (it resumes, never loads it).
pub fn is_removing(store: &dyn ObjectStore, c: &CollectionId) -> Result<bool, StoreError> {
    Ok(store.meta_get(c, KEY_REMOVING)?.is_some())
}

/// The pool's PG count a copy is split for (0: not recorded).
pub fn stored_pg_num(store: &dyn ObjectStore, c: &CollectionId) -> Result<u32, StoreError> {
    match store.meta_get(c, KEY_PG_NUM)? {
        Some(r) => Ok(u32::from_be_bytes(
            r.as_slice()
                .try_into()
                .map_err(|_| bad(c, "PG count", hex::encode(&r)))?,
        )),
        None => Ok(0),
    }
}

/// Loads a PG's state (`None`: the collection holds no PG info yet).
pub fn load(store: &dyn ObjectStore, c: &CollectionId) -> Result<Option<PgState>, StoreError> {
    let Some(raw) = store.meta_get(c, KEY_INFO)? else {
        return Ok(None);
    };
    let info: PgInfo = cluster::codec::decode("PG info", &raw).map_err(|e| bad(c, "PG info", e))?;
    let past = match store.meta_get(c, KEY_PAST)? {
        Some(r) => {
            cluster::codec::decode("past intervals", &r).map_err(|e| bad(c, "past intervals", e))?
        }
        None => PastIntervals::default(),
    };
    let mut entries = Vec::new();
    for (_, v) in scan_all(store, c, LOG)? {
        entries.push(
            cluster::codec::decode::<LogEntry>("PG log entry", &v)
                .map_err(|e| bad(c, "PG log entry", e))?,
        );
    }
    let mut dups = Vec::new();
    for (k, v) in scan_all(store, c, DUP)? {
        let r: ReqId = cluster::codec::decode("PG log dup", &v).map_err(|e| bad(c, "dup", e))?;
        let ver = parse_versioned(&k).ok_or_else(|| bad(c, "dup key", hex::encode(&k)))?;
        dups.push((r, ver));
    }
    let mut missing = BTreeMap::new();
    for (k, v) in scan_all(store, c, MISSING)? {
        let rest = &k[1..];
        let sep = rest
            .iter()
            .position(|b| *b == 0)
            .ok_or_else(|| bad(c, "missing key", hex::encode(&k)))?;
        let ns = String::from_utf8(rest[..sep].to_vec()).map_err(|e| bad(c, "missing key", e))?;
        let name =
            String::from_utf8(rest[sep + 1..].to_vec()).map_err(|e| bad(c, "missing key", e))?;
        let need: Version =
            cluster::codec::decode("missing item", &v).map_err(|e| bad(c, "missing item", e))?;
        missing.insert(ObjectId::new(ns, name), need);
    }
    let pg_num = stored_pg_num(store, c)?;
    let log = PgLog::from_parts(info.log_tail, entries, dups);
    Ok(Some(PgState {
        info,
        past,
        log,
        missing,
        pg_num,
    }))
}

fn parse_versioned(k: &[u8]) -> Option<Version> {
    if k.len() != 13 {
        return None;
    }
    Some(Version::new(
        u32::from_be_bytes(k[1..5].try_into().ok()?),
        u64::from_be_bytes(k[5..13].try_into().ok()?),
    ))
}
