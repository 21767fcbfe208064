//! The `pop3` command-line tool against the test Dovecot.

#[path = "../../pop3-blocking/tests/dovecot/mod.rs"]
mod dovecot;

use dovecot::{dovecot, tricky_messages};
use std::path::PathBuf;
use std::process::{Command, Output};

/// The `pop3` binary, which `cargo test` builds for this crate's tests.
fn pop3_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pop3"))
}

fn pop3(d: &dovecot::Dovecot, user: &str, password: &str, args: &[&str]) -> Output {
    let port = d.port().to_string();
    Command::new(pop3_binary())
        .args([
            "--host",
            d.host(),
            "--port",
            &port,
            "--tls",
            "none",
            "--user",
            user,
        ])
        .args(args)
        .env("POP3_PASSWORD", password)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}, stderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn listings_print_one_entry_per_line() {
    let Some(d) = dovecot() else { return };
    let messages = tricky_messages();
    let (user, pw) = d.mailbox("t_cli_list", &messages);
    let total: usize = messages.iter().map(Vec::len).sum();
    assert_eq!(
        stdout(&pop3(&d, &user, &pw, &["stat"])),
        format!("4 {total}\n")
    );
    let list = stdout(&pop3(&d, &user, &pw, &["list"]));
    let expected: String = messages
        .iter()
        .enumerate()
        .map(|(i, m)| format!("{} {}\n", i + 1, m.len()))
        .collect();
    assert_eq!(list, expected);
    assert_eq!(
        stdout(&pop3(&d, &user, &pw, &["list", "2"])),
        format!("2 {}\n", messages[1].len())
    );
    let uidl = stdout(&pop3(&d, &user, &pw, &["uidl"]));
    assert_eq!(uidl.lines().count(), 4);
    let second = uidl.lines().nth(1).unwrap();
    assert_eq!(
        stdout(&pop3(&d, &user, &pw, &["uidl", "2"])),
        format!("{second}\n")
    );
    let capa = stdout(&pop3(&d, "", "", &["capa"]));
    assert!(capa.lines().any(|l| l == "PIPELINING"), "{capa}");
    assert!(capa.lines().any(|l| l.starts_with("SASL ")), "{capa}");
    assert_eq!(stdout(&pop3(&d, &user, &pw, &["noop"])), "");
}

#[test]
fn retr_and_top_are_byte_exact() {
    let Some(d) = dovecot() else { return };
    let messages = tricky_messages();
    let (user, pw) = d.mailbox("t_cli_retr", &messages);
    for (i, m) in messages.iter().enumerate() {
        let n = (i + 1).to_string();
        let out = pop3(&d, &user, &pw, &["retr", &n]);
        assert!(out.status.success());
        assert_eq!(&out.stdout, m, "message {n}");
    }
    let out = pop3(&d, &user, &pw, &["top", "1", "0"]);
    assert_eq!(out.stdout, b"Subject: dots\r\n\r\n");
}

#[test]
fn dele_succeeds_only_when_quit_commits() {
    let Some(d) = dovecot() else { return };
    let (user, pw) = d.mailbox("t_cli_dele", &tricky_messages());
    stdout(&pop3(&d, &user, &pw, &["dele", "1", "3"]));
    assert_eq!(d.stored(&user), 2);
    let out = pop3(&d, &user, &pw, &["dele", "1", "9"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(d.stored(&user), 2, "a refused DELE commits nothing");
}

#[test]
fn errors_are_one_line_with_exit_status_one_and_usage_is_two() {
    let Some(d) = dovecot() else { return };
    let (user, pw) = d.mailbox("t_cli_err", &tricky_messages()[..1]);
    let out = pop3(&d, &user, &pw, &["retr", "7"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("pop3: the server refused RETR: -ERR"),
        "{err}"
    );

    let out = pop3(&d, &user, &pw, &["retr"]);
    assert_eq!(out.status.code(), Some(2));
    let out = pop3(&d, &user, &pw, &["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));

    let out = Command::new(pop3_binary())
        .args([
            "--host",
            d.host(),
            "--port",
            &d.port().to_string(),
            "--tls",
            "none",
        ])
        .args(["--user", &user, "stat"])
        .env_remove("POP3_PASSWORD")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("POP3_PASSWORD"));
}

#[test]
fn trace_is_redacted_and_tls_modes_work() {
    let Some(d) = dovecot() else { return };
    let (user, pw) = d.mailbox("t_cli_tls", &tricky_messages()[..1]);
    let port = d.pop3s_port().to_string();
    let out = Command::new(pop3_binary())
        .args(["--host", "localhost", "--port", &port, "--ca-file", d.ca()])
        .args(["--user", &user, "--trace", "--auth", "plain", "stat"])
        .env("POP3_PASSWORD", &pw)
        .output()
        .unwrap();
    assert!(stdout(&out).starts_with("1 "));
    let trace = String::from_utf8(out.stderr).unwrap();
    assert!(trace.contains("C: AUTH PLAIN <redacted>"), "{trace}");
    assert!(!trace.contains(&pw), "the password leaked into the trace");

    let port = d.port().to_string();
    let out = Command::new(pop3_binary())
        .args(["--host", "localhost", "--port", &port, "--tls", "starttls"])
        .args([
            "--ca-file",
            d.ca(),
            "--user",
            &user,
            "--trace",
            "--auth",
            "user",
            "stat",
        ])
        .env("POP3_PASSWORD", &pw)
        .output()
        .unwrap();
    assert!(stdout(&out).starts_with("1 "));
    let trace = String::from_utf8(out.stderr).unwrap();
    assert!(
        trace.contains("C: STLS") && trace.contains("C: PASS <redacted>"),
        "{trace}"
    );
    assert!(!trace.contains(&pw));

    // The default, --auth auto, takes the strongest mechanism Dovecot offers; the token of
    // --auth xoauth2 comes from an environment variable and never shows in the trace.
    let port = d.pop3s_port().to_string();
    let token = d.token(&user);
    for (auth, shown) in [
        ("auto", "C: AUTH SCRAM-SHA-256 <redacted>"),
        ("xoauth2", "C: AUTH XOAUTH2"),
    ] {
        let out = Command::new(pop3_binary())
            .args(["--host", "localhost", "--port", &port, "--ca-file", d.ca()])
            .args(["--user", &user, "--trace", "--auth", auth, "stat"])
            .env("POP3_PASSWORD", &pw)
            .env("POP3_TOKEN", &token)
            .output()
            .unwrap();
        let trace = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(stdout(&out).starts_with("1 "), "{auth}: {trace}");
        assert!(trace.contains(shown), "{auth}: {trace}");
        assert!(
            !trace.contains(&pw) && !trace.contains(&token),
            "{auth}: a secret leaked"
        );
    }

    let out = Command::new(pop3_binary())
        .args(["--host", "localhost", "--port", &d.pop3s_port().to_string()])
        .args(["--ca-file", d.wrong_ca(), "--user", &user, "stat"])
        .env("POP3_PASSWORD", &pw)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("certificate"));
}
