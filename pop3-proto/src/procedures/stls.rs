//! Upgrading to TLS with STLS (RFC 2595): CAPA → STLS → handshake → CAPA again.

use super::exchange::send_when_ready;
use super::{mismatch, Begin, Multi, Procedure, Refused, Step, TlsUpgrade};
use crate::client::Client;
use crate::codec::capa::{Capabilities, Capability};
use crate::command::Command;
use crate::{Error, Event, Handle, LocalError, RemoteError};
use core::convert::Infallible;

#[derive(Debug)]
enum Stage {
    /// Required: asking CAPA whether STLS is offered.
    Offer(Multi<Capability>),
    /// Sending STLS and waiting for its reply.
    Stls,
    /// The handshake was requested; waiting for `TlsUpgrade::established`.
    Handshake,
    /// Inside TLS: asking CAPA again (the plaintext answer is forgotten).
    Capa(Multi<Capability>),
}

/// STLS, the TLS handshake, then CAPA again; ends with the capabilities learned inside TLS
/// (empty if the server refuses CAPA there).
///
/// [`StartTls::required`] first checks that CAPA offers STLS, and turns every way of not
/// getting TLS (CAPA refused, STLS not offered, STLS refused) into the sticky
/// [`RemoteError::TlsUnavailable`]: nothing more is ever sent in plaintext, and there is no
/// retry (BAD-INPUT row 38). [`StartTls::new`] just tries STLS and reports a refusal as
/// `Err(Refused)`, leaving the plaintext session usable.
///
/// ```
/// use pop3_proto::procedures::{Procedure, StartTls, Step};
/// use pop3_proto::{Client, Config};
///
/// let mut client = Client::new(Config::default());
/// client.handle_input(b"+OK ready\r\n");
/// let mut stls = StartTls::required();
/// let mut replies = [
///     &b"+OK\r\nSTLS\r\n.\r\n"[..],    // CAPA in plaintext
///     b"+OK begin TLS\r\n",             // STLS
///     b"+OK\r\nUIDL\r\nSASL PLAIN\r\n.\r\n", // CAPA inside TLS
/// ]
/// .into_iter();
/// let mut wire = Vec::new();
/// let caps = loop {
///     match stls.step(&mut client).unwrap() {
///         Step::Io => {
///             if client.poll_transmit(&mut wire) == 0 {
///                 client.handle_input(replies.next().unwrap());
///             }
///         }
///         Step::StartTls(upgrade) => {
///             // ... the driver's TLS handshake ...
///             upgrade.established(&mut client).unwrap();
///         }
///         Step::Done(caps) => break caps.unwrap(),
///         Step::Item(never) => match never {},
///     }
/// };
/// assert!(caps.uidl && !caps.stls && client.is_tls());
/// assert_eq!(wire, b"CAPA\r\nSTLS\r\nCAPA\r\n");
/// ```
#[derive(Debug)]
pub struct StartTls {
    begin: Begin,
    required: bool,
    stage: Stage,
    command: Option<Command>,
    handle: Option<Handle>,
}

impl StartTls {
    /// STLS with no fallback: CAPA must offer it and the server must accept it, or the
    /// session fails with [`RemoteError::TlsUnavailable`].
    pub fn required() -> Self {
        Self::with(true, Stage::Offer(Multi::capa()))
    }

    /// STLS as asked: a refusal is `Err(Refused)` and the plaintext session goes on.
    pub fn new() -> Self {
        Self::with(false, Stage::Stls)
    }

    fn with(required: bool, stage: Stage) -> Self {
        Self {
            begin: Begin::default(),
            required,
            stage,
            command: Some(Command::Stls),
            handle: None,
        }
    }

    /// Ends the session when TLS was required and is not to be had.
    fn unavailable(&self, client: &mut Client, reason: &'static str) -> Error {
        client.fail(RemoteError::TlsUnavailable { reason }).into()
    }
}

impl Default for StartTls {
    fn default() -> Self {
        Self::new()
    }
}

impl Procedure for StartTls {
    type Item = Infallible;
    type Output = Result<Capabilities, Refused>;

    fn step(&mut self, client: &mut Client) -> Result<Step<Infallible, Self::Output>, Error> {
        super::check_alive(client)?;
        let before_stls = matches!(self.stage, Stage::Offer(_) | Stage::Stls);
        if self.handle.is_none() && before_stls && client.is_tls() {
            // BAD-INPUT row 40: refused locally, nothing sent (not even CAPA).
            let reason = "the connection already uses TLS";
            return Err(LocalError::TlsAlreadyActive { reason }.into());
        }
        loop {
            match &mut self.stage {
                Stage::Offer(capa) => match capa.step(client)? {
                    Step::Io => return Ok(Step::Io),
                    Step::Item(_) | Step::StartTls(_) => {}
                    Step::Done(Err(_)) => {
                        let reason = "the server refused CAPA, so it cannot offer STLS";
                        return Err(self.unavailable(client, reason));
                    }
                    Step::Done(Ok(_)) => {
                        if !client.capabilities().is_some_and(|c| c.stls) {
                            let reason = "the server does not offer STLS";
                            return Err(self.unavailable(client, reason));
                        }
                        self.stage = Stage::Stls;
                    }
                },
                Stage::Stls => {
                    let sent = send_when_ready(
                        &mut self.begin,
                        client,
                        &mut self.handle,
                        &mut self.command,
                    )?;
                    let Some(handle) = sent else {
                        return Ok(Step::Io);
                    };
                    let Some(event) = self.begin.next_event(client)? else {
                        return Ok(Step::Io);
                    };
                    match event {
                        Event::UpgradeToTls { handle: h } if h == handle => {
                            self.stage = Stage::Handshake;
                            return Ok(Step::StartTls(TlsUpgrade { _private: () }));
                        }
                        Event::Status { handle: h, status } if h == handle => {
                            if self.required {
                                return Err(self.unavailable(client, "the server refused STLS"));
                            }
                            return Ok(Step::Done(Err(Refused::new("STLS", status))));
                        }
                        _ => {}
                    }
                }
                Stage::Handshake => {
                    if !client.is_tls() {
                        return Err(LocalError::TlsUpgradePending.into());
                    }
                    self.stage = Stage::Capa(Multi::capa());
                }
                Stage::Capa(capa) => match capa.step(client)? {
                    Step::Io => return Ok(Step::Io),
                    Step::Item(_) => {}
                    Step::StartTls(_) => return Err(mismatch(client, "start TLS twice")),
                    Step::Done(Err(_)) => return Ok(Step::Done(Ok(Capabilities::default()))),
                    Step::Done(Ok(_)) => {
                        let caps = client.capabilities().cloned().unwrap_or_default();
                        return Ok(Step::Done(Ok(caps)));
                    }
                },
            }
        }
    }
}
