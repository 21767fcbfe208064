//! `Pop3`: the async session. One poll function drives everything; every async method is a
//! loop over it, so all state lives in the session, never in a future.

use crate::Transport;
use bytes::Bytes;
use pop3_blocking::batch::Batch;
use pop3_blocking::{trace, BatchReport, Error, Part, Result};
use pop3_proto::sasl::Mechanism;
use pop3_proto::{
    Capabilities, Client, Command, Config, Event, Greeting, Handle, Instant as ProtoInstant,
    LangTag, MsgNum, Password, QuitOutcome, RawLine, RemoteError, ScanListing, ServerText,
    SessionState, Stat, Status, Uid, UserName,
};
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::{Instant, Sleep};

/// An async POP3 session.
///
/// Every method sends one command and awaits its reply; `-ERR` comes back as
/// [`Error::Server`] and the session goes on; any other error closes it for good.
///
/// **Cancel safety.** Every method may be dropped at any await point: the bytes of a
/// command are moved into the session before anything is awaited, a half-written command
/// is finished by the next call, and the replies of an abandoned command are skipped, so
/// replies never get out of step with commands. The exception is [`stls`](Pop3::stls):
/// dropping it during the TLS handshake closes the session (the next call returns
/// [`Error::Closed`]). Dropping never sends QUIT.
///
/// ```no_run
/// # async fn demo() -> pop3_tokio::Result<()> {
/// let mut pop = pop3_tokio::Pop3::connect_tls("pop.example.com", 995).await?;
/// pop.login("alice", "secret").await?;
/// let mut message = Vec::new(); // or a tokio::fs::File, a socket: any AsyncWrite
/// pop.retr_to(1.try_into().unwrap(), &mut message).await?;
/// assert!(pop.quit().await?.is_committed());
/// # Ok(()) }
/// ```
pub struct Pop3<S = Transport> {
    pub(crate) stream: S,
    pub(crate) client: Client,
    out: Vec<u8>,
    written: usize,
    needs_flush: bool,
    pub(crate) closed: Option<String>,
    timeout: Option<Duration>,
    origin: Instant,
    sleep: Pin<Box<Sleep>>,
    allow_insecure_auth: bool,
    greeting: Option<Greeting>,
    pub(crate) tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    /// Set while STLS swaps the stream; a dropped upgrade leaves it set.
    pub(crate) upgrading: bool,
}

