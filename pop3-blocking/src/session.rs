//! `Pop3`: the blocking session — one call per POP3 command, over any `Read + Write`.

use crate::batch::{Batch, BatchReport, Part};
use crate::trace;
use crate::{Error, Result, Transport};
use bytes::Bytes;
use pop3_proto::sasl::Mechanism;
use pop3_proto::{
    Capabilities, Client, Command, Config, Event, Greeting, Handle, LangTag, MsgNum, Password,
    QuitOutcome, RawLine, ScanListing, ServerText, SessionState, Stat, Status, Uid, UserName,
};
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::Duration;

/// A POP3 session over a blocking stream.
///
/// Every method sends one command and waits for its reply; `-ERR` comes back as
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
/// for entry in pop.list()? {
///     let mut file = std::fs::File::create(format!("{}.eml", entry.msg))?;
///     pop.retr_to(entry.msg, &mut file)?;
/// }
/// println!("{} messages fetched", stat.count);
/// assert!(pop.quit()?.is_committed());
/// # Ok(()) }
/// ```
pub struct Pop3<S: Read + Write = Transport> {
    pub(crate) stream: S,
    pub(crate) client: Client,
    out: Vec<u8>,
    /// A reply a dropped reader did not finish; it is skipped before the next command.
    unfinished: Option<Handle>,
    pub(crate) closed: Option<String>,
    pub(crate) timeout: Option<Duration>,
    allow_insecure_auth: bool,
    greeting: Option<Greeting>,
    /// What STLS needs: the TLS configuration and the name to verify.
    pub(crate) tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
}

