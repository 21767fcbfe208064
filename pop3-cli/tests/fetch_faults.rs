//! `pop3 fetch` under fault injection, against the in-process server: the connection is cut
//! after every byte offset the server sends, and after every byte offset the client sends;
//! after each cut, fetch runs again until it completes. Every message must end up stored
//! exactly once and byte-exact; between runs, every message must be on the server or whole in
//! `new/`; and no DELE may ever reach the server for a message not yet durably in `new/`
//! (a proxy between the two checks each DELE line as it passes). Then all of it with
//! `--delete`, where the server must end up empty.

use pop3_blocking::{Connector, TlsMode};
use pop3_cli::fetch::{fetch, Options, Summary};
use pop3_cli::maildir::{Account, CrlfToLf};
use pop3_tokio::server::MemoryStore;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const USER: &str = "u";
const PASSWORD: &str = "pw";

/// The mailbox, as served: dot lines, a lone CR, an empty body, all distinct.
fn mailbox() -> Vec<Vec<u8>> {
    vec![
        b"Subject: a\r\n\r\n.dot\r\n..two\r\n.\r\n".to_vec(),
        b"Subject: b\r\n\r\nlone\rCR\r\n".to_vec(),
        b"Subject: c\r\n\r\n".to_vec(),
    ]
}

fn as_stored(message: &[u8]) -> Vec<u8> {
    CrlfToLf::whole(message)
}

/// The built-in server on a loopback port, in this process.
struct Server {
    runtime: tokio::runtime::Runtime,
    store: Arc<MemoryStore>,
    port: u16,
}

impl Server {
    fn start() -> Self {
        let store = Arc::new(MemoryStore::new());
        let (runtime, port) = pop3_cli::demo::serve_in_process(store.clone()).unwrap();
        Server {
            runtime,
            store,
            port,
        }
    }

    fn on_server(&self) -> Vec<Vec<u8>> {
        self.store.messages(USER)
    }
}

#[derive(Clone, Copy, Debug)]
enum Cut {
    Never,
    /// After this many bytes from the server have reached the client.
    ServerBytes(usize),
    /// After this many bytes from the client have reached the server.
    ClientBytes(usize),
}

/// What one proxied connection carried, and any DELE that came too early.
#[derive(Default)]
struct Carried {
    server_bytes: usize,
    client_bytes: usize,
    early_deles: Vec<String>,
}

/// A one-connection proxy to the server that cuts as told and checks every DELE against the
/// Maildir at the moment it passes.
fn proxy(server: &Server, maildir: &Path, cut: Cut) -> (u16, std::thread::JoinHandle<Carried>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (server_port, store, maildir) = (server.port, server.store.clone(), maildir.to_path_buf());
    let handle = std::thread::spawn(move || {
        let Ok((client, _)) = listener.accept() else {
            return Carried::default();
        };
        let upstream = TcpStream::connect(("127.0.0.1", server_port)).unwrap();
        // Forwarded pieces go out at once (Nagle would hold them for the delayed ACK).
        client.set_nodelay(true).unwrap();
        upstream.set_nodelay(true).unwrap();
        let carried = Arc::new(Mutex::new(Carried::default()));
        let cut_both = {
            let (a, b) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
            Arc::new(move || {
                let _ = a.shutdown(Shutdown::Both);
                let _ = b.shutdown(Shutdown::Both);
            })
        };
        let down = {
            let (mut from, mut to) = (upstream.try_clone().unwrap(), client.try_clone().unwrap());
            let (carried, cut_both) = (carried.clone(), cut_both.clone());
            std::thread::spawn(move || {
                let limit = match cut {
                    Cut::ServerBytes(n) => n,
                    _ => usize::MAX,
                };
                let mut buf = [0u8; 4096];
                loop {
                    let sent = carried.lock().unwrap().server_bytes;
                    if sent >= limit {
                        cut_both();
                        return;
                    }
                    let n = match from.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n.min(limit - sent),
                    };
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    carried.lock().unwrap().server_bytes += n;
                }
                let _ = to.shutdown(Shutdown::Write);
            })
        };
        // Client to server, here: each DELE line is checked before it is passed on.
        let (mut from, mut to) = (client, upstream);
        let limit = match cut {
            Cut::ClientBytes(n) => n,
            _ => usize::MAX,
        };
        let mut line = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let sent = carried.lock().unwrap().client_bytes;
            let pass = n.min(limit - sent);
            // Each line is checked before any of this read is passed on.
            for &b in &buf[..pass] {
                line.push(b);
                if b == b'\n' {
                    if let Some(early) = early_dele(&line, &store, &maildir) {
                        carried.lock().unwrap().early_deles.push(early);
                    }
                    line.clear();
                }
            }
            if to.write_all(&buf[..pass]).is_err() {
                break;
            }
            carried.lock().unwrap().client_bytes += pass;
            if pass < n || sent + pass >= limit {
                cut_both();
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
        let _ = down.join();
        let carried = std::mem::take(&mut *carried.lock().unwrap());
        carried
    });
    (port, handle)
}

