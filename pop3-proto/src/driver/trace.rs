//! The protocol trace (poplib's `set_debuglevel`) through `tracing`, secrets redacted.
//!
//! Enable it with any `tracing` subscriber at `DEBUG` for target `pop3::trace`. Commands are
//! shown as sent except PASS's argument, APOP's digest (an offline dictionary attack on the
//! password), AUTH's initial response and SASL responses; replies are shown as decoded
//! events (server text escaped), bodies by size at `TRACE`.

use crate::Event;
use std::borrow::Cow;
use std::format;
use std::string::String;

/// Logs what was written, one line per command.
pub fn sent(bytes: &[u8], in_sasl: bool) {
    if !tracing::enabled!(target: "pop3::trace", tracing::Level::DEBUG) {
        return;
    }
    for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let line = String::from_utf8_lossy(line);
        let line = line.trim_end_matches('\r');
        tracing::debug!(target: "pop3::trace", "C: {}", redact(line, in_sasl));
    }
}

/// A command line as it may be shown: secrets replaced.
///
/// ```
/// use pop3_proto::driver::trace::redact;
/// assert_eq!(redact("PASS hunter2", false), "PASS <redacted>");
/// assert_eq!(redact("APOP mrose c4c9334bac560ecc979e58001b3e22fb", false), "APOP mrose <redacted>");
/// assert_eq!(redact("AUTH PLAIN AGFsaWNlAHB3", false), "AUTH PLAIN <redacted>");
/// assert_eq!(redact("AGFsaWNlAHB3", true), "<redacted SASL response>");
/// assert_eq!(redact("USER alice", false), "USER alice");
/// ```
pub fn redact(line: &str, in_sasl: bool) -> Cow<'_, str> {
    if in_sasl {
        return Cow::Borrowed(if line == "*" {
            "*"
        } else {
            "<redacted SASL response>"
        });
    }
    let mut words = line.splitn(3, ' ');
    let keyword = words.next().unwrap_or("").to_ascii_uppercase();
    let first = words.next();
    let rest = words.next();
    match (keyword.as_str(), first, rest) {
        ("PASS", Some(_), _) => Cow::Borrowed("PASS <redacted>"),
        ("APOP" | "AUTH", Some(arg), Some(_)) => Cow::Owned(format!("{keyword} {arg} <redacted>")),
        _ => Cow::Borrowed(line),
    }
}

/// Logs one decoded event (the drivers install this as the session's observer).
pub fn received(event: &Event) {
    if !tracing::enabled!(target: "pop3::trace", tracing::Level::DEBUG) {
        return;
    }
    match event {
        Event::BodyChunk { data, .. } => {
            tracing::trace!(target: "pop3::trace", "S: <{} body bytes>", data.len())
        }
        other => tracing::debug!(target: "pop3::trace", "S: {other:?}"),
    }
}
