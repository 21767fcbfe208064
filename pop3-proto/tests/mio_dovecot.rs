//! The `mio_fetch` example — a third driver, on a non-blocking `mio` socket — against the
//! private Dovecot that `scripts/test.sh` starts: 50 messages fetched in one pipelined batch,
//! one `N SIZE UID` line each, every size byte-exact.
//!
//! Needs `POP3_DOVECOT_ENV` (the server's env file); without it the test says so and passes,
//! unless `POP3_REQUIRE_DOVECOT` is set.

#![cfg(feature = "driver")]

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const USER: &str = "t_mio_fetch";
const PASSWORD: &str = "t_mio_fetch-pw";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The Dovecot env file as a map, or `None` when no server was started.
fn dovecot_env() -> Option<HashMap<String, String>> {
    let Some(path) = std::env::var_os("POP3_DOVECOT_ENV") else {
        assert!(
            std::env::var_os("POP3_REQUIRE_DOVECOT").is_none(),
            "POP3_REQUIRE_DOVECOT is set but POP3_DOVECOT_ENV is not"
        );
        eprintln!("no Dovecot (run scripts/test.sh, or set POP3_DOVECOT_ENV): skipped");
        return None;
    };
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", Path::new(&path).display()));
    let pairs = text.lines().filter_map(|l| l.split_once('='));
    Some(pairs.map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
}

fn dovecot_sh(args: &[&str]) {
    let out = Command::new("bash")
        .arg(workspace().join("scripts/dovecot.sh"))
        .args(args)
        .output()
        .expect("run scripts/dovecot.sh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "dovecot.sh {args:?} failed: {stderr}");
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
    let Some(env) = dovecot_env() else { return };
    let state = env["POP3_STATE"].as_str();
    dovecot_sh(&["adduser", state, USER, PASSWORD]);
    // Dovecot re-reads its passwd-file at most once a second: log in after the next one.
    let added = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let login_from = Duration::from_secs(added.as_secs()) + Duration::from_millis(1050);
    dovecot_sh(&["clear", state, USER]);
    let messages: Vec<Vec<u8>> = (0..50).map(message).collect();
    let dir = std::env::temp_dir().join(format!("pop3-test-mio-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (i, m) in messages.iter().enumerate() {
        std::fs::write(dir.join(format!("{i:06}")), m).unwrap();
    }
    dovecot_sh(&["fill", state, USER, dir.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();

    let example = build_example();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    std::thread::sleep(login_from.saturating_sub(now));
    let out = Command::new(&example)
        .args([&env["POP3_HOST"], &env["POP3_PORT"], USER])
        .env("POP3_PASSWORD", PASSWORD)
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
