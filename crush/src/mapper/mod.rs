//! The mapper: runs a rule for an input `x` and returns the chosen devices,
//! exactly as Ceph's `crush_do_rule` does, holes included.
//!
//! `firstn` and `indep` choosing live in their own files; this file holds the
//! rule interpreter and what both share (the context, the "is out" test).

mod firstn;
mod indep;

use crate::bucket::Bucket;
use crate::map::CrushMap;
use crate::rule::{ChooseMode, Step};
use crate::weight_set::{ChooseArg, ResolvedChooseArgs};

/// A position `indep` could not fill (`CRUSH_ITEM_NONE`).
pub const ITEM_NONE: i32 = 0x7fff_ffff;
/// Internal marker for a position not decided yet.
const ITEM_UNDEF: i32 = 0x7fff_fffe;
/// A reweight of 1.0 in 16.16 fixed point: fully in.
pub const WEIGHT_IN: u32 = 0x10000;

/// Scratch space for [`CrushMap::do_rule_with`], reusable across calls so a
/// hot loop does not allocate.
#[derive(Default, Debug)]
pub struct Workspace {
    w: Vec<i32>,
    o: Vec<i32>,
    c: Vec<i32>,
}

/// What every choose call needs to see.
struct Ctx<'a> {
    map: &'a CrushMap,
    weights: &'a [u32],
    x: i32,
    choose_args: Option<&'a ResolvedChooseArgs>,
}

impl<'a> Ctx<'a> {
    #[inline]
    fn arg(&self, bucket: &Bucket) -> Option<&'a ChooseArg> {
        self.choose_args.and_then(|a| a.get(bucket.id))
    }

    /// The type of an item: 0 for devices, the bucket's type otherwise;
    /// `None` for a bucket id with no bucket.
    #[inline]
    fn item_type(&self, item: i32) -> Option<i32> {
        if item >= 0 {
            Some(0)
        } else {
            self.map.bucket(item).map(|b| b.type_id)
        }
    }

    /// True if device `item` is out for this input: reweight 0, or a partial
    /// reweight whose hash test rejects this `x`.
    #[inline]
    fn is_out(&self, item: i32) -> bool {
        let Some(&w) = self.weights.get(item as usize) else {
            return true;
        };
        if w >= WEIGHT_IN {
            return false;
        }
        if w == 0 {
            return true;
        }
        (crate::hash::hash32_2(self.x as u32, item as u32) & 0xffff) >= w
    }
}

impl CrushMap {
    /// Runs rule `rule` for input `x`, returning at most `result_max` items.
    /// `weights[d]` is device `d`'s reweight in 16.16 fixed point
    /// (0 = out, 0x10000 = in); devices past the end of `weights` are out.
    pub fn do_rule(
        &self,
        rule: u32,
        x: i32,
        result_max: usize,
        weights: &[u32],
        choose_args: Option<&ResolvedChooseArgs>,
    ) -> Vec<i32> {
        let mut out = Vec::with_capacity(result_max);
        self.do_rule_with(
            rule,
            x,
            result_max,
            weights,
            choose_args,
            &mut Workspace::default(),
            &mut out,
        );
        out
    }

