//! `Pop3`: the blocking session — each call runs one of the core's procedures over a
//! `Read + Write` stream.

use crate::{BatchReport, Error, Part, Result, Transport};
use bytes::Bytes;
use pop3_proto::driver::{nonce, Finish, Pump};
use pop3_proto::procedures::{
    Auto, Batch, BatchItem, Collect, Credentials, Exchange, Greet, Idle, Login, Method, Multi,
    Procedure, Quit, Step,
};
use pop3_proto::sasl::{ChannelBinding, Mechanism};
use pop3_proto::{
    Capabilities, Client, Config, Greeting, LangTag, MsgNum, Password, QuitOutcome, RawLine,
    ScanListing, ServerText, Stat, Status, Uid, UserName,
};
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::Duration;

/// What the driver can do with a stream beyond `Read + Write`.
pub(crate) struct Hooks<S> {
    /// Reads what is already waiting, without blocking.
    pub(crate) read_now: fn(&mut S, &mut [u8]) -> io::Result<usize>,
    /// Bounds the next read.
    pub(crate) read_timeout: fn(&S, Option<Duration>) -> io::Result<()>,
    /// The TLS channel binding, for SCRAM-…-PLUS.
    pub(crate) binding: fn(&S) -> Option<ChannelBinding>,
}

impl<S> Hooks<S> {
    /// For a stream the driver knows nothing about: no peeking, no timeouts of its own.
    fn opaque() -> Self {
        Self {
            read_now: |_, _| Err(io::ErrorKind::WouldBlock.into()),
            read_timeout: |_, _| Ok(()),
            binding: |_| None,
        }
    }
}

/// A POP3 session over a blocking stream.
///
/// Every method runs one procedure of the core and waits for its end; `-ERR` comes back as
/// [`Error::Server`] with its response code, and the session goes on. Any other error
/// (I/O, TLS, timeout, protocol violation) closes the session for good: later calls return
/// [`Error::Closed`] and nothing more is sent. Dropping a `Pop3` never sends QUIT, so nothing
/// marked deleted is committed unless you call [`quit`](Pop3::quit).
///
/// ```no_run
/// use pop3_blocking::Pop3;
///
/// # fn main() -> pop3_blocking::Result<()> {
/// let mut pop = Pop3::connect_tls("pop.example.com", 995)?;
/// pop.login("alice", "secret")?;
/// let stat = pop.stat()?;
/// pop.list_each(|entry| {
///     let mut file = std::fs::File::create(format!("{}.eml", entry.msg))?;
///     println!("{} is {} bytes", entry.msg, entry.size);
///     Ok(())
/// })?;
/// println!("{} messages", stat.count);
/// assert!(pop.quit()?.is_committed());
/// # Ok(()) }
/// ```
pub struct Pop3<S: Read + Write = Transport> {
    pub(crate) stream: S,
    pub(crate) pump: Pump,
    pub(crate) hooks: Hooks<S>,
    /// The read timeout last given to the stream: reset only when a deadline comes sooner,
    /// so a busy session does not pay a setsockopt per read.
    read_timeout: Option<Duration>,
    /// What STLS needs: the TLS configuration and the name to verify.
    pub(crate) tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
}

impl<S: Read + Write> std::fmt::Debug for Pop3<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pop3")
            .field("pump", &self.pump)
            .finish_non_exhaustive()
    }
}

impl<S: Read + Write> Pop3<S> {
    /// Starts a session over any connected stream (a custom transport, a test double) and
    /// reads the greeting. `config.implicit_tls` tells the core whether `stream` is already
    /// encrypted; `config.response_timeout` is not enforced on such a stream (the driver
    /// cannot bound its reads), so give it timeouts of its own.
    ///
    /// ```
    /// use pop3_blocking::Pop3;
    /// use std::io::Cursor;
    ///
    /// // A stream that plays a server's greeting: anything `Read + Write` will do.
    /// struct Scripted(Cursor<Vec<u8>>, Vec<u8>);
    /// impl std::io::Read for Scripted {
    ///     fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> { self.0.read(b) }
    /// }
    /// impl std::io::Write for Scripted {
    ///     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> { self.1.write(b) }
    ///     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
    /// }
    /// let stream = Scripted(Cursor::new(b"+OK hello\r\n+OK 0 0\r\n".to_vec()), Vec::new());
    /// let mut pop = Pop3::from_stream(stream, Default::default())?;
    /// assert_eq!(pop.greeting().unwrap().status().text().as_bytes(), b"hello");
    /// # Ok::<(), pop3_blocking::Error>(())
    /// ```
    pub fn from_stream(stream: S, config: Config) -> Result<Self> {
        Self::with_hooks(stream, config, None, Hooks::opaque())
    }

