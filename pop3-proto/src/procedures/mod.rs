//! Procedures: what a user calls — log in, require TLS, fetch a batch, quit — as small
//! sans-IO state machines over a [`Client`], written once for every driver and event loop.
//!
//! A procedure owns the protocol rules of its call: PASS only after USER's `+OK`, no
//! credentials over plaintext unless allowed, CAPA → STLS → handshake → CAPA again with no
//! plaintext fallback, batches bounded by the pipelining window with per-message outcomes,
//! listings collected within a bound, QUIT's outcome. A driver runs any procedure with one
//! loop over [`Procedure::step`]:
//!
//! | step | what the driver does |
//! |---|---|
//! | [`Step::Item`] | hands the item to its caller (a body chunk, a listing entry, a message done) |
//! | [`Step::Io`] | I/O once: if nothing is in flight, takes any input already waiting (without blocking); writes what [`Client::poll_transmit`] gives, or else reads once (0 bytes: [`Client::handle_eof`]); runs [`Client::handle_timeout`] after I/O and at [`Client::poll_timeout`] |
//! | [`Step::StartTls`] | does the TLS handshake on the connection, then [`TlsUpgrade::established`] |
//! | [`Step::Done`] | returns the output |
//!
//! An I/O error is the end of the connection: the driver calls [`Client::handle_eof`] and
//! steps once more, so that a QUIT whose reply was lost ends as [`QuitOutcome::Unknown`]
//! instead of an error; any other procedure then fails, and the driver reports its I/O error.
//!
//! Refusals are data, not errors: a procedure's output says "logged in" or "PASS refused",
//! "message 3 refused", "QUIT not committed". Errors are the session's: a [`LocalError`]
//! (the caller's mistake; nothing was sent) or a sticky [`RemoteError`].
//!
//! **Abandoning** a procedure (a dropped future, an early `?`) is safe: the next procedure
//! withdraws whatever the abandoned one queued but never transmitted
//! ([`Client::retract_unsent`]: no PASS, DELE or QUIT goes out after a drop) and skips the
//! replies still owed to it. Commands already transmitted stay transmitted — a DELE that went
//! out is marked by the server once it answers, and [`Client::marked_deleted`] shows it.
//! Only one procedure runs on a session at a time.
//!
//! ```
//! use pop3_proto::procedures::{Exchange, Procedure, Step};
//! use pop3_proto::{Client, Config};
//!
//! let mut client = Client::new(Config::default());
//! client.handle_input(b"+OK ready\r\n");
//! client.poll_event().unwrap();
//!
//! let mut utf8 = Exchange::utf8();
//! let mut wire = Vec::new();
//! let status = loop {
//!     match utf8.step(&mut client).unwrap() {
//!         Step::Io => {
//!             if client.poll_transmit(&mut wire) == 0 {
//!                 client.handle_input(b"+OK\r\n"); // a driver reads the socket here
//!             }
//!         }
//!         Step::Done(output) => break output,
//!         Step::Item(never) => match never {},
//!         Step::StartTls(_) => unreachable!("UTF8 never upgrades"),
//!     }
//! };
//! assert!(status.unwrap().is_ok());
//! assert_eq!(wire, b"UTF8\r\n");
//! ```
//!
//! [`QuitOutcome::Unknown`]: crate::QuitOutcome::Unknown
//! [`LocalError`]: crate::LocalError
//! [`RemoteError`]: crate::RemoteError

mod auto;
mod batch;
mod collect;
mod exchange;
mod login;
mod session;
mod stls;

pub use auto::{Auto, Method};
pub use batch::{Batch, BatchItem, BatchReport};
pub use collect::{Collect, Collected};
pub use exchange::{Exchange, Multi};
pub use login::{Credentials, Login};
pub use session::{Greet, Idle, Quit};
pub use stls::StartTls;

use crate::client::Client;
use crate::codec::status::Status;
use crate::text::ServerText;
use crate::{Error, Event, Handle, RemoteError, SessionState};

/// A user-level call as a state machine over a [`Client`]; see the [module docs](self).
///
/// Object-safe: `Box<dyn Procedure<Item = I, Output = O>>` works.
pub trait Procedure {
    /// What the procedure hands out while it runs (use [`core::convert::Infallible`] for
    /// none).
    type Item;
    /// What it ends with.
    type Output;

    /// Advances as far as the session allows without I/O and says what it needs next.
    ///
    /// Errors: a [`crate::LocalError`] when the call is not possible (nothing was sent; the
    /// session goes on), or the session's sticky [`RemoteError`]. After `Done` or an error,
    /// stepping again is a mistake (it returns an error or repeats nothing useful).
    fn step(&mut self, client: &mut Client) -> Result<Step<Self::Item, Self::Output>, Error>;
}

impl<P: Procedure + ?Sized> Procedure for &mut P {
    type Item = P::Item;
    type Output = P::Output;
    fn step(&mut self, client: &mut Client) -> Result<Step<Self::Item, Self::Output>, Error> {
        (**self).step(client)
    }
}

