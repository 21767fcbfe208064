//! Dot-stuffing (RFC 1939 §3): the streaming unstuffer for received bodies, and the stuffer.
//!
//! The unstuffer is a small state machine that hands out **maximal runs** of body bytes: it
//! jumps with `memchr::memmem` to the next `CRLF .` and everything before it is body, untouched.
//! A run is cut only where a stuffed dot is dropped, at the terminator and at the end of the
//! input, so a 64 KiB read of an ordinary message becomes one chunk.

use bytes::BufMut;
use memchr::memmem::Finder;

/// One decision of the [`Unstuffer`] about the front of the input.
///
/// ```
/// use pop3_proto::codec::dot::{Step, Unstuffer};
/// let mut u = Unstuffer::new(false);
/// assert_eq!(u.step(b"..x"), Step::SkipDot);
/// assert_eq!(u.step(b".x\r\n.\r\n"), Step::Data(4));
/// assert_eq!(u.step(b".\r\n"), Step::End(3));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The first `n` bytes are body data (n > 0): hand them out and consume them.
    Data(usize),
    /// The first byte is a stuffing dot: consume it, hand out nothing.
    SkipDot,
    /// The terminator: consume `n` bytes; the body is complete.
    End(usize),
    /// Nothing can be decided until more input arrives (at most 2 bytes are held back).
    NeedMore,
}

/// Streaming dot-unstuffer.
///
/// Feed it the unconsumed front of the receive buffer; apply each [`Step`]; call again.
/// Strict by default: only CRLF ends a line, so `LF .` not preceded by CR is content
/// (BAD-INPUT row 19). `bare_lf` also treats a lone LF as a line end, for servers that store
/// mail with LF endings and send it unconverted.
///
/// ```
/// use pop3_proto::codec::dot::{Unstuffer, Step};
///
/// let mut u = Unstuffer::new(false);
/// let wire = b"Hi\r\n..dot\r\n.\r\n";
/// let mut body = Vec::new();
/// let mut pos = 0;
/// loop {
///     match u.step(&wire[pos..]) {
///         Step::Data(n) => { body.extend_from_slice(&wire[pos..pos + n]); pos += n; }
///         Step::SkipDot => pos += 1,
///         Step::End(n) => { pos += n; break; }
///         Step::NeedMore => unreachable!("the whole response is here"),
///     }
/// }
/// assert_eq!(body, b"Hi\r\n.dot\r\n");
/// assert_eq!(pos, wire.len());
/// ```
#[derive(Debug, Clone)]
pub struct Unstuffer {
    at_line_start: bool,
    bare_lf: bool,
    finder: Finder<'static>,
}

impl Unstuffer {
    /// A new unstuffer, positioned at the start of a body.
    pub fn new(bare_lf: bool) -> Self {
        let needle: &'static [u8] = if bare_lf { b"\n." } else { b"\r\n." };
        Self {
            at_line_start: true,
            bare_lf,
            finder: Finder::new(needle),
        }
    }

    /// Starts a new body, in strict or bare-LF mode (reuses the searcher when the mode stays).
    pub fn reset(&mut self, bare_lf: bool) {
        if bare_lf != self.bare_lf {
            *self = Self::new(bare_lf);
        }
        self.at_line_start = true;
    }

    /// Decides what the front of `input` is.
    #[inline]
    pub fn step(&mut self, input: &[u8]) -> Step {
        if self.at_line_start {
            match input {
                [] => return Step::NeedMore,
                [b'.', b'\r', b'\n', ..] => return Step::End(3),
                [b'.', b'\n', ..] if self.bare_lf => return Step::End(2),
                // ".\r" could still become the terminator; "." could be anything.
                [b'.'] | [b'.', b'\r'] => return Step::NeedMore,
                // A stuffed dot, or a line a broken server forgot to stuff: either way RFC 1939
                // says the first octet goes (BAD-INPUT row 20).
                [b'.', ..] => {
                    self.at_line_start = false;
                    return Step::SkipDot;
                }
                _ => self.at_line_start = false,
            }
        }
        let needle_len = self.finder.needle().len();
        if let Some(i) = self.finder.find(input) {
            // Everything through the line end is data; the dot starts the next line.
            self.at_line_start = true;
            return Step::Data(i + needle_len - 1);
        }
        let n = input.len();
        if n == 0 {
            return Step::NeedMore;
        }
        let ends_line = if self.bare_lf {
            input.ends_with(b"\n")
        } else {
            input.ends_with(b"\r\n")
        };
        if ends_line {
            self.at_line_start = true;
            Step::Data(n)
        } else if !self.bare_lf && input.ends_with(b"\r") {
            // The CR may start the next CRLF: keep it for the next call.
            if n == 1 {
                Step::NeedMore
            } else {
                Step::Data(n - 1)
            }
        } else {
            Step::Data(n)
        }
    }
}

