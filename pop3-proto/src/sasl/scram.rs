//! SCRAM (RFC 5802, RFC 7677): the password never crosses the wire, the server proves it
//! knows it too, and with `-PLUS` the exchange is bound to the TLS connection (RFC 9266).

use super::{name, unexpected, Mechanism, SaslError, SaslResponse};
use crate::args::{MechanismName, Password};
use crate::text::ServerText;
use alloc::vec::Vec;
use base64::Engine as _;
use core::fmt;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The default bound on the server's iteration count: OWASP's 2023 figure for
/// PBKDF2-HMAC-SHA256. A server asking for more (2^31, say, to burn our CPU) is refused.
pub const DEFAULT_MAX_ITERATIONS: u32 = 600_000;

/// The hash a SCRAM mechanism is built on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScramHash {
    /// SCRAM-SHA-1 (RFC 5802).
    Sha1,
    /// SCRAM-SHA-256 (RFC 7677).
    Sha256,
}

impl ScramHash {
    fn hmac(self, key: &[u8], parts: &[&[u8]]) -> Zeroizing<Vec<u8>> {
        fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
            let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key)
                .expect("HMAC takes keys of any length");
            for part in parts {
                mac.update(part);
            }
            mac.finalize().into_bytes().to_vec()
        }
        Zeroizing::new(match self {
            Self::Sha1 => run::<Hmac<Sha1>>(key, parts),
            Self::Sha256 => run::<Hmac<Sha256>>(key, parts),
        })
    }

    fn hash(self, data: &[u8]) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(match self {
            Self::Sha1 => Sha1::digest(data).to_vec(),
            Self::Sha256 => Sha256::digest(data).to_vec(),
        })
    }

    fn salted_password(self, password: &[u8], salt: &[u8], rounds: u32) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(match self {
            Self::Sha1 => alloc::vec![0; 20],
            Self::Sha256 => alloc::vec![0; 32],
        });
        match self {
            Self::Sha1 => pbkdf2::pbkdf2_hmac::<Sha1>(password, salt, rounds, &mut out),
            Self::Sha256 => pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, rounds, &mut out),
        }
        out
    }

    fn mechanism(self, plus: bool) -> &'static str {
        match (self, plus) {
            (Self::Sha1, false) => "SCRAM-SHA-1",
            (Self::Sha1, true) => "SCRAM-SHA-1-PLUS",
            (Self::Sha256, false) => "SCRAM-SHA-256",
            (Self::Sha256, true) => "SCRAM-SHA-256-PLUS",
        }
    }
}

/// What binds a `-PLUS` exchange to its TLS connection.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelBinding {
    /// `tls-exporter` (RFC 9266): 32 bytes the TLS library exports with the label
    /// `EXPORTER-Channel-Binding` and no context (TLS 1.3, or 1.2 with extended master
    /// secret). The drivers take it from rustls.
    TlsExporter(Vec<u8>),
}

impl fmt::Debug for ChannelBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChannelBinding::TlsExporter(..)")
    }
}

#[derive(Clone, PartialEq, Eq)]
enum State {
    Start,
    /// client-first-message-bare sent.
    SentFirst(Vec<u8>),
    /// client-final sent; the server's signature we expect.
    SentFinal(Zeroizing<Vec<u8>>),
    /// The server proved itself.
    Verified,
    Failed,
}

/// A SCRAM mechanism: `SCRAM-SHA-256`, `SCRAM-SHA-1`, or their `-PLUS` variants with TLS
/// channel binding. Strict: the server's nonce must extend ours, its iteration count must be
/// at most [`max_iterations`](Self::max_iterations), its salt must be base64, and its final
/// signature must match — or the login fails, even if the server says `+OK` (BAD-INPUT rows
/// 43, 49, 50). The client nonce comes from the caller (no randomness in the core): at least
/// 16 random bytes, base64-encoded, is plenty.
///
/// RFC 7677's example:
///
/// ```
/// use pop3_proto::sasl::{Mechanism, Scram};
/// use pop3_proto::Password;
/// let mut m = Scram::sha256("user", &Password::new("pencil").unwrap(), "rOprNGfwEbeRWgbNEkqO").unwrap();
/// assert_eq!(m.initial_response().unwrap().unwrap().as_bytes(), b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
/// let server_first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
/// assert_eq!(
///     m.respond(server_first).unwrap().as_bytes(),
///     b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
/// );
/// m.respond(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=").unwrap();
/// m.finish().unwrap(); // the server proved it knows the password
/// ```
pub struct Scram {
    hash: ScramHash,
    user: Vec<u8>,
    password: Zeroizing<Vec<u8>>,
    nonce: Vec<u8>,
    binding: Option<ChannelBinding>,
    /// We could bind, but the server offered no `-PLUS`: say so (`y`), so that a server
    /// that does support it can tell a downgrade.
    could_bind: bool,
    max_iterations: u32,
    state: State,
}

