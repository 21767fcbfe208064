//! A synthetic RETR body, generated on the fly: one template block of 76-byte CRLF lines
//! (about 3% of them starting with a stuffed dot, deterministic pseudo-random text) repeated
//! as often as wanted, between the `+OK` status line and the `.` CRLF terminator.
//!
//! Used by `tests/streaming.rs` and `tests/alloc_count.rs` (through `mod support;`) and by
//! `benches/body_decode.rs` (`#[path = "../tests/support/body.rs"] mod body;`, which takes the
//! generator and the constants only), so it depends on std alone.
#![allow(dead_code)] // every test binary uses a different part of it

/// Wire length of every body line, CRLF included.
pub const LINE: usize = 76;
/// Lines in the template block (861 * 76 = 65_436 bytes on the wire: not a divisor of the read
/// size, so read boundaries drift over every position of a line).
pub const LINES: usize = 861;
/// Lines of the template that start with a stuffed dot (28 / 861 = 3.3%). With this count the
/// unstuffed template is 65_408 bytes, a multiple of 32 (the block of `tests/streaming.rs`'s
/// checksum), so the expected checksum of `n` repetitions can be computed without generating
/// them.
pub const STUFFED: usize = 28;
/// The status line that starts the RETR reply. Its length (21, which is 1 mod 4) puts some
/// 64 KiB read boundaries between a CR and its LF, so the held-back-CR path is exercised.
pub const RETR_OK: &[u8] = b"+OK message follows\r\n";
/// The characters of a body line (the dot among them: a line can start with one).
pub const ALPHABET: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .,:;-=+/";

/// A deterministic pseudo-random generator (xorshift64*), always started from the same seed.
pub struct Rng(u64);

impl Rng {
    pub fn new() -> Self {
        Self(0x9e37_79b9_7f4a_7c15)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() >> 33) as usize % n
    }
}

/// The template block as sent (dot-stuffed) and as it must come out (unstuffed).
pub struct Template {
    pub wire: Vec<u8>,
    pub body: Vec<u8>,
}

impl Template {
    /// `LINES` lines, `STUFFED` of them starting with `..`, none starting with a lone dot.
    pub fn plain() -> Self {
        Self::generate(false)
    }

    /// The same lines (same text, same stuffed ones), with traps planted: every stuffed line
    /// whose index is a multiple of 3 starts with `...`, and every 97th line (from line 5)
    /// carries a bare LF followed by a dot in its middle, which is content in strict mode,
    /// never a line end.
    pub fn with_traps() -> Self {
        Self::generate(true)
    }

    fn generate(traps: bool) -> Self {
        let mut rng = Rng::new();
        let mut stuffed = [false; LINES];
        let mut chosen = 0;
        while chosen < STUFFED {
            let i = rng.below(LINES);
            if !stuffed[i] {
                stuffed[i] = true;
                chosen += 1;
            }
        }
        let mut wire = Vec::with_capacity(LINES * LINE);
        let mut body = Vec::with_capacity(LINES * LINE);
        for (i, &dot) in stuffed.iter().enumerate() {
            let mut line = [0u8; LINE];
            for b in &mut line[..LINE - 2] {
                *b = ALPHABET[rng.below(ALPHABET.len())];
            }
            line[LINE - 2..].copy_from_slice(b"\r\n");
            if dot {
                // A body line that starts with a dot ("." or ".." and more), stuffed with one more.
                line[0] = b'.';
                line[1] = b'.';
                if traps && i % 3 == 0 {
                    line[2] = b'.';
                }
            } else if line[0] == b'.' {
                line[0] = b'x';
            }
            if traps && i % 97 == 5 {
                // A bare LF followed by a dot is content in strict mode, never a line end.
                line[30] = b'\n';
                line[31] = b'.';
            }
            wire.extend_from_slice(&line);
            body.extend_from_slice(if dot { &line[1..] } else { &line[..] });
        }
        assert_eq!(wire.len(), LINES * LINE);
        assert_eq!(body.len(), LINES * LINE - STUFFED);
        assert_eq!(body.len() % 32, 0);
        Self { wire, body }
    }
}

/// Produces `RETR_OK`, the template `reps` times, then `.` CRLF, in reads of any size.
pub struct Source<'a> {
    segments: [(&'a [u8], usize); 3],
    segment: usize,
    rep: usize,
    offset: usize,
}

impl<'a> Source<'a> {
    pub fn new(template: &'a [u8], reps: usize) -> Self {
        Self {
            segments: [(RETR_OK, 1), (template, reps), (b".\r\n", 1)],
            segment: 0,
            rep: 0,
            offset: 0,
        }
    }

    /// Fills as much of `out` as there is left; 0 at the end.
    pub fn fill(&mut self, out: &mut [u8]) -> usize {
        let mut n = 0;
        while n < out.len() && self.segment < self.segments.len() {
            let (data, reps) = self.segments[self.segment];
            let take = (data.len() - self.offset).min(out.len() - n);
            out[n..n + take].copy_from_slice(&data[self.offset..self.offset + take]);
            n += take;
            self.offset += take;
            if self.offset == data.len() {
                self.offset = 0;
                self.rep += 1;
                if self.rep == reps {
                    self.rep = 0;
                    self.segment += 1;
                }
            }
        }
        n
    }
}
