//! Opening connections: implicit TLS (the default), required STLS, or plaintext.

use crate::session::Pop3;
use crate::Transport;
use pop3_blocking::{Error, Result, TlsMode};
use pop3_proto::{Capabilities, Command, Config, Event};
use rustls::ClientConfig;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Connection settings: the blocking driver's [`pop3_blocking::Connector`] with an async
/// `connect`. Implicit TLS against the platform's roots, 30 s to connect, 60 s for any reply.
///
/// ```no_run
/// use pop3_tokio::{Connector, TlsMode};
/// # async fn demo() -> pop3_tokio::Result<()> {
/// let mut pop = Connector::new("pop.example.com").tls_mode(TlsMode::StartTls).connect().await?;
/// pop.login("alice", "secret").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Connector(pop3_blocking::Connector);

impl Connector {
    /// Settings for `host` with the defaults.
    pub fn new(host: impl Into<String>) -> Self {
        Self(pop3_blocking::Connector::new(host))
    }

    /// The port (default: 995 for implicit TLS, 110 otherwise).
    pub fn port(self, port: u16) -> Self {
        Self(self.0.port(port))
    }

    /// How the connection is protected.
    pub fn tls_mode(self, mode: TlsMode) -> Self {
        Self(self.0.tls_mode(mode))
    }

    /// Your own rustls configuration.
    pub fn tls_config(self, config: Arc<ClientConfig>) -> Self {
        Self(self.0.tls_config(config))
    }

    /// Trusts only the CA certificates in this PEM file.
    pub fn ca_file(self, path: impl AsRef<Path>) -> Result<Self> {
        self.0.ca_file(path).map(Self)
    }

    /// How long to wait for the TCP connection.
    pub fn connect_timeout(self, timeout: Duration) -> Self {
        Self(self.0.connect_timeout(timeout))
    }

    /// How long any reply may take; `None` waits forever (not recommended).
    pub fn timeout(self, timeout: impl Into<Option<Duration>>) -> Self {
        Self(self.0.timeout(timeout))
    }

    /// Session settings of the core.
    pub fn session_config(self, config: Config) -> Self {
        Self(self.0.session_config(config))
    }

    /// Connects, reads the greeting and (for [`TlsMode::StartTls`]) upgrades to TLS.
    pub async fn connect(self) -> Result<Pop3<Transport>> {
        let settings = self.0;
        let (host, port) = (settings.host(), settings.port_or_default());
        let address = format!("{host}:{port}");
        let connecting = TcpStream::connect((host, port));
        let tcp = match tokio::time::timeout(settings.connect_timeout_value(), connecting).await {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(source)) => return Err(Error::Connect { address, source }),
            Err(_) => {
                let source = std::io::Error::from(std::io::ErrorKind::TimedOut);
                return Err(Error::Connect { address, source });
            }
        };
        let _ = tcp.set_nodelay(true);
        let tls_config = settings.resolved_tls_config()?;
        let server_name = settings.server_name()?;
        let timeout = settings.timeout_value();
        let transport = match (settings.mode(), &tls_config) {
            (TlsMode::Implicit, Some(config)) => {
                let connector = TlsConnector::from(config.clone());
                let handshake = connector.connect(server_name.clone(), tcp);
                let stream = match timeout {
                    Some(t) => tokio::time::timeout(t, handshake)
                        .await
                        .map_err(|_| Error::Timeout(t))?,
                    None => handshake.await,
                };
                Transport::Tls(Box::new(stream.map_err(tls_error)?))
            }
            _ => Transport::Plain(tcp),
        };
        let mut pop = Pop3::from_stream(transport, settings.session(), timeout).await?;
        pop.tls = tls_config.map(|config| (config, server_name));
        if settings.mode() == TlsMode::StartTls {
            pop.require_stls().await?;
        }
        Ok(pop)
    }
}

fn tls_error(e: std::io::Error) -> Error {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(tls) => Error::Tls(tls.clone()),
        None => Error::Io(e),
    }
}

impl Pop3<Transport> {
    /// Connects with implicit TLS (POP3S), verifying against the platform's roots.
    pub async fn connect_tls(host: &str, port: u16) -> Result<Self> {
        Connector::new(host).port(port).connect().await
    }

    /// Connects in plaintext and upgrades with STLS, which is **required** (no fallback).
    pub async fn connect_starttls(host: &str, port: u16) -> Result<Self> {
        Connector::new(host)
            .port(port)
            .tls_mode(TlsMode::StartTls)
            .connect()
            .await
    }

    /// Connects **without any encryption**, for loopback tests and trusted networks only.
    pub async fn connect_plain_insecure(host: &str, port: u16) -> Result<Self> {
        let mut pop = Connector::new(host)
            .port(port)
            .tls_mode(TlsMode::InsecurePlaintext)
            .connect()
            .await?;
        pop.allow_insecure_auth(true);
        Ok(pop)
    }

    async fn require_stls(&mut self) -> Result<Capabilities> {
        let caps = match self.capa().await {
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
        match self.stls().await {
            Err(Error::Server { .. }) => {
                Err(self.close_with(Error::TlsRequired("the server refused STLS")))
            }
            other => other,
        }
    }

    /// `STLS`: upgrades to TLS, then asks CAPA again. Dropping this future during the
    /// handshake closes the session.
    pub async fn stls(&mut self) -> Result<Capabilities> {
        let Some((config, name)) = self.tls.clone() else {
            return Err(Error::TlsRequired("no TLS configuration was given"));
        };
        let handle = self.send(Command::Stls).await?;
        loop {
            match self.next_event().await? {
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
        let Transport::Plain(tcp) = std::mem::replace(&mut self.stream, Transport::Detached) else {
            unreachable!("the core refuses STLS over TLS");
        };
        self.upgrading = true;
        let stream = TlsConnector::from(config).connect(name, tcp).await;
        self.upgrading = false;
        let stream = stream.map_err(|e| self.close_with(tls_error(e)))?;
        self.stream = Transport::Tls(Box::new(stream));
        self.client
            .tls_established()
            .map_err(|e| self.close_with(e.into()))?;
        match self.capa().await {
            Ok(caps) => Ok(caps),
            Err(Error::Server { .. }) => Ok(Capabilities::default()),
            Err(e) => Err(e),
        }
    }
}