impl fmt::Debug for Scram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scram")
            .field("mechanism", &self.hash.mechanism(self.binding.is_some()))
            .finish_non_exhaustive()
    }
}

impl Scram {
    /// SCRAM-SHA-256 (RFC 7677).
    pub fn sha256(user: &str, password: &Password, nonce: &str) -> Result<Self, SaslError> {
        Self::new(ScramHash::Sha256, user, password, nonce)
    }

    /// SCRAM-SHA-1 (RFC 5802).
    pub fn sha1(user: &str, password: &Password, nonce: &str) -> Result<Self, SaslError> {
        Self::new(ScramHash::Sha1, user, password, nonce)
    }

    /// A SCRAM mechanism on `hash`. The password is prepared with SASLprep (RFC 4013) — with
    /// the `std` feature; without it only printable ASCII passwords, which SASLprep leaves as
    /// they are, are accepted. The nonce must be printable ASCII without `,`.
    pub fn new(
        hash: ScramHash,
        user: &str,
        password: &Password,
        nonce: &str,
    ) -> Result<Self, SaslError> {
        let bad = |what, reason| SaslError::BadCredential { what, reason };
        if nonce.is_empty()
            || !nonce
                .bytes()
                .all(|b| (0x21..=0x7e).contains(&b) && b != b',')
        {
            return Err(bad(
                "SCRAM nonce",
                "it must be printable ASCII without commas",
            ));
        }
        if user.is_empty() {
            return Err(bad("SCRAM user name", "it is empty"));
        }
        Ok(Self {
            hash,
            user: user.as_bytes().to_vec(),
            password: saslprep(password.as_bytes())?,
            nonce: nonce.as_bytes().to_vec(),
            binding: None,
            could_bind: false,
            max_iterations: DEFAULT_MAX_ITERATIONS,
            state: State::Start,
        })
    }

    /// Makes this the `-PLUS` variant, bound to the TLS connection by `binding`.
    pub fn channel_binding(mut self, binding: ChannelBinding) -> Self {
        self.binding = Some(binding);
        self
    }

    /// Tells the server we could have bound the channel but it offered no `-PLUS` variant
    /// (the `y` GS2 flag): a server that does support binding then knows the offer was cut.
    pub fn could_bind(mut self, could: bool) -> Self {
        self.could_bind = could;
        self
    }

    /// The most PBKDF2 iterations the server may ask for (default
    /// [`DEFAULT_MAX_ITERATIONS`]); more is refused before any is computed.
    pub fn max_iterations(mut self, max: u32) -> Self {
        self.max_iterations = max;
        self
    }

