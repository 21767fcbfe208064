//! Logging in: USER/PASS (PASS only after USER's `+OK`), APOP, or SASL.

use super::auto::{Auto, Method};
use super::exchange::check_secure;
use super::{Begin, Multi, Procedure, Refused, Step};
use crate::args::{Password, UserName};
use crate::client::Client;
use crate::codec::capa::Capability;
use crate::codec::status::Status;
use crate::command::Command;
use crate::sasl::Mechanism;
use crate::{Error, Event, Handle};
use alloc::boxed::Box;
use core::convert::Infallible;

/// How to log in.
#[non_exhaustive]
pub enum Credentials {
    /// `USER` then, only after its `+OK`, `PASS` (RFC 1939 §7). Never pipelined: a server
    /// that refused the name never sees the password.
    UserPass {
        /// The mailbox.
        user: UserName,
        /// Its password.
        pass: Password,
    },
    /// `APOP name digest` with the greeting's timestamp (refused locally without one). APOP's
    /// MD5 can be cracked from a captured session: prefer SASL or USER/PASS over TLS.
    Apop {
        /// The mailbox.
        user: UserName,
        /// The shared secret.
        secret: Password,
    },
    /// `AUTH` (RFC 5034), driven by a SASL mechanism.
    Sasl(Box<dyn Mechanism>),
    /// The strongest method both sides support (see [`Auto`]).
    Auto(Auto),
}

