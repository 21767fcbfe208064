//! Many messages at once: RETR or DELE pipelined within the session's window, with an
//! outcome per message.

use super::{Begin, Multi, Procedure, Step};
use crate::client::Client;
use crate::codec::capa::Capability;
use crate::codec::status::Status;
use crate::command::{Command, MsgNum};
use crate::{Error, Event, Handle, Pipelining};
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use bytes::Bytes;

/// What a batch hands out, message by message, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchItem {
    /// More bytes of a message being retrieved (dot-unstuffed, byte-exact, zero-copy).
    Data {
        /// The message.
        msg: MsgNum,
        /// The bytes.
        data: Bytes,
    },
    /// A message is done: its whole body has arrived (RETR), or the server confirmed the
    /// deletion mark (DELE).
    Done {
        /// The message.
        msg: MsgNum,
        /// Its body size (0 for DELE).
        size: u64,
    },
    /// The server refused this message (`-ERR`); the batch goes on.
    Refused {
        /// The message.
        msg: MsgNum,
        /// The reply, with its response code.
        status: Status,
    },
}

/// What a batch did, message by message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchReport {
    /// Messages done, with their body size (0 for deletions).
    pub done: Vec<(MsgNum, u64)>,
    /// Messages the server refused, with its `-ERR` reply.
    pub refused: Vec<(MsgNum, Status)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Retr,
    Dele,
}

/// RETR or DELE of many messages: pipelined when the server can (learning its capabilities
/// first if nobody has), queueing only as many commands as the window has room for, so the
/// unsent rest stays here — an abandoned batch leaves nothing queued behind. Items come in
/// message order; the output is the [`BatchReport`].
///
/// ```
/// use pop3_proto::procedures::{Batch, BatchItem, Procedure, Step};
/// use pop3_proto::{Client, Config, Pipelining};
/// use core::num::NonZeroU32;
///
/// let mut config = Config::default();
/// config.pipelining = Pipelining::On;
/// let mut client = Client::new(config);
/// # client.handle_input(b"+OK\r\n"); client.poll_event().unwrap();
/// # client.send(pop3_proto::Command::User(pop3_proto::UserName::new("u").unwrap())).unwrap();
/// # client.poll_transmit(&mut Vec::new()); client.handle_input(b"+OK\r\n"); client.poll_event().unwrap();
/// # client.send(pop3_proto::Command::Pass(pop3_proto::Password::new("p").unwrap())).unwrap();
/// # client.poll_transmit(&mut Vec::new()); client.handle_input(b"+OK\r\n"); client.poll_event().unwrap();
/// let msgs = [1, 2].map(|n| NonZeroU32::new(n).unwrap());
/// let mut batch = Batch::retr(msgs);
/// let mut wire = Vec::new();
/// let mut items = Vec::new();
/// let report = loop {
///     match batch.step(&mut client).unwrap() {
///         Step::Io => {
///             if client.poll_transmit(&mut wire) == 0 {
///                 client.handle_input(b"+OK\r\nhello\r\n.\r\n-ERR no such message\r\n");
///             }
///         }
///         Step::Item(item) => items.push(item),
///         Step::Done(report) => break report,
///         Step::StartTls(_) => unreachable!(),
///     }
/// };
/// assert_eq!(wire, b"RETR 1\r\nRETR 2\r\n"); // both in one write
/// assert_eq!(items.len(), 3); // Data, Done for 1; Refused for 2
/// assert_eq!(report.done, [(msgs[0], 7)]);
/// ```
#[derive(Debug)]
pub struct Batch {
    begin: Begin,
    kind: Kind,
    /// Not yet queued.
    unsent: VecDeque<MsgNum>,
    /// Queued or in flight, oldest first, with the body bytes seen so far.
    pending: VecDeque<(Handle, MsgNum, u64)>,
    /// CAPA asked first, so that the session pipelines if the server can.
    capa: Option<Multi<Capability>>,
    started: bool,
    report: BatchReport,
}

