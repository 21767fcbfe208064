//! Line framing: where one CRLF-terminated line ends, within a length limit.
//!
//! Status lines, listing entries and CAPA lines all come through here; bodies don't (they
//! have no line limit and go through [`crate::codec::dot`]).

/// What looking for a line in buffered input found.
///
/// ```
/// use pop3_proto::codec::line::{find_line, LineScan};
/// let Ok(LineScan::Complete { content, .. }) = find_line(b"+OK\r\n", 0, 512, false) else { panic!() };
/// assert_eq!(content, 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineScan {
    /// A whole line: `content` bytes of text, `consumed` bytes including the line end.
    Complete {
        /// Length of the line without its line end.
        content: usize,
        /// Length of the line including its line end.
        consumed: usize,
    },
    /// No line end yet. Pass `scanned` back next time so no byte is searched twice.
    Incomplete {
        /// How many bytes were searched (all of them).
        scanned: usize,
    },
}

/// Why a line was refused.
///
/// ```
/// use pop3_proto::codec::line::{find_line, LineError};
/// assert_eq!(find_line(b"+OK\0\r\n", 0, 512, false), Err(LineError::Nul));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LineError {
    /// No line end within `limit` bytes.
    TooLong {
        /// The limit, line end included.
        limit: usize,
    },
    /// A line ended in LF without CR, and bare-LF leniency is off.
    BareLf,
    /// A CR inside the line that is not part of its line end.
    BareCr,
    /// A NUL byte inside the line.
    Nul,
}

/// Finds the first line in `buf`.
///
/// `scanned` is what a previous [`LineScan::Incomplete`] returned for the same buffer
/// (0 the first time): feeding a long line one byte at a time costs linear work in total.
/// `limit` counts the line end too (RFC 2449 allows 512 octets for a response line).
/// With `bare_lf`, a lone LF also ends a line.
///
/// ```
/// use pop3_proto::codec::line::{find_line, LineScan, LineError};
///
/// assert_eq!(find_line(b"+OK hi\r\nrest", 0, 512, false),
///            Ok(LineScan::Complete { content: 6, consumed: 8 }));
/// assert_eq!(find_line(b"+OK h", 0, 512, false), Ok(LineScan::Incomplete { scanned: 5 }));
/// assert_eq!(find_line(b"+OK\n", 0, 512, false), Err(LineError::BareLf));
/// assert_eq!(find_line(b"+OK hello", 0, 8, false), Err(LineError::TooLong { limit: 8 }));
/// ```
pub fn find_line(
    buf: &[u8],
    scanned: usize,
    limit: usize,
    bare_lf: bool,
) -> Result<LineScan, LineError> {
    let window = &buf[..buf.len().min(limit)];
    let from = scanned.min(window.len());
    let Some(pos) = memchr::memchr(b'\n', &window[from..]) else {
        if buf.len() >= limit {
            return Err(LineError::TooLong { limit });
        }
        return Ok(LineScan::Incomplete { scanned: buf.len() });
    };
    let lf = from + pos;
    let content = if lf > 0 && buf[lf - 1] == b'\r' {
        lf - 1
    } else if bare_lf {
        lf
    } else {
        return Err(LineError::BareLf);
    };
    match memchr::memchr2(b'\r', 0, &buf[..content]) {
        Some(i) if buf[i] == b'\r' => Err(LineError::BareCr),
        Some(_) => Err(LineError::Nul),
        None => Ok(LineScan::Complete {
            content,
            consumed: lf + 1,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundary_exactly_at_limit_is_accepted() {
        let mut line = [b'x'; 512];
        line[510] = b'\r';
        line[511] = b'\n';
        assert_eq!(
            find_line(&line, 0, 512, false),
            Ok(LineScan::Complete {
                content: 510,
                consumed: 512
            })
        );
        let mut over = [b'x'; 513];
        over[511] = b'\r';
        over[512] = b'\n';
        assert_eq!(
            find_line(&over, 0, 512, false),
            Err(LineError::TooLong { limit: 512 })
        );
    }

    #[test]
    fn incremental_scan_resumes() {
        assert_eq!(
            find_line(b"abc", 0, 512, false),
            Ok(LineScan::Incomplete { scanned: 3 })
        );
        assert_eq!(
            find_line(b"abc\r\n", 3, 512, false),
            Ok(LineScan::Complete {
                content: 3,
                consumed: 5
            })
        );
    }

    #[test]
    fn lenient_accepts_bare_lf_but_not_inner_cr() {
        assert_eq!(
            find_line(b"ab\n", 0, 512, true),
            Ok(LineScan::Complete {
                content: 2,
                consumed: 3
            })
        );
        assert_eq!(find_line(b"a\rb\n", 0, 512, true), Err(LineError::BareCr));
        assert_eq!(find_line(b"a\0b\r\n", 0, 512, false), Err(LineError::Nul));
    }
}
