//! Opening connections: implicit TLS (the default), required STLS, or plaintext.

use crate::session::Pop3;
use crate::transport::TLS_READ_BUFFER;
use crate::{Error, Result, TlsMode, Transport};
use pop3_proto::driver::{Finish, Settings};
use pop3_proto::procedures::{StartTls, Step};
use pop3_proto::Capabilities;
use tokio::io::BufReader;
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
    pop3_proto::connector_api!();

    /// Connects, reads the greeting and (for [`TlsMode::StartTls`]) upgrades to TLS.
    pub async fn connect(self) -> Result<Pop3<Transport>> {
        // Boxed: the TLS handshake's state is large, and an unboxed future would make every
        // task that connects that much bigger for its whole life (BENCHMARKS.md, scale).
        Box::pin(connect(self.0)).await
    }
}

async fn connect(settings: Settings) -> Result<Pop3<Transport>> {
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
            let handshake = TlsConnector::from(config.clone()).connect(
                server_name.clone(),
                BufReader::with_capacity(TLS_READ_BUFFER, tcp),
            );
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
    pop.quick_ack = Transport::after_read;
    pop.tls = tls_config.map(|config| (config, server_name));
    if settings.mode() == TlsMode::StartTls {
        pop.upgrade(StartTls::required()).await?;
    }
    Ok(pop)
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
        let handshake = TlsConnector::from(config)
            .connect(name, BufReader::with_capacity(TLS_READ_BUFFER, tcp));
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
