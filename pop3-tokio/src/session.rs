//! `Pop3`: the async session. Every call runs one of the core's procedures with one poll
//! function; all progress lives in the core's pump, never in a future.

use crate::{Error, Result, Transport};
use bytes::Bytes;
use pop3_proto::driver::{Finish, Pump};
use pop3_proto::procedures::{Exchange, Greet, Multi, Procedure, Step};
use pop3_proto::sasl::ChannelBinding;
use pop3_proto::{Config, MsgNum, RawLine};
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::Sleep;

/// An async POP3 session.
///
/// Every method runs one procedure of the core and awaits its end; `-ERR` comes back as
/// [`Error::Server`] and the session goes on; any other error closes it for good.
///
/// **Cancel safety.** Every method may be dropped at any await point: the bytes of a
/// command are moved out of the session into the driver's output before anything is
/// awaited, and output not yet written is finished by the next call; commands the dropped
/// call queued but had not moved to the output are withdrawn (so a QUIT, or the rest of a
/// batch, does not go out after a drop), an AUTH exchange already sent is answered `*` from
/// then on, and the replies the call still had coming are skipped, so replies never get out
/// of step with commands. A DELE moved to the output stays sent: the server marks the message
/// once it answers ([`Client::marked_deleted`](pop3_proto::Client::marked_deleted)), and a later QUIT commits it unless you RSET.
/// Dropping [`stls`](Pop3::stls) during the TLS handshake closes the session. Dropping never
/// sends QUIT.
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
    /// Boxed: every future that holds the session (and an `async fn` taking it by value holds
    /// it twice) then holds a pointer, not the pump's ~2.7 KiB, so a task waiting on a
    /// session stays small (BENCHMARKS.md, scale).
    pub(crate) pump: Box<Pump>,
    needs_flush: bool,
    sleep: Pin<Box<Sleep>>,
    pub(crate) tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    /// The TLS channel binding, for SCRAM-…-PLUS (set by the connector).
    pub(crate) binding: Option<ChannelBinding>,
    /// After a read in stop-and-wait: acknowledge at once (set by the connector; see
    /// `Transport::after_read`).
    pub(crate) quick_ack: fn(&S),
}

/// The session's clock: Tokio's, so that its deadlines and the runtime's timers agree (with
/// the clock paused in a test, a deadline passes as soon as the runtime advances to it).
fn tokio_now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

