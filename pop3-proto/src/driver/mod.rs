//! What every std driver needs that is not I/O: the [`Pump`] that runs procedures, the
//! [`Error`] type, TLS configurations, connection [`Settings`] and the redacted [`trace`].
//! (Feature `driver`; `pop3-blocking` and `pop3-tokio` are built on it.)
//!
//! A driver's whole job is then: open the connection (TCP, TLS), and answer the pump's
//! needs with its own reads, writes, clock and TLS handshake. The loop, with blocking I/O:
//!
//! ```no_run
//! use pop3_proto::driver::{Error, Pump, Result};
//! use pop3_proto::procedures::{Exchange, Greet, Procedure, Step};
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//!
//! fn run<P: Procedure>(pump: &mut Pump, stream: &mut TcpStream, p: &mut P) -> Result<P::Output> {
//!     loop {
//!         match pump.step(p)? {
//!             Step::Done(output) => return Ok(output),
//!             Step::Item(_) => {} // hand it to the caller
//!             Step::StartTls(_) => return Err(Error::TlsRequired("this example has no TLS")),
//!             Step::Io if pump.wants_input_check() => {
//!                 stream.set_nonblocking(true)?;
//!                 let result = stream.read(pump.read_space());
//!                 stream.set_nonblocking(false)?;
//!                 pump.read_done(result);
//!             }
//!             Step::Io if !pump.output().is_empty() => {
//!                 let result = stream.write_all(pump.output()).map(|()| pump.output().len());
//!                 pump.write_done(result);
//!             }
//!             Step::Io => {
//!                 stream.set_read_timeout(pump.read_timeout())?;
//!                 let result = stream.read(pump.read_space());
//!                 pump.read_done(result);
//!             }
//!         }
//!     }
//! }
//!
//! # fn main() -> Result<()> {
//! let mut stream = TcpStream::connect("127.0.0.1:110")?;
//! let mut pump = Pump::new(Default::default(), None);
//! run(&mut pump, &mut stream, &mut Greet::new())?;
//! let stat = run(&mut pump, &mut stream, &mut Exchange::stat())?;
//! # Ok(()) }
//! ```

mod api;
mod error;
mod settings;
pub mod tls;
pub mod trace;

pub use error::{Error, Finish, Result};

/// A piece of a message body handed to a batch sink (the drivers' `retr_many`).
#[derive(Debug)]
pub enum Part<'a> {
    /// More bytes of the message (dot-unstuffed, exactly as stored).
    Data(&'a [u8]),
    /// The message is complete.
    End,
}
pub use settings::{Settings, TlsMode};

/// For the drivers' macros (`connector_api!`).
#[doc(hidden)]
pub use rustls as __rustls;

/// A fresh SCRAM client nonce: 18 bytes from the operating system's random source,
/// base64-encoded (24 printable characters, no commas).
///
/// ```
/// let a = pop3_proto::driver::nonce().unwrap();
/// assert_eq!(a.len(), 24);
/// assert_ne!(a, pop3_proto::driver::nonce().unwrap());
/// ```
pub fn nonce() -> Result<String> {
    use base64::Engine as _;
    let mut bytes = [0u8; 18];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Io(io::Error::other(std::format!("no random numbers: {e}"))))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

use crate::procedures::{Procedure, Step, TlsUpgrade};
use crate::{Client, Config, SessionState};
use std::io;
use std::string::{String, ToString};
use std::time::{Duration, Instant};
use std::vec::Vec;
use zeroize::Zeroize;

/// The I/O-free half of a std driver: a [`Client`], its output buffer, its clock, and the
/// rules of the driver loop — read waiting input before writing while nothing is in flight
/// (so a stale `+OK` can never pass for the next command's reply), an I/O error ends the
/// connection but lets the core judge what it cut short (a QUIT's outcome becomes `Unknown`),
/// any fatal error closes the session for good, and secrets written are wiped from the
/// output buffer.
pub struct Pump {
    client: Client,
    /// Bytes from `poll_transmit` not yet written.
    out: Vec<u8>,
    written: usize,
    /// A read found nothing waiting before this output was made.
    checked: bool,
    /// Where the session's clock reads the time (see [`with_clock`](Self::with_clock)).
    clock: fn() -> Instant,
    origin: Instant,
    /// The reply timeout, for [`Error::Timeout`].
    timeout: Option<Duration>,
    /// Why the session is closed, once it is.
    closed: Option<String>,
    /// The connection failed; reported when the procedure next needs I/O (or fails).
    io_error: Option<Error>,
    /// A TLS handshake was handed out and not reported back.
    handshaking: bool,
    /// Where a read goes while the receive buffer is released (see
    /// [`release_if_idle`](Self::release_if_idle)): small, so waking costs no big allocation
    /// until data is really there.
    probe: [u8; PROBE],
    /// The last [`read_space`](Self::read_space) was the probe.
    probing: bool,
}

/// The size of [`Pump`]'s probe read.
const PROBE: usize = 256;

