//! # pop3-blocking — the std driver for `pop3-proto`
//!
//! This crate will hold the blocking client: implicit TLS and required STLS via `rustls`,
//! every `poplib` call, streaming bodies, pipelined batches and the `pop3` command-line tool.
//! Until then it re-exports the sans-IO core it is built on, whose [`pop3_proto::Client`]
//! can already be driven over any `Read + Write` stream with the loop shown in its docs.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use pop3_proto;