    fn mechanism(&self) -> &'static str {
        self.hash.mechanism(self.binding.is_some())
    }

    fn gs2_header(&self) -> &'static [u8] {
        match (&self.binding, self.could_bind) {
            (Some(ChannelBinding::TlsExporter(_)), _) => b"p=tls-exporter,,",
            (None, true) => b"y,,",
            (None, false) => b"n,,",
        }
    }

    fn client_final(&mut self, server_first: &[u8]) -> Result<SaslResponse, SaslError> {
        let mechanism = self.mechanism();
        let refuse = |reason| unexpected(mechanism, reason);
        let State::SentFirst(client_first_bare) = &self.state else {
            return Err(refuse("a challenge out of turn"));
        };
        let mut fields = server_first.split(|&b| b == b',');
        let mut field = |key: &[u8]| {
            fields
                .next()
                .and_then(|f| f.strip_prefix(key))
                .ok_or(refuse(
                    "a server-first-message without r=, s= and i= in order",
                ))
        };
        let nonce = field(b"r=")?;
        let salt = field(b"s=")?;
        let iterations = field(b"i=")?;
        if !(nonce.starts_with(&self.nonce) && nonce.len() > self.nonce.len()) {
            return Err(refuse("a server nonce that does not extend ours"));
        }
        if !nonce.iter().all(|b| (0x21..=0x7e).contains(b)) {
            return Err(refuse(
                "a server nonce with characters outside printable ASCII",
            ));
        }
        let salt = B64
            .decode(salt)
            .ok()
            .filter(|s| !s.is_empty())
            .ok_or(refuse("a salt that is not base64"))?;
        let iterations: u32 = core::str::from_utf8(iterations)
            .ok()
            .and_then(|i| i.parse().ok())
            .filter(|&i| i >= 1)
            .ok_or(refuse("an iteration count that is not a positive number"))?;
        if iterations > self.max_iterations {
            return Err(refuse(
                "more iterations than the configured maximum (max_iterations)",
            ));
        }
        let mut cbind = self.gs2_header().to_vec();
        if let Some(ChannelBinding::TlsExporter(data)) = &self.binding {
            cbind.extend_from_slice(data);
        }
        let mut without_proof = Vec::with_capacity(128);
        without_proof.extend_from_slice(b"c=");
        without_proof.extend_from_slice(B64.encode(&cbind).as_bytes());
        without_proof.extend_from_slice(b",r=");
        without_proof.extend_from_slice(nonce);
        let auth_message: [&[u8]; 5] =
            [client_first_bare, b",", server_first, b",", &without_proof];
        let h = self.hash;
        let salted = h.salted_password(&self.password, &salt, iterations);
        let client_key = h.hmac(&salted, &[b"Client Key"]);
        let stored_key = h.hash(&client_key);
        let client_signature = h.hmac(&stored_key, &auth_message);
        let proof: Vec<u8> = client_key
            .iter()
            .zip(client_signature.iter())
            .map(|(k, s)| k ^ s)
            .collect();
        let server_key = h.hmac(&salted, &[b"Server Key"]);
        let server_signature = h.hmac(&server_key, &auth_message);
        let mut response = without_proof;
        response.extend_from_slice(b",p=");
        response.extend_from_slice(B64.encode(&proof).as_bytes());
        self.state = State::SentFinal(server_signature);
        Ok(SaslResponse::new(response))
    }

    fn check_server_final(&mut self, server_final: &[u8]) -> Result<SaslResponse, SaslError> {
        let mechanism = self.mechanism();
        let State::SentFinal(expected) = &self.state else {
            return Err(unexpected(mechanism, "a challenge out of turn"));
        };
        let first = server_final.split(|&b| b == b',').next().unwrap_or(b"");
        if let Some(error) = first.strip_prefix(b"e=") {
            let detail = ServerText::from_slice(&error[..error.len().min(128)]);
            return Err(SaslError::Rejected { mechanism, detail });
        }
        let Some(signature) = first.strip_prefix(b"v=") else {
            return Err(unexpected(mechanism, "a server-final-message without v="));
        };
        match B64.decode(signature) {
            Ok(sig) if sig.as_slice() == expected.as_slice() => {
                self.state = State::Verified;
                Ok(SaslResponse::new(Vec::new()))
            }
            _ => Err(unexpected(
                mechanism,
                "a wrong server signature: the server may be an impostor",
            )),
        }
    }
}

impl Mechanism for Scram {
    fn reveals_secret(&self) -> bool {
        false
    }

    fn name(&self) -> MechanismName {
        name(self.mechanism())
    }

    fn initial_response(&mut self) -> Result<Option<SaslResponse>, SaslError> {
        let mut bare = Vec::with_capacity(self.user.len() + self.nonce.len() + 8);
        bare.extend_from_slice(b"n=");
        push_saslname(&mut bare, &self.user);
        bare.extend_from_slice(b",r=");
        bare.extend_from_slice(&self.nonce);
        let mut first = self.gs2_header().to_vec();
        first.extend_from_slice(&bare);
        self.state = State::SentFirst(bare);
        Ok(Some(SaslResponse::new(first)))
    }

