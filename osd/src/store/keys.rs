//! How the store lays its records out in RocksDB keys.
//!
//! A collection prefix is 13 bytes: pool (u64), seed (u32) and shard (0xff
//! for none), big-endian so that collections sort by id. An object key is
//! the prefix, the object's hash with its bits reversed (Ceph's "bitwise"
//! order: after a PG splits by the hash's low bits, each child's objects are
//! still one contiguous range), the namespace, a 0 byte and the name. Names
//! and namespaces may not contain a 0 byte, so `object key ++ 0` is a prefix
//! unique to one object, under which its xattrs and omap live.

use super::types::{CollectionId, ObjectId};

pub const COLL_PREFIX_LEN: usize = 13;

pub fn coll_prefix(c: &CollectionId) -> [u8; COLL_PREFIX_LEN] {
    let mut k = [0u8; COLL_PREFIX_LEN];
    k[..8].copy_from_slice(&c.pool.to_be_bytes());
    k[8..12].copy_from_slice(&c.seed.to_be_bytes());
    k[12] = c.shard.unwrap_or(0xff);
    k
}

pub fn decode_coll(k: &[u8]) -> Option<CollectionId> {
    if k.len() < COLL_PREFIX_LEN {
        return None;
    }
    let pool = u64::from_be_bytes(k[..8].try_into().ok()?);
    let seed = u32::from_be_bytes(k[8..12].try_into().ok()?);
    let shard = (k[12] != 0xff).then_some(k[12]);
    Some(CollectionId { pool, seed, shard })
}

pub fn object_key(c: &CollectionId, o: &ObjectId) -> Vec<u8> {
    let mut k = coll_prefix(c).to_vec();
    k.extend_from_slice(&o.sort_key());
    k
}

pub fn decode_object_key(k: &[u8]) -> Option<(CollectionId, ObjectId)> {
    let c = decode_coll(k)?;
    let rest = k.get(COLL_PREFIX_LEN + 4..)?;
    let sep = rest.iter().position(|b| *b == 0)?;
    let ns = String::from_utf8(rest[..sep].to_vec()).ok()?;
    let name = String::from_utf8(rest[sep + 1..].to_vec()).ok()?;
    Some((c, ObjectId { ns, name }))
}

/// Prefix of all of one object's xattr or omap records.
pub fn object_sub_prefix(c: &CollectionId, o: &ObjectId) -> Vec<u8> {
    let mut k = object_key(c, o);
    k.push(0);
    k
}

pub fn xattr_key(c: &CollectionId, o: &ObjectId, name: &str) -> Vec<u8> {
    let mut k = object_sub_prefix(c, o);
    k.extend_from_slice(name.as_bytes());
    k
}

/// The omap header sorts before the object's omap keys.
pub fn omap_header_key(c: &CollectionId, o: &ObjectId) -> Vec<u8> {
    let mut k = object_sub_prefix(c, o);
    k.push(0);
    k
}

pub fn omap_key_prefix(c: &CollectionId, o: &ObjectId) -> Vec<u8> {
    let mut k = object_sub_prefix(c, o);
    k.push(1);
    k
}

/// A key of the PG's own metadata: the collection prefix, then the PG
/// layer's key.
pub fn pg_meta_key(c: &CollectionId, key: &[u8]) -> Vec<u8> {
    let mut k = coll_prefix(c).to_vec();
    k.extend_from_slice(key);
    k
}

/// The smallest key strictly greater than every key starting with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last != 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_stay_inside_their_collection() {
        let c = CollectionId::shard(3, 0x1f, 2);
        let o = ObjectId::new("ns", "name/with\u{1}odd bytes");
        let k = object_key(&c, &o);
        assert_eq!(decode_object_key(&k), Some((c, o.clone())));
        let p = coll_prefix(&c);
        let end = prefix_end(&p).unwrap();
        assert!(k.as_slice() > p.as_slice() && k < end);
        assert!(xattr_key(&c, &o, "a").starts_with(&object_sub_prefix(&c, &o)));
        assert!(omap_header_key(&c, &o) < omap_key_prefix(&c, &o));
        assert_eq!(prefix_end(&[1, 0xff, 0xff]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xff]), None);
    }
}
