//! The server side: [`serve`] runs the core's sans-IO [`Server`] session over one connection,
//! with a [`Mailstore`] for credentials and mail. [`MemoryStore`] is an in-process mailstore:
//! a faithful POP3 test double for a client's tests.
//!
//! ```no_run
//! use pop3_tokio::pop3_proto::server::ServerConfig;
//! use pop3_tokio::server::{serve, MemoryStore};
//! use std::sync::Arc;
//!
//! # async fn demo() -> std::io::Result<()> {
//! let store = Arc::new(MemoryStore::new());
//! store.add_user("alice", "secret", vec![b"Subject: hi\r\n\r\nHello!\r\n".to_vec()]);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:1110").await?;
//! loop {
//!     let (stream, _) = listener.accept().await?;
//!     let store = store.clone();
//!     let mut config = ServerConfig::default();
//!     config.allow_plaintext_auth = true; // loopback
//!     tokio::spawn(async move { serve(stream, config, &*store, [0; 16]).await });
//! }
//! # }
//! ```

use bytes::Bytes;
use pop3_proto::server::{MessageInfo, Request, Server, ServerConfig};
use pop3_proto::{Password, ResponseCode};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

/// Why a login was refused: a response code (`[AUTH]`, `[IN-USE]`, `[LOGIN-DELAY]`,
/// `[SYS/TEMP]`…) and a text for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The response code.
    pub code: Option<ResponseCode>,
    /// The text after it.
    pub text: String,
}

impl Refusal {
    /// A refusal with this code and text.
    pub fn new(code: Option<ResponseCode>, text: impl Into<String>) -> Self {
        Self {
            code,
            text: text.into(),
        }
    }
}

/// Where [`serve`] finds users and their mail.
pub trait Mailstore: Send + Sync {
    /// An open, locked maildrop.
    type Maildrop: Maildrop;

    /// Checks `user`'s password and opens (and locks) the maildrop; a maildrop already
    /// open elsewhere is refused with [`ResponseCode::InUse`]. A store that rate-limits
    /// failed logins answers with [`ResponseCode::LoginDelay`].
    fn open(
        &self,
        user: &[u8],
        password: &Password,
    ) -> impl Future<Output = Result<Self::Maildrop, Refusal>> + Send;
}

/// An open maildrop: its listing, its messages, and the removal that QUIT commits. Dropping
/// it releases the lock and removes nothing.
pub trait Maildrop: Send {
    /// The messages, in message-number order: sizes as sent (CRLF line ends) and unique ids.
    fn listing(&self) -> Vec<MessageInfo>;

    /// Message `index` of the listing, to be streamed (it is read in pieces).
    fn read(
        &mut self,
        index: usize,
    ) -> impl Future<Output = io::Result<Box<dyn AsyncRead + Send + Unpin>>> + Send;

    /// Removes these messages (QUIT in TRANSACTION); the only call that removes anything.
    fn remove(&mut self, indices: &[usize]) -> impl Future<Output = io::Result<()>> + Send;
}

/// How much of a body is read at a time.
const CHUNK: usize = 64 * 1024;

/// Serves one POP3 connection over any stream until the client quits or goes away;
/// `entropy` (a few random bytes) makes the session's greeting unique. APOP is not offered (a
/// [`Mailstore`] holds no plaintext secrets), nor STLS on an arbitrary stream: use
/// [`serve_tcp`] for STLS, or wrap the stream in TLS for POP3S. Memory per session stays at one body chunk plus
/// [`ServerConfig::max_output`].
pub async fn serve<S, M>(
    stream: S,
    mut config: ServerConfig,
    store: &M,
    entropy: [u8; 16],
) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    M: Mailstore,
{
    config.stls = false;
    run(NoTls(stream), config, store, entropy).await
}

/// Serves one POP3 connection on a TCP socket, with TLS from `tls`: from the first byte when
/// `implicit` (POP3S), else offered through STLS (plaintext pipelined after STLS is discarded,
/// never executed inside TLS). Otherwise as [`serve`].
pub async fn serve_tcp<M: Mailstore>(
    tcp: TcpStream,
    tls: Option<TlsAcceptor>,
    implicit: bool,
    mut config: ServerConfig,
    store: &M,
    entropy: [u8; 16],
) -> io::Result<()> {
    let stream = match (&tls, implicit) {
        (Some(acceptor), true) => ServerStream::Tls(Box::new(acceptor.accept(tcp).await?)),
        _ => ServerStream::Plain(tcp),
    };
    config.implicit_tls = implicit && tls.is_some();
    config.stls = !implicit && tls.is_some();
    run(Upgradable { stream, tls }, config, store, entropy).await
}

/// A connection `run` can serve: a stream that may be able to start TLS in place.
trait Conn: AsyncRead + AsyncWrite + Unpin + Send {
    /// Does the TLS handshake as the server.
    fn start_tls(&mut self) -> impl Future<Output = io::Result<()>> + Send;
}

/// Any stream, without STLS.
struct NoTls<S>(S);

