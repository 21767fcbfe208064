//! The driver's one error type.

use pop3_proto::{LocalError, RemoteError, Status};
use std::io;
use std::time::Duration;

/// Everything that can go wrong talking to a POP3 server.
///
/// ```
/// use pop3_blocking::Error;
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
    #[error("the server refused {command}: {status}")]
    Server {
        /// The command refused.
        command: &'static str,
        /// The `-ERR` reply with its response code.
        status: Status,
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
    /// A credential would go out unprotected; see `allow_insecure_auth`.
    #[error("{0}")]
    Insecure(&'static str),
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
            Self::Server { .. } | Self::Usage(_) | Self::Insecure(_)
        )
    }
}

impl From<pop3_proto::Error> for Error {
    fn from(e: pop3_proto::Error) -> Self {
        match e {
            pop3_proto::Error::Local(l) => Self::Usage(l),
            pop3_proto::Error::Remote(r) => Self::Protocol(r),
            other => Self::Closed(other.to_string()),
        }
    }
}

/// The driver's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
