//! Session settings: pipelining, limits, timeouts, and the opt-in leniencies.

pub use crate::codec::Leniency;
use core::time::Duration;

/// Whether commands are sent before earlier replies have arrived (RFC 2449 PIPELINING).
///
/// ```
/// use pop3_proto::{Config, Pipelining};
/// let mut config = Config::default();
/// config.pipelining = Pipelining::On;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pipelining {
    /// One command at a time.
    Off,
    /// One at a time until CAPA lists PIPELINING, then up to `max_in_flight`. The default.
    #[default]
    Auto,
    /// Up to `max_in_flight` from the start (for servers known to pipeline without saying so).
    On,
}

/// The low-speed limit (like curl's `--speed-limit` and `--speed-time`): a session waiting
/// for the server fails with [`crate::RemoteError::TooSlow`] when fewer than `bytes_per_second
/// × time` bytes arrive in any period of `time`. Catches a server that trickles a byte a
/// second, which a reply timeout (reset by every byte) never would.
///
/// ```
/// use pop3_proto::{Config, LowSpeed};
/// use core::time::Duration;
///
/// let mut config = Config::default();
/// config.low_speed = Some(LowSpeed { bytes_per_second: 1000, time: Duration::from_secs(30) });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LowSpeed {
    /// The slowest acceptable average, in bytes per second.
    pub bytes_per_second: u32,
    /// Over how long the average is taken.
    pub time: Duration,
}

impl LowSpeed {
    /// The bytes that must arrive in one period of `time`.
    pub(crate) fn bytes_per_period(self) -> u64 {
        let millis = u64::try_from(self.time.as_millis()).unwrap_or(u64::MAX);
        u64::from(self.bytes_per_second).saturating_mul(millis) / 1000
    }
}

/// Everything configurable about a session. Start from `Config::default()` and change fields.
///
/// ```
/// use pop3_proto::Config;
/// use core::time::Duration;
///
/// let mut config = Config::default();
/// config.response_timeout = Some(Duration::from_secs(30));
/// config.max_in_flight = 16;
/// assert_eq!(config.max_line_length, 512);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Pipelining mode (default [`Pipelining::Auto`]).
    pub pipelining: Pipelining,
    /// Most commands in flight when pipelining (default 1,024). The byte bound below is what
    /// usually binds: a window counted in commands is too small on a long round trip and
    /// says nothing about what the socket buffers hold.
    pub max_in_flight: usize,
    /// Most bytes of commands sent and not yet answered when pipelining (default 8 KiB,
    /// about 700 `RETR`s). Well under what a socket's send buffer and the server's receive
    /// buffer hold together, so a driver that writes everything before it reads can never
    /// block on a server that has stopped reading to write replies; enough that a 20 ms
    /// round trip does not throttle a mailbox of small messages. Once the window is full it
    /// refills when half of it has been answered, in one batch: the server reads a few large
    /// writes rather than one small one per reply (over TLS, a record each). At least one
    /// command is always sent.
    pub max_in_flight_bytes: usize,
    /// Longest status, listing or CAPA line, CRLF included (default 512, RFC 2449).
    pub max_line_length: usize,
    /// Longest SASL challenge line (default 8192; challenges can carry certificates).
    pub max_sasl_line_length: usize,
    /// Most lines in a CAPA response (default 256).
    pub max_capa_lines: u64,
    /// Most entries in a LIST, UIDL or LANG listing (default 10,000,000). Listings stream,
    /// so this bounds time, not memory; see `max_collected_entries` for memory.
    pub max_listing_entries: u64,
    /// Most entries a procedure collects into memory ([`crate::procedures::Collect`], the
    /// drivers' `list()` and `uidl()`; default 100,000, about 10 MB of UIDL). Longer listings
    /// are read to their end and dropped, and reported as too long: stream them instead.
    pub max_collected_entries: u64,
    /// Largest body a procedure collects into memory (the drivers' `retr()` and `top()`;
    /// default 64 MiB). Larger bodies are read to their end and dropped, and reported as too
    /// large: stream them instead.
    pub max_collected_body: u64,
    /// Longest unique id (default 70, RFC 1939).
    pub max_uid_length: usize,
    /// Longest command, CRLF included (default 255, RFC 2449).
    pub max_command_length: usize,
    /// Most challenges in one SASL exchange before it is cancelled (default 8).
    pub max_sasl_rounds: u32,
    /// Close the session with [`crate::RemoteError::Timeout`] when a reply (or the greeting)
    /// takes longer than this. `None` (the default) leaves timing to the driver.
    pub response_timeout: Option<Duration>,
    /// Send NOOP after this long idle in the TRANSACTION state, so servers with short
    /// autologout timers keep the session. `None` by default.
    pub keepalive_interval: Option<Duration>,
    /// Fail a session that receives less than this for too long (off by default).
    pub low_speed: Option<LowSpeed>,
    /// The connection is already TLS (POP3S, port 995): STLS is refused locally.
    pub implicit_tls: bool,
    /// Let the login procedures send credentials (USER/PASS, APOP, AUTH) over a connection
    /// without TLS. Off by default: anyone on the path could read or crack them.
    pub allow_plaintext_auth: bool,
    /// How many bytes [`crate::Client::read_space`] offers at least (default 16 KiB: as fast
    /// as 64 KiB for a gigabyte over loopback, and a quarter of the memory per session; the
    /// receive buffer is about this size whatever the message size).
    pub read_size: usize,
    /// Opt-in leniencies (all off by default).
    pub lenient: Leniency,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            pipelining: Pipelining::Auto,
            max_in_flight: 1024,
            max_in_flight_bytes: 8 * 1024,
            max_line_length: 512,
            max_sasl_line_length: 8192,
            max_capa_lines: 256,
            max_listing_entries: 10_000_000,
            max_collected_entries: 100_000,
            max_collected_body: 64 * 1024 * 1024,
            max_uid_length: 70,
            max_command_length: 255,
            max_sasl_rounds: 8,
            response_timeout: None,
            keepalive_interval: None,
            low_speed: None,
            implicit_tls: false,
            allow_plaintext_auth: false,
            read_size: 16 * 1024,
            lenient: Leniency::default(),
        }
    }
}
