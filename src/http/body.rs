//! [`Chunks`]: a response body of ready pieces, so `/metrics` sends the cached per-tenant bytes
//! without copying them into one buffer.

use crate::exposition::gzip::Piece;
use bytes::Bytes;

/// A response body of ready chunks: lets `/metrics` send the cached per-tenant bytes without
/// copying them into one buffer.
pub struct Chunks(std::collections::VecDeque<Piece>);

impl Chunks {
    pub fn many(chunks: Vec<Bytes>) -> Chunks {
        Chunks::pieces(chunks.into_iter().map(Piece::Plain).collect())
    }

    /// A body of prepared pieces; compressed ones are inflated one at a time as they are sent.
    pub fn pieces(pieces: Vec<Piece>) -> Chunks {
        Chunks(pieces.into_iter().filter(|c| !c.is_empty()).collect())
    }
}

impl From<Bytes> for Chunks {
    fn from(b: Bytes) -> Chunks {
        Chunks::many(vec![b])
    }
}

/// Pieces smaller than this are copied together into frames of up to [`FRAME`] bytes, so a
/// body of 100,000 small parts is written as a few hundred frames; larger ones go as they are.
const SMALL_PIECE: u64 = 16 * 1024;
const FRAME: usize = 256 * 1024;

impl hyper::body::Body for Chunks {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        let Some(first) = self.0.pop_front() else {
            return std::task::Poll::Ready(None);
        };
        if first.len() >= SMALL_PIECE {
            return std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(first.into_bytes()))));
        }
        // Copying only when needed: one frame per call, so memory stays at one frame, sized
        // exactly (a fixed 256 KB buffer would cost a mmap per small response).
        let mut size = first.len();
        let mut count = 0;
        for next in &self.0 {
            if next.len() >= SMALL_PIECE || size + next.len() > FRAME as u64 {
                break;
            }
            size += next.len();
            count += 1;
        }
        let mut frame = bytes::BytesMut::with_capacity(size as usize);
        frame.extend_from_slice(&first.into_bytes());
        for next in self.0.drain(..count) {
            frame.extend_from_slice(&next.into_bytes());
        }
        std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(frame.freeze()))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_empty()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.0.iter().map(Piece::len).sum())
    }
}
