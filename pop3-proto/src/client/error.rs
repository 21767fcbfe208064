//! What can go wrong: the caller's mistakes ([`LocalError`]) and the server's ([`RemoteError`]).
//!
//! The split follows h11: a local error means nothing was sent and the session is still
//! usable; a remote error is sticky — every later call returns it again and nothing more is
//! sent (no QUIT either).

use crate::codec::greeting::OtherProtocol;
use crate::codec::line::LineError;
use crate::codec::listing::ListingError;
use crate::codec::status::Status;
use crate::sasl::SaslError;
use crate::text::ServerText;
use crate::SessionState;

/// The caller asked for something the session cannot do now. Nothing was sent; the session
/// is unchanged and still usable.
///
/// ```
/// use pop3_proto::{Client, Command, Config, Error, LocalError};
/// use core::num::NonZeroU32;
///
/// let mut client = Client::new(Config::default());
/// let err = client.send(Command::Retr(NonZeroU32::new(1).unwrap())).unwrap_err();
/// assert!(matches!(err, Error::Local(LocalError::WrongState { .. })));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LocalError {
    /// The command is not valid in the session's (projected) state.
    #[error("{command} cannot be sent in the {state} state{hint}")]
    WrongState {
        /// The command's keyword.
        command: &'static str,
        /// The state the session will be in when the command would go out.
        state: SessionState,
        /// Advice on what to do instead (may be empty).
        hint: &'static str,
    },
    /// A command whose outcome decides what may follow (PASS, APOP, RPOP, AUTH, STLS) has
    /// not been answered yet.
    #[error("wait for the reply to {command} before sending more: its outcome decides which commands are valid")]
    AwaitingReply {
        /// The command still waiting for its reply.
        command: &'static str,
    },
    /// PASS or RPOP without a USER first.
    #[error("{command} needs a USER command first")]
    NeedsUser {
        /// PASS or RPOP.
        command: &'static str,
    },
    /// The encoded command is longer than the limit (255 octets per RFC 2449 by default).
    #[error("the {command} command would be {length} octets long; the limit is {limit} (raise Config::max_command_length only for servers that accept more)")]
    CommandTooLong {
        /// The command's keyword.
        command: &'static str,
        /// Its encoded length, CRLF included.
        length: usize,
        /// The configured limit.
        limit: usize,
    },
    /// APOP needs a valid timestamp in the greeting, and this server sent none (or a malformed
    /// one, or the greeting was forgotten after STLS).
    #[error("APOP is not possible: the server's greeting had no valid <timestamp> (use USER/PASS or SASL over TLS instead)")]
    NoApopTimestamp,
    /// STLS on a connection that already uses TLS, or a second STLS.
    #[error("STLS is not possible: {reason}")]
    TlsAlreadyActive {
        /// Why.
        reason: &'static str,
    },
    /// [`crate::Client::tls_established`] without a preceding [`crate::Event::UpgradeToTls`].
    #[error("tls_established() was called, but no STLS was accepted; call it only after Event::UpgradeToTls and a finished handshake")]
    NoTlsUpgradePending,
    /// QUIT was already sent, or the session is closed.
    #[error("the session is closing or closed; open a new connection")]
    Closed,
    /// An argument failed validation (CR, LF or NUL, too long, …).
    #[error(transparent)]
    InvalidArgument(#[from] crate::ArgumentError),
    /// The SASL mechanism failed before anything was sent.
    #[error(transparent)]
    Sasl(#[from] SaslError),
    /// A login procedure would send credentials over a connection without TLS.
    #[error("{what} over a connection without TLS would expose the password to anyone on the path; connect with TLS, or set Config::allow_plaintext_auth (the drivers' allow_insecure_auth) if you accept that")]
    PlaintextAuth {
        /// What would have been sent (USER/PASS, APOP, AUTH).
        what: &'static str,
    },
    /// No login method fits: the server offers none the caller allowed, or only ones that
    /// would expose the password over plaintext.
    #[error("no way to log in: {why}")]
    NoLoginMethod {
        /// Why.
        why: &'static str,
    },
    /// The greeting was forgotten after STLS (it came in plaintext, where anyone could have
    /// written it), and servers send no new one.
    #[error(
        "there is no greeting to wait for: the one received in plaintext was forgotten after STLS"
    )]
    NoGreeting,
    /// A procedure was given a command it cannot run (a multi-line command for a single-line
    /// exchange, STLS or QUIT outside their procedures).
    #[error("{command} cannot run as a {procedure}: use {instead}")]
    WrongProcedure {
        /// The command's keyword.
        command: &'static str,
        /// The procedure it was given to.
        procedure: &'static str,
        /// What runs it.
        instead: &'static str,
    },
    /// A procedure that asked for a TLS handshake was stepped again before
    /// [`crate::procedures::TlsUpgrade::established`] was called.
    #[error("finish the TLS handshake and call TlsUpgrade::established before stepping the procedure again")]
    TlsUpgradePending,
    /// More bytes were committed than [`crate::Client::read_space`] handed out.
    #[error("commit_read({committed}) is larger than the {available} bytes read_space returned")]
    CommitTooLarge {
        /// What the caller committed.
        committed: usize,
        /// What was available.
        available: usize,
    },
}

