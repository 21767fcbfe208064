//! The session's one receive buffer.
//!
//! One allocation, an `Arc<[u8]>` zeroed once when it is made: `block[start..start + len]` is
//! received, unconsumed data and everything after it is space to read into. Body chunks are
//! slices of one `Bytes` made over the whole block (`Bytes::from_owner`), so they share it: no
//! copy per chunk. Before the block is written again that `Bytes` is dropped; if the driver
//! has dropped its chunks too, the `Arc` is unique again and the same memory, still
//! initialised from earlier reads, is read into again. So memory stays at about one read
//! however large the message, and nothing is zeroed per read (`std::io::Read` needs an
//! initialised `&mut [u8]`, and this crate has no `unsafe`; a `BytesMut` would have to zero
//! its spare on every read, about 7% of decode time). The price is one small allocation (the
//! `Bytes` owner's header) per read that yields chunks. A driver that keeps chunks across
//! reads gets a fresh block per read.

use crate::codec::dot::{Step, Unstuffer};
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use bytes::Bytes;

pub(crate) struct RecvBuf {
    /// The allocation; `None` until the first read and after `release`.
    block: Option<Arc<[u8]>>,
    /// `block[start..start + len]` is received, unconsumed data.
    start: usize,
    len: usize,
    /// A `Bytes` over the whole block that chunks are sliced from, made by the first chunk
    /// after a write and dropped before the next one.
    shared: Option<Bytes>,
    /// Bytes of the current line already searched for LF (no rescanning, BAD-INPUT row 47).
    pub(crate) scanned: usize,
    /// Bytes searched for line ends, in all (for the test that proves row 47).
    #[cfg(test)]
    pub(crate) scan_work: u64,
    /// Stream offset of the first unconsumed byte.
    consumed: u64,
    /// (stream offset where an input ends, commands transmitted when it arrived), merged
    /// when equal. Lets the session refuse replies that arrived before their command left.
    arrivals: VecDeque<(u64, u64)>,
}

impl RecvBuf {
    pub(crate) fn new() -> Self {
        Self {
            block: None,
            start: 0,
            len: 0,
            shared: None,
            scanned: 0,
            #[cfg(test)]
            scan_work: 0,
            consumed: 0,
            arrivals: VecDeque::new(),
        }
    }

    #[inline]
    pub(crate) fn data(&self) -> &[u8] {
        match &self.block {
            Some(block) => &block[self.start..self.start + self.len],
            None => &[],
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn capacity(&self) -> usize {
        self.block.as_ref().map_or(0, |block| block.len())
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
        self.space(data.len(), slack)[..data.len()].copy_from_slice(data);
        self.len += data.len();
        self.note_arrival(transmitted);
    }

    /// Space of at least `min` bytes right after the data (initialised, not necessarily zero).
    pub(crate) fn space(&mut self, min: usize, slack: usize) -> &mut [u8] {
        // Chunks already handed out keep their own reference; ours must go for the block to
        // be writable again.
        self.shared = None;
        let (start, len) = (self.start, self.len);
        let in_place = match self.block.as_mut().and_then(Arc::get_mut) {
            Some(block) if block.len() - start - len >= min => true,
            Some(block) if block.len() - len >= min => {
                // Moves the partial line a read left behind to the front.
                block.copy_within(start..start + len, 0);
                self.start = 0;
                true
            }
            // First read, chunks still held by the caller, or a leftover too big to move.
            _ => false,
        };
        if !in_place {
            // Sized `min + slack` (slack: the partial line a read may have to sit behind) so
            // that a held-back CR or partial line never needs a bigger block next read.
            let mut fresh: Arc<[u8]> = core::iter::repeat_n(0, min + slack.max(len)).collect();
            if let Some(new) = Arc::get_mut(&mut fresh) {
                new[..len].copy_from_slice(self.data());
            }
            self.block = Some(fresh);
            self.start = 0;
        }
        let at = self.start + self.len;
        match self.block.as_mut().and_then(Arc::get_mut) {
            Some(block) => &mut block[at..],
            // Unreachable: the block was found unique above or has just been made.
            None => &mut [],
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
        self.shared = None;
        self.block = None;
        self.start = 0;
        true
    }

    pub(crate) fn spare(&self) -> usize {
        self.capacity() - self.start - self.len
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
    #[inline]
    pub(crate) fn split_to(&mut self, n: usize) -> Bytes {
        let range = self.start..self.start + n;
        let chunk = match (&mut self.shared, &self.block) {
            (Some(shared), _) => shared.slice(range),
            (None, Some(block)) => self
                .shared
                .insert(Bytes::from_owner(Arc::clone(block)))
                .slice(range),
            (None, None) => Bytes::new(),
        };
        self.advance(n);
        chunk
    }

    /// Hands the runs of body bytes at the front to `sink`, borrowed, dropping stuffed dots,
    /// until `unstuffer` needs more input or sees the end of the body (both left unconsumed)
    /// or `sink` fails. Returns the bytes handed out. A run counts as taken before `sink`
    /// sees it, so the unstuffer and the buffer stay in step even if `sink` fails or
    /// panics.
    pub(crate) fn drain_runs<E>(
        &mut self,
        unstuffer: &mut Unstuffer,
        sink: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> (u64, Result<(), E>) {
        // Our own handle on the block (one reference count per call, not per run) lets the
        // guard hold the buffer while runs are read from the block.
        let Some(block) = self.block.clone() else {
            return (0, Ok(()));
        };
        let end = self.start + self.len;
        let mut taken = Taken {
            at: self.start,
            buf: self,
        };
        let mut handed = 0u64;
        while taken.at < end {
            match unstuffer.step(&block[taken.at..end]) {
                Step::Data(n) => {
                    let run = taken.at..taken.at + n;
                    taken.at += n;
                    handed += n as u64;
                    if let Err(e) = sink(&block[run]) {
                        return (handed, Err(e));
                    }
                }
                Step::SkipDot => taken.at += 1,
                Step::End(_) | Step::NeedMore => break,
            }
        }
        (handed, Ok(()))
    }

    /// Drops `n` bytes from the front.
    #[inline]
    pub(crate) fn advance(&mut self, n: usize) {
        self.len -= n;
        self.start = if self.len == 0 { 0 } else { self.start + n };
        self.consumed += n as u64;
        self.scanned = 0;
    }

    /// Forgets everything received (after QUIT's reply, or a fatal error).
    pub(crate) fn clear(&mut self) {
        let n = self.len;
        self.advance(n);
        self.arrivals.clear();
        self.shared = None;
        self.block = None;
    }
}

/// What [`RecvBuf::drain_runs`] has taken so far: the position is kept here (in a register,
/// not in the buffer's fields, per run) and the buffer advanced once, when this is dropped —
/// at the end, or while a panicking sink unwinds.
struct Taken<'a> {
    buf: &'a mut RecvBuf,
    at: usize,
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        let n = self.at - self.buf.start;
        if n > 0 {
            self.buf.advance(n);
        }
    }
}