    /// [`CrushMap::do_rule`] into caller-provided buffers.
    #[allow(clippy::too_many_arguments)]
    pub fn do_rule_with(
        &self,
        rule: u32,
        x: i32,
        result_max: usize,
        weights: &[u32],
        choose_args: Option<&ResolvedChooseArgs>,
        ws: &mut Workspace,
        result: &mut Vec<i32>,
    ) {
        result.clear();
        let Some(rule) = self.rule(rule) else {
            return;
        };
        let slots = result_max.max(1);
        for v in [&mut ws.w, &mut ws.o, &mut ws.c] {
            v.clear();
            v.resize(slots, 0);
        }
        // Ceph also rejects chosen items >= max_devices; ours is derived from
        // the bucket items themselves, so only `take` of a device can exceed it.
        let ctx = Ctx {
            map: self,
            weights,
            x,
            choose_args,
        };
        let t = &self.tunables;
        let mut choose_tries = t.choose_total_tries.wrapping_add(1);
        let mut choose_leaf_tries = 0u32;
        let mut local_retries = t.choose_local_tries;
        let mut local_fallback_retries = t.choose_local_fallback_tries;
        let mut vary_r = u32::from(t.chooseleaf_vary_r);
        let mut stable = u32::from(t.chooseleaf_stable);
        let (w, o, c) = (&mut ws.w, &mut ws.o, &mut ws.c);
        let mut wsize = 0usize;

        for step in &rule.steps {
            match *step {
                Step::Noop => {}
                Step::Take(item) => {
                    let valid = if item >= 0 {
                        item < self.max_devices()
                    } else {
                        self.bucket(item).is_some()
                    };
                    if valid {
                        w[0] = item;
                        wsize = 1;
                    }
                }
                Step::SetChooseTries(n) if n > 0 => choose_tries = n as u32,
                Step::SetChooseleafTries(n) if n > 0 => choose_leaf_tries = n as u32,
                Step::SetChooseLocalTries(n) if n >= 0 => local_retries = n as u32,
                Step::SetChooseLocalFallbackTries(n) if n >= 0 => local_fallback_retries = n as u32,
                Step::SetChooseleafVaryR(n) if n >= 0 => vary_r = n as u32,
                Step::SetChooseleafStable(n) if n >= 0 => stable = n as u32,
                Step::SetChooseTries(_)
                | Step::SetChooseleafTries(_)
                | Step::SetChooseLocalTries(_)
                | Step::SetChooseLocalFallbackTries(_)
                | Step::SetChooseleafVaryR(_)
                | Step::SetChooseleafStable(_) => {}
                Step::Choose {
                    mode,
                    leaf,
                    count,
                    type_id,
                } => {
                    if wsize == 0 {
                        continue;
                    }
                    let mut osize = 0usize;
                    for &taken in w[..wsize].iter() {
                        let mut numrep = count;
                        if numrep <= 0 {
                            numrep += result_max as i32;
                            if numrep <= 0 {
                                continue;
                            }
                        }
                        // Skips holes and devices left by an earlier step.
                        let Some(bucket) = (if taken < 0 { self.bucket(taken) } else { None })
                        else {
                            continue;
                        };
                        let room = result_max.saturating_sub(osize);
                        match mode {
                            ChooseMode::Firstn => {
                                let recurse_tries = if choose_leaf_tries != 0 {
                                    choose_leaf_tries
                                } else if t.chooseleaf_descend_once != 0 {
                                    1
                                } else {
                                    choose_tries
                                };
                                let p = firstn::Params {
                                    tries: choose_tries,
                                    recurse_tries,
                                    local_retries,
                                    local_fallback_retries,
                                    recurse_to_leaf: leaf,
                                    vary_r,
                                    stable,
                                };
                                osize += firstn::choose(
                                    &ctx,
                                    bucket,
                                    numrep,
                                    type_id,
                                    &mut o[osize..],
                                    0,
                                    room as i32,
                                    &p,
                                    Some(&mut c[osize..]),
                                    0,
                                );
                            }
                            ChooseMode::Indep => {
                                let out_size = (numrep as usize).min(room);
                                let p = indep::Params {
                                    tries: choose_tries,
                                    recurse_tries: if choose_leaf_tries != 0 {
                                        choose_leaf_tries
                                    } else {
                                        1
                                    },
                                    recurse_to_leaf: leaf,
                                };
                                indep::choose(
                                    &ctx,
                                    bucket,
                                    out_size,
                                    numrep,
                                    type_id,
                                    &mut o[osize..],
                                    0,
                                    &p,
                                    Some(&mut c[osize..]),
                                    0,
                                );
                                osize += out_size;
                            }
                        }
                    }
                    if leaf {
                        o[..osize].copy_from_slice(&c[..osize]);
                    }
                    std::mem::swap(w, o);
                    wsize = osize;
                }
                Step::Emit => {
                    for &item in &w[..wsize] {
                        if result.len() >= result_max {
                            break;
                        }
                        result.push(item);
                    }
                    wsize = 0;
                }
            }
        }
    }
}
