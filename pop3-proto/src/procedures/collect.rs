//! Collecting a streamed reply into memory, within a bound.

use super::{Multi, Procedure, Refused, Step};
use crate::client::Client;
use crate::Error;
use alloc::vec::Vec;
use bytes::Bytes;
use core::convert::Infallible;

/// How a collected reply ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Collected<C> {
    /// Everything, in memory.
    Complete(C),
    /// The server answered `-ERR`.
    Refused(Refused),
    /// The reply was larger than the limit: it was read to its end and dropped, so the
    /// session goes on. Use the streaming procedure ([`Multi`]) for replies this large.
    TooLarge {
        /// The command.
        command: &'static str,
        /// The limit that was passed (entries, or body bytes).
        limit: u64,
    },
}

/// Runs a [`Multi`] and collects its items: at most `limit` entries of a listing, or
/// `limit` bytes of a body. The drivers' `list()`, `uidl()`, `retr()` and `top()` are this,
/// with the limits of [`Config::max_collected_entries`](crate::Config::max_collected_entries)
/// and [`Config::max_collected_body`](crate::Config::max_collected_body).
///
/// ```
/// use pop3_proto::procedures::{Collect, Collected, Procedure, Step};
/// use pop3_proto::{Client, Config, Password, UserName};
///
/// let mut config = Config::default();
/// config.max_collected_entries = 2;
/// let mut client = Client::new(config);
/// # client.handle_input(b"+OK\r\n"); client.poll_event().unwrap();
/// # client.send(pop3_proto::Command::User(UserName::new("u").unwrap())).unwrap();
/// # client.poll_transmit(&mut Vec::new()); client.handle_input(b"+OK\r\n"); client.poll_event().unwrap();
/// # client.send(pop3_proto::Command::Pass(Password::new("p").unwrap())).unwrap();
/// # client.poll_transmit(&mut Vec::new()); client.handle_input(b"+OK\r\n"); client.poll_event().unwrap();
/// let mut list = Collect::list(&client);
/// let mut out = Vec::new();
/// let outcome = loop {
///     match list.step(&mut client).unwrap() {
///         Step::Io => {
///             if client.poll_transmit(&mut out) == 0 {
///                 client.handle_input(b"+OK\r\n1 10\r\n2 20\r\n3 30\r\n.\r\n");
///             }
///         }
///         Step::Done(outcome) => break outcome,
///         _ => unreachable!(),
///     }
/// };
/// assert_eq!(outcome, Collected::TooLarge { command: "LIST", limit: 2 });
/// ```
#[derive(Debug)]
pub struct Collect<T, C> {
    inner: Multi<T>,
    limit: u64,
    weight: fn(&T) -> u64,
    push: fn(&mut C, T),
    kept: u64,
    collected: Option<C>,
}

impl<T> Collect<T, Vec<T>> {
    /// Collects a listing's entries, at most `limit`.
    pub fn entries(inner: Multi<T>, limit: u64) -> Self {
        Self {
            inner,
            limit,
            weight: |_| 1,
            push: Vec::push,
            kept: 0,
            collected: Some(Vec::new()),
        }
    }
}

impl Collect<Bytes, Vec<u8>> {
    /// Collects a body, at most `limit` bytes.
    pub fn body(inner: Multi<Bytes>, limit: u64) -> Self {
        Self {
            inner,
            limit,
            weight: |b| b.len() as u64,
            push: |v, b| v.extend_from_slice(&b),
            kept: 0,
            collected: Some(Vec::new()),
        }
    }
}

impl Collect<crate::ScanListing, Vec<crate::ScanListing>> {
    /// `LIST`, within [`Config::max_collected_entries`](crate::Config::max_collected_entries).
    pub fn list(client: &Client) -> Self {
        Self::entries(Multi::list(), client.config().max_collected_entries)
    }
}

impl Collect<(crate::MsgNum, crate::Uid), Vec<(crate::MsgNum, crate::Uid)>> {
    /// `UIDL`, within [`Config::max_collected_entries`](crate::Config::max_collected_entries).
    pub fn uidl(client: &Client) -> Self {
        Self::entries(Multi::uidl(), client.config().max_collected_entries)
    }
}

impl<T, C> Procedure for Collect<T, C> {
    type Item = Infallible;
    type Output = Collected<C>;

    fn step(&mut self, client: &mut Client) -> Result<Step<Infallible, Collected<C>>, Error> {
        loop {
            match self.inner.step(client)? {
                Step::Item(item) => {
                    self.kept = self.kept.saturating_add((self.weight)(&item));
                    if self.kept > self.limit {
                        // Over the limit: free what we hold, read on to the end of the reply.
                        self.collected = None;
                    }
                    if let Some(c) = self.collected.as_mut() {
                        (self.push)(c, item);
                    }
                }
                Step::Io => return Ok(Step::Io),
                Step::StartTls(upgrade) => return Ok(Step::StartTls(upgrade)),
                Step::Done(Err(refused)) => return Ok(Step::Done(Collected::Refused(refused))),
                Step::Done(Ok(_)) => {
                    return Ok(Step::Done(match self.collected.take() {
                        Some(c) => Collected::Complete(c),
                        None => Collected::TooLarge {
                            command: self.inner.keyword(),
                            limit: self.limit,
                        },
                    }))
                }
            }
        }
    }
}