    pub(crate) fn with_hooks(
        stream: S,
        config: Config,
        timeout: Option<Duration>,
        hooks: Hooks<S>,
    ) -> Result<Self> {
        let mut pop = Self {
            stream,
            pump: Pump::new(config, timeout),
            hooks,
            read_timeout: None,
            tls: None,
        };
        pop.run(Greet::new(), |never| match never {})?;
        Ok(pop)
    }

    /// The server's greeting (poplib's `getwelcome`). `None` after STLS: the one received in
    /// plaintext could have been written by an attacker, and servers send no new one.
    pub fn greeting(&self) -> Option<&Greeting> {
        self.pump.client().greeting()
    }

    /// The sans-IO session underneath (state, capabilities, configuration, the messages
    /// marked deleted).
    pub fn session(&self) -> &Client {
        self.pump.client()
    }

    /// The stream underneath.
    pub fn transport(&self) -> &S {
        &self.stream
    }

    /// Allows USER/PASS, APOP and SASL over a connection without TLS (off by default; see
    /// [`Config::allow_plaintext_auth`]). [`Pop3::connect_plain_insecure`] turns it on.
    pub fn allow_insecure_auth(&mut self, allow: bool) {
        self.pump.client_mut().set_allow_plaintext_auth(allow);
    }

    // ----- the pump -----------------------------------------------------------------------

    /// The socket's read timeout was set elsewhere (the STLS handshake): set it anew.
    pub(crate) fn forget_read_timeout(&mut self) {
        self.read_timeout = None;
    }

