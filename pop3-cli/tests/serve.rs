//! `pop3 serve` against real clients: our own (both TLS modes), Python's poplib (POP3_SSL and
//! STLS), curl (pop3s), mpop and fetchmail (both TLS modes),
//! byte-exact; the maildrop lock; QUIT unlinking what was deleted; `pop3 fetch` over plain,
//! STLS and implicit TLS.

#[path = "../../pop3-blocking/tests/support/mod.rs"]
mod support;

use pop3_blocking::pop3_proto::{MsgNum, ResponseCode};
use pop3_blocking::{Connector, Error, Pop3, TlsMode};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::Pki;

fn pop3() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pop3"))
}

/// Messages as stored (LF line ends, as Maildir files usually have) and as served (CRLF).
fn messages() -> Vec<(Vec<u8>, Vec<u8>)> {
    let stored: Vec<Vec<u8>> = vec![
        b"Subject: one\n\nHello\n.\n..two dots\n.leading\n".to_vec(),
        b"Subject: two\r\nX-Kept: crlf\r\n\r\nalready CRLF\r\n".to_vec(),
        b"Subject: three\n\n\xc3\xa9t\xc3\xa9 \xff 8-bit\nno final newline".to_vec(),
    ];
    stored
        .into_iter()
        .map(|m| {
            let mut served = Vec::new();
            for (i, &b) in m.iter().enumerate() {
                if b == b'\n' && (i == 0 || m[i - 1] != b'\r') {
                    served.push(b'\r');
                }
                served.push(b);
            }
            (m, served)
        })
        .collect()
}

