//! Access to the private Dovecot that the test command starts (`scripts/dovecot.sh`).
//!
//! `scripts/test.sh` starts it and exports `POP3_DOVECOT_ENV` (its env file) and
//! `POP3_REQUIRE_DOVECOT=1`. Run by hand without it, the real-server tests say so and skip;
//! with `POP3_REQUIRE_DOVECOT=1` a missing server is a failure. Shared with pop3-tokio's tests.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Dovecot {
    env: HashMap<String, String>,
    script: PathBuf,
}

/// The running Dovecot, or `None` (with a note on stderr) when none was started.
pub fn dovecot() -> Option<Dovecot> {
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
    let env = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/dovecot.sh");
    Some(Dovecot { env, script })
}

impl Dovecot {
    pub fn get(&self, key: &str) -> &str {
        self.env
            .get(key)
            .unwrap_or_else(|| panic!("{key} missing from the Dovecot env file"))
    }

    pub fn host(&self) -> &str {
        self.get("POP3_HOST")
    }

    pub fn port(&self) -> u16 {
        self.get("POP3_PORT").parse().unwrap()
    }

    pub fn pop3s_port(&self) -> u16 {
        self.get("POP3S_PORT").parse().unwrap()
    }

    pub fn ca(&self) -> &str {
        self.get("POP3_CA")
    }

    pub fn wrong_ca(&self) -> &str {
        self.get("POP3_WRONG_CA")
    }

    /// A client certificate and key (PEM paths) with CN=`user`, from the test CA, for
    /// SASL EXTERNAL.
    pub fn client_cert(&self, user: &str) -> (String, String) {
        let out = self.run(&["clientcert", user]);
        let mut paths = out.split_whitespace().map(str::to_owned);
        let (Some(cert), Some(key)) = (paths.next(), paths.next()) else {
            panic!("dovecot.sh clientcert printed {out:?}");
        };
        (cert, key)
    }

    /// An OAuth 2.0 access token for `user` that this Dovecot accepts (XOAUTH2, OAUTHBEARER).
    pub fn token(&self, user: &str) -> String {
        self.run(&["token", user]).trim().to_owned()
    }

    /// The SASL mechanisms this Dovecot offers.
    pub fn mechanisms(&self) -> Vec<&str> {
        self.get("POP3_MECHANISMS").split(',').collect()
    }

    fn run(&self, args: &[&str]) -> String {
        // The script rewrites the passwd-file; tests run in parallel threads.
        static SCRIPT: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one_at_a_time = SCRIPT.lock().unwrap_or_else(|e| e.into_inner());
        let state = self.get("POP3_STATE");
        let out = Command::new("bash")
            .arg(&self.script)
            .arg(args[0])
            .arg(state)
            .args(&args[1..])
            .output()
            .expect("run scripts/dovecot.sh");
        assert!(
            out.status.success(),
            "dovecot.sh {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("dovecot.sh prints text")
    }

    /// A fresh user (one per test, so parallel tests never meet a locked mailbox) whose
    /// mailbox holds exactly `messages`, in order. Returns (name, password).
    pub fn mailbox(&self, name: &str, messages: &[Vec<u8>]) -> (String, String) {
        let password = format!("{name}-pw");
        self.run(&["adduser", name, &password]);
        // Dovecot re-reads its passwd-file at most once a second: a login in the second of the
        // change could still see the old file.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        std::thread::sleep(std::time::Duration::from_nanos(
            1_050_000_000 - u64::from(now.subsec_nanos()),
        ));
        self.run(&["clear", name]);
        if !messages.is_empty() {
            let dir = tempdir(name);
            for (i, m) in messages.iter().enumerate() {
                std::fs::write(dir.join(format!("{i:06}")), m).unwrap();
            }
            self.run(&["fill", name, dir.to_str().unwrap()]);
            std::fs::remove_dir_all(&dir).unwrap();
        }
        (name.to_owned(), password)
    }

    /// Adds `messages` to `user`'s mailbox (after what it has), as new mail arrives.
    pub fn deliver(&self, user: &str, messages: &[Vec<u8>]) {
        let dir = tempdir(&format!("{user}-deliver"));
        for (i, m) in messages.iter().enumerate() {
            std::fs::write(dir.join(format!("{i:06}")), m).unwrap();
        }
        self.run(&["fill", user, dir.to_str().unwrap()]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// How many messages are stored for `user` now (cur + new).
    pub fn stored(&self, user: &str) -> usize {
        let root = Path::new(self.get("POP3_MAILDIR_ROOT"))
            .join(user)
            .join("Maildir");
        ["cur", "new"]
            .iter()
            .map(|d| std::fs::read_dir(root.join(d)).map_or(0, |r| r.count()))
            .sum()
    }
}

fn tempdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pop3-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Messages that exercise the body path: dot lines, a long line, 8-bit bytes, an empty
/// body, CRLF throughout (Dovecot sends stored CRLF messages byte for byte).
pub fn tricky_messages() -> Vec<Vec<u8>> {
    let long: String = "x".repeat(10_000);
    vec![
        b"Subject: dots\r\n\r\n.\r\n..\r\n.leading dot\r\nend\r\n".to_vec(),
        format!("Subject: long\r\n\r\n{long}\r\n").into_bytes(),
        b"Subject: 8bit\r\nContent-Type: text/plain; charset=latin1\r\n\r\n\xe9t\xe9 \xff\xfe\r\n"
            .to_vec(),
        b"Subject: empty body\r\n\r\n".to_vec(),
    ]
}

/// `count` small distinct messages of about `size` bytes.
pub fn numbered_messages(count: usize, size: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            let mut m =
                format!("Subject: message {i}\r\nMessage-ID: <{i}@test>\r\n\r\n").into_bytes();
            let line = format!("{i:08} .. the quick brown fox jumps over the lazy dog\r\n");
            while m.len() + line.len() <= size {
                if m.len() % 7 == 0 {
                    m.extend_from_slice(b".dot-stuffed line\r\n");
                }
                m.extend_from_slice(line.as_bytes());
            }
            m
        })
        .collect()
}
