//! `pop3 demo`: the built-in server and `pop3 fetch` against each other on loopback.
//!
//! A POP3 server (this crate's sans-IO server on `pop3-tokio`, in this process) serves a
//! generated mailbox of [`MESSAGES`] messages shaped like real mail — sizes from a few hundred
//! bytes to 128 KiB, lines that start with a dot, lines longer than 2,048 bytes, 8-bit
//! headers, and one 20 MB message — and the fetcher stores it into a Maildir, which is then
//! checked message by message against the server's copies. Run it twice: the second run
//! stores nothing again.

use crate::fetch::{fetch, Options, Summary};
use crate::maildir::{Account, CrlfToLf, Maildir};
use indicatif::ProgressBar;
use pop3_blocking::{Connector, TlsMode};
use pop3_tokio::pop3_proto::server::ServerConfig;
use pop3_tokio::server::{serve_tcp, MemoryStore};
use std::path::Path;
use std::sync::Arc;

/// How many messages the demo mailbox has.
pub const MESSAGES: usize = 2_000;
/// The one big message's size.
const BIG: usize = 20 << 20;
const USER: &str = "demo";
const PASSWORD: &str = "demo-password";

/// What the demo did.
#[derive(Debug, Clone, Copy)]
pub struct DemoReport {
    /// The fetch's counts.
    pub summary: Summary,
    /// Messages in the Maildir found byte-for-byte equal to the server's (after CRLF → LF).
    pub verified: usize,
    /// The mailbox's size on the server, in bytes.
    pub bytes: u64,
}

/// Serves the generated mailbox on a loopback port, fetches it into `maildir` with `progress`
/// showing, and verifies every message. `announce` hears where the server listens.
pub fn run(
    maildir: &Path,
    progress: &ProgressBar,
    announce: impl FnOnce(&str),
) -> Result<DemoReport, String> {
    let messages = mailbox();
    let bytes = messages.iter().map(|m| m.len() as u64).sum();
    let store = Arc::new(MemoryStore::new());
    store.add_user(USER, PASSWORD, messages.clone());

    let (runtime, port) =
        serve_in_process(store).map_err(|e| format!("cannot start the demo server: {e}"))?;
    announce(&format!(
        "127.0.0.1:{port} ({MESSAGES} messages, {:.1} MB)",
        bytes as f64 / 1e6
    ));

    let mut pop = Connector::new("127.0.0.1")
        .port(port)
        .tls_mode(TlsMode::InsecurePlaintext)
        .allow_insecure_auth(true)
        .connect()
        .map_err(|e| e.to_string())?;
    pop.login(USER, PASSWORD).map_err(|e| e.to_string())?;
    let account = Account::new(USER, "127.0.0.1");
    let options = Options {
        maildir: maildir.to_path_buf(),
        delete: false,
        all: false,
        crlf: false,
    };
    let report = fetch(pop, &account, &options, progress);
    progress.finish_and_clear();
    if let Some(e) = report.error {
        return Err(e.to_string());
    }
    let verified = verify(maildir, &account, &messages)?;
    drop(runtime);
    Ok(DemoReport {
        summary: report.summary,
        verified,
        bytes,
    })
}

/// Serves `store` in this process on a free loopback port, over plain TCP with plaintext
/// logins allowed (loopback only): the demo's server, and the fault tests'. The server runs
/// as long as the returned runtime lives.
///
/// ```no_run
/// use pop3_tokio::server::MemoryStore;
/// let store = std::sync::Arc::new(MemoryStore::new());
/// store.add_user("demo", "pw", vec![b"Subject: hi\r\n\r\nhello\r\n".to_vec()]);
/// let (_runtime, port) = pop3_cli::demo::serve_in_process(store)?;
/// println!("POP3 on 127.0.0.1:{port}");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn serve_in_process(
    store: Arc<MemoryStore>,
) -> std::io::Result<(tokio::runtime::Runtime, u16)> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let port = listener.local_addr()?.port();
    runtime.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let store = store.clone();
            tokio::spawn(async move {
                let mut config = ServerConfig::default();
                config.allow_plaintext_auth = true;
                config.implementation = Some("pop3 demo".into());
                let mut entropy = [0u8; 16];
                let _ = getrandom::fill(&mut entropy);
                let _ = serve_tcp(tcp, None, false, config, &*store, entropy).await;
            });
        }
    });
    Ok((runtime, port))
}

/// Checks that the Maildir holds each message exactly once, equal to the server's copy with
/// CRLF made LF. The server numbers its unique ids `mem-1`, `mem-2`, … in mailbox order.
fn verify(maildir: &Path, account: &Account, messages: &[Vec<u8>]) -> Result<usize, String> {
    let files = Maildir::open(maildir)
        .and_then(|m| m.files(account))
        .map_err(|e| format!("cannot read {}: {e}", maildir.display()))?;
    for (i, message) in messages.iter().enumerate() {
        let uid = format!("mem-{}", i + 1);
        let found = files.get(uid.as_bytes()).map_or(&[][..], Vec::as_slice);
        let [file] = found else {
            return Err(format!(
                "message {} is in the Maildir {} times, not once",
                i + 1,
                found.len()
            ));
        };
        let stored = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
        if stored != CrlfToLf::whole(message) {
            return Err(format!(
                "{} differs from message {} on the server",
                file.display(),
                i + 1
            ));
        }
    }
    Ok(messages.len())
}

