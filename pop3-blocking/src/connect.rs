//! Opening connections: implicit TLS (the default), required STLS, or plaintext.

use crate::session::{Hooks, Pop3};
use crate::transport::BufferedTcp;
use crate::{Error, Result, TlsMode, Transport};
use pop3_proto::driver::{Finish, Settings};
use pop3_proto::procedures::{StartTls, Step};
use pop3_proto::Capabilities;
use rustls::{ClientConnection, StreamOwned};
use std::net::{TcpStream, ToSocketAddrs};

/// Connection settings. Sensible defaults: implicit TLS against the platform's roots, 30 s to
/// connect, 60 s for the server to answer (a dead server never hangs a call forever).
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
pub struct Connector(Settings);

impl Connector {
    pop3_proto::connector_api!();

    /// Connects, reads the greeting and (for [`TlsMode::StartTls`]) upgrades to TLS.
    pub fn connect(self) -> Result<Pop3<Transport>> {
        let settings = self.0;
        let address = settings.address();
        let tcp = connect_tcp(&settings).map_err(|source| Error::Connect { address, source })?;
        let _ = tcp.set_nodelay(true);
        // Writes to a server that stops reading must not block forever either.
        tcp.set_write_timeout(settings.timeout_value())?;
        let tls_config = settings.resolved_tls_config()?;
        let server_name = settings.server_name()?;
        let transport = match (settings.mode(), &tls_config) {
            (TlsMode::Implicit, Some(config)) => {
                let conn = ClientConnection::new(config.clone(), server_name.clone())
                    .map_err(Error::Tls)?;
                Transport::Tls(Box::new(StreamOwned::new(conn, BufferedTcp::new(tcp))))
            }
            _ => Transport::Plain(tcp),
        };
        let hooks = Hooks {
            read_now: Transport::read_now,
            read_timeout: Transport::set_read_timeout,
            deadline: Transport::set_deadline,
            binding: Transport::channel_binding,
            quick_ack: Transport::after_read,
        };
        let timeout = settings.timeout_value();
        let mut pop = Pop3::with_hooks(transport, settings.session(), timeout, hooks)?;
        pop.tls = tls_config.map(|config| (config, server_name));
        if settings.mode() == TlsMode::StartTls {
            pop.upgrade(StartTls::required())?;
        }
        Ok(pop)
    }
}

fn connect_tcp(settings: &Settings) -> std::io::Result<TcpStream> {
    let (host, port) = (settings.host(), settings.port_or_default());
    let mut last = None;
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, settings.connect_timeout_value()) {
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
        Connector::new(host)
            .port(port)
            .tls_mode(TlsMode::InsecurePlaintext)
            .allow_insecure_auth(true)
            .connect()
    }

    /// `STLS`: upgrades this connection to TLS, then asks CAPA again (the plaintext answer
    /// and greeting are forgotten; an attacker could have forged them). Returns the new
    /// capabilities. A refusal is [`Error::Server`] and the plaintext session goes on.
    pub fn stls(&mut self) -> Result<Capabilities> {
        self.upgrade(StartTls::new())
    }

    fn upgrade(&mut self, mut stls: StartTls) -> Result<Capabilities> {
        loop {
            match self.next(&mut stls)? {
                Step::Done(output) => return output.finish(),
                Step::StartTls(upgrade) => {
                    self.handshake()?;
                    self.pump.tls_established(upgrade)?;
                }
                Step::Item(never) => match never {},
                Step::Io => unreachable!("next() does the I/O"),
            }
        }
    }

    /// The TLS handshake on the plaintext socket, bounded by the session's deadline.
    fn handshake(&mut self) -> Result<()> {
        let Some((config, name)) = self.tls.clone() else {
            let e = Error::TlsRequired("no TLS configuration was given");
            return Err(self.pump.fail(e));
        };
        let Transport::Plain(tcp) = &self.stream else {
            return Err(self.pump.fail(Error::Closed("STLS over TLS".into())));
        };
        let mut tls = match tcp.try_clone() {
            Ok(tcp) => match ClientConnection::new(config, name) {
                Ok(conn) => StreamOwned::new(conn, BufferedTcp::new(tcp)),
                Err(e) => return Err(self.pump.fail(Error::Tls(e))),
            },
            Err(e) => return Err(self.pump.fail(Error::Io(e))),
        };
        // The whole handshake, not each read, is bounded by the session's deadline.
        tls.sock.set_deadline(self.pump.deadline());
        while tls.conn.is_handshaking() {
            if let Err(e) = tls.conn.complete_io(&mut tls.sock) {
                let timeout = self.session().config().response_timeout;
                return Err(self.pump.fail(Error::from_io(e, timeout)));
            }
        }
        self.stream = Transport::Tls(Box::new(tls));
        self.forget_read_timeout();
        Ok(())
    }
}
