//! One command, one reply: single-line commands ([`Exchange`]) and streamed multi-line
//! replies — listings and bodies ([`Multi`]).

use super::{mismatch, Begin, Procedure, Refused, Step};
use crate::args::{LangTag, Password, RawLine, UserName};
use crate::client::Client;
use crate::codec::capa::Capability;
use crate::codec::listing::{ScanListing, Stat, Uid};
use crate::codec::status::Status;
use crate::command::{Command, MsgNum};
use crate::text::ServerText;
use crate::{Error, Event, Handle, LocalError};
use bytes::Bytes;
use core::convert::Infallible;

/// Sends one command and ends with its reply: `Ok(value)` for `+OK`, `Err(Refused)` for
/// `-ERR`.
///
/// ```
/// use pop3_proto::procedures::Exchange;
/// use core::num::NonZeroU32;
/// let stat = Exchange::stat();
/// let dele = Exchange::dele(NonZeroU32::new(3).unwrap());
/// ```
pub struct Exchange<T> {
    begin: Begin,
    command: Option<Command>,
    keyword: &'static str,
    handle: Option<Handle>,
    /// A credential goes out: refused over plaintext unless allowed.
    credential: bool,
    extract: fn(Event) -> Option<T>,
}

impl<T> core::fmt::Debug for Exchange<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Exchange")
            .field("command", &self.keyword)
            .field("handle", &self.handle)
            .finish_non_exhaustive()
    }
}

fn status(event: Event) -> Option<Status> {
    match event {
        Event::Status { status, .. } => Some(status),
        _ => None,
    }
}

impl Exchange<Status> {
    /// Any single-line command, ending with its `+OK` status.
    ///
    /// USER and PASS are refused over plaintext unless
    /// [`Config::allow_plaintext_auth`](crate::Config::allow_plaintext_auth); use
    /// [`super::Login`] to log in (it never sends PASS after a refused USER).
    pub fn status(command: Command) -> Self {
        let credential = matches!(command, Command::User(_) | Command::Pass(_));
        Self::new(command, credential, status)
    }

    /// `NOOP`.
    pub fn noop() -> Self {
        Self::status(Command::Noop)
    }

    /// `RSET`: the server unmarks every deletion.
    pub fn rset() -> Self {
        Self::status(Command::Rset)
    }

    /// `DELE n`: marks a message deleted; only QUIT's `+OK` removes it.
    pub fn dele(msg: MsgNum) -> Self {
        Self::status(Command::Dele(msg))
    }

    /// `USER name`.
    pub fn user(name: UserName) -> Self {
        Self::status(Command::User(name))
    }

    /// `PASS secret`.
    pub fn pass(secret: Password) -> Self {
        Self::status(Command::Pass(secret))
    }

    /// `RPOP user` (RFC 1081, after USER).
    pub fn rpop(user: UserName) -> Self {
        Self::status(Command::Rpop(user))
    }

    /// `UTF8` (RFC 6856).
    pub fn utf8() -> Self {
        Self::status(Command::Utf8)
    }

    /// `LANG tag` (RFC 6856).
    pub fn lang(tag: LangTag) -> Self {
        Self::status(Command::Lang(Some(tag)))
    }

    /// A raw single-line command.
    pub fn raw(line: RawLine) -> Self {
        Self::status(Command::Raw {
            line,
            multiline: false,
        })
    }
}

impl Exchange<Stat> {
    /// `STAT`: message count and total size.
    pub fn stat() -> Self {
        Self::new(Command::Stat, false, |e| match e {
            Event::Stat { stat, .. } => Some(stat),
            _ => None,
        })
    }
}

impl Exchange<ScanListing> {
    /// `LIST n`: one message's size.
    pub fn list_one(msg: MsgNum) -> Self {
        Self::new(Command::List(Some(msg)), false, |e| match e {
            Event::ListOne { entry, .. } => Some(entry),
            _ => None,
        })
    }
}

impl Exchange<Uid> {
    /// `UIDL n`: one message's unique id.
    pub fn uidl_one(msg: MsgNum) -> Self {
        Self::new(Command::Uidl(Some(msg)), false, |e| match e {
            Event::UidlOne { uid, .. } => Some(uid),
            _ => None,
        })
    }
}

