//! Choosing how to log in: the strongest method both sides support.

use super::login::Credentials;
use crate::args::{Password, UserName};
use crate::client::Client;
use crate::sasl::{ChannelBinding, CramMd5, Login, Plain, Scram, ScramHash};
use crate::{Error, LocalError};
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

/// A way to log in, in the order [`Auto`] prefers them (strongest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Method {
    /// SCRAM-SHA-256-PLUS: no password on the wire, mutual proof, bound to the TLS channel.
    ScramSha256Plus,
    /// SCRAM-SHA-1-PLUS.
    ScramSha1Plus,
    /// SCRAM-SHA-256: no password on the wire, the server proves it knows it.
    ScramSha256,
    /// SCRAM-SHA-1.
    ScramSha1,
    /// CRAM-MD5: no password on the wire, but a fast keyed hash a captured exchange gives
    /// to an offline dictionary attack: over TLS, or with plaintext credentials allowed.
    CramMd5,
    /// APOP: an MD5 digest (crackable offline if captured): over TLS, or with plaintext
    /// credentials allowed.
    Apop,
    /// SASL PLAIN: the password itself (over TLS, or with plaintext credentials allowed).
    Plain,
    /// SASL LOGIN: the password itself, likewise.
    Login,
    /// USER/PASS: the password itself, likewise.
    UserPass,
}

impl Method {
    /// What [`Auto`] chooses from unless told otherwise ([`Auto::only`]): every method but
    /// the `-PLUS` variants, strongest first. Servers differ in the channel binding they
    /// accept — Cyrus 3.6 offers SCRAM-…-PLUS but fails it with `tls-exporter`, the only
    /// binding TLS 1.3 defines (RFC 9266) — and `Auto` never retries with another method, so a
    /// `-PLUS` it cannot know to work would end the login. Ask for them by name.
    pub const DEFAULT: [Method; 7] = [
        Self::ScramSha256,
        Self::ScramSha1,
        Self::CramMd5,
        Self::Apop,
        Self::Plain,
        Self::Login,
        Self::UserPass,
    ];

    /// Every method, strongest first, the `-PLUS` variants included.
    pub const ALL: [Method; 9] = [
        Self::ScramSha256Plus,
        Self::ScramSha1Plus,
        Self::ScramSha256,
        Self::ScramSha1,
        Self::CramMd5,
        Self::Apop,
        Self::Plain,
        Self::Login,
        Self::UserPass,
    ];

    /// The SASL mechanism name (`None` for APOP and USER/PASS).
    pub fn sasl_name(self) -> Option<&'static str> {
        Some(match self {
            Self::ScramSha256Plus => "SCRAM-SHA-256-PLUS",
            Self::ScramSha1Plus => "SCRAM-SHA-1-PLUS",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha1 => "SCRAM-SHA-1",
            Self::CramMd5 => "CRAM-MD5",
            Self::Plain => "PLAIN",
            Self::Login => "LOGIN",
            Self::Apop | Self::UserPass => return None,
        })
    }

    /// Whether a captured exchange gives the password away — itself (PLAIN, LOGIN,
    /// USER/PASS) or as a fast unsalted hash an offline dictionary attack cracks (APOP,
    /// CRAM-MD5): such methods need TLS or the caller's opt-in. Only SCRAM's salted, iterated
    /// proof is fit for a plaintext connection.
    pub fn exposes_password(self) -> bool {
        !matches!(
            self,
            Self::ScramSha256Plus | Self::ScramSha1Plus | Self::ScramSha256 | Self::ScramSha1
        )
    }
}

/// Logs in with the strongest [`Method`] both sides support: SCRAM-SHA-256 > SCRAM-SHA-1 >
/// CRAM-MD5 > APOP > PLAIN > LOGIN > USER/PASS by default ([`Method::DEFAULT`]; with
/// [`Auto::only`] the SCRAM-…-PLUS variants can rank first, and need the TLS channel binding
/// from the driver). What the server supports comes from CAPA (asked first if nobody has; a
/// server without CAPA is assumed to take APOP when its greeting has a timestamp, and
/// USER/PASS). Methods that expose the password are skipped without TLS unless
/// [`Config::allow_plaintext_auth`](crate::Config::allow_plaintext_auth). Exactly one method
/// is tried: a refusal is reported, never answered by silently trying a weaker one.
///
/// ```
/// use pop3_proto::procedures::{Auto, Method};
/// use pop3_proto::{Password, UserName};
/// let auto = Auto::new(UserName::new("alice").unwrap(), Password::new("secret").unwrap(), "c2VjcmV0IG5vbmNl")
///     .only(&[Method::ScramSha256, Method::CramMd5]); // the caller may restrict the list
/// ```
#[derive(Debug)]
pub struct Auto {
    user: UserName,
    secret: Password,
    nonce: String,
    binding: Option<ChannelBinding>,
    allowed: Vec<Method>,
}

