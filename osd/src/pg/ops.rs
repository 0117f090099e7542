//! Turning a client's compound operation into store work: guards are
//! checked against the object as it is, writes become one store
//! [`Transaction`], reads are served from the store. An op is either a
//! read (reads and guards) or a write (writes and guards), as librados
//! keeps them apart.

use cluster::msg::osd::{ObjOp, OpOutput};
use cluster::msg::{ErrorCode, RemoteError};

use crate::store::{CollectionId, ObjectId, ObjectStore, Op, StoreError};

/// A store error as the client sees it.
pub fn store_err(e: StoreError) -> RemoteError {
    let code = match &e {
        StoreError::NoSuchObject { .. } | StoreError::NoSuchXattr { .. } => ErrorCode::NotFound,
        StoreError::NoSuchCollection(_) => ErrorCode::NotFound,
        StoreError::ObjectExists { .. } | StoreError::CollectionExists(_) => ErrorCode::Exists,
        StoreError::TooLarge { .. } => ErrorCode::TooBig,
        StoreError::Invalid(_) => ErrorCode::Invalid,
        _ => ErrorCode::Io,
    };
    RemoteError::new(code, e.to_string())
}

/// Splits the frame's data into each step's payload.
pub fn payloads<'a>(ops: &[ObjOp], data: &'a [u8]) -> Result<Vec<&'a [u8]>, RemoteError> {
    let mut out = Vec::with_capacity(ops.len());
    let mut at = 0usize;
    for (i, op) in ops.iter().enumerate() {
        if let ObjOp::OmapSet { keys, lens } = op {
            if keys.len() != lens.len() {
                return Err(RemoteError::invalid(format!(
                    "step {i}: omap set has {} keys but {} value lengths",
                    keys.len(),
                    lens.len()
                )));
            }
        }
        let n = usize::try_from(op.payload_len()).unwrap_or(usize::MAX);
        let end = at
            .checked_add(n)
            .filter(|e| *e <= data.len())
            .ok_or_else(|| {
                RemoteError::invalid(format!(
                    "step {i} needs {} payload bytes but only {} of the {} sent remain",
                    op.payload_len(),
                    data.len() - at,
                    data.len()
                ))
            })?;
        out.push(&data[at..end]);
        at = end;
    }
    if at != data.len() {
        return Err(RemoteError::invalid(format!(
            "{} payload bytes left over after the op's steps",
            data.len() - at
        )));
    }
    Ok(out)
}

