//! APOP (RFC 1939 §7): the digest that proves knowledge of the secret without sending it.

use crate::codec::greeting::ApopTimestamp;
use md5::{Digest, Md5};

/// Lowercase hex MD5 of the timestamp followed by the shared secret.
///
/// Only a strictly validated [`ApopTimestamp`] can be used, so a malformed greeting can never
/// make us hash attacker-chosen framing.
///
/// ```
/// use pop3_proto::{apop_digest, ApopTimestamp};
///
/// // RFC 1939's example.
/// let ts = ApopTimestamp::parse(b"<1896.697170952@dbc.mtview.ca.us>").unwrap();
/// assert_eq!(&apop_digest(&ts, b"tanstaaf"), b"c4c9334bac560ecc979e58001b3e22fb");
/// ```
pub fn apop_digest(timestamp: &ApopTimestamp, secret: &[u8]) -> [u8; 32] {
    let mut hasher = Md5::new();
    hasher.update(timestamp.as_bytes());
    hasher.update(secret);
    let digest = hasher.finalize();
    let mut hex = [0u8; 32];
    for (i, byte) in digest.iter().enumerate() {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        hex[2 * i] = DIGITS[usize::from(byte >> 4)];
        hex[2 * i + 1] = DIGITS[usize::from(byte & 0xf)];
    }
    hex
}
