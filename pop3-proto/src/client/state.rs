//! The session's states (RFC 1939 §3) and the one function that moves between them.
//!
//! Everything about the session that changes with the protocol — the state, whether USER
//! was just accepted, TLS, the messages marked deleted — lives in [`Machine`] and changes
//! only in [`Machine::apply`]. What can be derived from the command queues (a reply being
//! awaited, QUIT accepted) is derived there, not stored.

use alloc::collections::BTreeSet;
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

/// Things that move the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    /// A `+OK` greeting arrived.
    Greeted,
    /// USER was answered `+OK`: PASS may follow.
    UserAccepted,
    /// USER was answered `-ERR`: PASS may not follow.
    UserRefused,
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
    /// DELE n was answered `+OK`.
    Deleted(u32),
    /// RSET was answered `+OK`.
    Reset,
    /// QUIT was answered, or the connection ended after QUIT.
    Closed,
}

impl Transition {
    /// For messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Greeted => "accept a greeting",
            Self::UserAccepted => "accept USER",
            Self::UserRefused => "refuse USER",
            Self::SaslStarted => "start AUTH",
            Self::SaslFailed => "end a failed AUTH",
            Self::LoggedIn => "log in",
            Self::StlsAccepted => "start TLS",
            Self::TlsEstablished => "finish a TLS handshake",
            Self::QuitSent => "send QUIT",
            Self::Deleted(_) => "mark a message deleted",
            Self::Reset => "reset deletions",
            Self::Closed => "close",
        }
    }
}

/// A transition the state machine has no rule for: a bug in the session, never the server's
/// doing (the decoder validates replies before it applies them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Invalid {
    pub(crate) from: SessionState,
    pub(crate) transition: Transition,
}

impl SessionState {
    /// The state after `t`, or `None` when `t` makes no sense in this state. Every pair is
    /// spelled out: a new state or transition must be decided here, not fall through.
    pub(crate) fn next(self, t: Transition) -> Option<SessionState> {
        use SessionState as S;
        use Transition as T;
        Some(match (self, t) {
            (S::Greeting, T::Greeted) => S::Authorization,
            (S::Authorization, T::UserAccepted | T::UserRefused) => S::Authorization,
            (S::Authorization, T::SaslStarted) => S::Sasl,
            (S::Sasl, T::SaslFailed) => S::Authorization,
            (S::Authorization | S::Sasl, T::LoggedIn) => S::Transaction,
            (S::Authorization, T::StlsAccepted) => S::TlsHandshake,
            (S::TlsHandshake, T::TlsEstablished) => S::Authorization,
            (S::Transaction, T::QuitSent) => S::Update,
            // RFC 1939 §6: QUIT in AUTHORIZATION ends the session without an UPDATE state.
            (S::Authorization, T::QuitSent) => S::Authorization,
            (S::Transaction, T::Deleted(_) | T::Reset) => S::Transaction,
            (_, T::Closed) => S::Closed,
            (
                S::Greeting
                | S::Authorization
                | S::TlsHandshake
                | S::Sasl
                | S::Transaction
                | S::Update
                | S::Closed,
                T::Greeted
                | T::UserAccepted
                | T::UserRefused
                | T::SaslStarted
                | T::SaslFailed
                | T::LoggedIn
                | T::StlsAccepted
                | T::TlsEstablished
                | T::QuitSent
                | T::Deleted(_)
                | T::Reset,
            ) => return None,
        })
    }
}

/// The protocol state of a session: changed only by [`Machine::apply`].
#[derive(Debug, Clone)]
pub(crate) struct Machine {
    state: SessionState,
    /// USER was answered `+OK` (and no login, refused USER or STLS since): PASS may follow.
    user_accepted: bool,
    tls_active: bool,
    stls_used: bool,
    /// Messages the server confirmed as marked deleted (`+OK` to DELE), until RSET.
    deleted: BTreeSet<u32>,
}

impl Machine {
    pub(crate) fn new(implicit_tls: bool) -> Self {
        Self {
            state: SessionState::Greeting,
            user_accepted: false,
            tls_active: implicit_tls,
            stls_used: false,
            deleted: BTreeSet::new(),
        }
    }

