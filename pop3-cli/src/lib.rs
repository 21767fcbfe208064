//! What the `pop3` tool does, as a library: [`fetch`] (mail into a Maildir, never lost or
//! duplicated), [`maildir`] (delivery and the record of what is stored), [`serve`] (a POP3
//! server over Maildirs) and [`demo`] (both, against each other, on loopback).
//!
//! The binary (`src/main.rs`) is the command line around these; the integration tests drive
//! them in-process.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod demo;
pub mod fetch;
pub mod maildir;
pub mod serve;