impl core::fmt::Debug for Pump {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Pump")
            .field("client", &self.client)
            .field("unwritten", &(self.out.len() - self.written))
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl Pump {
    /// A pump for a new connection. `timeout` bounds every wait for the server (it becomes
    /// the core's response timeout) and is named in [`Error::Timeout`]. The session's clock is
    /// [`Instant::now`].
    pub fn new(config: Config, timeout: Option<Duration>) -> Self {
        Self::with_clock(config, timeout, Instant::now)
    }

    /// A pump whose session reads the time from `clock` instead of [`Instant::now`]: the
    /// clock of the runtime the driver sleeps on, so that its deadlines and the runtime's
    /// timers agree. A Tokio driver passes `tokio::time::Instant::now().into_std()`: then a
    /// test with Tokio's clock paused reaches a 30-second reply deadline at once, where the
    /// std clock would leave the runtime waking, in a loop, until 30 real seconds passed.
    ///
    /// ```
    /// use pop3_proto::driver::Pump;
    /// use pop3_proto::Config;
    /// use std::time::{Duration, Instant};
    ///
    /// // A clock that stands still: no deadline ever passes until something moves it.
    /// fn frozen() -> Instant {
    ///     static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    ///     *START.get_or_init(Instant::now)
    /// }
    /// let pump = Pump::with_clock(Config::default(), Some(Duration::from_secs(30)), frozen);
    /// // The greeting is awaited until 30 s after the frozen instant.
    /// assert_eq!(pump.deadline(), Some(frozen() + Duration::from_secs(30)));
    /// assert_eq!(pump.read_timeout(), Some(Duration::from_secs(30)));
    /// ```
    pub fn with_clock(
        mut config: Config,
        timeout: Option<Duration>,
        clock: fn() -> Instant,
    ) -> Self {
        if timeout.is_some() {
            config.response_timeout = timeout;
        }
        let timeout = config.response_timeout;
        let mut client = Client::new(config);
        client.set_observer(Some(trace::received));
        let mut pump = Self {
            client,
            out: Vec::new(),
            written: 0,
            checked: false,
            clock,
            origin: clock(),
            timeout,
            closed: None,
            io_error: None,
            handshaking: false,
            probe: [0; PROBE],
            probing: false,
        };
        pump.tick();
        pump
    }

    /// The session.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The session, for changes outside procedures (such as
    /// [`Client::set_allow_plaintext_auth`]).
    pub fn client_mut(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Why the session is closed, if it is.
    pub fn closed(&self) -> Option<&str> {
        self.closed.as_deref()
    }

    /// Advances `procedure`; on [`Step::Io`], the driver does what [`wants_input_check`],
    /// [`output`] and [`read_space`] say.
    ///
    /// [`wants_input_check`]: Self::wants_input_check
    /// [`output`]: Self::output
    /// [`read_space`]: Self::read_space
    pub fn step<P: Procedure + ?Sized>(
        &mut self,
        procedure: &mut P,
    ) -> Result<Step<P::Item, P::Output>> {
        if let Some(why) = &self.closed {
            return Err(Error::Closed(why.clone()));
        }
        if self.handshaking {
            let why = "an STLS upgrade was cancelled during the TLS handshake";
            return Err(self.fail(Error::Closed(why.into())));
        }
        self.tick();
        let step = procedure.step(&mut self.client);
        // Replies just decoded may have changed what the clock should watch (logged in:
        // the keepalive starts counting).
        self.tick();
        match step {
            Err(e) => {
                let error = match self.io_error.take() {
                    Some(io) => io, // the cause, rather than the end of stream it made
                    None => Error::from_session(e, self.timeout),
                };
                Err(self.fail(error))
            }
            Ok(Step::Io) => {
                if let Some(io) = self.io_error.take() {
                    return Err(self.fail(io));
                }
                self.fill();
                Ok(Step::Io)
            }
            Ok(Step::StartTls(upgrade)) => {
                self.handshaking = true;
                Ok(Step::StartTls(upgrade))
            }
            Ok(step) => Ok(step),
        }
    }

    /// Takes the session's next lines into the output buffer, unless input must be checked
    /// first.
    fn fill(&mut self) {
        if self.written < self.out.len() || self.wants_input_check() {
            return;
        }
        // What was written may have held a password: wipe it, not just forget it (only
        // when something was: this runs before every read of a streaming body).
        if !self.out.is_empty() {
            self.out.zeroize();
        }
        self.written = 0;
        let in_sasl = self.client.state() == SessionState::Sasl;
        if self.client.poll_transmit(&mut self.out) > 0 {
            trace::sent(&self.out, in_sasl);
            self.checked = false;
        }
    }

    /// Whether the driver must first take any input already waiting, **without blocking**
    /// (a non-blocking read; `WouldBlock` means there is none), and report it with
    /// [`read_done`](Self::read_done): nothing is in flight, so whatever arrived is
    /// unsolicited and must be seen before a new command could be paired with it.
    pub fn wants_input_check(&self) -> bool {
        !self.checked
            && self.written == self.out.len()
            && self.client.in_flight() == 0
            && self.client.queued() > 0
    }

    /// Bytes to write now (empty if none).
    pub fn output(&self) -> &[u8] {
        &self.out[self.written..]
    }

    /// Reports a write of (part of) [`output`](Self::output).
    pub fn write_done(&mut self, result: io::Result<usize>) {
        match result {
            Ok(n) => {
                self.written = (self.written + n).min(self.out.len());
                self.tick();
            }
            Err(e) => self.connection_lost(e),
        }
    }

    /// Space to read into: the session's receive buffer, or while that is released, a small
    /// probe whose bytes are copied in.
    pub fn read_space(&mut self) -> &mut [u8] {
        // Mid-transfer a reply is on its way: read straight into a buffer.
        self.probing = self.client.receive_buffer_capacity() == 0 && self.client.in_flight() == 0;
        if self.probing {
            &mut self.probe
        } else {
            self.client.read_space()
        }
    }

    /// Frees the receive buffer when the session is idle — no reply owed, nothing received
    /// unhandled (call when a read finds nothing waiting and the task is about to sleep): an
    /// idle session then holds no read space, while one in the middle of a transfer keeps
    /// its buffer between reads.
    pub fn release_if_idle(&mut self) {
        if self.client.in_flight() == 0 {
            self.client.release_receive_buffer();
        }
    }

    /// Frees the receive buffer whenever nothing received waits in it, even in the middle of
    /// a transfer (call when a read found nothing and the task is about to sleep): of many
    /// sessions, only those holding part of a line keep a buffer while they wait, at the cost
    /// of a fresh buffer for the next read.
    pub fn release_if_empty(&mut self) {
        self.client.release_receive_buffer();
    }

    /// Reports a read into [`read_space`](Self::read_space): bytes, the end of the stream
    /// (`Ok(0)`, or TLS's `UnexpectedEof` without close_notify), nothing yet (`WouldBlock`
    /// after an input check, or a read timeout: the clock decides), or a failure.
    pub fn read_done(&mut self, result: io::Result<usize>) {
        let checking = self.wants_input_check();
        // Only a look that found nothing proves nothing is waiting; data read now may have
        // more behind it, which the next look must see before anything is written.
        self.checked = matches!(&result, Ok(0)) || (checking && result.is_err());
        match result {
            Ok(0) => self.client.handle_eof(),
            Ok(n) if self.probing => match self.probe.get(..n) {
                Some(data) => self.client.handle_input(data),
                None => {
                    let e = io::Error::other("a read returned more bytes than it was given");
                    self.connection_lost(e);
                }
            },
            Ok(n) => {
                if self.client.commit_read(n).is_err() {
                    let e = io::Error::other("a read returned more bytes than it was given");
                    self.connection_lost(e);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => self.client.handle_eof(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if checking && e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                // A socket timeout set from `read_timeout`: the core's deadline has come.
                self.tick();
                if self.client.error().is_none() && self.client.poll_timeout().is_none() {
                    self.connection_lost(e);
                }
            }
            Err(e) => self.connection_lost(e),
        }
        self.tick();
    }

    /// The connection failed: the core sees the end of the stream (so a QUIT in flight ends
    /// as `Unknown`), and the failure is what the caller is told otherwise.
    fn connection_lost(&mut self, e: io::Error) {
        if self.io_error.is_none() {
            self.io_error = Some(Error::from_io(e, self.timeout));
        }
        self.client.handle_eof();
    }

    /// When the session next needs the clock, if ever.
    pub fn deadline(&self) -> Option<Instant> {
        self.client
            .poll_timeout()
            .map(|t| self.origin + t.elapsed())
    }

    /// How long a blocking read may wait: until the session's next deadline (at least 1 ms,
    /// as `set_read_timeout` refuses zero), or `None` for no limit.
    pub fn read_timeout(&self) -> Option<Duration> {
        self.deadline().map(|d| {
            d.saturating_duration_since((self.clock)())
                .max(Duration::from_millis(1))
        })
    }

    /// Tells the session the time: call it when [`deadline`](Self::deadline) passes. The
    /// pump also calls it after every read and write, and at every step.
    pub fn tick(&mut self) {
        let now =
            crate::Instant::from_elapsed((self.clock)().saturating_duration_since(self.origin));
        self.client.handle_timeout(now);
    }

    /// Reports a finished TLS handshake.
    pub fn tls_established(&mut self, upgrade: TlsUpgrade) -> Result<()> {
        self.handshaking = false;
        match upgrade.established(&mut self.client) {
            Ok(()) => {
                self.tick();
                Ok(())
            }
            Err(e) => Err(self.fail(Error::from_session(e, self.timeout))),
        }
    }

    /// Reports a failed TLS handshake (or anything else that ends the session): the session
    /// is closed, and `error` returned.
    pub fn fail(&mut self, error: Error) -> Error {
        self.handshaking = false;
        if !error.is_recoverable() && self.closed.is_none() {
            self.closed = Some(error.to_string());
        }
        error
    }
}

impl Drop for Pump {
    fn drop(&mut self) {
        self.out.zeroize();
    }
}
