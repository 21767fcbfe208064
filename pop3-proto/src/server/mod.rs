//! The server role: client bytes in, typed requests out, replies written by the session.
//!
//! [`Server`] keeps RFC 1939's rules itself — AUTHORIZATION → TRANSACTION → UPDATE, deleted
//! messages hidden from STAT/LIST/UIDL/RETR/TOP and restored by RSET, nothing removed unless
//! QUIT arrives in TRANSACTION — and answers CAPA, STAT, LIST, UIDL, DELE, RSET and NOOP on
//! its own from the listing the host gave at login. What needs the host is a [`Request`]:
//! credentials to check, a body to stream, deletions to commit, a TLS handshake to do. The
//! loop is the client's:
//!
//! ```text
//! server.greet(entropy)                       once: the greeting (APOP timestamp from entropy)
//! server.handle_input(bytes) / read_space + commit_read / handle_eof
//! server.poll_request()    -> Option<Request>  answer it through the methods it names
//! server.poll_transmit(&mut out)               write what it appends
//! server.poll_timeout() / handle_timeout(now)  the autologout timer
//! ```
//!
//! Hostile clients are expected: a command line over the limit is refused and the connection
//! closed; NUL, a bare CR or a bare LF make a line `-ERR`, never two commands; while a reply
//! is pending or more than [`ServerConfig::max_output`] bytes wait to be written, no more
//! input is taken ([`wants_input`](Server::wants_input) is false: backpressure, not memory
//! growth); plaintext pipelined after STLS is discarded, never executed inside TLS; failed
//! logins end the session after [`ServerConfig::max_login_failures`].
//!
//! ```
//! use pop3_proto::server::{MessageInfo, Request, Server, ServerConfig};
//!
//! let mut config = ServerConfig::default();
//! config.allow_plaintext_auth = true; // a test on loopback
//! let mut server = Server::new(config);
//! let mut wire = Vec::new();
//! server.greet(b"entropy");
//! server.handle_input(b"USER alice\r\nPASS secret\r\n");
//! let Some(Request::Login { user, password, .. }) = server.poll_request() else { panic!() };
//! assert_eq!((user.as_slice(), password.as_bytes()), (&b"alice"[..], &b"secret"[..]));
//! server.accept_login(vec![MessageInfo::new(5, b"uid-1")]);
//! server.handle_input(b"RETR 1\r\n");
//! let Some(Request::Retr { index, .. }) = server.poll_request() else { panic!() };
//! assert_eq!(index, 0);
//! server.body(b"Hi!\r\n");
//! server.end_body();
//! server.poll_transmit(&mut wire);
//! assert!(wire.ends_with(b"+OK 5 octets\r\nHi!\r\n.\r\n"));
//! ```

mod config;

pub use config::ServerConfig;

use crate::apop::apop_digest;
use crate::args::Password;
use crate::client::Instant;
use crate::codec::dot::DotStuffer;
use crate::codec::greeting::ApopTimestamp;
use crate::codec::request::{parse_request, RequestError, RequestLine};
use crate::codec::status::ResponseCode;
use crate::command::MsgNum;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use base64::Engine as _;
use bytes::{Buf, BufMut, BytesMut};
use core::fmt::Write as _;

/// One message of the maildrop, as the host lists it at login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageInfo {
    /// Its size in octets, as sent (CRLF line ends, before dot-stuffing).
    pub size: u64,
    /// Its unique id (1–70 characters 0x21–0x7E, RFC 1939 §7).
    pub uid: Vec<u8>,
}

impl MessageInfo {
    /// A message of `size` octets with unique id `uid`.
    pub fn new(size: u64, uid: &[u8]) -> Self {
        Self {
            size,
            uid: uid.to_vec(),
        }
    }
}