impl<S: Read + Write> std::fmt::Debug for Pop3<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pop3")
            .field("client", &self.client)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl<S: Read + Write> Pop3<S> {
    /// Starts a session over any connected stream (a custom transport, a test double) and
    /// reads the greeting. `config.implicit_tls` tells the core whether `stream` is already
    /// encrypted.
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
        Self::from_stream_with_timeout(stream, config, None)
    }

    /// As [`from_stream`](Self::from_stream); `timeout` is the stream's read/write timeout,
    /// named in [`Error::Timeout`].
    pub(crate) fn from_stream_with_timeout(
        stream: S,
        config: Config,
        timeout: Option<Duration>,
    ) -> Result<Self> {
        let mut pop = Self {
            stream,
            client: Client::new(config),
            out: Vec::new(),
            unfinished: None,
            closed: None,
            timeout,
            allow_insecure_auth: false,
            greeting: None,
            tls: None,
        };
        loop {
            if let Event::Greeting(g) = pop.next_event()? {
                pop.greeting = Some(g);
                return Ok(pop);
            }
        }
    }

    /// The server's greeting (poplib's `getwelcome`).
    pub fn greeting(&self) -> Option<&Greeting> {
        self.greeting.as_ref()
    }

    /// The sans-IO session underneath (state, capabilities, configuration).
    pub fn session(&self) -> &Client {
        &self.client
    }

    /// The stream underneath.
    pub fn transport(&self) -> &S {
        &self.stream
    }

    /// Allows APOP, USER/PASS and SASL over a connection without TLS. Off by default for APOP
    /// and SASL; USER/PASS over plaintext is what [`Pop3::connect_plain_insecure`] asks for.
    pub fn allow_insecure_auth(&mut self, allow: bool) {
        self.allow_insecure_auth = allow;
    }

    // ----- the driver loop --------------------------------------------------------------

    /// Fails at once if the session is closed.
    fn check_open(&self) -> Result<()> {
        match &self.closed {
            Some(why) => Err(Error::Closed(why.clone())),
            None => Ok(()),
        }
    }

    /// Remembers a fatal error so that every later call reports it, and returns it.
    pub(crate) fn close_with(&mut self, error: Error) -> Error {
        if !error.is_recoverable() {
            self.closed = Some(error.to_string());
        }
        error
    }

    pub(crate) fn io_failure(&mut self, e: io::Error) -> Error {
        let error = match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                Error::Timeout(self.timeout.unwrap_or_default())
            }
            _ => match e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                Some(tls) => Error::Tls(tls.clone()),
                None => Error::Io(e),
            },
        };
        self.close_with(error)
    }

    /// Writes whatever the session has to send.
    fn flush(&mut self) -> Result<()> {
        self.out.clear();
        let in_sasl = self.client.state() == SessionState::Sasl;
        if self.client.poll_transmit(&mut self.out) == 0 {
            return Ok(());
        }
        trace::sent(&self.out, in_sasl);
        let result = self
            .stream
            .write_all(&self.out)
            .and_then(|()| self.stream.flush());
        result.map_err(|e| self.io_failure(e))
    }

    /// Reads once into the session's receive buffer (no intermediate copy).
    fn fill(&mut self) -> Result<()> {
        let space = self.client.read_space();
        match self.stream.read(space) {
            Ok(0) => self.client.handle_eof(),
            Ok(n) => self
                .client
                .commit_read(n)
                .expect("read never returns more than the space it was given"),
            // TLS without close_notify: an end of stream the core judges (a body cut short
            // is Truncated, never complete).
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => self.client.handle_eof(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(self.io_failure(e)),
        }
        Ok(())
    }

    /// The next event, writing and reading as needed. Writes only when about to block on a
    /// read, so that a pipelined batch goes out in a few large writes, not one per command.
    pub(crate) fn next_event(&mut self) -> Result<Event> {
        self.check_open()?;
        loop {
            match self.client.poll_event() {
                Ok(Some(event)) => {
                    trace::received(&event);
                    return Ok(event);
                }
                Ok(None) => {
                    self.flush()?;
                    self.fill()?;
                }
                Err(e) => return Err(self.close_with(e.into())),
            }
        }
    }

    /// Skips what is left of a reply whose reader was dropped early.
    fn finish_unfinished(&mut self) -> Result<()> {
        while let Some(handle) = self.unfinished {
            let event = self.next_event()?;
            if event.handle() == Some(handle) && event.is_final() {
                self.unfinished = None;
            }
        }
        Ok(())
    }

    pub(crate) fn send_command(&mut self, command: Command) -> Result<Handle> {
        self.send(command)
    }

    /// Sends a command after any unfinished reply.
    fn send(&mut self, command: Command) -> Result<Handle> {
        self.check_open()?;
        self.finish_unfinished()?;
        self.client
            .send(command)
            .map_err(|e| self.close_with(e.into()))
    }

    /// Waits for the final event of `handle`, giving every event of it to `each`.
    fn wait(
        &mut self,
        handle: Handle,
        command: &'static str,
        mut each: impl FnMut(Event) -> Result<()>,
    ) -> Result<Event> {
        loop {
            let event = self.next_event()?;
            if event.handle() != Some(handle) {
                continue; // not ours: a keepalive NOOP is swallowed by the core already
            }
            if let Event::Status { status, .. } = &event {
                if !status.is_ok() {
                    return Err(Error::Server {
                        command,
                        status: status.clone(),
                    });
                }
            }
            if event.is_final() {
                return Ok(event);
            }
            each(event)?;
        }
    }

    /// Sends a single-line command and returns its `+OK` status.
    fn simple(&mut self, command: Command) -> Result<Status> {
        let keyword = command.keyword();
        let handle = self.send(command)?;
        match self.wait(handle, keyword, |_| Ok(()))? {
            Event::Status { status, .. } => Ok(status),
            other => Err(self.close_with(unexpected(keyword, &other))),
        }
    }

    // ----- authorization ----------------------------------------------------------------

    fn check_secure(&self, what: &'static str) -> Result<()> {
        if self.client.is_tls() || self.allow_insecure_auth {
            Ok(())
        } else {
            Err(Error::Insecure(what))
        }
    }

    /// `USER name`.
    pub fn user(&mut self, name: &str) -> Result<Status> {
        let name = UserName::new(name).map_err(invalid)?;
        self.simple(Command::User(name))
    }

    /// `PASS secret` (never shown in traces).
    pub fn pass(&mut self, secret: &str) -> Result<Status> {
        let secret = Password::new(secret).map_err(invalid)?;
        self.simple(Command::Pass(secret))
    }

    /// USER then PASS: pipelined when the session pipelines, otherwise PASS goes out only
    /// after USER's `+OK`.
    ///
    /// ```no_run
    /// # fn main() -> pop3_blocking::Result<()> {
    /// let mut pop = pop3_blocking::Pop3::connect_tls("pop.example.com", 995)?;
    /// pop.login("alice", "secret")?;
    /// # Ok(()) }
    /// ```
    pub fn login(&mut self, name: &str, secret: &str) -> Result<Status> {
        let name = UserName::new(name).map_err(invalid)?;
        let secret = Password::new(secret).map_err(invalid)?;
        if !self.client.is_pipelining() {
            // RFC 1939: after -ERR to USER only USER, APOP, AUTH or QUIT may follow; the
            // password must not go to a server that refused the name.
            self.simple(Command::User(name))?;
            return self.simple(Command::Pass(secret));
        }
        let user = self.send(Command::User(name))?;
        let pass = self.send(Command::Pass(secret))?;
        let user_reply = self.wait(user, "USER", |_| Ok(()));
        let pass_reply = self.wait(pass, "PASS", |_| Ok(()));
        match (user_reply, pass_reply) {
            // A fatal error wins over a mere refusal: the session is gone.
            (_, Err(e)) if !e.is_recoverable() => Err(e),
            (Err(e), _) => Err(e),
            (Ok(_), Err(e)) => Err(e),
            (Ok(_), Ok(Event::Status { status, .. })) => Ok(status),
            (Ok(_), Ok(other)) => Err(self.close_with(unexpected("PASS", &other))),
        }
    }

    /// `APOP name digest`, with the digest made from the greeting's timestamp. Refused over
    /// plaintext unless [`allow_insecure_auth`](Self::allow_insecure_auth): APOP's MD5 is
    /// easy to crack from a captured session.
    pub fn apop(&mut self, name: &str, secret: &str) -> Result<Status> {
        self.check_open()?;
        self.check_secure("APOP over a connection without TLS exposes a crackable MD5 digest of the password; use TLS or call allow_insecure_auth(true)")?;
        let name = UserName::new(name).map_err(invalid)?;
        let secret = Password::new(secret).map_err(invalid)?;
        self.finish_unfinished()?;
        let handle = self
            .client
            .apop(name, &secret)
            .map_err(|e| self.close_with(e.into()))?;
        self.final_status(handle, "APOP")
    }

    /// `RPOP user` (RFC 1081; after USER).
    pub fn rpop(&mut self, user: &str) -> Result<Status> {
        let user = UserName::new(user).map_err(invalid)?;
        self.simple(Command::Rpop(user))
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
        self.check_open()?;
        self.check_secure("SASL over a connection without TLS may expose the password; use TLS or call allow_insecure_auth(true)")?;
        self.finish_unfinished()?;
        let handle = self
            .client
            .authenticate(Box::new(mechanism))
            .map_err(|e| self.close_with(e.into()))?;
        self.final_status(handle, "AUTH")
    }

    fn final_status(&mut self, handle: Handle, command: &'static str) -> Result<Status> {
        match self.wait(handle, command, |_| Ok(()))? {
            Event::Status { status, .. } => Ok(status),
            other => Err(self.close_with(unexpected(command, &other))),
        }
    }

    /// `UTF8` (RFC 6856).
    pub fn utf8(&mut self) -> Result<Status> {
        self.simple(Command::Utf8)
    }

    /// `LANG tag` (RFC 6856); `"*"` asks for the server's default.
    pub fn lang(&mut self, tag: &str) -> Result<Status> {
        let tag = LangTag::new(tag).map_err(invalid)?;
        self.simple(Command::Lang(Some(tag)))
    }

    /// `LANG` without argument: the languages the server offers, as (tag, description).
    pub fn lang_list(&mut self) -> Result<Vec<(ServerText, ServerText)>> {
        let handle = self.send(Command::Lang(None))?;
        let mut langs = Vec::new();
        self.wait(handle, "LANG", |event| {
            if let Event::LangEntry {
                tag, description, ..
            } = event
            {
                langs.push((tag, description));
            }
            Ok(())
        })?;
        Ok(langs)
    }

    /// `CAPA`: the server's capabilities (also remembered by the session).
    pub fn capa(&mut self) -> Result<Capabilities> {
        let handle = self.send(Command::Capa)?;
        self.wait(handle, "CAPA", |_| Ok(()))?;
        Ok(self.client.capabilities().cloned().unwrap_or_default())
    }

    // ----- transaction ------------------------------------------------------------------

    /// `STAT`: message count and total size.
    pub fn stat(&mut self) -> Result<Stat> {
        let handle = self.send(Command::Stat)?;
        match self.wait(handle, "STAT", |_| Ok(()))? {
            Event::Stat { stat, .. } => Ok(stat),
            other => Err(self.close_with(unexpected("STAT", &other))),
        }
    }

    /// `LIST`: every message's number and size.
    pub fn list(&mut self) -> Result<Vec<ScanListing>> {
        let handle = self.send(Command::List(None))?;
        let mut entries = Vec::new();
        self.wait(handle, "LIST", |event| {
            if let Event::ListEntry { entry, .. } = event {
                entries.push(entry);
            }
            Ok(())
        })?;
        Ok(entries)
    }

    /// `LIST n`: one message's size.
    pub fn list_one(&mut self, msg: MsgNum) -> Result<ScanListing> {
        let handle = self.send(Command::List(Some(msg)))?;
        match self.wait(handle, "LIST", |_| Ok(()))? {
            Event::ListOne { entry, .. } => Ok(entry),
            other => Err(self.close_with(unexpected("LIST", &other))),
        }
    }

    /// `UIDL`: every message's unique id.
    pub fn uidl(&mut self) -> Result<Vec<(MsgNum, Uid)>> {
        let handle = self.send(Command::Uidl(None))?;
        let mut entries = Vec::new();
        self.wait(handle, "UIDL", |event| {
            if let Event::UidlEntry { msg, uid, .. } = event {
                entries.push((msg, uid));
            }
            Ok(())
        })?;
        Ok(entries)
    }

    /// `UIDL n`: one message's unique id.
    pub fn uidl_one(&mut self, msg: MsgNum) -> Result<Uid> {
        let handle = self.send(Command::Uidl(Some(msg)))?;
        match self.wait(handle, "UIDL", |_| Ok(()))? {
            Event::UidlOne { uid, .. } => Ok(uid),
            other => Err(self.close_with(unexpected("UIDL", &other))),
        }
    }

    /// `RETR n` streamed into `sink`, in constant memory; returns the body's size.
    /// The body is byte-exact (dot-unstuffed, line ends as the server sent them).
    pub fn retr_to(&mut self, msg: MsgNum, sink: &mut impl Write) -> Result<u64> {
        self.body_to(Command::Retr(msg), sink)
    }

    /// `TOP n lines` streamed into `sink`; returns the size written.
    pub fn top_to(&mut self, msg: MsgNum, lines: u32, sink: &mut impl Write) -> Result<u64> {
        self.body_to(Command::Top { msg, lines }, sink)
    }

    /// `RETR n` into memory. **Buffers the whole message**: prefer
    /// [`retr_to`](Self::retr_to) or [`retr_reader`](Self::retr_reader) for large mail.
    pub fn retr(&mut self, msg: MsgNum) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        self.retr_to(msg, &mut body)?;
        Ok(body)
    }

    /// `TOP n lines` into memory (headers plus `lines` body lines).
    pub fn top(&mut self, msg: MsgNum, lines: u32) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        self.top_to(msg, lines, &mut body)?;
        Ok(body)
    }

    fn body_to(&mut self, command: Command, sink: &mut impl Write) -> Result<u64> {
        let keyword = command.keyword();
        let handle = self.send(command)?;
        let mut size = 0u64;
        let mut sink_error = None;
        self.wait(handle, keyword, |event| {
            if let Event::BodyChunk { data, .. } = event {
                size += data.len() as u64;
                // Keep reading to the end even if the sink fails, so the session stays in step.
                if sink_error.is_none() {
                    sink_error = sink.write_all(&data).err();
                }
            }
            Ok(())
        })?;
        match sink_error {
            Some(e) => Err(Error::Io(e)),
            None => Ok(size),
        }
    }

    /// `RETR n` as a [`Read`]er, in constant memory. Dropping it early is safe: the rest
    /// of the body is skipped before the next command.
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
        let handle = self.send(Command::Retr(msg))?;
        self.unfinished = Some(handle);
        Ok(MessageReader {
            pop: self,
            handle,
            chunk: Bytes::new(),
            done: false,
        })
    }

    /// `DELE n`: marks a message deleted. Only [`quit`](Self::quit)'s `+OK` commits it.
    pub fn dele(&mut self, msg: MsgNum) -> Result<Status> {
        self.simple(Command::Dele(msg))
    }

    /// `NOOP`.
    pub fn noop(&mut self) -> Result<Status> {
        self.simple(Command::Noop)
    }

    /// `RSET`: unmarks every deletion.
    pub fn rset(&mut self) -> Result<Status> {
        self.simple(Command::Rset)
    }

    /// A command this crate does not model, with the reply shape you declare; a multi-line
    /// reply's body goes to `sink`.
    pub fn raw(&mut self, line: &str, multiline: bool, sink: &mut impl Write) -> Result<u64> {
        let line = RawLine::new(line).map_err(invalid)?;
        if multiline {
            self.body_to(Command::Raw { line, multiline }, sink)
        } else {
            self.simple(Command::Raw { line, multiline }).map(|_| 0)
        }
    }

    /// `QUIT`: ends the session. Only [`QuitOutcome::Committed`] means deletions happened.
    pub fn quit(mut self) -> Result<QuitOutcome> {
        let handle = self.send(Command::Quit)?;
        loop {
            match self.next_event()? {
                Event::Closed { handle: h, outcome } if h == handle => return Ok(outcome),
                _ => continue,
            }
        }
    }

    // ----- pipelined batches ------------------------------------------------------------

    /// Makes sure the capabilities are known, so the session pipelines if the server can.
    fn learn_capabilities(&mut self) -> Result<()> {
        if self.client.capabilities().is_none() {
            match self.capa() {
                Ok(_) => {}
                Err(Error::Server { .. }) => {} // no CAPA: one command at a time
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Retrieves many messages, pipelined when the server advertises PIPELINING (one at a time
    /// otherwise), handing each body to `sink` as it streams in. Messages the server refuses
    /// are reported, not fatal.
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
        self.batch(msgs, Command::Retr, |msg, event| match event {
            Event::BodyChunk { data, .. } => sink(msg, Part::Data(&data)).map(|()| data.len()),
            Event::MultiEnd { .. } => sink(msg, Part::End).map(|()| 0),
            _ => Ok(0),
        })
    }

    /// Marks many messages deleted, pipelined when possible. Commit with [`quit`](Self::quit).
    pub fn dele_many(&mut self, msgs: &[MsgNum]) -> Result<BatchReport> {
        self.batch(msgs, Command::Dele, |_, _| Ok(0))
    }

    fn batch(
        &mut self,
        msgs: &[MsgNum],
        command: fn(MsgNum) -> Command,
        mut each: impl FnMut(MsgNum, Event) -> io::Result<usize>,
    ) -> Result<BatchReport> {
        self.learn_capabilities()?;
        let mut batch = Batch::default();
        for &msg in msgs {
            batch.push(self.send(command(msg))?, msg);
        }
        while !batch.is_done() {
            let event = self.next_event()?;
            batch.on_event(event, &mut each);
        }
        batch.finish()
    }
}

/// A message body as a [`Read`]er (see [`Pop3::retr_reader`]).
pub struct MessageReader<'a, S: Read + Write> {
    pop: &'a mut Pop3<S>,
    handle: Handle,
    chunk: Bytes,
    done: bool,
}

impl<S: Read + Write> std::fmt::Debug for MessageReader<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageReader")
            .field("handle", &self.handle)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<S: Read + Write> Read for MessageReader<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() && !self.done {
            let event = self.pop.next_event().map_err(into_io)?;
            if event.handle() != Some(self.handle) {
                continue;
            }
            match event {
                Event::BodyChunk { data, .. } => self.chunk = data,
                Event::MultiEnd { .. } => {
                    self.done = true;
                    self.pop.unfinished = None;
                }
                Event::Status { status, .. } => {
                    self.done = true;
                    self.pop.unfinished = None;
                    return Err(into_io(Error::Server {
                        command: "RETR",
                        status,
                    }));
                }
                _ => {}
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        bytes::Buf::advance(&mut self.chunk, n);
        Ok(n)
    }
}

fn into_io(e: Error) -> io::Error {
    match e {
        Error::Io(e) => e,
        Error::Timeout(_) => io::Error::new(io::ErrorKind::TimedOut, e),
        other => io::Error::other(other),
    }
}

fn invalid(e: pop3_proto::ArgumentError) -> Error {
    Error::Usage(pop3_proto::LocalError::from(e))
}

fn unexpected(command: &'static str, event: &Event) -> Error {
    Error::Closed(format!("unexpected reply to {command}: {event:?}"))
}
