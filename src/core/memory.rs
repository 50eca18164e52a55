//! Giving freed memory back to the operating system.
//!
//! glibc's allocator keeps freed memory in each thread's arena for reuse. After a burst of
//! short-lived allocations on many threads (the history fills parse 30 records of JSON per
//! tenant on the blocking pool) the resident size stays at the burst's peak although the data
//! kept is a fraction of it; `malloc_trim` returns the free pages of every arena. Elsewhere (musl,
//! other systems) this does nothing.

/// Returns the allocator's free pages to the OS, where the allocator allows it.
pub fn release_free() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only walks glibc's own arenas (under their locks) and may be called
    // from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