    /// Does one round of the I/O the pump asks for.
    fn io(&mut self) {
        if self.pump.wants_input_check() {
            let result = (self.hooks.read_now)(&mut self.stream, self.pump.read_space());
            self.pump.read_done(result);
        } else if !self.pump.output().is_empty() {
            let n = self.pump.output().len();
            let result = self.stream.write_all(self.pump.output());
            let result = result.and_then(|()| self.stream.flush()).map(|()| n);
            self.pump.write_done(result);
        } else {
            // The socket's timeout is reset only when it is off by more than an eighth: up
            // to that late is close enough, and sooner only costs a tick and another read;
            // this spares a setsockopt per read as the deadline moves with every byte.
            let timeout = self.pump.read_timeout();
            let off = match (timeout, self.read_timeout) {
                (Some(want), Some(set)) => set > want + want / 8 || set < want - want / 8,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if off {
                if let Err(e) = (self.hooks.read_timeout)(&self.stream, timeout) {
                    return self.pump.read_done(Err(e));
                }
                self.read_timeout = timeout;
            }
            let result = self.stream.read(self.pump.read_space());
            self.pump.read_done(result);
        }
    }

    /// Steps `procedure` until it has an item, an output, or a TLS handshake to do.
    pub(crate) fn next<P: Procedure + ?Sized>(
        &mut self,
        procedure: &mut P,
    ) -> Result<Step<P::Item, P::Output>> {
        loop {
            match self.pump.step(procedure)? {
                Step::Io => self.io(),
                step => return Ok(step),
            }
        }
    }

    /// Runs `procedure` to its end, handing each item to `each`. An error from `each`
    /// abandons the procedure (the next call skips what is left of its replies).
    pub(crate) fn run<P: Procedure>(
        &mut self,
        mut procedure: P,
        mut each: impl FnMut(P::Item) -> io::Result<()>,
    ) -> Result<<P::Output as Finish>::Value>
    where
        P::Output: Finish,
    {
        loop {
            match self.next(&mut procedure)? {
                Step::Item(item) => each(item)?,
                Step::Done(output) => return output.finish(),
                Step::StartTls(_) => {
                    let e = Error::TlsRequired("this stream cannot be upgraded to TLS");
                    return Err(self.pump.fail(e));
                }
                Step::Io => unreachable!("next() does the I/O"),
            }
        }
    }

    fn exchange<T>(&mut self, exchange: Exchange<T>) -> Result<T> {
        self.run(exchange, |never| match never {})
    }

    // ----- authorization ----------------------------------------------------------------

    /// `USER name`. Refused over plaintext unless [`allow_insecure_auth`](Self::allow_insecure_auth).
    pub fn user(&mut self, name: &str) -> Result<Status> {
        self.exchange(Exchange::user(UserName::new(name)?))
    }

    /// `PASS secret` (never shown in traces). Refused over plaintext unless
    /// [`allow_insecure_auth`](Self::allow_insecure_auth).
    pub fn pass(&mut self, secret: &str) -> Result<Status> {
        self.exchange(Exchange::pass(Password::new(secret)?))
    }

    /// USER, then PASS only after USER's `+OK` (a server that refused the name never sees the
    /// password). A refusal is [`Error::Server`] naming `USER` or `PASS`.
    ///
    /// ```no_run
    /// # fn main() -> pop3_blocking::Result<()> {
    /// let mut pop = pop3_blocking::Pop3::connect_tls("pop.example.com", 995)?;
    /// pop.login("alice", "secret")?;
    /// # Ok(()) }
    /// ```
    pub fn login(&mut self, name: &str, secret: &str) -> Result<Status> {
        let user = UserName::new(name)?;
        let pass = Password::new(secret)?;
        self.run(
            Login::new(Credentials::UserPass { user, pass }),
            |n| match n {},
        )
    }

    /// Logs in with the strongest method both sides support (see
    /// [`Auto`](pop3_proto::procedures::Auto)): SCRAM-SHA-256(-PLUS) > SCRAM-SHA-1(-PLUS) >
    /// CRAM-MD5 > APOP > PLAIN > LOGIN > USER/PASS, those that expose the password only over
    /// TLS (or with [`allow_insecure_auth`](Self::allow_insecure_auth)). One method is tried;
    /// a refusal is reported, never followed by a weaker attempt.
    ///
    /// ```no_run
    /// # fn main() -> pop3_blocking::Result<()> {
    /// let mut pop = pop3_blocking::Pop3::connect_tls("pop.example.com", 995)?;
    /// pop.login_auto("alice", "secret")?;
    /// # Ok(()) }
    /// ```
    pub fn login_auto(&mut self, name: &str, secret: &str) -> Result<Status> {
        self.login_auto_only(name, secret, &Method::ALL)
    }

    /// [`login_auto`](Self::login_auto), choosing only among `methods`.
    pub fn login_auto_only(
        &mut self,
        name: &str,
        secret: &str,
        methods: &[Method],
    ) -> Result<Status> {
        let auto = Auto::new(UserName::new(name)?, Password::new(secret)?, &nonce()?)
            .channel_binding((self.hooks.binding)(&self.stream))
            .only(methods);
        self.run(Login::new(Credentials::Auto(auto)), |n| match n {})
    }

    /// `APOP name digest`, with the digest made from the greeting's timestamp. Refused over
    /// plaintext unless [`allow_insecure_auth`](Self::allow_insecure_auth): APOP's MD5 is
    /// easy to crack from a captured session.
    pub fn apop(&mut self, name: &str, secret: &str) -> Result<Status> {
        let user = UserName::new(name)?;
        let secret = Password::new(secret)?;
        self.run(
            Login::new(Credentials::Apop { user, secret }),
            |n| match n {},
        )
    }

    /// `RPOP user` (RFC 1081; after USER).
    pub fn rpop(&mut self, user: &str) -> Result<Status> {
        self.exchange(Exchange::rpop(UserName::new(user)?))
    }

    /// `AUTH`: a SASL exchange driven by `mechanism` (e.g. [`pop3_proto::sasl::Plain`]).
    ///
    /// ```no_run
    /// use pop3_proto::sasl::Plain;
    /// # fn main() -> pop3_blocking::Result<()> {
    /// let mut pop = pop3_blocking::Pop3::connect_tls("pop.example.com", 995)?;
    /// pop.auth(Plain::new(None, "alice", "secret").unwrap())?;
    /// # Ok(()) }
    /// ```
    pub fn auth(&mut self, mechanism: impl Mechanism + 'static) -> Result<Status> {
        let credentials = Credentials::Sasl(Box::new(mechanism));
        self.run(Login::new(credentials), |n| match n {})
    }

    /// `UTF8` (RFC 6856).
    pub fn utf8(&mut self) -> Result<Status> {
        self.exchange(Exchange::utf8())
    }

    /// `LANG tag` (RFC 6856); `"*"` asks for the server's default.
    pub fn lang(&mut self, tag: &str) -> Result<Status> {
        self.exchange(Exchange::lang(LangTag::new(tag)?))
    }

    /// `LANG` without argument: the languages the server offers, as (tag, description).
    pub fn lang_list(&mut self) -> Result<Vec<(ServerText, ServerText)>> {
        let limit = self.session().config().max_collected_entries;
        self.run(Collect::entries(Multi::lang_list(), limit), |n| match n {})
    }

    /// `CAPA`: the server's capabilities (also remembered by the session).
    pub fn capa(&mut self) -> Result<Capabilities> {
        self.run(Multi::capa(), |_| Ok(()))?;
        Ok(self.session().capabilities().cloned().unwrap_or_default())
    }

    /// `CAPA`, each capability line handed to `each` in the server's order.
    pub fn capa_each(
        &mut self,
        each: impl FnMut(pop3_proto::Capability) -> io::Result<()>,
    ) -> Result<u64> {
        self.run(Multi::capa(), each)
    }

    // ----- transaction ------------------------------------------------------------------

    /// `STAT`: message count and total size.
    pub fn stat(&mut self) -> Result<Stat> {
        self.exchange(Exchange::stat())
    }

    /// `LIST` into memory: every message's number and size. At most
    /// [`Config::max_collected_entries`] entries ([`Error::TooLarge`] beyond; the session
    /// goes on): use [`list_each`](Self::list_each) for any size.
    pub fn list(&mut self) -> Result<Vec<ScanListing>> {
        let collect = Collect::list(self.session());
        self.run(collect, |n| match n {})
    }

    /// `LIST`, each entry handed to `each` as it arrives (constant memory); returns how many.
    pub fn list_each(&mut self, each: impl FnMut(ScanListing) -> io::Result<()>) -> Result<u64> {
        self.run(Multi::list(), each)
    }

    /// `LIST n`: one message's size.
    pub fn list_one(&mut self, msg: MsgNum) -> Result<ScanListing> {
        self.exchange(Exchange::list_one(msg))
    }

    /// `UIDL` into memory: every message's unique id. At most
    /// [`Config::max_collected_entries`] entries: use [`uidl_each`](Self::uidl_each) for any
    /// size.
    pub fn uidl(&mut self) -> Result<Vec<(MsgNum, Uid)>> {
        let collect = Collect::uidl(self.session());
        self.run(collect, |n| match n {})
    }

    /// `UIDL`, each entry handed to `each` as it arrives (constant memory); returns how many.
    pub fn uidl_each(&mut self, each: impl FnMut((MsgNum, Uid)) -> io::Result<()>) -> Result<u64> {
        self.run(Multi::uidl(), each)
    }

    /// `UIDL n`: one message's unique id.
    pub fn uidl_one(&mut self, msg: MsgNum) -> Result<Uid> {
        self.exchange(Exchange::uidl_one(msg))
    }

    /// `RETR n` streamed into `sink`, in constant memory; returns the body's size.
    /// The body is byte-exact (dot-unstuffed, line ends as the server sent them).
    pub fn retr_to(&mut self, msg: MsgNum, sink: &mut impl Write) -> Result<u64> {
        self.run(Multi::retr(msg), |data| sink.write_all(&data))
    }

    /// `TOP n lines` streamed into `sink`; returns the size written.
    pub fn top_to(&mut self, msg: MsgNum, lines: u32, sink: &mut impl Write) -> Result<u64> {
        self.run(Multi::top(msg, lines), |data| sink.write_all(&data))
    }

    /// `RETR n` into memory, at most [`Config::max_collected_body`] bytes
    /// ([`Error::TooLarge`] beyond; the session goes on): prefer
    /// [`retr_to`](Self::retr_to) or [`retr_reader`](Self::retr_reader) for large mail.
    pub fn retr(&mut self, msg: MsgNum) -> Result<Vec<u8>> {
        let limit = self.session().config().max_collected_body;
        self.run(Collect::body(Multi::retr(msg), limit), |n| match n {})
    }

    /// `TOP n lines` into memory (headers plus `lines` body lines), within
    /// [`Config::max_collected_body`].
    pub fn top(&mut self, msg: MsgNum, lines: u32) -> Result<Vec<u8>> {
        let limit = self.session().config().max_collected_body;
        self.run(Collect::body(Multi::top(msg, lines), limit), |n| match n {})
    }

    /// `RETR n` as a [`Read`]er, in constant memory. Dropping it early is safe: the rest
    /// of the body is skipped by the next call.
    ///
    /// ```no_run
    /// use std::io::Read;
    /// # fn main() -> pop3_blocking::Result<()> {
    /// # let mut pop = pop3_blocking::Pop3::connect_tls("pop.example.com", 995)?;
    /// let mut headers = String::new();
    /// let mut reader = pop.retr_reader(1.try_into().unwrap())?;
    /// reader.read_to_string(&mut headers)?;
    /// # Ok(()) }
    /// ```
    pub fn retr_reader(&mut self, msg: MsgNum) -> Result<MessageReader<'_, S>> {
        Ok(MessageReader {
            pop: self,
            retr: Multi::retr(msg),
            chunk: Bytes::new(),
            done: false,
        })
    }

