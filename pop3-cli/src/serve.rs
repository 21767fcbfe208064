//! `pop3 serve`: a POP3 server over a directory of Maildirs.
//!
//! `ROOT/USER/{cur,new}` holds each user's mail; the users file has one `user:hash` line per
//! user, the hash an Argon2 PHC string (`pop3 hash-password` makes one). Messages are served
//! with LF line ends turned into CRLF (sizes count them so); QUIT unlinks what was deleted;
//! a second session on a maildrop gets `-ERR [IN-USE]`.

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::Argon2;
use pop3_tokio::pop3_proto::server::{MessageInfo, ServerConfig};
use pop3_tokio::pop3_proto::{Password, ResponseCode};
use pop3_tokio::server::{serve_tcp, Maildrop, Mailstore, Refusal};
use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};
use tokio_rustls::TlsAcceptor;

/// Hashes a password for the users file.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| format!("no random numbers: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// The Maildirs under a root, with their users' password hashes and the locks.
pub struct MaildirStore {
    root: PathBuf,
    users: HashMap<Vec<u8>, String>,
    open: Arc<Mutex<HashSet<Vec<u8>>>>,
    /// Each user's message sizes from the last scan of their Maildir.
    sizes: Mutex<HashMap<Vec<u8>, Sizes>>,
}

impl MaildirStore {
    /// Reads the users file (`user:argon2-hash` lines; `#` comments).
    pub fn new(root: PathBuf, users_file: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(users_file)
            .map_err(|e| format!("cannot read {}: {e}", users_file.display()))?;
        let mut users = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((user, hash)) = line.split_once(':') else {
                return Err(format!(
                    "{}:{}: expected user:hash",
                    users_file.display(),
                    n + 1
                ));
            };
            PasswordHash::new(hash).map_err(|e| {
                format!(
                    "{}:{}: not a password hash ({e}); make one with pop3 hash-password",
                    users_file.display(),
                    n + 1
                )
            })?;
            users.insert(user.as_bytes().to_vec(), hash.to_string());
        }
        Ok(Self {
            root,
            users,
            open: Arc::default(),
            sizes: Mutex::default(),
        })
    }
}

/// A password check for [`Checkers`]: the PHC hash, the password, where the verdict goes.
type CheckJob = (String, Vec<u8>, tokio::sync::oneshot::Sender<bool>);

/// Argon2 takes ~20 ms and 19 MiB per check. One thread per core checks passwords, each
/// reusing its own Argon2 memory: a burst of logins queues instead of allocating (and, as the
/// allocator keeps freed blocks that large, keeping) 19 MiB per concurrent login.
struct Checkers {
    jobs: std::sync::mpsc::Sender<CheckJob>,
}

impl Checkers {
    fn shared() -> &'static Checkers {
        static SHARED: std::sync::OnceLock<Checkers> = std::sync::OnceLock::new();
        SHARED.get_or_init(|| {
            let (jobs, queue) = std::sync::mpsc::channel::<CheckJob>();
            let queue = Arc::new(Mutex::new(queue));
            for _ in 0..std::thread::available_parallelism().map_or(1, |n| n.get()) {
                let queue = queue.clone();
                std::thread::spawn(move || {
                    let mut memory = Vec::new();
                    loop {
                        let job = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        let Ok((hash, password, verdict)) = job else {
                            return;
                        };
                        let _ = verdict.send(password_matches(&hash, &password, &mut memory));
                    }
                });
            }
            Checkers { jobs }
        })
    }

    async fn check(&self, hash: String, password: Vec<u8>) -> bool {
        let (verdict, answer) = tokio::sync::oneshot::channel();
        self.jobs.send((hash, password, verdict)).is_ok() && answer.await.unwrap_or(false)
    }
}

/// Whether `password` has the Argon2 PHC `hash`, computed in `memory` (grown as the hash's
/// parameters need, then kept for the next check); the comparison is constant-time.
fn password_matches(hash: &str, password: &[u8], memory: &mut Vec<argon2::Block>) -> bool {
    use argon2::{Algorithm, Params, Version};
    let Ok(hash) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(expected), Some(salt)) = (hash.hash, hash.salt) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) =
        (Algorithm::try_from(hash.algorithm), Params::try_from(&hash))
    else {
        return false;
    };
    let Ok(version) = hash
        .version
        .map_or(Ok(Version::default()), Version::try_from)
    else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), argon2::Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    let blocks = params.block_count();
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, &mut out, &mut memory[..blocks])
        .is_ok()
        && argon2::password_hash::Output::new(&out).is_ok_and(|got| got == expected)
}

