//! # pop3-proto — a sans-IO POP3 client core, with its procedures
//!
//! This crate turns POP3 commands into bytes and received bytes into typed events, through a
//! session state machine (AUTHORIZATION → TRANSACTION → UPDATE). It never touches a socket, a
//! clock or a thread, so it runs under any event loop, in embedded and WASM hosts
//! (`#![no_std]` + `alloc`), and under a fuzzer. `pop3-blocking` and `pop3-tokio` are its
//! drivers.
//!
//! - Bodies stream: RETR of a gigabyte message is a series of zero-copy [`Event::BodyChunk`]s
//!   cut from one receive buffer, in memory bounded by the read size. Hot loops can skip the
//!   `Event`: [`Client::poll_body`] hands out the chunks alone, [`Client::drain_body`] lends
//!   them straight out of the buffer.
//! - Pipelining (RFC 2449) with strict in-order matching, barriers and a window.
//! - Strict by default against hostile servers (see `BAD-INPUT.md`): every limit explicit,
//!   every server string escaped for display, no QUIT ever sent unless asked.
//!
//! ## The driver loop
//!
//! Write what [`Client::poll_transmit`] produces; take events from [`Client::poll_event`]
//! until it returns `None`; read once and feed it with [`Client::handle_input`] (or
//! [`Client::read_space`]); a read of zero bytes is [`Client::handle_eof`]. Here the
//! "server" is a script that answers each write:
//!
//! ```
//! use pop3_proto::{Client, Command, Config, Event, Password, UserName};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut server = [
//!     &b"+OK mrose is a real hoopy frood\r\n"[..],
//!     b"+OK mrose's maildrop has 2 messages\r\n",
//!     b"+OK 2 320\r\n",
//!     b"+OK 120 octets\r\nSubject: hi\r\n\r\n..a line that starts with a dot\r\n.\r\n",
//! ]
//! .into_iter();
//!
//! let mut client = Client::new(Config::default());
//! client.handle_input(b"+OK POP3 server ready\r\n");
//! client.send(Command::User(UserName::new("mrose")?))?;
//!
//! let (mut out, mut body) = (Vec::new(), Vec::new());
//! loop {
//!     out.clear();
//!     if client.poll_transmit(&mut out) > 0 {
//!         client.handle_input(server.next().unwrap()); // a driver writes, then reads
//!     }
//!     while let Some(event) = client.poll_event()? {
//!         match event {
//!             Event::Status { status, .. } if status.is_ok() && client.in_flight() == 0 => {
//!                 // USER, then PASS accepted: move on.
//!                 match client.state() {
//!                     pop3_proto::SessionState::Authorization => {
//!                         client.send(Command::Pass(Password::new("secret")?))?;
//!                     }
//!                     _ => {
//!                         client.send(Command::Stat)?;
//!                     }
//!                 }
//!             }
//!             Event::Stat { stat, .. } => {
//!                 assert_eq!((stat.count, stat.size), (2, 320));
//!                 client.send(Command::Retr(1.try_into()?))?;
//!             }
//!             Event::BodyChunk { data, .. } => body.extend_from_slice(&data),
//!             Event::MultiEnd { .. } => {
//!                 assert_eq!(body, b"Subject: hi\r\n\r\n.a line that starts with a dot\r\n");
//!                 return Ok(());
//!             }
//!             _ => {}
//!         }
//!     }
//! }
//! # }
//! ```
//!
//! ## Where things are
//!
//! - [`codec`]: the pure parsers and the dot-(un)stuffer — where a byte is parsed.
//! - [`Client`]: the session — queues, state, the decoder loop.
//! - [`procedures`]: what a user calls (log in, required STLS, batches, bounded listings,
//!   QUIT) as state machines every driver and event loop runs with one loop.
//! - `driver` (feature `driver`): the pump, error type, TLS settings and trace that the std
//!   drivers share.
//! - [`Command`] and the argument types ([`UserName`], [`Password`], …): what can be sent.
//! - [`sasl`]: SASL mechanisms as sans-IO step functions.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The crate's README (its crates.io page): its examples are compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct CrateReadmeDoctests;

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod apop;
mod args;
mod client;
pub mod codec;
mod command;
#[cfg(feature = "driver")]
#[cfg_attr(docsrs, doc(cfg(feature = "driver")))]
pub mod driver;
pub mod procedures;
pub mod sasl;
pub mod server;
mod text;

pub use apop::apop_digest;
pub use args::{ArgumentError, LangTag, MechanismName, Password, RawLine, UserName};
pub use client::{
    Client, Config, Error, Event, Handle, Instant, Leniency, LocalError, LowSpeed, Pipelining,
    QuitOutcome, RemoteError, SessionState,
};
pub use codec::capa::{Capabilities, Capability};
pub use codec::greeting::{ApopTimestamp, Greeting};
pub use codec::listing::{ScanListing, Stat, Uid};
pub use codec::status::{ResponseCode, Status};
pub use command::{Command, MsgNum};
pub use text::ServerText;

/// The README's examples are compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