    /// `DELE n`: marks a message deleted. Only [`quit`](Self::quit)'s `+OK` commits it;
    /// [`rset`](Self::rset) undoes it.
    pub fn dele(&mut self, msg: MsgNum) -> Result<Status> {
        self.exchange(Exchange::dele(msg))
    }

    /// `NOOP`.
    pub fn noop(&mut self) -> Result<Status> {
        self.exchange(Exchange::noop())
    }

    /// `RSET`: unmarks every deletion.
    pub fn rset(&mut self) -> Result<Status> {
        self.exchange(Exchange::rset())
    }

    /// Sends the keepalive NOOP if the session has been idle for
    /// [`Config::keepalive_interval`], and waits for its reply. A blocking driver runs only
    /// while you call it: call this from your idle loop to keep a server's autologout timer
    /// from ending the session (every other call also sends a due keepalive first).
    pub fn keep_alive(&mut self) -> Result<()> {
        self.run(Idle::new(), |never| match never {})
    }

    /// A command this crate does not model, with the reply shape you declare; a multi-line
    /// reply's body goes to `sink`.
    pub fn raw(&mut self, line: &str, multiline: bool, sink: &mut impl Write) -> Result<u64> {
        let line = RawLine::new(line)?;
        if multiline {
            self.run(Multi::raw(line), |data| sink.write_all(&data))
        } else {
            self.exchange(Exchange::raw(line)).map(|_| 0)
        }
    }