impl Mailstore for MaildirStore {
    type Maildrop = MaildirDrop;

    async fn open(&self, user: &[u8], password: &Password) -> Result<MaildirDrop, Refusal> {
        let refused = || Refusal::new(Some(ResponseCode::Auth), "authentication failed");
        let hash = self.users.get(user).ok_or_else(refused)?.clone();
        let secret = password.as_bytes().to_vec();
        if !Checkers::shared().check(hash, secret).await {
            return Err(refused());
        }
        let name = std::str::from_utf8(user).map_err(|_| refused())?;
        if !self
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(user.to_vec())
        {
            return Err(Refusal::new(
                Some(ResponseCode::InUse),
                "the maildrop is open in another session",
            ));
        }
        let dir = self.root.join(name);
        let known = self
            .sizes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(user)
            .unwrap_or_default();
        let scanned = tokio::task::spawn_blocking(move || scan(&dir, &known))
            .await
            .unwrap_or_else(|e| Err(io::Error::other(e)));
        match scanned {
            Ok((messages, sizes)) => {
                self.sizes
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(user.to_vec(), sizes);
                Ok(MaildirDrop {
                    user: user.to_vec(),
                    open: self.open.clone(),
                    messages,
                })
            }
            Err(e) => {
                self.open
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(user);
                Err(Refusal::new(
                    Some(ResponseCode::SysTemp),
                    format!("cannot read the maildrop: {e}"),
                ))
            }
        }
    }
}

/// One message file and its size as served (LF → CRLF).
struct Entry {
    path: PathBuf,
    size: u64,
    uid: Vec<u8>,
}

/// Served sizes by file name. A Maildir file's content never changes once it is in `cur/` or
/// `new/` (a flag change renames it), so a name seen before needs no second read.
type Sizes = HashMap<std::ffi::OsString, u64>;

