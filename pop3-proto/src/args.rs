//! Validated command arguments. Every argument type checks its bytes on construction, so no
//! CR, LF or NUL can ever reach the wire inside an argument (BAD-INPUT row 45).

use bytes::Bytes;
use core::fmt;

/// Why an argument was refused.
///
/// ```
/// use pop3_proto::{UserName, ArgumentError};
/// assert_eq!(UserName::new("bob\r\nDELE 1").unwrap_err(), ArgumentError::LineBreak { what: "user name" });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArgumentError {
    /// The argument is empty.
    #[error("the {what} is empty")]
    Empty {
        /// Which argument.
        what: &'static str,
    },
    /// The argument contains CR or LF, which would end the command early.
    #[error("the {what} contains a line break (CR or LF), which would let it inject commands")]
    LineBreak {
        /// Which argument.
        what: &'static str,
    },
    /// The argument contains a NUL byte.
    #[error("the {what} contains a NUL byte")]
    Nul {
        /// Which argument.
        what: &'static str,
    },
    /// The argument contains a space or TAB where POP3 uses them to separate arguments.
    #[error("the {what} contains a space or TAB, which POP3 would read as two arguments")]
    Space {
        /// Which argument.
        what: &'static str,
    },
    /// The argument contains a byte not allowed in it (see the type's documentation).
    #[error("the {what} contains a byte that is not allowed in it")]
    BadByte {
        /// Which argument.
        what: &'static str,
    },
    /// The argument is longer than any command can carry (255 octets).
    #[error("the {what} is too long for a POP3 command (255 octets at most)")]
    TooLong {
        /// Which argument.
        what: &'static str,
    },
}

/// Longest argument any command could carry: the whole command is at most 255 octets.
const MAX_ARG: usize = 255;

fn check(bytes: &[u8], what: &'static str, spaces: bool) -> Result<(), ArgumentError> {
    if bytes.is_empty() {
        return Err(ArgumentError::Empty { what });
    }
    if bytes.len() > MAX_ARG {
        return Err(ArgumentError::TooLong { what });
    }
    for &b in bytes {
        match b {
            b'\r' | b'\n' => return Err(ArgumentError::LineBreak { what }),
            0 => return Err(ArgumentError::Nul { what }),
            b' ' | b'\t' if !spaces => return Err(ArgumentError::Space { what }),
            _ => {}
        }
    }
    Ok(())
}

