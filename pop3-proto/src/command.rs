//! Commands and their encoding into one CRLF-terminated line.

use crate::args::{LangTag, Password, RawLine, UserName};
use bytes::BufMut;
use core::num::NonZeroU32;

/// A message number: messages are numbered from 1.
pub type MsgNum = NonZeroU32;

/// A POP3 command (RFC 1939, 2449, 2595, 6856, RFC 1081's RPOP), built from validated
/// arguments so that it always encodes to one well-formed line.
///
/// AUTH and APOP are sent with [`crate::Client::authenticate`] and [`crate::Client::apop`]:
/// their lines depend on the SASL mechanism and on the greeting's timestamp.
///
/// ```
/// use pop3_proto::{Command, UserName};
/// use core::num::NonZeroU32;
///
/// let mut line = Vec::new();
/// Command::Top { msg: NonZeroU32::new(3).unwrap(), lines: 10 }.encode(&mut line);
/// assert_eq!(line, b"TOP 3 10\r\n");
///
/// let mut line = Vec::new();
/// Command::User(UserName::new("mrose").unwrap()).encode(&mut line);
/// assert_eq!(line, b"USER mrose\r\n");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// `USER name`
    User(UserName),
    /// `PASS secret` (redacted in `Debug`).
    Pass(Password),
    /// `RPOP user` (RFC 1081; trusts the client host, obsolete but supported like `poplib`).
    Rpop(UserName),
    /// `STAT`
    Stat,
    /// `LIST` (multi-line) or `LIST n` (one line).
    List(Option<MsgNum>),
    /// `RETR n`: the whole message, streamed.
    Retr(MsgNum),
    /// `TOP n lines`: the headers and the first `lines` body lines, streamed.
    Top {
        /// The message.
        msg: MsgNum,
        /// How many body lines after the header.
        lines: u32,
    },
    /// `DELE n`: marks a message deleted; only QUIT's `+OK` commits it.
    Dele(MsgNum),
    /// `NOOP`
    Noop,
    /// `RSET`: unmarks deletions.
    Rset,
    /// `QUIT`: ends the session, committing deletions in the TRANSACTION state.
    Quit,
    /// `UIDL` (multi-line) or `UIDL n` (one line).
    Uidl(Option<MsgNum>),
    /// `CAPA` (RFC 2449).
    Capa,
    /// `STLS` (RFC 2595): start TLS on this connection.
    Stls,
    /// `UTF8` (RFC 6856): switch to UTF-8 mode.
    Utf8,
    /// `LANG` (list languages, multi-line) or `LANG tag` (choose one) (RFC 6856).
    Lang(Option<LangTag>),
    /// A command this crate does not model; the caller declares whether its `+OK` reply
    /// is followed by a multi-line body (delivered dot-unstuffed as body chunks).
    Raw {
        /// The command line, without CRLF.
        line: RawLine,
        /// `true` if a `+OK` reply is multi-line.
        multiline: bool,
    },
}

