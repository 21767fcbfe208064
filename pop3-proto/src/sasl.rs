//! SASL (RFC 4422) for POP3's AUTH command (RFC 5034).
//!
//! Mechanisms are sans-IO like the rest of the core: pure step functions from a decoded
//! challenge to a response. The [`crate::Client`] does the base64 framing, the `=` empty
//! initial response, the 255-octet limit, the round limit and the `*` cancellation.

use crate::args::{ArgumentError, MechanismName};
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
}

/// The PLAIN mechanism (RFC 4616): `authzid NUL authcid NUL password`.
///
/// Sends its credentials in the clear (inside the TLS layer): use it only over TLS.
///
/// ```
/// use pop3_proto::sasl::{Mechanism, Plain};
/// let mut m = Plain::new(Some("admin"), "tim", "pw").unwrap();
/// assert!(Plain::new(None, "tim", "p\0w").is_err());
/// assert_eq!(m.initial_response().unwrap().unwrap().as_bytes(), b"admin\0tim\0pw");
/// ```
pub struct Plain {
    message: SaslResponse,
    sent: bool,
}

impl Plain {
    /// Credentials for PLAIN; `authzid` is who to act as (usually `None`: yourself).
    ///
    /// Fails if any part contains NUL, which PLAIN uses as its separator.
    pub fn new(
        authzid: Option<&str>,
        authcid: &str,
        password: &str,
    ) -> Result<Self, ArgumentError> {
        for (part, what) in [
            (authzid.unwrap_or(""), "PLAIN authorization id"),
            (authcid, "PLAIN user name"),
            (password, "PLAIN password"),
        ] {
            if part.as_bytes().contains(&0) {
                return Err(ArgumentError::Nul { what });
            }
        }
        let mut message = Vec::new();
        message.extend_from_slice(authzid.unwrap_or("").as_bytes());
        message.push(0);
        message.extend_from_slice(authcid.as_bytes());
        message.push(0);
        message.extend_from_slice(password.as_bytes());
        Ok(Self {
            message: SaslResponse::new(message),
            sent: false,
        })
    }
}

impl fmt::Debug for Plain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Plain(<redacted>)")
    }
}

impl Mechanism for Plain {
    fn name(&self) -> MechanismName {
        MechanismName::new("PLAIN").expect("PLAIN is a valid mechanism name")
    }

    fn initial_response(&mut self) -> Result<Option<SaslResponse>, SaslError> {
        self.sent = true;
        Ok(Some(self.message.clone()))
    }

    fn respond(&mut self, challenge: &[u8]) -> Result<SaslResponse, SaslError> {
        // The only challenge PLAIN expects is the empty one that asks for the initial response
        // when it could not be sent with AUTH; the client handles that case itself.
        let _ = challenge;
        if self.sent {
            return Err(SaslError::UnexpectedChallenge {
                mechanism: "PLAIN",
                reason: "PLAIN has nothing more to say after its credentials",
            });
        }
        self.sent = true;
        Ok(self.message.clone())
    }
}
