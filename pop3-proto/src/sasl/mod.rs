//! SASL (RFC 4422) for POP3's AUTH command (RFC 5034).
//!
//! Mechanisms are sans-IO like the rest of the core: pure step functions from a decoded
//! challenge to a response. The [`crate::Client`] does the base64 framing, the `=` empty
//! initial response, the 255-octet limit, the round limit and the `*` cancellation. Nothing
//! here reads a clock or draws random numbers: SCRAM's nonce and the TLS channel binding come
//! from the caller (the drivers use the OS's random source and rustls's exporter).
//!
//! | mechanism | one line | password on the wire |
//! |---|---|---|
//! | [`Scram`] `SCRAM-SHA-256(-PLUS)`, `SCRAM-SHA-1(-PLUS)` | `Scram::sha256("alice", &pw, nonce)?` | never; the server proves it knows it too |
//! | [`CramMd5`] `CRAM-MD5` | `CramMd5::new("alice", &pw)` | never, but a captured exchange is crackable offline (TLS only) |
//! | [`Plain`] `PLAIN` | `Plain::new(None, "alice", "pw")?` | yes (TLS only) |
//! | [`Login`] `LOGIN` | `Login::new("alice", &pw)` | yes (TLS only) |
//! | [`XOAuth2`] `XOAUTH2` | `XOAuth2::new("alice@gmail.com", token)` | an OAuth token |
//! | [`OAuthBearer`] `OAUTHBEARER` | `OAuthBearer::new("alice@example.com", token)` | an OAuth token |
//! | [`External`] `EXTERNAL` | `External::new(None)` | nothing (the TLS client certificate) |
//! | [`Anonymous`] `ANONYMOUS` | `Anonymous::new("guest")` | nothing |
//!
//! [`crate::procedures::Login`] with [`crate::procedures::Credentials::Auto`] picks the
//! strongest one both sides support.

mod cram;
mod oauth;
mod plain;
mod scram;
mod simple;

pub use cram::CramMd5;
pub use oauth::{OAuthBearer, XOAuth2};
pub use plain::{Login, Plain};
pub use scram::{ChannelBinding, Scram, ScramHash, DEFAULT_MAX_ITERATIONS};
pub use simple::{Anonymous, External};

use crate::args::MechanismName;
use crate::text::ServerText;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// A client response in a SASL exchange. It usually carries credentials, so `Debug` never
/// shows it.
///
/// ```
/// use pop3_proto::sasl::SaslResponse;
/// let r = SaslResponse::new(b"\0user\0secret".to_vec());
/// assert_eq!(format!("{r:?}"), "SaslResponse(<redacted, 12 bytes>)");
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SaslResponse(zeroize::Zeroizing<Vec<u8>>);

impl SaslResponse {
    /// Wraps response bytes (before base64). They are wiped from memory when dropped.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(zeroize::Zeroizing::new(bytes))
    }

    /// The raw response bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SaslResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SaslResponse(<redacted, {} bytes>)", self.0.len())
    }
}

/// Why a SASL exchange failed on our side.
///
/// ```
/// use pop3_proto::sasl::SaslError;
/// assert!(SaslError::ServerNotVerified.to_string().contains("did not prove"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SaslError {
    /// The server sent a challenge the mechanism cannot answer.
    #[error("the server sent a SASL challenge the {mechanism} mechanism cannot answer: {reason}")]
    UnexpectedChallenge {
        /// The mechanism.
        mechanism: &'static str,
        /// What was wrong.
        reason: &'static str,
    },
    /// The server said `+OK` before proving it knows the credentials (for example SCRAM's
    /// server signature was missing or wrong): it may be an impostor.
    #[error("the server accepted the login but did not prove it knows the credentials; it may be an impostor")]
    ServerNotVerified,
    /// The mechanism failed for its own reason.
    #[error("SASL mechanism failed: {0}")]
    Failed(String),
    /// The server reported an error inside the exchange (SCRAM's `e=`, or an OAuth JSON
    /// status); it is quoted, escaped and bounded.
    #[error("the server rejected the {mechanism} exchange: \"{}\"", .detail.quoted())]
    Rejected {
        /// The mechanism.
        mechanism: &'static str,
        /// What the server said.
        detail: ServerText,
    },
    /// A credential cannot be used with this mechanism (for example a password SASLprep
    /// prohibits).
    #[error("the {what} cannot be used: {reason}")]
    BadCredential {
        /// Which credential.
        what: &'static str,
        /// Why.
        reason: &'static str,
    },
}

/// A SASL mechanism, as a sans-IO step function.
///
/// ```
/// use pop3_proto::sasl::{Mechanism, Plain};
///
/// let mut plain = Plain::new(None, "tim", "tanstaaftanstaaf").unwrap();
/// assert_eq!(plain.name().as_str(), "PLAIN");
/// let first = plain.initial_response().unwrap().unwrap();
/// assert_eq!(first.as_bytes(), b"\0tim\0tanstaaftanstaaf");
/// ```
pub trait Mechanism: Send {
    /// The mechanism's registered name.
    fn name(&self) -> MechanismName;

    /// The initial response for client-first mechanisms, or `None` to wait for a challenge.
    /// `Some` of an empty response is sent as `=` (RFC 5034).
    fn initial_response(&mut self) -> Result<Option<SaslResponse>, SaslError>;

    /// Answers one server challenge (already base64-decoded).
    fn respond(&mut self, challenge: &[u8]) -> Result<SaslResponse, SaslError>;

    /// Called when the server answers `+OK`. Mechanisms that authenticate the server return
    /// [`SaslError::ServerNotVerified`] if it has not proved itself (BAD-INPUT row 43).
    fn finish(&mut self) -> Result<(), SaslError> {
        Ok(())
    }

    /// Whether a captured exchange gives away a secret that works again — a password, a
    /// bearer token, or a fast unsalted hash a dictionary attack cracks offline (CRAM-MD5) —
    /// so that the mechanism needs TLS unless the caller allowed plaintext credentials.
    /// `true` unless a mechanism knows better (SCRAM's salted, iterated proof; EXTERNAL;
    /// ANONYMOUS).
    fn reveals_secret(&self) -> bool {
        true
    }

    /// What the server said about a failure inside the exchange (an OAuth mechanism's JSON
    /// error status), once the exchange ended with `-ERR`. Reported with the refusal.
    fn failure_detail(&self) -> Option<ServerText> {
        None
    }
}

impl<M: Mechanism + ?Sized> Mechanism for Box<M> {
    fn name(&self) -> MechanismName {
        (**self).name()
    }
    fn initial_response(&mut self) -> Result<Option<SaslResponse>, SaslError> {
        (**self).initial_response()
    }
    fn respond(&mut self, challenge: &[u8]) -> Result<SaslResponse, SaslError> {
        (**self).respond(challenge)
    }
    fn finish(&mut self) -> Result<(), SaslError> {
        (**self).finish()
    }
    fn failure_detail(&self) -> Option<ServerText> {
        (**self).failure_detail()
    }
    fn reveals_secret(&self) -> bool {
        (**self).reveals_secret()
    }
}

/// A mechanism name this crate knows to be valid.
pub(crate) fn name(name: &'static str) -> MechanismName {
    MechanismName::new(name).expect("a registered mechanism name")
}

/// The error for a challenge a mechanism cannot answer.
pub(crate) fn unexpected(mechanism: &'static str, reason: &'static str) -> SaslError {
    SaslError::UnexpectedChallenge { mechanism, reason }
}
