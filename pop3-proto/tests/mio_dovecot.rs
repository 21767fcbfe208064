//! The `mio_fetch` example — a third driver, on a non-blocking `mio` socket — against the
//! private Dovecot that `scripts/test.sh` starts: 50 messages fetched in one pipelined batch,
//! one `N SIZE UID` line each, every size byte-exact.
//!
//! Needs `POP3_DOVECOT_ENV` (the server's env file); without it the test says so and passes,
//! unless `POP3_REQUIRE_DOVECOT` is set.

#![cfg(feature = "driver")]

#[path = "../../pop3-blocking/tests/dovecot/mod.rs"]
mod dovecot;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Message `i`: CRLF throughout (Dovecot then sends it byte for byte), with dot lines to
/// unstuff, sizes from a few hundred bytes to about 100 KB.
fn message(i: usize) -> Vec<u8> {
    let mut m = format!("Subject: mio {i}\r\nMessage-ID: <{i}@mio.test>\r\n\r\n").into_bytes();
    let size = 200 + (i * 7919) % 100_000;
    while m.len() < size {
        if m.len() % 5 == 0 {
            m.extend_from_slice(b".a dot-stuffed line\r\n");
        }
        m.extend_from_slice(format!("{i:04} the quick brown fox {}\r\n", m.len()).as_bytes());
    }
    m
}

/// Builds the example and returns its path (from cargo's own report, so any target dir or
/// profile layout works).
fn build_example() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(workspace())
        .args(["build", "-q", "-p", "pop3-proto", "--features", "driver"])
        .args([
            "--example",
            "mio_fetch",
            "--message-format=json-render-diagnostics",
        ])
        .output()
        .expect("run cargo build");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "cargo build failed: {stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let key = "\"executable\":\"";
    let line = stdout
        .lines()
        .find(|l| l.contains("\"name\":\"mio_fetch\"") && l.contains(key))
        .unwrap_or_else(|| panic!("no mio_fetch executable in cargo's output:\n{stdout}"));
    let path = &line[line.find(key).unwrap() + key.len()..];
    PathBuf::from(&path[..path.find('"').unwrap()])
}

#[test]
fn mio_fetch_gets_a_whole_mailbox_from_dovecot() {
    let Some(d) = dovecot::dovecot() else { return };
    let messages: Vec<Vec<u8>> = (0..50).map(message).collect();
    let example = build_example();
    let (user, password) = d.mailbox("t_mio_fetch", &messages);
    let out = Command::new(&example)
        .args([d.host(), &d.port().to_string(), &user])
        .env("POP3_PASSWORD", password)
        .output()
        .expect("run the mio_fetch example");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "mio_fetch failed ({}): {stderr}",
        out.status
    );

    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        messages.len(),
        "one line per message:\n{stdout}"
    );
    let mut uids = HashSet::new();
    for (i, (line, m)) in lines.iter().zip(&messages).enumerate() {
        let fields: Vec<&str> = line.split(' ').collect();
        let [n, size, uid] = fields[..] else {
            panic!("not `N SIZE UID`: {line:?}")
        };
        assert_eq!(n, (i + 1).to_string(), "{line:?}");
        assert_eq!(size, m.len().to_string(), "message {n}'s size: {line:?}");
        assert!(uids.insert(uid.to_owned()), "UID {uid} twice");
    }
    let total: usize = messages.iter().map(Vec::len).sum();
    let summary = format!("fetched 50 messages, {total} bytes in ");
    assert!(stderr.contains(&summary), "no `{summary}…` in: {stderr}");
}
