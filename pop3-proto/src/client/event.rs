//! What the session tells its driver: one event at a time, each tied to its command.

use crate::codec::capa::Capability;
use crate::codec::greeting::Greeting;
use crate::codec::listing::{ScanListing, Stat, Uid};
use crate::codec::status::Status;
use crate::text::ServerText;
use bytes::Bytes;
use core::num::NonZeroU32;

/// Identifies one command sent through [`crate::Client::send`] (or `apop`, `authenticate`);
/// every event of its reply carries it. Handles increase in sending order.
///
/// ```
/// use pop3_proto::{Client, Command, Config};
/// let mut client = Client::new(Config::default());
/// let a = client.send(Command::Capa).unwrap();
/// let b = client.send(Command::Capa).unwrap();
/// assert!(a < b);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Handle(pub(crate) u64);

impl Handle {
    /// The handle's sequence number (1 for the first command).
    pub fn get(self) -> u64 {
        self.0
    }
}

/// How a QUIT ended: only `Committed` means deletions took effect.
///
/// ```
/// use pop3_proto::QuitOutcome;
/// assert!(!QuitOutcome::Unknown.is_committed());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuitOutcome {
    /// `+OK`: the session ended; in the TRANSACTION state, deletions were committed.
    Committed(Status),
    /// `-ERR`: the server could not commit (some) deletions (RFC 1939 §6).
    NotCommitted(Status),
    /// The connection ended before the reply: deletions may or may not have happened.
    Unknown,
}

impl QuitOutcome {
    /// Whether the server confirmed the QUIT.
    pub fn is_committed(&self) -> bool {
        matches!(self, Self::Committed(_))
    }
}

/// Something the server said, decoded. `-ERR` replies are data ([`Event::Status`]), not errors.
///
/// Each command's reply ends with exactly one *final* event ([`Event::is_final`]):
/// `Status`, `Stat`, `ListOne`, `UidlOne`, `MultiEnd`, `UpgradeToTls` or `Closed`.
///
/// ```
/// use pop3_proto::{Client, Command, Config, Event};
///
/// let mut client = Client::new(Config::default());
/// client.handle_input(b"+OK ready\r\n");
/// assert!(matches!(client.poll_event(), Ok(Some(Event::Greeting(_)))));
/// let capa = client.send(Command::Capa).unwrap();
/// let mut out = Vec::new();
/// client.poll_transmit(&mut out);
/// assert_eq!(out, b"CAPA\r\n");
/// client.handle_input(b"+OK\r\nTOP\r\n.\r\n");
/// let mut events = Vec::new();
/// while let Some(e) = client.poll_event().unwrap() { events.push(e); }
/// assert_eq!(events.len(), 3); // MultiStart, CapaEntry, MultiEnd
/// assert!(events[2].is_final() && events[2].handle() == Some(capa));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The server's `+OK` greeting (a `-ERR` greeting is [`crate::RemoteError::GreetingRejected`]).
    Greeting(Greeting),
    /// The complete reply to a single-line command, or any `-ERR`.
    Status {
        /// The command.
        handle: Handle,
        /// `+OK` or `-ERR`, with response code and text.
        status: Status,
    },
    /// The reply to STAT.
    Stat {
        /// The command.
        handle: Handle,
        /// Message count and total size.
        stat: Stat,
    },
    /// One scan listing of `LIST`, between `MultiStart` and `MultiEnd`.
    ListEntry {
        /// The command.
        handle: Handle,
        /// Message number and size.
        entry: ScanListing,
    },
    /// The `+OK` reply to `LIST n`.
    ListOne {
        /// The command.
        handle: Handle,
        /// Message number and size.
        entry: ScanListing,
    },
    /// One unique-id listing of `UIDL`, between `MultiStart` and `MultiEnd`.
    UidlEntry {
        /// The command.
        handle: Handle,
        /// The message number.
        msg: NonZeroU32,
        /// Its unique id.
        uid: Uid,
    },
    /// The `+OK` reply to `UIDL n`.
    UidlOne {
        /// The command.
        handle: Handle,
        /// The message number.
        msg: NonZeroU32,
        /// Its unique id.
        uid: Uid,
    },
    /// One CAPA line.
    CapaEntry {
        /// The command.
        handle: Handle,
        /// The capability.
        capability: Capability,
    },
    /// One line of the reply to `LANG` without argument: a language tag and its description.
    LangEntry {
        /// The command.
        handle: Handle,
        /// The tag, as sent.
        tag: ServerText,
        /// The description, as sent.
        description: ServerText,
    },
    /// The `+OK` line that starts a multi-line reply (RETR, TOP, LIST, UIDL, CAPA, LANG, raw).
    MultiStart {
        /// The command.
        handle: Handle,
        /// The status line (RETR's text often states a size; it is never trusted).
        status: Status,
    },
    /// A run of body bytes (RETR, TOP, multi-line raw commands), dot-unstuffed, zero-copy.
    BodyChunk {
        /// The command.
        handle: Handle,
        /// The bytes; adjacent chunks concatenate to the body.
        data: Bytes,
    },
    /// The end of a multi-line reply: the body or listing is complete.
    MultiEnd {
        /// The command.
        handle: Handle,
    },
    /// STLS was accepted: do the TLS handshake now, then call
    /// [`crate::Client::tls_established`]. Until then nothing is sent.
    UpgradeToTls {
        /// The STLS command.
        handle: Handle,
    },
    /// The reply to QUIT (or the connection ending before it); the session is over.
    Closed {
        /// The QUIT command.
        handle: Handle,
        /// Whether deletions were committed.
        outcome: QuitOutcome,
    },
}

impl Event {
    /// The command this event answers (`None` for the greeting).
    pub fn handle(&self) -> Option<Handle> {
        match self {
            Self::Greeting(_) => None,
            Self::Status { handle, .. }
            | Self::Stat { handle, .. }
            | Self::ListEntry { handle, .. }
            | Self::ListOne { handle, .. }
            | Self::UidlEntry { handle, .. }
            | Self::UidlOne { handle, .. }
            | Self::CapaEntry { handle, .. }
            | Self::LangEntry { handle, .. }
            | Self::MultiStart { handle, .. }
            | Self::BodyChunk { handle, .. }
            | Self::MultiEnd { handle }
            | Self::UpgradeToTls { handle }
            | Self::Closed { handle, .. } => Some(*handle),
        }
    }

    /// Whether this event completes its command's reply.
    pub fn is_final(&self) -> bool {
        match self {
            Self::Greeting(_) | Self::MultiStart { .. } | Self::BodyChunk { .. } => false,
            Self::CapaEntry { .. }
            | Self::LangEntry { .. }
            | Self::ListEntry { .. }
            | Self::UidlEntry { .. } => false,
            Self::Status { .. }
            | Self::Stat { .. }
            | Self::ListOne { .. }
            | Self::UidlOne { .. }
            | Self::MultiEnd { .. }
            | Self::UpgradeToTls { .. }
            | Self::Closed { .. } => true,
        }
    }
}
