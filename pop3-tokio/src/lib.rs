//! # pop3-tokio — an async POP3 client
//!
//! The same power as `pop3-blocking`, on Tokio and `tokio-rustls`, driving the same
//! sans-IO [`pop3_proto`] core: implicit TLS and required STLS, every command, bodies
//! streamed to any `AsyncWrite` or read as an `AsyncRead`, pipelined batches, the QUIT
//! outcome, timeouts on `tokio::time`, TCP_NODELAY and TCP_QUICKACK, and the redacted
//! `tracing` trace. Futures and sessions are `Send`, so sessions can be spawned on a
//! multi-threaded runtime; every call is cancel-safe (see [`Pop3`]).
//!
//! This crate is only I/O: every protocol rule lives in the core's
//! [`procedures`](pop3_proto::procedures), which [`Pop3`] runs with the core's
//! [`Pump`](pop3_proto::driver::Pump) — the same ones `pop3-blocking` runs.
//!
//! ```no_run
//! use pop3_tokio::{Pop3, Part};
//!
//! # async fn demo() -> pop3_tokio::Result<()> {
//! let mut pop = Pop3::connect_tls("pop.example.com", 995).await?;
//! pop.login("alice", "secret").await?;
//! let all: Vec<_> = pop.list().await?.into_iter().map(|e| e.msg).collect();
//! let mut bytes = 0;
//! pop.retr_many(&all, |_msg, part| {
//!     if let Part::Data(data) = part { bytes += data.len(); }
//!     Ok(())
//! }).await?;
//! pop.quit().await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The crate's README (its crates.io page): its examples are compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct CrateReadmeDoctests;

mod connect;
pub mod server;
mod session;
mod transport;

pub use connect::Connector;
pub use pop3_proto;
pub use pop3_proto::driver::{tls, Error, Part, Result, TlsMode};
pub use pop3_proto::procedures::BatchReport;
pub use session::{MessageReader, Pop3};
pub use transport::Transport;
