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
        let mut out = Vec::new();
        self.inflate_into(&mut out);
        out
    }

    /// Appends the text to `out`. A plain scrape of 10,000 tenants inflates ~200,000 parts, so
    /// each thread keeps one decompressor and resets it per part instead of allocating (and
    /// zeroing) a fresh one each time.
    pub fn inflate_into(&self, out: &mut Vec<u8>) {
        thread_local! {
            static INFLATER: std::cell::RefCell<flate2::Decompress> =
                std::cell::RefCell::new(flate2::Decompress::new(false));
        }
        if self.len == 0 {
            return;
        }
        out.reserve_exact(self.len as usize);
        let start = out.len();
        INFLATER.with_borrow_mut(|dec| {
            dec.reset(false);
            // The stream has no final block, so the decoder stops when input runs out; the
            // output has room for exactly the text, so one call is enough.
            let _ = dec.decompress_vec(&self.deflated, out, flate2::FlushDecompress::Sync);
        });
        // A part is only ever made by `Part::new`; should it not inflate to its length anyway,
        // the body's announced length must still hold.
        out.resize(start + self.len as usize, b'\n');
    }
}
