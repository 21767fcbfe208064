//! Text that came from the server, kept as bytes and shown safely.
//!
//! Servers may send anything in their status text: invalid UTF-8, terminal escape sequences,
//! very long lines. We never trust it to be printable; [`ServerText`] keeps the exact bytes
//! and its `Display` escapes everything that is not printable ASCII (BAD-INPUT rows 7, 11).

use bytes::Bytes;
use core::fmt;

/// Longest server text that error messages quote; the rest is elided with `…`.
const QUOTE_LIMIT: usize = 160;

/// Bytes received from the server, displayed with every non-printable byte escaped.
///
/// The exact bytes stay available through [`ServerText::as_bytes`]; `Display` shows printable
/// ASCII as is and everything else (control characters, escape sequences, 8-bit bytes) as
/// `\xNN`, so logging server text can never drive a terminal.
///
/// ```
/// use pop3_proto::ServerText;
///
/// let text = ServerText::from_slice(b"ready \x1b[31mred\xff");
/// assert_eq!(text.as_bytes(), b"ready \x1b[31mred\xff");
/// assert_eq!(text.to_string(), r"ready \x1b[31mred\xff");
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ServerText(Bytes);

impl ServerText {
    /// Copies `bytes` into a new `ServerText`.
    ///
    /// ```
    /// # use pop3_proto::ServerText;
    /// assert_eq!(ServerText::from_slice(b"hi").as_bytes(), b"hi");
    /// ```
    pub fn from_slice(bytes: &[u8]) -> Self {
        if bytes.is_empty() {
            return Self(Bytes::new());
        }
        Self(Bytes::copy_from_slice(bytes))
    }

    /// The exact bytes the server sent.
    ///
    /// ```
    /// # use pop3_proto::ServerText;
    /// assert!(ServerText::default().as_bytes().is_empty());
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The text as UTF-8, if it is valid UTF-8.
    ///
    /// ```
    /// # use pop3_proto::ServerText;
    /// assert_eq!(ServerText::from_slice(b"ok").to_str(), Some("ok"));
    /// assert_eq!(ServerText::from_slice(b"\xff").to_str(), None);
    /// ```
    pub fn to_str(&self) -> Option<&str> {
        core::str::from_utf8(&self.0).ok()
    }

    /// Whether the server sent no text at all.
    ///
    /// ```
    /// # use pop3_proto::ServerText;
    /// assert!(ServerText::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A short, escaped quotation for error messages: at most 160 bytes of the original.
    pub(crate) fn quoted(&self) -> Quoted<'_> {
        Quoted(&self.0)
    }
}

impl From<Bytes> for ServerText {
    fn from(bytes: Bytes) -> Self {
        Self(bytes)
    }
}

impl fmt::Display for ServerText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped(f, &self.0)
    }
}

impl fmt::Debug for ServerText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        write_escaped(f, &self.0)?;
        f.write_str("\"")
    }
}

/// Escaped, length-bounded view of server bytes, for error messages.
pub(crate) struct Quoted<'a>(pub(crate) &'a [u8]);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.len() > QUOTE_LIMIT {
            write_escaped(f, &self.0[..QUOTE_LIMIT])?;
            f.write_str("…")
        } else {
            write_escaped(f, self.0)
        }
    }
}

/// Writes printable ASCII as is and everything else as `\xNN` (backslash as `\\`).
pub(crate) fn write_escaped(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let plain = (0x20..0x7f).contains(&b) && b != b'\\';
        if !plain {
            // Printable runs are written in one go; they are ASCII, hence valid UTF-8.
            f.write_str(core::str::from_utf8(&bytes[start..i]).unwrap_or(""))?;
            if b == b'\\' {
                f.write_str("\\\\")?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
            start = i + 1;
        }
    }
    f.write_str(core::str::from_utf8(&bytes[start..]).unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn escapes_terminal_sequences_and_backslashes() {
        let t = ServerText::from_slice(b"a\\b\x1b]0;pwned\x07\r\n\x00");
        assert_eq!(t.to_string(), r"a\\b\x1b]0;pwned\x07\x0d\x0a\x00");
    }

    #[test]
    fn quotation_is_bounded() {
        let long = [b'x'; 1000];
        let q = Quoted(&long).to_string();
        assert_eq!(q.len(), QUOTE_LIMIT + "…".len());
    }
}
