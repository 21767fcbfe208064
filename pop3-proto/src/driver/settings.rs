//! Connection settings, shared by the drivers' `Connector`s.

use super::{tls, Error, Result};
use crate::Config;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use std::format;
use std::path::Path;
use std::string::String;
use std::sync::Arc;
use std::time::Duration;

/// How a connection is protected.
///
/// ```
/// use pop3_proto::driver::TlsMode;
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

/// What a driver's `Connector` holds. Defaults: implicit TLS against the platform's roots,
/// 30 s to connect, 60 s for any reply, no low-speed limit.
///
/// ```
/// use pop3_proto::driver::{Settings, TlsMode};
/// let settings = Settings::new("pop.example.com").tls_mode(TlsMode::StartTls);
/// assert_eq!(settings.port_or_default(), 110);
/// assert!(!settings.session().implicit_tls);
/// ```
#[derive(Debug, Clone)]
pub struct Settings {
    host: String,
    port: Option<u16>,
    mode: TlsMode,
    tls: Option<Arc<ClientConfig>>,
    connect_timeout: Duration,
    timeout: Option<Duration>,
    session: Config,
    /// Set by `allow_insecure_auth`, whatever `session_config` says.
    allow_insecure_auth: Option<bool>,
}

impl Settings {
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
            allow_insecure_auth: None,
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

    /// How long the server may stay silent while we wait for it (a reply, the greeting, the
    /// TLS handshake); `None` waits forever (not recommended).
    pub fn timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.timeout = timeout.into();
        self
    }

    /// Session settings of the core (pipelining, limits, low-speed limit, leniencies).
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

    /// `host:port`, for messages.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port_or_default())
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

    /// The reply timeout.
    pub fn timeout_value(&self) -> Option<Duration> {
        self.timeout
    }

    /// Lets the login calls send credentials (USER/PASS, APOP, AUTH) over a connection
    /// without TLS (off by default; see [`Config::allow_plaintext_auth`]).
    pub fn allow_insecure_auth(mut self, allow: bool) -> Self {
        self.allow_insecure_auth = Some(allow);
        self
    }

    /// The core's session settings: `implicit_tls` from the mode and the reply timeout as
    /// the core's response timeout.
    pub fn session(&self) -> Config {
        let mut session = self.session.clone();
        session.implicit_tls = self.mode == TlsMode::Implicit;
        if self.timeout.is_some() {
            session.response_timeout = self.timeout;
        }
        if let Some(allow) = self.allow_insecure_auth {
            session.allow_plaintext_auth = allow;
        }
        session
    }
}
