//! The `/metrics` body as a list of independently compressed parts.
//!
//! Each tenant's series are rendered and deflated once, when its refresh finishes. A scrape
//! then only joins parts: every part is a raw deflate stream ended by a sync flush (byte
//! aligned, no final block), so any sequence of them followed by one finished stream is a
//! valid deflate stream, and their CRC-32s combine arithmetically into the gzip trailer's
//! (the technique of pigz). Nothing is recompressed per scrape except the exporter's own few
//! series. Only the compressed bytes are kept: a plain-text scrape inflates the parts as the
//! body is written, so 10,000 tenants do not hold 300 MB of text in memory.

use bytes::{Bytes, BytesMut};
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

    /// The parts one after another, as one part: their deflate streams concatenated (each
    /// ends at a sync flush, so the result is one valid stream) and their CRCs combined.
    pub fn join<'a>(parts: impl IntoIterator<Item = &'a Part>) -> Part {
        let mut deflated = BytesMut::new();
        let (mut crc, mut len) = (0u32, 0u64);
        for p in parts {
            if p.len == 0 {
                continue;
            }
            deflated.extend_from_slice(&p.deflated);
            crc = crc_combine::combine(crc, p.crc, p.len);
            len += p.len;
        }
        Part {
            deflated: deflated.freeze(),
            crc,
            len,
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

/// GF(2) arithmetic for combining CRC-32s (as zlib's `crc32_combine_op`).
mod crc_combine {
    const POLY: u32 = 0xedb8_8320;

    /// a(x) * b(x) modulo the CRC polynomial (bit-reflected).
    pub const fn multmodp(a: u32, mut b: u32) -> u32 {
        let mut m: u32 = 1 << 31;
        let mut p: u32 = 0;
        loop {
            if a & m != 0 {
                p ^= b;
                if a & (m - 1) == 0 {
                    break;
                }
            }
            m >>= 1;
            b = if b & 1 != 0 { (b >> 1) ^ POLY } else { b >> 1 };
        }
        p
    }

    /// x^(2^k) modulo the polynomial, for k in 0..32.
    const X2N: [u32; 32] = {
        let mut t = [0u32; 32];
        let mut p: u32 = 1 << 30; // x^1
        t[0] = p;
        let mut n = 1;
        while n < 32 {
            p = multmodp(p, p);
            t[n] = p;
            n += 1;
        }
        t
    };

    /// The CRC of `a ++ b` from the CRCs of `a` and `b` and the length of `b`.
    pub fn combine(crc_a: u32, crc_b: u32, len_b: u64) -> u32 {
        // x^(8 * len_b): multiply by x^(2^k) for each bit k of len_b, starting at 2^3 = 8.
        let mut op: u32 = 1 << 31;
        let (mut n, mut k) = (len_b, 3usize);
        while n != 0 {
            if n & 1 != 0 {
                op = multmodp(X2N[k & 31], op);
            }
            n >>= 1;
            k += 1;
        }
        multmodp(op, crc_a) ^ crc_b
    }
}

/// Small parts are copied into frames of about this size, so many small parts are written as
/// few frames; parts of at least [`BY_REFERENCE`] bytes are sent as they are, without a copy.
const FRAME: usize = 256 * 1024;
const BY_REFERENCE: usize = 16 * 1024;

/// The gzip member holding `parts` and then `tail` (compressed here, and finished).
pub fn gzip<'a>(parts: impl IntoIterator<Item = &'a Part>, tail: &[u8]) -> Vec<Bytes> {
    // Header: magic, deflate, no flags, no mtime, no extra flags, OS unknown.
    let mut frame = BytesMut::with_capacity(FRAME);
    frame.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
    let mut frames = Vec::new();
    let (mut crc, mut len) = (0u32, 0u64);
    for p in parts {
        if p.len == 0 {
            continue;
        }
        crc = crc_combine::combine(crc, p.crc, p.len);
        len += p.len;
        if p.deflated.len() >= BY_REFERENCE {
            if !frame.is_empty() {
                frames.push(frame.split().freeze());
            }
            frames.push(p.deflated.clone());
            continue;
        }
        if frame.len() + p.deflated.len() > FRAME {
            frames.push(frame.split().freeze());
        }
        frame.extend_from_slice(&p.deflated);
    }
    let mut enc = flate2::write::DeflateEncoder::new(
        Vec::with_capacity(tail.len() / 3 + 64),
        flate2::Compression::fast(),
    );
    let rest = enc
        .write_all(tail)
        .and_then(|_| enc.finish())
        .unwrap_or_default();
    frame.extend_from_slice(&rest);
    crc = crc_combine::combine(crc, crc32fast::hash(tail), tail.len() as u64);
    len += tail.len() as u64;
    frame.extend_from_slice(&crc.to_le_bytes());
    // ISIZE is the length modulo 2^32.
    frame.extend_from_slice(&(len as u32).to_le_bytes());
    frames.push(frame.freeze());
    frames
}

/// One piece of a response body: bytes to send as they are, or a part to inflate on the way.
#[derive(Clone, Debug)]
pub enum Piece {
    Plain(Bytes),
    Inflate(Part),
}

impl Piece {
    pub fn len(&self) -> u64 {
        match self {
            Piece::Plain(b) => b.len() as u64,
            Piece::Inflate(p) => p.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes this piece sends.
    pub fn into_bytes(self) -> Bytes {
        match self {
            Piece::Plain(b) => b,
            Piece::Inflate(p) => p.inflate().into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gunzip(chunks: &[Bytes]) -> Vec<u8> {
        use std::io::Read;
        let z = chunks.concat();
        let mut out = Vec::new();
        // GzDecoder (not MultiGzDecoder): the body must be a single member.
        flate2::read::GzDecoder::new(&z[..])
            .read_to_end(&mut out)
            .expect("valid gzip with a matching CRC and length");
        out
    }

    #[test]
    fn any_sequence_of_parts_and_a_tail_is_one_valid_gzip_member() {
        let texts: Vec<Vec<u8>> = (0..300)
            .map(|i| {
                format!("metric{{tenant=\"t{i}\"}} {i}\n")
                    .repeat(i % 7 + 1)
                    .into_bytes()
            })
            .collect();
        let parts: Vec<Part> = texts.iter().map(|t| Part::new(t)).collect();
        let tail = b"# HELP process_open_fds x\nprocess_open_fds 7\n";
        let want = [texts.concat(), tail.to_vec()].concat();
        assert_eq!(gunzip(&gzip(&parts, tail)), want);
        // A selection, with an empty part and an empty tail.
        let some = [&parts[5], &Part::new(b""), &parts[2], &parts[299]];
        let want = [&texts[5][..], &texts[2], &texts[299]].concat();
        assert_eq!(gunzip(&gzip(some, b"")), want);
    }

    #[test]
    fn large_bodies_are_written_in_bounded_frames() {
        let text: Vec<u8> = (0..40_000)
            .flat_map(|i| format!("m{{t=\"{i}\",x=\"{}\"}} 1\n", i * 7919 % 10007).into_bytes())
            .collect();
        let parts: Vec<Part> = text.chunks(997).map(Part::new).collect();
        let frames = gzip(&parts, b"tail 1\n");
        assert!(frames.len() > 1);
        assert!(frames.iter().all(|f| f.len() <= FRAME + 64 * 1024));
        // A large part goes out as it is, not copied.
        let big = Part::join(&parts);
        let frames = gzip([&parts[0], &big], b"");
        assert!(frames.iter().any(|f| f.as_ptr() == big.deflated.as_ptr()));
        assert_eq!(gunzip(&frames), [&text[..997], &text[..]].concat());
        assert_eq!(gunzip(&frames), [&text[..], b"tail 1\n"].concat());
    }

    #[test]
    fn crc_combination_matches_the_crc_of_the_concatenation() {
        let (a, b) = (b"hello, ".as_slice(), b"secure score".as_slice());
        let joined = crc32fast::hash(&[a, b].concat());
        assert_eq!(
            crc_combine::combine(crc32fast::hash(a), crc32fast::hash(b), b.len() as u64),
            joined
        );
        assert_eq!(
            crc_combine::combine(0, crc32fast::hash(b), b.len() as u64),
            crc32fast::hash(b)
        );
    }

    #[test]
    fn joined_parts_are_one_part_of_the_same_text() {
        let texts = ["a 1\n", "", "b{x=\"y\"} 2\n", "c 3\n"];
        let parts: Vec<Part> = texts.iter().map(|t| Part::new(t.as_bytes())).collect();
        let joined = Part::join(&parts);
        assert_eq!(joined.inflate(), texts.concat().as_bytes());
        assert_eq!(joined.crc, crc32fast::hash(texts.concat().as_bytes()));
        let outer = Part::join([&joined, &Part::new(b"d 4\n")]);
        assert_eq!(
            gunzip(&gzip([&outer], b"")),
            b"a 1\nb{x=\"y\"} 2\nc 3\nd 4\n"
        );
    }

    #[test]
    fn parts_inflate_to_their_text() {
        let text = "securescore_up{tenant=\"contoso\"} 1\n".repeat(500);
        let p = Part::new(text.as_bytes());
        assert!(p.deflated.len() < text.len() / 5);
        assert_eq!(p.inflate(), text.as_bytes());
        assert_eq!(Piece::Inflate(p).into_bytes(), text.as_bytes());
    }
}