    fn respond(&mut self, challenge: &[u8]) -> Result<SaslResponse, SaslError> {
        let result = match self.state {
            State::SentFirst(_) => self.client_final(challenge),
            State::SentFinal(_) => self.check_server_final(challenge),
            _ => Err(unexpected(self.mechanism(), "a challenge out of turn")),
        };
        if result.is_err() {
            self.state = State::Failed;
        }
        result
    }

    fn finish(&mut self) -> Result<(), SaslError> {
        match self.state {
            State::Verified => Ok(()),
            _ => Err(SaslError::ServerNotVerified),
        }
    }
}

/// Appends a SCRAM/GS2 `saslname`: `=` and `,` escaped as `=3D` and `=2C`.
pub(crate) fn push_saslname(out: &mut Vec<u8>, name: &[u8]) {
    for &b in name {
        match b {
            b'=' => out.extend_from_slice(b"=3D"),
            b',' => out.extend_from_slice(b"=2C"),
            b => out.push(b),
        }
    }
}

/// SASLprep (RFC 4013) of a password, by the `stringprep` crate.
#[cfg(feature = "std")]
fn saslprep(password: &[u8]) -> Result<Zeroizing<Vec<u8>>, SaslError> {
    let bad = |reason| SaslError::BadCredential {
        what: "password",
        reason,
    };
    let text = core::str::from_utf8(password).map_err(|_| bad("it is not UTF-8"))?;
    let prepared = stringprep::saslprep(text)
        .map_err(|_| bad("SASLprep (RFC 4013) prohibits a character in it"))?;
    Ok(Zeroizing::new(prepared.as_bytes().to_vec()))
}