struct Served {
    child: Child,
    dir: PathBuf,
    plain: u16,
    tls: u16,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Maildir for alice (password `secret`) with `messages()`, served on two fresh ports.
fn start(tag: &str) -> Served {
    let dir = std::env::temp_dir().join(format!("pop3-serve-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join("root/alice").join(sub)).unwrap();
    }
    for (i, (stored, _)) in messages().iter().enumerate() {
        let name = format!("17000000{i:02}.M{i}P1.test:2,S");
        std::fs::write(dir.join("root/alice/cur").join(name), stored).unwrap();
    }
    let hash = pop3()
        .arg("hash-password")
        .env("POP3_PASSWORD", "secret")
        .output()
        .unwrap();
    assert!(hash.status.success());
    let line = format!("alice:{}", String::from_utf8(hash.stdout).unwrap());
    std::fs::write(dir.join("users"), line).unwrap();
    let (cert, key) = Pki::shared().server_pem();
    std::fs::write(dir.join("cert.pem"), cert).unwrap();
    std::fs::write(dir.join("key.pem"), key).unwrap();
    std::fs::write(dir.join("ca.pem"), Pki::shared().ca_pem()).unwrap();
    let (plain, tls) = (free_port(), free_port());
    let child = pop3()
        .args(["serve", "--root"])
        .arg(dir.join("root"))
        .arg("--users")
        .arg(dir.join("users"))
        .args(["--listen", &format!("127.0.0.1:{plain}")])
        .args(["--tls-listen", &format!("127.0.0.1:{tls}")])
        .arg("--tls-cert")
        .arg(dir.join("cert.pem"))
        .arg("--tls-key")
        .arg(dir.join("key.pem"))
        .arg("--allow-plaintext-auth") // so clients can also be tried with no TLS at all
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", tls)).is_err() {
        assert!(Instant::now() < deadline, "pop3 serve did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Served {
        child,
        dir,
        plain,
        tls,
    }
}

fn ours(s: &Served, implicit: bool) -> Pop3 {
    let connector = Connector::new("localhost")
        .tls_config(Pki::shared().client_config())
        .timeout(Duration::from_secs(20));
    let connector = if implicit {
        connector.port(s.tls)
    } else {
        connector.port(s.plain).tls_mode(TlsMode::StartTls)
    };
    connector.connect().unwrap()
}

fn n(i: u32) -> MsgNum {
    MsgNum::new(i).unwrap()
}

#[test]
fn our_client_over_both_tls_modes_byte_exact_with_lock_and_deletion() {
    let s = start("ours");
    for implicit in [true, false] {
        let mut pop = ours(&s, implicit);
        pop.login_auto("alice", "secret").unwrap();
        let list = pop.list().unwrap();
        let want = messages();
        assert_eq!(list.len(), want.len());
        for (i, (_, served)) in want.iter().enumerate() {
            assert_eq!(list[i].size, served.len() as u64, "LIST {}", i + 1);
            let mut body = pop.retr(n(i as u32 + 1)).unwrap();
            if !served.ends_with(b"\r\n") {
                body.truncate(body.len() - 2); // the line end RFC 1939 makes the server add
            }
            assert_eq!(&body, served, "RETR {} (implicit {implicit})", i + 1);
        }
        // A second session on the same maildrop is refused while this one holds it.
        let mut other = ours(&s, implicit);
        let err = other.login("alice", "secret").unwrap_err();
        assert_eq!(
            err.server_status().and_then(|st| st.code()),
            Some(&ResponseCode::InUse),
            "{err}"
        );
        assert!(pop.quit().unwrap().is_committed());
    }
    // DELE + QUIT unlinks; a wrong password fails cleanly.
    let mut pop = ours(&s, true);
    let err = pop.login("alice", "wrong").unwrap_err();
    assert!(matches!(err, Error::Server { .. }), "{err}");
    pop.login("alice", "secret").unwrap();
    pop.dele(n(2)).unwrap();
    assert!(pop.quit().unwrap().is_committed());
    let left = std::fs::read_dir(s.dir.join("root/alice/cur"))
        .unwrap()
        .count();
    assert_eq!(left, 2);
}

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

#[test]
fn python_poplib_fetches_byte_exact_over_pop3s_and_stls() {
    assert!(have("python3"), "python3 is needed for this test");
    let s = start("poplib");
    let script = r#"
import poplib, ssl, sys
ca, port_tls, port_plain, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
bodies = []
p = poplib.POP3_SSL("localhost", port_tls, context=ctx)
p.user("alice"); p.pass_("secret")
for i in range(1, len(p.list()[1]) + 1):
    bodies.append(b"\r\n".join(p.retr(i)[1]) + b"\r\n")
p.quit()
p = poplib.POP3("localhost", port_plain)
p.stls(context=ctx)
p.user("alice"); p.pass_("secret")
assert len(p.uidl()[1]) == len(bodies)
p.quit()
open(out, "wb").write(b"\0".join(bodies))
"#;
    let out = s.dir.join("poplib.out");
    let status = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(s.dir.join("ca.pem"))
        .arg(s.tls.to_string())
        .arg(s.plain.to_string())
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let got = std::fs::read(&out).unwrap();
    let want: Vec<Vec<u8>> = messages()
        .into_iter()
        .map(|(_, mut served)| {
            if !served.ends_with(b"\r\n") {
                served.extend_from_slice(b"\r\n");
            }
            served
        })
        .collect();
    assert_eq!(got, want.join(&b"\0"[..]));
}

#[test]
fn curl_fetches_byte_exact_over_pop3s() {
    assert!(have("curl"), "curl is needed for this test");
    let s = start("curl");
    let url = format!("pop3s://localhost:{}/1", s.tls);
    let out = Command::new("curl")
        .args([
            "--silent",
            "--show-error",
            "--user",
            "alice:secret",
            "--cacert",
        ])
        .arg(s.dir.join("ca.pem"))
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, messages()[0].1);
}

/// What a client that delivers with LF line ends must store: the served message, ended by a
/// line end (POP3 cannot carry a missing final newline), with every CRLF made LF.
fn delivered_with_lf() -> Vec<Vec<u8>> {
    let mut want: Vec<Vec<u8>> = messages()
        .into_iter()
        .map(|(_, mut served)| {
            if !served.ends_with(b"\r\n") {
                served.extend_from_slice(b"\r\n");
            }
            pop3_cli::maildir::CrlfToLf::whole(&served)
        })
        .collect();
    want.sort();
    want
}

/// Writes a client's configuration file readable only by its owner (mpop and fetchmail
/// refuse others).
fn private_file(path: &std::path::Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn mpop_delivers_byte_exact_over_pop3s_and_stls() {
    assert!(
        have("mpop"),
        "mpop is needed for this test (apt-get install mpop)"
    );
    let s = start("mpop");
    for (port, starttls) in [(s.tls, "off"), (s.plain, "on")] {
        let maildir = s.dir.join(format!("mpop-{starttls}"));
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).unwrap();
        }
        let rc = s.dir.join(format!("mpoprc-{starttls}"));
        private_file(
            &rc,
            &format!(
                "account test\nhost localhost\nport {port}\nuser alice\npassword secret\n\
                 auth user\ntls on\ntls_starttls {starttls}\ntls_trust_file {ca}\n\
                 delivery maildir {md}\nkeep on\nonly_new off\nreceived_header off\n\
                 uidls_file {uidls}\n",
                ca = s.dir.join("ca.pem").display(),
                md = maildir.display(),
                uidls = s.dir.join(format!("uidls-{starttls}")).display(),
            ),
        );
        let out = Command::new("mpop")
            .arg("--quiet")
            .arg("-C")
            .arg(&rc)
            .arg("test")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mpop (tls_starttls {starttls}): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut got: Vec<Vec<u8>> = std::fs::read_dir(maildir.join("new"))
            .unwrap()
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect();
        got.sort();
        assert_eq!(got, delivered_with_lf(), "mpop, tls_starttls {starttls}");
    }
}

