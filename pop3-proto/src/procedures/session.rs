//! The ends of a session: the greeting, and QUIT with its outcome.

use super::exchange::send_when_ready;
use super::{Begin, Procedure, Step};
use crate::client::Client;
use crate::codec::greeting::Greeting;
use crate::command::Command;
use crate::{Error, Event, Handle, QuitOutcome};
use core::convert::Infallible;

/// Waits for the server's greeting (a `-ERR` greeting or another protocol is the session's
/// error). Every driver runs it first.
///
/// ```
/// use pop3_proto::procedures::{Greet, Procedure, Step};
/// use pop3_proto::{Client, Config};
///
/// let mut client = Client::new(Config::default());
/// let mut greet = Greet::new();
/// assert!(matches!(greet.step(&mut client).unwrap(), Step::Io));
/// client.handle_input(b"+OK POP3 ready <1896.697170952@dbc.mtview.ca.us>\r\n");
/// let Step::Done(greeting) = greet.step(&mut client).unwrap() else { panic!() };
/// assert!(greeting.apop_timestamp().is_some());
/// ```
#[derive(Debug, Default)]
pub struct Greet {
    _private: (),
}

impl Greet {
    /// Waits for the greeting.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Procedure for Greet {
    type Item = Infallible;
    type Output = Greeting;

    fn step(&mut self, client: &mut Client) -> Result<Step<Infallible, Greeting>, Error> {
        super::check_alive(client)?;
        if let Some(greeting) = client.greeting() {
            return Ok(Step::Done(greeting.clone()));
        }
        if client.state() != crate::SessionState::Greeting {
            // Forgotten after STLS (it came in plaintext); no new one comes.
            return Err(crate::LocalError::NoGreeting.into());
        }
        while let Some(event) = client.poll_event()? {
            if let Event::Greeting(greeting) = event {
                return Ok(Step::Done(greeting));
            }
        }
        Ok(Step::Io)
    }
}

/// QUIT, ending with its outcome: [`QuitOutcome::Committed`] is the only proof that
/// deletions happened. When the connection ends (EOF, a reset, a timeout) after QUIT went out
/// and before its reply, the outcome is [`QuitOutcome::Unknown`], not an error.
///
/// ```
/// use pop3_proto::procedures::{Procedure, Quit, Step};
/// use pop3_proto::{Client, Config, QuitOutcome};
///
/// let mut client = Client::new(Config::default());
/// client.handle_input(b"+OK ready\r\n");
/// let mut quit = Quit::new();
/// assert!(matches!(quit.step(&mut client).unwrap(), Step::Io));
/// client.poll_transmit(&mut Vec::new());
/// client.handle_eof(); // the connection dropped before the reply
/// let Step::Done(outcome) = quit.step(&mut client).unwrap() else { panic!() };
/// assert_eq!(outcome, QuitOutcome::Unknown);
/// ```
#[derive(Debug)]
pub struct Quit {
    begin: Begin,
    command: Option<Command>,
    handle: Option<Handle>,
}

impl Quit {
    /// Sends QUIT.
    pub fn new() -> Self {
        Self {
            begin: Begin::default(),
            command: Some(Command::Quit),
            handle: None,
        }
    }
}

impl Default for Quit {
    fn default() -> Self {
        Self::new()
    }
}

impl Procedure for Quit {
    type Item = Infallible;
    type Output = QuitOutcome;

    fn step(&mut self, client: &mut Client) -> Result<Step<Infallible, QuitOutcome>, Error> {
        let sent = send_when_ready(&mut self.begin, client, &mut self.handle, &mut self.command)?;
        let Some(handle) = sent else {
            return Ok(Step::Io);
        };
        while let Some(event) = self.begin.next_event(client)? {
            if let Event::Closed { handle: h, outcome } = event {
                if h == handle {
                    return Ok(Step::Done(outcome));
                }
            }
        }
        Ok(Step::Io)
    }
}

/// Lets the session's own traffic finish — the keepalive NOOP that
/// [`Client::handle_timeout`] queues after [`Config::keepalive_interval`] idle, and its
/// reply — and ends when nothing is queued or in flight. For drivers that only run while
/// their caller calls them (a blocking driver between calls).
///
/// [`Config::keepalive_interval`]: crate::Config::keepalive_interval
///
/// ```
/// use pop3_proto::procedures::{Idle, Procedure, Step};
/// use pop3_proto::{Client, Config};
/// let mut client = Client::new(Config::default());
/// client.handle_input(b"+OK\r\n");
/// client.poll_event().unwrap();
/// assert!(matches!(Idle::new().step(&mut client).unwrap(), Step::Done(())));
/// ```
#[derive(Debug, Default)]
pub struct Idle {
    begin: Begin,
}

impl Idle {
    /// Waits for the session's own traffic.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Procedure for Idle {
    type Item = Infallible;
    type Output = ();

    fn step(&mut self, client: &mut Client) -> Result<Step<Infallible, ()>, Error> {
        // Withdraws what an abandoned call queued; waits for what is owed.
        if !self.begin.ready(client)? {
            return Ok(Step::Io);
        }
        while self.begin.next_event(client)?.is_some() {}
        if client.queued() == 0 && client.in_flight() == 0 {
            return Ok(Step::Done(()));
        }
        Ok(Step::Io)
    }
}
