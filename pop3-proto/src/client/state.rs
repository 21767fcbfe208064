//! The session's states (RFC 1939 §3) and the one function that moves between them.

use core::fmt;

/// Where the session is.
///
/// ```text
///  Greeting ──+OK──▶ Authorization ──PASS/APOP/RPOP/AUTH +OK──▶ Transaction ──QUIT sent──▶ Update
///                     │  ▲   │  ▲                                                          │
///               STLS +OK  │ AUTH│ -ERR                                                     reply/EOF
///                     ▼  │   ▼  │                                                          ▼
///               TlsHandshake  Sasl                              (any state) ──QUIT reply──▶ Closed
/// ```
///
/// ```
/// use pop3_proto::{Client, Config, SessionState};
/// let client = Client::new(Config::default());
/// assert_eq!(client.state(), SessionState::Greeting);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionState {
    /// Waiting for the server's greeting.
    Greeting,
    /// AUTHORIZATION: logging in.
    Authorization,
    /// STLS was accepted; the driver is doing the TLS handshake.
    TlsHandshake,
    /// An AUTH exchange is in progress.
    Sasl,
    /// TRANSACTION: logged in, working with the maildrop.
    Transaction,
    /// QUIT was sent from TRANSACTION; the server is committing deletions.
    Update,
    /// The session is over.
    Closed,
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Greeting => "greeting",
            Self::Authorization => "AUTHORIZATION",
            Self::TlsHandshake => "TLS handshake",
            Self::Sasl => "SASL exchange",
            Self::Transaction => "TRANSACTION",
            Self::Update => "UPDATE",
            Self::Closed => "closed",
        })
    }
}

/// Things that move the session between states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    /// A `+OK` greeting arrived.
    Greeted,
    /// AUTH went out.
    SaslStarted,
    /// AUTH was answered `-ERR` (or cancelled).
    SaslFailed,
    /// PASS, APOP, RPOP or AUTH was answered `+OK`.
    LoggedIn,
    /// STLS was answered `+OK`.
    StlsAccepted,
    /// The driver finished the handshake.
    TlsEstablished,
    /// QUIT went out.
    QuitSent,
    /// QUIT was answered, or the connection ended after QUIT.
    Closed,
}

impl SessionState {
    /// The one place where the session changes state. Transitions that make no sense in the
    /// current state leave it unchanged; the session only asks for the ones it has validated.
    pub(crate) fn next(self, t: Transition) -> SessionState {
        use SessionState as S;
        use Transition as T;
        match (self, t) {
            (S::Greeting, T::Greeted) => S::Authorization,
            (S::Authorization, T::SaslStarted) => S::Sasl,
            (S::Sasl, T::SaslFailed) => S::Authorization,
            (S::Authorization | S::Sasl, T::LoggedIn) => S::Transaction,
            (S::Authorization, T::StlsAccepted) => S::TlsHandshake,
            (S::TlsHandshake, T::TlsEstablished) => S::Authorization,
            (S::Transaction, T::QuitSent) => S::Update,
            (_, T::Closed) => S::Closed,
            (state, _) => state,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SessionState as S;
    use Transition as T;

    #[test]
    fn transition_table() {
        let cases = [
            (S::Greeting, T::Greeted, S::Authorization),
            (S::Authorization, T::LoggedIn, S::Transaction),
            (S::Authorization, T::SaslStarted, S::Sasl),
            (S::Sasl, T::LoggedIn, S::Transaction),
            (S::Sasl, T::SaslFailed, S::Authorization),
            (S::Authorization, T::StlsAccepted, S::TlsHandshake),
            (S::TlsHandshake, T::TlsEstablished, S::Authorization),
            (S::Transaction, T::QuitSent, S::Update),
            (S::Authorization, T::QuitSent, S::Authorization),
            (S::Update, T::Closed, S::Closed),
            (S::Authorization, T::Closed, S::Closed),
            (S::Transaction, T::Greeted, S::Transaction),
        ];
        for (from, t, to) in cases {
            assert_eq!(from.next(t), to, "{from:?} --{t:?}-->");
        }
    }
}
