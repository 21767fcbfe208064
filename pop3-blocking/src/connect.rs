//! Opening connections: implicit TLS (the default), required STLS, or plaintext.

use crate::session::Pop3;
use crate::{tls, Error, Result, Transport};
use pop3_proto::{Capabilities, Command, Config, Event};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// How a connection is protected.
///
/// ```
/// use pop3_blocking::TlsMode;
/// assert_eq!(TlsMode::default(), TlsMode::Implicit);
/// assert_eq!(TlsMode::Implicit.default_port(), 995);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// TLS from the first byte (POP3S, port 995). The default.
    #[default]
    Implicit,
    /// Plaintext, then STLS — **required**: if CAPA fails, STLS is not offered or is refused,
    /// the connection fails; it never goes on in plaintext.
    StartTls,
    /// No TLS at all. Passwords cross the network readable by anyone on the path.
    InsecurePlaintext,
}

impl TlsMode {
    /// 995 for implicit TLS, 110 otherwise.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Implicit => 995,
            Self::StartTls | Self::InsecurePlaintext => 110,
        }
    }
}

/// Connection settings. Sensible defaults: implicit TLS against the platform's roots, 30 s to
/// connect, 60 s for any read or write (a dead server never hangs a call forever).
///
/// ```no_run
/// use pop3_blocking::{Connector, TlsMode};
/// use std::time::Duration;
///
/// # fn main() -> pop3_blocking::Result<()> {
/// let mut pop = Connector::new("pop.example.com")
///     .tls_mode(TlsMode::StartTls)
///     .ca_file("company-ca.pem")?
///     .timeout(Duration::from_secs(20))
///     .connect()?;
/// pop.login("alice", "secret")?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Connector {
    host: String,
    port: Option<u16>,
    mode: TlsMode,
    tls: Option<Arc<ClientConfig>>,
    connect_timeout: Duration,
    timeout: Option<Duration>,
    session: Config,
}

impl Connector {
    /// Settings for `host` with the defaults.
    pub fn new(host: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            port: None,
            mode: TlsMode::Implicit,
            tls: None,
            connect_timeout: Duration::from_secs(30),
            timeout: Some(Duration::from_secs(60)),
            session: Config::default(),
        }
    }

    /// The port (default: 995 for implicit TLS, 110 otherwise).
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// How the connection is protected.
    pub fn tls_mode(mut self, mode: TlsMode) -> Self {
        self.mode = mode;
        self
    }

    /// Your own rustls configuration (custom roots, client certificates, …).
    pub fn tls_config(mut self, config: Arc<ClientConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Trusts only the CA certificates in this PEM file.
    pub fn ca_file(self, path: impl AsRef<Path>) -> Result<Self> {
        Ok(self.tls_config(tls::ca_file_config(path)?))
    }

    /// How long to wait for the TCP connection.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long any read or write may block; `None` waits forever (not recommended).
    pub fn timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.timeout = timeout.into();
        self
    }

    /// Session settings of the core (pipelining, limits, leniencies).
    pub fn session_config(mut self, config: Config) -> Self {
        self.session = config;
        self
    }

    /// The host to connect to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port: the one set, or the default of the TLS mode.
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(self.mode.default_port())
    }

    /// How the connection is protected.
    pub fn mode(&self) -> TlsMode {
        self.mode
    }

    /// The TLS configuration to use: the one given, else (unless plaintext) the platform's
    /// roots.
    pub fn resolved_tls_config(&self) -> Result<Option<Arc<ClientConfig>>> {
        match (&self.tls, self.mode) {
            (Some(config), _) => Ok(Some(config.clone())),
            (None, TlsMode::InsecurePlaintext) => Ok(None),
            (None, _) => tls::platform_config().map(Some),
        }
    }

    /// The name the server's certificate must carry (the host).
    pub fn server_name(&self) -> Result<ServerName<'static>> {
        ServerName::try_from(self.host.clone()).map_err(|_| Error::CaFile {
            path: "(server name)".into(),
            reason: format!("{:?} is not a valid DNS name or IP address", self.host),
        })
    }

    /// The TCP connect timeout.
    pub fn connect_timeout_value(&self) -> Duration {
        self.connect_timeout
    }

    /// The read/write (reply) timeout.
    pub fn timeout_value(&self) -> Option<Duration> {
        self.timeout
    }

    /// The core's session settings, with `implicit_tls` set from the mode.
    pub fn session(&self) -> Config {
        let mut session = self.session.clone();
        session.implicit_tls = self.mode == TlsMode::Implicit;
        session
    }

    /// Connects, reads the greeting and (for [`TlsMode::StartTls`]) upgrades to TLS.
    pub fn connect(self) -> Result<Pop3<Transport>> {
        let port = self.port_or_default();
        let address = format!("{}:{port}", self.host);
        let tcp = connect_tcp(&self.host, port, self.connect_timeout).map_err(|source| {
            Error::Connect {
                address: address.clone(),
                source,
            }
        })?;
        let _ = tcp.set_nodelay(true);
        tcp.set_read_timeout(self.timeout).map_err(Error::Io)?;
        tcp.set_write_timeout(self.timeout).map_err(Error::Io)?;
        let tls_config = self.resolved_tls_config()?;
        let server_name = self.server_name()?;
        let session = self.session();
        let transport = match (self.mode, &tls_config) {
            (TlsMode::Implicit, Some(config)) => {
                let conn = ClientConnection::new(config.clone(), server_name.clone())
                    .map_err(Error::Tls)?;
                Transport::Tls(Box::new(StreamOwned::new(conn, tcp)))
            }
            _ => Transport::Plain(tcp),
        };
        let mut pop = Pop3::from_stream_with_timeout(transport, session, self.timeout)?;
        pop.tls = tls_config.map(|config| (config, server_name));
        if self.mode == TlsMode::StartTls {
            pop.require_stls()?;
        }
        Ok(pop)
    }
}

