//! The drivers' one error type, and how procedure outcomes become results.

use crate::procedures::{BatchReport, Collected, Refused};
use crate::{Greeting, LocalError, QuitOutcome, RemoteError, Status};
use std::boxed::Box;
use std::format;
use std::io;
use std::string::{String, ToString};
use std::time::Duration;

/// Everything that can go wrong talking to a POP3 server through a driver.
///
/// `-ERR` replies are [`Error::Server`] and the session goes on
/// ([`is_recoverable`](Error::is_recoverable)); so do [`Error::Usage`], [`Error::Insecure`]
/// and [`Error::TooLarge`]. Anything else closes the session: later calls return
/// [`Error::Closed`] and nothing more is sent (never a QUIT).
///
/// ```
/// use pop3_proto::driver::Error;
/// let e = Error::TlsRequired("the server does not offer STLS");
/// assert_eq!(e.to_string(), "TLS is required but the server does not offer STLS; refusing to continue in plaintext");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No connection could be made.
    #[error("could not connect to {address}: {source}")]
    Connect {
        /// The host and port tried.
        address: String,
        /// Why.
        source: io::Error,
    },
    /// Reading or writing the connection (or a sink you gave) failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The TLS layer failed (handshake, certificate verification, a corrupt record).
    #[error("TLS error: {0}")]
    Tls(#[source] rustls::Error),
    /// The server did not answer within the timeout. The session is closed: a late reply
    /// could otherwise be taken for the answer to the next command.
    #[error("no reply from the server within {0:?}; the session is closed")]
    Timeout(Duration),
    /// The server answered `-ERR` (see the response code for why, e.g. `[IN-USE]`).
    #[error("the server refused {command}: {status}{}", .detail.as_ref().map(|d| format!(" (it said: \"{d}\")")).unwrap_or_default())]
    Server {
        /// The command refused.
        command: &'static str,
        /// The `-ERR` reply with its response code.
        status: Status,
        /// What the server said inside a failed SASL exchange (an OAuth JSON error status).
        detail: Option<Box<crate::ServerText>>,
    },
    /// The server broke the protocol. The session is closed.
    #[error(transparent)]
    Protocol(RemoteError),
    /// The call is not possible now (nothing was sent; the session goes on).
    #[error(transparent)]
    Usage(LocalError),
    /// TLS was required and could not be had; nothing more was sent in plaintext.
    #[error("TLS is required but {0}; refusing to continue in plaintext")]
    TlsRequired(&'static str),
    /// A credential would go out unprotected; see the drivers' `allow_insecure_auth`.
    #[error("{0}")]
    Insecure(&'static str),
    /// A reply was too large to collect into memory (the session goes on; the reply was read
    /// to its end and dropped).
    #[error("the reply to {command} is larger than the limit of {limit} {unit} ({setting}); use {streaming} to stream it instead")]
    TooLarge {
        /// The command.
        command: &'static str,
        /// The limit.
        limit: u64,
        /// What the limit counts ("entries" or "bytes").
        unit: &'static str,
        /// The setting that holds the limit.
        setting: &'static str,
        /// The streaming call to use instead.
        streaming: &'static str,
    },
    /// The CA file could not be used.
    #[error("cannot use the CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The session failed earlier; it sends nothing more. Open a new connection.
    #[error("the session is closed after an earlier error: {0}")]
    Closed(String),
}

impl Error {
    /// The server's `-ERR` reply, if that is what this is.
    pub fn server_status(&self) -> Option<&Status> {
        match self {
            Self::Server { status, .. } => Some(status),
            _ => None,
        }
    }

    /// Whether the session can still be used after this error.
    pub fn is_recoverable(&self) -> bool {
        matches!(
            self,
            Self::Server { .. } | Self::Usage(_) | Self::Insecure(_) | Self::TooLarge { .. }
        )
    }

    /// An I/O error of the connection, named for what it is: a socket timeout, a TLS
    /// failure inside the stream, or plain I/O.
    pub fn from_io(e: io::Error, timeout: Option<Duration>) -> Self {
        if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
            return Self::Tls(tls.clone());
        }
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                Self::Timeout(timeout.unwrap_or_default())
            }
            _ => Self::Io(e),
        }
    }

    /// The session's error, as a driver reports it.
    pub(crate) fn from_session(e: crate::Error, timeout: Option<Duration>) -> Self {
        match e {
            crate::Error::Local(LocalError::PlaintextAuth { what }) => Self::Insecure(match what {
                "APOP" => "APOP over a connection without TLS exposes a crackable MD5 digest of the password; use TLS or allow_insecure_auth(true)",
                "AUTH" => "SASL over a connection without TLS may expose the password; use TLS or allow_insecure_auth(true)",
                _ => "USER/PASS over a connection without TLS exposes the password; use TLS or allow_insecure_auth(true)",
            }),
            crate::Error::Local(l) => Self::Usage(l),
            crate::Error::Remote(RemoteError::Timeout { .. }) => {
                Self::Timeout(timeout.unwrap_or_default())
            }
            crate::Error::Remote(RemoteError::TlsUnavailable { reason }) => {
                Self::TlsRequired(reason)
            }
            crate::Error::Remote(RemoteError::TlsUpgradeAbandoned) => {
                Self::Closed(RemoteError::TlsUpgradeAbandoned.to_string())
            }
            crate::Error::Remote(r) => Self::Protocol(r),
        }
    }
}

