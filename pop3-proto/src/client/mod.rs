//! The client session: commands in, bytes out; bytes in, events out.
//!
//! [`Client`] owns one receive buffer, a queue of accepted commands, a queue of commands in
//! flight, the session state and what was learned (greeting, capabilities). It never does
//! I/O and never reads a clock. The driver loop is the whole contract:
//!
//! ```text
//! client.send(cmd)              -> Result<Handle, Error>   checked against the session state
//! client.poll_transmit(&mut out)                           appends what may be written now
//! client.handle_input(bytes) / read_space + commit_read / handle_eof
//! client.poll_event()           -> Result<Option<Event>, Error>   None: needs more input
//! client.poll_body() / drain_body(sink)                    optional fast paths for body bytes
//! client.poll_timeout() / handle_timeout(now)              optional deadlines and keepalive
//! ```
//!
//! Where a byte is parsed: [`Client::poll_event`] → `decode` (decode.rs) picks the parser
//! from the head of the in-flight queue (`Expect`, pending.rs), then calls into
//! [`crate::codec`].

mod config;
mod decode;
mod error;
mod event;
mod pending;
mod recv;
mod state;
mod time;
mod timers;

pub use config::{Config, Leniency, LowSpeed, Pipelining};
pub use error::{Error, LocalError, RemoteError};
pub use event::{Event, Handle, QuitOutcome};
pub use state::SessionState;
pub use time::Instant;

use crate::apop::apop_digest;
use crate::args::{Password, UserName};
use crate::codec::capa::Capabilities;
use crate::codec::dot::Unstuffer;
use crate::codec::greeting::Greeting;
use crate::command::{Command, MsgNum};
use crate::sasl::Mechanism;
use crate::text::ServerText;
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use base64::Engine as _;
use bytes::BufMut;
use decode::Reading;
use zeroize::Zeroizing;

/// Bytes that hold a credential: wiped when dropped.
pub(crate) type Secret = Zeroizing<Vec<u8>>;
use pending::{Expect, Pending, Wire};
use recv::RecvBuf;
use state::{Machine, Transition};
use timers::Timers;

/// How much of unexpected data errors quote.
const QUOTE_BYTES: usize = 64;

/// An AUTH exchange in progress.
struct SaslExchange {
    mechanism: Box<dyn Mechanism>,
    rounds: u32,
    /// An initial response too long for the AUTH line, sent at the first (empty) challenge.
    deferred_initial: Option<crate::sasl::SaslResponse>,
    /// The next response line (base64 + CRLF), waiting for `poll_transmit`.
    outgoing: Option<Secret>,
    /// Set when we sent `*`: the exchange ends in this error whatever the server answers.
    cancelled: Option<RemoteError>,
    /// Whoever started the exchange gave up on it (a dropped call): every further challenge
    /// is answered `*`, so no credential goes out for a login nobody waits for.
    abandoned: bool,
}

/// A POP3 client session, sans-IO.
///
/// ```
/// use pop3_proto::{Client, Command, Config, Event, Password, UserName};
///
/// let mut client = Client::new(Config::default());
/// let mut wire = Vec::new();
///
/// client.handle_input(b"+OK POP3 server ready\r\n");
/// assert!(matches!(client.poll_event().unwrap(), Some(Event::Greeting(_))));
///
/// client.send(Command::User(UserName::new("mrose").unwrap())).unwrap();
/// client.poll_transmit(&mut wire);
/// client.handle_input(b"+OK mrose is a real hoopy frood\r\n");
/// assert!(matches!(client.poll_event().unwrap(), Some(Event::Status { .. })));
///
/// client.send(Command::Pass(Password::new("secret").unwrap())).unwrap();
/// client.poll_transmit(&mut wire);
/// client.handle_input(b"+OK maildrop has 1 message (369 octets)\r\n");
/// client.poll_event().unwrap();
///
/// let stat = client.send(Command::Stat).unwrap();
/// client.poll_transmit(&mut wire);
/// client.handle_input(b"+OK 1 369\r\n");
/// match client.poll_event().unwrap() {
///     Some(Event::Stat { handle, stat: s }) => assert_eq!((handle, s.count, s.size), (stat, 1, 369)),
///     other => panic!("{other:?}"),
/// }
/// assert_eq!(wire, b"USER mrose\r\nPASS secret\r\nSTAT\r\n");
/// ```
pub struct Client {
    config: Config,

    recv: RecvBuf,
    reading: Reading,
    unstuffer: Unstuffer,
    /// Accepted, not yet sent.
    queue: VecDeque<Pending>,
    /// Sent, waiting for (the rest of) their reply; the head is being answered.
    in_flight: VecDeque<Pending>,
    next_handle: u64,
    /// Lines transmitted so far (commands and SASL responses).
    transmitted: u64,
    greeting: Option<Greeting>,
    capabilities: Option<Capabilities>,
    capa_building: Capabilities,
    sasl: Option<SaslExchange>,
    /// What the mechanism of the last failed AUTH reported (an OAuth error status).
    auth_failure_detail: Option<ServerText>,
    /// The protocol state; changed only through [`Client::apply`].
    machine: Machine,
    eof: bool,
    fatal: Option<RemoteError>,
    timers: Timers,
    observer: Option<fn(&Event)>,
}