/// A small deterministic generator (xorshift64*): the same mailbox every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}

const WORDS: &[&str] = &[
    "the",
    "mail",
    "server",
    "keeps",
    "every",
    "message",
    "until",
    "a",
    "client",
    "asks",
    "for",
    "it",
    "and",
    "then",
    "deletes",
    "what",
    "was",
    "stored",
    "safely",
    "on",
    "disk",
    "meeting",
    "tomorrow",
    "invoice",
    "attached",
    "please",
    "review",
    "thanks",
    "regards",
    "schedule",
    "project",
    "update",
    "draft",
    "notes",
    "from",
    "yesterday",
    "quarter",
];
const NAMES: &[&str] = &[
    "Alice Martin",
    "Bob Chen",
    "Chloé Dubois",
    "Dmitri Volkov",
    "Eva Schröder",
    "Farid Haddad",
    "Grace Hopper",
    "Hiro Tanaka",
    "Inés García",
    "Jonas Berg",
];
/// Subjects in 8-bit UTF-8, sent raw as many real mailers do (no RFC 2047 encoding).
const SUBJECTS_8BIT: &[&str] = &[
    "Grüße aus Köln",
    "Café à Montréal — ça marche",
    "Встреча в пятницу",
    "会議の議事録",
    "Ελέγχος λογαριασμού",
];

/// The demo mailbox, as served (CRLF line ends).
pub fn mailbox() -> Vec<Vec<u8>> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..MESSAGES)
        .map(|i| {
            if i == MESSAGES / 2 {
                big_message(&mut rng, i)
            } else {
                message(&mut rng, i)
            }
        })
        .collect()
}

fn headers(rng: &mut Rng, i: usize, subject: &str) -> Vec<u8> {
    let name = rng.pick(NAMES);
    let login = name.split(' ').next().unwrap_or("someone").to_lowercase();
    let day = 1 + i % 28;
    let (hour, minute) = (rng.below(24), rng.below(60));
    format!(
        "Return-Path: <{login}@example.org>\r\n\
         From: {name} <{login}@example.org>\r\n\
         To: Demo <demo@localhost>\r\n\
         Subject: {subject}\r\n\
         Date: Mon, {day} Nov 2026 {hour:02}:{minute:02}:00 +0000\r\n\
         Message-ID: <{i}.demo@pop3.invalid>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n"
    )
    .into_bytes()
}

fn message(rng: &mut Rng, i: usize) -> Vec<u8> {
    let subject = if i % 7 == 3 {
        rng.pick(SUBJECTS_8BIT).to_string()
    } else {
        (0..3 + rng.below(5))
            .map(|_| rng.pick(WORDS))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut m = headers(rng, i, &subject);
    // Sizes spread evenly on a log scale from 300 bytes to 128 KiB, as mailboxes are.
    let exponent = 8.2 + (rng.below(10_000) as f64 / 10_000.0) * (17.0 - 8.2);
    let size = exponent.exp2() as usize;
    let long_line = i.is_multiple_of(25);
    while m.len() < size {
        let roll = rng.below(100);
        if roll < 2 {
            m.extend_from_slice(b".\r\n"); // a line that is only a dot
            continue;
        }
        if roll < 5 {
            m.push(b'.');
        }
        if long_line && roll == 50 {
            // A line over 2,048 bytes, as some HTML mailers write.
            for _ in 0..(2_100 + rng.below(6_000)) / 8 {
                m.extend_from_slice(rng.pick(WORDS).as_bytes());
                m.push(b' ');
            }
        }
        let mut line = String::new();
        while line.len() < 20 + rng.below(56) {
            line.push_str(rng.pick(WORDS));
            line.push(' ');
        }
        m.extend_from_slice(line.trim_end().as_bytes());
        m.extend_from_slice(b"\r\n");
    }
    m
}

/// A 20 MB message: a short text and a base64 attachment.
fn big_message(rng: &mut Rng, i: usize) -> Vec<u8> {
    let mut m = headers(rng, i, "the slides (big attachment)");
    m.extend_from_slice(b"Here are the slides.\r\n.\r\n..and a line of dots\r\n\r\n");
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    while m.len() < BIG {
        for _ in 0..76 {
            m.push(B64[rng.below(64)]);
        }
        m.extend_from_slice(b"\r\n");
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mailbox_has_what_the_demo_promises() {
        let m = mailbox();
        assert_eq!(m.len(), MESSAGES);
        assert_eq!(m, mailbox(), "the same every run");
        let big = m.iter().filter(|m| m.len() >= BIG).count();
        assert_eq!(big, 1);
        let lines = || m.iter().flat_map(|m| m.split(|&b| b == b'\n'));
        assert!(lines().any(|l| l.len() > 2_048));
        assert!(lines().any(|l| l.starts_with(b".") && l.len() > 2));
        assert!(lines().any(|l| l == b".\r"));
        assert!(m.iter().any(|m| m.iter().any(|&b| b >= 0x80)));
        assert!(m.iter().all(|m| m.ends_with(b"\r\n")));
        let small = m.iter().map(Vec::len).min().unwrap();
        assert!(small < 1_000, "smallest {small}");
    }
}