/// Checks the guards against the object's current state.
pub fn check_guards(
    store: &dyn ObjectStore,
    coll: &CollectionId,
    obj: &ObjectId,
    ops: &[ObjOp],
    payloads: &[&[u8]],
) -> Result<(), (u32, RemoteError)> {
    for (i, (op, p)) in ops.iter().zip(payloads).enumerate() {
        let step = i as u32;
        match op {
            ObjOp::AssertExists => {
                store.stat(coll, obj).map_err(|e| (step, store_err(e)))?;
            }
            ObjOp::AssertVersion { epoch, counter } => {
                let st = store.stat(coll, obj).map_err(|e| (step, store_err(e)))?;
                if (st.version.epoch, st.version.counter) != (*epoch, *counter) {
                    return Err((
                        step,
                        RemoteError::new(
                            ErrorCode::Mismatch,
                            format!(
                                "object {obj} is at version {}.{}, not {epoch}.{counter}",
                                st.version.epoch, st.version.counter
                            ),
                        ),
                    ));
                }
            }
            ObjOp::CmpExt { offset, len } => {
                let have = store
                    .read(coll, obj, *offset, *len)
                    .map_err(|e| (step, store_err(e)))?;
                let mut padded = have.clone();
                padded.resize(*len as usize, 0);
                if padded != *p {
                    let at = padded
                        .iter()
                        .zip(p.iter())
                        .position(|(a, b)| a != b)
                        .unwrap_or(0);
                    return Err((
                        step,
                        RemoteError::new(
                            ErrorCode::Mismatch,
                            format!(
                                "object {obj}: cmpext mismatch at offset {}",
                                offset + at as u64
                            ),
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The store ops of a write.
pub fn to_store_ops(obj: &ObjectId, ops: &[ObjOp], payloads: &[&[u8]]) -> Vec<Op> {
    let o = || obj.clone();
    let mut out = Vec::new();
    for (op, p) in ops.iter().zip(payloads) {
        match op {
            ObjOp::Create { exclusive } => out.push(Op::Create {
                obj: o(),
                exclusive: *exclusive,
            }),
            ObjOp::WriteFull { .. } => out.push(Op::WriteFull {
                obj: o(),
                data: p.to_vec(),
            }),
            ObjOp::Write { offset, .. } => out.push(Op::Write {
                obj: o(),
                offset: *offset,
                data: p.to_vec(),
            }),
            ObjOp::Append { .. } => out.push(Op::Append {
                obj: o(),
                data: p.to_vec(),
            }),
            ObjOp::Truncate { size } => out.push(Op::Truncate {
                obj: o(),
                size: *size,
            }),
            ObjOp::Zero { offset, len } => out.push(Op::Zero {
                obj: o(),
                offset: *offset,
                len: *len,
            }),
            ObjOp::Remove => out.push(Op::Remove { obj: o() }),
            ObjOp::SetXattr { name, .. } => out.push(Op::SetXattr {
                obj: o(),
                name: name.clone(),
                value: p.to_vec(),
            }),
            ObjOp::RmXattr { name } => out.push(Op::RmXattr {
                obj: o(),
                name: name.clone(),
            }),
            ObjOp::OmapSet { keys, lens } => {
                let mut at = 0usize;
                let entries = keys
                    .iter()
                    .zip(lens)
                    .map(|(k, n)| {
                        let v = p[at..at + *n as usize].to_vec();
                        at += *n as usize;
                        (k.as_bytes().to_vec(), v)
                    })
                    .collect();
                out.push(Op::OmapSet { obj: o(), entries });
            }
            ObjOp::OmapRmKeys { keys } => out.push(Op::OmapRmKeys {
                obj: o(),
                keys: keys.iter().map(|k| k.as_bytes().to_vec()).collect(),
            }),
            ObjOp::OmapClear => out.push(Op::OmapClear { obj: o() }),
            ObjOp::OmapSetHeader { .. } => out.push(Op::OmapSetHeader {
                obj: o(),
                header: p.to_vec(),
            }),
            _ => {}
        }
    }
    out
}

/// Runs the read steps; read bytes are appended to `data`.
pub fn run_reads(
    store: &dyn ObjectStore,
    coll: &CollectionId,
    obj: &ObjectId,
    ops: &[ObjOp],
    data: &mut Vec<u8>,
) -> Result<Vec<OpOutput>, (u32, RemoteError)> {
    let mut outs = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        let step = i as u32;
        let err = |e| (step, store_err(e));
        let out = match op {
            ObjOp::Read { offset, len } => {
                let st = store.stat(coll, obj).map_err(err)?;
                let len = if *len == 0 {
                    st.size.saturating_sub(*offset)
                } else {
                    *len
                };
                let bytes = store.read(coll, obj, *offset, len).map_err(err)?;
                let n = bytes.len() as u64;
                data.extend_from_slice(&bytes);
                OpOutput::Data { len: n }
            }
            ObjOp::Stat => {
                let st = store.stat(coll, obj).map_err(err)?;
                OpOutput::Stat {
                    size: st.size,
                    mtime_ns: st.mtime_ns,
                    epoch: st.version.epoch,
                    counter: st.version.counter,
                }
            }
            ObjOp::GetXattr { name } => {
                let v = store.getxattr(coll, obj, name).map_err(err)?;
                OpOutput::Xattrs(vec![(name.clone(), v)])
            }
            ObjOp::ListXattrs => OpOutput::Xattrs(store.getxattrs(coll, obj).map_err(err)?),
            ObjOp::OmapGetKeys { keys } => {
                store.stat(coll, obj).map_err(err)?;
                let ks: Vec<Vec<u8>> = keys.iter().map(|k| k.as_bytes().to_vec()).collect();
                let got = store.omap_get(coll, obj, &ks).map_err(err)?;
                OpOutput::Omap {
                    entries: got
                        .into_iter()
                        .map(|(k, v)| (String::from_utf8_lossy(&k).to_string(), v))
                        .collect(),
                    more: false,
                }
            }
            ObjOp::OmapGetRange {
                start_after,
                prefix,
                max,
            } => {
                store.stat(coll, obj).map_err(err)?;
                let page = store
                    .omap_list(
                        coll,
                        obj,
                        (!start_after.is_empty()).then_some(start_after.as_bytes()),
                        (!prefix.is_empty()).then_some(prefix.as_bytes()),
                        (*max).clamp(1, 100_000) as usize,
                    )
                    .map_err(err)?;
                OpOutput::Omap {
                    entries: page
                        .entries
                        .into_iter()
                        .map(|(k, v)| (String::from_utf8_lossy(&k).to_string(), v))
                        .collect(),
                    more: page.more,
                }
            }
            ObjOp::OmapGetHeader => {
                store.stat(coll, obj).map_err(err)?;
                let h = store.omap_header(coll, obj).map_err(err)?;
                let n = h.len() as u64;
                data.extend_from_slice(&h);
                OpOutput::Data { len: n }
            }
            _ => OpOutput::None,
        };
        outs.push(out);
    }
    Ok(outs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_split_in_step_order_and_hostile_lengths_are_refused() {
        let ops = vec![
            ObjOp::WriteFull { len: 3 },
            ObjOp::OmapSet {
                keys: vec!["a".into(), "b".into()],
                lens: vec![1, 2],
            },
        ];
        let p = payloads(&ops, b"abcxyz").unwrap();
        assert_eq!(p, vec![&b"abc"[..], &b"xyz"[..]]);
        let obj = ObjectId::new("", "o");
        match &to_store_ops(&obj, &ops, &p)[1] {
            Op::OmapSet { entries, .. } => {
                assert_eq!(
                    entries,
                    &vec![
                        (b"a".to_vec(), b"x".to_vec()),
                        (b"b".to_vec(), b"yz".to_vec())
                    ]
                )
            }
            other => panic!("{other:?}"),
        }
        // Lengths that overflow when summed, or do not match the keys, or
        // exceed the data, are errors, never a panic or a wrapped slice.
        let overflow = vec![ObjOp::OmapSet {
            keys: vec!["a".into(), "b".into()],
            lens: vec![u64::MAX, 7],
        }];
        assert!(payloads(&overflow, b"1234567")
            .unwrap_err()
            .message
            .contains("step 0"));
        let mismatch = vec![ObjOp::OmapSet {
            keys: vec!["a".into()],
            lens: vec![1, 1],
        }];
        assert!(payloads(&mismatch, b"12")
            .unwrap_err()
            .message
            .contains("1 keys but 2"));
        assert!(payloads(&[ObjOp::Append { len: 10 }], b"short").is_err());
        assert!(payloads(&[ObjOp::Append { len: 1 }], b"extra")
            .unwrap_err()
            .message
            .contains("left over"));
    }
}