impl core::fmt::Debug for Client {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("state", &self.machine.state())
            .field("queued", &self.queue.len())
            .field("in_flight", &self.in_flight.len())
            .field("buffered", &self.recv.data().len())
            .field("tls", &self.machine.tls_active())
            .field("fatal", &self.fatal)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A session for a connection that was just opened (the greeting has not arrived yet).
    ///
    /// ```
    /// # use pop3_proto::{Client, Config};
    /// let client = Client::new(Config::default());
    /// assert!(client.greeting().is_none());
    /// ```
    pub fn new(config: Config) -> Self {
        let unstuffer = Unstuffer::new(config.lenient.bare_lf);
        let machine = Machine::new(config.implicit_tls);
        Self {
            config,
            recv: RecvBuf::new(),
            reading: Reading::Status,
            unstuffer,
            queue: VecDeque::new(),
            in_flight: VecDeque::new(),
            next_handle: 1,
            transmitted: 0,
            greeting: None,
            capabilities: None,
            capa_building: Capabilities::default(),
            sasl: None,
            auth_failure_detail: None,
            machine,
            eof: false,
            fatal: None,
            timers: Timers::default(),
            observer: None,
        }
    }

    // ----- state and what was learned -------------------------------------------------------

    /// The session's state (as of the replies processed so far).
    pub fn state(&self) -> SessionState {
        self.machine.state()
    }

    /// The greeting, once received (forgotten after STLS, as it came in plaintext).
    pub fn greeting(&self) -> Option<&Greeting> {
        self.greeting.as_ref()
    }

    /// The capabilities from the last complete CAPA reply (forgotten after STLS).
    ///
    /// ```
    /// # use pop3_proto::{Client, Config};
    /// assert!(Client::new(Config::default()).capabilities().is_none());
    /// ```
    pub fn capabilities(&self) -> Option<&Capabilities> {
        self.capabilities.as_ref()
    }

    /// What the server said inside the last AUTH exchange that ended in `-ERR`, when its
    /// mechanism keeps such a thing (XOAUTH2 and OAUTHBEARER keep the server's JSON status).
    pub fn auth_failure_detail(&self) -> Option<&ServerText> {
        self.auth_failure_detail.as_ref()
    }

    /// Whether the connection is TLS (implicit, or after STLS and the handshake).
    pub fn is_tls(&self) -> bool {
        self.machine.tls_active()
    }

    /// The sticky error, if the session has failed.
    pub fn error(&self) -> Option<&RemoteError> {
        self.fatal.as_ref()
    }

    /// The settings this session runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Lets (or stops letting) the login procedures send credentials over a connection
    /// without TLS: [`Config::allow_plaintext_auth`] for a running session.
    pub fn set_allow_plaintext_auth(&mut self, allow: bool) {
        self.config.allow_plaintext_auth = allow;
    }

    /// Whether commands currently go out without waiting for earlier replies (pipelining is
    /// on, or Auto and the server listed PIPELINING).
    ///
    /// ```
    /// # use pop3_proto::{Client, Config};
    /// assert!(!Client::new(Config::default()).is_pipelining());
    /// ```
    pub fn is_pipelining(&self) -> bool {
        self.window() > 1
    }

