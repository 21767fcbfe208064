//! What a server offers and how much it lets a client make it hold.

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

/// Server settings. Start from `ServerConfig::default()` and change fields.
///
/// ```
/// use pop3_proto::server::ServerConfig;
/// let mut config = ServerConfig::default();
/// config.apop_domain = Some("mail.example.com".into());
/// config.implementation = Some("my-pop3".into());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The greeting's text after `+OK ` (default `POP3 server ready`).
    pub greeting: String,
    /// Offer APOP with timestamps `<hex@domain>` in the greeting (off by default: APOP needs
    /// the plaintext password on the server and is crackable offline).
    pub apop_domain: Option<String>,
    /// Offer USER/PASS (default on).
    pub user_pass: bool,
    /// Offer SASL PLAIN (default on).
    pub sasl_plain: bool,
    /// Offer STLS: the driver can do a TLS handshake on this connection (default off).
    pub stls: bool,
    /// The connection is TLS from its first byte (POP3S).
    pub implicit_tls: bool,
    /// Accept credentials before TLS (default off: USER, PASS and AUTH get `-ERR [AUTH] use
    /// STLS first` on a plaintext connection).
    pub allow_plaintext_auth: bool,
    /// Advertise PIPELINING (default on: the session answers pipelined commands in order).
    pub pipelining: bool,
    /// Advertise `EXPIRE` (`Some(None)` for NEVER, `Some(Some(days))`).
    pub expire: Option<Option<u32>>,
    /// Advertise `LOGIN-DELAY seconds`.
    pub login_delay: Option<u32>,
    /// Advertise `IMPLEMENTATION text`.
    pub implementation: Option<String>,
    /// Longest command line, CRLF included (default 255, RFC 2449); longer ones close the
    /// connection.
    pub max_command_length: usize,
    /// Stop taking commands while more than this many reply bytes wait to be written
    /// (default 64 KiB): a client that writes without reading is held back.
    pub max_output: usize,
    /// Failed logins before the session ends (default 3).
    pub max_login_failures: u32,
    /// Close a session silent for this long in AUTHORIZATION or TRANSACTION (RFC 1939:
    /// at least 10 minutes; default 10 minutes).
    pub autologout: Option<Duration>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            greeting: "POP3 server ready".into(),
            apop_domain: None,
            user_pass: true,
            sasl_plain: true,
            stls: false,
            implicit_tls: false,
            allow_plaintext_auth: false,
            pipelining: true,
            expire: None,
            login_delay: None,
            implementation: None,
            max_command_length: 255,
            max_output: 64 * 1024,
            max_login_failures: 3,
            autologout: Some(Duration::from_secs(600)),
        }
    }
}

impl ServerConfig {
    /// The CAPA lines for a session in this state (login mechanisms only before login, STLS
    /// only before TLS).
    pub(crate) fn capabilities(&self, logged_in: bool, tls: bool) -> Vec<String> {
        let mut lines: Vec<String> = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE"]
            .into_iter()
            .map(String::from)
            .collect();
        if self.pipelining {
            lines.push("PIPELINING".into());
        }
        if !logged_in {
            if self.user_pass {
                lines.push("USER".into());
            }
            if self.sasl_plain {
                lines.push("SASL PLAIN".into());
            }
            if self.stls && !tls {
                lines.push("STLS".into());
            }
        }
        match self.expire {
            Some(None) => lines.push("EXPIRE NEVER".into()),
            Some(Some(days)) => lines.push(alloc::format!("EXPIRE {days}")),
            None => {}
        }
        if let Some(seconds) = self.login_delay {
            lines.push(alloc::format!("LOGIN-DELAY {seconds}"));
        }
        if let Some(text) = &self.implementation {
            lines.push(alloc::format!("IMPLEMENTATION {text}"));
        }
        lines
    }
}
