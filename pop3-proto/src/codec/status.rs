//! Status lines: `+OK` / `-ERR`, an optional `[RESP-CODE]` (RFC 2449, 3206, 6856) and text.

use crate::codec::Leniency;
use crate::text::ServerText;
use bytes::Bytes;

/// Whether the server said `+OK` or `-ERR`.
///
/// ```
/// use pop3_proto::codec::status::{parse_status, Indicator};
/// assert_eq!(parse_status(b"-ERR no", Default::default()).unwrap().indicator, Indicator::Err);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Indicator {
    /// `+OK`
    Ok,
    /// `-ERR`
    Err,
}

/// A status line, borrowed from the input.
///
/// ```
/// use pop3_proto::codec::status::{parse_status, Indicator};
///
/// let s = parse_status(b"-ERR [IN-USE] mailbox locked", Default::default()).unwrap();
/// assert_eq!(s.indicator, Indicator::Err);
/// assert_eq!(s.code, Some(&b"IN-USE"[..]));
/// assert_eq!(s.text, b"mailbox locked");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusLine<'a> {
    /// `+OK` or `-ERR`.
    pub indicator: Indicator,
    /// The response code between the brackets, if the text starts with a well-formed one.
    pub code: Option<&'a [u8]>,
    /// The text after the indicator (and after the response code, if any).
    pub text: &'a [u8],
}

/// Why a status line was refused.
///
/// ```
/// use pop3_proto::codec::status::{parse_status, StatusError};
/// assert_eq!(parse_status(b"* OK IMAP", Default::default()), Err(StatusError::BadIndicator));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatusError {
    /// Neither `+OK` nor `-ERR` (for example `+OKAY`, `-ERROR`, `220 smtp`, an empty line).
    BadIndicator,
}

/// Parses one status line (without its line end).
///
/// Strict by default: the indicator must be upper case and followed by nothing or one space.
/// [`Leniency::lowercase_status`] accepts `+ok`/`-err` in any case, and
/// [`Leniency::loose_separators`] a TAB after the indicator, for servers that send them.
///
/// ```
/// use pop3_proto::codec::status::{parse_status, StatusError};
/// assert!(parse_status(b"+OK", Default::default()).is_ok());
/// assert_eq!(parse_status(b"+OKAY", Default::default()), Err(StatusError::BadIndicator));
/// assert_eq!(parse_status(b"+ok fine", Default::default()), Err(StatusError::BadIndicator));
/// let mut lenient = pop3_proto::codec::Leniency::default();
/// lenient.lowercase_status = true;
/// assert!(parse_status(b"+ok fine", lenient).is_ok());
/// ```
pub fn parse_status(line: &[u8], lenient: Leniency) -> Result<StatusLine<'_>, StatusError> {
    let (indicator, rest) =
        split_indicator(line, lenient.lowercase_status).ok_or(StatusError::BadIndicator)?;
    let text = match rest.split_first() {
        None => rest,
        Some((b' ', text)) => text,
        Some((b'\t', text)) if lenient.loose_separators => text,
        Some(_) => return Err(StatusError::BadIndicator),
    };
    let (code, text) = split_code(text);
    Ok(StatusLine {
        indicator,
        code,
        text,
    })
}

fn split_indicator(line: &[u8], lenient: bool) -> Option<(Indicator, &[u8])> {
    let matches = |word: &[u8]| {
        line.len() >= word.len()
            && if lenient {
                line[..word.len()].eq_ignore_ascii_case(word)
            } else {
                &line[..word.len()] == word
            }
    };
    if matches(b"+OK") {
        Some((Indicator::Ok, &line[3..]))
    } else if matches(b"-ERR") {
        Some((Indicator::Err, &line[4..]))
    } else {
        None
    }
}