    /// The command (PASS, APOP, RPOP, AUTH or STLS) whose reply must arrive before anything
    /// else can be sent, if any. A driver whose caller abandoned that reply reads events
    /// until this is `None` again.
    ///
    /// ```
    /// # use pop3_proto::{Client, Command, Config, Password, UserName};
    /// let mut client = Client::new(Config::default());
    /// client.send(Command::User(UserName::new("u").unwrap())).unwrap();
    /// client.send(Command::Pass(Password::new("p").unwrap())).unwrap();
    /// assert_eq!(client.awaiting_reply(), Some("PASS"));
    /// ```
    pub fn awaiting_reply(&self) -> Option<&'static str> {
        // Nothing is accepted after such a command until its reply, so it is always last.
        self.last_pending()
            .filter(|p| matches!(p.expect, Expect::Login | Expect::Stls | Expect::Sasl))
            .map(Pending::keyword)
    }

    /// QUIT was accepted: nothing more may be sent.
    fn closing(&self) -> bool {
        self.last_pending()
            .is_some_and(|p| p.expect == Expect::Quit)
            || matches!(self.state(), SessionState::Update | SessionState::Closed)
    }

    /// The command accepted last that is still queued or in flight.
    fn last_pending(&self) -> Option<&Pending> {
        self.queue.back().or(self.in_flight.back())
    }

    /// The messages the server confirmed as marked deleted (`+OK` to DELE) and that no RSET
    /// has restored: what a `+OK` to QUIT will remove. Tracked by the session, whoever sent
    /// the DELE (a batch abandoned midway included).
    ///
    /// ```
    /// use pop3_proto::{Client, Command, Config};
    /// # let mut client = Client::new(Config::default());
    /// # client.handle_input(b"+OK\r\n"); client.poll_event().unwrap();
    /// # client.send(Command::User(pop3_proto::UserName::new("u").unwrap())).unwrap();
    /// # client.poll_transmit(&mut Vec::new()); client.handle_input(b"+OK\r\n"); client.poll_event().unwrap();
    /// # client.send(Command::Pass(pop3_proto::Password::new("p").unwrap())).unwrap();
    /// # client.poll_transmit(&mut Vec::new()); client.handle_input(b"+OK\r\n"); client.poll_event().unwrap();
    /// client.send(Command::Dele(2.try_into().unwrap())).unwrap();
    /// client.poll_transmit(&mut Vec::new());
    /// client.handle_input(b"+OK message 2 deleted\r\n");
    /// client.poll_event().unwrap();
    /// assert_eq!(client.marked_deleted().map(|m| m.get()).collect::<Vec<_>>(), [2]);
    /// ```
    pub fn marked_deleted(&self) -> impl Iterator<Item = MsgNum> + '_ {
        self.machine
            .deleted()
            .iter()
            .filter_map(|&n| MsgNum::new(n))
    }

    /// Withdraws every command accepted but not yet handed to
    /// [`poll_transmit`](Self::poll_transmit), and returns how many.
    ///
    /// A caller that abandons what it was doing (a dropped future, an early return) calls
    /// this so that nothing it queued — a PASS, a DELE, a QUIT — goes out afterwards.
    /// Commands already transmitted stay in flight: their replies still arrive, in order.
    /// [`crate::procedures`] do this when they start.
    ///
    /// ```
    /// use pop3_proto::{Client, Command, Config};
    /// let mut client = Client::new(Config::default());
    /// client.send(Command::Capa).unwrap();
    /// client.send(Command::Quit).unwrap();
    /// assert_eq!(client.retract_unsent(), 2);
    /// client.handle_input(b"+OK\r\n");
    /// client.poll_event().unwrap();
    /// let mut out = Vec::new();
    /// assert_eq!(client.poll_transmit(&mut out), 0);
    /// client.send(Command::Capa).unwrap(); // QUIT was withdrawn: the session is open
    /// ```
    pub fn retract_unsent(&mut self) -> usize {
        if self.queue.iter().any(|p| p.expect == Expect::Sasl) {
            self.sasl = None;
        } else if let Some(exchange) = self.sasl.as_mut() {
            // AUTH is out: answer what remains of it with `*`, never with a credential.
            exchange.abandoned = true;
            exchange.deferred_initial = None;
            if exchange.outgoing.is_some() {
                exchange.outgoing = Some(Secret::new(b"*\r\n".to_vec()));
            }
        }
        let before = self.queue.len();
        // The session's own keepalive NOOP stays: it is nobody's to withdraw.
        self.queue.retain(|p| p.expect == Expect::KeepAlive);
        before - self.queue.len()
    }

    /// The handle the next accepted command will get: every event of a command accepted
    /// before this point has a smaller handle.
    pub fn next_handle(&self) -> Handle {
        Handle(self.next_handle)
    }

    /// Commands accepted but not yet sent.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Commands sent and still waiting for (the end of) their reply.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// How many more commands could be accepted now and still go out at the next
    /// [`poll_transmit`](Self::poll_transmit) without waiting for a reply: the pipelining
    /// window minus what is queued or in flight (0 or 1 when not pipelining). Batches queue
    /// only this many, so their unsent rest stays with them, not in the session.
    ///
    /// ```
    /// use pop3_proto::{Client, Command, Config};
    /// let mut client = Client::new(Config::default());
    /// assert_eq!(client.window_room(), 1); // not pipelining (yet)
    /// client.send(Command::Capa).unwrap();
    /// assert_eq!(client.window_room(), 0);
    /// ```
    pub fn window_room(&self) -> usize {
        self.window()
            .saturating_sub(self.queue.len() + self.in_flight.len())
    }

    /// Frees the receive buffer if it holds nothing not yet handled, so a session waiting
    /// for its server holds no read space (thousands of mostly idle sessions then cost a few
    /// KiB each); the next [`read_space`](Self::read_space) or
    /// [`handle_input`](Self::handle_input) allocates again. Returns whether it was freed.
    ///
    /// ```
    /// use pop3_proto::{Client, Config};
    /// let mut client = Client::new(Config::default());
    /// let _ = client.read_space();
    /// assert!(client.receive_buffer_capacity() > 0);
    /// assert!(client.release_receive_buffer());
    /// assert_eq!(client.receive_buffer_capacity(), 0);
    /// ```
    pub fn release_receive_buffer(&mut self) -> bool {
        self.recv.release()
    }

    /// Capacity of the receive buffer in bytes (for monitoring memory bounds).
    pub fn receive_buffer_capacity(&self) -> usize {
        self.recv.capacity()
    }

    // ----- sending ------------------------------------------------------------------------

    /// Accepts a command for sending, after checking it against the state the session will be
    /// in when it goes out. Nothing is written until [`poll_transmit`](Self::poll_transmit).
    ///
    /// Errors: a [`LocalError`] (nothing changed; the session is still usable), or the
    /// session's sticky [`RemoteError`].
    ///
    /// ```
    /// use pop3_proto::{Client, Command, Config, Error, LocalError, Password};
    /// let mut client = Client::new(Config::default());
    /// let err = client.send(Command::Pass(Password::new("pw").unwrap())).unwrap_err();
    /// assert_eq!(err, Error::Local(LocalError::NeedsUser { command: "PASS" }));
    /// ```
    pub fn send(&mut self, command: Command) -> Result<Handle, Error> {
        self.check_open()?;
        self.check_allowed(&command)?;
        let length = command.encoded_len();
        if length > self.config.max_command_length {
            return Err(LocalError::CommandTooLong {
                command: command.keyword(),
                length,
                limit: self.config.max_command_length,
            }
            .into());
        }
        let expect = Expect::of(&command);
        Ok(self.enqueue(Wire::Command(command), expect))
    }

    /// Sends `APOP name digest`, computing the digest from the greeting's timestamp.
    ///
    /// Refused locally (nothing sent) when the greeting had no strictly valid timestamp
    /// (BAD-INPUT row 44). APOP's MD5 is weak: prefer SASL or USER/PASS over TLS.
    ///
    /// ```
    /// use pop3_proto::{Client, Config, Password, UserName};
    ///
    /// let mut client = Client::new(Config::default());
    /// client.handle_input(b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n");
    /// client.poll_event().unwrap();
    /// client.apop(UserName::new("mrose").unwrap(), &Password::new("tanstaaf").unwrap()).unwrap();
    /// let mut out = Vec::new();
    /// client.poll_transmit(&mut out);
    /// assert_eq!(out, b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n");
    /// ```
    pub fn apop(&mut self, name: UserName, secret: &Password) -> Result<Handle, Error> {
        self.check_open()?;
        self.check_login_allowed("APOP")?;
        let timestamp = self
            .greeting
            .as_ref()
            .and_then(Greeting::apop_timestamp)
            .ok_or(LocalError::NoApopTimestamp)?;
        // The digest lets anyone who sees it try passwords offline: wiped after use.
        let digest = Zeroizing::new(apop_digest(timestamp, secret.as_bytes()));
        let mut line = Secret::new(Vec::with_capacity(name.as_bytes().len() + 40));
        crate::command::line(
            &mut crate::command::BufSink(&mut *line),
            b"APOP",
            &[name.as_bytes(), &digest[..]],
        );
        self.check_length("APOP", line.len())?;
        Ok(self.enqueue(
            Wire::Encoded {
                keyword: "APOP",
                line,
            },
            Expect::Login,
        ))
    }

    /// Starts an AUTH exchange (RFC 5034) driven by `mechanism`.
    ///
    /// The session sends the initial response with AUTH when it fits in the command limit
    /// (`=` for an empty one) and otherwise at the server's first empty challenge; answers
    /// each challenge through the mechanism; cancels with `*` and fails on a malformed
    /// challenge or too many rounds; and on `+OK` asks the mechanism whether the server
    /// proved itself. The result is a [`Event::Status`] for the returned handle.
    ///
    /// ```
    /// use pop3_proto::{Client, Config, Event, sasl::Plain};
    ///
    /// let mut client = Client::new(Config::default());
    /// client.handle_input(b"+OK ready\r\n");
    /// client.poll_event().unwrap();
    /// let auth = client.authenticate(Box::new(Plain::new(None, "tim", "tanstaaf").unwrap())).unwrap();
    /// let mut out = Vec::new();
    /// client.poll_transmit(&mut out);
    /// assert_eq!(out, b"AUTH PLAIN AHRpbQB0YW5zdGFhZg==\r\n");
    /// client.handle_input(b"+OK maildrop locked and ready\r\n");
    /// assert!(matches!(client.poll_event().unwrap(), Some(Event::Status { handle, status }) if handle == auth && status.is_ok()));
    /// ```
    pub fn authenticate(&mut self, mut mechanism: Box<dyn Mechanism>) -> Result<Handle, Error> {
        self.check_open()?;
        self.check_login_allowed("AUTH")?;
        let name = mechanism.name();
        let initial = mechanism.initial_response().map_err(LocalError::Sasl)?;
        let mut line = Secret::new(Vec::new());
        line.extend_from_slice(b"AUTH ");
        line.extend_from_slice(name.as_str().as_bytes());
        let bare_len = line.len() + 2;
        self.check_length("AUTH", bare_len)?;
        let mut deferred_initial = None;
        if let Some(initial) = initial {
            line.push(b' ');
            if initial.as_bytes().is_empty() {
                line.push(b'=');
            } else {
                let encoded = Secret::new(
                    base64::engine::general_purpose::STANDARD
                        .encode(initial.as_bytes())
                        .into_bytes(),
                );
                line.extend_from_slice(&encoded);
            }
            if line.len() + 2 > self.config.max_command_length {
                // RFC 5034 §4: too long for the AUTH line; wait for the empty challenge.
                line.truncate(bare_len - 2);
                deferred_initial = Some(initial);
            }
        }
        line.extend_from_slice(b"\r\n");
        let handle = self.enqueue(
            Wire::Encoded {
                keyword: "AUTH",
                line,
            },
            Expect::Sasl,
        );
        self.sasl = Some(SaslExchange {
            mechanism,
            rounds: 0,
            deferred_initial,
            outgoing: None,
            cancelled: None,
            abandoned: false,
        });
        Ok(handle)
    }

    fn check_open(&self) -> Result<(), Error> {
        if let Some(e) = &self.fatal {
            return Err(e.clone().into());
        }
        if self.closing() {
            return Err(LocalError::Closed.into());
        }
        if let Some(command) = self.awaiting_reply() {
            return Err(LocalError::AwaitingReply { command }.into());
        }
        Ok(())
    }

    fn check_length(&self, command: &'static str, length: usize) -> Result<(), LocalError> {
        if length > self.config.max_command_length {
            return Err(LocalError::CommandTooLong {
                command,
                length,
                limit: self.config.max_command_length,
            });
        }
        Ok(())
    }

    /// The state commands will meet: the greeting and a TLS handshake lead to AUTHORIZATION.
    fn projected_state(&self) -> SessionState {
        match self.state() {
            SessionState::Greeting | SessionState::TlsHandshake => SessionState::Authorization,
            s => s,
        }
    }

    fn check_login_allowed(&self, command: &'static str) -> Result<(), LocalError> {
        let state = self.projected_state();
        if state != SessionState::Authorization {
            return Err(LocalError::WrongState {
                command,
                state,
                hint: "; you are already logged in",
            });
        }
        Ok(())
    }

    fn check_allowed(&self, command: &Command) -> Result<(), LocalError> {
        use SessionState as S;
        let state = self.projected_state();
        let keyword = command.keyword();
        let wrong = |hint| LocalError::WrongState {
            command: keyword,
            state,
            hint,
        };
        match command {
            Command::User(_) | Command::Utf8 => {
                if state != S::Authorization {
                    return Err(wrong(""));
                }
            }
            Command::Pass(_) | Command::Rpop(_) => {
                self.check_login_allowed(keyword)?;
                // After a USER that was accepted or is still pending (never after a refused
                // one); the queues are short in AUTHORIZATION.
                let after_user = self.machine.user_accepted()
                    || self
                        .queue
                        .iter()
                        .chain(&self.in_flight)
                        .any(|p| p.keyword() == "USER");
                if !after_user {
                    return Err(LocalError::NeedsUser { command: keyword });
                }
            }
            Command::Stls => {
                if state != S::Authorization {
                    return Err(wrong("; STLS must come before logging in"));
                }
                if self.machine.tls_active() {
                    return Err(LocalError::TlsAlreadyActive {
                        reason: "the connection already uses TLS",
                    });
                }
                if self.machine.stls_used() {
                    return Err(LocalError::TlsAlreadyActive {
                        reason: "STLS was already sent on this connection",
                    });
                }
            }
            Command::Stat
            | Command::List(_)
            | Command::Retr(_)
            | Command::Top { .. }
            | Command::Dele(_)
            | Command::Noop
            | Command::Rset
            | Command::Uidl(_) => {
                if state != S::Transaction {
                    return Err(wrong("; log in first"));
                }
            }
            Command::Capa | Command::Lang(_) | Command::Quit | Command::Raw { .. } => {}
        }
        Ok(())
    }

    fn enqueue(&mut self, wire: Wire, expect: Expect) -> Handle {
        let handle = Handle(self.next_handle);
        self.next_handle += 1;
        self.queue.push_back(Pending {
            handle,
            wire,
            expect,
            seq: 0,
        });
        handle
    }

    /// How many commands may be in flight at once.
    fn window(&self) -> usize {
        let pipelined = match self.config.pipelining {
            Pipelining::Off => false,
            Pipelining::Auto => self.capabilities.as_ref().is_some_and(|c| c.pipelining),
            Pipelining::On => true,
        };
        if pipelined {
            self.config.max_in_flight.max(1)
        } else {
            1
        }
    }

    /// Bare LF as a line end only if asked for and never while pipelining.
    fn bare_lf(&self) -> bool {
        self.config.lenient.bare_lf && self.window() == 1
    }

    /// Appends every line that may be written now to `out`, and returns how many bytes.
    ///
    /// Respects the pipelining window and barriers: STLS, AUTH and QUIT wait until nothing
    /// else is in flight, and nothing follows them (or PASS, APOP, RPOP) until they are
    /// answered. Writes nothing before
    /// the greeting, during a TLS handshake, or after an error. Stops early rather than
    /// overflow a fixed-size `out`.
    ///
    /// ```
    /// use pop3_proto::{Client, Command, Config, Pipelining};
    /// use core::num::NonZeroU32;
    ///
    /// let mut config = Config::default();
    /// config.pipelining = Pipelining::On;
    /// let mut client = Client::new(config);
    /// client.handle_input(b"+OK\r\n");
    /// client.poll_event().unwrap();
    /// // (log in first in real life; CAPA is valid in any state)
    /// client.send(Command::Capa).unwrap();
    /// client.send(Command::Capa).unwrap();
    /// let mut out = Vec::new();
    /// assert_eq!(client.poll_transmit(&mut out), 12);
    /// assert_eq!(out, b"CAPA\r\nCAPA\r\n");
    /// ```
    pub fn poll_transmit(&mut self, out: &mut impl BufMut) -> usize {
        if self.fatal.is_some()
            || matches!(
                self.state(),
                SessionState::Greeting | SessionState::TlsHandshake | SessionState::Closed
            )
        {
            return 0;
        }
        let mut written = 0;
        if let Some(sasl) = &mut self.sasl {
            if let Some(line) = sasl.outgoing.take() {
                if out.remaining_mut() < line.len() {
                    sasl.outgoing = Some(line);
                    return 0;
                }
                out.put_slice(&line);
                self.transmitted += 1;
                if let Some(head) = self.in_flight.front_mut() {
                    head.seq = self.transmitted;
                }
                self.timers.note_activity();
                return line.len();
            }
        }
        // Once per call, then kept up to date: the window may hold a thousand commands.
        let mut unanswered: usize = self.in_flight.iter().map(Pending::encoded_len).sum();
        // The window refills in halves: commands go out in batches of at least half of it,
        // not one per reply, so the server reads (and, over TLS, decrypts) a few large writes
        // instead of one small one per message.
        if !self.in_flight.is_empty() && unanswered > self.config.max_in_flight_bytes / 2 {
            return 0;
        }
        let mut barrier_in_flight = self.in_flight.iter().any(|p| p.expect.blocks_later());
        while let Some(next) = self.queue.front() {
            let len = next.encoded_len();
            if barrier_in_flight
                || (next.expect.is_barrier() && !self.in_flight.is_empty())
                || self.in_flight.len() >= self.window()
                || (!self.in_flight.is_empty()
                    && unanswered + len > self.config.max_in_flight_bytes)
            {
                break;
            }
            if out.remaining_mut() < len {
                break;
            }
            unanswered += len;
            let Some(mut pending) = self.queue.pop_front() else {
                break;
            };
            pending.encode(out);
            written += len;
            self.transmitted += 1;
            pending.seq = self.transmitted;
            barrier_in_flight |= pending.expect.blocks_later();
            let transition = match pending.expect {
                Expect::Quit => Some(Transition::QuitSent),
                Expect::Sasl => Some(Transition::SaslStarted),
                _ => None,
            };
            self.in_flight.push_back(pending);
            if let Some(t) = transition {
                if self.apply(t).is_err() {
                    return written;
                }
            }
        }
        if written > 0 {
            self.timers.note_activity();
        }
        written
    }

    // ----- receiving ----------------------------------------------------------------------

    /// Hands received bytes to the session (they are copied into its receive buffer).
    ///
    /// To avoid that copy, read into [`read_space`](Self::read_space) instead.
    pub fn handle_input(&mut self, data: &[u8]) {
        if self.ignores_input() || data.is_empty() {
            return;
        }
        self.recv
            .extend(data, self.config.max_line_length, self.transmitted);
        self.after_input(data.len());
    }

    /// Space in the receive buffer to read into directly (at least `Config::read_size`
    /// bytes); follow with [`commit_read`](Self::commit_read).
    ///
    /// ```
    /// use pop3_proto::{Client, Config, Event};
    ///
    /// let mut client = Client::new(Config::default());
    /// let space = client.read_space();
    /// space[..5].copy_from_slice(b"+OK\r\n"); // a driver would `read(space)` here
    /// client.commit_read(5).unwrap();
    /// assert!(matches!(client.poll_event().unwrap(), Some(Event::Greeting(_))));
    /// ```
    pub fn read_space(&mut self) -> &mut [u8] {
        self.recv
            .space(self.config.read_size.max(1), self.config.max_line_length)
    }

    /// Marks `n` bytes written into [`read_space`](Self::read_space) as received.
    pub fn commit_read(&mut self, n: usize) -> Result<(), LocalError> {
        let available = self.recv.spare();
        if n > available {
            return Err(LocalError::CommitTooLarge {
                committed: n,
                available,
            });
        }
        if self.ignores_input() || n == 0 {
            return Ok(());
        }
        self.recv.commit(n, self.transmitted);
        self.after_input(n);
        Ok(())
    }

    /// Tells the session the connection ended (a read returned 0 bytes, or TLS closed).
    ///
    /// A reply cut short becomes [`RemoteError::Truncated`]; a QUIT without reply becomes
    /// [`QuitOutcome::Unknown`]. Delivered through [`poll_event`](Self::poll_event).
    pub fn handle_eof(&mut self) {
        self.eof = true;
    }

    fn ignores_input(&self) -> bool {
        self.fatal.is_some() || self.state() == SessionState::Closed
    }

    fn after_input(&mut self, n: usize) {
        self.timers.note_received(n);
        if self.state() == SessionState::TlsHandshake {
            // Plaintext while TLS is being set up: never TLS data, possibly an injection.
            let data = quote(self.recv.data());
            self.fail(RemoteError::DataAfterStls { data });
        }
    }

    /// Makes `error` the session's sticky error: nothing more is sent or decoded.
    pub(crate) fn fail(&mut self, error: RemoteError) -> RemoteError {
        self.fatal = Some(error.clone());
        self.queue.clear();
        self.in_flight.clear();
        self.sasl = None;
        self.recv.clear();
        self.timers.clear();
        error
    }

    /// Moves the session through the one transition function. A transition it has no rule
    /// for is a bug in this crate: the session fails (sticky) rather than guess.
    pub(super) fn apply(&mut self, t: Transition) -> Result<(), RemoteError> {
        match self.machine.apply(t) {
            Ok(()) => Ok(()),
            Err(invalid) => {
                debug_assert!(false, "invalid transition {invalid:?}");
                Err(self.fail(RemoteError::InternalState {
                    state: invalid.from,
                    transition: invalid.transition.name(),
                }))
            }
        }
    }

    /// The next event, `Ok(None)` when more input is needed.
    ///
    /// After a [`RemoteError`], returns the same error forever.
    pub fn poll_event(&mut self) -> Result<Option<Event>, Error> {
        if let Some(e) = &self.fatal {
            return Err(e.clone().into());
        }
        match self.decode() {
            Ok(event) => {
                if let (Some(observe), Some(event)) = (self.observer, &event) {
                    observe(event);
                }
                Ok(event)
            }
            Err(e) => Err(self.fail(e).into()),
        }
    }

    /// The next run of body bytes when the receive buffer starts with one: the
    /// [`Event::BodyChunk`] that [`poll_event`](Self::poll_event) would return, as a
    /// `(handle, bytes)` pair, without building and moving a whole [`Event`]. `None` means
    /// "not a body chunk now": call `poll_event`, which reports everything else — the end of
    /// the body, a partial line waiting for more input, errors. The hot loop of a streamed
    /// body:
    ///
    /// ```
    /// use pop3_proto::{Client, Command, Config, Event};
    /// # let mut client = Client::new(Config::default());
    /// # client.handle_input(b"+OK\r\n"); client.poll_event().unwrap();
    /// # client.send(Command::User("u".try_into().unwrap())).unwrap(); client.poll_transmit(&mut Vec::new());
    /// # client.handle_input(b"+OK\r\n"); client.poll_event().unwrap();
    /// # client.set_allow_plaintext_auth(true);
    /// # client.send(Command::Pass("p".try_into().unwrap())).unwrap(); client.poll_transmit(&mut Vec::new());
    /// # client.handle_input(b"+OK\r\n"); client.poll_event().unwrap();
    /// client.send(Command::Retr(1.try_into().unwrap())).unwrap();
    /// client.poll_transmit(&mut Vec::new());
    /// client.handle_input(b"+OK\r\nHello\r\n..dots\r\n.\r\n");
    /// let mut body = Vec::new();
    /// loop {
    ///     while let Some((_, data)) = client.poll_body() {
    ///         body.extend_from_slice(&data);
    ///     }
    ///     match client.poll_event().unwrap() {
    ///         Some(Event::BodyChunk { data, .. }) => body.extend_from_slice(&data),
    ///         Some(Event::MultiEnd { .. }) => break,
    ///         _ => {}
    ///     }
    /// }
    /// assert_eq!(body, b"Hello\r\n.dots\r\n");
    /// ```
    ///
    /// An [observer](Self::set_observer) sees each chunk as the [`Event::BodyChunk`] that
    /// `poll_event` would have handed out.
    #[inline]
    pub fn poll_body(&mut self) -> Option<(Handle, bytes::Bytes)> {
        if self.fatal.is_some() {
            return None;
        }
        let (handle, n) = self.body_run()?;
        let data = self.recv.split_to(n);
        let Some(observe) = self.observer else {
            return Some((handle, data));
        };
        let event = Event::BodyChunk { handle, data };
        observe(&event);
        let Event::BodyChunk { handle, data } = event else {
            unreachable!("built as a body chunk just above")
        };
        Some((handle, data))
    }

    /// Hands every run of body bytes waiting in the receive buffer to `sink`, **borrowed**,
    /// with the reply it belongs to: the runs [`poll_body`](Self::poll_body) would return,
    /// without a `Bytes` or a reference count per run (httparse-style zero-alloc reading, for
    /// a consumer that copies, hashes or writes the bytes at once: a WASM host copying out,
    /// a file writer, a checksum).
    ///
    /// Returns how many body bytes went to `sink`. Then [`poll_event`](Self::poll_event)
    /// reports what the buffer starts with (the end of the body, a partial line waiting for
    /// more input, another reply, an error). Stops at the first error of `sink` and returns
    /// it; the run it was given counts as consumed (and a sink that panics leaves the
    /// session in step the same way). The count is not returned with an error: a sink that
    /// needs it counts for itself.
    ///
    /// ```
    /// use pop3_proto::{Client, Command, Config, Event};
    /// # let mut client = Client::new(Config::default());
    /// # client.handle_input(b"+OK\r\n"); client.poll_event().unwrap();
    /// # client.send(Command::User("u".try_into().unwrap())).unwrap(); client.poll_transmit(&mut Vec::new());
    /// # client.handle_input(b"+OK\r\n"); client.poll_event().unwrap();
    /// # client.set_allow_plaintext_auth(true);
    /// # client.send(Command::Pass("p".try_into().unwrap())).unwrap(); client.poll_transmit(&mut Vec::new());
    /// # client.handle_input(b"+OK\r\n"); client.poll_event().unwrap();
    /// client.send(Command::Retr(1.try_into().unwrap())).unwrap();
    /// client.poll_transmit(&mut Vec::new());
    /// client.handle_input(b"+OK\r\nHello\r\n..dots\r\n.\r\n");
    /// let mut body = Vec::new();
    /// loop {
    ///     client.drain_body(|_, run| {
    ///         body.extend_from_slice(run);
    ///         Ok::<(), core::convert::Infallible>(())
    ///     }).unwrap();
    ///     match client.poll_event().unwrap() {
    ///         Some(Event::BodyChunk { data, .. }) => body.extend_from_slice(&data),
    ///         Some(Event::MultiEnd { .. }) => break,
    ///         _ => {}
    ///     }
    /// }
    /// assert_eq!(body, b"Hello\r\n.dots\r\n");
    /// ```
    ///
    /// An [observer](Self::set_observer) sees each run as an [`Event::BodyChunk`]; building
    /// those costs what `poll_body` costs.
    pub fn drain_body<E>(
        &mut self,
        mut sink: impl FnMut(Handle, &[u8]) -> Result<(), E>,
    ) -> Result<u64, E> {
        if self.fatal.is_some() {
            return Ok(0);
        }
        if self.observer.is_none() {
            let Some(handle) = self.body_handle() else {
                return Ok(0);
            };
            let (drained, result) = self
                .recv
                .drain_runs(&mut self.unstuffer, &mut |run| sink(handle, run));
            return result.map(|()| drained);
        }
        // The observer needs each run as an event: the poll_body way.
        let mut total = 0;
        while let Some((handle, data)) = self.poll_body() {
            total += data.len() as u64;
            sink(handle, &data)?;
        }
        Ok(total)
    }

    /// Calls `observer` with every event [`poll_event`](Self::poll_event) hands out, and
    /// with every body run [`poll_body`](Self::poll_body) and
    /// [`drain_body`](Self::drain_body) hand out as the [`Event::BodyChunk`] it would have
    /// been — whoever takes it, a procedure included. For protocol traces (the drivers log
    /// through it); `None` removes it.
    ///
    /// ```
    /// use pop3_proto::{Client, Config, Event};
    /// let mut client = Client::new(Config::default());
    /// client.set_observer(Some(|event: &Event| assert!(matches!(event, Event::Greeting(_)))));
    /// client.handle_input(b"+OK\r\n");
    /// client.poll_event().unwrap();
    /// ```
    pub fn set_observer(&mut self, observer: Option<fn(&Event)>) {
        self.observer = observer;
    }

    // ----- TLS ----------------------------------------------------------------------------

    /// Tells the session the TLS handshake after [`Event::UpgradeToTls`] succeeded.
    ///
    /// Forgets the greeting and capabilities learned in plaintext (an attacker could have
    /// forged them; BAD-INPUT row 39): send CAPA again.
    ///
    /// ```
    /// use pop3_proto::{Client, Command, Config, Event};
    ///
    /// let mut client = Client::new(Config::default());
    /// client.handle_input(b"+OK\r\n");
    /// client.poll_event().unwrap();
    /// client.send(Command::Stls).unwrap();
    /// client.poll_transmit(&mut Vec::new());
    /// client.handle_input(b"+OK begin TLS\r\n");
    /// assert!(matches!(client.poll_event().unwrap(), Some(Event::UpgradeToTls { .. })));
    /// // ... the driver does the handshake ...
    /// client.tls_established().unwrap();
    /// assert!(client.is_tls() && client.greeting().is_none());
    /// ```
    pub fn tls_established(&mut self) -> Result<(), Error> {
        if let Some(e) = &self.fatal {
            return Err(e.clone().into());
        }
        if self.state() != SessionState::TlsHandshake {
            return Err(LocalError::NoTlsUpgradePending.into());
        }
        self.apply(Transition::TlsEstablished)?;
        self.greeting = None;
        self.capabilities = None;
        self.timers.note_activity();
        Ok(())
    }

    // ----- time ---------------------------------------------------------------------------

    /// When the session next needs [`handle_timeout`](Self::handle_timeout), if ever.
    ///
    /// ```
    /// use pop3_proto::{Client, Config, Instant, Error, RemoteError};
    /// use core::time::Duration;
    ///
    /// let mut config = Config::default();
    /// config.response_timeout = Some(Duration::from_secs(10));
    /// let mut client = Client::new(config);
    /// client.handle_timeout(Instant::ZERO); // arms the greeting deadline
    /// let deadline = client.poll_timeout().unwrap();
    /// assert_eq!(deadline, Instant::from_elapsed(Duration::from_secs(10)));
    /// client.handle_timeout(deadline);
    /// assert!(matches!(client.poll_event(), Err(Error::Remote(RemoteError::Timeout { .. }))));
    /// assert_eq!(client.poll_timeout(), None);
    /// ```
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_deadline(self.config.low_speed)
    }

    /// Tells the session the time: fires deadlines that have passed and arms new ones.
    ///
    /// Call it when [`poll_timeout`](Self::poll_timeout)'s instant arrives, and also after
    /// each write and read: deadlines are measured from the last call that followed I/O, so
    /// calling it only when the timer fires makes them lenient by up to one interval.
    /// After it returns, `poll_timeout` is later than `now` or `None`: it never repeats a
    /// deadline that was handled.
    ///
    /// What fires: the response timeout ([`RemoteError::Timeout`]; for a QUIT, the outcome
    /// [`QuitOutcome::Unknown`] instead), the low-speed limit ([`RemoteError::TooSlow`]),
    /// and the keepalive (a NOOP is queued).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.fatal.is_some() || self.state() == SessionState::Closed || self.eof {
            self.timers.clear();
            return;
        }
        let state = self.state();
        let reply = match state {
            SessionState::Greeting => Some("waiting for the greeting"),
            SessionState::TlsHandshake => Some("waiting for the TLS handshake"),
            _ if !self.in_flight.is_empty() => Some("waiting for a reply"),
            _ => None,
        };
        let waiting = timers::Waiting {
            reply,
            counts_bytes: state != SessionState::TlsHandshake,
            idle: state == SessionState::Transaction
                && self.in_flight.is_empty()
                && self.queue.is_empty(),
        };
        let fired = self.timers.on_time(
            now,
            waiting,
            self.config.response_timeout,
            self.config.keepalive_interval,
            self.config.low_speed,
        );
        let quit_in_flight = self
            .in_flight
            .front()
            .is_some_and(|p| p.expect == Expect::Quit);
        match fired {
            timers::Fired::Nothing => {}
            // The QUIT's fate is unknown, not an error (BAD-INPUT row 16).
            timers::Fired::Timeout(_) | timers::Fired::TooSlow(_) if quit_in_flight => {
                self.eof = true;
            }
            timers::Fired::Timeout(waiting_for) => {
                self.fail(RemoteError::Timeout { waiting_for });
            }
            timers::Fired::TooSlow(limit) => {
                self.fail(RemoteError::TooSlow {
                    bytes_per_second: limit.bytes_per_second,
                    time: limit.time,
                });
            }
            timers::Fired::KeepAlive => {
                self.enqueue(Wire::KeepAlive, Expect::KeepAlive);
            }
        }
    }
}

fn quote(data: &[u8]) -> ServerText {
    ServerText::from_slice(&data[..data.len().min(QUOTE_BYTES)])
}
