//! `pop3 fetch` (the binary) against the test Dovecot: plain, STLS and implicit TLS, re-runs
//! that store nothing again, `--delete`, and `--delete` killed with SIGKILL at 50 random
//! moments and run again each time, losing and duplicating nothing.

#[path = "../../pop3-blocking/tests/dovecot/mod.rs"]
mod dovecot;

use dovecot::{dovecot, numbered_messages, tricky_messages, Dovecot};
use pop3_cli::maildir::CrlfToLf;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A command line for `pop3` against the test Dovecot in one of the TLS modes.
fn pop3(d: &Dovecot, tls: &str, user: &str, password: &str) -> Command {
    let port = match tls {
        "implicit" => d.pop3s_port(),
        _ => d.port(),
    };
    let mut command = Command::new(env!("CARGO_BIN_EXE_pop3"));
    command
        .args(["--host", "localhost", "--port", &port.to_string()])
        .args(["--tls", tls, "--ca-file", d.ca(), "--user", user])
        .env("POP3_PASSWORD", password);
    command
}

fn fetch(d: &Dovecot, tls: &str, user: &str, password: &str, args: &[&str]) -> Output {
    pop3(d, tls, user, password)
        .arg("fetch")
        .args(args)
        .output()
        .unwrap()
}

/// The last line on stdout, checking the exit status.
fn summary(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}, stderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    text.lines().last().unwrap_or_default().to_string()
}

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pop3-fetch-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The contents of every file in `new/` and `cur/`, sorted.
fn stored(maildir: &Path) -> Vec<Vec<u8>> {
    let mut all: Vec<Vec<u8>> = ["new", "cur"]
        .iter()
        .filter_map(|sub| std::fs::read_dir(maildir.join(sub)).ok())
        .flatten()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    all.sort();
    all
}

/// Messages as a Maildir holds them by default: each CRLF made LF.
fn with_lf(messages: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut all: Vec<Vec<u8>> = messages.iter().map(|m| CrlfToLf::whole(m)).collect();
    all.sort();
    all
}

