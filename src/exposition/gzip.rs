//! The `/metrics` body as a list of independently compressed parts.
//!
//! Each tenant's series are rendered and deflated once, when its refresh finishes. A scrape
//! then only joins parts: every part is a raw deflate stream ended by a sync flush (byte
//! aligned, no final block), so any sequence of them followed by one finished stream is a
//! valid deflate stream, and their CRC-32s combine arithmetically into the gzip trailer's
//! (the technique of pigz). Nothing is recompressed or copied per scrape except the exporter's
//! own few series: the body is a list of references to the parts, and the HTTP layer coalesces
//! small ones into frames as it writes (`http::body::Chunks`). Only the compressed bytes are
//! kept: a plain-text scrape inflates the parts as the body is written, so 10,000 tenants do
//! not hold 300 MB of text in memory.

use crate::core::deflate::Part;
use bytes::Bytes;
use std::io::Write;

/// Parts that follow one another, with their combined CRC and length: joining costs no copy.
#[derive(Clone, Debug, Default)]
pub struct Run {
    pub parts: Vec<Part>,
    pub crc: u32,
    pub len: u64,
}

impl Run {
    pub fn new<'a>(parts: impl IntoIterator<Item = &'a Part>) -> Run {
        let mut run = Run::default();
        for p in parts.into_iter().filter(|p| p.len > 0) {
            run.crc = crc_combine::combine(run.crc, p.crc, p.len);
            run.len += p.len;
            run.parts.push(p.clone());
        }
        run
    }

    /// Like [`Run::new`], but the parts' bytes copied into one part: a scrape then writes one
    /// buffer instead of many small ones, for the memory of a second copy.
    pub fn joined<'a>(parts: impl IntoIterator<Item = &'a Part>) -> Run {
        let mut run = Run::new(parts);
        if run.parts.len() > 1 {
            let mut bytes =
                bytes::BytesMut::with_capacity(run.parts.iter().map(|p| p.deflated.len()).sum());
            for p in &run.parts {
                bytes.extend_from_slice(&p.deflated);
            }
            run.parts = vec![Part {
                deflated: bytes.freeze(),
                crc: run.crc,
                len: run.len,
            }];
        }
        run
    }

    /// The text, inflated part by part as a body is written.
    pub fn pieces(&self) -> impl Iterator<Item = Piece> + '_ {
        self.parts.iter().cloned().map(Piece::Inflate)
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

/// The gzip member holding `runs` and then `tail` (compressed here, and finished). The runs'
/// compressed bytes are referenced, not copied.
pub fn gzip<'a>(runs: impl IntoIterator<Item = &'a Run>, tail: &[u8]) -> Vec<Bytes> {
    // Header: magic, deflate, no flags, no mtime, no extra flags, OS unknown.
    let mut frames = vec![Bytes::from_static(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255])];
    let (mut crc, mut len) = (0u32, 0u64);
    for run in runs {
        crc = crc_combine::combine(crc, run.crc, run.len);
        len += run.len;
        frames.extend(run.parts.iter().map(|p| p.deflated.clone()));
    }
    let mut rest = if tail.is_empty() {
        // An empty final block (fixed Huffman, end-of-block code): what a compressor emits to
        // finish after a sync flush, without allocating one.
        vec![0x03, 0x00]
    } else {
        let mut enc = flate2::write::DeflateEncoder::new(
            Vec::with_capacity(tail.len() / 3 + 64),
            flate2::Compression::fast(),
        );
        enc.write_all(tail)
            .and_then(|_| enc.finish())
            .unwrap_or_default()
    };
    crc = crc_combine::combine(crc, crc32fast::hash(tail), tail.len() as u64);
    len += tail.len() as u64;
    rest.extend_from_slice(&crc.to_le_bytes());
    // ISIZE is the length modulo 2^32.
    rest.extend_from_slice(&(len as u32).to_le_bytes());
    frames.push(rest.into());
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
    fn any_sequence_of_runs_and_a_tail_is_one_valid_gzip_member() {
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
        let runs: Vec<Run> = parts.chunks(64).map(Run::new).collect();
        assert_eq!(gunzip(&gzip(&runs, tail)), want);
        // A selection, with an empty part and an empty tail.
        let some = Run::new([&parts[5], &Part::new(b""), &parts[2], &parts[299]]);
        assert_eq!(some.parts.len(), 3);
        let want = [&texts[5][..], &texts[2], &texts[299]].concat();
        assert_eq!(gunzip(&gzip([&some], b"")), want);
        assert_eq!(some.crc, crc32fast::hash(&want));
        assert_eq!(some.len, want.len() as u64);
        // Plain: the run's pieces inflate to the same text.
        let plain: Vec<u8> = some
            .pieces()
            .flat_map(|p| p.into_bytes().to_vec())
            .collect();
        assert_eq!(plain, want);
    }

    #[test]
    fn a_joined_run_is_one_part_with_the_same_text() {
        let texts = ["a 1\n", "", "b{x=\"y\"} 2\n", "c 3\n"];
        let parts: Vec<Part> = texts.iter().map(|t| Part::new(t.as_bytes())).collect();
        let joined = Run::joined(&parts);
        assert_eq!(joined.parts.len(), 1);
        assert_eq!(joined.parts[0].inflate(), texts.concat().as_bytes());
        assert_eq!(joined.crc, Run::new(&parts).crc);
        let tail = Run::new([&Part::new(b"d 4\n")]);
        assert_eq!(
            gunzip(&gzip([&joined, &tail], b"e 5\n")),
            b"a 1\nb{x=\"y\"} 2\nc 3\nd 4\ne 5\n"
        );
    }

    #[test]
    fn gzip_references_the_parts_bytes_instead_of_copying_them() {
        let text = "securescore_up{tenant=\"a\"} 1\n".repeat(2000);
        let run = Run::new([&Part::new(text.as_bytes())]);
        let frames = gzip([&run], b"");
        assert!(frames
            .iter()
            .any(|f| f.as_ptr() == run.parts[0].deflated.as_ptr()));
        assert_eq!(gunzip(&frames), text.as_bytes());
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
    fn parts_inflate_to_their_text() {
        let text = "securescore_up{tenant=\"contoso\"} 1\n".repeat(500);
        let p = Part::new(text.as_bytes());
        assert!(p.deflated.len() < text.len() / 5);
        assert_eq!(p.inflate(), text.as_bytes());
        assert_eq!(Piece::Inflate(p).into_bytes(), text.as_bytes());
    }
}