impl<T> Exchange<T> {
    fn new(command: Command, credential: bool, extract: fn(Event) -> Option<T>) -> Self {
        Self {
            begin: Begin::default(),
            keyword: command.keyword(),
            command: Some(command),
            handle: None,
            credential,
            extract,
        }
    }
}

/// Refuses commands whose replies a single-line exchange cannot take, before anything is sent.
fn check_single_line(command: &Command) -> Result<(), Error> {
    let instead = match command {
        Command::Retr(_) | Command::Top { .. } => "Multi::retr / Multi::top",
        Command::List(None) | Command::Uidl(None) | Command::Lang(None) => {
            "Multi::list / Multi::uidl / Multi::lang_list"
        }
        Command::Capa => "Multi::capa",
        Command::Raw {
            multiline: true, ..
        } => "Multi::raw",
        Command::Stls => "StartTls",
        Command::Quit => "Quit",
        _ => return Ok(()),
    };
    Err(LocalError::WrongProcedure {
        command: command.keyword(),
        procedure: "single-line Exchange",
        instead,
    }
    .into())
}

/// Checks the plaintext-credentials rule (issue: USER/PASS used to go out unasked).
pub(crate) fn check_secure(client: &Client, what: &'static str) -> Result<(), Error> {
    if client.is_tls() || client.config().allow_plaintext_auth {
        Ok(())
    } else {
        Err(LocalError::PlaintextAuth { what }.into())
    }
}

/// Sends `command` once the session is ready; `None` while I/O is needed first.
pub(crate) fn send_when_ready(
    begin: &mut Begin,
    client: &mut Client,
    handle: &mut Option<Handle>,
    command: &mut Option<Command>,
) -> Result<Option<Handle>, Error> {
    if let Some(h) = *handle {
        return Ok(Some(h));
    }
    if !begin.ready(client)? {
        return Ok(None);
    }
    let Some(command) = command.take() else {
        return Err(LocalError::Closed.into());
    };
    let h = client.send(command)?;
    *handle = Some(h);
    Ok(Some(h))
}

impl<T> Procedure for Exchange<T> {
    type Item = Infallible;
    type Output = Result<T, Refused>;

    fn step(&mut self, client: &mut Client) -> Result<Step<Infallible, Self::Output>, Error> {
        if self.handle.is_none() {
            super::check_alive(client)?;
            if let Some(command) = &self.command {
                check_single_line(command)?;
            }
            if self.credential {
                check_secure(client, "USER/PASS")?;
            }
        }
        let Some(handle) =
            send_when_ready(&mut self.begin, client, &mut self.handle, &mut self.command)?
        else {
            return Ok(Step::Io);
        };
        while let Some(event) = self.begin.next_event(client)? {
            if event.handle() != Some(handle) || !event.is_final() {
                continue;
            }
            if let Event::Status { status, .. } = &event {
                if !status.is_ok() {
                    return Ok(Step::Done(Err(Refused::new(self.keyword, status.clone()))));
                }
            }
            return match (self.extract)(event) {
                Some(value) => Ok(Step::Done(Ok(value))),
                None => Err(mismatch(client, "match a reply to its command")),
            };
        }
        Ok(Step::Io)
    }
}

/// Sends one command whose `+OK` reply is multi-line and hands out its entries or body
/// chunks as they arrive, in memory bounded by one read. Ends with `Ok(n)` (entries, or
/// body bytes) or `Err(Refused)`.
///
/// ```
/// use pop3_proto::procedures::Multi;
/// use core::num::NonZeroU32;
/// let uidl = Multi::uidl();     // items: (MsgNum, Uid)
/// let retr = Multi::retr(NonZeroU32::new(1).unwrap()); // items: body chunks (Bytes)
/// ```
pub struct Multi<T> {
    begin: Begin,
    command: Option<Command>,
    keyword: &'static str,
    handle: Option<Handle>,
    extract: fn(Event) -> Option<T>,
    /// For a reply that is a body: its chunks taken without an `Event` (`Begin::next_body`).
    from_body: Option<fn(Bytes) -> T>,
    weight: fn(&T) -> u64,
    total: u64,
}

impl<T> core::fmt::Debug for Multi<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Multi")
            .field("command", &self.keyword)
            .field("handle", &self.handle)
            .field("total", &self.total)
            .finish_non_exhaustive()
    }
}