impl Auto {
    /// Credentials for any method; `nonce` is SCRAM's client nonce (printable ASCII without
    /// `,`: base64 of 18 random bytes, say — the drivers draw it from the OS).
    pub fn new(user: UserName, secret: Password, nonce: &str) -> Self {
        Self {
            user,
            secret,
            nonce: nonce.into(),
            binding: None,
            allowed: Method::DEFAULT.to_vec(),
        }
    }

    /// The TLS channel binding, which makes the `-PLUS` variants possible.
    pub fn channel_binding(mut self, binding: Option<ChannelBinding>) -> Self {
        self.binding = binding;
        self
    }

    /// Restricts the choice to these methods (still strongest first).
    pub fn only(mut self, methods: &[Method]) -> Self {
        self.allowed = methods.to_vec();
        self.allowed.sort();
        self
    }

    /// The method this session would use, or why none fits.
    pub fn choose(&self, client: &Client) -> Result<Method, Error> {
        let caps = client.capabilities();
        let secure = client.is_tls() || client.config().allow_plaintext_auth;
        let has_timestamp = client
            .greeting()
            .is_some_and(|g| g.apop_timestamp().is_some());
        let supported = |m: Method| match (m, m.sasl_name()) {
            (Method::ScramSha256Plus | Method::ScramSha1Plus, _) if self.binding.is_none() => false,
            (_, Some(name)) => caps.is_some_and(|c| c.has_sasl(name.as_bytes())),
            (Method::Apop, None) => has_timestamp,
            // USER is optional in CAPA (RFC 2449); without CAPA it is all we can assume.
            (_, None) => caps.is_none_or(|c| c.user || c.sasl.is_empty()),
        };
        self.allowed
            .iter()
            .copied()
            .find(|&m| supported(m) && (secure || !m.exposes_password()))
            .ok_or_else(|| {
                let why = if secure {
                    "the server offers none of the allowed login methods"
                } else {
                    "without TLS only SCRAM keeps the password safe, and the server does not offer it (connect with TLS, or allow plaintext credentials)"
                };
                LocalError::NoLoginMethod { why }.into()
            })
    }

    /// The credentials for `method`; `plus_offered`: the server lists a `-PLUS` mechanism.
    pub(crate) fn credentials(
        self,
        method: Method,
        plus_offered: bool,
    ) -> Result<Credentials, Error> {
        let user =
            core::str::from_utf8(self.user.as_bytes()).map_err(|_| LocalError::NoLoginMethod {
                why: "SASL needs a UTF-8 user name",
            })?;
        let scram = |hash, plus: bool| -> Result<Credentials, Error> {
            let mut m = Scram::new(hash, user, &self.secret, &self.nonce)
                .map_err(LocalError::Sasl)?
                // `y` says "I could bind, you seem not to": only when the server offers no
                // -PLUS (RFC 5802 §6: a server that does must then fail the login).
                .could_bind(self.binding.is_some() && !plus_offered);
            if let (true, Some(binding)) = (plus, self.binding.clone()) {
                m = m.channel_binding(binding);
            }
            Ok(Credentials::Sasl(Box::new(m)))
        };
        Ok(match method {
            Method::ScramSha256Plus => scram(ScramHash::Sha256, true)?,
            Method::ScramSha1Plus => scram(ScramHash::Sha1, true)?,
            Method::ScramSha256 => scram(ScramHash::Sha256, false)?,
            Method::ScramSha1 => scram(ScramHash::Sha1, false)?,
            Method::CramMd5 => Credentials::Sasl(Box::new(CramMd5::new(user, &self.secret))),
            Method::Plain => {
                let secret = core::str::from_utf8(self.secret.as_bytes()).map_err(|_| {
                    LocalError::NoLoginMethod {
                        why: "PLAIN needs a UTF-8 password",
                    }
                })?;
                let plain = Plain::new(None, user, secret).map_err(LocalError::from)?;
                Credentials::Sasl(Box::new(plain))
            }
            Method::Login => Credentials::Sasl(Box::new(Login::new(user, &self.secret))),
            Method::Apop => Credentials::Apop {
                user: self.user,
                secret: self.secret,
            },
            Method::UserPass => Credentials::UserPass {
                user: self.user,
                pass: self.secret,
            },
        })
    }
}
