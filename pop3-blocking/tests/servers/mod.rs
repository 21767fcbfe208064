//! Access to the private Cyrus, Courier, Mailutils and popa3d that the test command starts
//! (`scripts/interop.sh`), for the interop matrix.
//!
//! `scripts/test.sh` starts them and exports `POP3_INTEROP_ENVS` (their env files, separated
//! by `:`) and `POP3_REQUIRE_INTEROP=1`. Run by hand without it, the interop tests say so and
//! skip; with `POP3_REQUIRE_INTEROP=1` a missing server list is a failure. Shared with
//! pop3-tokio's tests.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One running server.
pub struct Server {
    env: HashMap<String, String>,
    script: PathBuf,
}

/// The running servers, or an empty list (with a note on stderr) when none were started.
pub fn servers() -> Vec<Server> {
    let Some(list) = std::env::var_os("POP3_INTEROP_ENVS") else {
        assert!(
            std::env::var_os("POP3_REQUIRE_INTEROP").is_none(),
            "POP3_REQUIRE_INTEROP is set but POP3_INTEROP_ENVS is not"
        );
        eprintln!("no interop servers (run scripts/test.sh, or set POP3_INTEROP_ENVS): skipped");
        return Vec::new();
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/interop.sh");
    std::env::split_paths(&list)
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let env = text
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            Server {
                env,
                script: script.clone(),
            }
        })
        .collect()
}

impl Server {
    pub fn get(&self, key: &str) -> &str {
        self.env
            .get(key)
            .unwrap_or_else(|| panic!("{key} missing from the env file of {}", self.name()))
    }

    /// `cyrus`, `courier`, `mailutils` or `popa3d`.
    pub fn name(&self) -> &str {
        self.env.get("POP3_SERVER").map_or("?", String::as_str)
    }

    pub fn host(&self) -> &str {
        self.get("POP3_HOST")
    }

    pub fn port(&self) -> u16 {
        self.get("POP3_PORT").parse().unwrap()
    }

    /// The implicit-TLS port, if the server has one.
    pub fn pop3s_port(&self) -> Option<u16> {
        self.get("POP3S_PORT").parse().ok()
    }

    pub fn stls(&self) -> bool {
        self.get("POP3_STLS") == "1"
    }

    pub fn apop(&self) -> bool {
        self.get("POP3_APOP") == "1"
    }

    /// The name in the server's certificate.
    pub fn tls_name(&self) -> &str {
        self.get("POP3_TLS_NAME")
    }

    pub fn ca(&self) -> &str {
        self.get("POP3_CA")
    }

    /// The SASL mechanisms that work on this server.
    pub fn mechanisms(&self) -> Vec<&str> {
        self.get("POP3_MECHANISMS").split_whitespace().collect()
    }

    fn run(&self, args: &[&str]) -> String {
        // The script rewrites shared files; tests run in parallel threads.
        static SCRIPT: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one_at_a_time = SCRIPT.lock().unwrap_or_else(|e| e.into_inner());
        let out = Command::new("bash")
            .arg(&self.script)
            .arg(args[0])
            .arg(self.get("POP3_STATE"))
            .args(&args[1..])
            .output()
            .expect("run scripts/interop.sh");
        assert!(
            out.status.success(),
            "interop.sh {args:?} ({}) failed: {}",
            self.name(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("interop.sh prints text")
    }

    /// A user (new, or emptied) whose mailbox holds exactly `messages`, in order. Returns
    /// (the name to log in with, password).
    pub fn mailbox(&self, name: &str, messages: &[Vec<u8>]) -> (String, String) {
        let password = format!("{name}-pw");
        self.run(&["adduser", name, &password]);
        self.run(&["clear", name]);
        if !messages.is_empty() {
            let dir = std::env::temp_dir().join(format!(
                "pop3-interop-{}-{name}-{}",
                self.name(),
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            for (i, m) in messages.iter().enumerate() {
                std::fs::write(dir.join(format!("{i:06}")), m).unwrap();
            }
            self.run(&["fill", name, dir.to_str().unwrap()]);
            std::fs::remove_dir_all(&dir).unwrap();
        }
        let login = self.run(&["login", name]).trim().to_owned();
        (login, password)
    }
}

/// The interop mailbox: dot lines, a 70 KB line, 8-bit bytes in the body and (one message) in
/// a header, CRLF throughout, distinct bodies; no line starts with "From " (mbox servers
/// quote those).
pub fn messages() -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    for i in 0..10 {
        let mut m = format!(
            "Subject: interop {i}\r\nMessage-ID: <{i}.interop@pop3.invalid>\r\n\r\nbody {i}\r\n"
        )
        .into_bytes();
        m.extend_from_slice(b".leading dot\r\n..two dots\r\n.\r\n");
        if i == 3 {
            m.extend_from_slice(&b"y".repeat(70_000));
            m.extend_from_slice(b"\r\n");
        }
        if i == 5 {
            m.extend_from_slice(b"caf\xc3\xa9 \xe9t\xe9 8-bit body\r\n");
        }
        m.extend_from_slice(format!("end {i}\r\n").as_bytes());
        all.push(m);
    }
    all.push(
        b"Subject: caf\xc3\xa9 8-bit header\r\n\r\nUTF8 is needed for this one on Courier\r\n"
            .to_vec(),
    );
    all
}

/// The index in [`messages`] of the one with an 8-bit header.
pub const EIGHT_BIT_HEADER: usize = 10;

/// The part of a message after its header (the first empty line).
pub fn body(message: &[u8]) -> &[u8] {
    message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(&message[message.len()..], |i| &message[i + 4..])
}

/// What a server hands back for a message it was filled with, as far as it is fixed: whole
/// messages for the servers that keep them, the body alone for those that add headers at
/// delivery or on retrieval (Cyrus, Mailutils).
pub fn check_retrieved(server: &str, filled: &[u8], got: &[u8], context: &str) {
    match server {
        "cyrus" | "mailutils" => {
            assert_eq!(body(got), body(filled), "{context}: body");
            let headers = &filled[..filled.len() - body(filled).len()];
            for line in headers.split(|&b| b == b'\n').filter(|l| l.len() > 1) {
                if line.is_ascii() {
                    assert!(
                        got.windows(line.len()).any(|w| w == line),
                        "{context}: header {:?} lost",
                        String::from_utf8_lossy(line)
                    );
                }
            }
        }
        _ => assert_eq!(got, filled, "{context}"),
    }
}