fn one<T>(_: &T) -> u64 {
    1
}

fn body_chunk(event: Event) -> Option<Bytes> {
    match event {
        Event::BodyChunk { data, .. } => Some(data),
        _ => None,
    }
}

fn body_len(data: &Bytes) -> u64 {
    data.len() as u64
}

impl Multi<Bytes> {
    /// `RETR n`: the message, dot-unstuffed and byte-exact, in zero-copy chunks.
    pub fn retr(msg: MsgNum) -> Self {
        Self::body(Command::Retr(msg))
    }

    /// `TOP n lines`: the headers and the first `lines` body lines.
    pub fn top(msg: MsgNum, lines: u32) -> Self {
        Self::body(Command::Top { msg, lines })
    }

    fn body(command: Command) -> Self {
        Self {
            from_body: Some(|data| data),
            ..Self::new(command, body_chunk, body_len)
        }
    }

    /// A raw command whose `+OK` reply is a dot-stuffed body.
    pub fn raw(line: RawLine) -> Self {
        Self::body(Command::Raw {
            line,
            multiline: true,
        })
    }
}

impl Multi<ScanListing> {
    /// `LIST`: every message's number and size.
    pub fn list() -> Self {
        Self::new(
            Command::List(None),
            |e| match e {
                Event::ListEntry { entry, .. } => Some(entry),
                _ => None,
            },
            one,
        )
    }
}

impl Multi<(MsgNum, Uid)> {
    /// `UIDL`: every message's unique id.
    pub fn uidl() -> Self {
        Self::new(
            Command::Uidl(None),
            |e| match e {
                Event::UidlEntry { msg, uid, .. } => Some((msg, uid)),
                _ => None,
            },
            one,
        )
    }
}

impl Multi<(ServerText, ServerText)> {
    /// `LANG`: the languages offered, as (tag, description).
    pub fn lang_list() -> Self {
        Self::new(
            Command::Lang(None),
            |e| match e {
                Event::LangEntry {
                    tag, description, ..
                } => Some((tag, description)),
                _ => None,
            },
            one,
        )
    }
}

impl Multi<Capability> {
    /// `CAPA`: the capabilities in the server's order (the session also remembers them as
    /// [`Client::capabilities`]).
    pub fn capa() -> Self {
        Self::new(
            Command::Capa,
            |e| match e {
                Event::CapaEntry { capability, .. } => Some(capability),
                _ => None,
            },
            one,
        )
    }
}

impl<T> Multi<T> {
    fn new(command: Command, extract: fn(Event) -> Option<T>, weight: fn(&T) -> u64) -> Self {
        Self {
            begin: Begin::default(),
            keyword: command.keyword(),
            command: Some(command),
            handle: None,
            extract,
            from_body: None,
            weight,
            total: 0,
        }
    }

    /// The command's keyword.
    pub fn keyword(&self) -> &'static str {
        self.keyword
    }
}

impl<T> Procedure for Multi<T> {
    type Item = T;
    type Output = Result<u64, Refused>;

    fn step(&mut self, client: &mut Client) -> Result<Step<T, Self::Output>, Error> {
        let Some(handle) =
            send_when_ready(&mut self.begin, client, &mut self.handle, &mut self.command)?
        else {
            return Ok(Step::Io);
        };
        loop {
            // The hot loop of a streamed body: no `Event` per chunk.
            if let Some(from_body) = self.from_body {
                if let Some(data) = super::next_body(client, handle) {
                    let item = from_body(data);
                    self.total += (self.weight)(&item);
                    return Ok(Step::Item(item));
                }
            }
            let Some(event) = self.begin.next_event(client)? else {
                return Ok(Step::Io);
            };
            if event.handle() != Some(handle) {
                continue;
            }
            match event {
                Event::Status { status, .. } if !status.is_ok() => {
                    return Ok(Step::Done(Err(Refused::new(self.keyword, status))))
                }
                Event::MultiStart { .. } => {}
                Event::MultiEnd { .. } => return Ok(Step::Done(Ok(self.total))),
                other => match (self.extract)(other) {
                    Some(item) => {
                        self.total += (self.weight)(&item);
                        return Ok(Step::Item(item));
                    }
                    None => return Err(mismatch(client, "match a reply to its command")),
                },
            }
        }
    }
}
