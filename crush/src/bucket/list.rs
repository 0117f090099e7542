//! List buckets: items are tried from the most recently added backwards, each
//! accepted with probability weight / (weight of it and everything before).

use super::Bucket;
use crate::hash::hash32_4;

pub(super) fn sums(weights: &[u32]) -> Vec<u32> {
    let mut acc = 0u32;
    weights
        .iter()
        .map(|w| {
            acc = acc.wrapping_add(*w);
            acc
        })
        .collect()
}

pub(super) fn choose(b: &Bucket, sums: &[u32], x: i32, r: i32) -> i32 {
    for i in (0..b.items.len()).rev() {
        let mut w =
            u64::from(hash32_4(x as u32, b.items[i] as u32, r as u32, b.id as u32) & 0xffff);
        w = (w * u64::from(sums[i])) >> 16;
        if w < u64::from(b.weights[i]) {
            return b.items[i];
        }
    }
    b.items[0]
}