/// The messages of `cur/` and `new/`, oldest name first, with the sizes of their files as
/// served; `known` saves reading files whose names an earlier scan saw.
fn scan(dir: &Path, known: &Sizes) -> io::Result<(Vec<Entry>, Sizes)> {
    let mut entries = Vec::new();
    let mut sizes = Sizes::new();
    for sub in ["cur", "new"] {
        let reader = match std::fs::read_dir(dir.join(sub)) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in reader {
            let entry = entry?;
            if !entry.file_type()?.is_file() {
                continue;
            }
            let file_name = entry.file_name();
            let path = entry.path();
            let size = match known.get(&file_name) {
                Some(&size) => size,
                None => served_size(&std::fs::read(&path)?),
            };
            let name = file_name.to_string_lossy();
            let base = name.split(':').next().unwrap_or(&name).to_string();
            entries.push((base, path, size));
            sizes.insert(file_name, size);
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let entries = entries
        .into_iter()
        .map(|(base, path, size)| Entry {
            uid: uid(&base),
            path,
            size,
        })
        .collect();
    Ok((entries, sizes))
}

/// A unique id from a Maildir name: the name itself when it fits POP3's 1–70 characters of
/// 0x21–0x7E, else a SHA-256 digest of it (stable across builds, as RFC 1939 wants UIDLs
/// kept across sessions; `std`'s `DefaultHasher` promises no such thing).
fn uid(base: &str) -> Vec<u8> {
    if !base.is_empty() && base.len() <= 70 && base.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return base.as_bytes().to_vec();
    }
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(base.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("h{hex}").into_bytes()
}

/// The size of `bytes` with every LF not preceded by CR turned into CRLF.
fn served_size(bytes: &[u8]) -> u64 {
    let mut crlf = Crlf::default();
    let mut total = 0;
    crlf.scan(bytes, |run| total += run.len() as u64);
    total
}

/// An open Maildir, locked while it lives.
pub struct MaildirDrop {
    user: Vec<u8>,
    open: Arc<Mutex<HashSet<Vec<u8>>>>,
    messages: Vec<Entry>,
}

/// How much of a message file one blocking read takes, and so the most one read-ahead holds.
const FILE_BLOCK: usize = 256 * 1024;
/// Messages up to this size are read in one go on the session's task.
const INLINE_READ: u64 = 64 * 1024;

impl Maildrop for MaildirDrop {
    fn listing(&self) -> Vec<MessageInfo> {
        self.messages
            .iter()
            .map(|m| MessageInfo::new(m.size, &m.uid))
            .collect()
    }

    async fn read(&mut self, index: usize) -> io::Result<Box<dyn AsyncRead + Send + Unpin>> {
        let entry = self.messages.get(index).ok_or(io::ErrorKind::NotFound)?;
        if entry.size <= INLINE_READ {
            // Read right here, on the session's task: a Maildir file this small is one read
            // from the page cache, microseconds, which is less than the hop to the blocking
            // pool and back would cost (it tripled the CPU per message of a pipelined fetch).
            let raw = std::fs::read(&entry.path)?;
            let mut served = Vec::with_capacity(entry.size as usize);
            Crlf::default().scan(&raw, |run| served.extend_from_slice(run));
            return Ok(Box::new(io::Cursor::new(served)));
        }
        let path = entry.path.clone();
        // One blocking task reads the file ahead of the session, a block at a time: a small
        // message costs one hop to the blocking pool, not one per read.
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        let (opened_tx, opened) = tokio::sync::oneshot::channel();
        tokio::task::spawn_blocking(move || {
            use std::io::Read;
            let mut file = match std::fs::File::open(&path) {
                Ok(file) => {
                    let _ = opened_tx.send(Ok(()));
                    file
                }
                Err(e) => {
                    let _ = opened_tx.send(Err(e));
                    return;
                }
            };
            let mut crlf = Crlf::default();
            let mut raw = vec![0u8; FILE_BLOCK];
            loop {
                let block = match file.read(&mut raw) {
                    Ok(0) => return,
                    Ok(n) => {
                        let mut served = Vec::with_capacity(n + n / 16);
                        crlf.scan(&raw[..n], |run| served.extend_from_slice(run));
                        Ok(served)
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => Err(e),
                };
                let failed = block.is_err();
                if tx.blocking_send(block).is_err() || failed {
                    return; // the session stopped reading, or the file failed
                }
            }
        });
        opened.await.map_err(io::Error::other)??;
        Ok(Box::new(Blocks {
            rx,
            block: Vec::new(),
            at: 0,
        }))
    }

    async fn remove(&mut self, indices: &[usize]) -> io::Result<()> {
        let mut first_error = None;
        for &i in indices {
            if let Some(m) = self.messages.get(i) {
                if let Err(e) = tokio::fs::remove_file(&m.path).await {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

impl Drop for MaildirDrop {
    fn drop(&mut self) {
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.user);
    }
}

/// Turns every LF not preceded by CR into CRLF, across the blocks of one file.
#[derive(Default)]
struct Crlf {
    last_cr: bool,
}

impl Crlf {
    /// Hands `emit` the served form of `raw` as runs of bytes.
    fn scan(&mut self, raw: &[u8], mut emit: impl FnMut(&[u8])) {
        let mut from = 0;
        for lf in memchr::memchr_iter(b'\n', raw) {
            let cr_before = if lf == 0 {
                self.last_cr
            } else {
                raw[lf - 1] == b'\r'
            };
            if !cr_before {
                emit(&raw[from..lf]);
                emit(b"\r");
                from = lf;
            }
        }
        emit(&raw[from..]);
        if let Some(&last) = raw.last() {
            self.last_cr = last == b'\r';
        }
    }
}

/// The session's side of a file's read-ahead: an `AsyncRead` over the blocks it receives.
struct Blocks {
    rx: tokio::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    block: Vec<u8>,
    at: usize,
}

impl AsyncRead for Blocks {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        while this.at == this.block.len() {
            match this.rx.poll_recv(cx) {
                Poll::Ready(Some(Ok(block))) => (this.block, this.at) = (block, 0),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
                Poll::Ready(None) => return Poll::Ready(Ok(())), // end of file
                Poll::Pending => return Poll::Pending,
            }
        }
        let n = buf.remaining().min(this.block.len() - this.at);
        buf.put_slice(&this.block[this.at..this.at + n]);
        this.at += n;
        Poll::Ready(Ok(()))
    }
}

/// What `pop3 serve` was asked for.
pub struct Options {
    pub root: PathBuf,
    pub users: PathBuf,
    pub listen: String,
    pub tls_listen: Option<String>,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub allow_plaintext_auth: bool,
}

/// Runs the server until the process is stopped.
pub fn run(options: Options) -> Result<(), String> {
    let store = Arc::new(MaildirStore::new(options.root.clone(), &options.users)?);
    let acceptor = match &options.tls {
        Some((cert, key)) => Some(acceptor(cert, key)?),
        None => None,
    };
    if options.tls_listen.is_some() && acceptor.is_none() {
        return Err("--tls-listen needs --cert and --key".into());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let plain = listen(&options.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", options.listen))?;
        eprintln!(
            "pop3 serve: POP3 on {}",
            plain.local_addr().map_err(|e| e.to_string())?
        );
        if let Some(addr) = &options.tls_listen {
            let listener = listen(addr)
                .await
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            eprintln!(
                "pop3 serve: POP3S on {}",
                listener.local_addr().map_err(|e| e.to_string())?
            );
            tokio::spawn(accept_loop(
                listener,
                store.clone(),
                acceptor.clone(),
                true,
                options.allow_plaintext_auth,
            ));
        }
        accept_loop(plain, store, acceptor, false, options.allow_plaintext_auth).await;
        Ok(())
    })
}

/// Connections the kernel may queue for `accept`. The usual 128 overflows when a thousand
/// clients connect at once, and on overflow Linux drops the handshake's last ACK: the client
/// believes it is connected and waits for a greeting that never comes.
const BACKLOG: u32 = 4096;

async fn listen(addr: &str) -> io::Result<tokio::net::TcpListener> {
    let mut last = None;
    for addr in tokio::net::lookup_host(addr).await? {
        let socket = match addr {
            std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
            std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
        };
        socket.set_reuseaddr(true)?;
        match socket.bind(addr).and_then(|()| socket.listen(BACKLOG)) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address")))
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    store: Arc<MaildirStore>,
    acceptor: Option<TlsAcceptor>,
    implicit: bool,
    allow_plaintext_auth: bool,
) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            // Out of file descriptors, most likely: pause rather than spin until one frees.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (store, acceptor) = (store.clone(), acceptor.clone());
        tokio::spawn(async move {
            let mut config = ServerConfig::default();
            config.allow_plaintext_auth = allow_plaintext_auth;
            config.implementation = Some(format!("pop3-rs {}", env!("CARGO_PKG_VERSION")));
            let mut entropy = [0u8; 16];
            let _ = getrandom::fill(&mut entropy);
            let _ = serve_tcp(tcp, acceptor, implicit, config, &*store, entropy).await;
        });
    }
}

/// A TLS acceptor from PEM certificate chain and key files.
fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|i| i.collect())
        .map_err(|e| format!("cannot read {}: {e}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot read {}: {e}", key.display()))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .map_err(|e| format!("the certificate and key do not go together: {e}"))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The served form of `raw` cut into blocks at `cut`.
    fn served(raw: &[u8], cut: usize) -> Vec<u8> {
        let mut crlf = Crlf::default();
        let mut out = Vec::new();
        for block in [&raw[..cut], &raw[cut..]] {
            crlf.scan(block, |run| out.extend_from_slice(run));
        }
        out
    }

    #[test]
    fn password_check_reuses_its_memory_and_tells_right_from_wrong() {
        let hash = hash_password("right").unwrap();
        let mut memory = Vec::new();
        assert!(password_matches(&hash, b"right", &mut memory));
        let grown = memory.len();
        assert!(grown > 0);
        assert!(!password_matches(&hash, b"wrong", &mut memory));
        assert!(!password_matches("not a hash", b"right", &mut memory));
        assert_eq!(memory.len(), grown);
    }

    #[test]
    fn bare_lf_becomes_crlf_wherever_the_blocks_are_cut() {
        let raw = b"\na\nb\r\nc\r\r\n\n.\n";
        let want = b"\r\na\r\nb\r\nc\r\r\n\r\n.\r\n";
        for cut in 0..=raw.len() {
            assert_eq!(served(raw, cut), want, "cut at {cut}");
        }
        assert_eq!(served_size(raw), want.len() as u64);
    }
}
