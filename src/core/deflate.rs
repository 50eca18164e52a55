//! [`Part`]: a piece of text deflated once, ending at a sync flush, with its CRC-32 and length,
//! so that any sequence of parts joins into one valid deflate stream without recompressing.
//! The store keeps each tenant's rendered series as parts; the exposition joins them.

use bytes::Bytes;

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
    ///
    /// A refresh makes one part per family, ~20 a tenant, so each thread keeps one compressor
    /// and resets it: a fresh one allocates and zeroes its window and hash tables (~300 KB)
    /// for a text of a few KB. The output goes to a reused buffer and is copied out at its
    /// exact size, so a part holds no spare capacity.
    pub fn new(text: &[u8]) -> Part {
        thread_local! {
            static DEFLATER: std::cell::RefCell<(flate2::Compress, Vec<u8>)> = std::cell::RefCell::new((
                flate2::Compress::new(flate2::Compression::fast(), false),
                Vec::new(),
            ));
        }
        if text.is_empty() {
            return Part::default();
        }
        let deflated = DEFLATER.with_borrow_mut(|(enc, out)| {
            enc.reset();
            out.clear();
            // Room for the worst case (stored blocks: 5 bytes per 16 KiB, plus the flush), so
            // one call takes all the input and completes the sync flush; it loops only should
            // a backend need more.
            out.reserve(text.len() + text.len() / 1024 + 64);
            let mut taken = 0;
            loop {
                let status = enc.compress_vec(&text[taken..], out, flate2::FlushCompress::Sync);
                taken = enc.total_in() as usize;
                match status {
                    // A sync flush is complete once it had output room left over.
                    Ok(_) if taken == text.len() && out.len() < out.capacity() => {
                        break Bytes::copy_from_slice(out)
                    }
                    Ok(_) => out.reserve(out.capacity().max(64)),
                    // Not reachable with a reset compressor and valid flush; keep the text
                    // servable anyway by giving up on the part (as the encoder did).
                    Err(_) => break Bytes::new(),
                }
            }
        });
        Part {
            deflated,
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
