//! Moving a whole PG between stores (`export` / `import`), as
//! ceph-objectstore-tool does.
//!
//! The stream is a magic line, then records: a little-endian u32 length, a
//! crc32c of the body, and the body (the store's versioned encoding of a
//! [`Record`]). It starts with a header, holds one record per object and
//! the PG's metadata (its info, log, dups, missing set: whatever the PG
//! layer keeps), and ends with a trailer that counts them, so a truncated or
//! damaged file is refused. An import that fails removes what it created; an
//! import cut short by a crash leaves the PG marked, and fsck reports it.

use std::io::{Read, Write};

use rkyv::{Archive, Deserialize, Serialize};

use super::codec::{decode, encode};
use super::error::StoreError;
use super::transaction::Transaction;
use super::types::{CollectionId, ObjectId, Version};
use super::{MetaOp, ObjectState};
use super::{ObjectStore, Result, RocksStore};

const MAGIC: &[u8] = b"STRATA-PG-EXPORT 1\n";

#[derive(Archive, Serialize, Deserialize, Debug)]
pub struct ExportObject {
    pub obj: ObjectId,
    pub state: ObjectState,
}

#[derive(Archive, Serialize, Deserialize, Debug)]
pub enum Record {
    Header {
        pgid: CollectionId,
    },
    Object(ExportObject),
    /// PG metadata keys and values.
    Meta(Vec<(Vec<u8>, Vec<u8>)>),
    End {
        objects: u64,
        meta_keys: u64,
    },
}

/// What an export or import moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub objects: u64,
    pub meta_keys: u64,
    pub bytes: u64,
}

fn write_record(out: &mut dyn Write, r: &Record) -> Result<()> {
    let body = encode(r);
    let io = |e| StoreError::io("export stream", e);
    out.write_all(&(body.len() as u32).to_le_bytes())
        .map_err(io)?;
    out.write_all(&crc32c::crc32c(&body).to_le_bytes())
        .map_err(io)?;
    out.write_all(&body).map_err(io)
}

/// Writes PG `c` of `store` to `out`.
pub fn export(store: &dyn ObjectStore, c: &CollectionId, out: &mut dyn Write) -> Result<Summary> {
    let mut s = Summary::default();
    out.write_all(MAGIC)
        .map_err(|e| StoreError::io("export stream", e))?;
    write_record(out, &Record::Header { pgid: *c })?;
    let mut cursor = None;
    loop {
        let page = store.list_objects(c, cursor.as_ref(), 256)?;
        for obj in page.objects {
            let Some(state) = ObjectState::read(store, c, &obj)? else {
                continue; // removed while we listed
            };
            s.objects += 1;
            s.bytes += state.data.len() as u64;
            let rec = ExportObject { obj, state };
            write_record(out, &Record::Object(rec))?;
        }
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    let mut start: Vec<u8> = Vec::new();
    loop {
        let page = store.meta_scan(c, &start, None, 1024)?;
        let Some((last, _)) = page.last() else {
            break;
        };
        start = last.clone();
        start.push(0);
        s.meta_keys += page.len() as u64;
        write_record(out, &Record::Meta(page))?;
    }
    write_record(
        out,
        &Record::End {
            objects: s.objects,
            meta_keys: s.meta_keys,
        },
    )?;
    out.flush()
        .map_err(|e| StoreError::io("export stream", e))?;
    Ok(s)
}

fn read_record(input: &mut dyn Read, max: u64) -> Result<Record> {
    let bad = |detail: String| StoreError::BadMetadata {
        what: "export stream".into(),
        detail,
    };
    let mut head = [0u8; 8];
    input
        .read_exact(&mut head)
        .map_err(|_| bad("the stream ends early (truncated export?)".into()))?;
    let len = u64::from(u32::from_le_bytes(head[..4].try_into().expect("4 bytes")));
    let crc = u32::from_le_bytes(head[4..].try_into().expect("4 bytes"));
    if len > max {
        return Err(bad(format!(
            "a record of {len} bytes is larger than any this store accepts"
        )));
    }
    let mut body = vec![0u8; len as usize];
    input
        .read_exact(&mut body)
        .map_err(|_| bad("the stream ends inside a record (truncated export?)".into()))?;
    if crc32c::crc32c(&body) != crc {
        return Err(bad("a record fails its checksum (damaged export?)".into()));
    }
    decode("export record", &body)
}

/// Reads an export into `store`, creating its PG, which must not exist.
pub fn import(store: &RocksStore, input: &mut dyn Read) -> Result<(CollectionId, Summary)> {
    let mut magic = vec![0u8; MAGIC.len()];
    input
        .read_exact(&mut magic)
        .map_err(|e| StoreError::io("import stream", e))?;
    if magic != MAGIC {
        return Err(StoreError::Invalid(
            "not a Strata PG export (bad magic)".into(),
        ));
    }
    let max = store.options().max_object_size + (64 << 20);
    let pgid = match read_record(input, max)? {
        Record::Header { pgid } => pgid,
        _ => {
            return Err(StoreError::Invalid(
                "the export does not start with a header".into(),
            ))
        }
    };
    store.create_collection_impl(&pgid, true)?;
    match import_body(store, input, pgid, max) {
        Ok(s) => Ok((pgid, s)),
        Err(e) => {
            let _ = store.remove_collection_impl(&pgid);
            Err(e)
        }
    }
}

fn import_body(
    store: &RocksStore,
    input: &mut dyn Read,
    pgid: CollectionId,
    max: u64,
) -> Result<Summary> {
    let mut s = Summary::default();
    loop {
        match read_record(input, max)? {
            Record::Object(o) => {
                let mut t = Transaction::new(pgid, o.state.version);
                t.mtime_ns = o.state.mtime_ns;
                s.objects += 1;
                s.bytes += o.state.data.len() as u64;
                t.ops = o.state.put_ops(&o.obj);
                store.submit(t)?;
            }
            Record::Meta(entries) => {
                s.meta_keys += entries.len() as u64;
                let mut t = Transaction::new(pgid, Version::ZERO);
                t.meta = entries
                    .into_iter()
                    .map(|(key, value)| MetaOp::Put { key, value })
                    .collect();
                store.submit(t)?;
            }
            Record::End { objects, meta_keys } => {
                if (objects, meta_keys) != (s.objects, s.meta_keys) {
                    return Err(StoreError::Invalid(format!(
                        "export trailer counts {objects} objects and {meta_keys} PG metadata keys, the stream held {} and {}",
                        s.objects, s.meta_keys
                    )));
                }
                store.finish_import(&pgid)?;
                return Ok(s);
            }
            Record::Header { .. } => {
                return Err(StoreError::Invalid(
                    "a second header inside the export".into(),
                ))
            }
        }
    }
}
