//! PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login): the password itself, for use
//! inside TLS only.

use super::{name, unexpected, Mechanism, SaslError, SaslResponse};
use crate::args::{ArgumentError, MechanismName, Password};
use alloc::vec::Vec;
use core::fmt;

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
        name("PLAIN")
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
            return Err(unexpected(
                "PLAIN",
                "PLAIN has nothing more to say after its credentials",
            ));
        }
        self.sent = true;
        Ok(self.message.clone())
    }
}

/// The LOGIN mechanism (draft-murchison-sasl-login, obsolete but everywhere): the server asks
/// for the user name, then the password, each in its own challenge (whatever the prompt text
/// says). Sends the password in the clear (inside TLS): use it only over TLS.
///
/// ```
/// use pop3_proto::sasl::{Login, Mechanism};
/// use pop3_proto::Password;
/// let mut m = Login::new("tim", &Password::new("tanstaaf").unwrap());
/// assert!(m.initial_response().unwrap().is_none());
/// assert_eq!(m.respond(b"Username:").unwrap().as_bytes(), b"tim");
/// assert_eq!(m.respond(b"Password:").unwrap().as_bytes(), b"tanstaaf");
/// assert!(m.respond(b"again?").is_err());
/// ```
pub struct Login {
    user: SaslResponse,
    password: SaslResponse,
    answered: u8,
}

impl Login {
    /// Credentials for LOGIN.
    pub fn new(user: &str, password: &Password) -> Self {
        Self {
            user: SaslResponse::new(user.as_bytes().to_vec()),
            password: SaslResponse::new(password.as_bytes().to_vec()),
            answered: 0,
        }
    }
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Login(<redacted>)")
    }
}

impl Mechanism for Login {
    fn name(&self) -> MechanismName {
        name("LOGIN")
    }

    fn initial_response(&mut self) -> Result<Option<SaslResponse>, SaslError> {
        Ok(None)
    }

    fn respond(&mut self, _prompt: &[u8]) -> Result<SaslResponse, SaslError> {
        self.answered += 1;
        match self.answered {
            1 => Ok(self.user.clone()),
            2 => Ok(self.password.clone()),
            _ => Err(unexpected(
                "LOGIN",
                "a third prompt after the user name and password",
            )),
        }
    }
}