fn connect_tcp(host: &str, port: u16, timeout: Duration) -> std::io::Result<TcpStream> {
    let mut last = None;
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other(format!("{host} has no address"))))
}

impl Pop3<Transport> {
    /// Connects with implicit TLS (POP3S), verifying the server against the platform's roots.
    ///
    /// ```no_run
    /// let pop = pop3_blocking::Pop3::connect_tls("pop.example.com", 995)?;
    /// # Ok::<(), pop3_blocking::Error>(())
    /// ```
    pub fn connect_tls(host: &str, port: u16) -> Result<Self> {
        Connector::new(host).port(port).connect()
    }

    /// Connects in plaintext and upgrades with STLS, which is **required**: no plaintext
    /// fallback if CAPA fails or STLS is missing or refused.
    ///
    /// ```no_run
    /// let pop = pop3_blocking::Pop3::connect_starttls("pop.example.com", 110)?;
    /// # Ok::<(), pop3_blocking::Error>(())
    /// ```
    pub fn connect_starttls(host: &str, port: u16) -> Result<Self> {
        Connector::new(host)
            .port(port)
            .tls_mode(TlsMode::StartTls)
            .connect()
    }

    /// Connects **without any encryption**: the password and all mail cross the network in
    /// the clear. For loopback tests and trusted networks only.
    ///
    /// ```no_run
    /// let pop = pop3_blocking::Pop3::connect_plain_insecure("127.0.0.1", 110)?;
    /// # Ok::<(), pop3_blocking::Error>(())
    /// ```
    pub fn connect_plain_insecure(host: &str, port: u16) -> Result<Self> {
        let mut pop = Connector::new(host)
            .port(port)
            .tls_mode(TlsMode::InsecurePlaintext)
            .connect()?;
        pop.allow_insecure_auth(true);
        Ok(pop)
    }

    /// CAPA, then STLS, failing rather than ever continuing in plaintext.
    fn require_stls(&mut self) -> Result<Capabilities> {
        let caps = match self.capa() {
            Ok(caps) => caps,
            Err(Error::Server { .. }) => {
                return Err(self.close_with(Error::TlsRequired(
                    "the server refused CAPA, so it cannot offer STLS",
                )))
            }
            Err(e) => return Err(e),
        };
        if !caps.stls {
            return Err(self.close_with(Error::TlsRequired("the server does not offer STLS")));
        }
        match self.stls() {
            Err(Error::Server { .. }) => {
                Err(self.close_with(Error::TlsRequired("the server refused STLS")))
            }
            other => other,
        }
    }

    /// `STLS`: upgrades this connection to TLS, then asks CAPA again (the plaintext answer
    /// is forgotten; an attacker could have forged it). Returns the new capabilities.
    pub fn stls(&mut self) -> Result<Capabilities> {
        let Some((config, name)) = self.tls.clone() else {
            return Err(Error::TlsRequired("no TLS configuration was given"));
        };
        let handle = self.send_command(Command::Stls)?;
        loop {
            match self.next_event()? {
                Event::UpgradeToTls { handle: h } if h == handle => break,
                Event::Status { handle: h, status } if h == handle => {
                    return Err(Error::Server {
                        command: "STLS",
                        status,
                    })
                }
                _ => {}
            }
        }
        let tcp = match &self.stream {
            Transport::Plain(tcp) => tcp.try_clone().map_err(|e| self.close_with(Error::Io(e)))?,
            Transport::Tls(_) => unreachable!("the core refuses STLS over TLS"),
        };
        let conn =
            ClientConnection::new(config, name).map_err(|e| self.close_with(Error::Tls(e)))?;
        let mut tls = StreamOwned::new(conn, tcp);
        while tls.conn.is_handshaking() {
            if let Err(e) = tls.conn.complete_io(&mut tls.sock) {
                return Err(self.io_failure(e));
            }
        }
        self.stream = Transport::Tls(Box::new(tls));
        self.client
            .tls_established()
            .map_err(|e| self.close_with(e.into()))?;
        match self.capa() {
            Ok(caps) => Ok(caps),
            Err(Error::Server { .. }) => Ok(Capabilities::default()),
            Err(e) => Err(e),
        }
    }
}
