//! CRAM-MD5 (RFC 2195): a keyed MD5 of the server's challenge; the password never leaves.

use super::{name, unexpected, Mechanism, SaslError, SaslResponse};
use crate::args::{MechanismName, Password};
use alloc::vec::Vec;
use core::fmt;
use hmac::{Hmac, Mac};
use md5::Md5;

/// The CRAM-MD5 mechanism (RFC 2195): answers the server's one challenge with the user name
/// and the hex HMAC-MD5 of the challenge keyed with the password. The password never crosses
/// the wire, but the server must store it in the clear, and a captured exchange allows an
/// offline dictionary attack: prefer SCRAM.
///
/// RFC 2195's example:
///
/// ```
/// use pop3_proto::sasl::{CramMd5, Mechanism};
/// use pop3_proto::Password;
/// let mut m = CramMd5::new("tim", &Password::new("tanstaaftanstaaf").unwrap());
/// let challenge = b"<1896.697170952@postoffice.reston.mci.net>";
/// assert_eq!(m.respond(challenge).unwrap().as_bytes(), b"tim b913a602c7eda7a495b4e6e7334d3890");
/// ```
pub struct CramMd5 {
    user: Vec<u8>,
    password: Password,
    answered: bool,
}

impl CramMd5 {
    /// Credentials for CRAM-MD5.
    pub fn new(user: &str, password: &Password) -> Self {
        Self {
            user: user.as_bytes().to_vec(),
            password: password.clone(),
            answered: false,
        }
    }
}

impl fmt::Debug for CramMd5 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CramMd5(<redacted>)")
    }
}

impl Mechanism for CramMd5 {
    fn name(&self) -> MechanismName {
        name("CRAM-MD5")
    }

    fn initial_response(&mut self) -> Result<Option<SaslResponse>, SaslError> {
        Ok(None)
    }

    fn respond(&mut self, challenge: &[u8]) -> Result<SaslResponse, SaslError> {
        if self.answered {
            return Err(unexpected("CRAM-MD5", "a second challenge"));
        }
        if challenge.is_empty() {
            return Err(unexpected("CRAM-MD5", "an empty challenge"));
        }
        self.answered = true;
        let mut mac = <Hmac<Md5> as Mac>::new_from_slice(self.password.as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(challenge);
        let digest = mac.finalize().into_bytes();
        let mut response = Vec::with_capacity(self.user.len() + 33);
        response.extend_from_slice(&self.user);
        response.push(b' ');
        for byte in digest {
            response.extend_from_slice(&hex(byte));
        }
        Ok(SaslResponse::new(response))
    }
}

fn hex(byte: u8) -> [u8; 2] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    [
        DIGITS[usize::from(byte >> 4)],
        DIGITS[usize::from(byte & 15)],
    ]
}
