//! `P:` lines: a procedure of `pop3_proto::procedures` run to its end.

use crate::command::msg_num;
use crate::render::{quit_outcome, Log};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use pop3_proto::procedures::{Batch, Credentials, Login, Procedure, Quit, StartTls, Step};
use pop3_proto::{Client, Error, Password, UserName};

/// A procedure named by a `P:` line.
pub(crate) enum Proc {
    Login(Login),
    StartTls(StartTls),
    Batch(Batch),
    Quit(Quit),
}

/// What the runner must do after a step.
pub(crate) enum Next {
    /// Step again at once (an item was handed out).
    Again,
    /// I/O: write what the client has, else give it input.
    Io,
    /// The procedure finished (its result is in the log).
    Done,
}

impl Proc {
    /// Reads `login USER PASS`, `apop USER`, `stls`, `batch retr|dele N...` or `quit`.
    pub(crate) fn parse(line: &str, secret: &str) -> Result<Self, String> {
        let words: Vec<&str> = line.split(' ').collect();
        let user = |s: &str| UserName::new(s).map_err(|e| format!("P: {line}: {e}"));
        let pass = |s: &str| Password::new(s).map_err(|e| format!("P: {line}: {e}"));
        Ok(match words.as_slice() {
            ["login", u, p] => Self::Login(Login::new(Credentials::UserPass {
                user: user(u)?,
                pass: pass(p)?,
            })),
            ["apop", u] => Self::Login(Login::new(Credentials::Apop {
                user: user(u)?,
                secret: pass(secret)?,
            })),
            ["stls"] => Self::StartTls(StartTls::required()),
            ["batch", kind @ ("retr" | "dele"), msgs @ ..] => {
                let msgs = msgs
                    .iter()
                    .map(|m| msg_num(m).ok_or_else(|| format!("P: {line}: bad message {m}")))
                    .collect::<Result<Vec<_>, _>>()?;
                Self::Batch(if *kind == "retr" {
                    Batch::retr(msgs)
                } else {
                    Batch::dele(msgs)
                })
            }
            ["quit"] => Self::Quit(Quit::new()),
            _ => return Err(format!("P: {line}: unknown procedure")),
        })
    }

    /// Steps once, logging what the procedure hands out and its result; a TLS upgrade is
    /// taken at once (there is no TLS to do here) and logged as `tls-upgrade`.
    pub(crate) fn step(&mut self, client: &mut Client, log: &mut Log) -> Result<Next, Error> {
        match self {
            Self::Login(p) => finish(p.step(client)?, client, log, |out| match out {
                Ok(status) => format!("login ok {status}"),
                Err(refused) => format!("login refused {}", refused.status),
            }),
            Self::StartTls(p) => finish(p.step(client)?, client, log, |out| match out {
                Ok(caps) => format!("stls ok, {} capabilities", caps.to_lines().len()),
                Err(refused) => format!("stls refused {}", refused.status),
            }),
            Self::Batch(p) => match p.step(client)? {
                Step::Item(item) => {
                    log.batch_item(&item);
                    Ok(Next::Again)
                }
                other => finish(other, client, log, |report| {
                    format!(
                        "batch done {} refused {}",
                        report.done.len(),
                        report.refused.len()
                    )
                }),
            },
            Self::Quit(p) => finish(p.step(client)?, client, log, |outcome| {
                format!("quit {}", quit_outcome(&outcome))
            }),
        }
    }
}

/// The common part of a step for procedures whose items are never handed out.
fn finish<I, O>(
    step: Step<I, O>,
    client: &mut Client,
    log: &mut Log,
    done: impl FnOnce(O) -> String,
) -> Result<Next, Error> {
    match step {
        Step::Io => Ok(Next::Io),
        Step::Item(_) => Ok(Next::Again),
        Step::StartTls(upgrade) => {
            log.line(String::from("tls-upgrade"));
            upgrade.established(client)?;
            Ok(Next::Io)
        }
        Step::Done(output) => {
            log.line(done(output));
            Ok(Next::Done)
        }
    }
}
