//! An object's whole state (data, xattrs, omap, version, mtime): what
//! recovery copies from one OSD to another and an export carries, read
//! and written in one place.

use rkyv::{Archive, Deserialize, Serialize};

use super::error::StoreError;
use super::transaction::Op;
use super::types::{CollectionId, ObjectId, Version};
use super::{ObjectStore, Result};

#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ObjectState {
    pub version: Version,
    pub mtime_ns: u64,
    pub data: Vec<u8>,
    pub xattrs: Vec<(String, Vec<u8>)>,
    pub omap_header: Vec<u8>,
    pub omap: Vec<(Vec<u8>, Vec<u8>)>,
}

impl ObjectState {
    /// The object's state in `c` (`None`: it does not exist).
    pub fn read(store: &dyn ObjectStore, c: &CollectionId, obj: &ObjectId) -> Result<Option<Self>> {
        let st = match store.stat(c, obj) {
            Ok(s) => s,
            Err(StoreError::NoSuchObject { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let data = store.read(c, obj, 0, st.size)?;
        let mut omap = Vec::new();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = store.omap_list(c, obj, after.as_deref(), None, 1024)?;
            after = page.entries.last().map(|(k, _)| k.clone());
            omap.extend(page.entries);
            if !page.more {
                break;
            }
        }
        Ok(Some(ObjectState {
            version: st.version,
            mtime_ns: st.mtime_ns,
            data,
            xattrs: store.getxattrs(c, obj)?,
            omap_header: store.omap_header(c, obj)?,
            omap,
        }))
    }

    /// The ops that make `obj` exactly this (whatever it was before); the
    /// transaction carrying them takes the state's version and mtime.
    pub fn put_ops(self, obj: &ObjectId) -> Vec<Op> {
        let mut ops = vec![
            Op::Discard { obj: obj.clone() },
            Op::Create {
                obj: obj.clone(),
                exclusive: false,
            },
        ];
        if !self.data.is_empty() {
            ops.push(Op::WriteFull {
                obj: obj.clone(),
                data: self.data,
            });
        }
        for (name, value) in self.xattrs {
            ops.push(Op::SetXattr {
                obj: obj.clone(),
                name,
                value,
            });
        }
        if !self.omap_header.is_empty() {
            ops.push(Op::OmapSetHeader {
                obj: obj.clone(),
                header: self.omap_header,
            });
        }
        if !self.omap.is_empty() {
            ops.push(Op::OmapSet {
                obj: obj.clone(),
                entries: self.omap,
            });
        }
        ops
    }
}
