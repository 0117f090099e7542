//! `choose indep`: every output position is chosen on its own and keeps its
//! place; a position that cannot be filled becomes a hole (`ITEM_NONE`).
//! Erasure-coded pools need this: position = shard number.

use super::{Ctx, ITEM_NONE, ITEM_UNDEF};
use crate::bucket::{Bucket, BucketAlg};

pub(super) struct Params {
    pub tries: u32,
    pub recurse_tries: u32,
    pub recurse_to_leaf: bool,
}

/// Fills `out[outpos..outpos + left]` with distinct items of `type_id` below
/// `bucket` (and `out2` with a device below each when recursing to leaves).
#[allow(clippy::too_many_arguments)]
pub(super) fn choose(
    ctx: &Ctx<'_>,
    bucket: &Bucket,
    left: usize,
    numrep: i32,
    type_id: i32,
    out: &mut [i32],
    outpos: usize,
    p: &Params,
    mut out2: Option<&mut [i32]>,
    parent_r: i32,
) {
    let endpos = outpos + left;
    let mut left = left;
    out[outpos..endpos].fill(ITEM_UNDEF);
    if let Some(o2) = out2.as_deref_mut() {
        o2[outpos..endpos].fill(ITEM_UNDEF);
    }
    let mut ftotal: u32 = 0;
    while left > 0 && ftotal < p.tries {
        for rep in outpos..endpos {
            if out[rep] != ITEM_UNDEF {
                continue;
            }
            let mut inb = bucket;
            loop {
                // Base the choice on the position even in nested calls, so a
                // bucket chosen for another position tends to yield another item.
                let mut r = (rep as i32).wrapping_add(parent_r);
                let stride = if inb.alg == BucketAlg::Uniform
                    && (inb.size() as u32).is_multiple_of(numrep as u32)
                {
                    numrep.wrapping_add(1)
                } else {
                    numrep
                };
                r = r.wrapping_add((stride as u32).wrapping_mul(ftotal) as i32);
                if inb.size() == 0 {
                    break;
                }
                let item = inb.choose(ctx.x, r, ctx.arg(inb), outpos);
                let itemtype = ctx.item_type(item);
                let next_bucket = match itemtype {
                    Some(t) if t != type_id => ctx.map.bucket(item).filter(|_| item < 0),
                    _ => None,
                };
                let bad = match itemtype {
                    None => true,
                    Some(t) => t != type_id && next_bucket.is_none(),
                };
                if bad {
                    out[rep] = ITEM_NONE;
                    if let Some(o2) = out2.as_deref_mut() {
                        o2[rep] = ITEM_NONE;
                    }
                    left -= 1;
                    break;
                }
                if let Some(b) = next_bucket {
                    inb = b;
                    continue;
                }
                if out[outpos..endpos].contains(&item) {
                    break;
                }
                if p.recurse_to_leaf {
                    let o2 = out2
                        .as_deref_mut()
                        .expect("leaf output with recurse_to_leaf");
                    if item < 0 {
                        let sub = ctx.map.bucket(item).expect("checked above");
                        let leaf = Params {
                            tries: p.recurse_tries,
                            recurse_tries: 0,
                            recurse_to_leaf: false,
                        };
                        choose(ctx, sub, 1, numrep, 0, o2, rep, &leaf, None, r);
                        if o2[rep] == ITEM_NONE {
                            break;
                        }
                    } else {
                        o2[rep] = item;
                    }
                }
                if itemtype == Some(0) && ctx.is_out(item) {
                    break;
                }
                out[rep] = item;
                left -= 1;
                break;
            }
        }
        ftotal += 1;
    }
    for v in &mut out[outpos..endpos] {
        if *v == ITEM_UNDEF {
            *v = ITEM_NONE;
        }
    }
    if let Some(o2) = out2 {
        for v in &mut o2[outpos..endpos] {
            if *v == ITEM_UNDEF {
                *v = ITEM_NONE;
            }
        }
    }
}
