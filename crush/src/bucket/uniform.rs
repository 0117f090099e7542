//! Uniform buckets: all items weigh the same, and the choice is a
//! pseudo-random permutation of the items keyed by `x`.
//!
//! Ceph caches the permutation in a per-call workspace; the result only
//! depends on `(x, r mod size)`, so we recompute the prefix we need instead,
//! which keeps the mapper free of mutable state.

use super::Bucket;
use crate::error::CrushError;
use crate::hash::hash32_3;

/// Uniform buckets require equal item weights (the compiler refuses others).
pub(super) fn check_weights(b: &Bucket) -> Result<(), CrushError> {
    if let Some(first) = b.weights.first() {
        if b.weights.iter().any(|w| w != first) {
            return Err(CrushError::Invalid(format!(
                "uniform bucket {} has items of different weights",
                b.name
            )));
        }
    }
    Ok(())
}

/// The `r`-th element of the permutation of `b`'s items for input `x`. Also
/// used by firstn's exhaustive local search, which ignores weights.
pub(crate) fn perm_choose(b: &Bucket, x: i32, r: i32) -> i32 {
    let size = b.items.len() as u32;
    let pr = (r as u32) % size;
    let (x, id) = (x as u32, b.id as u32);
    if pr == 0 {
        let s = hash32_3(x, id, 0) % size;
        return b.items[s as usize];
    }
    // Small buckets: keep the permutation on the stack.
    let mut stack = [0u32; 64];
    let mut heap;
    let perm: &mut [u32] = if size as usize <= stack.len() {
        &mut stack[..size as usize]
    } else {
        heap = vec![0u32; size as usize];
        &mut heap[..]
    };
    for (i, p) in perm.iter_mut().enumerate() {
        *p = i as u32;
    }
    for p in 0..=pr {
        if p < size - 1 {
            let i = hash32_3(x, id, p) % (size - p);
            if i != 0 {
                perm.swap(p as usize, (p + i) as usize);
            }
        }
    }
    b.items[perm[pr as usize] as usize]
}