impl Batch {
    /// `RETR` of each message, bodies streamed as [`BatchItem::Data`].
    pub fn retr(msgs: impl IntoIterator<Item = MsgNum>) -> Self {
        Self::new(Kind::Retr, msgs)
    }

    /// `DELE` of each message. Only QUIT's `+OK` removes them; abandoning the batch does not
    /// unsend the DELEs already transmitted (see [`Client::marked_deleted`]).
    pub fn dele(msgs: impl IntoIterator<Item = MsgNum>) -> Self {
        Self::new(Kind::Dele, msgs)
    }

    fn new(kind: Kind, msgs: impl IntoIterator<Item = MsgNum>) -> Self {
        Self {
            begin: Begin::default(),
            kind,
            unsent: msgs.into_iter().collect(),
            pending: VecDeque::new(),
            capa: None,
            started: false,
            report: BatchReport::default(),
        }
    }

    fn command(&self, msg: MsgNum) -> Command {
        match self.kind {
            Kind::Retr => Command::Retr(msg),
            Kind::Dele => Command::Dele(msg),
        }
    }

    /// Learns whether the server pipelines, once, if nobody has asked yet.
    fn learn(&mut self, client: &mut Client) -> Result<bool, Error> {
        if !self.started {
            self.started = true;
            let unknown =
                client.capabilities().is_none() && client.config().pipelining == Pipelining::Auto;
            if unknown {
                self.capa = Some(Multi::capa());
            }
        }
        if let Some(capa) = &mut self.capa {
            loop {
                match capa.step(client)? {
                    Step::Io => return Ok(false),
                    // A server without CAPA is served one command at a time.
                    Step::Done(_) => break,
                    Step::Item(_) | Step::StartTls(_) => {}
                }
            }
            self.capa = None;
        }
        Ok(true)
    }
}

impl Procedure for Batch {
    type Item = BatchItem;
    type Output = BatchReport;

    fn step(&mut self, client: &mut Client) -> Result<Step<BatchItem, BatchReport>, Error> {
        if !self.learn(client)? || !self.begin.ready(client)? {
            return Ok(Step::Io);
        }
        loop {
            while client.window_room() > 0 {
                let Some(&msg) = self.unsent.front() else {
                    break;
                };
                let handle = client.send(self.command(msg))?;
                self.unsent.pop_front();
                self.pending.push_back((handle, msg, 0));
            }
            let Some(&(handle, msg, size)) = self.pending.front() else {
                if self.unsent.is_empty() {
                    return Ok(Step::Done(core::mem::take(&mut self.report)));
                }
                // The window is taken by replies owed to an abandoned procedure: let them in.
                match self.begin.next_event(client)? {
                    None => return Ok(Step::Io),
                    Some(_) => continue,
                }
            };
            // The hot loop of a streamed body: no `Event` per chunk.
            if let Some(data) = super::next_body(client, handle) {
                self.pending[0].2 = size + data.len() as u64;
                return Ok(Step::Item(BatchItem::Data { msg, data }));
            }
            let Some(event) = self.begin.next_event(client)? else {
                return Ok(Step::Io);
            };
            if event.handle() != Some(handle) {
                continue;
            }
            match event {
                Event::Status { status, .. } if !status.is_ok() => {
                    self.pending.pop_front();
                    self.report.refused.push((msg, status.clone()));
                    return Ok(Step::Item(BatchItem::Refused { msg, status }));
                }
                Event::BodyChunk { data, .. } => {
                    self.pending[0].2 = size + data.len() as u64;
                    return Ok(Step::Item(BatchItem::Data { msg, data }));
                }
                event if event.is_final() => {
                    self.pending.pop_front();
                    self.report.done.push((msg, size));
                    return Ok(Step::Item(BatchItem::Done { msg, size }));
                }
                _ => {}
            }
        }
    }
}
