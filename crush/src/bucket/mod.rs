//! Buckets: the interior nodes of the CRUSH hierarchy and their five choice
//! algorithms (uniform, list, tree, legacy straw, straw2).
//!
//! A bucket keeps its items with their 16.16 fixed-point weights. Some
//! algorithms also need data derived from the weights (running sums, tree node
//! weights, straw lengths); Ceph computes it when a bucket is built, and so do
//! we, in [`Bucket::rebuild`]. Each algorithm lives in its own file with its
//! derivation and its `choose`.

mod list;
mod ln_table;
mod straw;
mod straw2;
mod tree;
mod uniform;

pub(crate) use uniform::perm_choose;

use crate::error::CrushError;
use crate::weight_set::ChooseArg;

/// A bucket's choice algorithm, with Ceph's numeric ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BucketAlg {
    Uniform = 1,
    List = 2,
    Tree = 3,
    Straw = 4,
    Straw2 = 5,
}

impl BucketAlg {
    /// The name used in the text format (`alg straw2`).
    pub fn name(self) -> &'static str {
        match self {
            BucketAlg::Uniform => "uniform",
            BucketAlg::List => "list",
            BucketAlg::Tree => "tree",
            BucketAlg::Straw => "straw",
            BucketAlg::Straw2 => "straw2",
        }
    }

    /// Parses a text-format algorithm name.
    pub fn from_name(name: &str) -> Option<BucketAlg> {
        Some(match name {
            "uniform" => BucketAlg::Uniform,
            "list" => BucketAlg::List,
            "tree" => BucketAlg::Tree,
            "straw" => BucketAlg::Straw,
            "straw2" => BucketAlg::Straw2,
            _ => return None,
        })
    }

    /// Bit in the `allowed_bucket_algs` tunable.
    pub fn mask_bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// Data derived from the item weights, per algorithm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Derived {
    None,
    /// List: `sums[i]` = weight of items `0..=i`.
    List(Vec<u32>),
    /// Tree: node weights, indexed by node number (leaves are odd).
    Tree(Vec<u32>),
    /// Legacy straw: one straw length per item.
    Straw(Vec<u32>),
    /// straw2: an exact reciprocal of each item weight (the draw's divisor).
    Straw2(Vec<Option<straw2::Reciprocal>>),
}

/// One bucket of the hierarchy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bucket {
    /// Negative id; the bucket's slot in the map is `-1 - id`.
    pub id: i32,
    /// Type id (host, rack, ...), see [`crate::CrushMap::types`].
    pub type_id: i32,
    pub name: String,
    pub alg: BucketAlg,
    /// Hash algorithm; only `0` (rjenkins1) exists.
    pub hash: u8,
    /// Items in choice order: devices (>= 0) and buckets (< 0).
    pub items: Vec<i32>,
    /// 16.16 fixed-point weight of each item, parallel to `items`.
    pub weights: Vec<u32>,
    pub(crate) derived: Derived,
}

impl Bucket {
    /// Builds a bucket and derives its algorithm data. `straw_calc_version`
    /// only matters for legacy straw buckets.
    pub fn new(
        id: i32,
        name: impl Into<String>,
        type_id: i32,
        alg: BucketAlg,
        items: Vec<(i32, u32)>,
        straw_calc_version: u8,
    ) -> Result<Bucket, CrushError> {
        let name = name.into();
        let (items, weights): (Vec<i32>, Vec<u32>) = items.into_iter().unzip();
        let mut b = Bucket {
            id,
            type_id,
            name,
            alg,
            hash: crate::hash::HASH_RJENKINS1,
            items,
            weights,
            derived: Derived::None,
        };
        b.rebuild(straw_calc_version)?;
        Ok(b)
    }

    /// Recomputes the derived data after items or weights changed.
    pub fn rebuild(&mut self, straw_calc_version: u8) -> Result<(), CrushError> {
        if self.items.len() != self.weights.len() {
            return Err(CrushError::Invalid(format!(
                "bucket {}: {} items but {} weights",
                self.name,
                self.items.len(),
                self.weights.len()
            )));
        }
        self.total_weight()?;
        self.derived = match self.alg {
            BucketAlg::Uniform => Derived::None,
            BucketAlg::List => Derived::List(list::sums(&self.weights)),
            BucketAlg::Tree => Derived::Tree(tree::node_weights(&self.weights)?),
            BucketAlg::Straw => Derived::Straw(straw::straws(&self.weights, straw_calc_version)),
            BucketAlg::Straw2 => Derived::Straw2(straw2::reciprocals(&self.weights)),
        };
        Ok(())
    }

    /// Uniform buckets must have equal item weights; Ceph's compiler and
    /// builder refuse others (shadow clones are exempt, as in Ceph).
    pub fn check_uniform_weights(&self) -> Result<(), CrushError> {
        if self.alg == BucketAlg::Uniform {
            uniform::check_weights(self)?;
        }
        Ok(())
    }

    /// Number of items.
    pub fn size(&self) -> usize {
        self.items.len()
    }

    /// The bucket's weight: the sum of its item weights.
    pub fn weight(&self) -> u32 {
        self.weights.iter().fold(0u32, |a, w| a.wrapping_add(*w))
    }

    /// The sum of item weights, or an error if it overflows 16.16 fixed point.
    pub fn total_weight(&self) -> Result<u32, CrushError> {
        self.weights.iter().try_fold(0u32, |a, w| {
            a.checked_add(*w).ok_or_else(|| {
                CrushError::Invalid(format!("bucket {}: total weight overflows", self.name))
            })
        })
    }

    /// Weight of `item` in this bucket, if it is an item.
    pub fn item_weight(&self, item: i32) -> Option<u32> {
        self.items
            .iter()
            .position(|i| *i == item)
            .map(|p| self.weights[p])
    }

    /// Chooses one item for input `x` and replica rank `r`. `arg` is the
    /// weight-set override for this bucket (straw2 only) and `position` the
    /// output position it is chosen for.
    #[inline]
    pub(crate) fn choose(&self, x: i32, r: i32, arg: Option<&ChooseArg>, position: usize) -> i32 {
        match (&self.alg, &self.derived) {
            (BucketAlg::Straw2, Derived::Straw2(recip)) => {
                straw2::choose(self, recip, x, r, arg, position)
            }
            (BucketAlg::Uniform, _) => perm_choose(self, x, r),
            (BucketAlg::List, Derived::List(sums)) => list::choose(self, sums, x, r),
            (BucketAlg::Tree, Derived::Tree(nodes)) => tree::choose(self, nodes, x, r),
            (BucketAlg::Straw, Derived::Straw(straws)) => straw::choose(self, straws, x, r),
            // Derived data is always built with the bucket; Ceph falls back
            // to the first item for an unknown algorithm.
            _ => self.items[0],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebuild_rejects_overflowing_weights() {
        let r = Bucket::new(
            -1,
            "b",
            1,
            BucketAlg::Straw2,
            vec![(0, u32::MAX), (1, 2)],
            1,
        );
        assert!(matches!(r, Err(CrushError::Invalid(m)) if m.contains("overflows")));
    }

    #[test]
    fn alg_names_round_trip() {
        for alg in [
            BucketAlg::Uniform,
            BucketAlg::List,
            BucketAlg::Tree,
            BucketAlg::Straw,
            BucketAlg::Straw2,
        ] {
            assert_eq!(BucketAlg::from_name(alg.name()), Some(alg));
        }
        assert_eq!(BucketAlg::from_name("straw3"), None);
    }
}