#[test]
fn fetchmail_delivers_byte_exact_over_pop3s_and_stls() {
    assert!(
        have("fetchmail"),
        "fetchmail is needed for this test (apt-get install fetchmail)"
    );
    let s = start("fetchmail");
    // `ssl` is implicit TLS; `sslproto` alone on the plain port makes fetchmail require STLS.
    for (port, tls, tag) in [
        (s.tls, "ssl", "pop3s"),
        (s.plain, "sslproto 'tls1.2+'", "stls"),
    ] {
        let delivered = s.dir.join(format!("fetchmail-{tag}"));
        std::fs::create_dir_all(&delivered).unwrap();
        let rc = s.dir.join(format!("fetchmailrc-{tag}"));
        private_file(
            &rc,
            &format!(
                "set no syslog\n\
                 poll localhost protocol POP3 port {port} auth password\n  \
                 user \"alice\" there with password \"secret\" is \"root\" here\n  \
                 {tls} sslcertfile {ca} sslcertck\n  keep fetchall norewrite\n  \
                 mda \"/bin/sh -c 'cat > $(mktemp {dir}/msg.XXXXXX)'\"\n",
                ca = s.dir.join("ca.pem").display(),
                dir = delivered.display(),
            ),
        );
        let out = Command::new("fetchmail")
            .arg("-f")
            .arg(&rc)
            .args(["--nodetach", "--invisible", "--pidfile"])
            .arg(s.dir.join(format!("fetchmail-{tag}.pid")))
            .env("HOME", &s.dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "fetchmail ({tag}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut got: Vec<Vec<u8>> = std::fs::read_dir(&delivered)
            .unwrap()
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect();
        got.sort();
        assert_eq!(got, delivered_with_lf(), "fetchmail over {tag}");
    }
}

#[test]
fn a_maildrop_in_use_says_what_to_do() {
    let s = start("inuse");
    let mut holder = ours(&s, true);
    holder.login("alice", "secret").unwrap();
    let out = pop3()
        .args(["--host", "localhost", "--port", &s.tls.to_string()])
        .arg("--ca-file")
        .arg(s.dir.join("ca.pem"))
        .args(["--user", "alice", "stat"])
        .env("POP3_PASSWORD", "secret")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("IN-USE") && stderr.contains("try again"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    holder.quit().unwrap();
}

#[test]
fn pop3_fetch_from_pop3_serve_over_every_tls_mode() {
    let s = start("fetch");
    let want = delivered_with_lf();
    for (tls, port) in [
        ("none", s.plain),
        ("starttls", s.plain),
        ("implicit", s.tls),
    ] {
        let maildir = s.dir.join(format!("fetched-{tls}"));
        let run = |extra: &[&str]| {
            let out = pop3()
                .args([
                    "--host",
                    "localhost",
                    "--port",
                    &port.to_string(),
                    "--tls",
                    tls,
                ])
                .arg("--ca-file")
                .arg(s.dir.join("ca.pem"))
                .args(["--user", "alice", "fetch", "--maildir"])
                .arg(&maildir)
                .args(extra)
                .env("POP3_PASSWORD", "secret")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{tls}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        };
        assert_eq!(run(&[]), "fetched 3, skipped 0, deleted 0\n", "{tls}");
        assert_eq!(
            run(&[]),
            "fetched 0, skipped 3, deleted 0\n",
            "{tls}: re-run"
        );
        let mut got: Vec<Vec<u8>> = std::fs::read_dir(maildir.join("new"))
            .unwrap()
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect();
        got.sort();
        assert_eq!(got, want, "{tls}");
    }
    // --delete: QUIT unlinks the Maildir files of pop3 serve.
    let out = pop3()
        .args(["--host", "localhost", "--port", &s.tls.to_string()])
        .arg("--ca-file")
        .arg(s.dir.join("ca.pem"))
        .args(["--user", "alice", "fetch", "--delete", "--maildir"])
        .arg(s.dir.join("fetched-implicit"))
        .env("POP3_PASSWORD", "secret")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "fetched 0, skipped 3, deleted 3\n"
    );
    let left = std::fs::read_dir(s.dir.join("root/alice/cur"))
        .unwrap()
        .count();
    assert_eq!(left, 0);
}
