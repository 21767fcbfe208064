//! The codec: pure functions from bytes to values and back. No state beyond what a caller
//! passes in, no allocation in the parsers, results borrowed from the input.
//!
//! | module | parses / writes |
//! |---|---|
//! | [`line`] | where a response line ends, within its length limit |
//! | [`status`] | `+OK` / `-ERR`, response codes |
//! | [`greeting`] | the greeting, its APOP timestamp, other protocols |
//! | [`listing`] | STAT, LIST and UIDL lines |
//! | [`capa`] | CAPA lines |
//! | [`dot`] | dot-unstuffing of bodies (streaming), and dot-stuffing |

pub mod capa;
pub mod dot;
pub mod greeting;
pub mod line;
pub mod listing;
pub mod status;