/// Splits a leading `[code]` off `text`. A malformed bracket is not a code: it stays text.
fn split_code(text: &[u8]) -> (Option<&[u8]>, &[u8]) {
    let Some(inner) = text.strip_prefix(b"[") else {
        return (None, text);
    };
    let Some(end) = memchr::memchr(b']', inner) else {
        return (None, text);
    };
    let code = &inner[..end];
    // resp-code = 1*rchar *("/" 1*rchar), rchar = printable except '/' and ']'.
    let well_formed = code
        .split(|&b| b == b'/')
        .all(|level| !level.is_empty() && level.iter().all(|&b| (0x21..0x7f).contains(&b)));
    if !well_formed {
        return (None, text);
    }
    let after = &inner[end + 1..];
    (Some(code), after.strip_prefix(b" ").unwrap_or(after))
}

/// A response code from RFC 2449's extended response codes (and RFC 3206, RFC 6856).
///
/// Matching is case-insensitive; codes this crate does not know are kept as they came.
///
/// ```
/// use pop3_proto::ResponseCode;
/// assert_eq!(ResponseCode::parse(b"SYS/TEMP"), ResponseCode::SysTemp);
/// assert_eq!(ResponseCode::parse(b"login-delay"), ResponseCode::LoginDelay);
/// assert!(matches!(ResponseCode::parse(b"X-ACME"), ResponseCode::Other(_)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResponseCode {
    /// `[IN-USE]`: the mailbox is locked by another session (RFC 2449).
    InUse,
    /// `[LOGIN-DELAY]`: logged in too recently (RFC 2449).
    LoginDelay,
    /// `[SYS/TEMP]`: a temporary system problem; retrying later may work (RFC 3206).
    SysTemp,
    /// `[SYS/PERM]`: a permanent system problem; retrying will not help (RFC 3206).
    SysPerm,
    /// `[AUTH]`: the credentials were wrong (RFC 3206).
    Auth,
    /// `[UTF8]`: the mailbox needs UTF-8 mode (RFC 6856).
    Utf8,
    /// Any other code, exactly as sent (for example `SYS/TEMP/DISK` sub-levels or vendor codes).
    Other(ServerText),
}

impl ResponseCode {
    /// Classifies the text between the brackets.
    ///
    /// ```
    /// # use pop3_proto::ResponseCode;
    /// assert_eq!(ResponseCode::parse(b"AUTH"), ResponseCode::Auth);
    /// ```
    pub fn parse(code: &[u8]) -> Self {
        const KNOWN: [(&[u8], ResponseCode); 6] = [
            (b"IN-USE", ResponseCode::InUse),
            (b"LOGIN-DELAY", ResponseCode::LoginDelay),
            (b"SYS/TEMP", ResponseCode::SysTemp),
            (b"SYS/PERM", ResponseCode::SysPerm),
            (b"AUTH", ResponseCode::Auth),
            (b"UTF8", ResponseCode::Utf8),
        ];
        KNOWN
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(code))
            .map(|(_, c)| c.clone())
            .unwrap_or_else(|| ResponseCode::Other(ServerText::from_slice(code)))
    }

    /// Whether the condition is temporary, so that trying again later may succeed.
    ///
    /// ```
    /// # use pop3_proto::ResponseCode;
    /// assert!(ResponseCode::InUse.is_temporary());
    /// assert!(!ResponseCode::Auth.is_temporary());
    /// ```
    pub fn is_temporary(&self) -> bool {
        matches!(self, Self::InUse | Self::LoginDelay | Self::SysTemp)
    }
}

/// A complete status response, owned: what [`crate::Event::Status`] and errors carry.
///
/// ```
/// use pop3_proto::{Status, ResponseCode};
///
/// let s = Status::parse(b"-ERR [SYS/TEMP] try later", Default::default()).unwrap();
/// assert!(!s.is_ok());
/// assert_eq!(s.code(), Some(&ResponseCode::SysTemp));
/// assert_eq!(s.text().as_bytes(), b"try later");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    indicator: Indicator,
    code: Option<ResponseCode>,
    text: ServerText,
}

impl Status {
    /// Parses and copies a status line (see [`parse_status`]).
    ///
    /// ```
    /// # use pop3_proto::Status;
    /// assert!(Status::parse(b"+OK", Default::default()).unwrap().is_ok());
    /// ```
    pub fn parse(line: &[u8], lenient: Leniency) -> Result<Self, StatusError> {
        parse_status(line, lenient).map(Self::from_line)
    }

