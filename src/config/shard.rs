//! Sharding: which replica owns a tenant.

/// The shard (of `count`) that owns `tenant`: a fixed hash of the name (FNV-1a, then MurmurHash3's
/// finaliser), so assignment is stable across restarts, versions and replicas, and adding a
/// tenant moves no other.
pub fn shard_of(tenant: &str, count: u32) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in tenant.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // MurmurHash3's finaliser: FNV alone leaves names that differ in a digit close together.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    (h % u64::from(count.max(1))) as u32
}
