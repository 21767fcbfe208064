//! `Pop3`: the blocking session — each call runs one of the core's procedures over a
//! `Read + Write` stream.

use crate::transport::far_off;
use crate::{Error, Result, Transport};
use bytes::Bytes;
use pop3_proto::driver::{Finish, Pump};
use pop3_proto::procedures::{Exchange, Greet, Multi, Procedure, Step};
use pop3_proto::sasl::ChannelBinding;
use pop3_proto::{Config, MsgNum, RawLine};
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the driver can do with a stream beyond `Read + Write`.
pub(crate) struct Hooks<S> {
    /// Reads what is already waiting, without blocking.
    pub(crate) read_now: fn(&mut S, &mut [u8]) -> io::Result<usize>,
    /// Bounds the next read.
    pub(crate) read_timeout: fn(&S, Option<Duration>) -> io::Result<()>,
    /// The session's next deadline, before every read (for reads a stream makes on its own,
    /// such as rustls reading a record to its end).
    pub(crate) deadline: fn(&mut S, Option<Instant>),
    /// The TLS channel binding, for SCRAM-…-PLUS.
    pub(crate) binding: fn(&S) -> Option<ChannelBinding>,
    /// After a read in stop-and-wait: acknowledge at once (see `Transport::after_read`).
    pub(crate) quick_ack: fn(&S),
}

impl<S> Hooks<S> {
    /// For a stream the driver knows nothing about: no peeking, no timeouts of its own.
    fn opaque() -> Self {
        Self {
            read_now: |_, _| Err(io::ErrorKind::WouldBlock.into()),
            read_timeout: |_, _| Ok(()),
            deadline: |_, _| {},
            binding: |_| None,
            quick_ack: |_| {},
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

    /// The stream underneath.
    pub fn transport(&self) -> &S {
        &self.stream
    }

    // ----- the pump -----------------------------------------------------------------------

    /// The TLS channel binding, for SCRAM-…-PLUS.
    fn channel_binding(&self) -> Option<ChannelBinding> {
        (self.hooks.binding)(&self.stream)
    }

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
            // The socket's timeout is reset only when it is far off (see [`far_off`]).
            let timeout = self.pump.read_timeout();
            let off = match (timeout, self.read_timeout) {
                (Some(want), Some(set)) => far_off(want, set),
                (Some(_), None) => true,
                (None, _) => false,
            };
            if off {
                if let Err(e) = (self.hooks.read_timeout)(&self.stream, timeout) {
                    return self.pump.read_done(Err(e));
                }
                self.read_timeout = timeout;
            }
            (self.hooks.deadline)(&mut self.stream, self.pump.deadline());
            let result = self.stream.read(self.pump.read_space());
            // A pipelined session has the next reply on its way anyway: no setsockopt per read.
            if !self.session().is_pipelining() {
                (self.hooks.quick_ack)(&self.stream);
            }
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

    // ----- transaction ------------------------------------------------------------------

    /// `RETR n` streamed into `sink`, in constant memory; returns the body's size.
    /// The body is byte-exact (dot-unstuffed, line ends as the server sent them).
    pub fn retr_to(&mut self, msg: MsgNum, sink: &mut impl Write) -> Result<u64> {
        self.run(Multi::retr(msg), |data| sink.write_all(&data))
    }

    /// `TOP n lines` streamed into `sink`; returns the size written.
    pub fn top_to(&mut self, msg: MsgNum, lines: u32, sink: &mut impl Write) -> Result<u64> {
        self.run(Multi::top(msg, lines), |data| sink.write_all(&data))
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

    // ----- pipelined batches ------------------------------------------------------------
}

/// Every other call, written once for both drivers (`pop3_proto::poplib_api!`): `login`,
/// `login_auto`, `apop`, `auth`, `stat`, `list`, `uidl`, `retr`, `retr_many`, `dele`, `quit`…
impl<S: Read + Write> Pop3<S> {
    pop3_proto::poplib_api!(blocking);
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
