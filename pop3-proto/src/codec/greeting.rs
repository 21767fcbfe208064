//! The server greeting, its APOP timestamp, and telling POP3 apart from other protocols.

use super::status::{Status, StatusError};
use bytes::Bytes;
use core::fmt;

/// The longest APOP timestamp we accept. RFC 1939 uses a msg-id; real ones are < 100 octets.
pub const MAX_TIMESTAMP_LEN: usize = 255;

/// The greeting a server sends when the connection opens.
///
/// ```
/// use pop3_proto::Greeting;
///
/// let g = Greeting::parse(b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>", Default::default())
///     .unwrap();
/// assert!(g.status().is_ok());
/// assert_eq!(g.apop_timestamp().unwrap().as_bytes(), b"<1896.697170952@dbc.mtview.ca.us>");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Greeting {
    status: Status,
    timestamp: Option<ApopTimestamp>,
}

impl Greeting {
    /// Parses a greeting line (without its line end).
    ///
    /// ```
    /// # use pop3_proto::Greeting;
    /// assert!(Greeting::parse(b"220 smtp.example ESMTP", Default::default()).is_err());
    /// ```
    pub fn parse(line: &[u8], lenient: crate::codec::Leniency) -> Result<Self, StatusError> {
        let status = Status::parse(line, lenient)?;
        let timestamp = ApopTimestamp::find(status.text().as_bytes());
        Ok(Self { status, timestamp })
    }

    /// The status of the greeting: `-ERR` means the server refuses the session.
    pub fn status(&self) -> &Status {
        &self.status
    }

    /// The APOP timestamp, present only when it is strictly well-formed.
    ///
    /// ```
    /// # use pop3_proto::Greeting;
    /// assert!(Greeting::parse(b"+OK ready <no-at-sign>", Default::default()).unwrap().apop_timestamp().is_none());
    /// ```
    pub fn apop_timestamp(&self) -> Option<&ApopTimestamp> {
        self.timestamp.as_ref()
    }
}

/// A strictly validated APOP timestamp: `<`, printable ASCII with exactly one `@` that has
/// text on both sides, `>`, at most [`MAX_TIMESTAMP_LEN`] octets (BAD-INPUT row 44).
///
/// ```
/// use pop3_proto::ApopTimestamp;
///
/// assert!(ApopTimestamp::parse(b"<1896.697170952@dbc.mtview.ca.us>").is_some());
/// for bad in [&b"<>"[..], b"<abc>", b"<<a@b>", b"<a@b", b"<\xc3\xa9@b>", b"<a@b@c>"] {
///     assert!(ApopTimestamp::parse(bad).is_none());
/// }
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ApopTimestamp(Bytes);

impl ApopTimestamp {
    /// Validates a whole timestamp, angle brackets included.
    pub fn parse(candidate: &[u8]) -> Option<Self> {
        let inner = candidate.strip_prefix(b"<")?.strip_suffix(b">")?;
        if candidate.len() > MAX_TIMESTAMP_LEN
            || !inner
                .iter()
                .all(|&b| (0x21..0x7f).contains(&b) && b != b'<' && b != b'>')
        {
            return None;
        }
        let at = memchr::memchr(b'@', inner)?;
        let (local, domain) = (&inner[..at], &inner[at + 1..]);
        if local.is_empty() || domain.is_empty() || domain.contains(&b'@') {
            return None;
        }
        Some(Self(Bytes::copy_from_slice(candidate)))
    }

    /// Finds the timestamp in greeting text: from the first `<` to the next `>`.
    ///
    /// A greeting whose first bracketed part is malformed has no usable timestamp; we do not
    /// go looking for a second one, because a server that mangles the first cannot be trusted
    /// to have meant another.
    pub fn find(text: &[u8]) -> Option<Self> {
        let start = memchr::memchr(b'<', text)?;
        let len = memchr::memchr(b'>', &text[start..])?;
        Self::parse(&text[start..=start + len])
    }

    /// The timestamp, angle brackets included (as hashed by APOP).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for ApopTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Validated printable ASCII: safe to show as is.
        write!(
            f,
            "{}",
            core::str::from_utf8(&self.0).unwrap_or("<invalid>")
        )
    }
}

/// A protocol that is not POP3, recognised from the first bytes a server sends.
///
/// ```
/// use pop3_proto::codec::greeting::{sniff_protocol, OtherProtocol};
/// assert_eq!(sniff_protocol(b"220 mx ESMTP"), Some(OtherProtocol::Smtp));
/// assert_eq!(sniff_protocol(b"* OK IMAP4rev1"), Some(OtherProtocol::Imap));
/// assert_eq!(sniff_protocol(b"\x16\x03\x01"), Some(OtherProtocol::Tls));
/// assert_eq!(sniff_protocol(b"+OK"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OtherProtocol {
    /// An SMTP banner (`220 …`).
    Smtp,
    /// An IMAP greeting (`* OK`, `* PREAUTH`, `* BYE`).
    Imap,
    /// TLS records: the port expects implicit TLS (995), not plaintext POP3.
    Tls,
    /// An SSH banner.
    Ssh,
    /// An HTTP response.
    Http,
    /// An FTP banner (`220` is SMTP too; FTP is told by `220-` or `FTP` in the text).
    Ftp,
}

impl fmt::Display for OtherProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Smtp => "an SMTP server (wrong port?)",
            Self::Imap => "an IMAP server (wrong port?)",
            Self::Tls => "TLS (use implicit TLS, usually port 995, for this port)",
            Self::Ssh => "an SSH server (wrong port?)",
            Self::Http => "an HTTP server (wrong port?)",
            Self::Ftp => "an FTP server (wrong port?)",
        })
    }
}

/// Recognises other protocols from the start of what a server sent (no line end needed).
pub fn sniff_protocol(start: &[u8]) -> Option<OtherProtocol> {
    let starts = |p: &[u8]| start.len() >= p.len() && start[..p.len()].eq_ignore_ascii_case(p);
    if start.len() >= 2 && matches!(start[0], 0x15 | 0x16) && start[1] == 0x03 {
        Some(OtherProtocol::Tls)
    } else if starts(b"220") {
        if memchr::memmem::find(start, b"FTP").is_some() {
            Some(OtherProtocol::Ftp)
        } else {
            Some(OtherProtocol::Smtp)
        }
    } else if starts(b"* OK") || starts(b"* PREAUTH") || starts(b"* BYE") {
        Some(OtherProtocol::Imap)
    } else if starts(b"SSH-") {
        Some(OtherProtocol::Ssh)
    } else if starts(b"HTTP/") {
        Some(OtherProtocol::Http)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn oversized_timestamp_is_refused() {
        let mut ts = vec![b'<'];
        ts.extend(core::iter::repeat_n(b'a', 1000));
        ts.extend(b"@b>");
        assert!(ApopTimestamp::parse(&ts).is_none());
    }

    #[test]
    fn finds_timestamp_in_text() {
        let ts = ApopTimestamp::find(b"Dovecot ready. <4a2.1@host>").unwrap();
        assert_eq!(ts.as_bytes(), b"<4a2.1@host>");
        assert!(ApopTimestamp::find(b"ready <<a@b>>").is_none());
        assert!(ApopTimestamp::find(b"no brackets").is_none());
    }
}
