//! The byte stream under an async session: plain TCP or TLS over TCP.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::BufReader;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// A connection to a POP3 server: plaintext or TLS.
#[derive(Debug)]
#[non_exhaustive]
pub enum Transport {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP, the socket read through a 64 KiB buffer: rustls asks for about one TLS
    /// record per read, and a bulk transfer of small records would otherwise cost a system
    /// call per record.
    Tls(Box<TlsStream<BufReader<TcpStream>>>),
    /// Taken apart for an STLS handshake; only seen if that handshake was cancelled.
    #[doc(hidden)]
    Detached,
}

/// The read buffer under TLS.
pub(crate) const TLS_READ_BUFFER: usize = 64 * 1024;

fn detached() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "the connection was taken apart by a cancelled STLS upgrade",
    )
}

impl Transport {
    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        matches!(self, Self::Tls(_))
    }

    /// The TCP socket underneath (`None` only after a cancelled STLS upgrade).
    pub fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Self::Plain(s) => Some(s),
            Self::Tls(s) => Some(s.get_ref().0.get_ref()),
            Self::Detached => None,
        }
    }

    /// The TLS channel binding for SCRAM-…-PLUS (TLS 1.3 only), if the connection is TLS.
    pub fn channel_binding(&self) -> Option<pop3_proto::sasl::ChannelBinding> {
        match self {
            Self::Tls(s) => pop3_proto::driver::tls::channel_binding(s.get_ref().1),
            Self::Plain(_) | Self::Detached => None,
        }
    }

    /// Re-arms TCP_QUICKACK after a read (Linux): without it, a server's Nagle meets our
    /// delayed ACK and every command costs 40 ms with Cyrus, Courier, Mailutils and popa3d.
    /// The session calls it after reads in stop-and-wait only.
    pub(crate) fn after_read(&self) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            if let Some(tcp) = self.tcp() {
                let _ = socket2::SockRef::from(tcp).set_tcp_quickack(true);
            }
        }
    }
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Self::Detached => Poll::Ready(Err(detached())),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Self::Detached => Poll::Ready(Err(detached())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Self::Detached => Poll::Ready(Err(detached())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Self::Detached => Poll::Ready(Ok(())),
        }
    }
}
