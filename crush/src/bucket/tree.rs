//! Tree buckets: a binary tree over the items whose interior nodes carry the
//! weight below them; a draw descends left or right in proportion.
//!
//! Nodes are numbered so that leaves are odd (item `i` is node `2i + 1`) and
//! a node's height is its number of trailing zero bits.

use super::Bucket;
use crate::error::CrushError;
use crate::hash::hash32_4;

fn depth(size: usize) -> u32 {
    if size == 0 {
        return 0;
    }
    let mut depth = 1;
    let mut t = size - 1;
    while t != 0 {
        t >>= 1;
        depth += 1;
    }
    depth
}

fn height(n: u32) -> u32 {
    n.trailing_zeros()
}

fn parent(n: u32) -> u32 {
    let h = height(n);
    if n & (1 << (h + 1)) != 0 {
        n - (1 << h)
    } else {
        n + (1 << h)
    }
}

pub(super) fn node_weights(weights: &[u32]) -> Result<Vec<u32>, CrushError> {
    let depth = depth(weights.len());
    if depth == 0 {
        return Ok(Vec::new());
    }
    let mut nodes = vec![0u32; 1usize << depth];
    for (i, w) in weights.iter().enumerate() {
        let mut node = ((i as u32 + 1) << 1) - 1;
        nodes[node as usize] = *w;
        for _ in 1..depth {
            node = parent(node);
            nodes[node as usize] = nodes[node as usize]
                .checked_add(*w)
                .ok_or_else(|| CrushError::Invalid("tree bucket weight overflows".into()))?;
        }
    }
    Ok(nodes)
}

pub(super) fn choose(b: &Bucket, nodes: &[u32], x: i32, r: i32) -> i32 {
    let mut n = (nodes.len() >> 1) as u32;
    while n & 1 == 0 {
        let w = u64::from(nodes[n as usize]);
        let t = (u64::from(hash32_4(x as u32, n, r as u32, b.id as u32)) * w) >> 32;
        let h = height(n);
        let left = n - (1 << (h - 1));
        n = if t < u64::from(nodes[left as usize]) {
            left
        } else {
            n + (1 << (h - 1))
        };
    }
    b.items[(n >> 1) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interior_nodes_sum_their_leaves() {
        let w = [1u32, 2, 3, 4, 5];
        let nodes = node_weights(&w).unwrap();
        assert_eq!(nodes.len(), 16);
        assert_eq!(nodes[8], 15, "root carries the total");
        assert_eq!(nodes[4], 10, "left subtree holds items 0..4");
        assert_eq!(nodes[2], 3);
        assert_eq!(nodes[9], 5);
    }
}
