//! OAuth 2.0 bearer tokens: XOAUTH2 (Google's, also Microsoft's) and OAUTHBEARER (RFC 7628).
//!
//! Both send the token in their initial response. On failure the server sends one challenge
//! holding a JSON status; the client must answer it (XOAUTH2: an empty response; OAUTHBEARER:
//! a lone `%x01`), the server then says `-ERR`, and the JSON is reported with the refusal
//! ([`Mechanism::failure_detail`]), escaped and bounded. Nothing retries with another mechanism.

use super::{name, unexpected, Mechanism, SaslError, SaslResponse};
use crate::args::MechanismName;
use crate::text::ServerText;
use alloc::vec::Vec;
use core::fmt;

/// The longest server error status kept for the report.
const MAX_DETAIL: usize = 512;

/// An exchange whose one expected challenge is the server's error status.
struct TokenExchange {
    mechanism: &'static str,
    initial: SaslResponse,
    /// How many `^A` separators the message has by construction.
    separators: usize,
    /// What answers the error challenge.
    error_reply: &'static [u8],
    sent: bool,
    detail: Option<ServerText>,
}

impl TokenExchange {
    fn initial_response(&mut self) -> Result<Option<SaslResponse>, SaslError> {
        self.check()?;
        self.sent = true;
        Ok(Some(self.initial.clone()))
    }

    /// The user, token and host are separated by `^A`: one inside them would forge fields.
    fn check(&self) -> Result<(), SaslError> {
        let separators = self.initial.as_bytes().iter().filter(|&&b| b == 1).count();
        if separators != self.separators {
            return Err(SaslError::BadCredential {
                what: "OAuth user, token or host",
                reason: "it contains a ^A (0x01) byte, the mechanism's separator",
            });
        }
        Ok(())
    }

    fn respond(&mut self, challenge: &[u8]) -> Result<SaslResponse, SaslError> {
        if challenge.is_empty() && !self.sent {
            // The initial response did not fit on the AUTH line (RFC 5034 §4).
            self.check()?;
            self.sent = true;
            return Ok(self.initial.clone());
        }
        if self.detail.is_some() {
            return Err(unexpected(self.mechanism, "a second error challenge"));
        }
        let kept = &challenge[..challenge.len().min(MAX_DETAIL)];
        self.detail = Some(ServerText::from_slice(kept));
        Ok(SaslResponse::new(self.error_reply.to_vec()))
    }

    fn finish(&mut self) -> Result<(), SaslError> {
        match &self.detail {
            // +OK after the server reported an error: not a login we can trust.
            Some(detail) => Err(SaslError::Rejected {
                mechanism: self.mechanism,
                detail: detail.clone(),
            }),
            None => Ok(()),
        }
    }
}

/// The XOAUTH2 mechanism (Google, Microsoft 365): `user=… ^A auth=Bearer … ^A ^A`.
///
/// ```
/// use pop3_proto::sasl::{Mechanism, XOAuth2};
/// let mut m = XOAuth2::new("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
/// let ir = m.initial_response().unwrap().unwrap();
/// assert_eq!(ir.as_bytes(), b"user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01");
/// // An error status arrives as a challenge: answered empty, kept for the report.
/// assert_eq!(m.respond(br#"{"status":"401"}"#).unwrap().as_bytes(), b"");
/// assert_eq!(m.failure_detail().unwrap().as_bytes(), br#"{"status":"401"}"#);
/// ```
pub struct XOAuth2 {
    exchange: TokenExchange,
}

impl XOAuth2 {
    /// XOAUTH2 for `user` with an OAuth 2.0 access token.
    pub fn new(user: &str, token: &str) -> Self {
        let mut initial = Vec::with_capacity(user.len() + token.len() + 20);
        initial.extend_from_slice(b"user=");
        initial.extend_from_slice(user.as_bytes());
        initial.extend_from_slice(b"\x01auth=Bearer ");
        initial.extend_from_slice(token.as_bytes());
        initial.extend_from_slice(b"\x01\x01");
        let exchange = TokenExchange {
            mechanism: "XOAUTH2",
            initial: SaslResponse::new(initial),
            separators: 3,
            error_reply: b"",
            sent: false,
            detail: None,
        };
        Self { exchange }
    }
}

/// The OAUTHBEARER mechanism (RFC 7628): a GS2 header naming the user, then key/value pairs
/// with the bearer token (and the server's host and port when given).
///
/// RFC 7628 §4.1's example:
///
/// ```
/// use pop3_proto::sasl::{Mechanism, OAuthBearer};
/// let mut m = OAuthBearer::new("user@example.com", "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==")
///     .host_port("server.example.com", 143);
/// assert_eq!(
///     m.initial_response().unwrap().unwrap().as_bytes(),
///     b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"
/// );
/// ```
pub struct OAuthBearer {
    user: Vec<u8>,
    token: SaslResponse,
    exchange: TokenExchange,
}

impl OAuthBearer {
    /// OAUTHBEARER for `user` with an OAuth 2.0 access token.
    pub fn new(user: &str, token: &str) -> Self {
        let (user, token) = (
            user.as_bytes().to_vec(),
            SaslResponse::new(token.as_bytes().to_vec()),
        );
        let exchange = Self::exchange_for(&user, &token, None);
        Self {
            user,
            token,
            exchange,
        }
    }

    /// Also names the server (RFC 7628's `host` and `port`), which some servers check.
    pub fn host_port(mut self, host: &str, port: u16) -> Self {
        self.exchange = Self::exchange_for(&self.user, &self.token, Some((host.as_bytes(), port)));
        self
    }

    fn exchange_for(
        user: &[u8],
        token: &SaslResponse,
        host_port: Option<(&[u8], u16)>,
    ) -> TokenExchange {
        let mut initial = Vec::with_capacity(64 + user.len() + token.as_bytes().len());
        initial.extend_from_slice(b"n,a=");
        super::scram::push_saslname(&mut initial, user);
        initial.extend_from_slice(b",\x01");
        if let Some((host, port)) = host_port {
            initial.extend_from_slice(b"host=");
            initial.extend_from_slice(host);
            initial.extend_from_slice(b"\x01port=");
            initial.extend_from_slice(alloc::format!("{port}").as_bytes());
            initial.push(1);
        }
        initial.extend_from_slice(b"auth=Bearer ");
        initial.extend_from_slice(token.as_bytes());
        initial.extend_from_slice(b"\x01\x01");
        TokenExchange {
            mechanism: "OAUTHBEARER",
            separators: if host_port.is_some() { 5 } else { 3 },
            initial: SaslResponse::new(initial),
            error_reply: b"\x01",
            sent: false,
            detail: None,
        }
    }
}

macro_rules! token_mechanism {
    ($t:ty, $name:literal) => {
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($t), "(<redacted>)"))
            }
        }

        impl Mechanism for $t {
            fn name(&self) -> MechanismName {
                name($name)
            }
            fn initial_response(&mut self) -> Result<Option<SaslResponse>, SaslError> {
                self.exchange.initial_response()
            }
            fn respond(&mut self, challenge: &[u8]) -> Result<SaslResponse, SaslError> {
                self.exchange.respond(challenge)
            }
            fn finish(&mut self) -> Result<(), SaslError> {
                self.exchange.finish()
            }
            fn failure_detail(&self) -> Option<ServerText> {
                self.exchange.detail.clone()
            }
        }
    };
}

token_mechanism!(XOAuth2, "XOAUTH2");
token_mechanism!(OAuthBearer, "OAUTHBEARER");
