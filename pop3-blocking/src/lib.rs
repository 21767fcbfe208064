//! # pop3-blocking — a blocking POP3 client
//!
//! Everything Python's `poplib` does, one call away, on top of the sans-IO
//! [`pop3_proto`] core: implicit TLS (the default) and required STLS via `rustls`, USER/PASS,
//! APOP, RPOP, SASL, STAT, LIST, UIDL, RETR and TOP streamed in constant memory, DELE, RSET,
//! NOOP, CAPA, UTF8, LANG, pipelined batches, typed `-ERR` response codes, timeouts (reply,
//! low-speed, keepalive), and a redacted protocol trace through `tracing`.
//!
//! This crate is only I/O: every protocol rule lives in the core's
//! [`procedures`](pop3_proto::procedures), which [`Pop3`] runs over a socket with the core's
//! [`Pump`](pop3_proto::driver::Pump). `pop3-tokio` runs the very same procedures.
//!
//! ```no_run
//! use pop3_blocking::{Pop3, Part};
//!
//! # fn main() -> pop3_blocking::Result<()> {
//! let mut pop = Pop3::connect_tls("pop.example.com", 995)?;
//! pop.login("alice", "secret")?;
//! let messages: Vec<_> = pop.list()?.into_iter().map(|e| e.msg).collect();
//! let mut out = std::io::sink();
//! pop.retr_many(&messages, |_msg, part| match part {
//!     Part::Data(bytes) => std::io::Write::write_all(&mut out, bytes),
//!     Part::End => Ok(()),
//! })?;
//! pop.dele_many(&messages)?;
//! let outcome = pop.quit()?; // only now are the deletions committed
//! assert!(outcome.is_committed());
//! # Ok(()) }
//! ```
//!
//! Dropping a [`Pop3`] or hitting an error never sends QUIT: nothing marked deleted is ever
//! committed by accident.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The crate's README (its crates.io page): its examples are compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct CrateReadmeDoctests;

mod connect;
mod session;
mod transport;

pub use connect::Connector;
pub use pop3_proto;
pub use pop3_proto::driver::{tls, Error, Part, Result, TlsMode};
pub use pop3_proto::procedures::BatchReport;
pub use session::{MessageReader, Pop3};
pub use transport::{BufferedTcp, Transport};
