//! Replays `pop3-proto`'s recorded transcripts through a [`Client`] on any host.
//!
//! The transcripts are the `S:`/`C:`/`E:` files under `pop3-proto/tests/transcripts/`: what a
//! server sends, what the client must send, and the events it must report. This crate parses
//! them, drives a [`Client`] through them with the server's bytes cut in different ways, and
//! compares. It is `no_std` + `alloc` and does no I/O, so the same checks run in the native
//! test suite (`pop3-proto/tests/transcripts.rs`), inside a WASM host (`hosts/wasm`) and on an
//! emulated Cortex-M4 (`hosts/cortex-m4`): a host only has to report the result.
//!
//! ```
//! let (name, text) = pop3_transcript::EMBEDDED[0];
//! let transcript = pop3_transcript::Transcript::parse(name, text).unwrap();
//! let checked = pop3_transcript::check(&transcript, pop3_transcript::Depth::Quick).unwrap();
//! assert!(checked.replays >= 3);
//! ```
//!
//! Format, one item per line:
//!
//! - `S: text` — a line the server sends (CRLF added); `S> text` sends it without CRLF.
//! - `C: text` — a line the client must send. Outside a procedure it also says what to ask
//!   the `Client` for: `USER x`, `APOP x digest` (with `# secret:`), `AUTH MECH [ir]` (the
//!   following `C:` lines are the mechanism's responses), `RAW text` / `RAW+ text` for raw
//!   single- and multi-line commands; anything else parses as the named command.
//! - `P: procedure` — runs a procedure of `pop3_proto::procedures` to its end; the `C:` lines
//!   that follow are only what it must send. `login USER PASS`, `apop USER` (with
//!   `# secret:`), `stls`, `batch retr N...`, `batch dele N...`, `quit`.
//! - `E: event` — an expected event or procedure result, rendered as in [`render`].
//! - `X: error` — the expected fatal error (its `Debug`), which ends the replay.
//! - `# config: pipelining=on|off|auto, bare_lf, lowercase, loose, implicit_tls,
//!   plaintext_auth`
//! - `# secret: word` — the password used for APOP.
//! - `# eof` — the server closes the connection here.
//! - other `#` lines are comments.
//!
//! [`Client`]: pop3_proto::Client

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod command;
mod embedded;
mod parse;
mod procedure;
pub mod render;
mod replay;
pub mod stream;

pub use command::parse_command;
pub use embedded::EMBEDDED;
pub use parse::{unescape, Item, ParseError, Transcript};
pub use replay::{check, replay, Checked, Depth, Feed, Mismatch, Replay};
