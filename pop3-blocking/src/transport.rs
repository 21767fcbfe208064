//! The byte stream under a session: plain TCP or TLS over TCP, upgradable in place (STLS).

use pop3_proto::sasl::ChannelBinding;
use rustls::{ClientConnection, StreamOwned};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A connection to a POP3 server: plaintext or TLS.
///
/// ```no_run
/// # fn main() -> pop3_blocking::Result<()> {
/// let pop = pop3_blocking::Pop3::connect_tls("pop.example.com", 995)?;
/// assert!(pop.transport().is_tls());
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Transport {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP (read through a buffer: see [`BufferedTcp`]).
    Tls(Box<StreamOwned<ClientConnection, BufferedTcp>>),
}

/// The TCP socket under TLS, read through a 64 KiB buffer. rustls asks the socket for about
/// one TLS record per read; a bulk transfer of small records (pipelined RETRs of small
/// messages) then costs a system call per record. Reading ahead cuts that several-fold.
/// Writes go straight to the socket.
///
/// Every socket read is also bounded by the session's deadline as a whole, not per read.
/// rustls reads again and again inside one call until a whole record is there (and through a
/// whole handshake): a server dripping a record a byte at a time, each byte within a per-read
/// timeout, would otherwise hold the session past its deadline for as long as it likes.
#[derive(Debug)]
pub struct BufferedTcp {
    tcp: TcpStream,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    /// When the session next needs the clock (its reply or handshake deadline), if ever.
    deadline: Option<Instant>,
    /// The socket read timeout this buffer last set; `None` until it sets one (before an STLS
    /// upgrade the plain session may have left any timeout on the socket).
    armed: Option<Option<Duration>>,
    /// A nonblocking look for waiting input is under way: it waits for nothing, so no
    /// deadline applies (between commands, the last reply's deadline is long past).
    peeking: bool,
}

impl BufferedTcp {
    const SIZE: usize = 64 * 1024;

    /// Wraps a connected socket.
    pub fn new(tcp: TcpStream) -> Self {
        Self {
            tcp,
            buf: vec![0; Self::SIZE].into_boxed_slice(),
            start: 0,
            end: 0,
            deadline: None,
            armed: None,
            peeking: false,
        }
    }

    /// The socket.
    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// Bounds every later socket read, together, by `deadline` (`None`: no bound).
    pub(crate) fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    /// Sets the socket's read timeout to what is left before the deadline (again only when
    /// it is [`far_off`]), or fails with `TimedOut` when nothing is left.
    fn arm(&mut self) -> io::Result<()> {
        if self.peeking {
            return Ok(());
        }
        let want = match self.deadline {
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::ErrorKind::TimedOut.into());
                }
                Some(left)
            }
            None => None,
        };
        let off = match (want, self.armed) {
            (_, None) => true,
            (Some(want), Some(Some(set))) => far_off(want, set),
            (want, Some(set)) => want != set,
        };
        if off {
            self.tcp.set_read_timeout(want)?;
            self.armed = Some(want);
        }
        Ok(())
    }
}

/// Whether a socket read timeout of `set` is too far from the `want`ed one to keep: more
/// than an eighth off. Up to that late is close enough, and sooner only costs a tick and
/// another read; keeping it spares a setsockopt per read while the deadline moves ahead with
/// every byte.
pub(crate) fn far_off(want: Duration, set: Duration) -> bool {
    set > want + want / 8 || set < want - want / 8
}

impl Read for BufferedTcp {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.start == self.end {
            self.arm()?;
            if out.len() >= self.buf.len() {
                return self.tcp.read(out);
            }
            self.end = self.tcp.read(&mut self.buf)?;
            self.start = 0;
        }
        let n = out.len().min(self.end - self.start);
        out[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
        self.start += n;
        Ok(n)
    }
}

impl Write for BufferedTcp {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.tcp.write(data)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

impl Transport {
    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        matches!(self, Self::Tls(_))
    }

    /// The TCP socket underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(s) => s,
            Self::Tls(s) => s.get_ref().tcp(),
        }
    }

    /// Re-arms TCP_QUICKACK after a read (Linux): without it, a server's Nagle meets our
    /// delayed ACK and every command costs 40 ms with Cyrus, Courier, Mailutils and popa3d.
    /// The session calls it after reads in stop-and-wait only.
    pub(crate) fn after_read(&self) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            let _ = socket2::SockRef::from(self.tcp()).set_tcp_quickack(true);
        }
    }
}

impl Transport {
    /// Reads whatever is already waiting without blocking (`WouldBlock`: nothing). For TLS,
    /// only application data counts: session tickets and other handshake records are
    /// consumed by rustls.
    pub(crate) fn read_now(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tcp().set_nonblocking(true)?;
        self.set_peeking(true);
        let result = self.read(buf);
        self.set_peeking(false);
        self.tcp().set_nonblocking(false)?;
        result
    }

    fn set_peeking(&mut self, peeking: bool) {
        if let Self::Tls(tls) = self {
            tls.sock.peeking = peeking;
        }
    }

    /// The TLS channel binding for SCRAM-…-PLUS (TLS 1.3 only), if the connection is TLS.
    pub fn channel_binding(&self) -> Option<ChannelBinding> {
        match self {
            Self::Plain(_) => None,
            Self::Tls(s) => pop3_proto::driver::tls::channel_binding(&s.conn),
        }
    }

    /// Bounds the next read by the session's deadline (plain TCP; under TLS the buffered
    /// socket does it per socket read, from [`set_deadline`](Self::set_deadline)).
    pub(crate) fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Self::Plain(tcp) => tcp.set_read_timeout(timeout),
            Self::Tls(_) => Ok(()),
        }
    }

    /// The session's next deadline, for a TLS connection's socket reads (see [`BufferedTcp`]).
    pub(crate) fn set_deadline(&mut self, deadline: Option<Instant>) {
        if let Self::Tls(tls) = self {
            tls.sock.set_deadline(deadline);
        }
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Plain(s) => s.read(buf),
            Self::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Plain(s) => s.write(buf),
            Self::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(s) => s.flush(),
            Self::Tls(s) => s.flush(),
        }
    }
}
