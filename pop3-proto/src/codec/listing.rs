//! STAT replies, scan listings (LIST) and unique-id listings (UIDL).
//!
//! All numbers are parsed with checked arithmetic: message numbers are `NonZeroU32`, sizes
//! `u64`, and anything that does not fit is an error, never a wrapped value.

use bytes::Bytes;
use core::fmt;
use core::num::NonZeroU32;

/// The reply to STAT: how many messages, and their total size in octets.
///
/// ```
/// use pop3_proto::codec::listing::{parse_stat, Stat};
/// assert_eq!(parse_stat(b"2 320", false), Ok(Stat { count: 2, size: 320 }));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stat {
    /// Number of messages in the maildrop (not counting deleted ones).
    pub count: u32,
    /// Total size in octets.
    pub size: u64,
}

/// One scan listing: a message number and its size in octets.
///
/// ```
/// use pop3_proto::codec::listing::parse_scan_listing;
/// let l = parse_scan_listing(b"1 120", false).unwrap();
/// assert_eq!((l.msg.get(), l.size), (1, 120));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScanListing {
    /// The message number.
    pub msg: NonZeroU32,
    /// The size in octets, as the server reports it (never used to preallocate).
    pub size: u64,
}

/// One unique-id listing: a message number and its unique id.
///
/// ```
/// use pop3_proto::codec::listing::parse_uid_listing;
/// let l = parse_uid_listing(b"1 whqtswO00WBw418f9t5JxYwZ", false, 70).unwrap();
/// assert_eq!(l.msg.get(), 1);
/// assert_eq!(l.uid, b"whqtswO00WBw418f9t5JxYwZ");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UidListing<'a> {
    /// The message number.
    pub msg: NonZeroU32,
    /// The unique id: 1 to 70 (by default) octets in 0x21..=0x7E.
    pub uid: &'a [u8],
}

/// A message's unique id, owned and validated (RFC 1939: 1–70 octets in 0x21..=0x7E).
///
/// ```
/// use pop3_proto::Uid;
/// let uid = Uid::new(b"QhdPYR:00WBw1Ph7x7", 70).unwrap();
/// assert_eq!(uid.as_str(), "QhdPYR:00WBw1Ph7x7");
/// assert!(Uid::new(b"has space", 70).is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uid(Bytes);

impl Uid {
    /// Validates and copies a unique id; `max_len` is the length cap (70 in RFC 1939).
    pub fn new(uid: &[u8], max_len: usize) -> Result<Self, ListingError> {
        check_uid(uid, max_len)?;
        Ok(Self(Bytes::copy_from_slice(uid)))
    }

    /// The id as a string (always printable ASCII).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a STAT reply or a listing line was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListingError {
    /// A field is missing (for example STAT `+OK 2` without a size).
    MissingField,
    /// A field is not a decimal number.
    NotANumber,
    /// Message number 0 or above 4294967295.
    BadMessageNumber,
    /// A size or count does not fit its type.
    Overflow,
    /// Fields are separated by something other than one space (strict mode).
    BadSeparator,
    /// The unique id is empty.
    EmptyUid,
    /// The unique id is longer than the configured cap.
    UidTooLong,
    /// The unique id contains a space, a control character or an 8-bit byte.
    BadUidByte,
}

impl fmt::Display for ListingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MissingField => "a field is missing",
            Self::NotANumber => "a field is not a decimal number",
            Self::BadMessageNumber => "the message number is 0 or does not fit 32 bits",
            Self::Overflow => "a number is too large",
            Self::BadSeparator => "fields are not separated by exactly one space",
            Self::EmptyUid => "the unique id is empty",
            Self::UidTooLong => "the unique id is longer than allowed",
            Self::BadUidByte => "the unique id contains a byte outside 0x21..=0x7E",
        })
    }
}