/// What the host must answer.
#[derive(Debug)]
#[non_exhaustive]
pub enum Request {
    /// Credentials to check (USER/PASS or SASL PLAIN): answer with
    /// [`Server::accept_login`] (the maildrop's listing) or [`Server::reject_login`]. A host
    /// that rate-limits failures answers with [`ResponseCode::LoginDelay`] or `Auth`.
    Login {
        /// The user name, as sent.
        user: Vec<u8>,
        /// The password.
        password: Password,
        /// How it came: `"USER/PASS"` or `"PLAIN"`.
        method: &'static str,
    },
    /// APOP: check with [`Server::apop_matches`] and the user's secret, then accept or
    /// reject as for `Login`.
    Apop {
        /// The user name, as sent.
        user: Vec<u8>,
        /// The client's digest (32 lowercase hex characters).
        digest: [u8; 32],
    },
    /// Stream message `index` of the listing: [`Server::body`] as often as it asks, then
    /// [`Server::end_body`] (or [`Server::refuse`]).
    Retr {
        /// The message number the client used.
        msg: MsgNum,
        /// Its index in the listing given at login.
        index: usize,
    },
    /// As `Retr`, for TOP: send the whole message; the session cuts it after the header and
    /// `lines` body lines ([`Server::body`] returns `false` once it has enough).
    Top {
        /// The message number the client used.
        msg: MsgNum,
        /// Its index in the listing.
        index: usize,
        /// How many body lines.
        lines: u32,
    },
    /// QUIT in TRANSACTION: remove these messages (indices into the listing) and answer
    /// [`Server::update_done`]. Only this request ever removes anything.
    Update {
        /// The messages marked deleted.
        deleted: Vec<usize>,
    },
    /// STLS was accepted: write what [`Server::poll_transmit`] has (the `+OK`), do the TLS
    /// handshake, then [`Server::tls_established`]. Plaintext the client pipelined after STLS
    /// has been discarded.
    StartTls,
    /// The session is over (QUIT answered, the connection ended, a fatal error, too many
    /// failed logins, autologout): release the maildrop; nothing is removed.
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before `greet`.
    New,
    Authorization,
    /// `AUTH PLAIN` without initial response: the `+ ` went out, the response line is due.
    SaslPlain,
    /// A request is with the host; commands wait.
    Waiting(Waiting),
    /// Streaming a body; `Some(lines)` while cutting a TOP.
    Body,
    /// STLS accepted; the driver does the handshake.
    TlsHandshake,
    Transaction,
    /// Closed: nothing more is read.
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    Login,
    Update,
}

/// TOP's cut: where the body is, and how many more body lines go out.
#[derive(Debug, Clone, Copy)]
struct TopCut {
    in_header: bool,
    lines_left: u32,
    /// The current line has held nothing but CRs so far (an empty line ends the header).
    blank: bool,
    done: bool,
}

/// A POP3 server session, sans-IO; see the [module docs](self).
pub struct Server {
    config: ServerConfig,
    state: State,
    recv: BytesMut,
    out: BytesMut,
    requests: VecDeque<Request>,
    timestamp: Option<ApopTimestamp>,
    tls: bool,
    /// The name given by USER, waiting for PASS.
    user: Option<Vec<u8>>,
    failures: u32,
    /// The listing given at login, and which are marked deleted.
    maildrop: Vec<MessageInfo>,
    deleted: Vec<bool>,
    stuffer: Option<DotStuffer>,
    top: Option<TopCut>,
    /// The `+OK` of the body being streamed, written with its first bytes (so that a
    /// refusal before any can still be a clean `-ERR`).
    body_status: Option<u64>,
    /// Where reads land before they join `recv` (one command line's worth).
    scratch: Vec<u8>,
    /// The autologout deadline, and whether input came since it was set.
    deadline: Option<Instant>,
    activity: bool,
}

impl core::fmt::Debug for Server {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Server")
            .field("state", &self.state)
            .field("buffered_in", &self.recv.len())
            .field("buffered_out", &self.out.len())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A session for a connection just accepted.
    pub fn new(config: ServerConfig) -> Self {
        let tls = config.implicit_tls;
        Self {
            config,
            state: State::New,
            recv: BytesMut::new(),
            out: BytesMut::new(),
            requests: VecDeque::new(),
            timestamp: None,
            tls,
            user: None,
            failures: 0,
            maildrop: Vec::new(),
            deleted: Vec::new(),
            stuffer: None,
            top: None,
            body_status: None,
            scratch: Vec::new(),
            deadline: None,
            activity: true,
        }
    }

