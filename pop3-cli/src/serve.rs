//! `pop3 serve`: a POP3 server over a directory of Maildirs.
//!
//! `ROOT/USER/{cur,new}` holds each user's mail; the users file has one `user:hash` line per
//! user, the hash an Argon2 PHC string (`pop3 hash-password` makes one). Messages are served
//! with LF line ends turned into CRLF (sizes count them so); QUIT unlinks what was deleted;
//! a second session on a maildrop gets `-ERR [IN-USE]`.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
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
        })
    }
}

impl Mailstore for MaildirStore {
    type Maildrop = MaildirDrop;

    async fn open(&self, user: &[u8], password: &Password) -> Result<MaildirDrop, Refusal> {
        let refused = || Refusal::new(Some(ResponseCode::Auth), "authentication failed");
        let hash = self.users.get(user).ok_or_else(refused)?.clone();
        let secret = password.as_bytes().to_vec();
        // Argon2 is slow on purpose: off the reactor.
        let verified = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash)
                .is_ok_and(|h| Argon2::default().verify_password(&secret, &h).is_ok())
        })
        .await
        .unwrap_or(false);
        if !verified {
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
        match scan(&dir).await {
            Ok(messages) => Ok(MaildirDrop {
                user: user.to_vec(),
                open: self.open.clone(),
                messages,
            }),
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

/// The messages of `cur/` and `new/`, oldest name first.
async fn scan(dir: &Path) -> io::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for sub in ["cur", "new"] {
        let mut reader = match tokio::fs::read_dir(dir.join(sub)).await {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        while let Some(entry) = reader.next_entry().await? {
            if !entry.file_type().await?.is_file() {
                continue;
            }
            let path = entry.path();
            let bytes = tokio::fs::read(&path).await?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let base = name.split(':').next().unwrap_or(&name).to_string();
            entries.push((base, path, served_size(&bytes)));
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(entries
        .into_iter()
        .map(|(base, path, size)| Entry {
            uid: uid(&base),
            path,
            size,
        })
        .collect())
}

/// A unique id from a Maildir name: the name itself when it fits POP3's 1–70 characters of
/// 0x21–0x7E, else a digest of it.
fn uid(base: &str) -> Vec<u8> {
    if !base.is_empty() && base.len() <= 70 && base.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return base.as_bytes().to_vec();
    }
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    base.hash(&mut h);
    format!("h{:016x}{}", h.finish(), base.len()).into_bytes()
}

/// The size of `bytes` with every LF not preceded by CR turned into CRLF.
fn served_size(bytes: &[u8]) -> u64 {
    let bare = bytes
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' && (i == 0 || bytes[i - 1] != b'\r'))
        .count();
    (bytes.len() + bare) as u64
}

/// An open Maildir, locked while it lives.
pub struct MaildirDrop {
    user: Vec<u8>,
    open: Arc<Mutex<HashSet<Vec<u8>>>>,
    messages: Vec<Entry>,
}

impl Maildrop for MaildirDrop {
    fn listing(&self) -> Vec<MessageInfo> {
        self.messages
            .iter()
            .map(|m| MessageInfo::new(m.size, &m.uid))
            .collect()
    }

    async fn read(&mut self, index: usize) -> io::Result<Box<dyn AsyncRead + Send + Unpin>> {
        let path = &self
            .messages
            .get(index)
            .ok_or(io::ErrorKind::NotFound)?
            .path;
        let file = tokio::fs::File::open(path).await?;
        Ok(Box::new(Crlf {
            inner: file,
            last_cr: false,
            pending_lf: false,
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

/// A reader that turns every LF not preceded by CR into CRLF.
struct Crlf<R> {
    inner: R,
    last_cr: bool,
    /// The LF of a CRLF that did not fit in the caller's buffer.
    pending_lf: bool,
}

impl<R: AsyncRead + Unpin> AsyncRead for Crlf<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.pending_lf {
            buf.put_slice(b"\n");
            this.pending_lf = false;
            return Poll::Ready(Ok(()));
        }
        // Read at most half the room, so every LF can grow to CRLF.
        let room = (buf.remaining() / 2).max(1);
        let mut raw = vec![0u8; room];
        let mut raw_buf = ReadBuf::new(&mut raw);
        match Pin::new(&mut this.inner).poll_read(cx, &mut raw_buf) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        for &b in raw_buf.filled() {
            if b == b'\n' && !this.last_cr {
                if buf.remaining() >= 2 {
                    buf.put_slice(b"\r\n");
                } else {
                    buf.put_slice(b"\r");
                    this.pending_lf = true;
                }
            } else {
                buf.put_slice(&[b]);
            }
            this.last_cr = b == b'\r';
        }
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
        let plain = tokio::net::TcpListener::bind(&options.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", options.listen))?;
        eprintln!(
            "pop3 serve: POP3 on {}",
            plain.local_addr().map_err(|e| e.to_string())?
        );
        if let Some(addr) = &options.tls_listen {
            let listener = tokio::net::TcpListener::bind(addr)
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

async fn accept_loop(
    listener: tokio::net::TcpListener,
    store: Arc<MaildirStore>,
    acceptor: Option<TlsAcceptor>,
    implicit: bool,
    allow_plaintext_auth: bool,
) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
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
