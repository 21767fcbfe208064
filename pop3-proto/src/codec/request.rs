//! Command lines as a server reads them: a keyword and its arguments, strictly checked.

use core::num::NonZeroU32;

/// A client's command line, parsed (RFC 1939 §3: a case-insensitive keyword of 3–4
/// characters, arguments separated by single spaces).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestLine<'a> {
    /// `USER name`
    User(&'a [u8]),
    /// `PASS secret` (the rest of the line: passwords may hold spaces)
    Pass(&'a [u8]),
    /// `APOP name digest`
    Apop(&'a [u8], &'a [u8]),
    /// `AUTH mechanism [initial-response]`
    Auth(&'a [u8], Option<&'a [u8]>),
    /// `STAT`
    Stat,
    /// `LIST [n]`
    List(Option<NonZeroU32>),
    /// `UIDL [n]`
    Uidl(Option<NonZeroU32>),
    /// `RETR n`
    Retr(NonZeroU32),
    /// `TOP n lines`
    Top(NonZeroU32, u32),
    /// `DELE n`
    Dele(NonZeroU32),
    /// `NOOP`
    Noop,
    /// `RSET`
    Rset,
    /// `QUIT`
    Quit,
    /// `CAPA`
    Capa,
    /// `STLS`
    Stls,
    /// `UTF8`
    Utf8,
}

/// Why a command line was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// The keyword is not one this server knows.
    Unknown,
    /// Arguments missing, extra, or malformed (a message number that is not a number in
    /// 1..=4294967295, a line count that is not a number).
    BadArguments,
    /// A byte no command may hold (NUL, a bare CR, another control character).
    BadByte,
}

/// Parses one command line (without its CRLF).
///
/// ```
/// use pop3_proto::codec::request::{parse_request, RequestLine, RequestError};
/// assert_eq!(parse_request(b"retr 3"), Ok(RequestLine::Retr(3.try_into().unwrap())));
/// assert_eq!(parse_request(b"PASS two words"), Ok(RequestLine::Pass(b"two words")));
/// assert_eq!(parse_request(b"RETR 4294967296"), Err(RequestError::BadArguments));
/// assert_eq!(parse_request(b"DELE 0"), Err(RequestError::BadArguments));
/// assert_eq!(parse_request(b"STAT\r"), Err(RequestError::BadByte));
/// ```
pub fn parse_request(line: &[u8]) -> Result<RequestLine<'_>, RequestError> {
    if line.iter().any(|&b| b < 0x20 && b != b'\t' || b == 0x7f) {
        return Err(RequestError::BadByte);
    }
    let (keyword, rest) = match memchr::memchr(b' ', line) {
        Some(i) => (&line[..i], Some(&line[i + 1..])),
        None => (line, None),
    };
    let mut upper = [0u8; 4];
    if keyword.len() > 4 {
        return Err(RequestError::Unknown);
    }
    for (u, k) in upper.iter_mut().zip(keyword) {
        *u = k.to_ascii_uppercase();
    }
    let args = |n: usize| -> Result<[&[u8]; 2], RequestError> {
        let mut out: [&[u8]; 2] = [b"", b""];
        let mut parts = rest.map(|r| r.split(|&b| b == b' '));
        for slot in out.iter_mut().take(n) {
            let part = parts.as_mut().and_then(Iterator::next);
            match part {
                Some(p) if !p.is_empty() => *slot = p,
                _ => return Err(RequestError::BadArguments),
            }
        }
        if parts.as_mut().and_then(Iterator::next).is_some() {
            return Err(RequestError::BadArguments);
        }
        Ok(out)
    };
    let none = || match rest {
        None => Ok(()),
        Some(_) => Err(RequestError::BadArguments),
    };
    let optional_number = || -> Result<Option<NonZeroU32>, RequestError> {
        match rest {
            None => Ok(None),
            Some(_) => number(args(1)?[0]).map(Some),
        }
    };
    Ok(match &upper[..keyword.len()] {
        b"USER" => RequestLine::User(args(1)?[0]),
        b"PASS" => match rest {
            Some(secret) if !secret.is_empty() => RequestLine::Pass(secret),
            _ => return Err(RequestError::BadArguments),
        },
        b"APOP" => {
            let [name, digest] = args(2)?;
            RequestLine::Apop(name, digest)
        }
        b"AUTH" => match rest {
            None => return Err(RequestError::BadArguments),
            Some(r) => match memchr::memchr(b' ', r) {
                Some(i) => RequestLine::Auth(&r[..i], Some(&r[i + 1..])),
                None => RequestLine::Auth(r, None),
            },
        },
        b"STAT" => none().map(|()| RequestLine::Stat)?,
        b"LIST" => RequestLine::List(optional_number()?),
        b"UIDL" => RequestLine::Uidl(optional_number()?),
        b"RETR" => RequestLine::Retr(number(args(1)?[0])?),
        b"TOP" => {
            let [msg, lines] = args(2)?;
            let lines = core::str::from_utf8(lines)
                .ok()
                .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse().ok())
                .ok_or(RequestError::BadArguments)?;
            RequestLine::Top(number(msg)?, lines)
        }
        b"DELE" => RequestLine::Dele(number(args(1)?[0])?),
        b"NOOP" => none().map(|()| RequestLine::Noop)?,
        b"RSET" => none().map(|()| RequestLine::Rset)?,
        b"QUIT" => none().map(|()| RequestLine::Quit)?,
        b"CAPA" => none().map(|()| RequestLine::Capa)?,
        b"STLS" => none().map(|()| RequestLine::Stls)?,
        b"UTF8" => none().map(|()| RequestLine::Utf8)?,
        _ => return Err(RequestError::Unknown),
    })
}

/// A message number: decimal digits only, 1..=4294967295.
fn number(digits: &[u8]) -> Result<NonZeroU32, RequestError> {
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(RequestError::BadArguments);
    }
    core::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .and_then(NonZeroU32::new)
        .ok_or(RequestError::BadArguments)
}