impl Command {
    /// The command's keyword, for messages and traces.
    ///
    /// ```
    /// # use pop3_proto::Command;
    /// assert_eq!(Command::Stat.keyword(), "STAT");
    /// ```
    pub fn keyword(&self) -> &'static str {
        match self {
            Self::User(_) => "USER",
            Self::Pass(_) => "PASS",
            Self::Rpop(_) => "RPOP",
            Self::Stat => "STAT",
            Self::List(_) => "LIST",
            Self::Retr(_) => "RETR",
            Self::Top { .. } => "TOP",
            Self::Dele(_) => "DELE",
            Self::Noop => "NOOP",
            Self::Rset => "RSET",
            Self::Quit => "QUIT",
            Self::Uidl(_) => "UIDL",
            Self::Capa => "CAPA",
            Self::Stls => "STLS",
            Self::Utf8 => "UTF8",
            Self::Lang(_) => "LANG",
            Self::Raw { .. } => "raw command",
        }
    }

    /// Appends the command line, CRLF included, to `out`.
    pub fn encode(&self, out: &mut impl BufMut) {
        self.write_to(&mut BufSink(out));
    }

    fn write_to(&self, out: &mut impl Sink) {
        match self {
            Self::User(name) => line(out, b"USER", &[name.as_bytes()]),
            Self::Pass(secret) => line(out, b"PASS", &[secret.as_bytes()]),
            Self::Rpop(name) => line(out, b"RPOP", &[name.as_bytes()]),
            Self::Stat => line(out, b"STAT", &[]),
            Self::List(msg) => numbered(out, b"LIST", *msg, None),
            Self::Retr(msg) => numbered(out, b"RETR", Some(*msg), None),
            Self::Top { msg, lines } => numbered(out, b"TOP", Some(*msg), Some(*lines)),
            Self::Dele(msg) => numbered(out, b"DELE", Some(*msg), None),
            Self::Noop => line(out, b"NOOP", &[]),
            Self::Rset => line(out, b"RSET", &[]),
            Self::Quit => line(out, b"QUIT", &[]),
            Self::Uidl(msg) => numbered(out, b"UIDL", *msg, None),
            Self::Capa => line(out, b"CAPA", &[]),
            Self::Stls => line(out, b"STLS", &[]),
            Self::Utf8 => line(out, b"UTF8", &[]),
            Self::Lang(None) => line(out, b"LANG", &[]),
            Self::Lang(Some(tag)) => line(out, b"LANG", &[tag.as_str().as_bytes()]),
            Self::Raw { line: raw, .. } => {
                out.put(raw.as_bytes());
                out.put(b"\r\n");
            }
        }
    }

    /// The encoded length in octets, CRLF included.
    ///
    /// ```
    /// # use pop3_proto::Command;
    /// assert_eq!(Command::Noop.encoded_len(), 6);
    /// ```
    pub fn encoded_len(&self) -> usize {
        let mut counter = Counter(0);
        self.write_to(&mut counter);
        counter.0
    }

    /// Whether the command may carry a secret (its line must be redacted in traces).
    pub fn is_secret(&self) -> bool {
        matches!(self, Self::Pass(_))
    }
}

/// Where encoded bytes go: a real buffer, or a counter that measures a line first.
pub(crate) trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

pub(crate) struct BufSink<'a, B>(pub(crate) &'a mut B);

impl<B: BufMut> Sink for BufSink<'_, B> {
    fn put(&mut self, bytes: &[u8]) {
        self.0.put_slice(bytes);
    }
}

/// Counts octets instead of writing them.
pub(crate) struct Counter(pub(crate) usize);

impl Sink for Counter {
    fn put(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }
}

/// Writes `KEYWORD arg arg…CRLF`.
pub(crate) fn line(out: &mut impl Sink, keyword: &[u8], args: &[&[u8]]) {
    out.put(keyword);
    for arg in args {
        out.put(b" ");
        out.put(arg);
    }
    out.put(b"\r\n");
}

fn numbered(out: &mut impl Sink, keyword: &[u8], msg: Option<MsgNum>, extra: Option<u32>) {
    out.put(keyword);
    for n in msg.map(NonZeroU32::get).into_iter().chain(extra) {
        out.put(b" ");
        put_decimal(out, u64::from(n));
    }
    out.put(b"\r\n");
}

/// Writes a number in decimal without allocating.
pub(crate) fn put_decimal(out: &mut impl Sink, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.put(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn encodes_every_command() {
        let n = |v| NonZeroU32::new(v).unwrap();
        let cases: [(Command, &[u8]); 12] = [
            (Command::Stat, b"STAT\r\n"),
            (Command::List(None), b"LIST\r\n"),
            (Command::List(Some(n(4294967295))), b"LIST 4294967295\r\n"),
            (Command::Retr(n(1)), b"RETR 1\r\n"),
            (
                Command::Top {
                    msg: n(1),
                    lines: 0,
                },
                b"TOP 1 0\r\n",
            ),
            (Command::Dele(n(12)), b"DELE 12\r\n"),
            (Command::Uidl(Some(n(2))), b"UIDL 2\r\n"),
            (
                Command::Pass(Password::new("tan staaf").unwrap()),
                b"PASS tan staaf\r\n",
            ),
            (
                Command::Lang(Some(LangTag::new("*").unwrap())),
                b"LANG *\r\n",
            ),
            (
                Command::Rpop(UserName::new("mrose").unwrap()),
                b"RPOP mrose\r\n",
            ),
            (Command::Utf8, b"UTF8\r\n"),
            (
                Command::Raw {
                    line: RawLine::new("XTND XMIT").unwrap(),
                    multiline: false,
                },
                b"XTND XMIT\r\n",
            ),
        ];
        for (cmd, wire) in cases {
            let mut out = Vec::new();
            cmd.encode(&mut out);
            assert_eq!(out, wire);
            assert_eq!(cmd.encoded_len(), wire.len());
        }
    }
}
