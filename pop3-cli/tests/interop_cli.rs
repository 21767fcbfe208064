//! The `pop3` tool against the interop servers (`scripts/interop.sh`): `--utf8` (Courier
//! replaces a message with 8-bit headers by a notice unless the client sends UTF8), `capa` in
//! the server's order, `--trace` without colour when stderr is not a terminal, and errors that
//! say what to do for a wrong TLS mode or an unknown CA.

#[path = "../../pop3-blocking/tests/servers/mod.rs"]
mod interop;

use interop::{messages, servers, Server, EIGHT_BIT_HEADER};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output};

fn pop3(s: &Server, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pop3"));
    command
        .args(["--host", s.host(), "--ca-file", s.ca()])
        .args(args);
    command
}

/// `pop3` in the server's best TLS mode, as `user`.
fn run_as(s: &Server, user: &str, password: &str, args: &[&str]) -> Output {
    let (mode, port) = match (s.pop3s_port(), s.stls()) {
        (Some(port), _) => ("implicit", port),
        (None, true) => ("starttls", s.port()),
        (None, false) => ("none", s.port()),
    };
    pop3(
        s,
        &["--port", &port.to_string(), "--tls", mode, "--user", user],
    )
    .args(args)
    .env("POP3_PASSWORD", password)
    .output()
    .unwrap()
}

fn ok(out: &Output, context: &str) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{context}: exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout.clone()
}

#[test]
fn utf8_auto_gets_messages_with_8bit_headers_as_they_are() {
    for s in servers().into_iter().filter(|s| s.name() == "courier") {
        let filled = messages();
        let (user, password) = s.mailbox("ix_utf8", &filled);
        let n = (EIGHT_BIT_HEADER + 1).to_string();
        let auto = ok(&run_as(&s, &user, &password, &["retr", &n]), "auto");
        assert_eq!(auto, filled[EIGHT_BIT_HEADER], "--utf8 auto (the default)");
        let on = ok(
            &run_as(&s, &user, &password, &["--utf8", "on", "retr", &n]),
            "on",
        );
        assert_eq!(on, filled[EIGHT_BIT_HEADER], "--utf8 on");
        let off = ok(
            &run_as(&s, &user, &password, &["--utf8", "off", "retr", &n]),
            "off",
        );
        assert_ne!(
            off, filled[EIGHT_BIT_HEADER],
            "without UTF8 Courier sends a notice"
        );
        let plain = ok(
            &run_as(&s, &user, &password, &["--utf8", "off", "retr", "1"]),
            "1",
        );
        assert_eq!(plain, filled[0], "an ASCII message is the same either way");
    }
}

/// The CAPA lines the server sends, in its order, read off a plain socket.
fn raw_capa(s: &Server) -> Vec<String> {
    let tcp = std::net::TcpStream::connect((s.host(), s.port())).unwrap();
    let mut reader = BufReader::new(tcp.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap(); // greeting
    (&tcp).write_all(b"CAPA\r\n").unwrap();
    line.clear();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("+OK"), "{}: {line}", s.name());
    let mut lines = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let text = line.trim_end_matches(['\r', '\n']);
        if text == "." {
            break;
        }
        lines.push(text.to_string());
    }
    (&tcp).write_all(b"QUIT\r\n").unwrap();
    lines
}

#[test]
fn capa_prints_the_servers_order() {
    for s in servers().into_iter().filter(|s| s.name() != "popa3d") {
        let out = pop3(
            &s,
            &["--port", &s.port().to_string(), "--tls", "none", "capa"],
        )
        .output()
        .unwrap();
        let printed = String::from_utf8(ok(&out, s.name())).unwrap();
        let printed: Vec<&str> = printed.lines().collect();
        let sent = raw_capa(&s);
        let normalise = |l: &str| {
            l.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_uppercase()
        };
        let sent: Vec<String> = sent.iter().map(|l| normalise(l)).collect();
        let printed: Vec<String> = printed.iter().map(|l| normalise(l)).collect();
        assert_eq!(printed, sent, "{}", s.name());
    }
}

#[test]
fn trace_has_no_colour_when_stderr_is_not_a_terminal() {
    let Some(s) = servers().into_iter().next() else {
        return;
    };
    let (user, password) = s.mailbox("ix_trace", &messages()[..1]);
    let out = run_as(&s, &user, &password, &["--trace", "stat"]);
    ok(&out, "trace");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("STAT"), "{stderr}");
    assert!(!stderr.contains('\x1b'), "escape codes in {stderr:?}");
}

#[test]
fn a_wrong_tls_mode_or_an_unknown_ca_says_what_to_do() {
    for s in servers() {
        let Some(pop3s) = s.pop3s_port() else {
            continue;
        };
        let name = s.name();
        // Implicit TLS (the default) against the plaintext port.
        let out = pop3(
            &s,
            &["--port", &s.port().to_string(), "--user", "x", "stat"],
        )
        .env("POP3_PASSWORD", "x")
        .output()
        .unwrap();
        assert_eq!(out.status.code(), Some(1), "{name}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--tls starttls"), "{name}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{name}: one line: {stderr}");
        // A CA that did not sign the server's certificate.
        let out = Command::new(env!("CARGO_BIN_EXE_pop3"))
            .args(["--host", s.host(), "--port", &pop3s.to_string()])
            .args(["--ca-file", s.get("POP3_WRONG_CA"), "--user", "x", "stat"])
            .env("POP3_PASSWORD", "x")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{name}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--ca-file"), "{name}: {stderr}");
        // STLS expected, but this port speaks TLS from the first byte: no greeting comes.
        let out = Command::new(env!("CARGO_BIN_EXE_pop3"))
            .args(["--host", s.host(), "--port", &pop3s.to_string()])
            .args(["--tls", "starttls", "--timeout", "2", "--user", "x", "stat"])
            .env("POP3_PASSWORD", "x")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{name}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--tls implicit"), "{name}: {stderr}");
    }
}
