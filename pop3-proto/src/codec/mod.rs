//! The codec: pure functions from bytes to values and back. No state beyond what a caller
//! passes in, no allocation in the parsers, results borrowed from the input.
//!
//! | module | parses / writes |
//! |---|---|
//! | [`line`](mod@line) | where a response line ends, within its length limit |
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
pub mod request;
pub mod status;

/// Opt-in tolerance for servers that bend the protocol. All off by default; each one
/// weakens a check, so turn on only what a server you must talk to needs.
///
/// ```
/// use pop3_proto::Config;
/// let mut config = Config::default();
/// config.lenient.lowercase_status = true;
/// assert!(!config.lenient.bare_lf);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Leniency {
    /// Accept a bare LF as a line end, in status lines and bodies — for servers that store
    /// mail with Unix line ends and send it unconverted (some small embedded and test
    /// servers). Never applied while pipelining: with bare LF as a line end, message content
    /// could fake the end of a body and smuggle responses to later commands.
    pub bare_lf: bool,
    /// Accept `+ok` / `-err` in any case, for servers that send lower case (seen in
    /// hand-written test servers and some appliances).
    pub lowercase_status: bool,
    /// Accept runs of spaces and TABs between fields of STAT and listings, and a TAB after
    /// the status indicator — for servers that pad columns.
    pub loose_separators: bool,
}