    /// Queues the greeting. `entropy` (a few random bytes from the host, never from the
    /// core) makes the APOP timestamp `<hex@domain>` unique, if APOP is configured.
    pub fn greet(&mut self, entropy: &[u8]) {
        if self.state != State::New {
            return;
        }
        let mut line = alloc::string::String::from("+OK ");
        line.push_str(&self.config.greeting);
        if let Some(domain) = &self.config.apop_domain {
            let mut stamp = alloc::string::String::from("<");
            for b in entropy.iter().take(32) {
                let _ = write!(stamp, "{b:02x}");
            }
            let _ = write!(stamp, ".{}@{domain}>", entropy.len());
            self.timestamp = ApopTimestamp::parse(stamp.as_bytes());
            if self.timestamp.is_some() {
                line.push(' ');
                line.push_str(&stamp);
            }
        }
        line.push_str("\r\n");
        self.out.put_slice(line.as_bytes());
        self.state = State::Authorization;
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Whether the session is in the TRANSACTION state (or streaming a body in it).
    pub fn is_logged_in(&self) -> bool {
        matches!(self.state, State::Transaction | State::Body)
    }

    /// Whether the session is over.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Whether the driver should read now. False while a request is with the host, while a
    /// body streams, or while more than [`ServerConfig::max_output`] bytes wait to be
    /// written: a client that pipelines without reading is held back by TCP, not buffered.
    pub fn wants_input(&self) -> bool {
        matches!(
            self.state,
            State::Authorization | State::SaslPlain | State::Transaction
        ) && self.out.len() <= self.config.max_output
            && self.requests.is_empty()
            && self.recv.len() <= self.config.max_command_length
    }

    /// Hands received bytes to the session (copied). Call only when
    /// [`wants_input`](Self::wants_input); bytes given otherwise are kept, but bound the
    /// memory yourself.
    pub fn handle_input(&mut self, data: &[u8]) {
        if self.state == State::Closed || self.state == State::TlsHandshake {
            return;
        }
        self.recv.extend_from_slice(data);
        self.activity = true;
        self.process();
    }

    /// Space to read into (one command line's worth, so read-ahead stays bounded); follow
    /// with [`commit_read`](Self::commit_read).
    pub fn read_space(&mut self) -> &mut [u8] {
        self.scratch.resize(self.config.max_command_length + 1, 0);
        &mut self.scratch
    }

    /// Marks `n` bytes of [`read_space`](Self::read_space) as received.
    pub fn commit_read(&mut self, n: usize) {
        let n = n.min(self.scratch.len());
        let data = core::mem::take(&mut self.scratch);
        self.handle_input(&data[..n]);
        self.scratch = data;
    }

    /// The connection ended (a read returned 0 bytes, or the TLS layer closed).
    pub fn handle_eof(&mut self) {
        self.close();
    }

    /// The next request for the host, if any.
    pub fn poll_request(&mut self) -> Option<Request> {
        self.requests.pop_front()
    }

    /// Appends what may be written now to `out` and returns how many bytes. Stops early
    /// rather than overflow a fixed-size `out`.
    pub fn poll_transmit(&mut self, out: &mut impl BufMut) -> usize {
        let n = self.out.len().min(out.remaining_mut());
        out.put_slice(&self.out[..n]);
        self.out.advance(n);
        if n > 0 {
            self.activity = true;
        }
        // Commands that waited for output room can go on now.
        self.process();
        n
    }

    /// Whether the session has nothing more to write and is over: the driver closes the
    /// connection.
    pub fn is_finished(&self) -> bool {
        self.state == State::Closed && self.out.is_empty()
    }

    /// When the session next needs [`handle_timeout`](Self::handle_timeout).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Tells the session the time: the autologout timer (RFC 1939 §3: at least 10
    /// minutes) runs while the client is silent in AUTHORIZATION or TRANSACTION.
    pub fn handle_timeout(&mut self, now: Instant) {
        let idle = matches!(
            self.state,
            State::Authorization | State::SaslPlain | State::Transaction
        );
        let Some(timeout) = self.config.autologout.filter(|_| idle) else {
            self.deadline = None;
            return;
        };
        if core::mem::take(&mut self.activity) {
            self.deadline = None;
        }
        match self.deadline {
            Some(deadline) if now >= deadline => {
                self.reply_err(None, "autologout: idle for too long");
                self.close();
            }
            Some(_) => {}
            None => self.deadline = Some(now + timeout),
        }
    }

    // ----- the host's answers ---------------------------------------------------------------

    /// Accepts the credentials of a [`Request::Login`] or [`Request::Apop`]: the session is
    /// in TRANSACTION with this listing (index order is message number order).
    pub fn accept_login(&mut self, maildrop: Vec<MessageInfo>) {
        if self.state != State::Waiting(Waiting::Login) {
            return;
        }
        let count = maildrop.len();
        let size: u64 = maildrop.iter().map(|m| m.size).sum();
        self.deleted = alloc::vec![false; count];
        self.maildrop = maildrop;
        self.state = State::Transaction;
        self.reply_ok(alloc::format!("maildrop has {count} messages ({size} octets)").as_str());
        self.process();
    }

    /// Refuses the credentials (or the maildrop: `[IN-USE]` when another session holds it).
    /// After [`ServerConfig::max_login_failures`] refusals the session ends.
    pub fn reject_login(&mut self, code: Option<ResponseCode>, text: &str) {
        if self.state != State::Waiting(Waiting::Login) {
            return;
        }
        self.reply_err(code.as_ref(), text);
        self.state = State::Authorization;
        if code != Some(ResponseCode::InUse) {
            self.failures += 1;
        }
        if self.failures >= self.config.max_login_failures {
            self.reply_err(Some(&ResponseCode::Auth), "too many failed logins");
            self.close();
            return;
        }
        self.process();
    }

    /// Whether an APOP `digest` matches `secret` and this session's timestamp.
    pub fn apop_matches(&self, digest: &[u8; 32], secret: &[u8]) -> bool {
        let Some(timestamp) = &self.timestamp else {
            return false;
        };
        let expected = zeroize::Zeroizing::new(apop_digest(timestamp, secret));
        // Constant time: the comparison must not tell how much of a guess was right.
        bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..], &digest[..]))
    }

    /// Sends more of the body of the current `Retr` or `Top`; returns whether more is
    /// wanted (`false` once TOP has its lines: call [`end_body`](Self::end_body)).
    pub fn body(&mut self, data: &[u8]) -> bool {
        if self.state != State::Body {
            return false;
        }
        self.start_body();
        let Some(stuffer) = self.stuffer.as_mut() else {
            return false;
        };
        let data = match self.top.as_mut() {
            Some(cut) => match cut.take(data) {
                Some(n) => &data[..n],
                None => data,
            },
            None => data,
        };
        stuffer.push(data, &mut self.out);
        !self.top.is_some_and(|cut| cut.done)
    }

    /// Ends the current body (the terminator goes out) and goes on with the next command.
    pub fn end_body(&mut self) {
        if self.state != State::Body {
            return;
        }
        self.start_body();
        if let Some(stuffer) = self.stuffer.take() {
            stuffer.finish(&mut self.out);
        }
        self.top = None;
        self.state = State::Transaction;
        self.process();
    }

    /// Writes the body's `+OK`, once.
    fn start_body(&mut self) {
        if let Some(size) = self.body_status.take() {
            self.reply_ok(alloc::format!("{size} octets").as_str());
        }
    }

    /// Refuses the current `Retr` or `Top` (the message vanished, a read failed):
    /// `-ERR` with `code`, and the session goes on.
    pub fn refuse(&mut self, code: Option<ResponseCode>, text: &str) {
        if self.state != State::Body {
            return;
        }
        if self.body_status.take().is_none() {
            // Part of the body is out: the only honest end is to close the connection (a
            // client sees a truncated body, never a complete wrong one).
            self.close();
            return;
        }
        self.stuffer = None;
        self.top = None;
        self.reply_err(code.as_ref(), text);
        self.state = State::Transaction;
        self.process();
    }

    /// Answers [`Request::Update`]: `Ok` when every marked message is gone (`+OK`), or the
    /// reason some could not be removed (`-ERR [SYS/TEMP]`, RFC 1939 §6). The session ends.
    pub fn update_done(&mut self, result: Result<(), &str>) {
        if self.state != State::Waiting(Waiting::Update) {
            return;
        }
        match result {
            Ok(()) => self.reply_ok("bye"),
            Err(why) => self.reply_err(Some(&ResponseCode::SysTemp), why),
        }
        self.close();
    }

    /// Reports the TLS handshake after [`Request::StartTls`] done: the session goes on in
    /// AUTHORIZATION, inside TLS, with a fresh slate (RFC 2595: nothing from before counts).
    pub fn tls_established(&mut self) {
        if self.state != State::TlsHandshake {
            return;
        }
        self.tls = true;
        self.user = None;
        self.recv.clear();
        self.state = State::Authorization;
    }

    /// Whether the connection is TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    // ----- the command loop -----------------------------------------------------------------

    /// Runs the commands that are complete, as far as the state and the output room allow.
    fn process(&mut self) {
        while matches!(
            self.state,
            State::Authorization | State::SaslPlain | State::Transaction
        ) && self.out.len() <= self.config.max_output
        {
            // Only CRLF ends a line: a bare LF or CR inside one makes it one bad command,
            // never two (BAD-INPUT row 53).
            let limit = self.config.max_command_length;
            let window = &self.recv[..self.recv.len().min(limit)];
            let Some(end) = memchr::memmem::find(window, b"\r\n") else {
                if self.recv.len() >= limit {
                    // RFC 2449: 255 octets at most. No resynchronising after that.
                    self.reply_err(None, "command line too long");
                    self.close();
                }
                return;
            };
            let line = self.recv.split_to(end + 2);
            let line = &line[..end];
            if self.state == State::SaslPlain {
                self.sasl_plain_response(line);
            } else {
                self.command(line);
            }
        }
    }

    fn command(&mut self, line: &[u8]) {
        let request = match parse_request(line) {
            Ok(request) => request,
            Err(RequestError::Unknown) => return self.reply_err(None, "unknown command"),
            Err(RequestError::BadArguments) => return self.reply_err(None, "bad arguments"),
            Err(RequestError::BadByte) => {
                return self.reply_err(None, "a control character in a command")
            }
        };
        let authorization = self.state == State::Authorization;
        match request {
            RequestLine::Capa => self.capa(),
            RequestLine::Noop if !authorization => self.reply_ok(""),
            RequestLine::Quit if authorization => {
                self.reply_ok("bye");
                self.close();
            }
            RequestLine::Quit => {
                let deleted = (0..self.deleted.len())
                    .filter(|&i| self.deleted[i])
                    .collect();
                self.requests.push_back(Request::Update { deleted });
                self.state = State::Waiting(Waiting::Update);
            }
            RequestLine::Utf8 => self.reply_err(None, "UTF8 is not supported"),
            RequestLine::User(name) if authorization => self.user_command(name),
            RequestLine::Pass(secret) if authorization => self.pass_command(secret),
            RequestLine::Apop(name, digest) if authorization => self.apop_command(name, digest),
            RequestLine::Auth(mechanism, initial) if authorization => {
                self.auth_command(mechanism, initial)
            }
            RequestLine::Stls if authorization => self.stls_command(),
            RequestLine::Stat if !authorization => {
                let (count, size) = self
                    .visible()
                    .fold((0u64, 0u64), |(c, s), (_, m)| (c + 1, s + m.size));
                self.reply_ok(alloc::format!("{count} {size}").as_str());
            }
            RequestLine::List(None) if !authorization => {
                self.listing(|m| alloc::format!("{}", m.size).into_bytes())
            }
            RequestLine::Uidl(None) if !authorization => self.listing(|m| m.uid.clone()),
            RequestLine::List(Some(msg)) if !authorization => {
                if let Some(m) = self.message(msg) {
                    let line = alloc::format!("{msg} {}", m.size);
                    self.reply_ok(&line);
                }
            }
            RequestLine::Uidl(Some(msg)) if !authorization => {
                if let Some(m) = self.message(msg) {
                    let mut line = alloc::format!("{msg} ").into_bytes();
                    line.extend_from_slice(&m.uid);
                    self.reply_ok_bytes(&line);
                }
            }
            RequestLine::Dele(msg) if !authorization => {
                if self.message(msg).is_some() {
                    self.deleted[msg.get() as usize - 1] = true;
                    self.reply_ok(alloc::format!("message {msg} deleted").as_str());
                }
            }
            RequestLine::Rset if !authorization => {
                self.deleted.iter_mut().for_each(|d| *d = false);
                self.reply_ok("");
            }
            RequestLine::Retr(msg) if !authorization => self.start_retr(msg, None),
            RequestLine::Top(msg, lines) if !authorization => self.start_retr(msg, Some(lines)),
            RequestLine::Noop
            | RequestLine::Stat
            | RequestLine::List(_)
            | RequestLine::Uidl(_)
            | RequestLine::Dele(_)
            | RequestLine::Rset
            | RequestLine::Retr(_)
            | RequestLine::Top(..) => self.reply_err(None, "log in first"),
            _ => self.reply_err(None, "not in this state"),
        }
    }

    /// Credentials before TLS: refused unless the host allows them.
    fn refuse_plaintext(&mut self) -> bool {
        if self.tls || self.config.allow_plaintext_auth {
            return false;
        }
        self.reply_err(Some(&ResponseCode::Auth), "use STLS first");
        true
    }

    fn user_command(&mut self, name: &[u8]) {
        if !self.config.user_pass {
            return self.reply_err(None, "USER is not offered; use AUTH");
        }
        if self.refuse_plaintext() {
            return;
        }
        self.user = Some(name.to_vec());
        self.reply_ok("");
    }

    fn pass_command(&mut self, secret: &[u8]) {
        let Some(user) = self.user.take() else {
            return self.reply_err(None, "USER first");
        };
        match Password::new(secret) {
            Ok(password) => self.login_request(user, password, "USER/PASS"),
            Err(_) => self.reply_err(None, "bad password"),
        }
    }

    fn apop_command(&mut self, name: &[u8], digest: &[u8]) {
        let lower_hex = |b: &u8| b.is_ascii_digit() || (b'a'..=b'f').contains(b);
        let digest: Option<[u8; 32]> = digest
            .try_into()
            .ok()
            .filter(|d: &[u8; 32]| d.iter().all(lower_hex));
        match (self.timestamp.is_some(), digest) {
            (false, _) => self.reply_err(None, "APOP is not offered"),
            (true, None) => self.reply_err(None, "an APOP digest is 32 lowercase hex digits"),
            (true, Some(digest)) => {
                self.user = None;
                self.requests.push_back(Request::Apop {
                    user: name.to_vec(),
                    digest,
                });
                self.state = State::Waiting(Waiting::Login);
            }
        }
    }

    fn auth_command(&mut self, mechanism: &[u8], initial: Option<&[u8]>) {
        if !self.config.sasl_plain || !mechanism.eq_ignore_ascii_case(b"PLAIN") {
            return self.reply_err(None, "unsupported SASL mechanism");
        }
        if self.refuse_plaintext() {
            return;
        }
        self.user = None;
        match initial {
            Some(response) => self.sasl_plain_response(response),
            None => {
                self.out.put_slice(b"+ \r\n");
                self.state = State::SaslPlain;
            }
        }
    }

    /// PLAIN's response (RFC 4616): `authzid NUL authcid NUL password`, base64; `*` cancels.
    fn sasl_plain_response(&mut self, line: &[u8]) {
        self.state = State::Authorization;
        if line == b"*" {
            return self.reply_err(None, "authentication cancelled");
        }
        let decoded = if line == b"=" {
            Ok(Vec::new())
        } else {
            base64::engine::general_purpose::STANDARD.decode(line)
        };
        let decoded = zeroize::Zeroizing::new(decoded.unwrap_or_default());
        let mut parts = decoded.split(|&b| b == 0);
        let (Some(authzid), Some(user), Some(password), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return self.reply_err(Some(&ResponseCode::Auth), "malformed PLAIN response");
        };
        if !(authzid.is_empty() || authzid == user) {
            return self.reply_err(Some(&ResponseCode::Auth), "no proxy logins");
        }
        match Password::new(password) {
            Ok(password) => self.login_request(user.to_vec(), password, "PLAIN"),
            Err(_) => self.reply_err(Some(&ResponseCode::Auth), "bad password"),
        }
    }

    fn login_request(&mut self, user: Vec<u8>, password: Password, method: &'static str) {
        self.requests.push_back(Request::Login {
            user,
            password,
            method,
        });
        self.state = State::Waiting(Waiting::Login);
    }

    fn stls_command(&mut self) {
        if !self.config.stls || self.tls {
            return self.reply_err(None, "STLS is not available");
        }
        self.reply_ok("begin TLS negotiation");
        // Anything pipelined after STLS came in plaintext: it must never run inside TLS.
        self.recv.clear();
        self.state = State::TlsHandshake;
        self.requests.push_back(Request::StartTls);
    }

    fn start_retr(&mut self, msg: MsgNum, lines: Option<u32>) {
        let Some(size) = self.message(msg).map(|m| m.size) else {
            return;
        };
        let index = msg.get() as usize - 1;
        self.requests.push_back(match lines {
            None => Request::Retr { msg, index },
            Some(lines) => Request::Top { msg, index, lines },
        });
        self.stuffer = Some(DotStuffer::new());
        self.top = lines.map(TopCut::new);
        self.body_status = Some(size);
        self.state = State::Body;
    }

    /// The messages not marked deleted, with their numbers.
    fn visible(&self) -> impl Iterator<Item = (usize, &MessageInfo)> {
        self.maildrop
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.deleted[*i])
            .map(|(i, m)| (i + 1, m))
    }

    /// Message `msg`, or `-ERR` (sent) when there is none or it is marked deleted.
    fn message(&mut self, msg: MsgNum) -> Option<&MessageInfo> {
        let index = msg.get() as usize - 1;
        match self.deleted.get(index) {
            Some(false) => self.maildrop.get(index),
            Some(true) => {
                self.reply_err(None, alloc::format!("message {msg} is deleted").as_str());
                None
            }
            None => {
                self.reply_err(None, "no such message");
                None
            }
        }
    }

    fn listing(&mut self, field: impl Fn(&MessageInfo) -> Vec<u8>) {
        let mut block = Vec::new();
        for (n, m) in self.visible() {
            block.extend_from_slice(alloc::format!("{n} ").as_bytes());
            block.extend_from_slice(&field(m));
            block.extend_from_slice(b"\r\n");
        }
        self.reply_ok("");
        self.out.put_slice(&block);
        self.out.put_slice(b".\r\n");
    }

    fn capa(&mut self) {
        let lines = self
            .config
            .capabilities(self.state == State::Transaction, self.tls);
        self.reply_ok("capability list follows");
        for line in lines {
            self.out.put_slice(line.as_bytes());
            self.out.put_slice(b"\r\n");
        }
        self.out.put_slice(b".\r\n");
    }

    fn reply_ok(&mut self, text: &str) {
        self.reply_ok_bytes(text.as_bytes());
    }

    fn reply_ok_bytes(&mut self, text: &[u8]) {
        self.out.put_slice(b"+OK");
        if !text.is_empty() {
            self.out.put_u8(b' ');
            self.out.put_slice(text);
        }
        self.out.put_slice(b"\r\n");
    }

    fn reply_err(&mut self, code: Option<&ResponseCode>, text: &str) {
        self.out.put_slice(b"-ERR ");
        // A host's own code goes out only if it is one token (no `]`, space or control).
        let code = code
            .map(ResponseCode::as_bytes)
            .filter(|c| !c.is_empty() && c.iter().all(|&b| (0x21..0x7f).contains(&b) && b != b']'));
        if let Some(code) = code {
            self.out.put_u8(b'[');
            self.out.put_slice(code);
            self.out.put_slice(b"] ");
        }
        self.out.put_slice(text.as_bytes());
        self.out.put_slice(b"\r\n");
    }

    fn close(&mut self) {
        if self.state != State::Closed {
            self.state = State::Closed;
            self.recv.clear();
            self.stuffer = None;
            self.deadline = None;
            self.requests.retain(|r| matches!(r, Request::Closed));
            self.requests.push_back(Request::Closed);
        }
    }
}

impl TopCut {
    fn new(lines: u32) -> Self {
        Self {
            in_header: true,
            lines_left: lines,
            blank: true,
            done: false,
        }
    }

    /// How much of `data` TOP still sends (`None`: all of it); sets `done` at the cut.
    fn take(&mut self, data: &[u8]) -> Option<usize> {
        if self.done {
            return Some(0);
        }
        let only_cr = |bytes: &[u8]| bytes.iter().all(|&b| b == b'\r');
        let mut from = 0;
        while let Some(i) = memchr::memchr(b'\n', &data[from..]) {
            let end = from + i + 1;
            let empty_line = self.blank && only_cr(&data[from..end - 1]);
            self.blank = true;
            if self.in_header {
                if empty_line {
                    self.in_header = false;
                    if self.lines_left == 0 {
                        self.done = true;
                        return Some(end);
                    }
                }
            } else {
                self.lines_left -= 1;
                if self.lines_left == 0 {
                    self.done = true;
                    return Some(end);
                }
            }
            from = end;
        }
        self.blank = self.blank && only_cr(&data[from..]);
        None
    }
}
