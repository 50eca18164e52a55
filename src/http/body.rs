//! [`Chunks`]: a response body of ready pieces, so `/metrics` sends the cached per-tenant bytes
//! without copying them into one buffer, or even copying the list of them.

use crate::exposition::gzip::{Piece, Pieces};
use bytes::Bytes;
use std::sync::Arc;

/// A response body of shared lists of pieces and a cursor into them: a scrape of 10,000
/// tenants holds a few references, not its own copy of the ~200,000 pieces; compressed pieces
/// are inflated as they are sent.
pub struct Chunks {
    segments: Vec<Pieces>,
    /// The segment and the piece in it to send next.
    segment: usize,
    piece: usize,
    /// Bytes left to send.
    left: u64,
}

impl Chunks {
    pub fn many(chunks: Vec<Bytes>) -> Chunks {
        Chunks::segments(vec![chunks.into_iter().map(Piece::Plain).collect()])
    }

    /// A body of the pieces of `segments`, in order.
    pub fn segments(segments: Vec<Pieces>) -> Chunks {
        let left = segments.iter().flat_map(|s| s.iter()).map(Piece::len).sum();
        Chunks {
            segments,
            segment: 0,
            piece: 0,
            left,
        }
    }

    /// The next non-empty piece, without taking it.
    fn peek(&mut self) -> Option<&Piece> {
        while let Some(segment) = self.segments.get(self.segment) {
            match segment.get(self.piece) {
                Some(p) if p.is_empty() => self.piece += 1,
                Some(_) => return self.segments[self.segment].get(self.piece),
                None => {
                    self.segment += 1;
                    self.piece = 0;
                }
            }
        }
        None
    }

    fn advance(&mut self, sent: u64) {
        self.piece += 1;
        self.left -= sent;
    }
}

impl From<Bytes> for Chunks {
    fn from(b: Bytes) -> Chunks {
        Chunks::segments(vec![Arc::new([Piece::Plain(b)])])
    }
}

/// Pieces smaller than this are copied together into frames of up to [`FRAME`] bytes, so a
/// body of 100,000 small parts is written as a few hundred frames; larger ones go as they are.
const SMALL_PIECE: u64 = 16 * 1024;
const FRAME: u64 = 256 * 1024;

impl hyper::body::Body for Chunks {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        let Some(first) = self.peek() else {
            return std::task::Poll::Ready(None);
        };
        if first.len() >= SMALL_PIECE {
            let (bytes, len) = (first.to_bytes(), first.len());
            self.advance(len);
            return std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(bytes))));
        }
        // Small pieces are copied (or inflated) into one frame, sized exactly by a first look
        // ahead, so memory stays at one frame (a fixed 256 KB buffer would cost a mmap per
        // small response).
        let (segment, piece) = (self.segment, self.piece);
        let (mut size, mut count) = (0, 0);
        while let Some(next) = self.peek() {
            if size > 0 && (next.len() >= SMALL_PIECE || size + next.len() > FRAME) {
                break;
            }
            size += next.len();
            count += 1;
            self.piece += 1;
        }
        (self.segment, self.piece) = (segment, piece);
        let mut frame = Vec::with_capacity(size as usize);
        for _ in 0..count {
            let Some(next) = self.peek() else { break };
            next.write_to(&mut frame);
            let len = next.len();
            self.advance(len);
        }
        std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(frame.into()))))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::deflate::Part;
    use http_body_util::BodyExt;
    use hyper::body::Body;

    #[tokio::test]
    async fn segments_are_sent_in_order_with_small_pieces_coalesced_and_parts_inflated() {
        let big = "x".repeat(40 * 1024);
        let texts: Vec<String> = (0..2000).map(|i| format!("line {i}\n")).collect();
        let small: Pieces = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                if i % 2 == 0 {
                    Piece::Inflate(Part::new(t.as_bytes()))
                } else {
                    Piece::Plain(Bytes::from(t.clone()))
                }
            })
            .collect();
        let segments: Vec<Pieces> = vec![
            Arc::new([Piece::Plain(Bytes::from_static(b"head\n"))]),
            Arc::new([]),
            small.clone(),
            Arc::new([
                Piece::Plain(Bytes::new()),
                Piece::Inflate(Part::new(big.as_bytes())),
            ]),
            small,
        ];
        let want = format!("head\n{}{big}{}", texts.concat(), texts.concat());
        let body = Chunks::segments(segments);
        assert_eq!(body.size_hint().exact(), Some(want.len() as u64));
        let mut frames = Vec::new();
        let mut body = body;
        while let Some(frame) = body.frame().await {
            frames.push(frame.unwrap().into_data().unwrap());
        }
        assert!(body.is_end_stream());
        assert_eq!(frames.concat(), want.as_bytes());
        // 4,001 small pieces in a few frames, the big part in its own.
        assert!(frames.len() <= 4, "{} frames", frames.len());
        let lens: Vec<usize> = frames.iter().map(Bytes::len).collect();
        assert!(lens.contains(&big.len()), "{lens:?}");
    }
}