macro_rules! byte_arg {
    ($(#[$doc:meta])* $name:ident, $what:literal, spaces: $spaces:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub struct $name(Bytes);

        impl $name {
            #[doc = concat!("Validates a ", $what, ".")]
            pub fn new(value: impl AsRef<[u8]>) -> Result<Self, ArgumentError> {
                let value = value.as_ref();
                check(value, $what, $spaces)?;
                Ok(Self(Bytes::copy_from_slice(value)))
            }

            #[doc = concat!("The ", $what, "'s bytes.")]
            pub fn as_bytes(&self) -> &[u8] {
                &self.0
            }
        }

        impl TryFrom<&str> for $name {
            type Error = ArgumentError;
            fn try_from(value: &str) -> Result<Self, ArgumentError> {
                Self::new(value)
            }
        }
    };
}

byte_arg!(
    /// A mailbox name for USER, APOP and RPOP: no CR, LF, NUL, space or TAB.
    ///
    /// ```
    /// use pop3_proto::UserName;
    /// assert!(UserName::new("mrose").is_ok());
    /// assert!(UserName::new("two words").is_err());
    /// assert!(UserName::new("").is_err());
    /// ```
    UserName, "user name", spaces: false
);

/// A password for PASS (or the secret APOP hashes). Spaces are allowed (RFC 1939 lets a
/// server read PASS's whole rest of line); CR, LF and NUL are not.
///
/// `Debug` never shows the value, and the bytes are wiped from memory when dropped:
///
/// ```
/// use pop3_proto::Password;
/// let p = Password::new("tan staaf").unwrap();
/// assert_eq!(format!("{p:?}"), "Password(<redacted>)");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Password(zeroize::Zeroizing<alloc::vec::Vec<u8>>);

impl Password {
    /// Validates a password.
    pub fn new(value: impl AsRef<[u8]>) -> Result<Self, ArgumentError> {
        let value = value.as_ref();
        check(value, "password", true)?;
        Ok(Self(zeroize::Zeroizing::new(value.to_vec())))
    }

    /// The password's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl TryFrom<&str> for Password {
    type Error = ArgumentError;
    fn try_from(value: &str) -> Result<Self, ArgumentError> {
        Self::new(value)
    }
}

impl fmt::Debug for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserName(\"{}\")", crate::text::Quoted(&self.0))
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A SASL mechanism name (RFC 4422): 1–20 characters of `A-Z 0-9 - _`, upper-cased.
///
/// ```
/// use pop3_proto::MechanismName;
/// assert_eq!(MechanismName::new("scram-sha-256").unwrap().as_str(), "SCRAM-SHA-256");
/// assert!(MechanismName::new("PLAIN X").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MechanismName(Bytes);

impl MechanismName {
    /// Validates a mechanism name.
    pub fn new(name: impl AsRef<[u8]>) -> Result<Self, ArgumentError> {
        let name = name.as_ref();
        let what = "SASL mechanism name";
        check(name, what, false)?;
        if name.len() > 20 {
            return Err(ArgumentError::TooLong { what });
        }
        if !name
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(ArgumentError::BadByte { what });
        }
        Ok(Self(Bytes::from(name.to_ascii_uppercase())))
    }

    /// The name, upper case.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for MechanismName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MechanismName({})", self.as_str())
    }
}

/// A language tag for LANG (RFC 6856): `*` or an RFC 5646 tag (`A-Z a-z 0-9 -`).
///
/// ```
/// use pop3_proto::LangTag;
/// assert!(LangTag::new("en-GB").is_ok());
/// assert!(LangTag::new("*").is_ok());
/// assert!(LangTag::new("en GB").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LangTag(Bytes);

impl LangTag {
    /// Validates a language tag.
    pub fn new(tag: impl AsRef<[u8]>) -> Result<Self, ArgumentError> {
        let tag = tag.as_ref();
        let what = "language tag";
        check(tag, what, false)?;
        let ok = tag == b"*" || tag.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return Err(ArgumentError::BadByte { what });
        }
        Ok(Self(Bytes::copy_from_slice(tag)))
    }

    /// The tag's text.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for LangTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LangTag({})", self.as_str())
    }
}

/// A whole command line for [`crate::Command::Raw`], without its CRLF: printable text,
/// spaces allowed, no CR, LF or NUL. For extensions this crate does not model.
///
/// ```
/// use pop3_proto::RawLine;
/// assert!(RawLine::new("XTND XMIT").is_ok());
/// assert!(RawLine::new("NOOP\r\nDELE 1").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RawLine(Bytes);

impl RawLine {
    /// Validates a raw command line.
    pub fn new(line: impl AsRef<[u8]>) -> Result<Self, ArgumentError> {
        let line = line.as_ref();
        check(line, "raw command line", true)?;
        Ok(Self(Bytes::copy_from_slice(line)))
    }

    /// The line's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for RawLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawLine(\"{}\")", crate::text::Quoted(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_refuses_line_breaks_and_nul() {
        for bad in ["a\rb", "a\nb", "a\0b"] {
            assert!(UserName::new(bad).is_err());
            assert!(Password::new(bad).is_err());
            assert!(MechanismName::new(bad).is_err());
            assert!(LangTag::new(bad).is_err());
            assert!(RawLine::new(bad).is_err());
        }
        assert!(Password::new([b'x'; 256]).is_err());
    }
}