    pub(crate) fn state(&self) -> SessionState {
        self.state
    }

    pub(crate) fn user_accepted(&self) -> bool {
        self.user_accepted
    }

    pub(crate) fn tls_active(&self) -> bool {
        self.tls_active
    }

    pub(crate) fn stls_used(&self) -> bool {
        self.stls_used
    }

    pub(crate) fn deleted(&self) -> &BTreeSet<u32> {
        &self.deleted
    }

    /// The one place the session changes.
    pub(crate) fn apply(&mut self, t: Transition) -> Result<(), Invalid> {
        let next = self.state.next(t).ok_or(Invalid {
            from: self.state,
            transition: t,
        })?;
        self.state = next;
        match t {
            Transition::UserAccepted => self.user_accepted = true,
            Transition::UserRefused
            | Transition::SaslStarted
            | Transition::LoggedIn
            | Transition::QuitSent => self.user_accepted = false,
            Transition::StlsAccepted => {
                self.user_accepted = false;
                self.stls_used = true;
            }
            Transition::TlsEstablished => self.tls_active = true,
            Transition::Deleted(n) => {
                self.deleted.insert(n);
            }
            Transition::Reset => self.deleted.clear(),
            Transition::Greeted | Transition::SaslFailed | Transition::Closed => {}
        }
        Ok(())
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
            (S::Greeting, T::Greeted, Some(S::Authorization)),
            (S::Authorization, T::LoggedIn, Some(S::Transaction)),
            (S::Authorization, T::SaslStarted, Some(S::Sasl)),
            (S::Sasl, T::LoggedIn, Some(S::Transaction)),
            (S::Sasl, T::SaslFailed, Some(S::Authorization)),
            (S::Authorization, T::StlsAccepted, Some(S::TlsHandshake)),
            (S::TlsHandshake, T::TlsEstablished, Some(S::Authorization)),
            (S::Transaction, T::QuitSent, Some(S::Update)),
            (S::Authorization, T::QuitSent, Some(S::Authorization)),
            (S::Update, T::Closed, Some(S::Closed)),
            (S::Authorization, T::Closed, Some(S::Closed)),
            (S::Transaction, T::Deleted(3), Some(S::Transaction)),
            // Nonsense is refused, not swallowed.
            (S::Transaction, T::Greeted, None),
            (S::Greeting, T::LoggedIn, None),
            (S::Authorization, T::Deleted(1), None),
            (S::Update, T::QuitSent, None),
            (S::TlsHandshake, T::StlsAccepted, None),
        ];
        for (from, t, to) in cases {
            assert_eq!(from.next(t), to, "{from:?} --{t:?}-->");
        }
    }

    #[test]
    fn apply_keeps_the_sub_state_with_the_state() {
        let mut m = Machine::new(false);
        assert!(
            m.apply(T::UserAccepted).is_err(),
            "USER before the greeting"
        );
        m.apply(T::Greeted).unwrap();
        m.apply(T::UserAccepted).unwrap();
        assert!(m.user_accepted());
        m.apply(T::UserRefused).unwrap();
        assert!(!m.user_accepted());
        m.apply(T::StlsAccepted).unwrap();
        assert!(m.stls_used() && !m.tls_active());
        m.apply(T::TlsEstablished).unwrap();
        assert!(m.tls_active());
        m.apply(T::LoggedIn).unwrap();
        m.apply(T::Deleted(2)).unwrap();
        m.apply(T::Deleted(5)).unwrap();
        assert_eq!(
            m.deleted().iter().copied().collect::<alloc::vec::Vec<_>>(),
            [2, 5]
        );
        m.apply(T::Reset).unwrap();
        assert!(m.deleted().is_empty());
        let err = m.apply(T::Greeted).unwrap_err();
        assert_eq!(err.from, S::Transaction);
        assert_eq!(
            m.state(),
            S::Transaction,
            "a refused transition changes nothing"
        );
    }
}
