//! Transcript tests: every RFC example and every capability as an `S:`/`C:` trace, replayed
//! through a `Client` with the server's bytes fed whole, byte by byte, in small reads, split
//! at every index, and through `read_space` — all must give identical events (after merging
//! adjacent body chunks), and those events must be the `E:` lines of the transcript. Some
//! transcripts run procedures (`P:` lines: login, STLS, batches, QUIT) instead of commands.
//!
//! The replayer is the `pop3-transcript` crate (no_std), so the WASM host (`hosts/wasm`) and
//! the Cortex-M4 host (`hosts/cortex-m4`) run exactly these checks on the same files; its
//! documentation describes the format.

use pop3_transcript::{check, replay, Depth, Feed, Transcript, EMBEDDED};
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts")
}

fn files() -> Vec<(String, String)> {
    let mut paths: Vec<_> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 20, "expected the transcript collection");
    paths
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(p).unwrap())
        })
        .collect()
}

/// With `POP3_BLESS=1`, rewrites each transcript's `E:`/`X:` lines from what the client does
/// (review the diff before committing it).
fn bless(name: &str, text: &str, t: &Transcript) {
    let r = replay(t, Feed::Whole).unwrap();
    let mut out: String = text
        .lines()
        .filter(|l| !l.starts_with("E: ") && !l.starts_with("X: "))
        .map(|l| format!("{l}\n"))
        .collect();
    while out.ends_with("\n\n") {
        out.pop();
    }
    out.push('\n');
    for e in &r.events {
        out.push_str(&format!("E: {e}\n"));
    }
    if let Some(x) = &r.error {
        out.push_str(&format!("X: {x}\n"));
    }
    std::fs::write(dir().join(name), out).unwrap();
}

#[test]
fn transcripts_match_their_events_under_every_cut() {
    let mut failures = Vec::new();
    for (name, text) in files() {
        let t = Transcript::parse(&name, &text).unwrap();
        if std::env::var_os("POP3_BLESS").is_some() {
            bless(&name, &text, &t);
            continue;
        }
        if let Err(mismatch) = check(&t, Depth::Full) {
            failures.push(mismatch.to_string());
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// The hosts without a file system replay the copies compiled into `pop3-transcript`: they
/// must be every file of the folder, as it is.
#[test]
fn the_embedded_transcripts_are_the_files() {
    let embedded: Vec<(String, String)> = EMBEDDED
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    assert_eq!(
        embedded.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        files().iter().map(|(n, _)| n).collect::<Vec<_>>(),
        "list every transcript in pop3-transcript/src/embedded.rs"
    );
    assert_eq!(embedded, files());
}

#[test]
fn a_transcript_the_client_does_not_follow_is_reported() {
    let t =
        Transcript::parse("wrong", "S: +OK hi\nC: NOOP\nS: +OK\nE: greeting +OK bye\n").unwrap();
    let mismatch = check(&t, Depth::Quick).unwrap_err();
    assert!(mismatch.what.contains("events differ"), "{mismatch}");
    // Both commands must have left before the server's block: with pipelining off, the second
    // CAPA waits for the first one's reply, so the replay reports what was really sent.
    let text = "# config: pipelining=off\nS: +OK hi\nC: CAPA\nC: CAPA\nS: +OK\nS: .\n";
    let t = Transcript::parse("causal", text).unwrap();
    let mismatch = replay(&t, Feed::Whole).unwrap_err();
    assert!(mismatch.what.contains("sent \"CAPA\\r\\n\","), "{mismatch}");
}