    /// Copies a borrowed [`StatusLine`].
    pub(crate) fn from_line(line: StatusLine<'_>) -> Self {
        Self {
            indicator: line.indicator,
            code: line.code.map(ResponseCode::parse),
            text: ServerText::from_slice(line.text),
        }
    }

    /// Builds a status from its parts (for tests and, later, the server role).
    ///
    /// ```
    /// # use pop3_proto::{Status, codec::status::Indicator};
    /// let s = Status::new(Indicator::Ok, None, "done");
    /// assert_eq!(s.text().as_bytes(), b"done");
    /// ```
    pub fn new(indicator: Indicator, code: Option<ResponseCode>, text: &str) -> Self {
        Self {
            indicator,
            code,
            text: ServerText::from(Bytes::copy_from_slice(text.as_bytes())),
        }
    }

    /// `true` for `+OK`.
    pub fn is_ok(&self) -> bool {
        self.indicator == Indicator::Ok
    }

    /// `+OK` or `-ERR`.
    pub fn indicator(&self) -> Indicator {
        self.indicator
    }

    /// The response code, if the server sent one.
    pub fn code(&self) -> Option<&ResponseCode> {
        self.code.as_ref()
    }

    /// The human-readable text (escaped when displayed).
    pub fn text(&self) -> &ServerText {
        &self.text
    }
}

impl core::fmt::Display for Status {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self.indicator {
            Indicator::Ok => "+OK",
            Indicator::Err => "-ERR",
        })?;
        if let Some(code) = &self.code {
            match code {
                ResponseCode::Other(raw) => write!(f, " [{raw}]")?,
                known => write!(f, " [{}]", code_name(known))?,
            }
        }
        if !self.text.is_empty() {
            write!(f, " {}", self.text.quoted())?;
        }
        Ok(())
    }
}

impl ResponseCode {
    /// The code as it goes between the brackets.
    ///
    /// ```
    /// # use pop3_proto::ResponseCode;
    /// assert_eq!(ResponseCode::SysTemp.as_bytes(), b"SYS/TEMP");
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            ResponseCode::Other(text) => text.as_bytes(),
            known => code_name(known).as_bytes(),
        }
    }
}

fn code_name(code: &ResponseCode) -> &'static str {
    match code {
        ResponseCode::InUse => "IN-USE",
        ResponseCode::LoginDelay => "LOGIN-DELAY",
        ResponseCode::SysTemp => "SYS/TEMP",
        ResponseCode::SysPerm => "SYS/PERM",
        ResponseCode::Auth => "AUTH",
        ResponseCode::Utf8 => "UTF8",
        ResponseCode::Other(_) => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn strict_indicators() {
        for bad in [
            &b"+OKAY"[..],
            b"+OKfoo",
            b"-ERROR",
            b"+ok",
            b"",
            b"OK",
            b"+OK\tx",
        ] {
            assert_eq!(
                parse_status(bad, Default::default()),
                Err(StatusError::BadIndicator),
                "{bad:?}"
            );
        }
        assert_eq!(parse_status(b"-ERR", Default::default()).unwrap().text, b"");
        assert_eq!(parse_status(b"+OK ", Default::default()).unwrap().text, b"");
    }

    #[test]
    fn malformed_codes_stay_text() {
        let s = parse_status(b"+OK [unterminated", Default::default()).unwrap();
        assert_eq!((s.code, s.text), (None, &b"[unterminated"[..]));
        let s = parse_status(b"+OK [A//B] x", Default::default()).unwrap();
        assert_eq!(s.code, None);
        let s = parse_status(b"-ERR [SYS/TEMP/DISK]", Default::default()).unwrap();
        assert_eq!(s.code, Some(&b"SYS/TEMP/DISK"[..]));
        assert_eq!(s.text, b"");
    }

    #[test]
    fn display_escapes_and_names_code() {
        let s = Status::parse(b"-ERR [sys/perm] gone\x1b[2J", Default::default()).unwrap();
        assert_eq!(s.to_string(), r"-ERR [SYS/PERM] gone\x1b[2J");
    }
}