/// If `line` is `DELE n` and message n is not whole in `new/` (or `cur/`), what is wrong.
fn early_dele(line: &[u8], store: &MemoryStore, maildir: &Path) -> Option<String> {
    let text = std::str::from_utf8(line).ok()?;
    let n: usize = text.strip_prefix("DELE ")?.trim().parse().ok()?;
    let message = store.messages(USER).get(n - 1)?.clone();
    let want = as_stored(&message);
    let durable = stored_files(maildir)
        .iter()
        .any(|(_, content)| *content == want);
    (!durable).then(|| format!("DELE {n} went out before message {n} was in new/"))
}

/// Every file in `new/` and `cur/`, with its content.
fn stored_files(maildir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(maildir.join(sub)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let content = std::fs::read(&path).unwrap();
            files.push((path, content));
        }
    }
    files
}

/// One run of fetch through a proxy that cuts as told; the proxy's findings come back too.
fn run(
    server: &Server,
    maildir: &Path,
    delete: bool,
    cut: Cut,
) -> (Result<Summary, String>, Carried) {
    let (port, proxy) = proxy(server, maildir, cut);
    let result = (|| {
        let mut pop = Connector::new("127.0.0.1")
            .port(port)
            .tls_mode(TlsMode::InsecurePlaintext)
            .allow_insecure_auth(true)
            .timeout(Duration::from_secs(10))
            .connect()
            .map_err(|e| e.to_string())?;
        pop.login(USER, PASSWORD).map_err(|e| e.to_string())?;
        let options = Options {
            maildir: maildir.to_path_buf(),
            delete,
            all: false,
            crlf: false,
        };
        let report = fetch(
            pop,
            &Account::new(USER, "127.0.0.1"),
            &options,
            &indicatif::ProgressBar::hidden(),
        );
        match report.error {
            None => Ok(report.summary),
            Some(e) => Err(e.to_string()),
        }
    })();
    (result, proxy.join().unwrap())
}

/// Between runs: each message on the server or whole in the Maildir, nothing partial there.
fn check_nothing_lost(server: &Server, maildir: &Path, context: &str) {
    let stored = stored_files(maildir);
    let all = mailbox();
    for (path, content) in &stored {
        assert!(
            all.iter().any(|m| as_stored(m) == *content),
            "{context}: {} is not a whole message",
            path.display()
        );
    }
    let on_server = server.on_server();
    for (i, m) in all.iter().enumerate() {
        let kept = on_server.contains(m);
        let is_stored = stored.iter().any(|(_, c)| *c == as_stored(m));
        assert!(kept || is_stored, "{context}: message {} is lost", i + 1);
    }
}