/// Parses STAT's text after `+OK `: `count SP size`, optionally followed by SP and more text.
///
/// ```
/// use pop3_proto::codec::listing::{parse_stat, ListingError};
/// assert_eq!(parse_stat(b"2", false), Err(ListingError::MissingField));
/// assert_eq!(parse_stat(b"a b", false), Err(ListingError::NotANumber));
/// assert!(parse_stat(b"2 320 messages", false).is_ok());
/// ```
pub fn parse_stat(text: &[u8], lenient: bool) -> Result<Stat, ListingError> {
    let mut fields = Fields::new(text, lenient);
    let count = parse_u64(fields.next()?)?;
    let size = parse_u64(fields.next()?)?;
    fields.rest()?;
    Ok(Stat {
        count: u32::try_from(count).map_err(|_| ListingError::Overflow)?,
        size,
    })
}

/// Parses a scan listing `msg SP size` (trailing `SP text` is allowed, as RFC 1939 permits).
///
/// ```
/// use pop3_proto::codec::listing::{parse_scan_listing, ListingError};
/// assert_eq!(parse_scan_listing(b"0 12", false), Err(ListingError::BadMessageNumber));
/// assert_eq!(parse_scan_listing(b"1  12", false), Err(ListingError::BadSeparator));
/// assert!(parse_scan_listing(b"1  12", true).is_ok());
/// ```
pub fn parse_scan_listing(line: &[u8], lenient: bool) -> Result<ScanListing, ListingError> {
    let mut fields = Fields::new(line, lenient);
    let msg = parse_msg(fields.next()?)?;
    let size = parse_u64(fields.next()?)?;
    fields.rest()?;
    Ok(ScanListing { msg, size })
}

/// Parses a unique-id listing `msg SP uid`; the uid runs to the end of the line.
///
/// ```
/// use pop3_proto::codec::listing::{parse_uid_listing, ListingError};
/// assert_eq!(parse_uid_listing(b"1 a b", false, 70), Err(ListingError::BadUidByte));
/// assert_eq!(parse_uid_listing(b"1 ", false, 70), Err(ListingError::EmptyUid));
/// ```
pub fn parse_uid_listing(
    line: &[u8],
    lenient: bool,
    max_uid_len: usize,
) -> Result<UidListing<'_>, ListingError> {
    let mut fields = Fields::new(line, lenient);
    let msg = parse_msg(fields.next()?)?;
    let mut uid = fields.remainder()?;
    if lenient {
        uid = trim_blanks(uid);
    }
    check_uid(uid, max_uid_len)?;
    Ok(UidListing { msg, uid })
}

fn check_uid(uid: &[u8], max_len: usize) -> Result<(), ListingError> {
    if uid.is_empty() {
        Err(ListingError::EmptyUid)
    } else if uid.len() > max_len {
        Err(ListingError::UidTooLong)
    } else if !uid.iter().all(|&b| (0x21..0x7f).contains(&b)) {
        Err(ListingError::BadUidByte)
    } else {
        Ok(())
    }
}

fn trim_blanks(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Parses a message number: 1..=u32::MAX.
pub fn parse_msg(field: &[u8]) -> Result<NonZeroU32, ListingError> {
    let n = parse_u64(field).map_err(|e| match e {
        ListingError::Overflow => ListingError::BadMessageNumber,
        other => other,
    })?;
    u32::try_from(n)
        .ok()
        .and_then(NonZeroU32::new)
        .ok_or(ListingError::BadMessageNumber)
}

/// Parses a non-empty decimal number with checked arithmetic (no sign, no wrap).
pub fn parse_u64(field: &[u8]) -> Result<u64, ListingError> {
    if field.is_empty() {
        return Err(ListingError::MissingField);
    }
    field.iter().try_fold(0u64, |acc, &b| {
        if !b.is_ascii_digit() {
            return Err(ListingError::NotANumber);
        }
        acc.checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .ok_or(ListingError::Overflow)
    })
}

/// Splits a line into space-separated fields: strictly one space, or (lenient) runs of
/// spaces and TABs.
struct Fields<'a> {
    rest: &'a [u8],
    lenient: bool,
    first: bool,
}

impl<'a> Fields<'a> {
    fn new(line: &'a [u8], lenient: bool) -> Self {
        let rest = if lenient { trim_blanks(line) } else { line };
        Self {
            rest,
            lenient,
            first: true,
        }
    }