impl From<crate::ArgumentError> for Error {
    fn from(e: crate::ArgumentError) -> Self {
        Self::Usage(LocalError::from(e))
    }
}

/// For readers and sinks that must speak `std::io` (a body as `Read`/`AsyncRead`): I/O
/// errors come back as themselves, timeouts as `TimedOut`, the rest wrapped.
impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Io(e) => e,
            Error::Timeout(_) => io::Error::new(io::ErrorKind::TimedOut, e),
            other => io::Error::other(other),
        }
    }
}

impl From<Refused> for Error {
    fn from(r: Refused) -> Self {
        Self::Server {
            command: r.command,
            status: r.status,
            detail: r.detail.map(Box::new),
        }
    }
}

/// The drivers' result type.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// How a procedure's output becomes what a driver call returns: refusals become
/// [`Error::Server`], collections over their bound [`Error::TooLarge`].
pub trait Finish {
    /// What the call returns.
    type Value;
    /// The call's result.
    fn finish(self) -> Result<Self::Value>;
}

impl<T> Finish for core::result::Result<T, Refused> {
    type Value = T;
    fn finish(self) -> Result<T> {
        self.map_err(Error::from)
    }
}

impl<C> Finish for Collected<C> {
    type Value = C;
    fn finish(self) -> Result<C> {
        match self {
            Collected::Complete(c) => Ok(c),
            Collected::Refused(r) => Err(r.into()),
            Collected::TooLarge { command, limit } => {
                let (unit, setting, streaming) = match command {
                    "RETR" => (
                        "bytes",
                        "Config::max_collected_body",
                        "retr_to or retr_reader",
                    ),
                    "TOP" => ("bytes", "Config::max_collected_body", "top_to"),
                    "LIST" => ("entries", "Config::max_collected_entries", "list_each"),
                    "UIDL" => ("entries", "Config::max_collected_entries", "uidl_each"),
                    _ => (
                        "entries",
                        "Config::max_collected_entries",
                        "the streaming call",
                    ),
                };
                Err(Error::TooLarge {
                    command,
                    limit,
                    unit,
                    setting,
                    streaming,
                })
            }
        }
    }
}

macro_rules! finished_as_is {
    ($($t:ty),*) => {$(
        impl Finish for $t {
            type Value = $t;
            fn finish(self) -> Result<$t> {
                Ok(self)
            }
        }
    )*};
}

finished_as_is!(BatchReport, QuitOutcome, Greeting, ());