impl<S: AsyncRead + Unpin> AsyncRead for NoTls<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for NoTls<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        b: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, b)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Conn for NoTls<S> {
    async fn start_tls(&mut self) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// A TCP connection's stream: plain, or TLS over it.
enum ServerStream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    /// Taken apart for a handshake that failed.
    Detached,
}

struct Upgradable {
    stream: ServerStream,
    tls: Option<TlsAcceptor>,
}

impl AsyncRead for Upgradable {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            ServerStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            ServerStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            ServerStream::Detached => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }
}

impl AsyncWrite for Upgradable {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().stream {
            ServerStream::Plain(s) => Pin::new(s).poll_write(cx, b),
            ServerStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, b),
            ServerStream::Detached => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            ServerStream::Plain(s) => Pin::new(s).poll_flush(cx),
            ServerStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            ServerStream::Detached => Poll::Ready(Ok(())),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            ServerStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            ServerStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            ServerStream::Detached => Poll::Ready(Ok(())),
        }
    }
}

impl Conn for Upgradable {
    async fn start_tls(&mut self) -> io::Result<()> {
        let acceptor = self.tls.clone().ok_or(io::ErrorKind::Unsupported)?;
        let ServerStream::Plain(tcp) = std::mem::replace(&mut self.stream, ServerStream::Detached)
        else {
            return Err(io::ErrorKind::Unsupported.into());
        };
        self.stream = ServerStream::Tls(Box::new(acceptor.accept(tcp).await?));
        Ok(())
    }
}

/// The session loop of [`serve`] and [`serve_tcp`].
async fn run<C: Conn, M: Mailstore>(
    mut stream: C,
    mut config: ServerConfig,
    store: &M,
    entropy: [u8; 16],
) -> io::Result<()> {
    config.apop_domain = None;
    let origin = tokio::time::Instant::now();
    let now = |origin: tokio::time::Instant| {
        pop3_proto::Instant::from_elapsed(tokio::time::Instant::now() - origin)
    };
    let mut server = Server::new(config);
    server.greet(&entropy);
    let mut maildrop: Option<M::Maildrop> = None;
    let mut input = vec![0u8; 1024];
    // Allocated at the first RETR/TOP: a session that only logs in and lists holds none.
    let mut chunk = Vec::new();
    let mut out = Vec::new();
    loop {
        while let Some(request) = server.poll_request() {
            match request {
                Request::Login { user, password, .. } => match store.open(&user, &password).await {
                    Ok(opened) => {
                        server.accept_login(opened.listing());
                        maildrop = Some(opened);
                    }
                    Err(refusal) => server.reject_login(refusal.code, &refusal.text),
                },
                Request::Apop { .. } => {
                    server.reject_login(Some(ResponseCode::Auth), "APOP is not offered")
                }
                Request::Retr { index, .. } | Request::Top { index, .. } => {
                    let Some(open) = maildrop.as_mut() else {
                        server.refuse(Some(ResponseCode::SysPerm), "no maildrop");
                        continue;
                    };
                    let mut body = match open.read(index).await {
                        Ok(body) => body,
                        Err(_) => {
                            server.refuse(Some(ResponseCode::SysTemp), "cannot read the message");
                            continue;
                        }
                    };
                    chunk.resize(CHUNK, 0);
                    loop {
                        let n = match body.read(&mut chunk).await {
                            Ok(n) => n,
                            // Part of the body may be out: the session closes the connection.
                            Err(_) => {
                                server.refuse(Some(ResponseCode::SysTemp), "read error");
                                break;
                            }
                        };
                        if n == 0 {
                            server.end_body();
                            break;
                        }
                        let more = server.body(&chunk[..n]);
                        server.poll_transmit(&mut out);
                        // Replies to pipelined commands share writes until a chunk's worth.
                        if out.len() >= CHUNK {
                            stream.write_all(&out).await?;
                            out.clear();
                        }
                        if !more {
                            server.end_body();
                            break;
                        }
                    }
                }
                Request::Update { deleted } => {
                    let result = match maildrop.as_mut() {
                        Some(open) => open.remove(&deleted).await,
                        None => Ok(()),
                    };
                    server.update_done(result.map_err(|_| "some messages could not be removed"));
                }
                Request::StartTls => {
                    // The +OK goes out in plaintext, then the handshake.
                    server.poll_transmit(&mut out);
                    stream.write_all(&out).await?;
                    out.clear();
                    match stream.start_tls().await {
                        Ok(()) => server.tls_established(),
                        Err(_) => server.handle_eof(),
                    }
                }
                Request::Closed => maildrop = None, // releases the lock, removes nothing
                _ => {}
            }
        }
        server.poll_transmit(&mut out);
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
        if server.is_finished() {
            let _ = stream.shutdown().await;
            return Ok(());
        }
        if !server.wants_input() {
            continue; // requests or output to handle first
        }
        server.handle_timeout(now(origin));
        let read = stream.read(&mut input);
        let n = match server.poll_timeout() {
            Some(deadline) => {
                let at = origin + deadline.elapsed();
                match tokio::time::timeout_at(at, read).await {
                    Ok(n) => n,
                    Err(_) => {
                        server.handle_timeout(now(origin));
                        continue;
                    }
                }
            }
            None => read.await,
        };
        match n {
            Ok(0) | Err(_) => server.handle_eof(),
            Ok(n) => server.handle_input(&input[..n]),
        }
    }
}

