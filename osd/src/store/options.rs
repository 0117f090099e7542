//! The store's limits and layout choices, and the checks every
//! implementation applies to a transaction before touching anything.

use super::error::StoreError;
use super::transaction::{Op, Transaction};
use super::Result;

/// Limits and layout choices.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Objects up to this size keep their bytes inline in RocksDB.
    pub inline_max: u64,
    /// Largest object (Ceph's `osd_max_object_size`, 128 MiB).
    pub max_object_size: u64,
    pub max_xattr_value: u64,
    pub max_omap_key: u64,
    pub max_omap_value: u64,
    /// Longest object name or namespace (Ceph's `osd_max_object_name_len`).
    pub max_name_len: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            inline_max: 64 * 1024,
            max_object_size: 128 << 20,
            max_xattr_value: 64 * 1024,
            max_omap_key: 4096,
            max_omap_value: 16 << 20,
            max_name_len: 2048,
        }
    }
}

/// Refuses a transaction that breaks a limit or names an object badly,
/// before any of it is applied.
pub(crate) fn validate(t: &Transaction, o: &StoreOptions) -> Result<()> {
    let too_large = |what: String, size: u64, max: u64| -> Result<()> {
        if size > max {
            return Err(StoreError::TooLarge { what, size, max });
        }
        Ok(())
    };
    for op in &t.ops {
        let obj = op.object();
        for (label, s) in [("object name", &obj.name), ("namespace", &obj.ns)] {
            if s.contains('\0') {
                return Err(StoreError::Invalid(format!(
                    "{label} {s:?} contains a NUL byte"
                )));
            }
            too_large(
                format!("{label} of {obj}"),
                s.len() as u64,
                o.max_name_len as u64,
            )?;
        }
        if obj.name.is_empty() {
            return Err(StoreError::Invalid("object name is empty".into()));
        }
        match op {
            Op::Write { offset, data, .. } => too_large(
                format!("object {obj}"),
                offset.saturating_add(data.len() as u64),
                o.max_object_size,
            )?,
            Op::WriteFull { data, .. } => too_large(
                format!("object {obj}"),
                data.len() as u64,
                o.max_object_size,
            )?,
            Op::Truncate { size, .. } => {
                too_large(format!("object {obj}"), *size, o.max_object_size)?
            }
            Op::SetXattr { name, value, .. } => {
                if name.is_empty() {
                    return Err(StoreError::Invalid(format!("empty xattr name on {obj}")));
                }
                too_large(
                    format!("xattr {name:?} of {obj}"),
                    value.len() as u64,
                    o.max_xattr_value,
                )?
            }
            Op::OmapSet { entries, .. } => {
                for (k, v) in entries {
                    too_large(format!("omap key of {obj}"), k.len() as u64, o.max_omap_key)?;
                    too_large(
                        format!("omap value of {obj}"),
                        v.len() as u64,
                        o.max_omap_value,
                    )?;
                }
            }
            Op::OmapSetHeader { header, .. } => too_large(
                format!("omap header of {obj}"),
                header.len() as u64,
                o.max_omap_value,
            )?,
            _ => {}
        }
    }
    Ok(())
}
