//! # pop3-tokio — the Tokio driver for `pop3-proto`
//!
//! This crate will hold the async client: the same power as `pop3-blocking`, cancel-safe,
//! `Send`, with bodies as `AsyncRead` streams. Until then it re-exports the sans-IO core it is
//! built on.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use pop3_proto;
