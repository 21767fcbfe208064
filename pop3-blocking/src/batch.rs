//! Bookkeeping of a pipelined batch (RETR or DELE of many messages), shared by the blocking
//! and the Tokio driver: which reply belongs to which message, what each one delivered, and
//! what the server refused. The drivers only send the commands and feed it events.

use crate::{Error, Result};
use pop3_proto::{Event, Handle, MsgNum, Status};
use std::collections::VecDeque;
use std::io;

/// A piece of a message body handed to a batch sink.
#[derive(Debug)]
pub enum Part<'a> {
    /// More bytes of the message (dot-unstuffed, exactly as stored).
    Data(&'a [u8]),
    /// The message is complete.
    End,
}

/// What a pipelined batch did, message by message.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct BatchReport {
    /// Messages done, with their body size (0 for deletions).
    pub done: Vec<(MsgNum, u64)>,
    /// Messages the server refused, with its `-ERR` reply.
    pub refused: Vec<(MsgNum, Status)>,
}

/// A batch in progress. Public for the Tokio driver; not part of the API.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct Batch {
    /// Commands still waiting for (the end of) their reply: handle, message, bytes so far.
    pending: VecDeque<(Handle, MsgNum, u64)>,
    report: BatchReport,
    /// The first error of the caller's sink; the batch reads on so the session stays in step.
    sink_error: Option<io::Error>,
}

impl Batch {
    /// Records a command sent for `msg`.
    pub fn push(&mut self, handle: Handle, msg: MsgNum) {
        self.pending.push_back((handle, msg, 0));
    }

    /// Whether every reply has arrived.
    pub fn is_done(&self) -> bool {
        self.pending.is_empty()
    }

    /// Takes one event; `each` sees the events of accepted messages and returns how many
    /// body bytes it handled. Events of other commands are ignored.
    pub fn on_event(
        &mut self,
        event: Event,
        each: &mut impl FnMut(MsgNum, Event) -> io::Result<usize>,
    ) {
        let Some(&(handle, msg, _)) = self.pending.front() else {
            return;
        };
        if event.handle() != Some(handle) {
            return;
        }
        if let Event::Status { status, .. } = &event {
            if !status.is_ok() {
                self.report.refused.push((msg, status.clone()));
                self.pending.pop_front();
                return;
            }
        }
        let is_final = event.is_final();
        if self.sink_error.is_none() {
            match each(msg, event) {
                Ok(n) => self.pending[0].2 += n as u64,
                Err(e) => self.sink_error = Some(e),
            }
        }
        if is_final {
            if let Some((_, msg, size)) = self.pending.pop_front() {
                self.report.done.push((msg, size));
            }
        }
    }

    /// The report, or the sink's error.
    pub fn finish(self) -> Result<BatchReport> {
        match self.sink_error {
            Some(e) => Err(Error::Io(e)),
            None => Ok(self.report),
        }
    }
}
