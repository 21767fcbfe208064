//! The protocol trace (poplib's `set_debuglevel`), through `tracing`, with secrets redacted.
//! (Public but hidden: the Tokio driver shares it.)
//!
//! Enable it with any `tracing` subscriber at `DEBUG` for target `pop3::trace`.
//! Commands are shown as sent except PASS's argument, AUTH's initial response and SASL
//! responses; replies are shown as decoded events (server text escaped), bodies by size.

use pop3_proto::Event;

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

/// Replaces secrets in a command line.
pub fn redact(line: &str, in_sasl: bool) -> String {
    let upper = line.get(..5).unwrap_or("").to_ascii_uppercase();
    if in_sasl {
        if line == "*" {
            return "*".into();
        }
        return "<redacted SASL response>".into();
    }
    if upper == "PASS " {
        return "PASS <redacted>".into();
    }
    if upper == "AUTH " {
        let mut words = line.splitn(3, ' ');
        let (auth, mech) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        return match words.next() {
            Some(_) => format!("{auth} {mech} <redacted>"),
            None => format!("{auth} {mech}"),
        };
    }
    line.to_string()
}

/// Logs one decoded event.
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

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(redact("PASS hunter2", false), "PASS <redacted>");
        assert_eq!(redact("pass hunter2", false), "PASS <redacted>");
        assert_eq!(
            redact("AUTH PLAIN AGFsaWNlAHB3", false),
            "AUTH PLAIN <redacted>"
        );
        assert_eq!(redact("AUTH PLAIN", false), "AUTH PLAIN");
        assert_eq!(redact("AGFsaWNlAHB3", true), "<redacted SASL response>");
        assert_eq!(redact("USER alice", false), "USER alice");
    }
}