/// Streaming dot-stuffer: the inverse of [`Unstuffer`] (for servers and test doubles).
///
/// Adds a dot before every line that starts with one (lines end in CRLF) and, on
/// [`finish`](DotStuffer::finish), a CRLF if the body did not end with one, then `.` CRLF.
///
/// ```
/// use pop3_proto::codec::dot::DotStuffer;
///
/// let mut out = Vec::new();
/// let mut s = DotStuffer::new();
/// s.push(b".a\r\n", &mut out);
/// s.push(b"..b", &mut out);
/// s.finish(&mut out);
/// assert_eq!(out, b"..a\r\n...b\r\n.\r\n");
/// ```
#[derive(Debug, Clone)]
pub struct DotStuffer {
    at_line_start: bool,
    last_cr: bool,
    empty: bool,
}

impl Default for DotStuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl DotStuffer {
    /// A stuffer at the start of a body.
    pub fn new() -> Self {
        Self {
            at_line_start: true,
            last_cr: false,
            empty: true,
        }
    }

    /// Stuffs the next piece of the body into `out`.
    pub fn push(&mut self, mut data: &[u8], out: &mut impl BufMut) {
        let finder = Finder::new(b"\r\n.");
        while !data.is_empty() {
            self.empty = false;
            if self.at_line_start && data[0] == b'.' {
                out.put_u8(b'.');
            }
            // A CRLF split across pushes: the LF here completes it.
            if self.last_cr && data[0] == b'\n' {
                self.at_line_start = true;
                self.last_cr = false;
                out.put_u8(b'\n');
                data = &data[1..];
                continue;
            }
            self.at_line_start = false;
            match finder.find(data) {
                Some(i) => {
                    out.put_slice(&data[..i + 2]);
                    data = &data[i + 2..];
                    self.at_line_start = true;
                    self.last_cr = false;
                }
                None => {
                    out.put_slice(data);
                    self.at_line_start = data.ends_with(b"\r\n");
                    self.last_cr = !self.at_line_start && data.ends_with(b"\r");
                    data = &[];
                }
            }
        }
    }

    /// Ends the body: the line end if missing, then the terminator.
    pub fn finish(self, out: &mut impl BufMut) {
        if !self.at_line_start && !self.empty {
            out.put_slice(b"\r\n");
        }
        out.put_slice(b".\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    // `run(pieces, bare_lf)`: the unstuffer over pieces, as the session does, returning the
    // body and the consumed count. Shared with the integration tests.
    include!("../../tests/support/unstuff.rs");

    #[test]
    fn bare_lf_dot_is_content_when_strict() {
        let (body, end) = run(&[b"a\n.\nb\n.\r\nc\r\n.\r\n"], false);
        assert_eq!(body, b"a\n.\nb\n.\r\nc\r\n");
        assert!(end.is_some());
    }

    #[test]
    fn bare_lf_mode_ends_on_lf_dot_lf() {
        let (body, end) = run(&[b"a\n..b\n.\n"], true);
        assert_eq!(body, b"a\n.b\n");
        assert_eq!(end, Some(8));
    }

    #[test]
    fn dots_are_unstuffed_once() {
        let (body, _) = run(&[b"..\r\n...\r\n.x\r\n.\r\n"], false);
        assert_eq!(body, b".\r\n..\r\nx\r\n");
    }

    #[test]
    fn terminator_split_over_three_reads() {
        let (body, end) = run(&[b"a\r\n", b".", b"\r", b"\n"], false);
        assert_eq!((body.as_slice(), end), (&b"a\r\n"[..], Some(6)));
        let (body, end) = run(&[b"a\r", b"\n.\r\n"], false);
        assert_eq!((body.as_slice(), end), (&b"a\r\n"[..], Some(6)));
    }

    #[test]
    fn dot_cr_without_lf_is_stuffed_content() {
        let (body, _) = run(&[b".\rx\r\n.\r\n"], false);
        assert_eq!(body, b"\rx\r\n");
    }

    #[test]
    fn stuffer_handles_split_crlf() {
        let mut out = Vec::new();
        let mut s = DotStuffer::new();
        s.push(b"a\r", &mut out);
        s.push(b"\n.b", &mut out);
        s.finish(&mut out);
        assert_eq!(out, b"a\r\n..b\r\n.\r\n");
        let mut out = Vec::new();
        DotStuffer::new().finish(&mut out);
        assert_eq!(out, b".\r\n");
    }
}
