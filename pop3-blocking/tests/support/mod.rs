//! A tiny scripted POP3 server for loopback tests, and a throwaway PKI for its TLS.
//!
//! Each test starts a [`Server`] with a script of [`Step`]s; the server binds
//! `127.0.0.1:0`, accepts one connection in its own thread and plays the script, panicking
//! (with a message saying which step) as soon as the client does something else. Call
//! [`Server::join`] at the end of the test to surface that panic.
//!
//! Depends on std, rustls and rcgen only, so that the Tokio driver's tests can include it
//! too (`#[path = "../../pop3-blocking/tests/support/mod.rs"] mod support;`).
#![allow(dead_code)] // every test binary uses a different part of it

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig, ServerConnection, StreamOwned};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the server waits for the client at any step before giving up (a safety net
/// against hung tests, far longer than any passing test needs).
const PATIENCE: Duration = Duration::from_secs(3);

/// One thing the server does.
#[derive(Clone)]
pub enum Step {
    /// Write these bytes in one `write_all`, then flush.
    Send(Vec<u8>),
    /// Read one CRLF-terminated line and assert it equals this text (without the CRLF).
    Expect(String),
    /// Wait for at least one byte of anything (e.g. a TLS ClientHello) and discard it.
    RecvAny,
    /// Assert the client sends nothing for this long.
    Silence(Duration),
    /// Do nothing for this long.
    Sleep(Duration),
    /// Start TLS as the server (implicit TLS, or after `+OK` to STLS); the handshake must
    /// succeed, and the rest of the script runs inside TLS.
    Tls(Arc<ServerConfig>),
    /// Start TLS; the client must abort the handshake (e.g. it does not trust the
    /// certificate). Ends the script.
    TlsRejected(Arc<ServerConfig>),
    /// Read to the end of the stream and assert that nothing at all arrived (no QUIT).
    ExpectEof,
    /// Read and discard everything up to the end of the stream.
    Drain,
    /// Close cleanly: TLS close_notify (if in TLS), then TCP FIN.
    Close,
    /// Close without TLS close_notify (a truncation attack); plain TCP FIN otherwise.
    Abort,
}

/// [`Step::Send`] of text or bytes.
pub fn send(data: impl AsRef<[u8]>) -> Step {
    Step::Send(data.as_ref().to_vec())
}

/// [`Step::Expect`] of one command line.
pub fn expect(line: &str) -> Step {
    Step::Expect(line.to_string())
}

/// [`Step::Silence`] for `ms` milliseconds.
pub fn silence(ms: u64) -> Step {
    Step::Silence(Duration::from_millis(ms))
}

/// [`Step::Sleep`] for `ms` milliseconds.
pub fn sleep(ms: u64) -> Step {
    Step::Sleep(Duration::from_millis(ms))
}

/// A scripted server playing one connection in a thread.
pub struct Server {
    port: u16,
    thread: JoinHandle<()>,
}

impl Server {
    /// Binds `127.0.0.1:0` and plays `script` to the first client that connects.
    pub fn start(script: Vec<Step>) -> Self {
        Self::start_then(script, |_, _| {})
    }

    /// Like [`start`](Self::start), then hands the connection (plain or TLS, as the script
    /// left it) to `then`, with any bytes already read past the last expected line. `then`
    /// is not called if the script ended the connection (`Close`, `Abort`, `TlsRejected`).
    /// For servers that must react to whatever the client sends (e.g. after a cancelled
    /// call) rather than follow a fixed script.
    pub fn start_then(
        script: Vec<Step>,
        then: impl FnOnce(Conn, Vec<u8>) + Send + 'static,
    ) -> Self {
        Self::start_on(listener(), script, then)
    }

    /// Like [`start_then`](Self::start_then) on a [`listener`] you made, e.g. with socket
    /// options (such as a small receive buffer) that the accepted connection inherits.
    pub fn start_on(
        listener: TcpListener,
        script: Vec<Step>,
        then: impl FnOnce(Conn, Vec<u8>) + Send + 'static,
    ) -> Self {
        let port = listener.local_addr().expect("local address").port();
        let thread = std::thread::spawn(move || {
            let tcp = accept(&listener);
            if let Some((conn, pending)) = play(tcp, script) {
                then(conn, pending);
            }
        });
        Self { port, thread }
    }

    /// The port to connect to (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Plays `script`, then writes the start of a TLS record of `content_type` (64 bytes
    /// long) onto the raw socket a byte every 100 ms, well inside a client's per-read
    /// patience, and never finishes it; stops when the client has gone. A server holding a
    /// client in rustls's wait for the rest of a record (or of the handshake).
    pub fn drip_a_record(script: Vec<Step>, content_type: u8) -> Self {
        Self::start_then(script, move |conn, _| {
            let mut tcp = conn.tcp();
            let header = [content_type, 0x03, 0x03, 0x00, 0x40];
            for byte in header.into_iter().chain(1..=10) {
                if tcp.write_all(&[byte]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    }

    /// Waits for the script to finish; re-raises the server's panic if a step failed.
    pub fn join(self) {
        if let Err(panic) = self.thread.join() {
            std::panic::resume_unwind(panic);
        }
    }
}

/// A listener on `127.0.0.1:0`.
pub fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0")
}

/// Accepts one connection, giving up after [`PATIENCE`] so that a test whose client never
/// connects cannot hang in `join`.
fn accept(listener: &TcpListener) -> TcpStream {
    listener
        .set_nonblocking(true)
        .expect("nonblocking listener");
    let deadline = Instant::now() + PATIENCE;
    loop {
        match listener.accept() {
            Ok((tcp, _)) => {
                tcp.set_nonblocking(false).expect("blocking socket");
                tcp.set_nodelay(true).expect("nodelay");
                tcp.set_read_timeout(Some(PATIENCE)).expect("read timeout");
                tcp.set_write_timeout(Some(PATIENCE))
                    .expect("write timeout");
                return tcp;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => panic!("scripted server: no client connected: {e}"),
        }
    }
}

/// The server's side of the connection.
pub enum Conn {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl Conn {
    /// The TCP socket underneath (for socket options).
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(tcp) => tcp,
            Self::Tls(tls) => &tls.sock,
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Plain(s) => s.read(buf),
            Self::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Plain(s) => s.write(buf),
            Self::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(s) => s.flush(),
            Self::Tls(s) => s.flush(),
        }
    }
}

/// The end of the stream as the server sees it: a FIN, a TLS close with or without
/// close_notify, or a reset (the client closed with our data still unread).
fn is_eof(result: &io::Result<usize>) -> bool {
    match result {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => matches!(
            e.kind(),
            io::ErrorKind::UnexpectedEof
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
        ),
    }
}

/// Plays `script`; returns the connection and the unread bytes unless a step ended it.
fn play(tcp: TcpStream, script: Vec<Step>) -> Option<(Conn, Vec<u8>)> {
    let mut conn = Conn::Plain(tcp);
    // Bytes read past the last expected line.
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 4096];
    for (index, step) in script.into_iter().enumerate() {
        let at = |what: &str| format!("scripted server, step {index} ({what})");
        match step {
            Step::Send(data) => {
                conn.write_all(&data)
                    .and_then(|()| conn.flush())
                    .unwrap_or_else(|e| panic!("{}: {e}", at("send")));
            }
            Step::Expect(want) => {
                let line = loop {
                    if let Some(end) = pending.windows(2).position(|w| w == b"\r\n") {
                        let line: Vec<u8> = pending.drain(..end + 2).take(end).collect();
                        break line;
                    }
                    match conn.read(&mut buf) {
                        Ok(0) => panic!(
                            "{}: end of stream; had {:?}",
                            at(&format!("expect {want:?}")),
                            String::from_utf8_lossy(&pending)
                        ),
                        Ok(n) => pending.extend_from_slice(&buf[..n]),
                        Err(e) => panic!(
                            "{}: {e}; had {:?}",
                            at(&format!("expect {want:?}")),
                            String::from_utf8_lossy(&pending)
                        ),
                    }
                };
                assert_eq!(
                    String::from_utf8_lossy(&line),
                    want,
                    "{}: the client sent another line",
                    at("expect")
                );
            }
            Step::RecvAny => {
                if pending.is_empty() {
                    match conn.read(&mut buf) {
                        Ok(n) if n > 0 => {}
                        other => panic!("{}: {other:?}", at("receive anything")),
                    }
                }
                pending.clear();
            }
            Step::Silence(time) => {
                assert!(
                    pending.is_empty(),
                    "{}: the client already sent {:?}",
                    at("silence"),
                    String::from_utf8_lossy(&pending)
                );
                conn.tcp().set_read_timeout(Some(time)).expect("timeout");
                let result = conn.read(&mut buf);
                conn.tcp()
                    .set_read_timeout(Some(PATIENCE))
                    .expect("timeout");
                match result {
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                        ) => {}
                    Ok(n) if n > 0 => panic!(
                        "{}: the client sent {:?}",
                        at("silence"),
                        String::from_utf8_lossy(&buf[..n])
                    ),
                    other => panic!("{}: {other:?}", at("silence")),
                }
            }
            Step::Sleep(time) => std::thread::sleep(time),
            Step::Tls(config) => {
                assert!(
                    pending.is_empty(),
                    "{}: the client sent {:?} before the handshake",
                    at("TLS"),
                    String::from_utf8_lossy(&pending)
                );
                let Conn::Plain(mut tcp) = conn else {
                    panic!("{}: TLS is already active", at("TLS"))
                };
                let mut server = ServerConnection::new(config).expect("server connection");
                while server.is_handshaking() {
                    if let Err(e) = server.complete_io(&mut tcp) {
                        panic!("{}: handshake failed: {e}", at("TLS"));
                    }
                }
                conn = Conn::Tls(Box::new(StreamOwned::new(server, tcp)));
            }
            Step::TlsRejected(config) => {
                let Conn::Plain(mut tcp) = conn else {
                    panic!("{}: TLS is already active", at("TLS rejected"))
                };
                let mut server = ServerConnection::new(config).expect("server connection");
                let mut failed = false;
                while server.is_handshaking() {
                    if server.complete_io(&mut tcp).is_err() {
                        failed = true;
                        break;
                    }
                }
                assert!(
                    failed,
                    "{}: the client accepted the handshake",
                    at("TLS rejected")
                );
                return None;
            }
            Step::ExpectEof => {
                assert!(
                    pending.is_empty(),
                    "{}: the client sent {:?}",
                    at("expect end of stream"),
                    String::from_utf8_lossy(&pending)
                );
                let result = conn.read(&mut buf);
                if !is_eof(&result) {
                    match result {
                        Ok(n) => panic!(
                            "{}: the client sent {:?}",
                            at("expect end of stream"),
                            String::from_utf8_lossy(&buf[..n])
                        ),
                        Err(e) => panic!("{}: {e}", at("expect end of stream")),
                    }
                }
            }
            Step::Drain => loop {
                let result = conn.read(&mut buf);
                if is_eof(&result) {
                    break;
                }
                if let Err(e) = result {
                    panic!("{}: {e}", at("drain"));
                }
            },
            Step::Close => {
                if let Conn::Tls(tls) = &mut conn {
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                    let _ = tls.conn.complete_io(&mut tls.sock);
                }
                let _ = conn.tcp().shutdown(Shutdown::Both);
                return None;
            }
            Step::Abort => {
                let _ = conn.tcp().shutdown(Shutdown::Both);
                return None;
            }
        }
    }
    Some((conn, pending))
}

/// A test CA and a server certificate it signed for `localhost` and `127.0.0.1`.
pub struct Pki {
    ca_der: CertificateDer<'static>,
    ca_pem: String,
    server: Arc<ServerConfig>,
    /// The server's certificate and key in PEM, for servers run as processes.
    server_pem: (String, String),
}

impl Pki {
    /// Makes a fresh CA and server certificate.
    pub fn generate() -> Self {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
            KeyPair, KeyUsagePurpose,
        };
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "pop3 test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");

        let key = KeyPair::generate().expect("server key");
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .expect("server params");
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let issuer = Issuer::new(ca_params, &ca_key);
        let cert = params.signed_by(&key, &issuer).expect("server certificate");

        let server =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("protocol versions")
                .with_no_client_auth()
                .with_single_cert(
                    vec![cert.der().clone()],
                    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
                )
                .expect("server config");
        Self {
            ca_der: ca_cert.der().clone(),
            ca_pem: ca_cert.pem(),
            server: Arc::new(server),
            server_pem: (cert.pem(), key.serialize_pem()),
        }
    }

    /// One PKI shared by all tests of a binary (made on first use).
    pub fn shared() -> &'static Self {
        static PKI: OnceLock<Pki> = OnceLock::new();
        PKI.get_or_init(Self::generate)
    }

    /// The server side: for [`Step::Tls`].
    pub fn server_config(&self) -> Arc<ServerConfig> {
        self.server.clone()
    }

    /// The server's certificate and private key in PEM.
    pub fn server_pem(&self) -> (&str, &str) {
        (&self.server_pem.0, &self.server_pem.1)
    }

    /// The CA certificate in PEM, e.g. to write a CA file.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A client configuration trusting only this CA (ring provider).
    pub fn client_config(&self) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca_der.clone()).expect("CA certificate");
        Arc::new(
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("protocol versions")
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    }
}
