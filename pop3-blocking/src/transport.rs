//! The byte stream under a session: plain TCP or TLS over TCP, upgradable in place (STLS).

use rustls::{ClientConnection, StreamOwned};
use std::io::{self, Read, Write};
use std::net::TcpStream;

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
    /// TLS over TCP.
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
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
            Self::Tls(s) => s.get_ref(),
        }
    }

    /// Re-arms TCP_QUICKACK after a read (Linux): without it, a server's Nagle meets our
    /// delayed ACK and every command costs 40 ms with Cyrus, Courier, Mailutils and popa3d.
    pub(crate) fn after_read(&self) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            let _ = socket2::SockRef::from(self.tcp()).set_tcp_quickack(true);
        }
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match self {
            Self::Plain(s) => s.read(buf),
            Self::Tls(s) => s.read(buf),
        }?;
        self.after_read();
        Ok(n)
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
