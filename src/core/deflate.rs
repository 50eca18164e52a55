//! [`Part`]: a piece of text deflated once, ending at a sync flush, with its CRC-32 and length,
//! so that any sequence of parts joins into one valid deflate stream without recompressing.
//! The store keeps each tenant's rendered series as parts; the exposition joins them.

use bytes::Bytes;
use std::io::Write;

/// One compressed piece of the exposition.
#[derive(Clone, Debug, Default)]
pub struct Part {
    /// Raw deflate, ending at a sync flush.
    pub deflated: Bytes,
    /// CRC-32 of the text.
    pub crc: u32,
    /// Length of the text.
    pub len: u64,
}

impl Part {
    /// Compresses `text` into a part that more parts can follow.
    pub fn new(text: &[u8]) -> Part {
        if text.is_empty() {
            return Part::default();
        }
        let mut enc = flate2::write::DeflateEncoder::new(
            Vec::with_capacity(text.len() / 4 + 64),
            flate2::Compression::fast(),
        );
        // flush() is a sync flush: everything so far is emitted, byte aligned, stream open.
        let deflated = match enc.write_all(text).and_then(|_| enc.flush()) {
            Ok(()) => std::mem::take(enc.get_mut()),
            Err(_) => Vec::new(),
        };
        Part {
            deflated: deflated.into(),
            crc: crc32fast::hash(text),
            len: text.len() as u64,
        }
    }

    /// The text back (for plain-text scrapes and tests).
    pub fn inflate(&self) -> Vec<u8> {
        if self.len == 0 {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(self.len as usize);
        let mut dec = flate2::Decompress::new(false);
        // The stream has no final block, so the decoder stops when input runs out; the output
        // buffer is sized exactly, so one call is enough.
        let _ = dec.decompress_vec(&self.deflated, &mut out, flate2::FlushDecompress::Sync);
        out
    }
}