    /// `QUIT`: ends the session. Only [`QuitOutcome::Committed`] means deletions happened;
    /// a connection lost after QUIT went out (EOF, reset, timeout) is
    /// [`QuitOutcome::Unknown`], not an error.
    pub fn quit(mut self) -> Result<QuitOutcome> {
        self.run(Quit::new(), |never| match never {})
    }

    // ----- pipelined batches ------------------------------------------------------------

    /// Retrieves many messages, pipelined when the server advertises PIPELINING (one at a time
    /// otherwise), handing each body to `sink` as it streams in. Messages the server refuses
    /// are reported, not fatal. An error from `sink` ends the call (the rest of the replies
    /// are skipped by the next call).
    ///
    /// ```no_run
    /// use pop3_blocking::Part;
    /// # fn main() -> pop3_blocking::Result<()> {
    /// # let mut pop = pop3_blocking::Pop3::connect_tls("pop.example.com", 995)?;
    /// let all: Vec<_> = pop.list()?.iter().map(|e| e.msg).collect();
    /// let mut total = 0;
    /// let report = pop.retr_many(&all, |_msg, part| {
    ///     if let Part::Data(bytes) = part { total += bytes.len(); }
    ///     Ok(())
    /// })?;
    /// assert!(report.refused.is_empty());
    /// # Ok(()) }
    /// ```
    pub fn retr_many(
        &mut self,
        msgs: &[MsgNum],
        mut sink: impl FnMut(MsgNum, Part<'_>) -> io::Result<()>,
    ) -> Result<BatchReport> {
        self.run(Batch::retr(msgs.iter().copied()), |item| match item {
            BatchItem::Data { msg, data } => sink(msg, Part::Data(&data)),
            BatchItem::Done { msg, .. } => sink(msg, Part::End),
            BatchItem::Refused { .. } => Ok(()),
        })
    }

    /// Runs any batch, each item to `each` (for callers that want the per-message outcomes
    /// as they happen, such as a fetcher that stores each message when it is done).
    pub fn batch(
        &mut self,
        batch: Batch,
        each: impl FnMut(BatchItem) -> io::Result<()>,
    ) -> Result<BatchReport> {
        self.run(batch, each)
    }

    /// Marks many messages deleted, pipelined when possible. Commit with [`quit`](Self::quit).
    pub fn dele_many(&mut self, msgs: &[MsgNum]) -> Result<BatchReport> {
        self.run(Batch::dele(msgs.iter().copied()), |_| Ok(()))
    }
}

/// A message body as a [`Read`]er (see [`Pop3::retr_reader`]).
pub struct MessageReader<'a, S: Read + Write> {
    pop: &'a mut Pop3<S>,
    retr: Multi<Bytes>,
    chunk: Bytes,
    done: bool,
}

impl<S: Read + Write> std::fmt::Debug for MessageReader<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageReader")
            .field("retr", &self.retr)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<S: Read + Write> Read for MessageReader<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() && !self.done {
            match self.pop.next(&mut self.retr)? {
                Step::Item(data) => self.chunk = data,
                Step::Done(output) => {
                    self.done = true;
                    output.finish()?;
                }
                Step::Io | Step::StartTls(_) => unreachable!("a RETR never upgrades"),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        bytes::Buf::advance(&mut self.chunk, n);
        Ok(n)
    }
}
