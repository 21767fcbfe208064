//! The session's one receive buffer.
//!
//! Body chunks are `split_to(..).freeze()` off its front, so they share its allocation: no copy
//! and no allocation per chunk. Once the driver drops the chunks, `reserve` reclaims the same
//! allocation, so memory stays at about one read however large the message.
//!
//! For drivers that read straight into it, the space past `len` is zero-filled each time it
//! is made (about once per read), because `std::io::Read` needs an initialised `&mut [u8]`
//! and this crate has no `unsafe`; the benchmark shows that costs ~7% of decode time.

use alloc::collections::VecDeque;
use bytes::{Buf, Bytes, BytesMut};

pub(crate) struct RecvBuf {
    /// `buf[..len]` is received, unconsumed data; `buf[len..]` is zeroed space to read into.
    buf: BytesMut,
    len: usize,
    /// Bytes of the current line already searched for LF (no rescanning, BAD-INPUT row 47).
    pub(crate) scanned: usize,
    /// Bytes searched for line ends, in all (for the test that proves row 47).
    #[cfg(test)]
    pub(crate) scan_work: u64,
    /// Stream offset of `buf[0]`.
    consumed: u64,
    /// (stream offset where an input ends, commands transmitted when it arrived), merged
    /// when equal. Lets the session refuse replies that arrived before their command left.
    arrivals: VecDeque<(u64, u64)>,
}

impl RecvBuf {
    pub(crate) fn new() -> Self {
        Self {
            buf: BytesMut::new(),
            len: 0,
            scanned: 0,
            #[cfg(test)]
            scan_work: 0,
            consumed: 0,
            arrivals: VecDeque::new(),
        }
    }

    pub(crate) fn data(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    fn note_arrival(&mut self, transmitted: u64) {
        let end = self.consumed + self.len as u64;
        match self.arrivals.back_mut() {
            Some((last_end, t)) if *t == transmitted => *last_end = end,
            _ => self.arrivals.push_back((end, transmitted)),
        }
    }

    /// Copies received bytes in.
    pub(crate) fn extend(&mut self, data: &[u8], slack: usize, transmitted: u64) {
        if data.is_empty() {
            return;
        }
        self.make_room(data.len(), slack);
        self.buf.extend_from_slice(data);
        self.len += data.len();
        self.note_arrival(transmitted);
    }

    /// Zeroed space of at least `min` bytes right after the data.
    pub(crate) fn space(&mut self, min: usize, slack: usize) -> &mut [u8] {
        if self.buf.len() - self.len < min {
            self.make_room(min, slack);
            self.buf.resize(self.len + min, 0);
        }
        &mut self.buf[self.len..]
    }

    /// Makes room for `min` more bytes after the data without ever growing the allocation in
    /// place: the allocation is sized `min + slack` (slack: the partial line a read may have to
    /// sit behind) so that a held-back CR or partial line never forces `BytesMut::reserve` to
    /// double it.
    fn make_room(&mut self, min: usize, slack: usize) {
        self.buf.truncate(self.len);
        // Reclaims the front of the allocation when every chunk handed out is dropped.
        if !self.buf.try_reclaim(min) {
            // First read, chunks still held by the caller, or a leftover too big to move.
            let mut fresh = BytesMut::with_capacity(min + slack.max(self.len));
            fresh.extend_from_slice(&self.buf);
            self.buf = fresh;
        }
    }

    /// Marks `n` bytes of [`space`](Self::space) as received. The caller checked `n`.
    pub(crate) fn commit(&mut self, n: usize, transmitted: u64) {
        if n == 0 {
            return;
        }
        self.len += n;
        self.note_arrival(transmitted);
    }

    /// Gives the allocation back when nothing received waits in it (chunks handed out keep
    /// their share of it alive). The next read makes a fresh one.
    pub(crate) fn release(&mut self) -> bool {
        if self.len > 0 {
            return false;
        }
        self.buf = BytesMut::new();
        true
    }

    pub(crate) fn spare(&self) -> usize {
        self.buf.len() - self.len
    }

    /// How many commands had been transmitted when the first unconsumed byte arrived.
    pub(crate) fn transmitted_at_front(&mut self) -> u64 {
        while let Some(&(end, _)) = self.arrivals.front() {
            if end > self.consumed {
                break;
            }
            self.arrivals.pop_front();
        }
        self.arrivals.front().map_or(u64::MAX, |&(_, t)| t)
    }

    /// Removes `n` bytes from the front and returns them without copying.
    pub(crate) fn split_to(&mut self, n: usize) -> Bytes {
        self.len -= n;
        self.consumed += n as u64;
        self.scanned = 0;
        self.buf.split_to(n).freeze()
    }

    /// Drops `n` bytes from the front.
    pub(crate) fn advance(&mut self, n: usize) {
        self.len -= n;
        self.consumed += n as u64;
        self.scanned = 0;
        self.buf.advance(n);
    }

    /// Forgets everything received (after QUIT's reply, or a fatal error).
    pub(crate) fn clear(&mut self) {
        let n = self.len;
        self.advance(n);
        self.arrivals.clear();
        self.buf = BytesMut::new();
    }
}
