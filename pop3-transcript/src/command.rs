//! What a `C:` line asks the `Client` for.

use crate::parse::{unescape, Item};
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use pop3_proto::sasl::{Mechanism, SaslError, SaslResponse};
use pop3_proto::{
    Client, Command, Error, LangTag, MechanismName, MsgNum, Password, RawLine, UserName,
};

/// Why a `C:` line was not issued.
pub(crate) enum IssueError {
    /// The client refused: the transcript may expect that (`X:`).
    Client(Error),
    /// The line itself is not something this crate understands.
    Transcript(String),
}

impl From<Error> for IssueError {
    fn from(e: Error) -> Self {
        Self::Client(e)
    }
}

fn bad(what: &str, line: &str) -> IssueError {
    IssueError::Transcript(format!("{what} in C: {line}"))
}

pub(crate) fn msg_num(s: &str) -> Option<MsgNum> {
    s.parse::<u32>().ok()?.try_into().ok()
}

/// A mechanism that replays the responses written in the transcript.
struct Scripted {
    name: MechanismName,
    initial: Option<Vec<u8>>,
    responses: VecDeque<Vec<u8>>,
}

impl Mechanism for Scripted {
    fn name(&self) -> MechanismName {
        self.name.clone()
    }
    fn initial_response(&mut self) -> Result<Option<SaslResponse>, SaslError> {
        Ok(self.initial.take().map(SaslResponse::new))
    }
    fn respond(&mut self, _challenge: &[u8]) -> Result<SaslResponse, SaslError> {
        self.responses
            .pop_front()
            .map(SaslResponse::new)
            .ok_or(SaslError::Failed(
                "script has no more responses".to_string(),
            ))
    }
}

fn b64(s: &str) -> Result<Vec<u8>, IssueError> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|_| bad("SASL data that is not base64", s))
}

/// Asks the client for what a `C:` line says (`rest`: the items after it, where a SASL
/// exchange finds its responses).
pub(crate) fn issue(
    client: &mut Client,
    line: &str,
    rest: &[Item],
    secret: &str,
) -> Result<(), IssueError> {
    let (word, arg) = line.split_once(' ').unwrap_or((line, ""));
    let user = |s: &str| UserName::new(s).map_err(|_| bad("a bad user name", line));
    match word {
        "APOP" => {
            let name = arg.split(' ').next().unwrap_or_default();
            let secret = Password::new(secret).map_err(|_| bad("a bad # secret", line))?;
            client.apop(user(name)?, &secret)?;
            Ok(())
        }
        "AUTH" => {
            let (mech, initial) = match arg.split_once(' ') {
                Some((m, "=")) => (m, Some(Vec::new())),
                Some((m, ir)) => (m, Some(b64(ir)?)),
                None => (arg, None),
            };
            // The responses are the C: lines up to the server's final status line.
            let mut responses = VecDeque::new();
            for item in rest {
                match item {
                    Item::Client(l) if l != "*" => responses.push_back(b64(l)?),
                    Item::Server(s) if s.starts_with(b"+OK") || s.starts_with(b"-ERR") => break,
                    _ => {}
                }
            }
            let mechanism = Scripted {
                name: MechanismName::new(mech).map_err(|_| bad("a bad mechanism", line))?,
                initial,
                responses,
            };
            client.authenticate(Box::new(mechanism))?;
            Ok(())
        }
        _ => {
            let command = parse_command(line).map_err(IssueError::Transcript)?;
            client.send(command).map(drop).map_err(IssueError::Client)
        }
    }
}

/// A command line as a [`Command`]: `USER name`, `PASS secret`, `RPOP name`, `STAT`,
/// `LIST [n]`, `UIDL [n]`, `RETR n`, `TOP n lines`, `DELE n`, `NOOP`, `RSET`, `QUIT`, `CAPA`,
/// `STLS`, `UTF8`, `LANG [tag]`, `RAW text` and `RAW+ text` (a raw multi-line command).
/// `USER`'s name may use the transcript escapes.
///
/// ```
/// use pop3_proto::Command;
/// let retr = pop3_transcript::parse_command("RETR 3").unwrap();
/// assert!(matches!(retr, Command::Retr(n) if n.get() == 3));
/// assert!(pop3_transcript::parse_command("RETR 0").is_err());
/// ```
pub fn parse_command(line: &str) -> Result<Command, String> {
    let bad = |what: &str| format!("{what} in {line:?}");
    let (word, arg) = line.split_once(' ').unwrap_or((line, ""));
    let num = |s: &str| msg_num(s).ok_or_else(|| bad("a bad message number"));
    Ok(match word {
        "USER" => {
            let name = unescape(arg)?;
            Command::User(UserName::new(name).map_err(|_| bad("a bad user name"))?)
        }
        "PASS" => Command::Pass(Password::new(arg).map_err(|_| bad("a bad password"))?),
        "RPOP" => Command::Rpop(UserName::new(arg).map_err(|_| bad("a bad user name"))?),
        "STAT" => Command::Stat,
        "LIST" if arg.is_empty() => Command::List(None),
        "LIST" => Command::List(Some(num(arg)?)),
        "UIDL" if arg.is_empty() => Command::Uidl(None),
        "UIDL" => Command::Uidl(Some(num(arg)?)),
        "RETR" => Command::Retr(num(arg)?),
        "TOP" => {
            let (m, n) = arg
                .split_once(' ')
                .ok_or_else(|| bad("TOP without lines"))?;
            Command::Top {
                msg: num(m)?,
                lines: n.parse().map_err(|_| bad("a bad line count"))?,
            }
        }
        "DELE" => Command::Dele(num(arg)?),
        "NOOP" => Command::Noop,
        "RSET" => Command::Rset,
        "QUIT" => Command::Quit,
        "CAPA" => Command::Capa,
        "STLS" => Command::Stls,
        "UTF8" => Command::Utf8,
        "LANG" if arg.is_empty() => Command::Lang(None),
        "LANG" => Command::Lang(Some(
            LangTag::new(arg).map_err(|_| bad("a bad language tag"))?,
        )),
        "RAW" | "RAW+" => Command::Raw {
            line: RawLine::new(arg).map_err(|_| bad("a bad raw line"))?,
            multiline: word == "RAW+",
        },
        other => return Err(bad(&format!("unknown command {other}"))),
    })
}