/// An in-memory [`Mailstore`]: users, passwords and messages held in the process, with the
/// maildrop lock and QUIT's removal. For tests and demos.
/// Each message gets a unique id when it is added (`mem-1`, `mem-2`, … across the store),
/// kept for as long as the message lives, as RFC 1939 asks of UIDL.
#[derive(Debug, Default)]
pub struct MemoryStore {
    users: Mutex<HashMap<Vec<u8>, Arc<Mutex<Mailbox>>>>,
    next_uid: std::sync::atomic::AtomicU64,
}

#[derive(Debug)]
struct Mailbox {
    password: Vec<u8>,
    /// (unique id, message)
    messages: Vec<(Bytes, Bytes)>,
    locked: bool,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a user with these messages (as sent: CRLF line ends).
    pub fn add_user(&self, user: &str, password: &str, messages: Vec<Vec<u8>>) {
        let mailbox = Mailbox {
            password: password.as_bytes().to_vec(),
            messages: messages.into_iter().map(|m| self.with_uid(m)).collect(),
            locked: false,
        };
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users.insert(user.as_bytes().to_vec(), Arc::new(Mutex::new(mailbox)));
    }

    /// Delivers one more message to `user` (seen by the sessions that log in after).
    /// Returns false if there is no such user.
    pub fn deliver(&self, user: &str, message: Vec<u8>) -> bool {
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        let Some(mailbox) = users.get(user.as_bytes()) else {
            return false;
        };
        let entry = self.with_uid(message);
        mailbox
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .messages
            .push(entry);
        true
    }

    fn with_uid(&self, message: Vec<u8>) -> (Bytes, Bytes) {
        let n = 1 + self
            .next_uid
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        (Bytes::from(format!("mem-{n}")), Bytes::from(message))
    }

    /// The messages `user` has now.
    pub fn messages(&self, user: &str) -> Vec<Vec<u8>> {
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users.get(user.as_bytes()).map_or_else(Vec::new, |m| {
            let m = m.lock().unwrap_or_else(|e| e.into_inner());
            m.messages.iter().map(|(_, b)| b.to_vec()).collect()
        })
    }
}

impl Mailstore for MemoryStore {
    type Maildrop = MemoryDrop;

    async fn open(&self, user: &[u8], password: &Password) -> Result<MemoryDrop, Refusal> {
        let refused = || Refusal::new(Some(ResponseCode::Auth), "authentication failed");
        let mailbox = {
            let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
            users.get(user).cloned().ok_or_else(refused)?
        };
        let messages = {
            let mut m = mailbox.lock().unwrap_or_else(|e| e.into_inner());
            // Constant time: how much of a guess was right must not show (the length may).
            let same = subtle::ConstantTimeEq::ct_eq(&m.password[..], password.as_bytes());
            if !bool::from(same) {
                return Err(refused());
            }
            if m.locked {
                return Err(Refusal::new(
                    Some(ResponseCode::InUse),
                    "the maildrop is open in another session",
                ));
            }
            m.locked = true;
            m.messages.clone()
        };
        Ok(MemoryDrop { mailbox, messages })
    }
}

/// A maildrop of a [`MemoryStore`], locked while it lives.
#[derive(Debug)]
pub struct MemoryDrop {
    mailbox: Arc<Mutex<Mailbox>>,
    /// The messages as they were at login (the listing's numbering), with their ids.
    messages: Vec<(Bytes, Bytes)>,
}

impl Maildrop for MemoryDrop {
    fn listing(&self) -> Vec<MessageInfo> {
        self.messages
            .iter()
            .map(|(uid, m)| MessageInfo::new(m.len() as u64, uid))
            .collect()
    }

    async fn read(&mut self, index: usize) -> io::Result<Box<dyn AsyncRead + Send + Unpin>> {
        let message = self
            .messages
            .get(index)
            .map(|(_, m)| m.clone())
            .unwrap_or_default();
        Ok(Box::new(io::Cursor::new(message)))
    }

    async fn remove(&mut self, indices: &[usize]) -> io::Result<()> {
        // By id: messages delivered since login do not shift what the indices name.
        let gone: HashSet<&Bytes> = indices
            .iter()
            .filter_map(|&i| self.messages.get(i).map(|(uid, _)| uid))
            .collect();
        let mut m = self.mailbox.lock().unwrap_or_else(|e| e.into_inner());
        m.messages.retain(|(uid, _)| !gone.contains(uid));
        Ok(())
    }
}

impl Drop for MemoryDrop {
    fn drop(&mut self) {
        self.mailbox
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .locked = false;
    }
}