impl<S> std::fmt::Debug for Pop3<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pop3")
            .field("client", &self.client)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Pop3<S> {
    /// Starts a session over any connected stream and reads the greeting. `timeout` bounds
    /// the wait for every reply (the core's response deadline, run on `tokio::time`).
    pub async fn from_stream(
        stream: S,
        mut config: Config,
        timeout: Option<Duration>,
    ) -> Result<Self> {
        if timeout.is_some() {
            config.response_timeout = timeout;
        }
        let mut pop = Self {
            stream,
            client: Client::new(config),
            out: Vec::new(),
            written: 0,
            needs_flush: false,
            closed: None,
            timeout,
            origin: Instant::now(),
            sleep: Box::pin(tokio::time::sleep(Duration::ZERO)),
            allow_insecure_auth: false,
            greeting: None,
            tls: None,
            upgrading: false,
        };
        loop {
            if let Event::Greeting(g) = pop.next_event().await? {
                pop.greeting = Some(g);
                return Ok(pop);
            }
        }
    }

    /// The server's greeting.
    pub fn greeting(&self) -> Option<&Greeting> {
        self.greeting.as_ref()
    }

    /// The sans-IO session underneath.
    pub fn session(&self) -> &Client {
        &self.client
    }

    /// The stream underneath.
    pub fn transport(&self) -> &S {
        &self.stream
    }

    /// Allows APOP and SASL over a connection without TLS.
    pub fn allow_insecure_auth(&mut self, allow: bool) {
        self.allow_insecure_auth = allow;
    }

    // ----- the driver: one poll function ------------------------------------------------

    pub(crate) fn close_with(&mut self, error: Error) -> Error {
        let error = match error {
            Error::Protocol(RemoteError::Timeout { .. }) => {
                Error::Timeout(self.timeout.unwrap_or_default())
            }
            other => other,
        };
        if !error.is_recoverable() {
            self.closed = Some(error.to_string());
        }
        error
    }

    pub(crate) fn io_failure(&mut self, e: io::Error) -> Error {
        let error = match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
            Some(tls) => Error::Tls(tls.clone()),
            None if e.kind() == io::ErrorKind::TimedOut => {
                Error::Timeout(self.timeout.unwrap_or_default())
            }
            None => Error::Io(e),
        };
        self.close_with(error)
    }

    fn now(&self) -> ProtoInstant {
        ProtoInstant::from_elapsed(self.origin.elapsed())
    }

    /// Polls for the next event: writes what the session has to send and reads at the same
    /// time (a server answering a long pipelined batch can never deadlock us), and fires the
    /// core's deadlines. Cancel-safe: all progress is recorded in `self`.
    pub(crate) fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Result<Event>> {
        if self.upgrading {
            self.closed = Some("an STLS upgrade was cancelled during the TLS handshake".into());
        }
        if let Some(why) = &self.closed {
            return Poll::Ready(Err(Error::Closed(why.clone())));
        }
        loop {
            if self.written == self.out.len() {
                self.out.clear();
                self.written = 0;
                let in_sasl = self.client.state() == SessionState::Sasl;
                if self.client.poll_transmit(&mut self.out) > 0 {
                    trace::sent(&self.out, in_sasl);
                    self.needs_flush = true;
                }
            }
            match self.client.poll_event() {
                Ok(Some(event)) => {
                    trace::received(&event);
                    return Poll::Ready(Ok(event));
                }
                Ok(None) => {}
                Err(e) => return Poll::Ready(Err(self.close_with(e.into()))),
            }
            let mut progress = false;
            while self.written < self.out.len() {
                match Pin::new(&mut self.stream).poll_write(cx, &self.out[self.written..]) {
                    Poll::Ready(Ok(0)) => {
                        let e = io::Error::from(io::ErrorKind::WriteZero);
                        return Poll::Ready(Err(self.io_failure(e)));
                    }
                    Poll::Ready(Ok(n)) => {
                        self.written += n;
                        progress = true;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(self.io_failure(e))),
                    Poll::Pending => break,
                }
            }
            if self.needs_flush && self.written == self.out.len() {
                match Pin::new(&mut self.stream).poll_flush(cx) {
                    Poll::Ready(Ok(())) => {
                        self.needs_flush = false;
                        progress = true;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(self.io_failure(e))),
                    Poll::Pending => {}
                }
            }
            let mut buf = ReadBuf::new(self.client.read_space());
            match Pin::new(&mut self.stream).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) => {
                    let n = buf.filled().len();
                    if n == 0 {
                        self.client.handle_eof();
                    } else {
                        self.client
                            .commit_read(n)
                            .expect("a read never fills more than its buffer");
                    }
                    progress = true;
                }
                // TLS without close_notify: the core decides what the end of stream cut short.
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    self.client.handle_eof();
                    progress = true;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(self.io_failure(e))),
                Poll::Pending => {}
            }
            let now = self.now();
            // A deadline that fires makes progress: the core now has an error (or a
            // keepalive NOOP) to hand out, and no waker would otherwise bring us back.
            if self.client.poll_timeout().is_some_and(|d| d <= now) {
                progress = true;
            }
            self.client.handle_timeout(now);
            if let Some(deadline) = self.client.poll_timeout() {
                self.sleep.as_mut().reset(self.origin + deadline.elapsed());
                if self.sleep.as_mut().poll(cx).is_ready() {
                    let now = self.now();
                    self.client.handle_timeout(now);
                    progress = true;
                }
            }
            if !progress {
                return Poll::Pending;
            }
        }
    }

    pub(crate) async fn next_event(&mut self) -> Result<Event> {
        poll_fn(|cx| self.poll_event(cx)).await
    }

    fn check_open(&self) -> Result<()> {
        match &self.closed {
            Some(why) => Err(Error::Closed(why.clone())),
            None => Ok(()),
        }
    }

    /// Reads the replies that cancelled calls left unread while they decide what may be
    /// sent (a PASS or STLS whose caller went away), so that no call waits forever behind
    /// them. An STLS accepted but abandoned before its handshake closes the session.
    async fn settle(&mut self) -> Result<()> {
        loop {
            self.check_open()?;
            if self.client.state() == SessionState::TlsHandshake {
                let why = "an STLS call was cancelled before the TLS handshake";
                return Err(self.close_with(Error::Closed(why.into())));
            }
            if self.client.awaiting_reply().is_none() {
                return Ok(());
            }
            self.next_event().await?;
        }
    }

    pub(crate) async fn send(&mut self, command: Command) -> Result<Handle> {
        self.settle().await?;
        self.client
            .send(command)
            .map_err(|e| self.close_with(e.into()))
    }

    /// Waits for the final event of `handle`; events of other (abandoned) commands are
    /// skipped, which is what keeps a cancelled call from desynchronising later ones.
    async fn wait(
        &mut self,
        handle: Handle,
        command: &'static str,
        mut each: impl FnMut(Event) -> Result<()>,
    ) -> Result<Event> {
        loop {
            let event = self.next_event().await?;
            if event.handle() != Some(handle) {
                continue;
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

    async fn status_of(&mut self, handle: Handle, command: &'static str) -> Result<Status> {
        match self.wait(handle, command, |_| Ok(())).await? {
            Event::Status { status, .. } => Ok(status),
            other => Err(self.close_with(unexpected(command, &other))),
        }
    }

    async fn simple(&mut self, command: Command) -> Result<Status> {
        let keyword = command.keyword();
        let handle = self.send(command).await?;
        self.status_of(handle, keyword).await
    }

    fn check_secure(&self, what: &'static str) -> Result<()> {
        if self.client.is_tls() || self.allow_insecure_auth {
            Ok(())
        } else {
            Err(Error::Insecure(what))
        }
    }

    // ----- authorization ----------------------------------------------------------------

    /// `USER name`.
    pub async fn user(&mut self, name: &str) -> Result<Status> {
        let name = UserName::new(name).map_err(invalid)?;
        self.simple(Command::User(name)).await
    }

    /// `PASS secret` (never shown in traces).
    pub async fn pass(&mut self, secret: &str) -> Result<Status> {
        let secret = Password::new(secret).map_err(invalid)?;
        self.simple(Command::Pass(secret)).await
    }

    /// USER then PASS: pipelined when the session pipelines, otherwise PASS goes out only
    /// after USER's `+OK`.
    pub async fn login(&mut self, name: &str, secret: &str) -> Result<Status> {
        let name = UserName::new(name).map_err(invalid)?;
        let secret = Password::new(secret).map_err(invalid)?;
        if !self.client.is_pipelining() {
            self.simple(Command::User(name)).await?;
            return self.simple(Command::Pass(secret)).await;
        }
        let user = self.send(Command::User(name)).await?;
        let pass = self.send(Command::Pass(secret)).await?;
        let user_reply = self.status_of(user, "USER").await;
        let pass_reply = self.status_of(pass, "PASS").await;
        match (user_reply, pass_reply) {
            (_, Err(e)) if !e.is_recoverable() => Err(e),
            (Err(e), _) => Err(e),
            (Ok(_), pass) => pass,
        }
    }

    /// `APOP name digest` (refused over plaintext unless allowed).
    pub async fn apop(&mut self, name: &str, secret: &str) -> Result<Status> {
        self.settle().await?;
        self.check_secure("APOP over a connection without TLS exposes a crackable MD5 digest of the password; use TLS or call allow_insecure_auth(true)")?;
        let name = UserName::new(name).map_err(invalid)?;
        let secret = Password::new(secret).map_err(invalid)?;
        let handle = self
            .client
            .apop(name, &secret)
            .map_err(|e| self.close_with(e.into()))?;
        self.status_of(handle, "APOP").await
    }

    /// `RPOP user` (RFC 1081; after USER).
    pub async fn rpop(&mut self, user: &str) -> Result<Status> {
        let user = UserName::new(user).map_err(invalid)?;
        self.simple(Command::Rpop(user)).await
    }

    /// `AUTH` with a SASL mechanism (refused over plaintext unless allowed).
    pub async fn auth(&mut self, mechanism: impl Mechanism + 'static) -> Result<Status> {
        self.settle().await?;
        self.check_secure("SASL over a connection without TLS may expose the password; use TLS or call allow_insecure_auth(true)")?;
        let handle = self
            .client
            .authenticate(Box::new(mechanism))
            .map_err(|e| self.close_with(e.into()))?;
        self.status_of(handle, "AUTH").await
    }

    /// `UTF8` (RFC 6856).
    pub async fn utf8(&mut self) -> Result<Status> {
        self.simple(Command::Utf8).await
    }

    /// `LANG tag` (RFC 6856).
    pub async fn lang(&mut self, tag: &str) -> Result<Status> {
        let tag = LangTag::new(tag).map_err(invalid)?;
        self.simple(Command::Lang(Some(tag))).await
    }

    /// `LANG`: the languages offered, as (tag, description).
    pub async fn lang_list(&mut self) -> Result<Vec<(ServerText, ServerText)>> {
        let handle = self.send(Command::Lang(None)).await?;
        let mut langs = Vec::new();
        self.wait(handle, "LANG", |event| {
            if let Event::LangEntry {
                tag, description, ..
            } = event
            {
                langs.push((tag, description));
            }
            Ok(())
        })
        .await?;
        Ok(langs)
    }

    /// `CAPA`.
    pub async fn capa(&mut self) -> Result<Capabilities> {
        let handle = self.send(Command::Capa).await?;
        self.wait(handle, "CAPA", |_| Ok(())).await?;
        Ok(self.client.capabilities().cloned().unwrap_or_default())
    }

    // ----- transaction ------------------------------------------------------------------

    /// `STAT`.
    pub async fn stat(&mut self) -> Result<Stat> {
        let handle = self.send(Command::Stat).await?;
        match self.wait(handle, "STAT", |_| Ok(())).await? {
            Event::Stat { stat, .. } => Ok(stat),
            other => Err(self.close_with(unexpected("STAT", &other))),
        }
    }

    /// `LIST`.
    pub async fn list(&mut self) -> Result<Vec<ScanListing>> {
        let handle = self.send(Command::List(None)).await?;
        let mut entries = Vec::new();
        self.wait(handle, "LIST", |event| {
            if let Event::ListEntry { entry, .. } = event {
                entries.push(entry);
            }
            Ok(())
        })
        .await?;
        Ok(entries)
    }

    /// `LIST n`.
    pub async fn list_one(&mut self, msg: MsgNum) -> Result<ScanListing> {
        let handle = self.send(Command::List(Some(msg))).await?;
        match self.wait(handle, "LIST", |_| Ok(())).await? {
            Event::ListOne { entry, .. } => Ok(entry),
            other => Err(self.close_with(unexpected("LIST", &other))),
        }
    }

    /// `UIDL`.
    pub async fn uidl(&mut self) -> Result<Vec<(MsgNum, Uid)>> {
        let handle = self.send(Command::Uidl(None)).await?;
        let mut entries = Vec::new();
        self.wait(handle, "UIDL", |event| {
            if let Event::UidlEntry { msg, uid, .. } = event {
                entries.push((msg, uid));
            }
            Ok(())
        })
        .await?;
        Ok(entries)
    }

    /// `UIDL n`.
    pub async fn uidl_one(&mut self, msg: MsgNum) -> Result<Uid> {
        let handle = self.send(Command::Uidl(Some(msg))).await?;
        match self.wait(handle, "UIDL", |_| Ok(())).await? {
            Event::UidlOne { uid, .. } => Ok(uid),
            other => Err(self.close_with(unexpected("UIDL", &other))),
        }
    }

    /// `RETR n` streamed into any `AsyncWrite`, in constant memory; returns the body size.
    pub async fn retr_to<W: AsyncWrite + Unpin>(
        &mut self,
        msg: MsgNum,
        sink: &mut W,
    ) -> Result<u64> {
        self.body_to(Command::Retr(msg), sink).await
    }

    /// `TOP n lines` streamed into any `AsyncWrite`.
    pub async fn top_to<W: AsyncWrite + Unpin>(
        &mut self,
        msg: MsgNum,
        lines: u32,
        sink: &mut W,
    ) -> Result<u64> {
        self.body_to(Command::Top { msg, lines }, sink).await
    }

    /// `RETR n` into memory. **Buffers the whole message.**
    pub async fn retr(&mut self, msg: MsgNum) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        self.retr_to(msg, &mut body).await?;
        Ok(body)
    }

    /// `TOP n lines` into memory.
    pub async fn top(&mut self, msg: MsgNum, lines: u32) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        self.top_to(msg, lines, &mut body).await?;
        Ok(body)
    }

    async fn body_to<W: AsyncWrite + Unpin>(
        &mut self,
        command: Command,
        sink: &mut W,
    ) -> Result<u64> {
        let keyword = command.keyword();
        let handle = self.send(command).await?;
        let mut size = 0u64;
        loop {
            let event = self.next_event().await?;
            if event.handle() != Some(handle) {
                continue;
            }
            match event {
                Event::BodyChunk { data, .. } => {
                    size += data.len() as u64;
                    sink.write_all(&data).await?;
                }
                Event::Status { status, .. } => {
                    return Err(Error::Server {
                        command: keyword,
                        status,
                    })
                }
                Event::MultiEnd { .. } => return Ok(size),
                _ => {}
            }
        }
    }

    /// `RETR n` as an [`AsyncRead`], in constant memory. Dropping it early is safe: the
    /// rest of the body is skipped by the next call.
    pub async fn retr_reader(&mut self, msg: MsgNum) -> Result<MessageReader<'_, S>> {
        let handle = self.send(Command::Retr(msg)).await?;
        Ok(MessageReader {
            pop: self,
            handle,
            chunk: Bytes::new(),
            done: false,
        })
    }

    /// `DELE n` (committed only by QUIT's `+OK`).
    pub async fn dele(&mut self, msg: MsgNum) -> Result<Status> {
        self.simple(Command::Dele(msg)).await
    }

    /// `NOOP`.
    pub async fn noop(&mut self) -> Result<Status> {
        self.simple(Command::Noop).await
    }

    /// `RSET`.
    pub async fn rset(&mut self) -> Result<Status> {
        self.simple(Command::Rset).await
    }

    /// A raw command with a declared reply shape; a multi-line body goes to `sink`.
    pub async fn raw<W: AsyncWrite + Unpin>(
        &mut self,
        line: &str,
        multiline: bool,
        sink: &mut W,
    ) -> Result<u64> {
        let line = RawLine::new(line).map_err(invalid)?;
        if multiline {
            self.body_to(Command::Raw { line, multiline }, sink).await
        } else {
            self.simple(Command::Raw { line, multiline })
                .await
                .map(|_| 0)
        }
    }

    /// `QUIT`: only [`QuitOutcome::Committed`] means deletions happened.
    pub async fn quit(mut self) -> Result<QuitOutcome> {
        let handle = self.send(Command::Quit).await?;
        loop {
            if let Event::Closed { handle: h, outcome } = self.next_event().await? {
                if h == handle {
                    return Ok(outcome);
                }
            }
        }
    }

    // ----- pipelined batches ------------------------------------------------------------

    async fn learn_capabilities(&mut self) -> Result<()> {
        if self.client.capabilities().is_none() {
            match self.capa().await {
                Ok(_) | Err(Error::Server { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Retrieves many messages, pipelined when the server advertises PIPELINING, handing
    /// each body to `sink` as it streams in (see `pop3_blocking::Pop3::retr_many`).
    pub async fn retr_many(
        &mut self,
        msgs: &[MsgNum],
        mut sink: impl FnMut(MsgNum, Part<'_>) -> io::Result<()>,
    ) -> Result<BatchReport> {
        self.batch(msgs, Command::Retr, |msg, event| match event {
            Event::BodyChunk { data, .. } => sink(msg, Part::Data(&data)).map(|()| data.len()),
            Event::MultiEnd { .. } => sink(msg, Part::End).map(|()| 0),
            _ => Ok(0),
        })
        .await
    }

    /// Marks many messages deleted, pipelined when possible.
    pub async fn dele_many(&mut self, msgs: &[MsgNum]) -> Result<BatchReport> {
        self.batch(msgs, Command::Dele, |_, _| Ok(0)).await
    }

    async fn batch(
        &mut self,
        msgs: &[MsgNum],
        command: fn(MsgNum) -> Command,
        mut each: impl FnMut(MsgNum, Event) -> io::Result<usize>,
    ) -> Result<BatchReport> {
        self.learn_capabilities().await?;
        let mut batch = Batch::default();
        for &msg in msgs {
            batch.push(self.send(command(msg)).await?, msg);
        }
        while !batch.is_done() {
            let event = self.next_event().await?;
            batch.on_event(event, &mut each);
        }
        batch.finish()
    }
}

/// A message body as an [`AsyncRead`] (see [`Pop3::retr_reader`]).
pub struct MessageReader<'a, S> {
    pop: &'a mut Pop3<S>,
    handle: Handle,
    chunk: Bytes,
    done: bool,
}

impl<S> std::fmt::Debug for MessageReader<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageReader")
            .field("handle", &self.handle)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for MessageReader<'_, S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        while this.chunk.is_empty() && !this.done {
            let event = match this.pop.poll_event(cx) {
                Poll::Ready(Ok(event)) => event,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(into_io(e))),
                Poll::Pending => return Poll::Pending,
            };
            if event.handle() != Some(this.handle) {
                continue;
            }
            match event {
                Event::BodyChunk { data, .. } => this.chunk = data,
                Event::MultiEnd { .. } => this.done = true,
                Event::Status { status, .. } => {
                    this.done = true;
                    let e = Error::Server {
                        command: "RETR",
                        status,
                    };
                    return Poll::Ready(Err(into_io(e)));
                }
                _ => {}
            }
        }
        let n = buf.remaining().min(this.chunk.len());
        buf.put_slice(&this.chunk[..n]);
        bytes::Buf::advance(&mut this.chunk, n);
        Poll::Ready(Ok(()))
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
