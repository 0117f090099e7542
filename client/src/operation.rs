//! [`ObjectOperation`]: a compound operation on one object, built step by
//! step and applied atomically by the object's primary, and [`OpResult`],
//! what it returned.

use cluster::msg::osd::{ObjOp, OpOutput};

use crate::rados::ObjVersion;

/// A compound operation on one object, applied atomically: either every
/// step happens or none does. Reads and writes go in separate operations.
#[derive(Clone, Debug, Default)]
pub struct ObjectOperation {
    pub(crate) ops: Vec<ObjOp>,
    pub(crate) data: Vec<u8>,
}

impl ObjectOperation {
    pub fn new() -> ObjectOperation {
        ObjectOperation::default()
    }
    fn push(mut self, op: ObjOp, payload: &[u8]) -> Self {
        self.ops.push(op);
        self.data.extend_from_slice(payload);
        self
    }
    pub fn create(self, exclusive: bool) -> Self {
        self.push(ObjOp::Create { exclusive }, &[])
    }
    pub fn write_full(self, data: &[u8]) -> Self {
        self.push(
            ObjOp::WriteFull {
                len: data.len() as u64,
            },
            data,
        )
    }
    pub fn write(self, offset: u64, data: &[u8]) -> Self {
        self.push(
            ObjOp::Write {
                offset,
                len: data.len() as u64,
            },
            data,
        )
    }
    pub fn append(self, data: &[u8]) -> Self {
        self.push(
            ObjOp::Append {
                len: data.len() as u64,
            },
            data,
        )
    }
    pub fn truncate(self, size: u64) -> Self {
        self.push(ObjOp::Truncate { size }, &[])
    }
    pub fn zero(self, offset: u64, len: u64) -> Self {
        self.push(ObjOp::Zero { offset, len }, &[])
    }
    pub fn remove(self) -> Self {
        self.push(ObjOp::Remove, &[])
    }
    pub fn set_xattr(self, name: &str, value: &[u8]) -> Self {
        self.push(
            ObjOp::SetXattr {
                name: name.into(),
                len: value.len() as u64,
            },
            value,
        )
    }
    pub fn rm_xattr(self, name: &str) -> Self {
        self.push(ObjOp::RmXattr { name: name.into() }, &[])
    }
    pub fn omap_set(self, entries: &[(&str, &[u8])]) -> Self {
        let keys = entries.iter().map(|(k, _)| k.to_string()).collect();
        let lens = entries.iter().map(|(_, v)| v.len() as u64).collect();
        let payload: Vec<u8> = entries
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .collect();
        self.push(ObjOp::OmapSet { keys, lens }, &payload)
    }
    pub fn omap_rm_keys(self, keys: &[&str]) -> Self {
        self.push(
            ObjOp::OmapRmKeys {
                keys: keys.iter().map(|k| k.to_string()).collect(),
            },
            &[],
        )
    }
    pub fn omap_clear(self) -> Self {
        self.push(ObjOp::OmapClear, &[])
    }
    pub fn omap_set_header(self, header: &[u8]) -> Self {
        self.push(
            ObjOp::OmapSetHeader {
                len: header.len() as u64,
            },
            header,
        )
    }
    pub fn read(self, offset: u64, len: u64) -> Self {
        self.push(ObjOp::Read { offset, len }, &[])
    }
    pub fn stat(self) -> Self {
        self.push(ObjOp::Stat, &[])
    }
    pub fn get_xattr(self, name: &str) -> Self {
        self.push(ObjOp::GetXattr { name: name.into() }, &[])
    }
    pub fn list_xattrs(self) -> Self {
        self.push(ObjOp::ListXattrs, &[])
    }
    pub fn omap_get_keys(self, keys: &[&str]) -> Self {
        self.push(
            ObjOp::OmapGetKeys {
                keys: keys.iter().map(|k| k.to_string()).collect(),
            },
            &[],
        )
    }
    pub fn omap_get_range(self, start_after: &str, prefix: &str, max: u32) -> Self {
        self.push(
            ObjOp::OmapGetRange {
                start_after: start_after.into(),
                prefix: prefix.into(),
                max,
            },
            &[],
        )
    }
    pub fn omap_get_header(self) -> Self {
        self.push(ObjOp::OmapGetHeader, &[])
    }
    /// Guard: the bytes at `offset` must equal `expected`.
    pub fn cmpext(self, offset: u64, expected: &[u8]) -> Self {
        self.push(
            ObjOp::CmpExt {
                offset,
                len: expected.len() as u64,
            },
            expected,
        )
    }
    /// Guard: the object must be at exactly this version.
    pub fn assert_version(self, v: ObjVersion) -> Self {
        self.push(
            ObjOp::AssertVersion {
                epoch: v.epoch,
                counter: v.counter,
            },
            &[],
        )
    }
    /// Guard: the object must exist.
    pub fn assert_exists(self) -> Self {
        self.push(ObjOp::AssertExists, &[])
    }
}

/// What a compound operation returned: the object's version, and each
/// step's output.
#[derive(Clone, Debug)]
pub struct OpResult {
    pub version: ObjVersion,
    pub outputs: Vec<OpOutput>,
    pub(crate) data: Vec<u8>,
}

impl OpResult {
    /// The bytes of the `i`th step that returned data (reads, headers).
    pub fn data(&self, step: usize) -> Option<&[u8]> {
        let mut at = 0usize;
        for (i, o) in self.outputs.iter().enumerate() {
            if let OpOutput::Data { len } = o {
                let end = at + *len as usize;
                if i == step {
                    return self.data.get(at..end);
                }
                at = end;
            }
        }
        None
    }
}