/// The server broke the protocol, went away, or took too long. Sticky: once returned, every
/// later call returns it again, and the session sends nothing more — in particular no QUIT,
/// so nothing marked deleted is ever committed by an error path.
///
/// ```
/// use pop3_proto::{Client, Config, Error, RemoteError};
///
/// let mut client = Client::new(Config::default());
/// client.handle_input(b"* OK IMAP4rev1 ready\r\n");
/// let err = client.poll_event().unwrap_err();
/// assert!(matches!(err, Error::Remote(RemoteError::NotPop3 { .. })));
/// assert_eq!(client.poll_event().unwrap_err(), err); // sticky
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// The server refused the session in its greeting (`-ERR`, often with a response code
    /// such as `[SYS/TEMP]` or `[IN-USE]`).
    #[error("the server refused the session: {status}")]
    GreetingRejected {
        /// The greeting, with its response code.
        status: Status,
    },
    /// The peer speaks another protocol, or sent something that is not a POP3 greeting.
    #[error("the server is not a POP3 server: it looks like {}", .protocol.map_or_else(|| alloc::format!("something else (it sent \"{}\")", .line.quoted()), |p| alloc::format!("{p}")))]
    NotPop3 {
        /// The protocol recognised, if any.
        protocol: Option<OtherProtocol>,
        /// The start of what it sent.
        line: ServerText,
    },
    /// A response line broke the line rules.
    #[error("the server sent a malformed line while {waiting_for}: {}", line_error_text(.problem))]
    BadLine {
        /// What was wrong.
        problem: LineError,
        /// What we were reading.
        waiting_for: &'static str,
    },
    /// A status line was neither `+OK …` nor `-ERR …`.
    #[error("expected +OK or -ERR in reply to {command}, got \"{}\"", .line.quoted())]
    BadStatusLine {
        /// The command being answered.
        command: &'static str,
        /// The line received.
        line: ServerText,
    },
    /// A STAT reply or listing line did not parse.
    #[error("malformed {what} line \"{}\": {problem}", .line.quoted())]
    BadListing {
        /// STAT, LIST or UIDL.
        what: &'static str,
        /// The line received.
        line: ServerText,
        /// What was wrong.
        problem: ListingError,
    },
    /// A listing's message numbers were not strictly ascending.
    #[error("{what} listing is out of order: message {got} after {previous}")]
    ListingOutOfOrder {
        /// LIST or UIDL.
        what: &'static str,
        /// The previous message number.
        previous: u32,
        /// The one that followed it.
        got: u32,
    },
    /// `LIST n` or `UIDL n` was answered for another message.
    #[error("asked {what} for message {asked}, the server answered for message {got}")]
    WrongMessage {
        /// LIST or UIDL.
        what: &'static str,
        /// The number asked for.
        asked: u32,
        /// The number answered.
        got: u32,
    },
    /// A multi-line response exceeded its line-count limit.
    #[error("the {what} response has more than {limit} lines (Config limit)")]
    TooManyLines {
        /// CAPA, LIST, UIDL or LANG.
        what: &'static str,
        /// The limit.
        limit: u64,
    },
    /// The server sent data nobody asked for (nothing was waiting for a reply, or a reply
    /// arrived before its command was sent).
    #[error("the server sent data nobody asked for: \"{}\"", .data.quoted())]
    Unsolicited {
        /// The start of that data.
        data: ServerText,
    },
    /// Bytes arrived after the `+OK` to STLS and before the TLS handshake: someone may be
    /// injecting plaintext that would be taken as coming from inside TLS.
    #[error("the server sent data after accepting STLS and before TLS started (possible injection attack): \"{}\"", .data.quoted())]
    DataAfterStls {
        /// The start of that data.
        data: ServerText,
    },
    /// The connection ended in the middle of a response.
    #[error("the connection ended in the middle of {what}; it is incomplete")]
    Truncated {
        /// What was cut short.
        what: &'static str,
    },
    /// The connection ended while nothing was in progress, or before the greeting.
    #[error("the server closed the connection {when}")]
    ConnectionClosed {
        /// When.
        when: &'static str,
    },
    /// No reply within [`crate::Config::response_timeout`].
    #[error("no reply from the server within the response timeout while {waiting_for}")]
    Timeout {
        /// What we were waiting for.
        waiting_for: &'static str,
    },
    /// Less than [`crate::Config::low_speed`] arrived for its whole period.
    #[error("the server sent less than {bytes_per_second} bytes per second for {time:?} (Config::low_speed); the session is closed")]
    TooSlow {
        /// The limit.
        bytes_per_second: u32,
        /// Over how long.
        time: core::time::Duration,
    },
    /// TLS was required and the server cannot provide it: the session is closed so that
    /// nothing more goes out in plaintext (BAD-INPUT row 38).
    #[error("TLS is required but {reason}; refusing to continue in plaintext")]
    TlsUnavailable {
        /// Why (CAPA refused, no STLS listed, STLS refused).
        reason: &'static str,
    },
    /// An STLS upgrade was abandoned between the server's `+OK` and the handshake (a
    /// cancelled call): the connection can neither go on in plaintext nor become TLS.
    #[error("an STLS upgrade was abandoned before the TLS handshake; the session is closed")]
    TlsUpgradeAbandoned,
    /// The session reached a state it has no rule for: a bug in this crate, not the server's
    /// doing. The session is closed rather than continue in a state nobody designed.
    #[error("internal error: no rule to {transition} in the {state} state; please report this bug in pop3-proto")]
    InternalState {
        /// The state.
        state: SessionState,
        /// What was attempted.
        transition: &'static str,
    },
    /// A SASL challenge was invalid, or there were too many: the exchange was cancelled.
    #[error("the SASL exchange was cancelled: {reason}")]
    SaslAborted {
        /// Why.
        reason: &'static str,
    },
    /// The mechanism refused the server's challenge or its `+OK`.
    #[error(transparent)]
    Sasl(SaslError),
}

fn line_error_text(e: &LineError) -> alloc::string::String {
    match e {
        LineError::TooLong { limit } => {
            alloc::format!("no line end within {limit} bytes (Config limit)")
        }
        LineError::BareLf => "a line ended in LF without CR".into(),
        LineError::BareCr => "a CR inside a line".into(),
        LineError::Nul => "a NUL byte inside a line".into(),
    }
}

/// Either kind of error, as returned by [`crate::Client`]'s methods.
///
/// ```
/// use pop3_proto::{Error, LocalError};
/// let e: Error = LocalError::Closed.into();
/// assert!(e.is_local());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The caller's mistake; the session is still usable.
    #[error(transparent)]
    Local(#[from] LocalError),
    /// The server's; the session is dead.
    #[error(transparent)]
    Remote(#[from] RemoteError),
}

impl Error {
    /// `true` for a [`LocalError`]: nothing was sent and the session can go on.
    pub fn is_local(&self) -> bool {
        matches!(self, Self::Local(_))
    }
}
