//! Commands accepted by the session, waiting to be sent or waiting for their reply.

use super::Secret;
use crate::command::{Command, MsgNum};
use crate::Handle;
use bytes::BufMut;

/// What goes on the wire for one pending command.
pub(crate) enum Wire {
    /// An ordinary command, encoded when it is sent.
    Command(Command),
    /// A line built when accepted (APOP with its digest, AUTH with its initial response):
    /// both secrets, wiped on drop and never shown by `Debug`.
    Encoded { keyword: &'static str, line: Secret },
    /// The session's own keepalive NOOP; its reply is not reported.
    KeepAlive,
}

impl core::fmt::Debug for Wire {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Command(c) => c.fmt(f),
            Self::Encoded { keyword, .. } => write!(f, "{keyword} <redacted>"),
            Self::KeepAlive => f.write_str("NOOP (keepalive)"),
        }
    }
}

/// The shape of the reply a pending command expects: the decoder is driven by this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// One status line.
    Simple,
    /// PASS, APOP, RPOP: `+OK` logs in.
    Login,
    /// `+OK count size`.
    Stat,
    /// LIST: multi-line without argument, `+OK n size` with one.
    List(Option<MsgNum>),
    /// UIDL: multi-line without argument, `+OK n uid` with one.
    Uidl(Option<MsgNum>),
    /// A dot-stuffed body (RETR, TOP, multi-line raw commands).
    Body,
    /// CAPA lines.
    Capa,
    /// LANG without argument: `tag description` lines.
    LangList,
    /// STLS: `+OK` starts the handshake.
    Stls,
    /// QUIT: the reply ends the session.
    Quit,
    /// AUTH: `+ challenge` lines, then a status.
    Sasl,
    /// The keepalive NOOP.
    KeepAlive,
}

impl Expect {
    pub(crate) fn of(command: &Command) -> Self {
        match command {
            Command::User(_)
            | Command::Dele(_)
            | Command::Noop
            | Command::Rset
            | Command::Utf8
            | Command::Lang(Some(_)) => Self::Simple,
            Command::Pass(_) | Command::Rpop(_) => Self::Login,
            Command::Stat => Self::Stat,
            Command::List(n) => Self::List(*n),
            Command::Uidl(n) => Self::Uidl(*n),
            Command::Retr(_) | Command::Top { .. } => Self::Body,
            Command::Raw { multiline, .. } => {
                if *multiline {
                    Self::Body
                } else {
                    Self::Simple
                }
            }
            Command::Capa => Self::Capa,
            Command::Lang(None) => Self::LangList,
            Command::Stls => Self::Stls,
            Command::Quit => Self::Quit,
        }
    }

    /// Nothing is sent after these until their reply: their outcome changes what the
    /// connection is (logged in, TLS, closed), and so which commands are valid.
    pub(crate) fn blocks_later(self) -> bool {
        matches!(self, Self::Login | Self::Stls | Self::Quit | Self::Sasl)
    }

    /// Barriers proper (STLS, AUTH, QUIT) also wait until nothing else is in flight: TLS
    /// starts, SASL continuation lines begin, or the session ends right after their reply.
    /// PASS may follow USER in one pipelined write (RFC 2449 §6.6).
    pub(crate) fn is_barrier(self) -> bool {
        matches!(self, Self::Stls | Self::Quit | Self::Sasl)
    }
}

#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) handle: Handle,
    pub(crate) wire: Wire,
    pub(crate) expect: Expect,
    /// How many transmissions had happened once this command's latest line went out; a reply
    /// line must arrive after that.
    pub(crate) seq: u64,
}

impl Pending {
    pub(crate) fn keyword(&self) -> &'static str {
        match &self.wire {
            Wire::Command(c) => c.keyword(),
            Wire::Encoded { keyword, .. } => keyword,
            Wire::KeepAlive => "NOOP",
        }
    }

    pub(crate) fn encoded_len(&self) -> usize {
        match &self.wire {
            Wire::Command(c) => c.encoded_len(),
            Wire::Encoded { line, .. } => line.len(),
            Wire::KeepAlive => 6,
        }
    }

    pub(crate) fn encode(&self, out: &mut impl BufMut) {
        match &self.wire {
            Wire::Command(c) => c.encode(out),
            Wire::Encoded { line, .. } => out.put_slice(line),
            Wire::KeepAlive => out.put_slice(b"NOOP\r\n"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_prebuilt_line() {
        let wire = Wire::Encoded {
            keyword: "AUTH",
            line: Secret::new(b"AUTH PLAIN AHRpbQB0YW5zdGFhZg==\r\n".to_vec()),
        };
        let shown = alloc::format!("{wire:?}");
        assert_eq!(shown, "AUTH <redacted>");
        let pass = Wire::Command(Command::Pass(crate::Password::new("hunter2").unwrap()));
        assert!(!alloc::format!("{pass:?}").contains("hunter2"));
    }
}
