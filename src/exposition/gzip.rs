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
use std::sync::Arc;

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

/// A list of pieces that every response sending it shares: a response holds a reference and a
/// cursor, not a copy (10,000 tenants' body is ~200,000 pieces, 6-11 MB as a list, which 16
/// concurrent scrapes would otherwise each copy).
pub type Pieces = Arc<[Piece]>;

/// Runs' compressed bytes in order, with their combined CRC-32 and length: the middle of a gzip
/// member, built once and shared by every gzip scrape until the runs change.
#[derive(Clone, Debug)]
pub struct Stream {
    pub frames: Pieces,
    pub crc: u32,
    pub len: u64,
}

impl Stream {
    pub fn of<'a>(runs: impl IntoIterator<Item = &'a Run>) -> Stream {
        let (mut crc, mut len) = (0u32, 0u64);
        let mut frames = Vec::new();
        for run in runs {
            crc = crc_combine::combine(crc, run.crc, run.len);
            len += run.len;
            frames.extend(run.parts.iter().map(|p| Piece::Plain(p.deflated.clone())));
        }
        Stream {
            frames: frames.into(),
            crc,
            len,
        }
    }
}

/// The gzip member holding `streams` and then `tail` (compressed here, and finished). The
/// streams' compressed bytes are referenced, not copied.
pub fn gzip(streams: &[Stream], tail: &[u8]) -> Vec<Pieces> {
    // Header: magic, deflate, no flags, no mtime, no extra flags, OS unknown.
    const HEADER: &[u8] = &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    let mut segments: Vec<Pieces> = vec![Arc::new([Piece::Plain(Bytes::from_static(HEADER))])];
    let (mut crc, mut len) = (0u32, 0u64);
    for stream in streams {
        crc = crc_combine::combine(crc, stream.crc, stream.len);
        len += stream.len;
        segments.push(stream.frames.clone());
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
    segments.push(Arc::new([Piece::Plain(rest.into())]));
    segments
}

/// The bytes of `segments` in one buffer (for tests and the in-process encoders).
pub fn concat(segments: &[Pieces]) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in segments.iter().flat_map(|s| s.iter()) {
        piece.write_to(&mut out);
    }
    out
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
    pub fn to_bytes(&self) -> Bytes {
        match self {
            Piece::Plain(b) => b.clone(),
            Piece::Inflate(p) => p.inflate().into(),
        }
    }

    /// Appends the bytes this piece sends to `out` (inflating straight into it).
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            Piece::Plain(b) => out.extend_from_slice(b),
            Piece::Inflate(p) => p.inflate_into(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gunzip(segments: &[Pieces]) -> Vec<u8> {
        use std::io::Read;
        let z = concat(segments);
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
        assert_eq!(gunzip(&gzip(&[Stream::of(&runs)], tail)), want);
        // A selection, with an empty part and an empty tail.
        let some = Run::new([&parts[5], &Part::new(b""), &parts[2], &parts[299]]);
        assert_eq!(some.parts.len(), 3);
        let want = [&texts[5][..], &texts[2], &texts[299]].concat();
        assert_eq!(gunzip(&gzip(&[Stream::of([&some])], b"")), want);
        assert_eq!(some.crc, crc32fast::hash(&want));
        assert_eq!(some.len, want.len() as u64);
        // Plain: the run's pieces inflate to the same text.
        let plain: Vec<u8> = some.pieces().flat_map(|p| p.to_bytes().to_vec()).collect();
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
            gunzip(&gzip(
                &[Stream::of([&joined]), Stream::of([&tail])],
                b"e 5\n"
            )),
            b"a 1\nb{x=\"y\"} 2\nc 3\nd 4\ne 5\n"
        );
    }

    #[test]
    fn gzip_references_the_parts_bytes_instead_of_copying_them() {
        let text = "securescore_up{tenant=\"a\"} 1\n".repeat(2000);
        let run = Run::new([&Part::new(text.as_bytes())]);
        let stream = Stream::of([&run]);
        let frames = gzip(std::slice::from_ref(&stream), b"");
        assert!(frames
            .iter()
            .flat_map(|s| s.iter())
            .any(|f| matches!(f, Piece::Plain(b) if b.as_ptr() == run.parts[0].deflated.as_ptr())));
        assert!(
            frames.iter().any(|s| Arc::ptr_eq(s, &stream.frames)),
            "a gzip body shares the stream's list of frames"
        );
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
        assert_eq!(Piece::Inflate(p.clone()).to_bytes(), text.as_bytes());
        // Inflating into a buffer that already holds text appends, with the decompressor reused.
        let mut out = b"head\n".to_vec();
        p.inflate_into(&mut out);
        Part::new(b"tail\n").inflate_into(&mut out);
        assert_eq!(out, [b"head\n", text.as_bytes(), b"tail\n"].concat());
    }
}