/// Without `std` there is no Unicode table: printable ASCII is what SASLprep leaves alone.
#[cfg(not(feature = "std"))]
fn saslprep(password: &[u8]) -> Result<Zeroizing<Vec<u8>>, SaslError> {
    if password.iter().all(|b| (0x20..=0x7e).contains(b)) {
        Ok(Zeroizing::new(password.to_vec()))
    } else {
        Err(SaslError::BadCredential {
            what: "password",
            reason: "SASLprep of a non-ASCII password needs pop3-proto's std feature",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pencil() -> Password {
        Password::new("pencil").unwrap()
    }

    const FIRST: &[u8] = b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096";

    fn sha1() -> Scram {
        let mut m = Scram::sha1("user", &pencil(), "fyko+d2lbbFgONRv9qkxdawL").unwrap();
        m.initial_response().unwrap();
        m
    }

    #[test]
    fn rfc5802_sha1_vector() {
        let mut m = sha1();
        assert_eq!(
            m.respond(FIRST).unwrap().as_bytes(),
            b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
        );
        assert!(m.finish().is_err(), "not verified before server-final");
        m.respond(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=").unwrap();
        m.finish().unwrap();
    }

    #[test]
    fn row_49_hostile_server_first_messages_are_refused_before_any_work() {
        let cases: [&[u8]; 7] = [
            b"r=someone-elses-nonce,s=QSXCR+Q6sek8bf92,i=4096",
            b"r=fyko+d2lbbFgONRv9qkxdawL,s=QSXCR+Q6sek8bf92,i=4096", // not extended
            b"r=fyko+d2lbbFgONRv9qkxdawLxyz,s=not base64!,i=4096",
            b"r=fyko+d2lbbFgONRv9qkxdawLxyz,s=QSXCR+Q6sek8bf92,i=0",
            b"r=fyko+d2lbbFgONRv9qkxdawLxyz,s=QSXCR+Q6sek8bf92,i=2147483647",
            b"m=mandatory-extension,r=fyko+d2lbbFgONRv9qkxdawLxyz,s=QSXCR+Q6sek8bf92,i=1",
            b"r=fyko+d2lbbFgONRv9qkxdawLxyz,i=4096,s=QSXCR+Q6sek8bf92",
        ];
        for case in cases {
            let err = sha1().respond(case).unwrap_err();
            assert!(
                matches!(err, SaslError::UnexpectedChallenge { .. }),
                "{:?}: {err:?}",
                alloc::string::String::from_utf8_lossy(case)
            );
        }
        // The bound is the caller's to raise.
        let mut m = sha1().max_iterations(4095);
        assert!(m.respond(FIRST).is_err());
    }

    #[test]
    fn row_50_wrong_missing_or_error_server_final_fails() {
        for (last, rejected) in [
            (&b"v=AAAAAAAAAAAAAAAAAAAAAAAAAAA="[..], false),
            (b"x=unknown", false),
            (b"e=invalid-proof", true),
        ] {
            let mut m = sha1();
            m.respond(FIRST).unwrap();
            let err = m.respond(last).unwrap_err();
            assert_eq!(
                matches!(err, SaslError::Rejected { .. }),
                rejected,
                "{err:?}"
            );
            assert_eq!(m.finish(), Err(SaslError::ServerNotVerified));
        }
    }

    #[test]
    fn plus_binds_the_tls_exporter_into_the_proof() {
        let exporter = (0u8..32).collect::<Vec<_>>();
        let nonce = "rOprNGfwEbeRWgbNEkqO";
        let first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let mut plus = Scram::sha256("user", &pencil(), nonce)
            .unwrap()
            .channel_binding(ChannelBinding::TlsExporter(exporter.clone()));
        assert_eq!(plus.name().as_str(), "SCRAM-SHA-256-PLUS");
        let ir = plus.initial_response().unwrap().unwrap();
        assert_eq!(
            ir.as_bytes(),
            b"p=tls-exporter,,n=user,r=rOprNGfwEbeRWgbNEkqO"
        );
        let reply = plus.respond(first).unwrap();
        let mut cbind = b"p=tls-exporter,,".to_vec();
        cbind.extend_from_slice(&exporter);
        let expected_c = alloc::format!("c={},", B64.encode(&cbind));
        assert!(reply.as_bytes().starts_with(expected_c.as_bytes()));
        // The proof and the server's signature, computed independently (Python's hashlib and
        // hmac, RFC 5802's formulas) for this exporter.
        assert_eq!(
            reply.as_bytes(),
            b"c=cD10bHMtZXhwb3J0ZXIsLAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=QC6CS20quADQRb3mT99YUH+n3VJxUvzuK0K0E1Vrs2M="
        );
        plus.respond(b"v=2GiAgapEppLVlUXbxUDksL3VgYHzuqiK5tR4mhJGgvs=")
            .unwrap();
        plus.finish().unwrap();
        // The same exchange without binding proves something else.
        let mut bare = Scram::sha256("user", &pencil(), nonce).unwrap();
        bare.initial_response().unwrap();
        assert_ne!(bare.respond(first).unwrap(), reply);
        // `y`: could bind, the server did not offer -PLUS.
        let mut y = Scram::sha256("user", &pencil(), nonce)
            .unwrap()
            .could_bind(true);
        assert!(y
            .initial_response()
            .unwrap()
            .unwrap()
            .as_bytes()
            .starts_with(b"y,,"));
    }

    #[test]
    fn debug_never_shows_secrets() {
        let shown = alloc::format!(
            "{:?} {:?} {:?} {:?} {:?}",
            sha1(),
            super::super::XOAuth2::new("u", "tok-SECRET"),
            super::super::OAuthBearer::new("u", "tok-SECRET"),
            super::super::CramMd5::new("u", &Password::new("pw-SECRET").unwrap()),
            super::super::Login::new("u", &Password::new("pw-SECRET").unwrap()),
        );
        assert!(
            !shown.contains("SECRET") && !shown.contains("pencil"),
            "{shown}"
        );
    }

    #[test]
    fn names_are_escaped_and_passwords_prepared() {
        let mut m = Scram::sha256("a=b,c", &pencil(), "n").unwrap();
        assert_eq!(
            m.initial_response().unwrap().unwrap().as_bytes(),
            b"n,,n=a=3Db=2Cc,r=n"
        );
        // RFC 4013 §3: a non-ASCII space maps to a space; a control character is prohibited.
        let nbsp = Scram::sha256("u", &Password::new("I\u{a0}X").unwrap(), "n").unwrap();
        assert_eq!(nbsp.password.as_slice(), b"I X");
        let bell = Scram::sha256("u", &Password::new("a\u{7}b").unwrap(), "n");
        assert!(matches!(bell, Err(SaslError::BadCredential { .. })));
        assert!(Scram::sha256("u", &pencil(), "has,comma").is_err());
    }
}