/// The end state: every message stored exactly once; with --delete, the server empty.
fn check_complete(server: &Server, maildir: &Path, delete: bool, context: &str) {
    let stored = stored_files(maildir);
    assert_eq!(stored.len(), mailbox().len(), "{context}: files {stored:?}");
    for (i, m) in mailbox().iter().enumerate() {
        let copies = stored.iter().filter(|(_, c)| *c == as_stored(m)).count();
        assert_eq!(
            copies,
            1,
            "{context}: message {} stored {copies} times",
            i + 1
        );
    }
    if delete {
        assert!(
            server.on_server().is_empty(),
            "{context}: left on the server"
        );
    } else {
        assert_eq!(server.on_server(), mailbox(), "{context}");
    }
    let tmp = std::fs::read_dir(maildir.join("tmp")).unwrap().count();
    assert_eq!(tmp, 0, "{context}: left in tmp/");
}

fn every_cut(delete: bool) {
    let server = Server::start();
    let scratch =
        std::env::temp_dir().join(format!("pop3-fetch-faults-{}-{delete}", std::process::id()));
    let fresh = |tag: &str| {
        server.store.add_user(USER, PASSWORD, mailbox());
        let dir = scratch.join(tag);
        let _ = std::fs::remove_dir_all(&dir);
        dir
    };

    // An uncut run: how many bytes each side sends, which bounds the cuts to try.
    let dir = fresh("whole");
    let (result, carried) = run(&server, &dir, delete, Cut::Never);
    let summary = result.unwrap();
    assert_eq!(summary.fetched, 3);
    assert_eq!(summary.deleted, if delete { 3 } else { 0 });
    assert!(carried.early_deles.is_empty(), "{:?}", carried.early_deles);
    check_complete(&server, &dir, delete, "uncut");
    let again = run(&server, &dir, delete, Cut::Never).0.unwrap();
    assert_eq!(again.fetched, 0, "a re-run stores nothing again");
    let (server_total, client_total) = (carried.server_bytes, carried.client_bytes);
    assert!(server_total > 100 && client_total > 30);

    let cuts = (0..server_total)
        .map(Cut::ServerBytes)
        .chain((0..client_total).map(Cut::ClientBytes));
    for cut in cuts {
        let context = format!("{cut:?}, delete {delete}");
        let dir = fresh("cut");
        let (first, carried) = run(&server, &dir, delete, cut);
        assert!(
            carried.early_deles.is_empty(),
            "{context}: {:?}",
            carried.early_deles
        );
        check_nothing_lost(&server, &dir, &context);
        let mut done = first.is_ok();
        for _ in 0..50 {
            if done {
                break;
            }
            // A session the cut left behind may still hold the maildrop's lock for a moment.
            std::thread::sleep(Duration::from_millis(2));
            let (again, carried) = run(&server, &dir, delete, Cut::Never);
            assert!(
                carried.early_deles.is_empty(),
                "{context}: {:?}",
                carried.early_deles
            );
            check_nothing_lost(&server, &dir, &context);
            done = again.is_ok();
        }
        assert!(done, "{context}: fetch never completed after the cut");
        check_complete(&server, &dir, delete, &context);
    }
    drop(server.runtime);
    let _ = std::fs::remove_dir_all(&scratch);
}

#[test]
fn a_cut_at_any_byte_loses_and_duplicates_nothing() {
    every_cut(false);
}

#[test]
fn a_cut_at_any_byte_with_delete_loses_and_duplicates_nothing() {
    every_cut(true);
}