    fn skip_separator(&mut self) -> Result<(), ListingError> {
        if self.first {
            self.first = false;
            return Ok(());
        }
        match self.rest {
            [] => Err(ListingError::MissingField),
            [b' ', rest @ ..] if !self.lenient => {
                self.rest = rest;
                if matches!(rest.first(), Some(b' ' | b'\t')) {
                    return Err(ListingError::BadSeparator);
                }
                Ok(())
            }
            [b' ' | b'\t', ..] if self.lenient => {
                self.rest = trim_blanks(self.rest);
                Ok(())
            }
            _ => Err(ListingError::BadSeparator),
        }
    }

    fn next(&mut self) -> Result<&'a [u8], ListingError> {
        self.skip_separator()?;
        let end = self
            .rest
            .iter()
            .position(|&b| b == b' ' || b == b'\t')
            .unwrap_or(self.rest.len());
        let (field, rest) = self.rest.split_at(end);
        self.rest = rest;
        if field.is_empty() {
            return Err(ListingError::MissingField);
        }
        Ok(field)
    }

    /// Everything after the next separator, unsplit.
    fn remainder(&mut self) -> Result<&'a [u8], ListingError> {
        match self.skip_separator() {
            // A missing separator leaves an empty remainder, which the caller then names.
            Ok(()) | Err(ListingError::MissingField) => Ok(core::mem::take(&mut self.rest)),
            Err(e) => Err(e),
        }
    }

    /// Accepts end of line or a separator followed by free text.
    fn rest(&mut self) -> Result<(), ListingError> {
        match self.rest {
            [] => Ok(()),
            [b' ', ..] => Ok(()),
            [b'\t', ..] if self.lenient => Ok(()),
            [b'\t', ..] => Err(ListingError::BadSeparator),
            _ => Err(ListingError::NotANumber),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_checked() {
        assert_eq!(
            parse_scan_listing(b"4294967296 1", false),
            Err(ListingError::BadMessageNumber)
        );
        assert!(parse_scan_listing(b"4294967295 1", false).is_ok());
        assert_eq!(
            parse_scan_listing(b"-1 1", false),
            Err(ListingError::NotANumber)
        );
        assert_eq!(
            parse_scan_listing(b"1 18446744073709551616", false),
            Err(ListingError::Overflow)
        );
        assert_eq!(
            parse_scan_listing(b"1 18446744073709551615", false)
                .unwrap()
                .size,
            u64::MAX
        );
        assert_eq!(
            parse_scan_listing(b"1x 2", false),
            Err(ListingError::NotANumber)
        );
        assert_eq!(
            parse_scan_listing(b"1\t2", false),
            Err(ListingError::BadSeparator)
        );
        assert!(parse_scan_listing(b"1\t2", true).is_ok());
    }

    #[test]
    fn uid_rules() {
        let long = [b'a'; 71];
        let mut line = alloc::vec::Vec::from(&b"1 "[..]);
        line.extend_from_slice(&long);
        assert_eq!(
            parse_uid_listing(&line, false, 70),
            Err(ListingError::UidTooLong)
        );
        assert!(parse_uid_listing(&line, false, 71).is_ok());
        assert_eq!(
            parse_uid_listing(b"1 a\x01", false, 70),
            Err(ListingError::BadUidByte)
        );
        assert_eq!(
            parse_uid_listing(b"1 \xc3\xa9", false, 70),
            Err(ListingError::BadUidByte)
        );
        assert_eq!(
            parse_uid_listing(b"1  abc", false, 70),
            Err(ListingError::BadSeparator)
        );
        assert_eq!(
            parse_uid_listing(b"1", false, 70),
            Err(ListingError::EmptyUid)
        );
        assert_eq!(parse_uid_listing(b"1\tabc ", true, 70).unwrap().uid, b"abc");
    }

    #[test]
    fn stat_trailing_text() {
        assert_eq!(
            parse_stat(b"2 320 octets", false),
            Ok(Stat {
                count: 2,
                size: 320
            })
        );
        assert_eq!(parse_stat(b"2 320x", false), Err(ListingError::NotANumber));
        assert_eq!(
            parse_stat(b"4294967296 0", false),
            Err(ListingError::Overflow)
        );
    }
}
