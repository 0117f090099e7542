//! `choose firstn`: fill output positions in order; a failed position is
//! skipped, so later results move up (replicated pools).
//!
//! The retry structure is Ceph's: a rejected or colliding item is retried in
//! the same bucket a few times (`local_retries`), optionally by exhaustive
//! permutation (`local_fallback_retries`), then by a fresh descent from the
//! top with a new `r`, up to `tries` in total.

use super::Ctx;
use crate::bucket::{perm_choose, Bucket};

pub(super) struct Params {
    pub tries: u32,
    pub recurse_tries: u32,
    pub local_retries: u32,
    pub local_fallback_retries: u32,
    pub recurse_to_leaf: bool,
    pub vary_r: u32,
    pub stable: u32,
}

/// Chooses up to `numrep` distinct items of `type_id` below `bucket` into
/// `out[outpos..]` (at most `out_size` of them); with `recurse_to_leaf`, also
/// one device below each into `out2`. Returns the new `outpos`.
#[allow(clippy::too_many_arguments)]
pub(super) fn choose(
    ctx: &Ctx<'_>,
    bucket: &Bucket,
    numrep: i32,
    type_id: i32,
    out: &mut [i32],
    mut outpos: usize,
    out_size: i32,
    p: &Params,
    mut out2: Option<&mut [i32]>,
    parent_r: i32,
) -> usize {
    let mut count = out_size;
    let mut rep: i32 = if p.stable != 0 { 0 } else { outpos as i32 };
    while rep < numrep && count > 0 {
        let mut ftotal: u32 = 0;
        let mut skip_rep = false;
        let mut item = 0i32;
        loop {
            let mut retry_descent = false;
            let mut inb = bucket;
            let mut flocal: u32 = 0;
            loop {
                let mut collide = false;
                let mut retry_bucket = false;
                let r = rep.wrapping_add(parent_r).wrapping_add(ftotal as i32);
                let mut reject = false;
                if inb.size() == 0 {
                    reject = true;
                } else {
                    item = if p.local_fallback_retries > 0
                        && flocal >= (inb.size() as u32 >> 1)
                        && flocal > p.local_fallback_retries
                    {
                        perm_choose(inb, ctx.x, r)
                    } else {
                        inb.choose(ctx.x, r, ctx.arg(inb), outpos)
                    };
                    let Some(itemtype) = ctx.item_type(item) else {
                        skip_rep = true;
                        break;
                    };
                    if itemtype != type_id {
                        match ctx.map.bucket(item) {
                            Some(b) if item < 0 => {
                                inb = b;
                                continue;
                            }
                            _ => {
                                skip_rep = true;
                                break;
                            }
                        }
                    }
                    collide = out[..outpos].contains(&item);
                    if !collide && p.recurse_to_leaf {
                        let out2 = out2
                            .as_deref_mut()
                            .expect("leaf output with recurse_to_leaf");
                        if item < 0 {
                            let sub_r = if p.vary_r != 0 {
                                r >> (p.vary_r - 1)
                            } else {
                                0
                            };
                            let leaf = Params {
                                tries: p.recurse_tries,
                                recurse_tries: 0,
                                recurse_to_leaf: false,
                                ..*p
                            };
                            let sub = ctx.map.bucket(item).expect("checked above");
                            let want = if p.stable != 0 { 1 } else { outpos as i32 + 1 };
                            let got =
                                choose(ctx, sub, want, 0, out2, outpos, count, &leaf, None, sub_r);
                            if got <= outpos {
                                reject = true;
                            }
                        } else {
                            out2[outpos] = item;
                        }
                    }
                    if !reject && !collide && itemtype == 0 {
                        reject = ctx.is_out(item);
                    }
                }
                if reject || collide {
                    ftotal += 1;
                    flocal += 1;
                    // Retry in this bucket: a few times after a collision,
                    // or exhaustively when the fallback is on.
                    let local = collide && flocal <= p.local_retries;
                    let fallback = p.local_fallback_retries > 0
                        && flocal <= inb.size() as u32 + p.local_fallback_retries;
                    if local || fallback {
                        retry_bucket = true;
                    } else if ftotal < p.tries {
                        retry_descent = true;
                    } else {
                        skip_rep = true;
                    }
                }
                if !retry_bucket {
                    break;
                }
            }
            if !retry_descent {
                break;
            }
        }
        rep += 1;
        if skip_rep {
            continue;
        }
        out[outpos] = item;
        outpos += 1;
        count -= 1;
    }
    outpos
}