/// What a procedure needs next; see the table in the [module docs](self).
#[derive(Debug)]
#[must_use = "a step says what the driver must do next"]
pub enum Step<I, O> {
    /// Something for the caller; step again for more.
    Item(I),
    /// I/O is needed: write what `poll_transmit` gives, else read once; then step again.
    Io,
    /// Do the TLS handshake now, then call [`TlsUpgrade::established`] and step again.
    StartTls(TlsUpgrade),
    /// The procedure finished.
    Done(O),
}

/// Permission to tell the session its TLS handshake is done; handed out only when the server
/// accepted STLS and nothing trailed its `+OK`. Not `Clone`: one handshake, one upgrade.
#[derive(Debug)]
#[must_use = "do the TLS handshake, then call established(); dropping this abandons the session"]
pub struct TlsUpgrade {
    _private: (),
}

impl TlsUpgrade {
    /// Reports a finished handshake: the session forgets the plaintext greeting and
    /// capabilities (an attacker could have written them) and goes on inside TLS.
    pub fn established(self, client: &mut Client) -> Result<(), Error> {
        client.tls_established()
    }
}

/// The server answered `-ERR`: the command, and the reply with its response code.
///
/// ```
/// use pop3_proto::procedures::Refused;
/// use pop3_proto::Status;
/// let refused = Refused::new("DELE", Status::parse(b"-ERR [IN-USE] busy", Default::default()).unwrap());
/// assert_eq!(refused.to_string(), "the server refused DELE: -ERR [IN-USE] busy");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the server refused {command}: {status}{}", .detail.as_ref().map(|d| alloc::format!(" (it said: \"{}\")", d.quoted())).unwrap_or_default())]
pub struct Refused {
    /// The command's keyword.
    pub command: &'static str,
    /// The `-ERR` reply.
    pub status: Status,
    /// What the server said inside a failed SASL exchange (an OAuth JSON error status),
    /// escaped and bounded when shown.
    pub detail: Option<ServerText>,
}

impl Refused {
    /// A refusal of `command` with no detail.
    pub fn new(command: &'static str, status: Status) -> Self {
        Self {
            command,
            status,
            detail: None,
        }
    }
}

/// How every procedure that sends begins: withdraw what an abandoned predecessor queued,
/// remember where our commands start, and let every reply still owed to it arrive before our
/// first command — its outcome may decide what we may send (a USER refused: no PASS; STLS
/// accepted: no plaintext). In normal use nothing is owed and this costs nothing.
#[derive(Debug, Default)]
pub(crate) struct Begin {
    floor: Option<Handle>,
    clear: bool,
}

impl Begin {
    /// `Ok(true)` once commands may be sent; `Ok(false)` when I/O is needed first.
    pub(crate) fn ready(&mut self, client: &mut Client) -> Result<bool, Error> {
        if self.floor.is_none() {
            client.retract_unsent();
            self.floor = Some(client.next_handle());
        }
        let owed = |client: &Client| client.in_flight() > 0 || client.awaiting_reply().is_some();
        if !self.clear {
            // Skipping the events in hand may settle what is owed; else wait for more.
            if owed(client) && self.next_event(client)?.is_none() && owed(client) {
                return Ok(false);
            }
            if client.state() == SessionState::TlsHandshake {
                // Only a StartTls procedure hands out the upgrade, and it is gone.
                return Err(client.fail(RemoteError::TlsUpgradeAbandoned).into());
            }
            self.clear = true;
        }
        Ok(true)
    }

    /// The next event that belongs to this procedure; replies owed to abandoned procedures
    /// (always older, so always first) are skipped.
    pub(crate) fn next_event(&mut self, client: &mut Client) -> Result<Option<Event>, Error> {
        let floor = *self.floor.get_or_insert(client.next_handle());
        while let Some(event) = client.poll_event()? {
            match event.handle() {
                Some(h) if h >= floor => return Ok(Some(event)),
                _ => {} // an abandoned reply, or a greeting nobody waits for
            }
        }
        Ok(None)
    }
}

/// The next body chunk of the reply to `handle`, taken the fast way
/// ([`Client::poll_body`]: no `Event` built); chunks of other replies (only abandoned
/// ones can come first) are skipped. `None`: the buffer does not start with body bytes,
/// ask [`Begin::next_event`].
pub(crate) fn next_body(client: &mut Client, handle: Handle) -> Option<bytes::Bytes> {
    while let Some((chunk_of, data)) = client.poll_body() {
        if chunk_of == handle {
            return Some(data);
        }
    }
    None
}

/// The session's sticky error, if it has failed: every procedure reports it before anything
/// of its own, local mistakes included (BAD-INPUT row 18).
pub(crate) fn check_alive(client: &Client) -> Result<(), Error> {
    match client.error() {
        Some(e) => Err(e.clone().into()),
        None => Ok(()),
    }
}

/// A reply of a kind its command can never get: the session's decoder and this module
/// disagree, which is a bug here.
pub(crate) fn mismatch(client: &mut Client, what: &'static str) -> Error {
    let state = client.state();
    client
        .fail(RemoteError::InternalState {
            state,
            transition: what,
        })
        .into()
}