/// A minimal server, by hand, with two messages and the given reply to UIDL, for `sessions`
/// sessions; returns the DELEs that QUIT committed.
fn minimal_server(
    sessions: usize,
    uidl: &'static [u8],
) -> (u16, std::thread::JoinHandle<Vec<String>>) {
    use std::io::BufRead;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let mut deleted = Vec::new();
        for _ in 0..sessions {
            let (tcp, _) = listener.accept().unwrap();
            let mut out = tcp.try_clone().unwrap();
            let mut marked = Vec::new();
            out.write_all(b"+OK hello\r\n").unwrap();
            for line in std::io::BufReader::new(tcp).lines() {
                let line = line.unwrap();
                let mut words = line.split(' ');
                let reply: Vec<u8> = match words.next().unwrap() {
                    "CAPA" => b"+OK\r\nUSER\r\n.\r\n".to_vec(),
                    "USER" | "PASS" | "NOOP" => b"+OK\r\n".to_vec(),
                    "UIDL" => uidl.to_vec(),
                    "LIST" => b"+OK\r\n1 17\r\n2 17\r\n.\r\n".to_vec(),
                    "RETR" => format!("+OK\r\nSubject: {}\r\n\r\n.\r\n", words.next().unwrap())
                        .into_bytes(),
                    "DELE" => {
                        marked.push(line.clone());
                        b"+OK\r\n".to_vec()
                    }
                    "QUIT" => {
                        out.write_all(b"+OK bye\r\n").unwrap();
                        deleted.append(&mut marked);
                        break;
                    }
                    _ => b"-ERR what\r\n".to_vec(),
                };
                out.write_all(&reply).unwrap();
            }
        }
        deleted
    });
    (port, server)
}

fn fetch_from(port: u16, dir: &Path, all: bool, delete: bool) -> pop3_cli::fetch::Report {
    let mut pop = Connector::new("127.0.0.1")
        .port(port)
        .tls_mode(TlsMode::InsecurePlaintext)
        .allow_insecure_auth(true)
        .connect()
        .unwrap();
    pop.login(USER, PASSWORD).unwrap();
    let options = Options {
        maildir: dir.to_path_buf(),
        delete,
        all,
        crlf: false,
    };
    fetch(
        pop,
        &Account::new(USER, "127.0.0.1"),
        &options,
        &indicatif::ProgressBar::hidden(),
    )
}

/// A server without UIDL: fetch refuses without `--all`, and with it stores every message
/// and deletes what it stored.
#[test]
fn a_server_without_uidl_needs_all() {
    let (port, server) = minimal_server(3, b"-ERR unknown command\r\n");
    let dir = std::env::temp_dir().join(format!("pop3-fetch-nouidl-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let refused = fetch_from(port, &dir, false, false);
    let error = refused.error.expect("no UIDL, no --all: an error");
    assert!(error.to_string().contains("--all"), "{error}");
    assert_eq!(refused.summary, Summary::default());
    let all = fetch_from(port, &dir, true, false);
    assert!(all.error.is_none(), "{:?}", all.error);
    assert_eq!(all.summary.fetched, 2);
    let deleting = fetch_from(port, &dir, true, true);
    assert!(deleting.error.is_none(), "{:?}", deleting.error);
    assert_eq!((deleting.summary.fetched, deleting.summary.deleted), (2, 2));
    assert_eq!(server.join().unwrap(), ["DELE 1", "DELE 2"]);
    assert_eq!(
        stored_files(&dir).len(),
        4,
        "--all stores again what it cannot recognise"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Two messages with one UIDL (popa3d's can collide): neither is recorded, so each run
/// fetches both, and --delete deletes only what that run stored.
#[test]
fn messages_sharing_a_uidl_are_never_skipped() {
    let (port, server) = minimal_server(3, b"+OK\r\n1 same\r\n2 same\r\n.\r\n");
    let dir = std::env::temp_dir().join(format!("pop3-fetch-dupuid-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for round in 0..2 {
        let report = fetch_from(port, &dir, false, false);
        assert!(report.error.is_none(), "{:?}", report.error);
        assert_eq!(
            (report.summary.fetched, report.summary.skipped),
            (2, 0),
            "{round}"
        );
    }
    let deleting = fetch_from(port, &dir, false, true);
    assert_eq!((deleting.summary.fetched, deleting.summary.deleted), (2, 2));
    assert_eq!(server.join().unwrap(), ["DELE 1", "DELE 2"]);
    std::fs::remove_dir_all(&dir).unwrap();
}
