//! Reading a transcript file.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use pop3_proto::{Config, Pipelining};

/// One step of a transcript, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// Bytes the server sends.
    Server(Vec<u8>),
    /// A line the client must send (without CRLF), as written after `C: `.
    Client(String),
    /// A procedure to run, as written after `P: `.
    Procedure(String),
    /// The server closes the connection.
    Eof,
}

/// A parsed transcript.
#[derive(Debug, Clone)]
pub struct Transcript {
    /// Its name (the file name).
    pub name: String,
    /// The session's configuration (`# config:`).
    pub config: Config,
    /// The APOP secret (`# secret:`).
    pub secret: String,
    /// The conversation.
    pub items: Vec<Item>,
    /// The expected events (`E:` lines, without the prefix).
    pub events: Vec<String>,
    /// The expected fatal error (`X:`), if any.
    pub error: Option<String>,
}

/// A transcript line this crate cannot read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The transcript's name.
    pub name: String,
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

impl core::fmt::Display for ParseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}:{}: {}", self.name, self.line, self.reason)
    }
}

impl Transcript {
    /// Parses the text of a transcript.
    ///
    /// ```
    /// use pop3_transcript::{Item, Transcript};
    /// let t = Transcript::parse("t", "S: +OK hi\nC: QUIT\nE: greeting +OK hi\n").unwrap();
    /// assert_eq!(t.items[0], Item::Server(b"+OK hi\r\n".to_vec()));
    /// assert_eq!(t.events, ["greeting +OK hi"]);
    /// ```
    pub fn parse(name: &str, text: &str) -> Result<Self, ParseError> {
        let mut t = Transcript {
            name: name.to_owned(),
            config: Config::default(),
            secret: String::new(),
            items: Vec::new(),
            events: Vec::new(),
            error: None,
        };
        for (n, line) in text.lines().enumerate() {
            let fail = |reason: String| ParseError {
                name: name.to_owned(),
                line: n + 1,
                reason,
            };
            if let Some(rest) = line.strip_prefix("S: ") {
                t.items.push(Item::Server(
                    unescape(&format!("{rest}\r\n")).map_err(fail)?,
                ));
            } else if line == "S:" {
                t.items.push(Item::Server(b"\r\n".to_vec()));
            } else if let Some(rest) = line.strip_prefix("S> ") {
                t.items.push(Item::Server(unescape(rest).map_err(fail)?));
            } else if let Some(rest) = line.strip_prefix("C: ") {
                t.items.push(Item::Client(rest.to_owned()));
            } else if let Some(rest) = line.strip_prefix("P: ") {
                t.items.push(Item::Procedure(rest.to_owned()));
            } else if let Some(rest) = line.strip_prefix("E: ") {
                t.events.push(rest.to_owned());
            } else if let Some(rest) = line.strip_prefix("X: ") {
                t.error = Some(rest.to_owned());
            } else if let Some(rest) = line.strip_prefix("# config: ") {
                for opt in rest.split(',').map(str::trim) {
                    match opt {
                        "pipelining=on" => t.config.pipelining = Pipelining::On,
                        "pipelining=off" => t.config.pipelining = Pipelining::Off,
                        "pipelining=auto" => t.config.pipelining = Pipelining::Auto,
                        "bare_lf" => t.config.lenient.bare_lf = true,
                        "lowercase" => t.config.lenient.lowercase_status = true,
                        "loose" => t.config.lenient.loose_separators = true,
                        "implicit_tls" => t.config.implicit_tls = true,
                        "plaintext_auth" => t.config.allow_plaintext_auth = true,
                        other => return Err(fail(format!("unknown config {other:?}"))),
                    }
                }
            } else if let Some(rest) = line.strip_prefix("# secret: ") {
                t.secret = rest.to_owned();
            } else if line == "# eof" {
                t.items.push(Item::Eof);
            } else if !(line.starts_with('#') || line.trim().is_empty()) {
                return Err(fail(format!("cannot read line {line:?}")));
            }
        }
        Ok(t)
    }

    /// Bytes the server sends in all.
    pub fn server_bytes(&self) -> usize {
        self.items
            .iter()
            .map(|i| match i {
                Item::Server(b) => b.len(),
                _ => 0,
            })
            .sum()
    }
}

/// Decodes `\r`, `\n`, `\t`, `\\` and `\xNN` escapes inside transcript lines.
///
/// ```
/// assert_eq!(pop3_transcript::unescape(r"a\r\n\x00").unwrap(), b"a\r\n\0");
/// ```
pub fn unescape(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b'\\' => out.push(b'\\'),
                b't' => out.push(b'\t'),
                b'x' => {
                    let hex = s
                        .get(i + 2..i + 4)
                        .ok_or("a \\x escape without two digits")?;
                    out.push(u8::from_str_radix(hex, 16).map_err(|_| format!("bad \\x{hex}"))?);
                    i += 2;
                }
                other => return Err(format!("bad escape \\{}", other as char)),
            }
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}
