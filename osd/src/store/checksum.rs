//! Per-block crc32c of object data. Every read verifies the blocks it
//! touches; a mismatch is a corruption error, never bad bytes.

/// Bytes covered by one checksum.
pub const CSUM_BLOCK: u64 = 16 * 1024;

/// Checksums of `data`, which starts at a block boundary.
pub fn block_crcs(data: &[u8]) -> Vec<u32> {
    data.chunks(CSUM_BLOCK as usize)
        .map(crc32c::crc32c)
        .collect()
}

/// The blocks covering `[offset, offset + len)`.
pub fn block_range(offset: u64, len: u64) -> std::ops::Range<u64> {
    if len == 0 {
        return offset / CSUM_BLOCK..offset / CSUM_BLOCK;
    }
    offset / CSUM_BLOCK..(offset + len).div_ceil(CSUM_BLOCK)
}

/// Checks `data` (blocks `first..` of an object) against `crcs`; returns the
/// offset of the first bad block.
pub fn verify(data: &[u8], first_block: u64, crcs: &[u32]) -> Result<(), u64> {
    for (i, chunk) in data.chunks(CSUM_BLOCK as usize).enumerate() {
        let b = first_block + i as u64;
        match crcs.get(b as usize) {
            Some(c) if *c == crc32c::crc32c(chunk) => {}
            _ => return Err(b * CSUM_BLOCK),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_a_flipped_bit_and_names_its_block() {
        let mut data = vec![7u8; (CSUM_BLOCK * 3 + 5) as usize];
        let crcs = block_crcs(&data);
        assert_eq!(crcs.len(), 4);
        assert_eq!(verify(&data, 0, &crcs), Ok(()));
        data[(CSUM_BLOCK * 2 + 9) as usize] ^= 1;
        assert_eq!(verify(&data, 0, &crcs), Err(CSUM_BLOCK * 2));
        assert_eq!(block_range(0, 0), 0..0);
        assert_eq!(block_range(CSUM_BLOCK - 1, 2), 0..2);
    }
}