impl<S> std::fmt::Debug for Pop3<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pop3")
            .field("pump", &self.pump)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Pop3<S> {
    /// Starts a session over any connected stream and reads the greeting. `timeout` bounds
    /// every wait for the server (the core's response deadline, run on `tokio::time`).
    pub async fn from_stream(stream: S, config: Config, timeout: Option<Duration>) -> Result<Self> {
        let mut pop = Self {
            stream,
            pump: Box::new(Pump::with_clock(config, timeout, tokio_now)),
            needs_flush: false,
            sleep: Box::pin(tokio::time::sleep(Duration::ZERO)),
            tls: None,
            binding: None,
            quick_ack: |_| {},
        };
        pop.run(Greet::new(), |never| match never {}).await?;
        Ok(pop)
    }

    /// The stream underneath.
    pub fn transport(&self) -> &S {
        &self.stream
    }

    // ----- the pump -----------------------------------------------------------------------

    /// Writes, flushes, reads and runs the clock as far as possible without waiting; whether
    /// anything happened. Reading while writing is what keeps a long pipelined batch from
    /// deadlocking against a server that answers as it reads.
    fn poll_io(&mut self, cx: &mut Context<'_>) -> bool {
        let stream = Pin::new(&mut self.stream);
        if self.pump.wants_input_check() {
            let mut buf = ReadBuf::new(self.pump.read_space());
            match stream.poll_read(cx, &mut buf) {
                Poll::Ready(result) => {
                    let n = buf.filled().len();
                    self.pump.read_done(result.map(|()| n));
                }
                Poll::Pending => self.pump.read_done(Err(io::ErrorKind::WouldBlock.into())),
            }
            return true;
        }
        let mut progress = false;
        while !self.pump.output().is_empty() {
            match Pin::new(&mut self.stream).poll_write(cx, self.pump.output()) {
                Poll::Ready(Ok(0)) => {
                    self.pump.write_done(Err(io::ErrorKind::WriteZero.into()));
                    return true;
                }
                Poll::Ready(Err(e)) => {
                    self.pump.write_done(Err(e));
                    return true;
                }
                Poll::Ready(result) => self.pump.write_done(result),
                Poll::Pending => break,
            }
            self.needs_flush = true;
            progress = true;
        }
        if self.needs_flush && self.pump.output().is_empty() {
            if let Poll::Ready(result) = Pin::new(&mut self.stream).poll_flush(cx) {
                self.needs_flush = false;
                progress = true;
                if let Err(e) = result {
                    self.pump.write_done(Err(e));
                }
            }
        }
        let mut buf = ReadBuf::new(self.pump.read_space());
        match Pin::new(&mut self.stream).poll_read(cx, &mut buf) {
            Poll::Ready(result) => {
                let n = buf.filled().len();
                // A pipelined session has the next reply on its way: no setsockopt per read.
                if !self.pump.client().is_pipelining() {
                    (self.quick_ack)(&self.stream);
                }
                self.pump.read_done(result.map(|()| n));
                progress = true;
            }
            // Nothing waiting: sleep without a receive buffer (when idle, the next read
            // probes first).
            Poll::Pending => self.pump.release_if_empty(),
        }
        if let Some(deadline) = self.pump.deadline() {
            self.sleep.as_mut().reset(deadline.into());
            if self.sleep.as_mut().poll(cx).is_ready() {
                self.pump.tick();
                progress = true;
            }
        }
        progress
    }

    /// Polls `procedure` for its next item, output or TLS handshake. Cancel-safe: all
    /// progress is recorded in the pump and the procedure.
    pub(crate) fn poll_next<P: Procedure + ?Sized>(
        &mut self,
        cx: &mut Context<'_>,
        procedure: &mut P,
    ) -> Poll<Result<Step<P::Item, P::Output>>> {
        loop {
            match self.pump.step(procedure) {
                Ok(Step::Io) => {
                    if !self.poll_io(cx) {
                        return Poll::Pending;
                    }
                }
                other => return Poll::Ready(other),
            }
        }
    }

    pub(crate) async fn next<P: Procedure + ?Sized>(
        &mut self,
        procedure: &mut P,
    ) -> Result<Step<P::Item, P::Output>> {
        poll_fn(|cx| self.poll_next(cx, procedure)).await
    }

    /// Runs `procedure` to its end, handing each item to `each`. An error from `each`
    /// abandons the procedure (the next call skips what is left of its replies).
    async fn run<P: Procedure>(
        &mut self,
        mut procedure: P,
        mut each: impl FnMut(P::Item) -> io::Result<()>,
    ) -> Result<<P::Output as Finish>::Value>
    where
        P::Output: Finish,
    {
        loop {
            match self.next(&mut procedure).await? {
                Step::Item(item) => each(item)?,
                Step::Done(output) => {
                    // Between calls the session may wait long (or for ever): without a buffer.
                    self.pump.release_if_idle();
                    return output.finish();
                }
                Step::StartTls(_) => {
                    let e = Error::TlsRequired("this stream cannot be upgraded to TLS");
                    return Err(self.pump.fail(e));
                }
                Step::Io => unreachable!("next() does the I/O"),
            }
        }
    }

    /// The TLS channel binding, for SCRAM-…-PLUS (set by the connector).
    fn channel_binding(&self) -> Option<ChannelBinding> {
        self.binding.clone()
    }

    /// Runs a body procedure, each chunk written to `sink` as it arrives.
    async fn body_to<W: AsyncWrite + Unpin>(
        &mut self,
        mut body: Multi<Bytes>,
        sink: &mut W,
    ) -> Result<u64> {
        loop {
            match self.next(&mut body).await? {
                Step::Item(data) => sink.write_all(&data).await?,
                Step::Done(output) => return output.finish(),
                Step::Io | Step::StartTls(_) => unreachable!("a body never upgrades"),
            }
        }
    }

    async fn exchange<T>(&mut self, exchange: Exchange<T>) -> Result<T> {
        self.run(exchange, |never| match never {}).await
    }

    // ----- authorization ----------------------------------------------------------------

    // ----- transaction ------------------------------------------------------------------

    /// `RETR n` streamed into any `AsyncWrite`, in constant memory; returns the body size.
    pub async fn retr_to<W: AsyncWrite + Unpin>(
        &mut self,
        msg: MsgNum,
        sink: &mut W,
    ) -> Result<u64> {
        self.body_to(Multi::retr(msg), sink).await
    }

    /// `TOP n lines` streamed into any `AsyncWrite`.
    pub async fn top_to<W: AsyncWrite + Unpin>(
        &mut self,
        msg: MsgNum,
        lines: u32,
        sink: &mut W,
    ) -> Result<u64> {
        self.body_to(Multi::top(msg, lines), sink).await
    }

    /// `RETR n` as an [`AsyncRead`], in constant memory. Dropping it early is safe: the
    /// rest of the body is skipped by the next call.
    pub async fn retr_reader(&mut self, msg: MsgNum) -> Result<MessageReader<'_, S>> {
        Ok(MessageReader {
            pop: self,
            retr: Multi::retr(msg),
            chunk: Bytes::new(),
            done: false,
        })
    }

    /// A raw command with a declared reply shape; a multi-line body goes to `sink`.
    pub async fn raw<W: AsyncWrite + Unpin>(
        &mut self,
        line: &str,
        multiline: bool,
        sink: &mut W,
    ) -> Result<u64> {
        let line = RawLine::new(line)?;
        if multiline {
            self.body_to(Multi::raw(line), sink).await
        } else {
            self.exchange(Exchange::raw(line)).await.map(|_| 0)
        }
    }

    // ----- pipelined batches ------------------------------------------------------------
}

/// Every other call, written once for both drivers (`pop3_proto::poplib_api!`), `async`
/// here: `login`, `login_auto`, `apop`, `auth`, `stat`, `list`, `uidl`, `retr`, `retr_many`,
/// `dele`, `quit`…
impl<S: AsyncRead + AsyncWrite + Unpin> Pop3<S> {
    pop3_proto::poplib_api!(tokio);
}

/// A message body as an [`AsyncRead`] (see [`Pop3::retr_reader`]).
pub struct MessageReader<'a, S> {
    pop: &'a mut Pop3<S>,
    retr: Multi<Bytes>,
    chunk: Bytes,
    done: bool,
}

impl<S> std::fmt::Debug for MessageReader<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageReader")
            .field("retr", &self.retr)
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
            match this.pop.poll_next(cx, &mut this.retr) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                Poll::Ready(Ok(Step::Item(data))) => this.chunk = data,
                Poll::Ready(Ok(Step::Done(output))) => {
                    this.done = true;
                    if let Err(e) = output.finish() {
                        return Poll::Ready(Err(e.into()));
                    }
                }
                Poll::Ready(Ok(Step::Io | Step::StartTls(_))) => {
                    unreachable!("a RETR never upgrades")
                }
            }
        }
        let n = buf.remaining().min(this.chunk.len());
        buf.put_slice(&this.chunk[..n]);
        bytes::Buf::advance(&mut this.chunk, n);
        Poll::Ready(Ok(()))
    }
}