#[test]
fn fetches_over_every_tls_mode_and_reruns_store_nothing() {
    let Some(d) = dovecot() else { return };
    let messages = tricky_messages();
    let want = with_lf(&messages);
    for tls in ["none", "starttls", "implicit"] {
        let (user, pw) = d.mailbox(&format!("t_fetch_{tls}"), &messages);
        let dir = scratch(tls);
        let maildir = dir.to_str().unwrap();
        let out = fetch(&d, tls, &user, &pw, &["--maildir", maildir]);
        assert_eq!(summary(&out), "fetched 4, skipped 0, deleted 0", "{tls}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).lines().count(),
            1,
            "not a terminal: nothing but the summary"
        );
        assert_eq!(stored(&dir), want, "{tls}");
        let again = fetch(&d, tls, &user, &pw, &["--maildir", maildir]);
        assert_eq!(summary(&again), "fetched 0, skipped 4, deleted 0", "{tls}");
        assert_eq!(stored(&dir), want, "{tls}: nothing stored twice");
        assert_eq!(d.stored(&user), 4, "kept on the server");
        // --delete removes what is stored, even from an earlier run.
        let delete = fetch(&d, tls, &user, &pw, &["--maildir", maildir, "--delete"]);
        assert_eq!(summary(&delete), "fetched 0, skipped 4, deleted 4", "{tls}");
        assert_eq!(d.stored(&user), 0, "{tls}: deleted on the server");
        assert_eq!(stored(&dir), want);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn crlf_keeps_the_wire_bytes_and_all_fetches_again() {
    let Some(d) = dovecot() else { return };
    let messages = tricky_messages();
    let (user, pw) = d.mailbox("t_fetch_crlf", &messages);
    let dir = scratch("crlf");
    let maildir = dir.to_str().unwrap();
    let out = fetch(
        &d,
        "implicit",
        &user,
        &pw,
        &["--maildir", maildir, "--crlf"],
    );
    assert_eq!(summary(&out), "fetched 4, skipped 0, deleted 0");
    let mut want = messages.clone();
    want.sort();
    assert_eq!(stored(&dir), want);
    let all = fetch(
        &d,
        "implicit",
        &user,
        &pw,
        &["--maildir", maildir, "--all", "--crlf"],
    );
    assert_eq!(summary(&all), "fetched 4, skipped 0, deleted 0");
    assert_eq!(stored(&dir).len(), 8, "--all stores every message again");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_wrong_password_is_exit_1_with_one_line_and_no_summary_of_work() {
    let Some(d) = dovecot() else { return };
    let (user, _) = d.mailbox("t_fetch_badpw", &tricky_messages()[..1]);
    let dir = scratch("badpw");
    let out = fetch(
        &d,
        "implicit",
        &user,
        "wrong",
        &["--maildir", dir.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A small deterministic random source, seeded from the clock and printed, so a failure can
/// be replayed with POP3_CRASH_SEED.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Batch `b` of the crash test's mail: 300 messages unlike any other batch's.
fn crash_batch(b: usize) -> Vec<Vec<u8>> {
    numbered_messages(300, 3_000)
        .into_iter()
        .map(|m| [format!("X-Batch: {b}\r\n").into_bytes(), m].concat())
        .collect()
}

#[test]
fn killed_at_50_random_moments_with_delete_loses_and_duplicates_nothing() {
    let Some(d) = dovecot() else { return };
    let mut delivered = crash_batch(0);
    let (user, pw) = d.mailbox("t_fetch_crash", &delivered);
    let seed = std::env::var("POP3_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("POP3_CRASH_SEED={seed}");
    let mut rng = Lcg(seed);

    // How long a whole run takes (into a scratch Maildir, without --delete) sets the window
    // the kills fall in: the fastest of three, since one slow outlier (a busy machine) would
    // stretch the window until most kills land after the run has ended.
    let mut window = u64::MAX;
    for _ in 0..3 {
        let probe = scratch("crash-probe");
        let started = Instant::now();
        let out = fetch(
            &d,
            "implicit",
            &user,
            &pw,
            &["--maildir", probe.to_str().unwrap()],
        );
        assert_eq!(summary(&out), "fetched 300, skipped 0, deleted 0");
        window = window.min(started.elapsed().as_micros() as u64);
        std::fs::remove_dir_all(&probe).unwrap();
    }
    eprintln!("a whole run takes {window} µs at best");

    let dir = scratch("crash");
    let maildir = dir.to_str().unwrap();
    let mut killed = 0;
    for round in 0..50 {
        // When a run got through and emptied the server, new mail arrives, so every kill
        // lands in a run with work to do.
        if d.stored(&user) == 0 {
            let batch = crash_batch(round + 1);
            d.deliver(&user, &batch);
            delivered.extend(batch);
        }
        let mut child = pop3(&d, "implicit", &user, &pw)
            .args(["fetch", "--maildir", maildir, "--delete"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.below(window)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            killed += 1;
        }
        child.wait().unwrap();
        // Whatever the moment: each message whole in the Maildir or still on the server.
        let want = with_lf(&delivered);
        let have = stored(&dir);
        for file in &have {
            assert!(
                want.binary_search(file).is_ok(),
                "round {round}: a partial or foreign file"
            );
        }
        let mut unique = have.clone();
        unique.dedup();
        assert_eq!(
            unique.len(),
            have.len(),
            "round {round}: a message stored twice"
        );
        assert!(
            have.len() + d.stored(&user) >= want.len(),
            "round {round}: {} stored + {} on the server < {}",
            have.len(),
            d.stored(&user),
            want.len()
        );
    }
    eprintln!(
        "{killed} of 50 runs killed, {} messages delivered",
        delivered.len()
    );
    assert!(killed >= 25, "too few runs were actually killed: {killed}");
    let out = fetch(
        &d,
        "implicit",
        &user,
        &pw,
        &["--maildir", maildir, "--delete"],
    );
    let last = summary(&out); // exit 0: every message stored, QUIT confirmed
    assert!(last.starts_with("fetched "), "{last}");
    assert_eq!(
        stored(&dir),
        with_lf(&delivered),
        "every message exactly once, byte-exact"
    );
    assert_eq!(d.stored(&user), 0, "and all of them deleted on the server");
    let tmp = std::fs::read_dir(dir.join("tmp")).unwrap().count();
    assert_eq!(tmp, 0, "nothing left in tmp/");
    std::fs::remove_dir_all(&dir).unwrap();
}
