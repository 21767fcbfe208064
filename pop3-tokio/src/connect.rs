//! Opening connections: implicit TLS (the default), required STLS, or plaintext.

use crate::session::Pop3;
use crate::{Error, Result, TlsMode, Transport};
use pop3_proto::driver::{Finish, Settings};
use pop3_proto::procedures::{StartTls, Step};
use pop3_proto::{Capabilities, Config};
use rustls::ClientConfig;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Connection settings, with an async `connect`. Implicit TLS against the platform's roots,
/// 30 s to connect, 60 s for the server to answer.
///
/// ```no_run
/// use pop3_tokio::{Connector, TlsMode};
/// # async fn demo() -> pop3_tokio::Result<()> {
/// let mut pop = Connector::new("pop.example.com").tls_mode(TlsMode::StartTls).connect().await?;
/// pop.login("alice", "secret").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Connector(Settings);

impl Connector {
    /// Settings for `host` with the defaults.
    pub fn new(host: impl Into<String>) -> Self {
        Self(Settings::new(host))
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

    /// How long the server may stay silent while a reply (or the greeting, or the TLS
    /// handshake) is due; `None` waits forever (not recommended).
    pub fn timeout(self, timeout: impl Into<Option<Duration>>) -> Self {
        Self(self.0.timeout(timeout))
    }

    /// Session settings of the core (pipelining, limits, low-speed limit, keepalive).
    pub fn session_config(self, config: Config) -> Self {
        Self(self.0.session_config(config))
    }

    /// Lets the login calls send credentials over a connection without TLS.
    pub fn allow_insecure_auth(self, allow: bool) -> Self {
        Self(self.0.allow_insecure_auth(allow))
    }

    /// The settings, as the core holds them.
    pub fn settings(&self) -> &Settings {
        &self.0
    }

    /// Connects, reads the greeting and (for [`TlsMode::StartTls`]) upgrades to TLS.
    pub async fn connect(self) -> Result<Pop3<Transport>> {
        let settings = self.0;
        let address = settings.address();
        let (host, port) = (settings.host(), settings.port_or_default());
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
                let handshake =
                    TlsConnector::from(config.clone()).connect(server_name.clone(), tcp);
                let stream = match timeout {
                    Some(t) => tokio::time::timeout(t, handshake)
                        .await
                        .map_err(|_| Error::Timeout(t))?,
                    None => handshake.await,
                };
                Transport::Tls(Box::new(stream.map_err(|e| Error::from_io(e, timeout))?))
            }
            _ => Transport::Plain(tcp),
        };
        let binding = transport.channel_binding();
        let mut pop = Pop3::from_stream(transport, settings.session(), timeout).await?;
        pop.binding = binding;
        pop.tls = tls_config.map(|config| (config, server_name));
        if settings.mode() == TlsMode::StartTls {
            pop.upgrade(StartTls::required()).await?;
        }
        Ok(pop)
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
        Connector::new(host)
            .port(port)
            .tls_mode(TlsMode::InsecurePlaintext)
            .allow_insecure_auth(true)
            .connect()
            .await
    }

    /// `STLS`: upgrades to TLS, then asks CAPA again (the plaintext answer and greeting are
    /// forgotten). Dropping this future during the handshake closes the session.
    pub async fn stls(&mut self) -> Result<Capabilities> {
        self.upgrade(StartTls::new()).await
    }

    async fn upgrade(&mut self, mut stls: StartTls) -> Result<Capabilities> {
        loop {
            match self.next(&mut stls).await? {
                Step::Done(output) => return output.finish(),
                Step::StartTls(upgrade) => {
                    self.handshake().await?;
                    self.pump.tls_established(upgrade)?;
                }
                Step::Item(never) => match never {},
                Step::Io => unreachable!("next() does the I/O"),
            }
        }
    }

    /// The TLS handshake on the plaintext socket, bounded by the session's deadline (a
    /// server that accepts STLS and then stalls cannot hang us).
    async fn handshake(&mut self) -> Result<()> {
        let Some((config, name)) = self.tls.clone() else {
            let e = Error::TlsRequired("no TLS configuration was given");
            return Err(self.pump.fail(e));
        };
        let Transport::Plain(tcp) = std::mem::replace(&mut self.stream, Transport::Detached) else {
            return Err(self.pump.fail(Error::Closed("STLS over TLS".into())));
        };
        let handshake = TlsConnector::from(config).connect(name, tcp);
        let result = match self.pump.deadline() {
            Some(deadline) => tokio::time::timeout_at(deadline.into(), handshake).await,
            None => Ok(handshake.await),
        };
        let timeout = self.session().config().response_timeout;
        match result {
            Ok(Ok(stream)) => {
                self.stream = Transport::Tls(Box::new(stream));
                self.binding = self.stream.channel_binding();
                Ok(())
            }
            Ok(Err(e)) => Err(self.pump.fail(Error::from_io(e, timeout))),
            Err(_) => Err(self.pump.fail(Error::Timeout(timeout.unwrap_or_default()))),
        }
    }
}
