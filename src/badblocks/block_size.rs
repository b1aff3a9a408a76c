//! Choosing `badblocks -b` so the drive fits badblocks' 32-bit block numbers.

/// The smallest block size we pass: badblocks' own default `-b` (`E2@HEAD:misc/badblocks.8.in`).
/// Going below it on 512-byte-sector drives only makes the reported block numbers finer and the
/// I/O smaller; it never makes a test possible that 1024 would not.
pub const MIN_BLOCK_SIZE: u32 = 1024;

/// The largest `-b` badblocks accepts: `block_size > (1 << 24)` is "Invalid block size"
/// (`E2@HEAD:misc/badblocks.c`, `main`).
pub const MAX_BLOCK_SIZE: u32 = 1 << 24;

/// The `-b` to run badblocks with on a device of `device_bytes` whose physical sector is
/// `physical_sector` bytes.
///
/// The rule, from `E2@HEAD:misc/badblocks.c` `main` (reference/truenas-api.md §6): badblocks
/// sets `last_block = device_bytes / b` (the block COUNT, from `ext2fs_get_device_size2`, i.e.
/// one past the last index it tests) and refuses with "invalid end block (N): must be 32-bit
/// value" when `last_block >> 32 != 0`. So the count `floor(device_bytes / b)` must be at most
/// 2^32 − 1, which makes the last tested index at most 2^32 − 2.
///
/// The answer is the smallest power of two that is at least the physical sector size (writing
/// less than a physical sector makes the drive read-modify-write) and at least
/// [`MIN_BLOCK_SIZE`] and satisfies the rule. It is capped at [`MAX_BLOCK_SIZE`]; a device too
/// large even for that (over 2^56 bytes) gets the cap, and badblocks' refusal is then reported
/// by the output parser.
pub fn choose_block_size(device_bytes: u64, physical_sector: u32) -> u32 {
    let floor =
        physical_sector.max(MIN_BLOCK_SIZE).checked_next_power_of_two().unwrap_or(MAX_BLOCK_SIZE);
    let mut block_size = floor.min(MAX_BLOCK_SIZE);
    while device_bytes / u64::from(block_size) > u64::from(u32::MAX) && block_size < MAX_BLOCK_SIZE
    {
        block_size *= 2;
    }
    block_size
}