impl core::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::UserPass { user, .. } => write!(f, "UserPass({user:?}, <redacted>)"),
            Self::Apop { user, .. } => write!(f, "Apop({user:?}, <redacted>)"),
            Self::Sasl(m) => write!(f, "Sasl({})", m.name().as_str()),
            Self::Auto(a) => write!(f, "{a:?}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Auto: learning what the server offers.
    Capa,
    Start,
    /// Waiting for the reply to USER.
    User(Handle),
    /// Waiting for the reply to PASS, APOP or AUTH.
    Final(Handle, &'static str),
}

/// Logs in; ends with `Ok(status)` (the session is in TRANSACTION) or `Err(Refused)` naming
/// the refused command (`USER`, `PASS`, `APOP`, `AUTH`), with its response code (`[IN-USE]`,
/// `[AUTH]`, `[SYS/TEMP]`…). Credentials over plaintext are a [`crate::LocalError`] unless
/// [`Config::allow_plaintext_auth`](crate::Config::allow_plaintext_auth).
///
/// ```
/// use pop3_proto::procedures::{Credentials, Login, Procedure, Step};
/// use pop3_proto::{Client, Config, Password, UserName};
///
/// let mut config = Config::default();
/// config.allow_plaintext_auth = true; // a test on loopback
/// let mut client = Client::new(config);
/// client.handle_input(b"+OK ready\r\n");
/// let mut login = Login::new(Credentials::UserPass {
///     user: UserName::new("alice").unwrap(),
///     pass: Password::new("secret").unwrap(),
/// });
/// let (mut wire, mut replies) = (Vec::new(), [&b"-ERR no such user\r\n"[..]].into_iter());
/// let outcome = loop {
///     match login.step(&mut client).unwrap() {
///         Step::Io => {
///             if client.poll_transmit(&mut wire) == 0 {
///                 client.handle_input(replies.next().unwrap());
///             }
///         }
///         Step::Done(outcome) => break outcome,
///         _ => unreachable!(),
///     }
/// };
/// assert_eq!(outcome.unwrap_err().command, "USER");
/// assert_eq!(wire, b"USER alice\r\n"); // the password never went out
/// ```
#[derive(Debug)]
pub struct Login {
    begin: Begin,
    credentials: Option<Credentials>,
    capa: Option<Multi<Capability>>,
    chosen: Option<Method>,
    /// PASS, kept until USER is accepted.
    pass: Option<Password>,
    stage: Stage,
}

impl Login {
    /// A login with these credentials.
    pub fn new(credentials: Credentials) -> Self {
        let stage = match credentials {
            Credentials::Auto(_) => Stage::Capa,
            _ => Stage::Start,
        };
        Self {
            begin: Begin::default(),
            credentials: Some(credentials),
            capa: None,
            chosen: None,
            pass: None,
            stage,
        }
    }

    /// The method [`Credentials::Auto`] chose, once it has.
    pub fn chosen(&self) -> Option<Method> {
        self.chosen
    }

    /// Auto: asks CAPA if nobody has (a refusal is an answer too), then picks.
    fn learn_and_choose(&mut self, client: &mut Client) -> Result<bool, Error> {
        super::check_alive(client)?;
        if client.capabilities().is_none() {
            let capa = self.capa.get_or_insert_with(Multi::capa);
            loop {
                match capa.step(client)? {
                    Step::Io => return Ok(false),
                    Step::Done(_) => break,
                    Step::Item(_) | Step::StartTls(_) => {}
                }
            }
        }
        if let Some(Credentials::Auto(auto)) = self.credentials.take() {
            let method = auto.choose(client)?;
            let plus_offered = client.capabilities().is_some_and(|c| {
                c.has_sasl(b"SCRAM-SHA-256-PLUS") || c.has_sasl(b"SCRAM-SHA-1-PLUS")
            });
            self.chosen = Some(method);
            self.credentials = Some(auto.credentials(method, plus_offered)?);
        }
        Ok(true)
    }

    fn start(&mut self, client: &mut Client) -> Result<Stage, Error> {
        super::check_alive(client)?;
        let what = match &self.credentials {
            Some(Credentials::UserPass { .. }) => Some("USER/PASS"),
            Some(Credentials::Apop { .. }) => Some("APOP"),
            Some(Credentials::Sasl(m)) => m.reveals_secret().then_some("AUTH"),
            Some(Credentials::Auto(_)) | None => return Err(crate::LocalError::Closed.into()),
        };
        if let Some(what) = what {
            check_secure(client, what)?;
        }
        // Validate everything before a byte is queued; a LocalError leaves no trace.
        Ok(match self.credentials.take() {
            Some(Credentials::UserPass { user, pass }) => {
                let handle = client.send(Command::User(user))?;
                self.pass = Some(pass);
                Stage::User(handle)
            }
            Some(Credentials::Apop { user, secret }) => {
                Stage::Final(client.apop(user, &secret)?, "APOP")
            }
            Some(Credentials::Sasl(mechanism)) => {
                Stage::Final(client.authenticate(mechanism)?, "AUTH")
            }
            Some(Credentials::Auto(_)) | None => return Err(crate::LocalError::Closed.into()),
        })
    }
}

impl Procedure for Login {
    type Item = Infallible;
    type Output = Result<Status, Refused>;

    fn step(&mut self, client: &mut Client) -> Result<Step<Infallible, Self::Output>, Error> {
        loop {
            if self.stage == Stage::Capa {
                if !self.learn_and_choose(client)? {
                    return Ok(Step::Io);
                }
                self.stage = Stage::Start;
            }
            if self.stage == Stage::Start {
                if !self.begin.ready(client)? {
                    return Ok(Step::Io);
                }
                self.stage = self.start(client)?;
            }
            let (handle, command) = match self.stage {
                Stage::User(h) => (h, "USER"),
                Stage::Final(h, command) => (h, command),
                Stage::Start | Stage::Capa => continue,
            };
            let status = loop {
                match self.begin.next_event(client)? {
                    None => return Ok(Step::Io),
                    Some(Event::Status { handle: h, status }) if h == handle => break status,
                    Some(_) => {}
                }
            };
            if !status.is_ok() {
                self.pass = None;
                let detail = match command {
                    "AUTH" => client.auth_failure_detail().cloned(),
                    _ => None,
                };
                return Ok(Step::Done(Err(Refused {
                    command,
                    status,
                    detail,
                })));
            }
            match (self.stage, self.pass.take()) {
                (Stage::User(_), Some(pass)) => {
                    self.stage = Stage::Final(client.send(Command::Pass(pass))?, "PASS");
                }
                _ => return Ok(Step::Done(Ok(status))),
            }
        }
    }
}
