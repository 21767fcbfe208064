//! EXTERNAL (RFC 4422 appendix A) and ANONYMOUS (RFC 4505): no secret in the exchange.

use super::{name, unexpected, Mechanism, SaslError, SaslResponse};
use crate::args::MechanismName;
use alloc::vec::Vec;

/// The EXTERNAL mechanism: the server authenticates us by something outside SASL — in POP3,
/// the TLS client certificate the driver presented. The response is the identity to act as
/// (usually none: the certificate's).
///
/// ```
/// use pop3_proto::sasl::{External, Mechanism};
/// let mut m = External::new(None);
/// assert_eq!(m.initial_response().unwrap().unwrap().as_bytes(), b""); // sent as `AUTH EXTERNAL =`
/// ```
#[derive(Debug, Clone)]
pub struct External {
    authzid: Vec<u8>,
    sent: bool,
}

impl External {
    /// EXTERNAL, acting as `authzid` or (with `None`) as whoever the certificate names.
    pub fn new(authzid: Option<&str>) -> Self {
        Self {
            authzid: authzid.unwrap_or("").as_bytes().to_vec(),
            sent: false,
        }
    }
}

impl Mechanism for External {
    fn reveals_secret(&self) -> bool {
        false
    }

    fn name(&self) -> MechanismName {
        name("EXTERNAL")
    }

    fn initial_response(&mut self) -> Result<Option<SaslResponse>, SaslError> {
        self.sent = true;
        Ok(Some(SaslResponse::new(self.authzid.clone())))
    }

    fn respond(&mut self, _: &[u8]) -> Result<SaslResponse, SaslError> {
        if self.sent {
            return Err(unexpected(
                "EXTERNAL",
                "a challenge after the authorization id",
            ));
        }
        self.sent = true;
        Ok(SaslResponse::new(self.authzid.clone()))
    }
}

/// The ANONYMOUS mechanism (RFC 4505): no credentials, an optional trace string (an email
/// address or a token, at most 255 characters) the server may log.
///
/// ```
/// use pop3_proto::sasl::{Anonymous, Mechanism};
/// let mut m = Anonymous::new("guest@example.com");
/// assert_eq!(m.initial_response().unwrap().unwrap().as_bytes(), b"guest@example.com");
/// ```
#[derive(Debug, Clone)]
pub struct Anonymous {
    trace: Vec<u8>,
    sent: bool,
}

impl Anonymous {
    /// ANONYMOUS with this trace string (truncated to 255 characters, RFC 4505 §3).
    pub fn new(trace: &str) -> Self {
        let end = trace
            .char_indices()
            .nth(255)
            .map_or(trace.len(), |(i, _)| i);
        Self {
            trace: trace.as_bytes()[..end].to_vec(),
            sent: false,
        }
    }
}

impl Mechanism for Anonymous {
    fn reveals_secret(&self) -> bool {
        false
    }

    fn name(&self) -> MechanismName {
        name("ANONYMOUS")
    }

    fn initial_response(&mut self) -> Result<Option<SaslResponse>, SaslError> {
        self.sent = true;
        Ok(Some(SaslResponse::new(self.trace.clone())))
    }

    fn respond(&mut self, _: &[u8]) -> Result<SaslResponse, SaslError> {
        if self.sent {
            return Err(unexpected(
                "ANONYMOUS",
                "a challenge after the trace string",
            ));
        }
        self.sent = true;
        Ok(SaslResponse::new(self.trace.clone()))
    }
}
